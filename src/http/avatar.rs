//! `GET /avatar/{hash}` (also `.png`, `.jpg`, `.jpeg`, `.gif`; `GET /avatar/` for nobody): the
//! Gravatar proxy with its fallback.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use crate::domain::avatar::{AvatarRequest, AvatarService, RawAvatarRequest};
use crate::error::ApiError;
use crate::http::AVATAR;
use crate::http::extract::QueryParams;
use crate::http::image_response::{Freshness, ImageHeaders, image_response};
use crate::http::negotiate::{RASTER, negotiate};
use crate::vocabulary::{AVATAR_EDGES, Format};

/// `gravatar` or `fallback`: where the picture came from.
const X_AVATAR_SOURCE: HeaderName = HeaderName::from_static("x-avatar-source");

/// The user's Gravatar, or a fallback picture; never a 5xx when a fallback exists.
#[utoipa::path(get, path = "/avatar/{hash}", tag = "avatar",
    params(
        ("hash" = String, Path, description = "64 (SHA-256) or 32 (MD5) hex digits of the trimmed, lower-cased e-mail, any case, optionally followed by `.png`, `.jpg`, `.jpeg` or `.gif` (any case); `GET /avatar/` serves the fallback"),
        ("size" = Option<u32>, Query, description = "Edge in pixels, 1..=2048 (alias `s`), default 80"),
        ("default" = Option<String>, Query, description = "Alias `d`: `initials` (default), `404`, `mp` (alias `mm`), `identicon`, `monsterid`, `wavatar`, `retro`, `robohash`, `blank` or `color`; a URL is never fetched: it means `initials` (Auth0's `https://cdn.auth0.com/avatars/{xx}.png` draws `{xx}`)"),
        ("name" = Option<String>, Query, description = "Display name whose initials the fallback draws"),
        ("initials" = Option<String>, Query, description = "Initials the fallback draws (before `name`)"),
        ("rating" = Option<String>, Query, description = "Alias `r`: `g` (default), `pg`, `r` or `x`"),
        ("forcedefault" = Option<String>, Query, description = "Alias `f`: `y`, `yes`, `true` or `1` skips the user's picture (`n`, `no`, `false`, `0` do not)"),
        ("format" = Option<String>, Query, description = "`avif`, `webp`, `jpeg` or `png` for a drawn fallback, winning over `Accept` (without it: the best of AVIF, WebP that `Accept` names, else PNG; `Vary: Accept`). Gravatar's own pictures are served as Gravatar made them; `d=color` is always a 1-bit PNG"),
    ),
    responses(
        (status = 200, description = "The picture (image/png, image/jpeg or image/gif, whatever the suffix); header `X-Avatar-Source: gravatar|fallback`", content_type = "image/png"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "invalid_parameter", body = crate::error::ErrorBody),
        (status = 404, description = "not_found: `default=404` and no Gravatar", body = crate::error::ErrorBody),
        (status = 502, description = "upstream_unavailable: `default=404` and Gravatar unreachable", body = crate::error::ErrorBody),
    ))]
pub(super) async fn avatar(
    req: HttpRequest,
    asked: AvatarAsked,
    service: web::Data<AvatarService>,
) -> Result<HttpResponse, ApiError> {
    let resolved = service.resolve(&asked.request).await?;
    let source = HeaderValue::from_static(resolved.source.as_str());
    Ok(image_response(
        &req,
        &resolved.picture,
        ImageHeaders {
            freshness: Freshness::MaxAge(resolved.max_age),
            // Gravatar's answer may turn into a drawn fallback at any time: always per Accept.
            vary_accept: asked.varies,
            extra: Some((X_AVATAR_SOURCE, source)),
        },
    ))
}

/// A `/avatar/{hash}` request, parsed and validated once: path, Gravatar's query names and the
/// fallback's format by `format` or `Accept`.
pub(super) struct AvatarAsked {
    pub request: AvatarRequest,
    /// `Accept` took part (`Vary: Accept`).
    pub varies: bool,
}

impl FromRequest for AvatarAsked {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req))
    }
}

impl AvatarAsked {
    pub(super) fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        let file = AVATAR
            .file_of(req.path())
            .filter(|file| !file.contains('/'))
            .ok_or_else(|| ApiError::NotFound("no such resource".into()))?;
        let query = QueryParams::parse(req.query_string())?;
        let either = |long: &str, short: &str| query.get(long).or_else(|| query.get(short));
        let negotiated = negotiate(req, &query, &RASTER, true)?;
        let mut request = AvatarRequest::parse(&RawAvatarRequest {
            file,
            size: query.size_within(AVATAR_EDGES)?.0,
            default: either("default", "d"),
            rating: either("rating", "r"),
            force_default: either("forcedefault", "f"),
            name: query.get("name"),
            initials: query.get("initials"),
        })?;
        request.fallback_format = negotiated.format.unwrap_or(Format::Png);
        request.upload_format = negotiated.format;
        Ok(Self {
            request,
            varies: negotiated.varies,
        })
    }
}
