//! Parsing a `/avatar/{hash}` request: the hash, Gravatar's query names and their values.

use unicode_segmentation::UnicodeSegmentation;

use super::AvatarError;
pub use super::default_picture::DefaultPicture;
use crate::ports::upstream::UpstreamRequest;
use crate::vocabulary::Format;

/// Asked of the upstream for a built-in default that looks the same for everyone (`mp`,
/// `blank`), or when there is no hash: an MD5 no one has, so Gravatar answers with the built-in
/// picture itself (and all users share one cache entry).
const NOBODY_HASH: &str = "00000000000000000000000000000000";
/// Edges `/avatar` accepts, and its default: Gravatar's own.
/// The suffixes Gravatar accepts after the hash; the answer keeps its own `Content-Type`.
const SUFFIXES: [&str; 4] = [".png", ".jpg", ".jpeg", ".gif"];

/// A validated `/avatar/{hash}` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvatarRequest {
    /// 32 or 64 lower-case hex digits; `None` for `GET /avatar/` (nobody: the fallback).
    pub hash: Option<String>,
    /// 1..=2048, validated by the HTTP edge.
    pub size: u32,
    pub default: DefaultPicture,
    pub rating: &'static str,
    pub force_default: bool,
    /// What the initials fallback draws: `initials`, else the letters of Auth0's default
    /// picture in `d`, else `name`, else nothing (neutral).
    pub fallback_text: String,
    /// How many initials to draw: as many as were given (1..=3) with `initials`, else 2.
    pub fallback_length: u8,
    /// The format of a drawn fallback (negotiated by the HTTP edge; PNG by default). Gravatar's
    /// own pictures keep theirs.
    pub fallback_format: Format,
    /// The format asked by name or `Accept` for an uploaded picture (`None`: as stored).
    pub upload_format: Option<Format>,
}

/// The raw, unvalidated parts of a request, as the HTTP edge found them.
#[derive(Clone, Debug, Default)]
pub struct RawAvatarRequest<'a> {
    /// The path segment: the hash, optionally with a suffix; empty for `GET /avatar/`.
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
        let hash = parse_hash(raw.file)?;
        // Gravatar accepts ratings and flags in any case.
        let rating = one_of(raw.rating.unwrap_or("g"), &["g", "pg", "r", "x"])
            .ok_or_else(|| AvatarError::InvalidParameter("rating must be g, pg, r or x".into()))?;
        let force_default = match raw.force_default {
            None => false,
            Some(flag) if one_of(flag, &["n", "no", "false", "0"]).is_some() => false,
            Some(flag) if one_of(flag, &["y", "yes", "true", "1"]).is_some() => true,
            Some(_) => {
                return Err(AvatarError::InvalidParameter(
                    "forcedefault must be y, yes, true or 1 (or n, no, false, 0)".into(),
                ));
            }
        };
        let (default, auth0_letters) = raw
            .default
            .map_or(Ok((DefaultPicture::Initials, None)), DefaultPicture::parse)?;
        let given = raw.initials.map(str::trim).filter(|s| !s.is_empty());
        let (fallback_text, fallback_length) = match given.or(auth0_letters.as_deref()) {
            Some(given) => (
                given.to_owned(),
                given.graphemes(true).count().clamp(1, 3) as u8,
            ),
            None => (raw.name.unwrap_or_default().to_owned(), 2),
        };
        Ok(Self {
            hash,
            size: raw.size,
            default,
            rating,
            force_default,
            fallback_text,
            fallback_length,
            fallback_format: Format::Png,
            upload_format: None,
        })
    }

    /// The upstream request at edge `size` (and cache key); `None` when nothing needs asking.
    pub(super) fn upstream_at(&self, size: u32) -> Option<UpstreamRequest> {
        let drawn_here = !matches!(self.default, DefaultPicture::BuiltIn(_));
        if drawn_here && (self.force_default || self.hash.is_none()) {
            return None;
        }
        let (hash, force_default) = match self.hash.as_deref() {
            Some(hash) if !self.force_default => (hash, false),
            // A forced per-user default is that user's own identicon (monster, …).
            Some(hash) if self.default.is_per_user() => (hash, true),
            _ => (NOBODY_HASH, false),
        };
        Some(UpstreamRequest {
            hash: hash.to_owned(),
            size,
            default: self.default.upstream_name(),
            rating: self.rating,
            force_default,
        })
    }

    /// The text whose colour `d=color` paints: the fallback text, else the hash.
    pub(super) fn color_text(&self) -> &str {
        if self.fallback_text.trim().is_empty() {
            self.hash.as_deref().unwrap_or_default()
        } else {
            &self.fallback_text
        }
    }
}

/// The word of `words` that `value` is, in any ASCII case.
pub(super) fn one_of(value: &str, words: &[&'static str]) -> Option<&'static str> {
    words
        .iter()
        .copied()
        .find(|word| word.eq_ignore_ascii_case(value))
}

/// The hash from the path segment, suffix and case removed; `None` when the segment is empty.
fn parse_hash(file: &str) -> Result<Option<String>, AvatarError> {
    if file.is_empty() {
        return Ok(None);
    }
    let hash = SUFFIXES
        .iter()
        .find_map(|suffix| {
            let cut = file.len().checked_sub(suffix.len())?;
            file.get(cut..)
                .filter(|tail| tail.eq_ignore_ascii_case(suffix))
                .map(|_| &file[..cut])
        })
        .unwrap_or(file);
    if !matches!(hash.len(), 32 | 64) || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AvatarError::InvalidParameter(
            "the hash must be 64 (SHA-256) or 32 (MD5) hex digits, optionally followed by \
             .png, .jpg, .jpeg or .gif"
                .into(),
        ));
    }
    Ok(Some(hash.to_ascii_lowercase()))
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
        let lower = md5.to_ascii_lowercase();
        let sha = "a".repeat(64);
        let cases: Vec<(String, Option<Option<String>>)> = vec![
            (md5.into(), Some(Some(lower.clone()))),
            (format!("{md5}.png"), Some(Some(lower.clone()))),
            (sha.clone(), Some(Some(sha.clone()))),
            (format!("{sha}.PNG"), Some(Some(sha.clone()))),
            (format!("{sha}.jpg"), Some(Some(sha.clone()))),
            (format!("{sha}.JpEg"), Some(Some(sha.clone()))),
            (format!("{sha}.gif"), Some(Some(sha.clone()))),
            (String::new(), Some(None)),
            (format!("{sha}.webp"), None),
            (format!("{sha}.png.png"), None),
            ("a".repeat(31), None),
            ("a".repeat(33), None),
            ("a".repeat(63), None),
            (format!("{}g", "a".repeat(31)), None),
            (".png".into(), None),
        ];
        for (file, expected) in cases {
            let got = AvatarRequest::parse(&raw(&file)).ok().map(|r| r.hash);
            assert_eq!(got, expected, "{file:?}");
        }
    }

    #[test]
    fn defaults_aliases_urls_and_force() {
        let hash = "a".repeat(32);
        let parse = |default: Option<&'static str>, rating, force| {
            AvatarRequest::parse(&RawAvatarRequest {
                default,
                rating,
                force_default: force,
                ..raw(&hash)
            })
        };
        let default_of = |d| parse(Some(d), None, None).ok().map(|r| r.default);
        for (given, expected) in [
            ("mp", DefaultPicture::BuiltIn("mp")),
            ("mm", DefaultPicture::BuiltIn("mp")),
            ("MM", DefaultPicture::BuiltIn("mp")),
            ("Identicon", DefaultPicture::BuiltIn("identicon")),
            ("color", DefaultPicture::Color),
            ("https://example.com/a.png", DefaultPicture::Initials),
            ("HTTP://127.0.0.1/x.png", DefaultPicture::Initials),
        ] {
            assert_eq!(default_of(given), Some(expected), "{given:?}");
        }
        for bad in ["", "initial", "ftp://example.com/a.png", "nope"] {
            assert!(parse(Some(bad), None, None).is_err(), "{bad:?}");
        }
        for (force, expected) in [
            ("y", Some(true)),
            ("YES", Some(true)),
            ("true", Some(true)),
            ("1", Some(true)),
            ("n", Some(false)),
            ("no", Some(false)),
            ("False", Some(false)),
            ("0", Some(false)),
            ("maybe", None),
            ("", None),
        ] {
            let got = parse(None, None, Some(force)).ok().map(|r| r.force_default);
            assert_eq!(got, expected, "{force:?}");
        }
    }

    #[test]
    fn auth0_default_pictures_give_their_letters() {
        let hash = "a".repeat(32);
        let fallback = |default, initials| {
            AvatarRequest::parse(&RawAvatarRequest {
                default: Some(default),
                initials,
                name: Some("Ann Lee"),
                ..raw(&hash)
            })
            .ok()
            .map(|r| (r.default, r.fallback_text, r.fallback_length))
        };
        let initials = DefaultPicture::Initials;
        let cases = [
            ("https://cdn.auth0.com/avatars/jd.png", None, "JD", 2),
            ("https://CDN.auth0.com/avatars/x.PNG", None, "X", 1),
            ("http://cdn.auth0.com/avatars/abc.png", None, "ABC", 3),
            ("https://cdn.auth0.com/avatars/jd.png", Some("Q"), "Q", 1),
            ("https://cdn.auth0.com/avatars/abcd.png", None, "Ann Lee", 2),
            ("https://cdn.auth0.com/avatars/j-d.png", None, "Ann Lee", 2),
            ("https://cdn.auth0.com/avatars/.png", None, "Ann Lee", 2),
            (
                "https://evil.example/cdn.auth0.com/avatars/jd.png",
                None,
                "Ann Lee",
                2,
            ),
            ("https://example.com/avatars/jd.png", None, "Ann Lee", 2),
        ];
        for (url, given, text, length) in cases {
            assert_eq!(
                fallback(url, given),
                Some((initials, text.to_owned(), length)),
                "{url} {given:?}"
            );
        }
    }

    #[test]
    fn what_is_asked_upstream() {
        let hash = "b".repeat(64);
        let ask = |file: &str, default: Option<&'static str>, force: Option<&'static str>| {
            AvatarRequest::parse(&RawAvatarRequest {
                default,
                force_default: force,
                ..raw(file)
            })
            .expect("valid")
            .upstream_at(256)
            .map(|u| (u.hash, u.default, u.force_default, u.size))
        };
        let own = |d, f| Some((hash.clone(), d, f, 256));
        let nobody = |d| Some((NOBODY_HASH.to_owned(), d, false, 256));
        let cases = [
            (hash.as_str(), None, None, own("404", false)),
            (hash.as_str(), Some("404"), None, own("404", false)),
            (hash.as_str(), Some("color"), None, own("404", false)),
            (hash.as_str(), Some("retro"), None, own("retro", false)),
            (hash.as_str(), Some("retro"), Some("y"), own("retro", true)),
            (
                hash.as_str(),
                Some("robohash"),
                Some("1"),
                own("robohash", true),
            ),
            (hash.as_str(), Some("mm"), Some("y"), nobody("mp")),
            (hash.as_str(), Some("blank"), Some("yes"), nobody("blank")),
            (hash.as_str(), None, Some("y"), None),
            (hash.as_str(), Some("404"), Some("y"), None),
            (hash.as_str(), Some("color"), Some("y"), None),
            ("", None, None, None),
            ("", Some("404"), None, None),
            ("", Some("identicon"), None, nobody("identicon")),
            ("", Some("mp"), Some("y"), nobody("mp")),
        ];
        for (file, default, force, expected) in cases {
            assert_eq!(
                ask(file, default, force),
                expected,
                "{file:?} {default:?} {force:?}"
            );
        }
    }
}
