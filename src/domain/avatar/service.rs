//! The avatar service: the answer cache with single flight, size buckets resized here, stale
//! pictures, the gate and the breaker in front of the upstream, and the fallbacks.
//!
//! Answers ("a picture", "no Gravatar") live in a `moka` cache weighed in bytes with a lifetime
//! per entry; concurrent misses for one key make one upstream request (`try_get_with`), and
//! upstream errors are never cached as answers (an unusable picture, too large or not an image,
//! is kept as "no picture"). Gravatar is asked only for the configured size buckets; every other
//! edge is resized here from its bucket and kept in a second cache of derived pictures. Known
//! pictures are also kept a while longer so that a failed refresh serves the stale picture.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::breaker::Breaker;
use super::cache_policy::{AnswerExpiry, CachedAnswer, UpstreamPicture, UpstreamSizes, VariantKey};
use super::color::{color_of, plain_square};
use super::gate::UpstreamGate;
use super::request::{AvatarRequest, DefaultPicture};
use super::{
    AvatarConfig, AvatarError, AvatarSource, AvatarStats, LookupError, ResolvedAvatar, UploadsFirst,
};
use crate::domain::cache::{CacheLookups, CacheUsage, WeighedCache};
use crate::domain::image::{PipelineRunner, resize_square};
use crate::domain::picture::{EncodedPicture, stand_in};
use crate::domain::placeholder::{InitialsService, InitialsSpec, RenderError};
use crate::ports::upstream::{AvatarUpstream, UpstreamAnswer, UpstreamError, UpstreamRequest};
use crate::vocabulary::{ErrorChain, Format, PICTURE_EDGES};

/// Largest upstream picture decoded for resizing (Gravatar serves at most 2048 px).
const MAX_SOURCE_EDGE: u32 = 4096;

pub struct AvatarService {
    upstream: Arc<dyn AvatarUpstream>,
    initials: Arc<InitialsService>,
    answers: WeighedCache<UpstreamRequest, Arc<CachedAnswer>>,
    /// Pictures kept for `ttl_stale` after they were fetched, served when a refresh fails.
    known_pictures: WeighedCache<UpstreamRequest, Arc<CachedAnswer>>,
    /// Pictures derived here (resized buckets, resized fallbacks, colour squares).
    variants: WeighedCache<VariantKey, EncodedPicture>,
    /// The shared image pool: bounds the CPU and transient memory of resizes.
    runner: Arc<PipelineRunner>,
    sizes: UpstreamSizes,
    gate: UpstreamGate,
    breaker: Breaker,
    expiry: AnswerExpiry,
    ttl_fallback: u64,
    stats: AvatarStats,
    uploads_first: Option<UploadsFirst>,
}

impl AvatarService {
    /// `config.cache_bytes` bounds the three caches together: half for answers, a quarter for
    /// pictures derived here, a quarter for stale pictures (which mostly share their bytes with
    /// the answers anyway).
    pub fn new(
        config: &AvatarConfig,
        upstream: Arc<dyn AvatarUpstream>,
        initials: Arc<InitialsService>,
        runner: Arc<PipelineRunner>,
        uploads_first: Option<UploadsFirst>,
    ) -> Self {
        let expiry = AnswerExpiry {
            hit: config.ttl_hit,
            miss: config.ttl_miss,
        };
        let answers = WeighedCache::with_expiry("gravatar-answers", config.cache_bytes / 2, expiry);
        let known_pictures = WeighedCache::new(
            "gravatar-stale",
            config.cache_bytes / 4,
            Some(config.ttl_hit + config.ttl_stale),
        );
        // Derived from a source that lives at most ttl_hit; a variant never outlives it by more.
        let variants = WeighedCache::new(
            "gravatar-variants",
            config.cache_bytes / 4,
            Some(config.ttl_hit),
        );
        let stats = AvatarStats::default();
        Self {
            upstream,
            initials,
            answers,
            known_pictures,
            variants,
            runner,
            sizes: UpstreamSizes::new(&config.upstream_sizes),
            gate: UpstreamGate::new(
                config.max_concurrent_requests,
                config.requests_per_sec,
                config.requests_burst,
            ),
            breaker: Breaker::new(
                config.breaker_failures,
                config.breaker_cooldown,
                stats.circuit_open.clone(),
            ),
            expiry,
            ttl_fallback: config.ttl_fallback.as_secs(),
            stats,
            uploads_first,
        }
    }

    /// Upstream outcomes and the breaker's state, for the metrics.
    pub fn stats(&self) -> &AvatarStats {
        &self.stats
    }

    /// Lookups of the answer cache (the one a request consults first).
    pub fn lookups(&self) -> &CacheLookups {
        self.answers.lookups()
    }

    /// The three caches together.
    pub fn usage(&self) -> CacheUsage {
        self.answers.usage() + self.known_pictures.usage() + self.variants.usage()
    }

    /// The picture to serve for `request`: the user's upload, Gravatar's, a stale one, or the
    /// fallback.
    pub async fn resolve(&self, request: &AvatarRequest) -> Result<ResolvedAvatar, AvatarError> {
        if let Some(uploaded) = self.uploaded(request).await {
            return Ok(uploaded);
        }
        let bucket = self.sizes.for_edge(request.size);
        let Some(key) = request.upstream_at(bucket) else {
            // Forced default drawn here: deterministic, so it may be kept as long as a hit.
            return self
                .fallback(request, self.expiry.hit.as_secs(), None)
                .await;
        };
        match self.lookup(&key).await {
            Ok(answer) => {
                let ttl = self.expiry.ttl(&answer);
                let max_age = ttl.saturating_sub(answer.fetched_at.elapsed()).as_secs();
                match &answer.picture {
                    Some(upstream) => match self.sized(upstream, request.size).await {
                        Some(picture) => Ok(ResolvedAvatar {
                            picture,
                            source: AvatarSource::Gravatar,
                            max_age,
                        }),
                        None => self.fallback(request, max_age, None).await,
                    },
                    None => self.fallback(request, max_age, None).await,
                }
            }
            Err(error) => {
                // The failure itself is logged once per upstream call, in `fetch`.
                tracing::debug!(hash = &key.hash[..8], %error, "serving without gravatar");
                if let Some(stale) = self.known_pictures.get(&key).await
                    && let Some(upstream) = &stale.picture
                    && let Some(picture) = self.sized(upstream, request.size).await
                {
                    return Ok(ResolvedAvatar {
                        picture,
                        source: AvatarSource::Gravatar,
                        max_age: self.ttl_fallback,
                    });
                }
                self.fallback(request, self.ttl_fallback, Some(error)).await
            }
        }
    }

    /// The picture uploaded by the user whose verified email has the request's hash, resized as
    /// `/pictures` resizes; `None` (Gravatar is asked) without one, with `f=y`, or when it cannot
    /// be read now (an `<img>` never breaks for a storage hiccup).
    async fn uploaded(&self, request: &AvatarRequest) -> Option<ResolvedAvatar> {
        let first = self.uploads_first.as_ref()?;
        let hash = request.hash.as_deref().filter(|_| !request.force_default)?;
        let key = match first.directory.upload_for(hash).await {
            Ok(key) => key?,
            Err(error) => {
                tracing::warn!(hash = &hash[..8], error = %ErrorChain(&error), "cannot look up an upload; asking Gravatar");
                return None;
            }
        };
        match first
            .pictures
            .get(&key, Some(request.size), request.upload_format)
            .await
        {
            Ok(picture) => Some(ResolvedAvatar {
                picture,
                source: AvatarSource::Upload,
                max_age: first.max_age,
            }),
            Err(error) => {
                tracing::warn!(hash = &hash[..8], error = %ErrorChain(&error), "cannot serve an upload; asking Gravatar");
                None
            }
        }
    }

    /// The upstream picture at `edge`: its own bytes when it already is that square, else a
    /// resized copy (kept in `variants`); `None` when it cannot be decoded.
    async fn sized(&self, upstream: &UpstreamPicture, edge: u32) -> Option<EncodedPicture> {
        if upstream.square_edge == Some(edge) {
            return Some(upstream.picture.clone());
        }
        match self.resized(&upstream.picture, edge, None).await {
            Ok(picture) => Some(picture),
            Err(error) => {
                tracing::info!(error = %ErrorChain(&error), "gravatar picture cannot be resized");
                None
            }
        }
    }

    /// `source` resized to `edge` (in `format`, else its own family: JPEG stays JPEG, the rest
    /// becomes PNG), once per instance and kept while it is used.
    async fn resized(
        &self,
        source: &EncodedPicture,
        edge: u32,
        format: Option<Format>,
    ) -> Result<EncodedPicture, RenderError> {
        let source = source.clone();
        let own = format.unwrap_or(source.format);
        self.variants
            .get_or_load(&(source.etag.clone(), edge, own), async move {
                let resized = self
                    .runner
                    .run(move || resize_square(&source.bytes, edge, MAX_SOURCE_EDGE, format))
                    .await
                    .map_err(RenderError::Worker)?
                    .map_err(|e| RenderError::Encode(Arc::new(e)))?;
                Ok(exact_picture(resized.bytes, resized.format))
            })
            .await
    }

    /// The cached answer, or one upstream request shared by every concurrent caller.
    async fn lookup(&self, key: &UpstreamRequest) -> Result<Arc<CachedAnswer>, LookupError> {
        self.answers
            .get_or_load(key, async {
                if let Some(known) = self.known_elsewhere(key).await {
                    return Ok(known);
                }
                self.fetch(key).await
            })
            .await
    }

    /// "No Gravatar" already learnt at another size bucket: the same for every size.
    async fn known_elsewhere(&self, key: &UpstreamRequest) -> Option<Arc<CachedAnswer>> {
        if key.default != "404" {
            return None;
        }
        for size in self.sizes.others(key.size) {
            let other = UpstreamRequest {
                size,
                ..key.clone()
            };
            if let Some(answer) = self.answers.get(&other).await
                && answer.picture.is_none()
            {
                return Some(answer);
            }
        }
        None
    }

    async fn fetch(&self, key: &UpstreamRequest) -> Result<Arc<CachedAnswer>, LookupError> {
        let outcomes = &self.stats.upstream;
        if !self.breaker.allows() {
            outcomes.skipped_circuit_open.inc();
            return Err(LookupError::CircuitOpen);
        }
        let _permit = self.gate.try_enter().map_err(|refusal| {
            outcomes.skipped(refusal).inc();
            LookupError::Throttled(refusal)
        })?;
        let result = self.upstream.fetch(key).await;
        match &result {
            Ok(UpstreamAnswer::Picture { .. }) => outcomes.picture.inc(),
            Ok(UpstreamAnswer::NoPicture) => outcomes.no_picture.inc(),
            Err(UpstreamError::Unavailable(_)) => outcomes.unavailable.inc(),
            Err(UpstreamError::Rejected(_)) => outcomes.rejected.inc(),
        }
        let picture = match result {
            Ok(UpstreamAnswer::Picture { bytes, format }) => Some(UpstreamPicture {
                square_edge: square_edge(&bytes),
                picture: EncodedPicture::new(bytes.clone(), format, etag_of(&bytes)),
            }),
            Ok(UpstreamAnswer::NoPicture) => None,
            // The upstream works but this picture is unusable (too large, not an image): kept
            // as "no picture" so that it is not downloaded again on every request.
            Err(UpstreamError::Rejected(reason)) => {
                tracing::info!(hash = &key.hash[..8], reason = %ErrorChain(&reason), "gravatar answer refused");
                None
            }
            Err(error) => {
                tracing::warn!(hash = &key.hash[..8], error = %ErrorChain(&error), "gravatar request failed");
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
        cause: Option<LookupError>,
    ) -> Result<ResolvedAvatar, AvatarError> {
        let picture = match (request.default, cause) {
            (DefaultPicture::NotFound, None) => return Err(AvatarError::NotFound),
            (DefaultPicture::NotFound, Some(cause)) => {
                return Err(AvatarError::Unavailable(cause));
            }
            (DefaultPicture::Color, _) => self.color_square(request).await?,
            // A built-in default is Gravatar's to draw; when it cannot, initials stand in.
            (DefaultPicture::Initials | DefaultPicture::BuiltIn(_), _) => {
                self.initials_at(request).await?
            }
        };
        Ok(ResolvedAvatar {
            picture,
            source: AvatarSource::Fallback,
            max_age,
        })
    }

    /// The initials fallback at the asked edge: the renderer's own picture within its range
    /// (byte-identical to `/initials`), else the nearest edge it draws, resized.
    async fn initials_at(&self, request: &AvatarRequest) -> Result<EncodedPicture, AvatarError> {
        let drawn = request
            .size
            // The renderer draws PICTURE_EDGES; fallbacks outside are drawn at the nearest and resized.
            .clamp(PICTURE_EDGES.min, PICTURE_EDGES.max);
        let mut spec = InitialsSpec::new(request.fallback_text.clone(), drawn);
        spec.length = request.fallback_length;
        if drawn == request.size {
            spec.format = request.fallback_format;
            return Ok(self.initials.render(&spec).await?);
        }
        // Resized from the PNG; a size too large for AVIF to wait for gets the next format.
        let rendered = self.initials.render(&spec).await?;
        let format = request.fallback_format;
        let format = stand_in(format, request.size).unwrap_or(format);
        Ok(self.resized(&rendered, request.size, Some(format)).await?)
    }

    /// `d=color`: one colour, any edge, kept with the other derived pictures. Always a 1-bit
    /// PNG: a few hundred bytes at any size, smaller than any AVIF or WebP of it.
    async fn color_square(&self, request: &AvatarRequest) -> Result<EncodedPicture, AvatarError> {
        let color = color_of(request.color_text());
        let key = (
            format!("\"c-{}\"", color.css()).into(),
            request.size,
            Format::Png,
        );
        let size = request.size;
        Ok(self
            .variants
            .get_or_load(&key, async move {
                plain_square(color, size).map(|png| exact_picture(png, Format::Png))
            })
            .await?)
    }
}

/// A picture from freshly encoded, exactly sized bytes.
fn exact_picture(mut bytes: Vec<u8>, format: Format) -> EncodedPicture {
    bytes.shrink_to_fit();
    let bytes = Bytes::from(bytes);
    let etag = etag_of(&bytes);
    EncodedPicture::new(bytes, format, etag)
}

/// The edge of a square picture, read from its header only; `None` when not square or unread.
fn square_edge(bytes: &Bytes) -> Option<u32> {
    let (width, height) = image::ImageReader::new(Cursor::new(bytes.as_ref()))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()?;
    (width == height).then_some(width)
}

/// A strong ETag from the bytes.
fn etag_of(bytes: &Bytes) -> bytestring::ByteString {
    let digest = Sha256::digest(bytes);
    format!("\"g-{}\"", hex::encode(&digest[..16])).into()
}
