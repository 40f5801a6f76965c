//! Running the stages together: `process` (file → file).

use crate::compose::{mask_to_rgb, ComposeError, Compositor, FrameCtx};
use crate::config::{Config, ConfigError};
use crate::frame::{Mask, RgbFrame};
use crate::segment::refine::{MaskRefiner, RefineParams};
use crate::segment::{SegmentError, Segmenter};
use crate::sink::SinkError;
use crate::source::SourceError;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors of a pipeline run, by stage.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The input cannot be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The model cannot be loaded or run.
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// A layer cannot be built.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The output cannot be written.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Options of `process`.
#[derive(Debug, Clone, Default)]
pub struct ProcessOptions {
    /// The config file; `None` uses the built-in default (blurred background).
    pub config: Option<PathBuf>,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// What a `process` run did.
#[derive(Debug, Clone, Default)]
pub struct ProcessReport {
    /// Frames written.
    pub frames: u64,
    /// Engine used, and why.
    pub engine: String,
    /// Per-frame processing wall time (segment + refine + compose), ms.
    pub frame_ms: Vec<f64>,
}

/// Loads the config file, or the default one when none is given.
pub fn load_config(path: Option<&Path>) -> Result<Config, ConfigError> {
    match path {
        Some(p) => Config::load(p),
        None => Config::parse("", Path::new("<default>"), Path::new(".")),
    }
}

/// The per-frame work shared by every front end: segment, refine, compose.
pub struct FrameProcessor {
    /// The segmentation model and engine.
    pub segmenter: Segmenter,
    refiner: MaskRefiner,
    params: RefineParams,
    compositor: Compositor,
    debug_mask: bool,
    /// The latest full-resolution mask.
    pub mask: Mask,
}

impl FrameProcessor {
    /// Loads the model and builds the layers for frames of `width`x`height`.
    pub fn new(cfg: &Config, width: u32, height: u32) -> Result<(Self, String), PipelineError> {
        let (segmenter, why) = Segmenter::from_config(cfg)?;
        let compositor = Compositor::new(&cfg.layers, width, height)?;
        Ok((
            FrameProcessor {
                segmenter,
                refiner: MaskRefiner::new(),
                params: RefineParams::from_config(cfg),
                compositor,
                debug_mask: cfg.debug_show_mask,
                mask: Mask::new(width, height),
            },
            why,
        ))
    }

    /// Applies a new config's instant options and layers (the model stays as it is).
    pub fn apply(&mut self, cfg: &Config, width: u32, height: u32) -> Result<(), ComposeError> {
        self.compositor.update(&cfg.layers, width, height)?;
        self.params = RefineParams::from_config(cfg);
        self.debug_mask = cfg.debug_show_mask;
        Ok(())
    }

    /// Segments and composes one frame into `out`.
    pub fn process(
        &mut self,
        frame: &RgbFrame,
        index: u64,
        time: f64,
        out: &mut RgbFrame,
    ) -> Result<(), SegmentError> {
        let (mw, mh) = (self.segmenter.model().width, self.segmenter.model().height);
        let probs = self.segmenter.segment(frame)?;
        self.mask.reshape(frame.width, frame.height);
        self.refiner
            .refine(probs, mw, mh, &self.params, &mut self.mask);
        if self.debug_mask {
            mask_to_rgb(&self.mask, out);
        } else {
            self.compositor.compose(
                &FrameCtx {
                    frame,
                    mask: &self.mask,
                    index,
                    time,
                },
                out,
            );
        }
        Ok(())
    }
}

/// Runs the pipeline on a video or picture file and writes a video or picture.
pub fn process(
    input: &Path,
    output: &Path,
    opts: &ProcessOptions,
) -> Result<ProcessReport, PipelineError> {
    let mut source = crate::source::open_file(input)?;
    let cfg = load_config(opts.config.as_deref())?;
    let info = source.info();
    let (mut fp, why) = FrameProcessor::new(&cfg, info.width, info.height)?;
    tracing::info!(
        "model {} ({}x{}), engine {why}",
        fp.segmenter.model().name,
        fp.segmenter.model().width,
        fp.segmenter.model().height
    );
    let mut sink = crate::sink::open_file(output, info.width, info.height, info.fps)?;
    let total = match (info.frames, opts.max_frames) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let bar = if opts.progress && total != Some(1) {
        let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} frames [{bar:30}] {per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        Some(bar)
    } else {
        None
    };
    let mut report = ProcessReport {
        engine: why,
        ..Default::default()
    };
    let mut frame = RgbFrame::default();
    let mut out = RgbFrame::default();
    while opts.max_frames.is_none_or(|m| report.frames < m) && source.read(&mut frame)? {
        let t0 = Instant::now();
        let time = report.frames as f64 / info.fps;
        fp.process(&frame, report.frames, time, &mut out)?;
        report.frame_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        sink.write(&out)?;
        report.frames += 1;
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    sink.finish()?;
    Ok(report)
}
