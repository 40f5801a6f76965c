//! Frame sources: a camera (`camera`), a video file or picture (`file`), and a clip replayed from
//! memory as a webcam's MJPEG (`replay`, for `backdrop bench`). All implement [`Source`]; nothing
//! here knows the pipeline that drives them.

pub mod camera;
mod file;
pub mod mjpeg;
pub mod replay;

pub use file::{StillSource, VideoSource};
pub use replay::ReplaySource;

use crate::frame::RgbFrame;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors opening or reading a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The input file does not exist.
    #[error("input {0} does not exist; check the path")]
    Missing(PathBuf),
    /// The input exists but is not a regular file (a folder, a device, a symlink loop, ...).
    #[error("input {path} {what}; give a video or picture file")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead, e.g. "is a folder, not a file".
        what: String,
    },
    /// A video could not be read.
    #[error(transparent)]
    Video(#[from] crate::ffmpeg::FfmpegError),
    /// A picture could not be read.
    #[error("cannot read picture {path}: {reason}")]
    Picture {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: crate::media::MediaError,
    },
    /// The camera cannot be opened or was lost.
    #[error(transparent)]
    Camera(#[from] camera::CameraError),
    /// The file has no frames.
    #[error("{0} has no video frames")]
    NoFrames(PathBuf),
    /// A compressed frame did not decode.
    #[error(transparent)]
    Mjpeg(#[from] mjpeg::MjpegError),
}

impl SourceError {
    /// True when retrying later may succeed (a camera unplugged, busy or vanished mid-setup):
    /// the pipeline keeps the virtual camera alive and re-opens the source.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Camera(e) if e.is_transient())
    }
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
    /// Number of frames, when known (files); `None` for cameras.
    pub frames: Option<u64>,
}

/// What one read of a source gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// A new frame is in the buffer.
    Frame,
    /// No frame arrived within the timeout (a camera stalls); try again.
    Timeout,
    /// The input is exhausted (end of a file).
    End,
}

/// Something that yields RGB frames: a camera, a file, a replayed clip.
pub trait Source: Send {
    /// Current size and rate (a camera's may change when it is re-opened).
    fn info(&self) -> SourceInfo;
    /// Waits up to `timeout` for the next frame and decodes it into `out` (reshaped as needed).
    /// Files ignore the timeout: their next frame is always there.
    fn read(&mut self, out: &mut RgbFrame, timeout: Duration) -> Result<Read, SourceError>;
    /// Re-opens after a transient error (called repeatedly, with a pause, until it succeeds).
    fn reopen(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
    /// Stops streaming to save power while nobody watches (LED off); `read` restarts it.
    fn pause(&mut self) {}
}

/// File extensions read as pictures (everything else goes to ffmpeg).
pub const PICTURE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "bmp"];

/// True when `path` names a picture by its extension.
pub fn is_picture(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PICTURE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

pub use crate::files::not_a_file;

/// Opens a video or picture file.
pub fn open_file(path: &Path) -> Result<Box<dyn Source>, SourceError> {
    match not_a_file(path) {
        None => {}
        Some(what) if what == "does not exist" => {
            return Err(SourceError::Missing(path.to_owned()))
        }
        Some(what) => {
            return Err(SourceError::NotAFile {
                path: path.to_owned(),
                what,
            })
        }
    }
    if is_picture(path) {
        Ok(Box::new(StillSource::open(path)?))
    } else {
        Ok(Box::new(VideoSource::open(path)?))
    }
}
