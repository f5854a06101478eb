//! Gravatar resolution: a validated request → the cached upstream answer, or a fallback.
//!
//! Answers ("a picture", "no Gravatar") live in a `moka` cache weighed in bytes with a lifetime
//! per entry; concurrent misses for one key make one upstream request (`try_get_with`), and
//! upstream errors are never cached as answers (an unusable picture, too large or not an image,
//! is kept as "no picture"). Known pictures are also kept a while longer so
//! that a failed refresh serves the stale picture; a small circuit breaker stops asking a
//! failing upstream for a cool-down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use prometheus::{IntCounterVec, IntGauge, Opts};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use crate::domain::placeholder::{InitialsService, InitialsSpec, RenderError, RenderedPicture};
use crate::metrics::{CacheLookups, Metrics, MissFlag};
use crate::ports::upstream::{AvatarUpstream, UpstreamAnswer, UpstreamError, UpstreamRequest};
use crate::settings::Gravatar as GravatarSettings;

/// Asked of the upstream when the client forces a built-in default: an MD5 no one has, so
/// Gravatar answers with the built-in picture itself (and all users share one cache entry).
const NOBODY_HASH: &str = "00000000000000000000000000000000";
/// Bytes counted per cache entry beyond the picture (key, bookkeeping).
const ENTRY_OVERHEAD: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    #[error("{0}")]
    InvalidParameter(String),
    /// `default=404` and the upstream has no picture.
    #[error("no Gravatar for this hash")]
    NotFound,
    /// `default=404`, the upstream failed and no stale picture is known: nothing to serve.
    #[error("the avatar upstream is unavailable")]
    Unavailable(#[source] Arc<LookupError>),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Why the cached lookup produced no answer (never cached).
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("the circuit breaker is open")]
    CircuitOpen,
}

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
    fn upstream(&self) -> Option<UpstreamRequest> {
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

/// Where the served picture came from (`X-Avatar-Source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AvatarSource {
    Gravatar,
    Fallback,
}

impl AvatarSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gravatar => "gravatar",
            Self::Fallback => "fallback",
        }
    }
}

/// The answer: a picture, where it came from, and how long downstream caches may keep it
/// (never longer than visage itself keeps the answer).
#[derive(Clone, Debug)]
pub struct ResolvedAvatar {
    pub picture: RenderedPicture,
    pub source: AvatarSource,
    pub max_age: u64,
}

/// A cached upstream answer with the moment it was fetched.
#[derive(Debug)]
struct CachedAnswer {
    picture: Option<RenderedPicture>,
    fetched_at: Instant,
}

/// Per-entry lifetimes: pictures `ttl_hit`, "no Gravatar" `ttl_miss`.
struct AnswerExpiry {
    hit: Duration,
    miss: Duration,
}

impl Expiry<UpstreamRequest, Arc<CachedAnswer>> for AnswerExpiry {
    fn expire_after_create(
        &self,
        _key: &UpstreamRequest,
        value: &Arc<CachedAnswer>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(if value.picture.is_some() {
            self.hit
        } else {
            self.miss
        })
    }
}

fn weigh(key: &UpstreamRequest, value: &Arc<CachedAnswer>) -> u32 {
    let bytes = value.picture.as_ref().map_or(0, |p| p.bytes.len());
    u32::try_from(bytes + key.hash.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

/// Consecutive failures open the circuit for a cool-down; after it, one failure re-opens it and
/// one success closes it.
struct Breaker {
    threshold: u32,
    cooldown: Duration,
    epoch: Instant,
    failures: AtomicU32,
    /// Milliseconds since `epoch` until which the upstream is skipped.
    open_until_ms: AtomicU64,
    state: IntGauge,
}

impl Breaker {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn allows(&self) -> bool {
        self.now_ms() >= self.open_until_ms.load(Ordering::Relaxed)
    }

    fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.state.set(0);
    }

    fn failed(&self) {
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if self.threshold > 0 && failures >= self.threshold {
            let cooldown = u64::try_from(self.cooldown.as_millis()).unwrap_or(u64::MAX);
            self.open_until_ms
                .store(self.now_ms().saturating_add(cooldown), Ordering::Relaxed);
            if self.state.get() == 0 {
                tracing::warn!(failures, "gravatar circuit breaker opened");
            }
            self.state.set(1);
        }
    }
}

pub struct AvatarService {
    upstream: Arc<dyn AvatarUpstream>,
    initials: Arc<InitialsService>,
    answers: moka::future::Cache<UpstreamRequest, Arc<CachedAnswer>>,
    /// Pictures kept for `ttl_stale` after they were fetched, served when a refresh fails.
    known_pictures: moka::future::Cache<UpstreamRequest, Arc<CachedAnswer>>,
    breaker: Breaker,
    ttl_hit: Duration,
    ttl_miss: Duration,
    ttl_fallback: u64,
    upstream_requests: IntCounterVec,
    /// Resolved once: the hit path touches no label map.
    lookups: CacheLookups,
}

impl AvatarService {
    /// `cache_bytes` bounds both caches together: three quarters for answers, one quarter for
    /// stale pictures (which mostly share their bytes with the answers anyway).
    pub fn new(
        settings: &GravatarSettings,
        upstream: Arc<dyn AvatarUpstream>,
        initials: Arc<InitialsService>,
        metrics: &Metrics,
    ) -> Result<Self, prometheus::Error> {
        let ttl_hit = Duration::from_secs(settings.ttl_hit);
        let ttl_miss = Duration::from_secs(settings.ttl_miss);
        let answers = moka::future::Cache::builder()
            .name("gravatar-answers")
            .max_capacity(settings.cache_bytes / 4 * 3)
            .weigher(weigh)
            .expire_after(AnswerExpiry {
                hit: ttl_hit,
                miss: ttl_miss,
            })
            .build();
        let known_pictures = moka::future::Cache::builder()
            .name("gravatar-stale")
            .max_capacity(settings.cache_bytes / 4)
            .weigher(weigh)
            .time_to_live(ttl_hit + Duration::from_secs(settings.ttl_stale))
            .build();
        let upstream_requests = IntCounterVec::new(
            Opts::new(
                "gravatar_upstream_requests_total",
                "Gravatar upstream requests by outcome",
            ),
            &["outcome"],
        )?;
        let lookups = CacheLookups::register(
            metrics,
            "gravatar_cache_lookups_total",
            "Gravatar answer cache lookups by result",
        )?;
        let state = IntGauge::new(
            "gravatar_circuit_open",
            "1 while the Gravatar circuit breaker skips the upstream",
        )?;
        metrics.register(&upstream_requests)?;
        metrics.register(&state)?;
        let (recent, kept) = (answers.clone(), known_pictures.clone());
        metrics.watch_cache("gravatar", move || {
            crate::metrics::settle(recent.run_pending_tasks());
            crate::metrics::settle(kept.run_pending_tasks());
            (
                recent.entry_count() + kept.entry_count(),
                recent.weighted_size() + kept.weighted_size(),
            )
        });
        Ok(Self {
            upstream,
            initials,
            answers,
            known_pictures,
            breaker: Breaker {
                threshold: settings.breaker_failures,
                cooldown: Duration::from_secs(settings.breaker_cooldown_secs),
                epoch: Instant::now(),
                failures: AtomicU32::new(0),
                open_until_ms: AtomicU64::new(0),
                state,
            },
            ttl_hit,
            ttl_miss,
            ttl_fallback: settings.ttl_fallback,
            upstream_requests,
            lookups,
        })
    }

    /// The picture to serve for `request`: Gravatar's, a stale one, or the fallback.
    pub async fn resolve(&self, request: &AvatarRequest) -> Result<ResolvedAvatar, AvatarError> {
        let Some(key) = request.upstream() else {
            // Forced default drawn here: deterministic, so it may be kept as long as a hit.
            return self.fallback(request, self.ttl_hit.as_secs(), None).await;
        };
        match self.lookup(&key).await {
            Ok(answer) => {
                let ttl = if answer.picture.is_some() {
                    self.ttl_hit
                } else {
                    self.ttl_miss
                };
                let max_age = ttl.saturating_sub(answer.fetched_at.elapsed()).as_secs();
                match &answer.picture {
                    Some(picture) => Ok(ResolvedAvatar {
                        picture: picture.clone(),
                        source: AvatarSource::Gravatar,
                        max_age,
                    }),
                    None => self.fallback(request, max_age, None).await,
                }
            }
            Err(error) => {
                // The failure itself is logged once per upstream call, in `fetch`.
                tracing::debug!(hash = &key.hash[..8], %error, "serving without gravatar");
                if let Some(stale) = self.known_pictures.get(&key).await
                    && let Some(picture) = &stale.picture
                {
                    return Ok(ResolvedAvatar {
                        picture: picture.clone(),
                        source: AvatarSource::Gravatar,
                        max_age: self.ttl_fallback,
                    });
                }
                self.fallback(request, self.ttl_fallback, Some(error)).await
            }
        }
    }

    /// The cached answer, or one upstream request shared by every concurrent caller.
    async fn lookup(&self, key: &UpstreamRequest) -> Result<Arc<CachedAnswer>, Arc<LookupError>> {
        let missed = MissFlag::default();
        let result = self
            .answers
            .try_get_with_by_ref(key, async {
                missed.mark();
                self.fetch(key).await
            })
            .await;
        self.lookups.record(&missed);
        result
    }

    async fn fetch(&self, key: &UpstreamRequest) -> Result<Arc<CachedAnswer>, LookupError> {
        if !self.breaker.allows() {
            self.upstream_requests
                .with_label_values(&["skipped_circuit_open"])
                .inc();
            return Err(LookupError::CircuitOpen);
        }
        let result = self.upstream.fetch(key).await;
        let outcome = match &result {
            Ok(UpstreamAnswer::Picture { .. }) => "picture",
            Ok(UpstreamAnswer::NoPicture) => "no_picture",
            Err(UpstreamError::Unavailable(_)) => "unavailable",
            Err(UpstreamError::Rejected(_)) => "rejected",
        };
        self.upstream_requests.with_label_values(&[outcome]).inc();
        let picture = match result {
            Ok(UpstreamAnswer::Picture {
                bytes,
                content_type,
            }) => Some(RenderedPicture {
                etag: etag_of(&bytes),
                bytes,
                content_type,
            }),
            Ok(UpstreamAnswer::NoPicture) => None,
            // The upstream works but this picture is unusable (too large, not an image): kept
            // as "no picture" so that it is not downloaded again on every request.
            Err(UpstreamError::Rejected(reason)) => {
                tracing::info!(hash = &key.hash[..8], %reason, "gravatar answer refused");
                None
            }
            Err(error) => {
                tracing::warn!(hash = &key.hash[..8], %error, "gravatar request failed");
                self.breaker.failed();
                return Err(error.into());
            }
        };
        self.breaker.succeeded();
        let answer = Arc::new(CachedAnswer {
            picture,
            fetched_at: Instant::now(),
        });
        if answer.picture.is_some() {
            self.known_pictures
                .insert(key.clone(), answer.clone())
                .await;
        } else {
            // A picture the user removed must never come back as a stale answer.
            self.known_pictures.invalidate(key).await;
        }
        Ok(answer)
    }

    /// What is served when Gravatar has no picture (`cause` = `None`) or could not be asked.
    async fn fallback(
        &self,
        request: &AvatarRequest,
        max_age: u64,
        cause: Option<Arc<LookupError>>,
    ) -> Result<ResolvedAvatar, AvatarError> {
        match (request.default, cause) {
            (DefaultPicture::NotFound, None) => Err(AvatarError::NotFound),
            (DefaultPicture::NotFound, Some(cause)) => Err(AvatarError::Unavailable(cause)),
            // A built-in default is Gravatar's to draw; when it cannot, initials stand in.
            (DefaultPicture::Initials | DefaultPicture::BuiltIn(_), _) => {
                let mut spec = InitialsSpec::new(request.fallback_text.clone(), request.size);
                spec.length = request.fallback_length;
                Ok(ResolvedAvatar {
                    picture: self.initials.render(&spec).await?,
                    source: AvatarSource::Fallback,
                    max_age,
                })
            }
        }
    }
}

/// A strong ETag from the bytes.
fn etag_of(bytes: &Bytes) -> String {
    let digest = Sha256::digest(bytes);
    format!("\"g-{}\"", hex::encode(&digest[..16]))
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
