//! Readiness: the store's health, checked in the background at most every few seconds, so that
//! `/readyz` answers at once and never stampedes the store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::ports::ObjectStore;
use crate::vocabulary::ErrorChain;

pub struct Readiness {
    store: Arc<dyn ObjectStore>,
    ready: AtomicBool,
    /// False until the first check: its failure is logged too, not only later changes.
    checked: AtomicBool,
}

impl Readiness {
    /// Checks once now, then every `interval` for as long as the returned value is alive.
    pub async fn start(store: Arc<dyn ObjectStore>, interval: Duration) -> Arc<Self> {
        let readiness = Arc::new(Self {
            store,
            ready: AtomicBool::new(false),
            checked: AtomicBool::new(false),
        });
        readiness.check(interval).await;
        let weak = Arc::downgrade(&readiness);
        tokio::spawn(Self::watch(weak, interval));
        readiness
    }

    async fn watch(weak: Weak<Self>, interval: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            let Some(readiness) = weak.upgrade() else {
                return;
            };
            readiness.check(interval).await;
        }
    }

    async fn check(&self, interval: Duration) {
        // A check never takes longer than the interval, so a hung store turns us unready in
        // at most two intervals.
        let outcome = tokio::time::timeout(interval, self.store.health_check()).await;
        let ready = matches!(outcome, Ok(Ok(())));
        let was = self.ready.swap(ready, Ordering::Relaxed);
        let first = !self.checked.swap(true, Ordering::Relaxed);
        if was != ready || first {
            match outcome {
                Ok(Ok(())) => tracing::info!("storage is reachable: ready"),
                Ok(Err(err)) => tracing::warn!(
                    error = %ErrorChain(&err),
                    "storage check failed: not ready"
                ),
                Err(_) => tracing::warn!(
                    timeout_secs = interval.as_secs(),
                    "storage check timed out: not ready"
                ),
            }
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use bytes::Bytes;

    use super::*;
    use crate::ports::{ObjectKey, StoreError, StoredObject};

    /// A store whose every call is refused the way S3 refuses a wrong secret.
    struct Refusing;

    #[derive(Debug, thiserror::Error)]
    #[error("service error")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("SignatureDoesNotMatch: invalid signature")]
    struct Inner;

    fn refused() -> StoreError {
        StoreError::Rejected(Arc::new(Outer(Inner)))
    }

    #[async_trait]
    impl ObjectStore for Refusing {
        async fn put(&self, _: &ObjectKey, _: Bytes, _: &str) -> Result<(), StoreError> {
            Err(refused())
        }
        async fn get(&self, _: &ObjectKey) -> Result<Bytes, StoreError> {
            Err(refused())
        }
        async fn exists(&self, _: &ObjectKey) -> Result<bool, StoreError> {
            Err(refused())
        }
        async fn list_objects(&self, _: &str) -> Result<Vec<StoredObject>, StoreError> {
            Err(refused())
        }
        async fn delete(&self, _: &ObjectKey) -> Result<(), StoreError> {
            Err(refused())
        }
        async fn health_check(&self) -> Result<(), StoreError> {
            Err(refused())
        }
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut lines) = self.0.lock() {
                lines.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_first_failed_check_is_logged_with_its_cause() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let readiness = Readiness::start(Arc::new(Refusing), Duration::from_secs(60)).await;
                assert!(!readiness.is_ready());
            });
        });
        let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(text.contains("storage check failed: not ready"), "{text}");
        assert!(
            text.contains("invalid signature"),
            "the cause is named: {text}"
        );
    }
}
