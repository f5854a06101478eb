//! CORS, two policies.
//!
//! - The upload API (`/v1/…`): only the origins in `server.cors_allowed_origins` (compared without
//!   case and trailing slash), POST and DELETE with `Authorization` and `Content-Type`, by
//!   `actix-cors` on those resources. No credentials (cookies) are involved: uploads carry a
//!   bearer token.
//! - The public image routes (`/initials`, `/avatar`, `/pictures`, `/u`): every answer, whatever its
//!   status and whether or not the request sent `Origin`, carries `Access-Control-Allow-Origin: *`
//!   and `Cross-Origin-Resource-Policy: cross-origin`, as Gravatar's own answers do. Unconditional
//!   on purpose: a shared cache that stored an `<img>` answer (sent without `Origin`) hands the
//!   same bytes to a `crossorigin` canvas read later, and `actix-cors` only answers requests that
//!   carry `Origin` (and adds `Vary: Origin`, which splits CDN caches per site). The same policy
//!   answers methods other than GET and HEAD there with 405 and `Allow: GET, HEAD`.

use actix_cors::Cors;
use actix_web::HttpResponse;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

use crate::error::ApiError;

/// Path prefixes of the public image routes.
const PUBLIC_PREFIXES: &[&str] = &["/initials/", "/avatar/", "/avatar", "/pictures/", "/u/"];
/// Seconds a browser may reuse a preflight answer of the upload API.
const UPLOAD_MAX_AGE: usize = 600;
/// Seconds a browser may reuse a preflight answer of the public routes.
const PUBLIC_MAX_AGE: &str = "86400";

static CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");

/// The upload API's policy, wrapped around the `/v1/…` resources.
pub(super) fn uploads(allowed_origins: &[String]) -> Cors {
    let allowed: Vec<String> = allowed_origins
        .iter()
        .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
        .collect();
    Cors::default()
        .allowed_origin_fn(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|text| allowed.iter().any(|a| a.eq_ignore_ascii_case(text)))
        })
        .allowed_methods([Method::POST, Method::DELETE])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(UPLOAD_MAX_AGE)
}

fn is_public(path: &str) -> bool {
    PUBLIC_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix) && (prefix.ends_with('/') || path == *prefix))
}

/// The public routes' policy, run by the request observer (one layer less on every hit): on the
/// public image paths only, preflights are answered, methods other than GET and HEAD get 405, and
/// every answer carries the CORS headers.
pub(super) async fn public_images(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !is_public(req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = HttpResponse::build(StatusCode::NO_CONTENT);
        response
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD"))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, PUBLIC_MAX_AGE))
            .insert_header((CROSS_ORIGIN_RESOURCE_POLICY.clone(), "cross-origin"));
        // Nothing here depends on cookies or headers, so any header a page adds
        // (If-None-Match, Accept…) may come.
        if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            response.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone()));
        }
        return Ok(req.into_response(response.finish()));
    }
    let mut res = if matches!(*req.method(), Method::GET | Method::HEAD) {
        next.call(req).await?.map_into_boxed_body()
    } else {
        let error =
            ApiError::MethodNotAllowed(format!("method {} is not allowed here", req.method()));
        let mut response = actix_web::ResponseError::error_response(&error);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        req.into_response(response)
    };
    let headers = res.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        CROSS_ORIGIN_RESOURCE_POLICY.clone(),
        HeaderValue::from_static("cross-origin"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, X-Request-Id"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_the_image_routes() {
        for path in [
            "/initials/JD.png",
            "/avatar/abc",
            "/avatar/",
            "/avatar",
            "/pictures/u/k.jpg",
        ] {
            assert!(is_public(path), "{path}");
        }
        for path in [
            "/v1/me/picture",
            "/metrics",
            "/",
            "/avatarx",
            "/initials",
            "/static/a.js",
        ] {
            assert!(!is_public(path), "{path}");
        }
    }
}
