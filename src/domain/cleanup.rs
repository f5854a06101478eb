//! Removing replaced pictures on several instances without coordination: the grace rule.
//!
//! # Why a grace period, and not a lock or a pointer
//! Instances share nothing but the bucket and Auth0. A lock per user would need a coordination
//! service; a per-user pointer object needs conditional writes (`If-Match`), which Garage does
//! not implement. What every S3 store does give is a last-modified time per object, and
//! what visage gives is a bound on how long an upload's write-back can take
//! (`auth0.management.timeout_secs`, enforced by the Auth0 adapter around token, retries and
//! PATCH). So:
//!
//! 1. An upload always PUTs its object, also when the content-addressed key already exists: the
//!    PUT refreshes the object's last-modified time to "now".
//! 2. It notes `started`, the moment just before its write-back is sent, and runs the write-back.
//! 3. Only when the write-back landed, it deletes the user's *other* objects last modified
//!    before `started - grace`, where `grace` (`storage.cleanup_grace_secs`) is longer than the
//!    write-back bound plus the clock skew between instances and the store.
//!
//! # The guarantee
//! After any interleaving of uploads of one user on any instances, the picture that Auth0
//! accepted last exists. Let D be an upload whose cleanup deletes object X, and suppose Auth0
//! accepted X's write-back after D's. X's write-back landed after D's was sent, i.e. after
//! `started(D)`; it was sent after X's last PUT and took less than the write-back bound, so X's
//! last PUT is later than `started(D) - bound > started(D) - grace`: X is too young for D's
//! cleanup. Contradiction. The cutoff is fixed before D's write-back, so a cleanup that runs
//! late (a stalled instance, a slow listing) deletes nothing it must not.
//!
//! If the object of the accepted write-back was nevertheless removed (a concurrent `DELETE`, see
//! below), the upload PUTs it again when its cleanup's listing misses it.
//!
//! # Orphans, and who collects them
//! Every object that a user's successful upload finds older than its cutoff goes; what stays is
//! the profile's picture plus the user's objects written within `grace` (plus the write-back
//! bound) before the last successful upload or after it (racing uploads, uploads that answered
//! 502, uploads whose cleanup failed): at most the user's uploads in that window, which
//! `limits.uploads_per_minute` bounds; in practice none or one. They are collected by the user's
//! next successful upload once they are older than the grace, or by `visage gc` (see [`collect`]).
//!
//! # Write-back off
//! Without a profile, "current" is the newest upload: an upload deletes the user's other
//! objects older than `now - grace`, so an app that stored an earlier URL has `grace` to switch.
//!
//! # A delete racing an upload
//! `DELETE` clears the profile, deletes every object of the user, then clears the profile once
//! more. Take an upload on another instance that stored its object before the delete listed the
//! user's objects (so the delete removes it), and whose write-back lands after the delete's
//! first clear:
//! - landing before the second clear, it is overwritten by it: no picture, and the upload's
//!   object is gone or, if its cleanup's listing ran before the removal and so did not store it
//!   again, gone too (if after, it stored it again: an orphan without a profile, collected later);
//! - landing after the second clear, it was sent after the removal was done, so the upload's
//!   cleanup (which lists after its write-back) misses its object and PUTs it back: the picture
//!   is stored and in the profile.
//!
//! An upload whose object the delete's listing missed keeps its object; its write-back either
//! lands last (its picture, stored) or is cleared (an orphan). So the profile never names a
//! missing picture. Tested with both orders forced on two instances:
//! `cluster::a_delete_racing_an_upload_on_another_instance_never_leaves_a_missing_picture`.
//!
//! # Stored variants
//! With `pictures.store_variants`, a master `{sha256}.{ext}` has variants `{sha256}.{edge}.{ext}`
//! beside it. They go and stay with their master: a cleanup that keeps a master keeps its
//! variants, and only masters count as a user's newest object (a variant written late for an
//! old picture must not make that picture look current). A variant written after its master
//! was removed (a request racing the delete) is an orphan like any other: collected by the
//! user's next upload or by `gc` once older than the grace.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::domain::lifecycle::purge::Purger;
use crate::ports::{ObjectKey, ObjectStore, StoreError, StoredObject};

/// The user prefix of a key: everything up to and including its last `/`.
fn prefix_of(key: &ObjectKey) -> &str {
    let key = key.as_str();
    key.rfind('/').map_or("", |slash| &key[..=slash])
}

/// The picture a key belongs to: the key up to the first `.` of its file name, which a master
/// and its stored variants share.
fn picture_of(key: &ObjectKey) -> &str {
    let key = key.as_str();
    let name = key.rfind('/').map_or(0, |slash| slash + 1);
    key[name..].find('.').map_or(key, |dot| &key[..name + dot])
}

/// A master is `{sha256}.{ext}`; a stored variant has a second dot.
fn is_master(key: &ObjectKey) -> bool {
    let key = key.as_str();
    let name = &key[key.rfind('/').map_or(0, |slash| slash + 1)..];
    name.matches('.').count() == 1
}

/// The objects among `objects` that a cleanup with this `cutoff` deletes: last modified before
/// it, and neither `keep` nor one of its variants.
pub(crate) fn stale<'a>(
    objects: &'a [StoredObject],
    keep: Option<&ObjectKey>,
    cutoff: SystemTime,
) -> impl Iterator<Item = &'a ObjectKey> {
    let kept = keep.map(picture_of);
    objects
        .iter()
        .filter(move |object| object.modified < cutoff && Some(picture_of(&object.key)) != kept)
        .map(|object| &object.key)
}

/// What `visage gc` did (or, with `dry_run`, would do).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GcReport {
    pub users: usize,
    pub objects: usize,
    pub deleted: usize,
    pub failed: usize,
}

/// How `collect` decides what one user's stale objects are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GcPolicy {
    pub grace: Duration,
    /// With write-back on, "current" is what Auth0 last accepted, which the store cannot see.
    pub write_back: bool,
    pub dry_run: bool,
}

/// The cutoff for one user's objects, given the newest one's time.
///
/// With write-back on, an object written more than `grace` before the user's newest object
/// finished its write-back before that newest object was even stored, so once the newest one's
/// write-back landed, it is not the profile's picture (the argument of the module docs, with the
/// newest object's PUT as the later upload's start). The one case this cannot see is a newest
/// upload whose write-back never landed (it answered 502 and was not repeated, or its instance
/// died between PUT and PATCH): the profile may then still name an older picture, which `gc`
/// would remove once the newer object is `grace` old; the upload path never does (it cleans up
/// only after its own write-back landed). Run `gc` with `--dry-run` first where 502s were seen.
///
/// With write-back off, the newest object stays and every other one older than `grace` goes.
pub(crate) fn gc_cutoff(policy: &GcPolicy, newest: SystemTime, now: SystemTime) -> SystemTime {
    let reference = if policy.write_back { newest } else { now };
    // Never before the epoch: no stored object is older, so that means "delete nothing".
    reference
        .checked_sub(policy.grace)
        .map_or(SystemTime::UNIX_EPOCH, |cutoff| {
            cutoff.max(SystemTime::UNIX_EPOCH)
        })
}

/// Deletes, for every user under `root` (e.g. `u/`), the objects that [`gc_cutoff`] allows,
/// never the user's newest master or its variants (a user left with variants only, orphans of
/// a delete, loses those older than the grace), then purges the CDN tag of every user that lost
/// an object. The listing goes shard by shard (the first hex digit of the user hash), so memory
/// holds one sixteenth of the bucket's keys at a time.
pub(crate) async fn collect(
    store: &dyn ObjectStore,
    root: &str,
    policy: GcPolicy,
    purger: &Purger,
) -> Result<GcReport, StoreError> {
    let mut report = GcReport::default();
    for shard in "0123456789abcdef".chars() {
        let listed = store.list_objects(&format!("{root}{shard}")).await?;
        let mut users: BTreeMap<&str, Vec<StoredObject>> = BTreeMap::new();
        for object in &listed {
            users
                .entry(prefix_of(&object.key))
                .or_default()
                .push(object.clone());
        }
        let now = SystemTime::now();
        for (prefix, objects) in &users {
            report.users += 1;
            let mut removed = 0_usize;
            report.objects += objects.len();
            let newest = objects
                .iter()
                .filter(|object| is_master(&object.key))
                .max_by_key(|object| object.modified);
            let (keep, cutoff) = match newest {
                Some(newest) => (Some(&newest.key), gc_cutoff(&policy, newest.modified, now)),
                None => (
                    None,
                    gc_cutoff(
                        &GcPolicy {
                            write_back: false,
                            ..policy
                        },
                        now,
                        now,
                    ),
                ),
            };
            for key in stale(objects, keep, cutoff) {
                if policy.dry_run {
                    report.deleted += 1;
                    continue;
                }
                match store.delete(key).await {
                    Ok(()) => {
                        report.deleted += 1;
                        removed += 1;
                    }
                    Err(err) => {
                        report.failed += 1;
                        tracing::warn!(error = %err, key = %key, "gc: cannot delete; it stays");
                    }
                }
            }
            if removed > 0
                && let Some(hash) = prefix
                    .strip_prefix(root)
                    .and_then(|hash| hash.strip_suffix('/'))
            {
                purger.purge_user(hash).await;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_and_its_variants_are_one_picture() {
        for (key, picture) in [
            ("u/ab/abc.jpg", "u/ab/abc"),
            ("u/ab/abc.128.webp", "u/ab/abc"),
            ("abc.png", "abc"),
            // The file name's first dot, not one in the prefix (keys allow dotted segments).
            ("u/ab./x.jpg", "u/ab./x"),
            ("u/a.b/x.64.avif", "u/a.b/x"),
        ] {
            let key = ObjectKey::parse(key).expect("key");
            assert_eq!(picture_of(&key), picture, "{key}");
        }
    }

    fn object(key: &str, secs: u64) -> StoredObject {
        StoredObject {
            key: ObjectKey::parse(key).expect("key"),
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn stale_is_older_than_the_cutoff_and_never_the_kept_key() {
        let objects = [
            object("u/a/old.jpg", 100),
            object("u/a/kept.jpg", 50),
            object("u/a/young.jpg", 200),
            object("u/a/edge.jpg", 150),
        ];
        let keep = ObjectKey::parse("u/a/kept.jpg").expect("key");
        let gone: Vec<&str> = stale(&objects, Some(&keep), at(150))
            .map(ObjectKey::as_str)
            .collect();
        assert_eq!(gone, ["u/a/old.jpg"]);
    }

    #[test]
    fn a_kept_master_keeps_its_variants_and_only_masters_are_masters() {
        let sha = "ab".repeat(32);
        let other = "cd".repeat(32);
        let objects = [
            object(&format!("u/a/{sha}.jpg"), 10),
            object(&format!("u/a/{sha}.128.avif"), 10),
            object(&format!("u/a/{sha}.512.webp"), 10),
            object(&format!("u/a/{other}.jpg"), 10),
            object(&format!("u/a/{other}.64.webp"), 10),
        ];
        let keep = ObjectKey::parse(&format!("u/a/{sha}.jpg")).expect("key");
        let gone: Vec<String> = stale(&objects, Some(&keep), at(100))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            gone,
            [format!("u/a/{other}.jpg"), format!("u/a/{other}.64.webp")]
        );
        assert!(is_master(&objects[0].key) && !is_master(&objects[1].key));
        assert_eq!(picture_of(&objects[2].key), format!("u/a/{sha}"));
    }

    #[test]
    fn gc_cutoff_follows_the_newest_object_with_write_back_and_the_clock_without() {
        let grace = Duration::from_secs(90);
        let on = GcPolicy {
            grace,
            write_back: true,
            dry_run: false,
        };
        let off = GcPolicy {
            write_back: false,
            ..on
        };
        assert_eq!(gc_cutoff(&on, at(1000), at(5000)), at(910));
        assert_eq!(gc_cutoff(&off, at(1000), at(5000)), at(4910));
        assert_eq!(gc_cutoff(&off, at(10), at(30)), SystemTime::UNIX_EPOCH);
    }

    #[test]
    fn a_dot_before_the_last_slash_does_not_make_a_variant() {
        let key = ObjectKey::parse("u/xy./abc.png").expect("key");
        assert!(is_master(&key));
        let variant = ObjectKey::parse("u/xy./abc.64.webp").expect("key");
        assert!(!is_master(&variant));
    }

    /// Objects in memory: what `collect` lists and deletes, refusing to delete keys that contain
    /// `.3.` (the store adapters have their own tests against a folder and a real S3).
    struct Objects(std::sync::Mutex<Vec<StoredObject>>);

    #[async_trait::async_trait]
    impl ObjectStore for Objects {
        async fn put(&self, _: &ObjectKey, _: bytes::Bytes, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
        async fn get(&self, _: &ObjectKey) -> Result<bytes::Bytes, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn exists(&self, _: &ObjectKey) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn list_objects(&self, prefix: &str) -> Result<Vec<StoredObject>, StoreError> {
            let objects = self.0.lock().map_err(|_| StoreError::NotFound)?;
            Ok(objects
                .iter()
                .filter(|object| object.key.starts_with(prefix))
                .cloned()
                .collect())
        }
        async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
            if key.as_str().contains(".3.") {
                return Err(StoreError::NotFound);
            }
            let mut objects = self.0.lock().map_err(|_| StoreError::NotFound)?;
            objects.retain(|object| &object.key != key);
            Ok(())
        }
        async fn health_check(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    /// A CDN that records the tags it is asked to purge.
    #[derive(Default)]
    struct Tags(std::sync::Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl crate::ports::CdnPurge for Tags {
        fn name(&self) -> &'static str {
            "test"
        }
        async fn purge(&self, tags: &[String]) -> Result<(), crate::ports::PurgeError> {
            if let Ok(mut seen) = self.0.lock() {
                seen.extend_from_slice(tags);
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn collect_deletes_the_stale_objects_of_every_user_and_counts_them() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let (old, new) = ("1".repeat(64), "2".repeat(64));
        // Written long ago (the epoch plus seconds), so every cutoff here is past them but the
        // newest master of each user, which gc never deletes.
        let store = Objects(std::sync::Mutex::new(vec![
            object(&format!("u/{a}/{old}.jpg"), 10),
            object(&format!("u/{a}/{old}.64.webp"), 10),
            object(&format!("u/{a}/{new}.jpg"), 1000),
            object(&format!("u/{b}/{new}.jpg"), 1000),
            object(&format!("u/{b}/{old}.3.webp"), 5),
        ]));
        let policy = GcPolicy {
            grace: Duration::from_secs(60),
            write_back: true,
            dry_run: true,
        };
        let cdn = std::sync::Arc::new(Tags::default());
        let purger = Purger::new(Some(cdn.clone()));
        let dry = collect(&store, "u/", policy, &purger).await.expect("gc");
        assert_eq!(
            dry,
            GcReport {
                users: 2,
                objects: 5,
                deleted: 3,
                failed: 0
            }
        );
        assert_eq!(
            store.list("u/").await.expect("list").len(),
            5,
            "a dry run deletes nothing"
        );
        let wet = GcPolicy {
            dry_run: false,
            ..policy
        };
        let tags_sent = |cdn: &Tags| cdn.0.lock().map(|tags| tags.clone()).unwrap_or_default();
        assert!(tags_sent(&cdn).is_empty(), "a dry run purges nothing");
        let report = collect(&store, "u/", wet, &purger).await.expect("gc");
        assert_eq!((report.deleted, report.failed), (2, 1), "{report:?}");
        // Only the user who lost objects is purged.
        assert_eq!(tags_sent(&cdn), [format!("visage-u-{a}")]);
        let left: Vec<String> = store
            .list("u/")
            .await
            .expect("list")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            left,
            [
                format!("u/{a}/{new}.jpg"),
                format!("u/{b}/{new}.jpg"),
                format!("u/{b}/{old}.3.webp"),
            ],
            "the newest masters stay, and what could not be deleted"
        );
    }

    #[test]
    fn prefixes_end_at_the_last_slash() {
        let key = ObjectKey::parse("u/0123/abc.jpg").expect("key");
        assert_eq!(prefix_of(&key), "u/0123/");
    }
}
