//! MJPEG frames (from cameras, or the bench's replayed clip) decoded with zune-jpeg's SIMD
//! decoder straight into a reused RGB buffer.

use crate::frame::RgbFrame;
use zune_jpeg::errors::DecodeErrors;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// A compressed frame that did not decode.
#[derive(Debug, thiserror::Error)]
pub enum MjpegError {
    /// The decoder refused the data.
    #[error("bad MJPEG frame: {0:?}")]
    Decode(#[from] DecodeErrors),
    /// The headers carry no picture size.
    #[error("bad MJPEG frame: no size in its headers")]
    NoSize,
}

/// Decodes one JPEG into `out` (reshaped to the picture's size).
pub fn decode_mjpeg(data: &[u8], out: &mut RgbFrame) -> Result<(), MjpegError> {
    let opts = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_strict_mode(false);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), opts);
    dec.decode_headers()?;
    let (w, h) = dec.dimensions().ok_or(MjpegError::NoSize)?;
    out.reshape(w as u32, h as u32);
    Ok(dec.decode_into(&mut out.data)?)
}
