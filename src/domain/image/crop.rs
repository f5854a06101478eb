//! The user's crop (`crop=x,y,w,h` in pixels of the upright picture) turned into the square of
//! decoded pixels the master is made from.
//!
//! The decoder hands back pixels as stored (before EXIF orientation) and, for JPEG, possibly
//! shrunk on load; the crop is given upright and at full size. So the largest centred square of
//! the crop is found upright, mapped back through the inverse orientation, then scaled to the
//! decoded size. A square stays a square under the eight EXIF transforms, so orienting the
//! resized master afterwards gives exactly the chosen region.

use image::metadata::Orientation;

use super::ImageError;

/// Smallest crop edge accepted, in pixels (the contract's "under 16 px" refusal).
pub const MIN_CROP_EDGE: u32 = 16;

/// A rectangle in whole pixels of the upright (EXIF-oriented) picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl CropRect {
    /// The side of the largest square inside the rectangle.
    pub fn side(self) -> u32 {
        self.width.min(self.height)
    }
}

/// A region of the decoded pixel buffer, in (fractional) decoded pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Region {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Region {
    /// The centred square of a `width`×`height` buffer, on whole pixels.
    pub(super) fn centred_square(width: u32, height: u32) -> Self {
        let side = width.min(height);
        Self {
            left: f64::from((width - side) / 2),
            top: f64::from((height - side) / 2),
            width: f64::from(side),
            height: f64::from(side),
        }
    }
}

/// The size of the picture once its orientation is applied.
pub(crate) fn upright_size(width: u32, height: u32, orientation: Orientation) -> (u32, u32) {
    if swaps_axes(orientation) {
        (height, width)
    } else {
        (width, height)
    }
}

fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Checks `crop` against the upright picture (`source_width`×`source_height` as stored, before
/// orientation and shrink-on-load) and returns the largest centred square inside it as a region
/// of the decoded `decoded_width`×`decoded_height` buffer.
pub(crate) fn square_region(
    crop: CropRect,
    source: (u32, u32),
    decoded: (u32, u32),
    orientation: Orientation,
) -> Result<Region, ImageError> {
    let (source_width, source_height) = source;
    let (upright_width, upright_height) = upright_size(source_width, source_height, orientation);
    if crop.width < MIN_CROP_EDGE || crop.height < MIN_CROP_EDGE {
        return Err(ImageError::InvalidCrop(format!(
            "crop must be at least {MIN_CROP_EDGE} pixels on each side, got {}×{}",
            crop.width, crop.height
        )));
    }
    let right = u64::from(crop.x) + u64::from(crop.width);
    let bottom = u64::from(crop.y) + u64::from(crop.height);
    if right > u64::from(upright_width) || bottom > u64::from(upright_height) {
        return Err(ImageError::InvalidCrop(format!(
            "crop {},{},{},{} is not inside the upright picture of {upright_width}×{upright_height} pixels",
            crop.x, crop.y, crop.width, crop.height
        )));
    }
    // The centred square, upright, in full-size pixels (half pixels allowed: exactly centred).
    let side = f64::from(crop.side());
    let u = f64::from(crop.x) + (f64::from(crop.width) - side) / 2.0;
    let v = f64::from(crop.y) + (f64::from(crop.height) - side) / 2.0;
    // Its two opposite corners, back in stored coordinates.
    let (w, h) = (f64::from(source_width), f64::from(source_height));
    let stored = |u: f64, v: f64| -> (f64, f64) {
        match orientation {
            Orientation::NoTransforms => (u, v),
            Orientation::Rotate90 => (v, h - u),
            Orientation::Rotate180 => (w - u, h - v),
            Orientation::Rotate270 => (w - v, u),
            Orientation::FlipHorizontal => (w - u, v),
            Orientation::FlipVertical => (u, h - v),
            Orientation::Rotate90FlipH => (v, u),
            Orientation::Rotate270FlipH => (w - v, h - u),
        }
    };
    let (x0, y0) = stored(u, v);
    let (x1, y1) = stored(u + side, v + side);
    // Shrink-on-load scaled the buffer; the decoded edges are rounded up, so clamp.
    let scale_x = f64::from(decoded.0) / w;
    let scale_y = f64::from(decoded.1) / h;
    let left = x0.min(x1) * scale_x;
    let top = y0.min(y1) * scale_y;
    let width = ((x0 - x1).abs() * scale_x).min(f64::from(decoded.0) - left);
    let height = ((y0 - y1).abs() * scale_y).min(f64::from(decoded.1) - top);
    Ok(Region {
        left,
        top,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, Rgb, RgbImage};

    const ALL: [Orientation; 8] = [
        Orientation::NoTransforms,
        Orientation::Rotate90,
        Orientation::Rotate180,
        Orientation::Rotate270,
        Orientation::FlipHorizontal,
        Orientation::FlipVertical,
        Orientation::Rotate90FlipH,
        Orientation::Rotate270FlipH,
    ];

    /// A picture where every pixel's colour names its own stored coordinates.
    fn coordinates(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, 0]))
    }

    #[test]
    fn the_region_is_the_upright_crop_for_all_eight_orientations() {
        let stored = coordinates(40, 24);
        let crop = CropRect {
            x: 3,
            y: 5,
            width: 18,
            height: 16,
        };
        for orientation in ALL {
            let mut upright = DynamicImage::ImageRgb8(stored.clone());
            upright.apply_orientation(orientation);
            let upright = upright.into_rgb8();
            // The centred 16-px square of the 18×16 crop starts one pixel in.
            let expected_corner = *upright.get_pixel(crop.x + 1, crop.y);
            let expected_far = *upright.get_pixel(crop.x + 1 + 15, crop.y + 15);
            let region = square_region(crop, (40, 24), (40, 24), orientation).expect("inside");
            assert_eq!(
                (region.width, region.height),
                (16.0, 16.0),
                "{orientation:?}"
            );
            let (l, t) = (region.left as u32, region.top as u32);
            let corners: Vec<Rgb<u8>> = [(l, t), (l + 15, t), (l, t + 15), (l + 15, t + 15)]
                .iter()
                .map(|&(x, y)| *stored.get_pixel(x, y))
                .collect();
            assert!(
                corners.contains(&expected_corner) && corners.contains(&expected_far),
                "{orientation:?}: {region:?}"
            );
        }
    }

    #[test]
    fn rectangles_outside_or_too_small_are_refused() {
        let rect = |x, y, width, height| CropRect {
            x,
            y,
            width,
            height,
        };
        // Stored 40×24, rotated a quarter turn: upright it is 24×40.
        let cases = [
            (rect(0, 0, 24, 40), Orientation::Rotate90, true),
            (rect(0, 0, 25, 40), Orientation::Rotate90, false),
            (rect(0, 0, 40, 24), Orientation::Rotate90, false),
            (rect(0, 0, 40, 24), Orientation::NoTransforms, true),
            (rect(24, 8, 16, 16), Orientation::NoTransforms, true),
            (rect(25, 8, 16, 16), Orientation::NoTransforms, false),
            (rect(0, 0, 15, 24), Orientation::NoTransforms, false),
            (rect(0, 0, 24, 15), Orientation::NoTransforms, false),
            (rect(u32::MAX, 0, 16, 16), Orientation::NoTransforms, false),
        ];
        for (crop, orientation, ok) in cases {
            let outcome = square_region(crop, (40, 24), (40, 24), orientation);
            assert_eq!(outcome.is_ok(), ok, "{crop:?} {orientation:?}");
            if let Err(err) = outcome {
                assert!(matches!(err, ImageError::InvalidCrop(_)), "{err:?}");
            }
        }
    }

    #[test]
    fn without_a_crop_the_centred_square_is_taken_on_whole_pixels() {
        let square = |left, top, side| Region {
            left,
            top,
            width: side,
            height: side,
        };
        assert_eq!(Region::centred_square(40, 24), square(8.0, 0.0, 24.0));
        assert_eq!(Region::centred_square(24, 40), square(0.0, 8.0, 24.0));
        // An odd margin leaves the extra pixel on the right or at the bottom.
        assert_eq!(Region::centred_square(41, 24), square(8.0, 0.0, 24.0));
        assert_eq!(Region::centred_square(24, 43), square(0.0, 9.0, 24.0));
        assert_eq!(Region::centred_square(30, 30), square(0.0, 0.0, 30.0));
    }

    #[test]
    fn shrink_on_load_scales_the_region() {
        let at = |x| CropRect {
            x,
            y: 0,
            width: 800,
            height: 1200,
        };
        let square = |left| Region {
            left,
            top: 25.0,
            width: 100.0,
            height: 100.0,
        };
        let scaled =
            |crop| square_region(crop, (1600, 1200), (200, 150), Orientation::NoTransforms);
        assert_eq!(scaled(at(800)).expect("inside"), square(100.0));
        assert_eq!(scaled(at(0)).expect("inside"), square(0.0));
    }

    #[test]
    fn the_region_stays_inside_the_decoded_buffer_despite_rounding() {
        // 149 px shrunk by 2 on load is 75 px (rounded up): the scale 75/149 makes a crop at the
        // far corner end 1.4e-14 px past the buffer unless it is clamped.
        let crop = CropRect {
            x: 132,
            y: 132,
            width: 17,
            height: 17,
        };
        let region =
            square_region(crop, (149, 149), (75, 75), Orientation::NoTransforms).expect("inside");
        assert!(region.left + region.width <= 75.0, "{region:?}");
        assert!(region.top + region.height <= 75.0, "{region:?}");
        assert!(region.width > 8.5 && region.height > 8.5, "{region:?}");
    }
}
