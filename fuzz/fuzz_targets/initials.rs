//! `/initials/{text}.{png|svg}?query` below HTTP (see `visage_fuzz::initials`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| visage_fuzz::initials(data));
