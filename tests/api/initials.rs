//! `GET /initials/{text}.{png|svg}`: the contract's headers, every parameter, every script,
//! and golden pictures.

use std::path::PathBuf;

use image::RgbaImage;
use reqwest::StatusCode;

use crate::common::TestApp;

fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn png(app: &TestApp, path: &str) -> RgbaImage {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let bytes = response.bytes().await.expect("body");
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .expect("a PNG")
        .to_rgba8()
}

#[actix_web::test]
async fn image_headers_etag_304_and_head() {
    let app = TestApp::spawn(&[]).await;
    let path = "/initials/Jane%20Doe.png?size=64";
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body");
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-length"], body.len().to_string().as_str());
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let etag = headers["etag"].to_str().expect("ascii").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10);

    let again = app
        .client
        .get(app.url(path))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.expect("body").is_empty());

    let other = app
        .client
        .get(app.url(path))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), StatusCode::OK);

    let head = app
        .client
        .head(app.url(path))
        .send()
        .await
        .expect("request");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["etag"], etag.as_str());
    assert_eq!(head.headers()["content-type"], "image/png");
    assert_eq!(
        head.headers()["content-length"],
        body.len().to_string().as_str()
    );

    // The same normalized name is the same picture; another name is another ETag.
    let same = app.get("/initials/%20%20jane%20%20DOE%20.png?s=64").await;
    assert_eq!(same.headers()["etag"], etag.as_str());
    let svg = app.get("/initials/Jane%20Doe.svg?size=64").await;
    assert_ne!(svg.headers()["etag"], etag.as_str());

    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics.contains("visage_initials_cache_lookups_total{result=\"hit\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("visage_initials_cache_lookups_total{result=\"miss\"}"));
    app.stop().await;
}

#[actix_web::test]
async fn every_invalid_parameter_is_a_400() {
    let app = TestApp::spawn(&[]).await;
    let long = "a".repeat(257);
    let cases = [
        "/initials/jd.png?size=15".to_owned(),
        "/initials/jd.png?size=1025".to_owned(),
        "/initials/jd.png?s=0".to_owned(),
        "/initials/jd.png?size=abc".to_owned(),
        "/initials/jd.png?size=64.5".to_owned(),
        "/initials/jd.png?bg=12".to_owned(),
        "/initials/jd.png?bg=%23ffffff".to_owned(),
        "/initials/jd.png?fg=gggggg".to_owned(),
        "/initials/jd.png?fg=1234".to_owned(),
        "/initials/jd.png?length=0".to_owned(),
        "/initials/jd.png?length=4".to_owned(),
        "/initials/jd.png?length=two".to_owned(),
        "/initials/jd.png?shape=triangle".to_owned(),
        "/initials/jd.png?bold=maybe".to_owned(),
        "/initials/jd.gif".to_owned(),
        "/initials/jd".to_owned(),
        "/initials/.png".to_owned(),
        "/initials/%FF%FE.png".to_owned(),
        format!("/initials/{long}.png"),
    ];
    for path in &cases {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: serde_json::Value = response.json().await.expect("json error");
        assert_eq!(body["error"], "invalid_parameter", "{path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // 256 bytes is still fine.
    let edge = "a".repeat(256);
    assert_eq!(
        app.get(&format!("/initials/{edge}.png")).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[actix_web::test]
async fn every_valid_combination_has_the_requested_size() {
    let app = TestApp::spawn(&[]).await;
    let mut checked = 0;
    for size in [16_u32, 97, 1024] {
        for length in ["", "&length=1", "&length=2", "&length=3"] {
            for shape in ["", "&shape=square", "&shape=circle"] {
                for style in ["", "&bold=true&bg=fff", "&bold=false&fg=123456&bg=abcdef"] {
                    let query = format!("?s={size}{length}{shape}{style}");
                    let picture =
                        png(&app, &format!("/initials/Jane%20van%20Doe.png{query}")).await;
                    assert_eq!(picture.dimensions(), (size, size), "{query}");
                    let corner = picture.get_pixel(0, 0).0[3];
                    let centre = picture.get_pixel(size / 2, size / 2).0[3];
                    assert_eq!(centre, 255, "{query}");
                    let expected_corner = if shape.contains("circle") { 0 } else { 255 };
                    assert_eq!(corner, expected_corner, "{query}");

                    let svg = app
                        .get(&format!("/initials/Jane%20van%20Doe.svg{query}"))
                        .await;
                    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
                    let text = svg.text().await.expect("svg");
                    assert!(text.contains(&format!(r#"width="{size}" height="{size}""#)));
                    assert!(text.contains("<path"), "{text}");
                    for forbidden in ["<text", "<script", "href", "url(", "<image", "@import"] {
                        assert!(!text.contains(forbidden), "{forbidden} in {text}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 3 * 4 * 3 * 3);
    app.stop().await;
}

#[actix_web::test]
async fn explicit_colours_are_honoured_and_png_is_small() {
    let app = TestApp::spawn(&[]).await;
    let picture = png(&app, "/initials/jd.png?size=64&bg=ff0000&fg=00f").await;
    assert_eq!(picture.get_pixel(0, 0).0, [255, 0, 0, 255]);
    assert!(
        picture.pixels().any(|p| p.0 == [0, 0, 255, 255]),
        "the text colour appears as given"
    );
    let svg = app.get("/initials/jd.svg?bg=ff0000&fg=00f").await;
    let text = svg.text().await.expect("svg");
    assert!(text.contains("#ff0000") && text.contains("#0000ff"));

    for name in [
        "Jane Doe",
        "Élodie",
        "李小龍",
        "김민준",
        "محمد علي",
        "क्षितिज शर्मा",
    ] {
        for extra in ["", "&shape=circle", "&bold=true"] {
            let response = app
                .get(&format!("/initials/{}.png?size=128{extra}", enc(name)))
                .await;
            let bytes = response.bytes().await.expect("body");
            assert!(
                bytes.len() <= 4096,
                "{name}{extra}: {} bytes at 128 px",
                bytes.len()
            );
        }
    }
    app.stop().await;
}

/// Two different letters of every script draw differently, and neither is the letterless
/// placeholder (tofu would make both the same empty box).
#[actix_web::test]
async fn every_script_draws_its_letters() {
    let app = TestApp::spawn(&[]).await;
    let neutral = png(&app, "/initials/123.png?size=48&bg=000&fg=fff").await;
    let pairs = [
        ("Latin", "A", "Ž"),
        ("Greek", "Ω", "λ"),
        ("Cyrillic", "Д", "Ж"),
        ("Arabic", "م", "ع"),
        ("Hebrew", "ד", "ש"),
        ("Devanagari", "क", "श"),
        ("Thai", "ส", "จ"),
        ("Han", "李", "王"),
        ("Kana", "や", "タ"),
        ("Hangul", "김", "박"),
    ];
    for (script, one, two) in pairs {
        for bold in ["false", "true"] {
            let query = format!("?size=48&bg=000&fg=fff&bold={bold}");
            let a = png(&app, &format!("/initials/{}.png{query}", enc(one))).await;
            let b = png(&app, &format!("/initials/{}.png{query}", enc(two))).await;
            assert_ne!(a, b, "{script}: {one} and {two} look the same");
            assert_ne!(a, neutral, "{script}: {one} is not drawn");
            assert_ne!(b, neutral, "{script}: {two} is not drawn");
            let ink = a.pixels().filter(|p| p.0[0] > 128).count();
            assert!(ink > 20, "{script}: {one} has ink ({ink} px)");
        }
    }
    app.stop().await;
}

#[actix_web::test]
async fn extra_fonts_are_tried_first() {
    let bold = crate::common::fixture("../../fonts/NotoSans-Bold.ttf");
    let bold = bold.to_str().expect("utf-8 path");
    let with_extra = TestApp::spawn(&[("fonts.extra", bold)]).await;
    let plain = TestApp::spawn(&[]).await;
    let path = "/initials/Jane%20Doe.png?size=64&bold=false";
    let extra_regular = png(&with_extra, path).await;
    let default_regular = png(&plain, path).await;
    let default_bold = png(&plain, &path.replace("bold=false", "bold=true")).await;
    assert_ne!(default_regular, default_bold);
    assert_eq!(
        extra_regular, default_bold,
        "the extra (bold) font drew the regular request"
    );
    with_extra.stop().await;
    plain.stop().await;
}

fn golden_path(name: &str) -> PathBuf {
    crate::common::fixture(&format!("initials/{name}.png"))
}

/// Compares with the committed golden pictures; `VISAGE_UPDATE_GOLDENS=1` rewrites them.
#[actix_web::test]
async fn pictures_match_the_goldens() {
    let app = TestApp::spawn(&[]).await;
    let cases = [
        ("latin", "Jane Doe", ""),
        ("latin-circle-bold", "Jane Doe", "&shape=circle&bold=true"),
        ("accent", "Élodie", ""),
        ("cyrillic-three", "дмитрий сергеевич иванов", "&length=3"),
        ("greek", "Γιώργος Παπαδόπουλος", ""),
        ("arabic", "محمد علي", "&shape=circle"),
        ("hebrew", "דוד כהן", ""),
        ("devanagari", "क्षितिज शर्मा", ""),
        ("thai", "สมชาย ใจดี", ""),
        ("han", "李小龍", "&bold=true"),
        ("hangul", "김민준", ""),
        ("neutral", "🎉", "&shape=circle"),
        ("colours", "jd", "&bg=fc0&fg=000"),
    ];
    let update = std::env::var_os("VISAGE_UPDATE_GOLDENS").is_some();
    for (name, text, extra) in cases {
        let picture = png(&app, &format!("/initials/{}.png?size=96{extra}", enc(text))).await;
        let path = golden_path(name);
        if update {
            std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
            picture.save(&path).expect("write golden");
            continue;
        }
        let golden = image::open(&path)
            .unwrap_or_else(|e| panic!("golden {}: {e}", path.display()))
            .to_rgba8();
        assert_eq!(picture.dimensions(), golden.dimensions(), "{name}");
        // Small tolerance: a channel may move a few levels (float rounding, font updates),
        // and only a sliver of pixels may move a lot.
        let (mut total, mut far) = (0_u64, 0_usize);
        for (p, g) in picture.pixels().zip(golden.pixels()) {
            let diff =
                p.0.iter()
                    .zip(g.0)
                    .map(|(a, b)| a.abs_diff(b))
                    .max()
                    .unwrap_or(0);
            total += u64::from(diff);
            if diff > 48 {
                far += 1;
            }
        }
        let pixels = (picture.width() * picture.height()) as usize;
        let mean = total as f64 / pixels as f64;
        assert!(
            mean < 1.5 && far * 200 < pixels,
            "{name}: mean {mean:.2}, {far} pixels far"
        );
    }
    app.stop().await;
}
