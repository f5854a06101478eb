//! Decodes FILE at 1/4 scale with jpeg-decoder (what visage uses) and with libjpeg-turbo (through
//! the mozjpeg crate), alternating rounds, and prints each round's median in milliseconds.

use std::time::Instant;

fn median_ms(runs: usize, mut decode: impl FnMut() -> usize) -> f64 {
    for _ in 0..3 {
        std::hint::black_box(decode());
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(decode());
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: jpeg-decoders-bench FILE [ROUNDS]");
    let rounds: usize = std::env::args()
        .nth(2)
        .map_or(4, |r| r.parse().expect("rounds"));
    let data = std::fs::read(&path).expect("readable file");
    let libjpeg = if cfg!(feature = "simd") {
        "libjpeg-turbo+simd"
    } else {
        "libjpeg-turbo"
    };
    for round in 1..=rounds {
        let ours = median_ms(30, || {
            let mut decoder = jpeg_decoder::Decoder::new(&data[..]);
            decoder.read_info().expect("header");
            let info = decoder.info().expect("info");
            decoder
                .scale(info.width / 4, info.height / 4)
                .expect("scale");
            decoder.decode().expect("decode").len()
        });
        let turbo = median_ms(30, || {
            let mut decompress = mozjpeg::Decompress::new_mem(&data).expect("header");
            decompress.scale(2); // 2/8
            let mut started = decompress.rgb().expect("start");
            let pixels: Vec<[u8; 3]> = started.read_scanlines().expect("scanlines");
            started.finish().expect("finish");
            pixels.len()
        });
        println!("round {round}: jpeg-decoder {ours:.2} ms, {libjpeg} {turbo:.2} ms");
    }
}
