//! Layout: each initial shaped with the first font that draws it, the ink measured from the
//! glyphs' real bounds, scaled into the shape's box and centred; no letter draws a silhouette.

use ab_glyph::{Font, GlyphId, OutlineCurve, Point, point};
use unicode_segmentation::UnicodeSegmentation;

use super::fonts::{FontChain, LoadedFont};
use super::{Scene, Shape};
use crate::domain::initials::is_right_to_left;

/// Extra space between two initials, in em: keeps Arabic tails and wide CJK apart.
const GRAPHEME_GAP: f32 = 0.05;

/// The picture's ink as curves in pixel coordinates (y down), centred from real bounds.
pub(super) fn layout(fonts: &FontChain, scene: &Scene) -> Vec<OutlineCurve> {
    let size = scene.size as f32;
    let fonts = fonts.faces(scene.bold);
    // Laid out at an em of 1 (y up, baseline 0), then scaled and centred.
    let mut curves = Vec::new();
    let mut pen = 0.0_f32;
    let mut graphemes: Vec<&str> = scene.initials.graphemes(true).collect();
    if is_right_to_left(&scene.initials) {
        graphemes.reverse();
    }
    for grapheme in graphemes {
        let Some(font) = fonts
            .iter()
            .find(|f| f.covers(grapheme))
            .or_else(|| fonts.iter().find(|f| grapheme.chars().any(|c| f.has(c))))
        else {
            continue;
        };
        if !curves.is_empty() {
            pen += GRAPHEME_GAP;
        }
        pen += shape_into(font, grapheme, pen, &mut curves);
    }
    if curves.is_empty() {
        return silhouette(size);
    }
    let Some((min, max)) = bounds(&curves) else {
        return silhouette(size);
    };
    let (ink_w, ink_h) = ((max.x - min.x).max(1e-3), (max.y - min.y).max(1e-3));
    let (box_w, box_h) = match scene.shape {
        Shape::Square => (0.72, 0.52),
        Shape::Circle => (0.62, 0.46),
    };
    // Letters are drawn at an em of 52% of the picture, smaller when they would not fit.
    let scale = (0.52 * size)
        .min(box_w * size / ink_w)
        .min(box_h * size / ink_h);
    let (cx, cy) = (f32::midpoint(min.x, max.x), f32::midpoint(min.y, max.y));
    let half = size / 2.0;
    let to_px = |p: Point| point(half + (p.x - cx) * scale, half - (p.y - cy) * scale);
    curves.iter().map(|c| map_curve(c, to_px)).collect()
}

/// Shapes one grapheme with `font` at an em of 1 starting at `pen`, appends its outlines, and
/// returns its advance.
fn shape_into(font: &LoadedFont, grapheme: &str, pen: f32, out: &mut Vec<OutlineCurve>) -> f32 {
    let mut buffer = rustybuzz::UnicodeBuffer::new();
    buffer.push_str(grapheme);
    buffer.guess_segment_properties();
    let shaped = rustybuzz::shape(&font.shaper, &[], buffer);
    let unit = 1.0 / font.units_per_em;
    let mut x = pen;
    for (info, pos) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
        let origin = point(x + pos.x_offset as f32 * unit, pos.y_offset as f32 * unit);
        let id = GlyphId(u16::try_from(info.glyph_id).unwrap_or(0));
        if id.0 != 0 {
            if let Some(outline) = font.outlines.outline(id) {
                out.extend(outline.curves.iter().map(|c| {
                    map_curve(c, |p| point(origin.x + p.x * unit, origin.y + p.y * unit))
                }));
            }
        }
        x += pos.x_advance as f32 * unit;
    }
    x - pen
}

fn map_curve(curve: &OutlineCurve, map: impl Fn(Point) -> Point) -> OutlineCurve {
    match *curve {
        OutlineCurve::Line(p0, p1) => OutlineCurve::Line(map(p0), map(p1)),
        OutlineCurve::Quad(p0, p1, p2) => OutlineCurve::Quad(map(p0), map(p1), map(p2)),
        OutlineCurve::Cubic(p0, p1, p2, p3) => {
            OutlineCurve::Cubic(map(p0), map(p1), map(p2), map(p3))
        }
    }
}

/// The ink box of the curves, from their points (control points of font outlines stay within
/// a hair of the ink, and the extremes of a glyph sit on on-curve points).
pub(super) fn bounds(curves: &[OutlineCurve]) -> Option<(Point, Point)> {
    let mut min = point(f32::INFINITY, f32::INFINITY);
    let mut max = point(f32::NEG_INFINITY, f32::NEG_INFINITY);
    let mut visit = |p: &Point| {
        min = point(min.x.min(p.x), min.y.min(p.y));
        max = point(max.x.max(p.x), max.y.max(p.y));
    };
    for curve in curves {
        match curve {
            OutlineCurve::Line(a, b) => [a, b].into_iter().for_each(&mut visit),
            OutlineCurve::Quad(a, _, c) => [a, c].into_iter().for_each(&mut visit),
            OutlineCurve::Cubic(a, _, _, d) => [a, d].into_iter().for_each(&mut visit),
        }
    }
    (min.x.is_finite() && max.x > min.x && max.y > min.y).then_some((min, max))
}

/// Control-point distance of a cubic quarter circle.
const KAPPA: f32 = 0.552_284_8;

/// A quarter of the ellipse (`centre`, `rx`, `ry`) from unit direction `from` to `to`.
fn quarter(centre: Point, rx: f32, ry: f32, from: (f32, f32), to: (f32, f32)) -> OutlineCurve {
    let at = |x: f32, y: f32| point(centre.x + x * rx, centre.y + y * ry);
    OutlineCurve::Cubic(
        at(from.0, from.1),
        at(from.0 + to.0 * KAPPA, from.1 + to.1 * KAPPA),
        at(to.0 + from.0 * KAPPA, to.1 + from.1 * KAPPA),
        at(to.0, to.1),
    )
}

/// A neutral head-and-shoulders figure, in pixel coordinates: drawn when there is no letter.
fn silhouette(size: f32) -> Vec<OutlineCurve> {
    let (east, south, west, north) = ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0));
    let head = point(0.5 * size, 0.39 * size);
    let radius = 0.15 * size;
    let mut curves: Vec<OutlineCurve> =
        [(east, south), (south, west), (west, north), (north, east)]
            .into_iter()
            .map(|(from, to)| quarter(head, radius, radius, from, to))
            .collect();
    // Shoulders: the upper half of an ellipse, closed by its diameter.
    let body = point(0.5 * size, 0.80 * size);
    let (rx, ry) = (0.27 * size, 0.21 * size);
    curves.push(quarter(body, rx, ry, west, north));
    curves.push(quarter(body, rx, ry, north, east));
    curves.push(OutlineCurve::Line(
        point(body.x + rx, body.y),
        point(body.x - rx, body.y),
    ));
    curves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::initials::Rgb;
    use crate::vocabulary::Format;

    fn scene(initials: &str, size: u32, shape: Shape) -> Scene {
        Scene {
            initials: initials.into(),
            size,
            format: Format::Png,
            bg: Rgb::hex(0),
            fg: Rgb::hex(0xFF_FFFF),
            shape,
            bold: false,
        }
    }

    fn fonts() -> FontChain {
        FontChain::load(&[]).expect("bundled fonts")
    }

    #[test]
    fn the_ink_is_centred_and_fits_its_box() {
        let fonts = fonts();
        for (initials, shape, (box_w, box_h)) in [
            ("JD", Shape::Square, (0.72, 0.52)),
            ("W", Shape::Circle, (0.62, 0.46)),
            ("李", Shape::Square, (0.72, 0.52)),
            ("MWM", Shape::Square, (0.72, 0.52)),
        ] {
            let size = 200.0;
            let curves = layout(&fonts, &scene(initials, 200, shape));
            let (min, max) = bounds(&curves).expect("ink");
            let (w, h) = (max.x - min.x, max.y - min.y);
            assert!(
                w <= box_w * size + 0.5 && h <= box_h * size + 0.5,
                "{initials}: {w}x{h}"
            );
            assert!(
                w > 0.2 * size || h > 0.2 * size,
                "{initials}: drawn large enough"
            );
            let (cx, cy) = (f32::midpoint(min.x, max.x), f32::midpoint(min.y, max.y));
            assert!(
                (cx - size / 2.0).abs() < 0.5 && (cy - size / 2.0).abs() < 0.5,
                "{initials}: centre {cx},{cy}"
            );
        }
    }

    #[test]
    fn no_letter_draws_the_silhouette_inside_the_picture() {
        let fonts = fonts();
        for initials in ["", "\u{10FFFD}"] {
            let curves = layout(&fonts, &scene(initials, 100, Shape::Square));
            assert_eq!(
                format!("{curves:?}"),
                format!("{:?}", silhouette(100.0)),
                "{initials:?}"
            );
        }
        let (min, max) = bounds(&silhouette(100.0)).expect("ink");
        assert!(min.x >= 0.0 && min.y >= 0.0 && max.x <= 100.0 && max.y <= 100.0);
    }

    /// Curves are emitted in pen order, left to right: the first `first` of them must lie
    /// left of the rest.
    fn drawn_left_of_the_rest(curves: &[OutlineCurve], first: usize) -> bool {
        let (_, left_max) = bounds(&curves[..first]).expect("ink");
        let (right_min, _) = bounds(&curves[first..]).expect("ink");
        left_max.x <= right_min.x + 0.5
    }

    #[test]
    fn right_to_left_initials_are_drawn_from_the_right() {
        let fonts = fonts();
        // Hebrew: aleph is the first initial, so it is drawn on the right and bet on the left.
        let bet = layout(&fonts, &scene("ב", 200, Shape::Square)).len();
        let hebrew = layout(&fonts, &scene("אב", 200, Shape::Square));
        assert!(
            drawn_left_of_the_rest(&hebrew, bet),
            "bet drawn first, on the left"
        );
        // Latin: the first initial on the left.
        let j = layout(&fonts, &scene("J", 200, Shape::Square)).len();
        let latin = layout(&fonts, &scene("JD", 200, Shape::Square));
        assert!(
            drawn_left_of_the_rest(&latin, j),
            "J drawn first, on the left"
        );
    }
}
