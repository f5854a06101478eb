//! `GET /pictures/{key}`: the master, snapped variants, ETag/304, HEAD, 404 and 400.

use image::GenericImageView;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestApp;
use crate::upload::{upload_test_card, user_path};

#[actix_web::test]
async fn stored_pictures_are_served_resized_and_gone_after_delete() {
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let user = "auth0|pictures";
    let key = upload_test_card(&app, user).await;
    let path = format!("/pictures/{key}");

    // (query, expected edge): sizes snap up to the buckets; at or above the master, the master.
    let table = [
        ("", 512),
        ("?size=100", 128),
        ("?s=40", 48),
        ("?size=16", 16),
        ("?size=600", 512),
        ("?size=1024", 512),
    ];
    for (query, edge) in table {
        let res = app.get(&format!("{path}{query}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{query}");
        let headers = res.headers().clone();
        assert_eq!(headers["content-type"], "image/jpeg", "{query}");
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let etag = headers["etag"].to_str().expect("etag").to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
            "{etag}"
        );
        let bytes = res.bytes().await.expect("bytes");
        assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
        let decoded = image::load_from_memory(&bytes).expect("decodes");
        assert_eq!(decoded.dimensions(), (edge, edge), "{query}");

        let cached = app
            .client
            .get(app.url(&format!("{path}{query}")))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("conditional");
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "{query}");
        assert_eq!(cached.headers()["etag"], etag.as_str());
        let head = app
            .client
            .head(app.url(&format!("{path}{query}")))
            .send()
            .await
            .expect("head");
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(
            head.headers()["content-length"],
            bytes.len().to_string().as_str()
        );
        assert!(head.bytes().await.expect("body").is_empty());
    }
    // Three variant edges, each asked three times (GET, conditional GET, HEAD): resized once.
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    for line in [
        r#"pictures_variant_cache_lookups_total{result="miss"} 3"#,
        r#"pictures_variant_cache_lookups_total{result="hit"} 6"#,
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    let master_etag = app.get(&path).await.headers()["etag"].clone();
    let variant_etag = app.get(&format!("{path}?size=64")).await.headers()["etag"].clone();
    assert_ne!(master_etag, variant_etag, "each size has its own ETag");

    let unknown = format!(
        "{}/{}.jpg",
        key.rsplit_once('/').expect("prefix").0,
        "0".repeat(64)
    );
    let cases = [
        (
            format!("/pictures/{unknown}"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/pictures/u/abc/NOT-LOWER.jpg".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/pictures/u/..%2F..%2Fetc/passwd".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/pictures/u//x.jpg".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            format!("{path}?size=8"),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            format!("{path}?size=1025"),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            format!("{path}?s=big"),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
    ];
    for (url, status, code) in &cases {
        let res = app.get(url).await;
        assert_eq!(res.status(), *status, "{url}");
        let json: Value = res.json().await.expect("json");
        assert_eq!(json["error"], *code, "{url}");
    }

    let del = app
        .client
        .delete(app.url(&user_path(user)))
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    for query in ["", "?size=100", "?size=64"] {
        assert_eq!(
            app.get(&format!("{path}{query}")).await.status(),
            StatusCode::NOT_FOUND,
            "{query} after delete"
        );
    }
    app.stop().await;
}
