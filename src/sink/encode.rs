//! Composed RGB frames → the bytes the virtual camera carries (YUYV, I420 or a JPEG), scaled
//! first when the output size differs, into buffers kept between frames. The loopback writes
//! what [`FrameEncoder`] makes; `backdrop bench` encodes through the same type
//! ([`crate::sink::DiscardSink`])
//! so its timing includes the conversion or the JPEG encode.
//!
//! JPEG encoder: libjpeg-turbo through the `turbojpeg` crate, chosen by measurement. On real
//! frames at quality 85, 4:2:0, one run on the 2-core test machine (min of 30 encodes):
//!
//! | encoder | 1280x720 | 1920x1080 | size, PSNR (720p photo) |
//! |---|---|---|---|
//! | turbojpeg (libjpeg-turbo, C + SIMD) | 1.8 ms | 4.4 ms | 79 KB, 47.8 dB |
//! | jpeg-encoder 0.7 (pure Rust, AVX2) | 5.5 ms | 14.3 ms | 79 KB, 47.9 dB |
//! | image 0.25 `JpegEncoder` | 22.7 ms | 65.7 ms | 97 KB, 48.9 dB (4:2:2) |
//!
//! Same size and quality, three times faster than the best pure-Rust encoder: at 30 fps that is
//! 5 % of a core against 16 % (720p) and 13 % against 43 % (1080p). The price is a system
//! library (`libturbojpeg0`, `libturbojpeg0-dev` to build), which Debian and Ubuntu ship.
//! `turbojpeg` 0.5 is used because 1.x needs libjpeg-turbo 3, newer than Debian 12's 2.1.

use crate::frame::RgbFrame;
use crate::sink::yuv::{OutputFormat, YuvConverter};
use fast_image_resize::{
    images::Image, images::ImageRef, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer,
};

pub use crate::config::DEFAULT_JPEG_QUALITY;

/// Errors of the JPEG encoder.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// libjpeg-turbo refused (out of memory, or a size it cannot encode).
    #[error("JPEG encoder (libjpeg-turbo) failed on a {width}x{height} frame: {reason}")]
    Jpeg {
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
        /// What libjpeg-turbo said.
        reason: String,
    },
}

/// Encodes frames in one output format and size; all buffers are kept between frames.
pub struct FrameEncoder {
    format: OutputFormat,
    width: u32,
    height: u32,
    quality: u32,
    yuv: YuvConverter,
    jpeg: Option<turbojpeg::Compressor>,
    resizer: Resizer,
    scaled: RgbFrame,
    /// The encoded frame: `out[..len]`.
    out: Vec<u8>,
    len: usize,
}

impl FrameEncoder {
    /// An encoder to `format` at `width`x`height` (even width) and, for MJPEG, JPEG `quality`
    /// (1–100).
    pub fn new(
        format: OutputFormat,
        width: u32,
        height: u32,
        quality: u32,
    ) -> Result<FrameEncoder, EncodeError> {
        let quality = quality.clamp(1, 100);
        let jpeg = match format {
            OutputFormat::Mjpeg => {
                let err = |e: turbojpeg::Error| EncodeError::Jpeg {
                    width,
                    height,
                    reason: e.to_string(),
                };
                let mut c = turbojpeg::Compressor::new().map_err(err)?;
                c.set_quality(quality as i32);
                // 4:2:0, as webcams send and as browsers decode fastest (libyuv's I420 path).
                c.set_subsamp(turbojpeg::Subsamp::Sub2x2);
                Some(c)
            }
            _ => None,
        };
        let mut enc = FrameEncoder {
            format,
            width,
            height,
            quality,
            yuv: YuvConverter::default(),
            jpeg,
            resizer: Resizer::new(),
            scaled: RgbFrame::default(),
            out: Vec::new(),
            len: 0,
        };
        if let Some(c) = &enc.jpeg {
            // libjpeg-turbo's worst case for this size: the buffer never grows afterwards.
            let n = c
                .buf_len(width as usize, height as usize)
                .map_err(|e| EncodeError::Jpeg {
                    width,
                    height,
                    reason: e.to_string(),
                })?;
            enc.out = vec![0; n];
        }
        Ok(enc)
    }

    /// The output format.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// The output size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The JPEG quality (used only for MJPEG).
    pub fn quality(&self) -> u32 {
        self.quality
    }

    /// The most bytes a frame takes (the size to announce to the driver).
    pub fn max_bytes(&self) -> usize {
        self.format.frame_bytes(self.width, self.height)
    }

    /// Encodes `frame` (scaled to cover the output size and centre-cropped when it differs)
    /// and returns the bytes, valid until the next call.
    pub fn encode(&mut self, frame: &RgbFrame) -> Result<&[u8], EncodeError> {
        let src = if (frame.width, frame.height) == (self.width, self.height) {
            frame
        } else {
            scale_into(
                &mut self.resizer,
                frame,
                &mut self.scaled,
                self.width,
                self.height,
            );
            &self.scaled
        };
        match &mut self.jpeg {
            Some(c) => {
                let img = turbojpeg::Image {
                    pixels: &src.data[..],
                    width: src.width as usize,
                    pitch: src.width as usize * 3,
                    height: src.height as usize,
                    format: turbojpeg::PixelFormat::RGB,
                };
                self.len =
                    c.compress_to_slice(img, &mut self.out)
                        .map_err(|e| EncodeError::Jpeg {
                            width: src.width,
                            height: src.height,
                            reason: e.to_string(),
                        })?;
            }
            None => {
                self.yuv.convert(src, self.format, &mut self.out);
                self.len = self.out.len();
            }
        }
        Ok(&self.out[..self.len])
    }

    /// The last encoded frame (empty before the first), to repeat it without encoding again.
    pub fn last(&self) -> &[u8] {
        &self.out[..self.len]
    }
}

/// Scales `frame` to cover `w`x`h` and centre-crops it into `out` (reshaped as needed).
fn scale_into(resizer: &mut Resizer, frame: &RgbFrame, out: &mut RgbFrame, w: u32, h: u32) {
    out.reshape(w, h);
    let s = ImageRef::new(frame.width, frame.height, &frame.data, PixelType::U8x3)
        .expect("frame buffer matches its size");
    let mut d =
        Image::from_slice_u8(w, h, &mut out.data, PixelType::U8x3).expect("buffer matches size");
    let opts = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .fit_into_destination(Some((0.5, 0.5)));
    resizer.resize(&s, &mut d, &opts).expect("same pixel type");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real photo (1280x720) with a solid orange band, as a composed frame with a colour layer.
    fn photo() -> RgbFrame {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/footage/stills/ultralytics_zidane.jpg"
        );
        let img = image::open(path)
            .unwrap_or_else(|e| panic!("{path}: {e} (make footage fetches it)"))
            .to_rgb8();
        let (w, h) = img.dimensions();
        let mut f = RgbFrame {
            width: w,
            height: h,
            data: img.into_raw(),
        };
        for px in f.data[..(w * h / 4 * 3) as usize].chunks_exact_mut(3) {
            px.copy_from_slice(&[230, 120, 0]);
        }
        f
    }

    fn decode(jpeg: &[u8]) -> (u32, u32, Vec<u8>) {
        let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
            .expect("a complete, valid JPEG")
            .to_rgb8();
        let (w, h) = img.dimensions();
        (w, h, img.into_raw())
    }

    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        let mse = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
            .sum::<f64>()
            / a.len() as f64;
        10.0 * (255.0 * 255.0 / mse).log10()
    }

    #[test]
    fn mjpeg_frames_decode_to_the_picture_and_quality_trades_size() {
        let frame = photo();
        let mut sizes = vec![];
        for q in [50u32, 85, 95] {
            let mut enc = FrameEncoder::new(OutputFormat::Mjpeg, 1280, 720, q).unwrap();
            let jpeg = enc.encode(&frame).unwrap().to_vec();
            assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "starts with SOI");
            assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "ends with EOI");
            assert!(jpeg.len() < enc.max_bytes() / 4, "{} bytes", jpeg.len());
            let (w, h, rgb) = decode(&jpeg);
            assert_eq!((w, h), (1280, 720));
            let p = psnr(&frame.data, &rgb);
            assert!(p > 30.0, "quality {q}: PSNR {p:.1} dB");
            // The orange band stays orange (JPEG's colours are full-range BT.601).
            let px = &rgb[(100 * 1280 + 640) * 3..][..3];
            assert!(
                px.iter()
                    .zip([230u8, 120, 0])
                    .all(|(&a, b)| (a as i32 - b as i32).abs() <= 6),
                "{px:?}"
            );
            // The buffer is reused: encoding again gives the same bytes from the same memory.
            let ptr = enc.last().as_ptr();
            assert_eq!(enc.encode(&frame).unwrap(), &jpeg[..]);
            assert_eq!(enc.last().as_ptr(), ptr);
            sizes.push(jpeg.len());
        }
        assert!(sizes[0] < sizes[1] && sizes[1] < sizes[2], "{sizes:?}");
    }

    /// The bench's sink encodes like the loopback: the configured format at the output size
    /// the camera's size maps to.
    #[test]
    fn discard_sink_encodes_the_configured_format() {
        use crate::sink::Sink;
        let cfg = crate::config::Config::parse(
            "output_format: mjpeg\n",
            std::path::Path::new("t.yaml"),
            std::path::Path::new("."),
        )
        .unwrap();
        let mut sink = crate::sink::DiscardSink::open_for(&cfg, 1280, 720).unwrap();
        sink.write(&photo()).unwrap();
        assert_eq!(decode(sink.encoded()).0, 1280);
        // A camera size browsers do not take maps to the nearest one they do.
        let mut sink = crate::sink::DiscardSink::open_for(&cfg, 1000, 700).unwrap();
        sink.write(&photo()).unwrap();
        let (w, h, _) = decode(sink.encoded());
        assert_eq!((w, h), crate::sink::loopback::output_size(1000, 700));
    }

    #[test]
    fn frames_of_another_size_are_scaled_to_the_output() {
        let frame = photo();
        let mut enc = FrameEncoder::new(OutputFormat::Mjpeg, 640, 360, 85).unwrap();
        let (w, h, _) = decode(enc.encode(&frame).unwrap());
        assert_eq!((w, h), (640, 360));
        let mut enc = FrameEncoder::new(OutputFormat::Yuyv, 640, 360, 85).unwrap();
        assert_eq!(enc.encode(&frame).unwrap().len(), 640 * 360 * 2);
        let mut enc = FrameEncoder::new(OutputFormat::I420, 640, 360, 85).unwrap();
        assert_eq!(enc.encode(&frame).unwrap().len(), 640 * 360 * 3 / 2);
    }
}
