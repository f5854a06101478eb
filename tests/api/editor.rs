//! The page's editor (`<visage-avatar-editor>`), in a real headless Chromium: the square moved
//! and zoomed with the keyboard is the stored master, and follows the wheel, a mouse drag and a
//! pinch; a 12 MP photo is scaled in the browser and sent under 1 MB; axe-core finds no
//! accessibility violation; the ThumbHash placeholder is drawn; the example URLs follow the
//! page's address. Also writes the README's screenshot (when asked) and holds the
//! throttled-upload benchmark (ignored; `bench/editor.sh`). The element on another origin is in
//! `editor/embed.rs`, the examples that use it in `editor/examples.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::Client;
use fantoccini::key::Key;
use image::{Rgb, RgbImage};
use serde_json::{Value, json};

use crate::browser::{Driver, EDITOR, browser, in_editor, open_browser, start_driver, until};
use crate::common::TestApp;

mod embed;
mod examples;

pub const RED: [u8; 3] = [220, 30, 30];
pub const GREEN: [u8; 3] = [30, 200, 60];
pub const BLUE: [u8; 3] = [30, 60, 220];

/// 1200×800: three upright stripes, red | green | blue, 400 px each.
pub fn stripes(path: &Path) {
    let img = RgbImage::from_fn(1200, 800, |x, _| {
        Rgb(match x {
            0..400 => RED,
            400..800 => GREEN,
            _ => BLUE,
        })
    });
    img.save_with_format(path, image::ImageFormat::Jpeg)
        .expect("jpeg written");
}

/// A photo-like 4000×3000 JPEG (sky, sun, hills, and sensor-like noise that makes it weigh
/// what a phone photo weighs: several MB).
fn photo_12mp(path: &Path) {
    let mut state: u32 = 0x9E37_79B9;
    let img = RgbImage::from_fn(4000, 3000, |x, y| {
        // xorshift noise, ±12 per channel
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 25) as f32 - 12.0;
        let (fx, fy) = (x as f32 / 4000.0, y as f32 / 3000.0);
        let hill = 0.62 + 0.08 * (fx * 9.0).sin() + 0.05 * (fx * 23.0).cos();
        let sun = ((fx - 0.7).powi(2) + (fy - 0.25).powi(2)).sqrt() < 0.08;
        let base = if sun {
            [250.0, 210.0, 90.0]
        } else if fy > hill {
            [40.0 + 60.0 * fy, 110.0 + 40.0 * (fx * 40.0).sin(), 50.0]
        } else {
            [90.0 + 80.0 * fy, 150.0 + 60.0 * fy, 235.0 - 30.0 * fy]
        };
        let px = |c: f32| (c + noise).clamp(0.0, 255.0) as u8;
        Rgb([px(base[0]), px(base[1]), px(base[2])])
    });
    let file = std::fs::File::create(path).expect("file");
    let mut writer = std::io::BufWriter::new(file);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, 92)
        .encode_image(&img)
        .expect("jpeg written");
}

/// A Chromium session, with the window large enough for the editor.
pub struct Session {
    pub client: Client,
    driver: Driver,
    _profile: tempfile::TempDir,
}

/// A session on the page of `app`.
async fn session(app: &TestApp) -> Option<Session> {
    session_at(&app.url("/")).await
}

/// A session on the page at `url`; `None` (skip) without a browser.
pub async fn session_at(url: &str) -> Option<Session> {
    let (driver_path, chromium) = browser()?;
    let profile = tempfile::tempdir().expect("tempdir");
    let driver = start_driver(&driver_path).await;
    let client = open_browser(&driver, &chromium, profile.path()).await;
    client.set_window_size(1000, 1300).await.expect("window");
    client.goto(url).await.expect("page opens");
    Some(Session {
        client,
        driver,
        _profile: profile,
    })
}

impl Session {
    pub async fn close(self) {
        self.client.close().await.expect("browser closes");
        drop(self.driver);
    }
}

pub async fn choose(client: &Client, path: &Path) {
    in_editor(client, "[part~=file-input]")
        .await
        .send_keys(path.to_str().expect("utf-8 path"))
        .await
        .expect("file chosen");
    until(
        client,
        "the editor",
        &format!("return {EDITOR}.getElementById('editor').dataset.ready === 'true';"),
    )
    .await;
}

/// The editor's square as (x, y, side) in the chosen picture's upright pixels.
pub async fn square(client: &Client) -> (f64, f64, f64) {
    let value = client
        .execute(
            &format!(
                "return {EDITOR}.getElementById('editor').dataset.crop.split(',').map(Number);"
            ),
            vec![],
        )
        .await
        .expect("crop");
    let n = |i: usize| value[i].as_f64().expect("number");
    (n(0), n(1), n(2))
}

/// The mean colour of a canvas of the editor.
pub async fn canvas_colour(client: &Client, id: &str) -> [f64; 3] {
    let script = format!(
        "const c = {EDITOR}.getElementById({id:?}); \
         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
         const s = [0, 0, 0]; \
         for (let i = 0; i < d.length; i += 4) {{ s[0] += d[i]; s[1] += d[i + 1]; s[2] += d[i + 2]; }} \
         const n = d.length / 4; return [s[0] / n, s[1] / n, s[2] / n];"
    );
    let value = client.execute(&script, vec![]).await.expect("canvas read");
    [0, 1, 2].map(|i| value[i].as_f64().expect("number"))
}

pub fn near(got: [f64; 3], want: [u8; 3], tolerance: f64) -> bool {
    got.iter()
        .zip(want)
        .all(|(g, w)| (g - f64::from(w)).abs() <= tolerance)
}

pub async fn press_upload_and_wait(client: &Client) -> Value {
    in_editor(client, "[part~=upload]")
        .await
        .click()
        .await
        .expect("click");
    until(
        client,
        "the uploaded picture",
        &format!(
            "const root = {EDITOR}; const img = root.getElementById('result'); \
             const e = root.getElementById('error'); \
             if (!e.hidden) return {{ error: e.textContent }}; \
             return !root.getElementById('result-figure').hidden && img.complete \
               && img.naturalWidth > 0 && img.classList.contains('loaded') ? {{ src: img.src }} : null;"
        ),
    )
    .await
}

/// The stored master behind `src`, decoded.
pub async fn stored(app: &TestApp, src: &str) -> RgbImage {
    let res = app.client.get(src).send().await.expect("picture");
    assert_eq!(res.status(), 200);
    image::load_from_memory(&res.bytes().await.expect("bytes"))
        .expect("decodes")
        .into_rgb8()
}

#[actix_web::test]
async fn the_square_moved_and_zoomed_with_the_keyboard_is_the_stored_master() {
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let Some(session) = session(&app).await else {
        return;
    };
    let client = &session.client;
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("stripes.jpg");
    stripes(&photo);
    choose(client, &photo).await;

    // At first the centred square: 800 px from x = 200, green in its middle.
    assert_eq!(square(client).await, (200.0, 0.0, 800.0));
    let middle = canvas_colour(client, "preview-small-square").await;
    assert!(
        !near(middle, GREEN, 30.0),
        "the 800 px square spans three stripes: {middle:?}"
    );

    // Zoom in (+) until the square fits in one stripe, then move it right and down as far as
    // it goes: the blue stripe's bottom corner.
    let stage = in_editor(client, "[part~=crop]").await;
    let mut keys = "+".repeat(9);
    keys.extend(std::iter::repeat_n(char::from(Key::Right), 40));
    keys.extend(std::iter::repeat_n(char::from(Key::Down), 40));
    stage.send_keys(&keys).await.expect("keys");
    let (x, y, side) = square(client).await;
    assert!(side < 400.0, "zoomed in: {side}");
    assert!(
        (x + side - 1200.0).abs() <= 1.0 && (y + side - 800.0).abs() <= 1.0,
        "{x},{y},{side}"
    );
    // Focus stayed on the editor, and every preview shows the chosen region.
    let focused = client
        .execute(&format!("return {EDITOR}.activeElement.id;"), vec![])
        .await
        .expect("focus");
    assert_eq!(focused, "stage");
    for id in [
        "preview-large-round",
        "preview-large-square",
        "preview-small-square",
    ] {
        let colour = canvas_colour(client, id).await;
        // The round previews are transparent outside the circle only through CSS; all blue.
        assert!(near(colour, BLUE, 30.0), "{id}: {colour:?}");
    }

    // - zooms out again; Shift+Left takes bigger steps.
    stage.send_keys("--").await.expect("keys");
    let (_, _, wider) = square(client).await;
    assert!(wider > side, "{wider} > {side}");
    stage.send_keys("+").await.expect("keys");
    stage.send_keys("+").await.expect("keys");

    // Uploaded: the stored master is the blue region.
    let shown = press_upload_and_wait(client).await;
    let src = shown["src"].as_str().unwrap_or_else(|| panic!("{shown}"));
    let master = stored(&app, src).await;
    for (x, y) in [(20, 20), (490, 20), (256, 256), (20, 490), (490, 490)] {
        let pixel = master.get_pixel(x, y).0;
        assert!(
            near(pixel.map(f64::from), BLUE, 30.0),
            "({x},{y}): {pixel:?}"
        );
    }
    // The ThumbHash placeholder was decoded by the page: blue as well.
    let placeholder = canvas_colour(client, "placeholder").await;
    assert!(near(placeholder, BLUE, 40.0), "placeholder {placeholder:?}");

    session.close().await;
    app.stop().await;
}

/// The stage's centre in viewport pixels, for wheel and touch actions (which take no element).
async fn stage_centre(client: &Client) -> (i64, i64) {
    let value = client
        .execute(
            &format!(
                "const r = {EDITOR}.getElementById('stage').getBoundingClientRect(); \
                 return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];"
            ),
            vec![],
        )
        .await
        .expect("stage box");
    let n = |i: usize| value[i].as_i64().expect("integer");
    (n(0), n(1))
}

#[actix_web::test]
async fn the_square_follows_the_wheel_a_mouse_drag_and_a_pinch() {
    use fantoccini::actions::{
        InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction, TouchActions, WheelAction,
        WheelActions,
    };
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let Some(session) = session(&app).await else {
        return;
    };
    let client = &session.client;
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("stripes.jpg");
    stripes(&photo);
    choose(client, &photo).await;
    assert_eq!(square(client).await, (200.0, 0.0, 800.0));
    let (cx, cy) = stage_centre(client).await;
    // The 1200×800 picture is drawn 480 px wide: one CSS pixel is 2.5 of its pixels.
    let stage_width = client
        .execute(
            &format!("return {EDITOR}.getElementById('stage').getBoundingClientRect().width;"),
            vec![],
        )
        .await
        .expect("width");
    let scale = 1200.0 / stage_width.as_f64().expect("number");

    // The wheel (up) zooms in around the same centre.
    let wheel = WheelActions::new("wheel".into()).then(WheelAction::Scroll {
        duration: None,
        x: cx,
        y: cy,
        delta_x: 0,
        delta_y: -300,
    });
    client.perform_actions(wheel).await.expect("wheel");
    let (x, y, side) = square(client).await;
    assert!(side < 700.0, "zoomed in by the wheel: {side}");
    assert!(
        (x + side / 2.0 - 600.0).abs() <= 1.0 && (y + side / 2.0 - 400.0).abs() <= 1.0,
        "still centred: {x},{y},{side}"
    );

    // A mouse drag 40 CSS px to the left moves the square as far in the picture's pixels.
    let stage = in_editor(client, "[part~=crop]").await;
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: stage,
            duration: None,
            x: 0,
            y: 0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: None,
            x: -40,
            y: 0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    client.perform_actions(drag).await.expect("drag");
    let (dragged_x, dragged_y, dragged_side) = square(client).await;
    assert_eq!((dragged_y, dragged_side), (y, side), "only moved");
    assert!(
        (x - dragged_x - 40.0 * scale).abs() <= 2.0,
        "moved from {x} to {dragged_x}, expected {} px",
        40.0 * scale
    );

    // Two fingers moving apart to four times their distance: a square a quarter the side.
    let finger = |id: &str, direction: i64| {
        TouchActions::new(id.into())
            .then(PointerAction::MoveTo {
                duration: None,
                x: cx + direction * 10,
                y: cy,
            })
            .then(PointerAction::Down { button: 0 })
            .then(PointerAction::MoveTo {
                duration: Some(Duration::from_millis(100)),
                x: cx + direction * 40,
                y: cy,
            })
            .then(PointerAction::Up { button: 0 })
    };
    client
        .perform_actions(
            fantoccini::actions::Actions::from(finger("left", -1)).and(finger("right", 1)),
        )
        .await
        .expect("pinch");
    let (_, _, pinched) = square(client).await;
    assert!(
        (pinched - side / 4.0).abs() <= 2.0,
        "a pinch to 4x the distance: {side} became {pinched}"
    );

    session.close().await;
    app.stop().await;
}

/// Records the size of every request body the page sends (the browser's own count, as the
/// upload's progress total: the Content-Length on the wire).
const RECORD_SENT_BYTES: &str = "window.__sentBytes = [];
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (body) {
      this.upload.addEventListener('loadend', (e) => window.__sentBytes.push(e.total));
      return send.call(this, body);
    };
    return true;";

#[actix_web::test]
async fn a_12_mp_photo_is_scaled_in_the_browser_and_sent_under_1_mb() {
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let Some(session) = session(&app).await else {
        return;
    };
    let client = &session.client;
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("IMG_4032.jpg");
    photo_12mp(&photo);
    let original = std::fs::metadata(&photo).expect("photo").len();
    assert!(
        original > 3_000_000,
        "a phone-sized original: {original} bytes"
    );
    choose(client, &photo).await;
    let stage = in_editor(client, "[part~=crop]").await;
    stage.send_keys("+++").await.expect("zoom");

    client
        .execute(RECORD_SENT_BYTES, vec![])
        .await
        .expect("hook");
    let shown = press_upload_and_wait(client).await;
    assert!(shown["src"].is_string(), "{shown}");
    let sent = client
        .execute("return window.__sentBytes;", vec![])
        .await
        .expect("sent");
    let sent: Vec<u64> = sent
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(sent.len(), 1, "one upload: {sent:?}");
    assert!(
        sent[0] < 1_000_000,
        "sent {} bytes for a {original}-byte 12 MP photo",
        sent[0]
    );
    eprintln!(
        "12 MP photo: {original} bytes on disk, {} bytes sent",
        sent[0]
    );

    if let Some(out) = std::env::var_os("VISAGE_WRITE_SCREENSHOT") {
        // The README's picture of the editor, from this very session.
        client
            .execute("window.scrollTo(0, 0); return true;", vec![])
            .await
            .expect("scroll");
        let png = client.screenshot().await.expect("screenshot");
        std::fs::write(PathBuf::from(out), &png).expect("screenshot written");
    }
    session.close().await;
    app.stop().await;
}

/// Runs axe-core in the page (open shadow roots included) and returns its violations as
/// `id: targets` lines.
async fn axe_violations(client: &Client, axe_source: &str) -> Vec<String> {
    client
        .execute(&format!("{axe_source}\nreturn typeof window.axe;"), vec![])
        .await
        .expect("axe injected");
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done(r.violations.map((v) => v.id + ' (' + v.impact + '): ' +
                  v.nodes.map((n) => n.target.join(' ')).join(', '))))
               .catch((e) => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("axe ran");
    result
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

pub fn axe_source() -> Option<String> {
    if let Some(path) = std::env::var_os("VISAGE_TEST_AXE") {
        return Some(std::fs::read_to_string(path).expect("VISAGE_TEST_AXE names axe.min.js"));
    }
    crate::common::missing(
        "VISAGE_TEST_REQUIRE_BROWSER",
        "VISAGE_TEST_AXE is not set (axe-core)",
    );
    None
}

#[actix_web::test]
async fn axe_finds_no_violation_on_the_page_the_editor_or_the_result() {
    let Some(axe) = axe_source() else {
        return;
    };
    // Dev mode: the editor open, an error shown, then an uploaded picture.
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let Some(session) = session(&app).await else {
        return;
    };
    let client = &session.client;
    assert_eq!(
        axe_violations(client, &axe).await,
        Vec::<String>::new(),
        "empty page"
    );
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("stripes.jpg");
    stripes(&photo);
    choose(client, &photo).await;
    assert_eq!(
        axe_violations(client, &axe).await,
        Vec::<String>::new(),
        "editor open"
    );
    let shown = press_upload_and_wait(client).await;
    assert!(shown["src"].is_string(), "{shown}");
    assert_eq!(
        axe_violations(client, &axe).await,
        Vec::<String>::new(),
        "after the upload"
    );
    session.close().await;
    app.stop().await;

    // Outside dev mode, with the default public URL: the token field, an error next to the
    // form, and examples that show the page's own address.
    let app = TestApp::spawn(&[("server.public_url", "http://127.0.0.1:8080")]).await;
    let Some(session) = crate::editor::session(&app).await else {
        return;
    };
    let client = &session.client;
    let examples = client
        .execute(
            "return [...document.querySelectorAll('code.url')].map((c) => c.textContent);",
            vec![],
        )
        .await
        .expect("examples");
    let examples = examples.as_array().expect("array");
    assert_eq!(examples.len(), 3);
    for example in examples {
        let text = example.as_str().expect("text");
        assert!(text.starts_with(&format!("{}/", app.base)), "{text}");
    }
    in_editor(client, "[part~=upload]")
        .await
        .click()
        .await
        .expect("click");
    let focus = until(
        client,
        "the error",
        &format!(
            "const root = {EDITOR}; const e = root.getElementById('error'); \
             return e.hidden ? null : [e.textContent, document.activeElement.id, root.activeElement.id];"
        ),
    )
    .await;
    assert_eq!(focus, json!(["Choose a picture first.", "editor", "file"]));
    assert_eq!(
        axe_violations(client, &axe).await,
        Vec::<String>::new(),
        "token form with an error"
    );
    session.close().await;
    app.stop().await;
}

/// Chromium's network emulation through chromedriver (`Network.emulateNetworkConditions`).
async fn throttle(session: &Session, upload_bits_per_sec: f64, latency_ms: u64) {
    let id = session
        .client
        .session_id()
        .await
        .expect("id")
        .expect("a session");
    let bytes_per_sec = upload_bits_per_sec / 8.0;
    let res = reqwest::Client::new()
        .post(format!(
            "{}/session/{id}/chromium/network_conditions",
            session.driver.url
        ))
        .json(&json!({ "network_conditions": {
            "offline": false,
            "latency": latency_ms,
            "download_throughput": bytes_per_sec * 4.0,
            "upload_throughput": bytes_per_sec,
        }}))
        .send()
        .await
        .expect("network conditions");
    assert!(res.status().is_success(), "{:?}", res.text().await);
}

/// Milliseconds from pressing Upload to the stored picture shown, through the page.
async fn timed_page_upload(client: &Client) -> f64 {
    client
        .execute(
            "window.__shown = null;
             const root = document.querySelector('visage-avatar-editor').shadowRoot;
             const img = root.getElementById('result');
             img.addEventListener('load', () => { window.__shown = performance.now(); }, { once: true });
             window.__pressed = performance.now();
             root.querySelector('[part~=upload]').click();
             return true;",
            vec![],
        )
        .await
        .expect("pressed");
    let ms = until(
        client,
        "the picture",
        "return window.__shown ? window.__shown - window.__pressed : null;",
    )
    .await;
    ms.as_f64().expect("ms")
}

/// The same, as the page did before the editor: the original file in a form, then the picture.
async fn timed_original_upload(client: &Client) -> f64 {
    client
        .execute(
            "window.__shown = null;
             window.__pressed = performance.now();
             const form = new FormData();
             form.append('picture', document.querySelector('visage-avatar-editor').shadowRoot
               .querySelector('[part~=file-input]').files[0]);
             const xhr = new XMLHttpRequest();
             xhr.open('POST', '/v1/me/picture');
             xhr.onload = () => {
               const img = new Image();
               img.onload = () => { window.__shown = performance.now(); };
               img.src = JSON.parse(xhr.responseText).picture + '?size=128';
             };
             xhr.send(form);
             return true;",
            vec![],
        )
        .await
        .expect("sent");
    let ms = until(
        client,
        "the picture",
        "return window.__shown ? window.__shown - window.__pressed : null;",
    )
    .await;
    ms.as_f64().expect("ms")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// BENCHMARKS.md: a 12 MP phone photo through the page at 10 Mbit/s up (40 down, 40 ms),
/// original bytes vs scaled in the browser, rounds alternating. `bench/editor.sh` runs it.
#[actix_web::test]
#[ignore = "a benchmark: run by bench/editor.sh"]
async fn bench_12_mp_upload_over_a_throttled_connection() {
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let Some(session) = session(&app).await else {
        panic!("the benchmark needs VISAGE_TEST_CHROMIUM and VISAGE_TEST_CHROMEDRIVER");
    };
    let client = &session.client;
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("IMG_4032.jpg");
    photo_12mp(&photo);
    let original = std::fs::metadata(&photo).expect("photo").len();
    choose(client, &photo).await;
    throttle(&session, 10_000_000.0, 40).await;
    let rounds: usize = std::env::var("VISAGE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so drift on a noisy machine hits both.
        if round % 2 == 0 {
            before.push(timed_original_upload(client).await);
            after.push(timed_page_upload(client).await);
        } else {
            after.push(timed_page_upload(client).await);
            before.push(timed_original_upload(client).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (b, a) = (median(&mut before), median(&mut after));
    println!(
        "12 MP photo ({original} bytes), 10 Mbit/s up, {rounds} rounds: original {b:.0} ms, \
         scaled in the browser {a:.0} ms (median), {:.1}x faster; rounds before {before:?}, after {after:?}",
        b / a
    );
    session.close().await;
    app.stop().await;
}
