//! The one error type at the HTTP edge and its mapping to the contract's JSON errors.
//!
//! Domain and adapter errors convert into [`ApiError`]; its `ResponseError` impl is the only
//! place that picks a status and a machine code. The user's sentence is separate from the
//! logged cause: a 5xx body never carries S3 or Auth0 detail.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    InvalidImage(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The upload body did not arrive within `limits.upload_body_secs`.
    #[error("{0}")]
    RequestTimeout(String),
    /// More than `limits.uploads_per_minute` uploads and deletes by one user.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("storage is unavailable")]
    StorageUnavailable(#[source] Cause),
    /// The picture is stored but the profile write failed; the body still carries its URL.
    #[error("the picture was stored but the user's profile could not be updated")]
    MetadataUpdateFailed {
        picture: String,
        #[source]
        source: Cause,
    },
    /// A delete could not clear the profile's picture; nothing was deleted.
    #[error("the user's profile could not be updated, so no picture was deleted")]
    ProfileClearFailed(#[source] Cause),
    #[error("the upstream service is unavailable")]
    UpstreamUnavailable(#[source] Cause),
    #[error("internal error")]
    Internal(#[source] Cause),
}

/// The contract's error shape, as every error answer carries it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// Machine code, e.g. `invalid_parameter`.
    pub error: &'a str,
    /// One human sentence.
    pub message: String,
    /// Only with `metadata_update_failed`: the stored picture's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<&'a str>,
}

impl ApiError {
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    /// The contract's machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidParameter(_) => "invalid_parameter",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::InvalidImage(_) => "invalid_image",
            Self::BadRequest(_) | Self::MethodNotAllowed(_) => "bad_request",
            Self::RequestTimeout(_) => "request_timeout",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::StorageUnavailable(_) => "storage_unavailable",
            Self::MetadataUpdateFailed { .. } | Self::ProfileClearFailed(_) => {
                "metadata_update_failed"
            }
            Self::UpstreamUnavailable(_) => "upstream_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidParameter(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidImage(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::StorageUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::MetadataUpdateFailed { .. }
            | Self::ProfileClearFailed(_)
            | Self::UpstreamUnavailable(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // A 5xx's cause goes to the log (the request's own line, `http::observe`), never to
        // the client.
        let picture = match self {
            Self::MetadataUpdateFailed { picture, .. } => Some(picture.as_str()),
            _ => None,
        };
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
            picture,
        };
        let mut response = HttpResponse::build(status);
        if matches!(self, Self::StorageUnavailable(_)) {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        if let Self::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if matches!(self, Self::Unauthorized(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        response.json(body)
    }
}

impl From<crate::domain::image::ImageError> for ApiError {
    fn from(err: crate::domain::image::ImageError) -> Self {
        use crate::domain::image::ImageError;
        match err {
            ImageError::Unsupported(message) => Self::UnsupportedMediaType(message),
            ImageError::Invalid(message) => Self::InvalidImage(message),
            ImageError::InvalidCrop(message) => Self::InvalidParameter(message),
        }
    }
}

/// Turns every error response that did not come from [`ApiError`] (actix's own 404, 405,
/// payload and query errors) into the contract's JSON shape.
pub fn json_for_framework_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, response) = res.into_parts();
    let detail = response
        .error()
        .map(ToString::to_string)
        .unwrap_or_default();
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound("no such resource".into()),
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::MethodNotAllowed(format!("method {} is not allowed here", req.method()))
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("the request body is too large".into())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType("unsupported content type".into())
        }
        s if s.is_client_error() => ApiError::BadRequest(if detail.is_empty() {
            "malformed request".into()
        } else {
            detail
        }),
        _ => ApiError::Internal(detail.into()),
    };
    let mut new = error.error_response();
    new.head_mut().status = status;
    if let Some(allow) = response.headers().get(header::ALLOW) {
        new.headers_mut().insert(header::ALLOW, allow.clone());
    }
    let res = ServiceResponse::new(req, new.map_into_boxed_body()).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// Helper for handlers whose extractor failed: actix extractor errors become `invalid_parameter`.
pub fn query_error(err: &actix_web::error::QueryPayloadError) -> actix_web::Error {
    ApiError::InvalidParameter(format!("malformed query string: {err}")).into()
}

pub fn path_error(err: &actix_web::error::PathError) -> actix_web::Error {
    ApiError::InvalidParameter(format!("malformed path: {err}")).into()
}

impl From<crate::domain::render::RenderError> for ApiError {
    fn from(error: crate::domain::render::RenderError) -> Self {
        use crate::domain::render::RenderError;
        match error {
            RenderError::InvalidSpec(message) => Self::InvalidParameter(message),
            other => Self::internal(other),
        }
    }
}

impl From<crate::domain::access::Refusal> for ApiError {
    fn from(refusal: crate::domain::access::Refusal) -> Self {
        use crate::domain::access::Refusal;
        match refusal {
            Refusal::Forbidden(message) => Self::Forbidden(message),
            Refusal::TooMany(wait) => {
                let retry_after_secs = wait.secs();
                Self::TooManyRequests {
                    message: format!(
                        "too many uploads and deletes for this user; retry in {retry_after_secs} s"
                    ),
                    retry_after_secs,
                }
            }
        }
    }
}

impl From<crate::ports::tokens::TokenError> for ApiError {
    fn from(err: crate::ports::tokens::TokenError) -> Self {
        use crate::ports::tokens::TokenError;
        match err {
            TokenError::Invalid(message) => Self::Unauthorized(message),
            // The contract's answer for a token that cannot be checked is 401; the sentence
            // says why, so a client retries later instead of signing the user out.
            TokenError::KeysUnavailable => {
                tracing::warn!("token refused: no JWKS key set yet");
                Self::Unauthorized(
                    "the token cannot be checked yet: the tenant's signing keys (JWKS) could not be fetched; retry shortly".into(),
                )
            }
        }
    }
}

impl From<crate::domain::upload::UploadError> for ApiError {
    fn from(err: crate::domain::upload::UploadError) -> Self {
        use crate::domain::upload::UploadError;
        match err {
            UploadError::Image(image) => image.into(),
            UploadError::Storage(source) => Self::StorageUnavailable(source.into()),
            UploadError::Profile { picture, source } => Self::MetadataUpdateFailed {
                picture,
                source: source.into(),
            },
            UploadError::ProfileClear(source) => Self::ProfileClearFailed(source.into()),
            other @ (UploadError::Worker(_) | UploadError::Key(_)) => Self::internal(other),
        }
    }
}

impl From<crate::domain::pictures::PictureError> for ApiError {
    fn from(err: crate::domain::pictures::PictureError) -> Self {
        use crate::domain::pictures::PictureError;
        match err {
            PictureError::NotFound => Self::NotFound("no picture at that key".into()),
            PictureError::Storage(source) => Self::StorageUnavailable(source.into()),
            other @ (PictureError::Resize(_) | PictureError::Worker(_)) => Self::internal(other),
        }
    }
}

impl From<crate::domain::avatar::AvatarError> for ApiError {
    fn from(err: crate::domain::avatar::AvatarError) -> Self {
        use crate::domain::avatar::AvatarError;
        match err {
            AvatarError::InvalidParameter(message) => Self::InvalidParameter(message),
            AvatarError::NotFound => Self::NotFound("no Gravatar for this hash".into()),
            AvatarError::Unavailable(cause) => Self::UpstreamUnavailable(Box::new(cause)),
            AvatarError::Render(render) => render.into(),
        }
    }
}
