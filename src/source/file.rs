//! File sources: a video decoded by ffmpeg, or a single picture.

use super::{Read, Source, SourceError, SourceInfo};
use crate::ffmpeg::{probe, Decoder};
use crate::frame::RgbFrame;
use std::path::Path;
use std::time::Duration;

/// A video file, decoded to RGB by ffmpeg.
pub struct VideoSource {
    info: SourceInfo,
    dec: Decoder,
}

impl VideoSource {
    /// Probes and starts decoding `path`.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let v = probe(path)?;
        let dec = Decoder::spawn(
            path,
            "rgb24",
            None,
            v.width as usize * v.height as usize * 3,
        )?;
        Ok(VideoSource {
            info: SourceInfo {
                width: v.width,
                height: v.height,
                fps: v.fps,
                frames: v.frames,
            },
            dec,
        })
    }
}

impl Source for VideoSource {
    fn info(&self) -> SourceInfo {
        self.info
    }

    fn read(&mut self, frame: &mut RgbFrame, _: Duration) -> Result<Read, SourceError> {
        frame.reshape(self.info.width, self.info.height);
        Ok(if self.dec.read_frame(&mut frame.data)? {
            Read::Frame
        } else {
            Read::End
        })
    }
}

/// A single picture: one frame.
pub struct StillSource {
    frame: Option<RgbFrame>,
    info: SourceInfo,
}

impl StillSource {
    /// Decodes the picture.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let frame =
            crate::compose::media::load_rgb(path).map_err(|reason| SourceError::Picture {
                path: path.to_owned(),
                reason,
            })?;
        let info = SourceInfo {
            width: frame.width,
            height: frame.height,
            fps: 30.0,
            frames: Some(1),
        };
        Ok(StillSource {
            frame: Some(frame),
            info,
        })
    }
}

impl Source for StillSource {
    fn info(&self) -> SourceInfo {
        self.info
    }

    fn read(&mut self, frame: &mut RgbFrame, _: Duration) -> Result<Read, SourceError> {
        match self.frame.take() {
            Some(f) => {
                *frame = f;
                Ok(Read::Frame)
            }
            None => Ok(Read::End),
        }
    }
}
