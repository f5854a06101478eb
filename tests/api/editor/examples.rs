//! The examples in `examples/`, run as they are in a real headless Chromium. `plain-html` signs in
//! with the real auth0-spa-js (the npm package, served in place of the CDN) against a local
//! stand-in of Auth0's login endpoints (`/authorize` with PKCE, silent `web_message` renewals,
//! `/oauth/token`), hands the editor an access token for visage's audience, uploads, shows the
//! new picture, and catches the ID token's `picture` claim up with
//! `getTokenSilently({ cacheMode: 'off' })`. `react`'s component, compiled by esbuild and run
//! with React, passes its props to the element and its events to the callbacks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use fantoccini::Locator;
use serde_json::json;
use sha2::Digest;

use super::{choose, press_upload_and_wait, session_at, stripes};
use crate::browser::{EDITOR, in_editor, until};
use crate::common::auth0::{AUDIENCE, FakeTenant, KID, now, sign};
use crate::common::auth0_mgmt::MgmtStandIn;
use crate::common::{TestApp, as_overrides, spawn_standin};

const CLIENT_ID: &str = "example-spa-client";
const USER: &str = "auth0|example-user";
const USER_ENCODED: &str = "auth0%7Cexample-user";

fn repository(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `path` inside `tests/clients/examples/node_modules` (`npm ci` by scripts/test), or `None`
/// (skip) when it is missing outside scripts/test and CI.
fn node_module(path: &str) -> Option<PathBuf> {
    let path = repository("tests/clients/examples/node_modules").join(path);
    if path.exists() {
        return Some(path);
    }
    crate::common::missing(
        "VISAGE_TEST_REQUIRE_NODE_CLIENTS",
        &format!(
            "{} is missing (npm ci in tests/clients/examples)",
            path.display()
        ),
    );
    None
}

/// auth0-spa-js's ES module, as the CDN in the example's config serves it.
fn auth0_spa_js() -> Option<String> {
    let path = node_module("@auth0/auth0-spa-js/dist/auth0-spa-js.production.esm.js")?;
    Some(std::fs::read_to_string(path).expect("auth0-spa-js"))
}

/// A local server that answers the paths in `files` with their (content type, body), else 404.
type Files = Arc<Mutex<HashMap<String, (&'static str, String)>>>;

fn file_server() -> (u16, Files, actix_web::dev::ServerHandle) {
    let files: Files = Arc::default();
    let served = files.clone();
    let (addr, handle) = spawn_standin(1, move |cfg| {
        let served = served.clone();
        cfg.default_service(web::to(move |req: HttpRequest| {
            let file = served.lock().expect("files").get(req.path()).cloned();
            async move {
                match file {
                    Some((content_type, body)) => {
                        HttpResponse::Ok().content_type(content_type).body(body)
                    }
                    None => HttpResponse::NotFound().finish(),
                }
            }
        }));
    });
    (addr.port(), files, handle)
}

/// What the user agreed to at `/authorize`, until the code is exchanged.
struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    audience: String,
}

/// One `/authorize` request as it arrived.
#[derive(Clone, Debug)]
struct Authorize {
    audience: String,
    silent: bool,
}

struct LoginState {
    issuer: String,
    /// The user's access token for visage's API, as the tenant visage trusts signed it.
    access_token: String,
    grants: HashMap<String, Grant>,
    authorizations: Vec<Authorize>,
    token_requests: usize,
    /// What the post-login Action would put in the `picture` claim now.
    picture: Box<dyn Fn() -> String + Send>,
}

type Login = Arc<Mutex<LoginState>>;

/// Auth0's login endpoints for one user who is always signed in: `/authorize` answers at once
/// (a redirect, or the page a hidden iframe posts its answer from), `/oauth/token` checks PKCE.
fn login_standin(
    access_token: String,
    picture: Box<dyn Fn() -> String + Send>,
) -> (String, Login, actix_web::dev::ServerHandle) {
    let state = Arc::new(Mutex::new(LoginState {
        issuer: String::new(),
        access_token,
        grants: HashMap::new(),
        authorizations: Vec::new(),
        token_requests: 0,
        picture,
    }));
    let shared = state.clone();
    let (addr, handle) = spawn_standin(1, move |cfg| {
        cfg.app_data(web::Data::new(shared.clone())).service(
            web::scope("")
                // The token endpoint is called by fetch from the app's origin.
                .wrap(actix_cors::Cors::permissive())
                .route("/authorize", web::get().to(authorize))
                .route("/oauth/token", web::post().to(token)),
        );
    });
    let base = format!("http://{addr}");
    state.lock().expect("login state").issuer = format!("{base}/");
    (base, state, handle)
}

async fn authorize(req: HttpRequest, login: web::Data<Login>) -> HttpResponse {
    let query: HashMap<String, String> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID
        || field("response_type") != "code"
        || field("code_challenge_method") != "S256"
    {
        return HttpResponse::BadRequest().body(format!("unexpected authorize request: {query:?}"));
    }
    let silent = field("response_mode") == "web_message";
    let code = hex::encode(rand::random::<[u8; 16]>());
    {
        let mut login = login.lock().expect("login state");
        login.authorizations.push(Authorize {
            audience: field("audience"),
            silent,
        });
        login.grants.insert(
            code.clone(),
            Grant {
                nonce: field("nonce"),
                challenge: field("code_challenge"),
                redirect_uri: field("redirect_uri"),
                audience: field("audience"),
            },
        );
    }
    let redirect_uri = field("redirect_uri");
    if silent {
        // Auth0's answer to a hidden iframe: a page that posts the code to the app's origin.
        let origin = url_origin(&redirect_uri);
        let message = json!({
            "type": "authorization_response",
            "response": { "code": code, "state": field("state") },
        });
        return HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(format!(
                "<!doctype html><script>parent.postMessage({message}, {});</script>",
                json!(origin)
            ));
    }
    let location = format!(
        "{redirect_uri}?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("code", &code)
            .append_pair("state", &field("state"))
            .finish()
    );
    HttpResponse::Found()
        .insert_header(("location", location))
        .finish()
}

fn url_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("absolute URL");
    let authority = rest.split('/').next().unwrap_or_default();
    format!("{scheme}://{authority}")
}

async fn token(body: web::Bytes, login: web::Data<Login>) -> HttpResponse {
    // auth0-spa-js sends a form; older versions sent JSON.
    let params: HashMap<String, String> = serde_json::from_slice::<HashMap<String, String>>(&body)
        .unwrap_or_else(|_| form_urlencoded::parse(&body).into_owned().collect());
    let field = |name: &str| params.get(name).cloned().unwrap_or_default();
    let mut login = login.lock().expect("login state");
    login.token_requests += 1;
    let Some(grant) = login.grants.remove(&field("code")) else {
        return invalid_grant("unknown or used code");
    };
    let verifier_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(field("code_verifier").as_bytes()));
    if field("grant_type") != "authorization_code"
        || field("client_id") != CLIENT_ID
        || field("redirect_uri") != grant.redirect_uri
        || verifier_hash != grant.challenge
    {
        return invalid_grant("code, client, redirect_uri or PKCE verifier does not match");
    }
    if grant.audience != AUDIENCE {
        return HttpResponse::Forbidden().json(json!({
            "error": "access_denied",
            "error_description": format!("Service not found: {}", grant.audience),
        }));
    }
    let now = now();
    let id_token = sign(
        &json!({
            "iss": login.issuer,
            "aud": CLIENT_ID,
            "sub": USER,
            "nonce": grant.nonce,
            "iat": now,
            "exp": now + 3600,
            "name": "Ada Example",
            "picture": (login.picture)(),
        }),
        KID,
    );
    HttpResponse::Ok().json(json!({
        "access_token": login.access_token,
        "id_token": id_token,
        "scope": "openid profile email",
        "expires_in": 3600,
        "token_type": "Bearer",
    }))
}

fn invalid_grant(why: &str) -> HttpResponse {
    HttpResponse::Forbidden().json(json!({ "error": "invalid_grant", "error_description": why }))
}

/// The names of the settings a `config.js` exports (`  name: value,` lines).
fn config_keys(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let (name, _) = line.trim().split_once(": ")?;
            name.chars()
                .all(|c| c.is_ascii_alphanumeric())
                .then(|| name.to_owned())
        })
        .collect()
}

#[actix_web::test]
async fn the_plain_html_example_signs_in_uploads_and_catches_the_picture_claim_up() {
    let Some(library) = auth0_spa_js() else {
        return;
    };
    let tenant = FakeTenant::start().await;
    let mgmt = MgmtStandIn::start();
    let (page_port, page_files, page_server) = file_server();
    let page_origin = format!("http://localhost:{page_port}");
    let mut overrides = tenant.overrides();
    overrides.extend(mgmt.overrides());
    overrides.push(("server.cors_allowed_origins", page_origin.clone()));
    let app = TestApp::spawn(&as_overrides(&overrides)).await;
    // Before an upload, the Action's fallback: initials.
    let initials = app.url("/initials/Ada%20Example.png");
    let written = mgmt.clone();
    let fallback = initials.clone();
    let (login_base, login, login_server) = login_standin(
        tenant.token_for(USER),
        Box::new(move || {
            written
                .accepted_picture(USER_ENCODED)
                .unwrap_or(fallback.clone())
        }),
    );

    // The example's files as they are, with a config.js that points at the stand-ins and the
    // library served from here; the committed config.js has the same settings.
    let example = std::fs::read_to_string(repository("examples/plain-html/index.html"))
        .expect("examples/plain-html/index.html");
    let committed_config = std::fs::read_to_string(repository("examples/plain-html/config.js"))
        .expect("examples/plain-html/config.js");
    let config = format!(
        "export default {{\n  domain: {},\n  clientId: {},\n  audience: {},\n  visage: {},\n  \
         auth0SpaJs: '/vendor/auth0-spa-js.production.esm.js',\n}};\n",
        json!(login_base),
        json!(CLIENT_ID),
        json!(AUDIENCE),
        json!(app.base),
    );
    assert_eq!(config_keys(&config), config_keys(&committed_config));
    {
        let mut files = page_files.lock().expect("files");
        files.insert("/".into(), ("text/html; charset=utf-8", example));
        files.insert("/config.js".into(), ("text/javascript", config));
        files.insert(
            "/vendor/auth0-spa-js.production.esm.js".into(),
            ("text/javascript", library),
        );
    }

    let Some(session) = session_at(&format!("{page_origin}/")).await else {
        return;
    };
    let client = &session.client;
    // Not signed in yet: the example offers to log in, and logging in comes back signed in.
    until(
        client,
        "the login button",
        "return !document.getElementById('login').hidden;",
    )
    .await;
    client
        .find(Locator::Css("#login"))
        .await
        .expect("login button")
        .click()
        .await
        .expect("click");
    let who = until(
        client,
        "the signed-in user",
        "const who = document.getElementById('who').textContent; \
         return who.startsWith('Signed in') && !document.getElementById('editor').hidden \
           ? [who, window.location.search, document.getElementById('claim').textContent] : null;",
    )
    .await;
    assert_eq!(
        who,
        json!(["Signed in as Ada Example.", "", initials]),
        "signed in, the code out of the address, the login's picture claim"
    );

    // An upload through the editor: the new picture at once, then the claim caught up.
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("stripes.jpg");
    stripes(&photo);
    choose(client, &photo).await;
    let shown = press_upload_and_wait(client).await;
    let src = shown["src"]
        .as_str()
        .unwrap_or_else(|| panic!("{shown}"))
        .to_owned();
    assert!(src.starts_with(&app.url("/pictures/")), "{src}");
    let current = until(
        client,
        "the new picture in the page",
        &format!(
            "const img = document.getElementById('picture'); \
             return img.src === {src:?} && img.complete && img.naturalWidth > 0 ? img.src : null;"
        ),
    )
    .await;
    assert_eq!(current, src.as_str());
    assert_eq!(
        mgmt.accepted_picture(USER_ENCODED).as_deref(),
        Some(src.as_str()),
        "visage wrote the picture to Auth0"
    );
    let claim = until(
        client,
        "the new picture claim",
        &format!(
            "const claim = document.getElementById('claim').textContent; \
             return claim === {src:?} ? claim : null;"
        ),
    )
    .await;
    assert_eq!(claim, src.as_str());
    let served = app.client.get(&src).send().await.expect("picture");
    assert_eq!(served.status(), 200);

    // Every authorization asked for visage's API; the catch-up was a silent renewal.
    let (authorizations, token_requests) = {
        let login = login.lock().expect("login state");
        (login.authorizations.clone(), login.token_requests)
    };
    assert!(
        authorizations.iter().all(|a| a.audience == AUDIENCE),
        "{authorizations:?}"
    );
    let silent: Vec<bool> = authorizations.iter().map(|a| a.silent).collect();
    assert_eq!(silent, [false, true], "{authorizations:?}");
    assert_eq!(token_requests, 2);

    session.close().await;
    page_server.stop(true).await;
    login_server.stop(true).await;
    mgmt.stop().await;
    app.stop().await;
    tenant.stop().await;
}

/// A React app that renders `examples/react/VisageAvatarEditor.jsx` as its README shows: a token
/// function, a language and strings as props, the uploaded picture shown from `onUploaded`.
/// `window.setLang` re-renders it in another language.
const REACT_APP: &str = r#"
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import VisageAvatarEditor from '{COMPONENT}';

window.uploaded = [];
window.errors = [];
window.tokenRequests = 0;

function App() {
  const [picture, setPicture] = useState(null);
  const [lang, setLang] = useState('en');
  window.setLang = setLang;
  return (
    <main>
      {picture && <img id="avatar" src={picture} alt="Your picture" width={96} height={96} />}
      <VisageAvatarEditor
        baseUrl={window.VISAGE}
        lang={lang}
        size={96}
        strings={{ delete: 'Forget my picture' }}
        getToken={async () => { window.tokenRequests += 1; return window.TOKEN; }}
        onUploaded={(body) => { window.uploaded.push(body); setPicture(body.picture); }}
        onError={(error) => window.errors.push(error)}
      />
    </main>
  );
}

createRoot(document.getElementById('root')).render(<App />);
"#;

/// The app compiled as an app's build would: esbuild, JSX for React 17+, production React.
fn compile_react_app(esbuild: &std::path::Path, dir: &std::path::Path) -> String {
    let component = repository("examples/react/VisageAvatarEditor.jsx");
    let entry = dir.join("app.jsx");
    std::fs::write(
        &entry,
        REACT_APP.replace("{COMPONENT}", component.to_str().expect("utf-8 path")),
    )
    .expect("app written");
    let out = dir.join("app.js");
    let status = std::process::Command::new(esbuild)
        .arg(&entry)
        .args([
            "--bundle",
            "--format=esm",
            "--jsx=automatic",
            "--log-level=warning",
            "--define:process.env.NODE_ENV=\"production\"",
        ])
        .arg(format!("--outfile={}", out.display()))
        // `react` is found from the component's folder and the app's: in the test clients.
        .env(
            "NODE_PATH",
            repository("tests/clients/examples/node_modules"),
        )
        .status()
        .expect("esbuild runs");
    assert!(status.success(), "esbuild failed on the React example");
    std::fs::read_to_string(out).expect("bundle")
}

#[actix_web::test]
async fn the_react_component_hands_the_element_its_props_and_calls_back() {
    let Some(esbuild) = node_module(".bin/esbuild") else {
        return;
    };
    let build = tempfile::tempdir().expect("tempdir");
    let bundle = compile_react_app(&esbuild, build.path());
    let tenant = FakeTenant::start().await;
    let (page_port, page_files, page_server) = file_server();
    let page_origin = format!("http://localhost:{page_port}");
    let mut overrides = tenant.overrides();
    overrides.push(("server.cors_allowed_origins", page_origin.clone()));
    let app = TestApp::spawn(&as_overrides(&overrides)).await;
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>A React app</title>\
         <div id=\"root\"></div>\
         <script>window.VISAGE = {}; window.TOKEN = {};</script>\
         <script type=\"module\" src=\"/app.js\"></script></html>",
        json!(app.base),
        json!(tenant.token_for(USER)),
    );
    {
        let mut files = page_files.lock().expect("files");
        files.insert("/".into(), ("text/html; charset=utf-8", page));
        files.insert("/app.js".into(), ("text/javascript", bundle));
    }
    let Some(session) = session_at(&format!("{page_origin}/")).await else {
        return;
    };
    let client = &session.client;
    // The props reached the element: attributes (lang, size), properties (strings).
    in_editor(client, "[part~=upload]").await;
    let rendered = client
        .execute(
            &format!(
                "const e = document.querySelector('visage-avatar-editor'); const root = {EDITOR}; \
                 return [e.getAttribute('base-url'), e.getAttribute('lang'), \
                   root.getElementById('preview-large-square').width, \
                   root.querySelector('[part~=delete]').textContent];"
            ),
            vec![],
        )
        .await
        .expect("element");
    assert_eq!(
        rendered,
        json!([app.base, "en", 96, "Forget my picture"]),
        "the element as React rendered it"
    );

    // An upload with the token from `getToken`: `onUploaded` gets the 201 body, the app shows it.
    let files = tempfile::tempdir().expect("tempdir");
    let photo = files.path().join("stripes.jpg");
    stripes(&photo);
    choose(client, &photo).await;
    let shown = press_upload_and_wait(client).await;
    let src = shown["src"].as_str().unwrap_or_else(|| panic!("{shown}"));
    let uploaded = until(
        client,
        "onUploaded",
        &format!(
            "const img = document.getElementById('avatar'); \
             return img && img.src === {src:?} && img.complete && img.naturalWidth > 0 \
               ? [window.uploaded, window.tokenRequests, window.errors] : null;"
        ),
    )
    .await;
    assert_eq!(uploaded[0][0]["user_id"], USER, "{uploaded}");
    assert_eq!(uploaded[0][0]["picture"], src, "{uploaded}");
    assert_eq!(uploaded[1], 1, "{uploaded}");
    assert_eq!(uploaded[2], json!([]), "{uploaded}");

    // A new `lang` prop re-renders the element in Japanese; `onError` hears a refusal.
    client
        .execute("window.setLang('ja'); return true;", vec![])
        .await
        .expect("lang");
    until(
        client,
        "the Japanese upload button",
        &format!("return {EDITOR}.querySelector('[part~=upload]').textContent === 'アップロード';"),
    )
    .await;
    let svg = files.path().join("drawing.svg");
    std::fs::write(
        &svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>"#,
    )
    .expect("svg");
    in_editor(client, "[part~=file-input]")
        .await
        .send_keys(svg.to_str().expect("utf-8 path"))
        .await
        .expect("file chosen");
    in_editor(client, "[part~=upload]")
        .await
        .click()
        .await
        .expect("click");
    let error = until(
        client,
        "onError",
        "return window.errors.length ? window.errors[0] : null;",
    )
    .await;
    assert_eq!(error["error"], "unsupported_media_type", "{error}");
    assert_eq!(error["status"], 415, "{error}");

    session.close().await;
    page_server.stop(true).await;
    app.stop().await;
    tenant.stop().await;
}
