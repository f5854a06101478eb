//! The folder store, the embedded default: one file per key under a root folder.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use crate::ports::{ObjectKey, ObjectStore, StoreError, StoredObject};

/// Temporary files live here, inside the root, so that `rename` stays on one filesystem and is
/// atomic. Its name is not a valid key segment, so no key can name it.
const TMP_DIR: &str = ".tmp";

pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    /// Opens (creating when missing) the store's folder.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        tokio::fs::create_dir_all(root.join(TMP_DIR))
            .await
            .map_err(classify)?;
        Ok(Self { root })
    }

    fn path_of(&self, key: &ObjectKey) -> PathBuf {
        // ObjectKey has no empty, `.` or `..` segment and no leading `/`, so this stays in root.
        self.root.join(key.as_str())
    }
}

fn classify(err: std::io::Error) -> StoreError {
    match err.kind() {
        ErrorKind::NotFound => StoreError::NotFound,
        ErrorKind::PermissionDenied | ErrorKind::InvalidInput => StoreError::rejected(err),
        _ => StoreError::unavailable(err),
    }
}

#[async_trait]
impl ObjectStore for FolderStore {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        _content_type: &str,
    ) -> Result<(), StoreError> {
        let target = self.path_of(key);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(classify)?;
        }
        let tmp = self
            .root
            .join(TMP_DIR)
            .join(uuid::Uuid::new_v4().simple().to_string());
        let written = async {
            tokio::fs::write(&tmp, &bytes).await?;
            // Data reaches the disk before the name does, so a crash leaves no torn object.
            tokio::fs::File::open(&tmp).await?.sync_all().await?;
            tokio::fs::rename(&tmp, &target).await
        }
        .await;
        if let Err(err) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(classify(err));
        }
        Ok(())
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        let path = self.path_of(key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            // A key naming a folder (a user prefix) is not an object.
            Err(err) if err.kind() == ErrorKind::IsADirectory => Err(StoreError::NotFound),
            Err(err) => Err(classify(err)),
        }
    }

    async fn exists(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
            Err(err) => Err(classify(err)),
        }
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<StoredObject>, StoreError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || list_under(&root, &prefix))
            .await
            .map_err(StoreError::unavailable)?
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            Err(err) => Err(classify(err)),
        }
    }

    async fn health_check(&self) -> Result<(), StoreError> {
        let meta = tokio::fs::metadata(self.root.join(TMP_DIR))
            .await
            .map_err(StoreError::unavailable)?;
        if meta.is_dir() {
            Ok(())
        } else {
            Err(StoreError::unavailable("store root is not a folder"))
        }
    }
}

/// Walks the folder that holds `prefix` and returns the valid keys under it with their
/// modification times (a `put` renames a fresh file into place, so the time is the last put's),
/// sorted by key.
fn list_under(root: &Path, prefix: &str) -> Result<Vec<StoredObject>, StoreError> {
    // Start at the deepest folder named by the prefix, then filter by the full prefix.
    let dir_part = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
    if !dir_part.is_empty() && ObjectKey::parse(dir_part).is_err() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    let mut pending = vec![root.join(dir_part)];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == ErrorKind::NotFound => continue,
            Err(err) => return Err(classify(err)),
        };
        for entry in entries {
            let entry = entry.map_err(classify)?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(classify)?;
            if file_type.is_dir() {
                pending.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let Some(relative) = relative.to_str() else {
                continue;
            };
            if let Ok(key) = ObjectKey::parse(relative) {
                if key.starts_with(prefix) {
                    // Deleted between read_dir and now: not listed.
                    let modified = match entry.metadata().and_then(|meta| meta.modified()) {
                        Ok(modified) => modified,
                        Err(err) if err.kind() == ErrorKind::NotFound => continue,
                        Err(err) => return Err(classify(err)),
                    };
                    keys.push(StoredObject { key, modified });
                }
            }
        }
    }
    keys.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(keys)
}
