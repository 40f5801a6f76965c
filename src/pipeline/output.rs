//! The output stage: composes each frame with its mask (or shows the mask), writes it to the
//! sink, follows config reloads (prepared layers, a changed output device), and in live runs
//! keeps the virtual camera at its rate whatever the camera does.

use super::{Options, Progress, RateLimited, Report, Shared, Stamped};
use crate::compose::{mask_to_rgb, Compositor, FrameCtx};
use crate::config::Config;
use crate::frame::{Mask, RgbFrame};
use crate::sink::{Sink, SinkError};
use crate::source::SourceInfo;
use crate::stats::Probe;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) struct Output {
    compositor: Compositor,
    sink: Option<Box<dyn Sink>>,
    info: SourceInfo,
    cfg: Arc<Config>,
    version: u64,
    /// The frame being composed.
    out: RgbFrame,
    progress: Option<Progress>,
    placeholder_after: Duration,
    max_frames: Option<u64>,
    /// Frames expected (every frame, when the input says), for the progress callback.
    expected: Option<u64>,
}

impl Output {
    pub(super) fn new(
        compositor: Compositor,
        sink: Box<dyn Sink>,
        info: SourceInfo,
        opts: &Options,
        shared: &Shared,
    ) -> Self {
        let (cfg, version) = shared.config.current();
        Output {
            compositor,
            sink: Some(sink),
            info,
            cfg,
            version,
            out: RgbFrame::new(info.width, info.height),
            progress: opts.progress.clone(),
            placeholder_after: opts.placeholder_after,
            max_frames: opts.max_frames,
            expected: match (info.frames, opts.max_frames) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// Takes the config a frame was captured under, with the layers prepared for it.
    fn follow(&mut self, shared: &Shared, frame: &Stamped<Arc<RgbFrame>>, report: &mut Report) {
        if frame.version == self.version {
            return;
        }
        if let Some(p) = shared.config.take_layers(frame.version) {
            self.compositor.install(p);
        }
        report.reloads.push(report.frames_out);
        tracing::info!("config change applied from frame {}", report.frames_out);
        (self.cfg, self.version) = (frame.config.clone(), frame.version);
    }

    /// Every frame, in order, composed with its own mask; the sink is finished at the end
    /// (unless another stage failed: a partial file is not completed).
    pub(super) fn run_every(
        &mut self,
        shared: &Shared,
        masks: Receiver<(Stamped<Arc<RgbFrame>>, Stamped<Mask>)>,
        spare: Sender<Stamped<Mask>>,
        report: &mut Report,
    ) -> Result<(), SinkError> {
        let mut sink = self.sink.take().expect("the sink is set at start");
        while let Ok((frame, mask)) = masks.recv() {
            self.follow(shared, &frame, report);
            self.compose(shared, &frame, &mask.value, report.frames_composed);
            let probe = Probe::start();
            sink.write(&self.out)?;
            shared.stats.record("convert+write", probe.ms());
            if let Some(t) = frame.captured {
                shared
                    .stats
                    .record("latency", (t.elapsed().as_secs_f64() * 1e3, 0.0));
            }
            report.frames_composed += 1;
            report.frames_out += 1;
            if let Some(p) = &self.progress {
                p(report.frames_out, self.expected);
            }
            let _ = spare.send(mask);
        }
        if shared.failed() {
            return Ok(());
        }
        if report.frames_out == 0 {
            tracing::warn!("no frames were read from the input");
        }
        sink.finish()
    }

    /// Composes `frame` with `mask` into `self.out` (or draws the mask, `debug_show_mask`).
    fn compose(
        &mut self,
        shared: &Shared,
        frame: &Stamped<Arc<RgbFrame>>,
        mask: &Mask,
        index: u64,
    ) {
        let probe = Probe::start();
        if self.cfg.debug_show_mask {
            mask_to_rgb(mask, &mut self.out);
        } else {
            let ctx = FrameCtx {
                frame: &frame.value,
                mask,
                index,
                time: frame.time,
            };
            self.compositor.compose(&ctx, &mut self.out);
        }
        shared.stats.record("composition", probe.ms());
    }

    /// Live: composes the newest frame with the newest mask (or, with `delay_video`, the frame
    /// the newest mask was computed from) and writes at the configured rate: while the camera
    /// stalls the last picture is repeated, then a placeholder shown. A lost virtual camera is
    /// re-opened, and so is one whose output options changed.
    pub(super) fn run_live(
        &mut self,
        shared: &Shared,
        mut open: super::OpenSink,
        report: &mut Report,
    ) -> Result<(), SinkError> {
        let mut sink = self.sink.take().expect("the sink is set at start");
        let (mut cfg, mut ver) = shared.config.current();
        let mut frame: Stamped<Arc<RgbFrame>> = Stamped::default();
        let mut mask: Stamped<Mask> = Stamped::default();
        let (mut seen_frame, mut seen_mask) = (0, 0);
        // The last picture written (repeated while the camera stalls) and the placeholder.
        let mut shown = RgbFrame::new(self.info.width, self.info.height);
        let mut held = RgbFrame::default();
        // delay_video: recent frames by sequence number, to compose each with its own mask.
        let mut ring: Vec<Stamped<Arc<RgbFrame>>> = vec![Stamped::default(); 8];
        let mut last_fresh = Instant::now();
        let mut placeholder_on = false;
        let mut log = RateLimited::new(Duration::from_secs(5));
        // Keep-alive pacing: a repeat is due two intervals after the last write while frames
        // flow, then every interval, on a fixed schedule so a stalled camera still yields `fps`.
        let mut last_write = Instant::now();
        let mut repeating = false;
        let mut demand = Demand::new();
        // What the sink holds as its last frame: a repeat of it is sent again without being
        // converted (or JPEG-encoded) again.
        let mut last_sent: Option<Sent> = None;
        // Idle: the placeholder was handed to the virtual camera.
        let mut idle_shown = false;
        while !shared.stopped() && self.max_frames.is_none_or(|m| report.frames_out < m) {
            let (c, v) = shared.config.current();
            if v != ver {
                if cfg.output_changed(&c) {
                    // Close first: v4l2loopback refuses a second producer (or a new format
                    // while the old one streams).
                    drop(sink);
                    last_sent = None;
                    idle_shown = false;
                    sink = match open(&c, self.info) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::error!("cannot open the virtual camera with the new settings: {e}; keeping the old ones");
                            reopen(&mut open, &cfg, self.info, &mut log)
                        }
                    };
                }
                (cfg, ver) = (c, v);
            }
            let was_idle = demand.idle;
            let idle = demand.update(cfg.on_demand, sink.as_mut(), shared);
            if idle && !was_idle {
                // Frames captured before the camera closed are not shown after it reopens.
                shared
                    .to_output
                    .take(&mut frame, &mut seen_frame, Duration::ZERO);
                idle_shown = false;
            }
            if idle && !placeholder_on {
                make_placeholder(&shown, &mut held, &mut last_sent);
                placeholder_on = true;
            }
            if idle && !demand.waking() && idle_shown {
                // Idle: nothing is written. The virtual camera stays announced as a camera
                // (v4l2loopback keeps it so while the producer streams, written or not) and hands
                // an app that opens it the placeholder at once. This blocks in the driver's event
                // or inotify: no CPU is used, and an open is seen at once; the timeout only
                // bounds how late a stop or a config reload is noticed.
                if sink.wait_consumers(IDLE_WAIT) {
                    demand.poll_now();
                }
                continue;
            }
            let interval = Duration::from_secs_f64(1.0 / cfg.fps.max(1) as f64);
            let deadline = if idle && !idle_shown {
                // Going idle: the placeholder now, once.
                Instant::now()
            } else {
                last_write + if repeating { interval } else { interval * 2 }
            };
            let wait = deadline.saturating_duration_since(Instant::now());
            if idle && !wait.is_zero() {
                // Waking (a consumer is being debounced): the placeholder at the configured
                // rate; between frames, opens and closes are still watched.
                if sink.wait_consumers(wait) {
                    demand.poll_now();
                }
                continue;
            }
            let fresh = if idle {
                // The camera is off; what it sent before is not shown.
                false
            } else if cfg.delay_video {
                // Keep recent frames; compose the one the newest mask was computed from.
                while shared
                    .to_output
                    .take(&mut frame, &mut seen_frame, Duration::ZERO)
                {
                    std::mem::swap(&mut ring[(frame.seq % 8) as usize], &mut frame);
                }
                shared.masks.take(&mut mask, &mut seen_mask, wait) && {
                    let slot = &ring[(mask.seq % 8) as usize];
                    slot.seq == mask.seq && {
                        frame.clone_from(slot);
                        true
                    }
                }
            } else {
                let got = shared.to_output.take(&mut frame, &mut seen_frame, wait);
                if got {
                    shared.masks.take(&mut mask, &mut seen_mask, Duration::ZERO);
                }
                got
            };
            if fresh {
                last_fresh = Instant::now();
                placeholder_on = false;
                if (mask.value.width, mask.value.height) != (frame.value.width, frame.value.height)
                {
                    // No mask for this size yet: everything is background until one arrives.
                    mask.value.reshape(frame.value.width, frame.value.height);
                    mask.value.data.fill(0);
                }
                self.follow(shared, &frame, report);
                self.compose(shared, &frame, &mask.value, report.frames_composed);
                report.frames_composed += 1;
                last_write = Instant::now();
                repeating = false;
            } else {
                if last_fresh.elapsed() >= self.placeholder_after && !placeholder_on {
                    tracing::warn!(
                        "no camera frames for {:.1} s: showing a placeholder",
                        last_fresh.elapsed().as_secs_f64()
                    );
                    make_placeholder(&shown, &mut held, &mut last_sent);
                    placeholder_on = true;
                }
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
            let (written, what) = match (fresh, placeholder_on) {
                (true, _) => (&self.out, Sent::Shown),
                (false, true) => (&held, Sent::Held),
                (false, false) => (&shown, Sent::Shown),
            };
            let going_idle = idle && !idle_shown;
            let res = if going_idle {
                // The picture an app that opens the idle camera gets at once.
                sink.hold(written)
            } else if !fresh && last_sent == Some(what) {
                sink.write_again(written)
            } else {
                sink.write(written)
            };
            // `self.out` becomes `shown` below.
            last_sent = res.is_ok().then_some(what);
            if going_idle {
                // A failed write is not retried while idle: a sink that fails cannot tell its
                // consumers either, so the pipeline wakes and the active path re-opens it.
                idle_shown = true;
            }
            match res {
                Ok(()) => {
                    shared.stats.record("convert+write", probe.ms());
                    report.frames_out += 1;
                    if let (true, Some(t)) = (fresh, frame.captured) {
                        let ms = t.elapsed().as_secs_f64() * 1e3;
                        shared.stats.record("latency", (ms, 0.0));
                    }
                    if let Some(p) = &self.progress {
                        p(report.frames_out, None);
                    }
                }
                Err(e) if e.is_transient() => {
                    log.warn(format_args!("{e}; re-opening"));
                    drop(sink);
                    sink = reopen(&mut open, &cfg, self.info, &mut log);
                }
                Err(e) => return Err(e),
            }
            if fresh {
                std::mem::swap(&mut shown, &mut self.out);
            }
        }
        Ok(())
    }
}

/// How often an idle output looks for consumers.
const POLL: Duration = Duration::from_millis(250);
/// How long an idle output blocks at a time (it writes nothing): bounds how late it notices a
/// stop or a config reload.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Which picture the sink got last.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// The last composed frame (`shown`).
    Shown,
    /// The placeholder (`held`).
    Held,
}
/// A consumer must stay this long before the camera is started: browsers open every camera
/// briefly to list it, which must not turn the camera on and off.
const WAKE_AFTER: Duration = Duration::from_millis(400);
/// The camera stays on this long after the last consumer left (a call app re-opening the
/// device when the user changes a setting).
const SLEEP_AFTER: Duration = Duration::from_secs(3);

/// On-demand state: whether an app reads the output, debounced both ways.
struct Demand {
    idle: bool,
    /// Since when a consumer was seen while idle / none seen while active.
    since: Option<Instant>,
    last_poll: Option<Instant>,
}

impl Demand {
    fn new() -> Self {
        Demand {
            idle: false,
            since: None,
            last_poll: None,
        }
    }

    /// Polls the sink (at most every [`POLL`]) and returns whether the pipeline is idle.
    fn update(&mut self, on_demand: bool, sink: &mut dyn Sink, shared: &Shared) -> bool {
        if !on_demand {
            return self.set(false, shared);
        }
        if self.last_poll.is_some_and(|t| t.elapsed() < POLL) {
            return self.idle;
        }
        self.last_poll = Some(Instant::now());
        // A sink that cannot tell is always watched.
        let watched = sink.has_consumers().unwrap_or(true);
        if watched != self.idle {
            // The state agrees with what is seen: nothing to debounce.
            self.since = None;
            return self.idle;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        let hold = if self.idle { WAKE_AFTER } else { SLEEP_AFTER };
        if since.elapsed() >= hold {
            self.since = None;
            return self.set(!watched, shared);
        }
        self.idle
    }

    /// Looks at the consumers at the next update (something opened or closed the device).
    fn poll_now(&mut self) {
        self.last_poll = None;
    }

    /// Idle, with a consumer seen: the output runs at full rate again (the placeholder) while
    /// the wake-up is debounced and the camera starts.
    fn waking(&self) -> bool {
        self.idle && self.since.is_some()
    }

    fn set(&mut self, idle: bool, shared: &Shared) -> bool {
        if idle != self.idle {
            if idle {
                tracing::info!(
                    "on demand: no app reads the virtual camera; camera off until one opens it"
                );
            } else {
                tracing::info!("on demand: an app opened the virtual camera; starting the camera");
            }
            self.idle = idle;
            shared.set_idle(idle);
        }
        idle
    }
}

/// Re-opens the virtual camera; while that fails, a stand-in whose writes fail as "lost" keeps
/// the loop (and its retries) going.
fn reopen(
    open: &mut super::OpenSink,
    cfg: &Config,
    info: SourceInfo,
    log: &mut RateLimited,
) -> Box<dyn Sink> {
    match open(cfg, info) {
        Ok(s) => s,
        Err(e) => {
            log.warn(format_args!(
                "cannot re-open {}: {e}",
                cfg.virtual_video_device
            ));
            Box::new(Closed(cfg.virtual_video_device.clone().into()))
        }
    }
}

/// Stands in for the virtual camera between closing it and opening it again.
struct Closed(std::path::PathBuf);

impl Sink for Closed {
    fn write(&mut self, _: &RgbFrame) -> Result<(), SinkError> {
        Err(SinkError::Lost {
            device: self.0.clone(),
            reason: std::io::Error::other("closed; re-opening"),
        })
    }
}

/// Makes the placeholder from the last picture shown into `held`; a copy of an older
/// placeholder that the sink keeps is then stale.
fn make_placeholder(shown: &RgbFrame, held: &mut RgbFrame, last_sent: &mut Option<Sent>) {
    placeholder(shown, held);
    if *last_sent == Some(Sent::Held) {
        *last_sent = None;
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
