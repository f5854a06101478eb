//! Typed settings: `config/default.toml`, then `--config FILE`, then `VISAGE__SECTION__KEY`.
//!
//! Every key is documented in `config/default.toml`; `validate()` refuses a bad value with a
//! sentence that names the key, before anything starts.

mod layers;
mod sections;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use sections::*;
use validate::invalid;

/// The defaults, compiled in so that the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

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
        let hooks = &mut self.hooks;
        fill_from_file(
            "hooks.auth0_token_file",
            &mut hooks.auth0_token,
            hooks.auth0_token_file.as_deref(),
        )?;
        let cdn = &mut self.cdn;
        fill_from_file(
            "cdn.cloudflare.api_token_file",
            &mut cdn.cloudflare.api_token,
            cdn.cloudflare.api_token_file.as_deref(),
        )?;
        fill_from_file(
            "cdn.fastly.api_token_file",
            &mut cdn.fastly.api_token,
            cdn.fastly.api_token_file.as_deref(),
        )?;
        fill_from_file(
            "cdn.webhook.token_file",
            &mut cdn.webhook.token,
            cdn.webhook.token_file.as_deref(),
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

    /// `server.metrics_bind`, already validated: a listener of its own for `/metrics`.
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
    use std::path::PathBuf;

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
