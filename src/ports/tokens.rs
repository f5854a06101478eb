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
    /// The `gty` claim: Auth0 writes `client-credentials` into tokens of that grant only.
    pub grant_type: Option<String>,
    /// The `azp` claim: the application the token was issued to.
    pub authorized_party: Option<String>,
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

    /// Client-credentials tokens name an application, not a user: Auth0 marks them with
    /// `gty: client-credentials` and names the application as `sub: {azp}@clients`. A `sub`
    /// that merely ends in `@clients` proves nothing: custom database and enterprise
    /// connections let users have such ids (`auth0|mallory@clients`).
    pub fn is_machine(&self) -> bool {
        self.grant_type.as_deref() == Some("client-credentials")
            && self.authorized_party.as_deref().is_some_and(|client| {
                self.subject
                    .strip_suffix("@clients")
                    .is_some_and(|named| named == client)
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is malformed, expired, wrongly signed or meant for someone else.
    #[error("{0}")]
    Invalid(String),
    /// No key set could ever be fetched, so no token can be checked yet.
    #[error("the tenant's signing keys (JWKS) could not be fetched yet")]
    KeysUnavailable,
}

#[async_trait]
pub trait TokenVerifier: Send + Sync {
    /// Checks signature, issuer, audience and lifetime; never logs the token.
    async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(subject: &str, gty: Option<&str>, azp: Option<&str>) -> VerifiedToken {
        VerifiedToken {
            subject: subject.to_owned(),
            scopes: vec!["write:avatars".to_owned()],
            permissions: Vec::new(),
            grant_type: gty.map(str::to_owned),
            authorized_party: azp.map(str::to_owned),
        }
    }

    #[test]
    fn a_machine_token_is_a_client_credentials_grant_naming_its_own_client() {
        let cc = Some("client-credentials");
        // (sub, gty, azp, machine)
        let cases = [
            ("m2m-app@clients", cc, Some("m2m-app"), true),
            // A user whose id ends in @clients (custom database, enterprise connections).
            ("auth0|mallory@clients", None, Some("spa-client"), false),
            ("auth0|mallory@clients", cc, Some("spa-client"), false),
            ("mallory@clients", Some("password"), Some("mallory"), false),
            // The grant alone is not enough: sub must name the client the token was issued to.
            ("m2m-app@clients", cc, Some("other-app"), false),
            ("m2m-app@clients", cc, None, false),
            ("m2m-app", cc, Some("m2m-app"), false),
            ("m2m-app@clients", None, Some("m2m-app"), false),
        ];
        for (sub, gty, azp, machine) in cases {
            let token = token(sub, gty, azp);
            assert_eq!(token.is_machine(), machine, "{sub} gty={gty:?} azp={azp:?}");
            // Only a machine token's scope grants; a user's scope is self-requested.
            assert_eq!(
                token.is_granted("write:avatars"),
                machine,
                "{sub} gty={gty:?} azp={azp:?}"
            );
        }
    }
}
