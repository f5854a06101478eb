//! CORS for the upload API (`/v1/…`): only the origins in `server.cors_allowed_origins`.
//!
//! A preflight from an allowed origin asking for POST or DELETE with at most `Authorization` and
//! `Content-Type` is answered here (204); the answers to the real requests carry
//! `Access-Control-Allow-Origin`. Any other origin, method or header gets no CORS header at all,
//! so the browser blocks it. No credentials (cookies) are involved: uploads carry a bearer token.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::settings::Settings;

/// The routes that browsers on other origins may call.
const API_PREFIX: &str = "/v1/";
const ALLOWED_METHODS: &str = "POST, DELETE";
const ALLOWED_HEADERS: &str = "Authorization, Content-Type";
/// Seconds a browser may reuse a preflight answer.
const MAX_AGE: &str = "600";

/// The middleware: wraps the whole app, acts on `/v1/…` only.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(origin) = allowed_origin(&req) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if req.method() == Method::OPTIONS {
        if let Some(method) = req.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD) {
            if !preflight_allowed(
                method,
                req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS),
            ) {
                return Ok(next.call(req).await?.map_into_boxed_body());
            }
            let response = HttpResponse::build(StatusCode::NO_CONTENT)
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE))
                .insert_header((
                    header::VARY,
                    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
                ))
                .finish();
            return Ok(req.into_response(response));
        }
    }
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("X-Request-Id, Retry-After"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    Ok(res.map_into_boxed_body())
}

/// The request's `Origin` when the route is under `/v1/` and the origin is configured.
fn allowed_origin(req: &ServiceRequest) -> Option<HeaderValue> {
    if !req.path().starts_with(API_PREFIX) {
        return None;
    }
    let origin = req.headers().get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    let settings = req.app_data::<web::Data<Arc<Settings>>>()?;
    settings
        .server
        .cors_allowed_origins
        .iter()
        .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(text))
        .then(|| origin.clone())
}

fn preflight_allowed(method: &HeaderValue, headers: Option<&HeaderValue>) -> bool {
    let method_ok = matches!(method.as_bytes(), b"POST" | b"DELETE");
    let headers_ok = match headers.map(HeaderValue::to_str) {
        None => true,
        Some(Err(_)) => false,
        Some(Ok(list)) => list
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .all(|h| {
                h.eq_ignore_ascii_case("authorization") || h.eq_ignore_ascii_case("content-type")
            }),
    };
    method_ok && headers_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflights_allow_only_the_upload_methods_and_headers() {
        let cases = [
            ("POST", None, true),
            ("DELETE", Some("authorization"), true),
            ("POST", Some("Authorization, Content-Type"), true),
            ("POST", Some("content-type,"), true),
            ("PUT", None, false),
            ("GET", None, false),
            ("POST", Some("authorization, x-custom"), false),
            ("post", None, false),
        ];
        for (method, headers, expected) in cases {
            let method = HeaderValue::from_static(method);
            let headers = headers.map(HeaderValue::from_static);
            assert_eq!(
                preflight_allowed(&method, headers.as_ref()),
                expected,
                "{method:?} {headers:?}"
            );
        }
    }
}
