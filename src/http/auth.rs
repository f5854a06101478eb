//! The `AuthenticatedUser` extractor: a verified bearer token, or dev mode's tokenless caller.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::domain::upload::Caller;
use crate::error::ApiError;
use crate::ports::tokens::TokenVerifier;
use crate::settings::Settings;

/// The configured verifier; `None` when `auth.issuer` is unset.
pub type Verifier = Option<Arc<dyn TokenVerifier>>;

/// Who is calling. Runs before the body is read, so an anonymous request never costs a decode.
pub struct AuthenticatedUser(pub Caller);

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let dev = req
            .app_data::<web::Data<Arc<Settings>>>()
            .is_some_and(|s| s.server.dev);
        let verifier = req
            .app_data::<web::Data<Verifier>>()
            .and_then(|v| v.get_ref().clone());
        let token = bearer(req);
        let path = req.path().to_owned();
        Box::pin(async move {
            if dev {
                tracing::warn!(%path, "dev mode: request accepted without a token");
                return Ok(Self(Caller::Dev));
            }
            let verifier = verifier.ok_or_else(|| {
                ApiError::Unauthorized("uploads are disabled: no token issuer is configured".into())
            })?;
            let token = token?;
            Ok(Self(Caller::Token(verifier.verify(&token).await?)))
        })
    }
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
