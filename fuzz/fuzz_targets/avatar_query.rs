//! `/avatar/{file}?query` parsing and validation (see `visage_fuzz::avatar_query`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| visage_fuzz::avatar_query(data));
