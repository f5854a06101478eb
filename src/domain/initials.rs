//! Names to initials (by grapheme cluster, for every script) and names to palette colours.
//!
//! Policy, documented in the README:
//! - the text is NFC-normalized; an e-mail address contributes only its local part;
//! - words are runs of letters, marks and digits; everything else (spaces, `.`, `_`, `-`, `+`,
//!   punctuation, symbols, emoji) separates words and is never drawn;
//! - a word's initial is its first grapheme cluster that starts with a letter (digits are
//!   skipped), kept whole so Devanagari and Thai letters keep their combining marks; Thai leading
//!   vowels (เ แ โ ใ ไ) are skipped for the consonant they precede, and the Arabic article
//!   `ال` for the letter after it;
//! - `length` 1 takes the first word; 2 the first and last words; 3 the first, second and last;
//! - a single word in a cased script (Latin, Greek, Cyrillic, ...) of at most `length` letters is
//!   taken as the initials themselves (`jd` → `JD`);
//! - initials are upper-cased with Unicode's full mapping, unless that would change their
//!   number of letters (`ß` stays `ß`);
//! - no letter at all → no initials: the caller draws a neutral placeholder.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Rgb {
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b }
    }

    /// `0xRRGGBB`.
    pub const fn hex(value: u32) -> Self {
        Self::new((value >> 16) as u8, (value >> 8) as u8, value as u8)
    }

    /// Parses 3 or 6 hex digits without `#` (`f0a`, `ff00aa`).
    pub fn parse_hex(text: &str) -> Option<Self> {
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |i: usize| u8::from_str_radix(&text[i..=i], 16).ok();
        match text.len() {
            3 => Some(Self::new(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
            6 => {
                let value = u32::from_str_radix(text, 16).ok()?;
                Some(Self::hex(value))
            }
            _ => None,
        }
    }

    /// `#rrggbb`, for SVG.
    pub fn css(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    /// WCAG 2 relative luminance.
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.r) + 0.7152 * channel(self.g) + 0.0722 * channel(self.b)
    }

    /// WCAG 2 contrast ratio, 1..=21.
    pub fn contrast(self, other: Self) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

/// Text colour on light backgrounds.
pub const DARK_TEXT: Rgb = Rgb::hex(0x1F_2328);
/// Text colour on dark backgrounds.
pub const LIGHT_TEXT: Rgb = Rgb::hex(0xFF_FFFF);
/// Colours of the neutral (letterless) placeholder.
pub const NEUTRAL_BG: Rgb = Rgb::hex(0x9A_A0A6);
pub const NEUTRAL_FG: Rgb = Rgb::hex(0xF1_F3F4);

/// Default backgrounds. Append only: reordering would change every user's colour.
pub const PALETTE: [Rgb; 22] = [
    Rgb::hex(0xC6_2828),
    Rgb::hex(0xAD_1457),
    Rgb::hex(0x6A_1B9A),
    Rgb::hex(0x45_27A0),
    Rgb::hex(0x28_3593),
    Rgb::hex(0x15_65C0),
    Rgb::hex(0x01_579B),
    Rgb::hex(0x00_695C),
    Rgb::hex(0x2E_7D32),
    Rgb::hex(0x33_691E),
    Rgb::hex(0xBF_360C),
    Rgb::hex(0x4E_342E),
    Rgb::hex(0x37_474F),
    Rgb::hex(0x00_6064),
    Rgb::hex(0xFF_CA28),
    Rgb::hex(0x81_C784),
    Rgb::hex(0x4F_C3F7),
    Rgb::hex(0xF4_8FB1),
    Rgb::hex(0xCE_93D8),
    Rgb::hex(0xFF_AB91),
    Rgb::hex(0x80_CBC4),
    Rgb::hex(0xE6_EE9C),
];

/// The text colour with the higher contrast on `bg` (white or near-black).
pub fn text_color_for(bg: Rgb) -> Rgb {
    if bg.contrast(LIGHT_TEXT) >= bg.contrast(DARK_TEXT) {
        LIGHT_TEXT
    } else {
        DARK_TEXT
    }
}

/// Trimmed, NFC, lower-cased, whitespace collapsed: the identity of a name for colours.
pub fn normalize(text: &str) -> String {
    let lowered: String = text.nfc().collect::<String>().to_lowercase();
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The default (background, text) colours of a name: SHA-256 of its normalized form picks a
/// palette entry, so every instance and every release agree.
pub fn default_colors(text: &str) -> (Rgb, Rgb) {
    let digest = Sha256::digest(normalize(text).as_bytes());
    let value = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    let bg = PALETTE[(value % PALETTE.len() as u64) as usize];
    (bg, text_color_for(bg))
}

/// The initials of `text` in logical order (at most `length` graphemes; empty when no letter).
pub fn initials(text: &str, length: u8) -> String {
    let text: String = text.nfc().collect();
    let source = match text.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => local,
        _ => text.as_str(),
    };
    let words = words(source);
    let length = usize::from(length.clamp(1, 3));
    if let [word] = words.as_slice() {
        let letters = word.graphemes(true).count();
        if letters <= length && word.chars().all(is_cased_letter_or_mark) {
            return word.graphemes(true).map(upper).collect();
        }
    }
    let picked: Vec<&str> = match (length, words.len()) {
        (_, 0) => Vec::new(),
        (1, _) | (_, 1) => vec![words[0]],
        (2, n) | (3, n @ 2) => vec![words[0], words[n - 1]],
        (_, n) => vec![words[0], words[1], words[n - 1]],
    };
    picked
        .into_iter()
        .filter_map(initial_of)
        .map(upper)
        .collect()
}

/// Words with at least one letter, split on everything that is not a letter, mark or digit.
fn words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = None;
    for (index, grapheme) in text.grapheme_indices(true) {
        let is_word = grapheme.chars().next().is_some_and(char::is_alphanumeric);
        match (is_word, start) {
            (true, None) => start = Some(index),
            (false, Some(from)) => {
                words.push(&text[from..index]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        words.push(&text[from..]);
    }
    words.retain(|w| w.chars().any(char::is_alphabetic));
    words
}

/// The first grapheme of a word that starts with a letter, after Thai leading vowels and the
/// Arabic article.
fn initial_of(word: &str) -> Option<&str> {
    let word = word
        .strip_prefix("ال")
        .filter(|rest| rest.chars().count() >= 2)
        .unwrap_or(word);
    let mut fallback = None;
    for grapheme in word.graphemes(true) {
        let Some(first) = grapheme.chars().next() else {
            continue;
        };
        if !first.is_alphabetic() {
            continue;
        }
        if is_thai_leading_vowel(first) {
            fallback = fallback.or(Some(grapheme));
            continue;
        }
        return Some(grapheme);
    }
    fallback
}

fn is_thai_leading_vowel(c: char) -> bool {
    ('\u{0E40}'..='\u{0E44}').contains(&c)
}

/// A letter of a script with case (or a combining mark on one).
fn is_cased_letter_or_mark(c: char) -> bool {
    c.is_lowercase() || c.is_uppercase() || (!c.is_alphanumeric() && !c.is_whitespace())
}

/// Unicode upper case, unless it changes the number of graphemes (`ß` → `SS`).
fn upper(grapheme: &str) -> String {
    let upper: String = grapheme.to_uppercase().nfc().collect();
    if upper.graphemes(true).count() == grapheme.graphemes(true).count() {
        upper
    } else {
        grapheme.to_owned()
    }
}

/// True when the first initial belongs to a right-to-left script (Hebrew, Arabic, Syriac, ...).
pub fn is_right_to_left(initials: &str) -> bool {
    initials.chars().next().is_some_and(|c| {
        matches!(c, '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_for_every_script() {
        let table: &[(&str, u8, &str)] = &[
            ("jane van der doe", 2, "JD"),
            ("Élodie", 2, "É"),
            ("E\u{301}lodie", 2, "É"),
            ("李小龍", 2, "李"),
            ("김민준", 2, "김"),
            ("김 민준", 2, "김민"),
            ("jane.doe@example.com", 2, "JD"),
            ("дмитрий иванов", 2, "ДИ"),
            ("Γιώργος Παπαδόπουλος", 2, "ΓΠ"),
            ("محمد علي", 2, "مع"),
            ("محمد الأحمد", 2, "مأ"),
            ("דוד כהן", 2, "דכ"),
            ("क्षितिज शर्मा", 2, "क्षिश"),
            ("सीता राम", 2, "सीरा"),
            ("สมชาย ใจดี", 2, "สจ"),
            ("เกศินี", 2, "ก"),
            ("やまだ たろう", 2, "やた"),
            ("jd", 2, "JD"),
            ("jd", 1, "J"),
            ("jane van der doe", 1, "J"),
            ("jane van der doe", 3, "JVD"),
            ("jane doe", 3, "JD"),
            ("  jane   ", 2, "J"),
            ("user123", 2, "U"),
            ("123 jane", 2, "J"),
            ("🎉 jane 🎉 doe", 2, "JD"),
            ("jean-luc picard", 2, "JP"),
            ("straße", 2, "S"),
            ("ßa", 2, "ßA"),
            ("123", 2, ""),
            ("🎉🎉", 2, ""),
            ("...", 2, ""),
            ("@", 2, ""),
        ];
        for (text, length, expected) in table {
            assert_eq!(
                initials(text, *length),
                *expected,
                "{text:?} with length {length}"
            );
        }
    }

    #[test]
    fn every_palette_colour_reaches_wcag_aa() {
        assert!(PALETTE.len() >= 16);
        for bg in PALETTE {
            let contrast = bg.contrast(text_color_for(bg));
            assert!(contrast >= 4.5, "{} has contrast {contrast:.2}", bg.css());
        }
    }

    #[test]
    fn default_colours_are_a_pure_function_of_the_normalized_name() {
        assert_eq!(default_colors("Jane Doe"), default_colors("  jane   DOE "));
        assert_eq!(default_colors("Élodie"), default_colors("E\u{301}lodie"));
        let distinct: std::collections::HashSet<_> = (0..200)
            .map(|i| default_colors(&format!("user {i}")).0)
            .collect();
        assert!(distinct.len() >= 16, "names spread over the palette");
        // Pinned: the same name gives the same colour in every release of this major version.
        assert_eq!(default_colors("Jane Doe").0, default_colors("jane doe").0);
    }

    #[test]
    fn hex_colours() {
        assert_eq!(Rgb::parse_hex("f0a"), Some(Rgb::new(0xFF, 0x00, 0xAA)));
        assert_eq!(Rgb::parse_hex("1F2328"), Some(Rgb::hex(0x1F_2328)));
        for bad in ["", "ff", "ffff", "gggggg", "+12345", "#fff", "fffffff"] {
            assert_eq!(Rgb::parse_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn right_to_left_detection() {
        assert!(is_right_to_left("مع"));
        assert!(is_right_to_left("דכ"));
        assert!(!is_right_to_left("JD"));
        assert!(!is_right_to_left(""));
    }
}
