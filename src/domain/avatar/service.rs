//! The avatar service: the answer cache with single flight, stale pictures, the breaker, and
//! the fallback.
//!
//! Answers ("a picture", "no Gravatar") live in a `moka` cache weighed in bytes with a lifetime
//! per entry; concurrent misses for one key make one upstream request (`try_get_with`), and
//! upstream errors are never cached as answers (an unusable picture, too large or not an image,
//! is kept as "no picture"). Known pictures are also kept a while longer so
//! that a failed refresh serves the stale picture; a small circuit breaker stops asking a
//! failing upstream for a cool-down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prometheus::{IntCounterVec, IntGauge, Opts};
use sha2::{Digest, Sha256};

use super::breaker::Breaker;
use super::cache_policy::{AnswerExpiry, CachedAnswer, weigh};
use super::request::{AvatarRequest, DefaultPicture};
use super::{AvatarError, AvatarSource, LookupError, ResolvedAvatar};
use crate::domain::placeholder::{InitialsService, InitialsSpec, RenderedPicture};
use crate::metrics::{CacheLookups, Metrics, MissFlag};
use crate::ports::upstream::{AvatarUpstream, UpstreamAnswer, UpstreamError, UpstreamRequest};
use crate::settings::Gravatar as GravatarSettings;

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
        Ok(Self {
            upstream,
            initials,
            answers,
            known_pictures,
            breaker: Breaker::new(
                settings.breaker_failures,
                Duration::from_secs(settings.breaker_cooldown_secs),
                state,
            ),
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
