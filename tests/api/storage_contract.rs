//! One contract for the object-store port, run against the folder store and a real Garage.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use visage::adapters::fs::FolderStore;
use visage::ports::{ObjectKey, ObjectStore, StoreError};

use crate::common;

fn key(s: &str) -> ObjectKey {
    ObjectKey::parse(s).expect("valid key")
}

/// Every store must behave exactly like this. `prefix` keeps runs apart in a shared bucket.
async fn object_store_contract(store: Arc<dyn ObjectStore>, prefix: &str) {
    store.health_check().await.expect("healthy");

    // Absent objects.
    let a = key(&format!("{prefix}/u1/a.jpg"));
    assert!(matches!(store.get(&a).await, Err(StoreError::NotFound)));
    assert!(!store.exists(&a).await.expect("exists"));
    store
        .delete(&a)
        .await
        .expect("deleting an absent object succeeds");

    // Round trip, byte for byte, including a larger body.
    let before_puts = SystemTime::now();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    store
        .put(&a, Bytes::from_static(b"\xff\xd8hello"), "image/jpeg")
        .await
        .expect("put");
    let b = key(&format!("{prefix}/u1/b.png"));
    store
        .put(&b, Bytes::from(big.clone()), "image/png")
        .await
        .expect("put big");
    assert_eq!(
        store.get(&a).await.expect("get"),
        Bytes::from_static(b"\xff\xd8hello")
    );
    assert_eq!(
        store.get(&b).await.expect("get big").as_ref(),
        big.as_slice()
    );
    assert!(store.exists(&a).await.expect("exists"));

    // Listing tells when each object was last written (the store's clock, close to ours), and
    // putting the same key again (content-addressed: same bytes) is harmless and refreshes that
    // time, which the grace-period cleanup relies on.
    let first = modified_of(store.as_ref(), prefix, &a).await;
    let skew = Duration::from_secs(30);
    assert!(
        first + skew > before_puts && first < SystemTime::now() + skew,
        "last-modified {first:?} is not around now"
    );
    // S3 times objects to the second: the re-put must fall in a later second.
    while SystemTime::now() < first + Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store
        .put(&a, Bytes::from_static(b"\xff\xd8hello"), "image/jpeg")
        .await
        .expect("re-put");
    let second = modified_of(store.as_ref(), prefix, &a).await;
    assert!(
        second > first,
        "a re-put refreshes the time: {first:?} → {second:?}"
    );

    // Listing is by prefix, sorted, and a sibling prefix that shares characters is not included.
    let other = key(&format!("{prefix}/u10/c.jpg"));
    store
        .put(&other, Bytes::from_static(b"x"), "image/jpeg")
        .await
        .expect("put other");
    let listed = store.list(&format!("{prefix}/u1/")).await.expect("list");
    assert_eq!(listed, vec![a.clone(), b.clone()]);
    assert!(
        store
            .list(&format!("{prefix}/nobody/"))
            .await
            .expect("list empty")
            .is_empty()
    );

    // A prefix that names an object's folder is not itself an object.
    let folder = key(&format!("{prefix}/u1"));
    assert!(matches!(
        store.get(&folder).await,
        Err(StoreError::NotFound)
    ));

    // Concurrent writers of one key leave one whole object.
    let writes = (0..8).map(|_| {
        let store = store.clone();
        let b = b.clone();
        let big = big.clone();
        async move { store.put(&b, Bytes::from(big), "image/png").await }
    });
    for result in futures_util::future::join_all(writes).await {
        result.expect("concurrent put");
    }
    assert_eq!(
        store.get(&b).await.expect("get after race").as_ref(),
        big.as_slice()
    );

    // Delete removes exactly one object.
    store.delete(&a).await.expect("delete");
    assert!(matches!(store.get(&a).await, Err(StoreError::NotFound)));
    assert_eq!(
        store.list(&format!("{prefix}/u1/")).await.expect("list"),
        vec![b.clone()]
    );
    for k in [&b, &other] {
        store.delete(k).await.expect("cleanup");
    }
    assert!(
        store
            .list(&format!("{prefix}/"))
            .await
            .expect("list")
            .is_empty()
    );
}

async fn modified_of(store: &dyn ObjectStore, prefix: &str, key: &ObjectKey) -> SystemTime {
    store
        .list_objects(&format!("{prefix}/u1/"))
        .await
        .expect("list objects")
        .into_iter()
        .find(|object| &object.key == key)
        .map(|object| object.modified)
        .expect("listed")
}

fn run_prefix() -> String {
    format!("contract-{}", uuid::Uuid::new_v4().simple())
}

#[actix_web::test]
async fn folder_store_meets_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FolderStore::open(dir.path()).await.expect("open");
    object_store_contract(Arc::new(store), &run_prefix()).await;
}

#[actix_web::test]
async fn garage_meets_the_contract() {
    let Some(store) = common::garage_store() else {
        return;
    };
    object_store_contract(store, &run_prefix()).await;
}

#[actix_web::test]
async fn folder_store_leaves_no_temporary_files_and_no_escape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    let store = FolderStore::open(&root).await.expect("open");
    store
        .put(&key("u/x.jpg"), Bytes::from_static(b"1"), "image/jpeg")
        .await
        .expect("put");
    let leftovers = std::fs::read_dir(root.join(".tmp"))
        .expect("tmp dir")
        .count();
    assert_eq!(leftovers, 0, "temporary files must be renamed into place");
    // The only ways to name a path are validated keys; `..` and absolute paths do not parse.
    for bad in ["../escape", "/etc/passwd", "u/../../x", ".tmp/x"] {
        assert!(ObjectKey::parse(bad).is_err(), "{bad}");
    }
    assert!(!dir.path().join("escape").exists());
}

#[actix_web::test]
async fn garage_with_wrong_credentials_is_rejected_not_missing() {
    let Some(pairs) = common::garage() else {
        return;
    };
    let mut pairs: Vec<(String, String)> =
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    for (k, v) in &mut pairs {
        if k == "storage.s3.secret_access_key" {
            *v = "0".repeat(64);
        }
    }
    let settings = common::settings_from(&pairs).expect("settings");
    let store = visage::adapters::s3::S3Store::new(&settings.storage.s3);
    let err = store
        .get(&key("any/thing.jpg"))
        .await
        .expect_err("must fail");
    assert!(matches!(err, StoreError::Rejected(_)), "{err:?}");
}
