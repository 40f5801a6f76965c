//! Frame sinks: video files, pictures and (in `loopback`) the virtual camera, with its encoder
//! (`encode`) and its consumer detection (`consumers`).

pub mod consumers;
pub mod encode;
mod file;
pub mod loopback;
pub mod yuv;

pub use file::{PictureSink, VideoSink};

use crate::frame::RgbFrame;
use std::path::{Path, PathBuf};

/// Errors writing output.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A video could not be written.
    #[error(transparent)]
    Video(#[from] crate::ffmpeg::FfmpegError),
    /// A picture could not be written.
    #[error("cannot write picture {path}: {reason}")]
    Picture {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The output folder does not exist.
    #[error("cannot write {0}: its folder does not exist")]
    NoFolder(PathBuf),
}

/// Something that takes composed frames.
pub trait Sink: Send {
    /// Writes one frame.
    fn write(&mut self, frame: &RgbFrame) -> Result<(), SinkError>;
    /// Flushes and closes (the file is complete once this returns).
    fn finish(self: Box<Self>) -> Result<(), SinkError>;
}

/// Opens a video or picture file for writing, by extension.
pub fn open_file(
    path: &Path,
    width: u32,
    height: u32,
    fps: f64,
) -> Result<Box<dyn Sink>, SinkError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(SinkError::NoFolder(path.to_owned()));
    }
    if crate::source::is_picture(path) {
        Ok(Box::new(PictureSink::new(path)))
    } else {
        Ok(Box::new(VideoSink::open(path, width, height, fps)?))
    }
}
