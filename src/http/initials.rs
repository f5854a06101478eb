//! `GET /initials/{text}.{png|svg}`: initials placeholders.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use crate::domain::placeholder::{InitialsService, InitialsSpec, Shape};
use crate::error::ApiError;
use crate::http::INITIALS;
use crate::http::extract::{QueryParams, percent_decode_path};
use crate::http::image_response::{ImageHeaders, image_response};
use crate::http::negotiate::{Negotiated, negotiate};
use crate::vocabulary::Format;

/// What `?format=` may name here.
const OFFERED: [Format; 5] = [
    Format::Avif,
    Format::Webp,
    Format::Jpeg,
    Format::Png,
    Format::Svg,
];

/// Longest accepted text, in bytes after percent-decoding.
const MAX_TEXT_BYTES: usize = 256;

/// An initials picture (PNG or SVG) for a name, an e-mail address or the initials themselves.
#[utoipa::path(get, path = "/initials/{file}", tag = "initials",
    params(
        ("file" = String, Path, description = "Percent-encoded text (1..=256 bytes) plus `.png` or `.svg`, e.g. `Jane%20Doe.png`"),
        ("size" = Option<u32>, Query, description = "Edge in pixels, 16..=1024 (alias `s`), default 128"),
        ("bg" = Option<String>, Query, description = "Background, 3 or 6 hex digits; default from the name"),
        ("fg" = Option<String>, Query, description = "Text colour, 3 or 6 hex digits; default: WCAG contrast ≥ 4.5"),
        ("length" = Option<u8>, Query, description = "Number of initials, 1..=3, default 2"),
        ("shape" = Option<String>, Query, description = "`square` (default) or `circle` (transparent outside)"),
        ("bold" = Option<bool>, Query, description = "Bold face, default false"),
        ("format" = Option<String>, Query, description = "`avif`, `webp`, `jpeg`, `png` or `svg`: wins over the extension and `Accept`. Without it `.png` answers in the best of AVIF, WebP that `Accept` names, else PNG (`Vary: Accept`); `.svg` is always SVG"),
    ),
    responses(
        (status = 200, description = "The picture (image/png, image/svg+xml, image/avif, image/webp or image/jpeg)", content_type = "image/png"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "invalid_parameter", body = crate::error::ErrorBody),
    ))]
pub async fn initials(
    req: HttpRequest,
    asked: InitialsAsked,
    service: web::Data<InitialsService>,
) -> Result<HttpResponse, ApiError> {
    let picture = service.render(&asked.spec).await?;
    Ok(image_response(
        &req,
        &picture,
        ImageHeaders::immutable(asked.varies),
    ))
}

/// An `/initials/{text}.{png|svg}` request, parsed and validated once.
pub struct InitialsAsked {
    pub spec: InitialsSpec,
    /// `Accept` took part (`Vary: Accept`).
    pub varies: bool,
}

impl FromRequest for InitialsAsked {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            QueryParams::parse(req.query_string())
                .and_then(|query| parse_request(req, &query))
                .map(|(spec, negotiated)| Self {
                    spec,
                    varies: negotiated.varies,
                }),
        )
    }
}

/// Path, query and `Accept` into a validated spec (public for the fuzz targets).
pub fn parse_request(
    req: &HttpRequest,
    query: &QueryParams,
) -> Result<(InitialsSpec, Negotiated), ApiError> {
    let file = INITIALS
        .file_of(req.path())
        .filter(|file| !file.contains('/'))
        .ok_or_else(|| ApiError::NotFound("no such resource".into()))?;
    let (raw_text, extension) = file
        .rsplit_once('.')
        .ok_or_else(|| ApiError::InvalidParameter("the path must end in .png or .svg".into()))?;
    let own = match extension {
        "png" => Format::Png,
        "svg" => Format::Svg,
        other => {
            return Err(ApiError::InvalidParameter(format!(
                "unknown picture format {other:?}: use .png or .svg"
            )));
        }
    };
    // The `.png` route is the raster one: its format follows `Accept`; `.svg` names its own.
    let negotiated = negotiate(req, query, &OFFERED, own == Format::Png)?;
    let format = negotiated.format.unwrap_or(own);
    let text = percent_decode_path(raw_text)
        .ok_or_else(|| ApiError::InvalidParameter("the text must be UTF-8".into()))?;
    if text.is_empty() || text.len() > MAX_TEXT_BYTES {
        return Err(ApiError::InvalidParameter(format!(
            "the text must be 1..={MAX_TEXT_BYTES} bytes, got {}",
            text.len()
        )));
    }
    let length = match query.get("length") {
        None => 2,
        Some(v @ ("1" | "2" | "3")) => v.parse().unwrap_or(2),
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "length must be 1, 2 or 3, got {other:?}"
            )));
        }
    };
    let shape = match query.get("shape") {
        None | Some("square") => Shape::Square,
        Some("circle") => Shape::Circle,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "shape must be square or circle, got {other:?}"
            )));
        }
    };
    let spec = InitialsSpec {
        text: text.into_owned(),
        size: query.size()?.0,
        format,
        bg: query.color("bg")?,
        fg: query.color("fg")?,
        length,
        shape,
        bold: query.flag("bold", false)?,
    };
    Ok((spec, negotiated))
}
