//! A picture for every user id and every verified email: `GET /u/{user_id}` and uploads behind
//! `/avatar/{hash}`, on two instances sharing Garage, through uploads, a replace, an email
//! change and a delete.

use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::auth0::FakeTenant;
use crate::common::auth0_mgmt::MgmtStandIn;
use crate::common::gravatar::FakeGravatar;
use crate::common::{self, TestApp};
use crate::upload::{fixture, user_path};

/// How long a change may take to show on the other instance: its directory caches live 1 s
/// here; the rest is slack for a loaded machine.
const WITHIN: Duration = Duration::from_secs(15);

struct World {
    a: TestApp,
    b: TestApp,
    tenant: FakeTenant,
    mgmt: MgmtStandIn,
    gravatar: FakeGravatar,
}

impl World {
    /// Two instances on the suite's Garage (or, under plain `cargo test`, skipped).
    async fn start() -> Option<Self> {
        let garage = common::garage()?;
        let tenant = FakeTenant::start().await;
        let mgmt = MgmtStandIn::start();
        let gravatar = FakeGravatar::start().await;
        let mut pairs = garage;
        pairs.extend(tenant.overrides());
        pairs.extend(mgmt.overrides());
        pairs.extend([
            ("gravatar.base_url", gravatar.base_url.clone()),
            ("pictures.current_max_age_secs", "1".to_owned()),
            ("gravatar.upload_lookup_secs", "1".to_owned()),
        ]);
        let a = TestApp::spawn(&common::as_overrides(&pairs)).await;
        let b = TestApp::spawn(&common::as_overrides(&pairs)).await;
        Some(Self {
            a,
            b,
            tenant,
            mgmt,
            gravatar,
        })
    }

    async fn stop(self) {
        self.a.stop().await;
        self.b.stop().await;
        self.tenant.stop().await;
        self.mgmt.stop().await;
        self.gravatar.stop().await;
    }

    /// Uploads `picture` for `user` through `app`; the stored key.
    async fn upload(&self, app: &TestApp, user: &str, picture: &str) -> String {
        let res = app
            .client
            .post(app.url(&user_path(user)))
            .bearer_auth(self.tenant.token_for(user))
            .header("content-type", "image/jpeg")
            .body(fixture(picture))
            .send()
            .await
            .expect("upload");
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.expect("json");
        body["key"].as_str().expect("key").to_owned()
    }

    async fn delete(&self, app: &TestApp, user: &str) {
        let res = app
            .client
            .delete(app.url(&user_path(user)))
            .bearer_auth(self.tenant.token_for(user))
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
}

fn encoded(user: &str) -> String {
    utf8_percent_encode(user, NON_ALPHANUMERIC).to_string()
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A user id that no test shares (letters and digits besides `|`).
fn new_user(tag: &str) -> String {
    format!("auth0|{tag}{}", uuid::Uuid::new_v4().simple())
}

/// The key a `/u` redirect points at, or `None` for any other answer.
async fn redirected_key(app: &TestApp, user: &str) -> Option<String> {
    let res = app.get(&format!("/u/{}", encoded(user))).await;
    if res.status() != StatusCode::FOUND {
        return None;
    }
    let location = header(&res, "location");
    let path = location.split_once("/pictures/")?.1;
    Some(path.split('?').next().unwrap_or(path).to_owned())
}

/// Polls until `app`'s `/u` for `user` points at `expected` (`None`: no redirect), failing after
/// [`WITHIN`].
async fn until_current(app: &TestApp, user: &str, expected: Option<&str>) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let key = redirected_key(app, user).await;
        if key.as_deref() == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: /u still answers {key:?}, not {expected:?}",
            app.base
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `X-Avatar-Source` of `/avatar/{hash}` (with `query`) on `app`.
async fn avatar_source(app: &TestApp, hash: &str, query: &str) -> (String, reqwest::Response) {
    let res = app.get(&format!("/avatar/{hash}{query}")).await;
    assert_eq!(res.status(), StatusCode::OK, "/avatar/{hash}{query}");
    (header(&res, "x-avatar-source"), res)
}

/// Polls until `/avatar/{hash}` on `app` serves an upload (`true`) or anything else (`false`:
/// Gravatar's picture or the fallback, whichever the stand-in's rules give that hash).
async fn until_upload(app: &TestApp, hash: &str, expected: bool) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let (source, _) = avatar_source(app, hash, "").await;
        if (source == "upload") == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: /avatar/{hash} still answers {source}",
            app.base
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn md5_hex(text: &str) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}

#[actix_web::test]
async fn a_users_current_picture_follows_uploads_replaces_and_deletes_on_both_instances() {
    let Some(world) = World::start().await else {
        return;
    };
    let user = new_user("current");
    let stranger = new_user("nobody");

    // Before any upload: the fallback, exactly as for a user no one has heard of.
    let fallback_of = |user: String| {
        let app = &world.a;
        async move {
            let res = app
                .get(&format!("/u/{}?name=Ann%20Lee&s=64", encoded(&user)))
                .await;
            assert_eq!(res.status(), StatusCode::OK);
            let headers: Vec<String> = [
                "x-avatar-source",
                "content-type",
                "cache-control",
                "etag",
                "access-control-allow-origin",
            ]
            .iter()
            .map(|name| header(&res, name))
            .collect();
            (headers, res.bytes().await.expect("body"))
        }
    };
    let (mine, my_bytes) = fallback_of(user.clone()).await;
    let (theirs, their_bytes) = fallback_of(stranger.clone()).await;
    assert_eq!(mine, theirs, "the same answer for an unknown user");
    assert_eq!(my_bytes, their_bytes);
    assert_eq!(mine[0], "fallback");
    assert_eq!(
        mine[2], "public, max-age=1",
        "kept no longer than a redirect"
    );
    assert_eq!(mine[4], "*");
    for who in [&user, &stranger] {
        let res = world.b.get(&format!("/u/{}?d=404", encoded(who))).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"], "not_found");
    }

    // An upload through A: both instances redirect to it.
    let first = world.upload(&world.a, &user, "orientation-1.jpg").await;
    let res = world
        .a
        .get(&format!("/u/{}?size=64&format=webp", encoded(&user)))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = header(&res, "location");
    assert!(
        location.ends_with(&format!("/pictures/{first}?size=64&format=webp")),
        "{location}"
    );
    assert_eq!(header(&res, "cache-control"), "public, max-age=1");
    assert_eq!(header(&res, "access-control-allow-origin"), "*");
    let etag = header(&res, "etag");
    assert!(etag.starts_with('"') && etag.len() > 4, "{etag}");
    let id_part = user.trim_start_matches("auth0|");
    for (name, value) in res.headers() {
        let value = value.to_str().unwrap_or_default();
        assert!(!value.contains(id_part), "{name} names the user: {value}");
    }
    let again = world
        .a
        .client
        .get(
            world
                .a
                .url(&format!("/u/{}?size=64&format=webp", encoded(&user))),
        )
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let picture = world.a.client.get(&location).send().await.expect("follow");
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(header(&picture, "content-type"), "image/webp");
    until_current(&world.b, &user, Some(&first)).await;

    // Replaced through B: both follow.
    let second = world.upload(&world.b, &user, "quadrants.webp").await;
    assert_ne!(first, second);
    until_current(&world.b, &user, Some(&second)).await;
    until_current(&world.a, &user, Some(&second)).await;

    // Deleted through A: both fall back, and d=404 is a 404 again.
    world.delete(&world.a, &user).await;
    until_current(&world.a, &user, None).await;
    until_current(&world.b, &user, None).await;
    let res = world.b.get(&format!("/u/{}?d=404", encoded(&user))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    world.stop().await;
}

#[actix_web::test]
async fn uploads_answer_behind_avatar_for_a_verified_email_only() {
    let Some(world) = World::start().await else {
        return;
    };
    let user = new_user("gravatar");
    // Unique per run: Garage outlives a run, and so would a link of a run that failed half-way.
    let email = format!("Jane.{}@Example.com", &user["auth0|gravatar".len()..]);
    let normalized = email.to_lowercase();
    let (sha, md5) = (sha256_hex(&normalized), md5_hex(&normalized));
    world.mgmt.set_email(&user, &format!(" {email} "), true);

    // Before the upload: Gravatar is asked.
    let (source, _) = avatar_source(&world.a, &sha, "").await;
    assert_ne!(source, "upload");
    assert_eq!(world.gravatar.requests(&sha), 1);

    world.upload(&world.a, &user, "orientation-1.jpg").await;
    let asked_before = world.gravatar.requests(&sha);
    // Both hashes, both instances, resized like /pictures (100 snaps up to the 128 bucket).
    for app in [&world.a, &world.b] {
        for hash in [&sha, &md5] {
            until_upload(app, hash, true).await;
        }
    }
    let (source, res) = avatar_source(&world.b, &md5, "?s=100").await;
    assert_eq!(source, "upload");
    assert_eq!(header(&res, "cache-control"), "public, max-age=1");
    let bytes = res.bytes().await.expect("body");
    let decoded = image::load_from_memory(&bytes).expect("a picture");
    assert_eq!((decoded.width(), decoded.height()), (128, 128));
    assert_eq!(
        world.gravatar.requests(&sha),
        asked_before,
        "an upload is served without asking Gravatar"
    );
    // f=y skips uploads as it skips Gravatar pictures.
    let (source, _) = avatar_source(&world.a, &sha, "?f=y").await;
    assert_eq!(source, "fallback");
    assert_eq!(
        world.gravatar.requests(&sha),
        asked_before,
        "f=y with initials asks no one"
    );

    // An unverified email is never linked.
    let other = new_user("unverified");
    let unverified = format!("{}@example.com", &other["auth0|".len()..]);
    world.mgmt.set_email(&other, &unverified, false);
    world.upload(&world.b, &other, "quadrants.webp").await;
    let (source, _) = avatar_source(&world.b, &sha256_hex(&unverified), "").await;
    assert_ne!(source, "upload");

    // The email changes: the old hashes drop, the new ones link.
    let changed = format!("changed.{}@example.com", &user["auth0|gravatar".len()..]);
    world.mgmt.set_email(&user, &changed, true);
    world.upload(&world.b, &user, "quadrants.webp").await;
    for app in [&world.a, &world.b] {
        until_upload(app, &sha, false).await;
        until_upload(app, &md5_hex(&changed), true).await;
    }

    // Deleted: no upload behind any hash, on either instance.
    world.delete(&world.a, &user).await;
    for app in [&world.a, &world.b] {
        until_upload(app, &sha256_hex(&changed), false).await;
    }
    world.stop().await;
}
