//! Hostile clients at the upload routes: a body trickled in slower than
//! `limits.upload_body_secs` is cut with 408, and one user's uploads and deletes beyond
//! `limits.uploads_per_minute` get 429 with `Retry-After` while other users go on.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestApp;
use crate::upload::{fixture, pictures_under, post_raw, user_path};

/// Sends the headers of a 100 kB upload, then 64 bytes every 250 ms, and returns everything the
/// server answered until it closed the connection (`None`: it never closed within 30 s).
fn trickle_upload(base: &str) -> Option<String> {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST /v1/me/picture HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("headers");
    let mut writer = stream.try_clone().expect("clone");
    std::thread::spawn(move || {
        let chunk = [0xFF_u8; 64];
        for _ in 0..120 {
            if writer.write_all(&chunk).is_err() {
                return; // closed by the server: what the test expects
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    // A liveness bound for the test, not a timing assertion: the limit is 2 s.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut answer = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            // A reset after the answer is a close too (the server had unread bytes).
            Err(err) if err.kind() == ErrorKind::ConnectionReset && !answer.is_empty() => {
                return Some(String::from_utf8_lossy(&answer).into_owned());
            }
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(err) => panic!("read failed: {err}"),
        }
    }
}

#[actix_web::test]
async fn a_trickled_body_is_cut_with_408_and_the_connection_closes() {
    let app = TestApp::spawn(&[("server.dev", "true"), ("limits.upload_body_secs", "2")]).await;
    let base = app.base.clone();
    let answer = tokio::task::spawn_blocking(move || trickle_upload(&base))
        .await
        .expect("client thread")
        .expect("the server closed the connection");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let error: Value = serde_json::from_str(body).expect("JSON error body");
    assert_eq!(error["error"], "request_timeout", "{answer}");
    assert!(
        error["message"].as_str().is_some_and(|m| m.contains("2 s")),
        "{answer}"
    );
    assert!(
        pictures_under(app.data.path())
            .iter()
            .all(|f| !f.contains("/u/")),
        "nothing stored"
    );
    // The service goes on, and a body that arrives in time is accepted.
    let ok = post_raw(
        &app,
        "/v1/me/picture",
        "image/jpeg",
        fixture("orientation-1.jpg"),
        None,
    )
    .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    app.stop().await;
}

#[actix_web::test]
async fn uploads_and_deletes_beyond_the_per_user_limit_get_429_with_retry_after() {
    let app = TestApp::spawn(&[("server.dev", "true"), ("limits.uploads_per_minute", "3")]).await;
    let picture = fixture("orientation-1.jpg");
    let jane = user_path("auth0|jane");
    for i in 0..3 {
        let res = post_raw(&app, &jane, "image/jpeg", picture.clone(), None).await;
        assert_eq!(res.status(), StatusCode::CREATED, "upload {i}");
    }
    let refused = post_raw(&app, &jane, "image/jpeg", picture.clone(), None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    // 3 a minute: one every 20 s once the burst is spent.
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    let error: Value = refused.json().await.expect("JSON");
    assert_eq!(error["error"], "too_many_requests");
    // Deletes count against the same budget.
    let delete = app
        .client
        .delete(app.url(&jane))
        .send()
        .await
        .expect("delete");
    assert_eq!(delete.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(delete.headers().contains_key("retry-after"));
    // Another user is not affected: uploads, then deletes.
    let john = user_path("auth0|john");
    let res = post_raw(&app, &john, "image/jpeg", picture, None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let delete = app
        .client
        .delete(app.url(&john))
        .send()
        .await
        .expect("delete");
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

/// Regression from `fuzz/regressions/upload_body/hang-multipart-d47e16a9` (selector byte, then a
/// multipart body with boundary `XyZ`): the fuzzer saw the body reader never finish on it. Over
/// HTTP it is a 400 that says why, at once, not the 408 of `limits.upload_body_secs`.
#[actix_web::test]
async fn the_fuzzed_multipart_hang_is_answered() {
    // The default body limit (60 s): the answer must not come from it.
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let input = regression_input("hang-multipart-d47e16a9");
    let res = app
        .client
        .post(app.url("/v1/me/picture"))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(input[1..].to_vec())
        // A liveness bound for the test, not a timing assertion.
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("an answer, not a hang");
    assert_eq!(res.status(), 400);
    let error: Value = res.json().await.expect("JSON error");
    assert_eq!(error["error"], "bad_request", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("closing boundary")),
        "{error}"
    );
    app.stop().await;
}

/// Regression from `fuzz/regressions/upload_body/crash-short-boundary-8bb57e36`: actix-multipart
/// panicked on this body (a 3-character boundary and a short line before it). Over HTTP it is a
/// 400, and the worker that read it still serves.
#[actix_web::test]
async fn the_fuzzed_multipart_panic_is_a_400_and_the_worker_keeps_serving() {
    // One worker: the next request is served by the very worker that read the body.
    let app = TestApp::spawn(&[("server.dev", "true"), ("server.workers", "1")]).await;
    let input = regression_input("crash-short-boundary-8bb57e36");
    for _ in 0..3 {
        let res = app
            .client
            .post(app.url("/v1/me/picture"))
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(input[1..].to_vec())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("an answer");
        assert_eq!(res.status(), 400);
        let error: Value = res.json().await.expect("JSON error");
        assert_eq!(error["error"], "bad_request", "{error}");
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    app.stop().await;
}

/// A fuzz finding kept in `fuzz/regressions/upload_body/` (selector byte, then the body).
fn regression_input(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/upload_body")
            .join(name),
    )
    .expect("regression input")
}
