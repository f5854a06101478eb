//! Auth0 Management API adapter: writes a user's picture URL with a cached client-credentials token.
//!
//! One `PATCH /api/v2/users/{id}` per write carrying only `{"<field>": {"picture": …}}` (Auth0
//! merges metadata at the first level, so every other key is left alone). The token is fetched
//! once, shared, and refreshed shortly before it expires or when Auth0 answers 401; 429 waits for
//! the rate-limit reset, 5xx and network errors back off with jitter, and the whole write is
//! bounded by `auth0.management.timeout_secs`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use prometheus::IntCounterVec;
use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::ports::{ProfileError, ProfileStore};
use crate::settings::{MetadataField, Settings};

/// Everything but RFC 3986's unreserved characters is escaped, so `auth0|abc` and ids holding
/// `/` stay one path segment (`auth0%7Cabc`).
const USER_ID_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A token is refreshed this long before Auth0 says it expires (less for short-lived tokens).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Longest a token is trusted, whatever `expires_in` says (Auth0's maximum is 30 days).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// First backoff step after a 5xx or a network error; doubles per attempt up to the cap.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum Auth0SetupError {
    #[error("auth0.management.{0} is required when write-back is on")]
    Missing(&'static str),
    #[error("cannot build the Management API client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot register the Management API metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The client id and secret; `Debug` never shows the secret.
struct Credentials {
    client_id: String,
    client_secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Clone)]
struct CachedToken {
    value: String,
    refresh_at: Instant,
}

/// The production [`ProfileStore`]: Auth0's Management API.
pub struct Auth0Profiles {
    http: reqwest::Client,
    base: String,
    audience: String,
    credentials: Credentials,
    field: MetadataField,
    bound: Duration,
    /// Held across a token fetch, so concurrent writes wait for one refresh instead of racing.
    token: Mutex<Option<CachedToken>>,
    calls: IntCounterVec,
}

impl fmt::Debug for Auth0Profiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth0Profiles")
            .field("base", &self.base)
            .field("audience", &self.audience)
            .field("credentials", &self.credentials)
            .field("field", &self.field)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

/// What one HTTP call taught us.
enum Failure {
    /// Worth another try, after `after` when the server said so.
    Transient {
        reason: String,
        after: Option<Duration>,
    },
    /// The Management API refused this token.
    Unauthorized { token: String },
    /// Retrying will not help.
    Fatal(String),
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

impl Auth0Profiles {
    /// Builds the client from `auth0.management.*` (base defaults to `auth.issuer`) and registers
    /// `visage_auth0_management_calls_total{call, outcome}`.
    pub fn from_settings(settings: &Settings, metrics: &Metrics) -> Result<Self, Auth0SetupError> {
        let m = &settings.auth0.management;
        let base = settings
            .management_base_url()
            .ok_or(Auth0SetupError::Missing("base_url"))?;
        let audience = settings
            .management_audience()
            .ok_or(Auth0SetupError::Missing("audience"))?;
        let client_id = m
            .client_id
            .clone()
            .ok_or(Auth0SetupError::Missing("client_id"))?;
        let client_secret = m
            .client_secret
            .clone()
            .ok_or(Auth0SetupError::Missing("client_secret"))?;
        let bound = Duration::from_secs(m.timeout_secs.max(1));
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(bound.min(Duration::from_secs(5)))
            .timeout(bound)
            .user_agent(concat!("visage/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let calls = metrics.auth0_calls()?;
        Ok(Self {
            http,
            base,
            audience,
            credentials: Credentials {
                client_id,
                client_secret,
            },
            field: m.field,
            bound,
            token: Mutex::new(None),
            calls,
        })
    }

    /// `{base}/api/v2/users/{id}` with the id escaped as one segment.
    fn user_url(&self, user_id: &str) -> String {
        format!(
            "{}/api/v2/users/{}",
            self.base,
            utf8_percent_encode(user_id, USER_ID_SEGMENT)
        )
    }

    fn count(&self, call: &str, outcome: &str) {
        self.calls.with_label_values(&[call, outcome]).inc();
    }

    /// Retries until the write lands, fails for good, or a wait would pass `deadline`.
    async fn write(
        &self,
        user_id: &str,
        body: &serde_json::Value,
        deadline: Instant,
    ) -> Result<(), ProfileError> {
        let url = self.user_url(user_id);
        let mut stale: Option<String> = None;
        let mut refreshed_after_401 = false;
        let mut attempt: u32 = 0;
        loop {
            let result = match self.token(stale.take()).await {
                Ok(token) => self.patch(&url, &token, body).await,
                Err(failure) => Err(failure),
            };
            match result {
                Ok(()) => return Ok(()),
                Err(Failure::Fatal(reason)) => return Err(ProfileError::Rejected(reason)),
                Err(Failure::Unauthorized { token }) if !refreshed_after_401 => {
                    // Rotated keys or a revoked grant: one fresh token, then one more try.
                    refreshed_after_401 = true;
                    stale = Some(token);
                }
                Err(Failure::Unauthorized { .. }) => {
                    return Err(ProfileError::Rejected(
                        "the Management API refused a freshly issued token (401)".into(),
                    ));
                }
                Err(Failure::Transient { reason, after }) => {
                    let wait = after.unwrap_or_else(|| backoff(attempt));
                    attempt += 1;
                    if Instant::now() + wait >= deadline {
                        return Err(ProfileError::Unavailable(format!(
                            "{reason}; the next try would pass the {}s bound",
                            self.bound.as_secs()
                        )));
                    }
                    tracing::warn!(
                        %reason,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "Auth0 Management API write will be retried"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The cached token, or a fresh one when it is about to expire or `stale` was refused.
    /// The lock is held during the fetch: one refresh at a time, the others reuse its result.
    async fn token(&self, stale: Option<String>) -> Result<String, Failure> {
        let mut slot = self.token.lock().await;
        if let Some(cached) = slot.as_ref() {
            let refused = stale.as_deref() == Some(cached.value.as_str());
            if !refused && Instant::now() < cached.refresh_at {
                return Ok(cached.value.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *slot = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<CachedToken, Failure> {
        let request = serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
            "audience": self.audience,
        });
        let sent = Instant::now();
        let response = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .json(&request)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(err) => {
                self.count("token", "network_error");
                return Err(Failure::Transient {
                    reason: format!("token request failed: {}", without_url(err)),
                    after: None,
                });
            }
        };
        let status = response.status();
        if !status.is_success() {
            return Err(self.classify("token", status, response.headers(), None));
        }
        match response.json::<TokenAnswer>().await {
            Ok(answer) => {
                self.count("token", "ok");
                // Capped so that an absurd `expires_in` cannot overflow the clock.
                let lifetime = Duration::from_secs(answer.expires_in).min(MAX_TOKEN_LIFETIME);
                let margin = REFRESH_MARGIN.min(lifetime / 10);
                Ok(CachedToken {
                    value: answer.access_token,
                    refresh_at: sent + lifetime.saturating_sub(margin),
                })
            }
            Err(err) => {
                self.count("token", "bad_answer");
                Err(Failure::Transient {
                    reason: format!("unreadable token answer: {}", without_url(err)),
                    after: None,
                })
            }
        }
    }

    async fn patch(&self, url: &str, token: &str, body: &serde_json::Value) -> Result<(), Failure> {
        let response = self
            .http
            .patch(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(err) => {
                self.count("patch", "network_error");
                return Err(Failure::Transient {
                    reason: format!("user update failed: {}", without_url(err)),
                    after: None,
                });
            }
        };
        let status = response.status();
        if status.is_success() {
            self.count("patch", "ok");
            return Ok(());
        }
        Err(self.classify("patch", status, response.headers(), Some(token)))
    }

    /// Sorts a non-2xx answer: 429 and 5xx are transient, 401 on a PATCH asks for a new token,
    /// every other 4xx is final.
    fn classify(
        &self,
        call: &str,
        status: StatusCode,
        headers: &HeaderMap,
        token: Option<&str>,
    ) -> Failure {
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.count(call, "rate_limited");
            return Failure::Transient {
                reason: format!("{call}: rate limited (429)"),
                after: Some(rate_limit_wait(headers)),
            };
        }
        if status.is_server_error() {
            self.count(call, "server_error");
            return Failure::Transient {
                reason: format!("{call}: server error ({})", status.as_u16()),
                after: None,
            };
        }
        if status == StatusCode::UNAUTHORIZED {
            self.count(call, "unauthorized");
            if let Some(token) = token {
                return Failure::Unauthorized {
                    token: token.to_owned(),
                };
            }
        } else {
            self.count(call, "rejected");
        }
        Failure::Fatal(format!("{call}: refused with status {}", status.as_u16()))
    }
}

#[async_trait]
impl ProfileStore for Auth0Profiles {
    async fn set_picture(&self, user_id: &str, picture: Option<&str>) -> Result<(), ProfileError> {
        if matches!(user_id, "" | "." | "..") {
            // These would not stay one path segment once the URL is normalized.
            return Err(ProfileError::Rejected(format!(
                "{user_id:?} is not a user id"
            )));
        }
        let body = picture_body(self.field, picture);
        let deadline = Instant::now() + self.bound;
        let outcome = tokio::time::timeout_at(deadline, self.write(user_id, &body, deadline)).await;
        let result = outcome.unwrap_or_else(|_| {
            Err(ProfileError::Unavailable(format!(
                "no answer within the {}s bound",
                self.bound.as_secs()
            )))
        });
        match &result {
            Ok(()) => tracing::info!(
                user_id,
                field = %self.field,
                removed = picture.is_none(),
                "profile picture written back to Auth0"
            ),
            Err(err) => tracing::warn!(user_id, error = %err, "profile write-back failed"),
        }
        result
    }
}

/// The PATCH body: only the picture, under the configured field. A removal sends `null`, which
/// Auth0 documents as removing the attribute (root) or the metadata key (first-level merge).
fn picture_body(field: MetadataField, picture: Option<&str>) -> serde_json::Value {
    match field {
        MetadataField::Root => serde_json::json!({ "picture": picture }),
        MetadataField::UserMetadata | MetadataField::AppMetadata => {
            serde_json::json!({ field.as_str(): { "picture": picture } })
        }
    }
}

/// Exponential backoff with "equal jitter": half the step fixed, half random.
fn backoff(attempt: u32) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(8))
        .min(BACKOFF_CAP);
    let half = step / 2;
    half + rand::rng().random_range(Duration::ZERO..=half)
}

/// Until `x-ratelimit-reset` (Unix seconds, Auth0's header), else `Retry-After` (seconds),
/// else a backoff step; a little jitter keeps concurrent writers from retrying in lockstep.
fn rate_limit_wait(headers: &HeaderMap) -> Duration {
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

/// reqwest errors name the URL; ours carries no secret, but the message is shorter without it.
fn without_url(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
    fn user_ids_are_one_segment() {
        let cases = [
            (
                "auth0|5f7c8ec7c33c6c004bbafe82",
                "auth0%7C5f7c8ec7c33c6c004bbafe82",
            ),
            ("samlp|corp/jane.doe", "samlp%7Ccorp%2Fjane.doe"),
            ("a b?#%", "a%20b%3F%23%25"),
        ];
        for (id, segment) in cases {
            assert_eq!(
                utf8_percent_encode(id, USER_ID_SEGMENT).to_string(),
                segment
            );
        }
    }
}
