//! Rasterization: anti-aliased coverage into a palette that mixes the colours in linear light,
//! the disc mask, and the encoders: an 8-bit indexed PNG, or RGBA for WebP, AVIF and JPEG.

use std::sync::Arc;

use ab_glyph::{OutlineCurve, Point, point};
use ab_glyph_rasterizer::Rasterizer;

use super::layout::bounds;
use super::{RenderError, Scene, Shape};
use crate::domain::image;
use crate::domain::initials::Rgb;
use crate::vocabulary::Format;

/// Glyph coverage levels in the palette (6 bits: smooth edges, small files).
const LEVELS: u8 = 64;
/// Palette index of "transparent" in the full table; edge alphas sit between it and the glyph
/// levels.
const TRANSPARENT: u8 = 2 * LEVELS;

fn srgb_to_linear(c: u8) -> f32 {
    let c = f32::from(c) / 255.0;
    if c <= 0.040_45 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(c: f32) -> u8 {
    let c = c.clamp(0.0, 1.0);
    let s = if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    };
    (s * 255.0).round() as u8
}

/// The full colour table (RGBA): glyph levels 0..=LEVELS mix bg and fg in linear light;
/// LEVELS+1..TRANSPARENT are the disc's edge (bg at partial alpha); TRANSPARENT is empty.
fn colour_table(bg: Rgb, fg: Rgb) -> Vec<[u8; 4]> {
    let lin = |c: Rgb| {
        [
            srgb_to_linear(c.r),
            srgb_to_linear(c.g),
            srgb_to_linear(c.b),
        ]
    };
    let (b, f) = (lin(bg), lin(fg));
    let mut table = Vec::with_capacity(usize::from(TRANSPARENT) + 1);
    for level in 0..=LEVELS {
        let a = f32::from(level) / f32::from(LEVELS);
        let mix = |i: usize| linear_to_srgb(b[i] * (1.0 - a) + f[i] * a);
        table.push([mix(0), mix(1), mix(2), 255]);
    }
    for edge in 1..LEVELS {
        let alpha = (f32::from(edge) / f32::from(LEVELS) * 255.0).round() as u8;
        table.push([bg.r, bg.g, bg.b, alpha]);
    }
    table.push([0, 0, 0, 0]);
    table
}

/// Rasterizes the scene into indices of [`colour_table`].
fn raster_indices(scene: &Scene, curves: &[OutlineCurve]) -> Vec<u8> {
    let size = scene.size as usize;
    let mut pixels = vec![0_u8; size * size];
    if let Some((min, max)) = bounds(curves) {
        // Control points may stray a little outside the on-curve box: pad by a pixel or two.
        let x0 = (min.x.floor() - 2.0).max(0.0) as usize;
        let y0 = (min.y.floor() - 2.0).max(0.0) as usize;
        let x1 = ((max.x.ceil() + 2.0) as usize).min(size);
        let y1 = ((max.y.ceil() + 2.0) as usize).min(size);
        if x1 > x0 && y1 > y0 {
            let mut raster = Rasterizer::new(x1 - x0, y1 - y0);
            let offset = point(x0 as f32, y0 as f32);
            let shift = |p: &Point| *p - offset;
            for curve in curves {
                match curve {
                    OutlineCurve::Line(a, b) => raster.draw_line(shift(a), shift(b)),
                    OutlineCurve::Quad(a, b, c) => raster.draw_quad(shift(a), shift(b), shift(c)),
                    OutlineCurve::Cubic(a, b, c, d) => {
                        raster.draw_cubic(shift(a), shift(b), shift(c), shift(d));
                    }
                }
            }
            raster.for_each_pixel_2d(|x, y, coverage| {
                let level = (coverage.clamp(0.0, 1.0) * f32::from(LEVELS)).round() as u8;
                pixels[(y0 + y as usize) * size + x0 + x as usize] = level;
            });
        }
    }
    if scene.shape == Shape::Circle {
        mask_disc(&mut pixels, size);
    }
    pixels
}

/// Clears the corners outside the inscribed disc, with an anti-aliased edge.
fn mask_disc(pixels: &mut [u8], size: usize) {
    let r = size as f32 / 2.0;
    for (y, row) in pixels.chunks_exact_mut(size).enumerate() {
        let dy = y as f32 + 0.5 - r;
        // Pixels whose centre is within r-1 are fully inside: only the rim needs a distance.
        let inner = ((r - 1.0).powi(2) - dy * dy).max(0.0).sqrt();
        for (x, pixel) in row.iter_mut().enumerate() {
            let dx = x as f32 + 0.5 - r;
            if dx.abs() < inner {
                continue;
            }
            let coverage = (r - (dx * dx + dy * dy).sqrt() + 0.5).clamp(0.0, 1.0);
            let edge = (coverage * f32::from(LEVELS)).round() as u8;
            *pixel = match edge {
                0 => TRANSPARENT,
                e if e >= LEVELS => *pixel,
                e => LEVELS + e,
            };
        }
    }
}

/// Largest edge compressed with zlib rather than fdeflate.
const SMALL_PNG_EDGE: u32 = 128;

/// An 8-bit indexed PNG holding only the colours used (translucent ones first, for tRNS).
pub(super) fn encode_png(scene: &Scene, curves: &[OutlineCurve]) -> Result<Vec<u8>, RenderError> {
    let mut pixels = raster_indices(scene, curves);
    let table = colour_table(scene.bg, scene.fg);
    let mut used = [false; 256];
    for &p in &pixels {
        used[usize::from(p)] = true;
    }
    let mut order: Vec<u8> = (0..=TRANSPARENT)
        .filter(|&i| used[usize::from(i)])
        .collect();
    order.sort_by_key(|&i| table[usize::from(i)][3] == 255);
    let mut remap = [0_u8; 256];
    for (new, &old) in order.iter().enumerate() {
        remap[usize::from(old)] = new as u8;
    }
    for p in &mut pixels {
        *p = remap[usize::from(*p)];
    }
    let palette: Vec<u8> = order
        .iter()
        .flat_map(|&i| table[usize::from(i)][..3].to_vec())
        .collect();
    let trns: Vec<u8> = order
        .iter()
        .map(|&i| table[usize::from(i)][3])
        .take_while(|&a| a < 255)
        .collect();

    let mut out = Vec::with_capacity(4096);
    let mut encoder = png::Encoder::new(&mut out, scene.size, scene.size);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(palette);
    if !trns.is_empty() {
        encoder.set_trns(trns);
    }
    // Small pictures: zlib level 6 keeps them tiny (about 1-2 KB at 128 px) in a few hundred
    // microseconds. Large ones: fdeflate with adaptive filters is some 30x faster than zlib
    // for a file about twice as large (still a few KB at 512 px).
    if scene.size <= SMALL_PNG_EDGE {
        encoder.set_deflate_compression(png::DeflateCompression::Level(6));
        encoder.set_filter(png::Filter::NoFilter);
    } else {
        encoder.set_deflate_compression(png::DeflateCompression::FdeflateUltraFast);
        encoder.set_filter(png::Filter::Adaptive);
    }
    let encode_error = |e: png::EncodingError| RenderError::Encode(Arc::new(e));
    let mut writer = encoder.write_header().map_err(encode_error)?;
    writer.write_image_data(&pixels).map_err(encode_error)?;
    writer.finish().map_err(encode_error)?;
    Ok(out)
}

/// WebP, AVIF or JPEG from the same raster as the PNG (JPEG: the circle's corners on white).
pub(super) fn encode_raster(
    scene: &Scene,
    curves: &[OutlineCurve],
    format: Format,
) -> Result<Vec<u8>, RenderError> {
    let table = colour_table(scene.bg, scene.fg);
    let rgba: Vec<u8> = raster_indices(scene, curves)
        .into_iter()
        .flat_map(|index| table[usize::from(index)])
        .collect();
    image::encode_rgba(scene.size, scene.size, rgba, format)
        .map_err(|e| RenderError::Encode(Arc::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(shape: Shape) -> Scene {
        Scene {
            initials: String::new(),
            size: 32,
            format: Format::Png,
            bg: Rgb::hex(0x20_4080),
            fg: Rgb::hex(0xFF_FFFF),
            shape,
            bold: false,
        }
    }

    /// A square of ink from (8,8) to (24,24).
    fn square_ink() -> Vec<OutlineCurve> {
        let corners = [
            point(8.0, 8.0),
            point(24.0, 8.0),
            point(24.0, 24.0),
            point(8.0, 24.0),
        ];
        (0..4)
            .map(|i| OutlineCurve::Line(corners[i], corners[(i + 1) % 4]))
            .collect()
    }

    #[test]
    fn the_table_runs_from_background_to_text_then_the_disc_edge_then_transparent() {
        let (bg, fg) = (Rgb::hex(0x20_4080), Rgb::hex(0xFF_FFFF));
        let table = colour_table(bg, fg);
        assert_eq!(table.len(), usize::from(TRANSPARENT) + 1);
        assert_eq!(table[0], [bg.r, bg.g, bg.b, 255]);
        assert_eq!(table[usize::from(LEVELS)], [fg.r, fg.g, fg.b, 255]);
        // Half coverage mixes in linear light: brighter than the sRGB average.
        let half = table[usize::from(LEVELS / 2)];
        assert!(half[0] > (bg.r / 2 + fg.r / 2), "{half:?}");
        assert!(
            table[usize::from(LEVELS) + 1..usize::from(TRANSPARENT)]
                .iter()
                .all(|c| c[..3] == [bg.r, bg.g, bg.b] && c[3] < 255)
        );
        assert_eq!(table[usize::from(TRANSPARENT)], [0, 0, 0, 0]);
        for c in [0_u8, 1, 128, 254, 255] {
            assert_eq!(linear_to_srgb(srgb_to_linear(c)), c);
        }
    }

    #[test]
    fn ink_covers_its_pixels_and_nothing_else() {
        let pixels = raster_indices(&scene(Shape::Square), &square_ink());
        let at = |x: usize, y: usize| pixels[y * 32 + x];
        assert_eq!(at(16, 16), LEVELS, "inside the square");
        assert_eq!(at(2, 2), 0, "outside: background");
        assert_eq!(at(30, 16), 0);
        let inked: usize = pixels.iter().map(|&p| usize::from(p == LEVELS)).sum();
        assert_eq!(inked, 16 * 16);
    }

    #[test]
    fn the_disc_clears_the_corners_and_keeps_the_middle() {
        let pixels = raster_indices(&scene(Shape::Circle), &square_ink());
        let at = |x: usize, y: usize| pixels[y * 32 + x];
        for corner in [(0, 0), (31, 0), (0, 31), (31, 31)] {
            assert_eq!(at(corner.0, corner.1), TRANSPARENT, "{corner:?}");
        }
        assert_eq!(at(16, 16), LEVELS);
        assert_eq!(at(16, 1), 0, "inside the rim: background");
        assert!(
            pixels.iter().any(|&p| p > LEVELS && p < TRANSPARENT),
            "an anti-aliased rim"
        );
    }

    #[test]
    fn the_png_is_indexed_and_decodes_to_the_raster() {
        let scene = scene(Shape::Circle);
        let png = encode_png(&scene, &square_ink()).expect("encodes");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let reader = decoder.read_info().expect("a PNG");
        assert_eq!(reader.info().color_type, png::ColorType::Indexed);
        let rgba = ::image::load_from_memory(&png).expect("decodes").to_rgba8();
        assert_eq!(rgba.get_pixel(16, 16).0, [255, 255, 255, 255]);
        assert_eq!(rgba.get_pixel(0, 0).0[3], 0, "transparent corner");
        assert_eq!(rgba.get_pixel(16, 1).0, [0x20, 0x40, 0x80, 255]);
    }

    #[test]
    fn a_jpeg_puts_the_discs_corners_on_white() {
        let jpeg =
            encode_raster(&scene(Shape::Circle), &square_ink(), Format::Jpeg).expect("encodes");
        let rgb = ::image::load_from_memory(&jpeg).expect("decodes").to_rgb8();
        assert!(
            rgb.get_pixel(0, 0).0.iter().all(|&c| c > 240),
            "{:?}",
            rgb.get_pixel(0, 0)
        );
    }
}
