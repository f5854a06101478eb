//! How upstream answers and derived pictures are kept: which edges are asked upstream,
//! lifetimes per kind of answer, and what each entry weighs in bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::domain::image::Format;
use crate::domain::placeholder::RenderedPicture;
use crate::ports::upstream::UpstreamRequest;

/// Bytes an entry costs beyond its picture bytes and its key's heap text: moka's node and
/// timer-wheel bookkeeping, the key and value structs, the `Arc`, allocator rounding.
/// `tests::measure_entry_cost` measured 637 B of RSS per "no Gravatar" entry, whose only counted
/// bytes are the 64-byte hash: 573 B, rounded up (see BENCHMARKS.md).
pub(super) const ENTRY_OVERHEAD: usize = 576;

/// The edges Gravatar is asked for, ascending: a request takes the smallest one at least as
/// large as it asks, or the largest one, and is resized locally; so one hash costs at most
/// `len()` upstream calls (one when it has no Gravatar) whatever sizes pages ask for.
#[derive(Clone, Debug)]
pub(super) struct UpstreamSizes(Vec<u32>);

impl UpstreamSizes {
    pub(super) fn new(sizes: &[u32]) -> Self {
        let mut sizes = sizes.to_vec();
        sizes.sort_unstable();
        sizes.dedup();
        if sizes.is_empty() {
            sizes.push(512);
        }
        Self(sizes)
    }

    pub(super) fn for_edge(&self, edge: u32) -> u32 {
        self.0
            .iter()
            .copied()
            .find(|&size| size >= edge)
            .or_else(|| self.0.last().copied())
            .unwrap_or(edge)
    }

    /// Every bucket but `size`: where a "no Gravatar" answer may already be known.
    pub(super) fn others(&self, size: u32) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().copied().filter(move |&s| s != size)
    }
}

/// An upstream picture, with its edge when it is square (decoded from its header once).
#[derive(Debug)]
pub(super) struct UpstreamPicture {
    pub(super) picture: RenderedPicture,
    pub(super) square_edge: Option<u32>,
}

/// A cached upstream answer with the moment it was fetched.
#[derive(Debug)]
pub(super) struct CachedAnswer {
    pub(super) picture: Option<UpstreamPicture>,
    pub(super) fetched_at: Instant,
}

/// Per-entry lifetimes: pictures `hit`, "no Gravatar" `miss`, counted from the fetch (an answer
/// borrowed from another size bucket lives no longer than the original).
pub(super) struct AnswerExpiry {
    pub(super) hit: Duration,
    pub(super) miss: Duration,
}

impl AnswerExpiry {
    pub(super) fn ttl(&self, answer: &CachedAnswer) -> Duration {
        if answer.picture.is_some() {
            self.hit
        } else {
            self.miss
        }
    }
}

impl Expiry<UpstreamRequest, Arc<CachedAnswer>> for AnswerExpiry {
    fn expire_after_create(
        &self,
        _key: &UpstreamRequest,
        value: &Arc<CachedAnswer>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(self.ttl(value).saturating_sub(value.fetched_at.elapsed()))
    }
}

pub(super) fn weigh(key: &UpstreamRequest, value: &Arc<CachedAnswer>) -> u32 {
    let picture = value
        .picture
        .as_ref()
        .map_or(0, |p| p.picture.bytes.len() + p.picture.etag.len());
    u32::try_from(picture + key.hash.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

/// A picture derived here: the source's strong ETag, the edge and the format asked for.
pub(super) type VariantKey = (bytestring::ByteString, u32, Format);

pub(super) fn weigh_variant(key: &VariantKey, value: &RenderedPicture) -> u32 {
    let bytes = value.bytes.len() + value.etag.len() + key.0.len();
    u32::try_from(bytes + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edge_takes_one_bucket() {
        let sizes = UpstreamSizes::new(&[512, 128, 128]);
        let cases = [
            (1, 128),
            (80, 128),
            (128, 128),
            (129, 512),
            (480, 512),
            (512, 512),
            (2048, 512),
        ];
        for (edge, bucket) in cases {
            assert_eq!(sizes.for_edge(edge), bucket, "{edge}");
        }
        assert_eq!(sizes.others(128).collect::<Vec<_>>(), vec![512]);
    }

    fn resident_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
        let pages: usize = statm
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("resident pages");
        pages * 4096
    }

    /// "No Gravatar" entries; see [`measure_entry_cost`].
    #[test]
    #[ignore = "a measurement, run alone"]
    fn measure_no_picture_entry_cost() {
        measure_entry_cost(0);
    }

    /// 1 KB picture entries; see [`measure_entry_cost`].
    #[test]
    #[ignore = "a measurement, run alone"]
    fn measure_picture_entry_cost() {
        measure_entry_cost(1000);
    }

    /// Measures what one answer entry really costs (RSS growth ÷ entries, minus the bytes the
    /// weigher already counts) in the cache the service uses. Not a check (RSS is process-wide):
    /// run each test alone, e.g. `cargo test --release --lib measure_picture_entry_cost --
    /// --ignored --nocapture`, and keep `ENTRY_OVERHEAD` at or above what they print.
    fn measure_entry_cost(picture_bytes: usize) {
        const ENTRIES: usize = 200_000;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        {
            let cache: moka::future::Cache<UpstreamRequest, Arc<CachedAnswer>> =
                moka::future::Cache::builder()
                    .max_capacity(u64::MAX)
                    .weigher(weigh)
                    .expire_after(AnswerExpiry {
                        hit: Duration::from_secs(3600),
                        miss: Duration::from_secs(3600),
                    })
                    .build();
            let before = resident_bytes();
            runtime.block_on(async {
                for n in 0..ENTRIES {
                    let key = UpstreamRequest {
                        hash: format!("{n:064x}"),
                        size: 128,
                        default: "404",
                        rating: "g",
                        force_default: false,
                    };
                    let picture = (picture_bytes > 0).then(|| {
                        let bytes = bytes::Bytes::from(vec![(n % 251) as u8; picture_bytes]);
                        UpstreamPicture {
                            picture: RenderedPicture {
                                etag: format!("\"g-{n:032x}\"").into(),
                                bytes,
                                format: Format::Png,
                                provisional: false,
                            },
                            square_edge: Some(128),
                        }
                    });
                    let answer = Arc::new(CachedAnswer {
                        picture,
                        fetched_at: Instant::now(),
                    });
                    cache.insert(key, answer).await;
                }
                cache.run_pending_tasks().await;
            });
            let grown = resident_bytes().saturating_sub(before);
            let weighed = usize::try_from(cache.weighted_size()).unwrap_or(usize::MAX);
            let counted = weighed / ENTRIES - ENTRY_OVERHEAD;
            println!(
                "picture {picture_bytes} B: {} B per entry in RSS, {} B counted by the weigher \
                 besides the overhead, so the real overhead is {} B (ENTRY_OVERHEAD = {ENTRY_OVERHEAD})",
                grown / ENTRIES,
                counted,
                (grown / ENTRIES).saturating_sub(counted)
            );
        }
    }
}
