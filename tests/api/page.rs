//! The browser page at `/`, its static files, the editor module `/editor.js`, and CORS on the
//! upload API.

use crate::common::TestApp;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:{EXTRA}; connect-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The `src`/`href` of the page's script and stylesheet.
fn asset_links(html: &str) -> Vec<String> {
    ["src=\"/static/", "href=\"/static/"]
        .iter()
        .filter_map(|marker| {
            let start = html.find(marker)? + marker.len() - "/static/".len();
            let end = start + html[start..].find('"')?;
            Some(html[start..end].to_owned())
        })
        .collect()
}

#[actix_web::test]
async fn the_page_is_served_under_a_strict_policy_with_or_without_dev_mode() {
    for dev in [false, true] {
        let app = TestApp::spawn(&[("server.dev", if dev { "true" } else { "false" })]).await;
        let res = app.get("/").await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            header(&res, "content-type"),
            Some("text/html; charset=utf-8")
        );
        let extra = format!(" {}", app.base);
        assert_eq!(
            header(&res, "content-security-policy"),
            Some(CSP.replace("{EXTRA}", &extra).as_str())
        );
        assert_eq!(header(&res, "x-content-type-options"), Some("nosniff"));
        let html = res.text().await.expect("html");
        assert!(html.contains(&format!("data-dev=\"{dev}\"")), "{html}");
        assert_eq!(
            html.contains("id=\"token\""),
            !dev,
            "token field only outside dev mode"
        );
        // Examples point at the public URL; no template marker is left; nothing from elsewhere.
        assert!(html.contains(&format!("{}/initials/Jane%20Doe.png", app.base)));
        assert!(html.contains(&format!(
            "{}/avatar/86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d",
            app.base
        )));
        assert!(!html.contains("{{"), "unrendered marker");
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "inline code breaks the CSP"
        );
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        let head = app.client.head(app.url("/")).send().await.expect("head");
        assert_eq!(head.status(), 200);
        app.stop().await;
    }
}

#[actix_web::test]
async fn the_script_and_style_are_cacheable_and_revalidated() {
    let app = TestApp::spawn(&[]).await;
    let html = app.get("/").await.text().await.expect("html");
    let links = asset_links(&html);
    assert_eq!(links.len(), 2, "{html}");
    for (link, content_type) in links
        .iter()
        .zip(["text/javascript; charset=utf-8", "text/css; charset=utf-8"])
    {
        let res = app.get(link).await;
        assert_eq!(res.status(), 200, "{link}");
        assert_eq!(header(&res, "content-type"), Some(content_type));
        assert_eq!(header(&res, "x-content-type-options"), Some("nosniff"));
        let etag = header(&res, "etag").expect("etag").to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        // The page's ?v= is the content version, so a change busts every cache.
        assert!(
            link.ends_with(&format!("?v={}", etag.trim_matches('"'))),
            "{link}"
        );
        assert!(!res.bytes().await.expect("body").is_empty());
        let again = app
            .client
            .get(app.url(link))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("get");
        assert_eq!(again.status(), 304);
        let head = app.client.head(app.url(link)).send().await.expect("head");
        assert_eq!(head.status(), 200);
    }
    let missing = app.get("/static/other.js").await;
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

/// The page's `src` of the editor module: `/editor.js?v=…`.
fn editor_link(html: &str) -> String {
    let marker = "<script type=\"module\" src=\"";
    let start = html.find(marker).expect("the page loads the editor module") + marker.len();
    let end = start + html[start..].find('"').expect("closing quote");
    html[start..end].to_owned()
}

#[actix_web::test]
async fn the_editor_module_is_served_to_every_origin_and_immutable_at_its_version() {
    let app = TestApp::spawn(&[]).await;
    let html = app.get("/").await.text().await.expect("html");
    let versioned = editor_link(&html);
    let version = versioned
        .strip_prefix("/editor.js?v=")
        .unwrap_or_else(|| panic!("{versioned}"))
        .to_owned();
    let file = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/static/editor.js"))
        .expect("static/editor.js");
    // (path, Origin, immutable)
    let cases = [
        (versioned.as_str(), Some("https://app.example.com"), true),
        (versioned.as_str(), None, true),
        ("/editor.js", Some("https://app.example.com"), false),
        ("/editor.js?v=0123456789abcdef0123", None, false),
        ("/editor.js?x=1", Some("null"), false),
    ];
    for (path, origin, immutable) in cases {
        let mut request = app.client.get(app.url(path));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let res = request.send().await.expect("get");
        let what = format!("{path} from {origin:?}");
        assert_eq!(res.status(), 200, "{what}");
        assert_eq!(
            header(&res, "content-type"),
            Some("text/javascript; charset=utf-8"),
            "{what}"
        );
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            Some("*"),
            "{what}"
        );
        assert_eq!(
            header(&res, "cross-origin-resource-policy"),
            Some("cross-origin"),
            "{what}"
        );
        assert_eq!(
            header(&res, "x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            header(&res, "etag"),
            Some(format!("\"{version}\"").as_str()),
            "{what}"
        );
        let cache = header(&res, "cache-control")
            .expect("cache-control")
            .to_owned();
        if immutable {
            assert_eq!(cache, "public, max-age=31536000, immutable", "{what}");
        } else {
            assert!(!cache.contains("immutable"), "{what}: {cache}");
            let max_age: u64 = cache
                .split(", ")
                .find_map(|d| d.strip_prefix("max-age="))
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{what}: {cache}"));
            assert!(max_age <= 3600, "{what}: {cache}");
        }
        assert_eq!(
            res.bytes().await.expect("body"),
            file,
            "{what}: the file itself"
        );
    }
    // Revalidation, HEAD, and nothing but GET and HEAD.
    let again = app
        .client
        .get(app.url(&versioned))
        .header("if-none-match", format!("\"{version}\""))
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "access-control-allow-origin"), Some("*"));
    let head = app
        .client
        .head(app.url(&versioned))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(
        header(&head, "content-length"),
        Some(file.len().to_string().as_str())
    );
    let post = app
        .client
        .post(app.url("/editor.js"))
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 405);
    app.stop().await;
}

/// The budget for the editor module: under 30 KB once gzipped, as a CDN or a server
/// with compression sends it (`gzip` at its default level, as `gzip on` in nginx is close to).
#[actix_web::test]
async fn the_editor_module_stays_under_30_kb_gzipped() {
    use std::io::Write;
    let app = TestApp::spawn(&[]).await;
    let module = app.get("/editor.js").await.bytes().await.expect("module");
    let mut gzip = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip runs (Debian's gzip package is essential)");
    gzip.stdin
        .take()
        .expect("stdin")
        .write_all(&module)
        .expect("module written to gzip");
    let gzipped = gzip.wait_with_output().expect("gzip output");
    assert!(gzipped.status.success());
    let size = gzipped.stdout.len();
    eprintln!("editor.js: {} bytes, {size} bytes gzipped", module.len());
    assert!(size > 1000, "gzip gave {size} bytes: not the module");
    assert!(
        size < 30_000,
        "editor.js is {size} bytes gzipped: over 30 KB"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_picture_base_url_elsewhere_is_allowed_as_an_image_source() {
    let app = TestApp::spawn(&[(
        "storage.public_base_url",
        "https://cdn.example.com/avatars/",
    )])
    .await;
    let res = app.get("/").await;
    let extra = format!(" {} https://cdn.example.com", app.base);
    assert_eq!(
        header(&res, "content-security-policy"),
        Some(CSP.replace("{EXTRA}", &extra).as_str())
    );
    app.stop().await;
}

/// A comma-separated header as a sorted, lower-cased list.
fn list(value: Option<&str>) -> Vec<String> {
    let mut items: Vec<String> = value
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect();
    items.sort();
    items
}

#[actix_web::test]
async fn cors_answers_only_the_configured_origins() {
    let app = TestApp::spawn(&[(
        "server.cors_allowed_origins",
        "https://app.example.com,https://admin.example.com/",
    )])
    .await;
    // (path, origin, requested method, requested headers, allowed)
    let cases: [(&str, &str, &str, Option<&str>, bool); 9] = [
        (
            "/v1/me/picture",
            "https://app.example.com",
            "POST",
            Some("authorization, content-type"),
            true,
        ),
        (
            "/v1/users/auth0%7Cabc/picture",
            "https://admin.example.com",
            "DELETE",
            Some("Authorization"),
            true,
        ),
        (
            "/v1/me/picture",
            "https://APP.example.com",
            "POST",
            None,
            true,
        ),
        (
            "/v1/me/picture",
            "https://evil.example.com",
            "POST",
            Some("authorization"),
            false,
        ),
        (
            "/v1/me/picture",
            "https://app.example.com.evil.com",
            "POST",
            None,
            false,
        ),
        ("/v1/me/picture", "null", "POST", None, false),
        (
            "/v1/me/picture",
            "https://app.example.com",
            "PUT",
            None,
            false,
        ),
        (
            "/v1/me/picture",
            "https://app.example.com",
            "POST",
            Some("authorization, x-debug"),
            false,
        ),
        ("/metrics", "https://app.example.com", "POST", None, false),
    ];
    for (path, origin, method, headers, allowed) in cases {
        let mut preflight = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", method);
        if let Some(headers) = headers {
            preflight = preflight.header("access-control-request-headers", headers);
        }
        let res = preflight.send().await.expect("preflight");
        let what = format!("{path} {origin} {method} {headers:?}");
        if allowed {
            assert!(res.status().is_success(), "{what}: {}", res.status());
            assert_eq!(
                header(&res, "access-control-allow-origin"),
                Some(origin),
                "{what}"
            );
            assert_eq!(
                list(header(&res, "access-control-allow-methods")),
                ["delete", "post"]
            );
            assert_eq!(
                list(header(&res, "access-control-allow-headers")),
                ["authorization", "content-type"]
            );
        } else {
            let cors: Vec<_> = res
                .headers()
                .keys()
                .filter(|k| k.as_str().starts_with("access-control-"))
                .collect();
            assert!(cors.is_empty(), "{what}: {cors:?}");
        }
    }
    // The real request's answer (whatever its status) is readable by the allowed origin only.
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("https://evil.example.com", false),
    ] {
        let res = app
            .client
            .post(app.url("/v1/me/picture"))
            .header("origin", origin)
            .header("content-type", "image/png")
            .body(Vec::<u8>::new())
            .send()
            .await
            .expect("post");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            allowed.then_some(origin),
            "{origin} got {}",
            res.status()
        );
    }
    app.stop().await;
}

#[actix_web::test]
async fn public_image_routes_answer_every_origin_whatever_the_status() {
    let app = TestApp::spawn(&[
        ("server.cors_allowed_origins", "https://app.example.com"),
        // A closed port: the avatar falls back at once instead of waiting for the network.
        ("gravatar.base_url", "http://127.0.0.1:9/avatar/"),
    ])
    .await;
    let first = app.get("/initials/JD.png").await;
    let etag = header(&first, "etag").expect("etag").to_owned();
    // (path, If-None-Match, expected status)
    let cases: [(&str, Option<&str>, u16); 6] = [
        ("/initials/JD.png", None, 200),
        ("/initials/JD.png", Some(etag.as_str()), 304),
        ("/initials/JD.png?size=9999", None, 400),
        ("/avatar/not-a-hash", None, 400),
        ("/avatar/0123456789abcdef0123456789abcdef?s=32", None, 200),
        ("/pictures/u0000000000000000/nothing-here.jpg", None, 404),
    ];
    for (path, if_none_match, expected) in cases {
        for origin in [None, Some("https://anyone.example"), Some("null")] {
            let mut request = app.client.get(app.url(path));
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            if let Some(tag) = if_none_match {
                request = request.header("if-none-match", tag);
            }
            let res = request.send().await.expect("request");
            let what = format!("{path} from {origin:?}");
            let status = res.status().as_u16();
            assert!(
                status == expected || (expected == 404 && status == 400),
                "{what}: {status}"
            );
            assert_eq!(
                header(&res, "access-control-allow-origin"),
                Some("*"),
                "{what}"
            );
            assert_eq!(
                header(&res, "cross-origin-resource-policy"),
                Some("cross-origin"),
                "{what}"
            );
            assert!(header(&res, "access-control-allow-credentials").is_none());
        }
    }
    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            app.url("/avatar/0123456789abcdef0123456789abcdef"),
        )
        .header("origin", "https://anyone.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "if-none-match")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.status(), 204);
    assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"));
    assert_eq!(
        list(header(&preflight, "access-control-allow-methods")),
        ["get", "head"]
    );
    assert_eq!(
        header(&preflight, "access-control-allow-headers"),
        Some("if-none-match")
    );
    // The upload routes keep their allow-list: another origin gets no CORS header.
    let upload = app
        .client
        .post(app.url("/v1/me/picture"))
        .header("origin", "https://anyone.example")
        .send()
        .await
        .expect("post");
    assert_eq!(header(&upload, "access-control-allow-origin"), None);
    app.stop().await;
}
