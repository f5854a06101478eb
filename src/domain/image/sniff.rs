//! The upload allowlist: the format is named by its magic bytes; declared types and names are
//! ignored.

use super::{Format, ImageError};

/// The formats an upload may be in (decoded by pure-Rust decoders only).
pub const UPLOAD_FORMATS: [Format; 4] = [Format::Png, Format::Jpeg, Format::Webp, Format::Gif];

/// Names an accepted upload format from the first bytes, or says why it is refused.
pub fn sniff(input: &[u8]) -> Result<Format, ImageError> {
    if input.is_empty() {
        return Err(ImageError::Invalid("the picture is empty".into()));
    }
    Format::sniff(input)
        .filter(|format| UPLOAD_FORMATS.contains(format))
        .ok_or_else(|| {
            ImageError::Unsupported("the file is not a PNG, JPEG, WebP or GIF picture".into())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide_and_everything_else_is_refused() {
        let cases: &[(&[u8], Option<Format>)] = &[
            (b"\x89PNG\r\n\x1a\n....", Some(Format::Png)),
            (b"\xFF\xD8\xFF\xE0", Some(Format::Jpeg)),
            (b"GIF89a....", Some(Format::Gif)),
            (b"GIF87a....", Some(Format::Gif)),
            (b"RIFF\0\0\0\0WEBPVP8 ", Some(Format::Webp)),
            // visage writes AVIF but never decodes one from a user.
            (b"\0\0\0\x1cftypavif\0\0\0\0", None),
            (b"RIFF\0\0\0\0WAVEfmt ", None),
            (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
            (b"%PDF-1.7", None),
            (b"\xFF\xD8", None),
            (b"BM", None),
        ];
        for (bytes, expected) in cases {
            match (sniff(bytes), expected) {
                (Ok(found), Some(expected)) => assert_eq!(found, *expected),
                (Err(ImageError::Unsupported(_)), None) => {}
                (other, _) => panic!("{bytes:?}: unexpected {other:?}"),
            }
        }
        assert!(matches!(sniff(b""), Err(ImageError::Invalid(_))));
    }
}
