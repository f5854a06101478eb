//! `visage import`, the real binary: a 1,000-user Auth0 export (JSON Lines on the folder store,
//! a JSON array on Garage) against a legacy host and the Management API stand-in; the CSV with
//! URLs and local files without write-back; `--dry-run`; a failed write-back retried by a rerun.

mod files;
mod standins;

use std::path::Path;
use std::sync::Arc;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use visage::adapters::fs::FolderStore;
use visage::domain::upload::user_prefix;
use visage::ports::{ObjectKey, ObjectStore};

use crate::common::auth0_mgmt::{MgmtStandIn, Scripted};
use crate::common::{self, TestApp};
use standins::{Legacy, Run, run_import};

const USERS: usize = 1000;
/// Below photo-coffee.jpg (72 KB), above every picture that is meant to be imported.
const MAX_BYTES: &str = "50000";
const AUTH0_DEFAULT: &str = "https://s.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fjd.png";
const FIXTURES: [&str; 7] = [
    "small-100.jpg",
    "greyscale.jpg",
    "quadrants.webp",
    "opaque-rgba.png",
    "progressive.jpg",
    "gps-exif.jpg",
    "grey-alpha.png",
];

/// One user of a generated export and the code its line must carry (`imported` for an import).
struct Planned {
    user: Value,
    code: &'static str,
}

/// User `i` of this process's exports: the tag keeps a rerun of the tests against the same
/// Garage bucket from finding the users of an earlier run already stored.
fn user_id(i: usize) -> String {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned());
    format!("auth0|imp{run}x{i:04}")
}

fn encoded(user_id: &str) -> String {
    utf8_percent_encode(user_id, NON_ALPHANUMERIC).to_string()
}

/// Auth0 export objects (the users-exports job's field names) as a tenant has them: most users
/// on Auth0's default picture or a Gravatar, some without one, some already on visage, social
/// pictures from a host not allowed, one in eight with a legacy picture (in
/// `user_metadata.picture` over Auth0's default root picture, or in the root `picture`, some
/// behind a redirect within the host), and one of each way a picture fails.
fn export(legacy: &Legacy, visage: &str) -> Vec<Planned> {
    (0..USERS)
        .map(|i| {
            let (root, metadata, code) = picture_of(i, legacy, visage);
            let mut user = json!({
                "user_id": user_id(i),
                "email": format!("user{i}@example.com"),
                "email_verified": true,
                "name": format!("User {i}"),
                "created_at": "2024-01-02T03:04:05.000Z",
                "identities": [{"connection": "Username-Password-Authentication", "provider": "auth0"}],
                "app_metadata": {"plan": "free"},
                "user_metadata": {"locale": "en"},
            });
            if let Some(picture) = root {
                user["picture"] = json!(picture);
            }
            if let Some(picture) = metadata {
                user["user_metadata"]["picture"] = json!(picture);
            }
            Planned { user, code }
        })
        .collect()
}

/// User `i`'s root picture, `user_metadata.picture` and the code its line must carry.
fn picture_of(
    i: usize,
    legacy: &Legacy,
    visage: &str,
) -> (Option<String>, Option<String>, &'static str) {
    let fixture = FIXTURES[i % FIXTURES.len()];
    let at = |path: &str| Some(legacy.url(path));
    let failing = [
        ("/missing.jpg", "source_status"),
        ("/broken.jpg", "source_status"),
        ("/document.jpg", "unsupported_media_type"),
        ("/big.jpg", "payload_too_large"),
        ("/big-chunked.jpg", "payload_too_large"),
        ("/away.jpg", "redirect_refused"),
        ("/loop.jpg", "too_many_redirects"),
        ("/slow.jpg", "source_timeout"),
        ("/pics/0/one-pixel.png", "invalid_image"),
    ];
    match (i % 8, i / 8) {
        (7, n) if n < failing.len() => (at(failing[n].0), None, failing[n].1),
        (7, n) if n == failing.len() => {
            let direct = format!("{}/direct.jpg", legacy.elsewhere);
            (Some(direct), None, "host_not_allowed")
        }
        (7, n) if n == failing.len() + 1 => (
            Some("http://legacy.example/1.jpg".into()),
            None,
            "insecure_url",
        ),
        (3, n) if n % 2 == 0 => (at(&format!("/hop/{i}/{fixture}")), None, "imported"),
        (3, _) => {
            let legacy_picture = at(&format!("/pics/{i}/{fixture}"));
            (Some(AUTH0_DEFAULT.into()), legacy_picture, "imported")
        }
        (1, _) => {
            let gravatar = format!("https://gravatar.com/avatar/{i:032x}?d=identicon");
            (Some(gravatar), None, "gravatar")
        }
        (2, _) => (None, None, "no_picture"),
        (5, _) => {
            let stored = format!("{visage}/pictures/u/{i:032x}/{i:064x}.jpg");
            (Some(AUTH0_DEFAULT.into()), Some(stored), "already_visage")
        }
        (6, _) => {
            let social = format!("https://lh3.googleusercontent.com/a/ACg8oc{i}=s96-c");
            (Some(social), None, "host_not_allowed")
        }
        _ => (Some(AUTH0_DEFAULT.into()), None, "auth0_default"),
    }
}

/// The summary's counts as the plan has them: `N imported, N skipped (code n, …), N failed (…)`.
fn expected_summary(planned: &[Planned]) -> String {
    let mut skipped = std::collections::BTreeMap::<&str, usize>::new();
    let mut failed = std::collections::BTreeMap::<&str, usize>::new();
    let mut imported = 0;
    for plan in planned {
        match plan.code {
            "imported" => imported += 1,
            "auth0_default" | "gravatar" | "no_picture" | "already_visage" => {
                *skipped.entry(plan.code).or_default() += 1;
            }
            code => *failed.entry(code).or_default() += 1,
        }
    }
    let list = |counts: &std::collections::BTreeMap<&str, usize>| {
        let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
        (counts.values().sum::<usize>(), parts.join(", "))
    };
    let ((s, s_list), (f, f_list)) = (list(&skipped), list(&failed));
    format!("{imported} imported, {s} skipped ({s_list}), {f} failed ({f_list})")
}

fn write_lines(path: &Path, users: &[Value]) {
    let mut text = String::new();
    for user in users {
        text.push_str(&user.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).expect("write export");
}

/// Where the pictures went, as the import's settings say.
enum Store {
    Folder,
    Garage(Vec<(&'static str, String)>),
}

#[actix_web::test]
async fn a_thousand_user_export_on_the_folder_store() {
    thousand_users(Store::Folder).await;
}

#[actix_web::test]
async fn a_thousand_user_export_on_garage() {
    let Some(garage) = common::garage() else {
        return;
    };
    thousand_users(Store::Garage(garage)).await;
}

const ARGS: [&str; 6] = [
    "--allow-host",
    "127.0.0.1",
    "--allow-host",
    "legacy.example",
    "--concurrency",
    "8",
];

/// Everything a 1,000-user run uses: the stand-ins, the serving instance that reads the
/// pictures back, the store itself, the import's settings and the export.
struct Scene {
    legacy: Legacy,
    mgmt: MgmtStandIn,
    app: TestApp,
    objects: Arc<dyn ObjectStore>,
    env: Vec<(&'static str, String)>,
    planned: Vec<Planned>,
    dir: tempfile::TempDir,
}

impl Scene {
    async fn start(store: Store) -> Self {
        let legacy = Legacy::start();
        let mgmt = MgmtStandIn::start();
        let overrides = match &store {
            Store::Folder => Vec::new(),
            Store::Garage(garage) => garage.clone(),
        };
        let app = TestApp::spawn(&common::as_overrides(&overrides)).await;
        let objects: Arc<dyn ObjectStore> = match store {
            Store::Folder => Arc::new(FolderStore::open(app.data.path()).await.expect("store")),
            Store::Garage(_) => common::garage_store().expect("garage"),
        };
        let mut env = overrides;
        env.extend(mgmt.overrides());
        env.extend([
            ("storage.fs.root", app.data.path().display().to_string()),
            ("server.public_url", app.base.clone()),
            ("limits.max_upload_bytes", MAX_BYTES.into()),
            ("import.fetch_timeout_secs", "4".into()),
            ("auth0.management.timeout_secs", "1".into()),
        ]);
        let planned = export(&legacy, &app.base);
        Self {
            legacy,
            mgmt,
            app,
            objects,
            env,
            planned,
            dir: tempfile::tempdir().expect("dir"),
        }
    }

    fn expected(&self, code: &str) -> usize {
        self.planned.iter().filter(|p| p.code == code).count()
    }

    async fn stop(self) {
        self.app.stop().await;
        self.mgmt.stop().await;
        self.legacy.stop().await;
    }
}

/// Imported (stored, written back, readable), skipped and failed by reason; nothing asked of a
/// host not allowed; a 429 waited out past the upload's own bound; a rerun of the same file
/// and one of a fresh export import nothing.
async fn thousand_users(store: Store) {
    let scene = Scene::start(store).await;
    // Both shapes of Auth0's export: JSON Lines on the folder store, a JSON array on Garage.
    let array = scene
        .env
        .iter()
        .any(|(k, v)| *k == "storage.backend" && v == "s3");
    let users: Vec<Value> = scene.planned.iter().map(|p| p.user.clone()).collect();
    let file = scene.dir.path().join("tenant.json");
    if array {
        std::fs::write(&file, serde_json::to_vec_pretty(&users).expect("json")).expect("write");
    } else {
        write_lines(&file, &users);
    }
    // The first write-back is rate limited until 3 s from now: past auth0.management.timeout_secs
    // (1 s), which an interactive upload would give up at; the import waits it out.
    scene
        .mgmt
        .script(&[Scripted::RateLimitedUntil { secs_from_now: 3 }]);
    let first = run_import(&scene.env, &ARGS, &file).await;
    let imported = check_first_run(&scene, &first).await;
    check_reruns(&scene, &file, &imported).await;
    scene.stop().await;
}

/// Every line's code, the summary, the imported users' objects, write-backs and reads, the
/// 429, and the hosts asked.
async fn check_first_run(scene: &Scene, first: &Run) -> Vec<String> {
    assert_eq!(
        first.status,
        Some(1),
        "users failed, so exit 1:\n{}",
        first.stderr
    );
    assert_eq!(first.lines.len(), USERS, "{}", first.stderr);
    for (i, plan) in scene.planned.iter().enumerate() {
        let id = user_id(i);
        assert_eq!(
            first.code_of(&id),
            plan.code,
            "user {i}: {}",
            first.lines[&id]
        );
    }
    let imported = first.with_status("imported");
    assert_eq!(imported.len(), scene.expected("imported"));
    let counts = expected_summary(&scene.planned);
    assert!(
        first.stderr.contains(&format!("{USERS} users in")) && first.stderr.contains(&counts),
        "{counts}\n{}",
        first.stderr
    );
    let (app, mgmt) = (&scene.app, &scene.mgmt);
    for (n, id) in imported.iter().enumerate() {
        let picture = first.lines[id]["picture"].as_str().expect("picture");
        let key = picture
            .strip_prefix(&format!("{}/pictures/", app.base))
            .unwrap_or_else(|| panic!("{id}: {picture} is not one of visage's URLs"));
        assert!(key.starts_with(&user_prefix(id)), "{id}: {key}");
        let key = ObjectKey::parse(key).expect("key");
        let stored = scene.objects.exists(&key).await.expect("store answers");
        assert!(stored, "{id}: {key} is not stored");
        let accepted = mgmt.accepted_picture(&encoded(id));
        assert_eq!(accepted.as_deref(), Some(picture), "{id}");
        if n % 40 == 0 {
            let res = app.get(&format!("/pictures/{key}")).await;
            assert_eq!(res.status(), 200, "{id}");
            let kind = res.headers()["content-type"].to_str().expect("type");
            assert!(kind.starts_with("image/"), "{kind}");
        }
    }
    let patches = mgmt.patches();
    let landed = patches.iter().filter(|p| p.status == 200).count();
    assert_eq!(landed, imported.len(), "one write-back per imported user");
    // The 429 was honoured: the same user's next PATCH came no earlier than the reset.
    let limited = patches.iter().find(|p| p.status == 429).expect("a 429");
    let retry = patches
        .iter()
        .find(|p| p.raw_path == limited.raw_path && p.status == 200)
        .expect("the rate-limited user was written back after all");
    assert!(
        retry.at >= mgmt.not_before().expect("reset"),
        "retried too early"
    );
    // Nothing was asked of the host that is not allowed, not even through the redirect.
    assert_eq!(scene.legacy.elsewhere_hits.all(), Vec::<String>::new());
    // The redirect within the host was followed.
    let hopped = 3;
    let fixture = FIXTURES[hopped % FIXTURES.len()];
    assert_eq!(scene.planned[hopped].code, "imported");
    assert_eq!(
        scene.legacy.hits.count(&format!("/hop/{hopped}/{fixture}")),
        1
    );
    assert_eq!(
        scene
            .legacy
            .hits
            .count(&format!("/pics/{hopped}/{fixture}")),
        1
    );
    imported
}

/// A rerun of the same file finds the imported already stored; one of a fresh export finds
/// visage's URLs. Neither writes anything.
async fn check_reruns(scene: &Scene, file: &Path, imported: &[String]) {
    let patches = scene.mgmt.patches().len();
    let stored = stored_count(scene.objects.as_ref(), imported).await;
    let again = run_import(&scene.env, &ARGS, file).await;
    assert_eq!(again.status, Some(1), "{}", again.stderr);
    assert_eq!(
        again.with_status("imported"),
        Vec::<String>::new(),
        "{}",
        again.stderr
    );
    for id in imported {
        assert_eq!(again.code_of(id), "already_stored", "{id}");
    }
    assert_eq!(
        scene.mgmt.patches().len(),
        patches,
        "a rerun writes nothing back"
    );
    assert_eq!(stored_count(scene.objects.as_ref(), imported).await, stored);

    let fresh: Vec<Value> = scene
        .planned
        .iter()
        .map(|p| {
            let mut user = p.user.clone();
            let id = user["user_id"].as_str().expect("id").to_owned();
            if let Some(picture) = scene.mgmt.accepted_picture(&encoded(&id)) {
                user["user_metadata"]["picture"] = json!(picture);
            }
            user
        })
        .collect();
    let fresh_file = scene.dir.path().join("fresh.json");
    write_lines(&fresh_file, &fresh);
    let resumed = run_import(&scene.env, &ARGS, &fresh_file).await;
    assert_eq!(resumed.with_status("imported"), Vec::<String>::new());
    for id in imported {
        assert_eq!(resumed.code_of(id), "already_visage", "{id}");
    }
    assert_eq!(scene.mgmt.patches().len(), patches);
    assert_eq!(scene.legacy.elsewhere_hits.all(), Vec::<String>::new());
}

async fn stored_count(store: &dyn ObjectStore, users: &[String]) -> usize {
    let mut total = 0;
    for id in users {
        total += store.list(&user_prefix(id)).await.expect("list").len();
    }
    total
}

/// `--dry-run` fetches and checks, says what it would do, and writes nothing: no object, no
/// token asked, no PATCH.
#[actix_web::test]
async fn a_dry_run_writes_nothing() {
    let legacy = Legacy::start();
    let mgmt = MgmtStandIn::start();
    let data = tempfile::tempdir().expect("dir");
    let input = tempfile::tempdir().expect("dir");
    let mut env: Vec<(&str, String)> = mgmt.overrides();
    env.extend([
        ("storage.fs.root", data.path().display().to_string()),
        ("limits.max_upload_bytes", MAX_BYTES.into()),
    ]);
    let users = vec![
        json!({"user_id": "auth0|dry1", "picture": legacy.url("/pics/1/small-100.jpg")}),
        json!({"user_id": "auth0|dry2", "user_metadata": {"picture": legacy.url("/pics/2/quadrants.webp")}}),
        json!({"user_id": "auth0|dry3", "picture": legacy.url("/document.jpg")}),
        json!({"user_id": "auth0|dry4", "picture": AUTH0_DEFAULT}),
    ];
    let file = input.path().join("export.json");
    write_lines(&file, &users);
    let run = run_import(&env, &["--dry-run", "--allow-host", "127.0.0.1"], &file).await;
    assert_eq!(run.status, Some(1), "{}", run.stderr);
    for id in ["auth0|dry1", "auth0|dry2"] {
        assert_eq!(run.lines[id]["status"], "imported");
        assert_eq!(run.lines[id]["reason"], "dry_run");
        assert_eq!(run.lines[id]["picture"], Value::Null);
    }
    assert_eq!(run.code_of("auth0|dry3"), "unsupported_media_type");
    assert_eq!(run.code_of("auth0|dry4"), "auth0_default");
    assert!(
        run.stderr
            .contains("2 would be imported, 1 would be skipped (auth0_default 1), 1 would fail"),
        "{}",
        run.stderr
    );
    assert_eq!(
        legacy.hits.count("/pics/1/small-100.jpg"),
        1,
        "a dry run fetches"
    );
    let stored = crate::upload::files_under(data.path());
    assert_eq!(stored, Vec::<String>::new(), "a dry run stores nothing");
    assert_eq!(mgmt.token_requests().len(), 0);
    assert_eq!(mgmt.patches().len(), 0);
    mgmt.stop().await;
    legacy.stop().await;
}
