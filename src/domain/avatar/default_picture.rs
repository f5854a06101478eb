//! `d=`/`default=`: what a client may ask for instead of a Gravatar, with Gravatar's keywords,
//! and URLs (never fetched) read as the initials fallback, Auth0's default picture's letters kept.

use super::AvatarError;

/// Auth0's default picture: `https://cdn.auth0.com/avatars/{letters}.png`.
const AUTH0_AVATARS: &str = "cdn.auth0.com/avatars/";

/// What a client may ask for instead of a Gravatar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultPicture {
    /// visage's own initials placeholder (also what a URL in `d` means).
    Initials,
    /// A JSON 404.
    NotFound,
    /// A plain square in the name's colour, drawn by visage.
    Color,
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
    /// Built-ins drawn from the user's own hash: forcing one asks Gravatar for that hash.
    const PER_USER: [&'static str; 5] = ["identicon", "monsterid", "wavatar", "retro", "robohash"];

    /// A keyword (any case; `mm` is `mp`), or a URL, which is never fetched: it means
    /// `initials`, with the letters of Auth0's default picture when it is one.
    pub fn parse(value: &str) -> Result<(Self, Option<String>), AvatarError> {
        if let Some(url) = strip_scheme(value) {
            return Ok((Self::Initials, auth0_letters(url)));
        }
        let keyword = value.to_ascii_lowercase();
        let picked = match keyword.as_str() {
            "initials" => Self::Initials,
            "404" => Self::NotFound,
            "color" => Self::Color,
            "mm" => Self::BuiltIn("mp"),
            other => Self::BUILT_INS
                .iter()
                .find(|name| **name == other)
                .map(|name| Self::BuiltIn(name))
                .ok_or_else(|| {
                    AvatarError::InvalidParameter(format!(
                        "default must be initials, 404, color, mm or one of {}, or a URL \
                         (never fetched: it means initials)",
                        Self::BUILT_INS.join(", ")
                    ))
                })?,
        };
        Ok((picked, None))
    }

    /// The `d` sent upstream: the built-in's name, else `404` (visage draws its own fallback).
    pub(super) fn upstream_name(self) -> &'static str {
        match self {
            Self::BuiltIn(name) => name,
            Self::Initials | Self::NotFound | Self::Color => "404",
        }
    }

    pub(super) fn is_per_user(self) -> bool {
        matches!(self, Self::BuiltIn(name) if Self::PER_USER.contains(&name))
    }
}

/// The URL without `http://` or `https://` (any case), when `value` is one.
fn strip_scheme(value: &str) -> Option<&str> {
    ["https://", "http://"].iter().find_map(|scheme| {
        value
            .get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .map(|_| &value[scheme.len()..])
    })
}

/// `jd` from `cdn.auth0.com/avatars/jd.png`: 1..=3 ASCII letters or digits, upper-cased.
fn auth0_letters(url: &str) -> Option<String> {
    let head = url.get(..AUTH0_AVATARS.len())?;
    if !head.eq_ignore_ascii_case(AUTH0_AVATARS) {
        return None;
    }
    let file = &url[AUTH0_AVATARS.len()..];
    let letters = file
        .get(file.len().checked_sub(4)?..)
        .filter(|ext| ext.eq_ignore_ascii_case(".png"))
        .map(|_| &file[..file.len() - 4])?;
    (1..=3)
        .contains(&letters.len())
        .then_some(letters)
        .filter(|l| l.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_ascii_uppercase)
}
