//! How one Management API call failed, and when to try again: 429 waits for the rate-limit
//! reset, 5xx and network errors back off with jitter, a 401 asks for a fresh token, every other
//! 4xx is final.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// First backoff step after a 5xx or a network error; doubles per attempt up to the cap.
pub(super) const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// What went wrong with one call (`token` or `patch`). Named by kind and status only: a client
/// error's text would carry the request URL.
#[derive(Debug, thiserror::Error)]
pub enum CallFault {
    #[error("{call}: the request failed")]
    Network {
        call: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{call}: rate limited (429)")]
    RateLimited { call: &'static str },
    #[error("{call}: server error ({status})")]
    Server { call: &'static str, status: u16 },
    #[error("{call}: refused with status {status}")]
    Refused { call: &'static str, status: u16 },
    #[error("token: the answer is not a token")]
    UnreadableToken(#[source] reqwest::Error),
    #[error("the Management API refused a freshly issued token (401)")]
    FreshTokenRefused,
    #[error("{0:?} is not a user id")]
    NotAUserId(String),
    #[error("no answer within the {0}s bound")]
    TimedOut(u64),
    #[error("the next try would pass the {bound}s bound")]
    OutOfTime {
        bound: u64,
        #[source]
        last: Box<CallFault>,
    },
}

/// What one HTTP call taught us.
pub(super) enum Failure {
    /// Worth another try, after `after` when the server said so.
    Transient {
        fault: CallFault,
        after: Option<Duration>,
    },
    /// The Management API refused this token.
    Unauthorized { token: String },
    /// Retrying will not help.
    Fatal(CallFault),
}

impl Failure {
    pub(super) fn network(call: &'static str, error: reqwest::Error) -> Self {
        Self::Transient {
            fault: CallFault::Network {
                call,
                source: error.without_url(),
            },
            after: None,
        }
    }
}

/// Sorts a non-2xx answer: 429 and 5xx are transient, 401 on a PATCH (`token` given) asks for
/// a new token, every other 4xx is final. `count` records the outcome.
pub(super) fn classify(
    call: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    token: Option<&str>,
    count: impl Fn(&'static str),
) -> Failure {
    if status == StatusCode::TOO_MANY_REQUESTS {
        count("rate_limited");
        return Failure::Transient {
            fault: CallFault::RateLimited { call },
            after: Some(rate_limit_wait(headers)),
        };
    }
    if status.is_server_error() {
        count("server_error");
        return Failure::Transient {
            fault: CallFault::Server {
                call,
                status: status.as_u16(),
            },
            after: None,
        };
    }
    if status == StatusCode::UNAUTHORIZED {
        count("unauthorized");
        if let Some(token) = token {
            return Failure::Unauthorized {
                token: token.to_owned(),
            };
        }
    } else {
        count("rejected");
    }
    Failure::Fatal(CallFault::Refused {
        call,
        status: status.as_u16(),
    })
}

/// Exponential backoff with "equal jitter": half the step fixed, half random.
pub(super) fn backoff(attempt: u32) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(8))
        .min(BACKOFF_CAP);
    let half = step / 2;
    half + rand::rng().random_range(Duration::ZERO..=half)
}

/// Until `x-ratelimit-reset` (Unix seconds, Auth0's header), else `Retry-After` (seconds),
/// else a backoff step; a little jitter keeps concurrent writers from retrying in lockstep.
pub(super) fn rate_limit_wait(headers: &HeaderMap) -> Duration {
    let number = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let base = if let Some(reset) = number("x-ratelimit-reset") {
        (UNIX_EPOCH + Duration::from_secs(reset))
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    } else if let Some(secs) = number(RETRY_AFTER.as_str()) {
        Duration::from_secs(secs)
    } else {
        backoff(0)
    };
    base + rand::rng().random_range(Duration::from_millis(10)..=Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        for attempt in 0..20 {
            let wait = backoff(attempt);
            let step = BACKOFF_BASE
                .saturating_mul(1u32 << attempt.min(8))
                .min(BACKOFF_CAP);
            assert!(wait >= step / 2 && wait <= step, "{attempt}: {wait:?}");
        }
    }

    #[test]
    fn the_rate_limit_reset_decides_the_wait() {
        let mut headers = HeaderMap::new();
        let in_five = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|now| now.as_secs() + 5)
            .unwrap_or_default();
        headers.insert(
            "x-ratelimit-reset",
            in_five.to_string().parse().expect("value"),
        );
        let wait = rate_limit_wait(&headers);
        assert!(
            wait > Duration::from_secs(3) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "2".parse().expect("value"));
        let wait = rate_limit_wait(&headers);
        assert!(
            wait >= Duration::from_secs(2) && wait < Duration::from_millis(2200),
            "{wait:?}"
        );
    }

    #[test]
    fn statuses_sort_into_retry_new_token_or_final() {
        let headers = HeaderMap::new();
        let kind = |status: u16, token: Option<&str>| match classify(
            "patch",
            StatusCode::from_u16(status).expect("status"),
            &headers,
            token,
            |_| {},
        ) {
            Failure::Transient { .. } => "retry",
            Failure::Unauthorized { .. } => "new token",
            Failure::Fatal(_) => "final",
        };
        assert_eq!(kind(429, None), "retry");
        assert_eq!(kind(503, None), "retry");
        assert_eq!(kind(500, Some("t")), "retry");
        assert_eq!(kind(401, Some("t")), "new token");
        assert_eq!(kind(401, None), "final");
        assert_eq!(kind(400, Some("t")), "final");
        assert_eq!(kind(403, Some("t")), "final");
        assert_eq!(kind(404, Some("t")), "final");
    }
}
