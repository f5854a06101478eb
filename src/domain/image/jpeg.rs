//! JPEG decoding with shrink-on-load: DCT-domain scaling to the smallest 1/1, 1/2, 1/4 or 1/8
//! scale that still covers the master, which is how libvips gets its speed on large photos.

use image::ImageFormat;
use image::metadata::Orientation;
use jpeg_decoder::{Decoder, PixelFormat};

use super::{Decoded, ImageError, PipelineLimits, Pixels};

/// Decodes a JPEG at the smallest scale whose short edge is at least `target`; with a crop of
/// `crop_side` pixels, the smallest scale at which that square still covers `target`.
pub(super) fn decode(
    input: &[u8],
    limits: &PipelineLimits,
    target: u32,
    crop_side: Option<u32>,
) -> Result<Decoded, ImageError> {
    // jpeg-decoder pads a cut-off scan with zeros instead of failing, so check the structure.
    if !reaches_end_of_image(input) {
        return Err(ImageError::Invalid(
            "the JPEG is truncated: it has no end-of-image marker".into(),
        ));
    }
    let mut decoder = Decoder::new(input);
    decoder.set_max_decoding_buffer_size(usize::try_from(limits.max_alloc()).unwrap_or(usize::MAX));
    match decoder.read_info() {
        Ok(()) => {}
        // Arithmetic coding, lossless and other rarities: the general decoder may know them.
        Err(jpeg_decoder::Error::Unsupported(_)) => return fallback(input, limits),
        Err(err) => return Err(ImageError::undecodable(err)),
    }
    let info = decoder
        .info()
        .ok_or_else(|| ImageError::Invalid("the JPEG has no frame header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    // Checked from the frame header, before any pixel buffer exists.
    limits.check_dimensions(width, height)?;
    if info.pixel_format == PixelFormat::L16 {
        return fallback(input, limits);
    }
    let (source_width, source_height) = (width, height);
    let side = crop_side
        .unwrap_or(width.min(height))
        .clamp(1, width.min(height));
    if side > target {
        // `scale` keeps a factor when either axis still covers the request: asking for one
        // axis' maximum makes only the other (the short one) decide, and an edge of
        // `edge × target / side` is the scale at which the square of `side` pixels covers
        // `target` (without a crop: `target` itself on the short edge, as before).
        let covering = |edge: u32| {
            let wanted = (u64::from(edge) * u64::from(target)).div_ceil(u64::from(side));
            u16::try_from(wanted).unwrap_or(u16::MAX)
        };
        let request = if width >= height {
            (u16::MAX, covering(height))
        } else {
            (covering(width), u16::MAX)
        };
        decoder
            .scale(request.0, request.1)
            .map_err(ImageError::undecodable)?;
    }
    let raw = decoder.decode().map_err(ImageError::undecodable)?;
    let info = decoder
        .info()
        .ok_or_else(|| ImageError::Invalid("the JPEG has no frame header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let pixel_count = width as usize * height as usize;
    if raw.len() != pixel_count * info.pixel_format.pixel_bytes() {
        return Err(ImageError::Invalid(
            "the JPEG decoded to fewer pixels than its header declares".into(),
        ));
    }
    let rgb = match info.pixel_format {
        PixelFormat::RGB24 => raw,
        PixelFormat::L8 => raw.iter().flat_map(|&l| [l, l, l]).collect(),
        PixelFormat::CMYK32 => cmyk_to_rgb(&raw),
        PixelFormat::L16 => return fallback(input, limits),
    };
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    Ok(Decoded {
        width,
        height,
        source_width,
        source_height,
        pixels: Pixels::Rgb(rgb),
        orientation,
    })
}

fn fallback(input: &[u8], limits: &PipelineLimits) -> Result<Decoded, ImageError> {
    super::decode_with_image(input, ImageFormat::Jpeg, limits)
}

/// jpeg-decoder undoes Adobe's inversion, so 0 means no ink; this is the naive conversion without
/// a colour profile, which is what browsers do for untagged CMYK.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for pixel in cmyk.chunks_exact(4) {
        let paper = 255 - u16::from(pixel[3]);
        for &ink in &pixel[..3] {
            rgb.push(((255 - u16::from(ink)) * paper / 255) as u8);
        }
    }
    rgb
}

/// True when an EOI marker follows the first scan header: a file cut short anywhere in its
/// scans never has one. The marker segments before the first scan are walked (their payloads may
/// hold anything, even an embedded thumbnail's EOI); after it, entropy-coded data stuffs every
/// 0xFF with 0x00, so a 0xFF 0xD9 pair there is a real marker. Searching from the end keeps the
/// check at a few bytes for whole files.
fn reaches_end_of_image(input: &[u8]) -> bool {
    let mut at = 2; // after SOI
    while at + 1 < input.len() {
        if input[at] != 0xFF {
            return false;
        }
        match input[at + 1] {
            0xFF => at += 1,
            0x01 | 0xD0..=0xD7 => at += 2,
            0xD9 => return true,
            marker => {
                let Some(length) = input.get(at + 2..at + 4) else {
                    return false;
                };
                let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
                if length < 2 {
                    return false;
                }
                at += 2 + length;
                if marker == 0xDA {
                    return input
                        .get(at..)
                        .is_some_and(|scans| scans.windows(2).rev().any(|w| w == [0xFF, 0xD9]));
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_walk_finds_eoi_only_in_whole_files() {
        let whole: &[u8] = &[
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF,
            0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9,
        ];
        assert!(reaches_end_of_image(whole));
        for cut in 0..whole.len() - 1 {
            assert!(!reaches_end_of_image(&whole[..cut]), "cut at {cut}");
        }
        // An EOI-looking pair inside a segment's payload does not count.
        let hidden: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x04, 0xFF, 0xD9, 0xFF, 0xDA];
        assert!(!reaches_end_of_image(hidden));
    }

    #[test]
    fn cmyk_converts_to_rgb() {
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0]), vec![255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 0]), vec![255, 0, 0]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 255]), vec![0, 0, 0]);
    }
}
