//! RGB → YUYV / I420 for the virtual camera (BT.601, limited range: what webcams send and what
//! every V4L2 consumer assumes), through yuvutils-rs SIMD kernels into reused buffers. MJPEG
//! output is encoded by [`crate::sink::encode::FrameEncoder`].

use crate::frame::RgbFrame;
use yuvutils_rs::{
    BufferStoreMut, YuvConversionMode, YuvPackedImageMut, YuvPlanarImage, YuvPlanarImageMut,
    YuvRange, YuvStandardMatrix,
};

pub use crate::config::OutputFormat;

/// Converts RGB frames, keeping its planar scratch planes between frames.
#[derive(Default)]
pub struct YuvConverter {
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

const RANGE: YuvRange = YuvRange::Limited;
const MATRIX: YuvStandardMatrix = YuvStandardMatrix::Bt601;
const MODE: YuvConversionMode = YuvConversionMode::Balanced;

impl YuvConverter {
    /// Converts `rgb` into `out` (resized to the frame's byte count). Width must be even.
    /// `Mjpeg` is not a raw format: it gives I420, the sampling the JPEGs use.
    pub fn convert(&mut self, rgb: &RgbFrame, format: OutputFormat, out: &mut Vec<u8>) {
        let (w, h) = (rgb.width, rgb.height);
        let format = match format {
            OutputFormat::Mjpeg => OutputFormat::I420,
            f => f,
        };
        out.resize(format.frame_bytes(w, h), 0);
        let cw = w.div_ceil(2);
        match format {
            OutputFormat::Yuyv => {
                self.y.resize((w * h) as usize, 0);
                self.u.resize((cw * h) as usize, 0);
                self.v.resize((cw * h) as usize, 0);
                let mut planar = YuvPlanarImageMut {
                    y_plane: BufferStoreMut::Borrowed(&mut self.y),
                    y_stride: w,
                    u_plane: BufferStoreMut::Borrowed(&mut self.u),
                    u_stride: cw,
                    v_plane: BufferStoreMut::Borrowed(&mut self.v),
                    v_stride: cw,
                    width: w,
                    height: h,
                };
                yuvutils_rs::rgb_to_yuv422(&mut planar, &rgb.data, w * 3, RANGE, MATRIX, MODE)
                    .expect("planes sized for the frame");
                let planar = YuvPlanarImage {
                    y_plane: &self.y,
                    y_stride: w,
                    u_plane: &self.u,
                    u_stride: cw,
                    v_plane: &self.v,
                    v_stride: cw,
                    width: w,
                    height: h,
                };
                let mut packed = YuvPackedImageMut {
                    yuy: BufferStoreMut::Borrowed(out),
                    yuy_stride: cw * 4,
                    width: w,
                    height: h,
                };
                yuvutils_rs::yuv422_to_yuyv422(&mut packed, &planar)
                    .expect("packed buffer sized for the frame");
            }
            OutputFormat::I420 | OutputFormat::Mjpeg => {
                let ch = h.div_ceil(2);
                let (y, uv) = out.split_at_mut((w * h) as usize);
                let (u, v) = uv.split_at_mut((cw * ch) as usize);
                let mut planar = YuvPlanarImageMut {
                    y_plane: BufferStoreMut::Borrowed(y),
                    y_stride: w,
                    u_plane: BufferStoreMut::Borrowed(u),
                    u_stride: cw,
                    v_plane: BufferStoreMut::Borrowed(v),
                    v_stride: cw,
                    width: w,
                    height: h,
                };
                yuvutils_rs::rgb_to_yuv420(&mut planar, &rgb.data, w * 3, RANGE, MATRIX, MODE)
                    .expect("planes sized for the frame");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_colours_convert_to_bt601_limited() {
        // Two pixels: white and black; then red.
        let rgb = RgbFrame {
            width: 2,
            height: 1,
            data: vec![255, 255, 255, 0, 0, 0],
        };
        let mut c = YuvConverter::default();
        let mut out = vec![];
        c.convert(&rgb, OutputFormat::Yuyv, &mut out);
        assert_eq!(out.len(), 4);
        assert!((out[0] as i32 - 235).abs() <= 1, "white Y {}", out[0]);
        assert!((out[2] as i32 - 16).abs() <= 1, "black Y {}", out[2]);
        assert!(
            (out[1] as i32 - 128).abs() <= 1 && (out[3] as i32 - 128).abs() <= 1,
            "grey chroma {out:?}"
        );
        let red = RgbFrame {
            width: 2,
            height: 2,
            data: [255u8, 0, 0].repeat(4),
        };
        c.convert(&red, OutputFormat::I420, &mut out);
        assert_eq!(out.len(), 4 + 1 + 1);
        // BT.601 limited: red is Y 81, U 90, V 240.
        assert!(
            (out[0] as i32 - 81).abs() <= 2
                && (out[4] as i32 - 90).abs() <= 2
                && (out[5] as i32 - 240).abs() <= 2,
            "{out:?}"
        );
    }
}
