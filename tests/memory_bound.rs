//! Resident memory of each byte-weighed cache stays within its configured bound.
//!
//! RSS is process-wide, so every scenario runs alone in a child process of this binary (its own
//! harness: `cargo test --test memory_bound`), fills one cache far past its bound with small
//! entries, where the per-entry overhead is most of what an entry costs, and reports how much
//! the process grew. The parent checks each growth against the cache's setting: with the
//! weigher's overhead set to 0 each cache keeps several times more entries than its bound
//! allows and these checks fail. No timing is measured or asserted.
//!
//! `cargo test --test memory_bound -- measure` prints the per-entry overhead of the cache
//! wrapper itself (the figure behind `domain::cache::ENTRY_OVERHEAD`).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use visage::domain::avatar::{AvatarConfig, AvatarRequest, AvatarService, RawAvatarRequest};
use visage::domain::cache::{ENTRY_OVERHEAD, WeighedCache};
use visage::domain::image::PipelineRunner;
use visage::domain::pictures::{PictureConfig, PictureService, VariantCache};
use visage::domain::placeholder::{InitialsService, InitialsSpec, Rgb};
use visage::domain::render::Renderer;
use visage::ports::upstream::{AvatarUpstream, UpstreamAnswer, UpstreamError, UpstreamRequest};
use visage::ports::{ObjectKey, ObjectStore, StoreError, StoredObject};

/// Allowance for what is not cache: allocator free lists and fragmentation, moka's frequency
/// sketch and write queues, the pool's threads and transient buffers.
const FIXED_MARGIN: u64 = 2 << 20;
/// Relative allowance over the bound: with the overhead at 0, growth is 2–4× the bound.
const RELATIVE_MARGIN: f64 = 0.3;

const SCENARIO: &str = "VISAGE_MEMORY_SCENARIO";

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if let Ok(scenario) = std::env::var(SCENARIO) {
        let growth = run(&scenario);
        println!("growth={growth}");
        return;
    }
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if filter.iter().any(|f| f == "measure") {
        measure_overhead();
        return;
    }
    let mut failures = Vec::new();
    for (name, bound) in SCENARIOS {
        if !wanted(name) {
            continue;
        }
        let growth = in_child(name);
        let allowed = (*bound as f64 * (1.0 + RELATIVE_MARGIN)) as u64 + FIXED_MARGIN;
        let verdict = if growth <= allowed { "ok" } else { "FAILED" };
        println!(
            "memory_bound {name}: RSS grew {} KiB for a {} KiB bound (allowed {} KiB): {verdict}",
            growth / 1024,
            bound / 1024,
            allowed / 1024
        );
        if growth > allowed {
            failures.push(*name);
        }
    }
    assert!(failures.is_empty(), "caches over their bound: {failures:?}");
}

/// (scenario, the bound in bytes that its cache is configured with)
const SCENARIOS: &[(&str, u64)] = &[
    ("initials", INITIALS_BYTES),
    ("gravatar", GRAVATAR_BYTES / 2),
    ("variants", VARIANT_BYTES),
];

const INITIALS_BYTES: u64 = 8 << 20;
/// The answers cache gets half of `gravatar.cache_bytes`.
const GRAVATAR_BYTES: u64 = 16 << 20;
const VARIANT_BYTES: u64 = 8 << 20;

/// Runs one scenario in a child process and reads its growth.
fn in_child(name: &str) -> u64 {
    let out = Command::new(std::env::current_exe().expect("own binary"))
        .env(SCENARIO, name)
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scenario {name} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("growth="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("scenario {name} printed no growth: {stdout}"))
}

fn run(scenario: &str) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        match scenario {
            "initials" => initials().await,
            "gravatar" => gravatar().await,
            "variants" => variants().await,
            other => panic!("no scenario {other}"),
        }
    })
}

/// Resident set size of this process, from `/proc/self/status`.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

fn runner() -> Arc<PipelineRunner> {
    Arc::new(PipelineRunner::new(1, Duration::from_secs(30)))
}

/// 60,000 distinct 16 px renders (one per background colour) into an 8 MiB cache.
async fn initials() -> u64 {
    let renderer = Arc::new(Renderer::new(&[]).expect("fonts"));
    let service = InitialsService::new(renderer, runner(), INITIALS_BYTES);
    let spec = |i: u32| {
        let mut spec = InitialsSpec::new("Jane Doe", 16);
        spec.bg = Some(Rgb::hex(i));
        spec
    };
    // Fonts, shaping tables and the allocator's arenas are faulted in by the warm-up.
    for _ in 0..200 {
        service.render(&spec(0)).await.expect("render");
    }
    let before = rss_bytes();
    for i in 1..=60_000 {
        service.render(&spec(i)).await.expect("render");
    }
    service.cache().settle().await;
    rss_bytes().saturating_sub(before)
}

/// Gravatar has no picture for any of 150,000 hashes: the smallest answers there are.
async fn gravatar() -> u64 {
    struct NoGravatar;
    #[async_trait]
    impl AvatarUpstream for NoGravatar {
        async fn fetch(&self, _: &UpstreamRequest) -> Result<UpstreamAnswer, UpstreamError> {
            Ok(UpstreamAnswer::NoPicture)
        }
    }
    let renderer = Arc::new(Renderer::new(&[]).expect("fonts"));
    let initials = Arc::new(InitialsService::new(renderer, runner(), 1 << 20));
    let config = AvatarConfig {
        ttl_hit: Duration::from_secs(3600),
        ttl_miss: Duration::from_secs(3600),
        ttl_fallback: Duration::from_secs(60),
        ttl_stale: Duration::from_secs(3600),
        cache_bytes: GRAVATAR_BYTES,
        breaker_failures: 0,
        breaker_cooldown: Duration::from_secs(1),
        upstream_sizes: vec![80],
        max_concurrent_requests: 1_000,
        requests_per_sec: 1_000_000_000,
        requests_burst: 1_000_000_000,
    };
    let service = AvatarService::new(&config, Arc::new(NoGravatar), initials, runner(), None);
    let ask = |n: u32| {
        let hash = format!("{n:064x}");
        AvatarRequest::parse(&RawAvatarRequest {
            file: &hash,
            size: 80,
            default: Some("404"),
            ..RawAvatarRequest::default()
        })
        .expect("valid request")
    };
    for n in 0..200 {
        let _ = service.resolve(&ask(n)).await;
    }
    let before = rss_bytes();
    for n in 200..150_200 {
        let _ = service.resolve(&ask(n)).await;
    }
    let grown = rss_bytes().saturating_sub(before);
    assert!(service.usage().entries > 1_000, "the cache was used");
    grown
}

/// Every one of 30,000 stored masters asked once at a 16 px bucket: small variants.
async fn variants() -> u64 {
    let store = Arc::new(Masters::new(30_000));
    let config = PictureConfig {
        sizes: vec![16],
        master_size: 32,
        store_variants: false,
    };
    let cache = VariantCache::new(VARIANT_BYTES, Duration::from_secs(3600));
    let service = PictureService::new(config, store.clone(), runner(), cache.clone());
    for key in store.keys.iter().take(200) {
        service.get(key, Some(16), None).await.expect("variant");
    }
    let before = rss_bytes();
    for key in store.keys.iter().skip(200) {
        service.get(key, Some(16), None).await.expect("variant");
    }
    cache.cache().settle().await;
    rss_bytes().saturating_sub(before)
}

/// A store of `count` keys that all hold the same 32 px PNG master (allocated once).
struct Masters {
    keys: Vec<ObjectKey>,
    master: Bytes,
}

impl Masters {
    fn new(count: u32) -> Self {
        let image =
            image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8 * 8, 90]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(image)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        let keys = (0..count)
            .map(|n| ObjectKey::parse(&format!("u/{n:032x}/{n:064x}.png")).expect("key"))
            .collect();
        Self {
            keys,
            master: Bytes::from(png),
        }
    }
}

#[async_trait]
impl ObjectStore for Masters {
    async fn put(&self, _: &ObjectKey, _: Bytes, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn get(&self, _: &ObjectKey) -> Result<Bytes, StoreError> {
        Ok(self.master.clone())
    }
    async fn exists(&self, _: &ObjectKey) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn list_objects(&self, _: &str) -> Result<Vec<StoredObject>, StoreError> {
        Ok(Vec::new())
    }
    async fn delete(&self, _: &ObjectKey) -> Result<(), StoreError> {
        Ok(())
    }
    async fn health_check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// What one entry of the cache wrapper really costs beyond its key and value: RSS growth per
/// entry with a cache too large to evict, minus what the weigher counts besides the overhead.
fn measure_overhead() {
    const ENTRIES: u64 = 200_000;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cache: WeighedCache<String, Bytes> =
            WeighedCache::new("measure", u64::MAX, Some(Duration::from_secs(3600)));
        let before = rss_bytes();
        for n in 0..ENTRIES {
            cache.insert(format!("{n:016x}"), Bytes::new()).await;
        }
        cache.settle().await;
        let per_entry = rss_bytes().saturating_sub(before) / ENTRIES;
        let counted = cache.usage().bytes / ENTRIES - ENTRY_OVERHEAD as u64;
        println!(
            "per entry: {per_entry} B resident; the weigher counts {counted} B besides the \
             overhead, so the overhead is {} B (ENTRY_OVERHEAD = {ENTRY_OVERHEAD})",
            per_entry.saturating_sub(counted)
        );
    });
}
