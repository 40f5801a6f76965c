//! Mask post-processing (SPEC §3/§5): temporal averaging, upsampling to the frame, threshold,
//! shrink (`dilate`) then grow (`erode`), and edge blur.

use crate::config::Config;
use crate::frame::Mask;
use fast_image_resize::{
    images::Image, images::ImageRef, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer,
};
use libblur::{BlurImage, BlurImageMut, BoxBlurParameters, FastBlurChannels, ThreadingPolicy};

/// The refinement settings, taken from the config (all applied instantly on reload).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineParams {
    /// Person probability threshold (0–1).
    pub threshold: f32,
    /// Box blur of the mask edge, pixels.
    pub blur: u32,
    /// Shrink by this many pixels.
    pub shrink: u32,
    /// Then grow by this many pixels.
    pub grow: u32,
    /// Number of recent masks averaged.
    pub average: u32,
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
        }
    }
}

/// Turns model-resolution probabilities into a full-resolution alpha mask, reusing its buffers.
#[derive(Default)]
pub struct MaskRefiner {
    history: Vec<Vec<f32>>,
    next: usize,
    filled: usize,
    small: Vec<u8>,
    resizer: Resizer,
    full: Mask,
    line: Vec<u8>,
    scratch: (Vec<u8>, Vec<u8>, Vec<u8>),
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
    }

    /// Mean of the last `average` probability masks (model resolution), as 0–255 bytes.
    fn average(&mut self, probs: &[f32], average: usize) -> &[u8] {
        let n = probs.len();
        if self.history.len() != average || self.history.first().is_some_and(|h| h.len() != n) {
            self.history = vec![vec![0.0; n]; average];
            self.reset();
        }
        self.history[self.next].copy_from_slice(probs);
        self.next = (self.next + 1) % average;
        self.filled = (self.filled + 1).min(average);
        self.small.resize(n, 0);
        let scale = 255.0 / self.filled as f32;
        let hist = &self.history[..self.filled];
        for (i, out) in self.small.iter_mut().enumerate() {
            let s: f32 = hist.iter().map(|h| h[i]).sum();
            *out = (s * scale + 0.5).clamp(0.0, 255.0) as u8;
        }
        &self.small
    }

    /// Refines `probs` (`mw*mh`, person probability) into `out` (already sized to the frame).
    pub fn refine(&mut self, probs: &[f32], mw: u32, mh: u32, p: &RefineParams, out: &mut Mask) {
        self.average(probs, p.average as usize);
        self.full.reshape(out.width, out.height);
        upsample(&mut self.resizer, &self.small, mw, mh, &mut self.full);
        let t = (p.threshold * 255.0).round() as u8;
        for v in self.full.data.iter_mut() {
            *v = if *v > t { 255 } else { 0 };
        }
        let (a, b, c) = &mut self.scratch;
        if p.shrink > 0 {
            morph(
                &mut self.full,
                p.shrink as usize,
                Morph::Min,
                &mut self.line,
                a,
                b,
                c,
            );
        }
        if p.grow > 0 {
            morph(
                &mut self.full,
                p.grow as usize,
                Morph::Max,
                &mut self.line,
                a,
                b,
                c,
            );
        }
        box_blur(&self.full, p.blur, out);
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

    #[test]
    fn threshold_and_average_follow_settings() {
        let mut r = MaskRefiner::new();
        let p = RefineParams {
            threshold: 0.5,
            blur: 0,
            shrink: 0,
            grow: 0,
            average: 2,
        };
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
}
