//! What the Auth0 hook applies: a batch of lifecycle events, parsed at the HTTP edge from
//! either of Auth0's payloads (Log Streams or Event Streams), applied in order. A deleted user
//! is erased; a changed email moves or drops the `/avatar` links; anything else is counted and
//! ignored. The first storage failure stops the batch and is returned, so that the hook answers
//! 503 and Auth0 delivers the whole batch again (every step is idempotent).

use std::sync::Arc;

use crate::domain::counts::Count;
use crate::domain::directory::Directory;
use crate::domain::lifecycle::Eraser;
use crate::ports::{EmailFacts, StoreError, UserEmail};
use crate::vocabulary::ErrorChain;

/// Which Auth0 event an entry was, for the metrics (`visage_hook_events_total{type}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A Log Stream's `sdu` (successful user deletion).
    LogUserDeleted,
    /// An Event Stream's `user.deleted`.
    UserDeleted,
    /// An Event Stream's `user.updated`.
    UserUpdated,
    /// Any other log or event type.
    Other,
}

impl EventKind {
    pub const ALL: [Self; 4] = [
        Self::LogUserDeleted,
        Self::UserDeleted,
        Self::UserUpdated,
        Self::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::LogUserDeleted => "sdu",
            Self::UserDeleted => "user.deleted",
            Self::UserUpdated => "user.updated",
            Self::Other => "other",
        }
    }
}

/// What an event asks of visage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The user is gone: erase everything of theirs.
    Deleted { user_id: String },
    /// The user object as it now is: its email decides the `/avatar` links (a verified one
    /// links its hashes, an unverified one or none drops them).
    EmailChanged {
        user_id: String,
        email: Option<UserEmail>,
    },
    /// Nothing for visage.
    Nothing,
}

/// One entry of a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub kind: EventKind,
    pub change: Change,
}

/// Events by type and outcome, for the metrics.
#[derive(Clone, Debug, Default)]
pub struct HookCounts {
    counts: [[Count; 3]; 4],
}

/// What became of one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Failed,
    Ignored,
}

impl Outcome {
    pub const ALL: [Self; 3] = [Self::Applied, Self::Failed, Self::Ignored];

    pub fn label(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Failed => "failed",
            Self::Ignored => "ignored",
        }
    }
}

impl HookCounts {
    fn count(&self, kind: EventKind, outcome: Outcome) -> &Count {
        let k = EventKind::ALL.iter().position(|&k| k == kind).unwrap_or(3);
        let o = Outcome::ALL.iter().position(|&o| o == outcome).unwrap_or(0);
        &self.counts[k][o]
    }

    /// Every (type, outcome) series with its count.
    pub fn series(&self) -> Vec<(&'static str, &'static str, &Count)> {
        EventKind::ALL
            .iter()
            .flat_map(|&kind| {
                Outcome::ALL
                    .iter()
                    .map(move |&outcome| (kind.label(), outcome.label(), self.count(kind, outcome)))
            })
            .collect()
    }
}

/// How a delivery went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookReport {
    pub applied: usize,
    pub ignored: usize,
    /// Users of this batch whose pictures or records were found and erased.
    pub erased: usize,
}

/// Applies the hook's batches.
pub struct HookService {
    eraser: Arc<Eraser>,
    directory: Arc<Directory>,
    counts: HookCounts,
}

impl HookService {
    pub fn new(eraser: Arc<Eraser>, directory: Arc<Directory>) -> Self {
        Self {
            eraser,
            directory,
            counts: HookCounts::default(),
        }
    }

    pub fn counts(&self) -> &HookCounts {
        &self.counts
    }

    /// Applies `events` in order; stops at the first storage failure and returns it (the
    /// events before it stay applied, and applying them again changes nothing).
    pub async fn apply(&self, events: &[LifecycleEvent]) -> Result<HookReport, StoreError> {
        let mut report = HookReport::default();
        for event in events {
            let applied = match &event.change {
                Change::Nothing => {
                    self.counts.count(event.kind, Outcome::Ignored).inc();
                    report.ignored += 1;
                    continue;
                }
                Change::Deleted { user_id } => self.eraser.erase(user_id).await.map(|erased| {
                    report.erased += usize::from(erased.found_anything());
                }),
                Change::EmailChanged { user_id, email } => {
                    let facts = EmailFacts::Known(email.clone());
                    self.directory.record_email(user_id, &facts).await
                }
            };
            if let Err(error) = applied {
                self.counts.count(event.kind, Outcome::Failed).inc();
                tracing::warn!(
                    event = event.kind.label(),
                    error = %ErrorChain(&error),
                    "a lifecycle event failed; the hook answers 503 so Auth0 delivers the batch again"
                );
                return Err(error);
            }
            self.counts.count(event.kind, Outcome::Applied).inc();
            report.applied += 1;
        }
        Ok(report)
    }
}
