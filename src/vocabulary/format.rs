//! The one place that knows each picture format: its media type, file extension, query name and
//! magic bytes, and which of them an upload may be. Encoding lives in `domain::image::encode`;
//! adding a format (JPEG XL) is a variant here and an arm there.

/// Every format visage reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Avif,
    Gif,
    Svg,
}

impl Format {
    /// Raster formats a client may ask for, best first: the order of preference when `Accept`
    /// allows several (smallest files first).
    pub const NEGOTIABLE: [Self; 2] = [Self::Avif, Self::Webp];

    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
            Self::Gif => "image/gif",
            Self::Svg => "image/svg+xml",
        }
    }

    /// The extension of stored objects and route suffixes.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Avif => "avif",
            Self::Gif => "gif",
            Self::Svg => "svg",
        }
    }

    /// From a file extension or a `?format=` value, any case (`jpg` and `jpeg` alike).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            ("jpg", Self::Jpeg),
            ("jpeg", Self::Jpeg),
            ("png", Self::Png),
            ("webp", Self::Webp),
            ("avif", Self::Avif),
            ("gif", Self::Gif),
            ("svg", Self::Svg),
        ]
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, format)| format)
    }

    /// Names the raster format from its first bytes; `None` for anything else (SVG included:
    /// text is never taken for a picture).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if bytes.len() >= 12
            && &bytes[4..8] == b"ftyp"
            && matches!(&bytes[8..12], b"avif" | b"avis")
        {
            Some(Self::Avif)
        } else {
            None
        }
    }
}

/// The formats an upload may be in (decoded by pure-Rust decoders only), and the only ones
/// accepted from Gravatar (its pictures may be decoded for resizing).
pub const UPLOAD_FORMATS: [Format; 4] = [Format::Png, Format::Jpeg, Format::Webp, Format::Gif];

/// Why bytes are not an acceptable upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotAnUpload {
    #[error("the picture is empty")]
    Empty,
    #[error("the file is not a PNG, JPEG, WebP or GIF picture")]
    Unsupported,
}

/// The upload allowlist: names an accepted format from the first bytes (declared types and
/// file names are never trusted), or says why the bytes are refused.
pub fn sniff_upload(input: &[u8]) -> Result<Format, NotAnUpload> {
    if input.is_empty() {
        return Err(NotAnUpload::Empty);
    }
    Format::sniff(input)
        .filter(|format| UPLOAD_FORMATS.contains(format))
        .ok_or(NotAnUpload::Unsupported)
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Format; 6] = [
        Format::Jpeg,
        Format::Png,
        Format::Webp,
        Format::Avif,
        Format::Gif,
        Format::Svg,
    ];

    #[test]
    fn names_round_trip_and_jpeg_has_two() {
        for format in ALL {
            assert_eq!(Format::from_name(format.extension()), Some(format));
            assert_eq!(
                Format::from_name(&format.extension().to_ascii_uppercase()),
                Some(format)
            );
            assert!(format.content_type().starts_with("image/"));
        }
        assert_eq!(Format::from_name("jpeg"), Some(Format::Jpeg));
        assert_eq!(Format::from_name("tiff"), None);
        assert_eq!(Format::from_name(""), None);
    }

    #[test]
    fn magic_bytes_name_raster_formats_only() {
        let cases: &[(&[u8], Option<Format>)] = &[
            (b"\x89PNG\r\n\x1a\n....", Some(Format::Png)),
            (b"\xFF\xD8\xFF\xE0", Some(Format::Jpeg)),
            (b"GIF89a....", Some(Format::Gif)),
            (b"RIFF\0\0\0\0WEBPVP8 ", Some(Format::Webp)),
            (b"\0\0\0\x1cftypavif\0\0\0\0", Some(Format::Avif)),
            (b"\0\0\0\x1cftypheic\0\0\0\0", None),
            (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
            (b"RIFF\0\0\0\0WAVEfmt ", None),
            (b"", None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(Format::sniff(bytes), *expected, "{bytes:?}");
        }
    }

    #[test]
    fn uploads_are_named_by_magic_bytes_and_everything_else_is_refused() {
        let cases: &[(&[u8], Result<Format, NotAnUpload>)] = &[
            (b"\x89PNG\r\n\x1a\n....", Ok(Format::Png)),
            (b"\xFF\xD8\xFF\xE0", Ok(Format::Jpeg)),
            (b"GIF89a....", Ok(Format::Gif)),
            (b"GIF87a....", Ok(Format::Gif)),
            (b"RIFF\0\0\0\0WEBPVP8 ", Ok(Format::Webp)),
            // visage writes AVIF but never decodes one from a user.
            (b"\0\0\0\x1cftypavif\0\0\0\0", Err(NotAnUpload::Unsupported)),
            (b"RIFF\0\0\0\0WAVEfmt ", Err(NotAnUpload::Unsupported)),
            (
                b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                Err(NotAnUpload::Unsupported),
            ),
            (b"%PDF-1.7", Err(NotAnUpload::Unsupported)),
            (b"\xFF\xD8", Err(NotAnUpload::Unsupported)),
            (b"BM", Err(NotAnUpload::Unsupported)),
            (b"", Err(NotAnUpload::Empty)),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sniff_upload(bytes), *expected, "{bytes:?}");
        }
    }
}
