//! What deployments lean on: `server.metrics_bind` and the `visage healthcheck [--ready]` command.

use std::net::TcpListener;
use std::process::{Command, Output};

use crate::common::TestApp;

/// A loopback address that nothing listens on right now (bound, then released).
fn free_addr() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// The built `visage` binary, with only the settings given here (plus PATH).
fn visage(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_visage"));
    command.args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied());
    command.output().expect("visage runs")
}

/// `visage healthcheck` run off the async runtime, as a container runtime would run it.
async fn healthcheck(args: &'static [&'static str], bind: String) -> Output {
    tokio::task::spawn_blocking(move || visage(args, &[("VISAGE__SERVER__BIND", bind.as_str())]))
        .await
        .expect("healthcheck thread")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[actix_web::test]
async fn metrics_bind_moves_metrics_to_their_own_listener() {
    let metrics_addr = free_addr();
    let app = TestApp::spawn(&[("server.metrics_bind", &metrics_addr.to_string())]).await;
    assert_eq!(app.get("/healthz").await.status(), 200);

    let public = app.get("/metrics").await;
    assert_eq!(
        public.status(),
        404,
        "/metrics must leave the public listener"
    );
    let body: serde_json::Value = public.json().await.expect("json");
    assert_eq!(body["error"], "not_found");

    let scraped = app
        .client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .expect("metrics listener answers");
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        scraped.headers()
    );
    let text = scraped.text().await.expect("text");
    // The same registry as the public listener's requests: the /healthz above is counted.
    assert!(
        text.lines()
            .any(|line| line.starts_with("visage_http_requests_total{")
                && line.contains("route=\"/healthz\"")),
        "{text}"
    );

    // Only metrics there: the public routes stay on the public listener.
    let other = app
        .client
        .get(format!("http://{metrics_addr}/healthz"))
        .send()
        .await
        .expect("metrics listener answers");
    assert_eq!(other.status(), 404);
    app.stop().await;
}

#[actix_web::test]
async fn the_metrics_listener_closes_with_the_server() {
    let metrics_addr = free_addr();
    let app = TestApp::spawn(&[("server.metrics_bind", &metrics_addr.to_string())]).await;
    let client = reqwest::Client::new();
    let url = format!("http://{metrics_addr}/metrics");
    assert_eq!(client.get(&url).send().await.expect("up").status(), 200);
    app.stop().await;
    // The stop is asynchronous (a worker finishes, then the listener closes): poll, bounded.
    let mut closed = false;
    for _ in 0..100 {
        if TcpListener::bind(metrics_addr).is_ok() {
            closed = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(closed, "the metrics listener still holds {metrics_addr}");
}

#[actix_web::test]
async fn without_metrics_bind_the_public_listener_serves_metrics() {
    let app = TestApp::spawn(&[]).await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[test]
fn metrics_bind_is_validated() {
    let bad = visage(&["gc"], &[("VISAGE__SERVER__METRICS_BIND", "localhost")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("server.metrics_bind"),
        "{}",
        text(&bad.stderr)
    );
    let same = visage(
        &["gc"],
        &[
            ("VISAGE__SERVER__BIND", "127.0.0.1:8080"),
            ("VISAGE__SERVER__METRICS_BIND", "127.0.0.1:8080"),
        ],
    );
    assert_eq!(same.status.code(), Some(2));
    assert!(
        text(&same.stderr).contains("must differ"),
        "{}",
        text(&same.stderr)
    );
}

#[actix_web::test]
async fn healthcheck_passes_against_a_serving_instance() {
    let app = TestApp::spawn(&[]).await;
    // TestApp binds its own listener (`base`); the check is told that address as server.bind.
    let addr = app.base.trim_start_matches("http://").to_owned();
    let out = healthcheck(&["healthcheck"], addr.clone()).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("/healthz"),
        "{}",
        text(&out.stdout)
    );
    let ready = healthcheck(&["healthcheck", "--ready"], addr).await;
    assert_eq!(ready.status.code(), Some(0), "{}", text(&ready.stderr));
    assert!(
        text(&ready.stdout).contains("/readyz"),
        "{}",
        text(&ready.stdout)
    );
    app.stop().await;
}

#[actix_web::test]
async fn healthcheck_asks_loopback_for_a_wildcard_bind() {
    let app = TestApp::spawn(&[]).await;
    let port = app.base.rsplit(':').next().expect("port").to_owned();
    let out = healthcheck(&["healthcheck"], format!("0.0.0.0:{port}")).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("127.0.0.1:{port}")),
        "{}",
        text(&out.stdout)
    );
    app.stop().await;
}

#[actix_web::test]
async fn healthcheck_ready_fails_while_storage_does_not_answer() {
    // An S3 endpoint where nothing listens: the process serves, storage does not answer.
    let dead = free_addr();
    let endpoint = format!("http://{dead}");
    let app = TestApp::spawn(&[
        ("storage.backend", "s3"),
        ("storage.s3.endpoint", &endpoint),
        ("storage.s3.bucket", "none"),
        ("storage.s3.region", "garage"),
        ("storage.s3.access_key_id", "GK000000000000000000000000"),
        ("storage.s3.secret_access_key", "0000"),
        ("storage.s3.force_path_style", "true"),
        ("storage.s3.attempt_timeout_secs", "1"),
        ("storage.s3.operation_timeout_secs", "1"),
    ])
    .await;
    assert_eq!(app.get("/readyz").await.status(), 503);
    let addr = app.base.trim_start_matches("http://").to_owned();
    let live = healthcheck(&["healthcheck"], addr.clone()).await;
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    let ready = healthcheck(&["healthcheck", "--ready"], addr).await;
    assert_eq!(ready.status.code(), Some(1));
    assert!(
        text(&ready.stderr).contains("/readyz") && text(&ready.stderr).contains("503"),
        "{}",
        text(&ready.stderr)
    );
    app.stop().await;
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let dead = free_addr();
    let out = visage(
        &["healthcheck"],
        &[("VISAGE__SERVER__BIND", &dead.to_string())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("cannot reach {dead}")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn healthcheck_fails_when_the_listener_never_answers() {
    // Accepts (the kernel's backlog does) but never answers: the check's own timeout ends it.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr").to_string();
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(visage(&["healthcheck"], &[("VISAGE__SERVER__BIND", &addr)]));
    });
    // A bound on a hang, far above the check's own timeout: not a measurement.
    let out = outcome
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the healthcheck gave up on a silent listener");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/healthz"),
        "{}",
        text(&out.stderr)
    );
    drop(silent);
}

#[test]
fn healthcheck_with_invalid_settings_exits_1_not_2() {
    let out = visage(&["healthcheck"], &[("VISAGE__SERVER__BIND", "nowhere")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("server.bind"),
        "{}",
        text(&out.stderr)
    );
}
