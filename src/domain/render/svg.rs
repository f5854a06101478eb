//! SVG output: the background shape and the ink as one path, coordinates to two decimals.

use std::fmt::Write as _;

use ab_glyph::{OutlineCurve, Point};

use super::{Scene, Shape};

/// A self-contained SVG: the background shape and the ink as one `<path>`.
pub(super) fn encode_svg(scene: &Scene, curves: &[OutlineCurve]) -> String {
    let size = scene.size;
    let half = f64::from(size) / 2.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">"#
    );
    match scene.shape {
        Shape::Square => {
            let _ = write!(
                svg,
                r#"<rect width="{size}" height="{size}" fill="{}"/>"#,
                scene.bg.css()
            );
        }
        Shape::Circle => {
            let _ = write!(
                svg,
                r#"<circle cx="{half}" cy="{half}" r="{half}" fill="{}"/>"#,
                scene.bg.css()
            );
        }
    }
    let _ = write!(svg, r#"<path fill="{}" d=""#, scene.fg.css());
    svg.push_str(&path_data(curves));
    svg.push_str(r#""/></svg>"#);
    svg
}

/// SVG path data; a new subpath starts wherever a curve does not continue the previous one.
fn path_data(curves: &[OutlineCurve]) -> String {
    let mut d = String::new();
    let mut current: Option<Point> = None;
    let push = |d: &mut String, command: char, points: &[Point]| {
        d.push(command);
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                d.push(' ');
            }
            let _ = write!(d, "{} {}", num(p.x), num(p.y));
        }
    };
    for curve in curves {
        let (start, end) = match curve {
            OutlineCurve::Line(a, b)
            | OutlineCurve::Quad(a, _, b)
            | OutlineCurve::Cubic(a, _, _, b) => (*a, *b),
        };
        let continues =
            current.is_some_and(|c| (c.x - start.x).abs() < 1e-3 && (c.y - start.y).abs() < 1e-3);
        if !continues {
            if current.is_some() {
                d.push('Z');
            }
            push(&mut d, 'M', &[start]);
        }
        match curve {
            OutlineCurve::Line(_, b) => push(&mut d, 'L', &[*b]),
            OutlineCurve::Quad(_, b, c) => push(&mut d, 'Q', &[*b, *c]),
            OutlineCurve::Cubic(_, b, c, e) => push(&mut d, 'C', &[*b, *c, *e]),
        }
        current = Some(end);
    }
    if current.is_some() {
        d.push('Z');
    }
    d
}

/// A coordinate with at most two decimals and no trailing zeros.
fn num(v: f32) -> String {
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use ab_glyph::point;

    use super::*;

    #[test]
    fn numbers_have_at_most_two_decimals_and_no_trailing_zeros() {
        for (value, text) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (1.256, "1.26"),
            (-0.001, "0"),
            (12.10, "12.1"),
        ] {
            assert_eq!(num(value), text);
        }
    }

    #[test]
    fn a_new_subpath_starts_where_a_curve_does_not_continue_the_last() {
        let (origin, right, corner) = (point(0.0, 0.0), point(1.0, 0.0), point(1.0, 1.0));
        let curves = [
            OutlineCurve::Line(origin, right),
            OutlineCurve::Quad(right, corner, origin),
            OutlineCurve::Line(point(5.0, 5.0), point(6.0, 5.0)),
        ];
        assert_eq!(path_data(&curves), "M0 0L1 0Q1 1 0 0ZM5 5L6 5Z");
        assert_eq!(path_data(&[]), "");
    }
}
