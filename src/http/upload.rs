//! `POST`/`DELETE /v1/me/picture` and `/v1/users/{user_id}/picture`: thin handlers plus the body
//! reader (size limit while streaming, multipart or raw `image/*`).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, Stream, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::domain::rate_limit::UploadRateLimiter;
use crate::domain::upload::{Target, UploadService, Uploaded};
use crate::error::ApiError;
use crate::http::auth::AuthenticatedUser;
use crate::http::extract::{QueryParams, parse_crop};
use crate::settings::Settings;

/// The 201 answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UploadResponse {
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
        (status = 201, body = UploadResponse), (status = 400, body = crate::http::openapi::ErrorBody),
        (status = 401), (status = 403), (status = 413), (status = 415), (status = 422),
        (status = 408, description = "the body did not arrive within `limits.upload_body_secs`"),
        (status = 429, description = "more than `limits.uploads_per_minute` uploads and deletes by this user; `Retry-After` says when to retry"),
        (status = 502, description = "stored, but the profile update failed; the body carries `picture`"),
        (status = 503, description = "storage unavailable; nothing written, Auth0 not called")))]
pub async fn upload_me(
    caller: AuthenticatedUser,
    req: HttpRequest,
    payload: web::Payload,
    uploads: web::Data<Arc<UploadService>>,
    settings: web::Data<Arc<Settings>>,
    rate: web::Data<UploadRateLimiter>,
) -> Result<HttpResponse, ApiError> {
    let user = uploads.authorize(&caller.0, Target::Me)?;
    rate.admit(&user)?;
    upload(&req, payload, &uploads, &settings, &user).await
}

/// Upload any user's picture: the token's own `sub`, or any user with the admin permission
/// (a user token's `permissions`, a machine token's `scope`).
#[utoipa::path(post, path = "/v1/users/{user_id}/picture", tag = "uploads",
    params(("user_id" = String, Path, description = "percent-encoded user id, e.g. `auth0%7C5f7c…`"),
        ("crop" = Option<String>, Query, description = "`x,y,w,h` in whole pixels of the upright picture (also a multipart text field)")),
    request_body(content_type = "multipart/form-data", description = "one file part named `picture` (or `file`); or the raw image with `Content-Type: image/*`"),
    responses((status = 201, body = UploadResponse), (status = 400), (status = 401), (status = 403),
        (status = 408), (status = 413), (status = 415), (status = 422), (status = 429), (status = 502), (status = 503)))]
pub async fn upload_user(
    caller: AuthenticatedUser,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    uploads: web::Data<Arc<UploadService>>,
    settings: web::Data<Arc<Settings>>,
    rate: web::Data<UploadRateLimiter>,
) -> Result<HttpResponse, ApiError> {
    let user_id = valid_user_id(&path)?;
    let user = uploads.authorize(&caller.0, Target::User(user_id))?;
    rate.admit(&user)?;
    upload(&req, payload, &uploads, &settings, &user).await
}

/// Clear the caller's profile picture, then delete every stored picture of the caller.
#[utoipa::path(delete, path = "/v1/me/picture", tag = "uploads",
    responses((status = 204), (status = 401), (status = 403), (status = 429), (status = 502), (status = 503)))]
pub async fn delete_me(
    caller: AuthenticatedUser,
    uploads: web::Data<Arc<UploadService>>,
    rate: web::Data<UploadRateLimiter>,
) -> Result<HttpResponse, ApiError> {
    let user = uploads.authorize(&caller.0, Target::Me)?;
    rate.admit(&user)?;
    uploads.delete(&user).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Clear a user's profile picture, then delete every stored picture of that user.
#[utoipa::path(delete, path = "/v1/users/{user_id}/picture", tag = "uploads",
    params(("user_id" = String, Path, description = "percent-encoded user id")),
    responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 429), (status = 502), (status = 503)))]
pub async fn delete_user(
    caller: AuthenticatedUser,
    path: web::Path<String>,
    uploads: web::Data<Arc<UploadService>>,
    rate: web::Data<UploadRateLimiter>,
) -> Result<HttpResponse, ApiError> {
    let user = uploads.authorize(&caller.0, Target::User(valid_user_id(&path)?))?;
    rate.admit(&user)?;
    uploads.delete(&user).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn upload(
    req: &HttpRequest,
    payload: web::Payload,
    uploads: &UploadService,
    settings: &Settings,
    user: &str,
) -> Result<HttpResponse, ApiError> {
    // Checked before the body is read: a malformed crop costs no upload.
    let query_crop = QueryParams::parse(req.query_string())?
        .get("crop")
        .map(parse_crop)
        .transpose()?;
    // The whole body within `limits.upload_body_secs`: a client trickling bytes must not hold a
    // connection and its partial body for as long as it likes.
    let body_secs = settings.limits.upload_body_secs;
    let reading = read_picture(req, payload, settings.limits.max_upload_bytes);
    let body = tokio::time::timeout(Duration::from_secs(body_secs), reading)
        .await
        .map_err(|_| {
            ApiError::RequestTimeout(format!(
                "the upload body did not arrive within {body_secs} s"
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

/// The path's user id, already percent-decoded by the router.
fn valid_user_id(id: &str) -> Result<&str, ApiError> {
    if id.is_empty() || id.len() > 512 || id.chars().any(char::is_control) {
        return Err(ApiError::InvalidParameter(
            "user_id must be 1 to 512 bytes without control characters".into(),
        ));
    }
    Ok(id)
}

fn too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!("the body is larger than {limit} bytes"))
}

/// What an upload body carries: the file, and the form's `crop` text field if any.
#[derive(Debug)]
pub struct UploadBody {
    pub picture: Bytes,
    pub crop: Option<String>,
}

/// The uploaded file's bytes: refused before reading when `Content-Length` is over the limit,
/// cut at the limit otherwise (chunked bodies); multipart or a raw `image/*` body. Public for the
/// fuzz targets.
pub async fn read_picture(
    req: &HttpRequest,
    payload: web::Payload,
    limit: u64,
) -> Result<UploadBody, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large(limit));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let overflowed = Rc::new(Cell::new(false));
    let body = limited(payload, limit, overflowed.clone());
    let outcome = if content_type.starts_with("multipart/form-data") {
        read_multipart(req, body).await
    } else if content_type.starts_with("image/") {
        collect(body, declared.unwrap_or(0))
            .await
            .map(|picture| UploadBody {
                picture,
                crop: None,
            })
            .map_err(|err| ApiError::BadRequest(format!("cannot read the body: {err}")))
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send multipart/form-data with a `picture` file part, or the image with Content-Type image/*".into(),
        ));
    };
    if overflowed.get() {
        return Err(too_large(limit));
    }
    outcome
}

/// The payload, failing with `Overflow` (and raising the flag) once more than `limit` bytes came.
fn limited(
    payload: web::Payload,
    limit: u64,
    overflowed: Rc<Cell<bool>>,
) -> impl Stream<Item = Result<Bytes, PayloadError>> + 'static {
    let mut seen: u64 = 0;
    payload.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > limit {
            overflowed.set(true);
            return Err(PayloadError::Overflow);
        }
        Ok(chunk)
    })
}

async fn collect<E>(
    stream: impl Stream<Item = Result<Bytes, E>>,
    size_hint: u64,
) -> Result<Bytes, E> {
    let mut buf = BytesMut::with_capacity(usize::try_from(size_hint).unwrap_or(0));
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk?);
    }
    Ok(buf.freeze())
}

/// Exactly one file part (named `picture` or `file`, or any part carrying a file name) and an
/// optional `crop` text field; other form fields are read and ignored.
async fn read_multipart(
    req: &HttpRequest,
    body: impl Stream<Item = Result<Bytes, PayloadError>> + 'static,
) -> Result<UploadBody, ApiError> {
    // The whole body first (it is bounded by the upload limit), then the parser over bytes that
    // are all here: actix-multipart 0.7 stays pending forever on a body that ends inside a part
    // (found by fuzzing; actix-web#3202), and with nothing left to wait for, "pending" means
    // exactly that.
    let whole = collect(body, 0)
        .await
        .map_err(|err| ApiError::BadRequest(format!("cannot read the body: {err}")))?;
    // actix-multipart 0.7.2 also panics on some bodies (a line shorter than 4 bytes before the
    // first boundary when the boundary is that short; found by fuzzing). The parse is
    // synchronous, so a panic is caught here and the request answered, never the worker lost.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parse_multipart(req.headers(), whole)
    }))
    .unwrap_or_else(|_| {
        Err(ApiError::BadRequest(
            "malformed multipart body: it cannot be parsed".into(),
        ))
    })
}

/// Parses a complete multipart body without waiting: every step is ready or the body ended early.
fn parse_multipart(headers: &header::HeaderMap, whole: Bytes) -> Result<UploadBody, ApiError> {
    let malformed = |err: actix_multipart::MultipartError| {
        ApiError::BadRequest(format!("malformed multipart body: {err}"))
    };
    let ended_early = || {
        ApiError::BadRequest("malformed multipart body: it ends before its closing boundary".into())
    };
    let complete = futures_util::stream::once(std::future::ready(Ok::<_, PayloadError>(whole)));
    let mut multipart = Multipart::new(headers, complete);
    let mut file = None;
    let mut crop = None;
    while let Some(field) = multipart
        .try_next()
        .now_or_never()
        .ok_or_else(ended_early)?
        .map_err(malformed)?
    {
        let is_file = matches!(field.name(), Some("picture" | "file"))
            || field
                .content_disposition()
                .is_some_and(|cd| cd.get_filename().is_some());
        let is_crop = !is_file && field.name() == Some("crop");
        let bytes = collect(field, 0)
            .now_or_never()
            .ok_or_else(ended_early)?
            .map_err(malformed)?;
        if is_crop {
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                ApiError::InvalidParameter("crop must be x,y,w,h in whole pixels".into())
            })?;
            crop = Some(text.to_owned());
        } else if is_file && file.replace(bytes).is_some() {
            return Err(ApiError::BadRequest(
                "send exactly one file part, not several".into(),
            ));
        }
    }
    let picture = file.ok_or_else(|| {
        ApiError::BadRequest("the form has no file part named `picture` or `file`".into())
    })?;
    Ok(UploadBody { picture, crop })
}

/// Upload errors are often answered before the body is read (413 by `Content-Length`, 401,
/// 415). The connection cannot be reused then, so say so: clients open a fresh one instead of
/// failing on a closed socket.
pub async fn close_after_errors(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn form_headers() -> header::HeaderMap {
        let mut headers = header::HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("multipart/form-data; boundary=XyZ"),
        );
        headers
    }

    /// A fuzz finding kept in `fuzz/regressions/upload_body/` (selector byte, then the body).
    fn regression_input(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/regressions/upload_body")
                .join(name),
        )
        .expect("regression input")
    }

    const FORM: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGBYTES\r\n--XyZ\r\nContent-Disposition: form-data; name=\"crop\"\r\n\r\n1,2,30,30\r\n--XyZ--\r\n";

    #[test]
    fn a_complete_form_gives_its_file_and_crop() {
        let body = parse_multipart(&form_headers(), Bytes::from_static(FORM)).expect("parsed");
        assert_eq!(&body.picture[..], b"PNGBYTES");
        assert_eq!(body.crop.as_deref(), Some("1,2,30,30"));
    }

    #[test]
    fn the_fuzzed_body_that_hung_the_reader_is_a_400_at_once() {
        let input = regression_input("hang-multipart-d47e16a9");
        // The first byte is the fuzz target's selector; the rest is the body it sent.
        let err = parse_multipart(&form_headers(), Bytes::from(input[1..].to_vec()))
            .expect_err("a body without its closing boundary");
        assert!(
            matches!(&err, ApiError::BadRequest(msg) if msg.contains("closing boundary")),
            "{err:?}"
        );
    }

    #[test]
    fn the_fuzzed_body_that_panicked_the_parser_is_a_400() {
        let input = regression_input("crash-short-boundary-8bb57e36");
        // Selector 4: boundary `XyZ`, no Content-Length.
        let req = actix_web::test::TestRequest::post()
            .insert_header((header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ"))
            .to_http_request();
        let whole = Bytes::from(input[1..].to_vec());
        let body = futures_util::stream::once(std::future::ready(Ok::<_, PayloadError>(whole)));
        let outcome = actix_web::rt::System::new().block_on(read_multipart(&req, body));
        assert!(
            matches!(&outcome, Err(ApiError::BadRequest(msg)) if msg.contains("multipart")),
            "{outcome:?}"
        );
    }

    #[test]
    fn every_truncation_of_a_form_is_an_error_never_a_wait() {
        // Cut anywhere before the closing boundary's end: each is answered, none is accepted
        // with a partial file.
        let complete_until = FORM.len() - b"--\r\n".len();
        for cut in 0..complete_until {
            let body = Bytes::copy_from_slice(&FORM[..cut]);
            if let Ok(parsed) = parse_multipart(&form_headers(), body) {
                assert_eq!(&parsed.picture[..], b"PNGBYTES", "cut at {cut}");
            }
        }
    }
}
