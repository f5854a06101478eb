//! Criterion benchmark of the upload pipeline on photo-like JPEGs (written by bench/pipeline.sh).
//!
//! `cargo bench --bench pipeline` measures `normalize` on `bench/out/photo-12mp.jpg` and
//! `bench/out/photo-2mp.jpg` (or `$VISAGE_BENCH_DIR`). With `VISAGE_PIPELINE_ONCE=FILE` it instead
//! runs the pipeline on FILE (`VISAGE_PIPELINE_THREADS` at once, default 1; with the crop
//! `VISAGE_PIPELINE_CROP=x,y,w,h` if set) and prints the process's peak RSS, for the memory figures. With `VISAGE_PIPELINE_TIME=FILE` it prints the
//! median time of `VISAGE_PIPELINE_RUNS` (default 30) runs on FILE, in the same form as the
//! peers' scripts, so bench/pipeline.sh can alternate contenders round by round.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;
use visage::domain::image::{PipelineLimits, master_variant, normalize, normalize_master};

const LIMITS: PipelineLimits = PipelineLimits {
    max_pixels: 40_000_000,
    min_edge: 16,
    master_size: 512,
};

fn bench_dir() -> PathBuf {
    std::env::var_os("VISAGE_BENCH_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/out"),
        PathBuf::from,
    )
}

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|err| {
        panic!(
            "{}: {err} (bench/pipeline.sh writes the photos)",
            path.display()
        )
    })
}

fn benches(c: &mut Criterion) {
    let dir = bench_dir();
    let mut group = c.benchmark_group("pipeline");
    group
        .sample_size(40)
        .measurement_time(Duration::from_secs(8));
    for name in ["12mp", "2mp"] {
        let input = read(&dir.join(format!("photo-{name}.jpg")));
        group.bench_function(name, |b| {
            b.iter(|| normalize(black_box(&input), &LIMITS).expect("normalize"));
        });
    }
    let master = normalize(&read(&dir.join("photo-2mp.jpg")), &LIMITS).expect("master");
    group.bench_function("variant-512-to-128", |b| {
        b.iter(|| master_variant(black_box(&master.bytes), 128, master.format).expect("variant"));
    });
    group.finish();
}

/// A count from the environment, or `default` when unset or not a number.
fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size of this process in KiB, from /proc (Linux).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn run_once(path: &str) {
    let input = read(std::path::Path::new(path));
    let threads = env_count("VISAGE_PIPELINE_THREADS", 1);
    // `x,y,w,h`: a crop, as an upload's `crop=` (a small crop of a large JPEG decodes at full size).
    let crop = std::env::var("VISAGE_PIPELINE_CROP")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| visage::http::extract::parse_crop(&v).expect("VISAGE_PIPELINE_CROP is x,y,w,h"));
    let before = peak_rss_kib();
    let outcomes: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| normalize_master(&input, &LIMITS, crop).map(|m| m.picture)))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(Ok(picture)) => format!("ok {} bytes", picture.bytes.len()),
                Ok(Err(err)) => format!("refused: {err}"),
                Err(_) => "panicked".to_owned(),
            })
            .collect()
    });
    let after = peak_rss_kib();
    println!(
        "file={path} threads={threads} outcome=[{}] peak_rss_kib={after} before_kib={before} added_kib={}",
        outcomes.join("; "),
        after.saturating_sub(before)
    );
}

fn time_median(path: &str) {
    let input = read(std::path::Path::new(path));
    let runs = env_count("VISAGE_PIPELINE_RUNS", 30);
    for _ in 0..3 {
        black_box(normalize(&input, &LIMITS).expect("normalize"));
    }
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = std::time::Instant::now();
            black_box(normalize(black_box(&input), &LIMITS).expect("normalize"));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("visage {path} {:.2}", times[times.len() / 2]);
}

fn main() {
    if let Ok(path) = std::env::var("VISAGE_PIPELINE_TIME") {
        time_median(&path);
        return;
    }
    if let Ok(path) = std::env::var("VISAGE_PIPELINE_ONCE") {
        run_once(&path);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
