//! How upstream answers and derived pictures are kept: which edges are asked upstream,
//! lifetimes per kind of answer, and what each entry weighs in bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::domain::cache::Weighed;
use crate::domain::picture::EncodedPicture;
use crate::ports::upstream::UpstreamRequest;
use crate::vocabulary::Format;

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
    pub(super) picture: EncodedPicture,
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
#[derive(Clone, Copy, Debug)]
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

impl Weighed for UpstreamRequest {
    fn heap_bytes(&self) -> usize {
        self.hash.capacity()
    }
}

impl Weighed for CachedAnswer {
    fn heap_bytes(&self) -> usize {
        self.picture.as_ref().map_or(0, |p| p.picture.heap_bytes())
    }
}

/// A picture derived here: the source's strong ETag, the edge and the format asked for.
pub(super) type VariantKey = (bytestring::ByteString, u32, Format);

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

    fn answer(picture: bool, age: Duration) -> Arc<CachedAnswer> {
        let picture = picture.then(|| UpstreamPicture {
            picture: EncodedPicture::new(
                bytes::Bytes::from_static(b"a picture"),
                Format::Png,
                "\"e\"",
            ),
            square_edge: Some(80),
        });
        let fetched_at = Instant::now()
            .checked_sub(age)
            .expect("a moment in the past");
        Arc::new(CachedAnswer {
            picture,
            fetched_at,
        })
    }

    fn request() -> UpstreamRequest {
        UpstreamRequest {
            hash: "0".repeat(64),
            size: 80,
            default: "404",
            rating: "g",
            force_default: false,
        }
    }

    #[test]
    fn a_picture_lives_hit_and_no_gravatar_lives_miss() {
        let expiry = AnswerExpiry {
            hit: Duration::from_secs(3600),
            miss: Duration::from_secs(60),
        };
        assert_eq!(expiry.ttl(&answer(true, Duration::ZERO)), expiry.hit);
        assert_eq!(expiry.ttl(&answer(false, Duration::ZERO)), expiry.miss);
    }

    #[test]
    fn an_answer_lives_from_its_fetch_not_from_its_insertion() {
        let expiry = AnswerExpiry {
            hit: Duration::from_secs(3600),
            miss: Duration::from_secs(60),
        };
        let key = request();
        let now = Instant::now();
        let fresh = expiry
            .expire_after_create(&key, &answer(true, Duration::ZERO), now)
            .expect("a lifetime");
        assert!(
            fresh > Duration::from_secs(3590) && fresh <= expiry.hit,
            "{fresh:?}"
        );
        // Borrowed from another bucket 50 s after its fetch: 10 s left of a 60 s miss.
        let borrowed = expiry
            .expire_after_create(&key, &answer(false, Duration::from_secs(50)), now)
            .expect("a lifetime");
        assert!(borrowed <= Duration::from_secs(10), "{borrowed:?}");
        assert!(borrowed > Duration::from_secs(5), "{borrowed:?}");
        // Older than its lifetime: gone at once, never a negative or wrapped duration.
        let stale = expiry.expire_after_create(&key, &answer(false, Duration::from_secs(90)), now);
        assert_eq!(stale, Some(Duration::ZERO));
    }

    #[test]
    fn entries_weigh_their_heap_bytes() {
        let key = request();
        assert!(key.heap_bytes() >= 64);
        let with_picture = answer(true, Duration::ZERO);
        let without = answer(false, Duration::ZERO);
        assert!(CachedAnswer::heap_bytes(&with_picture) >= b"a picture".len());
        assert_eq!(CachedAnswer::heap_bytes(&without), 0);
    }
}
