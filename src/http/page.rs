//! `GET /` (the upload page), `GET /static/{file}` (its script and style) and `GET /editor.js`
//! (the embeddable editor the page hosts).
//!
//! Nothing has a build step and the page loads nothing from elsewhere: its HTML, JS and CSS and
//! the editor module are compiled in from `static/`. The page's CSP forbids inline scripts and
//! styles, so its script and style are separate files, versioned in their URLs by a hash of their
//! content, as the editor module is.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::http::EdgeConfig;
use crate::http::image_response::etag_matches;

const INDEX_HTML: &str = include_str!("../../static/index.html");
/// `server.public_url` as config/default.toml sets it: with it, the page's examples show the
/// address the page was loaded from instead (a first run, or a server reached by another name).
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// The page's policy; `img-src` also lists the origins picture URLs are handed out from.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:{EXTRA_IMG}; connect-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// Quoted strong ETag; its inner hex is the `?v=` version in the page's URLs.
    etag: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: &'static [u8]) -> Self {
        let digest = hex::encode(Sha256::digest(body));
        Self {
            name,
            content_type,
            body,
            etag: format!("\"{}\"", &digest[..20]),
        }
    }

    fn version(&self) -> &str {
        self.etag.trim_matches('"')
    }
}

/// `<visage-avatar-editor>`, for this page and any app's own (API.md, "The embeddable editor").
static EDITOR: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "editor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/editor.js"),
    )
});

/// `Cache-Control` of the editor at its versioned URL (`?v=` the current version): the content
/// behind that URL never changes.
const EDITOR_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of the editor at any other URL (none or an older `?v=`): an app that embeds
/// `/editor.js` as it is gets a new release within five minutes, and a page that still names an
/// old version (or reaches an instance not yet upgraded during a rolling deploy) is not pinned
/// to content that is not that version. The strong ETag makes each later check a 304.
const EDITOR_SHORT: &str = "public, max-age=300";

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        Asset::new(
            "page.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../static/page.js"),
        ),
        Asset::new(
            "page.css",
            "text/css; charset=utf-8",
            include_bytes!("../../static/page.css"),
        ),
    ]
});

/// The upload page, with the public URL in its examples and the token field only outside dev mode.
#[utoipa::path(get, path = "/", tag = "page",
    responses((status = 200, description = "The upload page", content_type = "text/html")))]
pub(super) async fn index(edge: web::Data<EdgeConfig>) -> HttpResponse {
    let extra_img: String = picture_origins(&edge)
        .iter()
        .flat_map(|origin| [" ", origin.as_str()])
        .collect();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            CSP.replace("{EXTRA_IMG}", &extra_img),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(render(&edge))
}

/// `page.js` and `page.css` with a strong ETag; anything else is 404. Not in openapi.json: the
/// assets belong to `GET /`, and API.md (which the OpenAPI document describes) has no such path.
pub(super) async fn asset(
    req: HttpRequest,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == file.as_str())
        .ok_or_else(|| ApiError::NotFound("no such file".into()))?;
    let fresh = etag_matches(&req, &asset.etag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, asset.etag.as_str()))
        // Not immutable: the name does not change with the content; the `?v=` busts caches.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        return Ok(response.finish());
    }
    Ok(response.content_type(asset.content_type).body(asset.body))
}

/// The editor module for any origin: CORS and `Cross-Origin-Resource-Policy` open, so a
/// `<script type="module">` on an app's page (even a cross-origin-isolated one) loads it.
#[utoipa::path(get, path = "/editor.js", tag = "page",
    params(("v" = Option<String>, Query,
        description = "The module's version (its ETag without quotes), as the page's own URL carries it: with the current one the answer is cached for a year, immutable; otherwise for five minutes")),
    responses(
        (status = 200, description = "The ES module defining `<visage-avatar-editor>`", content_type = "text/javascript"),
        (status = 304, description = "Not modified (`If-None-Match`)")))]
pub(super) async fn editor_js(req: HttpRequest) -> HttpResponse {
    let editor = &*EDITOR;
    let current = form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(key, value)| key == "v" && value == editor.version());
    let fresh = etag_matches(&req, &editor.etag);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, editor.etag.as_str()))
        .insert_header((
            header::CACHE_CONTROL,
            if current {
                EDITOR_IMMUTABLE
            } else {
                EDITOR_SHORT
            },
        ))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header(("cross-origin-resource-policy", "cross-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        return response.finish();
    }
    response.content_type(editor.content_type).body(editor.body)
}

fn render(edge: &EdgeConfig) -> String {
    let dev = edge.dev;
    let (mode_note, token_field) = if dev {
        (
            "<p class=\"note\" id=\"dev-note\">Dev mode: no token needed; uploads belong to \
             the user <code>dev|local</code> and nothing is written to Auth0.</p>",
            "",
        )
    } else {
        (
            "<p>Uploads need an access token that your Auth0 tenant issued for this \
             service's audience.</p>",
            "<label for=\"token\">Access token</label>\
             <textarea id=\"token\" rows=\"3\" autocomplete=\"off\" spellcheck=\"false\" \
             placeholder=\"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9…\"></textarea>",
        )
    };
    let [js, css] = &*ASSETS;
    let example_hash = hex::encode(Sha256::digest(b"jane.doe@example.com"));
    INDEX_HTML
        .replace("{{MODE_NOTE}}", mode_note)
        .replace("{{TOKEN_FIELD}}", token_field)
        .replace("{{DEV}}", if dev { "true" } else { "false" })
        .replace(
            "{{PUBLIC_URL_DEFAULT}}",
            if edge.public_url == DEFAULT_PUBLIC_URL {
                "true"
            } else {
                "false"
            },
        )
        .replace("{{PUBLIC_URL}}", &escape_html(&edge.public_url))
        .replace("{{JS_VERSION}}", js.version())
        .replace("{{CSS_VERSION}}", css.version())
        .replace("{{EDITOR_VERSION}}", EDITOR.version())
        .replace("{{EXAMPLE_HASH}}", &example_hash)
}

/// Origins (scheme://host[:port]) of the public URL and of `storage.public_base_url`, which
/// upload answers may point at when they differ from the page's own origin.
fn picture_origins(edge: &EdgeConfig) -> Vec<String> {
    let mut origins: Vec<String> = [
        Some(edge.public_url.as_str()),
        edge.public_base_url.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter_map(origin_of)
    .collect();
    origins.dedup();
    origins
}

fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    // Only plain host[:port] authorities: nothing that could smuggle a CSP token in.
    let clean = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    clean.then(|| format!("{scheme}://{authority}"))
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_keep_only_scheme_and_authority() {
        let cases = [
            (
                "https://cdn.example.com/pictures/",
                Some("https://cdn.example.com"),
            ),
            ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080")),
            ("http://[::1]:8080/x?y", Some("http://[::1]:8080")),
            ("https://a.example;script-src *", None),
            ("https://user@a.example/", None),
            ("nope", None),
        ];
        for (url, origin) in cases {
            assert_eq!(origin_of(url).as_deref(), origin, "{url}");
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"http://x/"><script>'"#),
            "http://x/&quot;&gt;&lt;script&gt;&#39;"
        );
    }
}
