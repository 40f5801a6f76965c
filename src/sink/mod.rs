//! Frame sinks: the virtual camera (`loopback`, with its encoder `encode` and its consumer
//! detection `consumers`; or `pipewire`, a PipeWire camera node), video files and pictures
//! (`file`), and a sink that converts and drops frames (`discard`, for `backdrop bench`). All
//! implement [`Sink`]; nothing here knows the pipeline that drives them.

pub mod consumers;
mod discard;
pub mod encode;
mod file;
pub mod loopback;
pub mod pipewire;
pub mod yuv;

pub use discard::DiscardSink;
pub use file::{temp_path, PictureSink, VideoSink};

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
    /// The finished file could not be moved into place.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The output folder does not exist.
    #[error("cannot write {0}: its folder does not exist")]
    NoFolder(PathBuf),
    /// The virtual camera cannot be opened.
    #[error(transparent)]
    Loopback(#[from] loopback::LoopbackError),
    /// The PipeWire camera cannot be published.
    #[error(transparent)]
    PipeWire(#[from] pipewire::PipeWireError),
    /// A frame could not be encoded for the virtual camera.
    #[error(transparent)]
    Encode(#[from] encode::EncodeError),
    /// The virtual camera went away or a write failed; retried.
    #[error("virtual camera {device}: {reason}")]
    Lost {
        /// The device.
        device: PathBuf,
        /// What happened.
        reason: std::io::Error,
    },
    /// The output is the input file (the same file by device and inode).
    #[error("output {output} is the input file {input}; writing it would destroy the input: choose another output name")]
    SameAsInput {
        /// The input as given.
        input: PathBuf,
        /// The output as given.
        output: PathBuf,
    },
    /// Nothing was written (no frame came out of the input).
    #[error("cannot write {0}: no frame was produced, so no file was written (is the input empty, or --frames 0?)")]
    Empty(PathBuf),
}

/// Refuses an output that is the input itself (`s.mp4` and `./s.mp4`, a hard link, a symlink):
/// the same file by device and inode. Processing would replace the input with the output.
pub fn ensure_not_input(input: &Path, output: &Path) -> Result<(), SinkError> {
    use std::os::unix::fs::MetadataExt;
    let (Ok(i), Ok(o)) = (std::fs::metadata(input), std::fs::metadata(output)) else {
        return Ok(());
    };
    if i.dev() == o.dev() && i.ino() == o.ino() && o.is_file() {
        return Err(SinkError::SameAsInput {
            input: input.to_owned(),
            output: output.to_owned(),
        });
    }
    Ok(())
}

impl SinkError {
    /// True when re-opening later may succeed (the virtual camera went away, a write failed):
    /// the pipeline keeps running and re-opens the sink.
    pub fn is_transient(&self) -> bool {
        matches!(self, SinkError::Lost { .. })
    }
}

/// Something that takes composed frames: the virtual camera, a file, the bench's discard.
pub trait Sink: Send {
    /// Writes one frame (converted to the sink's format and size).
    fn write(&mut self, frame: &RgbFrame) -> Result<(), SinkError>;
    /// Writes `frame`, the frame written last, once more. Sinks that keep the converted frame
    /// send it again without converting it again (repeats while the camera stalls, the
    /// placeholder while waking): no per-frame conversion.
    fn write_again(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        self.write(frame)
    }
    /// Writes `frame` as the picture that stays on show while nothing more is written (the
    /// idle placeholder): a consumer that opens later must get it at once.
    fn hold(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        self.write(frame)
    }
    /// Flushes and closes (a file is complete once this returns).
    fn finish(self: Box<Self>) -> Result<(), SinkError> {
        Ok(())
    }
    /// Whether any consumer has the output open; `None` when the sink cannot tell.
    fn has_consumers(&mut self) -> Option<bool> {
        None
    }
    /// Blocks until a consumer may have come or gone, or `timeout` passes (true: ask
    /// [`Sink::has_consumers`] again). Sinks that cannot tell just wait.
    fn wait_consumers(&mut self, timeout: std::time::Duration) -> bool {
        std::thread::sleep(timeout);
        false
    }
}

/// Opens the virtual camera `cfg` names for frames of `width`x`height`: the PipeWire camera
/// for `virtual_video_device: pipewire`, else the v4l2loopback device.
pub fn open_for(
    cfg: &crate::config::Config,
    width: u32,
    height: u32,
) -> Result<Box<dyn Sink>, SinkError> {
    if pipewire::is_pipewire(&cfg.virtual_video_device) {
        pipewire::open_for(cfg, width, height)
    } else {
        loopback::open_for(cfg, width, height)
    }
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
