//! The live pipeline behind `backdrop run` and `backdrop bench`: capture, segmentation and
//! composition/output on their own threads with latest-wins hand-off, paced output that never
//! stalls, camera retry, and config hot reload.

use crate::frame::RgbFrame;
use std::time::Duration;

/// Errors of a live source or sink; `Fatal` stops the run, `Lost` is retried.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The device went away or failed; the pipeline keeps the output alive and retries.
    #[error("{0}")]
    Lost(String),
    /// A configuration or start-up problem that retrying cannot fix.
    #[error("{0}")]
    Fatal(String),
}

/// Capture size and rate a live source delivers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveMode {
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
}

/// What one read of a live source gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// A new frame is in the buffer.
    Frame,
    /// No frame arrived within the timeout (the camera stalls); try again.
    Timeout,
}

/// A camera (or a replayed clip) delivering RGB frames.
pub trait LiveSource: Send {
    /// Current mode.
    fn mode(&self) -> LiveMode;
    /// Waits up to `timeout` for the next frame and decodes it into `out` (reshaped as needed).
    fn read(&mut self, out: &mut RgbFrame, timeout: Duration) -> Result<Read, LiveError>;
    /// Re-opens after a `Lost` error (called repeatedly, with a pause, until it succeeds).
    fn reopen(&mut self) -> Result<(), LiveError>;
    /// Stops streaming to save power while nobody watches (LED off); `read` restarts it.
    fn pause(&mut self) {}
}

/// The virtual camera (or a discarding bench sink).
pub trait LiveSink: Send {
    /// Writes one composed frame (converting it to the device's pixel format).
    fn write(&mut self, frame: &RgbFrame) -> Result<(), LiveError>;
    /// Whether any consumer has the device open; `None` when the device cannot tell.
    fn has_consumers(&mut self) -> Option<bool> {
        None
    }
}
