//! The master's ThumbHash (base64): a ~25-byte blurred placeholder apps draw while it loads.

use base64::Engine;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::{ImageError, Pixels};

/// ThumbHash keeps at most 7×7 luminance terms; 32 px carries them all and costs nothing
/// (the encoder refuses more than 100 px on a side).
const THUMB_EDGE: u32 = 32;

/// The base64 (standard alphabet, padded) ThumbHash of `width`×`height` pixels.
pub(super) fn thumbhash(width: u32, height: u32, pixels: &Pixels) -> Result<String, ImageError> {
    let rgba: Vec<u8> = match pixels {
        Pixels::Rgba(rgba) => rgba.clone(),
        Pixels::Rgb(rgb) => rgb
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], u8::MAX])
            .collect(),
    };
    let scale = f64::from(THUMB_EDGE) / f64::from(width.max(height).max(1));
    let (w, h) = if scale < 1.0 {
        (
            ((f64::from(width) * scale).round() as u32).max(1),
            ((f64::from(height) * scale).round() as u32).max(1),
        )
    } else {
        (width, height)
    };
    let failed = |err: &dyn std::fmt::Display| ImageError::Invalid(format!("thumbhash: {err}"));
    let source = ImageRef::new(width, height, &rgba, PixelType::U8x4).map_err(|e| failed(&e))?;
    let mut small = Image::new(w, h, PixelType::U8x4);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Box))
        .use_alpha(true);
    Resizer::new()
        .resize(&source, &mut small, &options)
        .map_err(|e| failed(&e))?;
    let hash = ::thumbhash::rgba_to_thumb_hash(w as usize, h as usize, small.buffer());
    Ok(base64::engine::general_purpose::STANDARD.encode(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_two_colour_square_decodes_to_a_placeholder_with_both_colours() {
        // Left half red, right half blue.
        let rgb: Vec<u8> = (0..64 * 64)
            .flat_map(|i| {
                if i % 64 < 32 {
                    [220, 20, 20]
                } else {
                    [20, 20, 220]
                }
            })
            .collect();
        let encoded = thumbhash(64, 64, &Pixels::Rgb(rgb)).expect("hash");
        let hash = base64::engine::general_purpose::STANDARD
            .decode(&encoded)
            .expect("base64");
        assert!(hash.len() <= 25, "{} bytes", hash.len());
        let (w, h, rgba) = ::thumbhash::thumb_hash_to_rgba(&hash).expect("decodes");
        assert_eq!((w, h), (32, 32), "a square stays square");
        let at = |x: usize, y: usize| &rgba[(y * w + x) * 4..(y * w + x) * 4 + 3];
        let (left, right) = (at(4, 16), at(27, 16));
        assert!(left[0] > left[2] + 60, "left is red: {left:?}");
        assert!(right[2] > right[0] + 60, "right is blue: {right:?}");
    }
}
