//! Readiness: the store's health, checked in the background at most every few seconds, so that
//! `/readyz` answers at once and never stampedes the store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::ports::ObjectStore;

pub struct Readiness {
    store: Arc<dyn ObjectStore>,
    ready: AtomicBool,
}

impl Readiness {
    /// Checks once now, then every `interval` for as long as the returned value is alive.
    pub async fn start(store: Arc<dyn ObjectStore>, interval: Duration) -> Arc<Self> {
        let readiness = Arc::new(Self {
            store,
            ready: AtomicBool::new(false),
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
        if was != ready {
            match outcome {
                Ok(Ok(())) => tracing::info!("storage is reachable: ready"),
                Ok(Err(err)) => tracing::warn!(error = %err, "storage check failed: not ready"),
                Err(_) => tracing::warn!("storage check timed out: not ready"),
            }
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}
