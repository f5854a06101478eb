//! `visage import`: one user at a time through the upload's own pipeline (decode, store,
//! write-back, cleanup), after the decisions of [`plan`] and the resume rule.
//!
//! Resume: a user is done when visage holds a picture for them, seen either way a rerun can
//! look: the input's picture is already a visage URL (a fresh export after a run with write-back),
//! or the store holds a picture under the user's prefix (a rerun of the same file; also a
//! picture the user uploaded since the export, which an older one must not replace). So that a
//! failed write-back is retried by the rerun, the import takes back the object it stored for it.

pub mod outcome;
pub mod plan;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

pub use outcome::{Failure, Outcome, Status, Summary};
pub use plan::{Candidate, ExportedUser, PictureField, Plan, SkipReason};

use crate::domain::image::{self, PipelineLimits, PipelineRunner};
use crate::domain::upload::{UploadError, UploadService, user_prefix};
use crate::ports::ObjectKey;
use crate::ports::ObjectStore;
use crate::ports::source::PictureSource;
use crate::vocabulary::ErrorChain;

/// How an import decides (from `server.public_url`, `storage.public_base_url`,
/// `auth0.management.field`, `limits.*` and `--dry-run`).
#[derive(Clone, Debug)]
pub struct ImportConfig {
    /// URL prefixes visage hands out: a picture under one is already visage's.
    pub visage_bases: Vec<String>,
    pub limits: PipelineLimits,
    /// Fetch and decode every picture, write nothing.
    pub dry_run: bool,
}

pub struct ImportService {
    uploads: Arc<UploadService>,
    source: Arc<dyn PictureSource>,
    store: Arc<dyn ObjectStore>,
    runner: Arc<PipelineRunner>,
    config: ImportConfig,
    /// User ids already taken up in this run: a repeated id is one user.
    seen: Mutex<HashSet<String>>,
}

impl ImportService {
    pub fn new(
        config: ImportConfig,
        uploads: Arc<UploadService>,
        source: Arc<dyn PictureSource>,
        store: Arc<dyn ObjectStore>,
        runner: Arc<PipelineRunner>,
    ) -> Self {
        Self {
            uploads,
            source,
            store,
            runner,
            config,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// Imports one user; every failure is an outcome, never an error of the run.
    pub async fn import(&self, candidate: &Candidate) -> Outcome {
        let user_id = candidate.user_id.as_str();
        let keeps = || candidate.picture.clone();
        if !self.first_time(user_id) {
            return Outcome::skipped(user_id, SkipReason::Duplicate, keeps());
        }
        let source = match plan::plan(candidate, &self.config.visage_bases) {
            Plan::Skip(reason) => return Outcome::skipped(user_id, reason, keeps()),
            Plan::Unsupported(why) => {
                return Outcome::failed(user_id, &Failure::new("unsupported_source", why));
            }
            Plan::Fetch(source) => source,
        };
        match self.store.list(&user_prefix(user_id)).await {
            Ok(keys) if !keys.is_empty() => {
                return Outcome::skipped(user_id, SkipReason::AlreadyStored, keeps());
            }
            Ok(_) => {}
            Err(err) => {
                let failure = Failure::new("storage_unavailable", ErrorChain(&err));
                return Outcome::failed(user_id, &failure);
            }
        }
        let bytes = match self.source.fetch(&source).await {
            Ok(bytes) => bytes,
            Err(err) => return Outcome::failed(user_id, &Failure::from(&err)),
        };
        if self.config.dry_run {
            return self.check(user_id, bytes).await;
        }
        match self.uploads.upload(user_id, bytes, None).await {
            Ok(uploaded) => Outcome::imported(user_id, Some(uploaded.picture), None),
            Err(err) => {
                if let UploadError::Profile { picture, .. } = &err {
                    self.take_back(user_id, picture).await;
                }
                tracing::warn!(user_id, error = %ErrorChain(&err), "import of a user failed");
                Outcome::failed(user_id, &Failure::from(&err))
            }
        }
    }

    fn first_time(&self, user_id: &str) -> bool {
        self.seen
            .lock()
            .map_or(true, |mut seen| seen.insert(user_id.to_owned()))
    }

    /// `--dry-run`: the upload's own decode within the same limits, nothing stored or sent.
    async fn check(&self, user_id: &str, bytes: Bytes) -> Outcome {
        let limits = self.config.limits;
        let decoded = self
            .runner
            .run(move || image::normalize_master(&bytes, &limits, None))
            .await
            .map_err(UploadError::from)
            .and_then(|decoded| decoded.map_err(UploadError::from));
        match decoded {
            Ok(_) => Outcome::imported(user_id, None, Some("dry_run")),
            Err(err) => Outcome::failed(user_id, &Failure::from(&err)),
        }
    }

    /// The write-back failed after the object was stored: delete that object (the user had
    /// none before, or the resume rule would have skipped them), so a rerun tries again rather
    /// than skipping a user whose profile never learned the picture.
    async fn take_back(&self, user_id: &str, picture: &str) {
        let prefix = user_prefix(user_id);
        let Some(key) = picture
            .find(&prefix)
            .and_then(|at| ObjectKey::parse(&picture[at..]).ok())
        else {
            return;
        };
        if let Err(err) = self.store.delete(&key).await {
            tracing::warn!(key = %key, error = %ErrorChain(&err), "cannot take back a picture whose write-back failed; a rerun will skip this user");
        }
    }
}
