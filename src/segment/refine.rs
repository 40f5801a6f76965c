//! Mask post-processing (SPEC §3/§5): temporal smoothing, upsampling to the frame, threshold,
//! shrink (`dilate`) then grow (`erode`), and edge blur.
//!
//! Two refinements (`refine:`):
//! - `guided` (default): a *fast guided filter* (He, Sun & Tang, "Guided Image Filtering";
//!   He & Sun, "Fast Guided Filter", 2015) steered by the frame's colours. The frame and the
//!   model's probabilities are brought to a working grid of about 144 rows (1/5 of 720p); there
//!   the filter's linear coefficients are fitted so that, in each window, the mask is
//!   `a·colour + b`; the coefficients are then interpolated and applied to every full-resolution
//!   pixel, so the mask edge follows the picture's edges (hair, shoulders) instead of the
//!   model's 256x256 blocks. `segmentation_threshold` is the centre of a soft ramp, so the edge
//!   keeps a soft alpha. Parts of the frame that are surely person or surely background (known
//!   from the coefficients and the colours present) are filled without per-pixel work.
//! - `plain`: the original tool's way: bilinear upsampling, hard threshold, box blur of `blur`.
//!
//! Two temporal smoothings (`temporal:`):
//! - `adaptive` (default): where the picture is still (frame difference on the grid, measured
//!   against the frame's own noise level), an exponential average of the model's probabilities
//!   and, much stronger, of the soft edge itself (so neither the model's flicker nor the
//!   camera's noise makes the edge shimmer); where the picture moves, or the alpha changes a
//!   lot, the new mask is taken as it is (no afterimages).
//! - `mean`: the mean of the last `average_masks` masks (the original tool).

use crate::config::{Config, RefineMode, TemporalMode};
use crate::frame::{Mask, RgbFrame};
use fast_image_resize::{
    images::Image, images::ImageRef, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer,
};
use libblur::{BlurImage, BlurImageMut, BoxBlurParameters, FastBlurChannels, ThreadingPolicy};

/// Rows of the working grid the guided filter's coefficients are computed on (the grid's scale
/// is the whole factor that brings the frame's shorter side nearest to this). Measured against
/// 144 rows with a radius of 3 (tests/edges.rs): franck boundary F 0.9057 -> 0.9097, flicker
/// 0.0145 -> 0.0136 %, VOC boundary F 0.3870 -> 0.3882, at half the cost.
pub const GRID_ROWS: u32 = 108;
/// Guided filter window radius, in grid cells (2 cells = 14 pixels at 720p, 16 at 1080p).
pub const GUIDED_RADIUS: usize = 2;
/// Guided filter regularisation (colours in 0–1): larger = smoother, less edge-following.
/// Measured at webcam sizes (tests/webcam.rs, franck's person over six real backgrounds with
/// camera noise, 900x720): 0.01 -> 0.001 raised boundary F from 0.930 to 0.950 on average and
/// cut the alpha error by 30 % and the flicker by 25 %; 0.0003 followed the camera's noise
/// (more flicker on still frames).
pub const GUIDED_EPS: f32 = 0.001;
/// Slope of the soft ramp around the threshold in `guided` mode at the default `blur` of 6
/// (1 = the filter's own softness, higher = harder).
pub const RAMP_SLOPE: f32 = 2.0;

/// Clears the upper halves of the AVX registers (`vzeroupper`). An inference engine's kernels
/// that return with them dirty make every later SSE instruction on the thread pay a merge
/// penalty: measured here after a tract inference, the refinement ran 2.5 times slower.
fn clear_avx_upper() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX (checked just above), and vzeroupper only zeroes the upper
        // halves of the vector registers, which hold no live values across this call.
        unsafe { std::arch::x86_64::_mm256_zeroupper() }
    }
}

/// A probability clipped to [0, 1], with values below 1e-5 (and NaN) made 0.
fn clean(p: f32) -> f32 {
    if p > 1e-5 {
        p.min(1.0)
    } else {
        0.0
    }
}

/// The refinement settings, taken from the config (all applied instantly on reload).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineParams {
    /// Person probability threshold (0–1); the centre of the soft ramp in `guided` mode.
    pub threshold: f32,
    /// Box blur of the mask edge, pixels.
    pub blur: u32,
    /// Shrink by this many pixels.
    pub shrink: u32,
    /// Then grow by this many pixels.
    pub grow: u32,
    /// Number of recent masks averaged (`mean`), or the memory of still areas (`adaptive`).
    pub average: u32,
    /// Guided (edge-aware) or plain refinement.
    pub mode: RefineMode,
    /// Motion-adaptive or mean temporal smoothing.
    pub temporal: TemporalMode,
}

impl RefineParams {
    /// Reads the refinement options from a config. Note the original tool's naming, kept by the
    /// spec: `dilate` shrinks the mask and `erode` grows it.
    pub fn from_config(c: &Config) -> Self {
        RefineParams {
            threshold: c.segmentation_threshold,
            blur: c.blur,
            shrink: c.dilate,
            grow: c.erode,
            average: c.average_masks.max(1),
            mode: c.refine,
            temporal: c.temporal,
        }
    }

    /// The original tool's pipeline: threshold, blur, mean of `average_masks`.
    pub fn plain(self) -> Self {
        RefineParams {
            mode: RefineMode::Plain,
            temporal: TemporalMode::Mean,
            ..self
        }
    }

    /// Weight of the newest mask where the picture is still, in `adaptive` mode: an exponential
    /// average remembering about `2 * average_masks` frames (1 = no smoothing).
    pub fn still_weight(&self) -> f32 {
        1.0 / self.average.max(1) as f32
    }

    /// Slope of the soft ramp in `guided` mode: `blur` sets the edge's softness, the default 6
    /// giving [`RAMP_SLOPE`]; larger is softer, 0 the hardest (slope 12).
    pub fn ramp_slope(&self) -> f32 {
        RAMP_SLOPE * 6.0 / (self.blur as f32).max(1.0)
    }

    /// Weight of the newest alpha at the soft edge where the picture is still, in `adaptive`
    /// mode (large changes of the alpha are taken at once whatever this weight).
    pub fn edge_still_weight(&self) -> f32 {
        if self.average <= 1 {
            1.0
        } else {
            0.1 / self.average as f32
        }
    }
}

/// Turns model-resolution probabilities into a full-resolution alpha mask, reusing its buffers.
#[derive(Default)]
pub struct MaskRefiner {
    history: Vec<Vec<f32>>,
    next: usize,
    filled: usize,
    /// Exponential average state (model resolution) and whether it holds a mask.
    ema: Vec<f32>,
    ema_ok: bool,
    /// The probabilities as given (cleaned), then temporally smoothed (model resolution).
    input: Vec<f32>,
    smooth: Vec<f32>,
    small: Vec<u8>,
    resizer: Resizer,
    full: Mask,
    line: Vec<u8>,
    scratch: (Vec<u8>, Vec<u8>, Vec<u8>),
    grid: Grid,
}

impl MaskRefiner {
    /// A refiner with empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the mask history (after a seek, a new source or a model change).
    pub fn reset(&mut self) {
        self.filled = 0;
        self.next = 0;
        self.ema_ok = false;
        self.grid.has_prev = false;
        self.grid.prev_ok = false;
    }

    /// Mean of the last `average` probability masks (model resolution) into `self.smooth`.
    fn average(&mut self, probs: &[f32], average: usize) {
        let n = probs.len();
        if self.history.len() != average || self.history.first().is_some_and(|h| h.len() != n) {
            self.history = vec![vec![0.0; n]; average];
            self.filled = 0;
            self.next = 0;
        }
        self.history[self.next].copy_from_slice(probs);
        self.next = (self.next + 1) % average;
        self.filled = (self.filled + 1).min(average);
        self.smooth.resize(n, 0.0);
        let hist = &self.history[..self.filled];
        let (first, rest) = hist.split_first().expect("at least one mask");
        self.smooth.copy_from_slice(first);
        for h in rest {
            for (s, v) in self.smooth.iter_mut().zip(h) {
                *s += v;
            }
        }
        let scale = 1.0 / self.filled as f32;
        self.smooth.iter_mut().for_each(|s| *s *= scale);
    }

    /// Motion-adaptive exponential average into `self.smooth`. The weight of the new mask is
    /// `still` where the picture did not change and 1 where it changed clearly (frame difference
    /// on the working grid); without a picture the size of the mask's own change decides.
    fn adaptive(&mut self, probs: &[f32], mw: usize, still: f32, motion: bool) {
        let n = probs.len();
        if self.ema.len() != n || !self.ema_ok || still >= 1.0 {
            self.ema.clear();
            self.ema.extend_from_slice(probs);
            self.ema_ok = true;
        } else if motion {
            let g = &self.grid;
            let mx = &g.model_cell_x;
            for ((ema_row, p_row), &cy) in self
                .ema
                .chunks_exact_mut(mw)
                .zip(probs.chunks_exact(mw))
                .zip(&g.model_cell_y)
            {
                let mrow = &g.motion[cy as usize * g.lw..(cy as usize + 1) * g.lw];
                for ((e, &p), &cx) in ema_row.iter_mut().zip(p_row).zip(mx) {
                    let m = mrow[cx as usize];
                    let w = still + (1.0 - still) * m;
                    *e = clean(*e + w * (p - *e));
                }
            }
        } else {
            for (e, &p) in self.ema.iter_mut().zip(probs) {
                let d = (p - *e).abs();
                let m = ((d - 0.3) * 2.5).clamp(0.0, 1.0);
                let w = still + (1.0 - still) * m;
                *e = clean(*e + w * (p - *e));
            }
        }
        self.smooth.clear();
        self.smooth.extend_from_slice(&self.ema);
    }

    /// Refines `probs` (`mw*mh`, person probability) into `out` (already sized to the frame),
    /// without the frame: `guided` mode then upsamples the probabilities with the soft ramp only.
    pub fn refine(&mut self, probs: &[f32], mw: u32, mh: u32, p: &RefineParams, out: &mut Mask) {
        self.refine_inner(probs, mw, mh, None, p, out);
    }

    /// Refines `probs` (`mw*mh`, person probability) into `out`, guided by `frame` (the picture
    /// the probabilities were computed from, same size as `out`).
    pub fn refine_guided(
        &mut self,
        probs: &[f32],
        mw: u32,
        mh: u32,
        frame: &RgbFrame,
        p: &RefineParams,
        out: &mut Mask,
    ) {
        let usable = frame.width == out.width && frame.height == out.height;
        debug_assert!(usable, "frame and mask sizes differ");
        self.refine_inner(probs, mw, mh, usable.then_some(frame), p, out);
    }

    fn refine_inner(
        &mut self,
        probs: &[f32],
        mw: u32,
        mh: u32,
        frame: Option<&RgbFrame>,
        p: &RefineParams,
        out: &mut Mask,
    ) {
        clear_avx_upper();
        let (w, h) = (out.width, out.height);
        if self.grid.setup(w, h, mw, mh) {
            self.reset();
        }
        // Tiny probabilities would become denormal floats further on (many times slower).
        self.input.clear();
        self.input.extend(probs.iter().map(|&p| clean(p)));
        let probs = std::mem::take(&mut self.input);
        let adaptive = p.temporal == TemporalMode::Adaptive;
        let need_grid = frame.is_some() && (p.mode == RefineMode::Guided || adaptive);
        let mut motion = false;
        if let (true, Some(f)) = (need_grid, frame) {
            self.grid.downsample(f);
            motion = adaptive && self.grid.motion_map();
        }
        if adaptive {
            self.adaptive(&probs, mw as usize, p.still_weight(), motion);
        } else {
            self.average(&probs, p.average as usize);
        }
        self.input = probs;
        match p.mode {
            RefineMode::Plain => self.plain(mw, mh, p, out),
            RefineMode::Guided => {
                self.grid
                    .coefficients(&self.smooth, mw as usize, frame.is_some());
                let still = motion.then(|| p.edge_still_weight());
                self.grid
                    .apply(frame, p.threshold, p.ramp_slope(), still, out);
                self.morph_and_blur(p, out, false);
            }
        }
    }

    /// The plain path: bilinear upsampling, hard threshold, shrink/grow, blur.
    fn plain(&mut self, mw: u32, mh: u32, p: &RefineParams, out: &mut Mask) {
        self.small.clear();
        self.small.extend(
            self.smooth
                .iter()
                .map(|&s| (s * 255.0 + 0.5).clamp(0.0, 255.0) as u8),
        );
        self.full.reshape(out.width, out.height);
        upsample(&mut self.resizer, &self.small, mw, mh, &mut self.full);
        let t = (p.threshold * 255.0).round() as u8;
        for v in self.full.data.iter_mut() {
            *v = if *v > t { 255 } else { 0 };
        }
        std::mem::swap(&mut self.full, out);
        self.morph_and_blur(p, out, true);
    }

    /// Shrink then grow (grey-level, so soft edges stay soft), then the edge blur (`plain`
    /// only: in `guided` mode `blur` sets the ramp's softness instead, since a blur of the
    /// guided edge would smear the hair it follows away).
    fn morph_and_blur(&mut self, p: &RefineParams, out: &mut Mask, blur: bool) {
        let (a, b, c) = &mut self.scratch;
        if p.shrink > 0 {
            morph(out, p.shrink as usize, Morph::Min, &mut self.line, a, b, c);
        }
        if p.grow > 0 {
            morph(out, p.grow as usize, Morph::Max, &mut self.line, a, b, c);
        }
        if blur && p.blur >= 2 {
            self.full.reshape(out.width, out.height);
            std::mem::swap(&mut self.full, out);
            box_blur(&self.full, p.blur, out);
        }
    }
}

/// The working grid of the guided filter and of the motion measure, with all its buffers.
#[derive(Default)]
struct Grid {
    /// Frame size, model size, grid size.
    w: usize,
    h: usize,
    mw: usize,
    mh: usize,
    lw: usize,
    lh: usize,
    /// Frame pixels per grid cell (a whole number).
    scale: usize,
    /// Column sums of a band of rows (u16: at most 10 rows of 255) and per-cell sums.
    acc: Vec<u16>,
    cell: Vec<u32>,
    /// Per-column min and max over a band of rows, and each cell's colour range.
    rmin: Vec<u8>,
    rmax: Vec<u8>,
    cmin: Vec<[u8; 3]>,
    cmax: Vec<[u8; 3]>,
    /// Mean colour per cell (0–1).
    guide: Vec<[f32; 3]>,
    /// Luma per cell, this frame and the previous one.
    luma: Vec<f32>,
    prev_luma: Vec<f32>,
    has_prev: bool,
    /// Motion per cell (0 still … 1 clearly moving) and a scratch plane.
    motion: Vec<f32>,
    motion_tmp: Vec<[f32; 1]>,
    motion_box: Vec<[f32; 1]>,
    /// The model's probabilities resampled to the grid.
    p: Vec<f32>,
    /// Guided filter statistics (means of I, p, I*p, I*I^T) and the fitted coefficients.
    stats: Vec<[f32; 16]>,
    stats_mean: Vec<[f32; 16]>,
    coef: Vec<[f32; 4]>,
    coef_mean: Vec<[f32; 4]>,
    /// Box filter scratch for the motion, statistics and coefficient planes.
    motion_scratch: BoxScratch<1>,
    stats_scratch: BoxScratch<16>,
    coef_scratch: BoxScratch<4>,
    /// The previous full-resolution alpha (for smoothing the edge over time) and its validity.
    prev_alpha: Vec<u8>,
    prev_ok: bool,
    /// Per cell: 0 = surely background, 2 = surely person, 1 = needs per-pixel work.
    class: Vec<u8>,
    /// Frame column → (left grid column, weight of the right one), and runs of equal columns.
    fx: Vec<f32>,
    runs: Vec<(u32, u32, u32)>,
    /// Spans of one band of frame rows: (start, end, 0 | 2 = fill, 1 = per pixel, column).
    segs: Vec<(u32, u32, u8, u32)>,
    /// Frame row → (upper grid row, weight of the lower one).
    fy: Vec<(u32, f32)>,
    /// Grid → model bilinear maps.
    gx: Vec<(u32, f32)>,
    gy: Vec<(u32, f32)>,
    /// Model pixel → grid cell (nearest), for the motion weights.
    model_cell_x: Vec<u32>,
    model_cell_y: Vec<u32>,
}

impl Grid {
    /// Sizes the grid for a frame and model size; true when anything changed (history is void).
    fn setup(&mut self, w: u32, h: u32, mw: u32, mh: u32) -> bool {
        let (w, h, mw, mh) = (w as usize, h as usize, mw as usize, mh as usize);
        if (w, h, mw, mh) == (self.w, self.h, self.mw, self.mh) {
            return false;
        }
        (self.w, self.h, self.mw, self.mh) = (w, h, mw, mh);
        self.scale = ((w.min(h) as f32 / GRID_ROWS as f32).round() as usize).clamp(1, 10);
        self.lw = w.div_ceil(self.scale);
        self.lh = h.div_ceil(self.scale);
        let (lw, lh, s) = (self.lw, self.lh, self.scale as f32);
        let n = lw * lh;
        self.acc = vec![0; w * 3];
        self.cell = vec![0; lw * 3];
        self.rmin = vec![0; w * 3];
        self.rmax = vec![0; w * 3];
        self.cmin = vec![[0; 3]; n];
        self.cmax = vec![[0; 3]; n];
        self.guide = vec![[0.0; 3]; n];
        self.luma = vec![0.0; n];
        self.prev_luma = vec![0.0; n];
        self.has_prev = false;
        self.motion = vec![0.0; n];
        self.motion_tmp = vec![[0.0]; n];
        self.motion_box = vec![[0.0]; n];
        self.p = vec![0.0; n];
        self.stats = vec![[0.0; 16]; n];
        self.stats_mean = vec![[0.0; 16]; n];
        self.coef = vec![[0.0; 4]; n];
        self.coef_mean = vec![[0.0; 4]; n];
        self.class = vec![0; n];
        // Frame pixel x lies at grid coordinate (x + 0.5) / s - 0.5 (cell centres aligned).
        let to_grid = |x: usize, nl: usize| -> (u32, f32) {
            let u = ((x as f32 + 0.5) / s - 0.5).clamp(0.0, (nl - 1) as f32);
            let i0 = (u.floor() as usize).min(nl.saturating_sub(2));
            (i0 as u32, (u - i0 as f32).min(1.0))
        };
        self.fx.clear();
        self.runs.clear();
        for x in 0..w {
            let (i0, f) = to_grid(x, lw);
            self.fx.push(f);
            match self.runs.last_mut() {
                Some(r) if r.0 == i0 => r.2 = x as u32 + 1,
                _ => self.runs.push((i0, x as u32, x as u32 + 1)),
            }
        }
        self.fy = (0..h).map(|y| to_grid(y, lh)).collect();
        // Grid cell centres in model coordinates (the model sees the whole frame stretched).
        // Cell i along a side of nf frame pixels → (model pixel, weight of the next one).
        let to_model = |i: usize, nf: usize, nm: usize| -> (u32, f32) {
            let fp = ((i as f32 + 0.5) * s).min(nf as f32 - 0.5);
            let u = (fp * nm as f32 / nf as f32 - 0.5).clamp(0.0, (nm - 1) as f32);
            let i0 = (u.floor() as usize).min(nm.saturating_sub(2));
            (i0 as u32, (u - i0 as f32).min(1.0))
        };
        self.gx.clear();
        self.gx.extend((0..lw).map(|i| to_model(i, w, mw)));
        self.gy.clear();
        self.gy.extend((0..lh).map(|j| to_model(j, h, mh)));
        let cell = |m: usize, nm: usize, nf: usize, nl: usize| -> u32 {
            let f = (m as f32 + 0.5) * nf as f32 / nm as f32;
            ((f / s) as usize).min(nl - 1) as u32
        };
        self.model_cell_x = (0..mw).map(|m| cell(m, mw, w, lw)).collect();
        self.model_cell_y = (0..mh).map(|m| cell(m, mh, h, lh)).collect();
        true
    }

    /// Box-averages the frame onto the grid (`guide`, `luma`), keeping the previous luma.
    fn downsample(&mut self, frame: &RgbFrame) {
        crate::with_avx2!({ self.downsample_impl(frame) })
    }

    #[inline(always)]
    fn downsample_impl(&mut self, frame: &RgbFrame) {
        let (w, s, lw) = (self.w, self.scale, self.lw);
        std::mem::swap(&mut self.luma, &mut self.prev_luma);
        let cell_rows = self.guide.chunks_exact_mut(lw).zip(
            self.luma.chunks_exact_mut(lw).zip(
                self.cmin
                    .chunks_exact_mut(lw)
                    .zip(self.cmax.chunks_exact_mut(lw)),
            ),
        );
        for (band, (g_row, (l_row, (cmin_row, cmax_row)))) in
            frame.data.chunks(w * 3 * s).zip(cell_rows)
        {
            let rows = band.len() / (w * 3);
            // Sum, min and max over the band's rows (vectorises), then over each cell's columns.
            self.acc.fill(0);
            self.rmin.fill(255);
            self.rmax.fill(0);
            for row in band.chunks_exact(w * 3) {
                for (a, &v) in self.acc.iter_mut().zip(row) {
                    *a += v as u16;
                }
                for (lo, &v) in self.rmin.iter_mut().zip(row) {
                    *lo = (*lo).min(v);
                }
                for (hi, &v) in self.rmax.iter_mut().zip(row) {
                    *hi = (*hi).max(v);
                }
            }
            let sums = (&mut self.cell[..], &mut cmin_row[..], &mut cmax_row[..]);
            let rows3 = (&self.acc[..], &self.rmin[..], &self.rmax[..]);
            match s {
                1 => reduce_cells::<1>(rows3, sums),
                2 => reduce_cells::<2>(rows3, sums),
                3 => reduce_cells::<3>(rows3, sums),
                4 => reduce_cells::<4>(rows3, sums),
                5 => reduce_cells::<5>(rows3, sums),
                6 => reduce_cells::<6>(rows3, sums),
                7 => reduce_cells::<7>(rows3, sums),
                8 => reduce_cells::<8>(rows3, sums),
                9 => reduce_cells::<9>(rows3, sums),
                _ => reduce_cells::<10>(rows3, sums),
            }
            // …then divide by the cell's pixel count (the last column/row may be partial).
            let full = 1.0 / (255.0 * (s * rows) as f32);
            let last_cols = w - (lw - 1) * s;
            let partial = 1.0 / (255.0 * (last_cols * rows) as f32);
            for (i, ((gc, lc), a)) in g_row
                .iter_mut()
                .zip(l_row.iter_mut())
                .zip(self.cell.chunks_exact(3))
                .enumerate()
            {
                let k = if i + 1 == lw { partial } else { full };
                *gc = [a[0] as f32 * k, a[1] as f32 * k, a[2] as f32 * k];
                *lc = 0.299 * gc[0] + 0.587 * gc[1] + 0.114 * gc[2];
            }
        }
    }

    /// Motion per cell from the frame difference (0 below a noise floor, 1 for a clear change),
    /// spread over a 3x3 neighbourhood. False on the first frame (nothing to compare with).
    fn motion_map(&mut self) -> bool {
        let had = self.has_prev;
        self.has_prev = true;
        if !had {
            return false;
        }
        for ((m, &a), &b) in self
            .motion_tmp
            .iter_mut()
            .zip(&self.luma)
            .zip(&self.prev_luma)
        {
            m[0] = a - b;
        }
        // Signed difference averaged over 3x3 cells: sensor noise cancels, moving edges stay.
        box_mean(
            &self.motion_tmp,
            &mut self.motion_box,
            &mut self.motion_scratch,
            1,
            self.lw,
            self.lh,
        );
        // The frame's noise level: the median change (most of a frame is still).
        let mut hist = [0u32; 64];
        for b in &self.motion_box {
            hist[((b[0].abs() * 2000.0) as usize).min(63)] += 1;
        }
        let half = (self.motion_box.len() / 2) as u32;
        let mut seen = 0;
        let median = hist
            .iter()
            .position(|&c| {
                seen += c;
                seen > half
            })
            .unwrap_or(63) as f32
            / 2000.0;
        // Motion starts 3 noise levels (and 0.2 %) above still and is full 0.8 % further.
        let m0 = 0.002 + 3.0 * median;
        let m1 = m0 + 0.008;
        for (m, b) in self.motion.iter_mut().zip(&self.motion_box) {
            *m = ((b[0].abs() - m0) / (m1 - m0)).clamp(0.0, 1.0);
        }
        true
    }

    /// Resamples the smoothed model probabilities to the grid and fits the guided filter's
    /// coefficients (or, without a frame, coefficients that reproduce the probabilities).
    fn coefficients(&mut self, probs: &[f32], mw: usize, guided: bool) {
        let lw = self.lw;
        for (p_row, &(j0, fy)) in self.p.chunks_exact_mut(lw).zip(&self.gy) {
            let r0 = &probs[j0 as usize * mw..];
            let r1 = if self.mh > 1 {
                &probs[(j0 as usize + 1) * mw..]
            } else {
                r0
            };
            for (p, &(i0, fx)) in p_row.iter_mut().zip(&self.gx) {
                let i0 = i0 as usize;
                let i1 = if self.mw > 1 { i0 + 1 } else { i0 };
                let top = r0[i0] + fx * (r0[i1] - r0[i0]);
                let bot = r1[i0] + fx * (r1[i1] - r1[i0]);
                *p = top + fy * (bot - top);
            }
        }
        if !guided {
            for (c, &p) in self.coef_mean.iter_mut().zip(&self.p) {
                *c = [0.0, 0.0, 0.0, p];
            }
            return;
        }
        for ((st, g), &p) in self.stats.iter_mut().zip(&self.guide).zip(&self.p) {
            let [r, g, b] = *g;
            *st = [
                r,
                g,
                b,
                p,
                r * p,
                g * p,
                b * p,
                r * r,
                r * g,
                r * b,
                g * g,
                g * b,
                b * b,
                0.0,
                0.0,
                0.0,
            ];
        }
        let radius = GUIDED_RADIUS;
        box_mean(
            &self.stats,
            &mut self.stats_mean,
            &mut self.stats_scratch,
            radius,
            lw,
            self.lh,
        );
        let eps = GUIDED_EPS;
        for (c, m) in self.coef.iter_mut().zip(&self.stats_mean) {
            let (mr, mg, mb, mp) = (m[0], m[1], m[2], m[3]);
            if !(1e-4..=1.0 - 1e-4).contains(&mp) {
                // Surely one side over the whole window: p is flat, a = 0.
                *c = [0.0, 0.0, 0.0, mp];
                continue;
            }
            let (cr, cg, cb) = (m[4] - mr * mp, m[5] - mg * mp, m[6] - mb * mp);
            let srr = m[7] - mr * mr + eps;
            let srg = m[8] - mr * mg;
            let srb = m[9] - mr * mb;
            let sgg = m[10] - mg * mg + eps;
            let sgb = m[11] - mg * mb;
            let sbb = m[12] - mb * mb + eps;
            // Inverse of the symmetric 3x3 covariance by its adjugate.
            let i00 = sgg * sbb - sgb * sgb;
            let i01 = srb * sgb - srg * sbb;
            let i02 = srg * sgb - srb * sgg;
            let i11 = srr * sbb - srb * srb;
            let i12 = srb * srg - srr * sgb;
            let i22 = srr * sgg - srg * srg;
            let inv = 1.0 / (srr * i00 + srg * i01 + srb * i02);
            let ar = (i00 * cr + i01 * cg + i02 * cb) * inv;
            let ag = (i01 * cr + i11 * cg + i12 * cb) * inv;
            let ab = (i02 * cr + i12 * cg + i22 * cb) * inv;
            *c = [ar, ag, ab, mp - ar * mr - ag * mg - ab * mb];
        }
        box_mean(
            &self.coef,
            &mut self.coef_mean,
            &mut self.coef_scratch,
            radius,
            lw,
            self.lh,
        );
    }

    /// Applies the (upsampled) coefficients to the full-resolution frame with the soft ramp
    /// `alpha = (q - threshold) * slope + 1/2`, clipped, into `out`.
    fn apply(
        &mut self,
        frame: Option<&RgbFrame>,
        threshold: f32,
        slope: f32,
        still: Option<f32>,
        out: &mut Mask,
    ) {
        crate::with_avx2!({ self.apply_impl(frame, threshold, slope, still, out) })
    }

    #[inline(always)]
    fn apply_impl(
        &mut self,
        frame: Option<&RgbFrame>,
        threshold: f32,
        slope: f32,
        still: Option<f32>,
        out: &mut Mask,
    ) {
        let k = slope * 255.0;
        let off = 128.0 - threshold * k;
        // Output 0 when q*k + off < 1, 255 when >= 255 (then truncation to u8).
        let (lo_q, hi_q) = ((1.0 - off) / k - 1e-4, (255.0 - off) / k + 1e-4);
        let (lw, lh) = (self.lw, self.lh);
        for (i, (cl, c)) in self.class.iter_mut().zip(&self.coef_mean).enumerate() {
            // q = a·I + b over colours I in [0,1]^3 lies within [lo, hi]…
            let neg: f32 = c[..3].iter().map(|a| a.min(0.0)).sum();
            let pos: f32 = c[..3].iter().map(|a| a.max(0.0)).sum();
            let (mut lo, mut hi) = (c[3] + neg, c[3] + pos);
            if frame.is_some() && hi >= lo_q && lo < hi_q {
                // …and over the colours actually found in this cell and its neighbours (every
                // frame pixel whose coefficients this cell's take part in).
                let (x, y) = (i % lw, i / lw);
                let (mut mn, mut mx) = ([255u8; 3], [0u8; 3]);
                for yy in y.saturating_sub(1)..(y + 2).min(lh) {
                    let row = yy * lw;
                    for xx in x.saturating_sub(1)..(x + 2).min(lw) {
                        let (a, b) = (&self.cmin[row + xx], &self.cmax[row + xx]);
                        for k in 0..3 {
                            mn[k] = mn[k].min(a[k]);
                            mx[k] = mx[k].max(b[k]);
                        }
                    }
                }
                (lo, hi) = (c[3], c[3]);
                for k in 0..3 {
                    let (a, b) = (c[k] * mn[k] as f32 / 255.0, c[k] * mx[k] as f32 / 255.0);
                    lo += a.min(b);
                    hi += a.max(b);
                }
            }
            *cl = if hi < lo_q {
                0
            } else if lo >= hi_q {
                2
            } else {
                1
            };
        }
        let (w, lw) = (self.w, self.lw);
        let inv255 = 1.0 / 255.0;
        // Temporal smoothing of the edge itself where the picture is still: the guide's sensor
        // noise would otherwise make the soft edge shimmer.
        let still = still.filter(|_| self.prev_ok && self.prev_alpha.len() == out.data.len());
        // Changes of the alpha beyond 24 levels are partly, beyond 80 wholly taken at once.
        let (a0, a1) = (24.0, 80.0);
        let ainv = 1.0 / (a1 - a0);
        self.prev_alpha.resize(out.data.len(), 0);
        let mut seg_row = usize::MAX;
        for (y, ((orow, prow), &(j0, fy))) in out
            .data
            .chunks_exact_mut(w)
            .zip(self.prev_alpha.chunks_exact(w))
            .zip(&self.fy)
            .enumerate()
        {
            let j0 = j0 as usize;
            let j1 = (j0 + 1).min(self.lh - 1);
            let (k0, k1) = (
                &self.class[j0 * lw..(j0 + 1) * lw],
                &self.class[j1 * lw..(j1 + 1) * lw],
            );
            if seg_row != j0 {
                // Spans of this band of rows: long fills where all four corners agree.
                seg_row = j0;
                self.segs.clear();
                for &(i0, xs, xe) in &self.runs {
                    let i = i0 as usize;
                    let i1 = (i + 1).min(lw - 1);
                    let kind = match [k0[i], k0[i1], k1[i], k1[i1]] {
                        [0, 0, 0, 0] => 0,
                        [2, 2, 2, 2] => 2,
                        _ => 1,
                    };
                    match self.segs.last_mut() {
                        Some(last) if kind != 1 && last.2 == kind => last.1 = xe,
                        _ => self.segs.push((xs, xe, kind, i0)),
                    }
                }
            }
            let (c0, c1) = (
                &self.coef_mean[j0 * lw..(j0 + 1) * lw],
                &self.coef_mean[j1 * lw..(j1 + 1) * lw],
            );
            let frow = frame.map(|f| &f.data[y * w * 3..(y + 1) * w * 3]);
            for &(xs, xe, kind, i0) in &self.segs {
                let (i0, xs, xe) = (i0 as usize, xs as usize, xe as usize);
                let seg = &mut orow[xs..xe];
                match kind {
                    0 => {
                        seg.fill(0);
                        continue;
                    }
                    2 => {
                        seg.fill(255);
                        continue;
                    }
                    _ => {}
                }
                let i1 = (i0 + 1).min(lw - 1);
                // Coefficients at the span's two grid columns, at this row; colours 0–255.
                let lerp4 = |a: &[f32; 4], b: &[f32; 4], s: [f32; 4]| -> [f32; 4] {
                    std::array::from_fn(|c| (a[c] + fy * (b[c] - a[c])) * s[c])
                };
                let scale = [inv255, inv255, inv255, 1.0];
                let l = lerp4(&c0[i0], &c1[i0], scale);
                let r = lerp4(&c0[i1], &c1[i1], scale);
                let d: [f32; 4] = std::array::from_fn(|c| r[c] - l[c]);
                let fxs = &self.fx[xs..xe];
                // The edge's temporal smoothing weight here (1: none), applied to each alpha as
                // it is computed: a second pass reading back the bytes just written stalled on
                // store forwarding and cost as much as the guided filter itself.
                let wgt = still.map_or(1.0, |still| {
                    let (m0, m1) = (
                        &self.motion[j0 * lw..(j0 + 1) * lw],
                        &self.motion[j1 * lw..(j1 + 1) * lw],
                    );
                    let m = m0[i0].max(m0[i1]).max(m1[i0]).max(m1[i1]);
                    still + (1.0 - still) * m
                });
                let smooth = |a: f32, p: u8| -> u8 {
                    let (o1, p1) = ((a as u8) as f32, p as f32);
                    let big = ((o1 - p1).abs() - a0) * ainv;
                    let wq = wgt.max(big.clamp(0.0, 1.0));
                    (p1 + wq * (o1 - p1) + 0.5) as u8
                };
                let prev = &prow[xs..xe];
                match frow {
                    Some(frow) => {
                        let px = frow[xs * 3..xe * 3].chunks_exact(3).zip(fxs).zip(prev);
                        for (o, ((px, &fx), &p)) in seg.iter_mut().zip(px) {
                            let q = (l[0] + fx * d[0]) * px[0] as f32
                                + (l[1] + fx * d[1]) * px[1] as f32
                                + (l[2] + fx * d[2]) * px[2] as f32
                                + (l[3] + fx * d[3]);
                            let a = (q * k + off).clamp(0.0, 255.0);
                            *o = if wgt < 0.999 { smooth(a, p) } else { a as u8 };
                        }
                    }
                    None => {
                        for (o, (&fx, &p)) in seg.iter_mut().zip(fxs.iter().zip(prev)) {
                            let q = l[3] + fx * d[3];
                            let a = (q * k + off).clamp(0.0, 255.0);
                            *o = if wgt < 0.999 { smooth(a, p) } else { a as u8 };
                        }
                    }
                }
            }
        }
        self.prev_alpha.copy_from_slice(&out.data);
        self.prev_ok = true;
    }
}

/// Per grid cell of `S` columns: the sums, minima and maxima of its columns' (band) sums,
/// minima and maxima, per colour. The last cell may be narrower.
type CellSums<'a> = (&'a mut [u32], &'a mut [[u8; 3]], &'a mut [[u8; 3]]);

#[inline(always)]
fn reduce_cells<const S: usize>(rows: (&[u16], &[u8], &[u8]), cells: CellSums<'_>) {
    let (acc, rmin, rmax) = rows;
    let (sum, cmin, cmax) = cells;
    let per_cell = sum
        .chunks_exact_mut(3)
        .zip(cmin.iter_mut().zip(cmax.iter_mut()));
    let columns = acc
        .chunks(S * 3)
        .zip(rmin.chunks(S * 3).zip(rmax.chunks(S * 3)));
    for ((sm, (mn, mx)), (a, (lo, hi))) in per_cell.zip(columns) {
        let (mut s3, mut n3, mut x3) = ([0u32; 3], [255u8; 3], [0u8; 3]);
        if a.len() == S * 3 {
            // Whole cell: fixed trip counts, unrolled by the compiler.
            for p in 0..S {
                for k in 0..3 {
                    s3[k] += a[p * 3 + k] as u32;
                    n3[k] = n3[k].min(lo[p * 3 + k]);
                    x3[k] = x3[k].max(hi[p * 3 + k]);
                }
            }
        } else {
            for ((p, l), h) in a
                .chunks_exact(3)
                .zip(lo.chunks_exact(3))
                .zip(hi.chunks_exact(3))
            {
                for k in 0..3 {
                    s3[k] += p[k] as u32;
                    n3[k] = n3[k].min(l[k]);
                    x3[k] = x3[k].max(h[k]);
                }
            }
        }
        sm.copy_from_slice(&s3);
        *mn = n3;
        *mx = x3;
    }
}

/// Scratch planes of a box filter (sized by [`box_mean`] on first use, then reused).
#[derive(Default)]
struct BoxScratch<const N: usize> {
    tmp: Vec<[f32; N]>,
    acc: Vec<[f32; N]>,
    inv: Vec<f32>,
}

fn add<const N: usize>(a: &mut [f32; N], b: &[f32; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

fn sub<const N: usize>(a: &mut [f32; N], b: &[f32; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x -= y;
    }
}

fn scaled<const N: usize>(a: &[f32; N], k: f32) -> [f32; N] {
    let mut o = *a;
    o.iter_mut().for_each(|v| *v *= k);
    o
}

/// Mean over the (2r+1)² window clipped to the plane (running sums, O(1) per pixel), for
/// planes of N values per pixel.
fn box_mean<const N: usize>(
    src: &[[f32; N]],
    dst: &mut [[f32; N]],
    s: &mut BoxScratch<N>,
    r: usize,
    w: usize,
    h: usize,
) {
    let tmp = &mut s.tmp;
    let acc = &mut s.acc;
    tmp.resize(w * h, [0.0; N]);
    acc.resize(w, [0.0; N]);
    let count = |i: usize, n: usize| ((i + r).min(n - 1) - i.saturating_sub(r) + 1) as f32;
    s.inv.clear();
    s.inv.extend((0..w).map(|x| 1.0 / count(x, w)));
    // Horizontal: running sums along each row (normalised in the vertical pass).
    for (srow, trow) in src.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        let mut sum = [0.0; N];
        for v in &srow[..(r + 1).min(w)] {
            add(&mut sum, v);
        }
        if w >= 2 * r + 2 {
            // x < r: the window grows; r <= x < w-r-1: it slides; then it shrinks.
            for (t, a) in trow[..r].iter_mut().zip(&srow[r + 1..]) {
                *t = sum;
                add(&mut sum, a);
            }
            for ((t, a), d) in trow[r..w - r - 1]
                .iter_mut()
                .zip(&srow[2 * r + 1..])
                .zip(&srow[..w - 2 * r - 1])
            {
                *t = sum;
                add(&mut sum, a);
                sub(&mut sum, d);
            }
            for (t, d) in trow[w - r - 1..].iter_mut().zip(&srow[w - 2 * r - 1..]) {
                *t = sum;
                sub(&mut sum, d);
            }
        } else {
            for (x, t) in trow.iter_mut().enumerate() {
                *t = sum;
                if let Some(a) = srow.get(x + r + 1) {
                    add(&mut sum, a);
                }
                if x >= r {
                    sub(&mut sum, &srow[x - r]);
                }
            }
        }
    }
    // Vertical: running sum of rows, then the mean.
    acc.fill([0.0; N]);
    for row in tmp.chunks_exact(w).take(r + 1) {
        for (a, v) in acc.iter_mut().zip(row) {
            add(a, v);
        }
    }
    for (y, drow) in dst.chunks_exact_mut(w).enumerate() {
        let k = 1.0 / count(y, h);
        for ((d, a), &ix) in drow.iter_mut().zip(acc.iter()).zip(s.inv.iter()) {
            *d = scaled(a, k * ix);
        }
        if y + r + 1 < h {
            let row = &tmp[(y + r + 1) * w..(y + r + 2) * w];
            for (a, v) in acc.iter_mut().zip(row) {
                add(a, v);
            }
        }
        if y >= r {
            let row = &tmp[(y - r) * w..(y - r + 1) * w];
            for (a, v) in acc.iter_mut().zip(row) {
                sub(a, v);
            }
        }
    }
}

/// Bilinear upsampling of a 0–255 plane into `dst` (sized already).
pub fn upsample(resizer: &mut Resizer, src: &[u8], w: u32, h: u32, dst: &mut Mask) {
    let src = ImageRef::new(w, h, src, PixelType::U8).expect("source plane matches its size");
    let mut dimg = Image::from_slice_u8(dst.width, dst.height, &mut dst.data, PixelType::U8)
        .expect("destination plane matches its size");
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    resizer
        .resize(&src, &mut dimg, &opts)
        .expect("same pixel type");
}

/// Box blur of a plane with an (odd-bumped) kernel of `size` pixels; copies when `size` < 2.
pub fn box_blur(src: &Mask, size: u32, dst: &mut Mask) {
    dst.reshape(src.width, src.height);
    if size < 2 {
        dst.data.copy_from_slice(&src.data);
        return;
    }
    let k = size | 1;
    let s = BlurImage::borrow(&src.data, src.width, src.height, FastBlurChannels::Plane);
    let mut d = BlurImageMut::borrow(
        &mut dst.data,
        dst.width,
        dst.height,
        FastBlurChannels::Plane,
    );
    libblur::box_blur(
        &s,
        &mut d,
        BoxBlurParameters {
            x_axis_kernel: k,
            y_axis_kernel: k,
        },
        ThreadingPolicy::Single,
    )
    .expect("layouts match");
}

#[derive(Clone, Copy, PartialEq)]
enum Morph {
    Min,
    Max,
}

/// Separable square min/max filter (radius `r`) in place. Hand-written because none of the
/// image crates we use offer grey-level morphology on u8 planes; van Herk/Gil-Werman keeps it
/// O(1) per pixel whatever the radius.
fn morph(
    m: &mut Mask,
    r: usize,
    op: Morph,
    line: &mut Vec<u8>,
    g: &mut Vec<u8>,
    h: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    let (w, ht) = (m.width as usize, m.height as usize);
    for y in 0..ht {
        let row = &mut m.data[y * w..(y + 1) * w];
        line.clear();
        line.extend_from_slice(row);
        minmax_1d(line, r, op, g, h, out);
        row.copy_from_slice(&out[..w]);
    }
    for x in 0..w {
        line.clear();
        line.extend(m.data[x..].iter().step_by(w).take(ht));
        minmax_1d(line, r, op, g, h, out);
        for (y, v) in out[..ht].iter().enumerate() {
            m.data[y * w + x] = *v;
        }
    }
}

/// Running min/max over windows of `2r+1` (van Herk/Gil-Werman); `out[i]` for each input `i`.
fn minmax_1d(src: &[u8], r: usize, op: Morph, g: &mut Vec<u8>, h: &mut Vec<u8>, out: &mut Vec<u8>) {
    let k = 2 * r + 1;
    let n = src.len();
    let neutral = if op == Morph::Min { 255 } else { 0 };
    let f = |a: u8, b: u8| if op == Morph::Min { a.min(b) } else { a.max(b) };
    // Padded line: r neutral values each side, rounded up to whole blocks of k.
    let len = (n + 2 * r).div_ceil(k) * k;
    g.clear();
    g.resize(len, neutral);
    g[r..r + n].copy_from_slice(src);
    h.clear();
    h.extend_from_slice(g);
    for b in (0..len).step_by(k) {
        for i in b + 1..b + k {
            g[i] = f(g[i], g[i - 1]);
        }
        for i in (b..b + k - 1).rev() {
            h[i] = f(h[i], h[i + 1]);
        }
    }
    out.clear();
    out.extend((0..n).map(|i| f(h[i], g[i + k - 1])));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(src: &[u8], r: usize, op: Morph) -> Vec<u8> {
        (0..src.len())
            .map(|i| {
                let lo = i.saturating_sub(r);
                let hi = (i + r).min(src.len() - 1);
                let it = src[lo..=hi].iter().copied();
                if op == Morph::Min {
                    it.min().unwrap()
                } else {
                    it.max().unwrap()
                }
            })
            .collect()
    }

    #[test]
    fn van_herk_matches_naive_window() {
        let src: Vec<u8> = (0..97u32).map(|i| ((i * 7919) % 251) as u8).collect();
        let (mut g, mut h, mut o) = (vec![], vec![], vec![]);
        for r in [1, 2, 5, 13, 60] {
            for op in [Morph::Min, Morph::Max] {
                minmax_1d(&src, r, op, &mut g, &mut h, &mut o);
                assert_eq!(o, naive(&src, r, op), "r={r}");
            }
        }
    }

    #[test]
    fn shrink_then_grow_removes_specks_and_keeps_big_blobs() {
        let mut m = Mask::new(40, 40);
        m.data[5 * 40 + 5] = 255; // a one-pixel speck
        for y in 10..30 {
            for x in 10..30 {
                m.data[y * 40 + x] = 255;
            }
        }
        let (mut l, mut a, mut b, mut c) = (vec![], vec![], vec![], vec![]);
        morph(&mut m, 2, Morph::Min, &mut l, &mut a, &mut b, &mut c);
        assert_eq!(m.data[5 * 40 + 5], 0);
        assert_eq!(m.data[12 * 40 + 12], 255);
        assert_eq!(m.data[11 * 40 + 11], 0);
        morph(&mut m, 2, Morph::Max, &mut l, &mut a, &mut b, &mut c);
        assert_eq!(m.data[5 * 40 + 5], 0, "speck stays gone");
        assert_eq!(m.data[10 * 40 + 10], 255, "blob restored to its corner");
        assert_eq!(m.data[9 * 40 + 9], 0);
    }

    fn plain(threshold: f32, average: u32) -> RefineParams {
        RefineParams {
            threshold,
            blur: 0,
            shrink: 0,
            grow: 0,
            average,
            mode: RefineMode::Plain,
            temporal: TemporalMode::Mean,
        }
    }

    #[test]
    fn threshold_and_average_follow_settings() {
        let mut r = MaskRefiner::new();
        let p = plain(0.5, 2);
        let mut out = Mask::new(4, 4);
        r.refine(&[0.9; 4], 2, 2, &p, &mut out);
        assert!(out.data.iter().all(|&v| v == 255));
        // Mean of 0.9 and 0.05 is 0.475 < 0.5: background.
        r.refine(&[0.05; 4], 2, 2, &p, &mut out);
        assert!(out.data.iter().all(|&v| v == 0));
        // With no averaging the new mask wins at once.
        let p1 = RefineParams { average: 1, ..p };
        r.refine(&[0.6; 4], 2, 2, &p1, &mut out);
        assert!(out.data.iter().all(|&v| v == 255));
    }

    #[test]
    fn blur_softens_the_edge() {
        let mut m = Mask::new(20, 1);
        m.data[10..].fill(255);
        let mut out = Mask::new(20, 1);
        box_blur(&m, 5, &mut out);
        assert_eq!(out.data[0], 0);
        assert_eq!(out.data[19], 255);
        assert!(out.data[9] > 0 && out.data[9] < 255 && out.data[10] > out.data[9]);
    }

    #[test]
    fn box_mean_matches_naive() {
        let (w, h, r) = (13, 7, 2);
        let src: Vec<[f32; 1]> = (0..w * h).map(|i| [((i * 37) % 11) as f32]).collect();
        let mut dst = vec![[0.0]; w * h];
        box_mean(&src, &mut dst, &mut BoxScratch::default(), r, w, h);
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut n) = (0.0, 0.0);
                for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                    for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                        sum += src[yy * w + xx][0];
                        n += 1.0;
                    }
                }
                assert!((dst[y * w + x][0] - sum / n).abs() < 1e-4, "({x},{y})");
            }
        }
    }

    /// A frame split into a dark left half and a bright right half, with a model mask whose
    /// edge is a wide blurry ramp: the guided filter makes the edge as sharp as the picture's.
    #[test]
    fn guided_edge_follows_the_picture() {
        let (w, h, mw, mh) = (160u32, 96u32, 32u32, 32u32);
        let edge = 83; // the picture's edge (column)
        let mut frame = RgbFrame::new(w, h);
        for (i, px) in frame.data.chunks_exact_mut(3).enumerate() {
            let x = i as u32 % w;
            px.fill(if x >= edge { 220 } else { 30 });
        }
        // Model: a 12-pixel soft ramp centred on the picture's edge (2.5 model pixels).
        let probs: Vec<f32> = (0..mw * mh)
            .map(|i| {
                let x = ((i % mw) as f32 + 0.5) * w as f32 / mw as f32;
                (((x - edge as f32) / 12.0) + 0.5).clamp(0.0, 1.0)
            })
            .collect();
        let p = RefineParams {
            blur: 6,
            mode: RefineMode::Guided,
            temporal: TemporalMode::Adaptive,
            ..plain(0.5, 1)
        };
        // (column of the largest step between neighbours, its size)
        let step = |m: &Mask| -> (u32, u8) {
            let row = &m.data[(h / 2 * w) as usize..(h / 2 * w + w) as usize];
            let (x, d) = row
                .windows(2)
                .map(|p| p[1].saturating_sub(p[0]))
                .enumerate()
                .max_by_key(|&(_, d)| d)
                .unwrap();
            (x as u32 + 1, d)
        };
        let mut out = Mask::new(w, h);
        MaskRefiner::new().refine_guided(&probs, mw, mh, &frame, &p, &mut out);
        let (x, d) = step(&out);
        assert_eq!(x, edge, "the sharpest step is on the picture's edge");
        // 125 measured (radius 2 cells; a 5-cell window is narrower than the 12-pixel ramp).
        assert!(d >= 110, "guided step {d}");
        // Without the frame the edge is the model's soft ramp.
        MaskRefiner::new().refine(&probs, mw, mh, &p, &mut out);
        let (_, d) = step(&out);
        assert!(d <= 50, "unguided step {d}");
    }

    /// In `guided` mode a larger `blur` gives a softer edge, 0 a hard one.
    #[test]
    fn blur_sets_the_guided_edge_softness() {
        let (w, h, m) = (64u32, 8u32, 16u32);
        let probs: Vec<f32> = (0..m * m)
            .map(|i| (i % m) as f32 / (m - 1) as f32)
            .collect();
        let soft_pixels = |blur: u32| {
            let p = RefineParams {
                blur,
                mode: RefineMode::Guided,
                ..plain(0.5, 1)
            };
            let mut out = Mask::new(w, h);
            MaskRefiner::new().refine(&probs, m, m, &p, &mut out);
            out.data[..w as usize]
                .iter()
                .filter(|&&v| v > 0 && v < 255)
                .count()
        };
        let (hard, default, soft) = (soft_pixels(0), soft_pixels(6), soft_pixels(24));
        assert!(hard < default && default < soft, "{hard} {default} {soft}");
    }

    /// Still picture, flickering model: adaptive smoothing damps it. Moving picture: it follows.
    #[test]
    fn adaptive_smoothing_damps_flicker_but_follows_motion() {
        let (w, h, m) = (64u32, 64u32, 16u32);
        let p = RefineParams {
            blur: 6,
            mode: RefineMode::Guided,
            temporal: TemporalMode::Adaptive,
            ..plain(0.5, 4)
        };
        let frame = RgbFrame::new(w, h);
        let mut r = MaskRefiner::new();
        let mut out = Mask::new(w, h);
        r.refine_guided(&vec![0.2; (m * m) as usize], m, m, &frame, &p, &mut out);
        r.refine_guided(&vec![0.8; (m * m) as usize], m, m, &frame, &p, &mut out);
        // Still: 0.2 + w·0.6 with w = 1/4 → 0.35, below the threshold.
        assert!(out.data.iter().all(|&v| v < 100), "{}", out.data[0]);
        // The picture changes everywhere: the new mask is taken as it is.
        let mut bright = RgbFrame::new(w, h);
        bright.data.fill(200);
        r.refine_guided(&vec![0.9; (m * m) as usize], m, m, &bright, &p, &mut out);
        assert!(out.data.iter().all(|&v| v == 255), "{}", out.data[0]);
    }
}
