//! The upload body reader on arbitrary headers and bodies (see `visage_fuzz::upload_body`).
#![no_main]

use std::sync::OnceLock;

/// As in production: a panic that visage catches (actix-multipart's, inside `read_picture`) is
/// answered, not a crash. libfuzzer-sys's hook would abort before the unwind reaches visage's
/// `catch_unwind`, so the hook is replaced by a quiet one; a panic visage does not catch still
/// unwinds to libfuzzer-sys, which reports it as a crash.
fn quiet_panic_hook() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| std::panic::set_hook(Box::new(|_| {})));
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    quiet_panic_hook();
    visage_fuzz::upload_body(data);
});
