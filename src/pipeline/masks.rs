//! The segmentation stage: the model and the mask refinement, following config reloads (new
//! options, a model loaded by the watcher, the re-choice of `model: auto` when the camera's
//! shape changes) and `mask_fps`.

use super::{RateLimited, Shared, Stamped};
use crate::config::Config;
use crate::frame::{Mask, RgbFrame};
use crate::segment::{Masker, SegmentError, Segmenter};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) struct Segment {
    masker: Masker,
    cfg: Arc<Config>,
    version: u64,
    log: RateLimited,
}

impl Segment {
    pub(super) fn new(masker: Masker, shared: &Shared) -> Self {
        let (cfg, version) = shared.config.current();
        Segment {
            masker,
            cfg,
            version,
            log: RateLimited::new(Duration::from_secs(5)),
        }
    }

    /// Takes the config the frame was captured under, and the model it needs.
    fn follow(&mut self, shared: &Shared, frame: &Stamped<Arc<RgbFrame>>) {
        if frame.version != self.version {
            self.masker.set_options(&frame.config);
            if let Some((s, why)) = shared.config.take_model(frame.version) {
                tracing::info!("model {} loaded, engine {why}", s.model().name);
                self.masker.set_segmenter(s);
            }
            (self.cfg, self.version) = (frame.config.clone(), frame.version);
        }
        let (w, h) = (frame.value.width, frame.value.height);
        let current = &self.masker.segmenter().model().name;
        if crate::segment::auto_model_differs(&self.cfg, current, w, h) {
            match Segmenter::for_frames(&self.cfg, Some((w, h))) {
                Ok((s, why)) => {
                    tracing::info!(
                        "model {} loaded for {w}x{h} frames, engine {why}",
                        s.model().name
                    );
                    self.masker.set_segmenter(s);
                }
                // Retried with every frame while the shape wants another model: rate-limited.
                Err(e) => self.log.warn(format_args!("{e}; keeping model {current}")),
            }
        }
    }

    /// Computes the mask of `frame` into `mask`.
    fn mask(
        &mut self,
        shared: &Shared,
        frame: &Stamped<Arc<RgbFrame>>,
        mask: &mut Stamped<Mask>,
    ) -> Result<(), SegmentError> {
        self.follow(shared, frame);
        self.masker.mask_at(
            &frame.value,
            Some(frame.time),
            &mut mask.value,
            Some(&shared.stats),
        )?;
        shared.masks_done.fetch_add(1, Ordering::Relaxed);
        mask.seq = frame.seq;
        mask.captured = frame.captured;
        mask.time = frame.time;
        Ok(())
    }

    /// Every frame, in order: each gets its own mask (with `mask_fps`, frames between two due
    /// masks get a copy of the last one, decided by their time in the file: deterministic).
    pub(super) fn run_every(
        mut self,
        shared: &Shared,
        frames: Receiver<Stamped<Arc<RgbFrame>>>,
        out: SyncSender<(Stamped<Arc<RgbFrame>>, Stamped<Mask>)>,
        spare: Receiver<Stamped<Mask>>,
    ) -> Result<(), SegmentError> {
        let mut last: Option<Stamped<Mask>> = None;
        let mut last_time = f64::NEG_INFINITY;
        while let Ok(frame) = frames.recv() {
            if shared.stopped() {
                break;
            }
            // Masks come back from the output stage to be reused: a few exist in all.
            let mut mask = spare.try_recv().unwrap_or_default();
            let mask_fps = frame.config.mask_fps;
            let due = mask_fps.is_none_or(|f| frame.time >= last_time + 1.0 / f as f64 - 1e-6);
            match (&last, due) {
                (Some(prev), false) if prev.value.width == frame.value.width => {
                    mask.value.clone_from(&prev.value);
                    mask.seq = frame.seq;
                }
                _ => {
                    self.mask(shared, &frame, &mut mask)?;
                    last_time = frame.time;
                    if mask_fps.is_some() {
                        last.get_or_insert_with(Stamped::default).clone_from(&mask);
                    }
                }
            }
            if out.send((frame, mask)).is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Live: masks the newest frame whenever the model is free (at most `mask_fps` a second);
    /// a failed inference is logged and the next frame tried.
    pub(super) fn run_live(mut self, shared: &Shared) -> Result<(), SegmentError> {
        let mut frame: Stamped<Arc<RgbFrame>> = Stamped::default();
        let mut mask: Stamped<Mask> = Stamped::default();
        let mut seen = 0;
        let mut last_start: Option<Instant> = None;
        while !shared.stopped() {
            if shared.idle.load(Ordering::Relaxed) {
                // On demand, nobody watches: no frames come, and one captured before the camera
                // closed is not worth a mask nobody sees.
                shared
                    .to_segment
                    .take(&mut frame, &mut seen, Duration::ZERO);
                shared.wait_active();
                continue;
            }
            if let (Some(fps), Some(t)) = (self.cfg.mask_fps, last_start) {
                let due = t + Duration::from_secs_f64(1.0 / fps as f64);
                shared.sleep(due.saturating_duration_since(Instant::now()));
            }
            if !shared
                .to_segment
                .take(&mut frame, &mut seen, Duration::from_secs(1))
            {
                continue;
            }
            last_start = Some(Instant::now());
            match self.mask(shared, &frame, &mut mask) {
                Ok(()) => shared.masks.publish(&mut mask),
                Err(e) => self.log.warn(e),
            }
        }
        Ok(())
    }
}
