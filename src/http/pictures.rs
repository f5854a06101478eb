//! `GET /pictures/{key}`: a stored master or a resized variant, immutable and validated by ETag.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::domain::pictures::PictureService;
use crate::error::ApiError;
use crate::http::image_response::etag_matches;
use crate::ports::ObjectKey;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PictureQuery {
    /// Square edge 16..=1024, snapped up to the configured buckets; the master when absent.
    size: Option<u32>,
    /// Alias of `size`.
    s: Option<u32>,
}

/// A stored picture, as uploaded (the master) or resized.
#[utoipa::path(get, path = "/pictures/{key}", tag = "pictures",
    params(("key" = String, Path, description = "object key returned by an upload"), PictureQuery),
    responses(
        (status = 200, description = "the picture (image/jpeg, image/png or image/webp, as stored)", content_type = "image/jpeg"),
        (status = 304, description = "If-None-Match matched"),
        (status = 400, body = crate::http::openapi::ErrorBody), (status = 404, body = crate::http::openapi::ErrorBody)))]
pub async fn get_picture(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<PictureQuery>,
    pictures: web::Data<Arc<PictureService>>,
) -> Result<HttpResponse, ApiError> {
    let key = ObjectKey::parse(&path)
        .map_err(|_| ApiError::InvalidParameter("malformed picture key".into()))?;
    let size = query.size.or(query.s);
    if size.is_some_and(|s| !(16..=1024).contains(&s)) {
        return Err(ApiError::InvalidParameter(
            "size must be between 16 and 1024".into(),
        ));
    }
    let picture = pictures.get(&key, size).await?;
    let not_modified = etag_matches(&req, &picture.etag);
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, picture.etag.clone()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if not_modified {
        return Ok(response.finish());
    }
    Ok(response
        .content_type(picture.content_type)
        .body(picture.bytes))
}
