//! Health, readiness, metrics, OpenAPI, the JSON error shape, settings and shutdown.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, TestApp};

async fn json(res: reqwest::Response) -> Value {
    res.json().await.expect("json body")
}

#[actix_web::test]
async fn health_and_readiness_on_the_folder_store() {
    let app = TestApp::spawn(&[]).await;
    for path in ["/healthz", "/readyz"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
    }
    let head = app
        .client
        .head(app.url("/healthz"))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    app.stop().await;
}

#[actix_web::test]
async fn errors_are_contract_json_for_unknown_routes_and_methods() {
    let app = TestApp::spawn(&[]).await;
    let res = app.get("/no/such/route").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/json")
    );
    let body = json(res).await;
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));

    let res = app
        .client
        .post(app.url("/healthz"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 405);
    assert_eq!(json(res).await["error"], "bad_request");
    app.stop().await;
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn(&[]).await;
    for _ in 0..3 {
        app.get("/healthz").await;
    }
    app.get("/nowhere").await;
    let text = app.get("/metrics").await.text().await.expect("text");
    assert!(
        text.contains(
            r#"visage_http_requests_total{method="GET",route="/healthz",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains("visage_http_request_duration_seconds_bucket"),
        "{text}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn openapi_describes_every_contract_path() {
    let app = TestApp::spawn(&[]).await;
    let doc = json(app.get("/openapi.json").await).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    // The repository's copy of the contract; where the shared original sits beside the clone,
    // the copy must not have drifted from it.
    let api_md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md"))
        .expect("docs/API.md");
    if let Ok(shared) =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/API.md"))
    {
        assert_eq!(api_md, shared, "docs/API.md differs from ../shared/API.md");
    }
    let paths = doc["paths"].as_object().expect("paths");
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert!(paths.contains_key(path), "{path} missing from openapi.json");
    }
    for (path, _) in paths {
        let first_segment = path.split('/').nth(1).unwrap_or_default();
        assert!(
            api_md.contains(&format!("/{first_segment}")),
            "{path} is not in API.md"
        );
    }
    app.stop().await;
}

#[actix_web::test]
async fn readyz_is_200_on_garage_and_503_within_10s_of_killing_it() {
    if common::garage().is_none() {
        return;
    }
    // A Garage of this test's own, so killing it leaves the shared one alone.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/garage.sh");
    let out = Command::new(script)
        .args(["start", dir.path().to_str().expect("utf-8")])
        .output()
        .expect("garage.sh runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vars: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .expect(name)
    };
    let app = TestApp::spawn(&[
        ("storage.backend", "s3"),
        ("storage.s3.endpoint", &var("VISAGE_TEST_S3_ENDPOINT")),
        ("storage.s3.region", "garage"),
        ("storage.s3.bucket", &var("VISAGE_TEST_S3_BUCKET")),
        (
            "storage.s3.access_key_id",
            &var("VISAGE_TEST_S3_ACCESS_KEY_ID"),
        ),
        (
            "storage.s3.secret_access_key",
            &var("VISAGE_TEST_S3_SECRET_ACCESS_KEY"),
        ),
        ("storage.s3.attempt_timeout_secs", "1"),
        ("storage.s3.operation_timeout_secs", "2"),
    ])
    .await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    // SIGKILL: a graceful stop would keep serving our pooled keep-alive connection.
    let killed = Command::new("kill")
        .args(["-KILL", &var("VISAGE_TEST_GARAGE_PID")])
        .status()
        .expect("kill");
    assert!(killed.success());
    let killed_at = Instant::now();
    let mut status = 200;
    while killed_at.elapsed() < Duration::from_secs(10) {
        status = app.get("/readyz").await.status().as_u16();
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, 503, "readyz still {status} 10 s after Garage died");
    let res = app.get("/readyz").await;
    assert_eq!(
        res.headers().get("retry-after").map(|v| v.to_str().ok()),
        Some(Some("5"))
    );
    assert_eq!(json(res).await["error"], "storage_unavailable");
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.stop().await;
}

fn visage_binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_visage"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

#[test]
fn a_bad_setting_is_refused_with_its_key_named() {
    let out = visage_binary()
        .env("VISAGE__STORAGE__BACKEND", "bogus")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"storage.backend: expected "fs" or "s3", got "bogus""#),
        "{stderr}"
    );
}

#[test]
fn help_explains_the_command() {
    let out = visage_binary().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "--config", "--dev", "VISAGE__"] {
        assert!(text.contains(word), "--help lacks {word}: {text}");
    }
}

#[test]
fn sigterm_ends_the_process_with_status_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = visage_binary()
        .arg("serve")
        .env("VISAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("VISAGE__STORAGE__FS__ROOT", dir.path())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    // The socket is bound before the signal handlers are installed, so wait for an answer,
    // not for a connection: a SIGTERM in that gap would be an ordinary, unhandled kill.
    while !healthz_answers(port) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never served /healthz"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// One blocking `GET /healthz`; true when it answers 200.
fn healthz_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && head.ends_with(b" 200")
}
