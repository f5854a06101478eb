//! Prometheus metrics: one registry per app, shared by the HTTP edge and the adapters.

use std::sync::atomic::{AtomicBool, Ordering};

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("visage".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["route", "method", "status"],
        )?;
        let http_latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_latency.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_latency,
        })
    }

    /// Registers a collector of another module (cache counters, upstream calls).
    pub fn register<C: prometheus::core::Collector + Clone + 'static>(
        &self,
        collector: &C,
    ) -> Result<(), prometheus::Error> {
        self.registry.register(Box::new(collector.clone()))
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Hit and miss counters of one cache: `{name}{result="hit"|"miss"}`, both from zero.
#[derive(Clone)]
pub struct CacheLookups {
    hits: IntCounter,
    misses: IntCounter,
}

impl CacheLookups {
    pub fn register(metrics: &Metrics, name: &str, help: &str) -> Result<Self, prometheus::Error> {
        let lookups = IntCounterVec::new(Opts::new(name, help), &["result"])?;
        metrics.register(&lookups)?;
        Ok(Self {
            hits: lookups.with_label_values(&["hit"]),
            misses: lookups.with_label_values(&["miss"]),
        })
    }

    /// Counts one lookup: a miss when `flag` was marked by the cache's init future.
    pub fn record(&self, flag: &MissFlag) {
        if flag.0.load(Ordering::Relaxed) {
            self.misses.inc();
        } else {
            self.hits.inc();
        }
    }
}

/// Marked by the future a cache runs only on a miss (`try_get_with`), read by
/// [`CacheLookups::record`].
#[derive(Default)]
pub struct MissFlag(AtomicBool);

impl MissFlag {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
