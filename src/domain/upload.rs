//! Uploads and deletes: normalize off the async workers, store, write back, clean up.
//!
//! The order is fixed: validate → store → write back → answer. Keys are content-addressed under
//! a per-user prefix derived from a hash of the user id, so an upload never changes an object's
//! bytes and the same picture uploaded twice is the same key (idempotent). Replaced pictures go
//! by the grace rule of [`crate::domain::cleanup`], which holds across instances.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::cleanup;
use crate::domain::directory::Directory;
use crate::domain::image::{
    self, CropRect, ImageError, Master, PipelineLimits, PipelineRunner, WorkerError,
};
use crate::domain::lifecycle::Eraser;
use crate::domain::pictures::VariantCache;
use crate::ports::{InvalidKey, ObjectKey, ObjectStore, ProfileError, ProfileStore, StoreError};
use crate::vocabulary::ErrorChain;

/// Every stored picture lives under `{KEY_PREFIX}/{user hash}/`.
pub const KEY_PREFIX: &str = "u";

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("cannot reach storage")]
    Storage(#[source] StoreError),
    /// Stored, but the profile write did not land: the object is kept and the URL reported.
    #[error("the picture is stored but the profile update failed")]
    Profile {
        picture: String,
        #[source]
        source: ProfileError,
    },
    /// The profile could not be cleared, so nothing was deleted.
    #[error("the profile could not be cleared")]
    ProfileClear(#[source] ProfileError),
    #[error("the image worker failed")]
    Worker(#[source] WorkerError),
    /// A key built from a hash that the store refuses: a bug, never the client's doing.
    #[error("cannot name the stored picture")]
    Key(#[source] InvalidKey),
}

impl From<WorkerError> for UploadError {
    /// A job past its deadline or one that panicked is the upload's fault as far as the client
    /// can tell (422); a failing pool is ours.
    fn from(err: WorkerError) -> Self {
        match err {
            WorkerError::TimedOut(_) => Self::Image(ImageError::Invalid(err.to_string())),
            WorkerError::Panicked => {
                Self::Image(ImageError::Invalid("the picture cannot be decoded".into()))
            }
            failed @ WorkerError::Failed(_) => Self::Worker(failed),
        }
    }
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

/// A user's name in storage: 32 hex digits of the SHA-256 of the id, never the raw id (its
/// `|`, `/` and its privacy stay out of keys).
pub fn user_hash(user_id: &str) -> String {
    let mut digest = hex::encode(Sha256::digest(user_id.as_bytes()));
    digest.truncate(32);
    digest
}

/// The per-user prefix of every stored picture: `u/{user hash}/`.
pub fn user_prefix(user_id: &str) -> String {
    format!("{KEY_PREFIX}/{}/", user_hash(user_id))
}

/// How uploads are processed and named (from `limits.*`, `storage.*` and `auth0.management.*`).
#[derive(Clone, Debug)]
pub struct UploadConfig {
    pub limits: PipelineLimits,
    /// Prefix of every picture URL handed out: `storage.public_base_url`, else
    /// `{server.public_url}/pictures/`.
    pub picture_base: String,
    /// Whether uploads are written back to the profile (else "current" is the newest upload).
    pub write_back: bool,
    /// How old a replaced picture must be before a cleanup deletes it (see
    /// [`crate::domain::cleanup`]).
    pub cleanup_grace: Duration,
}

pub struct UploadService {
    store: Arc<dyn ObjectStore>,
    profile: Arc<dyn ProfileStore>,
    directory: Arc<Directory>,
    eraser: Arc<Eraser>,
    runner: Arc<PipelineRunner>,
    variants: VariantCache,
    config: UploadConfig,
}

impl UploadService {
    /// `eraser` is the one erase path (a user's delete) and its CDN purge (also after a
    /// cleanup).
    pub fn new(
        config: UploadConfig,
        store: Arc<dyn ObjectStore>,
        profile: Arc<dyn ProfileStore>,
        directory: Arc<Directory>,
        eraser: Arc<Eraser>,
        runner: Arc<PipelineRunner>,
        variants: VariantCache,
    ) -> Self {
        Self {
            store,
            profile,
            directory,
            eraser,
            runner,
            variants,
            config,
        }
    }

    /// validate → store → write back → answer; then remove the user's replaced pictures that
    /// the grace rule allows (see [`crate::domain::cleanup`]). `crop` is the user's rectangle in
    /// pixels of the upright picture (none: the whole picture).
    pub async fn upload(
        &self,
        user_id: &str,
        body: Bytes,
        crop: Option<CropRect>,
    ) -> Result<Uploaded, UploadError> {
        let limits = self.config.limits;
        let Master {
            picture: master,
            thumbhash,
        } = self
            .runner
            .run(move || image::normalize_master(&body, &limits, crop))
            .await??;
        let sha256 = hex::encode(Sha256::digest(&master.bytes));
        let prefix = user_prefix(user_id);
        let key = ObjectKey::parse(&format!("{prefix}{sha256}.{}", master.format.extension()))
            .map_err(UploadError::Key)?;
        let picture = format!("{}{key}", self.config.picture_base);
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
        let stored = StoredMaster {
            key,
            bytes: Bytes::from(master.bytes),
            content_type: master.format.content_type(),
        };
        // The owner first, so that a picture whose write-back then fails is still attributable.
        self.directory
            .claim(user_id)
            .await
            .map_err(UploadError::Storage)?;
        // Always PUT, also when the key exists: the PUT refreshes the object's last-modified
        // time, so another instance's cleanup cannot take it for a replaced picture while this
        // upload writes it back.
        self.store
            .put(&stored.key, stored.bytes.clone(), stored.content_type)
            .await
            .map_err(UploadError::Storage)?;
        let started = SystemTime::now();
        let email = self
            .profile
            .set_picture(user_id, Some(&picture))
            .await
            .map_err(|source| UploadError::Profile {
                picture: picture.clone(),
                source,
            })?;
        // After the write-back, so that `/u/{user_id}` names what the profile names. The upload
        // has landed whatever happens here: a failure leaves `/u` and the email links on the
        // previous picture until the next upload, and is logged as such.
        if let Err(error) = self
            .directory
            .record_upload(user_id, &stored.key, &email)
            .await
        {
            tracing::error!(key = %stored.key, error = %ErrorChain(&error), "the upload landed but the directory still names the previous picture");
        }
        // With write-back off the cutoff runs from now: nothing was sent in between.
        let Replaced { listed, removed } = self.remove_replaced(user_id, &stored, started).await;
        // What the cleanup saw and did, so that a picture left behind can be explained.
        tracing::info!(key = %stored.key, bytes = uploaded.bytes, listed, removed, "picture uploaded");
        Ok(uploaded)
    }

    /// Clears the profile's picture, then erases everything of the user (objects, directory
    /// record and links, CDN tag: [`Eraser::erase`]), then clears the profile once more: a
    /// failed clear deletes nothing (a retry is safe), and an upload on another instance whose
    /// write-back landed between the first clear and the removal of its object cannot leave the
    /// profile naming that missing object (see [`crate::domain::cleanup`], "A delete racing an
    /// upload").
    pub async fn delete(&self, user_id: &str) -> Result<(), UploadError> {
        self.profile
            .set_picture(user_id, None)
            .await
            .map_err(UploadError::ProfileClear)?;
        self.eraser
            .erase(user_id)
            .await
            .map_err(UploadError::Storage)?;
        if self.config.write_back {
            self.profile
                .set_picture(user_id, None)
                .await
                .map_err(UploadError::ProfileClear)?;
        }
        tracing::info!(prefix = %user_prefix(user_id), "pictures deleted");
        Ok(())
    }

    /// Best effort: a leftover object costs storage, never correctness, so failures are logged
    /// (the next upload or `visage gc` collects it). Puts this upload's object back when the
    /// listing misses it (a concurrent delete removed it after this write-back was sent).
    async fn remove_replaced(
        &self,
        user_id: &str,
        own: &StoredMaster,
        started: SystemTime,
    ) -> Replaced {
        let prefix = user_prefix(user_id);
        let objects = match self.store.list_objects(&prefix).await {
            Ok(objects) => objects,
            Err(err) => {
                tracing::warn!(error = %ErrorChain(&err), "cannot list replaced pictures; they stay");
                return Replaced::default();
            }
        };
        if self.config.write_back && !objects.iter().any(|object| object.key == own.key) {
            tracing::warn!(key = %own.key, "the written-back picture was deleted meanwhile; storing it again");
            if let Err(err) = self
                .store
                .put(&own.key, own.bytes.clone(), own.content_type)
                .await
            {
                tracing::error!(error = %ErrorChain(&err), key = %own.key, "cannot store the written-back picture again");
            }
        }
        let cutoff = started
            .checked_sub(self.config.cleanup_grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = 0_usize;
        for key in cleanup::stale(&objects, Some(&own.key), cutoff) {
            match self.store.delete(key).await {
                Ok(()) => removed += 1,
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), key = %key, "cannot delete a replaced picture; it stays");
                }
            }
        }
        if removed > 0 {
            self.variants.forget_prefix(&prefix);
            // Else the replaced pictures' URLs stay valid at the CDN for a year.
            self.eraser.purger().purge_user_soon(user_hash(user_id));
        }
        Replaced {
            listed: objects.len(),
            removed,
        }
    }
}

/// What an upload's cleanup found under the user's prefix and how many objects it deleted.
#[derive(Debug, Default)]
struct Replaced {
    listed: usize,
    removed: usize,
}

/// The master as this upload stored it, kept to store it again if a delete races the upload.
struct StoredMaster {
    key: ObjectKey,
    bytes: Bytes,
    content_type: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_decode_is_an_invalid_image() {
        let runner = PipelineRunner::new(1, Duration::from_secs(5));
        let outcome: Result<(), UploadError> = runner
            .run(|| panic!("decoder bug"))
            .await
            .map_err(UploadError::from);
        assert!(
            matches!(outcome, Err(UploadError::Image(ImageError::Invalid(_)))),
            "{outcome:?}"
        );
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
