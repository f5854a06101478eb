//! Validated extractors shared by the image routes: the query, `Size` (`size`/`s`), hex colours,
//! the upload's `crop`.

use std::borrow::Cow;
use std::future::{Ready, ready};
use std::ops::Range;

use actix_web::{FromRequest, HttpRequest, dev::Payload};

use crate::domain::image::CropRect;
use crate::domain::initials::Rgb;
use crate::error::ApiError;
use crate::vocabulary::edges::{EdgeRange, PICTURE_EDGES};

/// The query string as name → value (the last value wins when a name repeats), with typed
/// readers that answer 400 `invalid_parameter` for bad values.
///
/// Every decoded name and value lives in one string, found by ranges: parsing costs two
/// allocations whatever the number of parameters, and a lookup hashes nothing (a query has a
/// handful of names). Decoding is `application/x-www-form-urlencoded`, as browsers send it:
/// `+` is a space, invalid UTF-8 becomes U+FFFD.
#[derive(Clone, Debug, Default)]
pub struct QueryParams {
    decoded: String,
    pairs: Vec<(Range<usize>, Range<usize>)>,
}

impl QueryParams {
    /// Never fails today (decoding is lossy); a `Result` so that a stricter parser can refuse.
    pub fn parse(query_string: &str) -> Result<Self, ApiError> {
        let mut decoded = String::with_capacity(query_string.len());
        let mut pairs = Vec::with_capacity(query_string.bytes().filter(|b| *b == b'&').count() + 1);
        let mut push = |name: &str, value: &str| {
            let name_at = decoded.len();
            decoded.push_str(name);
            let value_at = decoded.len();
            decoded.push_str(value);
            pairs.push((name_at..value_at, value_at..decoded.len()));
        };
        if query_string.bytes().any(|b| b == b'%' || b == b'+') {
            for (name, value) in form_urlencoded::parse(query_string.as_bytes()) {
                push(&name, &value);
            }
        } else {
            // Nothing to decode (the common `?s=128`): the same pairs without the decoder's
            // per-pair UTF-8 validation.
            for pair in query_string.split('&').filter(|pair| !pair.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                push(name, value);
            }
        }
        Ok(Self { decoded, pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| self.decoded.as_bytes().get(n.clone()) == Some(name.as_bytes()))
            .and_then(|(_, value)| self.decoded.get(value.clone()))
    }

    /// `size`, else `s`, else the default.
    pub fn size(&self) -> Result<Size, ApiError> {
        self.size_within(PICTURE_EDGES)
    }

    /// `size`, else `s`, else the range's default (`/avatar` has Gravatar's own range).
    pub fn size_within(&self, range: EdgeRange) -> Result<Size, ApiError> {
        Ok(self.optional_size(range)?.unwrap_or(Size(range.default)))
    }

    /// `size`, else `s`, else `None` (`/pictures` serves the master without one).
    pub fn optional_size(&self, range: EdgeRange) -> Result<Option<Size>, ApiError> {
        self.get("size")
            .or_else(|| self.get("s"))
            .map(|value| Size::parse_within(value, range))
            .transpose()
    }

    /// An optional colour: 3 or 6 hex digits without `#`.
    pub fn color(&self, name: &str) -> Result<Option<Rgb>, ApiError> {
        self.get(name).map(|v| parse_color(name, v)).transpose()
    }

    /// `true` or `false` (also `1`/`0`); absent means `default`.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(ApiError::InvalidParameter(format!(
                "{name} must be true or false, got {other:?}"
            ))),
        }
    }
}

impl FromRequest for QueryParams {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()))
    }
}

/// Percent-decodes a path segment: `%XX` becomes its byte, a `%` without two hex digits stays as
/// it is (as the `percent-encoding` crate decodes); `None` when the result is not UTF-8. Ours
/// because it runs on every `/initials` and `/pictures` hit, where the crate's byte-at-a-time
/// iterator cost a tenth of visage's own instructions (`bench/profile.sh`, callgrind).
pub fn percent_decode_path(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('%') {
        return Some(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|b| *b == b'%') {
        let percent = at + offset;
        decoded.extend_from_slice(&bytes[at..percent]);
        if let (Some(high), Some(low)) = (hex(percent + 1), hex(percent + 2)) {
            // Two hex digits make at most 0xFF.
            decoded.push(u8::try_from(high * 16 + low).unwrap_or(u8::MAX));
            at = percent + 3;
        } else {
            decoded.push(b'%');
            at = percent + 1;
        }
    }
    decoded.extend_from_slice(&bytes[at..]);
    String::from_utf8(decoded).ok().map(Cow::Owned)
}

/// A square picture edge from `size` (or its alias `s`) within the route's [`EdgeRange`]. Out of
/// range or not a number is a 400 `invalid_parameter`, never a clamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u32);

impl Size {
    pub fn parse_within(value: &str, range: EdgeRange) -> Result<Self, ApiError> {
        value
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(*n))
            .map(Self)
            .ok_or_else(|| {
                ApiError::InvalidParameter(format!(
                    "size must be a whole number of pixels within {range}, got {value:?}"
                ))
            })
    }
}

impl FromRequest for Size {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(QueryParams::parse(req.query_string()).and_then(|q| q.size()))
    }
}

/// `crop=x,y,w,h`: four whole numbers of pixels, comma-separated (whether the rectangle lies
/// inside the picture is known only once its header is read).
pub fn parse_crop(value: &str) -> Result<CropRect, ApiError> {
    let malformed = || {
        ApiError::InvalidParameter(format!(
            "crop must be x,y,w,h in whole pixels of the upright picture, got {value:?}"
        ))
    };
    // Four numbers of at most 9 digits, with some spaces: anything longer is not a crop.
    if value.len() > 64 {
        return Err(malformed());
    }
    let numbers: Vec<u32> = value
        .split(',')
        .map(|part| {
            let part = part.trim();
            let digits =
                !part.is_empty() && part.len() <= 9 && part.bytes().all(|b| b.is_ascii_digit());
            if digits {
                part.parse::<u32>().ok()
            } else {
                None
            }
        })
        .collect::<Option<_>>()
        .ok_or_else(malformed)?;
    match numbers[..] {
        [x, y, width, height] => Ok(CropRect {
            x,
            y,
            width,
            height,
        }),
        _ => Err(malformed()),
    }
}

/// A colour as 3 or 6 hex digits without `#`; `name` goes into the error message.
pub fn parse_color(name: &str, value: &str) -> Result<Rgb, ApiError> {
    Rgb::parse_hex(value).ok_or_else(|| {
        ApiError::InvalidParameter(format!(
            "{name} must be 3 or 6 hex digits without '#', got {value:?}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::edges::AVATAR_EDGES;

    #[test]
    fn the_query_decodes_like_a_form_and_the_last_value_wins() {
        let query = QueryParams::parse("s=64&name=Jane%20Doe&d=mp&name=J+D&empty=&flag&%73ize=9")
            .expect("parsed");
        assert_eq!(query.get("name"), Some("J D"));
        assert_eq!(query.get("s"), Some("64"));
        assert_eq!(query.get("d"), Some("mp"));
        assert_eq!(query.get("empty"), Some(""));
        assert_eq!(query.get("flag"), Some(""));
        assert_eq!(query.get("size"), Some("9"));
        assert_eq!(query.get("missing"), None);
        let bad = QueryParams::parse("name=%FF%FE").expect("lossy");
        assert_eq!(bad.get("name"), Some("\u{fffd}\u{fffd}"));
        assert_eq!(QueryParams::parse("").expect("empty").get(""), None);
    }

    #[test]
    fn the_undecoded_fast_path_splits_as_the_form_decoder_does() {
        for query in [
            "s=128",
            "a=1&&b=&c&=d&e=f=g&",
            "&&",
            "size=64&s=32&size=16",
            "name=J%C3%A9&s=2",
            "name=J+D",
            "x=%",
            "üñí=çødé",
        ] {
            let ours = QueryParams::parse(query).expect("parses");
            let theirs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            let ours: Vec<(String, String)> = ours
                .pairs
                .iter()
                .map(|(n, v)| {
                    (
                        ours.decoded[n.clone()].into(),
                        ours.decoded[v.clone()].into(),
                    )
                })
                .collect();
            assert_eq!(ours, theirs, "{query:?}");
        }
    }

    #[test]
    fn path_decoding_matches_the_percent_encoding_crate() {
        // Every string of up to four symbols from an alphabet of escapes, broken escapes,
        // multi-byte characters and bytes that make invalid UTF-8.
        let alphabet = [
            "%", "2", "0", "A", "f", "g", "%20", "%C3", "%A9", "%FF", "é", " ", "%%",
        ];
        let mut cases = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = cases
                .iter()
                .flat_map(|case| alphabet.iter().map(move |symbol| format!("{case}{symbol}")))
                .collect();
            cases.extend(longer);
        }
        cases.dedup();
        for case in &cases {
            let theirs = percent_encoding::percent_decode_str(case)
                .decode_utf8()
                .ok();
            assert_eq!(percent_decode_path(case), theirs, "{case:?}");
        }
        assert!(cases.len() > 30_000, "{} cases", cases.len());
    }

    #[test]
    fn size_accepts_the_range_and_the_alias() {
        let cases = [
            ("", Some(128)),
            ("size=16", Some(16)),
            ("s=1024", Some(1024)),
            ("size=64&s=32", Some(64)),
            ("size=15", None),
            ("size=1025", None),
            ("s=0", None),
            ("size=-1", None),
            ("size=12.5", None),
            ("size=", None),
            ("size=big", None),
        ];
        for (query, expected) in cases {
            let got = QueryParams::parse(query)
                .and_then(|q| q.size())
                .ok()
                .map(|s| s.0);
            assert_eq!(got, expected, "{query:?}");
        }
    }

    #[test]
    fn crops_are_four_whole_numbers() {
        let rect = |x, y, width, height| CropRect {
            x,
            y,
            width,
            height,
        };
        let cases = [
            ("0,0,16,16", Some(rect(0, 0, 16, 16))),
            ("10, 20, 300, 400", Some(rect(10, 20, 300, 400))),
            ("999999999,0,16,16", Some(rect(999_999_999, 0, 16, 16))),
            ("0,0,16", None),
            ("0,0,16,16,16", None),
            ("-1,0,16,16", None),
            ("+1,0,16,16", None),
            ("1.5,0,16,16", None),
            ("0,0,16,", None),
            ("", None),
            ("a,b,c,d", None),
            ("1000000000,0,16,16", None),
            ("0;0;16;16", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_crop(value).ok(), expected, "{value:?}");
        }
    }

    #[test]
    fn size_within_another_range_and_default() {
        let cases = [
            ("", Some(80)),
            ("s=1", Some(1)),
            ("size=2048", Some(2048)),
            ("s=0", None),
            ("s=2049", None),
        ];
        for (query, expected) in cases {
            let got = QueryParams::parse(query)
                .and_then(|q| q.size_within(AVATAR_EDGES))
                .ok()
                .map(|s| s.0);
            assert_eq!(got, expected, "{query:?}");
        }
    }

    #[test]
    fn colours_and_flags() {
        let query = QueryParams::parse("bg=fff&fg=%23fff&bold=maybe&on=1").expect("parses");
        assert_eq!(query.color("bg").ok().flatten(), Some(Rgb::hex(0xFF_FFFF)));
        assert!(query.color("fg").is_err(), "a leading # is refused");
        assert!(query.color("absent").is_ok_and(|c| c.is_none()));
        assert!(query.flag("bold", false).is_err());
        assert!(query.flag("on", false).is_ok_and(|b| b));
        assert!(query.flag("absent", true).is_ok_and(|b| b));
    }
}
