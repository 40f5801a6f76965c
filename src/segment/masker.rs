//! The model and the mask refinement together: a camera frame in, its full-resolution alpha mask
//! out. The pipeline's segmentation stage and the tests that need a real mask use this.

use super::refine::{MaskRefiner, RefineParams};
use super::{SegmentError, Segmenter};
use crate::config::Config;
use crate::frame::{Mask, RgbFrame};
use crate::stats::{Probe, Stats};

/// A [`Segmenter`] with its [`MaskRefiner`] and the config's refinement options.
pub struct Masker {
    segmenter: Segmenter,
    refiner: MaskRefiner,
    params: RefineParams,
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
        }
    }

    /// The model in use.
    pub fn segmenter(&self) -> &Segmenter {
        &self.segmenter
    }

    /// Takes the refinement options of a (reloaded) config.
    pub fn set_options(&mut self, cfg: &Config) {
        self.params = RefineParams::from_config(cfg);
    }

    /// Swaps in another model; the temporal smoothing starts afresh.
    pub fn set_segmenter(&mut self, segmenter: Segmenter) {
        self.segmenter = segmenter;
        self.refiner.reset();
    }

    /// Computes the mask of `frame` into `out` (reshaped to the frame's size), recording the
    /// resize, inference and refinement times in `stats` when given.
    pub fn mask(
        &mut self,
        frame: &RgbFrame,
        out: &mut Mask,
        stats: Option<&Stats>,
    ) -> Result<(), SegmentError> {
        let (mw, mh) = (self.segmenter.model().width, self.segmenter.model().height);
        let probs = self.segmenter.segment(frame)?;
        let probe = Probe::start();
        out.reshape(frame.width, frame.height);
        self.refiner
            .refine_guided(probs, mw, mh, frame, &self.params, out);
        if let Some(s) = stats {
            s.record("mask refinement", probe.ms());
            s.record("resize", self.segmenter.last_timing.resize);
            s.record("inference", self.segmenter.last_timing.infer);
        }
        Ok(())
    }
}
