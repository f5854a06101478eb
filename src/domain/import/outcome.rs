//! What happened to one user (the JSON line of `visage import`), why, in the contract's error
//! codes where an upload would have answered one, and the tally of a whole run.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::plan::SkipReason;
use crate::domain::image::ImageError;
use crate::domain::upload::UploadError;
use crate::ports::source::{FetchError, HostRefusal};
use crate::vocabulary::ErrorChain;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Imported,
    Skipped,
    Failed,
}

/// One user's line: `{"user_id", "status", "reason", "picture"}`. `reason` starts with a code
/// (`payload_too_large`, `auth0_default`, …), then `: ` and a sentence where there is more to
/// say; `picture` is the picture the user has after the run (the new one when imported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub user_id: String,
    pub status: Status,
    pub reason: Option<String>,
    pub picture: Option<String>,
    #[serde(skip)]
    code: &'static str,
}

impl Outcome {
    pub fn imported(user_id: &str, picture: Option<String>, note: Option<&'static str>) -> Self {
        Self {
            user_id: user_id.to_owned(),
            status: Status::Imported,
            reason: note.map(str::to_owned),
            picture,
            code: note.unwrap_or("imported"),
        }
    }

    pub fn skipped(user_id: &str, reason: SkipReason, picture: Option<String>) -> Self {
        Self {
            user_id: user_id.to_owned(),
            status: Status::Skipped,
            reason: Some(reason.code().to_owned()),
            picture,
            code: reason.code(),
        }
    }

    pub fn failed(user_id: &str, failure: &Failure) -> Self {
        Self {
            user_id: user_id.to_owned(),
            status: Status::Failed,
            reason: Some(format!("{}: {}", failure.code, failure.detail)),
            picture: None,
            code: failure.code,
        }
    }

    /// The reason's code alone, which the summary counts by.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

/// A failed user's reason: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: &'static str,
    pub detail: String,
}

impl Failure {
    pub fn new(code: &'static str, detail: impl fmt::Display) -> Self {
        Self {
            code,
            detail: detail.to_string(),
        }
    }
}

impl From<&FetchError> for Failure {
    fn from(err: &FetchError) -> Self {
        let code = match err {
            FetchError::Refused(HostRefusal::NotAllowed(_)) => "host_not_allowed",
            FetchError::Refused(HostRefusal::PlainHttp(_)) => "insecure_url",
            FetchError::Refused(HostRefusal::Scheme(_)) => "unsupported_source",
            FetchError::RedirectRefused { .. } => "redirect_refused",
            FetchError::TooManyRedirects(_) => "too_many_redirects",
            FetchError::Status { .. } => "source_status",
            FetchError::TooLarge { .. } => "payload_too_large",
            FetchError::TimedOut { .. } => "source_timeout",
            FetchError::Unreachable { .. } => "source_unreachable",
            FetchError::File { .. } => "unreadable_file",
        };
        Self::new(code, err)
    }
}

impl From<&ImageError> for Failure {
    fn from(err: &ImageError) -> Self {
        let code = match err {
            ImageError::Unsupported(_) => "unsupported_media_type",
            ImageError::Invalid(_) | ImageError::InvalidCrop(_) => "invalid_image",
        };
        Self::new(code, err)
    }
}

impl From<&UploadError> for Failure {
    fn from(err: &UploadError) -> Self {
        match err {
            UploadError::Image(image) => image.into(),
            UploadError::Storage(_) => Self::new("storage_unavailable", ErrorChain(err)),
            UploadError::Profile { .. } | UploadError::ProfileClear(_) => {
                Self::new("metadata_update_failed", ErrorChain(err))
            }
            UploadError::Worker(_) | UploadError::Key(_) => Self::new("internal", ErrorChain(err)),
        }
    }
}

/// The tally of a run: users per status, and per reason code within each.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub imported: usize,
    pub skipped: BTreeMap<&'static str, usize>,
    pub failed: BTreeMap<&'static str, usize>,
    pub dry_run: bool,
}

impl Summary {
    pub fn add(&mut self, outcome: &Outcome) {
        match outcome.status {
            Status::Imported => self.imported += 1,
            Status::Skipped => *self.skipped.entry(outcome.code()).or_default() += 1,
            Status::Failed => *self.failed.entry(outcome.code()).or_default() += 1,
        }
    }

    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }

    pub fn failed_total(&self) -> usize {
        self.failed.values().sum()
    }

    pub fn users(&self) -> usize {
        self.imported + self.skipped_total() + self.failed_total()
    }
}

impl fmt::Display for Summary {
    /// `900 imported, 80 skipped (auth0_default 50, gravatar 30), 20 failed (…)`; a dry run
    /// says what it would do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by_reason = |counts: &BTreeMap<&'static str, usize>| {
            if counts.is_empty() {
                String::new()
            } else {
                let parts: Vec<String> = counts
                    .iter()
                    .map(|(code, n)| format!("{code} {n}"))
                    .collect();
                format!(" ({})", parts.join(", "))
            }
        };
        let (imported, skipped, failed) = if self.dry_run {
            ("would be imported", "would be skipped", "would fail")
        } else {
            ("imported", "skipped", "failed")
        };
        write!(
            f,
            "{} {imported}, {} {skipped}{}, {} {failed}{}",
            self.imported,
            self.skipped_total(),
            by_reason(&self.skipped),
            self.failed_total(),
            by_reason(&self.failed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_contract_shape() {
        let failure = Failure::from(&FetchError::TooLarge { limit: 10 });
        let line = serde_json::to_value(Outcome::failed("auth0|1", &failure)).expect("json");
        assert_eq!(
            line,
            serde_json::json!({
                "user_id": "auth0|1", "status": "failed", "picture": null,
                "reason": "payload_too_large: the picture is larger than 10 bytes (limits.max_upload_bytes)"
            })
        );
        let line = serde_json::to_value(Outcome::skipped(
            "a",
            SkipReason::Gravatar,
            Some("g".into()),
        ))
        .expect("json");
        assert_eq!(
            line,
            serde_json::json!({"user_id": "a", "status": "skipped", "reason": "gravatar", "picture": "g"})
        );
    }

    #[test]
    fn the_summary_counts_by_status_and_reason() {
        let mut summary = Summary::default();
        summary.add(&Outcome::imported("a", Some("p".into()), None));
        summary.add(&Outcome::skipped("b", SkipReason::Gravatar, None));
        summary.add(&Outcome::skipped("c", SkipReason::Gravatar, None));
        summary.add(&Outcome::skipped("d", SkipReason::NoPicture, None));
        let status = FetchError::Status {
            host: "h".into(),
            status: 404,
        };
        summary.add(&Outcome::failed("e", &Failure::from(&status)));
        assert_eq!(summary.users(), 5);
        assert_eq!(
            summary.to_string(),
            "1 imported, 3 skipped (gravatar 2, no_picture 1), 1 failed (source_status 1)"
        );
    }
}
