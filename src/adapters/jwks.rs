//! Access tokens checked as a resource server: RS256 only, keys from the tenant's JWKS, cached.
//!
//! The key set is fetched at start, refreshed on a timer, and refreshed early when a token names
//! an unknown `kid` — at most once per cooldown, so random `kid`s cannot make it fetch per
//! request. A failed refresh keeps the last good set.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::ports::tokens::{TokenError, TokenVerifier, VerifiedToken};
use crate::settings::Auth;

/// A JWKS document larger than this is not a key set.
const MAX_JWKS_BYTES: usize = 256 * 1024;

type Keys = HashMap<String, DecodingKey>;

pub(crate) struct JwksVerifier {
    jwks_url: String,
    client: reqwest::Client,
    validation: Validation,
    keys: RwLock<Arc<Keys>>,
    /// Serializes refreshes; holds when the last unknown-`kid` refresh happened.
    refresh: tokio::sync::Mutex<Option<Instant>>,
    cooldown: Duration,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default)]
    gty: Option<String>,
    #[serde(default)]
    azp: Option<String>,
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("JWKS request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("JWKS answered {0}")]
    Status(u16),
    #[error("JWKS document is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("JWKS document is not a key set: {0}")]
    Json(#[from] serde_json::Error),
    #[error("JWKS holds no usable RS256 signing key")]
    NoKeys,
}

impl JwksVerifier {
    /// Builds the verifier for `auth.issuer` (required), fetches the keys once (a failure is
    /// logged, not fatal: the timer and unknown `kid`s retry), and starts the refresh timer,
    /// which stops when the verifier is dropped.
    pub(crate) async fn start(auth: &Auth, issuer: &str) -> Result<Arc<Self>, reqwest::Error> {
        let base = if issuer.ends_with('/') {
            issuer.to_owned()
        } else {
            format!("{issuer}/")
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(auth.jwks_timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        // The algorithm is fixed here and never read from the token's header.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[auth.audience.as_deref().unwrap_or_default()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = auth.leeway_secs.min(60);
        validation.validate_nbf = true;
        let verifier = Arc::new(Self {
            jwks_url: format!("{base}.well-known/jwks.json"),
            client,
            validation,
            keys: RwLock::new(Arc::new(Keys::new())),
            refresh: tokio::sync::Mutex::new(None),
            cooldown: Duration::from_secs(auth.jwks_unknown_kid_cooldown_secs),
        });
        verifier.refresh_now().await;
        let every = Duration::from_secs(auth.jwks_refresh_secs.max(1));
        tokio::spawn(Self::refresh_timer(Arc::downgrade(&verifier), every));
        Ok(verifier)
    }

    async fn refresh_timer(weak: Weak<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            let Some(verifier) = weak.upgrade() else {
                return;
            };
            let _serialized = verifier.refresh.lock().await;
            verifier.refresh_now().await;
        }
    }

    /// Fetches the key set and swaps it in; on failure the last good set stays.
    async fn refresh_now(&self) {
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "JWKS refreshed");
                if let Ok(mut slot) = self.keys.write() {
                    *slot = Arc::new(keys);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, url = %self.jwks_url, "JWKS refresh failed; keeping the last good key set");
            }
        }
    }

    async fn fetch(&self) -> Result<Keys, FetchError> {
        let response = self.client.get(&self.jwks_url).send().await?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let raw: RawKeySet = serde_json::from_slice(&body)?;
        let keys: Keys = raw.keys.into_iter().filter_map(usable_key).collect();
        if keys.is_empty() {
            return Err(FetchError::NoKeys);
        }
        Ok(keys)
    }

    fn current(&self) -> Arc<Keys> {
        self.keys.read().map_or_else(
            |poisoned| poisoned.into_inner().clone(),
            |keys| keys.clone(),
        )
    }

    /// An unknown `kid` may mean the tenant rotated its keys: refresh, but at most once per
    /// cooldown whatever the number of requests naming unknown keys.
    async fn refresh_for_unknown(&self, kid: &str) {
        let mut last = self.refresh.lock().await;
        if self.current().contains_key(kid) {
            return; // another request refreshed while this one waited
        }
        if last.is_some_and(|at| at.elapsed() < self.cooldown) {
            return;
        }
        *last = Some(Instant::now());
        self.refresh_now().await;
    }
}

/// An RSA signing key with a `kid`, meant for RS256 (or not saying), as a decoding key.
fn usable_key(value: serde_json::Value) -> Option<(String, DecodingKey)> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    let kid = jwk.common.key_id.clone()?;
    let rsa = matches!(jwk.algorithm, AlgorithmParameters::RSA(_));
    let for_signing = matches!(
        jwk.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    );
    let rs256 = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
    if !(rsa && for_signing && rs256) {
        return None;
    }
    DecodingKey::from_jwk(&jwk).ok().map(|key| (kid, key))
}

#[async_trait]
impl TokenVerifier for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| TokenError::Invalid(format!("the token is malformed: {err}")))?;
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Invalid("the token names no signing key (kid)".into()))?;
        let mut keys = self.current();
        if !keys.contains_key(&kid) {
            self.refresh_for_unknown(&kid).await;
            keys = self.current();
        }
        let Some(key) = keys.get(&kid) else {
            if keys.is_empty() {
                return Err(TokenError::KeysUnavailable);
            }
            return Err(TokenError::Invalid(
                "the token is signed with an unknown key".into(),
            ));
        };
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|err| TokenError::Invalid(format!("the token is not valid: {err}")))?;
        let claims = data.claims;
        // Kept apart: which of the two may grant what is the domain's decision.
        let scopes = claims
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(VerifiedToken {
            subject: claims.sub,
            scopes,
            permissions: claims.permissions.unwrap_or_default(),
            grant_type: claims.gty,
            authorized_party: claims.azp,
        })
    }
}
