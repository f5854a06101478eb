//! visage's side of `bench/formats.sh`: encodes 512 px masters as AVIF, WebP and JPEG with the
//! encoders and qualities the service uses (`domain::image::master_variant`, which decodes the
//! master and encodes it, as a cold variant request does).
//!
//! Usage: `formats OUT_DIR RUNS EDGE MASTER...`: for each master and format, writes
//! `OUT_DIR/{master stem}.visage.{ext}` and prints one line
//! `{master} {format} {edge} {bytes} {median ms}` (median of RUNS encodes; RUNS 0 writes only).
//! EDGE below the master's edge resizes first (Lanczos3), as a sized variant does.

use std::path::{Path, PathBuf};
use std::time::Instant;

use visage::domain::image::{
    AVIF_INTERACTIVE_MAX_EDGE, AVIF_QUANTIZER, AVIF_SPEED, JPEG_QUALITY, WEBP_QUALITY,
    master_variant,
};
use visage::vocabulary::Format;

fn main() {
    // `cargo bench` passes `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [out, runs, edge, masters @ ..] = args.as_slice() else {
        eprintln!("usage: formats OUT_DIR RUNS EDGE MASTER...");
        std::process::exit(2);
    };
    let out = PathBuf::from(out);
    let runs: usize = runs.parse().expect("RUNS is a number");
    let edge: u32 = edge.parse().expect("EDGE is a number");
    eprintln!(
        "visage: AVIF quantizer {AVIF_QUANTIZER} speed {AVIF_SPEED} (inline up to {AVIF_INTERACTIVE_MAX_EDGE} px), \
         WebP quality {WEBP_QUALITY}, JPEG quality {JPEG_QUALITY}"
    );
    for master in masters {
        let bytes = std::fs::read(master).unwrap_or_else(|e| panic!("{master}: {e}"));
        let stem = Path::new(master)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("master");
        for format in [Format::Avif, Format::Webp, Format::Jpeg] {
            let encoded = master_variant(&bytes, edge, format).expect("encodes");
            let path = out.join(format!("{stem}.visage.{}", format.extension()));
            std::fs::write(&path, &encoded.bytes).expect("writes");
            let mut times: Vec<f64> = (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    std::hint::black_box(master_variant(&bytes, edge, format).expect("encodes"));
                    start.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
            println!(
                "{master} {format} {edge} {} {median:.2}",
                encoded.bytes.len()
            );
        }
    }
}
