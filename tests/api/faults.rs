//! Faults, injected for real: S3 (the test Garage) behind a proxy that stalls or answers 500,
//! the tenant's JWKS endpoint down, and the folder store's disk full (a 1 MiB tmpfs).
//! The contract in every case: a clear JSON answer (503, 401), never a 500, nothing
//! half-written, and the other routes keep answering.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use visage::domain::upload::user_prefix;

use crate::common::auth0::{self, FakeTenant};
use crate::common::s3_relay::{Held, S3Relay};
use crate::common::{self, TestApp};
use crate::upload::{files_under, fixture, post_raw, sha256_hex, user_path};

/// A user id no other test (or earlier run against the same Garage) uses.
fn fresh_user(tag: &str) -> String {
    format!("auth0|faults-{tag}-{}", uuid::Uuid::new_v4().simple())
}

fn garage_endpoint(garage: &[(&'static str, String)]) -> String {
    garage
        .iter()
        .find(|(k, _)| *k == "storage.s3.endpoint")
        .map(|(_, v)| v.clone())
        .expect("endpoint")
}

/// Garage's settings with the endpoint swapped for `endpoint`, plus dev mode.
fn through(garage: &[(&'static str, String)], endpoint: &str) -> Vec<(&'static str, String)> {
    let mut pairs: Vec<(&'static str, String)> = garage
        .iter()
        .filter(|(k, _)| *k != "storage.s3.endpoint")
        .cloned()
        .collect();
    pairs.push(("storage.s3.endpoint", endpoint.to_owned()));
    pairs.push(("server.dev", "true".to_owned()));
    pairs
}

// --- S3 answering slowly ---------------------------------------------------------------

/// A TCP proxy in front of Garage. While `stall` is set, whatever a client sends is swallowed
/// and never answered (also on connections opened before): S3 "answering slowly", as slowly as
/// the client is willing to wait. Swallowed requests never reach Garage.
struct StallingProxy {
    addr: SocketAddr,
    stall: Arc<AtomicBool>,
    swallowed: Arc<AtomicUsize>,
}

impl StallingProxy {
    fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("Garage address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stall = Arc::new(AtomicBool::new(false));
        let swallowed = Arc::new(AtomicUsize::new(0));
        let (stall2, swallowed2) = (stall.clone(), swallowed.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let (stall, swallowed) = (stall2.clone(), swallowed2.clone());
                let (client2, server2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || pump_requests(client, server, &stall, &swallowed));
                std::thread::spawn(move || pump(server2, client2));
            }
        });
        Self {
            addr,
            stall,
            swallowed,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Client → Garage; once stalling, the connection to Garage is dropped and the client's bytes
/// are read and discarded until it gives up.
fn pump_requests(
    mut from: TcpStream,
    mut to: TcpStream,
    stall: &AtomicBool,
    swallowed: &AtomicUsize,
) {
    let mut buf = [0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if stall.load(Ordering::SeqCst) {
            swallowed.fetch_add(1, Ordering::SeqCst);
            let _ = to.shutdown(std::net::Shutdown::Both);
            while matches!(from.read(&mut buf), Ok(n) if n > 0) {}
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

#[actix_web::test]
async fn s3_answering_slowly_is_503_and_other_routes_keep_answering() {
    let Some(garage) = common::garage() else {
        return;
    };
    let proxy = StallingProxy::start(&garage_endpoint(&garage));
    let pairs = through(&garage, &proxy.endpoint());
    let app = TestApp::spawn(&common::as_overrides(&pairs)).await;
    let picture = fixture("orientation-1.jpg");
    // Healthy first: the proxy itself works.
    let warm = fresh_user("warm");
    let res = post_raw(&app, &user_path(&warm), "image/jpeg", picture.clone(), None).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    proxy.stall.store(true, Ordering::SeqCst);
    // More stalled uploads than the app has workers (2).
    let users: Vec<String> = (0..4).map(|i| fresh_user(&format!("slow{i}"))).collect();
    let uploads: Vec<_> = users
        .iter()
        .map(|user| {
            let request = app
                .client
                .post(app.url(&user_path(user)))
                .header("content-type", "image/jpeg")
                .body(picture.clone())
                // A liveness bound for the test (a hung upload fails it), not a timing check.
                .timeout(Duration::from_secs(60))
                .send();
            actix_web::rt::spawn(request)
        })
        .collect();
    // Wait (not a timing assertion) until S3 traffic is being swallowed.
    for _ in 0..100 {
        if proxy.swallowed.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(proxy.swallowed.load(Ordering::SeqCst) > 0, "S3 is stalled");
    let health = app.get("/healthz").await;
    let initials = app.get("/initials/Jane%20Doe.png?size=64").await;
    let in_flight = uploads.iter().filter(|u| !u.is_finished()).count();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(initials.status(), StatusCode::OK);
    assert!(
        in_flight > 0,
        "the other routes answered while uploads waited on S3"
    );
    for upload in uploads {
        let res = upload.await.expect("task").expect("an answer, not a hang");
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key("retry-after"));
        let error: Value = res.json().await.expect("JSON");
        assert_eq!(error["error"], "storage_unavailable");
    }
    // Nothing reached Garage for the stalled users.
    proxy.stall.store(false, Ordering::SeqCst);
    let store = common::garage_store().expect("garage");
    for user in &users {
        let keys = store.list(&user_prefix(user)).await.expect("list");
        assert!(keys.is_empty(), "{user}: {keys:?}");
    }
    app.stop().await;
}

// --- S3 answering 500 to some requests ------------------------------------------------

#[actix_web::test]
async fn s3_answering_500_intermittently_is_201_or_503_never_500_and_nothing_half_written() {
    let Some(garage) = common::garage() else {
        return;
    };
    let relay = S3Relay::start(&garage_endpoint(&garage), Held::NoneButTwoInThreeFail);
    let pairs = through(&garage, &relay.endpoint);
    let app = TestApp::spawn(&common::as_overrides(&pairs)).await;
    let store = common::garage_store().expect("garage");
    let pictures = ["orientation-1.jpg", "grey-alpha.png", "quadrants.webp"];
    let mut statuses = Vec::new();
    for i in 0..9 {
        let user = fresh_user(&format!("flaky{i}"));
        let body = fixture(pictures[i % pictures.len()]);
        let res = post_raw(&app, &user_path(&user), "image/*", body, None).await;
        let status = res.status();
        statuses.push(status.as_u16());
        let answer: Value = res.json().await.expect("JSON");
        let keys = store.list(&user_prefix(&user)).await.expect("list");
        match status {
            StatusCode::CREATED => {
                let key = answer["key"].as_str().expect("key");
                let stored = store
                    .get(&visage::ports::ObjectKey::parse(key).expect("key"))
                    .await
                    .expect("the answered key is stored");
                assert_eq!(sha256_hex(&stored), answer["sha256"], "whole object");
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(answer["error"], "storage_unavailable");
                assert!(keys.is_empty(), "503 wrote nothing: {keys:?}");
            }
            other => panic!("upload {i}: {other} {answer}"),
        }
        // Whatever was stored is whole: a content-addressed key names its bytes' hash.
        for key in keys {
            let bytes = store.get(&key).await.expect("get");
            assert!(key.as_str().contains(&sha256_hex(&bytes)), "{key}");
        }
        let delete = app
            .client
            .delete(app.url(&user_path(&user)))
            .send()
            .await
            .expect("delete");
        assert!(
            matches!(delete.status().as_u16(), 204 | 503),
            "delete {i}: {}",
            delete.status()
        );
    }
    let (requests, injected) = relay.counts();
    eprintln!(
        "intermittent 500s: {injected} of {requests} S3 requests failed; upload statuses {statuses:?}"
    );
    assert!(injected > 0, "500s were injected");
    app.stop().await;
    relay.stop().await;
}

// --- the JWKS endpoint down -------------------------------------------------------------

#[actix_web::test]
async fn jwks_down_at_start_is_an_explained_401_then_keys_are_fetched_and_kept() {
    const USER: &str = "auth0|faults-jwks";
    let tenant = FakeTenant::start().await;
    tenant.state.jwks_fails.store(true, Ordering::SeqCst);
    let overrides = tenant.overrides();
    let mut pairs = common::as_overrides(&overrides);
    pairs.push(("auth.jwks_refresh_secs", "1"));
    pairs.push(("auth.jwks_unknown_kid_cooldown_secs", "1"));
    // The service starts although the tenant's keys cannot be fetched.
    let app = TestApp::spawn(&pairs).await;
    let token = tenant.token_for(USER);
    let path = user_path(USER);
    let upload = || {
        post_raw(
            &app,
            &path,
            "image/jpeg",
            fixture("orientation-1.jpg"),
            Some(&token),
        )
    };
    let res = upload().await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
    let error: Value = res.json().await.expect("JSON");
    assert_eq!(error["error"], "unauthorized");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("JWKS")),
        "the 401 says why: {error}"
    );
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    // The endpoint comes back: the timer fetches the keys and tokens are accepted.
    tenant.state.jwks_fails.store(false, Ordering::SeqCst);
    let mut status = StatusCode::UNAUTHORIZED;
    for _ in 0..50 {
        status = upload().await.status();
        if status == StatusCode::CREATED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        status,
        StatusCode::CREATED,
        "keys fetched once the JWKS answers"
    );

    // Down again later: the last good keys stay in use.
    tenant.state.jwks_fails.store(true, Ordering::SeqCst);
    let before = tenant.jwks_requests();
    for _ in 0..50 {
        if tenant.jwks_requests() > before + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        tenant.jwks_requests() > before + 1,
        "refreshes failed meanwhile"
    );
    assert_eq!(
        upload().await.status(),
        StatusCode::CREATED,
        "last good keys kept"
    );
    // A token signed with a key the tenant never published is still refused, and says so.
    let stranger = auth0::sign_with(&tenant.claims(USER), "rotated-key", &auth0::stranger_key());
    let res = post_raw(
        &app,
        &user_path(USER),
        "image/jpeg",
        fixture("orientation-1.jpg"),
        Some(&stranger),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let error: Value = res.json().await.expect("JSON");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown key")),
        "{error}"
    );
    app.stop().await;
    tenant.stop().await;
}

// --- the folder store's disk full ---------------------------------------------------------

/// A 1 MiB tmpfs, unmounted on drop; `None` (and a message) where the tests cannot mount and
/// need not (see `common::missing`).
struct SmallDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(Self {
                path: dir.path().to_owned(),
                _dir: dir,
            }),
            Ok(out) => {
                common::missing(
                    "VISAGE_TEST_REQUIRE_TMPFS",
                    &format!(
                        "the disk-full test cannot mount a tmpfs (it needs root): {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                );
                None
            }
            Err(err) => {
                common::missing(
                    "VISAGE_TEST_REQUIRE_TMPFS",
                    &format!("the disk-full test has no mount command: {err}"),
                );
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

/// Writes zeros into `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("filler");
    let block = [0_u8; 4096];
    loop {
        match file.write_all(&block) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::StorageFull => break,
            Err(err) if err.raw_os_error() == Some(28) => break, // ENOSPC
            Err(err) => panic!("filling the disk: {err}"),
        }
    }
}

#[actix_web::test]
async fn disk_full_is_503_and_leaves_no_partial_file() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let root = disk.path.join("store");
    let root_text = root.to_str().expect("utf-8").to_owned();
    let app = TestApp::spawn(&[
        ("server.dev", "true"),
        ("storage.fs.root", root_text.as_str()),
    ])
    .await;
    let filler = disk.path.join("filler");
    fill(&filler);
    let res = post_raw(
        &app,
        &user_path("auth0|disk"),
        "image/jpeg",
        fixture("orientation-1.jpg"),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    let error: Value = res.json().await.expect("JSON");
    assert_eq!(error["error"], "storage_unavailable");
    assert_eq!(files_under(&root), Vec::<String>::new(), "no partial file");
    // Space again: the same upload is stored whole.
    std::fs::remove_file(&filler).expect("free the disk");
    let res = post_raw(
        &app,
        &user_path("auth0|disk"),
        "image/jpeg",
        fixture("orientation-1.jpg"),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let answer: Value = res.json().await.expect("JSON");
    let stored = std::fs::read(root.join(answer["key"].as_str().expect("key"))).expect("stored");
    assert_eq!(sha256_hex(&stored), answer["sha256"]);
    app.stop().await;
    drop(disk);
}
