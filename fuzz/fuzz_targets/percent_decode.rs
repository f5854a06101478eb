//! Our percent decoder against the `percent-encoding` crate's (see `visage_fuzz::percent_decode`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| visage_fuzz::percent_decode(data));
