//! The upload pipeline on arbitrary bytes: sniff → header checks → decode within limits →
//! orient → crop → resize → encode. Any outcome but a panic, a hang or a blown memory limit is
//! fine; an accepted picture must be the square master the contract promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use visage::domain::image::{PipelineLimits, normalize, sniff};

/// Production's shape, with fewer pixels so that one run stays fast under the sanitizer.
const LIMITS: PipelineLimits = PipelineLimits {
    max_pixels: 4_000_000,
    min_edge: 16,
    master_size: 512,
};

fuzz_target!(|data: &[u8]| {
    let _ = sniff(data);
    if let Ok(picture) = normalize(data, &LIMITS) {
        assert_eq!((picture.width, picture.height), (512, 512));
        assert!(!picture.bytes.is_empty());
    }
});
