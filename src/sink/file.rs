//! File sinks: a video encoded by ffmpeg, or a picture.

use super::{Sink, SinkError};
use crate::ffmpeg::Encoder;
use crate::frame::RgbFrame;
use std::path::{Path, PathBuf};

/// A video file written by ffmpeg.
pub struct VideoSink {
    enc: Encoder,
}

impl VideoSink {
    /// Starts the encoder.
    pub fn open(path: &Path, width: u32, height: u32, fps: f64) -> Result<Self, SinkError> {
        Ok(VideoSink {
            enc: Encoder::spawn(path, width, height, fps)?,
        })
    }
}

impl Sink for VideoSink {
    fn write(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        Ok(self.enc.write_frame(&frame.data)?)
    }

    fn finish(self: Box<Self>) -> Result<(), SinkError> {
        Ok(self.enc.finish()?)
    }
}

/// A picture: the first frame written is saved (format from the extension).
pub struct PictureSink {
    path: PathBuf,
    frame: Option<RgbFrame>,
}

impl PictureSink {
    /// A sink that saves to `path` on finish.
    pub fn new(path: &Path) -> Self {
        PictureSink {
            path: path.to_owned(),
            frame: None,
        }
    }
}

impl Sink for PictureSink {
    fn write(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        if self.frame.is_none() {
            self.frame = Some(frame.clone());
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), SinkError> {
        let err = |reason: String| SinkError::Picture {
            path: self.path.clone(),
            reason,
        };
        let f = self
            .frame
            .as_ref()
            .ok_or_else(|| err("no frame was produced".into()))?;
        image::save_buffer(
            &self.path,
            &f.data,
            f.width,
            f.height,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| err(e.to_string()))
    }
}
