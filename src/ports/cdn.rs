//! The CDN port: drop every cached answer that carries a tag (Cloudflare's cache tags, Fastly's
//! surrogate keys, or an operator's own purger).

use async_trait::async_trait;

/// The adapter's account of what went wrong.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// The CDN refused (credentials, zone, plan): retrying will not help.
    #[error("the CDN refused the purge")]
    Rejected(#[source] Cause),
    /// No success within the bound (429 and 5xx past the deadline, network errors, timeouts).
    #[error("the CDN purge did not land in time")]
    Unavailable(#[source] Cause),
}

#[async_trait]
pub trait CdnPurge: Send + Sync {
    /// Which CDN API this is (`cloudflare`, `fastly`, `webhook`), for logs.
    fn name(&self) -> &'static str;
    /// Purges every cached answer tagged with any of `tags`; returns once the CDN accepted the
    /// purge, or failed for good within the adapter's bound (retries included).
    async fn purge(&self, tags: &[String]) -> Result<(), PurgeError>;
}
