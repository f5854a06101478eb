//! The CDN purge after a delete: every cached size and format of one user's pictures carries
//! that user's tag (`Cache-Tag` and `Surrogate-Key` on `/pictures` and `/u`), and a delete asks
//! the CDN to drop the tag. A purge never fails the delete that caused it: its failure is logged
//! and counted, and the CDN's copies then live until their `max-age`.

use std::sync::Arc;

use crate::domain::counts::Count;
use crate::domain::upload::KEY_PREFIX;
use crate::ports::{CdnPurge, ObjectKey};
use crate::vocabulary::ErrorChain;

/// The tag of every picture under one user's prefix: `visage-u-{user hash}`, never the user id
/// (lower-case hex and dashes, valid for Cloudflare's tags and Fastly's keys alike).
pub fn cdn_tag(user_hash: &str) -> String {
    format!("visage-u-{user_hash}")
}

/// The tag of a stored picture's key (`u/{user hash}/…`); `None` for a key outside the prefixes.
pub fn cdn_tag_of_key(key: &ObjectKey) -> Option<String> {
    let rest = key.as_str().strip_prefix(KEY_PREFIX)?.strip_prefix('/')?;
    let (hash, _) = rest.split_once('/')?;
    (!hash.is_empty()).then(|| cdn_tag(hash))
}

/// Purges by outcome, for the metrics (`visage_cdn_purges_total{outcome}`).
#[derive(Clone, Debug, Default)]
pub struct PurgeCounts {
    pub ok: Count,
    pub failed: Count,
}

/// Asks the configured CDN (if any) to drop users' tags.
pub struct Purger {
    cdn: Option<Arc<dyn CdnPurge>>,
    counts: PurgeCounts,
}

impl Purger {
    /// `None`: no CDN configured (`cdn.purge = none`), purges do nothing.
    pub fn new(cdn: Option<Arc<dyn CdnPurge>>) -> Self {
        Self {
            cdn,
            counts: PurgeCounts::default(),
        }
    }

    pub fn counts(&self) -> &PurgeCounts {
        &self.counts
    }

    /// Purges the tag of the user whose hash this is, within the adapter's bound. Logged and
    /// counted either way; never an error for the caller.
    pub async fn purge_user(&self, user_hash: &str) {
        let Some(cdn) = &self.cdn else {
            return;
        };
        let tag = cdn_tag(user_hash);
        match cdn.purge(std::slice::from_ref(&tag)).await {
            Ok(()) => {
                self.counts.ok.inc();
                tracing::info!(cdn = cdn.name(), tag = %tag, "CDN purged");
            }
            Err(error) => {
                self.counts.failed.inc();
                tracing::error!(cdn = cdn.name(), tag = %tag, error = %ErrorChain(&error), "CDN purge failed: the CDN keeps this user's pictures until their max-age");
            }
        }
    }

    /// [`Self::purge_user`] in the background, for paths that must not wait for the CDN (an
    /// upload's cleanup of replaced pictures).
    pub fn purge_user_soon(self: &Arc<Self>, user_hash: String) {
        if self.cdn.is_none() {
            return;
        }
        let purger = self.clone();
        tokio::spawn(async move { purger.purge_user(&user_hash).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_users_tag_and_nothing_else() {
        let key = ObjectKey::parse("u/0123456789abcdef0123456789abcdef/ab.jpg").expect("key");
        assert_eq!(
            cdn_tag_of_key(&key).as_deref(),
            Some("visage-u-0123456789abcdef0123456789abcdef")
        );
        for outside in ["users/abc.json", "u/abc.jpg", "x/abc/d.jpg"] {
            let key = ObjectKey::parse(outside).expect("key");
            assert_eq!(cdn_tag_of_key(&key), None, "{outside}");
        }
    }
}
