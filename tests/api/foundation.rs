//! Health, readiness, metrics, OpenAPI, the JSON error shape, settings and shutdown.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
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
async fn metrics_bound_methods_time_routes_upstreams_and_caches_and_show_the_process() {
    // A closed port: the avatar's upstream call fails at once and the fallback is served.
    let app = TestApp::spawn(&[("gravatar.base_url", "http://127.0.0.1:9/avatar/")]).await;
    for method in ["FOO", "BREW", "PROPFIND"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        app.client
            .request(method, app.url("/healthz"))
            .send()
            .await
            .expect("request");
    }
    assert_eq!(app.get("/initials/JD.png").await.status(), 200);
    assert_eq!(
        app.get("/avatar/0123456789abcdef0123456789abcdef?s=40")
            .await
            .status(),
        200
    );
    let text = app.get("/metrics").await.text().await.expect("text");
    let has = |needle: &str| assert!(text.contains(needle), "no {needle} in:\n{text}");
    has(r#"visage_http_requests_total{method="other",route="/healthz",status="405"} 3"#);
    for invented in ["FOO", "BREW", "PROPFIND"] {
        assert!(!text.contains(invented), "{invented} became a label");
    }
    has(r#"visage_http_request_duration_seconds_count{route="/initials/{file}",status="200"} 1"#);
    // The folder store's health checks and the failed Gravatar call are timed.
    has(
        r#"visage_upstream_request_duration_seconds_count{operation="health_check",outcome="ok",upstream="fs"}"#,
    );
    has(
        r#"visage_upstream_request_duration_seconds_count{operation="fetch",outcome="unavailable",upstream="gravatar"}"#,
    );
    has(r#"visage_cache_entries{cache="initials"}"#);
    has(r#"visage_cache_bytes{cache="gravatar"}"#);
    has(r#"visage_cache_bytes{cache="picture_variants"}"#);
    let initials_bytes: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix(r#"visage_cache_bytes{cache="initials"} "#))
        .and_then(|v| v.parse().ok())
        .expect("initials cache bytes");
    assert!(initials_bytes > 0.0, "the rendered picture is cached");
    for process in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(process)),
            "no {process} in:\n{text}"
        );
    }
    app.stop().await;
}

/// The repository's copy of the contract is the shared original, byte for byte. The original
/// lives beside the clone (`../shared/API.md`): on developers' machines and in CI, which clones
/// into a folder with a copy of `shared/` beside it. Where it is missing, the test fails under
/// `scripts/test` and CI, and says that it skips under plain `cargo test`.
#[test]
fn docs_api_md_is_the_shared_contract() {
    let original = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/API.md");
    let Ok(shared) = std::fs::read_to_string(original) else {
        common::missing(
            "VISAGE_TEST_REQUIRE_SHARED_CONTRACT",
            &format!(
                "the shared contract {original} is not beside this clone, so docs/API.md cannot be compared with it"
            ),
        );
        return;
    };
    let copy = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md"))
        .expect("docs/API.md");
    assert!(
        copy == shared,
        "docs/API.md differs from {original}: copy the contract (its first line says {:?}, the \
         copy's {:?})",
        shared.lines().next(),
        copy.lines().next()
    );
}

/// Every `METHOD /path` that docs/API.md names in backquotes, with each segment that holds a
/// `{parameter}` (and what follows it in the segment, `{text}.{png|svg}`) written `{}`.
fn contract_operations(api_md: &str) -> std::collections::BTreeSet<(String, String)> {
    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    api_md
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| {
            let (method, path) = code.split_once(' ')?;
            (METHODS.contains(&method) && path.starts_with('/') && !path.contains(' '))
                .then(|| (method.to_owned(), normalized_path(path)))
        })
        .collect()
}

fn normalized_path(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.contains('{') { "{}" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// The OpenAPI document and docs/API.md name the same operations, both ways: every method and
/// path the contract names is documented, and the document describes nothing the contract
/// does not name. (The paths are read from docs/API.md, so a contract that adds a route fails
/// this test until the route is served and described.)
#[actix_web::test]
async fn openapi_and_the_contract_name_the_same_paths_and_methods() {
    let app = TestApp::spawn(&[]).await;
    let doc = json(app.get("/openapi.json").await).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let api_md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md"))
        .expect("docs/API.md");
    let contract = contract_operations(&api_md);
    assert!(
        contract.len() >= 10,
        "too few operations read: {contract:?}"
    );
    let described: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|method| {
                    matches!(
                        method.as_str(),
                        "get" | "head" | "post" | "put" | "patch" | "delete" | "options"
                    )
                })
                .map(|method| (method.to_uppercase(), normalized_path(path)))
                .collect::<Vec<_>>()
        })
        .collect();
    let undocumented: Vec<_> = contract.difference(&described).collect();
    let uncontracted: Vec<_> = described.difference(&contract).collect();
    assert!(
        undocumented.is_empty() && uncontracted.is_empty(),
        "in docs/API.md but not in /openapi.json: {undocumented:?}; \
         in /openapi.json but not in docs/API.md: {uncontracted:?}"
    );
    app.stop().await;
}

/// Each image route's documented response types include every type it answers with: every
/// `?format=` the route takes is requested for real, and its `Content-Type` must be listed.
#[actix_web::test]
async fn openapi_lists_every_image_type_each_route_answers_with() {
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let doc = json(app.get("/openapi.json").await).await;
    let key = crate::upload::upload_test_card(&app, "auth0|openapi-types").await;
    let routes = [
        (
            "/initials/{file}",
            "/initials/Jane%20Doe.png?size=64".to_owned(),
        ),
        ("/pictures/{key}", format!("/pictures/{key}?size=64")),
    ];
    for (documented, path) in routes {
        let listed = doc["paths"][documented]["get"]["responses"]["200"]["content"]
            .as_object()
            .unwrap_or_else(|| panic!("{documented}: no 200 content"));
        for format in ["png", "jpeg", "webp", "avif"] {
            let res = app.get(&format!("{path}&format={format}")).await;
            assert_eq!(res.status(), StatusCode::OK, "{path} as {format}");
            let answered = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .expect("content type")
                .to_owned();
            assert!(
                listed.contains_key(&answered),
                "{documented} answers {answered} for format={format}, but its OpenAPI 200 lists only {:?}",
                listed.keys().collect::<Vec<_>>()
            );
        }
    }
    app.stop().await;
}

#[actix_web::test]
async fn openapi_carries_security_bodies_errors_aliases_and_types() {
    let app = TestApp::spawn(&[]).await;
    let doc = json(app.get("/openapi.json").await).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let mut errors = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let what = format!("{method} {path}");
            // The hook takes the tenant's shared secret, every other /v1 route a user's token.
            let scheme = if path == "/v1/hooks/auth0" {
                "hook_token"
            } else {
                "bearer"
            };
            let secured = operation["security"] == serde_json::json!([{ scheme: [] }]);
            assert_eq!(secured, path.starts_with("/v1/"), "{what}: security");
            for (status, response) in operation["responses"].as_object().expect("responses") {
                if status.starts_with('4') || status.starts_with('5') {
                    errors += 1;
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{what} {status}"
                    );
                }
            }
            if method == "post" && path.ends_with("/picture") {
                let body = &operation["requestBody"]["content"];
                for kind in [
                    "multipart/form-data",
                    "image/png",
                    "image/jpeg",
                    "image/webp",
                    "image/gif",
                ] {
                    assert!(body[kind].is_object(), "{what}: no {kind} body");
                }
            }
        }
    }
    assert!(errors > 10, "only {errors} error responses documented");
    let names = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect()
    };
    let avatar = names("/avatar/{hash}");
    for alias in ["s", "d", "r", "f"] {
        assert!(
            avatar.iter().any(|n| n == alias),
            "avatar lacks {alias}: {avatar:?}"
        );
    }
    assert!(names("/initials/{file}").iter().any(|n| n == "s"));
    let initials = &doc["paths"]["/initials/{file}"]["get"]["responses"]["200"]["content"];
    assert!(initials["image/png"].is_object() && initials["image/svg+xml"].is_object());
    app.stop().await;
}

/// The served document passes `@apidevtools/swagger-parser`'s validation (installed by
/// scripts/test into tests/clients/openapi).
#[actix_web::test]
async fn openapi_passes_a_real_openapi_validator() {
    let clients = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/openapi");
    if !clients
        .join("node_modules/@apidevtools/swagger-parser")
        .is_dir()
    {
        common::missing(
            "VISAGE_TEST_REQUIRE_NODE_CLIENTS",
            "tests/clients/openapi has no node_modules (swagger-parser)",
        );
        return;
    }
    let app = TestApp::spawn(&[]).await;
    let text = app
        .get("/openapi.json")
        .await
        .text()
        .await
        .expect("document");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &text).expect("write");
    let out = Command::new("node")
        .arg(clients.join("validate.mjs"))
        .arg(&file)
        .current_dir(&clients)
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(report.starts_with("valid: visage"), "{report}");

    // The validator is not a rubber stamp: a broken reference is refused.
    let broken = text.replacen(
        "#/components/schemas/ErrorBody",
        "#/components/schemas/NoSuchSchema",
        1,
    );
    std::fs::write(&file, broken).expect("write");
    let out = Command::new("node")
        .arg(clients.join("validate.mjs"))
        .arg(&file)
        .current_dir(&clients)
        .output()
        .expect("node runs");
    assert!(!out.status.success(), "a dangling $ref was accepted");
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
        stderr.contains("storage.backend: unknown variant `bogus`, expected `fs` or `s3`"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_key_stops_the_start_with_status_2_and_the_closest_key() {
    let out = visage_binary()
        .env("VISAGE__LIMITS__MAX_PIXLES", "1000")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("limits.max_pixles: unknown key (did you mean limits.max_pixels?)"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("visage.toml");
    std::fs::write(&file, "[gravatr]\nbase_url = \"https://g.example/\"\n").expect("write");
    let out = visage_binary()
        .arg("--config")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("gravatr: unknown key (did you mean gravatar?)"),
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

/// One blocking `GET path` over HTTP/1.0; its status, or `None` when nothing answers.
fn status_of(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// visage on Garage with `storage.s3.access_key_id` unset and the keys in the standard AWS
/// environment variables, as a separate process so that no test mutates this process's
/// environment. Returns the child, its port and its readiness within `wait`.
fn s3_from_aws_environment(
    secret: &str,
    wait: Duration,
) -> Option<(std::process::Child, u16, bool)> {
    let garage: std::collections::HashMap<&str, String> = common::garage()?.into_iter().collect();
    let home = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = visage_binary()
        .env("VISAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env(
            "VISAGE__SERVER__PUBLIC_URL",
            format!("http://127.0.0.1:{port}"),
        )
        .env("VISAGE__SERVER__DEV", "true")
        .env("VISAGE__STORAGE__HEALTH_INTERVAL_SECS", "1")
        .env("VISAGE__STORAGE__BACKEND", "s3")
        .env(
            "VISAGE__STORAGE__S3__ENDPOINT",
            &garage["storage.s3.endpoint"],
        )
        .env("VISAGE__STORAGE__S3__REGION", &garage["storage.s3.region"])
        .env("VISAGE__STORAGE__S3__BUCKET", &garage["storage.s3.bucket"])
        .env("AWS_ACCESS_KEY_ID", &garage["storage.s3.access_key_id"])
        .env("AWS_SECRET_ACCESS_KEY", secret)
        // No shared profile and no instance metadata on a test machine: the environment decides.
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let mut ready = false;
    while started.elapsed() < wait {
        if status_of(port, "/readyz") == Some(200) {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Some((child, port, ready))
}

#[actix_web::test]
async fn s3_credentials_come_from_the_standard_aws_environment() {
    let Some(secret) = common::garage().map(|g| {
        g.into_iter()
            .find(|(k, _)| *k == "storage.s3.secret_access_key")
            .map(|(_, v)| v)
            .expect("secret")
    }) else {
        return;
    };
    let (mut child, port, ready) =
        s3_from_aws_environment(&secret, Duration::from_secs(20)).expect("garage");
    assert!(
        ready,
        "never ready with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    );
    // A real write through those credentials.
    let upload = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/users/aws-env/picture"))
        .header("content-type", "image/jpeg")
        .body(std::fs::read(common::fixture("small-100.jpg")).expect("fixture"))
        .send()
        .await
        .expect("upload");
    let status = upload.status();
    let body = upload.text().await.unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 201, "{body}");

    // The control: a wrong secret from the environment never gets ready, and says why.
    let (mut child, _, ready) =
        s3_from_aws_environment("not-the-secret", Duration::from_secs(4)).expect("garage");
    let _ = child.kill();
    let output = child.wait_with_output().expect("output");
    assert!(!ready, "ready with a wrong secret");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("storage check failed: not ready"), "{log}");
}

/// One blocking `GET path` with an `X-Request-Id`; its status.
fn status_with_request_id(port: u16, path: &str, request_id: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nX-Request-Id: {request_id}\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// The request log (the binary's defaults: JSON, `RUST_LOG` unset): a line per request with its
/// id, method, route pattern, status and latency, and a 5xx's line with the error code and its
/// cause; every line is written out by the time the process exits on SIGTERM.
#[test]
fn the_request_log_has_id_route_status_latency_and_a_5xx_names_its_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port()
    };
    let (port, closed_port) = (free_port(), free_port());
    let child = visage_binary()
        .arg("serve")
        .env("VISAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("VISAGE__STORAGE__FS__ROOT", dir.path())
        // Nothing listens there: `d=404` then has no fallback and answers 502.
        .env(
            "VISAGE__GRAVATAR__BASE_URL",
            format!("http://127.0.0.1:{closed_port}/avatar/"),
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while !healthz_answers(port) {
        assert!(started.elapsed() < Duration::from_secs(20), "never served");
        std::thread::sleep(Duration::from_millis(50));
    }
    let hash = "a".repeat(64);
    assert_eq!(
        status_with_request_id(port, "/initials/Jane%20Doe.png?size=64", "log-test-ok"),
        Some(200)
    );
    assert_eq!(
        status_with_request_id(port, &format!("/avatar/{hash}?d=404"), "log-test-5xx"),
        Some(502)
    );
    assert_eq!(
        status_with_request_id(port, "/nowhere", "log-test-404"),
        Some(404)
    );
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line_of = |id: &str| -> Value {
        let lines: Vec<Value> = stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["request_id"] == id)
            .collect();
        assert_eq!(lines.len(), 1, "one line for {id} in:\n{stderr}");
        lines.into_iter().next().expect("one line")
    };
    let ok = line_of("log-test-ok");
    assert_eq!(ok["message"], "request served");
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["route"], "/initials/{file}");
    assert_eq!(ok["status"], 200);
    assert!(
        ok["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{ok}"
    );
    assert!(
        ok["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{ok}"
    );
    assert!(ok.get("error").is_none(), "{ok}");

    let failed = line_of("log-test-5xx");
    assert_eq!(failed["route"], "/avatar/{file}");
    assert_eq!(failed["status"], 502);
    assert_eq!(failed["error"], "upstream_unavailable");
    let cause = failed["cause"].as_str().unwrap_or_default();
    assert!(!cause.is_empty(), "a 5xx names its cause: {failed}");

    let unmatched = line_of("log-test-404");
    assert_eq!(unmatched["route"], "unmatched");
    assert_eq!(unmatched["status"], 404);
}

/// The `<img src>` routes are prefix scopes (no regex per request): they still answer only
/// GET and HEAD, and only a single file segment under their prefix.
#[actix_web::test]
async fn image_routes_answer_get_and_head_on_one_file_segment_only() {
    let app = TestApp::spawn(&[]).await;
    for path in ["/avatar/abc", "/initials/JD.png", "/pictures/u/a/b.jpg"] {
        let res = app.client.post(app.url(path)).send().await.expect("post");
        assert_eq!(res.status(), 405, "{path}");
        assert_eq!(
            res.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some("GET, HEAD"),
            "{path}"
        );
        assert_eq!(json(res).await["error"], "bad_request", "{path}");
    }
    for path in [
        "/avatar",
        "/avatarx/abc",
        "/avatar/abc/def",
        "/initials",
        "/initials/J/D.png",
        "/initialsx/JD.png",
        "/pictures",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(json(res).await["error"], "not_found", "{path}");
    }
    assert_eq!(app.get("/avatar/").await.status(), 200);
    assert_eq!(app.get("/initials/JD.png").await.status(), 200);
    let head = app
        .client
        .head(app.url("/initials/JD.png"))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    app.stop().await;
}
