//! Profile pictures, made safe to keep and to serve (issue 15's decoding; storage and upload come
//! next). An upload is treated as an image only if it is one: PNG, JPEG or WebP recognised by its
//! first bytes, never by its name or declared type. Its dimensions are read from its header before
//! any pixel is decoded, so a small file declaring a huge image (a decompression bomb) is refused
//! for the cost of reading a header, and the decoder runs under the same limits as a second guard.
//! What is kept is re-encoded from the pixels alone, at most [`OUTPUT_SIDE`] a side: nothing of
//! the original file survives (no EXIF, no GPS position, no comments, no colour profile).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::error::AppError;

/// The longest side an upload may declare.
pub const MAX_SIDE: u32 = 8_000;
/// The most pixels an upload may declare (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;
/// The longest side of a kept picture.
pub const OUTPUT_SIDE: u32 = 512;
/// The quality of a re-encoded JPEG.
const JPEG_QUALITY: u8 = 85;

/// A picture ready to keep: its bytes, their media type and its size.
#[derive(Debug)]
pub struct Picture {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Reads an uploaded file as a picture: a PNG, a JPEG or a WebP within [`MAX_SIDE`] and
/// [`MAX_PIXELS`], re-encoded (a JPEG as a JPEG, the others as a PNG, which keeps transparency) to
/// at most [`OUTPUT_SIDE`] a side with its aspect kept. Anything else is `BAD_USER_INPUT` on
/// `file`. CPU-bound: run it on a blocking thread.
pub fn process(upload: &[u8]) -> Result<Picture, AppError> {
    let refuse = |why: &str| AppError::bad_input("file", why.to_owned());
    let format = match image::guess_format(upload) {
        Ok(format @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP)) => format,
        _ => return Err(refuse("is not a PNG, JPEG or WebP image")),
    };
    // The header alone: no pixel is decoded here.
    let (width, height) = ImageReader::with_format(Cursor::new(upload), format)
        .into_dimensions()
        .map_err(|_| refuse("is not a readable image"))?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(refuse(&format!(
            "is {width}×{height} pixels; at most {MAX_SIDE} a side and {} megapixels are accepted",
            MAX_PIXELS / 1_000_000
        )));
    }
    if width == 0 || height == 0 {
        return Err(refuse("is an empty image"));
    }
    if format == ImageFormat::Jpeg && !jpeg_is_whole(upload) {
        // The JPEG decoder fills what is missing with grey rather than fail.
        return Err(refuse("is a damaged or truncated image"));
    }
    let mut reader = ImageReader::with_format(Cursor::new(upload), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // The decoded pixels at up to 8 bytes each (16-bit RGBA), and the decoder's own buffers.
    limits.max_alloc = Some(MAX_PIXELS * 8 + (64 << 20));
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|_| refuse("is a damaged or truncated image"))?;
    let fitted = match width > OUTPUT_SIDE || height > OUTPUT_SIDE {
        true => decoded.resize(OUTPUT_SIDE, OUTPUT_SIDE, FilterType::Triangle),
        false => decoded,
    };
    encode(fitted, format)
}

/// Whether a JPEG has its end marker after its image data: `FF D9` cannot occur inside the
/// entropy-coded data (an `FF` there is always followed by `00` or a restart marker), so a file
/// cut short has none.
fn jpeg_is_whole(jpeg: &[u8]) -> bool {
    let marker = |m: [u8; 2]| jpeg.windows(2).position(|w| w == m);
    match (marker([0xFF, 0xDA]), marker([0xFF, 0xD9])) {
        (Some(scan), Some(_)) => jpeg[scan..].windows(2).any(|w| w == [0xFF, 0xD9]),
        _ => false,
    }
}

/// The pixels of `image` alone, as a JPEG when the upload was one, else as a PNG.
fn encode(image: DynamicImage, uploaded: ImageFormat) -> Result<Picture, AppError> {
    let (width, height) = (image.width(), image.height());
    let mut bytes = Vec::new();
    let content_type = match uploaded {
        ImageFormat::Jpeg => {
            DynamicImage::ImageRgb8(image.to_rgb8())
                .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY))
                .map_err(|e| AppError::internal(format!("encoding a JPEG: {e}")))?;
            "image/jpeg"
        }
        _ => {
            let pixels = match image.color().has_alpha() {
                true => DynamicImage::ImageRgba8(image.to_rgba8()),
                false => DynamicImage::ImageRgb8(image.to_rgb8()),
            };
            pixels
                .write_with_encoder(PngEncoder::new(&mut bytes))
                .map_err(|e| AppError::internal(format!("encoding a PNG: {e}")))?;
            "image/png"
        }
    };
    Ok(Picture {
        bytes,
        content_type,
        width,
        height,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use image::codecs::webp::WebPEncoder;
    use image::{ImageEncoder, RgbImage, RgbaImage};

    use super::*;

    fn gradient(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        })
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(gradient(width, height))
            .write_with_encoder(PngEncoder::new(&mut out))
            .unwrap();
        out
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(gradient(width, height))
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
            .unwrap();
        out
    }

    /// A JPEG with an EXIF segment holding a GPS position (a TIFF header whose one entry is the
    /// GPS IFD pointer, then a GPS IFD with a latitude reference), right after its start marker.
    fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
        let plain = jpeg(width, height);
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend([0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
        tiff.extend([0, 1, 0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0, 0, 0, 0, 0]);
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(&tiff);
        exif.extend(b"GPSLatitude 48.8584 N"); // a marker the test looks for afterwards
        let length = u16::try_from(exif.len() + 2).unwrap().to_be_bytes();
        let mut out = plain[..2].to_vec();
        out.extend([0xFF, 0xE1, length[0], length[1]]);
        out.extend(exif);
        out.extend(&plain[2..]);
        out
    }

    fn webp(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let pixels = RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 200])
        });
        WebPEncoder::new_lossless(&mut out)
            .write_image(&pixels, width, height, image::ExtendedColorType::Rgba8)
            .unwrap();
        out
    }

    /// A PNG of 1×1 pixel whose header says `width`×`height` (its CRC recomputed).
    fn png_declaring(width: u32, height: u32) -> Vec<u8> {
        let mut out = png(1, 1);
        // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
        out[16..20].copy_from_slice(&width.to_be_bytes());
        out[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32fast::hash(&out[12..29]);
        out[29..33].copy_from_slice(&crc.to_be_bytes());
        out
    }

    fn refused(upload: &[u8]) -> String {
        let error = process(upload).unwrap_err();
        assert_eq!(error.field(), Some("file"));
        assert_eq!(error.code(), crate::error::Code::BadUserInput);
        error.to_string()
    }

    #[test]
    fn pictures_are_re_encoded_within_512_pixels_keeping_their_aspect() {
        for (upload, content_type, size) in [
            (png(1_000, 600), "image/png", (512, 307)),
            (jpeg(600, 1_200), "image/jpeg", (256, 512)),
            (webp(700, 700), "image/png", (512, 512)),
            (png(40, 30), "image/png", (40, 30)),
        ] {
            let picture = process(&upload).unwrap();
            assert_eq!(picture.content_type, content_type);
            assert_eq!((picture.width, picture.height), size);
            let again = image::load_from_memory(&picture.bytes).unwrap();
            assert_eq!((again.width(), again.height()), size);
        }
        // A WebP's transparency survives as a PNG's.
        let picture = process(&webp(10, 10)).unwrap();
        assert!(
            image::load_from_memory(&picture.bytes)
                .unwrap()
                .color()
                .has_alpha()
        );
    }

    #[test]
    fn nothing_but_the_pixels_is_kept() {
        let upload = jpeg_with_gps(300, 200);
        let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        assert!(find(&upload, b"Exif") && find(&upload, b"GPSLatitude"));
        assert!(
            image::load_from_memory(&upload).is_ok(),
            "the upload is a valid JPEG"
        );
        let picture = process(&upload).unwrap();
        assert!(!find(&picture.bytes, b"Exif"), "no EXIF segment");
        assert!(!find(&picture.bytes, b"GPSLatitude"), "no GPS position");
        assert!(
            !find(&picture.bytes, &[0xFF, 0xE1]),
            "no APP1 segment at all"
        );
    }

    #[test]
    fn anything_else_is_refused_naming_the_file() {
        refused(b"PNG? no: a text file renamed picture.png");
        refused(b"");
        refused(b"GIF89a\x01\0\x01\0\0\0\0;");
        let whole = png(200, 200);
        refused(&whole[..whole.len() / 2]);
        let whole = jpeg(200, 200);
        refused(&whole[..whole.len() / 3]);
        refused(&whole[..whole.len() - 2]);
        let whole = webp(200, 200);
        refused(&whole[..whole.len() / 2]);
        // A tiny file declaring 20,000 × 20,000 pixels is refused from its header.
        let bomb = png_declaring(20_000, 20_000);
        assert!(bomb.len() < 100);
        assert!(refused(&bomb).contains("20000×20000"));
        // Within each side but over 40 megapixels.
        assert!(refused(&png_declaring(7_000, 7_000)).contains("megapixels"));
        refused(&png_declaring(0, 10));
    }
}
