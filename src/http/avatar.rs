//! `GET /avatar/{hash}` (also `.png`, `.jpg`, `.jpeg`, `.gif`; `GET /avatar/` for nobody): the
//! Gravatar proxy with its fallback.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::avatar::{AvatarRequest, AvatarService, DEFAULT_SIZE, RawAvatarRequest, SIZES};
use crate::error::ApiError;
use crate::http::extract::QueryParams;
use crate::http::image_response::image_response;

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
    ),
    responses(
        (status = 200, description = "The picture (image/png, image/jpeg or image/gif, whatever the suffix); header `X-Avatar-Source: gravatar|fallback`", content_type = "image/png"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "invalid_parameter", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "not_found: `default=404` and no Gravatar", body = crate::http::openapi::ErrorBody),
        (status = 502, description = "upstream_unavailable: `default=404` and Gravatar unreachable", body = crate::http::openapi::ErrorBody),
    ))]
pub async fn avatar(
    req: HttpRequest,
    query: QueryParams,
    service: web::Data<AvatarService>,
) -> Result<HttpResponse, ApiError> {
    let either = |long: &str, short: &str| query.get(long).or_else(|| query.get(short));
    let request = AvatarRequest::parse(&RawAvatarRequest {
        file: req.match_info().query("file"),
        size: query.size_within(SIZES, DEFAULT_SIZE)?.0,
        default: either("default", "d"),
        rating: either("rating", "r"),
        force_default: either("forcedefault", "f"),
        name: query.get("name"),
        initials: query.get("initials"),
    })?;
    let resolved = service.resolve(&request).await?;
    let cache_control = format!("public, max-age={}", resolved.max_age);
    Ok(image_response(
        &req,
        &resolved.picture,
        &cache_control,
        &[("x-avatar-source", resolved.source.as_str())],
    ))
}
