//! The contract's image response: ETag, `If-None-Match` → 304, `Cache-Control` (decided here,
//! for stand-ins too), nosniff.
//!
//! Every header value is prepared without copying: the ETag shares the cached picture's bytes,
//! constant values are static, so a cache hit builds its response from reference counts.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use crate::domain::picture::EncodedPicture;

/// `Cache-Control` of pictures that never change (content-derived URLs and renders).
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Seconds a provisional stand-in may be kept downstream: its real format is ready long before.
pub(super) const PROVISIONAL_MAX_AGE: u64 = 60;
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const ACCEPT: HeaderValue = HeaderValue::from_static("Accept");
const CACHE_TAG: HeaderName = HeaderName::from_static("cache-tag");
const SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");

/// How long downstream caches may keep a final answer of the route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Freshness {
    /// Content-derived URLs and renders: never change.
    Immutable,
    /// Seconds (an `/avatar` answer: no longer than visage keeps it itself).
    MaxAge(u64),
}

/// The one place that decides `Cache-Control`: the route's freshness, shortened to
/// [`PROVISIONAL_MAX_AGE`] for a stand-in (never lengthened: a 30 s fallback stays 30 s).
pub(super) fn cache_control(freshness: Freshness, provisional: bool) -> HeaderValue {
    let max_age = match (freshness, provisional) {
        (Freshness::Immutable, false) => return IMMUTABLE,
        (Freshness::Immutable, true) => PROVISIONAL_MAX_AGE,
        (Freshness::MaxAge(secs), false) => secs,
        (Freshness::MaxAge(secs), true) => secs.min(PROVISIONAL_MAX_AGE),
    };
    // As `Bytes`, the formatted text becomes the header value without a copy.
    HeaderValue::from_maybe_shared(bytes::Bytes::from(format!("public, max-age={max_age}")))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=0"))
}

/// The headers that differ between image routes.
pub(super) struct ImageHeaders {
    pub freshness: Freshness,
    /// The format was chosen by `Accept`: `Vary: Accept`, so caches keep one copy per format.
    pub vary_accept: bool,
    pub extra: Option<(HeaderName, HeaderValue)>,
}

impl ImageHeaders {
    /// Immutable, as content-derived pictures and renders are.
    pub(super) fn immutable(vary_accept: bool) -> Self {
        Self {
            freshness: Freshness::Immutable,
            vary_accept,
            extra: None,
        }
    }
}

/// 200 with the contract's image headers, or 304 when the client already holds this ETag.
pub(super) fn image_response(
    req: &HttpRequest,
    picture: &EncodedPicture,
    headers: ImageHeaders,
) -> HttpResponse {
    let matches = etag_matches(req, &picture.etag);
    let mut response: HttpResponseBuilder = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    // An ETag is hex and quotes (always a valid header value); the fallback copies.
    let etag = HeaderValue::from_maybe_shared(picture.etag.as_bytes().clone())
        .or_else(|_| HeaderValue::from_str(&picture.etag))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    let cache_control = cache_control(headers.freshness, picture.provisional);
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
/// The CDN tag of one user's pictures on an answer: `Cache-Tag` (Cloudflare, and the CDNs that
/// read it) and `Surrogate-Key` (Fastly), so that a purge of the tag drops every size and
/// format at once. A CDN strips both before answering its clients.
pub(super) fn tag_for_cdn(response: &mut HttpResponse, tag: &str) {
    if let Ok(value) = HeaderValue::from_str(tag) {
        let headers = response.headers_mut();
        headers.insert(CACHE_TAG, value.clone());
        headers.insert(SURROGATE_KEY, value);
    }
}

/// Whether the client already holds `etag`. `If-None-Match` compares weakly (RFC 9110): `W/`
/// prefixes are ignored, `*` matches, and the header may be repeated or a list.
pub(super) fn etag_matches(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stand_in_is_kept_briefly_and_never_longer_than_its_route_allows() {
        let text = |value: HeaderValue| value.to_str().map(str::to_owned).unwrap_or_default();
        assert_eq!(
            text(cache_control(Freshness::Immutable, false)),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            text(cache_control(Freshness::Immutable, true)),
            "public, max-age=60"
        );
        assert_eq!(
            text(cache_control(Freshness::MaxAge(30), true)),
            "public, max-age=30"
        );
        assert_eq!(
            text(cache_control(Freshness::MaxAge(3600), true)),
            "public, max-age=60"
        );
        assert_eq!(
            text(cache_control(Freshness::MaxAge(3600), false)),
            "public, max-age=3600"
        );
    }
}
