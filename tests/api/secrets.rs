//! No secret reaches the logs: the real binary, with a known access token, Auth0 client secret,
//! S3 secret and email going through every route and failure path, in both log formats with
//! the request log on (and `RUST_LOG=debug`); its whole stderr must contain none of them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common;
use crate::common::auth0::{self, FakeTenant, KID};
use crate::common::auth0_mgmt::MgmtStandIn;
use crate::common::gravatar::FakeGravatar;
use crate::upload::{fixture, user_path};

const EMAIL: &str = "jane.secret-doe@example.com";
const EMAIL_ENCODED: &str = "jane.secret-doe%40example.com";
const CLIENT_SECRET: &str = "cs-9f2c41d7e8b3a6055f1e2d3c4b5a6978-known";
/// An S3 secret that Garage does not know: the failing run's store answers 403 to it.
const WRONG_S3_SECRET: &str = "s3-3b1d0c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c-wrong";
const USER: &str = "auth0|secrets-7c1e";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The binary on `port` with `settings` as VISAGE__… variables, stderr into `log`.
fn spawn_visage(settings: &[(&str, String)], port: u16, format: &str, log: &Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_visage"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "debug")
        .env("VISAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env(
            "VISAGE__SERVER__PUBLIC_URL",
            format!("http://127.0.0.1:{port}"),
        )
        .env("VISAGE__SERVER__LOG_FORMAT", format)
        .env("VISAGE__SERVER__WORKERS", "2")
        .env("VISAGE__SERVER__SHUTDOWN_TIMEOUT_SECS", "2")
        .env("VISAGE__STORAGE__HEALTH_INTERVAL_SECS", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    for (key, value) in settings {
        command.env(
            format!("VISAGE__{}", key.replace('.', "__").to_uppercase()),
            value,
        );
    }
    command.spawn().expect("visage starts")
}

/// SIGTERM, then the exit (which flushes the logs).
fn stop(mut child: Child) {
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "visage exits cleanly: {status:?}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("visage did not exit within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn await_listening(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "visage did not listen within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What works in a run: everything, or one side failing so that its error paths run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Healthy,
    /// The Management API refuses the client's tokens; Gravatar answers 500.
    UpstreamsFailing,
    /// The S3 secret is wrong: the store answers 403 to everything.
    StorageFailing,
}

/// Every route, with the secrets in the places a client or an upstream puts them.
#[allow(clippy::too_many_lines)] // one table of requests, read top to bottom
async fn exercise(base: &str, tenant: &FakeTenant, token: &str, scenario: Scenario) {
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("request")
        }
    };
    let md5 = "4a1d7c59e9e1f3b3c1a6c6e3f0f8d2b7"; // any hash: the stand-in has no picture
    for path in [
        "/healthz".to_owned(),
        "/readyz".to_owned(),
        "/metrics".to_owned(),
        "/openapi.json".to_owned(),
        "/".to_owned(),
        format!("/initials/{EMAIL_ENCODED}.png?size=64"),
        format!("/initials/{EMAIL}.svg"),
        format!("/avatar/{md5}?d=initials&name={EMAIL_ENCODED}"),
        format!("/avatar/?name={EMAIL_ENCODED}&d=404"),
        format!("/pictures/u/{EMAIL_ENCODED}/x.jpg"),
        format!("/no/such/route?email={EMAIL_ENCODED}&token={token}"),
    ] {
        let res = get(path.clone()).await;
        let status = res.status().as_u16();
        assert!(
            status < 500 || (scenario == Scenario::StorageFailing && path == "/readyz"),
            "{scenario:?} {path}: {status}"
        );
    }
    let upload = |path: String, bearer: String, body: Vec<u8>, kind: &'static str| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            http.post(url)
                .header("content-type", kind)
                .header("authorization", bearer)
                .body(body)
                .send()
                .await
                .expect("upload")
        }
    };
    let jpeg = fixture("small-100.jpg");
    let expired = auth0::sign(
        &json!({"iss": tenant.issuer, "aud": auth0::AUDIENCE, "sub": USER, "email": EMAIL,
                "iat": auth0::now() - 7200, "exp": auth0::now() - 3600}),
        KID,
    );
    let (stored, deleted) = match scenario {
        Scenario::Healthy => (201, 204),
        Scenario::UpstreamsFailing => (502, 502),
        Scenario::StorageFailing => (503, 503),
    };
    let bearer = format!("Bearer {token}");
    let res = upload(
        "/v1/me/picture".into(),
        bearer.clone(),
        jpeg.clone(),
        "image/jpeg",
    )
    .await;
    assert_eq!(res.status().as_u16(), stored, "{scenario:?}: upload");
    for (authorization, what) in [
        (format!("Bearer {expired}"), "expired token"),
        (format!("Bearer {token}x"), "bad signature"),
        (
            format!("Bearer {CLIENT_SECRET}"),
            "a secret pasted as a token",
        ),
        (format!("Basic {CLIENT_SECRET}"), "another scheme"),
        (token.to_owned(), "no scheme"),
    ] {
        let res = upload(user_path(USER), authorization, jpeg.clone(), "image/jpeg").await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{scenario:?}: {what}"
        );
    }
    // Another user's picture (403), an unreadable picture (422), an unsupported type (415).
    let res = upload(user_path(EMAIL), bearer.clone(), jpeg, "image/jpeg").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let truncated = fixture("truncated.jpg");
    let res = upload(
        "/v1/me/picture".into(),
        bearer.clone(),
        truncated,
        "image/jpeg",
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = fixture("page.html");
    let res = upload("/v1/me/picture".into(), bearer, html, "text/html").await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = http
        .delete(format!("{base}/v1/me/picture"))
        .bearer_auth(token)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status().as_u16(), deleted, "{scenario:?}: delete");
}

/// The secrets a log could leak, with what each is.
fn secrets(token: &str, s3_secret: &str) -> Vec<(&'static str, String)> {
    let signature = token.rsplit('.').next().expect("a JWT").to_owned();
    vec![
        ("the access token", token.to_owned()),
        ("the access token's signature", signature),
        ("the Auth0 client secret", CLIENT_SECRET.to_owned()),
        ("the S3 secret", s3_secret.to_owned()),
        ("the wrong S3 secret", WRONG_S3_SECRET.to_owned()),
        ("the email", EMAIL.to_owned()),
        ("the percent-encoded email", EMAIL_ENCODED.to_owned()),
    ]
}

#[actix_web::test]
async fn no_token_secret_or_email_reaches_the_logs_on_any_route_or_failure() {
    let Some(garage) = common::garage() else {
        return;
    };
    let tenant = FakeTenant::start().await;
    let s3_secret = garage
        .iter()
        .find(|(k, _)| *k == "storage.s3.secret_access_key")
        .map(|(_, v)| v.clone())
        .expect("S3 secret");
    let mut claims = tenant.claims(USER);
    claims["email"] = json!(EMAIL);
    claims["name"] = json!(EMAIL);
    let token = auth0::sign(&claims, KID);
    let logs = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    for format in ["text", "json"] {
        for scenario in [
            Scenario::Healthy,
            Scenario::UpstreamsFailing,
            Scenario::StorageFailing,
        ] {
            // Fresh stand-ins per run: each run's failures are its own.
            let mgmt = MgmtStandIn::start();
            let gravatar = FakeGravatar::start().await;
            let mut settings: Vec<(&str, String)> = garage
                .iter()
                .filter(|(k, _)| *k != "storage.s3.secret_access_key")
                .cloned()
                .collect();
            let secret = if scenario == Scenario::StorageFailing {
                WRONG_S3_SECRET
            } else {
                s3_secret.as_str()
            };
            settings.push(("storage.s3.secret_access_key", secret.to_owned()));
            settings.extend(tenant.overrides());
            settings.extend(
                mgmt.overrides()
                    .into_iter()
                    .filter(|(k, _)| *k != "auth0.management.client_secret"),
            );
            settings.push(("auth0.management.client_secret", CLIENT_SECRET.to_owned()));
            settings.push(("auth0.management.timeout_secs", "2".to_owned()));
            settings.push(("gravatar.base_url", gravatar.base_url.clone()));
            if scenario == Scenario::UpstreamsFailing {
                mgmt.refuse_all_tokens();
                gravatar.set_failing(true);
            }
            let port = free_port();
            let log = logs.path().join(format!("{format}-{scenario:?}.log"));
            let child = spawn_visage(&settings, port, format, &log);
            let base = format!("http://127.0.0.1:{port}");
            await_listening(&http, &base).await;
            exercise(&base, &tenant, &token, scenario).await;
            stop(child);
            gravatar.stop().await;
            mgmt.stop().await;
            let text = std::fs::read_to_string(&log).expect("log");
            // The logs were really written: the request log's lines, in this format.
            assert!(
                text.contains("/v1/me/picture") && text.contains("/initials/"),
                "{format} {scenario:?}: no request log lines in:\n{text}"
            );
            if format == "json" {
                assert!(
                    text.lines().all(|l| l.starts_with('{')),
                    "{scenario:?}: not JSON lines:\n{text}"
                );
            }
            for (what, secret) in secrets(&token, &s3_secret) {
                if let Some(at) = text.find(&secret) {
                    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
                    let line_end = text[at..].find('\n').map_or(text.len(), |n| at + n);
                    panic!(
                        "{what} is in the {format} log of the {scenario:?} run:\n{}",
                        &text[line_start..line_end]
                    );
                }
            }
        }
    }
    tenant.stop().await;
}
