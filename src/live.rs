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

use crate::compose::{mask_to_rgb, Compositor, FrameCtx};
use crate::config::Config;
use crate::frame::Mask;
use crate::segment::refine::{MaskRefiner, RefineParams};
use crate::segment::Segmenter;
use crate::stats::{Probe, Stats};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// A latest-wins hand-off between two threads: publishing replaces what was not yet taken, so
/// nothing queues up behind a slow consumer. Buffers are swapped, never allocated.
pub struct Latest<T> {
    inner: Mutex<(T, u64)>,
    cv: Condvar,
}

impl<T: Default + Clone> Default for Latest<T> {
    fn default() -> Self {
        Latest {
            inner: Mutex::new((T::default(), 0)),
            cv: Condvar::new(),
        }
    }
}

impl<T: Default + Clone> Latest<T> {
    /// Publishes `buf` (swapped in; `buf` gets back an old buffer to reuse).
    pub fn publish(&self, buf: &mut T) {
        let mut g = self.inner.lock().expect("slot lock");
        std::mem::swap(&mut g.0, buf);
        g.1 += 1;
        self.cv.notify_all();
    }

    /// Publishes a copy of `value` (reusing the slot's allocation).
    pub fn publish_copy(&self, value: &T) {
        let mut g = self.inner.lock().expect("slot lock");
        g.0.clone_from(value);
        g.1 += 1;
        self.cv.notify_all();
    }

    /// Takes the newest value if it is newer than `*seen` (waiting up to `timeout`), swapping
    /// it with `buf`. Returns whether `buf` now holds a new value.
    pub fn take(&self, buf: &mut T, seen: &mut u64, timeout: Duration) -> bool {
        let g = self.inner.lock().expect("slot lock");
        let (mut g, _) = self
            .cv
            .wait_timeout_while(g, timeout, |v| v.1 == *seen)
            .expect("slot lock");
        if g.1 == *seen {
            return false;
        }
        std::mem::swap(&mut g.0, buf);
        *seen = g.1;
        true
    }

    /// Wakes waiters (used at shutdown).
    pub fn wake(&self) {
        self.cv.notify_all();
    }
}

/// A frame with its sequence number and capture time.
#[derive(Debug, Clone, Default)]
pub struct Stamped<T> {
    /// The payload.
    pub value: T,
    /// Capture sequence number (the mask carries its frame's number).
    pub seq: u64,
    /// When the frame was captured.
    pub captured: Option<Instant>,
}

/// Makes the live source for a config (called at start and when capture options change).
pub type SourceFactory = Box<dyn FnMut(&Config) -> Result<Box<dyn LiveSource>, LiveError> + Send>;
/// Makes the sink for a config and the camera's mode.
pub type SinkFactory =
    Box<dyn FnMut(&Config, LiveMode) -> Result<Box<dyn LiveSink>, LiveError> + Send>;
/// CLI overrides re-applied after every reload.
pub type Overrides = Arc<dyn Fn(&mut Config) + Send + Sync>;

/// Options of a live run.
pub struct LiveOptions {
    /// The config file to watch (hot reload); `None` for the built-in default.
    pub config_path: Option<PathBuf>,
    /// Set to stop (Ctrl-C, SIGTERM, end of a bench).
    pub stop: Arc<AtomicBool>,
    /// Stop after this many output frames.
    pub max_frames: Option<u64>,
    /// Live mode: output paced at `fps`, repeating the last frame (then a placeholder) when the
    /// camera stalls. Off for an unpaced bench, where output follows the input as fast as it can.
    pub keep_alive: bool,
    /// Pace the source to this rate (bench replay); `None` for cameras, which pace themselves.
    pub source_fps: Option<f64>,
    /// Applied to every loaded config.
    pub overrides: Option<Overrides>,
    /// Seconds without camera frames before the placeholder replaces the last frame.
    pub placeholder_after: Duration,
    /// Bench throughput mode: capture waits until output took the previous frame, so no
    /// frame is decoded only to be dropped.
    pub lockstep: bool,
}

impl LiveOptions {
    /// Defaults for `backdrop run`.
    pub fn new(config_path: Option<PathBuf>, stop: Arc<AtomicBool>) -> Self {
        LiveOptions {
            config_path,
            stop,
            max_frames: None,
            keep_alive: true,
            source_fps: None,
            overrides: None,
            placeholder_after: Duration::from_secs(2),
            lockstep: false,
        }
    }
}

/// What a live run measured.
pub struct LiveReport {
    /// Per-stage samples.
    pub stats: Arc<Stats>,
    /// Frames written to the sink (including repeats while the camera stalled).
    pub frames_out: u64,
    /// Fresh camera frames composed and written.
    pub frames_composed: u64,
    /// Masks computed.
    pub masks: u64,
    /// Camera frames captured.
    pub frames_in: u64,
    /// Wall time of the measured run.
    pub elapsed: Duration,
    /// Process CPU time over the run.
    pub cpu: Duration,
    /// Engine in use and why.
    pub engine: String,
    /// Model in use at the start (name and input size).
    pub model: String,
}

struct Shared {
    stop: Arc<AtomicBool>,
    config: Mutex<(Arc<Config>, u64)>,
    /// Camera frames are shared, not copied, between the segmentation and output threads.
    to_segment: Latest<Stamped<Arc<RgbFrame>>>,
    to_output: Latest<Stamped<Arc<RgbFrame>>>,
    masks: Latest<Stamped<Mask>>,
    stats: Arc<Stats>,
    frames_in: AtomicU64,
    masks_done: AtomicU64,
    /// Sequence number of the newest frame the output thread took.
    taken: AtomicU64,
    /// Layers built by the config watcher, for the output thread to install.
    layers: Mutex<Option<crate::compose::Prepared>>,
}

impl Shared {
    fn config(&self) -> (Arc<Config>, u64) {
        let g = self.config.lock().expect("config lock");
        (g.0.clone(), g.1)
    }
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Loads a config file (or the default) and applies the overrides.
pub fn load_with(
    path: Option<&Path>,
    overrides: Option<&Overrides>,
) -> Result<Config, crate::config::ConfigError> {
    let mut cfg = crate::pipeline::load_config(path)?;
    if let Some(o) = overrides {
        o(&mut cfg);
    }
    Ok(cfg)
}

/// Watches the config file's folder (editors save by rename) and publishes each valid change;
/// an invalid one is logged with its line and the last good config stays.
fn watch_config(
    path: &Path,
    shared: Arc<Shared>,
    overrides: Option<Overrides>,
    mut plan: crate::compose::Plan,
    mode: LiveMode,
) -> Option<notify::RecommendedWatcher> {
    let file = path.to_owned();
    crate::pipeline::watch_file(path, move || {
        if shared.stopped() {
            return;
        }
        // An editor that truncates then writes can be caught in between: an empty file is a
        // save in progress (its completion is another change), not a wish for all defaults.
        if std::fs::metadata(&file).is_ok_and(|m| m.len() == 0) {
            return;
        }
        let cfg = match load_with(Some(&file), overrides.as_ref()) {
            Ok(c) => c,
            Err(e) => return tracing::error!("{e}; keeping the last good configuration"),
        };
        if *shared.config().0 == cfg {
            return;
        }
        // Changed layers (pictures, videos) are built here, off the frame loop; the output
        // thread only swaps them in, so a reload never stalls the virtual camera.
        if cfg.layers != plan.specs() {
            match plan.prepare(&cfg.layers, mode.width, mode.height) {
                Ok(p) => {
                    plan = p.plan().clone();
                    *shared.layers.lock().expect("layers lock") = Some(p);
                }
                Err(e) => {
                    return tracing::error!(
                        "{}: {e}; keeping the last good configuration",
                        file.display()
                    )
                }
            }
        }
        let mut g = shared.config.lock().expect("config lock");
        g.0 = Arc::new(cfg);
        g.1 += 1;
        tracing::info!("{}: reloaded", file.display());
    })
}

/// Logs an error at most once per `every`, counting the rest.
struct RateLimited {
    last: Option<Instant>,
    every: Duration,
    suppressed: u64,
}

impl RateLimited {
    fn new(every: Duration) -> Self {
        RateLimited {
            last: None,
            every,
            suppressed: 0,
        }
    }
    fn warn(&mut self, msg: impl std::fmt::Display) {
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

fn capture_thread(
    shared: &Shared,
    mut source: Box<dyn LiveSource>,
    mut make_source: SourceFactory,
    source_fps: Option<f64>,
    lockstep: bool,
) -> Result<(), LiveError> {
    let (mut cfg, mut ver) = shared.config();
    // Frame buffers, each shared with the other threads while they use it; one nobody else
    // holds is decoded into again (a handful exist at any time: no per-frame allocation).
    let mut pool: Vec<Arc<RgbFrame>> = Vec::new();
    let empty: Arc<RgbFrame> = Arc::default();
    let mut buf: Stamped<Arc<RgbFrame>> = Stamped::default();
    let mut seq = 0u64;
    let mut log = RateLimited::new(Duration::from_secs(5));
    let mut next_tick = Instant::now();
    let mut lost = false;
    while !shared.stopped() {
        let (c, v) = shared.config();
        if v != ver {
            let restart = cfg.capture_changed(&c);
            (cfg, ver) = (c, v);
            if restart {
                tracing::info!(
                    "capture options changed: re-opening {}",
                    cfg.real_video_device
                );
                match make_source(&cfg) {
                    Ok(s) => source = s,
                    Err(e) => log.warn(format!("cannot open the camera with the new settings: {e}; keeping the current one")),
                }
            }
        }
        if lost {
            match source.reopen() {
                Ok(()) => {
                    tracing::info!("camera {} is back", cfg.real_video_device);
                    lost = false;
                }
                Err(e) => {
                    log.warn(format!(
                        "camera {} unavailable: {e}; retrying",
                        cfg.real_video_device
                    ));
                    sleep_unless_stopped(shared, Duration::from_millis(500));
                    continue;
                }
            }
        }
        while lockstep && shared.taken.load(Ordering::Acquire) < seq && !shared.stopped() {
            std::thread::sleep(Duration::from_micros(200));
        }
        if let Some(fps) = source_fps {
            let now = Instant::now();
            if next_tick > now {
                std::thread::sleep(next_tick - now);
            }
            next_tick = next_tick.max(now) + Duration::from_secs_f64(1.0 / fps);
        }
        let slot = match pool.iter().position(|f| Arc::strong_count(f) == 1) {
            Some(i) => i,
            None => {
                pool.push(Arc::default());
                pool.len() - 1
            }
        };
        let probe = Probe::start();
        let frame = Arc::get_mut(&mut pool[slot]).expect("a buffer no other thread holds");
        match source.read(frame, Duration::from_millis(200)) {
            Ok(Read::Frame) => {
                shared.stats.record("capture+decode", probe.ms());
                seq += 1;
                buf.value = pool[slot].clone();
                buf.seq = seq;
                buf.captured = Some(Instant::now());
                shared.frames_in.fetch_add(1, Ordering::Relaxed);
                shared.to_segment.publish_copy(&buf);
                shared.to_output.publish(&mut buf);
                buf.value = empty.clone(); // hold no frame while waiting for the next
            }
            Ok(Read::Timeout) => {}
            Err(LiveError::Lost(e)) => {
                log.warn(format!(
                    "camera {} lost: {e}; keeping the virtual camera alive and retrying",
                    cfg.real_video_device
                ));
                lost = true;
            }
            Err(e @ LiveError::Fatal(_)) => return Err(e),
        }
    }
    Ok(())
}

fn sleep_unless_stopped(shared: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while !shared.stopped() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn segment_thread(shared: &Shared, mut seg: Segmenter) {
    let (mut cfg, mut ver) = shared.config();
    let mut params = RefineParams::from_config(&cfg);
    let mut refiner = MaskRefiner::new();
    let mut frame: Stamped<Arc<RgbFrame>> = Stamped::default();
    let mut mask: Stamped<Mask> = Stamped::default();
    let mut seen = 0;
    let mut last_start: Option<Instant> = None;
    let mut log = RateLimited::new(Duration::from_secs(5));
    // The model options changed: load the new model with the next frame (its size decides
    // `model: auto`).
    let mut reload = false;
    while !shared.stopped() {
        let (c, v) = shared.config();
        if v != ver {
            reload |= cfg.model_changed(&c);
            params = RefineParams::from_config(&c);
            (cfg, ver) = (c, v);
        }
        if let (Some(fps), Some(t)) = (cfg.mask_fps, last_start) {
            let due = t + Duration::from_secs_f64(1.0 / fps as f64);
            if due > Instant::now() {
                std::thread::sleep(due - Instant::now());
            }
        }
        if !shared
            .to_segment
            .take(&mut frame, &mut seen, Duration::from_millis(100))
        {
            continue;
        }
        let (fw, fh) = (frame.value.width, frame.value.height);
        // Or `model: auto` and the camera's shape changed: the model for the new shape.
        let auto = crate::segment::auto_model_differs(&cfg, &seg.model().name, fw, fh);
        if std::mem::take(&mut reload) || auto {
            match Segmenter::for_frames(&cfg, Some((fw, fh))) {
                Ok((s, why)) => {
                    tracing::info!(
                        "model {} loaded for {fw}x{fh} frames, engine {why}",
                        s.model().name
                    );
                    seg = s;
                    refiner.reset();
                }
                // Retried with every frame while the shape wants another model: rate-limited.
                Err(e) if auto => log.warn(format!("{e}; keeping model {}", seg.model().name)),
                Err(e) => tracing::error!("{e}; keeping model {}", seg.model().name),
            }
        }
        last_start = Some(Instant::now());
        let (mw, mh) = (seg.model().width, seg.model().height);
        let probs = match seg.segment(&frame.value) {
            Ok(p) => p,
            Err(e) => {
                log.warn(e);
                continue;
            }
        };
        let probe = Probe::start();
        mask.value.reshape(frame.value.width, frame.value.height);
        refiner.refine_guided(probs, mw, mh, &frame.value, &params, &mut mask.value);
        shared.stats.record("mask refinement", probe.ms());
        shared.stats.record("resize", seg.last_timing.resize);
        shared.stats.record("inference", seg.last_timing.infer);
        mask.seq = frame.seq;
        mask.captured = frame.captured;
        shared.masks_done.fetch_add(1, Ordering::Relaxed);
        shared.masks.publish(&mut mask);
    }
}

/// Darkened grey copy of the last frame, shown while the camera is gone.
fn placeholder(last: &RgbFrame, out: &mut RgbFrame) {
    out.reshape(last.width, last.height);
    for (d, s) in out.data.chunks_exact_mut(3).zip(last.data.chunks_exact(3)) {
        let l = ((s[0] as u32 * 77 + s[1] as u32 * 150 + s[2] as u32 * 29) >> 9) as u8;
        d.fill(l / 2 + 20);
    }
}

/// Runs capture → segmentation → composition → sink until `opts.stop` is set (or
/// `max_frames`). Start-up problems (camera, model, layers, virtual camera) are returned as
/// errors before any thread starts; afterwards failures are logged, retried and survived.
pub fn run_live(
    mut cfg: Config,
    opts: LiveOptions,
    mut make_source: SourceFactory,
    mut make_sink: SinkFactory,
) -> Result<LiveReport, LiveError> {
    if let Some(o) = &opts.overrides {
        o(&mut cfg);
    }
    let fatal = |e: &dyn std::fmt::Display| LiveError::Fatal(e.to_string());
    let source = make_source(&cfg)?;
    let mode = source.mode();
    let (seg, why) =
        Segmenter::for_frames(&cfg, Some((mode.width, mode.height))).map_err(|e| fatal(&e))?;
    tracing::info!(
        "camera {}x{} at {:.0} fps; model {} ({}x{}), engine {why}",
        mode.width,
        mode.height,
        mode.fps,
        seg.model().name,
        seg.model().width,
        seg.model().height
    );
    let mut compositor =
        Compositor::new(&cfg.layers, mode.width, mode.height).map_err(|e| fatal(&e))?;
    let sink = make_sink(&cfg, mode)?;
    let stats = Arc::new(Stats::default());
    let shared = Arc::new(Shared {
        stop: opts.stop.clone(),
        config: Mutex::new((Arc::new(cfg.clone()), 0)),
        to_segment: Latest::default(),
        to_output: Latest::default(),
        masks: Latest::default(),
        stats: stats.clone(),
        frames_in: AtomicU64::new(0),
        masks_done: AtomicU64::new(0),
        taken: AtomicU64::new(0),
        layers: Mutex::new(None),
    });
    let _watcher = opts.config_path.as_deref().and_then(|p| {
        watch_config(
            p,
            shared.clone(),
            opts.overrides.clone(),
            compositor.plan(),
            mode,
        )
    });
    let mut report = LiveReport {
        stats,
        frames_out: 0,
        frames_composed: 0,
        masks: 0,
        frames_in: 0,
        elapsed: Duration::ZERO,
        cpu: Duration::ZERO,
        engine: why,
        model: format!(
            "{} ({}x{})",
            seg.model().name,
            seg.model().width,
            seg.model().height
        ),
    };
    let t0 = Instant::now();
    let cpu0 = crate::stats::process_cpu();
    let result = std::thread::scope(|s| -> Result<(), LiveError> {
        let cap = std::thread::Builder::new()
            .name("capture".into())
            .spawn_scoped(s, || {
                let r =
                    capture_thread(&shared, source, make_source, opts.source_fps, opts.lockstep);
                if r.is_err() {
                    shared.stop.store(true, Ordering::Relaxed);
                }
                r
            })
            .expect("spawn capture thread");
        std::thread::Builder::new()
            .name("segment".into())
            .spawn_scoped(s, || segment_thread(&shared, seg))
            .expect("spawn segmentation thread");
        let out = output_loop(
            &shared,
            &opts,
            &mut compositor,
            sink,
            &mut make_sink,
            mode,
            &mut report,
        );
        shared.stop.store(true, Ordering::Relaxed);
        shared.to_segment.wake();
        shared.masks.wake();
        let cap = cap
            .join()
            .unwrap_or_else(|_| Err(LiveError::Fatal("capture thread panicked".into())));
        out.and(cap)
    });
    report.elapsed = t0.elapsed();
    report.cpu = crate::stats::process_cpu().saturating_sub(cpu0);
    report.frames_in = shared.frames_in.load(Ordering::Relaxed);
    report.masks = shared.masks_done.load(Ordering::Relaxed);
    result.map(|()| report)
}

/// Stands in for the virtual camera between closing it and opening it again.
struct Closed;

impl LiveSink for Closed {
    fn write(&mut self, _: &RgbFrame) -> Result<(), LiveError> {
        Err(LiveError::Lost("the virtual camera is closed".into()))
    }
}

#[allow(clippy::too_many_arguments)]
fn output_loop(
    shared: &Shared,
    opts: &LiveOptions,
    compositor: &mut Compositor,
    mut sink: Box<dyn LiveSink>,
    make_sink: &mut SinkFactory,
    mode: LiveMode,
    report: &mut LiveReport,
) -> Result<(), LiveError> {
    let (mut cfg, mut ver) = shared.config();
    let mut frame: Stamped<Arc<RgbFrame>> = Stamped::default();
    let mut mask: Stamped<Mask> = Stamped::default();
    let (mut seen_frame, mut seen_mask) = (0, 0);
    // The frame being composed, the last one written (repeated while the camera stalls), and
    // the placeholder.
    let mut out = RgbFrame::new(mode.width, mode.height);
    let mut shown = RgbFrame::new(mode.width, mode.height);
    let mut held = RgbFrame::default();
    // delay_video: recent frames by sequence number, to compose each with its own mask.
    let mut ring: Vec<Stamped<Arc<RgbFrame>>> = vec![Stamped::default(); 8];
    let mut last_fresh = Instant::now();
    let mut placeholder_on = false;
    let mut log = RateLimited::new(Duration::from_secs(5));
    let start = Instant::now();
    // Keep-alive pacing: a repeat is due two intervals after the last write while frames flow,
    // then every interval, on a fixed schedule so a stalled camera still yields `fps`.
    let mut last_write = Instant::now();
    let mut repeating = false;
    while !shared.stopped() && opts.max_frames.is_none_or(|m| report.frames_out < m) {
        if let Some(p) = shared.layers.lock().expect("layers lock").take() {
            compositor.install(p);
        }
        let (c, v) = shared.config();
        if v != ver {
            if cfg.output_changed(&c) {
                // Close first: v4l2loopback refuses a second producer (or a new format while
                // the old one streams).
                drop(std::mem::replace(&mut sink, Box::new(Closed)));
                match make_sink(&c, mode) {
                    Ok(s) => sink = s,
                    Err(e) => {
                        tracing::error!("cannot open the virtual camera with the new settings: {e}; keeping the old ones");
                        match make_sink(&cfg, mode) {
                            Ok(s) => sink = s,
                            Err(e) => log
                                .warn(format!("cannot re-open {}: {e}", cfg.virtual_video_device)),
                        }
                    }
                }
            }
            (cfg, ver) = (c, v);
        }
        let interval = Duration::from_secs_f64(1.0 / cfg.fps.max(1) as f64);
        let deadline = last_write + if repeating { interval } else { interval * 2 };
        let wait = if opts.keep_alive {
            deadline.saturating_duration_since(Instant::now())
        } else {
            Duration::from_millis(100)
        };
        let fresh = if cfg.delay_video {
            // Keep recent frames; compose the one the newest mask was computed from.
            while shared
                .to_output
                .take(&mut frame, &mut seen_frame, Duration::ZERO)
            {
                let slot = &mut ring[(frame.seq % 8) as usize];
                std::mem::swap(slot, &mut frame);
            }
            shared.masks.take(&mut mask, &mut seen_mask, wait) && {
                let slot = &mut ring[(mask.seq % 8) as usize];
                slot.seq == mask.seq && {
                    frame.clone_from(slot);
                    true
                }
            }
        } else {
            let got = shared.to_output.take(&mut frame, &mut seen_frame, wait);
            shared.taken.store(seen_frame, Ordering::Release);
            if got {
                shared.masks.take(&mut mask, &mut seen_mask, Duration::ZERO);
            }
            got
        };
        if fresh {
            last_fresh = Instant::now();
            placeholder_on = false;
            if mask.value.width != frame.value.width || mask.value.height != frame.value.height {
                // No mask for this size yet: treat everything as background until one arrives.
                mask.value.reshape(frame.value.width, frame.value.height);
                mask.value.data.fill(0);
            }
            let probe = Probe::start();
            if cfg.debug_show_mask {
                mask_to_rgb(&mask.value, &mut out);
            } else {
                let time = start.elapsed().as_secs_f64();
                let ctx = FrameCtx {
                    frame: &frame.value,
                    mask: &mask.value,
                    index: report.frames_composed,
                    time,
                };
                compositor.compose(&ctx, &mut out);
            }
            shared.stats.record("composition", probe.ms());
            report.frames_composed += 1;
        } else if !opts.keep_alive {
            continue;
        } else if last_fresh.elapsed() >= opts.placeholder_after && !placeholder_on {
            tracing::warn!(
                "no camera frames for {:.1} s: showing a placeholder",
                last_fresh.elapsed().as_secs_f64()
            );
            placeholder(&shown, &mut held);
            placeholder_on = true;
        }
        if fresh {
            last_write = Instant::now();
            repeating = false;
        } else {
            // Stay on the schedule unless we fell more than an interval behind it.
            let now = Instant::now();
            last_write = if now.saturating_duration_since(deadline) > interval {
                now
            } else {
                deadline
            };
            repeating = true;
        }
        let probe = Probe::start();
        let written = if fresh {
            &out
        } else if placeholder_on {
            &held
        } else {
            &shown
        };
        match sink.write(written) {
            Ok(()) => {
                shared.stats.record("convert+write", probe.ms());
                report.frames_out += 1;
                if fresh {
                    if let Some(t) = frame.captured {
                        shared
                            .stats
                            .record("latency", (t.elapsed().as_secs_f64() * 1e3, 0.0));
                    }
                }
            }
            Err(LiveError::Lost(e)) => {
                log.warn(format!(
                    "virtual camera {}: {e}; re-opening",
                    cfg.virtual_video_device
                ));
                drop(std::mem::replace(&mut sink, Box::new(Closed)));
                match make_sink(&cfg, mode) {
                    Ok(s) => sink = s,
                    Err(e) => log.warn(format!("cannot re-open {}: {e}", cfg.virtual_video_device)),
                }
            }
            Err(e) => return Err(e),
        }
        if fresh {
            std::mem::swap(&mut shown, &mut out);
        }
    }
    Ok(())
}
