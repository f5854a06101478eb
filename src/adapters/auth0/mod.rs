//! Auth0 Management API adapter: writes a user's picture URL with a cached client-credentials token.
//!
//! One `PATCH /api/v2/users/{id}` per write carrying only `{"<field>": {"picture": …}}` (Auth0
//! merges metadata at the first level, so every other key is left alone). The token
//! ([`token`]) is fetched once, shared, and refreshed shortly before it expires or when Auth0
//! answers 401; failures are retried as [`retry`] says, and the whole write is bounded by
//! `auth0.management.timeout_secs`.

mod retry;
mod token;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use prometheus::IntCounterVec;
use tokio::time::Instant;

pub use retry::CallFault;
use retry::{Failure, backoff, classify};
use token::{Credentials, TokenSource};

use crate::metrics::Metrics;
use crate::ports::{EmailFacts, ProfileError, ProfileStore, UserEmail};
use crate::settings::{MetadataField, Settings};
use crate::vocabulary::ErrorChain;

/// Everything but RFC 3986's unreserved characters is escaped, so `auth0|abc` and ids holding
/// `/` stay one path segment (`auth0%7Cabc`).
const USER_ID_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, thiserror::Error)]
pub enum Auth0SetupError {
    #[error("auth0.management.{0} is required when write-back is on")]
    Missing(&'static str),
    #[error("cannot build the Management API client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot register the Management API metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The production [`ProfileStore`]: Auth0's Management API.
pub struct Auth0Profiles {
    http: reqwest::Client,
    base: String,
    token: TokenSource,
    field: MetadataField,
    bound: Duration,
    calls: IntCounterVec,
}

impl fmt::Debug for Auth0Profiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth0Profiles")
            .field("base", &self.base)
            .field("token", &self.token)
            .field("field", &self.field)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
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
        let token = TokenSource::new(
            format!("{base}/oauth/token"),
            audience,
            Credentials {
                client_id,
                client_secret,
            },
        );
        Ok(Self {
            http,
            base,
            token,
            field: m.field,
            bound,
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

    fn count(&self, call: &'static str) -> impl Fn(&'static str) + '_ {
        move |outcome| self.calls.with_label_values(&[call, outcome]).inc()
    }

    /// Runs `call` with the current token until it answers, fails for good, or a wait would
    /// pass `deadline`; `what` names the call in logs.
    async fn with_retries<T, F, Fut>(
        &self,
        what: &'static str,
        deadline: Instant,
        call: F,
    ) -> Result<T, ProfileError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut stale: Option<String> = None;
        let mut refreshed_after_401 = false;
        let mut attempt: u32 = 0;
        loop {
            let result = match self
                .token
                .get(&self.http, stale.take(), self.count("token"))
                .await
            {
                Ok(token) => call(token).await,
                Err(failure) => Err(failure),
            };
            match result {
                Ok(answer) => return Ok(answer),
                Err(Failure::Fatal(fault)) => return Err(ProfileError::Rejected(Box::new(fault))),
                Err(Failure::Unauthorized { token }) if !refreshed_after_401 => {
                    // Rotated keys or a revoked grant: one fresh token, then one more try.
                    refreshed_after_401 = true;
                    stale = Some(token);
                }
                Err(Failure::Unauthorized { .. }) => {
                    return Err(ProfileError::Rejected(Box::new(
                        CallFault::FreshTokenRefused,
                    )));
                }
                Err(Failure::Transient { fault, after }) => {
                    let wait = after.unwrap_or_else(|| backoff(attempt));
                    attempt += 1;
                    if Instant::now() + wait >= deadline {
                        return Err(ProfileError::Unavailable(Box::new(CallFault::OutOfTime {
                            bound: self.bound.as_secs(),
                            last: Box::new(fault),
                        })));
                    }
                    tracing::warn!(
                        reason = %ErrorChain(&fault),
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "Auth0 Management API {what} will be retried"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Runs the call that `work` builds for a deadline, within the configured bound; a
    /// timeout is `Unavailable`.
    async fn bounded<T, Fut>(&self, work: impl FnOnce(Instant) -> Fut) -> Result<T, ProfileError>
    where
        Fut: Future<Output = Result<T, ProfileError>>,
    {
        let deadline = Instant::now() + self.bound;
        tokio::time::timeout_at(deadline, work(deadline))
            .await
            .unwrap_or_else(|_| {
                Err(ProfileError::Unavailable(Box::new(CallFault::TimedOut(
                    self.bound.as_secs(),
                ))))
            })
    }

    /// One GET of the user's id alone: `true` on 200, `false` on Auth0's own "The user does not
    /// exist." (404 with `errorCode` `inexistent_user`); any other 404 is a fault, so that a
    /// wrong base URL or a proxy's 404 never reads as "every user is gone".
    async fn get_user(&self, url: &str, token: String) -> Result<bool, Failure> {
        let response = self.http.get(url).bearer_auth(&token).send().await;
        let count = self.count("get_user");
        let response = match response {
            Ok(r) => r,
            Err(err) => {
                count("network_error");
                return Err(Failure::network("get_user", err));
            }
        };
        let status = response.status();
        if status.is_success() {
            count("ok");
            return Ok(true);
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            let answer = response.json::<ErrorAnswer>().await.ok();
            if answer.is_some_and(|a| a.error_code.as_deref() == Some("inexistent_user")) {
                count("no_such_user");
                return Ok(false);
            }
            count("rejected");
            return Err(Failure::Fatal(CallFault::Refused {
                call: "get_user",
                status: 404,
            }));
        }
        Err(classify(
            "get_user",
            status,
            response.headers(),
            Some(&token),
            count,
        ))
    }

    /// One PATCH; on success, what the user object Auth0 answers with says about the email.
    async fn patch(
        &self,
        url: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> Result<EmailFacts, Failure> {
        let response = self
            .http
            .patch(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await;
        let count = self.count("patch");
        let response = match response {
            Ok(r) => r,
            Err(err) => {
                count("network_error");
                return Err(Failure::network("patch", err));
            }
        };
        let status = response.status();
        if status.is_success() {
            count("ok");
            return Ok(email_of(response).await);
        }
        Err(classify(
            "patch",
            status,
            response.headers(),
            Some(token),
            count,
        ))
    }
}

#[async_trait]
impl ProfileStore for Auth0Profiles {
    async fn set_picture(
        &self,
        user_id: &str,
        picture: Option<&str>,
    ) -> Result<EmailFacts, ProfileError> {
        if matches!(user_id, "" | "." | "..") {
            // These would not stay one path segment once the URL is normalized.
            return Err(ProfileError::Rejected(Box::new(CallFault::NotAUserId(
                user_id.to_owned(),
            ))));
        }
        let body = picture_body(self.field, picture);
        let url = self.user_url(user_id);
        let result = self
            .bounded(|deadline| {
                self.with_retries("write", deadline, |token| {
                    let (url, body) = (&url, &body);
                    async move { self.patch(url, &token, body).await }
                })
            })
            .await;
        match &result {
            Ok(_) => tracing::info!(
                user_id,
                field = %self.field,
                removed = picture.is_none(),
                "profile picture written back to Auth0"
            ),
            Err(err) => {
                tracing::warn!(user_id, error = %ErrorChain(err), "profile write-back failed");
            }
        }
        result
    }

    async fn user_exists(&self, user_id: &str) -> Result<bool, ProfileError> {
        if matches!(user_id, "" | "." | "..") {
            return Err(ProfileError::Rejected(Box::new(CallFault::NotAUserId(
                user_id.to_owned(),
            ))));
        }
        // Only the id comes back: reconcile reads no email or profile.
        let url = format!(
            "{}?fields=user_id&include_fields=true",
            self.user_url(user_id)
        );
        self.bounded(|deadline| {
            self.with_retries("read", deadline, |token| {
                let url = &url;
                async move { self.get_user(url, token).await }
            })
        })
        .await
    }
}

/// Auth0's error answer: `{"statusCode", "error", "message", "errorCode"}`.
#[derive(serde::Deserialize)]
struct ErrorAnswer {
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
}

/// The fields of Auth0's user object that the write-back reads.
#[derive(serde::Deserialize)]
struct UserObject {
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
}

/// The email the PATCH answer names (Auth0 answers a user update with the whole user object).
/// An answer that cannot be read says nothing: the links already learnt stand.
async fn email_of(response: reqwest::Response) -> EmailFacts {
    match response.json::<UserObject>().await {
        Ok(user) => EmailFacts::Known(user.email.map(|address| UserEmail {
            address,
            verified: user.email_verified,
        })),
        Err(error) => {
            tracing::warn!(error = %ErrorChain(&error.without_url()), "cannot read the user object Auth0 answered with");
            EmailFacts::Unknown
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
