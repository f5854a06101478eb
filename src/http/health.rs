//! `/healthz`, `/readyz` and `/metrics`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::domain::readiness::Readiness;
use crate::error::ApiError;
use crate::metrics::Metrics;

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Status {
    status: &'static str,
}

/// 200 while the process serves; depends on nothing else.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process serves", body = Status)))]
pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Status { status: "ok" })
}

/// 200 when storage answers (checked in the background every few seconds), else 503.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Storage answers", body = Status),
        (status = 503, description = "storage_unavailable", body = crate::error::ErrorBody),
    ))]
pub(super) async fn readyz(readiness: web::Data<Readiness>) -> Result<HttpResponse, ApiError> {
    if readiness.is_ready() {
        Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Status { status: "ready" }))
    } else {
        Err(ApiError::StorageUnavailable(
            "the last storage health check failed".into(),
        ))
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain")))]
pub(super) async fn metrics(metrics: web::Data<Metrics>) -> Result<HttpResponse, ApiError> {
    let text = metrics.render().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}
