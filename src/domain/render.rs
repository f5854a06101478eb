//! The initials renderer: bundled fonts loaded once in a fallback chain, shaping, layout from
//! the glyphs' real bounds, anti-aliased rasterization to an indexed PNG (or to RGBA for the
//! other raster formats), and SVG outlines.

use std::fmt::Write as _;
use std::path::PathBuf;

use ab_glyph::{Font, FontRef, GlyphId, OutlineCurve, Point, point};
use ab_glyph_rasterizer::Rasterizer;
use unicode_segmentation::UnicodeSegmentation;

use crate::domain::edges::PICTURE_EDGES;
use crate::domain::image::{self, Format};
use crate::domain::initials::{Rgb, is_right_to_left};

/// Bumped whenever a picture for the same parameters may change (it is part of every ETag).
pub const RENDERER_VERSION: u32 = 1;

/// Extra space between two initials, in em: keeps Arabic tails and wide CJK apart.
const GRAPHEME_GAP: f32 = 0.05;

/// Outline of the picture: a full square, or a disc with transparent corners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    Square,
    Circle,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{0}")]
    InvalidSpec(String),
    #[error("cannot load font {name}: {reason}")]
    Font { name: String, reason: String },
    #[error("cannot encode the picture: {0}")]
    Encode(String),
    #[error("cannot register the initials metrics: {0}")]
    Metrics(String),
    #[error("the render worker failed: {0}")]
    Worker(String),
}

/// Everything that decides the pixels of one picture.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scene {
    /// Initials in logical order; empty draws the neutral silhouette.
    pub initials: String,
    pub size: u32,
    pub format: Format,
    pub bg: Rgb,
    pub fg: Rgb,
    pub shape: Shape,
    pub bold: bool,
}

/// (file name, bytes, is bold) of the bundled fallback chain, in the order tried.
const BUNDLED: &[(&str, &[u8], bool)] = &[
    (
        "NotoSans-Regular.ttf",
        include_bytes!("../../fonts/NotoSans-Regular.ttf"),
        false,
    ),
    (
        "NotoSans-Bold.ttf",
        include_bytes!("../../fonts/NotoSans-Bold.ttf"),
        true,
    ),
    (
        "NotoSansArabic-Regular.ttf",
        include_bytes!("../../fonts/NotoSansArabic-Regular.ttf"),
        false,
    ),
    (
        "NotoSansArabic-Bold.ttf",
        include_bytes!("../../fonts/NotoSansArabic-Bold.ttf"),
        true,
    ),
    (
        "NotoSansHebrew-Regular.ttf",
        include_bytes!("../../fonts/NotoSansHebrew-Regular.ttf"),
        false,
    ),
    (
        "NotoSansHebrew-Bold.ttf",
        include_bytes!("../../fonts/NotoSansHebrew-Bold.ttf"),
        true,
    ),
    (
        "NotoSansDevanagari-Regular.ttf",
        include_bytes!("../../fonts/NotoSansDevanagari-Regular.ttf"),
        false,
    ),
    (
        "NotoSansDevanagari-Bold.ttf",
        include_bytes!("../../fonts/NotoSansDevanagari-Bold.ttf"),
        true,
    ),
    (
        "NotoSansThai-Regular.ttf",
        include_bytes!("../../fonts/NotoSansThai-Regular.ttf"),
        false,
    ),
    (
        "NotoSansThai-Bold.ttf",
        include_bytes!("../../fonts/NotoSansThai-Bold.ttf"),
        true,
    ),
    (
        "NotoSansCJKsc-Regular-subset.otf",
        include_bytes!("../../fonts/NotoSansCJKsc-Regular-subset.otf"),
        false,
    ),
    (
        "NotoSansCJKsc-Bold-subset.otf",
        include_bytes!("../../fonts/NotoSansCJKsc-Bold-subset.otf"),
        true,
    ),
];

/// One parsed face: outlines through ab_glyph, shaping through rustybuzz.
struct LoadedFont {
    outlines: FontRef<'static>,
    shaper: rustybuzz::Face<'static>,
    units_per_em: f32,
}

impl LoadedFont {
    fn parse(name: &str, data: &'static [u8]) -> Result<Self, RenderError> {
        let error = |reason: &str| RenderError::Font {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        let outlines = FontRef::try_from_slice(data).map_err(|e| error(&e.to_string()))?;
        let shaper = rustybuzz::Face::from_slice(data, 0).ok_or_else(|| error("not a font"))?;
        let units_per_em = outlines
            .units_per_em()
            .ok_or_else(|| error("no units per em"))?;
        Ok(Self {
            outlines,
            shaper,
            units_per_em,
        })
    }

    fn has(&self, c: char) -> bool {
        self.outlines.glyph_id(c).0 != 0
    }

    /// True when every character that should be visible has a glyph here.
    fn covers(&self, grapheme: &str) -> bool {
        grapheme
            .chars()
            .filter(|c| !is_invisible(*c))
            .all(|c| self.has(c))
    }
}

/// Joiners and variation selectors: they never need a glyph of their own.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}' | '\u{FE00}'..='\u{FE0F}')
}

/// Fonts loaded once at start-up; shared by every render.
pub struct Renderer {
    regular: Vec<LoadedFont>,
    /// Bold faces first, then the regular chain for what they lack.
    bold: Vec<LoadedFont>,
}

impl Renderer {
    /// Loads `extra` fonts (tried first) and the bundled chain.
    pub fn new(extra: &[PathBuf]) -> Result<Self, RenderError> {
        let mut regular = Vec::new();
        let mut bold = Vec::new();
        for path in extra {
            let name = path.display().to_string();
            let data = std::fs::read(path).map_err(|e| RenderError::Font {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            // Fonts live as long as the process: leaking the bytes once gives every face the
            // `'static` borrow that both parsers need.
            let data: &'static [u8] = Box::leak(data.into_boxed_slice());
            regular.push(LoadedFont::parse(&name, data)?);
            bold.push(LoadedFont::parse(&name, data)?);
        }
        for (name, data, _) in BUNDLED.iter().filter(|f| f.2) {
            bold.push(LoadedFont::parse(name, data)?);
        }
        for (name, data, _) in BUNDLED.iter().filter(|f| !f.2) {
            regular.push(LoadedFont::parse(name, data)?);
            bold.push(LoadedFont::parse(name, data)?);
        }
        Ok(Self { regular, bold })
    }

    /// True when some font of the chain draws `grapheme` (no tofu).
    pub fn can_draw(&self, grapheme: &str) -> bool {
        self.regular.iter().any(|f| f.covers(grapheme))
    }

    /// Renders the scene to bytes of its format (PNG, SVG, WebP, AVIF or JPEG).
    pub fn render(&self, scene: &Scene) -> Result<Vec<u8>, RenderError> {
        if !PICTURE_EDGES.contains(scene.size) {
            return Err(RenderError::InvalidSpec(format!(
                "size must be within {PICTURE_EDGES}, got {}",
                scene.size
            )));
        }
        let curves = self.layout(scene);
        match scene.format {
            Format::Png => encode_png(scene, &curves),
            Format::Svg => Ok(encode_svg(scene, &curves).into_bytes()),
            other => encode_raster(scene, &curves, other),
        }
    }

    /// The picture's ink as curves in pixel coordinates (y down), centred from real bounds.
    fn layout(&self, scene: &Scene) -> Vec<OutlineCurve> {
        let size = scene.size as f32;
        let fonts = if scene.bold {
            &self.bold
        } else {
            &self.regular
        };
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
fn bounds(curves: &[OutlineCurve]) -> Option<(Point, Point)> {
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
fn encode_png(scene: &Scene, curves: &[OutlineCurve]) -> Result<Vec<u8>, RenderError> {
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
    let encode_error = |e: png::EncodingError| RenderError::Encode(e.to_string());
    let mut writer = encoder.write_header().map_err(encode_error)?;
    writer.write_image_data(&pixels).map_err(encode_error)?;
    writer.finish().map_err(encode_error)?;
    Ok(out)
}

/// WebP, AVIF or JPEG from the same raster as the PNG (JPEG: the circle's corners on white).
fn encode_raster(
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
        .map_err(|e| RenderError::Encode(e.to_string()))
}

/// A self-contained SVG: the background shape and the ink as one `<path>`.
fn encode_svg(scene: &Scene, curves: &[OutlineCurve]) -> String {
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
