//! The upload pipeline: sniff → check the header → decode within limits → orient → crop → resize → encode.
//!
//! Pure, synchronous and CPU-bound: the caller runs it off the async workers. Every output is
//! freshly encoded from pixels, so no metadata (EXIF, GPS, ICC, text chunks) and no trailing bytes
//! of the upload survive, and the same input always gives the same bytes.
//!
//! Choices worth knowing:
//! - The master is always `master_size` square: larger pictures are scaled down, smaller ones
//!   (16 px up to `master_size`) are scaled up, so every stored master has one shape.
//! - An empty body is [`ImageError::Invalid`] (a picture truncated to nothing), not unsupported.
//! - JPEG is decoded with shrink-on-load (DCT-domain 1/2, 1/4, 1/8 scaling) to the smallest scale
//!   whose short edge still covers the master, then resized with Lanczos3.

mod avif;
mod crop;
mod encode;
mod jpeg;
mod runner;
mod thumb;

use std::io::Cursor;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

pub use crate::domain::picture::AVIF_INTERACTIVE_MAX_EDGE;
pub use avif::{AVIF_ALPHA_QUANTIZER, AVIF_QUANTIZER, AVIF_SPEED, AvifTuning, encode_rgb_tuned};
pub use crop::{CropRect, MIN_CROP_EDGE};
pub use encode::{JPEG_QUALITY, WEBP_QUALITY};
pub use runner::{PipelineRunner, WorkerError};

use crop::Region;

use crate::vocabulary::{Format, NotAnUpload, sniff_upload};

/// Decoder memory allowed per pixel of the limit: 8-bit RGBA (4 bytes), so the largest accepted
/// picture decodes but a 16-bit one may have only half the pixels; plus a fixed margin for the
/// decoders' own buffers (zlib window, rows, Huffman tables).
const ALLOC_BYTES_PER_PIXEL: u64 = 4;
const ALLOC_MARGIN: u64 = 16 << 20;
/// Largest edge a stored master may have when it is read back for resizing.
const MAX_MASTER_EDGE: u32 = 4096;

/// The bounds every upload is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelineLimits {
    /// Most pixels (width × height) the header may declare.
    pub max_pixels: u64,
    /// Smallest accepted width or height.
    pub min_edge: u32,
    /// Edge of the square master that is stored.
    pub master_size: u32,
}

impl PipelineLimits {
    /// The byte budget given to decoders (`image::Limits::max_alloc`, jpeg-decoder's buffer limit).
    fn max_alloc(&self) -> u64 {
        self.max_pixels
            .saturating_mul(ALLOC_BYTES_PER_PIXEL)
            .saturating_add(ALLOC_MARGIN)
    }

    fn check_dimensions(&self, width: u32, height: u32) -> Result<(), ImageError> {
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels {
            return Err(ImageError::Invalid(format!(
                "the picture declares {width}×{height} pixels, more than the limit of {}",
                self.max_pixels
            )));
        }
        if width < self.min_edge || height < self.min_edge {
            return Err(ImageError::Invalid(format!(
                "the picture is {width}×{height} pixels; both edges must be at least {}",
                self.min_edge
            )));
        }
        Ok(())
    }
}

/// A freshly encoded square picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedPicture {
    pub bytes: Vec<u8>,
    /// A master is JPEG when opaque and PNG when it has transparency.
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// Why an upload (or a stored picture) cannot be used. Its sentence is the client's 4xx
/// message. `Clone`: a failed resize is shared by every request that waited for it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ImageError {
    /// Not one of the accepted formats (HTTP 415).
    #[error("{0}")]
    Unsupported(String),
    /// An accepted format that cannot be used: truncated, undecodable, too large or too small (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    /// A crop rectangle that is not inside the upright picture or too small (HTTP 400).
    #[error("{0}")]
    InvalidCrop(String),
}

impl From<NotAnUpload> for ImageError {
    fn from(refusal: NotAnUpload) -> Self {
        match refusal {
            NotAnUpload::Empty => Self::Invalid(refusal.to_string()),
            NotAnUpload::Unsupported => Self::Unsupported(refusal.to_string()),
        }
    }
}

/// The upload allowlist ([`sniff_upload`]) with its refusals as image errors: an empty body is
/// a truncated picture (422), anything else not on the list is unsupported (415).
pub fn sniff(input: &[u8]) -> Result<Format, ImageError> {
    Ok(sniff_upload(input)?)
}

impl ImageError {
    fn undecodable(err: impl std::fmt::Display) -> Self {
        Self::Invalid(format!("the picture cannot be decoded: {err}"))
    }
}

/// Decoded pixels, 8 bits per channel, rows packed.
pub(crate) enum Pixels {
    Rgb(Vec<u8>),
    Rgba(Vec<u8>),
}

impl Pixels {
    pub(crate) fn channels(&self) -> usize {
        match self {
            Self::Rgb(_) => 3,
            Self::Rgba(_) => 4,
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Self::Rgb(bytes) | Self::Rgba(bytes) => bytes,
        }
    }
}

/// A decoded picture and the EXIF orientation still to apply to it.
pub(crate) struct Decoded {
    pub width: u32,
    pub height: u32,
    /// The size the header declares; larger than `width`×`height` after JPEG shrink-on-load.
    pub source_width: u32,
    pub source_height: u32,
    pub pixels: Pixels,
    pub orientation: Orientation,
}

/// A stored master and its ThumbHash (base64), the blurred placeholder apps show while it loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Master {
    pub picture: NormalizedPicture,
    pub thumbhash: String,
}

/// Turns an upload into the stored master: see the module documentation for each step.
pub fn normalize(input: &[u8], limits: &PipelineLimits) -> Result<NormalizedPicture, ImageError> {
    normalize_master(input, limits, None).map(|master| master.picture)
}

/// [`normalize`] with the user's crop: the master is the largest centred square inside `crop`
/// (pixels of the upright picture), or of the whole picture without one.
pub fn normalize_master(
    input: &[u8],
    limits: &PipelineLimits,
    crop: Option<CropRect>,
) -> Result<Master, ImageError> {
    let format = sniff(input)?;
    let target = limits.master_size.max(1);
    let decoded = match format {
        Format::Jpeg => jpeg::decode(input, limits, target, crop.map(crop::CropRect::side))?,
        other => decode_with_image(input, image_format(other)?, limits)?,
    };
    let region = match crop {
        None => Region::centred_square(decoded.width, decoded.height),
        Some(crop) => crop::square_region(
            crop,
            (decoded.source_width, decoded.source_height),
            (decoded.width, decoded.height),
            decoded.orientation,
        )?,
    };
    finish(decoded, region, target)
}

/// A representation of a stored master for `GET /pictures/{key}`: resized to `edge` (Lanczos3;
/// no resize when it is the master's own edge) and encoded as `format`.
pub fn master_variant(
    master: &[u8],
    edge: u32,
    format: Format,
) -> Result<NormalizedPicture, ImageError> {
    if sniff(master)? == Format::Gif {
        return Err(ImageError::Unsupported("a master is never a GIF".into()));
    }
    resize_square(master, edge, MAX_MASTER_EDGE, Some(format))
}

/// A `size`-square variant of any accepted picture (a master, a Gravatar, a rendered fallback):
/// centre-cropped, Lanczos3, first frame only, no larger than `max_edge` on a side when decoded,
/// encoded as `format`; without one, JPEG stays JPEG and everything else becomes PNG (alpha kept).
pub fn resize_square(
    input: &[u8],
    size: u32,
    max_edge: u32,
    format: Option<Format>,
) -> Result<NormalizedPicture, ImageError> {
    let limits = PipelineLimits {
        max_pixels: u64::from(max_edge) * u64::from(max_edge),
        min_edge: 1,
        master_size: size,
    };
    let source = sniff(input)?;
    let decoded = decode_with_image(input, image_format(source)?, &limits)?;
    let format = format.unwrap_or(if source == Format::Jpeg {
        Format::Jpeg
    } else {
        Format::Png
    });
    let size = size.max(1);
    let (width, height, pixels) = if decoded.width == size && decoded.height == size {
        (size, size, decoded.pixels)
    } else {
        let region = Region::centred_square(decoded.width, decoded.height);
        crop_and_resize(&decoded, region, size)?
    };
    // A JPEG of transparent pixels is composed over white by the encoder, like every JPEG.
    encode_picture(width, height, &pixels, format)
}

/// The `image` crate's decoder for an accepted upload format.
fn image_format(format: Format) -> Result<ImageFormat, ImageError> {
    match format {
        Format::Png => Ok(ImageFormat::Png),
        Format::Jpeg => Ok(ImageFormat::Jpeg),
        Format::Webp => Ok(ImageFormat::WebP),
        Format::Gif => Ok(ImageFormat::Gif),
        Format::Avif | Format::Svg => Err(ImageError::Unsupported(format!(
            "{format} pictures are not decoded"
        ))),
    }
}

/// Decodes PNG, WebP and GIF (and masters) with the `image` crate, within limits, first frame only.
fn decode_with_image(
    input: &[u8],
    format: ImageFormat,
    limits: &PipelineLimits,
) -> Result<Decoded, ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    let mut decoder_limits = image::Limits::default();
    let max_edge = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
    decoder_limits.max_image_width = Some(max_edge);
    decoder_limits.max_image_height = Some(max_edge);
    decoder_limits.max_alloc = Some(limits.max_alloc());
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(map_image_error)?;
    // Checked from the header, before any pixel buffer exists.
    let (width, height) = decoder.dimensions();
    limits.check_dimensions(width, height)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    // GIF and WebP decoders read only the first frame here; later frames are never allocated.
    let image = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    let pixels = if image.color().has_alpha() {
        // Kept as RGBA even when opaque: dropping the channel here would copy the whole picture.
        Pixels::Rgba(image.into_rgba8().into_raw())
    } else {
        Pixels::Rgb(image.into_rgb8().into_raw())
    };
    Ok(Decoded {
        width,
        height,
        source_width: width,
        source_height: height,
        pixels,
        orientation,
    })
}

fn map_image_error(err: image::ImageError) -> ImageError {
    match err {
        image::ImageError::Limits(limit) => {
            ImageError::Invalid(format!("the picture exceeds the decoding limits: {limit}"))
        }
        other => ImageError::undecodable(other),
    }
}

/// Crop, resize, orient and encode: the steps shared by every source format.
fn finish(decoded: Decoded, region: Region, target: u32) -> Result<Master, ImageError> {
    let orientation = decoded.orientation;
    let (width, height, pixels) = crop_and_resize(&decoded, region, target)?;
    drop(decoded);
    // Orienting the square after resizing is exact (the region is the stored image of the
    // upright square, and a square maps onto a square under the eight EXIF transforms) and
    // touches 512² pixels instead of the full picture.
    let pixels = orient(width, height, pixels, orientation)?;
    let thumbhash = thumb::thumbhash(width, height, &pixels)?;
    let (pixels, opaque) = match pixels {
        Pixels::Rgba(rgba) if rgba.chunks_exact(4).all(|p| p[3] == u8::MAX) => {
            (Pixels::Rgb(drop_alpha(&rgba)), true)
        }
        rgba @ Pixels::Rgba(_) => (rgba, false),
        rgb @ Pixels::Rgb(_) => (rgb, true),
    };
    let format = if opaque { Format::Jpeg } else { Format::Png };
    Ok(Master {
        picture: encode_picture(width, height, &pixels, format)?,
        thumbhash,
    })
}

/// Crops `region` and resizes it to `target`×`target` with Lanczos3.
fn crop_and_resize(
    decoded: &Decoded,
    region: Region,
    target: u32,
) -> Result<(u32, u32, Pixels), ImageError> {
    let (buffer, pixel_type) = match &decoded.pixels {
        Pixels::Rgb(rgb) => (rgb.as_slice(), PixelType::U8x3),
        Pixels::Rgba(rgba) => (rgba.as_slice(), PixelType::U8x4),
    };
    let source = ImageRef::new(decoded.width, decoded.height, buffer, pixel_type)
        .map_err(ImageError::undecodable)?;
    // Premultiplying alpha copies the source; an opaque picture needs none of it.
    let opaque = match &decoded.pixels {
        Pixels::Rgb(_) => true,
        Pixels::Rgba(rgba) => rgba.chunks_exact(4).all(|p| p[3] == u8::MAX),
    };
    let mut destination = Image::new(target, target, pixel_type);
    let options = ResizeOptions::new()
        .use_alpha(!opaque)
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(region.left, region.top, region.width, region.height);
    Resizer::new()
        .resize(&source, &mut destination, &options)
        .map_err(ImageError::undecodable)?;
    let bytes = destination.into_vec();
    let pixels = match pixel_type {
        PixelType::U8x4 => Pixels::Rgba(bytes),
        _ => Pixels::Rgb(bytes),
    };
    Ok((target, target, pixels))
}

fn orient(
    width: u32,
    height: u32,
    pixels: Pixels,
    orientation: Orientation,
) -> Result<Pixels, ImageError> {
    if orientation == Orientation::NoTransforms {
        return Ok(pixels);
    }
    let broken = || ImageError::Invalid("pixel buffer does not match its size".into());
    let mut image = match pixels {
        Pixels::Rgb(rgb) => DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(width, height, rgb).ok_or_else(broken)?,
        ),
        Pixels::Rgba(rgba) => DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(width, height, rgba).ok_or_else(broken)?,
        ),
    };
    image.apply_orientation(orientation);
    Ok(match image {
        DynamicImage::ImageRgba8(rgba) => Pixels::Rgba(rgba.into_raw()),
        other => Pixels::Rgb(other.into_rgb8().into_raw()),
    })
}

fn drop_alpha(rgba: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
    for pixel in rgba.chunks_exact(4) {
        rgb.extend_from_slice(&pixel[..3]);
    }
    rgb
}

/// `pixels` encoded as `format` (see [`encode::encode`]).
fn encode_picture(
    width: u32,
    height: u32,
    pixels: &Pixels,
    format: Format,
) -> Result<NormalizedPicture, ImageError> {
    Ok(NormalizedPicture {
        bytes: encode::encode(width, height, pixels, format)?,
        format,
        width,
        height,
    })
}

/// RGBA pixels of `width`×`height` (e.g. a rendered placeholder) encoded as `format`.
pub fn encode_rgba(
    width: u32,
    height: u32,
    rgba: Vec<u8>,
    format: Format,
) -> Result<Vec<u8>, ImageError> {
    encode::encode(width, height, &Pixels::Rgba(rgba), format)
}
