//! Nothing of a deleted user outlives them: `POST /v1/hooks/auth0` with Auth0's own payloads
//! (tests/fixtures/auth0-streams: a Log Stream in each content format, Event Stream CloudEvents)
//! erases every object, the directory record and the `/avatar` links on the folder store and
//! on Garage, and the CDN stand-in (Cloudflare's and Fastly's documented purge APIs) receives
//! the purge of the user's tag; replays, wrong tokens, bad bodies and storage outages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use visage::adapters::fs::FolderStore;
use visage::domain::directory::email_hashes;
use visage::domain::lifecycle::purge::cdn_tag;
use visage::domain::upload::{user_hash, user_prefix};
use visage::ports::{ObjectKey, ObjectStore};

use crate::common::auth0::FakeTenant;
use crate::common::auth0_mgmt::MgmtStandIn;
use crate::common::cdn::CdnStandIn;
use crate::common::gravatar::FakeGravatar;
use crate::common::s3_relay::{Held, S3Relay};
use crate::common::{self, TestApp};
use crate::upload::{fixture, user_path};

pub const HOOK_TOKEN: &str = "hook-7f3a9c1e5b2d8046a1c3e5f7";
/// The user id the fixtures carry; each test puts a fresh one in its place.
const SAMPLE_USER: &str = "auth0|5f7c8ec7c33c6c004bbafe82";
const WITHIN: Duration = Duration::from_secs(15);

/// The deliveries that delete a user, by fixture, with the events each holds besides.
const DELETIONS: [(&str, usize); 4] = [
    ("log-stream-lines.jsonl", 1),
    ("log-stream-array.json", 1),
    ("log-stream-object.json", 0),
    ("event-stream-user-deleted.json", 0),
];

/// A user id no other test (or earlier run against the same Garage) uses.
pub fn new_user(tag: &str) -> String {
    format!("auth0|{tag}{}", uuid::Uuid::new_v4().simple())
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

/// An email whose Gravatar hashes (SHA-256 and MD5) the Gravatar stand-in has no picture for
/// (first hex digit 0 to 8), so `/avatar/{hash}?d=404` is 404 unless an upload is linked.
fn new_email(tag: &str) -> String {
    loop {
        let email = format!("{tag}.{}@example.com", uuid::Uuid::new_v4().simple());
        if email_hashes(&email)
            .iter()
            .all(|h| h.starts_with(|c: char| ('0'..='8').contains(&c)))
        {
            return email;
        }
    }
}

/// A fixture of tests/fixtures/auth0-streams as Auth0 sends it, every JSON value (one per line
/// for JSON Lines) kept in its shape, with `user` in place of the sample user id.
pub fn delivery(name: &str, user: &str) -> Vec<u8> {
    delivery_with(name, user, |_| {})
}

/// [`delivery`], each value changed by `change` first.
fn delivery_with(name: &str, user: &str, change: impl Fn(&mut Value)) -> Vec<u8> {
    let text = std::fs::read_to_string(common::fixture(&format!("auth0-streams/{name}")))
        .expect("fixture");
    let mut out = String::new();
    for value in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        let mut value = value.expect("fixture is JSON");
        replace_string(&mut value, SAMPLE_USER, user);
        change(&mut value);
        out.push_str(&serde_json::to_string(&value).expect("json"));
        out.push('\n');
    }
    out.into_bytes()
}

fn replace_string(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(s) if s == from => to.clone_into(s),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_string(v, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_string(v, from, to)),
        _ => {}
    }
}

/// One instance with write-back to the Management API stand-in (which tells the user's
/// email), the hook on, stored variants on, and the CDN stand-in as `vendor`.
pub struct World {
    pub app: TestApp,
    pub tenant: FakeTenant,
    pub mgmt: MgmtStandIn,
    pub gravatar: FakeGravatar,
    pub cdn: CdnStandIn,
    /// The instance's store, read directly.
    pub store: Arc<dyn ObjectStore>,
}

impl World {
    /// On the folder store, or on `s3` (Garage's settings, perhaps through a relay).
    pub async fn start(s3: Option<Vec<(&'static str, String)>>, vendor: &str) -> Self {
        Self::start_with(s3, vendor, &[]).await
    }

    pub async fn start_with(
        s3: Option<Vec<(&'static str, String)>>,
        vendor: &str,
        extra: &[(&'static str, String)],
    ) -> Self {
        let tenant = FakeTenant::start().await;
        let mgmt = MgmtStandIn::start();
        let gravatar = FakeGravatar::start().await;
        let cdn = CdnStandIn::start();
        let mut pairs = s3.clone().unwrap_or_default();
        pairs.extend(tenant.overrides());
        pairs.extend(mgmt.overrides());
        pairs.extend(cdn.overrides(vendor));
        pairs.extend([
            ("hooks.auth0_token", HOOK_TOKEN.to_owned()),
            ("gravatar.base_url", gravatar.base_url.clone()),
            ("pictures.store_variants", "true".to_owned()),
            ("pictures.current_max_age_secs", "1".to_owned()),
            ("gravatar.upload_lookup_secs", "1".to_owned()),
        ]);
        pairs.extend(extra.iter().cloned());
        let app = TestApp::spawn(&common::as_overrides(&pairs)).await;
        let store: Arc<dyn ObjectStore> = if s3.is_some() {
            common::garage_store().expect("garage")
        } else {
            Arc::new(FolderStore::open(app.data.path()).await.expect("store"))
        };
        Self {
            app,
            tenant,
            mgmt,
            gravatar,
            cdn,
            store,
        }
    }

    pub async fn stop(self) {
        self.app.stop().await;
        self.tenant.stop().await;
        self.mgmt.stop().await;
        self.gravatar.stop().await;
        self.cdn.stop().await;
    }

    /// Uploads a picture for `user` whose verified email is `email`, asks for a variant (stored
    /// beside the master), and returns the key.
    pub async fn upload(&self, user: &str, email: &str) -> String {
        self.mgmt.set_email(user, email, true);
        let res = self
            .app
            .client
            .post(self.app.url(&user_path(user)))
            .bearer_auth(self.tenant.token_for(user))
            .header("content-type", "image/jpeg")
            .body(fixture("orientation-1.jpg"))
            .send()
            .await
            .expect("upload");
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.expect("json");
        let key = body["key"].as_str().expect("key").to_owned();
        let variant = self
            .app
            .get(&format!("/pictures/{key}?s=64&format=webp"))
            .await;
        assert_eq!(variant.status(), StatusCode::OK);
        key
    }

    pub async fn hook(&self, body: Vec<u8>, token: Option<&str>) -> reqwest::Response {
        let mut req = self
            .app
            .client
            .post(self.app.url("/v1/hooks/auth0"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("hook request")
    }

    /// Every object of `user` in the store: pictures under the prefix, the record, the links.
    pub async fn objects_of(&self, user: &str, email: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .store
            .list(&user_prefix(user))
            .await
            .expect("list")
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut keys = vec![format!("users/{}.json", user_hash(user))];
        keys.extend(email_hashes(email).map(|h| format!("emails/{h}.json")));
        for key in keys {
            let object = ObjectKey::parse(&key).expect("key");
            if self.store.exists(&object).await.expect("exists") {
                found.push(key);
            }
        }
        found
    }

    /// Whether `/avatar/{hash}?d=404` serves the user's upload.
    pub async fn avatar_serves_upload(&self, hash: &str) -> bool {
        let res = self.app.get(&format!("/avatar/{hash}?d=404")).await;
        res.status() == StatusCode::OK && header(&res, "x-avatar-source") == "upload"
    }

    /// Polls until `/avatar/{hash}` serves an upload or not, as `expected`.
    pub async fn until_avatar(&self, hash: &str, expected: bool) {
        let deadline = Instant::now() + WITHIN;
        while self.avatar_serves_upload(hash).await != expected {
            assert!(
                Instant::now() < deadline,
                "/avatar/{hash}: upload served is still {}",
                !expected
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The whole story on one store: a user with pictures, variants, a record and email links is
/// deleted by each payload shape in turn; nothing of theirs is left, and the CDN purged their
/// tag; a replay changes nothing and purges nothing more.
async fn every_shape_erases_a_user(world: &World) {
    for (name, others) in DELETIONS {
        let user = new_user("hook");
        let email = new_email("hook");
        let key = world.upload(&user, &email).await;
        let tag = cdn_tag(&user_hash(&user));
        // The tag on the picture and on the user's stable URL, and no user id in it.
        let picture = world.app.get(&format!("/pictures/{key}?s=64")).await;
        assert_eq!(header(&picture, "cache-tag"), tag, "{name}");
        assert_eq!(header(&picture, "surrogate-key"), tag, "{name}");
        let current = world.app.get(&format!("/u/{}", encoded(&user))).await;
        assert_eq!(current.status(), StatusCode::FOUND, "{name}");
        assert_eq!(header(&current, "cache-tag"), tag, "{name}");
        assert!(!tag.contains(user.trim_start_matches("auth0|")));
        let [sha256, md5] = email_hashes(&email);
        world.until_avatar(&sha256, true).await;
        let before = world.objects_of(&user, &email).await;
        assert!(
            before.len() >= 5,
            "{name}: master, variant, record, two links: {before:?}"
        );
        let purged_before = world.cdn.purged_tags().len();

        let res = world.hook(delivery(name, &user), Some(HOOK_TOKEN)).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        let answer: Value = res.json().await.expect("json");
        assert_eq!(answer["applied"], 1, "{name}: {answer}");
        assert_eq!(answer["ignored"], others, "{name}: {answer}");

        assert_eq!(
            world.objects_of(&user, &email).await,
            Vec::<String>::new(),
            "{name}"
        );
        assert_eq!(
            world.app.get(&format!("/pictures/{key}")).await.status(),
            StatusCode::NOT_FOUND,
            "{name}"
        );
        let current = world.app.get(&format!("/u/{}", encoded(&user))).await;
        assert_eq!(current.status(), StatusCode::OK, "{name}: the fallback");
        assert_eq!(header(&current, "x-avatar-source"), "fallback", "{name}");
        assert!(!world.avatar_serves_upload(&sha256).await, "{name}");
        assert!(!world.avatar_serves_upload(&md5).await, "{name}");
        let purged = world.cdn.purged_tags();
        assert_eq!(
            purged[purged_before..],
            *std::slice::from_ref(&tag),
            "{name}"
        );

        // Auth0 delivers again (a retry, a replay): 200, nothing changes, no second purge.
        let res = world.hook(delivery(name, &user), Some(HOOK_TOKEN)).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}: replay");
        assert_eq!(world.objects_of(&user, &email).await, Vec::<String>::new());
        assert_eq!(world.cdn.purged_tags().len(), purged_before + 1, "{name}");
    }
}

#[actix_web::test]
async fn every_payload_shape_erases_a_user_on_the_folder_store_and_purges_cloudflare() {
    let world = World::start(None, "cloudflare").await;
    every_shape_erases_a_user(&world).await;
    assert!(world.cdn.purges().iter().all(|p| p.vendor == "cloudflare"));
    world.stop().await;
}

#[actix_web::test]
async fn every_payload_shape_erases_a_user_on_garage_and_purges_fastly() {
    let Some(garage) = common::garage() else {
        return;
    };
    let world = World::start(Some(garage), "fastly").await;
    every_shape_erases_a_user(&world).await;
    assert!(world.cdn.purges().iter().all(|p| p.vendor == "fastly"));
    world.stop().await;
}

/// A wrong, missing or non-bearer token is 401 and changes nothing; a body that is not Auth0's
/// JSON is 400 and applies nothing (not even its valid entries); over the limit is 413.
#[actix_web::test]
async fn wrong_tokens_bad_bodies_and_big_bodies_change_nothing() {
    let world = World::start_with(
        None,
        "webhook",
        &[("limits.max_hook_bytes", "4096".to_owned())],
    )
    .await;
    let user = new_user("refused");
    let email = new_email("refused");
    world.upload(&user, &email).await;
    let before = world.objects_of(&user, &email).await;
    let body = delivery("log-stream-object.json", &user);

    for token in [None, Some("hook-7f3a9c1e5b2d8046a1c3e5f8"), Some("")] {
        let res = world.hook(body.clone(), token).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        let answer: Value = res.json().await.expect("json");
        assert_eq!(answer["error"], "unauthorized");
    }
    let basic = world
        .app
        .client
        .post(world.app.url("/v1/hooks/auth0"))
        .basic_auth("auth0", Some(HOOK_TOKEN))
        .body(body.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    let mut half = body.clone();
    half.extend_from_slice(b"{\"log_id\": ");
    let padded = [body.clone(), vec![b' '; 4096]].concat();
    for (bad, status, code) in [
        (half, StatusCode::BAD_REQUEST, "bad_request"),
        (b"<xml/>".to_vec(), StatusCode::BAD_REQUEST, "bad_request"),
        (padded, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ] {
        let res = world.hook(bad, Some(HOOK_TOKEN)).await;
        assert_eq!(res.status(), status);
        let answer: Value = res.json().await.expect("json");
        assert_eq!(answer["error"], code);
    }
    assert_eq!(world.objects_of(&user, &email).await, before);
    assert!(world.cdn.purges().is_empty());
    // The same body with the right token goes through.
    let res = world.hook(body, Some(HOOK_TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(world.objects_of(&user, &email).await.is_empty());
    assert_eq!(world.cdn.purged_tags(), [cdn_tag(&user_hash(&user))]);
    world.stop().await;
}

/// Without `hooks.auth0_token` the route does not exist, whatever the method or token.
#[actix_web::test]
async fn without_a_token_the_hook_is_404() {
    let app = TestApp::spawn(&[]).await;
    for method in [reqwest::Method::POST, reqwest::Method::GET] {
        let res = app
            .client
            .request(method.clone(), app.url("/v1/hooks/auth0"))
            .bearer_auth(HOOK_TOKEN)
            .body(delivery("log-stream-object.json", "auth0|x"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method}");
    }
    app.stop().await;
}

/// `user.updated`: a new verified email moves the `/avatar` link to its hashes; an unverified
/// one drops it. The picture itself stays.
#[actix_web::test]
async fn user_updated_moves_the_avatar_link_or_drops_it() {
    let world = World::start(None, "none").await;
    let user = new_user("updated");
    let old = new_email("old");
    let new = new_email("new");
    let key = world.upload(&user, &old).await;
    let [old_sha, old_md5] = email_hashes(&old);
    let [new_sha, new_md5] = email_hashes(&new);
    world.until_avatar(&old_sha, true).await;

    let updated = |email: &str, verified: bool| {
        delivery_with("event-stream-user-updated.json", &user, |event| {
            event["data"]["object"]["email"] = Value::from(email);
            event["data"]["object"]["email_verified"] = Value::from(verified);
        })
    };
    let res = world.hook(updated(&new, true), Some(HOOK_TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    world.until_avatar(&new_sha, true).await;
    world.until_avatar(&new_md5, true).await;
    world.until_avatar(&old_sha, false).await;
    world.until_avatar(&old_md5, false).await;

    let res = world.hook(updated(&new, false), Some(HOOK_TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    world.until_avatar(&new_sha, false).await;
    world.until_avatar(&new_md5, false).await;
    assert_eq!(
        world.app.get(&format!("/pictures/{key}")).await.status(),
        StatusCode::OK,
        "an email change leaves the picture"
    );
    world.stop().await;
}

/// Garage's deletes held past the S3 timeouts: the hook answers 503 (Auth0 will deliver again)
/// and counts the failure; once storage answers, the same delivery completes the erase.
#[actix_web::test]
async fn a_storage_outage_during_the_hook_is_503_and_a_later_delivery_completes() {
    let Some(garage) = common::garage() else {
        return;
    };
    let endpoint = garage
        .iter()
        .find(|(k, _)| *k == "storage.s3.endpoint")
        .map(|(_, v)| v.clone())
        .expect("endpoint");
    let relay = S3Relay::start(&endpoint, Held::Deletes);
    let mut pairs: Vec<(&'static str, String)> = garage
        .into_iter()
        .filter(|(k, _)| *k != "storage.s3.endpoint")
        .collect();
    pairs.push(("storage.s3.endpoint", relay.endpoint.clone()));
    let world = World::start(Some(pairs), "cloudflare").await;
    let user = new_user("outage");
    let email = new_email("outage");
    world.upload(&user, &email).await;
    let before = world.objects_of(&user, &email).await;

    relay.gate.close();
    let body = delivery("log-stream-lines.jsonl", &user);
    let res = world.hook(body.clone(), Some(HOOK_TOKEN)).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["error"], "storage_unavailable");
    assert!(relay.gate.arrived() > 0, "the erase reached storage");
    assert!(
        world.cdn.purges().is_empty(),
        "no purge of a half-done erase"
    );
    let metrics = world.app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains(r#"visage_hook_events_total{outcome="failed",type="sdu"} 1"#),
        "{metrics}"
    );

    relay.gate.open();
    let res = world.hook(body, Some(HOOK_TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!before.is_empty());
    assert!(world.objects_of(&user, &email).await.is_empty());
    assert_eq!(world.cdn.purged_tags(), [cdn_tag(&user_hash(&user))]);
    world.stop().await;
    relay.stop().await;
}

/// A CDN that keeps failing never fails the delete: the hook answers 200, the objects are gone,
/// and the failed purge is counted after its retries.
#[actix_web::test]
async fn a_failing_purge_is_retried_counted_and_never_fails_the_delete() {
    let world =
        World::start_with(None, "cloudflare", &[("cdn.max_attempts", "3".to_owned())]).await;
    let user = new_user("cdnfail");
    let email = new_email("cdnfail");
    world.upload(&user, &email).await;
    world.cdn.script(&[503, 503, 503]);
    let res = world
        .hook(
            delivery("event-stream-user-deleted.json", &user),
            Some(HOOK_TOKEN),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(world.objects_of(&user, &email).await.is_empty());
    assert_eq!(
        world
            .cdn
            .purges()
            .iter()
            .map(|p| p.status)
            .collect::<Vec<_>>(),
        [503, 503, 503]
    );
    let metrics = world.app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains(r#"visage_cdn_purges_total{outcome="failed"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"visage_hook_events_total{outcome="applied",type="user.deleted"} 1"#)
    );
    world.stop().await;
}

/// A user's own DELETE and a replaced picture's cleanup purge the user's tag too.
#[actix_web::test]
async fn a_users_delete_and_a_replaced_pictures_cleanup_purge_the_tag() {
    let world = World::start_with(
        None,
        "webhook",
        &[
            ("auth0.management.timeout_secs", "2".to_owned()),
            ("storage.cleanup_grace_secs", "3".to_owned()),
        ],
    )
    .await;
    let user = new_user("replace");
    let email = new_email("replace");
    let tag = cdn_tag(&user_hash(&user));
    let first = world.upload(&user, &email).await;
    // Past the grace by the store's own clock, then a new picture: the first one goes.
    crate::upload::until_all_older_than(&world.app.data.path().join("u"), Duration::from_secs(3))
        .await;
    let res = world
        .app
        .client
        .post(world.app.url(&user_path(&user)))
        .bearer_auth(world.tenant.token_for(&user))
        .header("content-type", "image/webp")
        .body(fixture("quadrants.webp"))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        world.app.get(&format!("/pictures/{first}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let deadline = Instant::now() + WITHIN;
    while world.cdn.purged_tags() != [tag.clone()] {
        assert!(Instant::now() < deadline, "{:?}", world.cdn.purges());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let res = world
        .app
        .client
        .delete(world.app.url(&user_path(&user)))
        .bearer_auth(world.tenant.token_for(&user))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(world.cdn.purged_tags(), [tag.clone(), tag]);
    assert!(world.objects_of(&user, &email).await.is_empty());
    world.stop().await;
}

/// The tag is the same for every size and format of one user's pictures, and differs between
/// users: one purge drops exactly one user's answers.
#[test]
fn tags_are_per_user_and_hide_the_id() {
    let a = cdn_tag(&user_hash("auth0|a"));
    let b = cdn_tag(&user_hash("auth0|b"));
    assert_ne!(a, b);
    assert!(a.starts_with("visage-u-") && a.len() == "visage-u-".len() + 32);
    assert_eq!(
        a,
        format!(
            "visage-u-{}",
            &hex::encode(Sha256::digest(b"auth0|a"))[..32]
        )
    );
}
