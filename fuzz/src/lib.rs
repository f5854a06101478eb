//! What each fuzz target checks, as plain functions of the input: the libFuzzer binaries in
//! `fuzz_targets/` call them, and `tests/fuzz_replay.rs` (in the main crate's `cargo test`)
//! replays every saved input through them, so the suite keeps the findings and the targets alive.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::FromRequest;
use actix_web::http::header::{self, HeaderValue};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use visage::domain::avatar::{AvatarRequest, RawAvatarRequest};
use visage::domain::image::{
    ImageError, MIN_CROP_EDGE, PipelineLimits, PipelineRunner, normalize, normalize_master, sniff,
};
use visage::domain::placeholder::InitialsService;
use visage::domain::render::Renderer;
use visage::http::extract::{QueryParams, parse_crop, percent_decode_path};
use visage::http::initials::parse_request;
use visage::http::upload_body::read_picture;
use visage::vocabulary::{AVATAR_EDGES, Format, PICTURE_EDGES};

/// What a target checks, given one input.
pub type Target = fn(&[u8]);

/// The targets by name (the folder names under `fuzz/regressions/` and `fuzz/corpus/`).
pub const TARGETS: [(&str, Target); 6] = [
    ("upload_pipeline", upload_pipeline),
    ("initials", initials),
    ("avatar_query", avatar_query),
    ("upload_body", upload_body),
    ("crop", crop),
    ("percent_decode", percent_decode),
];

// --- upload_pipeline ----------------------------------------------------------------------

/// Production's shape, with fewer pixels so that one run stays fast under the sanitizer.
const PIPELINE_LIMITS: PipelineLimits = PipelineLimits {
    max_pixels: 4_000_000,
    min_edge: 16,
    master_size: 512,
};

/// The upload pipeline on arbitrary bytes: sniff → header checks → decode within limits →
/// orient → crop → resize → encode. An accepted picture must be the square master.
pub fn upload_pipeline(data: &[u8]) {
    let _ = sniff(data);
    if let Ok(picture) = normalize(data, &PIPELINE_LIMITS) {
        assert_eq!((picture.width, picture.height), (512, 512));
        assert!(!picture.bytes.is_empty());
    }
}

// --- initials -----------------------------------------------------------------------------

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
        let runner = Arc::new(PipelineRunner::new(1, Duration::from_secs(30)));
        World {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            service: Arc::new(InitialsService::new(renderer, runner, 64 << 20)),
        }
    })
}

/// `/initials/{text}.{png|svg}?query` below HTTP: the route's parser (percent-decoding, UTF-8,
/// lengths, sizes, colours) and the renderer. Input: a format selector byte, then `text?query`.
pub fn initials(data: &[u8]) {
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
}

// --- avatar_query -------------------------------------------------------------------------

/// `/avatar/{file}?query`: the query parser and the request validation on arbitrary text.
/// Input: `file?query` (lossy UTF-8, as actix hands the handler).
pub fn avatar_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (file, query) = text.split_once('?').unwrap_or((&text, ""));
    let Ok(query) = QueryParams::parse(query) else {
        return;
    };
    let _ = query.color("bg");
    let _ = query.flag("bold", false);
    if let Ok(size) = query.size() {
        assert!(PICTURE_EDGES.contains(size.0));
    }
    // As the handler reads it: Gravatar's 1..=2048, default 80.
    let Ok(size) = query.size_within(AVATAR_EDGES) else {
        return;
    };
    assert!(AVATAR_EDGES.contains(size.0));
    let either = |long: &str, short: &str| query.get(long).or_else(|| query.get(short));
    if let Ok(request) = AvatarRequest::parse(&RawAvatarRequest {
        file,
        size: size.0,
        default: either("default", "d"),
        rating: either("rating", "r"),
        force_default: either("forcedefault", "f"),
        name: query.get("name"),
        initials: query.get("initials"),
    }) {
        if let Some(hash) = &request.hash {
            assert!(matches!(hash.len(), 32 | 64));
        }
        assert!((1..=3).contains(&request.fallback_length));
    }
}

// --- upload_body --------------------------------------------------------------------------

const BODY_LIMIT: u64 = 4096;

fn body_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

/// The upload body reader (`Content-Length` check, the streaming size limit, multipart with one
/// file part, raw `image/*`) on arbitrary headers and bodies. Input: one selector byte (content
/// type and whether a `Content-Length` is declared), then for selector 3 a `Content-Type` line
/// ending in `\n`, then the body.
pub fn upload_body(data: &[u8]) {
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
    body_runtime().block_on(async {
        let Ok(payload) = actix_web::web::Payload::from_request(&req, &mut payload).await else {
            return;
        };
        if let Ok(file) = read_picture(&req, payload, BODY_LIMIT).await {
            assert!(file.picture.len() as u64 <= BODY_LIMIT);
        }
    });
}

// --- crop -----------------------------------------------------------------------------------

/// Pictures the crop target cuts, with their upright size: EXIF orientations that keep, turn
/// and mirror the axes (JPEG, shrunk on load), a progressive JPEG, a WebP and a PNG with alpha.
const CROP_SOURCES: [(&[u8], (u32, u32)); 6] = [
    (
        include_bytes!("../../tests/fixtures/orientation-1.jpg"),
        (1600, 1200),
    ),
    (
        include_bytes!("../../tests/fixtures/orientation-6.jpg"),
        (1600, 1200),
    ),
    (
        include_bytes!("../../tests/fixtures/orientation-7.jpg"),
        (1600, 1200),
    ),
    (
        include_bytes!("../../tests/fixtures/progressive.jpg"),
        (800, 600),
    ),
    (
        include_bytes!("../../tests/fixtures/quadrants.webp"),
        (320, 240),
    ),
    (
        include_bytes!("../../tests/fixtures/grey-alpha.png"),
        (64, 64),
    ),
];

/// A small master: the crop arithmetic is what is searched, not the encoder.
const CROP_LIMITS: PipelineLimits = PipelineLimits {
    max_pixels: 4_000_000,
    min_edge: 16,
    master_size: 32,
};

/// The crop path through the public pipeline: `crop=` parsing, then `normalize_master` with
/// the rectangle (checked against the upright size, mapped through the EXIF orientation and
/// the shrink-on-load scale). Accepted exactly when the rectangle is at least 16 px a side and
/// inside the upright picture; then the master is the square of the limits. Input: a picture
/// selector byte, then the `crop` text (lossy UTF-8).
pub fn crop(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (picture, (width, height)) = CROP_SOURCES[usize::from(selector) % CROP_SOURCES.len()];
    let text = String::from_utf8_lossy(rest);
    let Ok(crop) = parse_crop(&text) else {
        return;
    };
    let inside = crop.width >= MIN_CROP_EDGE
        && crop.height >= MIN_CROP_EDGE
        && u64::from(crop.x) + u64::from(crop.width) <= u64::from(width)
        && u64::from(crop.y) + u64::from(crop.height) <= u64::from(height);
    match normalize_master(picture, &CROP_LIMITS, Some(crop)) {
        Ok(master) => {
            assert!(inside, "{crop:?} accepted outside {width}×{height}");
            let side = CROP_LIMITS.master_size;
            assert_eq!((master.picture.width, master.picture.height), (side, side));
            assert!(!master.picture.bytes.is_empty());
        }
        Err(ImageError::InvalidCrop(why)) => {
            assert!(!inside, "{crop:?} refused inside {width}×{height}: {why}");
        }
        Err(other) => panic!("{crop:?} on a valid picture: {other}"),
    }
}

// --- percent_decode -------------------------------------------------------------------------

/// Our path-segment decoder against the `percent-encoding` crate's on any UTF-8 text: the same
/// decoded text, or `None` for both when the bytes are not UTF-8.
pub fn percent_decode(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = percent_decode_path(text);
    let theirs: Option<Cow<'_, str>> = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok();
    assert_eq!(ours, theirs, "{text:?}");
}
