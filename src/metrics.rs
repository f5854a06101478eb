//! Prometheus metrics: one registry per app, shared by the HTTP edge and the adapters.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry,
};

/// Latency buckets in seconds, from a cache hit to a slow upstream.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Unprefixed, for the conventional `process_*` names.
    process: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
    /// `upstream_request_duration_seconds{upstream, operation, outcome}`: S3, Auth0, Gravatar.
    pub upstream_latency: HistogramVec,
    caches: CacheUsage,
}

/// The `method` label: the methods the service knows, anything else `other`, so that a client
/// inventing methods cannot grow the label set.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
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
                "HTTP request latency by route and status",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "status"],
        )?;
        let upstream_latency = HistogramVec::new(
            HistogramOpts::new(
                "upstream_request_duration_seconds",
                "Latency of calls to S3, Auth0 and Gravatar (retries included) by operation and outcome",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["upstream", "operation", "outcome"],
        )?;
        let caches = CacheUsage::new()?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_latency.clone()))?;
        registry.register(Box::new(upstream_latency.clone()))?;
        registry.register(Box::new(caches.clone()))?;
        let process = Registry::new();
        #[cfg(target_os = "linux")]
        process.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            process,
            http_requests,
            http_latency,
            upstream_latency,
            caches,
        })
    }

    /// Times one upstream call: `upstream` is `s3`, `auth0` or `gravatar`.
    pub fn upstream_timer(&self, upstream: &'static str, operation: &'static str) -> UpstreamTimer {
        UpstreamTimer {
            histogram: self.upstream_latency.clone(),
            upstream,
            operation,
            started: Instant::now(),
        }
    }

    /// Reports a cache's entry count and weighed size as `cache_entries{cache}` and
    /// `cache_bytes{cache}`, read at each scrape.
    pub fn watch_cache(
        &self,
        cache: &'static str,
        usage: impl Fn() -> (u64, u64) + Send + Sync + 'static,
    ) {
        if let Ok(mut sources) = self.caches.sources.lock() {
            sources.push((cache, Box::new(usage)));
        }
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
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        prometheus::TextEncoder::new().encode(&families, &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// The request counter and latency histogram of each (route, method, status), resolved once per
/// worker on first use: a request then touches no label map and formats no status text.
/// One per worker thread (registered in the app factory), hence a `RefCell`, never shared.
pub struct HttpObserver {
    metrics: Metrics,
    /// A few dozen (route, method, status) at most, found by comparing: cheaper than hashing.
    responses: RefCell<Vec<ResponseHandles>>,
}

struct ResponseHandles {
    route: Box<str>,
    method: &'static str,
    status: u16,
    requests: IntCounter,
    latency: Histogram,
}

impl HttpObserver {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            responses: RefCell::new(Vec::new()),
        }
    }

    /// Counts one response. `route` is a route pattern (a bounded set), `method` a
    /// [`method_label`], so the map stays small.
    pub fn observe(&self, route: &str, method: &'static str, status: u16, latency: Duration) {
        let Ok(mut responses) = self.responses.try_borrow_mut() else {
            return;
        };
        let known = responses
            .iter()
            .position(|h| h.status == status && h.method == method && *h.route == *route);
        let index = known.unwrap_or_else(|| {
            let status_text = status.to_string();
            responses.push(ResponseHandles {
                route: route.into(),
                method,
                status,
                requests: self.metrics.http_requests.with_label_values(&[
                    route,
                    method,
                    &status_text,
                ]),
                latency: self
                    .metrics
                    .http_latency
                    .with_label_values(&[route, &status_text]),
            });
            responses.len() - 1
        });
        let handles = &responses[index];
        handles.requests.inc();
        handles.latency.observe(latency.as_secs_f64());
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

/// Polls a cache's housekeeping once without waiting (its counts lag behind writes until it
/// runs); if it is busy elsewhere the scrape reads the slightly older counts.
pub fn settle(housekeeping: impl std::future::Future<Output = ()>) {
    use futures_util::FutureExt;
    let _ = std::pin::pin!(housekeeping).now_or_never();
}

/// A running upstream call; [`UpstreamTimer::finish`] observes its latency with its outcome.
pub struct UpstreamTimer {
    histogram: HistogramVec,
    upstream: &'static str,
    operation: &'static str,
    started: Instant,
}

impl UpstreamTimer {
    pub fn finish(self, outcome: &'static str) {
        self.histogram
            .with_label_values(&[self.upstream, self.operation, outcome])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

type UsageSource = Box<dyn Fn() -> (u64, u64) + Send + Sync>;

/// Cache gauges filled at scrape time from the caches themselves.
#[derive(Clone)]
struct CacheUsage {
    entries: IntGaugeVec,
    bytes: IntGaugeVec,
    sources: Arc<Mutex<Vec<(&'static str, UsageSource)>>>,
}

impl CacheUsage {
    fn new() -> Result<Self, prometheus::Error> {
        Ok(Self {
            entries: IntGaugeVec::new(
                Opts::new("cache_entries", "Entries held by an in-memory cache"),
                &["cache"],
            )?,
            bytes: IntGaugeVec::new(
                Opts::new(
                    "cache_bytes",
                    "Weighed size in bytes of an in-memory cache (its bound is in the settings)",
                ),
                &["cache"],
            )?,
            sources: Arc::new(Mutex::new(Vec::new())),
        })
    }
}

impl Collector for CacheUsage {
    fn desc(&self) -> Vec<&Desc> {
        let mut descs = self.entries.desc();
        descs.extend(self.bytes.desc());
        descs
    }

    fn collect(&self) -> Vec<MetricFamily> {
        if let Ok(sources) = self.sources.lock() {
            for (cache, usage) in sources.iter() {
                let (entries, bytes) = usage();
                self.entries
                    .with_label_values(&[cache])
                    .set(i64::try_from(entries).unwrap_or(i64::MAX));
                self.bytes
                    .with_label_values(&[cache])
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            }
        }
        let mut families = self.entries.collect();
        families.extend(self.bytes.collect());
        families
    }
}
