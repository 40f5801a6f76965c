//! MJPEG frames (from cameras, or the bench's replayed clip) decoded with zune-jpeg's SIMD
//! decoder straight into a reused RGB buffer.

use crate::frame::RgbFrame;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// Decodes one JPEG into `out` (reshaped to the picture's size).
pub fn decode_mjpeg(data: &[u8], out: &mut RgbFrame) -> Result<(), String> {
    let opts = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_strict_mode(false);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), opts);
    dec.decode_headers()
        .map_err(|e| format!("bad MJPEG frame: {e:?}"))?;
    let (w, h) = dec.dimensions().ok_or("bad MJPEG frame: no size")?;
    out.reshape(w as u32, h as u32);
    dec.decode_into(&mut out.data)
        .map_err(|e| format!("bad MJPEG frame: {e:?}"))
}
