//! Encoders for visage's own pixels: every picture served is written here from decoded pixels,
//! so nothing but pixels (no metadata, no trailing bytes of an upload) reaches a client.
//!
//! Qualities were chosen on camera photos (`bench/formats.sh`): each format's median SSIM
//! against the 512 px JPEG master stays at or above 0.95 at the fewest bytes.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};

use super::{ImageError, Pixels};
use crate::vocabulary::Format;

/// JPEG quality of masters and variants: visually lossless for avatars at a fraction of the size.
pub const JPEG_QUALITY: u8 = 85;
/// libwebp's lossy quality (0–100).
pub const WEBP_QUALITY: f32 = 80.0;

/// Encodes `pixels` (`width`×`height`, rows packed) as `format`. JPEG has no alpha: transparent
/// pixels are composed over white. GIF and SVG are never written from pixels.
pub(crate) fn encode(
    width: u32,
    height: u32,
    pixels: &Pixels,
    format: Format,
) -> Result<Vec<u8>, ImageError> {
    let expected = width as usize * height as usize * pixels.channels();
    if pixels.bytes().len() != expected {
        return Err(ImageError::Invalid(
            "pixel buffer does not match its size".into(),
        ));
    }
    let mut bytes = match format {
        Format::Jpeg => jpeg(width, height, pixels)?,
        Format::Png => png(width, height, pixels)?,
        Format::Webp => webp(width, height, pixels)?,
        Format::Avif => super::avif::encode(width, height, pixels)?,
        Format::Gif | Format::Svg => {
            return Err(ImageError::Unsupported(format!(
                "visage does not encode {format} pictures"
            )));
        }
    };
    // Exactly sized: pictures are kept in caches, which must not keep growth slack alive.
    bytes.shrink_to_fit();
    Ok(bytes)
}

fn failed(err: impl std::fmt::Display) -> ImageError {
    ImageError::Invalid(format!("encoding failed: {err}"))
}

fn jpeg(width: u32, height: u32, pixels: &Pixels) -> Result<Vec<u8>, ImageError> {
    let too_large = || ImageError::Invalid("too large for a JPEG".into());
    let (w, h) = (
        u16::try_from(width).map_err(|_| too_large())?,
        u16::try_from(height).map_err(|_| too_large())?,
    );
    let flattened;
    let rgb = match pixels {
        Pixels::Rgb(rgb) => rgb,
        Pixels::Rgba(rgba) => {
            flattened = over_white(rgba);
            &flattened
        }
    };
    let mut bytes = Vec::new();
    // Baseline, 4:2:0 below quality 90, a JFIF header and nothing else.
    jpeg_encoder::Encoder::new(&mut bytes, JPEG_QUALITY)
        .encode(rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(failed)?;
    Ok(bytes)
}

fn png(width: u32, height: u32, pixels: &Pixels) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    let (data, color) = match pixels {
        Pixels::Rgb(rgb) => (rgb, image::ExtendedColorType::Rgb8),
        Pixels::Rgba(rgba) => (rgba, image::ExtendedColorType::Rgba8),
    };
    PngEncoder::new_with_quality(&mut bytes, CompressionType::Default, PngFilter::Adaptive)
        .write_image(data, width, height, color)
        .map_err(failed)?;
    Ok(bytes)
}

fn webp(width: u32, height: u32, pixels: &Pixels) -> Result<Vec<u8>, ImageError> {
    let encoder = match pixels {
        Pixels::Rgb(rgb) => webp::Encoder::from_rgb(rgb, width, height),
        Pixels::Rgba(rgba) => webp::Encoder::from_rgba(rgba, width, height),
    };
    let memory = encoder
        .encode_simple(false, WEBP_QUALITY)
        .map_err(|err| failed(format!("{err:?}")))?;
    Ok(memory.to_vec())
}

/// RGBA composed over white, as RGB.
fn over_white(rgba: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
    for p in rgba.chunks_exact(4) {
        let alpha = u16::from(p[3]);
        for &c in &p[..3] {
            rgb.push(((u16::from(c) * alpha + 255 * (255 - alpha) + 127) / 255) as u8);
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 32×32 picture: left half red, right half half-transparent blue.
    fn sample(alpha: bool) -> Pixels {
        let mut bytes = Vec::new();
        for _ in 0..32 {
            for x in 0..32 {
                let px: [u8; 4] = if x < 16 {
                    [220, 20, 20, 255]
                } else {
                    [20, 20, 220, 128]
                };
                bytes.extend_from_slice(if alpha { &px } else { &px[..3] });
            }
        }
        if alpha {
            Pixels::Rgba(bytes)
        } else {
            Pixels::Rgb(bytes)
        }
    }

    #[test]
    fn every_written_format_sniffs_as_itself_and_decodes_where_a_rust_decoder_exists() {
        for alpha in [false, true] {
            for format in [Format::Jpeg, Format::Png, Format::Webp, Format::Avif] {
                let bytes = encode(32, 32, &sample(alpha), format).expect("encodes");
                assert_eq!(
                    Format::sniff(&bytes),
                    Some(format),
                    "{format} alpha={alpha}"
                );
                if format == Format::Avif {
                    continue; // decoded by libavif (Pillow) in tests/api/formats.rs
                }
                let decoded = image::load_from_memory(&bytes).expect("decodes").to_rgba8();
                assert_eq!(decoded.dimensions(), (32, 32));
                let left = decoded.get_pixel(4, 16).0;
                assert!(left[0] > 180 && left[2] < 60, "{format}: {left:?}");
                let right = decoded.get_pixel(28, 16).0;
                match (format, alpha) {
                    // Half-transparent blue over white is a light blue.
                    (Format::Jpeg, true) => assert!(right[0] > 110 && right[2] > 200, "{right:?}"),
                    (_, true) => assert!((110..=145).contains(&right[3]), "{format}: {right:?}"),
                    (_, false) => assert!(right[2] > 180 && right[3] == 255, "{right:?}"),
                }
            }
        }
    }

    #[test]
    fn gif_and_svg_are_never_written_and_a_short_buffer_is_refused() {
        for format in [Format::Gif, Format::Svg] {
            assert!(encode(32, 32, &sample(false), format).is_err());
        }
        assert!(encode(33, 32, &sample(false), Format::Png).is_err());
    }
}
