//! The `Authorized` extractor of the upload routes: who is calling (a verified bearer token, or
//! dev mode's tokenless caller), then whose picture they may change now (the access gate:
//! authorization and the per-user rate limit). Runs before the body is read, so a refused
//! request never costs a decode.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::domain::access::{AccessGate, Caller, Target};
use crate::error::ApiError;
use crate::http::EdgeConfig;
use crate::ports::tokens::TokenVerifier;
use crate::vocabulary::url::is_loopback_url;

/// The configured verifier; `None` when `auth.issuer` is unset.
pub(super) type Verifier = Option<Arc<dyn TokenVerifier>>;

/// The user whose picture this request may change: the caller's own on `/v1/me/…`, the path's
/// `{user_id}` on `/v1/users/{user_id}/…` when the caller may.
pub(super) struct Authorized {
    pub user_id: String,
}

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let path_user = path_user(req);
        let gate = req.app_data::<web::Data<AccessGate>>().cloned();
        let caller = authenticate(req);
        Box::pin(async move {
            let gate = gate.ok_or_else(|| ApiError::internal("no access gate registered"))?;
            let caller = caller.await?;
            let path_user = path_user.transpose()?;
            let target = match &path_user {
                None => Target::Me,
                Some(id) => Target::User(valid_user_id(id)?),
            };
            let user_id = gate.admit(&caller, target)?;
            Ok(Self { user_id })
        })
    }
}

/// The path's `{user_id}`, percent-decoded by the router; `None` on routes without one.
fn path_user(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    req.match_info().get("user_id")?;
    Some(
        web::Path::<String>::extract(req)
            .into_inner()
            .map(web::Path::into_inner)
            .map_err(|err| ApiError::InvalidParameter(format!("malformed user id: {err}"))),
    )
}

/// A path's user id: 1 to 512 bytes without control characters.
fn valid_user_id(id: &str) -> Result<&str, ApiError> {
    if id.is_empty() || id.len() > 512 || id.chars().any(char::is_control) {
        return Err(ApiError::InvalidParameter(
            "user_id must be 1 to 512 bytes without control characters".into(),
        ));
    }
    Ok(id)
}

/// Who is calling: a verified token, or dev mode's tokenless caller from a loopback origin.
fn authenticate(req: &HttpRequest) -> LocalBoxFuture<'static, Result<Caller, ApiError>> {
    let dev = req
        .app_data::<web::Data<EdgeConfig>>()
        .is_some_and(|edge| edge.dev);
    let verifier = req
        .app_data::<web::Data<Verifier>>()
        .and_then(|v| v.get_ref().clone());
    let token = bearer(req);
    let path = req.path().to_owned();
    let foreign_origin = dev.then(|| foreign_origin(req)).flatten();
    Box::pin(async move {
        if dev {
            if let Some(origin) = foreign_origin {
                // Any web page the developer visits could otherwise write into the dev
                // store as any user id.
                tracing::warn!(%path, %origin, "dev mode: request from a non-loopback origin refused");
                return Err(ApiError::Forbidden(
                    "dev mode accepts uploads and deletes only from loopback origins".into(),
                ));
            }
            tracing::warn!(%path, "dev mode: request accepted without a token");
            return Ok(Caller::Dev);
        }
        let verifier = verifier.ok_or_else(|| {
            ApiError::Unauthorized("uploads are disabled: no token issuer is configured".into())
        })?;
        let token = token?;
        Ok(Caller::Token(verifier.verify(&token).await?))
    })
}

/// The request's `Origin` when a browser sent one that is not this machine (`null` included);
/// requests without `Origin` (curl, server-side clients) are not cross-site page requests.
fn foreign_origin(req: &HttpRequest) -> Option<String> {
    let origin = req.headers().get(header::ORIGIN)?;
    let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
    (!is_loopback_url(&origin)).then_some(origin)
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("a bearer access token is required".into()))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(ApiError::Unauthorized(
            "expected Authorization: Bearer <access token>".into(),
        )),
    }
}
