//! `GET /pictures/{key}`: a stored master or a variant (resized, another format), immutable and
//! validated by ETag.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use crate::domain::lifecycle::purge::cdn_tag_of_key;
use crate::domain::pictures::PictureService;
use crate::error::ApiError;
use crate::http::PICTURES;
use crate::http::extract::{QueryParams, percent_decode_path};
use crate::http::image_response::{ImageHeaders, image_response, tag_for_cdn};
use crate::http::negotiate::{RASTER, negotiate};
use crate::ports::ObjectKey;
use crate::vocabulary::{Format, PICTURE_EDGES};

/// A stored picture, as uploaded (the master) or resized, in the best format the client takes.
#[utoipa::path(get, path = "/pictures/{key}", tag = "pictures",
    params(("key" = String, Path, description = "object key returned by an upload"),
        ("size" = Option<u32>, Query, description = "Square edge 16..=1024 (alias `s`), snapped up to `pictures.sizes`; the master when absent"),
        ("format" = Option<String>, Query, description = "`avif`, `webp`, `jpeg` or `png`: wins over `Accept`; without it the best of AVIF, WebP that `Accept` names, else the stored JPEG/PNG (`Vary: Accept`)"),
    ),
    responses(
        (status = 200, description = "the picture (image/avif, image/webp, image/jpeg or image/png)", content_type = "image/jpeg"),
        (status = 304, description = "If-None-Match matched"),
        (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub(super) async fn get_picture(
    req: HttpRequest,
    asked: PictureAsked,
    pictures: web::Data<PictureService>,
) -> Result<HttpResponse, ApiError> {
    let picture = pictures.get(&asked.key, asked.size, asked.format).await?;
    let mut response = image_response(&req, &picture, ImageHeaders::immutable(asked.varies));
    if let Some(tag) = cdn_tag_of_key(&asked.key) {
        tag_for_cdn(&mut response, &tag);
    }
    Ok(response)
}

/// A `/pictures/{key}` request, parsed and validated once.
pub(super) struct PictureAsked {
    pub key: ObjectKey,
    /// The asked edge (snapped by the service); `None`: the master.
    pub size: Option<u32>,
    /// `None`: the stored format.
    pub format: Option<Format>,
    /// `Accept` took part (`Vary: Accept`).
    pub varies: bool,
}

impl FromRequest for PictureAsked {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req))
    }
}

impl PictureAsked {
    fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        let file = PICTURES
            .file_of(req.path())
            .ok_or_else(|| ApiError::NotFound("no such resource".into()))?;
        let key = percent_decode_path(file)
            .and_then(|key| ObjectKey::parse(&key).ok())
            .ok_or_else(|| ApiError::InvalidParameter("malformed picture key".into()))?;
        let query = QueryParams::parse(req.query_string())?;
        let size = query.optional_size(PICTURE_EDGES)?.map(|size| size.0);
        let negotiated = negotiate(req, &query, &RASTER, true)?;
        Ok(Self {
            key,
            size,
            format: negotiated.format,
            varies: negotiated.varies,
        })
    }
}
