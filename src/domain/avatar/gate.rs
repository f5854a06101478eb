//! The gate in front of the avatar upstream: at most `max_concurrent` calls in flight and
//! `per_sec` calls a second (token bucket with a burst), per instance.
//!
//! A miss that the gate refuses is answered with the fallback (or a stale picture) for the short
//! `ttl_fallback`, is not cached, and is not a breaker failure: a flood of distinct hashes never
//! gets visage rate-limited by Gravatar, and never opens the breaker for everyone else.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why the gate refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GateRefusal {
    #[error("too many upstream calls in flight")]
    Busy,
    #[error("upstream call rate exceeded")]
    RateLimited,
}

struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

pub(super) struct UpstreamGate {
    in_flight: Arc<Semaphore>,
    bucket: Mutex<Bucket>,
    per_sec: f64,
    burst: f64,
}

impl UpstreamGate {
    pub(super) fn new(max_concurrent: u32, per_sec: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            in_flight: Arc::new(Semaphore::new(max_concurrent.max(1) as usize)),
            bucket: Mutex::new(Bucket {
                tokens: burst,
                refilled_at: Instant::now(),
            }),
            per_sec: f64::from(per_sec.max(1)),
            burst,
        }
    }

    /// A permit for one upstream call (held until the call ends), or why not. Never waits: a
    /// caller refused here is served at once.
    pub(super) fn try_enter(&self) -> Result<OwnedSemaphorePermit, GateRefusal> {
        // A slot first, so that a call refused as busy spends no token.
        let permit = self
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| GateRefusal::Busy)?;
        // A poisoned lock only means another caller panicked mid-update; the bucket stays usable.
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_sec).min(self.burst);
        bucket.refilled_at = now;
        if bucket.tokens < 1.0 {
            return Err(GateRefusal::RateLimited);
        }
        bucket.tokens -= 1.0;
        Ok(permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_then_the_rate_and_the_concurrency_cap() {
        let gate = UpstreamGate::new(2, 1, 3);
        let first = gate.try_enter().expect("in burst");
        let second = gate.try_enter().expect("in burst");
        assert_eq!(gate.try_enter().err(), Some(GateRefusal::Busy));
        drop((first, second));
        assert!(gate.try_enter().is_ok(), "the third token of the burst");
        assert_eq!(gate.try_enter().err(), Some(GateRefusal::RateLimited));
    }
}
