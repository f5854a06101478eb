//! The profile store used when write-back is off (no client id, or dev mode): logs, writes nothing.

use async_trait::async_trait;

use crate::ports::{EmailFacts, ProfileError, ProfileStore};

pub(crate) struct NoProfileStore;

#[async_trait]
impl ProfileStore for NoProfileStore {
    async fn set_picture(
        &self,
        _user_id: &str,
        picture: Option<&str>,
    ) -> Result<EmailFacts, ProfileError> {
        tracing::debug!(
            removed = picture.is_none(),
            "write-back is off (auth0.management.client_id unset or dev mode): profile unchanged"
        );
        Ok(EmailFacts::Unknown)
    }

    async fn user_exists(&self, _user_id: &str) -> Result<bool, ProfileError> {
        Err(ProfileError::Rejected(
            "no Management API client (auth0.management.client_id unset or dev mode)".into(),
        ))
    }
}
