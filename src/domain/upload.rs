//! Uploads and deletes: authorize, normalize off the async workers, store, write back, clean up.
//!
//! The order is fixed: validate → store → write back → answer. Keys are content-addressed under
//! a per-user prefix derived from a hash of the user id, so an upload never overwrites and the
//! same picture uploaded twice is the same key (idempotent, and cheap: the store is asked first).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::domain::image::{self, CropRect, ImageError, Master, PipelineLimits};
use crate::domain::pictures::VariantCache;
use crate::ports::tokens::VerifiedToken;
use crate::ports::{ObjectKey, ObjectStore, ProfileError, ProfileStore, StoreError};
use crate::settings::Settings;

/// Every stored picture lives under `{KEY_PREFIX}/{user hash}/`.
pub const KEY_PREFIX: &str = "u";
/// The user that `/v1/me/picture` means in dev mode.
pub const DEV_USER: &str = "dev|local";

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("{0}")]
    Forbidden(String),
    #[error("storage failed: {0}")]
    Storage(#[source] StoreError),
    /// Stored, but the profile write did not land: the object is kept and the URL reported.
    #[error("the profile update failed: {source}")]
    Profile {
        picture: String,
        #[source]
        source: ProfileError,
    },
    /// The profile could not be cleared, so nothing was deleted.
    #[error("the profile could not be cleared: {0}")]
    ProfileClear(#[source] ProfileError),
    #[error("the image worker failed: {0}")]
    Worker(String),
}

/// Who is calling, as the HTTP edge established it.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Dev mode: no token, the path decides.
    Dev,
    Token(VerifiedToken),
}

/// Whose picture a request addresses.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Me,
    User(&'a str),
}

/// The 201 answer of an upload.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Uploaded {
    pub user_id: String,
    pub picture: String,
    pub key: String,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub content_type: &'static str,
    pub bytes: usize,
    /// Base64 ThumbHash of the master.
    pub thumbhash: String,
}

/// Runs CPU-bound image work on the blocking pool, at most `permits` at once, within a deadline;
/// a panic inside becomes an `ImageError::Invalid` instead of a dead worker.
pub struct PipelineRunner {
    semaphore: Arc<Semaphore>,
    deadline: Duration,
}

impl PipelineRunner {
    pub fn new(permits: usize, deadline: Duration) -> Self {
        let permits = if permits == 0 {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        } else {
            permits
        };
        Self {
            semaphore: Arc::new(Semaphore::new(permits)),
            deadline,
        }
    }

    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ImageError> + Send + 'static,
    ) -> Result<T, UploadError> {
        let permit = self
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .map_err(|err| UploadError::Worker(err.to_string()))?;
        // The permit moves into the task: an abandoned (timed-out) decode still counts until it
        // really ends, so the pool never runs more than `permits` decodes.
        let task = tokio::task::spawn_blocking(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(work));
            drop(permit);
            outcome
        });
        match tokio::time::timeout(self.deadline, task).await {
            Err(_) => Err(ImageError::Invalid(format!(
                "the picture took longer than {} s to process",
                self.deadline.as_secs()
            ))
            .into()),
            Ok(Err(join)) => Err(UploadError::Worker(join.to_string())),
            Ok(Ok(Err(_panic))) => {
                tracing::error!("the image pipeline panicked on an upload");
                Err(ImageError::Invalid("the picture cannot be decoded".into()).into())
            }
            Ok(Ok(Ok(result))) => Ok(result?),
        }
    }
}

/// The per-user prefix: a hash, never the raw id (its `|`, `/` and its privacy stay out of keys).
pub fn user_prefix(user_id: &str) -> String {
    let digest = hex::encode(Sha256::digest(user_id.as_bytes()));
    format!("{KEY_PREFIX}/{}/", &digest[..32])
}

pub struct UploadService {
    store: Arc<dyn ObjectStore>,
    profile: Arc<dyn ProfileStore>,
    runner: Arc<PipelineRunner>,
    variants: VariantCache,
    limits: PipelineLimits,
    admin_scope: String,
    picture_base: String,
    write_back: bool,
    locks: UserLocks,
}

impl UploadService {
    pub fn new(
        settings: &Settings,
        store: Arc<dyn ObjectStore>,
        profile: Arc<dyn ProfileStore>,
        runner: Arc<PipelineRunner>,
        variants: VariantCache,
    ) -> Self {
        let picture_base = settings
            .storage
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("{}/pictures/", settings.public_url()));
        Self {
            store,
            profile,
            runner,
            variants,
            limits: PipelineLimits::from_settings(&settings.limits),
            admin_scope: settings.auth.admin_scope.clone(),
            picture_base,
            write_back: settings.write_back_enabled(),
            locks: UserLocks::default(),
        }
    }

    /// The user whose picture the caller may change: the token's own `sub`, or any user with
    /// the admin scope; machine tokens only with the admin scope.
    pub fn authorize(&self, caller: &Caller, target: Target<'_>) -> Result<String, UploadError> {
        let token = match caller {
            Caller::Dev => {
                return Ok(match target {
                    Target::Me => DEV_USER.to_owned(),
                    Target::User(id) => id.to_owned(),
                });
            }
            Caller::Token(token) => token,
        };
        let admin = token.has_scope(&self.admin_scope);
        if token.is_machine() && !admin {
            return Err(UploadError::Forbidden(format!(
                "a machine token needs the {} scope",
                self.admin_scope
            )));
        }
        match target {
            Target::Me if token.is_machine() => Err(UploadError::Forbidden(
                "a machine token has no picture of its own: use /v1/users/{user_id}/picture".into(),
            )),
            Target::Me => Ok(token.subject.clone()),
            Target::User(id) if id == token.subject || admin => Ok(id.to_owned()),
            Target::User(_) => Err(UploadError::Forbidden(format!(
                "this token may only change its own picture (or needs the {} scope)",
                self.admin_scope
            ))),
        }
    }

    /// validate → store → write back → answer; then, with write-back on, remove the user's
    /// other objects.
    /// `crop` is the user's rectangle in pixels of the upright picture (none: the whole picture).
    pub async fn upload(
        &self,
        user_id: &str,
        body: Bytes,
        crop: Option<CropRect>,
    ) -> Result<Uploaded, UploadError> {
        let limits = self.limits;
        let Master {
            picture: master,
            thumbhash,
        } = self
            .runner
            .run(move || image::normalize_master(&body, &limits, crop))
            .await?;
        let sha256 = hex::encode(Sha256::digest(&master.bytes));
        let prefix = user_prefix(user_id);
        let key = ObjectKey::parse(&format!("{prefix}{sha256}.{}", master.format.extension()))
            .map_err(|err| UploadError::Worker(err.to_string()))?;
        let picture = format!("{}{key}", self.picture_base);
        let uploaded = Uploaded {
            user_id: user_id.to_owned(),
            picture: picture.clone(),
            key: key.to_string(),
            sha256,
            width: master.width,
            height: master.height,
            content_type: master.format.content_type(),
            bytes: master.bytes.len(),
            thumbhash,
        };
        // One user's uploads and deletes run one at a time from store to cleanup, so whichever
        // write-back lands last, its object is the one that survives. The lock is per process:
        // with several instances, two racing uploads by one user on different instances can
        // still delete each other's object (route a user to one instance, or accept that the
        // next upload repairs it).
        let _guard = self.locks.lock(&prefix).await;
        if !self
            .store
            .exists(&key)
            .await
            .map_err(UploadError::Storage)?
        {
            self.store
                .put(
                    &key,
                    Bytes::from(master.bytes),
                    master.format.content_type(),
                )
                .await
                .map_err(UploadError::Storage)?;
        }
        self.profile
            .set_picture(user_id, Some(&picture))
            .await
            .map_err(|source| UploadError::Profile {
                picture: picture.clone(),
                source,
            })?;
        if self.write_back {
            self.remove_others(&prefix, Some(&key)).await;
        }
        tracing::info!(key = %key, bytes = uploaded.bytes, "picture uploaded");
        Ok(uploaded)
    }

    /// Clears the profile's picture, then deletes every object of the user: the profile never
    /// points at a deleted object, and a failed clear deletes nothing (a retry is safe).
    pub async fn delete(&self, user_id: &str) -> Result<(), UploadError> {
        let prefix = user_prefix(user_id);
        let _guard = self.locks.lock(&prefix).await;
        self.profile
            .set_picture(user_id, None)
            .await
            .map_err(UploadError::ProfileClear)?;
        for key in self
            .store
            .list(&prefix)
            .await
            .map_err(UploadError::Storage)?
        {
            self.store
                .delete(&key)
                .await
                .map_err(UploadError::Storage)?;
        }
        self.variants.forget_prefix(&prefix);
        tracing::info!(prefix = %prefix, "pictures deleted");
        Ok(())
    }

    /// Best effort: a leftover object costs storage, never correctness, so failures are logged.
    async fn remove_others(&self, prefix: &str, keep: Option<&ObjectKey>) {
        let keys = match self.store.list(prefix).await {
            Ok(keys) => keys,
            Err(err) => {
                tracing::warn!(error = %err, "cannot list old pictures; they stay");
                return;
            }
        };
        for key in keys.iter().filter(|k| Some(*k) != keep) {
            if let Err(err) = self.store.delete(key).await {
                tracing::warn!(error = %err, key = %key, "cannot delete an old picture; it stays");
            }
        }
        self.variants.forget_prefix(prefix);
    }
}

/// One async mutex per user prefix, created on demand and dropped when no request holds it.
#[derive(Default)]
struct UserLocks {
    map: Mutex<LockMap>,
}

#[derive(Default)]
struct LockMap {
    locks: HashMap<String, Weak<tokio::sync::Mutex<()>>>,
    prune_at: usize,
}

impl UserLocks {
    async fn lock(&self, prefix: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = {
            let mut map = self
                .map
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(live) = map.locks.get(prefix).and_then(Weak::upgrade) {
                live
            } else {
                if map.locks.len() >= map.prune_at {
                    map.locks.retain(|_, lock| lock.strong_count() > 0);
                    map.prune_at = (map.locks.len() * 2).max(64);
                }
                let fresh = Arc::new(tokio::sync::Mutex::new(()));
                map.locks.insert(prefix.to_owned(), Arc::downgrade(&fresh));
                fresh
            }
        };
        mutex.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_decode_is_an_invalid_image_and_the_pool_keeps_working() {
        let runner = PipelineRunner::new(1, Duration::from_secs(5));
        let outcome: Result<(), UploadError> = runner.run(|| panic!("decoder bug")).await;
        assert!(
            matches!(outcome, Err(UploadError::Image(ImageError::Invalid(_)))),
            "{outcome:?}"
        );
        // The single permit came back: the next job runs.
        assert_eq!(runner.run(|| Ok(7)).await.ok(), Some(7));
    }

    #[test]
    fn prefixes_hash_the_id_and_never_contain_it() {
        let prefix = user_prefix("auth0|5f7c/x");
        assert!(ObjectKey::parse(&format!("{prefix}a.jpg")).is_ok());
        assert_eq!(prefix.len(), KEY_PREFIX.len() + 1 + 32 + 1);
        assert!(!prefix.contains("auth0") && !prefix.contains('|'));
        assert_ne!(prefix, user_prefix("auth0|5f7c/y"));
    }
}
