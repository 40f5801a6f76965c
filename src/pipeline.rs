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
    /// Pace the output at the input's frame rate, like a camera (demos of hot reload, tests).
    pub realtime: bool,
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
    /// Frames from which a reloaded config was applied.
    pub reloads: Vec<u64>,
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
        let (segmenter, why) = Segmenter::for_frames(cfg, Some((width, height)))?;
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
            .refine_guided(probs, mw, mh, frame, &self.params, &mut self.mask);
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

/// A change of config prepared off the frame loop, applied between two frames.
pub struct Reload {
    cfg: Config,
    segmenter: Option<(Segmenter, String)>,
    layers: Option<crate::compose::Prepared>,
}

impl FrameProcessor {
    /// The compositor's plan, to prepare layer changes on another thread.
    pub fn plan(&self) -> crate::compose::Plan {
        self.compositor.plan()
    }

    /// Applies a prepared reload: new layers and model swapped in, instant options set.
    pub fn install(&mut self, r: Reload) {
        if let Some(p) = r.layers {
            self.compositor.install(p);
        }
        if let Some((seg, why)) = r.segmenter {
            tracing::info!("model {} loaded, engine {why}", seg.model().name);
            self.segmenter = seg;
            self.refiner.reset();
        }
        self.params = RefineParams::from_config(&r.cfg);
        self.debug_mask = r.cfg.debug_show_mask;
    }
}

/// Watches a file for changes (through its folder, as editors save by renaming a new file over
/// the old one) and calls `on_change` on a dedicated thread after each burst of changes (50 ms
/// debounce). Watching stops when the returned watcher is dropped; `None` when the file cannot
/// be watched (a warning is logged).
pub fn watch_file(
    path: &Path,
    mut on_change: impl FnMut() + Send + 'static,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let dir = file
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let name = file.file_name().map(|n| n.to_owned());
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev {
            let relevant = !matches!(ev.kind, notify::EventKind::Access(_));
            if relevant && ev.paths.iter().any(|p| p.file_name() == name.as_deref()) {
                let _ = tx.send(());
            }
        }
    })
    .map_err(|e| tracing::warn!("cannot watch {} for changes: {e}", file.display()))
    .ok()?;
    if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
        tracing::warn!("cannot watch {} for changes: {e}", dir.display());
        return None;
    }
    std::thread::Builder::new()
        .name("config-watch".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                // Debounce: editors write in several steps.
                std::thread::sleep(std::time::Duration::from_millis(50));
                while rx.try_recv().is_ok() {}
                on_change();
            }
        })
        .map_err(|e| tracing::warn!("cannot watch {} for changes: {e}", file.display()))
        .ok()?;
    Some(watcher)
}

/// Hot reload for `process`: on each change of the config file, the new config is read and
/// validated, its new layers (and a new model, if `model`/`engine` changed) are built on the
/// watcher thread, and the result is sent to the frame loop, which swaps it in between two
/// frames. A file that fails to read, validate or build is reported and changes nothing.
fn watch_for_process(
    path: &Path,
    cfg: &Config,
    plan: crate::compose::Plan,
    width: u32,
    height: u32,
) -> (
    Option<notify::RecommendedWatcher>,
    std::sync::mpsc::Receiver<Reload>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut good = cfg.clone();
    let mut plan = plan;
    let file = path.to_owned();
    let watcher = watch_file(path, move || {
        // Editors that truncate then write can be caught in between: an empty file is a save
        // in progress (its completion is another change), not a wish for all defaults.
        if std::fs::metadata(&file).is_ok_and(|m| m.len() == 0) {
            tracing::debug!("{}: empty, waiting for the save to finish", file.display());
            return;
        }
        let new = match load_config(Some(&file)) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("{e}; keeping the last good configuration");
                return;
            }
        };
        if new == good {
            return;
        }
        let layers = if new.layers != plan.specs() {
            match plan.prepare(&new.layers, width, height) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(
                        "{}: {e}; keeping the last good configuration",
                        file.display()
                    );
                    return;
                }
            }
        } else {
            None
        };
        let segmenter = if good.model_changed(&new) {
            match Segmenter::for_frames(&new, Some((width, height))) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(
                        "{}: {e}; keeping the last good configuration",
                        file.display()
                    );
                    return;
                }
            }
        } else {
            None
        };
        if let Some(p) = &layers {
            plan = p.plan().clone();
        }
        tracing::info!(
            "{}: reloaded ({} layer(s) rebuilt{})",
            file.display(),
            layers.as_ref().map_or(0, |p| p.built()),
            if segmenter.is_some() {
                ", model reloaded"
            } else {
                ""
            }
        );
        good = new.clone();
        let _ = tx.send(Reload {
            cfg: new,
            segmenter,
            layers,
        });
    });
    (watcher, rx)
}

/// Runs the pipeline on a video or picture file and writes a video or picture. With a config
/// file and a video input, the config is watched and changes apply while it runs (SPEC §3).
pub fn process(
    input: &Path,
    output: &Path,
    opts: &ProcessOptions,
) -> Result<ProcessReport, PipelineError> {
    // Offline, a streamed background is waited for, so the output does not depend on timing.
    crate::compose::media::set_stream_wait(if opts.realtime {
        std::time::Duration::from_millis(100)
    } else {
        std::time::Duration::from_secs(10)
    });
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
    let (_watcher, reloads) = match &opts.config {
        Some(path) if total != Some(1) => {
            watch_for_process(path, &cfg, fp.plan(), info.width, info.height)
        }
        _ => (None, std::sync::mpsc::channel().1),
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
    let start = Instant::now();
    while opts.max_frames.is_none_or(|m| report.frames < m) && source.read(&mut frame)? {
        while let Ok(r) = reloads.try_recv() {
            fp.install(r);
            report.reloads.push(report.frames);
            tracing::info!("config change applied from frame {}", report.frames);
        }
        let t0 = Instant::now();
        let time = report.frames as f64 / info.fps;
        fp.process(&frame, report.frames, time, &mut out)?;
        report.frame_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        if opts.realtime {
            let due = start + std::time::Duration::from_secs_f64(time);
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
        }
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
