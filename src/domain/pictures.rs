//! Serving stored pictures: the master as stored, or a square variant resized from it and kept
//! in a byte-bounded cache. Sizes snap up to a fixed set of buckets so the cache stays bounded.

use std::sync::Arc;

use bytes::Bytes;

use crate::domain::image::{self, StoredFormat};
use crate::domain::upload::{PipelineRunner, UploadError};
use crate::metrics::{CacheLookups, Metrics, MissFlag};
use crate::ports::{ObjectKey, ObjectStore, StoreError};
use crate::settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("no picture at that key")]
    NotFound,
    #[error("storage failed: {0}")]
    Storage(#[source] StoreError),
    /// A stored master that cannot be resized (corrupt object, worker failure).
    #[error("the stored picture cannot be resized: {0}")]
    Resize(String),
}

/// What to send back.
#[derive(Debug, Clone)]
pub struct Picture {
    pub bytes: Bytes,
    pub content_type: &'static str,
    /// Strong and quoted: the key's content hash, plus the edge for a variant.
    pub etag: bytestring::ByteString,
}

/// Resident bytes of one variant entry beyond its picture and key text (moka's node and links,
/// the key's own allocation, allocator rounding): the same order as the initials cache's.
const VARIANT_ENTRY_OVERHEAD_BYTES: usize = 500;

/// Resized variants by (key, edge), weighed in bytes. Cheap to clone (a handle).
#[derive(Clone)]
pub struct VariantCache {
    cache: moka::future::Cache<(ObjectKey, u32), Bytes>,
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
            .weigher(|key: &(ObjectKey, u32), bytes: &Bytes| {
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
            .invalidate_entries_if(move |(key, _), _| key.starts_with(&prefix))
        {
            tracing::warn!(error = %err, "cannot invalidate cached variants");
        }
    }
}

pub struct PictureService {
    store: Arc<dyn ObjectStore>,
    runner: Arc<PipelineRunner>,
    variants: VariantCache,
    /// Ascending, deduplicated.
    sizes: Vec<u32>,
    master_size: u32,
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
            store,
            runner,
            variants,
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

    pub async fn get(&self, key: &ObjectKey, size: Option<u32>) -> Result<Picture, PictureError> {
        let (stem, format) = parse_name(key).ok_or(PictureError::NotFound)?;
        let Some(edge) = self.snap(size) else {
            let bytes = self.store.get(key).await.map_err(classify)?;
            return Ok(Picture {
                bytes,
                content_type: format.content_type(),
                etag: format!("\"{stem}\"").into(),
            });
        };
        let missed = MissFlag::default();
        let bytes = self
            .variants
            .cache
            .try_get_with((key.clone(), edge), async {
                missed.mark();
                self.resize(key, edge).await
            })
            .await;
        self.variants.lookups.record(&missed);
        let bytes = bytes.map_err(|err| match &*err {
            PictureError::NotFound => PictureError::NotFound,
            PictureError::Storage(inner) => {
                PictureError::Storage(StoreError::Unavailable(inner.to_string().into()))
            }
            PictureError::Resize(message) => PictureError::Resize(message.clone()),
        })?;
        Ok(Picture {
            bytes,
            content_type: format.content_type(),
            etag: format!("\"{stem}-{edge}\"").into(),
        })
    }

    async fn resize(&self, key: &ObjectKey, edge: u32) -> Result<Bytes, PictureError> {
        let master = self.store.get(key).await.map_err(classify)?;
        let resized = self
            .runner
            .run(move || image::resize_master(&master, edge))
            .await
            .map_err(|err: UploadError| PictureError::Resize(err.to_string()))?;
        // Exactly sized: the encoder's buffer may hold up to twice the picture in capacity.
        Ok(Bytes::copy_from_slice(&resized.bytes))
    }
}

fn classify(err: StoreError) -> PictureError {
    match err {
        StoreError::NotFound => PictureError::NotFound,
        other => PictureError::Storage(other),
    }
}

/// `…/{sha256}.{ext}` → the hash and the stored format; anything else is no picture of ours.
fn parse_name(key: &ObjectKey) -> Option<(&str, StoredFormat)> {
    let name = key.as_str().rsplit('/').next()?;
    let (stem, ext) = name.rsplit_once('.')?;
    let format = StoredFormat::from_extension(ext)?;
    let is_hash = stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit());
    is_hash.then_some((stem, format))
}
