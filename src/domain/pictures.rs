//! Serving stored pictures: the master as stored, or a square variant resized from it and kept
//! in a byte-bounded cache. Sizes snap up to a fixed set of buckets so the cache stays bounded.

use std::sync::Arc;

use bytes::Bytes;

use crate::domain::image::{self, Format, PipelineRunner};
use crate::metrics::{CacheLookups, Metrics, MissFlag};
use crate::ports::{ObjectKey, ObjectStore, StoreError};
use crate::settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("no picture at that key")]
    NotFound,
    #[error("storage failed: {0}")]
    Storage(#[source] StoreError),
    /// A stored master that cannot be resized or encoded (corrupt object, worker failure).
    #[error("the stored picture cannot be resized: {0}")]
    Resize(String),
}

impl PictureError {
    /// The same error again, for every caller that shared one failed cache load.
    fn shared(&self) -> Self {
        match self {
            Self::NotFound => Self::NotFound,
            Self::Storage(inner) => {
                Self::Storage(StoreError::Unavailable(inner.to_string().into()))
            }
            Self::Resize(message) => Self::Resize(message.clone()),
        }
    }
}

/// What to send back.
#[derive(Debug, Clone)]
pub struct Picture {
    pub bytes: Bytes,
    pub format: Format,
    /// Strong and quoted: the key's content hash, plus the edge and format for a variant.
    pub etag: bytestring::ByteString,
    /// A stand-in served while the asked format is encoded in the background (see
    /// [`Format::stand_in`]): cache it briefly, the next request gets the real one.
    pub provisional: bool,
}

/// Where a variant is kept in storage (`pictures.store_variants`): next to its master, under the
/// user's prefix, named `{sha256}.{edge}.{ext}` (never a master's `{sha256}.{ext}`, so it is
/// never served as one, and a delete of the user's prefix takes it along).
pub fn variant_key(master: &ObjectKey, edge: u32, format: Format) -> Option<ObjectKey> {
    let (stem, _) = master.as_str().rsplit_once('.')?;
    ObjectKey::parse(&format!("{stem}.{edge}.{}", format.extension())).ok()
}

/// Resident bytes of one variant entry beyond its picture and key text (moka's node and links,
/// the key's own allocation, allocator rounding): the same order as the initials cache's.
const VARIANT_ENTRY_OVERHEAD_BYTES: usize = 500;

/// A master, an edge and a format.
type VariantId = (ObjectKey, u32, Format);

/// Encoded variants by (master key, edge, format), weighed in bytes. Cheap to clone (a handle).
#[derive(Clone)]
pub struct VariantCache {
    cache: moka::future::Cache<VariantId, Bytes>,
    lookups: CacheLookups,
}

impl VariantCache {
    /// `ttl` bounds how long another instance keeps serving a deleted picture's variants.
    pub fn new(
        max_bytes: u64,
        ttl: std::time::Duration,
        metrics: &Metrics,
    ) -> Result<Self, prometheus::Error> {
        let cache = moka::future::Cache::builder()
            .max_capacity(max_bytes)
            .time_to_live(ttl)
            .weigher(|key: &VariantId, bytes: &Bytes| {
                let cost = bytes.len() + key.0.as_str().len() + VARIANT_ENTRY_OVERHEAD_BYTES;
                u32::try_from(cost).unwrap_or(u32::MAX)
            })
            .support_invalidation_closures()
            .build();
        let lookups = CacheLookups::register(
            metrics,
            "pictures_variant_cache_lookups_total",
            "Resized stored-picture cache lookups by result (hit or miss)",
        )?;
        let watched = cache.clone();
        metrics.watch_cache("picture_variants", move || {
            crate::metrics::settle(watched.run_pending_tasks());
            (watched.entry_count(), watched.weighted_size())
        });
        Ok(Self { cache, lookups })
    }

    /// Drops the variants of every key under `prefix` (after a delete or cleanup in this
    /// process; other instances keep theirs until evicted or `pictures.cache_ttl_secs` old).
    pub fn forget_prefix(&self, prefix: &str) {
        let prefix = prefix.to_owned();
        if let Err(err) = self
            .cache
            .invalidate_entries_if(move |(key, _, _), _| key.starts_with(&prefix))
        {
            tracing::warn!(error = %err, "cannot invalidate cached variants");
        }
    }
}

pub struct PictureService {
    encoder: VariantEncoder,
    /// Ascending, deduplicated.
    sizes: Vec<u32>,
    master_size: u32,
}

/// Makes variants: from the cache, from storage (`pictures.store_variants`), or encoded from the
/// master on the blocking pool. Cloned into background encodes.
#[derive(Clone)]
struct VariantEncoder {
    store: Arc<dyn ObjectStore>,
    runner: Arc<PipelineRunner>,
    variants: VariantCache,
    store_variants: bool,
}

impl PictureService {
    pub fn new(
        settings: &Settings,
        store: Arc<dyn ObjectStore>,
        runner: Arc<PipelineRunner>,
        variants: VariantCache,
    ) -> Self {
        let mut sizes = settings.pictures.sizes.clone();
        sizes.sort_unstable();
        sizes.dedup();
        Self {
            encoder: VariantEncoder {
                store,
                runner,
                variants,
                store_variants: settings.pictures.store_variants,
            },
            sizes,
            master_size: settings.limits.master_size,
        }
    }

    /// The edge actually served for a requested one: snapped up to the next bucket; `None`
    /// (the master) when no size is asked or the bucket is not below the master's edge (a master
    /// is never upscaled).
    pub fn snap(&self, requested: Option<u32>) -> Option<u32> {
        let requested = requested?;
        let bucket = self
            .sizes
            .iter()
            .copied()
            .find(|&s| s >= requested)
            .unwrap_or(self.master_size);
        (bucket < self.master_size).then_some(bucket)
    }

    /// The picture at `key`, at `size` (snapped, see [`Self::snap`]), in `format` (the stored
    /// one when `None`).
    pub async fn get(
        &self,
        key: &ObjectKey,
        size: Option<u32>,
        format: Option<Format>,
    ) -> Result<Picture, PictureError> {
        let (stem, stored) = parse_name(key).ok_or(PictureError::NotFound)?;
        let edge = self.snap(size);
        let mut format = format.unwrap_or(stored);
        if edge.is_none() && format == stored {
            let bytes = self.encoder.store.get(key).await.map_err(classify)?;
            return Ok(Picture {
                bytes,
                format,
                etag: format!("\"{stem}\"").into(),
                provisional: false,
            });
        }
        let edge = edge.unwrap_or(self.master_size);
        let mut provisional = false;
        if let Some(stand_in) = format.stand_in(edge)
            && !self.encoder.is_cached(key, edge, format)
        {
            // Too slow to wait for: encoded in the background (one encode however many requests
            // come meanwhile: the cache loads each variant once), the stand-in served now.
            let (encoder, key) = (self.encoder.clone(), key.clone());
            tokio::spawn(async move {
                if let Err(error) = encoder.variant(&key, edge, format).await {
                    tracing::warn!(%error, key = %key, "background encode failed");
                }
            });
            (format, provisional) = (stand_in, true);
        }
        let bytes = self.encoder.variant(key, edge, format).await?;
        // The stored format keeps the ETags that variants had before formats were negotiated.
        let etag = if format == stored {
            format!("\"{stem}-{edge}\"")
        } else {
            format!("\"{stem}-{edge}.{format}\"")
        };
        Ok(Picture {
            bytes,
            format,
            etag: etag.into(),
            provisional,
        })
    }
}

impl VariantEncoder {
    fn is_cached(&self, key: &ObjectKey, edge: u32, format: Format) -> bool {
        self.variants
            .cache
            .contains_key(&(key.clone(), edge, format))
    }

    /// One load per (key, edge, format) and instance, shared by concurrent callers.
    async fn variant(
        &self,
        key: &ObjectKey,
        edge: u32,
        format: Format,
    ) -> Result<Bytes, PictureError> {
        let missed = MissFlag::default();
        let bytes = self
            .variants
            .cache
            .try_get_with((key.clone(), edge, format), async {
                missed.mark();
                self.load(key, edge, format).await
            })
            .await;
        self.variants.lookups.record(&missed);
        bytes.map_err(|err| err.shared())
    }

    /// From storage when variants are stored there, else encoded (and stored, best effort).
    async fn load(
        &self,
        key: &ObjectKey,
        edge: u32,
        format: Format,
    ) -> Result<Bytes, PictureError> {
        let stored_at = self
            .store_variants
            .then(|| variant_key(key, edge, format))
            .flatten();
        if let Some(at) = &stored_at {
            match self.store.get(at).await {
                Ok(bytes) => return Ok(bytes),
                Err(StoreError::NotFound) => {}
                Err(error) => {
                    tracing::warn!(%error, key = %at, "cannot read a stored variant; encoding it");
                }
            }
        }
        let master = self.store.get(key).await.map_err(classify)?;
        let encoded = self
            .runner
            .run(move || image::master_variant(&master, edge, format))
            .await
            .map_err(|err| PictureError::Resize(err.to_string()))?
            .map_err(|err| PictureError::Resize(err.to_string()))?;
        let bytes = Bytes::from(encoded.bytes);
        if let Some(at) = stored_at
            && let Err(error) = self
                .store
                .put(&at, bytes.clone(), format.content_type())
                .await
        {
            // The variant is served all the same; the next cold instance encodes it again.
            tracing::warn!(%error, key = %at, "cannot store a variant");
        }
        Ok(bytes)
    }
}

fn classify(err: StoreError) -> PictureError {
    match err {
        StoreError::NotFound => PictureError::NotFound,
        other => PictureError::Storage(other),
    }
}

/// `…/{sha256}.{ext}` → the hash and the stored format; anything else is no picture of ours.
fn parse_name(key: &ObjectKey) -> Option<(&str, Format)> {
    let name = key.as_str().rsplit('/').next()?;
    let (stem, ext) = name.rsplit_once('.')?;
    let format = Format::from_name(ext).filter(|f| matches!(f, Format::Jpeg | Format::Png))?;
    let is_hash = stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit());
    is_hash.then_some((stem, format))
}
