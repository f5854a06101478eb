//! `d=color`: a plain square in the colour the initials would get for the same name.

use crate::domain::initials::{self, Rgb};
use crate::domain::placeholder::RenderError;

/// The colour of `text`: the initials' default background (the same palette and pick).
pub(super) fn color_of(text: &str) -> Rgb {
    initials::default_colors(text).0
}

/// A `size`-square PNG of one colour: a 1-bit indexed image, a few hundred bytes at any size.
pub(super) fn plain_square(color: Rgb, size: u32) -> Result<Vec<u8>, RenderError> {
    let encode_error = |e: png::EncodingError| RenderError::Encode(std::sync::Arc::new(e));
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_palette(vec![color.r, color.g, color.b]);
    let mut writer = encoder.write_header().map_err(encode_error)?;
    let row = (size as usize).div_ceil(8);
    writer
        .write_image_data(&vec![0_u8; row * size as usize])
        .map_err(encode_error)?;
    writer.finish().map_err(encode_error)?;
    out.shrink_to_fit();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_square_of_the_names_colour() {
        let color = color_of("Jane Doe");
        assert_eq!(
            color,
            color_of("  jane doe "),
            "normalized like the initials"
        );
        for size in [1, 7, 80, 2048] {
            let png = plain_square(color, size).expect("encodes");
            let img = image::load_from_memory(&png).expect("decodes").to_rgb8();
            assert_eq!((img.width(), img.height()), (size, size));
            assert!(img.pixels().all(|p| p.0 == [color.r, color.g, color.b]));
        }
    }
}
