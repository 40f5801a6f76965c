//! Frame sources: video files, pictures and (in `v4l`) cameras.

pub mod camera;
mod file;
pub mod mjpeg;

pub use file::{StillSource, VideoSource};

use crate::frame::RgbFrame;
use std::path::{Path, PathBuf};

/// Errors opening or reading a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The input file does not exist.
    #[error("input {0} does not exist; check the path")]
    Missing(PathBuf),
    /// A video could not be read.
    #[error(transparent)]
    Video(#[from] crate::ffmpeg::FfmpegError),
    /// A picture could not be read.
    #[error("cannot read picture {path}: {reason}")]
    Picture {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Size and rate of a source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceInfo {
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// Number of frames, when known.
    pub frames: Option<u64>,
}

/// Something that yields RGB frames.
pub trait Source: Send {
    /// Size and rate.
    fn info(&self) -> SourceInfo;
    /// Reads the next frame into `frame` (reshaped as needed); `Ok(false)` at the end.
    fn read(&mut self, frame: &mut RgbFrame) -> Result<bool, SourceError>;
}

/// File extensions read as pictures (everything else goes to ffmpeg).
pub const PICTURE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "bmp"];

/// True when `path` names a picture by its extension.
pub fn is_picture(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PICTURE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Opens a video or picture file.
pub fn open_file(path: &Path) -> Result<Box<dyn Source>, SourceError> {
    if !path.exists() {
        return Err(SourceError::Missing(path.to_owned()));
    }
    if is_picture(path) {
        Ok(Box::new(StillSource::open(path)?))
    } else {
        Ok(Box::new(VideoSource::open(path)?))
    }
}
