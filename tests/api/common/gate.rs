//! A gate that stand-ins hold requests at: closed, every request that reaches it waits (and is
//! counted) until the test opens it. How a test puts two instances' steps in a chosen order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct Gate {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    closed: AtomicBool,
    arrived: AtomicUsize,
    opened: tokio::sync::Notify,
}

impl Gate {
    /// From now on, requests that reach the gate wait.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
    }

    /// Lets every waiting request through, and the ones after.
    pub fn open(&self) {
        self.inner.closed.store(false, Ordering::SeqCst);
        self.inner.opened.notify_waiters();
    }

    /// Requests that reached the gate while it was closed.
    pub fn arrived(&self) -> usize {
        self.inner.arrived.load(Ordering::SeqCst)
    }

    /// Where a stand-in's request passes: at once when open, else once opened.
    pub async fn pass(&self) {
        if !self.inner.closed.load(Ordering::SeqCst) {
            return;
        }
        self.inner.arrived.fetch_add(1, Ordering::SeqCst);
        loop {
            let opened = self.inner.opened.notified();
            tokio::pin!(opened);
            // Registered before the check, so an `open` in between is not missed.
            opened.as_mut().enable();
            if !self.inner.closed.load(Ordering::SeqCst) {
                return;
            }
            opened.await;
        }
    }

    /// Waits until `count` requests reached the gate; fails the test after `within`.
    pub async fn await_arrivals(&self, count: usize, within: Duration, what: &str) {
        let deadline = Instant::now() + within;
        while self.arrived() < count {
            assert!(
                Instant::now() < deadline,
                "{what}: {} of {count} requests reached the gate within {within:?}",
                self.arrived()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
