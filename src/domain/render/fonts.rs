//! The fonts: the bundled fallback chain (Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari,
//! Thai, CJK), extra fonts from `fonts.extra` tried first, parsed once for outlines and shaping.

use std::path::PathBuf;
use std::sync::Arc;

use ab_glyph::{Font, FontRef};

use super::RenderError;

/// (file name, bytes, is bold) of the bundled fallback chain, in the order tried.
const BUNDLED: &[(&str, &[u8], bool)] = &[
    (
        "NotoSans-Regular.ttf",
        include_bytes!("../../../fonts/NotoSans-Regular.ttf"),
        false,
    ),
    (
        "NotoSans-Bold.ttf",
        include_bytes!("../../../fonts/NotoSans-Bold.ttf"),
        true,
    ),
    (
        "NotoSansArabic-Regular.ttf",
        include_bytes!("../../../fonts/NotoSansArabic-Regular.ttf"),
        false,
    ),
    (
        "NotoSansArabic-Bold.ttf",
        include_bytes!("../../../fonts/NotoSansArabic-Bold.ttf"),
        true,
    ),
    (
        "NotoSansHebrew-Regular.ttf",
        include_bytes!("../../../fonts/NotoSansHebrew-Regular.ttf"),
        false,
    ),
    (
        "NotoSansHebrew-Bold.ttf",
        include_bytes!("../../../fonts/NotoSansHebrew-Bold.ttf"),
        true,
    ),
    (
        "NotoSansDevanagari-Regular.ttf",
        include_bytes!("../../../fonts/NotoSansDevanagari-Regular.ttf"),
        false,
    ),
    (
        "NotoSansDevanagari-Bold.ttf",
        include_bytes!("../../../fonts/NotoSansDevanagari-Bold.ttf"),
        true,
    ),
    (
        "NotoSansThai-Regular.ttf",
        include_bytes!("../../../fonts/NotoSansThai-Regular.ttf"),
        false,
    ),
    (
        "NotoSansThai-Bold.ttf",
        include_bytes!("../../../fonts/NotoSansThai-Bold.ttf"),
        true,
    ),
    (
        "NotoSansCJKsc-Regular-subset.otf",
        include_bytes!("../../../fonts/NotoSansCJKsc-Regular-subset.otf"),
        false,
    ),
    (
        "NotoSansCJKsc-Bold-subset.otf",
        include_bytes!("../../../fonts/NotoSansCJKsc-Bold-subset.otf"),
        true,
    ),
];

/// One parsed face: outlines through ab_glyph, shaping through rustybuzz.
pub(super) struct LoadedFont {
    pub(super) outlines: FontRef<'static>,
    pub(super) shaper: rustybuzz::Face<'static>,
    pub(super) units_per_em: f32,
}

/// Why a font file cannot be used.
#[derive(Debug, thiserror::Error)]
enum FontFault {
    #[error("not a font ab_glyph can read")]
    Outlines(#[source] ab_glyph::InvalidFont),
    #[error("not a font rustybuzz can shape with")]
    Shaping,
    #[error("no units per em")]
    NoUnitsPerEm,
}

impl LoadedFont {
    fn parse(name: &str, data: &'static [u8]) -> Result<Self, RenderError> {
        let error = |fault: FontFault| RenderError::Font {
            name: name.to_owned(),
            source: Arc::new(fault),
        };
        let outlines = FontRef::try_from_slice(data).map_err(|e| error(FontFault::Outlines(e)))?;
        let shaper =
            rustybuzz::Face::from_slice(data, 0).ok_or_else(|| error(FontFault::Shaping))?;
        let units_per_em = outlines
            .units_per_em()
            .ok_or_else(|| error(FontFault::NoUnitsPerEm))?;
        Ok(Self {
            outlines,
            shaper,
            units_per_em,
        })
    }

    pub(super) fn has(&self, c: char) -> bool {
        self.outlines.glyph_id(c).0 != 0
    }

    /// True when every character that should be visible has a glyph here.
    pub(super) fn covers(&self, grapheme: &str) -> bool {
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

/// The fallback chains, loaded once at start-up and shared by every render.
pub(super) struct FontChain {
    regular: Vec<LoadedFont>,
    /// Bold faces first, then the regular chain for what they lack.
    bold: Vec<LoadedFont>,
}

impl FontChain {
    /// Loads `extra` fonts (tried first) and the bundled chain.
    pub(super) fn load(extra: &[PathBuf]) -> Result<Self, RenderError> {
        let mut regular = Vec::new();
        let mut bold = Vec::new();
        for path in extra {
            let name = path.display().to_string();
            let data = std::fs::read(path).map_err(|e| RenderError::Font {
                name: name.clone(),
                source: Arc::new(e),
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

    /// The chain for a face: bold or regular.
    pub(super) fn faces(&self, bold: bool) -> &[LoadedFont] {
        if bold { &self.bold } else { &self.regular }
    }

    /// True when some font of the regular chain draws `grapheme` (no tofu).
    pub(super) fn can_draw(&self, grapheme: &str) -> bool {
        self.regular.iter().any(|f| f.covers(grapheme))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_chain_draws_every_script_it_names_and_no_tofu() {
        let fonts = FontChain::load(&[]).expect("bundled fonts load");
        for grapheme in ["J", "É", "Ж", "Ω", "ع", "ש", "क्ष", "ก", "李"] {
            assert!(fonts.can_draw(grapheme), "{grapheme}");
        }
        assert!(
            !fonts.can_draw("\u{10FFFD}"),
            "a private-use character has no glyph"
        );
        assert!(fonts.faces(true).len() > fonts.faces(false).len() / 2);
    }

    #[test]
    fn a_file_that_is_not_a_font_names_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("not-a-font.ttf");
        std::fs::write(&path, b"hello").expect("write");
        let Err(error) = FontChain::load(&[path]) else {
            panic!("a text file is not a font");
        };
        assert!(error.to_string().contains("not-a-font.ttf"), "{error}");
        assert!(
            std::error::Error::source(&error).is_some(),
            "the cause is kept"
        );
    }
}
