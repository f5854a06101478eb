//! The image pipeline over every fixture in tests/fixtures (listed with outcomes in its README).

use std::path::PathBuf;

use image::{GenericImageView, Rgba};
use visage::domain::image::{
    ImageError, NormalizedPicture, PipelineLimits, master_variant, normalize,
};
use visage::vocabulary::Format;

const LIMITS: PipelineLimits = PipelineLimits {
    max_pixels: 40_000_000,
    min_edge: 16,
    master_size: 512,
};

const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 60];
const BLUE: [u8; 3] = [30, 60, 220];
const YELLOW: [u8; 3] = [240, 220, 30];

/// What a fixture must become.
#[derive(Debug)]
enum Expect {
    /// The test card upright: red top-left, green top-right, blue bottom-left, yellow bottom-right.
    Upright(Format),
    /// One colour at the centre.
    Solid(Format, [u8; 3]),
    /// A PNG whose left half is opaque grey and right half fully transparent.
    GreyHalfTransparent,
    /// A master, whatever its content.
    Picture(Format),
    Unsupported,
    Invalid,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn table() -> Vec<(&'static str, Expect)> {
    use Expect::{GreyHalfTransparent, Invalid, Picture, Solid, Unsupported, Upright};
    use Format::Jpeg;
    vec![
        ("orientation-1.jpg", Upright(Jpeg)),
        ("orientation-2.jpg", Upright(Jpeg)),
        ("orientation-3.jpg", Upright(Jpeg)),
        ("orientation-4.jpg", Upright(Jpeg)),
        ("orientation-5.jpg", Upright(Jpeg)),
        ("orientation-6.jpg", Upright(Jpeg)),
        ("orientation-7.jpg", Upright(Jpeg)),
        ("orientation-8.jpg", Upright(Jpeg)),
        ("gps-exif.jpg", Upright(Jpeg)),
        ("progressive.jpg", Upright(Jpeg)),
        ("greyscale.jpg", Picture(Jpeg)),
        ("cmyk.jpg", Solid(Jpeg, [255, 0, 0])),
        ("rgb16.png", Solid(Jpeg, RED)),
        ("grey-alpha.png", GreyHalfTransparent),
        ("opaque-rgba.png", Upright(Jpeg)),
        ("quadrants.webp", Upright(Jpeg)),
        ("animated-120-frames.gif", Solid(Jpeg, RED)),
        ("png-html-tail.png", Upright(Jpeg)),
        ("small-100.jpg", Picture(Jpeg)),
        ("pixel-flood-100000.png", Invalid),
        ("sof-65500.jpg", Invalid),
        ("truncated.png", Invalid),
        ("truncated.jpg", Invalid),
        ("one-pixel.png", Invalid),
        ("narrow-15x64.png", Invalid),
        ("empty.bin", Invalid),
        ("image.svg", Unsupported),
        ("page.html", Unsupported),
        ("document.pdf", Unsupported),
    ]
}

fn close(actual: Rgba<u8>, expected: [u8; 3], what: &str) {
    let tolerance = 40;
    let off = (0..3).any(|i| actual.0[i].abs_diff(expected[i]) > tolerance);
    assert!(
        !off,
        "{what}: got {:?}, expected about {expected:?}",
        actual.0
    );
}

/// Checks shared by every master: square, freshly encoded, no metadata or tail kept.
fn check_clean(name: &str, input: &[u8], output: &NormalizedPicture, format: Format) {
    assert_eq!(output.format, format, "{name}: format");
    assert_eq!((output.width, output.height), (512, 512), "{name}: size");
    let bytes = &output.bytes;
    for needle in [
        &b"Exif"[..],
        b"VisageTestCam",
        b"SecretModel",
        b"<script",
        b"iCCP",
        b"tEXt",
        b"eXIf",
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{name}: output carries {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    match format {
        Format::Jpeg => assert!(bytes.ends_with(&[0xFF, 0xD9]), "{name}: bytes after EOI"),
        Format::Png => assert!(bytes.ends_with(b"IEND\xAE\x42\x60\x82"), "{name}: tail"),
        other => panic!("{name}: a master is never {other}"),
    }
    let again = normalize(input, &LIMITS).expect("second run");
    assert_eq!(&again.bytes, bytes, "{name}: not deterministic");
}

#[test]
fn every_fixture_meets_its_expected_outcome() {
    for (name, expect) in table() {
        let input = fixture(name);
        let result = normalize(&input, &LIMITS);
        match (&expect, result) {
            (Expect::Unsupported, Err(ImageError::Unsupported(_)))
            | (Expect::Invalid, Err(ImageError::Invalid(_))) => {}
            (
                Expect::Upright(format) | Expect::Solid(format, _) | Expect::Picture(format),
                Ok(output),
            ) => {
                check_clean(name, &input, &output, *format);
                let decoded = image::load_from_memory(&output.bytes).expect("output decodes");
                assert_eq!(decoded.dimensions(), (512, 512), "{name}");
                match expect {
                    Expect::Upright(_) => {
                        for (x, y, colour, corner) in [
                            (128, 128, RED, "top-left"),
                            (384, 128, GREEN, "top-right"),
                            (128, 384, BLUE, "bottom-left"),
                            (384, 384, YELLOW, "bottom-right"),
                        ] {
                            close(decoded.get_pixel(x, y), colour, &format!("{name} {corner}"));
                        }
                    }
                    Expect::Solid(_, colour) => {
                        close(decoded.get_pixel(256, 256), colour, name);
                    }
                    _ => {}
                }
            }
            (Expect::GreyHalfTransparent, Ok(output)) => {
                check_clean(name, &input, &output, Format::Png);
                let decoded = image::load_from_memory(&output.bytes).expect("output decodes");
                assert!(decoded.color().has_alpha(), "{name}: alpha lost");
                assert_eq!(decoded.get_pixel(64, 256).0, [128, 128, 128, 255], "{name}");
                assert_eq!(
                    decoded.get_pixel(448, 256).0[3],
                    0,
                    "{name}: not transparent"
                );
            }
            (expect, other) => panic!("{name}: expected {expect:?}, got {other:?}"),
        }
    }
}

#[test]
fn the_pixel_limit_and_minimum_edge_come_from_the_limits() {
    let input = fixture("orientation-1.jpg"); // 1600×1200
    let tight = PipelineLimits {
        max_pixels: 1600 * 1200 - 1,
        ..LIMITS
    };
    assert!(matches!(
        normalize(&input, &tight),
        Err(ImageError::Invalid(_))
    ));
    let picky = PipelineLimits {
        min_edge: 1201,
        ..LIMITS
    };
    assert!(matches!(
        normalize(&input, &picky),
        Err(ImageError::Invalid(_))
    ));
    let small_master = PipelineLimits {
        master_size: 64,
        ..LIMITS
    };
    let output = normalize(&input, &small_master).expect("64 px master");
    assert_eq!((output.width, output.height), (64, 64));
}

#[test]
fn variants_keep_the_master_format_and_take_the_requested_size() {
    for (name, format) in [
        ("orientation-6.jpg", Format::Jpeg),
        ("grey-alpha.png", Format::Png),
    ] {
        let master = normalize(&fixture(name), &LIMITS).expect("master");
        for size in [16, 128, 1024] {
            let variant = master_variant(&master.bytes, size, format).expect("variant");
            assert_eq!(variant.format, format, "{name} at {size}");
            assert_eq!((variant.width, variant.height), (size, size));
            let decoded = image::load_from_memory(&variant.bytes).expect("variant decodes");
            assert_eq!(decoded.dimensions(), (size, size));
            if format == Format::Jpeg {
                // Still upright after the round trip.
                let quarter = size / 4;
                close(decoded.get_pixel(quarter, quarter), RED, name);
            }
        }
    }
    assert!(matches!(
        master_variant(b"<svg/>", 64, Format::Png),
        Err(ImageError::Unsupported(_))
    ));
    assert!(matches!(
        master_variant(&fixture("truncated.png"), 64, Format::Png),
        Err(ImageError::Invalid(_))
    ));
}

/// Hundreds of damaged variants of the small fixtures (bits flipped, bytes set, cut, repeated or
/// removed; a fixed seed, so every run sees the same cases): the pipeline refuses or decodes each
/// one and never panics, and whatever it accepts is a real square master. For a long run:
/// `VISAGE_MUTATION_CASES=200000 cargo test --release --test api damaged` (figures in the README).
#[test]
fn damaged_pictures_are_refused_or_decoded_never_a_panic() {
    let inputs: Vec<Vec<u8>> = [
        "small-100.jpg",
        "cmyk.jpg",
        "greyscale.jpg",
        "progressive.jpg",
        "gps-exif.jpg",
        "grey-alpha.png",
        "rgb16.png",
        "opaque-rgba.png",
        "png-html-tail.png",
        "quadrants.webp",
    ]
    .into_iter()
    .map(fixture)
    .collect();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut random = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % below.max(1) as u64).expect("fits")
    };
    let (mut accepted, mut refused) = (0, 0);
    let cases: usize = std::env::var("VISAGE_MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    for case in 0..cases {
        let mut bytes = inputs[case % inputs.len()].clone();
        for _ in 0..=random(6) {
            if bytes.is_empty() {
                break;
            }
            let at = random(bytes.len());
            match random(5) {
                0 => bytes[at] ^= 1 << random(8),
                1 => bytes[at] = [0x00, 0xFF, 0x7F, 0x80][random(4)],
                2 => bytes.truncate(at.max(1)),
                3 => {
                    let end = (at + random(64)).min(bytes.len());
                    let chunk = bytes[at..end].to_vec();
                    let to = random(bytes.len());
                    bytes.splice(to..to, chunk);
                }
                _ => {
                    let end = (at + random(64)).min(bytes.len());
                    bytes.drain(at..end);
                }
            }
        }
        let outcome = std::panic::catch_unwind(|| normalize(&bytes, &LIMITS));
        match outcome {
            Ok(Ok(master)) => {
                accepted += 1;
                let decoded = image::load_from_memory(&master.bytes).expect("a master decodes");
                assert_eq!(decoded.width(), decoded.height(), "case {case}: square");
            }
            Ok(Err(_)) => refused += 1,
            Err(payload) => panic!(
                "case {case}: the pipeline panicked on damaged input: {:?}",
                payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
            ),
        }
    }
    // Both kinds occur, so the mutations neither destroy everything nor leave everything intact.
    eprintln!("{cases} damaged pictures: {accepted} decoded, {refused} refused, no panic");
    assert!(
        accepted > cases / 20 && refused > cases / 20,
        "{accepted} accepted, {refused} refused"
    );
}
