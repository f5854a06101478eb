//! `crop=x,y,w,h` on uploads and the `thumbhash` of the answer, with pictures whose regions have
//! known colours: the EXIF test cards (upright red, green / blue, yellow quadrants, stored in
//! all eight orientations) and PNGs drawn here.

use base64::Engine;
use image::{Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::TestApp;
use crate::upload::{fixture, post_raw, user_path};

const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 60];
const BLUE: [u8; 3] = [30, 60, 220];
const YELLOW: [u8; 3] = [240, 220, 30];

async fn dev_app() -> TestApp {
    TestApp::spawn(&[("server.dev", "true")]).await
}

/// A multipart form with the file and, when given, a `crop` text field (before or after it).
fn form(picture: &[u8], crop: Option<&str>, crop_first: bool) -> (String, Vec<u8>) {
    let boundary = "----visage-crop-form";
    let crop_part = crop.map(|c| {
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"crop\"\r\n\r\n{c}\r\n")
    });
    let mut body = Vec::new();
    if crop_first {
        body.extend_from_slice(crop_part.clone().unwrap_or_default().as_bytes());
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; \
             filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(picture);
    body.extend_from_slice(b"\r\n");
    if !crop_first {
        body.extend_from_slice(crop_part.unwrap_or_default().as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads `picture` raw with `?crop=` and returns the status and JSON body.
async fn upload_with_query(app: &TestApp, picture: Vec<u8>, crop: &str) -> (StatusCode, Value) {
    let path = format!("{}?crop={crop}", user_path("auth0|crop"));
    let res = post_raw(app, &path, "image/jpeg", picture, None).await;
    let status = res.status();
    (status, res.json().await.expect("json"))
}

/// The stored master of a 201 answer, decoded.
async fn master(app: &TestApp, answer: &Value) -> RgbImage {
    let key = answer["key"].as_str().expect("key");
    let res = app.get(&format!("/pictures/{key}")).await;
    assert_eq!(res.status(), 200);
    image::load_from_memory(&res.bytes().await.expect("bytes"))
        .expect("decodes")
        .into_rgb8()
}

fn close(pixel: Rgb<u8>, colour: [u8; 3]) -> bool {
    pixel
        .0
        .iter()
        .zip(colour)
        .all(|(&a, b)| a.abs_diff(b) <= 24)
}

/// Asserts the colour at fractions (fx, fy) of the master.
fn assert_colour_at(img: &RgbImage, fx: f64, fy: f64, colour: [u8; 3], what: &str) {
    let x = ((f64::from(img.width()) * fx) as u32).min(img.width() - 1);
    let y = ((f64::from(img.height()) * fy) as u32).min(img.height() - 1);
    let pixel = *img.get_pixel(x, y);
    assert!(
        close(pixel, colour),
        "{what}: at ({fx}, {fy}) {pixel:?}, expected {colour:?}"
    );
}

fn assert_all(img: &RgbImage, colour: [u8; 3], what: &str) {
    for (fx, fy) in [
        (0.05, 0.05),
        (0.95, 0.05),
        (0.5, 0.5),
        (0.05, 0.95),
        (0.95, 0.95),
    ] {
        assert_colour_at(img, fx, fy, colour, what);
    }
}

#[actix_web::test]
async fn a_quadrant_crop_gives_that_quadrant_in_every_exif_orientation() {
    let app = dev_app().await;
    // Upright the cards are 1600×1200; each quadrant is 800×600.
    let quadrants = [
        ("0,0,800,600", RED),
        ("800,0,800,600", GREEN),
        ("0,600,800,600", BLUE),
        ("800,600,800,600", YELLOW),
    ];
    for orientation in 1..=8 {
        let card = fixture(&format!("orientation-{orientation}.jpg"));
        for (crop, colour) in quadrants {
            let (status, answer) = upload_with_query(&app, card.clone(), crop).await;
            assert_eq!(
                status,
                StatusCode::CREATED,
                "{orientation} {crop}: {answer}"
            );
            let img = master(&app, &answer).await;
            assert_eq!(img.dimensions(), (512, 512));
            assert_all(
                &img,
                colour,
                &format!("orientation {orientation}, crop {crop}"),
            );
        }
    }
    app.stop().await;
}

#[actix_web::test]
async fn the_master_is_the_largest_centred_square_of_the_crop() {
    let app = dev_app().await;
    let card = fixture("orientation-6.jpg");
    // Wide: 800×600 across the red/green edge → the 600 px square from x=500: half red, half green.
    let (status, answer) = upload_with_query(&app, card.clone(), "400,0,800,600").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let img = master(&app, &answer).await;
    for fy in [0.1, 0.5, 0.9] {
        assert_colour_at(&img, 0.3, fy, RED, "left half");
        assert_colour_at(&img, 0.7, fy, GREEN, "right half");
    }
    // Tall: the whole left column 800×1200 → the 800 px square from y=200: red over blue.
    let (status, answer) = upload_with_query(&app, card, "0,0,800,1200").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let img = master(&app, &answer).await;
    for fx in [0.1, 0.5, 0.9] {
        assert_colour_at(&img, fx, 0.3, RED, "top half");
        assert_colour_at(&img, fx, 0.7, BLUE, "bottom half");
    }
    app.stop().await;
}

/// A PNG drawn here: a 300×200 field of grey with a 40×40 magenta square at (230, 20).
fn marked_png() -> Vec<u8> {
    let img = RgbImage::from_fn(300, 200, |x, y| {
        if (230..270).contains(&x) && (20..60).contains(&y) {
            Rgb([230, 20, 200])
        } else {
            Rgb([128, 128, 128])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

#[actix_web::test]
async fn crop_works_as_a_form_field_on_both_routes_and_with_png() {
    let app = dev_app().await;
    let png = marked_png();
    for (path, crop_first) in [
        ("/v1/me/picture", true),
        (user_path("auth0|form").as_str(), false),
    ] {
        let (content_type, body) = form(&png, Some("230,20,40,40"), crop_first);
        let res = post_raw(&app, path, &content_type, body, None).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{path}");
        let answer: Value = res.json().await.expect("json");
        let img = master(&app, &answer).await;
        assert_all(&img, [230, 20, 200], path);
    }
    // The same crop in the query and the form is fine; two different ones are refused.
    let (content_type, body) = form(&png, Some("230,20,40,40"), false);
    let res = post_raw(
        &app,
        "/v1/me/picture?crop=230,20,40,40",
        &content_type,
        body,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (content_type, body) = form(&png, Some("230,20,40,40"), false);
    let res = post_raw(
        &app,
        "/v1/me/picture?crop=0,0,40,40",
        &content_type,
        body,
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let error: Value = res.json().await.expect("json");
    assert_eq!(error["error"], "invalid_parameter");
    app.stop().await;
}

#[actix_web::test]
async fn crops_outside_too_small_or_malformed_are_invalid_parameters() {
    let app = dev_app().await;
    // orientation-6 is stored 1200×1600 and upright 1600×1200: the check is on the upright size.
    let card = fixture("orientation-6.jpg");
    let refused = [
        "0,0,1200,1600",      // the stored size, not the upright one
        "0,0,1601,1200",      // one pixel too wide
        "1585,0,16,16",       // starts inside, ends outside
        "0,1185,16,16",       // the same below
        "0,0,15,100",         // under 16 px
        "0,0,100,15",         // under 16 px
        "0,0,100",            // three numbers
        "0,0,100,100,100",    // five
        "-1,0,100,100",       // negative
        "0.5,0,100,100",      // fractional
        "a,b,c,d",            // not numbers
        "",                   // empty
        "4294967295,0,16,16", // too large to add up
    ];
    for crop in refused {
        let (status, answer) = upload_with_query(&app, card.clone(), crop).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{crop:?}: {answer}");
        assert_eq!(answer["error"], "invalid_parameter", "{crop:?}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The edges themselves are inside.
    for crop in ["0,0,1600,1200", "1584,1184,16,16"] {
        let (status, answer) = upload_with_query(&app, card.clone(), crop).await;
        assert_eq!(status, StatusCode::CREATED, "{crop}: {answer}");
    }
    // Nothing of the refused uploads was stored: only the two accepted ones.
    let stored = crate::upload::pictures_under(app.data.path());
    assert_eq!(stored.len(), 2, "{stored:?}");
    app.stop().await;
}

/// Decodes the answer's `thumbhash` and returns its average colour (0..=255) and placeholder size.
fn thumbhash_of(answer: &Value) -> ([f32; 3], (usize, usize)) {
    let encoded = answer["thumbhash"].as_str().expect("thumbhash is a string");
    let hash = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("standard base64");
    assert!((5..=25).contains(&hash.len()), "{} bytes", hash.len());
    let (w, h, rgba) = thumbhash::thumb_hash_to_rgba(&hash).expect("a valid ThumbHash");
    let mut sum = [0.0_f32; 3];
    for pixel in rgba.chunks_exact(4) {
        for (total, &value) in sum.iter_mut().zip(pixel) {
            *total += f32::from(value);
        }
    }
    let n = (w * h) as f32;
    ([sum[0] / n, sum[1] / n, sum[2] / n], (w, h))
}

#[actix_web::test]
async fn the_thumbhash_decodes_to_a_placeholder_of_the_master() {
    let app = dev_app().await;
    let card = fixture("orientation-3.jpg");
    // A plain quadrant: the placeholder is that colour.
    let (status, answer) = upload_with_query(&app, card.clone(), "800,600,800,600").await;
    assert_eq!(status, StatusCode::CREATED);
    let (average, size) = thumbhash_of(&answer);
    assert_eq!(size, (32, 32), "a square master gives a square placeholder");
    for (got, want) in average.iter().zip(YELLOW) {
        assert!(
            (got - f32::from(want)).abs() < 30.0,
            "{average:?} vs {YELLOW:?}"
        );
    }
    // The whole card: the placeholder's average is the master's, and its corners keep the
    // quadrants' colours (red top-left, yellow bottom-right).
    let res = post_raw(&app, "/v1/me/picture", "image/jpeg", card, None).await;
    let answer: Value = res.json().await.expect("json");
    let img = master(&app, &answer).await;
    let mut master_sum = [0.0_f32; 3];
    for pixel in img.pixels() {
        for (total, &value) in master_sum.iter_mut().zip(&pixel.0) {
            *total += f32::from(value);
        }
    }
    let n = (img.width() * img.height()) as f32;
    let (average, _) = thumbhash_of(&answer);
    for (placeholder, master) in average.iter().zip(master_sum) {
        assert!(
            (placeholder - master / n).abs() < 20.0,
            "{average:?} vs the master's {master_sum:?} / {n}"
        );
    }
    let hash = base64::engine::general_purpose::STANDARD
        .decode(answer["thumbhash"].as_str().expect("thumbhash"))
        .expect("base64");
    let (w, _, rgba) = thumbhash::thumb_hash_to_rgba(&hash).expect("decodes");
    let at = |x: usize, y: usize| {
        Rgb([
            rgba[(y * w + x) * 4],
            rgba[(y * w + x) * 4 + 1],
            rgba[(y * w + x) * 4 + 2],
        ])
    };
    let top_left = at(3, 3);
    let bottom_right = at(28, 28);
    assert!(
        top_left.0[0] > top_left.0[2] + 40,
        "reddish top-left {top_left:?}"
    );
    assert!(
        bottom_right.0[1] > bottom_right.0[2] + 40,
        "yellowish bottom-right {bottom_right:?}"
    );
    app.stop().await;
}
