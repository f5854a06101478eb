//! Per-user rate limit for uploads and deletes (`limits.uploads_per_minute`).
//!
//! Each upload costs a decode, an S3 write and an Auth0 Management API call, and Auth0 limits the
//! Management API per tenant: one noisy user must not starve everyone's write-back. The limit is
//! a GCRA ("generic cell rate algorithm"): a user may make `per_minute` requests at once, then
//! one every `60 / per_minute` seconds. Its only state per user is one instant.
//!
//! Per instance: with N instances behind a load balancer a user may make up to N × the limit.
//! Memory is bounded: at most [`MAX_TRACKED_USERS`] users are tracked, keyed by a 32-byte hash
//! (never the raw id), and a user idle for a minute is forgotten (an idle minute refills the
//! whole burst, so forgetting changes nothing).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Users whose state is kept at once; beyond it the cache's admission policy leaves some users
/// untracked (which only forgives them). About 200 bytes each with the cache's bookkeeping:
/// ≤ 10 MB.
pub(crate) const MAX_TRACKED_USERS: u64 = 50_000;

const WINDOW: Duration = Duration::from_secs(60);

/// A refusal: when the next request of this user will be admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, rounded up (a `Retry-After` of 0 would invite an immediate retry).
    pub fn secs(self) -> u64 {
        let secs = self.0.as_secs();
        if self.0.subsec_nanos() > 0 || secs == 0 {
            secs + 1
        } else {
            secs
        }
    }
}

pub(crate) struct UploadRateLimiter {
    /// Time between two admitted requests at the sustained rate.
    interval: Duration,
    /// How far ahead of now a user's theoretical arrival time may run: the burst.
    tolerance: Duration,
    /// User hash → theoretical arrival time of the user's next request.
    users: moka::sync::Cache<[u8; 32], Arc<Mutex<Instant>>>,
}

impl UploadRateLimiter {
    /// `per_minute` must be at least 1 (the settings refuse 0).
    pub(crate) fn new(per_minute: u32) -> Self {
        let per_minute = per_minute.max(1);
        let interval = WINDOW / per_minute;
        Self {
            interval,
            tolerance: WINDOW.saturating_sub(interval),
            users: moka::sync::Cache::builder()
                .max_capacity(MAX_TRACKED_USERS)
                .time_to_idle(WINDOW)
                .build(),
        }
    }

    /// Admits one upload or delete by `user_id` now, or says when to retry.
    pub(crate) fn admit(&self, user_id: &str) -> Result<(), RetryAfter> {
        self.admit_at(user_id, Instant::now())
    }

    /// [`Self::admit`] at a given instant (tests drive the clock).
    pub(crate) fn admit_at(&self, user_id: &str, now: Instant) -> Result<(), RetryAfter> {
        let key: [u8; 32] = Sha256::digest(user_id.as_bytes()).into();
        let state = self.users.get_with(key, || Arc::new(Mutex::new(now)));
        let mut next = state.lock().unwrap_or_else(PoisonError::into_inner);
        let arrival = (*next).max(now);
        let ahead = arrival.saturating_duration_since(now);
        if let Some(wait) = ahead.checked_sub(self.tolerance).filter(|w| !w.is_zero()) {
            return Err(RetryAfter(wait));
        }
        *next = arrival + self.interval;
        Ok(())
    }

    /// Users currently tracked (for tests of the bound).
    #[cfg(test)]
    fn tracked_users(&self) -> u64 {
        self.users.run_pending_tasks();
        self.users.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_limit_then_one_per_interval() {
        let limiter = UploadRateLimiter::new(10);
        let start = Instant::now();
        for i in 0..10 {
            assert_eq!(limiter.admit_at("jane", start), Ok(()), "request {i}");
        }
        let refused = limiter
            .admit_at("jane", start)
            .expect_err("11th in the minute");
        assert_eq!(refused, RetryAfter(Duration::from_secs(6)));
        assert_eq!(refused.secs(), 6);
        // Other users are not affected.
        assert_eq!(limiter.admit_at("john", start), Ok(()));
        // Just before the interval: still refused, with the rest of the wait.
        let early = limiter
            .admit_at("jane", start + Duration::from_millis(5_500))
            .expect_err("too early");
        assert_eq!(early.secs(), 1);
        assert_eq!(
            limiter.admit_at("jane", start + Duration::from_secs(6)),
            Ok(())
        );
        assert!(
            limiter
                .admit_at("jane", start + Duration::from_secs(6))
                .is_err()
        );
        // A quiet minute refills the whole burst.
        let later = start + Duration::from_secs(6 + 60);
        for _ in 0..10 {
            assert_eq!(limiter.admit_at("jane", later), Ok(()));
        }
        assert!(limiter.admit_at("jane", later).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_never_says_zero() {
        let cases = [
            (Duration::ZERO, 1),
            (Duration::from_millis(1), 1),
            (Duration::from_millis(999), 1),
            (Duration::from_secs(1), 1),
            (Duration::from_millis(1001), 2),
            (Duration::from_secs(59), 59),
            (Duration::from_millis(59_500), 60),
        ];
        for (wait, secs) in cases {
            assert_eq!(RetryAfter(wait).secs(), secs, "{wait:?}");
        }
    }

    #[test]
    fn a_limit_of_one_per_minute() {
        let limiter = UploadRateLimiter::new(1);
        let start = Instant::now();
        assert_eq!(limiter.admit_at("a", start), Ok(()));
        assert_eq!(
            limiter.admit_at("a", start + Duration::from_secs(1)),
            Err(RetryAfter(Duration::from_secs(59)))
        );
        assert_eq!(
            limiter.admit_at("a", start + Duration::from_secs(60)),
            Ok(())
        );
    }

    #[test]
    fn memory_is_bounded_by_the_tracked_users() {
        let limiter = UploadRateLimiter::new(10);
        let now = Instant::now();
        for i in 0..(MAX_TRACKED_USERS + 5_000) {
            let _ = limiter.admit_at(&format!("user-{i}"), now);
        }
        assert!(limiter.tracked_users() <= MAX_TRACKED_USERS);
    }
}
