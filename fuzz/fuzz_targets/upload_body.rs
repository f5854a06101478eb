//! The upload body reader (`Content-Length` check, the streaming size limit, multipart with one
//! file part, raw `image/*`) on arbitrary headers and bodies.
//! Input: one selector byte (content type and whether a `Content-Length` is declared), then for
//! selector 3 a `Content-Type` line ending in `\n`, then the body.
#![no_main]

use std::sync::OnceLock;

use actix_web::FromRequest;
use actix_web::http::header::{self, HeaderValue};
use libfuzzer_sys::fuzz_target;
use visage::http::upload_body::read_picture;

const LIMIT: u64 = 4096;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

/// As in production: a panic that visage catches (actix-multipart's, inside `read_picture`) is
/// answered, not a crash. libfuzzer-sys's hook would abort before the unwind reaches visage's
/// `catch_unwind`, so the hook is replaced by a quiet one; a panic visage does not catch still
/// unwinds to libfuzzer-sys, which reports it as a crash.
fn quiet_panic_hook() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| std::panic::set_hook(Box::new(|_| {})));
}

fuzz_target!(|data: &[u8]| {
    quiet_panic_hook();
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (content_type, body): (Vec<u8>, &[u8]) = match selector & 3 {
        0 => (b"multipart/form-data; boundary=XyZ".to_vec(), rest),
        1 => (b"image/png".to_vec(), rest),
        2 => (b"multipart/form-data; boundary=\"a b\"".to_vec(), rest),
        _ => match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (rest[..end].to_vec(), &rest[end + 1..]),
            None => return,
        },
    };
    let Ok(content_type) = HeaderValue::from_bytes(&content_type) else {
        return;
    };
    let mut request = actix_web::test::TestRequest::post()
        .uri("/v1/me/picture")
        .insert_header((header::CONTENT_TYPE, content_type))
        .set_payload(bytes::Bytes::copy_from_slice(body));
    if selector & 4 == 0 {
        // set_payload declares the true length; some clients send a false one, or none.
        request = request.insert_header((header::CONTENT_LENGTH, u64::from(selector >> 3)));
    }
    let (req, mut payload) = request.to_http_parts();
    runtime().block_on(async {
        let Ok(payload) = actix_web::web::Payload::from_request(&req, &mut payload).await else {
            return;
        };
        if let Ok(file) = read_picture(&req, payload, LIMIT).await {
            assert!(file.picture.len() as u64 <= LIMIT);
        }
    });
});
