//! The directory: which stored picture is each user's current one, and which user a verified
//! email's Gravatar hash names. Small JSON records in storage, so every instance reads the same
//! answer, each lookup cached here for a stated time:
//!
//! - `users/{user hash}.json`: `{"user_id", "picture": key, "emails": [hashes]}`, written after an
//!   upload's write-back landed (so it names what the profile names), removed with the user;
//!   `visage reconcile` reads the user ids back from these records.
//! - `emails/{hash}.json`: `{"user": user hash}`, one per hash (SHA-256 and MD5) of a **verified**
//!   email, learnt from the identity provider's answer, never from a client. An unverified or
//!   changed email drops the links of the old one.
//!
//! Records are overwritten whole, last writer wins (Garage has no conditional writes): two
//! uploads of one user racing on two instances may leave the record naming the picture of the
//! one whose record landed last while Auth0 names the other. Both pictures exist (the cleanup
//! grace), and the user's next upload or delete settles it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::cache::{CacheLookups, CacheUsage, Weighed, WeighedCache};
use crate::domain::upload::user_hash;
use crate::ports::{EmailFacts, ObjectKey, ObjectStore, StoreError, UserEmail};
use crate::vocabulary::ErrorChain;

/// How long each instance trusts what it read.
#[derive(Clone, Copy, Debug)]
pub struct DirectoryConfig {
    /// A user's current picture (`pictures.current_max_age_secs`).
    pub current_ttl: Duration,
    /// A hash's upload, or that it has none (`gravatar.upload_lookup_secs`).
    pub link_ttl: Duration,
    /// Bytes each of the two caches may hold (`pictures.directory_cache_bytes`).
    pub cache_bytes: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct UserRecord {
    user_id: String,
    /// The current picture's key, `None` once deleted.
    picture: Option<String>,
    /// The Gravatar hashes of the user's verified email that link here.
    #[serde(default)]
    emails: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EmailLink {
    /// The user hash whose record the link names.
    user: String,
}

/// A cached lookup: the picture, or none.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Found(Option<ObjectKey>);

impl Weighed for Found {
    fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |key| key.as_str().len())
    }
}

pub struct Directory {
    store: Arc<dyn ObjectStore>,
    /// User hash → the current picture.
    current: WeighedCache<String, Found>,
    /// Email hash → the picture of the user it links to.
    links: WeighedCache<String, Found>,
}

/// The Gravatar hashes of an email: SHA-256 and MD5 of the trimmed, lower-cased address.
pub fn email_hashes(address: &str) -> [String; 2] {
    let normalized = address.trim().to_lowercase();
    [
        hex::encode(Sha256::digest(normalized.as_bytes())),
        hex::encode(Md5::digest(normalized.as_bytes())),
    ]
}

fn user_key(hash: &str) -> Result<ObjectKey, StoreError> {
    ObjectKey::parse(&format!("users/{hash}.json")).map_err(StoreError::rejected)
}

fn link_key(email_hash: &str) -> Result<ObjectKey, StoreError> {
    ObjectKey::parse(&format!("emails/{email_hash}.json")).map_err(StoreError::rejected)
}

/// Every user record's key lies under this prefix.
pub const USERS_PREFIX: &str = "users/";

impl Directory {
    pub fn new(config: DirectoryConfig, store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            current: WeighedCache::new("current", config.cache_bytes, Some(config.current_ttl)),
            links: WeighedCache::new("links", config.cache_bytes, Some(config.link_ttl)),
        }
    }

    /// Lookups of users' current pictures, then of email links, for the metrics.
    pub fn lookups(&self) -> [&CacheLookups; 2] {
        [self.current.lookups(), self.links.lookups()]
    }

    /// The two caches together.
    pub fn usage(&self) -> CacheUsage {
        self.current.usage() + self.links.usage()
    }

    /// The user's current picture, as this instance last read it (at most `current_ttl` ago).
    pub async fn current_picture(&self, user_id: &str) -> Result<Option<ObjectKey>, StoreError> {
        let hash = user_hash(user_id);
        let found = self
            .current
            .get_or_load(&hash, async {
                Ok(Found(self.read_user(&hash).await?.and_then(picture_of)))
            })
            .await?;
        Ok(found.0)
    }

    /// The picture uploaded by the user whose verified email has this Gravatar hash (32 or 64
    /// lower-case hex digits), as this instance last read it (at most `link_ttl` ago).
    pub async fn upload_for(&self, email_hash: &str) -> Result<Option<ObjectKey>, StoreError> {
        let found = self
            .links
            .get_or_load(email_hash, async {
                let Some(link) = self.read::<EmailLink>(&link_key(email_hash)?).await? else {
                    return Ok(Found(None));
                };
                let user = self.read_user(&link.user).await?;
                // A link whose user no longer lists it (an email changed meanwhile) is stale.
                let linked = user.filter(|record| record.emails.iter().any(|h| h == email_hash));
                Ok(Found(linked.and_then(picture_of)))
            })
            .await?;
        Ok(found.0)
    }

    /// After an upload's write-back: `key` is the user's current picture, and the email the
    /// profile answered with decides the links (a verified one links its hashes, anything else
    /// drops them; `Unknown` keeps them).
    pub async fn record_upload(
        &self,
        user_id: &str,
        key: &ObjectKey,
        email: &EmailFacts,
    ) -> Result<(), StoreError> {
        let hash = user_hash(user_id);
        let mut record = self.read_user(&hash).await?.unwrap_or_default();
        record.user_id = user_id.to_owned();
        record.picture = Some(key.to_string());
        self.relink(&hash, &mut record, email).await?;
        self.write_user(&hash, &record).await
    }

    /// The user's email changed or was verified (the lifecycle hook): links follow, the picture
    /// stays. A user without a record has nothing to link.
    pub async fn record_email(&self, user_id: &str, email: &EmailFacts) -> Result<(), StoreError> {
        let hash = user_hash(user_id);
        let Some(mut record) = self.read_user(&hash).await? else {
            return Ok(());
        };
        self.relink(&hash, &mut record, email).await?;
        self.write_user(&hash, &record).await
    }

    /// Before an upload stores its picture: the user's record exists and names the user id,
    /// so that every stored picture's owner can be read back (`visage reconcile`), also when
    /// the upload's write-back then fails. One read when the record exists.
    pub async fn claim(&self, user_id: &str) -> Result<(), StoreError> {
        let hash = user_hash(user_id);
        if self
            .read_user(&hash)
            .await?
            .is_some_and(|record| record.user_id == user_id)
        {
            return Ok(());
        }
        let record = UserRecord {
            user_id: user_id.to_owned(),
            ..UserRecord::default()
        };
        self.write_user(&hash, &record).await
    }

    /// The user is gone: their links and their record. Idempotent; says whether there was a
    /// record.
    pub async fn forget(&self, user_id: &str) -> Result<bool, StoreError> {
        let hash = user_hash(user_id);
        let record = self.read_user(&hash).await?;
        if let Some(record) = &record {
            for email_hash in &record.emails {
                self.unlink(&hash, email_hash).await?;
            }
        }
        self.store.delete(&user_key(&hash)?).await?;
        self.current.invalidate(&hash).await;
        Ok(record.is_some())
    }

    /// Every user id that has a record (for `visage reconcile`).
    pub async fn users(&self) -> Result<Vec<String>, StoreError> {
        let mut users = Vec::new();
        for key in self.store.list(USERS_PREFIX).await? {
            if let Some(record) = self.read::<UserRecord>(&key).await? {
                users.push(record.user_id);
            }
        }
        Ok(users)
    }

    /// Makes `record.emails` the hashes `email` calls for, writing the new links and removing
    /// the old ones that still point here.
    async fn relink(
        &self,
        user_hash: &str,
        record: &mut UserRecord,
        email: &EmailFacts,
    ) -> Result<(), StoreError> {
        let wanted: Vec<String> = match email {
            EmailFacts::Unknown => return Ok(()),
            EmailFacts::Known(Some(UserEmail {
                address,
                verified: true,
            })) => email_hashes(address).to_vec(),
            EmailFacts::Known(_) => Vec::new(),
        };
        for email_hash in &wanted {
            let link = EmailLink {
                user: user_hash.to_owned(),
            };
            self.write(&link_key(email_hash)?, &link).await?;
            self.links.invalidate(email_hash).await;
        }
        for old in record.emails.iter().filter(|h| !wanted.contains(h)) {
            self.unlink(user_hash, old).await?;
        }
        record.emails = wanted;
        Ok(())
    }

    /// Removes the link of `email_hash` when it names `user_hash` (another user may have
    /// verified that address since).
    async fn unlink(&self, user_hash: &str, email_hash: &str) -> Result<(), StoreError> {
        let key = link_key(email_hash)?;
        if let Some(link) = self.read::<EmailLink>(&key).await?
            && link.user == user_hash
        {
            self.store.delete(&key).await?;
        }
        self.links.invalidate(&email_hash.to_owned()).await;
        Ok(())
    }

    async fn read_user(&self, user_hash: &str) -> Result<Option<UserRecord>, StoreError> {
        self.read(&user_key(user_hash)?).await
    }

    async fn write_user(&self, user_hash: &str, record: &UserRecord) -> Result<(), StoreError> {
        self.write(&user_key(user_hash)?, record).await?;
        self.current.invalidate(&user_hash.to_owned()).await;
        Ok(())
    }

    /// A record, `None` when absent. An unreadable record is treated as absent (and logged): it
    /// is rewritten whole by the next write.
    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<T>, StoreError> {
        match self.store.get(key).await {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(record) => Ok(Some(record)),
                Err(error) => {
                    tracing::warn!(key = %key, error = %ErrorChain(&error), "unreadable directory record, taken as absent");
                    Ok(None)
                }
            },
            Err(StoreError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn write<T: Serialize>(&self, key: &ObjectKey, record: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(StoreError::rejected)?;
        self.store
            .put(key, Bytes::from(bytes), "application/json")
            .await
    }
}

fn picture_of(record: UserRecord) -> Option<ObjectKey> {
    record.picture.and_then(|key| ObjectKey::parse(&key).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gravatar_hashes_of_the_normalized_address() {
        // Gravatar's documented example address and its hashes.
        let [sha256, md5] = email_hashes("  MyEmailAddress@example.com ");
        assert_eq!(md5, "0bc83cb571cd1c50ba6f3e8a78ef1346");
        assert_eq!(
            sha256,
            "84059b07d4be67b806386c0aad8070a23f18836bbaae342275dc0a83414c32ee"
        );
    }
}
