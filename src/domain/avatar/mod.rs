//! Gravatar resolution: a validated request → the cached upstream answer, or a fallback.
//!
//! One concern per file: `request` parses what a client asked for, `cache_policy` says which
//! sizes are asked upstream and how long and how heavily answers are kept, `gate` caps upstream
//! concurrency and rate, `breaker` stops asking a failing upstream, `color` draws `d=color`, and
//! `service` ties them together around the upstream port.

mod breaker;
mod cache_policy;
mod color;
mod default_picture;
mod gate;
mod request;
mod service;

use std::time::Duration;

use crate::domain::counts::{Count, Level};
use crate::domain::picture::EncodedPicture;
use crate::domain::placeholder::RenderError;
use crate::ports::upstream::UpstreamError;

pub use request::{AvatarRequest, DefaultPicture, RawAvatarRequest};
pub use service::AvatarService;

#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    #[error("{0}")]
    InvalidParameter(String),
    /// `default=404` and the upstream has no picture.
    #[error("no Gravatar for this hash")]
    NotFound,
    /// `default=404`, the upstream failed and no stale picture is known: nothing to serve.
    #[error("the avatar upstream is unavailable")]
    Unavailable(#[source] LookupError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Why the cached lookup produced no answer (never cached). `Clone`: shared by every request
/// that waited for the same lookup.
#[derive(Clone, Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("the circuit breaker is open")]
    CircuitOpen,
    /// Refused by the gate (concurrency or rate cap): served like an outage, never cached,
    /// never a breaker failure.
    #[error(transparent)]
    Throttled(#[from] gate::GateRefusal),
}

/// Where the served picture came from (`X-Avatar-Source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AvatarSource {
    /// A picture the user uploaded here, found by their verified email's hash.
    Upload,
    Gravatar,
    Fallback,
}

impl AvatarSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Gravatar => "gravatar",
            Self::Fallback => "fallback",
        }
    }
}

/// Uploads served before Gravatar (`gravatar.prefer_uploads`).
pub struct UploadsFirst {
    pub directory: std::sync::Arc<crate::domain::directory::Directory>,
    pub pictures: std::sync::Arc<crate::domain::pictures::PictureService>,
    /// How long downstream may keep such an answer (`gravatar.upload_lookup_secs`): a replaced
    /// or deleted upload shows within it.
    pub max_age: u64,
}

/// The answer: a picture, where it came from, and how long downstream caches may keep it
/// (never longer than visage itself keeps the answer).
#[derive(Clone, Debug)]
pub struct ResolvedAvatar {
    pub picture: EncodedPicture,
    pub source: AvatarSource,
    pub max_age: u64,
}

/// How the Gravatar proxy asks, keeps and falls back (from `gravatar.*`).
#[derive(Clone, Debug)]
pub struct AvatarConfig {
    /// How long a picture answer is kept.
    pub ttl_hit: Duration,
    /// How long a "no Gravatar" answer is kept.
    pub ttl_miss: Duration,
    /// How long downstream may keep a fallback served because the upstream failed.
    pub ttl_fallback: Duration,
    /// How long past `ttl_hit` a picture is kept to be served when a refresh fails.
    pub ttl_stale: Duration,
    /// Bytes all three caches may hold together.
    pub cache_bytes: u64,
    /// Consecutive upstream failures that open the breaker (0: never).
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
    /// The edges Gravatar is asked for.
    pub upstream_sizes: Vec<u32>,
    pub max_concurrent_requests: u32,
    pub requests_per_sec: u32,
    pub requests_burst: u32,
}

/// Upstream calls by outcome, and the breaker's state: what the metrics export.
#[derive(Clone, Debug, Default)]
pub struct AvatarStats {
    pub upstream: UpstreamOutcomes,
    /// 1 while the breaker skips the upstream.
    pub circuit_open: Level,
}

/// Upstream calls, one count per outcome.
#[derive(Clone, Debug, Default)]
pub struct UpstreamOutcomes {
    pub picture: Count,
    pub no_picture: Count,
    pub unavailable: Count,
    pub rejected: Count,
    pub skipped_circuit_open: Count,
    pub skipped_busy: Count,
    pub skipped_rate_limited: Count,
}

impl UpstreamOutcomes {
    /// Every outcome with its label.
    pub fn labelled(&self) -> [(&'static str, &Count); 7] {
        [
            ("picture", &self.picture),
            ("no_picture", &self.no_picture),
            ("unavailable", &self.unavailable),
            ("rejected", &self.rejected),
            ("skipped_circuit_open", &self.skipped_circuit_open),
            ("skipped_busy", &self.skipped_busy),
            ("skipped_rate_limited", &self.skipped_rate_limited),
        ]
    }

    fn skipped(&self, refusal: gate::GateRefusal) -> &Count {
        match refusal {
            gate::GateRefusal::Busy => &self.skipped_busy,
            gate::GateRefusal::RateLimited => &self.skipped_rate_limited,
        }
    }
}
