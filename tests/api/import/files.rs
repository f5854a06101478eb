//! `visage import` on a `user_id,source` CSV (URLs and local files) without write-back, where
//! resuming means "the store already holds a picture for the user"; and with write-back, a user
//! whose write-back failed is imported by the rerun rather than skipped.

use std::path::Path;

use serde_json::json;

use super::standins::{Legacy, run_import};
use super::{MAX_BYTES, encoded, write_lines};
use crate::common::{self, auth0_mgmt::MgmtStandIn};
use crate::upload::files_under;

const PUBLIC_URL: &str = "https://avatars.example.com";

/// The settings of a run on the folder store at `root`, without write-back.
fn folder_env(root: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("storage.fs.root", root.display().to_string()),
        ("server.public_url", PUBLIC_URL.into()),
        ("limits.max_upload_bytes", MAX_BYTES.into()),
    ]
}

/// The files of users' pictures in the folder store (`u/{user hash}/…`, as the URLs'
/// `/pictures/u/…` name them), not the directory's records.
fn uploads(root: &Path) -> Vec<String> {
    let users = root.join("u");
    if users.exists() {
        files_under(&users)
    } else {
        Vec::new()
    }
}

/// Whether the object a line's picture URL names is in the folder store at `root`.
fn stored(root: &Path, picture: &str) -> bool {
    let key = picture.split("/pictures/").nth(1).unwrap_or_default();
    !key.is_empty() && root.join(key).is_file()
}

#[actix_web::test]
async fn a_csv_of_urls_and_local_files_without_write_back() {
    let legacy = Legacy::start();
    let data = tempfile::tempdir().expect("dir");
    let input = tempfile::tempdir().expect("dir");
    // Local files: one next to the CSV (a relative path), one by absolute path.
    let beside = input.path().join("pictures");
    std::fs::create_dir_all(&beside).expect("mkdir");
    std::fs::copy(common::fixture("greyscale.jpg"), beside.join("grey.jpg")).expect("copy");
    std::fs::copy(common::fixture("document.pdf"), beside.join("doc.jpg")).expect("copy");
    let absolute = common::fixture("quadrants.webp");
    let csv = format!(
        "user_id,source\n\
         auth0|csv1,{url}\n\
         auth0|csv2,pictures/grey.jpg\n\
         \"google-oauth2|csv3\",{absolute}\n\
         auth0|csv4,pictures/missing.jpg\n\
         auth0|csv5,pictures/doc.jpg\n\
         auth0|csv6,{elsewhere}/direct.jpg\n\
         auth0|csv7,\n",
        url = legacy.url("/pics/1/small-100.jpg"),
        absolute = absolute.display(),
        elsewhere = legacy.elsewhere,
    );
    let file = input.path().join("users.csv");
    std::fs::write(&file, csv).expect("write csv");
    let env = folder_env(data.path());
    let args = ["--allow-host", "127.0.0.1"];

    let first = run_import(&env, &args, &file).await;
    assert_eq!(first.status, Some(1), "{}", first.stderr);
    let imported = ["auth0|csv1", "auth0|csv2", "google-oauth2|csv3"];
    for id in imported {
        assert_eq!(first.lines[id]["status"], "imported", "{}", first.lines[id]);
        let picture = first.lines[id]["picture"].as_str().expect("picture");
        assert!(
            picture.starts_with(&format!("{PUBLIC_URL}/pictures/u/")),
            "{picture}"
        );
        assert!(stored(data.path(), picture), "{id}: {picture} not stored");
    }
    assert_eq!(first.code_of("auth0|csv4"), "unreadable_file");
    assert_eq!(first.code_of("auth0|csv5"), "unsupported_media_type");
    assert_eq!(first.code_of("auth0|csv6"), "host_not_allowed");
    assert_eq!(first.code_of("auth0|csv7"), "no_picture");
    assert_eq!(legacy.elsewhere_hits.all(), Vec::<String>::new());
    assert!(
        first
            .stderr
            .contains("3 imported, 1 skipped (no_picture 1), 3 failed"),
        "{}",
        first.stderr
    );

    // Without write-back nothing tells a rerun the picture is visage's but the store: the users
    // imported are skipped as already stored, the failed ones tried again, nothing added.
    let files = uploads(data.path()).len();
    let again = run_import(&env, &args, &file).await;
    assert_eq!(again.status, Some(1), "{}", again.stderr);
    for id in imported {
        assert_eq!(again.code_of(id), "already_stored", "{}", again.lines[id]);
    }
    assert_eq!(again.code_of("auth0|csv4"), "unreadable_file");
    assert_eq!(uploads(data.path()).len(), files, "a rerun stores nothing");
    assert_eq!(legacy.hits.count("/pics/1/small-100.jpg"), 1, "nor fetches");

    // Once every failed row is dropped, the rerun ends with status 0.
    let mut done = String::new();
    for line in std::fs::read_to_string(&file).expect("csv").lines() {
        if !["csv4", "csv5", "csv6"].iter().any(|id| line.contains(id)) {
            done.push_str(line);
            done.push('\n');
        }
    }
    std::fs::write(&file, done).expect("write csv");
    let last = run_import(&env, &args, &file).await;
    assert_eq!(last.status, Some(0), "{}", last.stderr);
    assert_eq!(last.with_status("imported"), Vec::<String>::new());
    legacy.stop().await;
}

/// A write-back that fails leaves no stored picture behind, so the rerun imports the user
/// instead of skipping them as already stored.
#[actix_web::test]
async fn a_failed_write_back_is_imported_by_the_rerun() {
    let legacy = Legacy::start();
    let mgmt = MgmtStandIn::start();
    let data = tempfile::tempdir().expect("dir");
    let input = tempfile::tempdir().expect("dir");
    let mut env = folder_env(data.path());
    env.extend(mgmt.overrides());
    env.push(("auth0.management.timeout_secs", "1".into()));
    let users = vec![
        json!({"user_id": "auth0|wb1", "picture": legacy.url("/pics/1/small-100.jpg")}),
        json!({"user_id": "auth0|wb2", "user_metadata": {"picture": legacy.url("/pics/2/greyscale.jpg")}}),
    ];
    let file = input.path().join("export.json");
    write_lines(&file, &users);
    let args = ["--allow-host", "127.0.0.1"];

    // Auth0 refuses every write (a 403: the client lacks update:users).
    mgmt.always(403);
    let first = run_import(&env, &args, &file).await;
    assert_eq!(first.status, Some(1), "{}", first.stderr);
    for id in ["auth0|wb1", "auth0|wb2"] {
        assert_eq!(
            first.code_of(id),
            "metadata_update_failed",
            "{}",
            first.lines[id]
        );
        assert_eq!(first.lines[id]["picture"], serde_json::Value::Null);
    }
    assert_eq!(
        uploads(data.path()),
        Vec::<String>::new(),
        "the stored pictures were taken back"
    );

    mgmt.heal();
    let again = run_import(&env, &args, &file).await;
    assert_eq!(again.status, Some(0), "{}", again.stderr);
    for id in ["auth0|wb1", "auth0|wb2"] {
        assert_eq!(again.lines[id]["status"], "imported", "{}", again.lines[id]);
        let picture = again.lines[id]["picture"].as_str().expect("picture");
        assert_eq!(
            mgmt.accepted_picture(&encoded(id)).as_deref(),
            Some(picture)
        );
        assert!(stored(data.path(), picture), "{id}: {picture}");
    }
    mgmt.stop().await;
    legacy.stop().await;
}
