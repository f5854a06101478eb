//! Nothing of a deleted user outlives them. One erase path ([`Eraser::erase`]) for a user's
//! `DELETE`, the Auth0 hook ([`hook`]) and `visage reconcile` ([`reconcile`]): every object
//! under the user's prefix (masters and stored variants), this instance's variants cache, the
//! directory record and the `/avatar` email links, then the CDN purge of the user's tag
//! ([`purge`]).
//!
//! Every step is idempotent, so a delivery that failed half-way (a storage outage: the hook
//! answers 503) is completed by the next one, and a replay changes nothing. The purge runs
//! only when something was found (objects or a record), so that a replay, or the deletion of a
//! user who never uploaded, costs no CDN call; the one window this leaves is a process that
//! dies between its last delete and its purge (the CDN then keeps the pictures until their
//! `max-age`).

pub mod hook;
pub mod purge;
pub mod reconcile;

use std::sync::Arc;

use crate::domain::directory::Directory;
use crate::domain::pictures::VariantCache;
use crate::domain::upload::{user_hash, user_prefix};
use crate::ports::{ObjectStore, StoreError};
use purge::Purger;

/// What one erase found and removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Erased {
    /// Objects deleted under the user's prefix.
    pub objects: usize,
    /// Whether the user had a directory record (and so perhaps email links).
    pub had_record: bool,
}

impl Erased {
    pub fn found_anything(self) -> bool {
        self.objects > 0 || self.had_record
    }
}

/// Removes everything of one user.
pub struct Eraser {
    store: Arc<dyn ObjectStore>,
    directory: Arc<Directory>,
    variants: VariantCache,
    purger: Arc<Purger>,
}

impl Eraser {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        directory: Arc<Directory>,
        variants: VariantCache,
        purger: Arc<Purger>,
    ) -> Self {
        Self {
            store,
            directory,
            variants,
            purger,
        }
    }

    pub fn purger(&self) -> &Arc<Purger> {
        &self.purger
    }

    /// Every object under the user's prefix, this instance's cached variants of them, the
    /// directory record and its email links (after the objects: an upload racing this erase
    /// may have recorded its picture meanwhile), then the CDN purge. Idempotent; the first
    /// storage failure stops it (what is done stays done, a retry finishes it).
    pub async fn erase(&self, user_id: &str) -> Result<Erased, StoreError> {
        let prefix = user_prefix(user_id);
        let keys = self.store.list(&prefix).await?;
        for key in &keys {
            self.store.delete(key).await?;
        }
        self.variants.forget_prefix(&prefix);
        let had_record = self.directory.forget(user_id).await?;
        let erased = Erased {
            objects: keys.len(),
            had_record,
        };
        if erased.found_anything() {
            self.purger.purge_user(&user_hash(user_id)).await;
            tracing::info!(prefix = %prefix, objects = erased.objects, "user's pictures erased");
        }
        Ok(erased)
    }
}
