//! `<visage-avatar-editor>` on an app's page on another origin, in a real headless Chromium: the
//! module loaded from visage, a token from the page's `getToken` (a real one of the Auth0
//! stand-in), a file picked through the element's input, the square chosen with the keyboard,
//! the upload, `visage-uploaded` with the 201 body, the stored picture shown by the page; the
//! strings in Japanese and other languages; axe-core inside the shadow root; the delete.

use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{BLUE, axe_source, choose, near, session_at, stored, stripes};
use crate::browser::{EDITOR, editor_error, in_editor, until};
use crate::common::auth0::FakeTenant;
use crate::common::{TestApp, as_overrides, spawn_standin};
use crate::upload::sha256_hex;

/// An app's profile page: visage's module, the element, a stub `getToken` that hands out the
/// token the test minted, every editor event recorded, and the new picture shown in the page's
/// own `<img>` (`crossorigin`, so the test can read its pixels).
const HOST_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Your profile — an app on another origin</title>
<script type="module" src="{BASE}/editor.js"></script>
</head>
<body>
<main>
  <h1>Your profile</h1>
  <img id="avatar" alt="Your avatar" width="96" height="96" crossorigin="anonymous" hidden>
  <visage-avatar-editor base-url="{BASE}"></visage-avatar-editor>
</main>
<script type="module">
  const editor = document.querySelector('visage-avatar-editor');
  window.tokenRequests = 0;
  editor.getToken = async () => { window.tokenRequests += 1; return {TOKEN}; };
  window.events = [];
  for (const type of ['visage-uploaded', 'visage-deleted', 'visage-error']) {
    document.addEventListener(type, (event) => {
      window.events.push({ type, detail: event.detail, target: event.target.localName });
    });
  }
  document.addEventListener('visage-uploaded', (event) => {
    const avatar = document.getElementById('avatar');
    avatar.src = event.detail.picture;
    avatar.hidden = false;
  });
</script>
</body>
</html>"#;

/// A local HTTP server on its own port that answers every path with the page in `html`.
fn host(html: Arc<Mutex<String>>) -> (u16, actix_web::dev::ServerHandle) {
    let (addr, handle) = spawn_standin(1, move |cfg| {
        let html = html.clone();
        cfg.default_service(web::to(move || {
            let page = html.lock().expect("page").clone();
            async move {
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(page)
            }
        }));
    });
    (addr.port(), handle)
}

/// The first recorded event of `kind`, waited for.
async fn event(client: &fantoccini::Client, kind: &str) -> Value {
    until(
        client,
        kind,
        &format!("return window.events.find((e) => e.type === {kind:?}) ?? null;"),
    )
    .await
}

/// The text of each element of the editor that a selector of `selectors` names.
async fn texts(client: &fantoccini::Client, selectors: &[&str]) -> Vec<String> {
    let script =
        format!("return arguments[0].map((s) => {EDITOR}.querySelector(s).textContent.trim());");
    let value = client
        .execute(&script, vec![json!(selectors)])
        .await
        .expect("texts");
    serde_json::from_value(value).expect("strings")
}

#[actix_web::test]
async fn an_app_on_another_origin_uploads_through_the_element_and_shows_the_stored_picture() {
    let tenant = FakeTenant::start().await;
    let page = Arc::new(Mutex::new(String::new()));
    let (port, host_server) = host(page.clone());
    // `localhost` is another origin than visage's `127.0.0.1`; it is the only one allowed.
    let app_origin = format!("http://localhost:{port}");
    let mut overrides = tenant.overrides();
    overrides.push(("server.cors_allowed_origins", app_origin.clone()));
    let app = TestApp::spawn(&as_overrides(&overrides)).await;
    let user = "auth0|embedded-editor-user";
    let token = serde_json::to_string(&tenant.token_for(user)).expect("json string");
    *page.lock().expect("page") = HOST_PAGE
        .replace("{BASE}", &app.base)
        .replace("{TOKEN}", &token);
    let Some(session) = session_at(&format!("{app_origin}/profile")).await else {
        return;
    };
    let client = &session.client;
    let origin = client
        .execute("return window.location.origin;", vec![])
        .await
        .expect("origin");
    assert_eq!(origin, app_origin.as_str());
    assert_ne!(origin, app.base.as_str(), "the page is on another origin");

    // Picked through the element's own file input, the square moved with the keyboard to the
    // blue stripe's bottom corner, uploaded.
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("stripes.jpg");
    stripes(&photo);
    choose(client, &photo).await;
    let mut keys = "+".repeat(9);
    keys.extend(std::iter::repeat_n(
        char::from(fantoccini::key::Key::Right),
        40,
    ));
    keys.extend(std::iter::repeat_n(
        char::from(fantoccini::key::Key::Down),
        40,
    ));
    in_editor(client, "[part~=crop]")
        .await
        .send_keys(&keys)
        .await
        .expect("keys");
    in_editor(client, "[part~=upload]")
        .await
        .click()
        .await
        .expect("click");

    // `visage-uploaded` reached the document (bubbling) with the 201 body of the stored picture.
    let uploaded = event(client, "visage-uploaded").await;
    assert_eq!(uploaded["target"], "visage-avatar-editor", "{uploaded}");
    let body = &uploaded["detail"];
    assert_eq!(body["user_id"], user, "{body}");
    let src = body["picture"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(src.starts_with(&app.url("/pictures/")), "{src}");
    let served = app.client.get(src).send().await.expect("picture");
    assert_eq!(served.status(), 200);
    let bytes = served.bytes().await.expect("bytes");
    assert_eq!(body["sha256"], sha256_hex(&bytes), "{body}");
    assert_eq!(body["bytes"], bytes.len(), "{body}");
    assert!(
        body["thumbhash"].is_string() && body["key"].is_string(),
        "{body}"
    );
    let errors = client
        .execute(
            "return window.events.filter((e) => e.type === 'visage-error');",
            vec![],
        )
        .await
        .expect("events");
    assert_eq!(errors, json!([]), "no error on the way");
    let asked = client
        .execute("return window.tokenRequests;", vec![])
        .await
        .expect("count");
    assert_eq!(asked, 1, "the token is asked for once per request");
    // The stored master is the square chosen with the keys: blue all over.
    let master = stored(&app, src).await;
    for (x, y) in [(20, 20), (490, 20), (256, 256), (20, 490), (490, 490)] {
        let pixel = master.get_pixel(x, y).0;
        assert!(
            near(pixel.map(f64::from), BLUE, 30.0),
            "({x},{y}): {pixel:?}"
        );
    }
    // The page shows that stored picture: its <img> has the URL and draws blue pixels, and the
    // element shows the same URL.
    let shown = until(
        client,
        "the page's picture",
        "const img = document.getElementById('avatar'); \
         if (!img.complete || img.naturalWidth === 0) return null; \
         const c = document.createElement('canvas'); c.width = c.height = 16; \
         const g = c.getContext('2d'); g.drawImage(img, 0, 0, 16, 16); \
         const d = g.getImageData(0, 0, 16, 16).data; const s = [0, 0, 0]; \
         for (let i = 0; i < d.length; i += 4) { s[0] += d[i]; s[1] += d[i + 1]; s[2] += d[i + 2]; } \
         return { src: img.src, rgb: s.map((v) => v / 256) };",
    )
    .await;
    assert_eq!(shown["src"], src);
    let rgb = [0, 1, 2].map(|i| shown["rgb"][i].as_f64().expect("number"));
    assert!(near(rgb, BLUE, 30.0), "the page shows {rgb:?}");
    let in_element = client
        .execute(
            &format!("return {EDITOR}.querySelector('[part~=result] img').src;"),
            vec![],
        )
        .await
        .expect("src");
    assert_eq!(in_element, src);

    // axe-core, inside the shadow root, with the editor and the result shown.
    if let Some(axe) = axe_source() {
        assert_eq!(axe_in_element(client, &axe).await, Vec::<String>::new());
    }

    // Removed: `visage-deleted`, and visage no longer serves the picture.
    in_editor(client, "[part~=delete]")
        .await
        .click()
        .await
        .expect("click");
    let deleted = event(client, "visage-deleted").await;
    assert_eq!(deleted["target"], "visage-avatar-editor");
    let gone = app.client.get(src).send().await.expect("picture");
    assert_eq!(gone.status(), 404);

    session.close().await;
    host_server.stop(true).await;
    app.stop().await;
    tenant.stop().await;
}

/// axe-core run on the element alone, which axe enters through its open shadow root; the
/// answer is its violations, after checking that axe did look inside (a rule passed on a node
/// whose selector crosses the shadow boundary).
async fn axe_in_element(client: &fantoccini::Client, axe: &str) -> Vec<String> {
    client
        .execute(&format!("{axe}\nreturn typeof window.axe;"), vec![])
        .await
        .expect("axe injected");
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document.querySelector('visage-avatar-editor'))
               .then((r) => done({
                 violations: r.violations.map((v) => v.id + ' (' + v.impact + '): ' +
                   v.nodes.map((n) => JSON.stringify(n.target)).join(', ')),
                 inside: r.passes.some((p) => p.nodes.some((n) => Array.isArray(n.target[0]))),
               }))
               .catch((e) => done({ violations: ['axe failed: ' + e], inside: false }));",
            vec![],
        )
        .await
        .expect("axe ran");
    assert_eq!(
        result["inside"], true,
        "axe did not enter the shadow root: {result}"
    );
    serde_json::from_value(result["violations"].clone()).expect("strings")
}

#[actix_web::test]
async fn the_element_speaks_the_page_s_language_and_takes_overrides() {
    let tenant = FakeTenant::start().await;
    let page = Arc::new(Mutex::new(String::new()));
    let (port, host_server) = host(page.clone());
    let app_origin = format!("http://localhost:{port}");
    let mut overrides = tenant.overrides();
    overrides.push(("server.cors_allowed_origins", app_origin.clone()));
    let app = TestApp::spawn(&as_overrides(&overrides)).await;
    // A token nobody issued: the API answers 401 in English; the element in the page's language.
    *page.lock().expect("page") = HOST_PAGE
        .replace("{BASE}", &app.base)
        .replace("{TOKEN}", "'not-a-token'");
    let Some(session) = session_at(&format!("{app_origin}/")).await else {
        return;
    };
    let client = &session.client;
    let parts = ["[part~=upload]", "[part~=delete]", "[part~=drop] label"];
    let set_lang = |lang: &'static str| async move {
        client
            .execute(
                "document.querySelector('visage-avatar-editor').setAttribute('lang', arguments[0]); \
                 return true;",
                vec![json!(lang)],
            )
            .await
            .expect("lang set");
    };
    // The element has no lang: the document's (en).
    in_editor(client, "[part~=upload]").await;
    let english = texts(client, &parts).await;
    assert_eq!(
        english,
        [
            "Upload",
            "Remove my picture",
            "Drop an image here, or choose a file (PNG, JPEG, WebP or GIF)."
        ]
    );

    set_lang("ja").await;
    assert_eq!(
        texts(client, &parts).await,
        [
            "アップロード",
            "自分の画像を削除",
            "ここに画像をドロップするか、ファイルを選択してください（PNG、JPEG、WebP、GIF）。"
        ]
    );
    let inner_lang = format!("return {EDITOR}.querySelector('[part~=root]').lang;");
    let lang = client.execute(&inner_lang, vec![]).await.expect("lang");
    assert_eq!(lang, "ja");
    // Japanese errors: the element's own (no file: focus on the file input) and the API's.
    in_editor(client, "[part~=upload]")
        .await
        .click()
        .await
        .expect("click");
    let message = until(client, "the error", &editor_error()).await;
    assert_eq!(message, "まず画像を選んでください。");
    let focused = client
        .execute(
            &format!("return {EDITOR}.activeElement.part.value;"),
            vec![],
        )
        .await
        .expect("focus");
    assert_eq!(focused, "file-input");
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("stripes.jpg");
    stripes(&photo);
    choose(client, &photo).await;
    in_editor(client, "[part~=upload]")
        .await
        .click()
        .await
        .expect("click");
    let refused = until(
        client,
        "the API's refusal",
        "return window.events.find((e) => e.type === 'visage-error' \
           && e.detail.error !== 'no_file') ?? null;",
    )
    .await;
    assert_eq!(refused["detail"]["error"], "unauthorized", "{refused}");
    assert_eq!(refused["detail"]["status"], 401, "{refused}");
    let api_message = refused["detail"]["message"].as_str().expect("message");
    assert!(api_message.is_ascii(), "the API's own words: {api_message}");
    let shown = until(client, "the error", &editor_error()).await;
    assert_eq!(
        shown,
        "セッションの有効期限が切れているか、無効です。もう一度ログインしてください。"
    );

    // Regional and unknown tags: the nearest built-in language, else English (said so inside).
    for (tag, upload, inner) in [
        ("fr-CA", "Envoyer", "fr"),
        ("pt", "Enviar", "pt-BR"),
        ("PT-br", "Enviar", "pt-BR"),
        ("de-AT", "Hochladen", "de"),
        ("es-419", "Subir", "es"),
        ("it", "Upload", "en"),
    ] {
        set_lang(tag).await;
        assert_eq!(texts(client, &["[part~=upload]"]).await, [upload], "{tag}");
        let lang = client.execute(&inner_lang, vec![]).await.expect("lang");
        assert_eq!(lang, inner, "{tag}");
    }
    // The `strings` property overrides any string, in whatever language is shown.
    set_lang("fr").await;
    client
        .execute(
            "document.querySelector('visage-avatar-editor').strings = { upload: 'Enregistrer' }; \
             return true;",
            vec![],
        )
        .await
        .expect("strings set");
    assert_eq!(
        texts(client, &parts).await,
        [
            "Enregistrer",
            "Supprimer ma photo",
            "Déposez une image ici, ou choisissez un fichier (PNG, JPEG, WebP ou GIF)."
        ]
    );

    // axe-core inside the shadow root, in Japanese with an error shown.
    set_lang("ja").await;
    if let Some(axe) = axe_source() {
        assert_eq!(axe_in_element(client, &axe).await, Vec::<String>::new());
    }
    session.close().await;
    host_server.stop(true).await;
    app.stop().await;
    tenant.stop().await;
}
