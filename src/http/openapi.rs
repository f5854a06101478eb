//! `/openapi.json`: the contract as OpenAPI 3, generated from the handlers' annotations.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::OpenApi;

/// The contract's error shape.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine code, e.g. `invalid_parameter`.
    pub error: String,
    /// One human sentence.
    pub message: String,
    /// Only with `metadata_update_failed`: the stored picture's URL.
    pub picture: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "visage",
        description = "Avatars for apps that sign users in with Auth0."
    ),
    paths(
        crate::http::health::healthz,
        crate::http::health::readyz,
        crate::http::health::metrics,
        openapi_json,
        crate::http::page::index,
        crate::http::initials::initials,
        crate::http::avatar::avatar,
        crate::http::upload::upload_me,
        crate::http::upload::upload_user,
        crate::http::upload::delete_me,
        crate::http::upload::delete_user,
        crate::http::pictures::get_picture,
    ),
    components(schemas(ErrorBody, crate::http::upload::UploadResponse))
)]
pub struct ApiDoc;

/// Serialized once: the document is fixed at compile time.
static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default());

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3 description of the contract", content_type = "application/json")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}
