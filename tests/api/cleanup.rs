//! Replaced pictures go after the grace period in every mode: with write-back off by the next
//! upload, and by `visage gc` for users who never upload again.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{self, TestApp};
use crate::upload::{fixture, pictures_under, post_raw, until_all_older_than, user_path};

async fn upload(app: &TestApp, user: &str, name: &str) -> Value {
    let res = post_raw(app, &user_path(user), "image/jpeg", fixture(name), None).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{name}");
    res.json().await.expect("json")
}

fn key_of(body: &Value) -> String {
    body["key"].as_str().expect("key").to_owned()
}

/// Write-back off (dev mode): nothing says which picture is current, so the newest stays and
/// the others go once they are older than the grace, at the next upload.
#[actix_web::test]
async fn without_write_back_replaced_pictures_go_after_the_grace() {
    // 3 s: the second upload must land within the grace of the first even on a loaded machine.
    let app = TestApp::spawn(&[("server.dev", "true"), ("storage.cleanup_grace_secs", "3")]).await;
    let user = "auth0|no-write-back";
    let first = upload(&app, user, "orientation-1.jpg").await;
    let second = upload(&app, user, "quadrants.webp").await;
    assert_eq!(
        pictures_under(app.data.path()).len(),
        2,
        "within the grace both stay"
    );
    assert_eq!(
        app.get(&format!("/pictures/{}", key_of(&first)))
            .await
            .status(),
        200
    );
    until_all_older_than(app.data.path(), Duration::from_secs(3)).await;
    let third = upload(&app, user, "quadrants.webp").await;
    assert_eq!(key_of(&third), key_of(&second), "same picture, same key");
    let stored = pictures_under(app.data.path());
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].ends_with(&key_of(&second)));
    assert_eq!(
        app.get(&format!("/pictures/{}", key_of(&first)))
            .await
            .status(),
        404
    );
    app.stop().await;
}

/// `visage gc` (the real binary) deletes, per user, what the grace allows and never the newest
/// picture; `--dry-run` only counts.
#[actix_web::test]
async fn gc_removes_replaced_pictures_and_keeps_each_users_newest() {
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let replaced = upload(&app, "auth0|gc-a", "orientation-1.jpg").await;
    // More than gc's grace (1 s, below) between the two pictures of gc-a.
    until_all_older_than(app.data.path(), Duration::from_secs(1)).await;
    let newest = upload(&app, "auth0|gc-a", "quadrants.webp").await;
    let lone = upload(&app, "auth0|gc-b", "small-100.jpg").await;
    // The instance keeps serving while gc runs, as in production.
    let gc = |extra: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_visage"))
            .arg("gc")
            .args(extra)
            .env("VISAGE__STORAGE__FS__ROOT", app.data.path())
            .env("VISAGE__STORAGE__CLEANUP_GRACE_SECS", "1")
            .output()
            .expect("visage gc runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let dry = gc(&["--dry-run"]);
    assert!(dry.contains("2 users, 3 objects, would delete 1"), "{dry}");
    assert_eq!(
        pictures_under(app.data.path()).len(),
        3,
        "a dry run deletes nothing"
    );
    let done = gc(&[]);
    assert!(done.contains("deleted 1, 0 failed"), "{done}");
    let stored = pictures_under(app.data.path());
    assert_eq!(stored.len(), 2, "{stored:?}");
    for kept in [&newest, &lone] {
        assert!(
            stored.iter().any(|f| f.ends_with(&key_of(kept))),
            "{stored:?}"
        );
    }
    assert!(!stored.iter().any(|f| f.ends_with(&key_of(&replaced))));
    app.stop().await;
}

/// The grace must outlast the write-back, or another instance could delete a picture that is
/// still being written into a profile.
#[test]
fn a_grace_not_longer_than_the_write_back_bound_is_refused() {
    let pairs = |grace: &str| {
        vec![
            (
                "auth.issuer".to_owned(),
                "https://tenant.example/".to_owned(),
            ),
            ("auth.audience".to_owned(), "visage".to_owned()),
            ("auth0.management.client_id".to_owned(), "id".to_owned()),
            ("auth0.management.client_secret".to_owned(), "s".to_owned()),
            ("auth0.management.timeout_secs".to_owned(), "10".to_owned()),
            ("storage.cleanup_grace_secs".to_owned(), grace.to_owned()),
        ]
    };
    let err = common::settings_from(&pairs("10")).expect_err("refused");
    assert!(
        err.to_string().contains("storage.cleanup_grace_secs"),
        "{err}"
    );
    assert!(common::settings_from(&pairs("11")).is_ok());
}
