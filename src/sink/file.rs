//! File sinks: a video encoded by ffmpeg, or a picture. Both write to a temporary file beside
//! the output and rename it into place only once it is complete, so a run that fails midway (a
//! full disk, a bad frame, Ctrl-C) leaves the previous output as it was and no truncated file.

use super::{Sink, SinkError};
use crate::ffmpeg::Encoder;
use crate::frame::RgbFrame;
use std::path::{Path, PathBuf};

/// An output being written: the temporary file, renamed over the destination by [`commit`],
/// removed when dropped uncommitted.
///
/// [`commit`]: Pending::commit
struct Pending {
    /// Where the data is written now.
    write_to: PathBuf,
    /// The final name; `None` when writing in place (a device such as `/dev/null`).
    dest: Option<PathBuf>,
}

impl Pending {
    fn new(path: &Path) -> Pending {
        // An existing output that is not a regular file (/dev/null, a named pipe) is written in
        // place: renaming over it would replace the device node.
        let meta = std::fs::metadata(path).ok();
        if meta.as_ref().is_some_and(|m| !m.is_file()) {
            return Pending {
                write_to: path.to_owned(),
                dest: None,
            };
        }
        // A symlink to an existing file: replace the file it points at, not the link.
        let dest = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() && meta.is_some() => {
                std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
            }
            _ => path.to_owned(),
        };
        Pending {
            write_to: temp_path(&dest),
            dest: Some(dest),
        }
    }

    /// Moves the complete file into place (keeping the permissions of the file it replaces).
    fn commit(mut self) -> Result<(), std::io::Error> {
        let Some(dest) = self.dest.take() else {
            return Ok(());
        };
        if let Ok(m) = std::fs::metadata(&dest) {
            let _ = std::fs::set_permissions(&self.write_to, m.permissions());
        }
        let r = std::fs::rename(&self.write_to, &dest);
        if r.is_err() {
            let _ = std::fs::remove_file(&self.write_to);
        }
        r
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.dest.is_some() {
            let _ = std::fs::remove_file(&self.write_to);
        }
    }
}

/// `.NAME.tmp-PID.EXT` beside `path`: the same folder, so the final rename is atomic, and the same
/// extension, so ffmpeg and the picture encoders choose the format by it.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}{ext}", std::process::id()))
}

/// A video file written by ffmpeg.
pub struct VideoSink {
    enc: Encoder,
    file: Pending,
    path: PathBuf,
    frames: u64,
}

impl VideoSink {
    /// Starts the encoder (writing a temporary file until [`Sink::finish`]).
    pub fn open(path: &Path, width: u32, height: u32, fps: f64) -> Result<Self, SinkError> {
        let file = Pending::new(path);
        Ok(VideoSink {
            enc: Encoder::spawn(&file.write_to, width, height, fps).map_err(|e| about(path, e))?,
            file,
            path: path.to_owned(),
            frames: 0,
        })
    }
}

/// An encoder error about the temporary file, told about the output the user named.
fn about(path: &Path, e: crate::ffmpeg::FfmpegError) -> SinkError {
    match e {
        crate::ffmpeg::FfmpegError::Io { reason, .. } => crate::ffmpeg::FfmpegError::Io {
            path: path.to_owned(),
            reason,
        },
        other => other,
    }
    .into()
}

impl Sink for VideoSink {
    fn write(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        self.enc
            .write_frame(&frame.data)
            .map_err(|e| about(&self.path, e))?;
        self.frames += 1;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), SinkError> {
        let VideoSink {
            enc,
            file,
            path,
            frames,
        } = *self;
        if frames == 0 {
            // ffmpeg would write a file with no video stream.
            return Err(SinkError::Empty(path));
        }
        enc.finish().map_err(|e| about(&path, e))?;
        file.commit().map_err(|e| SinkError::Write {
            path,
            reason: format!("cannot move the finished file into place: {e}"),
        })
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
            .ok_or_else(|| SinkError::Empty(self.path.clone()))?;
        let file = Pending::new(&self.path);
        image::save_buffer(
            &file.write_to,
            &f.data,
            f.width,
            f.height,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| err(e.to_string()))?;
        file.commit().map_err(|e| SinkError::Write {
            path: self.path.clone(),
            reason: format!("cannot move the finished file into place: {e}"),
        })
    }
}
