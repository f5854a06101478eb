//! The initials renderer: bundled fonts loaded once in a fallback chain, shaping, layout from
//! the glyphs' real bounds, anti-aliased rasterization to an indexed PNG (or to RGBA for the
//! other raster formats), and SVG outlines.

mod fonts;
mod layout;
mod raster;
mod svg;

use std::path::PathBuf;
use std::sync::Arc;

use crate::domain::image::WorkerError;
use crate::domain::initials::Rgb;
use crate::vocabulary::{Format, PICTURE_EDGES};

/// Bumped whenever a picture for the same parameters may change (it is part of every ETag).
pub const RENDERER_VERSION: u32 = 1;

/// Outline of the picture: a full square, or a disc with transparent corners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    Square,
    Circle,
}

/// Why a picture was not drawn. `Clone` (causes behind `Arc`): a failed render is shared by
/// every request that waited for it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RenderError {
    /// A parameter out of range (the HTTP edge answers 400 with this sentence).
    #[error("{0}")]
    InvalidSpec(String),
    #[error("cannot load font {name}")]
    Font {
        name: String,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot encode the picture")]
    Encode(#[source] Arc<dyn std::error::Error + Send + Sync>),
    #[error("the render did not run")]
    Worker(#[source] WorkerError),
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

/// Fonts loaded once at start-up; draws scenes. Shared by every render.
pub struct Renderer {
    fonts: fonts::FontChain,
}

impl Renderer {
    /// Loads `extra` fonts (tried first) and the bundled chain.
    pub fn new(extra: &[PathBuf]) -> Result<Self, RenderError> {
        Ok(Self {
            fonts: fonts::FontChain::load(extra)?,
        })
    }

    /// True when some font of the chain draws `grapheme` (no tofu).
    pub fn can_draw(&self, grapheme: &str) -> bool {
        self.fonts.can_draw(grapheme)
    }

    /// Renders the scene to bytes of its format (PNG, SVG, WebP, AVIF or JPEG).
    pub fn render(&self, scene: &Scene) -> Result<Vec<u8>, RenderError> {
        if !PICTURE_EDGES.contains(scene.size) {
            return Err(RenderError::InvalidSpec(format!(
                "size must be within {PICTURE_EDGES}, got {}",
                scene.size
            )));
        }
        let curves = layout::layout(&self.fonts, scene);
        match scene.format {
            Format::Png => raster::encode_png(scene, &curves),
            Format::Svg => Ok(svg::encode_svg(scene, &curves).into_bytes()),
            other => raster::encode_raster(scene, &curves, other),
        }
    }
}
