//! A sink that encodes each frame exactly as the virtual camera would and drops the bytes: the
//! output of `backdrop bench`, so the timed run pays the conversion (or the JPEG encode) a real
//! run pays.

use super::encode::{EncodeError, FrameEncoder};
use super::{Sink, SinkError};
use crate::config::Config;
use crate::frame::RgbFrame;

/// Encodes each frame in the configured `output_format` and drops it.
pub struct DiscardSink {
    enc: FrameEncoder,
}

impl DiscardSink {
    /// Encodes as `cfg` asks, at the size the virtual camera would have for `width`x`height`
    /// frames.
    pub fn open_for(cfg: &Config, width: u32, height: u32) -> Result<DiscardSink, EncodeError> {
        let (w, h) = super::loopback::output_size(width, height);
        Ok(DiscardSink {
            enc: FrameEncoder::new(cfg.output_format, w, h, cfg.jpeg_quality)?,
        })
    }

    /// The last frame's encoded bytes.
    pub fn encoded(&self) -> &[u8] {
        self.enc.last()
    }
}

impl Sink for DiscardSink {
    fn write(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        std::hint::black_box(self.enc.encode(frame)?);
        Ok(())
    }
}
