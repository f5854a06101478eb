//! `GET /avatar/{hash}` against a local stand-in Gravatar: hits, the cache and its single
//! flight, validation, fallbacks, redirects, caps, timeouts, the breaker and stale pictures.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestApp;
use crate::common::gravatar::{
    BUILT_IN_RGB, Behaviour, FakeGravatar, PICTURE_RGB, built_in_picture, hash, picture,
};

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

/// The edge of a square PNG, JPEG or GIF answer (checked against its `Content-Type`) and the
/// colour of its centre pixel.
async fn decoded(response: reqwest::Response) -> (u32, [u8; 3]) {
    let format = match header(&response, "content-type") {
        "image/png" => image::ImageFormat::Png,
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/gif" => image::ImageFormat::Gif,
        other => panic!("not an image type: {other:?}"),
    };
    let bytes = response.bytes().await.expect("body");
    let img = image::load_from_memory_with_format(&bytes, format)
        .expect("decodes as its content type")
        .to_rgb8();
    assert_eq!(img.width(), img.height(), "square");
    let centre = img.get_pixel(img.width() / 2, img.height() / 2).0;
    (img.width(), centre)
}

/// Colours equal within JPEG and resampling error.
fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
}

#[actix_web::test]
async fn a_hit_serves_upstream_bytes_with_image_headers_and_one_upstream_call() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Picture, 1);
    // 128 is an upstream size bucket: Gravatar's own bytes are served unchanged.
    let path = format!("/avatar/{h}?s=128&r=pg");
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
    assert_eq!(body, picture(128));
    assert_eq!(length, body.len().to_string());
    assert_eq!(gravatar.queries(), vec!["s=128&d=404&r=pg".to_owned()]);

    for _ in 0..29 {
        let again = app.get(&path).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.bytes().await.expect("body"), picture(128));
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
async fn upper_case_and_every_suffix_share_the_cache_entry() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Picture, 2);
    for path in [
        format!("/avatar/{h}?s=128"),
        format!("/avatar/{}?s=128", h.to_uppercase()),
        format!("/avatar/{h}.png?s=128"),
        format!("/avatar/{}.png?size=128", h.to_uppercase()),
        format!("/avatar/{h}.JPG?s=128"),
        format!("/avatar/{h}.jpeg?s=128"),
        format!("/avatar/{h}.JpEg?s=128"),
        format!("/avatar/{h}.gif?s=128"),
        format!("/avatar/{h}.GIF?s=128"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        // The answer keeps its own type whatever the suffix says.
        assert_eq!(header(&response, "content-type"), "image/png", "{path}");
        assert_eq!(response.bytes().await.expect("body"), picture(128));
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
        (format!("/avatar/{h}"), 80),
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
    let response = app.get(&format!("/avatar/{h}?d=identicon&s=128")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-avatar-source"), "gravatar");
    assert_eq!(response.bytes().await.expect("body"), built_in_picture(128));
    let queries = gravatar.queries();
    assert!(
        queries.contains(&"s=128&d=identicon&r=g".to_owned()),
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
        format!("/avatar/{good}.webp"),
        format!("/avatar/{good}.png.png"),
        "/avatar/not-a-hash".to_owned(),
        format!("/avatar/{good}?s=0"),
        format!("/avatar/{good}?size=2049"),
        format!("/avatar/{good}?size=big"),
        format!("/avatar/{good}?d=ftp%3A%2F%2Fexample.com%2Fa.png"),
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

/// A provisional fallback (an AVIF too large to wait for, above 512 px, its WebP stand-in served
/// meanwhile)
/// during upstream trouble keeps the fallback's own short `max-age`: the stand-in's cap
/// shortens an answer's lifetime, never lengthens it.
#[actix_web::test]
async fn a_stand_in_fallback_during_trouble_keeps_the_fallbacks_max_age() {
    let (app, gravatar) = spawn(&[("gravatar.ttl_fallback", "30")]).await;
    let h = hash(Behaviour::Error, 7);
    let response = app
        .client
        .get(app.url(&format!("/avatar/{h}?s=640&name=Ann%20Lee")))
        .header("accept", "image/avif,image/webp,*/*")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-avatar-source"), "fallback");
    assert_eq!(
        header(&response, "content-type"),
        "image/webp",
        "the stand-in"
    );
    assert_eq!(header(&response, "cache-control"), "public, max-age=30");
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
    let path = format!("/avatar/{h}?s=128");
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
    assert!(bodies.iter().all(|b| *b == picture(128)));
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
    let path = format!("/avatar/{h}?s=128");
    let fresh = app.get(&path).await;
    assert!(max_age(&fresh) <= 1, "never more than the service keeps");
    gravatar.set_failing(true);
    // Once `ttl_hit` has run out, the failed refresh serves the stale picture briefly.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let stale = loop {
        let answer = app.get(&path).await;
        if header(&answer, "cache-control") == "public, max-age=30" {
            break answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never served stale: {:?}",
            answer.headers()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(header(&stale, "x-avatar-source"), "gravatar");
    assert_eq!(header(&stale, "cache-control"), "public, max-age=30");
    assert_eq!(stale.bytes().await.expect("body"), picture(128));
    assert_eq!(gravatar.requests(&h), 2, "the refresh was attempted");
    gravatar.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn forcedefault_skips_the_users_picture() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Picture, 10);
    for param in ["f=y", "forcedefault=y", "f=yes", "f=TRUE", "f=1"] {
        let response = app.get(&format!("/avatar/{h}?{param}&name=Jo")).await;
        assert_eq!(response.status(), StatusCode::OK, "{param}");
        assert_eq!(header(&response, "x-avatar-source"), "fallback");
        let (_, centre) = decoded(response).await;
        assert!(
            !close(centre, PICTURE_RGB),
            "{param}: not the user's picture"
        );
        let response = app.get(&format!("/avatar/{h}?{param}&d=404")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{param}");
    }
    assert_eq!(gravatar.requests(&h), 0);
    for param in ["f=n", "f=no", "forcedefault=false", "f=0"] {
        let response = app.get(&format!("/avatar/{h}?{param}&s=128")).await;
        assert_eq!(header(&response, "x-avatar-source"), "gravatar", "{param}");
        assert_eq!(response.bytes().await.expect("body"), picture(128));
    }
    // A forced default that looks the same for everyone is Gravatar's picture for nobody.
    let response = app.get(&format!("/avatar/{h}?f=y&d=mm")).await;
    assert_eq!(header(&response, "x-avatar-source"), "gravatar");
    let (edge, centre) = decoded(response).await;
    assert!(
        edge == 80 && close(centre, BUILT_IN_RGB),
        "{edge} {centre:?}"
    );
    assert_eq!(gravatar.requests(&h), 1, "only the unforced request");
    gravatar.stop().await;
    app.stop().await;
}

/// Forced per-user defaults are that user's own identicon (monster, …): Gravatar is asked for
/// the user's hash with `f=y`, and each user has their own cache entry.
#[actix_web::test]
async fn forced_per_user_defaults_ask_for_the_users_own_hash_with_f_y() {
    let (app, gravatar) = spawn(&[]).await;
    for (n, default) in ["identicon", "monsterid", "wavatar", "retro", "robohash"]
        .into_iter()
        .enumerate()
    {
        let h = hash(Behaviour::Picture, 20 + n as u32);
        let response = app.get(&format!("/avatar/{h}?d={default}&f=y&s=128")).await;
        assert_eq!(response.status(), StatusCode::OK, "{default}");
        assert_eq!(header(&response, "x-avatar-source"), "gravatar");
        assert_eq!(response.bytes().await.expect("body"), built_in_picture(128));
        assert_eq!(gravatar.requests(&h), 1, "{default}: the user's own hash");
        let queries = gravatar.queries();
        let expected = format!("s=128&d={default}&r=g&f=y");
        assert_eq!(queries.last(), Some(&expected), "{default}");
    }
    assert_eq!(gravatar.requests(&"0".repeat(32)), 0, "no shared hash");
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

/// Gravatar's whole size range (1..=2048, default 80) for pictures, built-ins and fallbacks.
#[actix_web::test]
async fn every_gravatar_size_is_served_at_its_edge() {
    let (app, gravatar) = spawn(&[]).await;
    let picture_hash = hash(Behaviour::Picture, 30);
    let jpeg_hash = hash(Behaviour::JpegPicture, 30);
    let nobody = hash(Behaviour::Unknown, 30);
    for size in [1, 2, 15, 16, 80, 127, 128, 129, 512, 1024, 1025, 2048] {
        let cases = [
            (
                format!("/avatar/{picture_hash}?s={size}"),
                "gravatar",
                "image/png",
            ),
            (
                format!("/avatar/{jpeg_hash}?s={size}"),
                "gravatar",
                "image/jpeg",
            ),
            (
                format!("/avatar/{nobody}?s={size}&d=mm"),
                "gravatar",
                "image/png",
            ),
            (
                format!("/avatar/{nobody}?size={size}&name=Jo"),
                "fallback",
                "image/png",
            ),
            (
                format!("/avatar/{nobody}?s={size}&d=color"),
                "fallback",
                "image/png",
            ),
            (format!("/avatar/?s={size}"), "fallback", "image/png"),
        ];
        for (path, source, content_type) in cases {
            let response = app.get(&path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&response, "x-avatar-source"), source, "{path}");
            assert_eq!(header(&response, "content-type"), content_type, "{path}");
            let (edge, _) = decoded(response).await;
            assert_eq!(edge, size, "{path}");
        }
    }
    let response = app.get(&format!("/avatar/{jpeg_hash}")).await;
    let (edge, centre) = decoded(response).await;
    assert!(
        edge == 80 && close(centre, PICTURE_RGB),
        "default 80, same picture"
    );
    gravatar.stop().await;
    app.stop().await;
}

/// `GET /avatar/` (no hash) is nobody's picture: the fallback, never Gravatar.
#[actix_web::test]
async fn avatar_without_a_hash_serves_the_fallback() {
    let (app, gravatar) = spawn(&[]).await;
    let response = app.get("/avatar/?name=Jane%20Doe&s=64").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-avatar-source"), "fallback");
    let initials = app.get("/initials/Jane%20Doe.png?size=64").await;
    assert_eq!(
        response.bytes().await.expect("body"),
        initials.bytes().await.expect("body")
    );
    let response = app.get("/avatar/?d=404").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(gravatar.total_requests(), 0);
    gravatar.stop().await;
    app.stop().await;
}

/// `d=color`: one colour, the one the initials of that name get (their background).
#[actix_web::test]
async fn d_color_is_a_plain_square_in_the_names_colour() {
    let (app, gravatar) = spawn(&[]).await;
    let h = hash(Behaviour::Unknown, 31);
    let response = app
        .get(&format!("/avatar/{h}?d=color&name=Jane%20Doe&s=64"))
        .await;
    assert_eq!(header(&response, "x-avatar-source"), "fallback");
    let bytes = response.bytes().await.expect("body");
    let square = image::load_from_memory(&bytes).expect("png").to_rgb8();
    let first = *square.get_pixel(0, 0);
    assert!(square.pixels().all(|p| *p == first), "one colour");
    let initials = app.get("/initials/Jane%20Doe.png?size=64").await;
    let initials = image::load_from_memory(&initials.bytes().await.expect("body"))
        .expect("png")
        .to_rgb8();
    assert_eq!(*initials.get_pixel(0, 0), first, "the initials' background");
    assert_eq!(gravatar.requests(&h), 1, "asked with d=404 first");
    assert_eq!(gravatar.queries(), vec!["s=128&d=404&r=g".to_owned()]);
    gravatar.stop().await;
    app.stop().await;
}

/// A URL in `d` is never fetched and never an error; Auth0's default picture URL, host swapped,
/// draws its letters: byte for byte the `/initials` picture.
#[actix_web::test]
async fn a_url_default_is_the_initials_and_auth0_defaults_keep_their_letters() {
    let (app, gravatar) = spawn(&[]).await;
    let md5 = format!("1{}", "0123456789abcdef0123456789abcde");
    let auth0 =
        format!("/avatar/{md5}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fjd.png");
    let response = app.get(&auth0).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-avatar-source"), "fallback");
    let initials = app.get("/initials/JD.png?size=480").await;
    assert_eq!(initials.status(), StatusCode::OK);
    assert_eq!(
        response.bytes().await.expect("body"),
        initials.bytes().await.expect("body"),
        "the same picture as /initials/JD.png"
    );
    assert_eq!(gravatar.queries(), vec!["s=512&d=404&r=pg".to_owned()]);
    for path in [
        format!("/avatar/{md5}?d=https%3A%2F%2Fexample.com%2Fa.png&name=Ann%20Lee&s=48"),
        format!("/avatar/{md5}?default=http://127.0.0.1:9/x.png&name=Ann%20Lee&s=48"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let initials = app.get("/initials/Ann%20Lee.png?size=48").await;
        assert_eq!(
            response.bytes().await.expect("body"),
            initials.bytes().await.expect("body"),
            "{path}"
        );
    }
    assert_eq!(
        gravatar
            .state
            .redirect_target_requests
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    gravatar.stop().await;
    app.stop().await;
}

/// Size buckets: any number of sizes of one hash cost at most two upstream calls, and a hash
/// without a Gravatar costs one.
#[actix_web::test]
async fn many_sizes_of_one_hash_cost_at_most_two_upstream_calls() {
    let (app, gravatar) = spawn(&[]).await;
    let with_picture = hash(Behaviour::Picture, 40);
    let without = hash(Behaviour::Unknown, 40);
    let sizes = [
        1, 16, 24, 32, 40, 48, 64, 80, 96, 100, 128, 200, 256, 300, 480, 512, 800, 1024, 2048,
    ];
    for size in sizes {
        let response = app.get(&format!("/avatar/{with_picture}?s={size}")).await;
        assert_eq!(header(&response, "x-avatar-source"), "gravatar");
        let (edge, centre) = decoded(response).await;
        assert!(
            edge == size && close(centre, PICTURE_RGB),
            "{size}: {edge} {centre:?}"
        );
        let response = app
            .get(&format!("/avatar/{without}?s={size}&name=Jo"))
            .await;
        assert_eq!(header(&response, "x-avatar-source"), "fallback");
        assert_eq!(decoded(response).await.0, size);
    }
    assert_eq!(gravatar.requests(&with_picture), 2, "one per size bucket");
    assert_eq!(
        gravatar.requests(&without),
        1,
        "no Gravatar is the same at every size"
    );
    gravatar.stop().await;
    app.stop().await;
}

/// A flood of distinct hashes above the rate: upstream calls stay within the burst (plus what
/// the rate refills meanwhile), the rest get the fallback with the short max-age, nothing is
/// cached, and the breaker stays closed for everyone else.
#[actix_web::test]
async fn a_flood_of_distinct_hashes_is_capped_and_keeps_the_breaker_closed() {
    let (app, gravatar) = spawn(&[
        ("gravatar.requests_per_sec", "2"),
        ("gravatar.requests_burst", "5"),
        ("gravatar.breaker_failures", "3"),
    ])
    .await;
    let started = std::time::Instant::now();
    let requests = (0..60).map(|n| {
        let client = app.client.clone();
        let url = app.url(&format!(
            "/avatar/{}?s=128",
            hash(Behaviour::Picture, 1000 + n)
        ));
        async move {
            let response = client.get(url).send().await.expect("request");
            assert_eq!(response.status(), StatusCode::OK);
            (
                header(&response, "x-avatar-source").to_owned(),
                header(&response, "cache-control").to_owned(),
            )
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let elapsed = started.elapsed().as_secs_f64();
    let calls = gravatar.total_requests();
    let allowed = 5 + (2.0 * elapsed).ceil() as usize;
    assert!(calls <= allowed, "{calls} upstream calls in {elapsed:.1}s");
    assert!(calls >= 5, "the burst is used: {calls}");
    let fallbacks: Vec<_> = answers
        .iter()
        .filter(|(source, _)| source == "fallback")
        .collect();
    assert_eq!(
        fallbacks.len(),
        60 - calls,
        "every refused miss gets the fallback"
    );
    assert!(
        fallbacks
            .iter()
            .all(|(_, cache)| cache == "public, max-age=30")
    );
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("visage_gravatar_circuit_open 0"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("visage_gravatar_upstream_requests_total{outcome=\"skipped_rate_limited\"}"),
        "{metrics}"
    );
    // Refused misses were not cached: once the bucket refills, the same hash reaches Gravatar
    // (asked again until then: each refused ask is a fallback that never reaches upstream).
    let refused = answers
        .iter()
        .position(|(source, _)| source == "fallback")
        .expect("some were refused");
    let h = hash(Behaviour::Picture, 1000 + refused as u32);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let response = app.get(&format!("/avatar/{h}?s=128")).await;
        if header(&response, "x-avatar-source") == "gravatar" {
            break;
        }
        assert_eq!(gravatar.requests(&h), 0, "a refused ask reached Gravatar");
        assert!(
            std::time::Instant::now() < deadline,
            "the bucket never refilled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(gravatar.requests(&h), 1);
    gravatar.stop().await;
    app.stop().await;
}

/// The URLs real Gravatar client libraries build (npm `gravatar-url` and `gravatar`, installed
/// by `scripts/test` into tests/clients), with every option they offer: `None` when node or the
/// libraries are missing (a skip, unless required: see `common::missing`).
fn client_library_urls() -> Option<Vec<Value>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let output = std::process::Command::new("node")
        .arg("urls.mjs")
        .current_dir(&dir)
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            crate::common::missing(
                "VISAGE_TEST_REQUIRE_CLIENTS",
                &format!("tests/clients/urls.mjs failed (Gravatar client libraries): {stderr}"),
            );
            return None;
        }
        Err(error) => {
            crate::common::missing(
                "VISAGE_TEST_REQUIRE_CLIENTS",
                &format!("node cannot run: {error}"),
            );
            return None;
        }
    };
    let lines = String::from_utf8(output.stdout).expect("utf-8");
    Some(
        lines
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
            .collect(),
    )
}

/// Every URL the libraries build, with the host swapped to visage, answers 200 at the asked
/// size (404 where `d=404` meets no picture).
#[actix_web::test]
async fn urls_built_by_real_gravatar_client_libraries_work_with_the_host_swapped() {
    let Some(cases) = client_library_urls() else {
        return;
    };
    let (app, gravatar) = spawn(&[
        ("gravatar.requests_per_sec", "10000"),
        ("gravatar.requests_burst", "10000"),
    ])
    .await;
    let mut libraries = std::collections::BTreeMap::<String, usize>::new();
    let mut seen = std::collections::HashSet::new();
    for case in &cases {
        let url = case["url"].as_str().expect("url");
        let path = &url[url.find("/avatar/").expect("a Gravatar avatar URL")..];
        *libraries
            .entry(case["library"].as_str().expect("library").to_owned())
            .or_default() += 1;
        if !seen.insert(path.to_owned()) {
            continue;
        }
        let status = case["status"].as_u64().expect("status");
        let size = case["size"].as_u64().expect("size") as u32;
        let response = app.get(path).await;
        assert_eq!(u64::from(response.status().as_u16()), status, "{case}");
        if status == 200 {
            assert_eq!(decoded(response).await.0, size, "{case}");
        }
    }
    assert!(
        libraries.len() == 2 && libraries.values().all(|&n| n > 100),
        "{libraries:?}"
    );
    // 702 URLs from both libraries; swapping the host folds http/https/cdn variants into 272
    // distinct paths (gravatar 1.8.2, gravatar-url 4.0.2).
    assert!(seen.len() > 250, "{} distinct URLs", seen.len());
    // Built-in defaults reached Gravatar; URLs in `d` never did.
    let queries = gravatar.queries();
    assert!(
        queries.iter().any(|q| q.contains("d=robohash")),
        "{queries:?}"
    );
    assert!(queries.iter().all(|q| !q.contains("http")), "{queries:?}");
    gravatar.stop().await;
    app.stop().await;
}
