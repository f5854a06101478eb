//! The page in a real headless Chromium: choose a JPEG, upload it, see it; choose an SVG, see the
//! API's own error message; drop a PNG, see it; all through the page's `<visage-avatar-editor>`.
//! Also the Chromium harness the other browser tests share. Skips without a browser, unless
//! VISAGE_TEST_REQUIRE_BROWSER is set or CI=true.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::{Element, ElementRef};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::common::auth0::FakeTenant;
use crate::common::{TestApp, as_overrides};

/// chromedriver on a free port, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser and driver given by `scripts/test`, or `None` (skip) when they are not set.
pub fn browser() -> Option<(PathBuf, PathBuf)> {
    let path = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_file())
    };
    if let (Some(driver), Some(chromium)) = (
        path("VISAGE_TEST_CHROMEDRIVER"),
        path("VISAGE_TEST_CHROMIUM"),
    ) {
        return Some((driver, chromium));
    }
    crate::common::missing(
        "VISAGE_TEST_REQUIRE_BROWSER",
        "VISAGE_TEST_CHROMEDRIVER or VISAGE_TEST_CHROMIUM does not name a file (Chromium)",
    );
    None
}

pub async fn start_driver(driver: &Path) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = http
            .get(format!("{}/status", driver.url))
            .send()
            .await
            .ok()
            .and_then(|r| r.error_for_status().ok());
        if let Some(res) = ready {
            let status: Value = res.json().await.expect("status json");
            if status["value"]["ready"] == true {
                return driver;
            }
        }
        assert!(Instant::now() < deadline, "chromedriver did not get ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn open_browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": args, "binary": chromium }),
    );
    // chromedriver answers on plain HTTP over loopback.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Polls `script` in the page until it returns something other than `null` or `false`.
pub async fn until(client: &Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = client.execute(script, vec![]).await.expect("script runs");
        if !(value.is_null() || value == false) {
            return value;
        }
        assert!(Instant::now() < deadline, "the page never showed {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The shadow root of the page's first `<visage-avatar-editor>`, as a script expression.
pub const EDITOR: &str = "document.querySelector('visage-avatar-editor').shadowRoot";

/// The element inside the editor's shadow root that `selector` names (`[part~=upload]`, `#stage`),
/// for WebDriver to type into or click: CSS locators do not reach into shadow roots.
pub async fn in_editor(client: &Client, selector: &str) -> Element {
    // Polled: the module may still be loading, and until it runs there is no shadow root.
    let script = format!("return {EDITOR}?.querySelector({selector:?}) ?? null;");
    let found = until(client, selector, &script).await;
    let id = found
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{selector} is not an element: {found}"));
    Element::from_element_id(client.clone(), ElementRef::from(id.to_owned()))
}

/// The text of the editor's error, or `null` while none is shown, as a script.
pub fn editor_error() -> String {
    format!("const e = {EDITOR}.getElementById('error'); return e.hidden ? null : e.textContent;")
}

/// A small photo-like JPEG.
pub fn jpeg(path: &Path) {
    let img = image::RgbImage::from_fn(96, 64, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x + y) % 256) as u8])
    });
    img.save_with_format(path, image::ImageFormat::Jpeg)
        .expect("jpeg written");
}

const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30" fill="teal"/></svg>"#;

/// The error message the API itself gives for `bytes` sent as the page sends it (multipart).
async fn api_message(app: &TestApp, name: &str, content_type: &str, bytes: &[u8]) -> String {
    let boundary = "visage-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"{name}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = app
        .client
        .post(app.url("/v1/me/picture"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), 415, "an SVG is refused");
    let json: Value = res.json().await.expect("json error");
    json["message"].as_str().expect("message").to_owned()
}

#[actix_web::test]
async fn a_person_uploads_a_photo_drops_a_png_and_sees_why_an_svg_is_refused() {
    let Some((driver_path, chromium)) = browser() else {
        return;
    };
    let app = TestApp::spawn(&[("server.dev", "true")]).await;
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("photo.jpg");
    jpeg(&photo);
    let drawing = files.path().join("drawing.svg");
    std::fs::write(&drawing, SVG).expect("svg written");
    let expected_refusal = api_message(&app, "drawing.svg", "image/svg+xml", SVG.as_bytes()).await;

    let driver = start_driver(&driver_path).await;
    let client = open_browser(&driver, &chromium, &files.path().join("profile")).await;
    client.goto(&app.url("/")).await.expect("page opens");
    // The script ran under the CSP: dev mode hides the token field.
    assert!(client.find(Locator::Css("#token")).await.is_err());

    // A JPEG through the file picker: the editor, upload, the stored picture displayed.
    let input = in_editor(&client, "[part~=file-input]").await;
    input
        .send_keys(photo.to_str().expect("utf-8 path"))
        .await
        .expect("file chosen");
    until(
        &client,
        "the editor",
        &format!("return {EDITOR}.getElementById('editor').dataset.ready === 'true';"),
    )
    .await;
    let upload = in_editor(&client, "[part~=upload]").await;
    upload.click().await.expect("click");
    let shown = until(
        &client,
        "the uploaded picture",
        &format!(
            "const root = {EDITOR}; const img = root.getElementById('result'); \
             const fig = root.getElementById('result-figure'); \
             return !fig.hidden && img.complete && img.naturalWidth > 0 \
               ? {{ src: img.src, width: img.naturalWidth, error: root.getElementById('error').hidden }} : null;"
        ),
    )
    .await;
    let src = shown["src"].as_str().expect("src");
    assert!(src.starts_with(&app.url("/pictures/")), "{shown}");
    assert_eq!(shown["error"], true, "no error is shown: {shown}");
    // What the page shows is what visage serves.
    let served = app.client.get(src).send().await.expect("picture");
    assert_eq!(served.status(), 200);
    assert!(
        served.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("image/")
    );

    // An SVG: the page shows the API's own message.
    input
        .send_keys(drawing.to_str().expect("utf-8 path"))
        .await
        .expect("file chosen");
    upload.click().await.expect("click");
    let message = until(&client, "the error message", &editor_error()).await;
    assert_eq!(message, expected_refusal.as_str());

    // A PNG dropped on the drop zone (a synthetic drop, as WebDriver cannot drag from the desktop).
    let dropped = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const canvas = document.createElement('canvas');
             canvas.width = canvas.height = 40;
             const g = canvas.getContext('2d');
             g.fillStyle = '#c33'; g.fillRect(0, 0, 40, 40);
             g.fillStyle = '#33c'; g.fillRect(0, 0, 20, 40);
             canvas.toBlob((blob) => {
               const data = new DataTransfer();
               data.items.add(new File([blob], 'dropped.png', { type: 'image/png' }));
               const root = document.querySelector('visage-avatar-editor').shadowRoot;
               root.querySelector('[part~=drop]').dispatchEvent(
                 new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
               done(root.querySelector('[part~=file-input]').files[0].name);
             }, 'image/png');",
            vec![],
        )
        .await
        .expect("drop");
    assert_eq!(dropped, "dropped.png");
    upload.click().await.expect("click");
    let script = format!(
        "const root = {EDITOR}; const img = root.getElementById('result'); \
         return root.getElementById('error').hidden && img.src !== {src:?} \
           && img.complete && img.naturalWidth > 0 ? img.src : null;"
    );
    let second = until(&client, "the dropped picture", &script).await;
    assert!(
        second
            .as_str()
            .is_some_and(|s| s.starts_with(&app.url("/pictures/"))),
        "{second}"
    );

    client.close().await.expect("browser closes");
    drop(driver);
    app.stop().await;
}

#[actix_web::test]
async fn outside_dev_mode_the_page_sends_the_pasted_access_token() {
    let Some((driver_path, chromium)) = browser() else {
        return;
    };
    let tenant = FakeTenant::start().await;
    let app = TestApp::spawn(&as_overrides(&tenant.overrides())).await;
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("photo.jpg");
    jpeg(&photo);

    let driver = start_driver(&driver_path).await;
    let client = open_browser(&driver, &chromium, &files.path().join("profile")).await;
    client.goto(&app.url("/")).await.expect("page opens");
    let input = in_editor(&client, "[part~=file-input]").await;
    input
        .send_keys(photo.to_str().expect("utf-8 path"))
        .await
        .expect("file chosen");
    let upload = in_editor(&client, "[part~=upload]").await;

    // No token: the page asks for one, moves the focus to its field, and sends nothing.
    upload.click().await.expect("click");
    let asked = until(&client, "the request for a token", &editor_error()).await;
    assert_eq!(asked, "Paste an access token first.");
    let focused = client
        .execute("return document.activeElement.id;", vec![])
        .await
        .expect("focus");
    assert_eq!(focused, "token");

    // A token that is not the tenant's: the API's 401 message is shown.
    let field = client
        .find(Locator::Css("#token"))
        .await
        .expect("token field");
    field.send_keys("Bearer not-a-token").await.expect("typed");
    upload.click().await.expect("click");
    let refused = until(
        &client,
        "the API's refusal",
        &format!(
            "const e = {EDITOR}.getElementById('error'); \
             return !e.hidden && e.textContent !== 'Paste an access token first.' ? e.textContent : null;"
        ),
    )
    .await;
    let expected: Value = app
        .client
        .post(app.url("/v1/me/picture"))
        .bearer_auth("not-a-token")
        .header("content-type", "image/jpeg")
        .body(std::fs::read(&photo).expect("photo"))
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    assert_eq!(refused, expected["message"]);

    // The tenant's token: the picture is stored under that user and shown.
    field.clear().await.expect("cleared");
    field
        .send_keys(&tenant.token_for("auth0|browser-user"))
        .await
        .expect("typed");
    upload.click().await.expect("click");
    let shown = until(
        &client,
        "the uploaded picture",
        &format!(
            "const root = {EDITOR}; const img = root.getElementById('result'); \
             return root.getElementById('error').hidden && img.complete && img.naturalWidth > 0 \
               ? img.src : null;"
        ),
    )
    .await;
    assert!(
        shown
            .as_str()
            .is_some_and(|s| s.starts_with(&app.url("/pictures/"))),
        "{shown}"
    );

    client.close().await.expect("browser closes");
    drop(driver);
    app.stop().await;
    tenant.stop().await;
}

/// A page on another origin (`localhost` against the app's `127.0.0.1`) that draws an image into
/// a canvas and reads a pixel back; `window.results[name]` is `[r, g, b, a]` or the error's name.
const CANVAS_PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>canvas</title>
<script>
window.results = {};
function draw(name, src, crossOrigin) {
  const img = new Image();
  if (crossOrigin) img.crossOrigin = "anonymous";
  img.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    try {
      const x = Math.floor(img.naturalWidth / 2), y = 1;
      window.results[name] = Array.from(ctx.getImageData(x, y, 1, 1).data);
    } catch (e) {
      window.results[name] = e.name;
    }
  };
  img.onerror = () => { window.results[name] = "load error"; };
  img.src = src;
}
</script>"#;

#[actix_web::test]
async fn a_page_on_another_origin_reads_avatar_and_initials_pixels_from_a_canvas() {
    use crate::common::gravatar::{self, Behaviour, FakeGravatar};
    let Some((driver_path, chromium)) = browser() else {
        return;
    };
    let upstream = FakeGravatar::start().await;
    let app = TestApp::spawn(&[("gravatar.base_url", upstream.base_url.as_str())]).await;
    let (page_addr, page_server) = crate::common::spawn_standin(1, |cfg| {
        cfg.default_service(actix_web::web::to(|| async {
            actix_web::HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(CANVAS_PAGE)
        }));
    });
    let page = format!("http://localhost:{}/", page_addr.port());
    let files = tempfile::tempdir().expect("tempdir");
    let driver = start_driver(&driver_path).await;
    let client = open_browser(&driver, &chromium, &files.path().join("profile")).await;
    client.goto(&page).await.expect("page opens");

    let hash = gravatar::hash(Behaviour::Picture, 77);
    let cases = [
        (
            "initials",
            app.url("/initials/JD.png?bg=00ff00&size=64"),
            true,
        ),
        ("avatar", app.url(&format!("/avatar/{hash}?s=64")), true),
        // The control: without `crossorigin` the canvas is tainted, so the check can fail.
        (
            "tainted",
            app.url("/initials/XY.png?bg=00ff00&size=64"),
            false,
        ),
    ];
    for (name, src, cross_origin) in &cases {
        client
            .execute(
                "draw(arguments[0], arguments[1], arguments[2]); return true;",
                vec![json!(name), json!(src), json!(cross_origin)],
            )
            .await
            .expect("draw starts");
    }
    let read = |name: &str| format!("return window.results[{name:?}] ?? null;");
    let initials = until(&client, "the initials pixel", &read("initials")).await;
    let avatar = until(&client, "the avatar pixel", &read("avatar")).await;
    let tainted = until(&client, "the tainted canvas", &read("tainted")).await;
    // Chromium asks for AVIF, a lossy 4:2:0 format: a channel may drift by a few levels.
    let about = |name: &str, pixel: &Value, expected: [i64; 4]| {
        let rgba: Vec<i64> = pixel
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {pixel}"))
            .iter()
            .filter_map(Value::as_i64)
            .collect();
        assert!(
            rgba.len() == 4
                && rgba
                    .iter()
                    .zip(expected)
                    .all(|(got, want)| (got - want).abs() <= 8),
            "{name} pixel {rgba:?}, expected about {expected:?}"
        );
    };
    about("initials", &initials, [0, 255, 0, 255]);
    about("avatar", &avatar, [200, 30, 90, 255]);
    assert_eq!(tainted, json!("SecurityError"));

    client.close().await.expect("browser closes");
    page_server.stop(true).await;
    upstream.stop().await;
    app.stop().await;
}
