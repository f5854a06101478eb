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
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == picture.etag)
        });
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
