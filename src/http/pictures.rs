//! `GET /pictures/{key}`: a stored master or a variant (resized, another format), immutable and
//! validated by ETag.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::edges::PICTURE_EDGES;
use crate::domain::pictures::PictureService;
use crate::error::ApiError;
use crate::http::PICTURES;
use crate::http::extract::{QueryParams, percent_decode_path};
use crate::http::image_response::{ImageHeaders, image_response};
use crate::http::negotiate::{RASTER, negotiate};
use crate::ports::ObjectKey;

/// A stored picture, as uploaded (the master) or resized, in the best format the client takes.
#[utoipa::path(get, path = "/pictures/{key}", tag = "pictures",
    params(("key" = String, Path, description = "object key returned by an upload"),
        ("size" = Option<u32>, Query, description = "Square edge 16..=1024 (alias `s`), snapped up to `pictures.sizes`; the master when absent"),
        ("format" = Option<String>, Query, description = "`avif`, `webp`, `jpeg` or `png`: wins over `Accept`; without it the best of AVIF, WebP that `Accept` names, else the stored JPEG/PNG (`Vary: Accept`)"),
    ),
    responses(
        (status = 200, description = "the picture (image/avif, image/webp, image/jpeg or image/png)", content_type = "image/jpeg"),
        (status = 304, description = "If-None-Match matched"),
        (status = 400, body = crate::http::openapi::ErrorBody), (status = 404, body = crate::http::openapi::ErrorBody)))]
pub async fn get_picture(
    req: HttpRequest,
    query: QueryParams,
    pictures: web::Data<Arc<PictureService>>,
) -> Result<HttpResponse, ApiError> {
    let file = PICTURES
        .file_of(req.path())
        .ok_or_else(|| ApiError::NotFound("no such resource".into()))?;
    let key = percent_decode_path(file)
        .and_then(|key| ObjectKey::parse(&key).ok())
        .ok_or_else(|| ApiError::InvalidParameter("malformed picture key".into()))?;
    let size = query.optional_size(PICTURE_EDGES)?.map(|size| size.0);
    let negotiated = negotiate(&req, &query, &RASTER, true)?;
    let picture = pictures.get(&key, size, negotiated.format).await?;
    Ok(image_response(
        &req,
        &picture,
        ImageHeaders::immutable(negotiated.varies),
    ))
}
