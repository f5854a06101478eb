//! The settings' sections as typed structs, one field per key of `config/default.toml` (where
//! each key is documented), and the enums of the keys that choose between values.

use std::path::PathBuf;

use serde::Deserialize;

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
    pub hooks: Hooks,
    pub cdn: Cdn,
    pub reconcile: Reconcile,
    pub import: Import,
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
    pub prefer_uploads: bool,
    pub upload_lookup_secs: u64,
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
    pub max_hook_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pictures {
    pub sizes: Vec<u32>,
    pub cache_bytes: u64,
    pub cache_ttl_secs: u64,
    /// Also write encoded variants to storage next to their master.
    pub store_variants: bool,
    pub current_max_age_secs: u64,
    pub directory_cache_bytes: u64,
}

/// `hooks.*`: what Auth0's streams must send to `POST /v1/hooks/auth0`.
#[derive(Debug, Clone, Deserialize)]
pub struct Hooks {
    /// Unset: the route answers 404.
    pub auth0_token: Option<String>,
    pub auth0_token_file: Option<PathBuf>,
}

/// `cdn.purge`: which CDN API is asked to drop a user's tag after a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PurgeVendor {
    None,
    Cloudflare,
    Fastly,
    Webhook,
}

impl PurgeVendor {
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeVendor::None => "none",
            PurgeVendor::Cloudflare => "cloudflare",
            PurgeVendor::Fastly => "fastly",
            PurgeVendor::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Cdn {
    pub purge: PurgeVendor,
    pub timeout_secs: u64,
    pub max_attempts: u32,
    pub cloudflare: CloudflarePurge,
    pub fastly: FastlyPurge,
    pub webhook: WebhookPurge,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CloudflarePurge {
    pub zone_id: Option<String>,
    pub api_token: Option<String>,
    pub api_token_file: Option<PathBuf>,
    pub api_base: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FastlyPurge {
    pub service_id: Option<String>,
    pub api_token: Option<String>,
    pub api_token_file: Option<PathBuf>,
    pub api_base: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookPurge {
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// `visage reconcile`'s pace on the Management API.
#[derive(Debug, Clone, Deserialize)]
pub struct Reconcile {
    pub requests_per_sec: u32,
}

/// `visage import`'s own bounds.
#[derive(Debug, Clone, Deserialize)]
pub struct Import {
    /// Seconds one source picture may take: every redirect hop and the whole body.
    pub fetch_timeout_secs: u64,
    /// Seconds one user's write-back may take during an import, 429 waits included (in place
    /// of `auth0.management.timeout_secs`).
    pub write_back_timeout_secs: u64,
}
