//! `backdrop process`: a video or picture file through the pipeline into a video or picture
//! file, every frame in order (deterministic output). With a config file and a video input,
//! the config is watched and edits apply while it runs (SPEC §3).

use crate::pipeline::{Delivery, Options, PipelineError, Progress, Report};
use std::path::{Path, PathBuf};

/// Options of `process`.
#[derive(Clone, Default)]
pub struct ProcessOptions {
    /// The config file; `None` uses the built-in default (blurred background).
    pub config: Option<PathBuf>,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
    /// Called after each written frame with the count so far.
    pub progress: Option<Progress>,
    /// Pace the input at its frame rate, like a camera (demos of hot reload, tests).
    pub realtime: bool,
}

/// Runs the pipeline on a video or picture file and writes a video or picture.
pub fn process(input: &Path, output: &Path, o: &ProcessOptions) -> Result<Report, PipelineError> {
    // Refused before anything is loaded: writing the input over itself destroys it, and no frame
    // asked for writes no file.
    crate::sink::ensure_not_input(input, output)?;
    if o.max_frames == Some(0) {
        return Err(crate::sink::SinkError::Empty(output.to_owned()).into());
    }
    let cfg = crate::pipeline::load_config(o.config.as_deref())?;
    let source = crate::source::open_file(input)?;
    let info = source.info();
    let mut source = Some(source);
    let mut opts = Options::new(Delivery::EveryFrame, o.config.clone());
    opts.max_frames = o.max_frames;
    opts.progress = o.progress.clone();
    if o.realtime {
        opts.pace = Some(info.fps);
        // Paced like a camera: a streamed background that lags is skipped, as live.
        opts.stream_wait = std::time::Duration::from_millis(100);
    }
    let output = output.to_owned();
    crate::pipeline::run(
        cfg,
        opts,
        Box::new(move |_| Ok(source.take().expect("the input is opened once"))),
        Box::new(move |_, info| crate::sink::open_file(&output, info.width, info.height, info.fps)),
    )
}
