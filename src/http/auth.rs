//! The `AuthenticatedUser` extractor: a verified bearer token, or dev mode's tokenless caller.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::domain::upload::Caller;
use crate::error::ApiError;
use crate::ports::tokens::TokenVerifier;
use crate::settings::{Settings, is_loopback_url};

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
