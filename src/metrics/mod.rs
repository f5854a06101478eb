//! Prometheus metrics: one registry per app, and the one table of what is exported.
//!
//! The HTTP edge and the adapters' decorators observe into it directly; domain services keep
//! plain counts ([`crate::domain::counts`]) that [`DomainCounts`] copies into their Prometheus
//! families at each scrape, so the domain never sees a registry.

mod http;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

pub use http::{HttpObserver, method_label};

use crate::domain::avatar::AvatarStats;
use crate::domain::cache::{CacheLookups, CacheUsage};
use crate::domain::counts::{Count, Level};
use crate::domain::lifecycle::hook::HookCounts;
use crate::domain::lifecycle::purge::PurgeCounts;

/// Latency buckets in seconds, from a cache hit to a slow upstream.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The table: every metric's name (after the `visage_` prefix), help and labels.
mod table {
    pub(super) type Family = (&'static str, &'static str, &'static [&'static str]);

    pub(super) const HTTP_REQUESTS: Family = (
        "http_requests_total",
        "HTTP requests by route and status",
        &["route", "method", "status"],
    );
    pub(super) const HTTP_LATENCY: Family = (
        "http_request_duration_seconds",
        "HTTP request latency by route and status",
        &["route", "status"],
    );
    pub(super) const UPSTREAM_LATENCY: Family = (
        "upstream_request_duration_seconds",
        "Latency of calls to S3, Auth0 and Gravatar (retries included) by operation and outcome",
        &["upstream", "operation", "outcome"],
    );
    pub(super) const CACHE_ENTRIES: Family = (
        "cache_entries",
        "Entries held by an in-memory cache",
        &["cache"],
    );
    pub(super) const CACHE_BYTES: Family = (
        "cache_bytes",
        "Weighed size in bytes of an in-memory cache (its bound is in the settings)",
        &["cache"],
    );
    pub(super) const INITIALS_LOOKUPS: Family = (
        "initials_cache_lookups_total",
        "Initials picture cache lookups by result (hit or miss)",
        &["result"],
    );
    pub(super) const VARIANT_LOOKUPS: Family = (
        "pictures_variant_cache_lookups_total",
        "Resized stored-picture cache lookups by result (hit or miss)",
        &["result"],
    );
    pub(super) const GRAVATAR_LOOKUPS: Family = (
        "gravatar_cache_lookups_total",
        "Gravatar answer cache lookups by result",
        &["result"],
    );
    pub(super) const CURRENT_LOOKUPS: Family = (
        "current_picture_lookups_total",
        "Lookups of a user's current picture (/u) by result (hit or miss)",
        &["result"],
    );
    pub(super) const UPLOAD_LINK_LOOKUPS: Family = (
        "upload_link_lookups_total",
        "Lookups of an email hash's upload (/avatar) by result (hit or miss)",
        &["result"],
    );
    pub(super) const GRAVATAR_UPSTREAM: Family = (
        "gravatar_upstream_requests_total",
        "Gravatar upstream requests by outcome",
        &["outcome"],
    );
    pub(super) const GRAVATAR_CIRCUIT_OPEN: Family = (
        "gravatar_circuit_open",
        "1 while the Gravatar circuit breaker skips the upstream",
        &[],
    );
    /// Registered by the Auth0 adapter.
    pub(super) const AUTH0_CALLS: Family = (
        "auth0_management_calls_total",
        "Auth0 Management API calls by call (token, patch, get_user) and outcome",
        &["call", "outcome"],
    );
    pub(super) const HOOK_EVENTS: Family = (
        "hook_events_total",
        "Events received by POST /v1/hooks/auth0, by type (sdu, user.deleted, user.updated, other) and outcome (applied, failed, ignored)",
        &["type", "outcome"],
    );
    pub(super) const CDN_PURGES: Family = (
        "cdn_purges_total",
        "CDN purges of a user's tag after a delete, by outcome (ok, failed: logged, the CDN keeps the pictures until their max-age)",
        &["outcome"],
    );
}

fn opts((name, help, _): table::Family) -> Opts {
    Opts::new(name, help)
}

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Unprefixed, for the conventional `process_*` names.
    process: Registry,
    http_requests: IntCounterVec,
    http_latency: HistogramVec,
    /// `upstream_request_duration_seconds{upstream, operation, outcome}`: S3, Auth0, Gravatar.
    upstream_latency: HistogramVec,
    domain: DomainCounts,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("visage".into()), None)?;
        let histogram = |family: table::Family| {
            HistogramVec::new(
                HistogramOpts::new(family.0, family.1).buckets(LATENCY_BUCKETS.to_vec()),
                family.2,
            )
        };
        let http_requests = IntCounterVec::new(opts(table::HTTP_REQUESTS), table::HTTP_REQUESTS.2)?;
        let http_latency = histogram(table::HTTP_LATENCY)?;
        let upstream_latency = histogram(table::UPSTREAM_LATENCY)?;
        let domain = DomainCounts::new()?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_latency.clone()))?;
        registry.register(Box::new(upstream_latency.clone()))?;
        registry.register(Box::new(domain.clone()))?;
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
            domain,
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

    /// `auth0_management_calls_total{call, outcome}`, registered for the Auth0 adapter.
    pub fn auth0_calls(&self) -> Result<IntCounterVec, prometheus::Error> {
        let calls = IntCounterVec::new(opts(table::AUTH0_CALLS), table::AUTH0_CALLS.2)?;
        self.registry.register(Box::new(calls.clone()))?;
        Ok(calls)
    }

    /// Exports the initials cache: its lookups and its size as `cache_*{cache="initials"}`.
    pub fn watch_initials(
        &self,
        lookups: &CacheLookups,
        usage: impl Fn() -> CacheUsage + Send + Sync + 'static,
    ) {
        let family = self.domain.initials_lookups.clone();
        self.domain.watch_cache("initials", &family, lookups, usage);
    }

    /// Exports the stored-picture variant cache (`cache="picture_variants"`).
    pub fn watch_variants(
        &self,
        lookups: &CacheLookups,
        usage: impl Fn() -> CacheUsage + Send + Sync + 'static,
    ) {
        let family = self.domain.variant_lookups.clone();
        self.domain
            .watch_cache("picture_variants", &family, lookups, usage);
    }

    /// Exports the Gravatar proxy: answer lookups, the three caches together
    /// (`cache="gravatar"`), upstream calls by outcome and the breaker.
    pub fn watch_gravatar(
        &self,
        lookups: &CacheLookups,
        stats: &AvatarStats,
        usage: impl Fn() -> CacheUsage + Send + Sync + 'static,
    ) {
        let family = self.domain.gravatar_lookups.clone();
        self.domain.watch_cache("gravatar", &family, lookups, usage);
        for (outcome, count) in stats.upstream.labelled() {
            self.domain
                .counter(&self.domain.gravatar_upstream, outcome, count);
        }
        self.domain
            .level(&self.domain.circuit_open, &stats.circuit_open);
    }

    /// Exports the directory: lookups of current pictures and of email links, and both caches
    /// together (`cache="directory"`).
    pub fn watch_directory(
        &self,
        [current, links]: [&CacheLookups; 2],
        usage: impl Fn() -> CacheUsage + Send + Sync + 'static,
    ) {
        let family = self.domain.current_lookups.clone();
        self.domain
            .watch_cache("directory", &family, current, usage);
        let links_family = self.domain.link_lookups.clone();
        self.domain.counter(&links_family, "hit", &links.hits);
        self.domain.counter(&links_family, "miss", &links.misses);
    }

    /// Exports the lifecycle hook's events by type and outcome, and the CDN purges.
    pub fn watch_lifecycle(&self, hook: &HookCounts, purges: &PurgeCounts) {
        for (kind, outcome, count) in hook.series() {
            let series = self.domain.hook_events.with_label_values(&[kind, outcome]);
            self.domain.sources().counters.push((series, count.clone()));
        }
        self.domain
            .counter(&self.domain.cdn_purges, "ok", &purges.ok);
        self.domain
            .counter(&self.domain.cdn_purges, "failed", &purges.failed);
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

type UsageSource = Box<dyn Fn() -> CacheUsage + Send + Sync>;

/// What the domain counts, copied into Prometheus families at each scrape.
#[derive(Clone)]
struct DomainCounts {
    initials_lookups: IntCounterVec,
    variant_lookups: IntCounterVec,
    gravatar_lookups: IntCounterVec,
    current_lookups: IntCounterVec,
    link_lookups: IntCounterVec,
    entries: IntGaugeVec,
    bytes: IntGaugeVec,
    gravatar_upstream: IntCounterVec,
    circuit_open: IntGaugeVec,
    hook_events: IntCounterVec,
    cdn_purges: IntCounterVec,
    sources: Arc<Mutex<Sources>>,
}

/// Each exported series with the domain value it copies.
#[derive(Default)]
struct Sources {
    counters: Vec<(IntCounter, Count)>,
    levels: Vec<(IntGauge, Level)>,
    caches: Vec<(&'static str, UsageSource)>,
}

impl DomainCounts {
    fn new() -> Result<Self, prometheus::Error> {
        let counters = |family: table::Family| IntCounterVec::new(opts(family), family.2);
        Ok(Self {
            initials_lookups: counters(table::INITIALS_LOOKUPS)?,
            variant_lookups: counters(table::VARIANT_LOOKUPS)?,
            gravatar_lookups: counters(table::GRAVATAR_LOOKUPS)?,
            current_lookups: counters(table::CURRENT_LOOKUPS)?,
            link_lookups: counters(table::UPLOAD_LINK_LOOKUPS)?,
            entries: IntGaugeVec::new(opts(table::CACHE_ENTRIES), table::CACHE_ENTRIES.2)?,
            bytes: IntGaugeVec::new(opts(table::CACHE_BYTES), table::CACHE_BYTES.2)?,
            gravatar_upstream: counters(table::GRAVATAR_UPSTREAM)?,
            circuit_open: IntGaugeVec::new(
                opts(table::GRAVATAR_CIRCUIT_OPEN),
                table::GRAVATAR_CIRCUIT_OPEN.2,
            )?,
            hook_events: counters(table::HOOK_EVENTS)?,
            cdn_purges: counters(table::CDN_PURGES)?,
            sources: Arc::new(Mutex::new(Sources::default())),
        })
    }

    fn sources(&self) -> std::sync::MutexGuard<'_, Sources> {
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn counter(&self, family: &IntCounterVec, label: &str, count: &Count) {
        let series = family.with_label_values(&[label]);
        self.sources().counters.push((series, count.clone()));
    }

    fn level(&self, family: &IntGaugeVec, level: &Level) {
        let series = family.with_label_values(&[] as &[&str]);
        self.sources().levels.push((series, level.clone()));
    }

    fn watch_cache(
        &self,
        cache: &'static str,
        lookups_family: &IntCounterVec,
        lookups: &CacheLookups,
        usage: impl Fn() -> CacheUsage + Send + Sync + 'static,
    ) {
        self.counter(lookups_family, "hit", &lookups.hits);
        self.counter(lookups_family, "miss", &lookups.misses);
        self.sources().caches.push((cache, Box::new(usage)));
    }
}

impl Collector for DomainCounts {
    fn desc(&self) -> Vec<&Desc> {
        let mut descs = self.initials_lookups.desc();
        descs.extend(self.variant_lookups.desc());
        descs.extend(self.gravatar_lookups.desc());
        descs.extend(self.current_lookups.desc());
        descs.extend(self.link_lookups.desc());
        descs.extend(self.entries.desc());
        descs.extend(self.bytes.desc());
        descs.extend(self.gravatar_upstream.desc());
        descs.extend(self.circuit_open.desc());
        descs.extend(self.hook_events.desc());
        descs.extend(self.cdn_purges.desc());
        descs
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let sources = self.sources();
        for (series, count) in &sources.counters {
            // Counts only grow; the lock above keeps two scrapes from adding one delta twice.
            series.inc_by(count.get().saturating_sub(series.get()));
        }
        for (series, level) in &sources.levels {
            series.set(level.get());
        }
        for (cache, usage) in &sources.caches {
            let usage = usage();
            self.entries
                .with_label_values(&[cache])
                .set(i64::try_from(usage.entries).unwrap_or(i64::MAX));
            self.bytes
                .with_label_values(&[cache])
                .set(i64::try_from(usage.bytes).unwrap_or(i64::MAX));
        }
        let mut families = self.initials_lookups.collect();
        families.extend(self.variant_lookups.collect());
        families.extend(self.gravatar_lookups.collect());
        families.extend(self.current_lookups.collect());
        families.extend(self.link_lookups.collect());
        families.extend(self.entries.collect());
        families.extend(self.bytes.collect());
        families.extend(self.gravatar_upstream.collect());
        families.extend(self.circuit_open.collect());
        families.extend(self.hook_events.collect());
        families.extend(self.cdn_purges.collect());
        families
    }
}
