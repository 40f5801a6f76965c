//! The person-tracking crop (`track_person`): the model runs on a crop around the person found
//! in the previous mask, so more of its input pixels fall on the person. The crop's
//! probabilities are painted onto a fixed-size probability canvas covering the whole frame
//! (outside the crop: background), which the refinement takes like a model output, so the
//! guided filter, the temporal smoothing and the rest of the pipeline work unchanged.
//!
//! The whole frame is used instead when no person was found, when the mask touches an edge of
//! the crop that is not the frame's (a fast move, or someone entering next to it), when the crop
//! would cover most of the frame anyway (no gain: a close talking head), and, in addition to
//! the crop, once every [`REFRESH_SECS`] of the frames' time (every [`REFRESH_FRAMES`] masks
//! when frames carry no time), where it fills the canvas outside the crop (a second person
//! entering further away is found then).

use super::Rect;
use crate::frame::Mask;

/// A crop covering more than this part of the frame's area gives the model too few extra
/// pixels to be worth it: the whole frame is used (as without tracking).
pub const CROP_MAX_AREA: f32 = 0.75;
/// Seconds of frame time between whole-frame looks while cropping: by time, not by count, so
/// a low `mask_fps` does not make a newcomer wait longer.
pub const REFRESH_SECS: f64 = 1.0;
/// Masks between whole-frame looks when frames carry no time (one second at 30 fps).
pub const REFRESH_FRAMES: u32 = 30;
/// Margin added around the person's bounding box on each side, as a part of its larger side.
const MARGIN: f32 = 0.25;
/// The current crop is kept while it holds the person with this smaller margin (fewer crop
/// changes: a moving crop would make the model's output jitter).
const INNER_MARGIN: f32 = 0.1;
/// Smallest crop height, as a part of the frame's (a speck is not worth zooming onto).
const MIN_HEIGHT: f32 = 0.3;
/// Rows of the probability canvas, about twice the refinement's working grid.
const CANVAS_ROWS: u32 = 216;

/// Where one canvas column (or row) lies in a painted region: the model pixel before it, the
/// weight of the next one, and whether it lies in the region (1), in the skipped part (2), or
/// outside (0).
type Tap = (u32, f32, u8);

/// Chooses each frame's crop from the previous mask and keeps the probability canvas.
#[derive(Default)]
pub struct Tracker {
    enabled: bool,
    /// Frame size the state belongs to.
    w: u32,
    h: u32,
    /// Model input aspect (width / height): crops take it, so the person is not distorted.
    aspect: f32,
    /// Whether a crop has been used for this frame size: from then on every frame's
    /// probabilities go through the canvas (its size stays, so the smoothing keeps its history).
    engaged: bool,
    /// The probability canvas and its size.
    canvas: Vec<f32>,
    cw: u32,
    ch: u32,
    /// The crop for the next frame, and the one used for the current frame.
    next: Option<Rect>,
    current: Option<Rect>,
    since_full: u32,
    /// Frame time of the last whole-frame look.
    last_full: Option<f64>,
    xs: Vec<Tap>,
    ys: Vec<Tap>,
}

/// What to run the model on for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The crop, if any.
    pub crop: Option<Rect>,
    /// Whether the whole frame is run too (alone when there is no crop; with a crop it fills
    /// the canvas outside the crop).
    pub whole: bool,
}

impl Tracker {
    /// A tracker, on or off.
    pub fn new(enabled: bool) -> Self {
        Tracker {
            enabled,
            ..Default::default()
        }
    }

    /// Whether tracking is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Turns tracking on or off (a change starts afresh).
    pub fn set_enabled(&mut self, on: bool) {
        if on != self.enabled {
            *self = Tracker::new(on);
        }
    }

    /// Forgets the person's position (a new model or source).
    pub fn reset(&mut self) {
        *self = Tracker::new(self.enabled);
    }

    /// Whether this frame's probabilities go through the canvas.
    pub fn engaged(&self) -> bool {
        self.enabled && self.engaged
    }

    /// The probability canvas and its size (valid after [`Tracker::paint`]).
    pub fn canvas(&self) -> (&[f32], u32, u32) {
        (&self.canvas, self.cw, self.ch)
    }

    /// The crop used for the current frame.
    pub fn current(&self) -> Option<Rect> {
        self.current
    }

    /// Decides what the model runs on for a frame of `w`x`h` taken at `time` (seconds, `None`
    /// when unknown), for a model of `mw`x`mh`.
    pub fn plan(&mut self, w: u32, h: u32, mw: u32, mh: u32, time: Option<f64>) -> Plan {
        let aspect = mw as f32 / mh.max(1) as f32;
        if (w, h) != (self.w, self.h) || aspect != self.aspect {
            *self = Tracker::new(self.enabled);
            (self.w, self.h, self.aspect) = (w, h, aspect);
        }
        self.current = if self.enabled { self.next } else { None };
        let Some(crop) = self.current else {
            self.since_full = 0;
            self.last_full = time;
            return Plan {
                crop: None,
                whole: true,
            };
        };
        if !self.engaged {
            self.engaged = true;
            let s = (w.min(h) as f32 / CANVAS_ROWS as f32).round().max(1.0) as u32;
            (self.cw, self.ch) = (w.div_ceil(s), h.div_ceil(s));
            self.canvas = vec![0.0; (self.cw * self.ch) as usize];
        }
        self.since_full += 1;
        let whole = match (time, self.last_full) {
            // A clock going back (a file looping, a new source) counts as due.
            (Some(t), Some(last)) => t - last >= REFRESH_SECS - 1e-6 || t < last,
            (Some(_), None) => true,
            (None, _) => self.since_full >= REFRESH_FRAMES,
        };
        if whole {
            self.since_full = 0;
            self.last_full = time;
        }
        Plan {
            crop: Some(crop),
            whole,
        }
    }

    /// Paints model probabilities (`mw`x`mh`) covering `region` of the frame onto the canvas
    /// (bilinear). Canvas pixels outside `region` become 0 (background), except those inside
    /// `keep`, which stay as painted before.
    pub fn paint(&mut self, probs: &[f32], mw: u32, mh: u32, region: Rect, keep: Option<Rect>) {
        let (w, h, cw, ch) = (self.w, self.h, self.cw, self.ch);
        taps(
            &mut self.xs,
            cw,
            w,
            mw,
            (region.x, region.w),
            keep.map(|k| (k.x, k.w)),
        );
        taps(
            &mut self.ys,
            ch,
            h,
            mh,
            (region.y, region.h),
            keep.map(|k| (k.y, k.h)),
        );
        let mw = mw as usize;
        for (row, &(j0, fy, iny)) in self.canvas.chunks_exact_mut(cw as usize).zip(&self.ys) {
            let r0 = &probs[j0 as usize * mw..];
            let r1 = if mh > 1 {
                &probs[(j0 as usize + 1) * mw..]
            } else {
                r0
            };
            for (c, &(i0, fx, inx)) in row.iter_mut().zip(&self.xs) {
                // In the kept rectangle (both coordinates in it): leave.
                if iny & inx & 2 != 0 {
                    continue;
                }
                *c = if iny & inx & 1 != 0 {
                    let i0 = i0 as usize;
                    let i1 = if mw > 1 { i0 + 1 } else { i0 };
                    let top = r0[i0] + fx * (r0[i1] - r0[i0]);
                    let bottom = r1[i0] + fx * (r1[i1] - r1[i0]);
                    top + fy * (bottom - top)
                } else {
                    0.0
                };
            }
        }
    }

    /// Takes the frame's final mask: chooses the next frame's crop from the person's bounding
    /// box (alpha at 0.5).
    pub fn observe(&mut self, alpha: &Mask) {
        self.next = None;
        if !self.enabled || (alpha.width, alpha.height) != (self.w, self.h) {
            return;
        }
        let Some(b) = bbox(alpha) else {
            return;
        };
        let (w, h) = (self.w, self.h);
        if let Some(c) = self.current {
            // The person reaches an edge of the crop inside the frame: maybe cut off there.
            let (tx, ty) = ((c.w / 32).max(4), (c.h / 32).max(4));
            if (c.x > 0 && b.0 <= c.x + tx)
                || (c.y > 0 && b.1 <= c.y + ty)
                || (c.x + c.w < w && b.2 + tx >= c.x + c.w)
                || (c.y + c.h < h && b.3 + ty >= c.y + c.h)
            {
                return;
            }
        }
        let want = self.expand(b, MARGIN);
        if (want.w as f32) * (want.h as f32) > CROP_MAX_AREA * (w as f32) * (h as f32) {
            return;
        }
        if let Some(c) = self.current {
            let inner = self.expand(b, INNER_MARGIN);
            let holds = c.x <= inner.x
                && c.y <= inner.y
                && c.x + c.w >= inner.x + inner.w
                && c.y + c.h >= inner.y + inner.h;
            if holds && (c.w as f32 * c.h as f32) <= 1.5 * (want.w as f32 * want.h as f32) {
                self.next = Some(c);
                return;
            }
        }
        self.next = Some(want);
    }

    /// The box `b` (x0, y0, x1, y1 inclusive) with a margin, widened to the model's aspect,
    /// at least [`MIN_HEIGHT`] of the frame high, shifted and clamped into the frame.
    fn expand(&self, b: (u32, u32, u32, u32), margin: f32) -> Rect {
        let (w, h) = (self.w as f32, self.h as f32);
        let (bw, bh) = ((b.2 - b.0 + 1) as f32, (b.3 - b.1 + 1) as f32);
        let m = margin * bw.max(bh);
        let (mut cw, mut ch) = (bw + 2.0 * m, bh + 2.0 * m);
        ch = ch.max(MIN_HEIGHT * h);
        if cw < ch * self.aspect {
            cw = ch * self.aspect;
        } else {
            ch = cw / self.aspect;
        }
        let (cw, ch) = (cw.min(w).round(), ch.min(h).round());
        let (cx, cy) = ((b.0 + b.2 + 1) as f32 / 2.0, (b.1 + b.3 + 1) as f32 / 2.0);
        let x = (cx - cw / 2.0).clamp(0.0, w - cw).round();
        let y = (cy - ch / 2.0).clamp(0.0, h - ch).round();
        Rect {
            x: x as u32,
            y: y as u32,
            w: (cw as u32).max(1),
            h: (ch as u32).max(1),
        }
    }
}

/// Bounding box (x0, y0, x1, y1, inclusive) of the alpha at 0.5, from every other row.
fn bbox(alpha: &Mask) -> Option<(u32, u32, u32, u32)> {
    let w = alpha.width as usize;
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for (y, row) in alpha.data.chunks_exact(w).enumerate().step_by(2) {
        let Some(l) = row.iter().position(|&a| a >= 128) else {
            continue;
        };
        let r = row.iter().rposition(|&a| a >= 128).unwrap_or(l);
        let y = y as u32;
        b = Some(match b {
            None => (l as u32, y, r as u32, y),
            Some(o) => (o.0.min(l as u32), o.1, o.2.max(r as u32), y),
        });
    }
    // Every other row: the last one may lie one row further.
    b.map(|o| (o.0, o.1, o.2, (o.3 + 1).min(alpha.height - 1)))
}

/// Canvas columns (or rows) `n` covering `frame` pixels, in a region (start, length) seen by
/// `model` pixels, and a kept part (start, length).
fn taps(
    out: &mut Vec<Tap>,
    n: u32,
    frame: u32,
    model: u32,
    region: (u32, u32),
    keep: Option<(u32, u32)>,
) {
    out.clear();
    let scale = frame as f32 / n as f32;
    let (r0, rl) = (region.0 as f32, region.1.max(1) as f32);
    for i in 0..n {
        let f = (i as f32 + 0.5) * scale;
        let mut flag = 0u8;
        if f >= r0 && f < r0 + rl {
            flag |= 1;
        }
        if let Some((k0, kl)) = keep {
            if f >= k0 as f32 && f < (k0 + kl) as f32 {
                flag |= 2;
            }
        }
        let u = ((f - r0) * model as f32 / rl - 0.5).clamp(0.0, (model - 1) as f32);
        let i0 = (u.floor() as u32).min(model.saturating_sub(2));
        out.push((i0, (u - i0 as f32).min(1.0), flag));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_with_box(w: u32, h: u32, b: (u32, u32, u32, u32)) -> Mask {
        let mut m = Mask::new(w, h);
        for y in b.1..=b.3 {
            for x in b.0..=b.2 {
                m.data[(y * w + x) as usize] = 255;
            }
        }
        m
    }

    #[test]
    fn crop_follows_a_small_person_and_falls_back() {
        let mut t = Tracker::new(true);
        let (w, h) = (1280, 720);
        assert_eq!(t.plan(w, h, 256, 144, None).crop, None);
        // A person in the lower left third.
        t.observe(&mask_with_box(w, h, (100, 400, 399, 719)));
        let p = t.plan(w, h, 256, 144, None);
        let c = p.crop.expect("a crop");
        assert!(!p.whole);
        assert!(c.x <= 100 && c.x + c.w >= 400 && c.y + c.h == 720, "{c:?}");
        assert!(
            (c.w as f32 / c.h as f32 - 256.0 / 144.0).abs() < 0.02,
            "{c:?}"
        );
        assert!(t.engaged());
        // Still there: the same crop.
        t.observe(&mask_with_box(w, h, (110, 400, 405, 719)));
        assert_eq!(t.plan(w, h, 256, 144, None).crop, Some(c));
        // Touching the crop's right edge: the whole frame next.
        t.observe(&mask_with_box(w, h, (110, 400, c.x + c.w - 1, 719)));
        assert_eq!(t.plan(w, h, 256, 144, None).crop, None);
        // A large person: the whole frame, no crop.
        t.observe(&mask_with_box(w, h, (100, 50, 1100, 719)));
        assert_eq!(t.plan(w, h, 256, 144, None).crop, None);
        // Nobody: the whole frame.
        t.observe(&Mask::new(w, h));
        assert_eq!(t.plan(w, h, 256, 144, None).crop, None);
    }

    #[test]
    fn whole_frame_is_looked_at_periodically() {
        let mut t = Tracker::new(true);
        let (w, h) = (1280, 720);
        t.plan(w, h, 256, 144, None);
        let m = mask_with_box(w, h, (600, 400, 800, 719));
        let mut wholes = 0;
        for _ in 0..REFRESH_FRAMES * 3 {
            t.observe(&m);
            let p = t.plan(w, h, 256, 144, None);
            assert!(p.crop.is_some());
            wholes += p.whole as u32;
        }
        assert_eq!(wholes, 3);
    }

    #[test]
    fn whole_frame_looks_follow_the_frames_time() {
        let (w, h) = (1280, 720);
        let m = mask_with_box(w, h, (600, 400, 800, 719));
        // 10 masks a second (`mask_fps: 10`), the first on the whole frame: a whole-frame look
        // every 10 masks after it, not every 30.
        let mut t = Tracker::new(true);
        t.plan(w, h, 256, 144, Some(0.0));
        let mut wholes = vec![];
        for i in 1..=40 {
            t.observe(&m);
            let p = t.plan(w, h, 256, 144, Some(i as f64 * 0.1));
            assert!(p.crop.is_some());
            if p.whole {
                wholes.push(i);
            }
        }
        assert_eq!(wholes, [10, 20, 30, 40]);
        // A 60 fps camera: once a second, every 60 frames.
        let mut t = Tracker::new(true);
        t.plan(w, h, 256, 144, Some(0.0));
        let mut n = 0;
        for i in 1..=240 {
            t.observe(&m);
            n += t.plan(w, h, 256, 144, Some(i as f64 / 60.0)).whole as u32;
        }
        assert_eq!(n, 4);
    }

    #[test]
    fn paint_maps_the_crop_and_clears_outside() {
        let mut t = Tracker::new(true);
        let (w, h) = (640, 360);
        t.plan(w, h, 4, 4, None);
        t.observe(&mask_with_box(w, h, (300, 200, 360, 359)));
        let c = t.plan(w, h, 4, 4, None).crop.unwrap();
        t.paint(&[1.0; 16], 4, 4, c, None);
        let (canvas, cw, ch) = t.canvas();
        let (sx, sy) = (w as f32 / cw as f32, h as f32 / ch as f32);
        for (i, &p) in canvas.iter().enumerate() {
            let (x, y) = (
                ((i as u32 % cw) as f32 + 0.5) * sx,
                ((i as u32 / cw) as f32 + 0.5) * sy,
            );
            let inside = x >= c.x as f32
                && x < (c.x + c.w) as f32
                && y >= c.y as f32
                && y < (c.y + c.h) as f32;
            assert_eq!(p, if inside { 1.0 } else { 0.0 }, "at {x},{y}");
        }
        // The whole frame painted around the crop keeps the crop's values.
        let all = Rect { x: 0, y: 0, w, h };
        t.paint(&[0.5; 16], 4, 4, all, Some(c));
        let (canvas, _, _) = t.canvas();
        assert!(canvas.iter().all(|&p| p == 1.0 || p == 0.5));
        assert!(canvas.contains(&1.0) && canvas.contains(&0.5));
    }
}
