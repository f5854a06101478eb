//! Uploads over HTTP: the body table (sizes, types, multipart), storage on the folder store and
//! on Garage, dev mode, idempotent repeats and deletes.

use std::path::Path;
use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{self, TestApp};

/// A fixture's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::fixture(name)).expect("fixture")
}

/// `/v1/users/{user_id}/picture` with the id percent-encoded as one segment.
pub fn user_path(user_id: &str) -> String {
    format!(
        "/v1/users/{}/picture",
        utf8_percent_encode(user_id, NON_ALPHANUMERIC)
    )
}

/// Sends `body` as a raw upload with `content_type`, and `token` if any.
pub async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("request")
}

/// Uploads the test card (`orientation-3.jpg`: red top-left once upright) for `user` in dev mode
/// and returns its key.
pub async fn upload_test_card(app: &TestApp, user: &str) -> String {
    let res = post_raw(
        app,
        &user_path(user),
        "image/jpeg",
        fixture("orientation-3.jpg"),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    body["key"].as_str().expect("key").to_owned()
}

/// Waits until every file under `dir` was last modified more than `age` ago (a folder store's
/// objects: their time is the file's): a test gets past a grace by the clock the cleanup reads,
/// not by sleeping "long enough".
pub async fn until_all_older_than(dir: &Path, age: Duration) {
    let newest = files_under(dir)
        .iter()
        .filter_map(|file| std::fs::metadata(file).and_then(|m| m.modified()).ok())
        .max()
        .expect("stored files");
    while std::time::SystemTime::now() <= newest + age {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The stored pictures (masters and variants) of a folder store rooted at `dir`: every file
/// under its `u/` (the directory's records live beside it, under `users/` and `emails/`).
pub fn pictures_under(dir: &Path) -> Vec<String> {
    let pictures = dir.join("u");
    if pictures.exists() {
        files_under(&pictures)
    } else {
        Vec::new()
    }
}

/// Every regular file under `dir`, recursively (hidden temporary folders included).
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn multipart(parts: &[(&str, Option<&str>, &[u8])], boundary: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(
            format!("Content-Disposition: {disposition}\r\nContent-Type: image/jpeg\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// Sends a body of `len` bytes over a raw connection and returns the answer's status. Declared:
/// only the head goes out (the answer must come without the body). Chunked: 1 MiB chunks are
/// written while the answer is read, since a server that stops reading at the limit answers
/// before the client is done (an HTTP client library would report the broken pipe instead).
async fn send_oversized(
    app: &TestApp,
    path: &str,
    content_type: &str,
    len: usize,
    chunked: bool,
) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (read, mut write) = stream.into_split();
    let length = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {len}")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n{length}\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await.expect("head");
    let writer = tokio::spawn(async move {
        if chunked {
            let chunk = vec![0xAB_u8; 1024 * 1024];
            for _ in 0..len / chunk.len() {
                let size = format!("{:x}\r\n", chunk.len());
                let framed = [size.as_bytes(), &chunk, b"\r\n"].concat();
                if write.write_all(&framed).await.is_err() {
                    return; // the server stopped reading: expected
                }
            }
            let _ = write.write_all(b"0\r\n\r\n").await;
        }
        // Keep the write half open until the answer is read.
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    });
    let mut status_line = String::new();
    BufReader::new(read)
        .read_line(&mut status_line)
        .await
        .expect("status line");
    writer.abort();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"))
}

async fn dev_app() -> TestApp {
    TestApp::spawn(&[("server.dev", "true")]).await
}

#[actix_web::test]
async fn bad_bodies_are_refused_and_leave_nothing_behind() {
    let app = dev_app().await;
    let path = user_path("auth0|body-table");
    let jpeg = fixture("orientation-1.jpg");
    let form = "multipart/form-data; boundary=XyZ";
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode)> = vec![
        (
            "SVG as image/svg+xml",
            "image/svg+xml",
            fixture("image.svg"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "HTML as image/png",
            "image/png",
            fixture("page.html"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "PDF as image/jpeg",
            "image/jpeg",
            fixture("document.pdf"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "a JPEG as application/json",
            "application/json",
            jpeg.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "1x1 PNG",
            "image/png",
            fixture("one-pixel.png"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty body",
            "image/png",
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "truncated JPEG",
            "image/jpeg",
            fixture("truncated.jpg"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "pixel flood",
            "image/png",
            fixture("pixel-flood-100000.png"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "multipart without a file part",
            form,
            multipart(&[("name", None, b"jane")], "XyZ"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "multipart with two file parts",
            form,
            multipart(
                &[
                    ("picture", Some("a.jpg"), &jpeg),
                    ("file", Some("b.jpg"), &jpeg),
                ],
                "XyZ",
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "malformed multipart",
            form,
            b"--NotTheBoundary\r\ngarbage".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "multipart without a boundary",
            "multipart/form-data",
            jpeg.clone(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (what, content_type, body, expected) in cases {
        let res = post_raw(&app, &path, content_type, body, None).await;
        assert_eq!(res.status(), expected, "{what}");
        let json: Value = res.json().await.expect("json error");
        assert!(
            json["error"].is_string() && json["message"].is_string(),
            "{what}: {json}"
        );
    }

    // Over the limit: declared (refused before a single body byte is sent) and chunked (cut
    // while streaming), as a raw image and as a form.
    for (what, content_type, chunked) in [
        ("11 MiB declared", "image/jpeg", false),
        ("11 MiB form declared", form, false),
        ("11 MiB chunked", "image/jpeg", true),
        ("11 MiB form chunked", form, true),
    ] {
        let status = send_oversized(&app, &path, content_type, 11 * 1024 * 1024, chunked).await;
        assert_eq!(status, 413, "{what}");
    }

    assert_eq!(
        pictures_under(app.data.path()),
        Vec::<String>::new(),
        "nothing stored"
    );
    assert_eq!(app.get("/healthz").await.status(), 200, "still serving");
    let ok = post_raw(&app, &path, "image/jpeg", jpeg, None).await;
    assert_eq!(ok.status(), StatusCode::CREATED, "and still uploading");
    app.stop().await;
}

/// Uploads through multipart (as a browser form) and checks the 201 body against the store.
async fn upload_and_check(app: &TestApp, user_id: &str) -> Value {
    let jpeg = fixture("orientation-6.jpg");
    // As a browser form: a text field, then the file part with a lying name and type.
    let boundary = "----visage-form-7d3";
    let body = multipart(
        &[
            ("note", None, b"ignored"),
            ("picture", Some("me.png"), &jpeg),
        ],
        boundary,
    );
    let res = post_raw(
        app,
        &user_path(user_id),
        &format!("multipart/form-data; boundary={boundary}"),
        body,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    let fields: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = fields.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "bytes",
            "content_type",
            "height",
            "key",
            "picture",
            "sha256",
            "thumbhash",
            "user_id",
            "width"
        ]
    );
    assert_eq!(body["user_id"], user_id);
    assert_eq!(body["content_type"], "image/jpeg");
    assert_eq!(
        (body["width"].as_u64(), body["height"].as_u64()),
        (Some(512), Some(512))
    );
    let key = body["key"].as_str().expect("key");
    assert!(
        !key.contains(user_id) && !key.contains('|'),
        "raw id in key {key}"
    );
    assert!(key.ends_with(&format!("{}.jpg", body["sha256"].as_str().expect("sha"))));
    assert_eq!(body["picture"], format!("{}/pictures/{key}", app.base));
    let stored = app.get(&format!("/pictures/{key}")).await;
    assert_eq!(stored.status(), 200);
    let bytes = stored.bytes().await.expect("bytes");
    assert_eq!(bytes.len() as u64, body["bytes"].as_u64().expect("bytes"));
    let digest = sha256_hex(&bytes);
    assert_eq!(body["sha256"], digest, "content-addressed");
    body
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[actix_web::test]
async fn upload_on_the_folder_store_is_content_addressed_and_idempotent() {
    let app = dev_app().await;
    let first = upload_and_check(&app, "google-oauth2|1234/with slash").await;
    let again = upload_and_check(&app, "google-oauth2|1234/with slash").await;
    assert_eq!(first, again, "same picture, same answer");
    assert_eq!(
        pictures_under(app.data.path()).len(),
        1,
        "one object, never overwritten twice"
    );
    app.stop().await;
}

#[actix_web::test]
async fn upload_on_garage() {
    let Some(garage) = common::garage() else {
        return;
    };
    let mut overrides = common::as_overrides(&garage);
    overrides.push(("server.dev", "true"));
    let app = TestApp::spawn(&overrides).await;
    let user = format!("auth0|garage-{}", uuid::Uuid::new_v4().simple());
    let body = upload_and_check(&app, &user).await;
    let store = common::garage_store().expect("garage");
    let prefix = body["key"]
        .as_str()
        .expect("key")
        .rsplit_once('/')
        .expect("prefix")
        .0
        .to_owned()
        + "/";
    let keys = store.list(&prefix).await.expect("list");
    assert_eq!(keys.len(), 1);
    let res = app
        .client
        .delete(app.url(&user_path(&user)))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        store.list(&prefix).await.expect("list").is_empty(),
        "the prefix is empty"
    );
    app.stop().await;
}

#[actix_web::test]
async fn dev_mode_uploads_without_a_token_and_me_is_dev_local() {
    let app = dev_app().await;
    let res = post_raw(
        &app,
        "/v1/me/picture",
        "image/jpeg",
        fixture("quadrants.webp"),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["user_id"], "dev|local");
    let del = app
        .client
        .delete(app.url("/v1/me/picture"))
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    assert!(pictures_under(app.data.path()).is_empty(), "deleted");
    app.stop().await;
}

/// Dev mode takes uploads without a token, so a web page on another origin must not be able to
/// post into it; a loopback page (the dev server's own) and clients without `Origin` can.
#[actix_web::test]
async fn dev_mode_refuses_uploads_and_deletes_from_non_loopback_origins() {
    let app = dev_app().await;
    let path = user_path("auth0|victim");
    let jpeg = fixture("orientation-1.jpg");
    for origin in [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let res = app
            .client
            .post(app.url(&path))
            .header("content-type", "image/jpeg")
            .header("origin", origin)
            .body(jpeg.clone())
            .send()
            .await
            .expect("upload");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{origin}");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"], "forbidden", "{origin}");
        let res = app
            .client
            .delete(app.url(&path))
            .header("origin", origin)
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{origin}");
    }
    assert!(
        pictures_under(app.data.path()).is_empty(),
        "nothing written"
    );
    for origin in [Some(app.base.as_str()), Some("http://localhost:5173"), None] {
        let mut req = app
            .client
            .post(app.url(&path))
            .header("content-type", "image/jpeg")
            .body(jpeg.clone());
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        let res = req.send().await.expect("upload");
        assert_eq!(res.status(), StatusCode::CREATED, "{origin:?}");
    }
    app.stop().await;
}

#[actix_web::test]
async fn without_an_issuer_uploads_are_unauthorized() {
    let app = TestApp::spawn(&[]).await;
    let token = "a.b.c";
    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
        let res = app
            .client
            .request(method.clone(), app.url("/v1/me/picture"))
            .header("content-type", "image/jpeg")
            .bearer_auth(token)
            .body(fixture("orientation-1.jpg"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method}");
    }
    assert!(pictures_under(app.data.path()).is_empty());
    app.stop().await;
}

/// The grace of the tests that wait for replaced pictures to go (longer than their 2 s
/// write-back bound, as the settings demand).
const TEST_GRACE: &str = "3";

/// Write-back on (stand-in Management API): the PATCH lands before the 201, a replaced object
/// stays for the grace period and goes with the next upload after it, a delete clears the field,
/// and a failed write is a truthful 502.
#[actix_web::test]
async fn write_back_lands_before_the_answer_and_replaces_old_objects() {
    use crate::common::auth0::FakeTenant;
    use crate::common::auth0_mgmt::MgmtStandIn;
    let tenant = FakeTenant::start().await;
    let mgmt = MgmtStandIn::start();
    let mut pairs = tenant.overrides();
    pairs.extend(mgmt.overrides());
    pairs.push(("auth0.management.timeout_secs", "2".to_owned()));
    pairs.push(("storage.cleanup_grace_secs", TEST_GRACE.to_owned()));
    let app = TestApp::spawn(&common::as_overrides(&pairs)).await;
    let user = "auth0|writer/with-slash";
    let token = tenant.token_for(user);
    let path = user_path(user);

    let mut pictures = Vec::new();
    for name in ["orientation-1.jpg", "quadrants.webp"] {
        let res = post_raw(&app, &path, "image/jpeg", fixture(name), Some(&token)).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{name}");
        let body: Value = res.json().await.expect("json");
        let patch = mgmt
            .patches()
            .last()
            .cloned()
            .expect("a PATCH before the 201");
        assert_eq!(patch.body["user_metadata"]["picture"], body["picture"]);
        assert!(
            patch.raw_path.ends_with("auth0%7Cwriter%2Fwith-slash"),
            "{}",
            patch.raw_path
        );
        let stored = pictures_under(app.data.path());
        let key = body["key"].as_str().expect("key");
        assert!(
            stored.iter().any(|f| f.ends_with(key)),
            "{stored:?} holds {key}"
        );
        pictures.push(body);
    }
    let stored = pictures_under(app.data.path());
    assert_eq!(
        stored.len(),
        2,
        "the replaced picture stays for the grace: {stored:?}"
    );
    // Once the replaced picture is older than the grace, the next upload removes it.
    until_all_older_than(app.data.path(), Duration::from_secs(3)).await;
    let res = post_raw(
        &app,
        &path,
        "image/webp",
        fixture("quadrants.webp"),
        Some(&token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let stored = pictures_under(app.data.path());
    let key = pictures[1]["key"].as_str().expect("key");
    assert_eq!(
        stored.len(),
        1,
        "only the profile's picture is left: {stored:?}"
    );
    assert!(stored[0].ends_with(key), "{stored:?} holds {key}");

    let res = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(pictures_under(app.data.path()).is_empty());
    let cleared = mgmt.patches().last().cloned().expect("PATCH");
    assert_eq!(
        cleared.body,
        serde_json::json!({"user_metadata": {"picture": null}})
    );

    // The Management API keeps failing: the object is stored and the 502 says where.
    mgmt.always(503);
    let res = post_raw(
        &app,
        &path,
        "image/jpeg",
        fixture("orientation-1.jpg"),
        Some(&token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "metadata_update_failed");
    assert_eq!(
        body["picture"], pictures[0]["picture"],
        "same bytes, same URL"
    );
    let stored = pictures_under(app.data.path());
    assert_eq!(stored.len(), 1, "kept for the retry: {stored:?}");

    // A delete that cannot clear the profile deletes nothing: the profile still points at the
    // stored picture, which must keep answering.
    let delete = || app.client.delete(app.url(&path)).bearer_auth(&token).send();
    let res = delete().await.expect("delete");
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "metadata_update_failed");
    assert_eq!(pictures_under(app.data.path()), stored, "nothing deleted");
    mgmt.heal();
    let res = delete().await.expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(pictures_under(app.data.path()).is_empty());
    app.stop().await;
    mgmt.stop().await;
    tenant.stop().await;
}

/// Racing uploads by one user: whichever write lands last, its object exists; the replaced ones
/// stay for the grace period and go with the next upload after it.
#[actix_web::test]
async fn racing_uploads_leave_the_last_written_object() {
    use crate::common::auth0::FakeTenant;
    use crate::common::auth0_mgmt::MgmtStandIn;
    let tenant = FakeTenant::start().await;
    let mgmt = MgmtStandIn::start();
    let mut pairs = tenant.overrides();
    pairs.extend(mgmt.overrides());
    pairs.push(("auth0.management.timeout_secs", "2".to_owned()));
    pairs.push(("storage.cleanup_grace_secs", TEST_GRACE.to_owned()));
    let app = TestApp::spawn(&common::as_overrides(&pairs)).await;
    let user = "auth0|racer";
    let token = tenant.token_for(user);
    let path = user_path(user);
    let uploads = [
        "orientation-1.jpg",
        "quadrants.webp",
        "progressive.jpg",
        "small-100.jpg",
    ]
    .map(|name| post_raw(&app, &path, "image/jpeg", fixture(name), Some(&token)));
    for res in futures_util::future::join_all(uploads).await {
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let last = mgmt.patches().last().cloned().expect("patches");
    let url = last.body["user_metadata"]["picture"]
        .as_str()
        .expect("url")
        .to_owned();
    let key = url.split("/pictures/").nth(1).expect("key").to_owned();
    let stored = pictures_under(app.data.path());
    assert_eq!(stored.len(), 4, "all younger than the grace: {stored:?}");
    assert!(
        stored.iter().any(|f| f.ends_with(&key)),
        "the last written {key} exists: {stored:?}"
    );
    assert_eq!(app.get(&format!("/pictures/{key}")).await.status(), 200);

    until_all_older_than(app.data.path(), Duration::from_secs(3)).await;
    let res = post_raw(
        &app,
        &path,
        "image/jpeg",
        fixture("greyscale.jpg"),
        Some(&token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    let stored = pictures_under(app.data.path());
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].ends_with(body["key"].as_str().expect("key")));
    app.stop().await;
    mgmt.stop().await;
    tenant.stop().await;
}

/// Storage down: 503 with Retry-After, and Auth0 is not called.
#[actix_web::test]
async fn storage_failure_is_503_and_auth0_is_not_called() {
    use crate::common::auth0_mgmt::MgmtStandIn;
    let mgmt = MgmtStandIn::start();
    let mut pairs = mgmt.overrides();
    pairs.extend([
        ("server.dev", "false".to_owned()),
        ("storage.backend", "s3".to_owned()),
        ("storage.s3.endpoint", "http://127.0.0.1:9".to_owned()),
        ("storage.s3.bucket", "nowhere".to_owned()),
        ("storage.s3.access_key_id", "x".to_owned()),
        ("storage.s3.secret_access_key", "y".to_owned()),
        ("storage.s3.attempt_timeout_secs", "1".to_owned()),
        ("storage.s3.operation_timeout_secs", "2".to_owned()),
    ]);
    let tenant = crate::common::auth0::FakeTenant::start().await;
    pairs.extend(tenant.overrides());
    let app = TestApp::spawn(&common::as_overrides(&pairs)).await;
    let token = tenant.token_for("auth0|nostore");
    let res = post_raw(
        &app,
        "/v1/me/picture",
        "image/jpeg",
        fixture("orientation-1.jpg"),
        Some(&token),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "storage_unavailable");
    assert!(mgmt.patches().is_empty(), "Auth0 must not be called");
    app.stop().await;
    mgmt.stop().await;
    tenant.stop().await;
}
