//! The avatar upstream port: asks Gravatar (or a stand-in) for one validated picture request.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::vocabulary::Format;

/// A request built only from validated parts; the adapter turns it into
/// `{base_url}{hash}?s={size}&d={default}&r={rating}`, plus `&f=y` when `force_default`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UpstreamRequest {
    /// 32 or 64 lower-case hex digits.
    pub hash: String,
    pub size: u32,
    /// `404` or one of Gravatar's built-in defaults (`mp`, `identicon`, ...).
    pub default: &'static str,
    /// `g`, `pg`, `r` or `x`.
    pub rating: &'static str,
    /// Ask for the default even when the hash has a picture (a forced per-user default).
    pub force_default: bool,
}

/// What the upstream said, classified.
#[derive(Clone, Debug)]
pub enum UpstreamAnswer {
    /// An image whose bytes sniff as PNG, JPEG, GIF or WebP.
    Picture { bytes: Bytes, format: Format },
    /// The upstream has no picture for this request (404, or a redirect, which is never followed).
    NoPicture,
}

/// The adapter's account of what went wrong, kept whole and shareable.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// `Clone`: one failed lookup is shared by every request that waited for it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Timeouts, connection errors, 5xx and other unexpected statuses.
    #[error("the avatar upstream is unavailable")]
    Unavailable(#[source] Cause),
    /// The upstream answered with something that is not an acceptable picture (too large, not
    /// an image): never served; the upstream itself is healthy.
    #[error("the avatar upstream sent an unacceptable answer")]
    Rejected(#[source] Cause),
}

#[async_trait]
pub trait AvatarUpstream: Send + Sync {
    async fn fetch(&self, request: &UpstreamRequest) -> Result<UpstreamAnswer, UpstreamError>;
}
