//! visage's side of `bench/avif-frontier.sh`: encodes 512 px masters as AVIF with each tuning
//! given, to show what each of the encoder's knobs costs and saves (time, bytes; the script
//! measures SSIM).
//!
//! Usage: `avif_frontier OUT_DIR RUNS TUNING... -- MASTER...`, where a TUNING is
//! `q{quantizer},{psy|psnr},{min}-{max},{seg|noseg}` (`q114,psy,16-16,seg` is the service's).
//! For each tuning and master: writes `OUT_DIR/{stem}.{tuning}.avif` and prints
//! `{tuning} {master} {bytes} {median ms}` (median of RUNS encodes, after one warm-up).

use std::path::{Path, PathBuf};
use std::time::Instant;

use visage::domain::image::{AvifTuning, encode_rgb_tuned};

fn parse(tuning: &str) -> Option<AvifTuning> {
    let mut parts = tuning.split(',');
    let quantizer = parts.next()?.strip_prefix('q')?.parse().ok()?;
    let psychovisual = match parts.next()? {
        "psy" => true,
        "psnr" => false,
        _ => return None,
    };
    let (min, max) = parts.next()?.split_once('-')?;
    let segmentation = match parts.next()? {
        "seg" => true,
        "noseg" => false,
        _ => return None,
    };
    Some(AvifTuning {
        quantizer,
        psychovisual,
        partition_min: min.parse().ok()?,
        partition_max: max.parse().ok()?,
        segmentation,
    })
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let usage = "usage: avif_frontier OUT_DIR RUNS TUNING... -- MASTER...";
    let [out, runs, rest @ ..] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let Some(split) = rest.iter().position(|a| a == "--") else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let (tunings, masters) = (&rest[..split], &rest[split + 1..]);
    let out = PathBuf::from(out);
    let runs: usize = runs.parse().expect("RUNS is a number");
    let pictures: Vec<(String, image::RgbImage)> = masters
        .iter()
        .map(|master| {
            let rgb = image::open(master)
                .unwrap_or_else(|e| panic!("{master}: {e}"))
                .to_rgb8();
            (master.clone(), rgb)
        })
        .collect();
    for label in tunings {
        let tuning = parse(label).unwrap_or_else(|| panic!("not a tuning: {label}"));
        for (master, rgb) in &pictures {
            let (w, h) = rgb.dimensions();
            let encoded = encode_rgb_tuned(w, h, rgb.as_raw(), tuning).expect("encodes");
            let stem = Path::new(master)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("master");
            std::fs::write(out.join(format!("{stem}.{label}.avif")), &encoded).expect("writes");
            let mut times: Vec<f64> = (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    std::hint::black_box(encode_rgb_tuned(w, h, rgb.as_raw(), tuning).ok());
                    start.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
            println!("{label} {master} {} {median:.2}", encoded.len());
        }
    }
}
