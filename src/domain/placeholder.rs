//! Initials placeholders as a service: resolves a request into a scene, renders it once, and
//! keeps the bytes in a cache bounded in bytes, with a strong ETag.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::domain::cache::{Weighed, WeighedCache};
use crate::domain::image::PipelineRunner;
pub use crate::domain::initials::Rgb;
use crate::domain::initials::{self, NEUTRAL_BG, NEUTRAL_FG};
pub use crate::domain::picture::EncodedPicture;
use crate::domain::picture::now_or_stand_in;
use crate::domain::render::{RENDERER_VERSION, Renderer, Scene};
pub use crate::domain::render::{RenderError, Shape};
use crate::vocabulary::{Format, PICTURE_EDGES};

/// Longest text considered; the HTTP edge refuses longer ones, other callers are truncated.
const MAX_TEXT_BYTES: usize = 256;
/// PNG and SVG renders up to this edge run inline: a 512 px indexed PNG takes about half a
/// millisecond, less than the hop to the blocking pool and back costs a cold request on a busy
/// 2-core machine (BENCHMARKS.md, initials). Everything else (1024 px, WebP, AVIF, JPEG) runs on
/// the shared pool.
const INLINE_MAX_SIZE: u32 = 512;

/// What a caller asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialsSpec {
    /// A display name, an e-mail address, or the initials themselves.
    pub text: String,
    pub size: u32,
    pub format: Format,
    /// Background; default: picked from the normalized text.
    pub bg: Option<Rgb>,
    /// Text colour; default: the one with the better contrast on the background.
    pub fg: Option<Rgb>,
    /// Number of initials, 1..=3.
    pub length: u8,
    pub shape: Shape,
    pub bold: bool,
}

/// The cache hashes the spec on every hit with SipHash, which pays per `write`: the text and
/// one packed word of the other fields are two writes, where a derived `Hash` made ten.
impl Hash for InitialsSpec {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let color = |c: Option<Rgb>| {
            c.map_or(0, |c| {
                1 << 24 | u128::from(c.r) << 16 | u128::from(c.g) << 8 | u128::from(c.b)
            })
        };
        let fields = u128::from(self.size)
            | (self.format as u128) << 32
            | u128::from(self.length) << 40
            | u128::from(self.shape == Shape::Circle) << 48
            | u128::from(self.bold) << 49
            | color(self.bg) << 56
            | color(self.fg) << 88;
        state.write(self.text.as_bytes());
        state.write_u128(fields);
    }
}

impl InitialsSpec {
    /// PNG, two initials, square, regular weight, default colours.
    pub fn new(text: impl Into<String>, size: u32) -> Self {
        Self {
            text: text.into(),
            size,
            format: Format::Png,
            bg: None,
            fg: None,
            length: 2,
            shape: Shape::Square,
            bold: false,
        }
    }
}

/// Cheap to clone (handles): background encodes take a clone.
#[derive(Clone)]
pub struct InitialsService {
    renderer: Arc<Renderer>,
    /// The shared image pool: bounds the CPU and transient memory of large renders and encodes.
    runner: Arc<PipelineRunner>,
    /// Keyed by the request as asked, so that a hit does no text work (normalization,
    /// segmentation, hashing); distinct names rarely share a picture anyway (the colour comes
    /// from the whole name).
    cache: WeighedCache<InitialsSpec, EncodedPicture>,
}

impl Weighed for InitialsSpec {
    fn heap_bytes(&self) -> usize {
        self.text.capacity()
    }
}

impl InitialsService {
    /// `cache_bytes` bounds the rendered pictures kept (`initials.cache_bytes`).
    pub fn new(renderer: Arc<Renderer>, runner: Arc<PipelineRunner>, cache_bytes: u64) -> Self {
        Self {
            renderer,
            runner,
            cache: WeighedCache::new("initials", cache_bytes, None),
        }
    }

    /// The cache, for its metrics.
    pub fn cache(&self) -> &WeighedCache<InitialsSpec, EncodedPicture> {
        &self.cache
    }

    /// The picture for `spec`, from the cache or rendered now; or, when its format is too slow
    /// to wait for at that size, a provisional stand-in while it renders in the background.
    pub async fn render(&self, spec: &InitialsSpec) -> Result<EncodedPicture, RenderError> {
        now_or_stand_in(
            spec.format,
            spec.size,
            || self.cache.contains(spec),
            |format| async move {
                if format == spec.format {
                    self.cached(spec).await
                } else {
                    let mut stand_in = spec.clone();
                    stand_in.format = format;
                    self.cached(&stand_in).await
                }
            },
            || {
                let (service, spec) = (self.clone(), spec.clone());
                async move { service.cached(&spec).await }
            },
        )
        .await
    }

    /// One render per spec and instance, shared by concurrent callers.
    async fn cached(&self, spec: &InitialsSpec) -> Result<EncodedPicture, RenderError> {
        self.cache
            .get_or_load(spec, async {
                let scene = resolve(spec)?;
                render_scene(&self.renderer, &self.runner, scene).await
            })
            .await
    }

    /// True when the bundled or extra fonts can draw `grapheme`.
    pub fn can_draw(&self, grapheme: &str) -> bool {
        self.renderer.can_draw(grapheme)
    }
}

/// Validates the spec and fixes every default: the scene is the cache key and the ETag input.
fn resolve(spec: &InitialsSpec) -> Result<Scene, RenderError> {
    if !PICTURE_EDGES.contains(spec.size) {
        return Err(RenderError::InvalidSpec(format!(
            "size must be within {PICTURE_EDGES}, got {}",
            spec.size
        )));
    }
    if !(1..=3).contains(&spec.length) {
        return Err(RenderError::InvalidSpec(format!(
            "length must be within 1..=3, got {}",
            spec.length
        )));
    }
    let mut end = spec.text.len().min(MAX_TEXT_BYTES);
    while !spec.text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &spec.text[..end];
    let initials = initials::initials(text, spec.length);
    let palette = if initials.is_empty() {
        (NEUTRAL_BG, NEUTRAL_FG)
    } else {
        initials::default_colors(text)
    };
    let bg = spec.bg.unwrap_or(palette.0);
    let fg = spec.fg.unwrap_or_else(|| {
        if spec.bg.is_some() {
            initials::text_color_for(bg)
        } else {
            palette.1
        }
    });
    Ok(Scene {
        initials,
        size: spec.size,
        format: spec.format,
        bg,
        fg,
        shape: spec.shape,
        bold: spec.bold,
    })
}

async fn render_scene(
    renderer: &Arc<Renderer>,
    runner: &PipelineRunner,
    scene: Scene,
) -> Result<EncodedPicture, RenderError> {
    let etag = etag(&scene);
    let format = scene.format;
    let bytes = if scene.size <= INLINE_MAX_SIZE && matches!(format, Format::Png | Format::Svg) {
        renderer.render(&scene)?
    } else {
        let renderer = renderer.clone();
        runner
            .run(move || renderer.render(&scene))
            .await
            .map_err(RenderError::Worker)??
    };
    // Copied to its exact length: the encoder's buffer keeps 4 KiB or more of capacity, which a
    // cache entry would otherwise hold on to for its whole life.
    Ok(EncodedPicture::new(
        Bytes::copy_from_slice(&bytes),
        format,
        etag,
    ))
}

/// Strong ETag: SHA-256 over the renderer version and every resolved parameter.
fn etag(scene: &Scene) -> String {
    let key = format!(
        "v{RENDERER_VERSION}\n{}\n{}\n{:?}\n{}\n{}\n{:?}\n{}",
        scene.initials,
        scene.size,
        scene.format,
        scene.bg.css(),
        scene.fg.css(),
        scene.shape,
        scene.bold
    );
    let digest = Sha256::digest(key.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_a_spec_takes_part_in_its_hash() {
        let hash = |spec: &InitialsSpec| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            spec.hash(&mut hasher);
            hasher.finish()
        };
        let base = InitialsSpec::new("Jane Doe", 64);
        assert_eq!(hash(&base), hash(&base.clone()));
        let changes: [fn(&mut InitialsSpec); 10] = [
            |s| s.text.push('!'),
            |s| s.size = 65,
            |s| s.format = Format::Webp,
            |s| s.bg = Some(Rgb::hex(0)),
            |s| s.fg = Some(Rgb::hex(0)),
            |s| s.fg = Some(Rgb::hex(0xFF_FFFF)),
            |s| s.length = 3,
            |s| s.shape = Shape::Circle,
            |s| s.bold = true,
            |s| s.text = "Jane Do".into(),
        ];
        let mut seen = vec![hash(&base)];
        for change in changes {
            let mut spec = base.clone();
            change(&mut spec);
            assert!(!seen.contains(&hash(&spec)), "{spec:?}");
            seen.push(hash(&spec));
        }
        // `bg` and `fg` are not interchangeable.
        let (mut a, mut b) = (base.clone(), base);
        a.bg = Some(Rgb::hex(0x12_3456));
        b.fg = Some(Rgb::hex(0x12_3456));
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn resolution_fixes_defaults_and_keys_on_the_initials() {
        let a = resolve(&InitialsSpec::new("Jane Doe", 64)).expect("valid");
        let b = resolve(&InitialsSpec::new("  jane   doe ", 64)).expect("valid");
        assert_eq!(a, b);
        assert_eq!(etag(&a), etag(&b));
        let neutral = resolve(&InitialsSpec::new("", 64)).expect("empty text is valid");
        assert_eq!((neutral.initials.as_str(), neutral.bg), ("", NEUTRAL_BG));
        let mut spec = InitialsSpec::new("jd", 64);
        spec.bg = Some(Rgb::hex(0xFF_FFFF));
        let scene = resolve(&spec).expect("valid");
        assert_eq!(
            scene.fg,
            initials::DARK_TEXT,
            "explicit light bg gets dark text"
        );
        for (size, length) in [(15, 2), (1025, 2), (64, 0), (64, 4)] {
            let mut spec = InitialsSpec::new("jd", size);
            spec.length = length;
            assert!(matches!(resolve(&spec), Err(RenderError::InvalidSpec(_))));
        }
    }
}
