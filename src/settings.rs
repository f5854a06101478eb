//! Typed settings: `config/default.toml`, then `--config FILE`, then `VISAGE__SECTION__KEY`.
//!
//! Every key is documented in `config/default.toml`; `validate()` refuses a bad value with a
//! sentence that names the key, before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::edges::{AVATAR_EDGES, PICTURE_EDGES};

mod layers;

/// The defaults, compiled in so that the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
    #[error("{key}: cannot read {path}: {source}")]
    SecretFile {
        key: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<layers::Error> for SettingsError {
    fn from(error: layers::Error) -> Self {
        Self::Invalid(error.message)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: Server,
    pub storage: Storage,
    pub auth: Auth,
    pub auth0: Auth0,
    pub gravatar: Gravatar,
    pub initials: Initials,
    pub fonts: Fonts,
    pub limits: Limits,
    pub pictures: Pictures,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Server {
    pub bind: String,
    pub public_url: String,
    pub dev: bool,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub log_format: LogFormat,
    pub cors_allowed_origins: Vec<String>,
    /// A listener of its own for `/metrics` (then gone from the public one).
    pub metrics_bind: Option<String>,
}

/// `storage.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Fs,
    S3,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Fs => "fs",
            Backend::S3 => "s3",
        })
    }
}

/// `server.log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

/// `auth0.management.field`: where the write-back puts the picture URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataField {
    /// `{"user_metadata": {"picture": url}}`
    UserMetadata,
    /// `{"app_metadata": {"picture": url}}`
    AppMetadata,
    /// The root attribute: `{"picture": url}`.
    Root,
}

impl MetadataField {
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataField::UserMetadata => "user_metadata",
            MetadataField::AppMetadata => "app_metadata",
            MetadataField::Root => "root",
        }
    }
}

impl std::fmt::Display for MetadataField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Storage {
    pub backend: Backend,
    pub public_base_url: Option<String>,
    pub health_interval_secs: u64,
    pub cleanup_grace_secs: u64,
    pub fs: FsStorage,
    pub s3: S3Storage,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FsStorage {
    pub root: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct S3Storage {
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key_id: Option<String>,
    pub access_key_id_file: Option<PathBuf>,
    pub secret_access_key: Option<String>,
    pub secret_access_key_file: Option<PathBuf>,
    pub force_path_style: bool,
    pub operation_timeout_secs: u64,
    pub attempt_timeout_secs: u64,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Auth {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub admin_scope: String,
    pub leeway_secs: u64,
    pub jwks_refresh_secs: u64,
    pub jwks_unknown_kid_cooldown_secs: u64,
    pub jwks_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Auth0 {
    pub management: Management,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Management {
    pub base_url: Option<String>,
    pub audience: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub field: MetadataField,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Gravatar {
    pub base_url: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    pub max_body_bytes: u64,
    pub ttl_hit: u64,
    pub ttl_miss: u64,
    pub ttl_fallback: u64,
    pub ttl_stale: u64,
    pub cache_bytes: u64,
    pub breaker_failures: u32,
    pub breaker_cooldown_secs: u64,
    pub upstream_sizes: Vec<u32>,
    pub max_concurrent_requests: u32,
    pub requests_per_sec: u32,
    pub requests_burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Initials {
    pub cache_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fonts {
    pub extra: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Limits {
    pub max_upload_bytes: u64,
    pub max_pixels: u64,
    pub min_edge: u32,
    pub master_size: u32,
    pub pipeline_concurrency: usize,
    pub pipeline_timeout_secs: u64,
    pub upload_body_secs: u64,
    pub uploads_per_minute: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pictures {
    pub sizes: Vec<u32>,
    pub cache_bytes: u64,
    pub cache_ttl_secs: u64,
    /// Also write encoded variants to storage next to their master.
    pub store_variants: bool,
}

impl Settings {
    /// Loads the layers in order: compiled-in defaults, an optional file, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_from(file, std::env::vars())
    }

    /// Same as [`Settings::load`] with an explicit environment, so tests need not mutate the
    /// process environment.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let defaults: toml::Table = DEFAULT_TOML
            .parse()
            .map_err(|e| SettingsError::Invalid(format!("config/default.toml: {e}")))?;
        let mut tree = layers::Node::from_toml(defaults);
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| SettingsError::Invalid(format!("--config {}: {e}", path.display())))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| SettingsError::Invalid(format!("--config {}: {e}", path.display())))?;
            tree.merge(layers::Node::from_toml(table));
        }
        tree.set_env(env)?;
        let mut settings = Settings::deserialize(layers::At {
            node: tree,
            path: String::new(),
        })?;
        settings.read_secret_files()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Secrets may come from files (`*_FILE`), as Docker and Kubernetes secrets are mounted.
    fn read_secret_files(&mut self) -> Result<(), SettingsError> {
        let s3 = &mut self.storage.s3;
        fill_from_file(
            "storage.s3.access_key_id_file",
            &mut s3.access_key_id,
            s3.access_key_id_file.as_deref(),
        )?;
        fill_from_file(
            "storage.s3.secret_access_key_file",
            &mut s3.secret_access_key,
            s3.secret_access_key_file.as_deref(),
        )?;
        let m = &mut self.auth0.management;
        fill_from_file(
            "auth0.management.client_secret_file",
            &mut m.client_secret,
            m.client_secret_file.as_deref(),
        )?;
        Ok(())
    }

    /// The storage backend, already validated.
    pub fn backend(&self) -> Backend {
        self.storage.backend
    }

    /// The listen address, already validated.
    pub fn bind_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.server.bind.parse().map_err(|_| {
            invalid(
                "server.bind",
                format!(
                    "expected an address like 127.0.0.1:8080, got {:?}",
                    self.server.bind
                ),
            )
        })
    }

    /// The metrics listener's address (`server.metrics_bind`), already validated; `None`: the
    /// public listener serves `/metrics`.
    pub fn metrics_bind_addr(&self) -> Result<Option<SocketAddr>, SettingsError> {
        let Some(text) = &self.server.metrics_bind else {
            return Ok(None);
        };
        let addr: SocketAddr = text.parse().map_err(|_| {
            invalid(
                "server.metrics_bind",
                format!("expected an address like 0.0.0.0:9090, got {text:?}"),
            )
        })?;
        if Some(addr) == self.bind_addr().ok() {
            return Err(invalid(
                "server.metrics_bind",
                "must differ from server.bind (it keeps /metrics off the public listener)",
            ));
        }
        Ok(Some(addr))
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.server.public_url.trim_end_matches('/')
    }

    /// The Management API base: the configured one, else the issuer.
    pub fn management_base_url(&self) -> Option<String> {
        self.auth0
            .management
            .base_url
            .clone()
            .or_else(|| self.auth.issuer.clone())
            .map(|s| s.trim_end_matches('/').to_owned())
    }

    /// The audience of the client-credentials token: the configured one, else `{base}/api/v2/`.
    pub fn management_audience(&self) -> Option<String> {
        self.auth0.management.audience.clone().or_else(|| {
            self.management_base_url()
                .map(|base| format!("{base}/api/v2/"))
        })
    }

    /// Write-back happens only with a client id (and never in dev mode).
    pub fn write_back_enabled(&self) -> bool {
        !self.server.dev && self.auth0.management.client_id.is_some()
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        self.validate_server()?;
        self.validate_storage()?;
        self.validate_auth()?;
        self.validate_limits()
    }

    fn validate_server(&self) -> Result<(), SettingsError> {
        let bind = self.bind_addr()?;
        self.metrics_bind_addr()?;
        check_url("server.public_url", &self.server.public_url)?;
        for origin in &self.server.cors_allowed_origins {
            check_url("server.cors_allowed_origins", origin)?;
        }
        if self.server.dev {
            if !bind.ip().is_loopback() {
                return Err(invalid(
                    "server.dev",
                    format!(
                        "dev mode only listens on a loopback address, but server.bind is {bind}"
                    ),
                ));
            }
            if !is_loopback_url(&self.server.public_url) {
                return Err(invalid(
                    "server.dev",
                    format!(
                        "dev mode only hands out loopback URLs, but server.public_url is {:?}",
                        self.server.public_url
                    ),
                ));
            }
            if self.auth.issuer.is_some() {
                return Err(invalid(
                    "server.dev",
                    "dev mode cannot be combined with auth.issuer: unset one of them",
                ));
            }
        }
        Ok(())
    }

    fn validate_storage(&self) -> Result<(), SettingsError> {
        match self.storage.backend {
            Backend::Fs => {}
            Backend::S3 => {
                let s3 = &self.storage.s3;
                if s3.bucket.is_empty() {
                    return Err(invalid(
                        "storage.s3.bucket",
                        "required when storage.backend is \"s3\"",
                    ));
                }
                if let Some(endpoint) = &s3.endpoint {
                    check_url("storage.s3.endpoint", endpoint)?;
                }
                if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
                    return Err(invalid(
                        "storage.s3.secret_access_key",
                        "access_key_id and secret_access_key are set together or not at all",
                    ));
                }
            }
        }
        if let Some(url) = &self.storage.public_base_url {
            check_url("storage.public_base_url", url)?;
        }
        positive(
            "storage.health_interval_secs",
            self.storage.health_interval_secs,
        )?;
        positive(
            "storage.cleanup_grace_secs",
            self.storage.cleanup_grace_secs,
        )?;
        // An upload's write-back must be over before another instance may delete its object.
        if self.write_back_enabled()
            && self.storage.cleanup_grace_secs <= self.auth0.management.timeout_secs
        {
            return Err(invalid(
                "storage.cleanup_grace_secs",
                format!(
                    "must be longer than auth0.management.timeout_secs ({} s), got {}",
                    self.auth0.management.timeout_secs, self.storage.cleanup_grace_secs
                ),
            ));
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), SettingsError> {
        if let Some(issuer) = &self.auth.issuer {
            check_url("auth.issuer", issuer)?;
            if self.auth.audience.is_none() {
                return Err(invalid("auth.audience", "required when auth.issuer is set"));
            }
        }
        if self.auth.leeway_secs > 60 {
            return Err(invalid(
                "auth.leeway_secs",
                format!("at most 60, got {}", self.auth.leeway_secs),
            ));
        }
        if let Some(url) = &self.auth0.management.base_url {
            check_url("auth0.management.base_url", url)?;
        }
        if let Some(url) = &self.auth0.management.audience {
            check_url("auth0.management.audience", url)?;
        }
        if self.auth0.management.client_id.is_some() {
            if self.auth0.management.client_secret.is_none() {
                return Err(invalid(
                    "auth0.management.client_secret",
                    "required when auth0.management.client_id is set",
                ));
            }
            if self.management_base_url().is_none() && !self.server.dev {
                return Err(invalid(
                    "auth0.management.base_url",
                    "required when auth0.management.client_id is set and auth.issuer is not",
                ));
            }
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), SettingsError> {
        check_url("gravatar.base_url", &self.gravatar.base_url)?;
        if !self.gravatar.base_url.ends_with('/') {
            return Err(invalid(
                "gravatar.base_url",
                format!("must end with '/', got {:?}", self.gravatar.base_url),
            ));
        }
        positive("gravatar.timeout_ms", self.gravatar.timeout_ms)?;
        positive("gravatar.max_body_bytes", self.gravatar.max_body_bytes)?;
        let sizes = &self.gravatar.upstream_sizes;
        if sizes.is_empty() || sizes.iter().any(|s| !AVATAR_EDGES.contains(*s)) {
            return Err(invalid(
                "gravatar.upstream_sizes",
                format!("must list 1 or more sizes within {AVATAR_EDGES}, got {sizes:?}"),
            ));
        }
        positive(
            "gravatar.max_concurrent_requests",
            self.gravatar.max_concurrent_requests.into(),
        )?;
        positive(
            "gravatar.requests_per_sec",
            self.gravatar.requests_per_sec.into(),
        )?;
        positive(
            "gravatar.requests_burst",
            self.gravatar.requests_burst.into(),
        )?;
        positive("limits.max_upload_bytes", self.limits.max_upload_bytes)?;
        positive("limits.max_pixels", self.limits.max_pixels)?;
        positive("limits.upload_body_secs", self.limits.upload_body_secs)?;
        positive(
            "limits.uploads_per_minute",
            u64::from(self.limits.uploads_per_minute),
        )?;
        if !PICTURE_EDGES.contains(self.limits.master_size) {
            return Err(invalid(
                "limits.master_size",
                format!("expected {PICTURE_EDGES}, got {}", self.limits.master_size),
            ));
        }
        if self.pictures.sizes.is_empty()
            || !self
                .pictures
                .sizes
                .iter()
                .all(|s| PICTURE_EDGES.contains(*s))
        {
            return Err(invalid(
                "pictures.sizes",
                format!("expected a non-empty list of sizes in {PICTURE_EDGES}"),
            ));
        }
        for path in &self.fonts.extra {
            if !path.is_file() {
                return Err(invalid(
                    "fonts.extra",
                    format!("no font file at {}", path.display()),
                ));
            }
        }
        Ok(())
    }
}

fn invalid(key: &str, message: impl std::fmt::Display) -> SettingsError {
    SettingsError::Invalid(format!("{key}: {message}"))
}

fn positive(key: &str, value: u64) -> Result<(), SettingsError> {
    if value == 0 {
        return Err(invalid(key, "must be greater than 0"));
    }
    Ok(())
}

fn check_url(key: &str, value: &str) -> Result<(), SettingsError> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("expected an http:// or https:// URL, got {value:?}"),
        ))
    }
}

/// Whether `url` (an `http(s)://` URL or a browser `Origin`) names this machine: `localhost`,
/// `127.0.0.0/8` or `[::1]`, with any port and path.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false; // userinfo: `http://127.0.0.1@evil.example` is not loopback
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, after)) if after.is_empty() || after.starts_with(':') => host,
            _ => return false,
        },
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn fill_from_file(
    key: &str,
    value: &mut Option<String>,
    file: Option<&Path>,
) -> Result<(), SettingsError> {
    if let (None, Some(path)) = (value.as_ref(), file) {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::SecretFile {
            key: key.to_owned(),
            path: path.to_owned(),
            source,
        })?;
        *value = Some(text.trim().to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::load_from(
            None,
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn defaults_are_valid_and_match_the_contract() {
        let s = load(&[]).expect("defaults load");
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(s.server.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.backend(), Backend::Fs);
        assert_eq!(s.storage.fs.root, PathBuf::from("./data"));
        assert_eq!(s.auth.admin_scope, "write:avatars");
        assert_eq!(s.gravatar.base_url, "https://gravatar.com/avatar/");
        assert_eq!(s.limits.max_upload_bytes, 10_485_760);
        assert_eq!(s.limits.max_pixels, 40_000_000);
        assert_eq!(s.limits.upload_body_secs, 60);
        assert_eq!(s.limits.uploads_per_minute, 10);
        assert!(!s.write_back_enabled());
    }

    #[test]
    fn environment_overrides_and_lists() {
        let s = load(&[
            ("VISAGE__STORAGE__BACKEND", "s3"),
            ("VISAGE__STORAGE__S3__BUCKET", "pics"),
            (
                "VISAGE__SERVER__CORS_ALLOWED_ORIGINS",
                "https://a.example,https://b.example",
            ),
            ("VISAGE__LIMITS__MAX_PIXELS", "1000"),
        ])
        .expect("loads");
        assert_eq!(s.backend(), Backend::S3);
        assert_eq!(s.storage.s3.bucket, "pics");
        assert_eq!(
            s.server.cors_allowed_origins,
            vec!["https://a.example", "https://b.example"]
        );
        assert_eq!(s.limits.max_pixels, 1000);
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("VISAGE__STORAGE__BACKEND", "bogus")],
                "storage.backend: unknown variant `bogus`, expected `fs` or `s3`",
            ),
            (&[("VISAGE__SERVER__BIND", "nowhere")], "server.bind:"),
            (
                &[("VISAGE__LIMITS__MAX_PIXELS", "lots")],
                "limits.max_pixels:",
            ),
            (
                &[
                    ("VISAGE__SERVER__DEV", "true"),
                    ("VISAGE__SERVER__BIND", "0.0.0.0:8080"),
                ],
                "server.dev:",
            ),
            (
                &[
                    ("VISAGE__SERVER__DEV", "true"),
                    ("VISAGE__AUTH__ISSUER", "https://t.example/"),
                    ("VISAGE__AUTH__AUDIENCE", "a"),
                ],
                "server.dev:",
            ),
            (
                &[("VISAGE__AUTH__ISSUER", "https://t.example/")],
                "auth.audience:",
            ),
            (
                &[("VISAGE__AUTH0__MANAGEMENT__FIELD", "x")],
                "auth0.management.field: unknown variant `x`, expected one of `user_metadata`, `app_metadata`, `root`",
            ),
            (
                &[("VISAGE__SERVER__LOG_FORMAT", "pretty")],
                "server.log_format: unknown variant `pretty`, expected `json` or `text`",
            ),
            (
                &[("VISAGE__SERVER__DEV", "yes please")],
                "server.dev: expected true or false, got \"yes please\" (from VISAGE__SERVER__DEV)",
            ),
            (
                &[("VISAGE__PICTURES__SIZES", "16,big")],
                "pictures.sizes: expected a non-negative integer, got \"big\"",
            ),
        ];
        for (env, expected) in cases {
            let err = load(env).expect_err("must be refused").to_string();
            assert!(err.starts_with(expected), "{env:?}: {err}");
        }
    }

    #[test]
    fn loopback_urls() {
        for yes in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "https://LOCALHOST:3000/x",
            "http://127.1.2.3",
            "http://[::1]:8080/",
        ] {
            assert!(is_loopback_url(yes), "{yes}");
        }
        for no in [
            "http://example.com",
            "https://127.0.0.1.evil.example",
            "http://127.0.0.1@evil.example",
            "http://localhost.evil.example",
            "http://[::1].evil.example",
            "http://10.0.0.1",
            "null",
            "file:///tmp/x.html",
            "",
        ] {
            assert!(!is_loopback_url(no), "{no}");
        }
    }

    #[test]
    fn dev_mode_refuses_a_public_url_that_is_not_loopback() {
        let err = load(&[
            ("VISAGE__SERVER__DEV", "true"),
            ("VISAGE__SERVER__PUBLIC_URL", "https://avatars.example.com"),
        ])
        .expect_err("must be refused")
        .to_string();
        assert!(err.starts_with("server.dev:"), "{err}");
        assert!(
            load(&[
                ("VISAGE__SERVER__DEV", "true"),
                ("VISAGE__SERVER__PUBLIC_URL", "http://localhost:8080"),
            ])
            .is_ok()
        );
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cr3t\n").expect("write");
        let s = load(&[
            ("VISAGE__AUTH0__MANAGEMENT__CLIENT_ID", "abc"),
            (
                "VISAGE__AUTH0__MANAGEMENT__CLIENT_SECRET_FILE",
                path.to_str().expect("utf-8"),
            ),
            ("VISAGE__AUTH0__MANAGEMENT__BASE_URL", "https://t.example"),
        ])
        .expect("loads");
        assert_eq!(s.auth0.management.client_secret.as_deref(), Some("s3cr3t"));
    }

    #[test]
    fn an_unknown_environment_key_names_the_closest_known_key() {
        let err = load(&[("VISAGE__LIMITS__MAX_PIXLES", "1000")])
            .expect_err("refused")
            .to_string();
        assert_eq!(
            err,
            "limits.max_pixles: unknown key (did you mean limits.max_pixels?) \
             (from VISAGE__LIMITS__MAX_PIXLES)"
        );
        let err = load(&[("VISAGE__GRAVATR__BASE_URL", "https://g.example/")])
            .expect_err("refused")
            .to_string();
        assert_eq!(
            err,
            "gravatr: unknown key (did you mean gravatar?) (from VISAGE__GRAVATR__BASE_URL)"
        );
        let err = load(&[("VISAGE__AUTH0__MANAGEMENT__CLIENTID", "abc")])
            .expect_err("refused")
            .to_string();
        assert!(
            err.starts_with(
                "auth0.management.clientid: unknown key (did you mean auth0.management.client_id?)"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_file_key_or_section_names_the_closest_known_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("visage.toml");
        std::fs::write(&path, "[gravatr]\nbase_url = \"https://g.example/\"\n").expect("write");
        let err = Settings::load_from(Some(&path), Vec::new())
            .expect_err("refused")
            .to_string();
        assert_eq!(err, "gravatr: unknown key (did you mean gravatar?)");
        std::fs::write(&path, "[limits]\nmax_pixles = 1000\n").expect("write");
        let err = Settings::load_from(Some(&path), Vec::new())
            .expect_err("refused")
            .to_string();
        assert_eq!(
            err,
            "limits.max_pixles: unknown key (did you mean limits.max_pixels?)"
        );
    }

    #[test]
    fn file_values_keep_their_toml_types() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("visage.toml");
        std::fs::write(
            &path,
            "[storage]\nbackend = \"s3\"\n[storage.s3]\nbucket = \"007\"\n\
             [limits]\nmax_pixels = 1000\n",
        )
        .expect("write");
        let s = Settings::load_from(Some(&path), Vec::new()).expect("loads");
        assert_eq!(s.storage.s3.bucket, "007");
        assert_eq!(s.limits.max_pixels, 1000);
        // A number key given a string in a typed file is a mistake, not a guess.
        std::fs::write(&path, "[limits]\nmax_pixels = \"1000\"\n").expect("write");
        let err = Settings::load_from(Some(&path), Vec::new())
            .expect_err("refused")
            .to_string();
        assert!(err.starts_with("limits.max_pixels: invalid type"), "{err}");
    }

    #[test]
    fn environment_strings_are_never_retyped() {
        let s = load(&[
            ("VISAGE__STORAGE__BACKEND", "s3"),
            ("VISAGE__STORAGE__S3__BUCKET", "007"),
            ("VISAGE__STORAGE__S3__ACCESS_KEY_ID", "0123"),
            ("VISAGE__STORAGE__S3__SECRET_ACCESS_KEY", "000123456789"),
            ("VISAGE__STORAGE__S3__REGION", "true"),
            ("VISAGE__AUTH0__MANAGEMENT__CLIENT_ID", "1e5"),
            ("VISAGE__AUTH0__MANAGEMENT__CLIENT_SECRET", "00"),
            ("VISAGE__AUTH0__MANAGEMENT__BASE_URL", "https://t.example"),
            ("VISAGE__SERVER__DEV", "TRUE"),
            ("VISAGE__SERVER__WORKERS", "3"),
            ("VISAGE__GRAVATAR__BREAKER_FAILURES", "07"),
        ])
        .expect("loads");
        assert_eq!(s.storage.s3.bucket, "007");
        assert_eq!(s.storage.s3.access_key_id.as_deref(), Some("0123"));
        assert_eq!(
            s.storage.s3.secret_access_key.as_deref(),
            Some("000123456789")
        );
        assert_eq!(s.storage.s3.region, "true");
        assert_eq!(s.auth0.management.client_id.as_deref(), Some("1e5"));
        assert_eq!(s.auth0.management.client_secret.as_deref(), Some("00"));
        assert!(s.server.dev);
        assert_eq!(s.server.workers, 3);
        assert_eq!(s.gravatar.breaker_failures, 7);
    }

    #[test]
    fn string_choices_are_enums() {
        let s = load(&[
            ("VISAGE__SERVER__LOG_FORMAT", "text"),
            ("VISAGE__AUTH0__MANAGEMENT__FIELD", "root"),
        ])
        .expect("loads");
        assert_eq!(s.server.log_format, LogFormat::Text);
        assert_eq!(s.auth0.management.field, MetadataField::Root);
        assert_eq!(
            load(&[]).expect("defaults").server.log_format,
            LogFormat::Json
        );
    }

    #[test]
    fn an_empty_variable_unsets_an_optional_key() {
        let s = load(&[("VISAGE__STORAGE__PUBLIC_BASE_URL", "")]).expect("loads");
        assert_eq!(s.storage.public_base_url, None);
    }

    #[test]
    fn every_key_of_the_defaults_is_known() {
        // The compiled-in file is itself read strictly: a documented key the structs lack fails.
        load(&[]).expect("defaults load strictly");
    }

    #[test]
    fn every_commented_out_key_of_the_defaults_is_known() {
        // Keys without a default are documented commented out; uncommented they must be known.
        let uncommented: String = DEFAULT_TOML
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(key, _)| {
                        !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
                {
                    rest
                }
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let table: toml::Table = uncommented.parse().expect("valid TOML");
        let err = Settings::deserialize(layers::At {
            node: layers::Node::from_toml(table),
            path: String::new(),
        })
        .err()
        .map(|e| e.to_string());
        assert_eq!(err, None);
    }
}
