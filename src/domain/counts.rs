//! Counts that domain services keep for the metrics layer: plain atomics behind cheap handles,
//! read at scrape time, so the domain needs no metrics registry.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// A count that only grows (exported as a Prometheus counter).
#[derive(Clone, Debug, Default)]
pub struct Count(Arc<AtomicU64>);

impl Count {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A level that goes up and down (exported as a Prometheus gauge).
#[derive(Clone, Debug, Default)]
pub struct Level(Arc<AtomicI64>);

impl Level {
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_value() {
        let count = Count::default();
        let copy = count.clone();
        count.inc();
        copy.inc();
        assert_eq!((count.get(), copy.get()), (2, 2));
        let level = Level::default();
        level.clone().set(-3);
        assert_eq!(level.get(), -3);
    }
}
