//! How upstream answers are kept: lifetimes per kind of answer and their weight in bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::domain::placeholder::RenderedPicture;
use crate::ports::upstream::UpstreamRequest;

/// Bytes counted per cache entry beyond the picture (key, bookkeeping).
const ENTRY_OVERHEAD: usize = 128;

/// A cached upstream answer with the moment it was fetched.
#[derive(Debug)]
pub(super) struct CachedAnswer {
    pub(super) picture: Option<RenderedPicture>,
    pub(super) fetched_at: Instant,
}

/// Per-entry lifetimes: pictures `ttl_hit`, "no Gravatar" `ttl_miss`.
pub(super) struct AnswerExpiry {
    pub(super) hit: Duration,
    pub(super) miss: Duration,
}

impl Expiry<UpstreamRequest, Arc<CachedAnswer>> for AnswerExpiry {
    fn expire_after_create(
        &self,
        _key: &UpstreamRequest,
        value: &Arc<CachedAnswer>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(if value.picture.is_some() {
            self.hit
        } else {
            self.miss
        })
    }
}

pub(super) fn weigh(key: &UpstreamRequest, value: &Arc<CachedAnswer>) -> u32 {
    let bytes = value.picture.as_ref().map_or(0, |p| p.bytes.len());
    u32::try_from(bytes + key.hash.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}
