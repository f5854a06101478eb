//! The token verifier port: turns a bearer access token into the verified caller it names.

use async_trait::async_trait;

/// What a verified access token says about its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The `sub` claim: a user id (`auth0|…`) or `{client_id}@clients` for machine tokens.
    pub subject: String,
    /// Every scope granted, from `scope` (space-separated) and `permissions` (array) alike.
    pub scopes: Vec<String>,
}

impl VerifiedToken {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Client-credentials tokens name an application, not a user.
    pub fn is_machine(&self) -> bool {
        self.subject.ends_with("@clients")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is malformed, expired, wrongly signed or meant for someone else.
    #[error("{0}")]
    Invalid(String),
    /// No key set could ever be fetched, so no token can be checked yet.
    #[error("the signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

#[async_trait]
pub trait TokenVerifier: Send + Sync {
    /// Checks signature, issuer, audience and lifetime; never logs the token.
    async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError>;
}
