//! `POST`/`DELETE /v1/me/picture` and `/v1/users/{user_id}/picture`: thin handlers over the
//! [`Authorized`] extractor, the body reader ([`read_picture`]) and the upload service.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::domain::upload::{UploadService, Uploaded};
use crate::error::ApiError;
use crate::http::EdgeConfig;
use crate::http::authorized::Authorized;
use crate::http::extract::{QueryParams, parse_crop};
use crate::http::upload_body::read_picture;

/// The 201 answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct UploadResponse {
    user_id: String,
    /// Public URL of the stored picture (what the profile now holds).
    picture: String,
    /// Object key: `u/{hash of the user id}/{sha256}.{ext}`.
    key: String,
    /// SHA-256 of the stored bytes.
    sha256: String,
    width: u32,
    height: u32,
    content_type: String,
    bytes: usize,
    /// Base64 ThumbHash of the stored picture: a blurred placeholder to draw while it loads.
    thumbhash: String,
}

impl From<Uploaded> for UploadResponse {
    fn from(u: Uploaded) -> Self {
        Self {
            user_id: u.user_id,
            picture: u.picture,
            key: u.key,
            sha256: u.sha256,
            width: u.width,
            height: u.height,
            content_type: u.content_type.to_owned(),
            bytes: u.bytes,
            thumbhash: u.thumbhash,
        }
    }
}

/// Upload the caller's own picture (`dev|local` in dev mode).
#[utoipa::path(post, path = "/v1/me/picture", tag = "uploads",
    params(("crop" = Option<String>, Query, description = "`x,y,w,h` in whole pixels of the upright picture (also a multipart text field); the master is the largest centred square inside it")),
    request_body(content_type = "multipart/form-data", description = "one file part named `picture` (or `file`); or the raw image with `Content-Type: image/*`"),
    responses(
        (status = 201, body = UploadResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 401), (status = 403), (status = 413), (status = 415), (status = 422),
        (status = 408, description = "the body did not arrive within `limits.upload_body_secs`"),
        (status = 429, description = "more than `limits.uploads_per_minute` uploads and deletes by this user; `Retry-After` says when to retry"),
        (status = 502, description = "stored, but the profile update failed; the body carries `picture`"),
        (status = 503, description = "storage unavailable; nothing written, Auth0 not called")))]
pub(super) async fn upload_me(
    who: Authorized,
    req: HttpRequest,
    payload: web::Payload,
    uploads: web::Data<UploadService>,
    edge: web::Data<EdgeConfig>,
) -> Result<HttpResponse, ApiError> {
    upload(&req, payload, &uploads, &edge, &who.user_id).await
}

/// Upload any user's picture: the token's own `sub`, or any user with the admin permission
/// (a user token's `permissions`, a machine token's `scope`).
#[utoipa::path(post, path = "/v1/users/{user_id}/picture", tag = "uploads",
    params(("user_id" = String, Path, description = "percent-encoded user id, e.g. `auth0%7C5f7c…`"),
        ("crop" = Option<String>, Query, description = "`x,y,w,h` in whole pixels of the upright picture (also a multipart text field)")),
    request_body(content_type = "multipart/form-data", description = "one file part named `picture` (or `file`); or the raw image with `Content-Type: image/*`"),
    responses((status = 201, body = UploadResponse), (status = 400), (status = 401), (status = 403),
        (status = 408), (status = 413), (status = 415), (status = 422), (status = 429), (status = 502), (status = 503)))]
pub(super) async fn upload_user(
    who: Authorized,
    req: HttpRequest,
    payload: web::Payload,
    uploads: web::Data<UploadService>,
    edge: web::Data<EdgeConfig>,
) -> Result<HttpResponse, ApiError> {
    upload(&req, payload, &uploads, &edge, &who.user_id).await
}

/// Clear the caller's profile picture, then delete every stored picture of the caller.
#[utoipa::path(delete, path = "/v1/me/picture", tag = "uploads",
    responses((status = 204), (status = 401), (status = 403), (status = 429), (status = 502), (status = 503)))]
pub(super) async fn delete_me(
    who: Authorized,
    uploads: web::Data<UploadService>,
) -> Result<HttpResponse, ApiError> {
    uploads.delete(&who.user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Clear a user's profile picture, then delete every stored picture of that user.
#[utoipa::path(delete, path = "/v1/users/{user_id}/picture", tag = "uploads",
    params(("user_id" = String, Path, description = "percent-encoded user id")),
    responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 429), (status = 502), (status = 503)))]
pub(super) async fn delete_user(
    who: Authorized,
    uploads: web::Data<UploadService>,
) -> Result<HttpResponse, ApiError> {
    uploads.delete(&who.user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn upload(
    req: &HttpRequest,
    payload: web::Payload,
    uploads: &UploadService,
    edge: &EdgeConfig,
    user: &str,
) -> Result<HttpResponse, ApiError> {
    // Checked before the body is read: a malformed crop costs no upload.
    let query_crop = QueryParams::parse(req.query_string())?
        .get("crop")
        .map(parse_crop)
        .transpose()?;
    // The whole body within `limits.upload_body_secs`: a client trickling bytes must not hold a
    // connection and its partial body for as long as it likes.
    let reading = read_picture(req, payload, edge.max_upload_bytes);
    let body = tokio::time::timeout(edge.upload_body, reading)
        .await
        .map_err(|_| {
            ApiError::RequestTimeout(format!(
                "the upload body did not arrive within {} s",
                edge.upload_body.as_secs()
            ))
        })??;
    let form_crop = body.crop.as_deref().map(parse_crop).transpose()?;
    let crop = match (query_crop, form_crop) {
        (Some(query), Some(form)) if query != form => {
            return Err(ApiError::InvalidParameter(
                "crop is given both in the query and in the form, differently: send it once".into(),
            ));
        }
        (query, form) => query.or(form),
    };
    let uploaded = uploads.upload(user, body.picture, crop).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, uploaded.picture.clone()))
        .json(UploadResponse::from(uploaded)))
}

/// Upload errors are often answered before the body is read (413 by `Content-Length`, 401,
/// 415). The connection cannot be reused then, so say so: clients open a fresh one instead of
/// failing on a closed socket.
pub(super) async fn close_after_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if res.status().is_client_error() || res.status().is_server_error() {
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(res)
}
