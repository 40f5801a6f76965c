//! The model and the mask refinement together: a camera frame in, its full-resolution alpha mask
//! out. The pipeline's segmentation stage and the tests that need a real mask use this.

use super::refine::{MaskRefiner, RefineParams};
use super::track::Tracker;
use super::{Rect, SegmentError, SegmentTiming, Segmenter};
use crate::config::Config;
use crate::frame::{Mask, RgbFrame};
use crate::stats::{Probe, Stats};

/// A [`Segmenter`] with its [`MaskRefiner`], the config's refinement options and the
/// person-tracking crop (`track_person`).
pub struct Masker {
    segmenter: Segmenter,
    refiner: MaskRefiner,
    params: RefineParams,
    tracker: Tracker,
}

impl Masker {
    /// Loads the model the config asks for, for frames of `width`x`height` (which `model: auto`
    /// chooses by). Returns the masker and why its engine was chosen.
    pub fn new(cfg: &Config, width: u32, height: u32) -> Result<(Self, String), SegmentError> {
        let (segmenter, why) = Segmenter::for_frames(cfg, Some((width, height)))?;
        Ok((Masker::with_segmenter(segmenter, cfg), why))
    }

    /// Wraps a loaded model.
    pub fn with_segmenter(segmenter: Segmenter, cfg: &Config) -> Self {
        Masker {
            segmenter,
            refiner: MaskRefiner::new(),
            params: RefineParams::from_config(cfg),
            tracker: Tracker::new(cfg.track_person),
        }
    }

    /// The model in use.
    pub fn segmenter(&self) -> &Segmenter {
        &self.segmenter
    }

    /// Takes the refinement options of a (reloaded) config.
    pub fn set_options(&mut self, cfg: &Config) {
        self.params = RefineParams::from_config(cfg);
        self.tracker.set_enabled(cfg.track_person);
    }

    /// The crop the model ran on for the last mask (`None`: the whole frame).
    pub fn last_crop(&self) -> Option<Rect> {
        self.tracker.current()
    }

    /// Swaps in another model; the temporal smoothing starts afresh.
    pub fn set_segmenter(&mut self, segmenter: Segmenter) {
        self.segmenter = segmenter;
        self.refiner.reset();
        self.tracker.reset();
    }

    /// Computes the mask of `frame` into `out` (reshaped to the frame's size), recording the
    /// resize, inference, refinement and person-tracking times in `stats` when given.
    pub fn mask(
        &mut self,
        frame: &RgbFrame,
        out: &mut Mask,
        stats: Option<&Stats>,
    ) -> Result<(), SegmentError> {
        self.mask_at(frame, None, out, stats)
    }

    /// [`Masker::mask`] for a frame taken at `time` (seconds): the person-tracking crop looks
    /// at the whole frame by time rather than by count.
    pub fn mask_at(
        &mut self,
        frame: &RgbFrame,
        time: Option<f64>,
        out: &mut Mask,
        stats: Option<&Stats>,
    ) -> Result<(), SegmentError> {
        let (mw, mh) = (self.segmenter.model().width, self.segmenter.model().height);
        let (w, h) = (frame.width, frame.height);
        let plan = self.tracker.plan(w, h, mw, mh, time);
        // Resize and inference times, summed over the model's runs (two on refresh frames), and
        // the tracker's own work (painting the canvas, finding the person).
        let mut timing = SegmentTiming::default();
        let mut track = (0.0, 0.0);
        let mut count = |p: Probe| {
            let t = p.ms();
            track = (track.0 + t.0, track.1 + t.1);
        };
        out.reshape(w, h);
        let refine;
        if self.tracker.engaged() {
            // The model's runs, in order: (the part of the frame it sees, `None`: all of it;
            // the canvas region that part covers; a region painted earlier to keep). The crop
            // first, then the whole frame around it.
            let all = Rect { x: 0, y: 0, w, h };
            let runs = [
                plan.crop.map(|c| (Some(c), c, None)),
                plan.whole.then_some((None, all, plan.crop)),
            ];
            for (part, region, keep) in runs.into_iter().flatten() {
                let probs = self.segmenter.segment_region(frame, part)?;
                let p = Probe::start();
                self.tracker.paint(probs, mw, mh, region, keep);
                count(p);
                timing.add(&self.segmenter.last_timing);
            }
            let p = Probe::start();
            let (probs, cw, ch) = self.tracker.canvas();
            self.refiner
                .refine_guided(probs, cw, ch, frame, &self.params, out);
            refine = p.ms();
        } else {
            let probs = self.segmenter.segment(frame)?;
            let p = Probe::start();
            self.refiner
                .refine_guided(probs, mw, mh, frame, &self.params, out);
            refine = p.ms();
            timing.add(&self.segmenter.last_timing);
        }
        if self.tracker.enabled() {
            let p = Probe::start();
            self.tracker.observe(out);
            count(p);
        }
        if let Some(s) = stats {
            s.record("mask refinement", refine);
            s.record("resize", timing.resize);
            s.record("inference", timing.infer);
            if self.tracker.enabled() {
                s.record("person tracking", track);
            }
        }
        Ok(())
    }
}
