//! `GET /avatar/{hash}` against a local stand-in Gravatar: hits, the cache and its single
//! flight, validation, fallbacks, redirects, caps, timeouts, the breaker and stale pictures.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestApp;
use crate::common::gravatar::{Behaviour, FakeGravatar, built_in_picture, hash, picture};

/// The app in front of a fresh stand-in, with extra settings.
async fn spawn(extra: &[(&str, &str)]) -> (TestApp, FakeGravatar) {
    let gravatar = FakeGravatar::start().await;
    let mut overrides = vec![("gravatar.base_url", gravatar.base_url.as_str())];
    overrides.extend_from_slice(extra);
    (TestApp::spawn(&overrides).await, gravatar)
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// `max-age` of `Cache-Control: public, max-age=N`.
fn max_age(response: &reqwest::Response) -> u64 {
    header(response, "cache-control")
        .strip_prefix("public, max-age=")
        .and_then(|n| n.parse().ok())
        .expect("public, max-age=N")
}

/// A cached answer's `max-age` counts down from its TTL: never more, and not far less here.
fn assert_fresh_max_age(response: &reqwest::Response, ttl: u64) {
    let age = max_age(response);
    assert!(
        ttl / 2 <= age && age <= ttl,
        "max-age {age} for a TTL of {ttl}"
    );
}

fn png_edge(bytes: &[u8]) -> u32 {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).expect("a PNG");
    assert_eq!(img.width(), img.height(), "square");
    img.width()
}

#[actix_web::test]
async fn a_hit_serves_upstream_bytes_with_image_headers_and_one_upstream_call() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Picture, 1);
    let path = format!("/avatar/{h}?s=64&r=pg");
    let response = app.get(&path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-avatar-source"), "gravatar");
    assert_eq!(header(&response, "content-type"), "image/png");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_fresh_max_age(&response, 3600);
    let etag = header(&response, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10);
    let length = header(&response, "content-length").to_owned();
    let body = response.bytes().await.expect("body");
    assert_eq!(body, picture());
    assert_eq!(length, body.len().to_string());
    assert_eq!(gravatar.queries(), vec!["s=64&d=404&r=pg".to_owned()]);

    for _ in 0..29 {
        let again = app.get(&path).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.bytes().await.expect("body"), picture());
    }
    assert_eq!(gravatar.requests(&h), 1, "30 requests, one upstream call");

    let not_modified = app
        .client
        .get(app.url(&path))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let head = app.client.head(app.url(&path)).send().await.expect("head");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "etag"), etag);
    assert_eq!(header(&head, "x-avatar-source"), "gravatar");
    assert_eq!(header(&head, "content-length"), length);
    assert_eq!(gravatar.requests(&h), 1);
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn upper_case_and_png_suffix_share_the_cache_entry() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Picture, 2);
    for path in [
        format!("/avatar/{h}"),
        format!("/avatar/{}", h.to_uppercase()),
        format!("/avatar/{h}.png"),
        format!("/avatar/{}.png?size=128", h.to_uppercase()),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.bytes().await.expect("body"), picture());
    }
    assert_eq!(gravatar.requests(&h), 1);
    assert_eq!(gravatar.total_requests(), 1, "always asked in lower case");
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn without_a_gravatar_the_fallback_is_initials_at_the_requested_size() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Unknown, 3);
    let cases = [
        (format!("/avatar/{h}?s=48&name=Jane%20Doe"), 48),
        (format!("/avatar/{h}?size=200&initials=JD"), 200),
        (format!("/avatar/{h}"), 128),
    ];
    for (path, edge) in cases {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, "x-avatar-source"), "fallback");
        assert_eq!(header(&response, "content-type"), "image/png");
        assert_fresh_max_age(&response, 600);
        assert!(!header(&response, "etag").is_empty());
        assert_eq!(png_edge(&response.bytes().await.expect("body")), edge);
    }
    // The initials come from the initials renderer: same picture as /initials for the name.
    let avatar = app.get(&format!("/avatar/{h}?s=48&name=Jane%20Doe")).await;
    let initials = app.get("/initials/Jane%20Doe.png?size=48").await;
    assert_eq!(
        avatar.bytes().await.expect("body"),
        initials.bytes().await.expect("body")
    );
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn default_404_answers_json_and_built_ins_are_asked_of_gravatar() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Unknown, 4);
    for param in ["d", "default"] {
        let response = app.get(&format!("/avatar/{h}?{param}=404")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "not_found");
    }
    let response = app.get(&format!("/avatar/{h}?d=identicon&s=32")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-avatar-source"), "gravatar");
    assert_eq!(response.bytes().await.expect("body"), built_in_picture());
    let queries = gravatar.queries();
    assert!(
        queries.contains(&"s=32&d=identicon&r=g".to_owned()),
        "{queries:?}"
    );
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn invalid_requests_are_400_and_never_reach_upstream() {
    let (app, gravatar) = spawn(&[]).await;
    let good = hash(Behaviour::Picture, 5);
    let cases = [
        format!("/avatar/{}", "a".repeat(31)),
        format!("/avatar/{}", "a".repeat(33)),
        format!("/avatar/{}", "a".repeat(65)),
        format!("/avatar/{}z", "a".repeat(63)),
        format!("/avatar/{good}.jpg"),
        "/avatar/not-a-hash".to_owned(),
        format!("/avatar/{good}?s=15"),
        format!("/avatar/{good}?size=1025"),
        format!("/avatar/{good}?size=big"),
        format!("/avatar/{good}?d=https%3A%2F%2Fexample.com%2Fa.png"),
        format!("/avatar/{good}?default=http://127.0.0.1/x.png"),
        format!("/avatar/{good}?d=nope"),
        format!("/avatar/{good}?r=nc17"),
        format!("/avatar/{good}?f=maybe"),
    ];
    for path in cases {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "invalid_parameter", "{path}");
    }
    assert_eq!(gravatar.total_requests(), 0);
    gravatar.stop().await;
    app.stop().await;
}

/// Upstream trouble of every kind gives the initials fallback with the short `max-age`.
#[actix_web::test]
async fn upstream_trouble_gives_the_fallback_with_a_short_max_age() {
    let (app, gravatar) = spawn(&[("gravatar.timeout_ms", "500")]).await;
    // A redirect or an unusable body is "no Gravatar" (kept ttl_miss, asked once); a timeout
    // or a 500 is trouble (ttl_fallback, asked again next time).
    let cases = [
        (Behaviour::Redirect, 600),
        (Behaviour::Huge, 600),
        (Behaviour::Sleep, 30),
        (Behaviour::Error, 30),
    ];
    for (behaviour, ttl) in cases {
        let h = hash(behaviour, 6);
        let response = app.get(&format!("/avatar/{h}?s=40&name=Ann%20Lee")).await;
        assert_eq!(response.status(), StatusCode::OK, "{behaviour:?}");
        assert_eq!(header(&response, "x-avatar-source"), "fallback");
        assert_fresh_max_age(&response, ttl);
        assert_eq!(png_edge(&response.bytes().await.expect("body")), 40);
        assert_eq!(gravatar.requests(&h), 1, "{behaviour:?}");
    }
    for (behaviour, calls) in [(Behaviour::Huge, 1), (Behaviour::Error, 2)] {
        let h = hash(behaviour, 6);
        app.get(&format!("/avatar/{h}?s=40&name=Ann%20Lee")).await;
        assert_eq!(gravatar.requests(&h), calls, "{behaviour:?}");
    }
    assert_eq!(
        gravatar
            .state
            .redirect_target_requests
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the redirect is not followed"
    );
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_500_is_not_cached_and_d404_then_says_upstream_unavailable() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Error, 7);
    for round in 1..=3 {
        let response = app.get(&format!("/avatar/{h}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-avatar-source"), "fallback");
        assert_eq!(gravatar.requests(&h), round, "errors are asked again");
    }
    let response = app.get(&format!("/avatar/{h}?d=404")).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "upstream_unavailable");
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn concurrent_cold_requests_make_one_upstream_request() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::SlowPicture, 8);
    let path = format!("/avatar/{h}?s=96");
    let requests = (0..128).map(|_| {
        let client = app.client.clone();
        let url = app.url(&path);
        async move {
            let response = client.get(url).send().await.expect("request");
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await.expect("body")
        }
    });
    let bodies = futures_util::future::join_all(requests).await;
    assert!(bodies.iter().all(|b| *b == picture()));
    assert_eq!(gravatar.requests(&h), 1);
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn the_breaker_opens_after_consecutive_failures() {
    let (app, gravatar) = spawn(&[
        ("gravatar.breaker_failures", "3"),
        ("gravatar.breaker_cooldown_secs", "60"),
    ])
    .await;
    gravatar.set_failing(true);
    for n in 0..10 {
        let response = app
            .get(&format!("/avatar/{}", hash(Behaviour::Picture, 100 + n)))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-avatar-source"), "fallback");
        assert_eq!(header(&response, "cache-control"), "public, max-age=30");
    }
    assert_eq!(
        gravatar.total_requests(),
        3,
        "the upstream is skipped once open"
    );
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("visage_gravatar_circuit_open 1"),
        "{metrics}"
    );
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_stale_picture_is_served_when_the_refresh_fails() {
    let (app, gravatar) = spawn(&[("gravatar.ttl_hit", "1")]).await;
    let h = hash(Behaviour::Picture, 9);
    let path = format!("/avatar/{h}");
    let fresh = app.get(&path).await;
    assert!(max_age(&fresh) <= 1, "never more than the service keeps");
    gravatar.set_failing(true);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stale = app.get(&path).await;
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(header(&stale, "x-avatar-source"), "gravatar");
    assert_eq!(header(&stale, "cache-control"), "public, max-age=30");
    assert_eq!(stale.bytes().await.expect("body"), picture());
    assert_eq!(gravatar.requests(&h), 2, "the refresh was attempted");
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn forcedefault_skips_gravatar() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Picture, 10);
    for param in ["f=y", "forcedefault=y"] {
        let response = app.get(&format!("/avatar/{h}?{param}&name=Jo")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-avatar-source"), "fallback");
        assert_ne!(response.bytes().await.expect("body"), picture());
        let response = app.get(&format!("/avatar/{h}?{param}&d=404")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(gravatar.requests(&h), 0);
    // A forced built-in is Gravatar's picture for nobody, never this user's.
    let response = app.get(&format!("/avatar/{h}?f=y&d=mp")).await;
    assert_eq!(response.bytes().await.expect("body"), built_in_picture());
    assert_eq!(gravatar.requests(&h), 0);
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn metrics_count_upstream_outcomes_and_cache_lookups() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Picture, 11);
    app.get(&format!("/avatar/{h}")).await;
    app.get(&format!("/avatar/{h}")).await;
    let metrics = app.get("/metrics").await.text().await.expect("text");
    for line in [
        "visage_gravatar_upstream_requests_total{outcome=\"picture\"} 1",
        "visage_gravatar_cache_lookups_total{result=\"hit\"} 1",
        "visage_gravatar_cache_lookups_total{result=\"miss\"} 1",
        "visage_gravatar_circuit_open 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    gravatar.stop().await;
    app.stop().await;
}
