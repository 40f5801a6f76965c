//! File sources: a video decoded by ffmpeg, or a single picture.

use super::{Read, Source, SourceError, SourceInfo};
use crate::ffmpeg::{probe, Decoder};
use crate::frame::RgbFrame;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A video file, decoded to RGB by ffmpeg.
pub struct VideoSource {
    info: SourceInfo,
    dec: Decoder,
    path: PathBuf,
    /// Frames read so far.
    read: u64,
}

impl VideoSource {
    /// Probes and starts decoding `path`.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let v = probe(path)?;
        // The output size is pinned: ffmpeg then scales whatever it decodes (a rotation the
        // probe missed, a stream whose size changes midway) to the probed size, so the frames
        // always match the buffer instead of turning into sheared stripes.
        let vf = format!("scale={}:{}", v.width, v.height);
        let dec = Decoder::spawn(
            path,
            "rgb24",
            Some(&vf),
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
            path: path.to_owned(),
            read: 0,
        })
    }
}

impl Source for VideoSource {
    fn info(&self) -> SourceInfo {
        self.info
    }

    fn read(&mut self, frame: &mut RgbFrame, _: Duration) -> Result<Read, SourceError> {
        frame.reshape(self.info.width, self.info.height);
        let more = self.dec.read_frame(&mut frame.data)?;
        if more {
            self.read += 1;
        } else if let Some(n) = self
            .info
            .frames
            // Edit lists can make the header's count a frame or two off; a truncated file
            // is off by far more.
            .filter(|&n| self.read + (n / 100).max(2) <= n)
        {
            tracing::warn!(
                "{}: the video ended after {} of the {n} frames its header announces; the file is probably truncated (an interrupted copy or download)",
                self.path.display(),
                self.read
            );
        }
        Ok(if more { Read::Frame } else { Read::End })
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
        let frame = crate::media::load_rgb(path).map_err(|reason| SourceError::Picture {
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
