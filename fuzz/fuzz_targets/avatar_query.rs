//! `/avatar/{file}?query`: the query parser and the request validation on arbitrary text.
//! Input: `file?query` (lossy UTF-8, as actix hands the handler).
#![no_main]

use libfuzzer_sys::fuzz_target;
use visage::domain::avatar::{AvatarRequest, RawAvatarRequest};
use visage::vocabulary::{AVATAR_EDGES, PICTURE_EDGES};
use visage::http::extract::QueryParams;

fuzz_target!(|data: &[u8]| {
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
});
