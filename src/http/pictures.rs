//! `GET /pictures/{key}`: a stored master or a resized variant, immutable and validated by ETag.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::domain::pictures::PictureService;
use crate::error::ApiError;
use crate::http::PICTURES;
use crate::http::image_response::{IMMUTABLE, image_response};
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
    query: web::Query<PictureQuery>,
    pictures: web::Data<Arc<PictureService>>,
) -> Result<HttpResponse, ApiError> {
    let file = PICTURES
        .file_of(req.path())
        .ok_or_else(|| ApiError::NotFound("no such resource".into()))?;
    let key = percent_encoding::percent_decode_str(file)
        .decode_utf8()
        .ok()
        .and_then(|key| ObjectKey::parse(&key).ok())
        .ok_or_else(|| ApiError::InvalidParameter("malformed picture key".into()))?;
    let size = query.size.or(query.s);
    if size.is_some_and(|s| !(16..=1024).contains(&s)) {
        return Err(ApiError::InvalidParameter(
            "size must be between 16 and 1024".into(),
        ));
    }
    let picture = pictures.get(&key, size).await?;
    Ok(image_response(&req, &picture, IMMUTABLE, None))
}
