//! The filters of SPEC §4, each working in place on a layer's RGBA buffer.

use super::media::{load_animation, Animation};
use super::{ComposeError, FrameCtx};
use crate::config::{Anchor, Filter, LayerSource};
use crate::frame::RgbaImage;
use libblur::{BlurImage, BlurImageMut, BoxBlurParameters, FastBlurChannels, ThreadingPolicy};
use std::collections::VecDeque;

/// A filter applied to a layer every frame.
pub trait FilterOp: Send {
    /// Transforms `img` in place.
    fn apply(&mut self, img: &mut RgbaImage, ctx: &FrameCtx);
}

/// Builds the runtime filter for a parsed one (loads media once, at output size).
pub fn build_filter(
    f: &Filter,
    layer: LayerSource,
    w: u32,
    h: u32,
) -> Result<Box<dyn FilterOp>, ComposeError> {
    let media_err =
        |filter: &'static str, path: &std::path::Path, reason: String| ComposeError::Media {
            layer: layer.to_string(),
            filter,
            path: path.to_owned(),
            reason,
        };
    Ok(match f {
        Filter::Image {
            path,
            interpolation,
        } => {
            let anim = load_animation(path, w, h, *interpolation)
                .map_err(|r| media_err("image", path, r))?;
            Box::new(Show { anim })
        }
        Filter::ImageSequence {
            path,
            fps,
            interpolation,
        } => {
            let anim = super::media::load_sequence(path, *fps, w, h, *interpolation)
                .map_err(|r| media_err("image_sequence", path, r))?;
            Box::new(Show { anim })
        }
        Filter::Video {
            path,
            target_fps,
            interpolation,
        } => {
            let anim = super::media::load_video(path, *target_fps, w, h, *interpolation)
                .map_err(|r| media_err("video", path, r))?;
            Box::new(Show { anim })
        }
        Filter::Blur { x, y } => Box::new(Blur {
            kx: *x,
            ky: *y,
            gaussian: false,
            tmp: RgbaImage::default(),
        }),
        Filter::GaussianBlur { x, y } => Box::new(Blur {
            kx: *x,
            ky: *y,
            gaussian: true,
            tmp: RgbaImage::default(),
        }),
        Filter::Grayscale => Box::new(PerPixel(|p: &mut [u8]| {
            let l = luma(p);
            p[..3].fill(l);
        })),
        Filter::Roll { speed_x, speed_y } => Box::new(Roll {
            sx: *speed_x,
            sy: *speed_y,
            tmp: vec![],
        }),
        Filter::ChangeAlpha { change, min, max } => {
            let (c, lo, hi) = (*change, *min as i32, *max as i32);
            Box::new(PerPixel(move |p: &mut [u8]| {
                p[3] = (p[3] as i32 + c).clamp(lo, hi) as u8
            }))
        }
        Filter::Colorize { r, g, b } => {
            let col = [*r as u32, *g as u32, *b as u32];
            Box::new(PerPixel(move |p: &mut [u8]| {
                let l = luma(p) as u32;
                for c in 0..3 {
                    p[c] = ((l * col[c] + 127) / 255) as u8;
                }
            }))
        }
        Filter::ColorFilter { r, g, b } => {
            let col = [*r as u32, *g as u32, *b as u32];
            Box::new(PerPixel(move |p: &mut [u8]| {
                for c in 0..3 {
                    p[c] = ((p[c] as u32 * col[c] + 127) / 255) as u8;
                }
            }))
        }
        Filter::SolidColor { r, g, b } => {
            let col = [*r, *g, *b];
            Box::new(PerPixel(move |p: &mut [u8]| p[..3].copy_from_slice(&col)))
        }
        Filter::Flip {
            horizontal,
            vertical,
        } => Box::new(Flip {
            h: *horizontal,
            v: *vertical,
        }),
        Filter::Stripes {
            width,
            intensity,
            speed,
        } => Box::new(Stripes {
            width: *width,
            intensity: *intensity,
            speed: *speed,
        }),
        Filter::ChromaKey { r, g, b, fuzz } => Box::new(ChromaKey {
            key: [*r, *g, *b],
            fuzz: *fuzz,
        }),
        Filter::TranslateToHead {
            anchor,
            average_frames,
        } => Box::new(TranslateToHead {
            anchor: *anchor,
            n: *average_frames as usize,
            history: VecDeque::new(),
            tmp: vec![],
        }),
    })
}

/// BT.601 luma, as OpenCV's RGB→grey.
fn luma(p: &[u8]) -> u8 {
    ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29 + 128) >> 8) as u8
}

struct PerPixel<F: FnMut(&mut [u8]) + Send>(F);

impl<F: FnMut(&mut [u8]) + Send> FilterOp for PerPixel<F> {
    fn apply(&mut self, img: &mut RgbaImage, _: &FrameCtx) {
        img.data.chunks_exact_mut(4).for_each(&mut self.0);
    }
}

/// `image`, `image_sequence`, `video`: show the frame due at the current time.
struct Show {
    anim: Animation,
}

impl FilterOp for Show {
    fn apply(&mut self, img: &mut RgbaImage, ctx: &FrameCtx) {
        let f = self.anim.frame_at(ctx.time);
        if f.data.len() == img.data.len() {
            img.data.copy_from_slice(&f.data);
        }
    }
}

struct Blur {
    kx: u32,
    ky: u32,
    gaussian: bool,
    tmp: RgbaImage,
}

impl FilterOp for Blur {
    fn apply(&mut self, img: &mut RgbaImage, _: &FrameCtx) {
        // libblur wants odd kernels; a kernel of 1 is no blur.
        let (kx, ky) = (self.kx.max(1) | 1, self.ky.max(1) | 1);
        if kx == 1 && ky == 1 {
            return;
        }
        self.tmp.reshape(img.width, img.height);
        self.tmp.data.copy_from_slice(&img.data);
        let src = BlurImage::borrow(
            &self.tmp.data,
            img.width,
            img.height,
            FastBlurChannels::Channels4,
        );
        let mut dst = BlurImageMut::borrow(
            &mut img.data,
            img.width,
            img.height,
            FastBlurChannels::Channels4,
        );
        let policy = ThreadingPolicy::Single;
        let res = if self.gaussian {
            // OpenCV's sigma for a given kernel size, as the original's cv2.GaussianBlur(k, 0).
            let sigma = |k: u32| 0.3 * ((k as f64 - 1.0) * 0.5 - 1.0) + 0.8;
            let params = libblur::GaussianBlurParams {
                x_kernel: kx,
                x_sigma: sigma(kx),
                y_kernel: ky,
                y_sigma: sigma(ky),
            };
            libblur::gaussian_blur(
                &src,
                &mut dst,
                params,
                libblur::EdgeMode2D::new(libblur::EdgeMode::Reflect101),
                policy,
                libblur::ConvolutionMode::FixedPoint,
            )
        } else {
            libblur::box_blur(
                &src,
                &mut dst,
                BoxBlurParameters {
                    x_axis_kernel: kx,
                    y_axis_kernel: ky,
                },
                policy,
            )
        };
        debug_assert!(res.is_ok(), "{res:?}");
    }
}

/// `roll`: scroll by a constant speed per frame, wrapping around (like numpy.roll).
struct Roll {
    sx: i32,
    sy: i32,
    tmp: Vec<u8>,
}

impl FilterOp for Roll {
    fn apply(&mut self, img: &mut RgbaImage, ctx: &FrameCtx) {
        let (w, h) = (img.width as i64, img.height as i64);
        let dx = (self.sx as i64 * ctx.index as i64).rem_euclid(w) as usize;
        let dy = (self.sy as i64 * ctx.index as i64).rem_euclid(h) as usize;
        if dx == 0 && dy == 0 {
            return;
        }
        self.tmp.clear();
        self.tmp.extend_from_slice(&img.data);
        let (w, h, row) = (w as usize, h as usize, w as usize * 4);
        for y in 0..h {
            let src = &self.tmp[y * row..(y + 1) * row];
            let ty = (y + dy) % h;
            let dst = &mut img.data[ty * row..(ty + 1) * row];
            // Pixel x moves to x+dx: the row's tail wraps to its front.
            let split = (w - dx) * 4;
            dst[dx * 4..].copy_from_slice(&src[..split]);
            dst[..dx * 4].copy_from_slice(&src[split..]);
        }
    }
}

struct Flip {
    h: bool,
    v: bool,
}

impl FilterOp for Flip {
    fn apply(&mut self, img: &mut RgbaImage, _: &FrameCtx) {
        let (w, hgt) = (img.width as usize, img.height as usize);
        if self.h {
            for row in img.data.chunks_exact_mut(w * 4) {
                for x in 0..w / 2 {
                    let (a, b) = row.split_at_mut((w - 1 - x) * 4);
                    a[x * 4..x * 4 + 4].swap_with_slice(&mut b[..4]);
                }
            }
        }
        if self.v {
            for y in 0..hgt / 2 {
                let (top, bottom) = img.data.split_at_mut((hgt - 1 - y) * w * 4);
                top[y * w * 4..(y + 1) * w * 4].swap_with_slice(&mut bottom[..w * 4]);
            }
        }
    }
}

/// `stripes`: horizontal bands `width` px high, alternately darker and lighter by `intensity`,
/// moving down by `speed` px per frame.
struct Stripes {
    width: u32,
    intensity: u8,
    speed: i32,
}

impl FilterOp for Stripes {
    fn apply(&mut self, img: &mut RgbaImage, ctx: &FrameCtx) {
        let w = img.width as usize;
        let shift =
            (self.speed as i64 * ctx.index as i64).rem_euclid(2 * self.width as i64) as usize;
        let k = self.intensity as u32;
        for (y, row) in img.data.chunks_exact_mut(w * 4).enumerate() {
            let dark =
                ((y + 2 * self.width as usize - shift) / self.width as usize).is_multiple_of(2);
            for p in row.chunks_exact_mut(4) {
                for c in &mut p[..3] {
                    let v = *c as u32;
                    *c = if dark {
                        (v * (255 - k) + 127) / 255
                    } else {
                        v + ((255 - v) * k + 127) / 255
                    } as u8;
                }
            }
        }
    }
}

/// `chroma_key`: pixels within `fuzz` (0–1 of the RGB cube's diagonal) of the key become
/// transparent, with a soft ramp over the next 25 % of `fuzz` so keyed edges do not alias.
struct ChromaKey {
    key: [u8; 3],
    fuzz: f32,
}

impl FilterOp for ChromaKey {
    fn apply(&mut self, img: &mut RgbaImage, _: &FrameCtx) {
        let max = 3.0 * 255.0f32 * 255.0;
        let inner = (self.fuzz * self.fuzz) * max;
        let outer = (self.fuzz * 1.25).powi(2) * max;
        for p in img.data.chunks_exact_mut(4) {
            let d: f32 = (0..3)
                .map(|c| (p[c] as f32 - self.key[c] as f32).powi(2))
                .sum();
            if d <= inner {
                p[3] = 0;
            } else if d < outer {
                let t = (d.sqrt() - inner.sqrt()) / (outer.sqrt() - inner.sqrt());
                p[3] = (p[3] as f32 * t) as u8;
            }
        }
    }
}

/// `translate_to_head`: moves the layer so its centre sits on the person's head, smoothed.
struct TranslateToHead {
    anchor: Anchor,
    n: usize,
    history: VecDeque<(f32, f32)>,
    tmp: Vec<u8>,
}

/// Head position (x, y) in pixels from a mask: the centroid of the top band of the person,
/// the band being as tall as the person is wide there (a head is about as tall as wide).
pub fn head_position(mask: &crate::frame::Mask, anchor: Anchor) -> Option<(f32, f32)> {
    let w = mask.width as usize;
    let rows: Vec<u32> = mask
        .data
        .chunks_exact(w)
        .map(|r| r.iter().filter(|&&v| v > 127).count() as u32)
        .collect();
    let min_row = (w / 100).max(2) as u32;
    let top = rows.iter().position(|&c| c >= min_row)?;
    // Head width: the median row width over the next few rows (robust to hair strands).
    let probe: Vec<u32> = {
        let mut v: Vec<u32> = rows[top..(top + 12).min(rows.len())].to_vec();
        v.sort_unstable();
        v
    };
    let head_w = probe[probe.len() / 2].max(min_row) as usize;
    let band = (head_w * 5 / 4).min(rows.len() - top);
    let (mut sx, mut n) = (0u64, 0u64);
    for y in top..top + band {
        for (x, &v) in mask.data[y * w..(y + 1) * w].iter().enumerate() {
            if v > 127 {
                sx += x as u64;
                n += 1;
            }
        }
    }
    if n == 0 {
        return None;
    }
    let frac = if anchor == Anchor::Head { 0.5 } else { 0.45 };
    Some((sx as f32 / n as f32, top as f32 + band as f32 * frac))
}

impl FilterOp for TranslateToHead {
    fn apply(&mut self, img: &mut RgbaImage, ctx: &FrameCtx) {
        if let Some(p) = head_position(ctx.mask, self.anchor) {
            self.history.push_back(p);
            while self.history.len() > self.n {
                self.history.pop_front();
            }
        }
        if self.history.is_empty() {
            return;
        }
        let k = self.history.len() as f32;
        let (hx, hy) = self
            .history
            .iter()
            .fold((0.0, 0.0), |a, p| (a.0 + p.0 / k, a.1 + p.1 / k));
        let (w, h) = (img.width as i64, img.height as i64);
        let dx = (hx - w as f32 / 2.0).round() as i64;
        let dy = (hy - h as f32 / 2.0).round() as i64;
        self.tmp.clear();
        self.tmp.extend_from_slice(&img.data);
        img.data.fill(0);
        for y in 0..h {
            let sy = y - dy;
            if sy < 0 || sy >= h {
                continue;
            }
            let (x0, x1) = ((dx).max(0), (w + dx).min(w));
            if x0 >= x1 {
                continue;
            }
            let src = (sy * w + x0 - dx) as usize * 4;
            let dst = (y * w + x0) as usize * 4;
            let len = (x1 - x0) as usize * 4;
            img.data[dst..dst + len].copy_from_slice(&self.tmp[src..src + len]);
        }
    }
}
