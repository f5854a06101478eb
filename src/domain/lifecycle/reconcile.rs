//! `visage reconcile`: the safety net for events the hook missed (visage down longer than
//! Auth0 retries, a stream paused or created late). Every user with a directory record is asked
//! about, one Management API read at a time at a fixed pace (429s wait for the reset inside the
//! adapter), and the users that no longer exist are erased.
//!
//! Keys hold only a hash of the user id, so a picture's owner is read from the directory's
//! record, which every upload writes before it stores its picture. Pictures stored before the
//! directory existed (visage before v1.2) have none: their prefixes are reported, never
//! deleted on a guess; the user's next upload writes the record.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::domain::directory::Directory;
use crate::domain::lifecycle::Eraser;
use crate::domain::upload::{KEY_PREFIX, user_hash};
use crate::ports::{ObjectStore, ProfileError, ProfileStore, StoreError};
use crate::vocabulary::ErrorChain;

/// How `reconcile` runs (from `reconcile.requests_per_sec` and the command line).
#[derive(Clone, Copy, Debug)]
pub struct ReconcileConfig {
    /// The least time between two Management API reads.
    pub pace: Duration,
    /// Ask, count, delete nothing.
    pub dry_run: bool,
}

/// What `reconcile` found and did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Users with a directory record, each asked about.
    pub users: usize,
    /// Users the identity provider no longer knows.
    pub gone: usize,
    /// Of those, the ones erased (0 with `dry_run`).
    pub erased: usize,
    /// Objects deleted with them.
    pub objects: usize,
    /// Users whose question or erase failed (they stay as they were).
    pub failed: usize,
    /// Prefixes holding pictures without an owner record.
    pub unattributed: Vec<String>,
    /// Why the run stopped before the last user, if it did: the identity provider refused
    /// the client, or did not answer [`GIVE_UP_AFTER`] times in a row (every further question
    /// would fail too, each after the adapter's time bound).
    pub stopped: Option<String>,
}

/// Unanswered questions in a row after which a run stops rather than wait out the adapter's
/// bound for every remaining user.
pub const GIVE_UP_AFTER: usize = 5;

/// Where `reconcile` stands, for a progress bar.
pub trait Progress {
    /// `total` users are to be asked about.
    fn start(&self, total: usize);
    /// One more user was asked about (and erased if gone).
    fn advance(&self, gone: usize);
}

/// Runs one pass; storage failures while reading the records are an error (nothing was
/// asked), later ones count as failed users.
pub async fn reconcile(
    store: &dyn ObjectStore,
    directory: &Directory,
    profiles: &dyn ProfileStore,
    eraser: &Eraser,
    config: ReconcileConfig,
    progress: &dyn Progress,
) -> Result<ReconcileReport, StoreError> {
    let mut users = directory.users().await?;
    users.sort_unstable();
    users.dedup();
    let mut report = ReconcileReport {
        users: users.len(),
        unattributed: unattributed(store, &users).await?,
        ..ReconcileReport::default()
    };
    progress.start(users.len());
    // A zero period would panic: a pace above a million a second is no pace.
    let mut pace = tokio::time::interval(config.pace.max(Duration::from_micros(1)));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unanswered = 0;
    for user_id in &users {
        pace.tick().await;
        let answer = profiles.user_exists(user_id).await;
        if answer.is_ok() {
            unanswered = 0;
        }
        match answer {
            Ok(true) => {}
            Ok(false) => {
                report.gone += 1;
                if !config.dry_run {
                    match eraser.erase(user_id).await {
                        Ok(removed) => {
                            report.erased += 1;
                            report.objects += removed.objects;
                        }
                        Err(error) => {
                            report.failed += 1;
                            tracing::warn!(user_id, error = %ErrorChain(&error), "reconcile: cannot erase a deleted user's pictures; they stay until the next run");
                        }
                    }
                }
            }
            Err(ProfileError::Rejected(cause)) => {
                report.failed += 1;
                let why = ErrorChain(cause.as_ref()).to_string();
                tracing::error!(user_id, error = %why, "reconcile: the Management API refused the client; stopping");
                report.stopped = Some(format!(
                    "the Management API refused the client ({why}); does it have read:users?"
                ));
                break;
            }
            Err(error @ ProfileError::Unavailable(_)) => {
                report.failed += 1;
                unanswered += 1;
                tracing::warn!(user_id, error = %ErrorChain(&error), "reconcile: cannot ask about a user; kept");
                if unanswered >= GIVE_UP_AFTER {
                    report.stopped = Some(format!(
                        "the Management API did not answer {GIVE_UP_AFTER} questions in a row ({})",
                        ErrorChain(&error)
                    ));
                    break;
                }
            }
        }
        progress.advance(report.gone);
    }
    Ok(report)
}

/// The prefixes under `u/` that hold objects but belong to none of `users`, listed shard by
/// shard (the first hex digit of the user hash) as `gc` lists them.
async fn unattributed(
    store: &dyn ObjectStore,
    users: &[String],
) -> Result<Vec<String>, StoreError> {
    let owned: BTreeSet<String> = users
        .iter()
        .map(|user_id| format!("{KEY_PREFIX}/{}/", user_hash(user_id)))
        .collect();
    let mut orphans = BTreeSet::new();
    for shard in "0123456789abcdef".chars() {
        for key in store.list(&format!("{KEY_PREFIX}/{shard}")).await? {
            let key = key.as_str();
            let Some(end) = key[KEY_PREFIX.len() + 1..].find('/') else {
                continue;
            };
            let prefix = &key[..=KEY_PREFIX.len() + 1 + end];
            if !owned.contains(prefix) {
                orphans.insert(prefix.to_owned());
            }
        }
    }
    Ok(orphans.into_iter().collect())
}
