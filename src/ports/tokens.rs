//! The token verifier port: turns a bearer access token into the verified caller it names.

use async_trait::async_trait;

/// What a verified access token says about its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The `sub` claim: a user id (`auth0|…`) or `{client_id}@clients` for machine tokens.
    pub subject: String,
    /// The `scope` claim, split on spaces. For a user token this is what the user *asked* for
    /// at login: with RBAC off (Auth0's default) any user may request any scope of the API.
    pub scopes: Vec<String>,
    /// The `permissions` claim (Auth0 RBAC with "Add Permissions in the Access Token"): what
    /// the tenant *granted* the user through roles.
    pub permissions: Vec<String>,
}

impl VerifiedToken {
    /// Whether the tenant granted `permission` to this caller: a user token only through its
    /// `permissions` claim, a machine token (client credentials, whose scopes are the client
    /// grant the tenant's admin configured) only through its `scope`. A user token's `scope`
    /// never counts: it is self-requested.
    pub fn is_granted(&self, permission: &str) -> bool {
        let granted = if self.is_machine() {
            &self.scopes
        } else {
            &self.permissions
        };
        granted.iter().any(|p| p == permission)
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
