//! CDN purge adapters, each as its vendor documents it: Cloudflare's purge by cache tags
//! (`POST {api_base}/zones/{zone_id}/purge_cache` with `{"tags": [...]}` and a bearer API token),
//! Fastly's purge by surrogate key (`POST {api_base}/service/{service_id}/purge/{key}` with a
//! `Fastly-Key` header), and a webhook of the operator's own (`POST {url}` with `{"tags": [...]}`
//! and an optional bearer token). 429 (after `Retry-After`), 5xx and network errors are retried
//! with jittered backoff, up to `cdn.max_attempts` tries within `cdn.timeout_secs`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use tokio::time::Instant;

use crate::ports::{CdnPurge, PurgeError};
use crate::settings::{Cdn, PurgeVendor};
use crate::vocabulary::ErrorChain;

/// Tags per Cloudflare purge request, kept small: its per-request limit depends on the plan.
const CLOUDFLARE_BATCH: usize = 30;
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum CdnSetupError {
    #[error("cdn.{0} is required for this cdn.purge")]
    Missing(&'static str),
    #[error("cannot build the CDN client")]
    Client(#[from] reqwest::Error),
}

/// How one purge request failed. Named by status only: a client error's text would carry the
/// request URL, and a CDN's error body may echo credentials.
#[derive(Debug, thiserror::Error)]
enum Fault {
    #[error("{vendor}: the request failed")]
    Network {
        vendor: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{vendor}: answered {status}")]
    Status { vendor: &'static str, status: u16 },
    #[error("{vendor}: answered 2xx without success")]
    NotSuccessful { vendor: &'static str },
    #[error("{vendor}: no success after {attempts} attempts within {bound}s")]
    GaveUp {
        vendor: &'static str,
        attempts: u32,
        bound: u64,
        #[source]
        last: Box<Fault>,
    },
}

/// One configured CDN API.
enum Api {
    Cloudflare { purge_url: String, token: String },
    Fastly { service_url: String, token: String },
    Webhook { url: String, token: Option<String> },
}

/// The production [`CdnPurge`].
pub(crate) struct CdnPurger {
    http: reqwest::Client,
    api: Api,
    bound: Duration,
    max_attempts: u32,
}

impl fmt::Debug for CdnPurger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CdnPurger")
            .field("vendor", &self.name())
            .field("bound", &self.bound)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl CdnPurger {
    /// The purger `cdn.purge` names; `None` for `none`.
    pub(crate) fn from_settings(cdn: &Cdn) -> Result<Option<Self>, CdnSetupError> {
        let required = |value: &Option<String>, key: &'static str| {
            value.clone().ok_or(CdnSetupError::Missing(key))
        };
        let api = match cdn.purge {
            PurgeVendor::None => return Ok(None),
            PurgeVendor::Cloudflare => Api::Cloudflare {
                purge_url: format!(
                    "{}/zones/{}/purge_cache",
                    cdn.cloudflare.api_base.trim_end_matches('/'),
                    utf8_percent_encode(
                        &required(&cdn.cloudflare.zone_id, "cloudflare.zone_id")?,
                        NON_ALPHANUMERIC
                    )
                ),
                token: required(&cdn.cloudflare.api_token, "cloudflare.api_token")?,
            },
            PurgeVendor::Fastly => Api::Fastly {
                service_url: format!(
                    "{}/service/{}",
                    cdn.fastly.api_base.trim_end_matches('/'),
                    utf8_percent_encode(
                        &required(&cdn.fastly.service_id, "fastly.service_id")?,
                        NON_ALPHANUMERIC
                    )
                ),
                token: required(&cdn.fastly.api_token, "fastly.api_token")?,
            },
            PurgeVendor::Webhook => Api::Webhook {
                url: required(&cdn.webhook.url, "webhook.url")?,
                token: cdn.webhook.token.clone(),
            },
        };
        let bound = Duration::from_secs(cdn.timeout_secs.max(1));
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(bound.min(Duration::from_secs(5)))
            .timeout(bound)
            .user_agent(concat!("visage/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(Self {
            http,
            api,
            bound,
            max_attempts: cdn.max_attempts.max(1),
        }))
    }

    /// The requests one purge of `tags` takes: Cloudflare in batches, Fastly one per key
    /// (its single-key endpoint), the webhook all at once.
    fn requests(&self, tags: &[String]) -> Vec<reqwest::RequestBuilder> {
        match &self.api {
            Api::Cloudflare { purge_url, token } => tags
                .chunks(CLOUDFLARE_BATCH)
                .map(|batch| {
                    self.http
                        .post(purge_url)
                        .bearer_auth(token)
                        .json(&serde_json::json!({ "tags": batch }))
                })
                .collect(),
            Api::Fastly { service_url, token } => tags
                .iter()
                .map(|tag| {
                    self.http
                        .post(format!(
                            "{service_url}/purge/{}",
                            utf8_percent_encode(tag, NON_ALPHANUMERIC)
                        ))
                        .header("Fastly-Key", token)
                        .header(reqwest::header::ACCEPT, "application/json")
                })
                .collect(),
            Api::Webhook { url, token } => {
                let request = self
                    .http
                    .post(url)
                    .json(&serde_json::json!({ "tags": tags }));
                vec![match token {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                }]
            }
        }
    }

    /// One request, retried until it succeeds, is refused, runs out of attempts or would pass
    /// `deadline`.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        deadline: Instant,
    ) -> Result<(), PurgeError> {
        let vendor = self.name();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let Some(this_try) = request.try_clone() else {
                return Err(PurgeError::Rejected(
                    "the request cannot be repeated".into(),
                ));
            };
            let (fault, after) = match this_try.send().await {
                Err(source) => (
                    Fault::Network {
                        vendor,
                        source: source.without_url(),
                    },
                    None,
                ),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    if status.is_success() {
                        if self.confirmed(response).await {
                            return Ok(());
                        }
                        (Fault::NotSuccessful { vendor }, None)
                    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                        let fault = Fault::Status {
                            vendor,
                            status: status.as_u16(),
                        };
                        (fault, retry_after)
                    } else {
                        return Err(PurgeError::Rejected(Box::new(Fault::Status {
                            vendor,
                            status: status.as_u16(),
                        })));
                    }
                }
            };
            let wait = after.unwrap_or_else(|| backoff(attempt - 1));
            if attempt >= self.max_attempts || Instant::now() + wait >= deadline {
                return Err(PurgeError::Unavailable(Box::new(Fault::GaveUp {
                    vendor,
                    attempts: attempt,
                    bound: self.bound.as_secs(),
                    last: Box::new(fault),
                })));
            }
            tracing::warn!(reason = %ErrorChain(&fault), attempt, wait_ms = wait.as_millis() as u64, "CDN purge will be retried");
            tokio::time::sleep(wait).await;
        }
    }

    /// Whether a 2xx answer says the purge was accepted: Cloudflare's `success` and Fastly's
    /// `status` fields say so in the body; a webhook's 2xx is enough.
    async fn confirmed(&self, response: reqwest::Response) -> bool {
        let field = match self.api {
            Api::Cloudflare { .. } => "success",
            Api::Fastly { .. } => "status",
            Api::Webhook { .. } => return true,
        };
        let Ok(body) = response.json::<serde_json::Value>().await else {
            return false;
        };
        match &body[field] {
            serde_json::Value::Bool(success) => *success,
            serde_json::Value::String(status) => status == "ok",
            _ => false,
        }
    }
}

#[async_trait]
impl CdnPurge for CdnPurger {
    fn name(&self) -> &'static str {
        match self.api {
            Api::Cloudflare { .. } => "cloudflare",
            Api::Fastly { .. } => "fastly",
            Api::Webhook { .. } => "webhook",
        }
    }

    async fn purge(&self, tags: &[String]) -> Result<(), PurgeError> {
        if tags.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + self.bound;
        for request in self.requests(tags) {
            let sent = tokio::time::timeout_at(deadline, self.send(request, deadline)).await;
            sent.unwrap_or_else(|_| {
                Err(PurgeError::Unavailable(
                    format!("no answer within the {}s bound", self.bound.as_secs()).into(),
                ))
            })?;
        }
        Ok(())
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
