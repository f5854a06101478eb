//! Which picture of a user is imported, and which users are skipped before anything is fetched:
//! no picture, a picture already visage's, Auth0's default picture, any other Gravatar URL.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use crate::ports::source::Source;

/// One user object of an Auth0 export (the Management API's users-exports job, JSON format),
/// reduced to what the import reads; every other exported field is ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct ExportedUser {
    pub user_id: String,
    #[serde(default)]
    pub picture: Option<serde_json::Value>,
    #[serde(default)]
    pub user_metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub app_metadata: Option<serde_json::Value>,
}

/// Where the write-back puts the picture (`auth0.management.field`), so where a picture an
/// earlier visage import (or the previous app) put is found first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureField {
    UserMetadata,
    AppMetadata,
    Root,
}

/// One user to import: from an export, or a `user_id,source` CSV row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub user_id: String,
    /// A URL, or (CSV only) a local path.
    pub picture: Option<String>,
    /// The CSV's folder, which relative paths are read from; `None` for exports, whose
    /// pictures are URLs only.
    pub files_from: Option<PathBuf>,
}

impl Candidate {
    /// The configured field's `picture`, else the root `picture` (empty strings count as none).
    pub fn from_export(user: ExportedUser, field: PictureField) -> Self {
        let text = |value: Option<&serde_json::Value>| {
            value
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let metadata = match field {
            PictureField::UserMetadata => user.user_metadata.as_ref(),
            PictureField::AppMetadata => user.app_metadata.as_ref(),
            PictureField::Root => None,
        };
        let picture = text(metadata.and_then(|m| m.get("picture"))).or(text(user.picture.as_ref()));
        Self {
            user_id: user.user_id,
            picture,
            files_from: None,
        }
    }
}

/// Why a user is left as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    NoPicture,
    /// The picture is already under `server.public_url` or `storage.public_base_url`.
    AlreadyVisage,
    /// Auth0's default: a Gravatar URL whose `d` is `cdn.auth0.com/avatars/…` (or that file).
    Auth0Default,
    /// Any other Gravatar URL: `/avatar/{hash}` serves it already, and it stays the user's.
    Gravatar,
    /// visage already holds a picture of the user: an earlier run's, or the user's own upload
    /// since the export was taken (never replaced by an older one).
    AlreadyStored,
    /// The same `user_id` earlier in the input.
    Duplicate,
}

impl SkipReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::NoPicture => "no_picture",
            Self::AlreadyVisage => "already_visage",
            Self::Auth0Default => "auth0_default",
            Self::Gravatar => "gravatar",
            Self::AlreadyStored => "already_stored",
            Self::Duplicate => "duplicate",
        }
    }
}

/// What to do with one user before any I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Skip(SkipReason),
    /// The picture names nothing the import reads (another scheme, a path in an export).
    Unsupported(String),
    Fetch(Source),
}

/// Decides from the picture alone. `visage_bases` are the URL prefixes visage hands out.
pub fn plan(candidate: &Candidate, visage_bases: &[String]) -> Plan {
    let Some(picture) = candidate.picture.as_deref() else {
        return Plan::Skip(SkipReason::NoPicture);
    };
    if visage_bases.iter().any(|base| picture.starts_with(base)) {
        return Plan::Skip(SkipReason::AlreadyVisage);
    }
    match Url::parse(picture) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => match gravatar_kind(&url) {
            Some(reason) => Plan::Skip(reason),
            None => Plan::Fetch(Source::Url(url)),
        },
        Ok(url) if url.scheme() == "file" && candidate.files_from.is_some() => {
            match url.to_file_path() {
                Ok(path) => Plan::Fetch(Source::File(path)),
                Err(()) => Plan::Unsupported("a file: URL that names no local file".into()),
            }
        }
        Ok(url) => Plan::Unsupported(format!("{}: URLs are not read", url.scheme())),
        Err(_) => match &candidate.files_from {
            Some(folder) => Plan::Fetch(Source::File(folder.join(picture))),
            None => Plan::Unsupported("not an absolute http(s) URL".into()),
        },
    }
}

/// Auth0's default picture, or another Gravatar URL; `None` for anything else.
fn gravatar_kind(url: &Url) -> Option<SkipReason> {
    let host = url.host_str()?.to_ascii_lowercase();
    if host == "cdn.auth0.com" && url.path().starts_with("/avatars/") {
        return Some(SkipReason::Auth0Default);
    }
    if host != "gravatar.com" && !host.ends_with(".gravatar.com") {
        return None;
    }
    let auth0_default = url.query_pairs().any(|(key, value)| {
        matches!(key.as_ref(), "d" | "default")
            && Url::parse(&value).is_ok_and(|d| {
                d.host_str() == Some("cdn.auth0.com") && d.path().starts_with("/avatars/")
            })
    });
    Some(if auth0_default {
        SkipReason::Auth0Default
    } else {
        SkipReason::Gravatar
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: serde_json::Value) -> ExportedUser {
        serde_json::from_value(json).expect("an exported user")
    }

    fn export(picture: &str) -> Candidate {
        Candidate {
            user_id: "auth0|1".into(),
            picture: Some(picture.into()),
            files_from: None,
        }
    }

    const BASES: &[&str] = &["https://visage.example/", "https://cdn.example/pictures/"];

    fn planned(candidate: &Candidate) -> Plan {
        let bases: Vec<String> = BASES.iter().map(|b| (*b).to_owned()).collect();
        plan(candidate, &bases)
    }

    #[test]
    fn the_configured_field_comes_before_the_root_picture() {
        let json = serde_json::json!({
            "user_id": "auth0|1", "email": "jane@example.com", "picture": "https://root/p.png",
            "user_metadata": {"picture": "https://user/p.png"},
            "app_metadata": {"picture": "https://app/p.png", "roles": []},
            "identities": [{"provider": "auth0"}]
        });
        let pick = |field| Candidate::from_export(user(json.clone()), field).picture;
        assert_eq!(
            pick(PictureField::UserMetadata).as_deref(),
            Some("https://user/p.png")
        );
        assert_eq!(
            pick(PictureField::AppMetadata).as_deref(),
            Some("https://app/p.png")
        );
        assert_eq!(
            pick(PictureField::Root).as_deref(),
            Some("https://root/p.png")
        );
        let only_root = serde_json::json!({
            "user_id": "auth0|2", "picture": "https://root/p.png",
            "user_metadata": {"picture": ""}, "app_metadata": {"picture": 7}
        });
        for field in [PictureField::UserMetadata, PictureField::AppMetadata] {
            let candidate = Candidate::from_export(user(only_root.clone()), field);
            assert_eq!(candidate.picture.as_deref(), Some("https://root/p.png"));
        }
        let none = Candidate::from_export(
            user(serde_json::json!({"user_id": "x"})),
            PictureField::Root,
        );
        assert_eq!(planned(&none), Plan::Skip(SkipReason::NoPicture));
    }

    #[test]
    fn defaults_gravatars_and_visage_urls_are_skipped() {
        let cases = [
            (
                "https://s.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fjd.png",
                SkipReason::Auth0Default,
            ),
            (
                "https://cdn.auth0.com/avatars/jd.png",
                SkipReason::Auth0Default,
            ),
            (
                "https://www.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?d=identicon",
                SkipReason::Gravatar,
            ),
            (
                "https://gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346",
                SkipReason::Gravatar,
            ),
            (
                "https://visage.example/u/auth0%7C1",
                SkipReason::AlreadyVisage,
            ),
            (
                "https://cdn.example/pictures/u/ab/cd.jpg",
                SkipReason::AlreadyVisage,
            ),
        ];
        for (picture, reason) in cases {
            assert_eq!(planned(&export(picture)), Plan::Skip(reason), "{picture}");
        }
        for fetched in [
            "https://legacy.example/u/1.jpg",
            "https://gravatar.com.evil.example/avatar/1",
            "https://cdn.auth0.com/other/x.png",
            "https://lh3.googleusercontent.com/a/x=s96-c",
        ] {
            assert!(
                matches!(planned(&export(fetched)), Plan::Fetch(Source::Url(_))),
                "{fetched}"
            );
        }
    }

    #[test]
    fn paths_are_files_in_a_csv_only() {
        assert!(matches!(
            planned(&export("/srv/pictures/1.jpg")),
            Plan::Unsupported(_)
        ));
        assert!(matches!(
            planned(&export("ftp://legacy/1.jpg")),
            Plan::Unsupported(_)
        ));
        let row = |picture: &str| Candidate {
            files_from: Some(PathBuf::from("/imports")),
            ..export(picture)
        };
        assert_eq!(
            planned(&row("pictures/1.jpg")),
            Plan::Fetch(Source::File(PathBuf::from("/imports/pictures/1.jpg")))
        );
        assert_eq!(
            planned(&row("/srv/1.jpg")),
            Plan::Fetch(Source::File(PathBuf::from("/srv/1.jpg")))
        );
        assert_eq!(
            planned(&row("file:///srv/2.jpg")),
            Plan::Fetch(Source::File(PathBuf::from("/srv/2.jpg")))
        );
    }
}
