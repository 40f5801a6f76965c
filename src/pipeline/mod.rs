//! The engine behind `backdrop run`, `process` and `bench`: capture → segmentation →
//! composition/output, each on its own named thread, with one reload path and one failure path.
//!
//! ```text
//!  capture ──frames──▶ segment ──masks──▶ output ──▶ sink
//!     └─────────────frames──────────────────▲
//!  config-watch ──(validated config, prepared layers, loaded model)──▶ every stage
//! ```
//!
//! Two delivery policies share the stages: [`Delivery::Live`] (`run`) hands frames on latest-wins
//! so a slow stage skips frames instead of queueing them, repeats the last picture (then a
//! placeholder) when the camera stalls, and re-opens a lost camera or virtual camera;
//! [`Delivery::EveryFrame`] (`process`, `bench`) gives each frame its own mask, in order,
//! through bounded queues, so the output is deterministic. Whatever stage fails or panics, every
//! stage stops and [`run`] returns the error: never a hang, never a frozen picture.

mod capture;
mod masks;
mod output;
pub mod reload;
mod slots;

pub use reload::{load_config, load_with, watch_file, Overrides};
pub use slots::{Latest, Stamped};

use crate::compose::{ComposeError, Compositor};
use crate::config::{Config, ConfigError};
use crate::frame::{Mask, RgbFrame};
use crate::segment::{Masker, SegmentError};
use crate::sink::{Sink, SinkError};
use crate::source::{Source, SourceError, SourceInfo};
use crate::stats::Stats;
use reload::ConfigCell;
use slots::lock;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Errors of a pipeline run, by stage; each names the file, device or option and the fix.
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
    /// An option of the run is out of range.
    #[error("{0}")]
    Options(String),
    /// A stage thread panicked (a bug): every stage was stopped.
    #[error("the {stage} thread failed unexpectedly ({message}); all stages were stopped. Please report this with the log above")]
    Panicked {
        /// The thread's name.
        stage: &'static str,
        /// The panic message.
        message: String,
    },
}

/// How frames travel between the stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// `run`: latest wins, the output keeps its rate with repeats and a placeholder, lost
    /// devices are re-opened.
    Live,
    /// `process`, `bench`: every frame gets its own mask and is written, in order.
    EveryFrame,
}

/// Called after each written frame with the number written so far and the number expected,
/// when known (a progress bar).
pub type Progress = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// Opens the source for a config (at start, and in live runs when capture options change).
pub type OpenSource = Box<dyn FnMut(&Config) -> Result<Box<dyn Source>, SourceError> + Send>;
/// Opens the sink for a config and the source's size (at start, and in live runs when output
/// options change or the device was lost).
pub type OpenSink = Box<dyn FnMut(&Config, SourceInfo) -> Result<Box<dyn Sink>, SinkError> + Send>;

/// Options of a run.
pub struct Options {
    /// How frames travel.
    pub delivery: Delivery,
    /// The config file to watch (hot reload); `None` for the built-in default.
    pub config_path: Option<PathBuf>,
    /// Applied to every loaded config.
    pub overrides: Option<Overrides>,
    /// Set to stop (Ctrl-C, SIGTERM); every stage stops soon after.
    pub stop: Arc<AtomicBool>,
    /// Stop after this many frames (live: frames written, repeats included; every frame: frames
    /// read).
    pub max_frames: Option<u64>,
    /// Read the source at this rate (a replayed clip, `process --realtime`); cameras pace
    /// themselves.
    pub pace: Option<f64>,
    /// Live: seconds without camera frames before the placeholder replaces the last frame.
    pub placeholder_after: Duration,
    /// How long composition waits for a streamed background video's next frame (live: short,
    /// the call must not stall; offline: long, so the output does not depend on timing).
    pub stream_wait: Duration,
    /// Progress callback.
    pub progress: Option<Progress>,
}

impl Options {
    /// Defaults for a delivery policy.
    pub fn new(delivery: Delivery, config_path: Option<PathBuf>) -> Self {
        Options {
            delivery,
            config_path,
            overrides: None,
            stop: Arc::new(AtomicBool::new(false)),
            max_frames: None,
            pace: None,
            placeholder_after: Duration::from_secs(2),
            stream_wait: match delivery {
                Delivery::Live => Duration::from_millis(100),
                Delivery::EveryFrame => Duration::from_secs(10),
            },
            progress: None,
        }
    }
}

/// What a run did and measured.
pub struct Report {
    /// Per-stage samples.
    pub stats: Arc<Stats>,
    /// Frames written to the sink (live: repeats while the camera stalled included).
    pub frames_out: u64,
    /// Fresh frames composed and written.
    pub frames_composed: u64,
    /// Masks computed.
    pub masks: u64,
    /// Frames captured.
    pub frames_in: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Process CPU time over the run.
    pub cpu: Duration,
    /// Engine in use and why.
    pub engine: String,
    /// Model in use at the start (name and input size).
    pub model: String,
    /// Output frame numbers from which a reloaded config applied.
    pub reloads: Vec<u64>,
}

/// State the stage threads share.
pub(crate) struct Shared {
    stop: Arc<AtomicBool>,
    /// The first failure; set once, it stops every stage.
    failure: Mutex<Option<PipelineError>>,
    failed: AtomicBool,
    config: Arc<ConfigCell>,
    stats: Arc<Stats>,
    frames_in: AtomicU64,
    masks_done: AtomicU64,
    start: Instant,
    /// Live, `on_demand`: no app reads the output, so capture is paused (camera closed) and
    /// segmentation and composition have nothing to do.
    idle: AtomicBool,
    idle_lock: Mutex<bool>,
    idle_cv: std::sync::Condvar,
    /// Live hand-offs: camera frames are shared, not copied, by segmentation and output.
    to_segment: Latest<Stamped<Arc<RgbFrame>>>,
    to_output: Latest<Stamped<Arc<RgbFrame>>>,
    masks: Latest<Stamped<Mask>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Records a failure (the first one wins) and stops every stage.
    fn fail(&self, e: PipelineError) {
        {
            let mut f = lock(&self.failure);
            if f.is_none() {
                *f = Some(e);
            }
        }
        self.failed.store(true, Ordering::Relaxed);
        self.shutdown();
    }

    /// Stops every stage and wakes the ones waiting.
    fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.idle_cv.notify_all();
        self.to_segment.wake();
        self.to_output.wake();
        self.masks.wake();
    }

    /// Marks the pipeline idle or active (on demand); waking wakes the capture stage at once.
    fn set_idle(&self, idle: bool) {
        *lock(&self.idle_lock) = idle;
        self.idle.store(idle, Ordering::Relaxed);
        self.idle_cv.notify_all();
    }

    /// Blocks while the pipeline is idle (and not stopping): no periodic wake-ups.
    fn wait_active(&self) {
        let g = lock(&self.idle_lock);
        let _ = self
            .idle_cv
            .wait_timeout_while(g, Duration::from_secs(5), |idle| *idle && !self.stopped());
    }

    /// Sleeps up to `d`, waking early when the run stops.
    fn sleep(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopped() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // 100 ms steps: an idle pipeline wakes a few times a second, not fifty.
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}

/// Held by each stage thread: when the stage panics, it stops every other stage at once (the
/// panic message is collected when the thread is joined).
struct StageGuard<'a> {
    shared: &'a Shared,
    stage: &'static str,
}

impl Drop for StageGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.shared.fail(PipelineError::Panicked {
                stage: self.stage,
                message: String::new(),
            });
        }
    }
}

/// Runs a stage's body on this thread, turning its error into the run's failure.
fn stage<E: Into<PipelineError>>(
    shared: &Shared,
    name: &'static str,
    body: impl FnOnce() -> Result<(), E>,
) {
    let _guard = StageGuard {
        shared,
        stage: name,
    };
    if let Err(e) = body() {
        shared.fail(e.into());
    }
}

/// A stage body, run on its own thread.
type Body<'a> = Box<dyn FnOnce() + Send + 'a>;

/// Starts a named stage thread; a failure to start fails the run.
fn spawn_stage<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    shared: &Shared,
    name: &'static str,
    body: Body<'scope>,
) -> Option<(&'static str, std::thread::ScopedJoinHandle<'scope, ()>)> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn_scoped(s, body)
        .map_err(|e| {
            shared.fail(PipelineError::Panicked {
                stage: name,
                message: format!("cannot start the thread: {e}"),
            })
        })
        .ok()
        .map(|h| (name, h))
}

/// The text of a panic payload.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// Logs a recurring problem at most once per `every`, counting the rest.
pub(crate) struct RateLimited {
    last: Option<Instant>,
    every: Duration,
    suppressed: u64,
}

impl RateLimited {
    pub(crate) fn new(every: Duration) -> Self {
        RateLimited {
            last: None,
            every,
            suppressed: 0,
        }
    }

    pub(crate) fn warn(&mut self, msg: impl std::fmt::Display) {
        if self.last.is_none_or(|t| t.elapsed() >= self.every) {
            if self.suppressed > 0 {
                tracing::warn!("{msg} ({} similar messages suppressed)", self.suppressed);
            } else {
                tracing::warn!("{msg}");
            }
            self.last = Some(Instant::now());
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
    }
}

/// Runs the pipeline until the source ends (every frame), `opts.stop` is set, `max_frames` is
/// reached, or a stage fails. Start-up problems (input, model, layers, output) are returned
/// before any thread starts; afterwards live runs survive lost devices, and any other failure
/// or panic stops every stage and is returned.
pub fn run(
    mut cfg: Config,
    opts: Options,
    mut open_source: OpenSource,
    mut open_sink: OpenSink,
) -> Result<Report, PipelineError> {
    if let Some(o) = &opts.overrides {
        o(&mut cfg);
    }
    let source = open_source(&cfg)?;
    let info = source.info();
    let (masker, why) = Masker::new(&cfg, info.width, info.height)?;
    let model = masker.segmenter().model();
    let model = format!("{} ({}x{})", model.name, model.width, model.height);
    tracing::info!(
        "input {}x{} at {:.0} fps; model {model}, engine {why}",
        info.width,
        info.height,
        info.fps,
    );
    let media = crate::media::MediaOptions {
        stream_wait: opts.stream_wait,
        ..crate::media::MediaOptions::from_env().map_err(|e| ComposeError::Budget(Box::new(e)))?
    };
    let compositor = Compositor::with_options(&cfg.layers, info.width, info.height, media)?;
    let sink = open_sink(&cfg, info)?;
    let shared = Shared {
        stop: opts.stop.clone(),
        failure: Mutex::new(None),
        failed: AtomicBool::new(false),
        config: Arc::new(ConfigCell::new(cfg)),
        stats: Arc::new(Stats::default()),
        frames_in: AtomicU64::new(0),
        masks_done: AtomicU64::new(0),
        start: Instant::now(),
        idle: AtomicBool::new(false),
        idle_lock: Mutex::new(false),
        idle_cv: std::sync::Condvar::new(),
        to_segment: Latest::default(),
        to_output: Latest::default(),
        masks: Latest::default(),
    };
    // A single picture is done before any edit could land: no watcher.
    let _watcher = opts
        .config_path
        .clone()
        .filter(|_| info.frames != Some(1))
        .and_then(|file| {
            reload::watch_config(
                reload::Watch {
                    file,
                    overrides: opts.overrides.clone(),
                    plan: compositor.plan(),
                    size: (info.width, info.height),
                    stop: opts.stop.clone(),
                },
                shared.config.clone(),
            )
        });
    let mut report = Report {
        stats: shared.stats.clone(),
        frames_out: 0,
        frames_composed: 0,
        masks: 0,
        frames_in: 0,
        elapsed: Duration::ZERO,
        cpu: Duration::ZERO,
        engine: why,
        model,
        reloads: vec![],
    };
    let cpu0 = crate::stats::process_cpu();
    let mut out = output::Output::new(compositor, sink, info, &opts, &shared);
    let seg = masks::Segment::new(masker, &shared);
    let cap = capture::Capture::new(source, &opts, &shared);
    std::thread::scope(|s| {
        let sh = &shared;
        let spawn = |name, body| spawn_stage(s, sh, name, body);
        let (report, out) = (&mut report, &mut out);
        let handles = match opts.delivery {
            Delivery::Live => [
                spawn(
                    "capture",
                    Box::new(move || stage(sh, "capture", || cap.run_live(sh, open_source))),
                ),
                spawn(
                    "segment",
                    Box::new(move || stage(sh, "segment", || seg.run_live(sh))),
                ),
                spawn(
                    "output",
                    Box::new(move || {
                        stage(sh, "output", || out.run_live(sh, open_sink, report));
                        // The output is the run: once it ends, nothing else has to go on.
                        sh.shutdown();
                    }),
                ),
            ],
            Delivery::EveryFrame => {
                // Small bounded queues: stages overlap, memory stays flat, nothing is dropped.
                let (frames_tx, frames_rx) = std::sync::mpsc::sync_channel(2);
                let (masks_tx, masks_rx) = std::sync::mpsc::sync_channel(2);
                let (spare_tx, spare_rx) = std::sync::mpsc::channel();
                [
                    spawn(
                        "capture",
                        Box::new(move || stage(sh, "capture", || cap.run_every(sh, frames_tx))),
                    ),
                    spawn(
                        "segment",
                        Box::new(move || {
                            stage(sh, "segment", || {
                                seg.run_every(sh, frames_rx, masks_tx, spare_rx)
                            })
                        }),
                    ),
                    spawn(
                        "output",
                        Box::new(move || {
                            stage(sh, "output", || {
                                out.run_every(sh, masks_rx, spare_tx, report)
                            })
                        }),
                    ),
                ]
            }
        };
        for (name, h) in handles.into_iter().flatten() {
            if let Err(p) = h.join() {
                let message = panic_message(&*p);
                let mut f = lock(&shared.failure);
                match &mut *f {
                    Some(PipelineError::Panicked { stage, message: m }) if *stage == name => {
                        *m = message
                    }
                    None => {
                        *f = Some(PipelineError::Panicked {
                            stage: name,
                            message,
                        })
                    }
                    Some(_) => {}
                }
            }
        }
    });
    report.elapsed = shared.start.elapsed();
    report.cpu = crate::stats::process_cpu().saturating_sub(cpu0);
    report.frames_in = shared.frames_in.load(Ordering::Relaxed);
    report.masks = shared.masks_done.load(Ordering::Relaxed);
    match shared
        .failure
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
