//! `POST /v1/hooks/auth0`: the tenant's own Log Stream or Event Stream deliveries. The bearer
//! token first (compared in constant time; no token configured: 404), then the bounded body,
//! parsed once into typed events ([`super::auth0_events`]), applied by the domain's hook
//! service. 200 once every event is applied; 503 on a storage failure, so that Auth0 delivers
//! the whole batch again.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::lifecycle::hook::HookService;
use crate::error::ApiError;
use crate::http::auth0_events::parse_delivery;

/// What the hook needs of the settings.
#[derive(Clone)]
pub(crate) struct HookConfig {
    /// SHA-256 of `hooks.auth0_token`: compared whole and in constant time, whatever the
    /// length of what a caller sends. `None`: the hook is off.
    token_digest: Option<[u8; 32]>,
    /// `limits.max_hook_bytes`.
    pub(crate) max_bytes: u64,
}

impl HookConfig {
    pub(crate) fn new(token: Option<&str>, max_bytes: u64) -> Self {
        Self {
            token_digest: token.map(|t| Sha256::digest(t.trim().as_bytes()).into()),
            max_bytes,
        }
    }
}

impl std::fmt::Debug for HookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookConfig")
            .field("on", &self.token_digest.is_some())
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

/// The 200 answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct HookAnswer {
    /// Events applied (deletions and email changes).
    applied: usize,
    /// Events of other types, ignored.
    ignored: usize,
}

/// Receives Auth0 Log Stream (custom webhook: JSON Lines, a JSON array or one JSON object) and
/// Event Stream (CloudEvents) deliveries.
#[utoipa::path(post, path = "/v1/hooks/auth0", tag = "lifecycle",
    request_body(content_type = "application/json", description = "A Log Stream delivery (entries `{log_id, data}`; `data.type` `sdu` deletes `data.user_id`) or an Event Stream CloudEvent (`user.deleted`, `user.updated`)"),
    responses(
        (status = 200, description = "every event applied (a replay changes nothing)", body = HookAnswer),
        (status = 400, description = "bad_request: not such JSON; nothing applied", body = crate::error::ErrorBody),
        (status = 401, description = "unauthorized: no or wrong `Authorization: Bearer {hooks.auth0_token}`", body = crate::error::ErrorBody),
        (status = 404, description = "not_found: `hooks.auth0_token` is unset", body = crate::error::ErrorBody),
        (status = 413, description = "payload_too_large: over `limits.max_hook_bytes`", body = crate::error::ErrorBody),
        (status = 503, description = "storage_unavailable: Auth0 delivers the batch again", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn auth0_hook(
    req: HttpRequest,
    payload: web::Payload,
    config: web::Data<HookConfig>,
    hooks: web::Data<HookService>,
) -> Result<HttpResponse, ApiError> {
    let Some(expected) = &config.token_digest else {
        return Err(ApiError::NotFound("no such resource".into()));
    };
    if !bearer_matches(&req, expected) {
        return Err(ApiError::Unauthorized(
            "expected Authorization: Bearer with the hook's token (hooks.auth0_token)".into(),
        ));
    }
    let body = read_bounded(&req, payload, config.max_bytes).await?;
    let events = parse_delivery(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let report = hooks
        .apply(&events)
        .await
        .map_err(|e| ApiError::StorageUnavailable(e.into()))?;
    tracing::info!(
        events = events.len(),
        applied = report.applied,
        ignored = report.ignored,
        erased = report.erased,
        "Auth0 hook delivery applied"
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(HookAnswer {
            applied: report.applied,
            ignored: report.ignored,
        }))
}

/// Any other method: 405 while the hook is on, 404 (as for the POST) while it is off.
pub(super) async fn other_method(
    req: HttpRequest,
    config: web::Data<HookConfig>,
) -> Result<HttpResponse, ApiError> {
    if config.token_digest.is_none() {
        return Err(ApiError::NotFound("no such resource".into()));
    }
    let refusal =
        ApiError::MethodNotAllowed(format!("method {} is not allowed here", req.method()));
    let mut response = actix_web::ResponseError::error_response(&refusal);
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    Ok(response)
}

/// Whether `Authorization` is `Bearer {token}` (scheme in any case) with the configured token.
fn bearer_matches(req: &HttpRequest, expected: &[u8; 32]) -> bool {
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    let sent: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
    scheme.eq_ignore_ascii_case("bearer") && bool::from(sent.ct_eq(expected))
}

/// The body, refused before reading when `Content-Length` is over `limit`, cut at it otherwise.
async fn read_bounded(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: u64,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || ApiError::PayloadTooLarge(format!("the body is larger than {limit} bytes"));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
