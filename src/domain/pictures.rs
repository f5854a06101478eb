//! Serving stored pictures: the master as stored, or a square variant resized from it and kept
//! in a byte-bounded cache. Sizes snap up to a fixed set of buckets so the cache stays bounded.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::domain::cache::{Weighed, WeighedCache};
use crate::domain::image::{self, ImageError, PipelineRunner, WorkerError};
use crate::domain::picture::{EncodedPicture, now_or_stand_in};
use crate::ports::{ObjectKey, ObjectStore, StoreError};
use crate::vocabulary::Format;

/// Why a stored picture was not served. `Clone`: one failed load is shared by every request
/// that waited for it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum PictureError {
    #[error("no picture at that key")]
    NotFound,
    #[error("cannot read the picture from storage")]
    Storage(#[source] StoreError),
    /// A stored master that cannot be resized or encoded (a corrupt object).
    #[error("the stored picture cannot be resized")]
    Resize(#[source] ImageError),
    #[error("the resize did not run")]
    Worker(#[source] WorkerError),
}

impl From<StoreError> for PictureError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            other => Self::Storage(other),
        }
    }
}

/// How stored pictures are served (from `pictures.*` and `limits.master_size`).
#[derive(Clone, Debug)]
pub struct PictureConfig {
    /// The edges variants snap up to.
    pub sizes: Vec<u32>,
    /// The edge of every stored master.
    pub master_size: u32,
    /// Also write encoded variants to storage next to their master.
    pub store_variants: bool,
}

/// Where a variant is kept in storage (`pictures.store_variants`): next to its master, under the
/// user's prefix, named `{sha256}.{edge}.{ext}` (never a master's `{sha256}.{ext}`, so it is
/// never served as one, and a delete of the user's prefix takes it along).
pub fn variant_key(master: &ObjectKey, edge: u32, format: Format) -> Option<ObjectKey> {
    let (stem, _) = master.as_str().rsplit_once('.')?;
    ObjectKey::parse(&format!("{stem}.{edge}.{}", format.extension())).ok()
}

impl Weighed for ObjectKey {
    fn heap_bytes(&self) -> usize {
        self.as_str().len()
    }
}

/// A master, an edge and a format.
type VariantId = (ObjectKey, u32, Format);

/// Encoded variants by (master key, edge, format), weighed in bytes. Cheap to clone (a handle).
#[derive(Clone)]
pub struct VariantCache {
    cache: WeighedCache<VariantId, EncodedPicture>,
}

impl VariantCache {
    /// `ttl` bounds how long another instance keeps serving a deleted picture's variants.
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        Self {
            cache: WeighedCache::new("picture-variants", max_bytes, Some(ttl)),
        }
    }

    /// The cache, for its metrics.
    pub fn cache(&self) -> &WeighedCache<VariantId, EncodedPicture> {
        &self.cache
    }

    /// Drops the variants of every key under `prefix` (after a delete or cleanup in this
    /// process; other instances keep theirs until evicted or `pictures.cache_ttl_secs` old).
    pub fn forget_prefix(&self, prefix: &str) {
        let prefix = prefix.to_owned();
        self.cache
            .invalidate_if(move |(key, _, _)| key.starts_with(&prefix));
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
        config: PictureConfig,
        store: Arc<dyn ObjectStore>,
        runner: Arc<PipelineRunner>,
        variants: VariantCache,
    ) -> Self {
        let PictureConfig {
            mut sizes,
            master_size,
            store_variants,
        } = config;
        sizes.sort_unstable();
        sizes.dedup();
        Self {
            encoder: VariantEncoder {
                store,
                runner,
                variants,
                store_variants,
            },
            sizes,
            master_size,
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
    ) -> Result<EncodedPicture, PictureError> {
        let (stem, stored) = parse_name(key).ok_or(PictureError::NotFound)?;
        let edge = self.snap(size);
        let format = format.unwrap_or(stored);
        if edge.is_none() && format == stored {
            let bytes = self.encoder.store.get(key).await?;
            return Ok(EncodedPicture::new(bytes, format, format!("\"{stem}\"")));
        }
        let edge = edge.unwrap_or(self.master_size);
        let encoder = &self.encoder;
        now_or_stand_in(
            format,
            edge,
            || encoder.is_cached(key, edge, format),
            |format| encoder.variant(key, edge, format),
            || {
                let (encoder, key) = (encoder.clone(), key.clone());
                async move { encoder.variant(&key, edge, format).await }
            },
        )
        .await
    }
}

impl VariantEncoder {
    fn is_cached(&self, key: &ObjectKey, edge: u32, format: Format) -> bool {
        self.variants.cache.contains(&(key.clone(), edge, format))
    }

    /// One load per (key, edge, format) and instance, shared by concurrent callers.
    async fn variant(
        &self,
        key: &ObjectKey,
        edge: u32,
        format: Format,
    ) -> Result<EncodedPicture, PictureError> {
        self.variants
            .cache
            .get_or_load(&(key.clone(), edge, format), async {
                let bytes = self.load(key, edge, format).await?;
                let (stem, stored) = parse_name(key).ok_or(PictureError::NotFound)?;
                // The stored format keeps the ETags that variants had before formats were
                // negotiated.
                let etag = if format == stored {
                    format!("\"{stem}-{edge}\"")
                } else {
                    format!("\"{stem}-{edge}.{format}\"")
                };
                Ok(EncodedPicture::new(bytes, format, etag))
            })
            .await
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
                    tracing::warn!(error = %crate::vocabulary::ErrorChain(&error), key = %at, "cannot read a stored variant; encoding it");
                }
            }
        }
        let master = self.store.get(key).await?;
        let encoded = self
            .runner
            .run(move || image::master_variant(&master, edge, format))
            .await
            .map_err(PictureError::Worker)?
            .map_err(PictureError::Resize)?;
        let bytes = Bytes::from(encoded.bytes);
        if let Some(at) = stored_at
            && let Err(error) = self
                .store
                .put(&at, bytes.clone(), format.content_type())
                .await
        {
            // The variant is served all the same; the next cold instance encodes it again.
            tracing::warn!(error = %crate::vocabulary::ErrorChain(&error), key = %at, "cannot store a variant");
        }
        Ok(bytes)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::parse(&format!("u/0123456789abcdef0123456789abcdef/{name}")).expect("key")
    }

    const SHA: &str = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000";

    #[test]
    fn sizes_snap_up_to_a_bucket_and_never_past_the_master() {
        let config = PictureConfig {
            sizes: vec![256, 64, 128, 64],
            master_size: 512,
            store_variants: false,
        };
        let store: Arc<dyn ObjectStore> = Arc::new(NoStore);
        let runner = Arc::new(PipelineRunner::new(1, Duration::from_secs(1)));
        let service = PictureService::new(
            config,
            store,
            runner,
            VariantCache::new(1 << 20, Duration::from_secs(1)),
        );
        let cases = [
            (None, None),
            (Some(16), Some(64)),
            (Some(64), Some(64)),
            (Some(65), Some(128)),
            (Some(256), Some(256)),
            (Some(300), None),
            (Some(512), None),
            (Some(1024), None),
        ];
        for (asked, served) in cases {
            assert_eq!(service.snap(asked), served, "{asked:?}");
        }
    }

    #[test]
    fn only_hash_named_jpeg_and_png_masters_are_pictures() {
        assert_eq!(
            parse_name(&key(&format!("{SHA}.jpg"))),
            Some((SHA, Format::Jpeg))
        );
        assert_eq!(
            parse_name(&key(&format!("{SHA}.png"))),
            Some((SHA, Format::Png))
        );
        for name in [
            format!("{SHA}.webp"),
            format!("{}.jpg", &SHA[1..]),
            "not-a-hash.jpg".to_owned(),
            SHA.to_owned(),
        ] {
            assert_eq!(parse_name(&key(&name)), None, "{name}");
        }
    }

    #[test]
    fn a_variant_lives_beside_its_master_under_a_name_no_master_has() {
        let master = key(&format!("{SHA}.jpg"));
        let variant = variant_key(&master, 128, Format::Webp).expect("key");
        assert_eq!(
            variant.as_str(),
            format!("u/0123456789abcdef0123456789abcdef/{SHA}.128.webp")
        );
        assert_eq!(parse_name(&variant), None, "never served as a master");
    }

    #[tokio::test]
    async fn forgetting_a_prefix_drops_its_variants_only() {
        let variants = VariantCache::new(1 << 20, Duration::from_secs(60));
        let picture = || EncodedPicture::new(Bytes::from_static(b"webp"), Format::Webp, "\"v\"");
        let mine = ObjectKey::parse(&format!("u/aa/{SHA}.jpg")).expect("key");
        let theirs = ObjectKey::parse(&format!("u/bb/{SHA}.jpg")).expect("key");
        for master in [&mine, &theirs] {
            variants
                .cache
                .insert((master.clone(), 64, Format::Webp), picture())
                .await;
        }
        variants.forget_prefix("u/aa/");
        variants.cache.settle().await;
        assert!(!variants.cache.contains(&(mine, 64, Format::Webp)));
        assert!(variants.cache.contains(&(theirs, 64, Format::Webp)));
    }

    #[test]
    fn a_key_weighs_its_bytes() {
        assert_eq!(key(&format!("{SHA}.jpg")).heap_bytes(), 35 + 64 + 4);
    }

    struct NoStore;

    #[async_trait::async_trait]
    impl ObjectStore for NoStore {
        async fn put(&self, _: &ObjectKey, _: Bytes, _: &str) -> Result<(), StoreError> {
            Err(StoreError::NotFound)
        }
        async fn get(&self, _: &ObjectKey) -> Result<Bytes, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn exists(&self, _: &ObjectKey) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn list_objects(
            &self,
            _: &str,
        ) -> Result<Vec<crate::ports::StoredObject>, StoreError> {
            Ok(Vec::new())
        }
        async fn delete(&self, _: &ObjectKey) -> Result<(), StoreError> {
            Ok(())
        }
        async fn health_check(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }
}
