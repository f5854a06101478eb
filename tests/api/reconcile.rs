//! `visage reconcile` (the real binary): on a store of 1,000 users whose records and pictures
//! visage's own directory wrote, where the Management API stand-in knows 990, exactly the 10
//! others lose their pictures, records and links and their CDN tags are purged; a scripted 429
//! is waited out until its `x-ratelimit-reset`; a dry run deletes nothing; a prefix without an
//! owner record is reported and kept. And `visage gc` purges the tags of the users it collected.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use visage::adapters::fs::FolderStore;
use visage::domain::directory::{Directory, DirectoryConfig, email_hashes};
use visage::domain::lifecycle::purge::cdn_tag;
use visage::domain::lifecycle::reconcile::GIVE_UP_AFTER;
use visage::domain::upload::{user_hash, user_prefix};
use visage::ports::{EmailFacts, ObjectKey, ObjectStore, UserEmail};

use crate::common::TestApp;
use crate::common::auth0_mgmt::{MgmtStandIn, Scripted};
use crate::common::cdn::CdnStandIn;
use crate::upload::{fixture, pictures_under, post_raw, until_all_older_than, user_path};

const USERS: usize = 1000;
const GONE: usize = 10;

fn user(i: usize) -> String {
    format!("auth0|reconcile{i:04}")
}

fn email(i: usize) -> String {
    format!("user{i:04}@example.com")
}

/// Every 100th user is gone from the tenant.
fn is_gone(i: usize) -> bool {
    i % (USERS / GONE) == 7
}

/// The binary with the folder store at `root`, write-back to `mgmt`, purges to `cdn`; waited
/// for off the test's runtime, which also serves the stand-ins.
async fn visage(args: &[&str], root: &Path, mgmt: &MgmtStandIn, cdn: &CdnStandIn) -> Output {
    visage_with(args, &[], root, mgmt, cdn).await
}

/// [`visage`] with more environment.
async fn visage_with(
    args: &[&str],
    env: &[(&str, &str)],
    root: &Path,
    mgmt: &MgmtStandIn,
    cdn: &CdnStandIn,
) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_visage"));
    command
        .args(args)
        .envs(env.iter().copied())
        .env("VISAGE__STORAGE__FS__ROOT", root)
        .env("VISAGE__SERVER__LOG_FORMAT", "text")
        .env("VISAGE__RECONCILE__REQUESTS_PER_SEC", "10000");
    for (key, value) in mgmt.overrides().into_iter().chain(cdn.overrides("webhook")) {
        command.env(
            format!("VISAGE__{}", key.replace('.', "__").to_uppercase()),
            value,
        );
    }
    run(command).await
}

/// Runs `command` to its end without blocking the runtime the stand-ins answer on.
async fn run(mut command: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("visage runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The user prefixes that hold objects in the folder store at `root`.
async fn prefixes(store: &FolderStore) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for key in store.list("u/").await.expect("list") {
        let key = key.as_str();
        found.insert(key[..=key.rfind('/').expect("slash")].to_owned());
    }
    found
}

async fn exists(store: &FolderStore, key: &str) -> bool {
    store
        .exists(&ObjectKey::parse(key).expect("key"))
        .await
        .expect("exists")
}

#[actix_web::test]
async fn reconcile_erases_exactly_the_users_auth0_no_longer_knows_and_waits_out_a_429() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(FolderStore::open(root.path()).await.expect("store"));
    let directory = Directory::new(
        DirectoryConfig {
            current_ttl: Duration::from_secs(1),
            link_ttl: Duration::from_secs(1),
            cache_bytes: 1 << 20,
        },
        store.clone(),
    );
    // 1,000 users as uploads leave them: a master and a stored variant under the prefix, the
    // record, and the links of a verified email.
    for i in 0..USERS {
        let sha = format!("{:064x}", i + 1);
        let master = ObjectKey::parse(&format!("{}{sha}.jpg", user_prefix(&user(i)))).expect("key");
        let variant =
            ObjectKey::parse(&format!("{}{sha}.64.webp", user_prefix(&user(i)))).expect("key");
        for key in [&master, &variant] {
            store
                .put(key, Bytes::from_static(b"picture"), "image/jpeg")
                .await
                .expect("put");
        }
        let verified = EmailFacts::Known(Some(UserEmail {
            address: email(i),
            verified: true,
        }));
        directory
            .record_upload(&user(i), &master, &verified)
            .await
            .expect("record");
    }
    // Pictures from before the directory: no record names their owner.
    let legacy = format!("{}legacy.jpg", user_prefix("auth0|before-the-directory"));
    store
        .put(
            &ObjectKey::parse(&legacy).expect("key"),
            Bytes::from_static(b"old"),
            "image/jpeg",
        )
        .await
        .expect("put");
    let all = prefixes(&store).await;
    assert_eq!(all.len(), USERS + 1);

    let mgmt = MgmtStandIn::start();
    mgmt.set_known_users((0..USERS).filter(|&i| !is_gone(i)).map(user));
    let cdn = CdnStandIn::start();

    // A dry run asks about everyone and deletes nothing.
    let dry = visage(&["reconcile", "--dry-run"], root.path(), &mgmt, &cdn).await;
    assert!(dry.status.success(), "{dry:?}");
    let summary = text(&dry.stdout);
    assert!(
        summary.contains(
            "1000 users asked, 10 gone, would erase 10, 0 failed, 1 prefixes without an owner"
        ),
        "{summary}"
    );
    assert_eq!(prefixes(&store).await, all);
    assert!(cdn.purges().is_empty());

    // The real run, with Auth0 rate-limiting the first question until the next second.
    let asked_before = mgmt.gets().len();
    mgmt.script(&[Scripted::RateLimitedUntil { secs_from_now: 1 }]);
    let started = Instant::now();
    let run = visage(&["reconcile"], root.path(), &mgmt, &cdn).await;
    let took = started.elapsed();
    eprintln!("reconcile of {USERS} users (one 429) took {took:?}");
    assert!(run.status.success(), "{run:?}");
    let summary = text(&run.stdout);
    assert!(
        summary.contains("1000 users asked, 10 gone, erased 10 (20 objects), 0 failed, 1 prefixes without an owner"),
        "{summary}"
    );
    let stderr = text(&run.stderr);
    let legacy_prefix = user_prefix("auth0|before-the-directory");
    assert!(
        stderr.contains(&format!(
            "{legacy_prefix} holds pictures without an owner record; kept"
        )),
        "{stderr}"
    );

    // Exactly the gone users' prefixes, records and links went; everyone else's stayed.
    let left = prefixes(&store).await;
    for i in 0..USERS {
        let prefix = user_prefix(&user(i));
        let record = format!("users/{}.json", user_hash(&user(i)));
        let [sha256, md5] = email_hashes(&email(i));
        let gone = is_gone(i);
        assert_eq!(left.contains(&prefix), !gone, "{}", user(i));
        assert_eq!(exists(&store, &record).await, !gone, "{}", user(i));
        for hash in [sha256, md5] {
            assert_eq!(
                exists(&store, &format!("emails/{hash}.json")).await,
                !gone,
                "{}",
                user(i)
            );
        }
    }
    assert!(
        left.contains(&legacy_prefix),
        "a prefix without owner is kept"
    );
    let purged: BTreeSet<String> = cdn.purged_tags().into_iter().collect();
    let expected: BTreeSet<String> = (0..USERS)
        .filter(|&i| is_gone(i))
        .map(|i| cdn_tag(&user_hash(&user(i))))
        .collect();
    assert_eq!(purged, expected);

    // The 429: no question before its reset, then the same user asked again.
    let gets = mgmt.gets()[asked_before..].to_vec();
    assert_eq!(
        gets.len(),
        USERS + 1,
        "every user once, the rate-limited one twice"
    );
    assert_eq!(gets[0].status, 429);
    let reset = mgmt.not_before().expect("a 429 was answered");
    assert!(
        gets[1..].iter().all(|g| g.at >= reset),
        "a question came before x-ratelimit-reset"
    );
    assert_eq!(gets[1].user_id, gets[0].user_id);
    assert!(
        gets.iter()
            .all(|g| g.query == "fields=user_id&include_fields=true")
    );
    assert!(SystemTime::now() >= reset);
    mgmt.stop().await;
    cdn.stop().await;
}

/// A client the Management API refuses (a 403: no read:users) stops the run at once, deletes
/// nothing, and exits 1 with a sentence.
#[actix_web::test]
async fn a_refused_client_stops_reconcile_with_exit_1_and_deletes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(FolderStore::open(root.path()).await.expect("store"));
    let directory = Directory::new(
        DirectoryConfig {
            current_ttl: Duration::from_secs(1),
            link_ttl: Duration::from_secs(1),
            cache_bytes: 1 << 20,
        },
        store.clone(),
    );
    for i in 0..3 {
        let key =
            ObjectKey::parse(&format!("{}{:064x}.jpg", user_prefix(&user(i)), i + 1)).expect("key");
        store
            .put(&key, Bytes::from_static(b"picture"), "image/jpeg")
            .await
            .expect("put");
        directory
            .record_upload(&user(i), &key, &EmailFacts::Known(None))
            .await
            .expect("record");
    }
    let mgmt = MgmtStandIn::start();
    mgmt.set_known_users(Vec::new());
    mgmt.always(403);
    let cdn = CdnStandIn::start();
    let run = visage(&["reconcile"], root.path(), &mgmt, &cdn).await;
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        text(&run.stderr).contains("does it have read:users?"),
        "{}",
        text(&run.stderr)
    );
    assert_eq!(mgmt.gets().len(), 1, "stopped at the first refusal");
    assert_eq!(prefixes(&store).await.len(), 3);
    mgmt.stop().await;
    cdn.stop().await;
}

/// A Management API that keeps failing (503s until the 1 s bound) stops the run after
/// `GIVE_UP_AFTER` unanswered users in a row instead of waiting out the bound for everyone,
/// deletes nothing, and exits 1 with a sentence.
#[actix_web::test]
async fn an_unanswering_management_api_stops_reconcile_early_and_deletes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(FolderStore::open(root.path()).await.expect("store"));
    let directory = Directory::new(
        DirectoryConfig {
            current_ttl: Duration::from_secs(1),
            link_ttl: Duration::from_secs(1),
            cache_bytes: 1 << 20,
        },
        store.clone(),
    );
    let users = GIVE_UP_AFTER + 3;
    for i in 0..users {
        let key =
            ObjectKey::parse(&format!("{}{:064x}.jpg", user_prefix(&user(i)), i + 1)).expect("key");
        store
            .put(&key, Bytes::from_static(b"picture"), "image/jpeg")
            .await
            .expect("put");
        directory
            .record_upload(&user(i), &key, &EmailFacts::Known(None))
            .await
            .expect("record");
    }
    let mgmt = MgmtStandIn::start();
    mgmt.set_known_users(Vec::new());
    mgmt.always(503);
    let cdn = CdnStandIn::start();
    let run = visage_with(
        &["reconcile"],
        &[("VISAGE__AUTH0__MANAGEMENT__TIMEOUT_SECS", "1")],
        root.path(),
        &mgmt,
        &cdn,
    )
    .await;
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains(&format!(
            "did not answer {GIVE_UP_AFTER} questions in a row"
        )),
        "{stderr}"
    );
    let asked: BTreeSet<String> = mgmt.gets().into_iter().map(|g| g.user_id).collect();
    assert_eq!(
        asked.len(),
        GIVE_UP_AFTER,
        "stopped after {GIVE_UP_AFTER} users"
    );
    assert_eq!(prefixes(&store).await.len(), users);
    assert!(cdn.purges().is_empty());
    mgmt.stop().await;
    cdn.stop().await;
}

/// `visage gc` purges the tag of each user it removed replaced pictures of, and only those.
#[actix_web::test]
async fn gc_purges_the_tag_of_each_user_it_collected() {
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let upload = |user: &'static str, name: &'static str| {
        let app = &app;
        async move {
            let res = post_raw(app, &user_path(user), "image/jpeg", fixture(name), None).await;
            assert_eq!(res.status(), reqwest::StatusCode::CREATED);
        }
    };
    upload("auth0|gc-purge-a", "orientation-1.jpg").await;
    until_all_older_than(app.data.path(), Duration::from_secs(1)).await;
    upload("auth0|gc-purge-a", "quadrants.webp").await;
    upload("auth0|gc-purge-b", "small-100.jpg").await;
    let cdn = CdnStandIn::start();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_visage"));
    command
        .arg("gc")
        .env("VISAGE__STORAGE__FS__ROOT", app.data.path())
        .env("VISAGE__STORAGE__CLEANUP_GRACE_SECS", "1");
    for (key, value) in cdn.overrides("webhook") {
        command.env(
            format!("VISAGE__{}", key.replace('.', "__").to_uppercase()),
            value,
        );
    }
    let output = run(command).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(pictures_under(app.data.path()).len(), 2);
    assert_eq!(cdn.purged_tags(), [cdn_tag(&user_hash("auth0|gc-purge-a"))]);
    cdn.stop().await;
    app.stop().await;
}
