//! `/initials/{text}.{png|svg}?query` end to end below HTTP: the path and query parser
//! (percent-decoding, UTF-8, lengths, sizes, colours) and the renderer on arbitrary text.
//! Input: first byte picks the format, then `text?query` (lossy UTF-8).
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use visage::domain::image::PipelineRunner;
use visage::domain::placeholder::InitialsService;
use visage::domain::render::Renderer;
use visage::vocabulary::Format;
use visage::http::extract::QueryParams;
use visage::http::initials::parse_request;

/// What a client must escape in a path or query; `%` stays raw so that the fuzzer can write
/// its own (also invalid) escapes.
const ESCAPE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');
const ESCAPE_PATH: &AsciiSet = &ESCAPE.add(b'/').add(b'?');

struct World {
    runtime: tokio::runtime::Runtime,
    service: Arc<InitialsService>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let renderer = Arc::new(Renderer::new(&[]).expect("fonts"));
        World {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            service: Arc::new(InitialsService::new(
                renderer,
                Arc::new(PipelineRunner::new(1, Duration::from_secs(30))),
                64 << 20,
            )),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let extension = match selector % 3 {
        0 => "png",
        1 => "svg",
        _ => "gif",
    };
    let text = String::from_utf8_lossy(rest);
    let (text, query) = text.split_once('?').unwrap_or((&text, ""));
    let uri = format!(
        "/initials/{}.{extension}?{}",
        utf8_percent_encode(text, ESCAPE_PATH),
        utf8_percent_encode(query, ESCAPE)
    );
    if actix_web::http::Uri::try_from(uri.as_str()).is_err() {
        return;
    }
    let req = actix_web::test::TestRequest::get()
        .uri(&uri)
        .to_http_request();
    let Ok(query) = QueryParams::parse(req.query_string()) else {
        return;
    };
    let Ok((spec, _)) = parse_request(&req, &query) else {
        return;
    };
    // The renderer's own encoders are fuzzed here; AVIF, WebP and JPEG encoders get our own
    // pixels only and would slow every execution by milliseconds.
    if !matches!(spec.format, Format::Png | Format::Svg) {
        return;
    }
    let world = world();
    if let Ok(picture) = world.runtime.block_on(world.service.render(&spec)) {
        assert!(!picture.bytes.is_empty());
    }
});
