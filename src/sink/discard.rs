//! A sink that converts each frame to YUYV, as for the virtual camera, and drops it: the output
//! of `backdrop bench`, so the timed run pays the conversion a real run pays.

use super::yuv::{OutputFormat, YuvConverter};
use super::{Sink, SinkError};
use crate::frame::RgbFrame;

/// Converts each frame to YUYV (as for the loopback) and drops it.
#[derive(Default)]
pub struct DiscardSink {
    conv: YuvConverter,
    buf: Vec<u8>,
}

impl Sink for DiscardSink {
    fn write(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        self.conv.convert(frame, OutputFormat::Yuyv, &mut self.buf);
        std::hint::black_box(&self.buf);
        Ok(())
    }
}
