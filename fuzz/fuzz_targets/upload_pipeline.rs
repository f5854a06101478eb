//! The upload pipeline on arbitrary bytes (see `visage_fuzz::upload_pipeline`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| visage_fuzz::upload_pipeline(data));
