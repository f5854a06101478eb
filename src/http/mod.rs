//! The HTTP edge: the whole route table, the request observer and the JSON error shape.

pub mod auth;
pub mod avatar;
pub mod cors;
pub mod extract;
pub mod health;
pub mod image_response;
pub mod initials;
pub mod openapi;
pub mod page;
pub mod pictures;
pub mod upload;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlers, Next};
use actix_web::{Route, guard, web};
use tracing::Instrument;

use crate::error::{self, ApiError};
use crate::metrics::Metrics;

/// A route that answers GET and HEAD alike (the contract: HEAD works wherever GET does).
pub fn get_or_head() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The route table, shared by `main` and the tests; the upload routes take their CORS origins.
pub fn configure(cfg: &mut web::ServiceConfig, cors_allowed_origins: &[String]) {
    cfg.app_data(web::QueryConfig::default().error_handler(|err, _| error::query_error(&err)))
        .app_data(web::PathConfig::default().error_handler(|err, _| error::path_error(&err)))
        .service(web::resource("/healthz").route(get_or_head().to(health::healthz)))
        .service(web::resource("/readyz").route(get_or_head().to(health::readyz)))
        .service(web::resource("/metrics").route(get_or_head().to(health::metrics)))
        .service(web::resource("/openapi.json").route(get_or_head().to(openapi::openapi_json)))
        .service(web::resource("/initials/{file}").route(get_or_head().to(initials::initials)))
        .service(web::resource("/avatar/{file}").route(get_or_head().to(avatar::avatar)))
        .service(web::resource("/avatar/").route(get_or_head().to(avatar::avatar)))
        .service(web::resource("/").route(get_or_head().to(page::index)))
        .service(web::resource("/static/{file}").route(get_or_head().to(page::asset)))
        .service(
            web::resource("/v1/me/picture")
                .wrap(actix_web::middleware::from_fn(upload::close_after_errors))
                .wrap(cors::uploads(cors_allowed_origins))
                .route(web::post().to(upload::upload_me))
                .route(web::delete().to(upload::delete_me)),
        )
        // `.*` so that an id with an encoded `/` (or a raw one) is one parameter.
        .service(
            web::resource("/v1/users/{user_id:.*}/picture")
                .wrap(actix_web::middleware::from_fn(upload::close_after_errors))
                .wrap(cors::uploads(cors_allowed_origins))
                .route(web::post().to(upload::upload_user))
                .route(web::delete().to(upload::delete_user)),
        )
        .service(web::resource("/pictures/{key:.*}").route(get_or_head().to(pictures::get_picture)))
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such resource".into()))
}

/// Rewrites actix's own error responses (405, payload errors) into the contract's JSON.
pub fn error_handlers<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(error::json_for_framework_errors)
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Per request: a request id, a tracing span, one log line, and the Prometheus counters.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = crate::metrics::method_label(req.method());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    let latency = started.elapsed();
    if let Some(metrics) = metrics {
        metrics
            .http_requests
            .with_label_values(&[route.as_str(), method, &status.to_string()])
            .inc();
        metrics
            .http_latency
            .with_label_values(&[route.as_str(), &status.to_string()])
            .observe(latency.as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request served"
        );
    });
    Ok(res)
}
