//! The circuit breaker in front of the avatar upstream.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::domain::counts::Level;

/// Consecutive failures open the circuit for a cool-down; after it, one failure re-opens it and
/// one success closes it.
pub(super) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    epoch: Instant,
    failures: AtomicU32,
    /// Milliseconds since `epoch` until which the upstream is skipped.
    open_until_ms: AtomicU64,
    state: Level,
}

impl Breaker {
    /// `threshold` = 0 never opens; `state` is set to 1 while open.
    pub(super) fn new(threshold: u32, cooldown: Duration, state: Level) -> Self {
        Self {
            threshold,
            cooldown,
            epoch: Instant::now(),
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            state,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(super) fn allows(&self) -> bool {
        self.now_ms() >= self.open_until_ms.load(Ordering::Relaxed)
    }

    pub(super) fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.state.set(0);
    }

    pub(super) fn failed(&self) {
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if self.threshold > 0 && failures >= self.threshold {
            let cooldown = u64::try_from(self.cooldown.as_millis()).unwrap_or(u64::MAX);
            self.open_until_ms
                .store(self.now_ms().saturating_add(cooldown), Ordering::Relaxed);
            if self.state.get() == 0 {
                tracing::warn!(failures, "gravatar circuit breaker opened");
            }
            self.state.set(1);
        }
    }
}
