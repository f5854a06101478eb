//! Format detection from magic bytes against the allowlist; declared types and names are ignored.

use image::ImageFormat;

use super::ImageError;

/// The upload formats the pipeline accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl SourceFormat {
    pub(super) fn image_format(self) -> ImageFormat {
        match self {
            Self::Png => ImageFormat::Png,
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Webp => ImageFormat::WebP,
            Self::Gif => ImageFormat::Gif,
        }
    }
}

/// Names the format from the first bytes, or says why it is refused.
pub fn sniff(input: &[u8]) -> Result<SourceFormat, ImageError> {
    if input.is_empty() {
        return Err(ImageError::Invalid("the picture is empty".into()));
    }
    if input.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(SourceFormat::Png)
    } else if input.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(SourceFormat::Jpeg)
    } else if input.starts_with(b"GIF87a") || input.starts_with(b"GIF89a") {
        Ok(SourceFormat::Gif)
    } else if input.len() >= 12 && input.starts_with(b"RIFF") && &input[8..12] == b"WEBP" {
        Ok(SourceFormat::Webp)
    } else {
        Err(ImageError::Unsupported(
            "the file is not a PNG, JPEG, WebP or GIF picture".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide_and_everything_else_is_refused() {
        let cases: &[(&[u8], Option<SourceFormat>)] = &[
            (b"\x89PNG\r\n\x1a\n....", Some(SourceFormat::Png)),
            (b"\xFF\xD8\xFF\xE0", Some(SourceFormat::Jpeg)),
            (b"GIF89a....", Some(SourceFormat::Gif)),
            (b"GIF87a....", Some(SourceFormat::Gif)),
            (b"RIFF\0\0\0\0WEBPVP8 ", Some(SourceFormat::Webp)),
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
