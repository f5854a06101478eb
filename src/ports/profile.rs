//! The profile port: where a user's picture URL is written back (Auth0's Management API).

use async_trait::async_trait;

/// The adapter's account of what went wrong.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The identity provider refused the write (a 4xx other than 429): retrying will not help.
    #[error("the profile update was rejected")]
    Rejected(#[source] Cause),
    /// The write did not land in time (5xx, 429 past the deadline, network errors, timeouts).
    #[error("the profile service is unavailable")]
    Unavailable(#[source] Cause),
}

/// A user's email as the identity provider holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEmail {
    pub address: String,
    /// Only a verified address is ever linked to the user's picture.
    pub verified: bool,
}

/// What the profile said about the user's email once a write landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailFacts {
    /// This store knows no emails (write-back off): whatever was learnt before stands.
    Unknown,
    /// The user object's email, or `None` when the user has none.
    Known(Option<UserEmail>),
}

#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Sets the user's picture URL, or removes it with `None`. Returns only once the write
    /// landed (or failed for good), with what the updated profile says about the user's email.
    async fn set_picture(
        &self,
        user_id: &str,
        picture: Option<&str>,
    ) -> Result<EmailFacts, ProfileError>;

    /// Whether the user still exists (for `visage reconcile`). `Ok(false)` only on the identity
    /// provider's own "no such user" answer, never on a failure that merely looks like one (a
    /// wrong base URL answers 404 too): a user is erased on nothing less.
    async fn user_exists(&self, user_id: &str) -> Result<bool, ProfileError>;
}
