//! The object store port: content-addressed pictures in a folder or an S3 bucket.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

/// The underlying failure of a store call, kept whole (its own sources too) and shareable.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// What went wrong, classified so the domain can decide (never `Option`/`bool`). `Clone`: one
/// failed read is shared by every request that waited for it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no object at that key")]
    NotFound,
    /// The store could not be reached or timed out; retrying later may work.
    #[error("storage unavailable")]
    Unavailable(#[source] Cause),
    /// The store answered and refused (credentials, bucket policy, bad request).
    #[error("storage rejected the request")]
    Rejected(#[source] Cause),
}

impl StoreError {
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Unavailable(Arc::from(cause.into()))
    }

    pub fn rejected(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Rejected(Arc::from(cause.into()))
    }
}

/// A validated object key: lower-case ASCII letters, digits, `-`, `_`, `.` and `/` separators,
/// no empty segment and none starting with `.` (so no `..`, and no hidden files such as the
/// folder store's `.tmp`), at most 512 bytes. No key can name a path outside the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

#[derive(Debug, thiserror::Error)]
#[error("malformed object key")]
pub struct InvalidKey;

impl ObjectKey {
    pub fn parse(key: &str) -> Result<Self, InvalidKey> {
        if key.is_empty() || key.len() > 512 {
            return Err(InvalidKey);
        }
        for segment in key.split('/') {
            let valid_chars = segment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
            if segment.is_empty() || segment.starts_with('.') || !valid_chars {
                return Err(InvalidKey);
            }
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the key lies under `prefix` (a prefix ends with `/`).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One listed object: its key and when it was last written (the store's clock). A `put` of an
/// existing key refreshes the time, which the grace-period cleanup relies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: ObjectKey,
    pub modified: SystemTime,
}

/// Where pictures are kept. Keys are content-addressed, so `put` of an existing key stores the
/// same bytes again and is harmless; readers never see a partly written object.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Stores `bytes` at `key`, atomically: the object is absent or whole.
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError>;
    /// The whole object.
    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError>;
    /// Whether the object exists, without reading it.
    async fn exists(&self, key: &ObjectKey) -> Result<bool, StoreError>;
    /// Every object under `prefix` (which ends with `/`) with its last-modified time, in
    /// lexical order of keys.
    async fn list_objects(&self, prefix: &str) -> Result<Vec<StoredObject>, StoreError>;
    /// Every key under `prefix` (which ends with `/`), in lexical order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        Ok(self
            .list_objects(prefix)
            .await?
            .into_iter()
            .map(|object| object.key)
            .collect())
    }
    /// Removes the object; removing an absent object succeeds.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;
    /// A cheap round trip that proves the store answers (for `/readyz`).
    async fn health_check(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_or_smuggle() {
        for bad in [
            "", "/abs", "a//b", "../x", "a/../b", "a/./b", "a/", "A", "a b", "a\\b", "a%2f", "é",
            "a\0b", ".tmp/x", "..a/b",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["a", "u/0f3a/abc.jpg", "x-y_z.webp", "a..b/c"] {
            assert!(ObjectKey::parse(good).is_ok(), "{good:?} must be accepted");
        }
    }

    /// Lists what it was given, whatever the prefix (the default `list` keeps order and keys).
    struct Listed(Vec<&'static str>);

    #[async_trait::async_trait]
    impl ObjectStore for Listed {
        async fn put(&self, _: &ObjectKey, _: Bytes, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
        async fn get(&self, _: &ObjectKey) -> Result<Bytes, StoreError> {
            Err(StoreError::NotFound)
        }
        async fn exists(&self, _: &ObjectKey) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn list_objects(&self, _: &str) -> Result<Vec<StoredObject>, StoreError> {
            Ok(self
                .0
                .iter()
                .map(|key| StoredObject {
                    key: ObjectKey::parse(key).expect("key"),
                    modified: SystemTime::UNIX_EPOCH,
                })
                .collect())
        }
        async fn delete(&self, _: &ObjectKey) -> Result<(), StoreError> {
            Ok(())
        }
        async fn health_check(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn list_names_the_listed_keys_in_order() {
        let store = Listed(vec!["u/a/1.jpg", "u/a/2.png"]);
        let keys = store.list("u/a/").await.expect("list");
        let names: Vec<&str> = keys.iter().map(ObjectKey::as_str).collect();
        assert_eq!(names, ["u/a/1.jpg", "u/a/2.png"]);
    }

    #[test]
    fn a_key_lies_under_its_prefixes_only() {
        let key = ObjectKey::parse("u/ab/c.jpg").expect("key");
        assert!(key.starts_with("u/ab/"));
        assert!(key.starts_with("u/"));
        assert!(!key.starts_with("u/abc/"));
        assert!(!key.starts_with("v/"));
    }

    #[test]
    fn keys_are_at_most_512_bytes() {
        let longest = format!("u/{}", "a".repeat(510));
        assert_eq!(
            ObjectKey::parse(&longest).map(|k| k.as_str().len()).ok(),
            Some(512)
        );
        assert!(ObjectKey::parse(&format!("{longest}b")).is_err());
        assert!(ObjectKey::parse(&"a".repeat(4096)).is_err());
    }
}
