//! Gravatar resolution: a validated request → the cached upstream answer, or a fallback.
//!
//! One concern per file: `request` parses what a client asked for, `cache_policy` says which
//! sizes are asked upstream and how long and how heavily answers are kept, `gate` caps upstream
//! concurrency and rate, `breaker` stops asking a failing upstream, `color` draws `d=color`, and
//! `service` ties them together around the upstream port.

mod breaker;
mod cache_policy;
mod color;
mod gate;
mod request;
mod service;

use std::sync::Arc;

use crate::domain::placeholder::{RenderError, RenderedPicture};
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
    Unavailable(#[source] Arc<LookupError>),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Why the cached lookup produced no answer (never cached).
#[derive(Debug, thiserror::Error)]
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
    Gravatar,
    Fallback,
}

impl AvatarSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gravatar => "gravatar",
            Self::Fallback => "fallback",
        }
    }
}

/// The answer: a picture, where it came from, and how long downstream caches may keep it
/// (never longer than visage itself keeps the answer).
#[derive(Clone, Debug)]
pub struct ResolvedAvatar {
    pub picture: RenderedPicture,
    pub source: AvatarSource,
    pub max_age: u64,
}
