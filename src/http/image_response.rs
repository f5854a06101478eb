//! The contract's image response: ETag, `If-None-Match` → 304, `Cache-Control`, nosniff.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use crate::domain::placeholder::RenderedPicture;

/// `Cache-Control` of pictures that never change (content-derived URLs and renders).
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// 200 with the contract's image headers (plus `extra`), or 304 when the client already holds
/// this ETag.
pub fn image_response(
    req: &HttpRequest,
    picture: &RenderedPicture,
    cache_control: &str,
    extra: &[(&'static str, &str)],
) -> HttpResponse {
    let matches = etag_matches(req, &picture.etag);
    let mut response: HttpResponseBuilder = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, picture.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    for (name, value) in extra {
        response.insert_header((*name, *value));
    }
    if matches {
        return response.finish();
    }
    response
        .content_type(picture.content_type)
        .body(picture.bytes.clone())
}

/// Whether the client already holds `etag`. `If-None-Match` compares weakly (RFC 9110): `W/`
/// prefixes are ignored, `*` matches, and the header may be repeated or a list.
pub fn etag_matches(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}
