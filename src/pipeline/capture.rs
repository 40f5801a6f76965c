//! The capture stage: reads the source into a small pool of reused frame buffers and stamps
//! each frame with its sequence number, time and the config in force.

use super::{Options, RateLimited, Shared, Stamped};
use crate::frame::RgbFrame;
use crate::source::{Read, Source, SourceError};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one read waits for a camera frame before the loop looks at stop and reload again.
const READ_TIMEOUT: Duration = Duration::from_millis(200);

pub(super) struct Capture {
    source: Box<dyn Source>,
    /// Frame buffers, each shared with the other stages while they use it; one nobody else
    /// holds is decoded into again (a handful exist at any time: no per-frame allocation).
    pool: Vec<Arc<RgbFrame>>,
    seq: u64,
    pace: Option<Duration>,
    next_tick: Instant,
    max_frames: Option<u64>,
    /// Stamp frames with their time in the file (every frame) rather than the wall clock.
    media_time: bool,
}

/// What one step of capture gave.
enum Got {
    Frame(Stamped<Arc<RgbFrame>>),
    Timeout,
    End,
}

impl Capture {
    pub(super) fn new(source: Box<dyn Source>, opts: &Options, _: &Shared) -> Self {
        Capture {
            source,
            pool: Vec::new(),
            seq: 0,
            // A rate that is no interval (0, NaN, absurdly small) means no pacing, never a panic.
            pace: opts
                .pace
                .and_then(|f| Duration::try_from_secs_f64(1.0 / f).ok())
                .filter(|d| *d <= Duration::from_secs(10)),
            next_tick: Instant::now(),
            max_frames: opts.max_frames,
            media_time: opts.delivery == super::Delivery::EveryFrame,
        }
    }

    /// Waits for the pace, reads the next frame into a free buffer and stamps it.
    fn next(&mut self, shared: &Shared) -> Result<Got, SourceError> {
        if self.max_frames.is_some_and(|m| self.seq >= m) {
            return Ok(Got::End);
        }
        if let Some(interval) = self.pace {
            let now = Instant::now();
            shared.sleep(self.next_tick.saturating_duration_since(now));
            self.next_tick = self.next_tick.max(now) + interval;
        }
        let slot = match self.pool.iter().position(|f| Arc::strong_count(f) == 1) {
            Some(i) => i,
            None => {
                self.pool.push(Arc::default());
                self.pool.len() - 1
            }
        };
        let probe = crate::stats::Probe::start();
        let frame = Arc::get_mut(&mut self.pool[slot]).expect("a buffer no other stage holds");
        Ok(match self.source.read(frame, READ_TIMEOUT)? {
            Read::Frame => {
                shared.stats.record("capture+decode", probe.ms());
                shared
                    .frames_in
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.seq += 1;
                let (config, version) = shared.config.current();
                let time = if self.media_time {
                    (self.seq - 1) as f64 / self.source.info().fps.max(1e-3)
                } else {
                    shared.start.elapsed().as_secs_f64()
                };
                Got::Frame(Stamped {
                    value: self.pool[slot].clone(),
                    seq: self.seq,
                    captured: Some(Instant::now()),
                    time,
                    config,
                    version,
                })
            }
            Read::Timeout => Got::Timeout,
            Read::End => Got::End,
        })
    }

    /// Every frame, in order, into `tx`; ends at the end of the source.
    pub(super) fn run_every(
        mut self,
        shared: &Shared,
        tx: SyncSender<Stamped<Arc<RgbFrame>>>,
    ) -> Result<(), SourceError> {
        while !shared.stopped() {
            match self.next(shared)? {
                Got::Frame(f) => {
                    if tx.send(f).is_err() {
                        break; // a later stage stopped
                    }
                }
                Got::Timeout => {}
                Got::End => break,
            }
        }
        Ok(())
    }

    /// Live: publishes the newest frame for segmentation and output; re-opens the camera when
    /// it is lost (the output stays alive meanwhile) or when capture options change.
    pub(super) fn run_live(
        mut self,
        shared: &Shared,
        mut open: super::OpenSource,
    ) -> Result<(), SourceError> {
        let (mut cfg, mut ver) = shared.config.current();
        let mut log = RateLimited::new(Duration::from_secs(5));
        let mut lost = false;
        let mut paused = false;
        while !shared.stopped() {
            let (c, v) = shared.config.current();
            if v != ver {
                let restart = cfg.capture_changed(&c);
                (cfg, ver) = (c, v);
                if restart {
                    tracing::info!(
                        "capture options changed: re-opening {}",
                        cfg.real_video_device
                    );
                    match open(&cfg) {
                        Ok(s) => self.source = s,
                        Err(e) => log.warn(format_args!(
                            "cannot open the camera with the new settings: {e}; keeping the current one"
                        )),
                    }
                }
            }
            if shared.idle.load(std::sync::atomic::Ordering::Relaxed) {
                // Nobody watches: the camera is closed (LED off) until an app opens the
                // output; `read` starts it again.
                if !paused {
                    self.source.pause();
                    paused = true;
                }
                shared.wait_active();
                continue;
            }
            paused = false;
            if lost {
                match self.source.reopen() {
                    Ok(()) => {
                        tracing::info!("camera {} is back", cfg.real_video_device);
                        lost = false;
                    }
                    Err(e) if e.is_transient() => {
                        log.warn(format_args!("{e}; retrying"));
                        shared.sleep(Duration::from_millis(500));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            match self.next(shared) {
                Ok(Got::Frame(mut f)) => {
                    shared.to_segment.publish_copy(&f);
                    shared.to_output.publish(&mut f);
                    // `f` now holds the frame the output skipped, dropped here: its buffer
                    // goes back to the pool.
                }
                Ok(Got::Timeout) => {}
                Ok(Got::End) => break,
                Err(e) if e.is_transient() => {
                    log.warn(format_args!("{e}"));
                    lost = true;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
