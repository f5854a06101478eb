//! Parsing a `/avatar/{hash}` request: the hash, Gravatar's query names and their values.

use unicode_segmentation::UnicodeSegmentation;

use super::AvatarError;
use crate::ports::upstream::UpstreamRequest;

/// Asked of the upstream when the client forces a built-in default: an MD5 no one has, so
/// Gravatar answers with the built-in picture itself (and all users share one cache entry).
const NOBODY_HASH: &str = "00000000000000000000000000000000";

/// What a client may ask for instead of a Gravatar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultPicture {
    /// visage's own initials placeholder.
    Initials,
    /// A JSON 404.
    NotFound,
    /// One of Gravatar's built-in pictures, asked of Gravatar itself.
    BuiltIn(&'static str),
}

impl DefaultPicture {
    const BUILT_INS: [&'static str; 7] = [
        "mp",
        "identicon",
        "monsterid",
        "wavatar",
        "retro",
        "robohash",
        "blank",
    ];

    pub fn parse(value: &str) -> Result<Self, AvatarError> {
        match value {
            "initials" => Ok(Self::Initials),
            "404" => Ok(Self::NotFound),
            other => Self::BUILT_INS
                .iter()
                .find(|name| **name == other)
                .map(|name| Self::BuiltIn(name))
                .ok_or_else(|| {
                    AvatarError::InvalidParameter(format!(
                        "default must be initials, 404 or one of {}; URLs are not fetched",
                        Self::BUILT_INS.join(", ")
                    ))
                }),
        }
    }

    /// The `d` sent upstream: the built-in's name, else `404` (visage draws its own fallback).
    fn upstream_name(self) -> &'static str {
        match self {
            Self::BuiltIn(name) => name,
            Self::Initials | Self::NotFound => "404",
        }
    }
}

/// A validated `/avatar/{hash}` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvatarRequest {
    /// 32 or 64 lower-case hex digits.
    pub hash: String,
    pub size: u32,
    pub default: DefaultPicture,
    pub rating: &'static str,
    pub force_default: bool,
    /// What the initials fallback draws: `initials`, else `name`, else nothing (neutral).
    pub fallback_text: String,
    /// How many initials to draw: as many as were given (1..=3) with `initials`, else 2.
    pub fallback_length: u8,
}

/// The raw, unvalidated parts of a request, as the HTTP edge found them.
#[derive(Clone, Debug, Default)]
pub struct RawAvatarRequest<'a> {
    /// The path segment: the hash, optionally with `.png`.
    pub file: &'a str,
    pub size: u32,
    pub default: Option<&'a str>,
    pub rating: Option<&'a str>,
    pub force_default: Option<&'a str>,
    pub name: Option<&'a str>,
    pub initials: Option<&'a str>,
}

impl AvatarRequest {
    pub fn parse(raw: &RawAvatarRequest<'_>) -> Result<Self, AvatarError> {
        let hash = raw.file.strip_suffix(".png").unwrap_or(raw.file);
        if !matches!(hash.len(), 32 | 64) || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AvatarError::InvalidParameter(
                "the hash must be 64 (SHA-256) or 32 (MD5) hex digits".into(),
            ));
        }
        // Gravatar accepts ratings in any case.
        let rating = match raw.rating.unwrap_or("g").to_ascii_lowercase().as_str() {
            "g" => "g",
            "pg" => "pg",
            "r" => "r",
            "x" => "x",
            _ => {
                return Err(AvatarError::InvalidParameter(
                    "rating must be g, pg, r or x".into(),
                ));
            }
        };
        let force_default = match raw.force_default {
            None | Some("n") => false,
            Some("y") => true,
            Some(_) => {
                return Err(AvatarError::InvalidParameter(
                    "forcedefault must be y or n".into(),
                ));
            }
        };
        let (fallback_text, fallback_length) =
            match raw.initials.map(str::trim).filter(|s| !s.is_empty()) {
                Some(given) => (
                    given.to_owned(),
                    given.graphemes(true).count().clamp(1, 3) as u8,
                ),
                None => (raw.name.unwrap_or_default().to_owned(), 2),
            };
        Ok(Self {
            hash: hash.to_ascii_lowercase(),
            size: raw.size,
            default: raw
                .default
                .map_or(Ok(DefaultPicture::Initials), DefaultPicture::parse)?,
            rating,
            force_default,
            fallback_text,
            fallback_length,
        })
    }

    /// The upstream request (and cache key); `None` when nothing needs asking.
    pub(super) fn upstream(&self) -> Option<UpstreamRequest> {
        let hash = match (self.force_default, self.default) {
            (false, _) => self.hash.as_str(),
            (true, DefaultPicture::BuiltIn(_)) => NOBODY_HASH,
            (true, DefaultPicture::Initials | DefaultPicture::NotFound) => return None,
        };
        Some(UpstreamRequest {
            hash: hash.to_owned(),
            size: self.size,
            default: self.default.upstream_name(),
            rating: self.rating,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(file: &str) -> RawAvatarRequest<'_> {
        RawAvatarRequest {
            file,
            size: 128,
            ..RawAvatarRequest::default()
        }
    }

    #[test]
    fn ratings_ignore_case_and_given_initials_keep_their_length() {
        let hash = "a".repeat(32);
        let parse = |rating, name, initials| {
            AvatarRequest::parse(&RawAvatarRequest {
                rating,
                name,
                initials,
                ..raw(&hash)
            })
        };
        assert_eq!(
            parse(Some("PG"), None, None).ok().map(|r| r.rating),
            Some("pg")
        );
        assert!(parse(Some("nc17"), None, None).is_err());
        let fallback = |name, initials| {
            parse(None, name, initials)
                .ok()
                .map(|r| (r.fallback_text, r.fallback_length))
        };
        let cases = [
            (None, Some("ABC"), Some(("ABC".to_owned(), 3))),
            (None, Some(" j "), Some(("j".to_owned(), 1))),
            (
                Some("Jane Doe"),
                Some("  "),
                Some(("Jane Doe".to_owned(), 2)),
            ),
            (Some("Jane Doe"), None, Some(("Jane Doe".to_owned(), 2))),
            (None, None, Some((String::new(), 2))),
        ];
        for (name, initials, expected) in cases {
            assert_eq!(fallback(name, initials), expected, "{name:?} {initials:?}");
        }
    }

    #[test]
    fn hashes_are_validated_and_lower_cased() {
        let md5 = "0123456789ABCDEF0123456789abcdef";
        let sha = "a".repeat(64);
        let cases: Vec<(String, Option<String>)> = vec![
            (md5.into(), Some(md5.to_ascii_lowercase())),
            (format!("{md5}.png"), Some(md5.to_ascii_lowercase())),
            (sha.clone(), Some(sha.clone())),
            (format!("{sha}.PNG"), None),
            (format!("{sha}.jpg"), None),
            ("a".repeat(31), None),
            ("a".repeat(33), None),
            ("a".repeat(63), None),
            (format!("{}g", "a".repeat(31)), None),
            (String::new(), None),
            (".png".into(), None),
        ];
        for (file, expected) in cases {
            let got = AvatarRequest::parse(&raw(&file)).ok().map(|r| r.hash);
            assert_eq!(got, expected, "{file:?}");
        }
    }

    #[test]
    fn defaults_ratings_and_force() {
        let hash = "a".repeat(32);
        let parse = |default: Option<&'static str>, rating, force| {
            AvatarRequest::parse(&RawAvatarRequest {
                default,
                rating,
                force_default: force,
                ..raw(&hash)
            })
        };
        assert_eq!(
            parse(None, None, None).ok().map(|r| (r.default, r.rating)),
            Some((DefaultPicture::Initials, "g"))
        );
        assert_eq!(
            parse(Some("mp"), Some("x"), None).ok().map(|r| r.default),
            Some(DefaultPicture::BuiltIn("mp"))
        );
        for bad in ["https://example.com/a.png", "MP", "", "initial"] {
            assert!(parse(Some(bad), None, None).is_err(), "{bad:?}");
        }
        assert!(parse(None, Some("nc17"), None).is_err());
        assert!(parse(None, None, Some("yes")).is_err());
        let forced = parse(Some("identicon"), None, Some("y")).expect("valid");
        assert_eq!(forced.upstream().map(|u| u.hash), Some(NOBODY_HASH.into()));
        let forced = parse(None, None, Some("y")).expect("valid");
        assert_eq!(forced.upstream(), None);
    }

    #[test]
    fn upstream_default_is_404_unless_a_built_in() {
        let hash = "b".repeat(64);
        for (default, sent) in [
            (None, "404"),
            (Some("404"), "404"),
            (Some("retro"), "retro"),
        ] {
            let request = AvatarRequest::parse(&RawAvatarRequest {
                default,
                ..raw(&hash)
            })
            .expect("valid");
            assert_eq!(request.upstream().map(|u| u.default), Some(sent));
        }
    }
}
