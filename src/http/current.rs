//! `GET /u/{user_id}`: a stable `<img src>` for a user's current picture. With an upload, a 302
//! to its immutable `/pictures/{key}` URL (size and format carried over); without one, the
//! fallback as `/avatar` draws it. The same answer for an unknown user as for one without a
//! picture, and nothing in it names the user.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::domain::avatar::{AvatarRequest, AvatarService, RawAvatarRequest};
use crate::domain::directory::Directory;
use crate::domain::lifecycle::purge::cdn_tag;
use crate::domain::upload::user_hash;
use crate::error::ApiError;
use crate::http::extract::{QueryParams, percent_decode_path};
use crate::http::image_response::{
    Freshness, ImageHeaders, cache_control, etag_matches, image_response, tag_for_cdn,
};
use crate::http::negotiate::{RASTER, negotiate};
use crate::http::{CURRENT, EdgeConfig};
use crate::vocabulary::{ErrorChain, Format, PICTURE_EDGES};

const X_AVATAR_SOURCE: HeaderName = HeaderName::from_static("x-avatar-source");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// A user's current picture: a redirect to it, or the fallback.
#[utoipa::path(get, path = "/u/{user_id}", tag = "pictures",
    params(
        ("user_id" = String, Path, description = "Percent-encoded user id (the token's `sub`), e.g. `auth0%7C5f7c…`"),
        ("size" = Option<u32>, Query, description = "Square edge 16..=1024 (alias `s`), carried over to the picture's URL (snapped up there); the fallback's edge, default 128"),
        ("format" = Option<String>, Query, description = "`avif`, `webp`, `jpeg` or `png`, carried over; without it the picture's URL negotiates by `Accept` itself"),
        ("default" = Option<String>, Query, description = "Alias `d`: the fallback, as on `/avatar` (`404` answers 404 when there is no upload)"),
        ("name" = Option<String>, Query, description = "Display name whose initials the fallback draws"),
        ("initials" = Option<String>, Query, description = "Initials the fallback draws (before `name`)"),
    ),
    responses(
        (status = 302, description = "To the current picture's immutable URL; `Cache-Control: public, max-age={pictures.current_max_age_secs}`, an ETag"),
        (status = 200, description = "No upload: the fallback (`X-Avatar-Source: fallback`, short `Cache-Control`)", content_type = "image/png"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "invalid_parameter", body = crate::error::ErrorBody),
        (status = 404, description = "not_found: no upload and `d=404`", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn current(
    req: HttpRequest,
    asked: CurrentAsked,
    directory: web::Data<Directory>,
    avatars: web::Data<AvatarService>,
    edge: web::Data<EdgeConfig>,
) -> Result<HttpResponse, ApiError> {
    let found = directory
        .current_picture(&asked.user_id)
        .await
        .unwrap_or_else(|error| {
            // The fallback is served: an `<img>` never breaks for a storage hiccup.
            tracing::warn!(error = %ErrorChain(&error), "cannot read a user's current picture");
            None
        });
    // The user's tag on both answers: a purge after a delete or an upload drops the redirect
    // (and the fallback a CDN kept while there was no picture). It names the hash of the id in
    // the URL, so it tells no more than the URL itself.
    let tag = cdn_tag(&user_hash(&asked.user_id));
    if let Some(key) = found {
        let location = format!("{}{key}{}", edge.picture_base, asked.carried_query());
        let mut response = redirect(&req, &location, edge.current_max_age);
        tag_for_cdn(&mut response, &tag);
        return Ok(response);
    }
    let resolved = avatars.resolve(&asked.fallback).await?;
    let source = HeaderValue::from_static(resolved.source.as_str());
    let mut response = image_response(
        &req,
        &resolved.picture,
        ImageHeaders {
            // A user may upload at any time: the fallback is kept no longer than a redirect.
            freshness: Freshness::MaxAge(resolved.max_age.min(edge.current_max_age)),
            vary_accept: asked.varies,
            extra: Some((X_AVATAR_SOURCE, source)),
        },
    );
    tag_for_cdn(&mut response, &tag);
    Ok(response)
}

/// 302 to `location`, cacheable for `max_age`, with a strong ETag of the location (304 when
/// the client already follows it).
fn redirect(req: &HttpRequest, location: &str, max_age: u64) -> HttpResponse {
    let digest = Sha256::digest(location.as_bytes());
    let etag = format!("\"u-{}\"", hex::encode(&digest[..16]));
    let mut response = if etag_matches(req, &etag) {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Found()
    };
    response
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag))
        .insert_header((
            header::CACHE_CONTROL,
            cache_control(Freshness::MaxAge(max_age), false),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, NOSNIFF))
        .finish()
}

/// A `/u/{user_id}` request, parsed and validated once.
pub(crate) struct CurrentAsked {
    user_id: String,
    size: Option<u32>,
    format: Option<Format>,
    /// What is drawn without an upload (no hash: never a user's Gravatar).
    fallback: AvatarRequest,
    /// `Accept` chose the fallback's format (`Vary: Accept`).
    varies: bool,
}

impl CurrentAsked {
    fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        let file = CURRENT
            .file_of(req.path())
            .filter(|file| !file.is_empty() && !file.contains('/'))
            .ok_or_else(|| ApiError::NotFound("no such resource".into()))?;
        let user_id = percent_decode_path(file)
            .filter(|id| id.len() <= 512 && !id.chars().any(char::is_control))
            .ok_or_else(|| {
                ApiError::InvalidParameter(
                    "user_id must be percent-encoded UTF-8, 1 to 512 bytes without control characters"
                        .into(),
                )
            })?
            .into_owned();
        let query = QueryParams::parse(req.query_string())?;
        let size = query.optional_size(PICTURE_EDGES)?.map(|size| size.0);
        let named = negotiate(req, &query, &RASTER, false)?.format;
        let by_accept = negotiate(req, &query, &RASTER, true)?;
        let either = |long: &str, short: &str| query.get(long).or_else(|| query.get(short));
        let mut fallback = AvatarRequest::parse(&RawAvatarRequest {
            file: "",
            size: size.unwrap_or(PICTURE_EDGES.default),
            default: either("default", "d"),
            name: query.get("name"),
            initials: query.get("initials"),
            ..RawAvatarRequest::default()
        })?;
        fallback.fallback_format = by_accept.format.unwrap_or(Format::Png);
        Ok(Self {
            user_id,
            size,
            format: named,
            fallback,
            varies: by_accept.varies,
        })
    }

    /// `?size=…&format=…` as asked, for the picture's own URL.
    fn carried_query(&self) -> String {
        match (self.size, self.format) {
            (None, None) => String::new(),
            (Some(size), None) => format!("?size={size}"),
            (None, Some(format)) => format!("?format={format}"),
            (Some(size), Some(format)) => format!("?size={size}&format={format}"),
        }
    }
}

impl FromRequest for CurrentAsked {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req))
    }
}
