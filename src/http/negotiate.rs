//! Which format a picture goes out in: `?format=` names it and wins; else the best format the
//! client's `Accept` lists by name (AVIF, then WebP, by their `q`); else the route's own.
//!
//! Wildcards (`image/*`, `*/*`) never select AVIF or WebP: a client that cannot decode them says
//! `*/*` too, so only a named type proves support (as imgproxy and Cloudflare decide).

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::error::ApiError;
use crate::http::extract::QueryParams;
use crate::vocabulary::Format;

/// The raster formats `?format=` may name on every image route.
pub(super) const RASTER: [Format; 4] = [Format::Avif, Format::Webp, Format::Jpeg, Format::Png];

/// The outcome of negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// `None`: the route's own format (the stored one, the path's extension, Gravatar's).
    pub format: Option<Format>,
    /// Whether `Accept` took part, so the answer carries `Vary: Accept`.
    pub varies: bool,
}

/// `?format=` among `offered`, else (when `by_accept`) the best format `Accept` names.
pub(super) fn negotiate(
    req: &HttpRequest,
    query: &QueryParams,
    offered: &[Format],
    by_accept: bool,
) -> Result<Negotiated, ApiError> {
    if let Some(name) = query.get("format") {
        let format = Format::from_name(name)
            .filter(|format| offered.contains(format))
            .ok_or_else(|| {
                let names: Vec<&str> = offered.iter().map(|f| f.extension()).collect();
                ApiError::InvalidParameter(format!(
                    "format must be one of {}, got {name:?}",
                    names.join(", ")
                ))
            })?;
        return Ok(Negotiated {
            format: Some(format),
            varies: false,
        });
    }
    if !by_accept {
        return Ok(Negotiated {
            format: None,
            varies: false,
        });
    }
    let accept = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|value| value.to_str().ok());
    Ok(Negotiated {
        format: best_named(accept, offered),
        varies: true,
    })
}

/// The negotiable format with the highest `q` that the header lists by name (ties: AVIF first).
fn best_named<'a>(accept: impl Iterator<Item = &'a str>, offered: &[Format]) -> Option<Format> {
    let mut best: Option<(Format, u16)> = None;
    for range in accept.flat_map(|value| value.split(',')) {
        let mut parts = range.split(';');
        let media_type = parts.next().unwrap_or_default().trim();
        let Some(format) = Format::NEGOTIABLE
            .into_iter()
            .find(|f| f.content_type().eq_ignore_ascii_case(media_type))
            .filter(|f| offered.contains(f))
        else {
            continue;
        };
        let quality = parts
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1000), |(_, value)| thousandths(value.trim()));
        let Some(quality) = quality.filter(|q| *q > 0) else {
            continue;
        };
        let better =
            best.is_none_or(|(held, q)| quality > q || (quality == q && rank(format) < rank(held)));
        if better {
            best = Some((format, quality));
        }
    }
    best.map(|(format, _)| format)
}

fn rank(format: Format) -> usize {
    Format::NEGOTIABLE
        .iter()
        .position(|f| *f == format)
        .unwrap_or(usize::MAX)
}

/// An RFC 9110 qvalue (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed.
fn thousandths(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut digits = fraction.to_owned();
    while digits.len() < 3 {
        digits.push('0');
    }
    let q = whole * 1000 + digits.parse::<u16>().ok()?;
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RASTER: [Format; 4] = [Format::Avif, Format::Webp, Format::Jpeg, Format::Png];

    fn pick(accept: &str) -> Option<Format> {
        best_named(std::iter::once(accept), &RASTER)
    }

    #[test]
    fn browsers_headers_pick_what_they_name() {
        // Chrome/Edge/Firefox (image requests), Safari 16+, Safari 14, curl.
        let chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        assert_eq!(pick(chrome), Some(Format::Avif));
        assert_eq!(
            pick(
                "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
            ),
            Some(Format::Avif)
        );
        assert_eq!(
            pick("image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"),
            Some(Format::Webp)
        );
        assert_eq!(pick("*/*"), None);
        assert_eq!(pick("image/*"), None);
        assert_eq!(pick(""), None);
    }

    #[test]
    fn q_values_rank_and_zero_refuses() {
        assert_eq!(
            pick("image/avif;q=0.5, image/webp;q=0.9"),
            Some(Format::Webp)
        );
        assert_eq!(pick("image/avif;q=0, image/webp"), Some(Format::Webp));
        assert_eq!(pick("image/avif; q=0.000"), None);
        assert_eq!(pick("IMAGE/AVIF ; Q=1"), Some(Format::Avif));
        assert_eq!(pick("image/webp;q=1, image/avif;q=1.0"), Some(Format::Avif));
        // A malformed q is ignored, the type with it.
        assert_eq!(pick("image/avif;q=high, image/webp"), Some(Format::Webp));
        assert_eq!(pick("image/avif;q=1.5"), None);
    }

    #[test]
    fn only_offered_formats_are_picked() {
        assert_eq!(
            best_named(std::iter::once("image/avif,image/webp"), &[Format::Webp]),
            Some(Format::Webp)
        );
        assert_eq!(
            best_named(std::iter::once("image/avif"), &[Format::Png]),
            None
        );
    }

    fn negotiated(
        accept: &[&str],
        query: &str,
        offered: &[Format],
        by_accept: bool,
    ) -> Result<Negotiated, ApiError> {
        let mut req = actix_web::test::TestRequest::get();
        for value in accept {
            req = req.append_header((header::ACCEPT, *value));
        }
        let query = QueryParams::parse(query).expect("query");
        negotiate(&req.to_http_request(), &query, offered, by_accept)
    }

    #[test]
    fn format_in_the_query_wins_and_never_varies() {
        let answer = negotiated(&["image/avif"], "format=webp", &RASTER, true).expect("ok");
        assert_eq!(
            answer,
            Negotiated {
                format: Some(Format::Webp),
                varies: false
            }
        );
        let answer = negotiated(&[], "format=jpeg", &RASTER, false).expect("ok");
        assert_eq!(answer.format, Some(Format::Jpeg));
        assert!(!answer.varies);
    }

    #[test]
    fn a_format_not_offered_is_a_400_naming_the_offered_ones() {
        let Err(ApiError::InvalidParameter(message)) =
            negotiated(&[], "format=avif", &[Format::Png, Format::Svg], true)
        else {
            panic!("not refused");
        };
        assert!(message.contains("png, svg"), "{message}");
        assert!(message.contains("\"avif\""), "{message}");
        assert!(matches!(
            negotiated(&[], "format=gif", &RASTER, true),
            Err(ApiError::InvalidParameter(_))
        ));
    }

    #[test]
    fn accept_counts_only_when_the_route_negotiates() {
        let by_accept = negotiated(&["image/avif"], "", &RASTER, true).expect("ok");
        assert_eq!(
            by_accept,
            Negotiated {
                format: Some(Format::Avif),
                varies: true
            }
        );
        let own = negotiated(&["image/avif"], "", &RASTER, false).expect("ok");
        assert_eq!(
            own,
            Negotiated {
                format: None,
                varies: false
            }
        );
        // Nothing named: the route's own format, but the answer still depends on Accept.
        let wildcard = negotiated(&["*/*"], "", &RASTER, true).expect("ok");
        assert_eq!(
            wildcard,
            Negotiated {
                format: None,
                varies: true
            }
        );
        // Several Accept headers are one list.
        let split =
            negotiated(&["image/webp;q=0.5", "image/avif;q=0.9"], "", &RASTER, true).expect("ok");
        assert_eq!(split.format, Some(Format::Avif));
    }

    #[test]
    fn rank_orders_the_negotiable_formats_and_puts_the_rest_last() {
        assert!(rank(Format::Avif) < rank(Format::Webp));
        assert_eq!(rank(Format::Avif), 0);
        assert_eq!(rank(Format::Svg), usize::MAX);
    }

    #[test]
    fn thousandths_follow_the_rfc_grammar() {
        for (text, expected) in [
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("0.8", Some(800)),
            ("0.05", Some(50)),
            ("0", Some(0)),
            ("1.001", None),
            ("0.1234", None),
            // More than three decimals, even when they would fit in thousandths.
            ("0.0001", None),
            ("0.1000", None),
            ("2", None),
            ("-0.5", None),
            ("", None),
        ] {
            assert_eq!(thousandths(text), expected, "{text:?}");
        }
    }
}
