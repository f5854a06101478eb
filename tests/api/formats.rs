//! Formats on the wire: AVIF and WebP by `Accept`, `?format=`, `Vary`, one ETag and one 304 per
//! representation, the WebP stand-in while a large AVIF encodes, and stored variants.
//!
//! Every picture is decoded by Pillow (libavif, libwebp, libjpeg, libpng: the decoders browsers
//! and image tools use), so a test passes only when other software reads what visage wrote.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use visage::adapters::fs::FolderStore;
use visage::ports::{ObjectKey, ObjectStore};

use crate::common::gravatar::{self, Behaviour, FakeGravatar};
use crate::common::{self, TestApp};
use crate::upload::{upload_test_card, user_path};

/// What Chrome sends for `<img>`: AVIF and WebP by name, then wildcards.
const CHROME: &str = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
/// Safari 14: WebP by name, no AVIF.
const WEBP_ONLY: &str = "image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The test card's top-left quadrant, upright.
const RED: [u8; 3] = [220, 30, 30];

/// A picture as Pillow read it.
#[derive(Debug)]
struct Seen {
    format: String,
    width: u32,
    height: u32,
    /// RGBA at (width/4, height/4) and at (1, 1).
    quarter: [u8; 4],
    corner: [u8; 4],
}

fn decode_with_pillow(bytes: &[u8]) -> Seen {
    const SCRIPT: &str = "import io, json, sys\n\
from PIL import Image\n\
im = Image.open(io.BytesIO(sys.stdin.buffer.read()))\n\
im.load()\n\
w, h = im.size\n\
rgba = im.convert('RGBA')\n\
print(json.dumps({'format': im.format, 'size': [w, h], 'quarter': rgba.getpixel((w // 4, h // 4)), 'corner': rgba.getpixel((1, 1))}))\n";
    let stdout = common::run_pillow(SCRIPT, bytes);
    let json: Value = serde_json::from_slice(&stdout).expect("json");
    let rgba = |name: &str| -> [u8; 4] {
        let values: Vec<u8> = json[name]
            .as_array()
            .expect("pixel")
            .iter()
            .map(|v| u8::try_from(v.as_u64().expect("channel")).expect("u8"))
            .collect();
        values.try_into().expect("four channels")
    };
    Seen {
        format: json["format"].as_str().expect("format").to_owned(),
        width: u32::try_from(json["size"][0].as_u64().expect("w")).expect("u32"),
        height: u32::try_from(json["size"][1].as_u64().expect("h")).expect("u32"),
        quarter: rgba("quarter"),
        corner: rgba("corner"),
    }
}

fn near(actual: [u8; 4], expected: [u8; 3], tolerance: u8, what: &str) {
    let off = (0..3).any(|i| actual[i].abs_diff(expected[i]) > tolerance);
    assert!(!off, "{what}: got {actual:?}, expected about {expected:?}");
}

/// Pillow's name for each content type visage sends.
fn pillow_name(content_type: &str) -> &'static str {
    match content_type {
        "image/avif" => "AVIF",
        "image/webp" => "WEBP",
        "image/jpeg" => "JPEG",
        "image/png" => "PNG",
        other => panic!("not a raster type: {other}"),
    }
}

pub(crate) async fn get_with(
    app: &TestApp,
    path: &str,
    accept: &str,
    etag: Option<&str>,
) -> (StatusCode, HeaderMap, bytes::Bytes) {
    let mut req = app.client.get(app.url(path));
    if !accept.is_empty() {
        req = req.header("accept", accept);
    }
    if let Some(etag) = etag {
        req = req.header("if-none-match", etag);
    }
    let res = req.send().await.expect("request");
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.bytes().await.expect("body"))
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map_or("", |v| v.to_str().expect("ascii header"))
}

#[actix_web::test]
async fn pictures_answer_in_the_format_accept_names_or_format_says() {
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let key = upload_test_card(&app, "auth0|formats").await;
    let path = format!("/pictures/{key}?size=128");
    // (Accept, extra query, content type, whether the answer varies on Accept)
    let table = [
        (CHROME, "", "image/avif", true),
        (WEBP_ONLY, "", "image/webp", true),
        ("*/*", "", "image/jpeg", true),
        ("", "", "image/jpeg", true),
        ("image/avif;q=0, image/webp", "", "image/webp", true),
        (CHROME, "&format=png", "image/png", false),
        (CHROME, "&format=jpeg", "image/jpeg", false),
        ("*/*", "&format=webp", "image/webp", false),
        ("*/*", "&format=AVIF", "image/avif", false),
    ];
    let mut etags: Vec<(String, String)> = Vec::new();
    for (accept, query, content_type, varies) in table {
        let what = format!("Accept {accept:?}{query}");
        let (status, headers, bytes) =
            get_with(&app, &format!("{path}{query}"), accept, None).await;
        assert_eq!(status, StatusCode::OK, "{what}");
        assert_eq!(header(&headers, "content-type"), content_type, "{what}");
        assert_eq!(header(&headers, "cache-control"), IMMUTABLE, "{what}");
        assert_eq!(
            header(&headers, "vary").contains("Accept"),
            varies,
            "{what}: vary {:?}",
            header(&headers, "vary")
        );
        assert_eq!(
            header(&headers, "content-length"),
            bytes.len().to_string(),
            "{what}"
        );
        let seen = decode_with_pillow(&bytes);
        assert_eq!(seen.format, pillow_name(content_type), "{what}");
        assert_eq!((seen.width, seen.height), (128, 128), "{what}");
        near(seen.quarter, RED, 40, &format!("{what}: upright"));
        let etag = header(&headers, "etag").to_owned();
        for (other_type, other_etag) in &etags {
            assert_eq!(
                other_type == content_type,
                *other_etag == etag,
                "{what}: one ETag per representation ({other_type} {other_etag} vs {etag})"
            );
        }
        etags.push((content_type.to_owned(), etag));
    }

    // 304 per representation: the AVIF's ETag matches only where AVIF would be sent.
    let avif_etag = &etags[0].1;
    let (status, headers, body) = get_with(&app, &path, CHROME, Some(avif_etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(header(&headers, "etag"), avif_etag);
    assert!(header(&headers, "vary").contains("Accept"));
    assert!(body.is_empty());
    let (status, headers, _) = get_with(&app, &path, WEBP_ONLY, Some(avif_etag)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another representation is sent in full"
    );
    assert_eq!(header(&headers, "content-type"), "image/webp");

    // HEAD negotiates like GET.
    let head = app
        .client
        .head(app.url(&path))
        .header("accept", CHROME)
        .send()
        .await
        .expect("head");
    assert_eq!(head.headers()["content-type"], "image/avif");
    assert_eq!(head.headers()["etag"], avif_etag.as_str());

    for query in ["&format=gif", "&format=svg", "&format=", "&format=jxl"] {
        let (status, _, body) = get_with(&app, &format!("{path}{query}"), CHROME, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        let json: Value = serde_json::from_slice(&body).expect("json error");
        assert_eq!(json["error"], "invalid_parameter", "{query}");
    }
    // Concurrent misses of one variant (size 96 snaps to its own bucket) encode it once.
    let before = variant_misses(&app).await;
    let path96 = format!("/pictures/{key}?size=96");
    let answers =
        futures_util::future::join_all((0..6).map(|_| get_with(&app, &path96, CHROME, None))).await;
    for (status, headers, bytes) in &answers {
        assert_eq!(*status, StatusCode::OK);
        assert_eq!(header(headers, "content-type"), "image/avif");
        assert_eq!(bytes, &answers[0].2, "one encode, shared");
    }
    assert_eq!(variant_misses(&app).await, before + 1, "single flight");
    // The master converted (no size) keeps the master's edge.
    let (status, headers, bytes) =
        get_with(&app, &format!("/pictures/{key}?format=png"), "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "image/png");
    let seen = decode_with_pillow(&bytes);
    assert_eq!((seen.format.as_str(), seen.width), ("PNG", 512));
    app.stop().await;
}

/// `visage_pictures_variant_cache_lookups_total{result="miss"}` now.
async fn variant_misses(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find_map(|line| {
            line.strip_prefix(r#"visage_pictures_variant_cache_lookups_total{result="miss"} "#)
        })
        .map_or(0, |n| n.trim().parse().expect("a count"))
}

/// An AVIF encode in a debug build on a loaded, shared machine can pass the default 20 s
/// pipeline deadline (a 500): the tests that wait for AVIF answers give it room.
pub(crate) const ROOM_FOR_DEBUG_AVIF: (&str, &str) = ("limits.pipeline_timeout_secs", "120");

/// Polls `path` with `accept` until it answers in `content_type`; returns that answer.
pub(crate) async fn until_served_as(
    app: &TestApp,
    path: &str,
    accept: &str,
    content_type: &str,
) -> (HeaderMap, bytes::Bytes) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, headers, bytes) = get_with(app, path, accept, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        if header(&headers, "content-type") == content_type {
            return (headers, bytes);
        }
        assert!(
            Instant::now() < deadline,
            "{path} never served as {content_type}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every size a default master has (512 px and below) is encoded while the client waits: the
/// first answer is the AVIF itself, final (immutable), never a stand-in.
#[actix_web::test]
async fn a_512_px_avif_is_the_first_answer() {
    let app = TestApp::spawn(&[("server.dev", "true"), ROOM_FOR_DEBUG_AVIF]).await;
    let key = upload_test_card(&app, "auth0|formats-512").await;
    for (path, accept) in [
        (format!("/pictures/{key}"), CHROME),
        (format!("/pictures/{key}?format=avif"), ""),
        ("/initials/Jane%20Doe.png?size=512".to_owned(), CHROME),
        (
            "/initials/Jane%20Doe.png?size=512&format=avif".to_owned(),
            "",
        ),
    ] {
        let (status, headers, bytes) = get_with(&app, &path, accept, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&headers, "content-type"), "image/avif", "{path}");
        assert_eq!(header(&headers, "cache-control"), IMMUTABLE, "{path}");
        let seen = decode_with_pillow(&bytes);
        assert_eq!(
            (seen.format.as_str(), seen.width, seen.height),
            ("AVIF", 512, 512),
            "{path}"
        );
    }
    app.stop().await;
}

/// Above 512 px (a 640 px master, a 640 px initials picture) a WebP stands in, briefly
/// cacheable, while the AVIF is encoded in the background; then the AVIF is served.
#[actix_web::test]
async fn a_large_avif_is_a_short_lived_webp_until_it_is_encoded() {
    let app = TestApp::spawn(&[
        ("server.dev", "true"),
        ("limits.master_size", "640"),
        ROOM_FOR_DEBUG_AVIF,
    ])
    .await;
    let key = upload_test_card(&app, "auth0|formats-large").await;
    for (path, edge) in [
        (format!("/pictures/{key}"), 640),
        ("/initials/Jane%20Doe.png?size=640".to_owned(), 640),
    ] {
        let (status, headers, bytes) = get_with(&app, &path, CHROME, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "content-type"), "image/webp", "{path}");
        assert_eq!(
            header(&headers, "cache-control"),
            "public, max-age=60",
            "{path}"
        );
        assert!(header(&headers, "vary").contains("Accept"));
        let stand_in = decode_with_pillow(&bytes);
        assert_eq!((stand_in.format.as_str(), stand_in.width), ("WEBP", edge));

        let (headers, bytes) = until_served_as(&app, &path, CHROME, "image/avif").await;
        assert_eq!(header(&headers, "cache-control"), IMMUTABLE, "{path}");
        let seen = decode_with_pillow(&bytes);
        assert_eq!(
            (seen.format.as_str(), seen.width, seen.height),
            ("AVIF", edge, edge)
        );
        near(
            seen.corner,
            [stand_in.corner[0], stand_in.corner[1], stand_in.corner[2]],
            24,
            &path,
        );
    }
    app.stop().await;
}

#[actix_web::test]
async fn initials_negotiate_on_the_png_route_and_svg_names_its_own() {
    let app = TestApp::spawn(&[]).await;
    let path = "/initials/Jane%20Doe.png?size=128&shape=circle";
    let png = get_with(&app, path, "", None).await;
    assert_eq!(header(&png.1, "content-type"), "image/png");
    let background = decode_with_pillow(&png.2).quarter;
    let mut etags = vec![header(&png.1, "etag").to_owned()];
    for (accept, query, content_type) in [
        (CHROME, "", "image/avif"),
        (WEBP_ONLY, "", "image/webp"),
        ("", "&format=jpeg", "image/jpeg"),
        ("", "&format=webp", "image/webp"),
    ] {
        let (status, headers, bytes) =
            get_with(&app, &format!("{path}{query}"), accept, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            header(&headers, "content-type"),
            content_type,
            "{accept}{query}"
        );
        let seen = decode_with_pillow(&bytes);
        assert_eq!(
            (seen.format.as_str(), seen.width),
            (pillow_name(content_type), 128)
        );
        // The same drawing: the disc's colour inside, transparent (or, in JPEG, white) corners.
        near(
            seen.quarter,
            [background[0], background[1], background[2]],
            12,
            content_type,
        );
        if content_type == "image/jpeg" {
            near(seen.corner, [255, 255, 255], 8, "JPEG corners are white");
        } else {
            assert!(
                seen.corner[3] < 16,
                "{content_type}: corner {:?}",
                seen.corner
            );
        }
        let etag = header(&headers, "etag").to_owned();
        if query != "&format=webp" {
            assert!(!etags.contains(&etag), "{content_type}: its own ETag");
        }
        etags.push(etag);
        let (status, _, _) = get_with(
            &app,
            &format!("{path}{query}"),
            accept,
            Some(&etags[etags.len() - 1]),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{content_type}");
    }
    // `.svg` names its format; `?format=` still wins over the extension.
    let (_, headers, _) = get_with(&app, "/initials/Jane%20Doe.svg", CHROME, None).await;
    assert_eq!(header(&headers, "content-type"), "image/svg+xml");
    assert!(!header(&headers, "vary").contains("Accept"));
    let (_, headers, _) = get_with(&app, "/initials/Jane%20Doe.png?format=svg", CHROME, None).await;
    assert_eq!(header(&headers, "content-type"), "image/svg+xml");
    let (_, headers, bytes) =
        get_with(&app, "/initials/Jane%20Doe.svg?format=png", CHROME, None).await;
    assert_eq!(header(&headers, "content-type"), "image/png");
    assert_eq!(decode_with_pillow(&bytes).format, "PNG");
    let (status, _, _) = get_with(&app, "/initials/Jane%20Doe.png?format=tiff", "", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[actix_web::test]
async fn drawn_avatar_fallbacks_negotiate_and_gravatar_pictures_pass_through() {
    let gravatar = FakeGravatar::start().await;
    let app = TestApp::spawn(&[
        ("gravatar.base_url", gravatar.base_url.as_str()),
        ROOM_FOR_DEBUG_AVIF,
    ])
    .await;
    // (path, Accept, content type, edge)
    let table = [
        ("/avatar/?name=Jane%20Doe&s=128", CHROME, "image/avif", 128),
        (
            "/avatar/?name=Jane%20Doe&s=128",
            WEBP_ONLY,
            "image/webp",
            128,
        ),
        ("/avatar/?name=Jane%20Doe&s=128", "*/*", "image/png", 128),
        ("/avatar/?name=Jane%20Doe&s=8", CHROME, "image/avif", 8),
        // Too large to wait for AVIF, and resized from the largest render: WebP.
        (
            "/avatar/?name=Jane%20Doe&s=2048",
            CHROME,
            "image/webp",
            2048,
        ),
        (
            "/avatar/?name=Jane%20Doe&s=64&format=jpeg",
            CHROME,
            "image/jpeg",
            64,
        ),
        // A plain colour is a 1-bit PNG, smaller than any AVIF of it.
        ("/avatar/?d=color&name=Jane&s=64", CHROME, "image/png", 64),
    ];
    for (path, accept, content_type, edge) in table {
        let (status, headers, bytes) = get_with(&app, path, accept, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&headers, "x-avatar-source"), "fallback", "{path}");
        assert_eq!(
            header(&headers, "content-type"),
            content_type,
            "{path} {accept}"
        );
        let seen = decode_with_pillow(&bytes);
        assert_eq!(
            (seen.format.as_str(), seen.width),
            (pillow_name(content_type), edge),
            "{path}"
        );
    }
    // Gravatar's picture keeps its own format, whatever the client accepts.
    let hash = gravatar::hash(Behaviour::Picture, 1);
    let (status, headers, bytes) =
        get_with(&app, &format!("/avatar/{hash}?s=80"), CHROME, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "x-avatar-source"), "gravatar");
    assert_eq!(header(&headers, "content-type"), "image/png");
    assert!(
        header(&headers, "vary").contains("Accept"),
        "it may become a fallback"
    );
    near(
        decode_with_pillow(&bytes).quarter,
        gravatar::PICTURE_RGB,
        8,
        "gravatar",
    );
    app.stop().await;
    gravatar.stop().await;
}

/// Two instances on one store with `pictures.store_variants`: the second reads what the first
/// encoded, and a delete takes the variants along.
async fn stored_variants_are_shared(
    backend: &[(&'static str, String)],
    store: Arc<dyn ObjectStore>,
) {
    let mut overrides = common::as_overrides(backend);
    overrides.extend([("server.dev", "true"), ("pictures.store_variants", "true")]);
    let first = TestApp::spawn(&overrides).await;
    let second = TestApp::spawn(&overrides).await;
    let user = format!("auth0|stored-variants-{}", std::process::id());
    let key = upload_test_card(&first, &user).await;
    let path = format!("/pictures/{key}?size=128&format=webp");
    let (status, _, encoded) = get_with(&first, &path, "", None).await;
    assert_eq!(status, StatusCode::OK);

    let master = ObjectKey::parse(&key).expect("key");
    let stored =
        visage::domain::pictures::variant_key(&master, 128, visage::vocabulary::Format::Webp)
            .expect("variant key");
    let prefix = format!("{}/", key.rsplit_once('/').expect("prefix").0);
    let listed: Vec<String> = store
        .list(&prefix)
        .await
        .expect("list")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        listed.contains(&stored.to_string()),
        "{stored} in {listed:?}"
    );
    assert_eq!(store.get(&stored).await.expect("stored variant"), encoded);

    // Replace the stored variant with another picture: the second instance serves it, so it
    // read the store instead of encoding.
    let marker = {
        let green = image::RgbImage::from_pixel(128, 128, image::Rgb([20, 200, 20]));
        let mut out = std::io::Cursor::new(Vec::new());
        green
            .write_to(&mut out, image::ImageFormat::WebP)
            .expect("webp");
        bytes::Bytes::from(out.into_inner())
    };
    store
        .put(&stored, marker.clone(), "image/webp")
        .await
        .expect("put");
    let (status, _, served) = get_with(&second, &path, "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        served, marker,
        "the second instance read the stored variant"
    );

    let deleted = first
        .client
        .delete(first.url(&user_path(&user)))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(
        store.list(&prefix).await.expect("list").is_empty(),
        "the variants went with the user"
    );
    first.stop().await;
    second.stop().await;
}

#[actix_web::test]
async fn stored_variants_on_the_folder_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().expect("utf-8").to_owned();
    let store: Arc<dyn ObjectStore> = Arc::new(FolderStore::open(dir.path()).await.expect("store"));
    // Both instances on one folder (the override wins over each app's own temporary one).
    stored_variants_are_shared(&[("storage.fs.root", root)], store).await;
}

#[actix_web::test]
async fn stored_variants_on_garage() {
    let (Some(backend), Some(store)) = (common::garage(), common::garage_store()) else {
        return;
    };
    stored_variants_are_shared(&backend, store).await;
}
