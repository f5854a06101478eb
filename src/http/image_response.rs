//! The contract's image response: ETag, `If-None-Match` → 304, `Cache-Control`, nosniff.
//!
//! Every header value is prepared without copying: the ETag shares the cached picture's bytes,
//! constant values are static, so a cache hit builds its response from reference counts.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use bytestring::ByteString;

use crate::domain::image::Format;
use crate::domain::pictures::Picture;
use crate::domain::placeholder::RenderedPicture;

/// `Cache-Control` of pictures that never change (content-derived URLs and renders).
pub const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Seconds a provisional stand-in may be kept (its real format is being encoded meanwhile).
pub const PROVISIONAL_MAX_AGE: u64 = 60;
const PROVISIONAL: HeaderValue = HeaderValue::from_static("public, max-age=60");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const ACCEPT: HeaderValue = HeaderValue::from_static("Accept");

/// What an image response is made of; cloning it is a few reference counts.
pub struct ImageBody<'a> {
    pub bytes: &'a Bytes,
    pub format: Format,
    /// Quoted strong ETag.
    pub etag: &'a ByteString,
    pub provisional: bool,
}

impl<'a> From<&'a RenderedPicture> for ImageBody<'a> {
    fn from(picture: &'a RenderedPicture) -> Self {
        Self {
            bytes: &picture.bytes,
            format: picture.format,
            etag: &picture.etag,
            provisional: picture.provisional,
        }
    }
}

impl<'a> From<&'a Picture> for ImageBody<'a> {
    fn from(picture: &'a Picture) -> Self {
        Self {
            bytes: &picture.bytes,
            format: picture.format,
            etag: &picture.etag,
            provisional: picture.provisional,
        }
    }
}

/// The headers that differ between image routes.
pub struct ImageHeaders {
    /// For a final picture; a provisional one gets [`PROVISIONAL_MAX_AGE`] instead.
    pub cache_control: HeaderValue,
    /// The format was chosen by `Accept`: `Vary: Accept`, so caches keep one copy per format.
    pub vary_accept: bool,
    pub extra: Option<(HeaderName, HeaderValue)>,
}

impl ImageHeaders {
    /// Immutable, as content-derived pictures and renders are.
    pub fn immutable(vary_accept: bool) -> Self {
        Self {
            cache_control: IMMUTABLE,
            vary_accept,
            extra: None,
        }
    }
}

/// 200 with the contract's image headers, or 304 when the client already holds this ETag.
pub fn image_response<'a>(
    req: &HttpRequest,
    picture: impl Into<ImageBody<'a>>,
    headers: ImageHeaders,
) -> HttpResponse {
    let picture = picture.into();
    let matches = etag_matches(req, picture.etag);
    let mut response: HttpResponseBuilder = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    // An ETag is hex and quotes (always a valid header value); the fallback copies.
    let etag = HeaderValue::from_maybe_shared(picture.etag.as_bytes().clone())
        .or_else(|_| HeaderValue::from_str(picture.etag))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    let cache_control = if picture.provisional {
        PROVISIONAL
    } else {
        headers.cache_control
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, NOSNIFF));
    if headers.vary_accept {
        response.append_header((header::VARY, ACCEPT));
    }
    if let Some(pair) = headers.extra {
        response.insert_header(pair);
    }
    if matches {
        return response.finish();
    }
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(picture.format.content_type()),
        ))
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
