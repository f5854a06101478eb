//! AVIF from our own pixels: 8-bit 4:2:0 YCbCr (BT.601, full range) through rav1e, alpha as a
//! second, monochrome AV1 picture, in the container avif-serialize writes.
//!
//! Why rav1e directly: ravif writes 4:4:4 only, which costs twice the samples of 4:2:0 for
//! pictures no smaller at the same SSIM (`bench/formats.sh`). The settings below were chosen on
//! the photos of `bench/formats.sh` for the fewest bytes at a minimum SSIM of 0.95 within an
//! interactive encode time on one core.

use rav1e::prelude::{
    BlockSize, PartitionRange, PredictionModesSetting, SceneDetectionSpeed, SegmentationLevel,
};
use rav1e::prelude::{
    ChromaSamplePosition, ChromaSampling, ColorDescription, ColorPrimaries, Config, Context,
    EncoderConfig, EncoderStatus, Frame, MatrixCoefficients, PixelRange, SpeedSettings,
    TransferCharacteristics, Tune,
};

use super::{ImageError, Pixels};

/// rav1e's quantizer for colour (`base_q_idx`, 0 = lossless … 255): the highest whose least SSIM
/// over the photos of `bench/formats.sh` stays at 0.95 (115 falls below it, 112 costs 3 % more).
pub const AVIF_QUANTIZER: u8 = 114;
/// rav1e's quantizer for alpha: lower than colour's, since a blurred edge of a cut-out or a
/// disc shows more than colour noise, and flat alpha costs few bytes anyway.
pub const AVIF_ALPHA_QUANTIZER: u8 = 60;
/// rav1e's fastest preset, further trimmed in [`speed_settings`].
pub const AVIF_SPEED: u8 = 10;

/// The encoder's knobs that trade time for bytes and quality. The service uses
/// [`AvifTuning::SERVICE`]; `bench/avif-frontier.sh` sweeps the others to show the frontier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvifTuning {
    pub quantizer: u8,
    /// Psychovisual rather than PSNR tuning.
    pub psychovisual: bool,
    /// Smallest and largest partition edge (8, 16, 32 or 64).
    pub partition_min: u8,
    pub partition_max: u8,
    /// rav1e's segmentation (adaptive quantizer per block); off saves its analysis.
    pub segmentation: bool,
}

impl AvifTuning {
    /// What the service encodes with.
    pub const SERVICE: Self = Self {
        quantizer: AVIF_QUANTIZER,
        psychovisual: true,
        partition_min: 16,
        partition_max: 16,
        segmentation: true,
    };
}

/// Encodes packed RGB pixels (`width` × `height` × 3 bytes) with `tuning`: the benchmarks'
/// door to the encoder (`bench/avif-frontier.sh`), which the service itself never varies.
pub fn encode_rgb_tuned(
    width: u32,
    height: u32,
    rgb: &[u8],
    tuning: AvifTuning,
) -> Result<Vec<u8>, ImageError> {
    let (w, h) = (width as usize, height as usize);
    if rgb.len() != w * h * 3 {
        return Err(failed("RGB buffer of the wrong length"));
    }
    let planar = Planar::from_rgb(rgb, w, h, 3);
    let colour = av1(w, h, ChromaSampling::Cs420, tuning, |frame| {
        planar.fill(frame, w, h);
    })?;
    let mut file = Vec::with_capacity(colour.len() + 512);
    container(&mut file, &colour, None, width, height)?;
    Ok(file)
}

/// Encodes packed RGB or RGBA pixels as an AVIF file.
pub(super) fn encode(width: u32, height: u32, pixels: &Pixels) -> Result<Vec<u8>, ImageError> {
    let (w, h) = (width as usize, height as usize);
    let (rgb, alpha) = match pixels {
        Pixels::Rgb(rgb) => (Planar::from_rgb(rgb, w, h, 3), None),
        Pixels::Rgba(rgba) if rgba.chunks_exact(4).all(|p| p[3] == 255) => {
            (Planar::from_rgb(rgba, w, h, 4), None)
        }
        Pixels::Rgba(rgba) => {
            let cleaned = transparent_pixels_take_visible_colours(rgba, w);
            let alpha: Vec<u8> = rgba.chunks_exact(4).map(|p| p[3]).collect();
            (Planar::from_rgb(&cleaned, w, h, 4), Some(alpha))
        }
    };
    let colour = av1(w, h, ChromaSampling::Cs420, AvifTuning::SERVICE, |frame| {
        rgb.fill(frame, w, h);
    })?;
    let alpha_tuning = AvifTuning {
        quantizer: AVIF_ALPHA_QUANTIZER,
        ..AvifTuning::SERVICE
    };
    let alpha = match alpha {
        Some(alpha) => Some(av1(w, h, ChromaSampling::Cs400, alpha_tuning, |frame| {
            fill_plane(frame, 0, &alpha, w, h);
        })?),
        None => None,
    };
    let mut file = Vec::with_capacity(colour.len() + alpha.as_ref().map_or(0, Vec::len) + 512);
    container(&mut file, &colour, alpha.as_deref(), width, height)?;
    Ok(file)
}

/// The AVIF container around the colour (and alpha) AV1 pictures.
fn container(
    file: &mut Vec<u8>,
    colour: &[u8],
    alpha: Option<&[u8]>,
    width: u32,
    height: u32,
) -> Result<(), ImageError> {
    avif_serialize::Aviffy::new()
        .set_matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601)
        .set_full_color_range(true)
        .set_chroma_subsampling((true, true))
        .set_seq_profile(0)
        .write(file, colour, alpha, width, height, 8)
        .map_err(failed)
}

fn failed(err: impl std::fmt::Display) -> ImageError {
    ImageError::Invalid(format!("encoding failed: {err}"))
}

/// The speed settings: rav1e's fastest preset, then what a single still picture does not need
/// (look-ahead, scene detection, several references) and what costs most for least: CDEF
/// (a fifth of the time for well under 1 % of SSIM at this quantizer), the angle deltas of
/// directional prediction, and partitions other than 16×16 (`tuning` says which).
fn speed_settings(tuning: AvifTuning) -> SpeedSettings {
    let mut speed = SpeedSettings::from_preset(AVIF_SPEED);
    speed.multiref = false;
    speed.rdo_lookahead_frames = 1;
    speed.scene_detection_mode = SceneDetectionSpeed::None;
    speed.motion.include_near_mvs = false;
    speed.cdef = false;
    speed.prediction.fine_directional_intra = false;
    speed.prediction.prediction_modes = PredictionModesSetting::Simple;
    speed.partition.partition_range = PartitionRange::new(
        block_size(tuning.partition_min),
        block_size(tuning.partition_max),
    );
    if !tuning.segmentation {
        speed.segmentation = SegmentationLevel::Disabled;
    }
    speed
}

fn block_size(edge: u8) -> BlockSize {
    match edge {
        0..=8 => BlockSize::BLOCK_8X8,
        9..=16 => BlockSize::BLOCK_16X16,
        17..=32 => BlockSize::BLOCK_32X32,
        _ => BlockSize::BLOCK_64X64,
    }
}

/// One AV1 key frame of `w`×`h` in `sampling`, its planes written by `fill`.
fn av1(
    w: usize,
    h: usize,
    sampling: ChromaSampling,
    tuning: AvifTuning,
    fill: impl FnOnce(&mut Frame<u8>),
) -> Result<Vec<u8>, ImageError> {
    let config = EncoderConfig {
        width: w,
        height: h,
        bit_depth: 8,
        chroma_sampling: sampling,
        chroma_sample_position: ChromaSamplePosition::Unknown,
        pixel_range: PixelRange::Full,
        color_description: (sampling != ChromaSampling::Cs400).then_some(ColorDescription {
            transfer_characteristics: TransferCharacteristics::SRGB,
            color_primaries: ColorPrimaries::BT709,
            matrix_coefficients: MatrixCoefficients::BT601,
        }),
        still_picture: true,
        quantizer: usize::from(tuning.quantizer),
        min_quantizer: tuning.quantizer,
        // Psychovisual: at the same bytes, the photo that scores least scores 0.949 rather than
        // 0.942 (quantizer 115), for some more encode time (`bench/formats.sh`).
        tune: if tuning.psychovisual {
            Tune::Psychovisual
        } else {
            Tune::Psnr
        },
        // One tile: an encode runs on one blocking-pool thread, so more tiles would only cost
        // bytes (each restarts its entropy contexts).
        tiles: 1,
        speed_settings: speed_settings(tuning),
        ..EncoderConfig::default()
    };
    let mut context: Context<u8> = Config::new()
        .with_encoder_config(config)
        .with_threads(1)
        .new_context()
        .map_err(failed)?;
    let mut frame = context.new_frame();
    fill(&mut frame);
    context.send_frame(frame).map_err(failed)?;
    context.flush();
    let mut data = Vec::new();
    loop {
        match context.receive_packet() {
            Ok(packet) => data.extend_from_slice(&packet.data),
            Err(EncoderStatus::Encoded) => {}
            Err(EncoderStatus::LimitReached) => return Ok(data),
            Err(status) => return Err(failed(status)),
        }
    }
}

/// Y at full size, Cb and Cr averaged over 2×2 pixels (edges repeat the last row or column).
struct Planar {
    y: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
}

/// BT.601 full-range coefficients in 16-bit fixed point.
const KR: i32 = 19_595; // 0.299
const KG: i32 = 38_470; // 0.587
const KB: i32 = 7_471; // 0.114
const CB_R: i32 = -11_059; // -0.168736
const CB_G: i32 = -21_709; // -0.331264
const CR_G: i32 = -27_439; // -0.418688
const CR_B: i32 = -5_329; // -0.081312
const HALF: i32 = 1 << 15; // 0.5: the other chroma coefficient, and rounding

impl Planar {
    /// From packed pixels of `channels` bytes each (RGB first; a fourth byte is ignored).
    fn from_rgb(pixels: &[u8], width: usize, height: usize, channels: usize) -> Self {
        let rgb_at = |x: usize, y: usize| {
            let i = (y * width + x) * channels;
            [
                i32::from(pixels[i]),
                i32::from(pixels[i + 1]),
                i32::from(pixels[i + 2]),
            ]
        };
        let mut luma = Vec::with_capacity(width * height);
        for p in pixels.chunks_exact(channels) {
            let [red, green, blue] = [p[0], p[1], p[2]].map(i32::from);
            luma.push(((KR * red + KG * green + KB * blue + HALF) >> 16) as u8);
        }
        let (chroma_width, chroma_height) = (width.div_ceil(2), height.div_ceil(2));
        let mut cb = Vec::with_capacity(chroma_width * chroma_height);
        let mut cr = Vec::with_capacity(chroma_width * chroma_height);
        // Sums of four: coefficients × sum ÷ 4, hence a shift of 18.
        let chroma = |value: i32| ((value + (128 << 18) + (1 << 17)) >> 18).clamp(0, 255) as u8;
        for cy in 0..chroma_height {
            let rows = [2 * cy, (2 * cy + 1).min(height - 1)];
            for cx in 0..chroma_width {
                let columns = [2 * cx, (2 * cx + 1).min(width - 1)];
                let mut sum = [0; 3];
                for y in rows {
                    for x in columns {
                        for (total, value) in sum.iter_mut().zip(rgb_at(x, y)) {
                            *total += value;
                        }
                    }
                }
                let [red, green, blue] = sum;
                cb.push(chroma(CB_R * red + CB_G * green + HALF * blue));
                cr.push(chroma(HALF * red + CR_G * green + CR_B * blue));
            }
        }
        Self { y: luma, cb, cr }
    }

    fn fill(&self, frame: &mut Frame<u8>, w: usize, h: usize) {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        fill_plane(frame, 0, &self.y, w, h);
        fill_plane(frame, 1, &self.cb, cw, ch);
        fill_plane(frame, 2, &self.cr, cw, ch);
    }
}

fn fill_plane(frame: &mut Frame<u8>, plane: usize, samples: &[u8], w: usize, h: usize) {
    frame.planes[plane].copy_from_raw_u8(&samples[..w * h], w, 1);
}

/// RGBA whose fully transparent pixels take the colour of the nearest visible pixel on their
/// row (or the row above): their colour is never seen, and a smooth one costs the colour
/// planes no edge, so no bytes.
fn transparent_pixels_take_visible_colours(rgba: &[u8], w: usize) -> Vec<u8> {
    let mut out = rgba.to_vec();
    let mut previous_row: Option<[u8; 3]> = None;
    for row in out.chunks_exact_mut(w * 4) {
        let first_visible = row
            .chunks_exact(4)
            .find(|p| p[3] != 0)
            .map(|p| [p[0], p[1], p[2]]);
        let mut carry = first_visible.or(previous_row).unwrap_or([0, 0, 0]);
        for p in row.chunks_exact_mut(4) {
            if p[3] == 0 {
                p[..3].copy_from_slice(&carry);
            } else {
                carry = [p[0], p[1], p[2]];
            }
        }
        previous_row = Some(carry);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_has_neutral_chroma_and_primaries_land_where_bt601_puts_them() {
        // 2×2: grey, red / blue, white; chroma is the block's average.
        let pixels = [
            128, 128, 128, 255, 255, 0, 0, 255, //
            0, 0, 255, 255, 255, 255, 255, 255,
        ];
        let planar = Planar::from_rgb(&pixels, 2, 2, 4);
        assert_eq!(planar.y, vec![128, 76, 29, 255]);
        let (r, g, b) = (638.0 / 4.0, 383.0 / 4.0, 638.0 / 4.0);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let cb = ((b - y) / 1.772 + 128.0_f64).round() as i32;
        let cr = ((r - y) / 1.402 + 128.0_f64).round() as i32;
        assert!(
            (i32::from(planar.cb[0]) - cb).abs() <= 1,
            "{:?} vs {cb}",
            planar.cb
        );
        assert!(
            (i32::from(planar.cr[0]) - cr).abs() <= 1,
            "{:?} vs {cr}",
            planar.cr
        );
        let grey = Planar::from_rgb(&[90; 3 * 9], 3, 3, 3);
        assert_eq!(
            (grey.y[0], grey.cb, grey.cr),
            (90, vec![128; 4], vec![128; 4])
        );
    }

    #[test]
    fn hidden_pixels_take_the_colour_beside_them_and_visible_ones_keep_theirs() {
        let rgba = [
            9, 9, 9, 0, 200, 10, 10, 255, 7, 7, 7, 0, //
            1, 1, 1, 0, 2, 2, 2, 0, 3, 3, 3, 0,
        ];
        let cleaned = transparent_pixels_take_visible_colours(&rgba, 3);
        assert_eq!(
            cleaned,
            [
                200, 10, 10, 0, 200, 10, 10, 255, 200, 10, 10, 0, //
                200, 10, 10, 0, 200, 10, 10, 0, 200, 10, 10, 0,
            ]
        );
    }
}
