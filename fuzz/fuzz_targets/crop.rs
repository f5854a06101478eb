//! The crop path: `crop=` parsing and the crop through the pipeline (see `visage_fuzz::crop`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| visage_fuzz::crop(data));
