//! The one byte-weighed cache: `moka` with a weigher that counts what an entry really holds
//! (its key and value, their heap bytes and one measured per-entry overhead), hit and miss
//! counts, its size for the metrics, single-flight loads and one way to share a failed load.
//!
//! Every in-memory cache of pictures (initials, Gravatar answers and their resized copies,
//! stored-picture variants) is one of these, so that `*.cache_bytes` bounds resident memory the
//! same way everywhere (`tests/memory_bound.rs` checks each against its setting).

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use moka::Expiry;

use crate::domain::counts::Count;
use crate::vocabulary::Format;

/// Resident bytes of one entry beyond its key and value (their inline size and the heap bytes
/// [`Weighed::heap_bytes`] counts): moka's node, its hash-table slot, access-order and
/// write-order links, the timer-wheel entry of caches with a lifetime, the `Arc`s around them,
/// and the allocator's header and rounding of each heap part (key text, picture, ETag).
/// `cargo test --test memory_bound -- measure` measured 344 B for moka's part alone (a 16-byte
/// key, an empty value); with the heap parts of real entries, the three caches grew 1.03–1.11×
/// their bound at 512 (`cargo test --test memory_bound`, which fails at 0). See BENCHMARKS.md,
/// "What bounds memory".
pub const ENTRY_OVERHEAD: usize = 512;

/// What a cached key or value holds on the heap (its inline size is counted separately).
pub trait Weighed {
    fn heap_bytes(&self) -> usize;
}

impl Weighed for Bytes {
    fn heap_bytes(&self) -> usize {
        self.len()
    }
}

impl Weighed for ByteString {
    fn heap_bytes(&self) -> usize {
        self.len()
    }
}

impl Weighed for String {
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl Weighed for u32 {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl Weighed for Format {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl<T: Weighed> Weighed for Arc<T> {
    /// The shared value, counted in full in every cache that holds it (an upper bound).
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<T>() + (**self).heap_bytes()
    }
}

impl<A: Weighed, B: Weighed, C: Weighed> Weighed for (A, B, C) {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes() + self.1.heap_bytes() + self.2.heap_bytes()
    }
}

/// The weight of one entry, in bytes.
pub fn entry_weight<K: Weighed, V: Weighed>(key: &K, value: &V) -> u32 {
    let bytes = std::mem::size_of::<K>()
        + std::mem::size_of::<V>()
        + key.heap_bytes()
        + value.heap_bytes()
        + ENTRY_OVERHEAD;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// Lookups that found an entry, and lookups that had to load one.
#[derive(Clone, Debug, Default)]
pub struct CacheLookups {
    pub hits: Count,
    pub misses: Count,
}

/// Entries and weighed bytes right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUsage {
    pub entries: u64,
    pub bytes: u64,
}

impl std::ops::Add for CacheUsage {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            entries: self.entries + other.entries,
            bytes: self.bytes + other.bytes,
        }
    }
}

/// A cache of at most `max_bytes` weighed bytes. Cheap to clone: clones share the entries.
pub struct WeighedCache<K, V> {
    entries: moka::future::Cache<K, V>,
    lookups: CacheLookups,
}

impl<K, V> Clone for WeighedCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            lookups: self.lookups.clone(),
        }
    }
}

impl<K, V> WeighedCache<K, V>
where
    K: Hash + Eq + Weighed + Send + Sync + 'static,
    V: Clone + Weighed + Send + Sync + 'static,
{
    /// Entries live until evicted, or at most `ttl` when one is given.
    pub fn new(name: &str, max_bytes: u64, ttl: Option<Duration>) -> Self {
        let builder = Self::builder(name, max_bytes);
        let entries = match ttl {
            Some(ttl) => builder.time_to_live(ttl).build(),
            None => builder.build(),
        };
        Self::from_moka(entries)
    }

    /// Entries live as long as `expiry` says, each its own lifetime.
    pub fn with_expiry(
        name: &str,
        max_bytes: u64,
        expiry: impl Expiry<K, V> + Send + Sync + 'static,
    ) -> Self {
        Self::from_moka(Self::builder(name, max_bytes).expire_after(expiry).build())
    }

    fn builder(
        name: &str,
        max_bytes: u64,
    ) -> moka::future::CacheBuilder<K, V, moka::future::Cache<K, V>> {
        moka::future::Cache::builder()
            .name(name)
            .max_capacity(max_bytes)
            .weigher(entry_weight::<K, V>)
            .support_invalidation_closures()
    }

    fn from_moka(entries: moka::future::Cache<K, V>) -> Self {
        Self {
            entries,
            lookups: CacheLookups::default(),
        }
    }

    /// The cached value, or the one `load` gives, which is kept. Concurrent callers for one key
    /// share one load (single flight) and, when it fails, its error: every error of a cached
    /// load is `Clone` (causes behind `Arc`), and a failure is never cached.
    pub async fn get_or_load<Q, E>(
        &self,
        key: &Q,
        load: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E>
    where
        K: std::borrow::Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
        E: Clone + Send + Sync + 'static,
    {
        let missed = AtomicBool::new(false);
        let result = self
            .entries
            .try_get_with_by_ref(key, async {
                missed.store(true, Ordering::Relaxed);
                load.await
            })
            .await;
        if missed.load(Ordering::Relaxed) {
            self.lookups.misses.inc();
        } else {
            self.lookups.hits.inc();
        }
        result.map_err(Arc::unwrap_or_clone)
    }

    /// The cached value, if any (not counted as a lookup).
    pub async fn get(&self, key: &K) -> Option<V> {
        self.entries.get(key).await
    }

    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    pub async fn insert(&self, key: K, value: V) {
        self.entries.insert(key, value).await;
    }

    pub async fn invalidate(&self, key: &K) {
        self.entries.invalidate(key).await;
    }

    /// Drops every entry whose key matches (applied lazily by moka; lookups never see them).
    pub fn invalidate_if(&self, matches: impl Fn(&K) -> bool + Send + Sync + 'static) {
        if let Err(error) = self
            .entries
            .invalidate_entries_if(move |key, _| matches(key))
        {
            tracing::warn!(%error, "cannot invalidate cached entries");
        }
    }

    pub fn lookups(&self) -> &CacheLookups {
        &self.lookups
    }

    /// Entries and weighed bytes, after polling the cache's pending housekeeping once without
    /// waiting (its counts lag behind writes until it runs).
    pub fn usage(&self) -> CacheUsage {
        use futures_util::FutureExt;
        let _ = std::pin::pin!(self.entries.run_pending_tasks()).now_or_never();
        CacheUsage {
            entries: self.entries.entry_count(),
            bytes: self.entries.weighted_size(),
        }
    }

    /// Runs the pending housekeeping to the end (tests and measurements).
    pub async fn settle(&self) {
        self.entries.run_pending_tasks().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Failed(&'static str);

    fn bytes(n: usize) -> Bytes {
        Bytes::from(vec![7; n])
    }

    #[test]
    fn an_entry_weighs_its_key_value_heap_and_the_overhead() {
        let key = (ByteString::from("abcd"), 16_u32, Format::Png);
        let weight = entry_weight(&key, &bytes(1000));
        let inline =
            std::mem::size_of::<(ByteString, u32, Format)>() + std::mem::size_of::<Bytes>();
        assert_eq!(weight as usize, inline + 4 + 1000 + ENTRY_OVERHEAD);
        let shared = Arc::new(bytes(10));
        assert_eq!(
            entry_weight(&String::with_capacity(8), &shared) as usize,
            std::mem::size_of::<String>()
                + std::mem::size_of::<Arc<Bytes>>()
                + 8
                + std::mem::size_of::<Bytes>()
                + 10
                + ENTRY_OVERHEAD
        );
    }

    #[test]
    fn a_tuple_weighs_the_sum_of_its_parts() {
        let mut text = String::with_capacity(5);
        text.push('x');
        let key = (ByteString::from("ab"), bytes(3), text);
        assert_eq!(key.heap_bytes(), 2 + 3 + 5);
    }

    #[tokio::test]
    async fn loads_once_counts_hits_and_misses_and_never_keeps_a_failure() {
        let cache: WeighedCache<String, Bytes> = WeighedCache::new("test", 1 << 20, None);
        let key = "k".to_owned();
        let loaded = cache
            .get_or_load(&key, async { Ok::<_, Failed>(bytes(3)) })
            .await;
        assert_eq!(loaded, Ok(bytes(3)));
        let again = cache
            .get_or_load(&key, async { Err(Failed("must not run")) })
            .await;
        assert_eq!(again, Ok(bytes(3)), "a hit does not load");
        assert_eq!(
            (cache.lookups().hits.get(), cache.lookups().misses.get()),
            (1, 1)
        );
        let other = "other".to_owned();
        let failed = cache
            .get_or_load(&other, async { Err(Failed("down")) })
            .await;
        assert_eq!(failed, Err(Failed("down")));
        assert!(!cache.contains(&other), "a failure is not cached");
        let retried = cache
            .get_or_load(&other, async { Ok::<_, Failed>(bytes(1)) })
            .await;
        assert_eq!(retried, Ok(bytes(1)));
        assert_eq!(cache.lookups().misses.get(), 3);
    }

    #[tokio::test]
    async fn the_weighed_size_stays_within_the_bound() {
        let entry = entry_weight(&"k-0000".to_owned(), &bytes(1000));
        let max_bytes = u64::from(entry) * 10;
        let cache: WeighedCache<String, Bytes> = WeighedCache::new("test", max_bytes, None);
        for n in 0..100 {
            cache.insert(format!("k-{n:04}"), bytes(1000)).await;
        }
        cache.settle().await;
        let usage = cache.usage();
        assert!(usage.bytes <= max_bytes, "{usage:?} over {max_bytes}");
        assert!(usage.entries <= 10, "{usage:?}");
        assert!(usage.entries > 0, "{usage:?}");
    }

    #[tokio::test]
    async fn what_was_inserted_is_there_until_invalidated() {
        let cache: WeighedCache<String, Bytes> = WeighedCache::new("test", 1 << 20, None);
        let key = "u/a/1".to_owned();
        assert!(!cache.contains(&key));
        assert_eq!(cache.get(&key).await, None);
        cache.insert(key.clone(), bytes(2)).await;
        assert!(cache.contains(&key));
        assert_eq!(cache.get(&key).await, Some(bytes(2)));
        assert_eq!(
            (cache.lookups().hits.get(), cache.lookups().misses.get()),
            (0, 0),
            "get is not a counted lookup"
        );
    }

    #[tokio::test]
    async fn a_ttl_ends_an_entry() {
        let cache: WeighedCache<String, Bytes> =
            WeighedCache::new("test", 1 << 20, Some(Duration::from_millis(20)));
        let key = "k".to_owned();
        cache.insert(key.clone(), bytes(1)).await;
        // Waits for the condition, not for a fixed time: the entry goes once its TTL has passed.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while cache.get(&key).await.is_some() {
            assert!(std::time::Instant::now() < deadline, "never expired");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let lasting: WeighedCache<String, Bytes> = WeighedCache::new("test", 1 << 20, None);
        lasting.insert(key.clone(), bytes(1)).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(lasting.contains(&key), "without a TTL an entry stays");
    }

    #[test]
    fn usages_add_up() {
        let sum = CacheUsage {
            entries: 1,
            bytes: 10,
        } + CacheUsage {
            entries: 2,
            bytes: 20,
        };
        assert_eq!(
            sum,
            CacheUsage {
                entries: 3,
                bytes: 30
            }
        );
    }

    #[tokio::test]
    async fn invalidation_by_key_and_by_predicate() {
        let cache: WeighedCache<String, Bytes> = WeighedCache::new("test", 1 << 20, None);
        for key in ["u/a/1", "u/a/2", "u/b/1", "u/c/1"] {
            cache.insert(key.to_owned(), bytes(1)).await;
        }
        cache.invalidate(&"u/b/1".to_owned()).await;
        cache.invalidate_if(|key| key.starts_with("u/a/"));
        for key in ["u/a/1", "u/a/2", "u/b/1"] {
            assert_eq!(cache.get(&key.to_owned()).await, None, "{key}");
        }
        assert_eq!(
            cache.get(&"u/c/1".to_owned()).await,
            Some(bytes(1)),
            "others stay"
        );
    }
}
