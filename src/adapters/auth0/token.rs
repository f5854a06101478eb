//! The Management API's client-credentials token: fetched once, shared, refreshed shortly before
//! it expires or when the API refuses it.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::retry::{CallFault, Failure, classify};

/// A token is refreshed this long before Auth0 says it expires (less for short-lived tokens).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Longest a token is trusted, whatever `expires_in` says (Auth0's maximum is 30 days).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The client id and secret; `Debug` never shows the secret.
pub(super) struct Credentials {
    pub(super) client_id: String,
    pub(super) client_secret: String,
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

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

/// One token for every write of this instance.
#[derive(Debug)]
pub(super) struct TokenSource {
    pub(super) token_url: String,
    pub(super) audience: String,
    pub(super) credentials: Credentials,
    /// Held across a fetch, so concurrent writes wait for one refresh instead of racing.
    slot: Mutex<Option<CachedTokenDebug>>,
}

/// `CachedToken` without its value in `Debug`.
struct CachedTokenDebug(CachedToken);

impl fmt::Debug for CachedTokenDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<token>")
    }
}

impl TokenSource {
    pub(super) fn new(token_url: String, audience: String, credentials: Credentials) -> Self {
        Self {
            token_url,
            audience,
            credentials,
            slot: Mutex::new(None),
        }
    }

    /// The cached token, or a fresh one when it is about to expire or `stale` was refused.
    /// The lock is held during the fetch: one refresh at a time, the others reuse its result.
    pub(super) async fn get(
        &self,
        http: &reqwest::Client,
        stale: Option<String>,
        count: impl Fn(&'static str),
    ) -> Result<String, Failure> {
        let mut slot = self.slot.lock().await;
        if let Some(CachedTokenDebug(cached)) = slot.as_ref() {
            let refused = stale.as_deref() == Some(cached.value.as_str());
            if !refused && Instant::now() < cached.refresh_at {
                return Ok(cached.value.clone());
            }
        }
        let fresh = self.fetch(http, count).await?;
        let value = fresh.value.clone();
        *slot = Some(CachedTokenDebug(fresh));
        Ok(value)
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        count: impl Fn(&'static str),
    ) -> Result<CachedToken, Failure> {
        let request = serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
            "audience": self.audience,
        });
        let sent = Instant::now();
        let response = match http.post(&self.token_url).json(&request).send().await {
            Ok(response) => response,
            Err(err) => {
                count("network_error");
                return Err(Failure::network("token", err));
            }
        };
        let status = response.status();
        if !status.is_success() {
            return Err(classify("token", status, response.headers(), None, count));
        }
        match response.json::<TokenAnswer>().await {
            Ok(answer) => {
                count("ok");
                // Capped so that an absurd `expires_in` cannot overflow the clock.
                let lifetime = Duration::from_secs(answer.expires_in).min(MAX_TOKEN_LIFETIME);
                let margin = REFRESH_MARGIN.min(lifetime / 10);
                Ok(CachedToken {
                    value: answer.access_token,
                    refresh_at: sent + lifetime.saturating_sub(margin),
                })
            }
            Err(err) => {
                count("bad_answer");
                Err(Failure::Transient {
                    fault: CallFault::UnreadableToken(err.without_url()),
                    after: None,
                })
            }
        }
    }
}
