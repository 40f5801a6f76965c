//! The operations behind the filters ([`super::defs`]), each working in place on a layer's RGBA
//! buffer.

use super::FilterOp;
use crate::compose::media::Media;
use crate::compose::{FrameCtx, LayerSource};
use crate::frame::RgbaImage;
use fast_image_resize::FilterType;
use libblur::{BlurImage, BlurImageMut, BoxBlurParameters, FastBlurChannels, ThreadingPolicy};
use std::collections::VecDeque;

/// A lookup table of `f` over all byte values.
pub(super) fn table(f: impl Fn(u8) -> u8) -> [u8; 256] {
    std::array::from_fn(|i| f(i as u8))
}

/// BT.601 luma, as OpenCV's RGB→grey.
pub(super) fn luma(p: &[u8]) -> u8 {
    ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29 + 128) >> 8) as u8
}

/// A filter that changes each RGBA pixel on its own.
pub(super) struct PerPixel<F: FnMut(&mut [u8]) + Send>(pub(super) F);

impl<F: FnMut(&mut [u8]) + Send> FilterOp for PerPixel<F> {
    fn apply(&mut self, img: &mut RgbaImage, _: &FrameCtx) {
        img.data.chunks_exact_mut(4).for_each(&mut self.0);
    }
}

/// `image`, `image_sequence`, `video`: the layer becomes the frame due at the current time.
pub(super) struct Show {
    pub(super) media: Media,
}

impl FilterOp for Show {
    fn apply(&mut self, img: &mut RgbaImage, ctx: &FrameCtx) {
        let (w, h) = (img.width, img.height);
        self.media.draw(ctx.time, img);
        // Media are built at the frame size; should the frame size change before the layers are
        // rebuilt, keep the layer's size (transparent) rather than break the composition.
        if img.width != w || img.height != h {
            img.reshape(w, h);
            img.data.fill(0);
        }
    }

    fn media_bytes(&self) -> usize {
        self.media.bytes()
    }
}

/// `blur`, `gaussian_blur` and `light_wrap`.
///
/// - On an `input` layer the blur is *mask-weighted*: `blur(bg·(1−m)) / blur(1−m)`, so only
///   background pixels are averaged and the person's colours do not bleed into the blurred
///   background (no halo around the person once the foreground is drawn on top). Where no
///   background lies within the kernel (deep inside the person) the camera pixel shows.
/// - Large kernels run at reduced resolution: area-downscale by a whole factor, blur with the
///   kernel scaled to match (the downscale and the bilinear upscale add a little blur of their
///   own, taken off the kernel), upscale. The result differs from the full-resolution blur by
///   about a level on average (tests/edges.rs measures it) at a fraction of the cost.
/// - `light_wrap` (on a `previous` layer above the foreground): the person's edge takes on a
///   little of the blurred background's light: `out = img + s·m·(blur(img·(1−m)) − W·img)`,
///   `W = blur(1−m)`, so the person sits in the new background instead of on it.
pub struct Blur {
    kx: u32,
    ky: u32,
    gaussian: bool,
    /// Blur only the background (the layer is `input`).
    masked: bool,
    /// `light_wrap` strength (0–1); `None` for a blur.
    wrap: Option<f32>,
    /// Allow the reduced-resolution path.
    reduce: bool,
    tmp: RgbaImage,
    out: RgbaImage,
    small: RgbaImage,
    small_blur: RgbaImage,
    resizer: fast_image_resize::Resizer,
    muldiv: fast_image_resize::MulDiv,
}

/// OpenCV's sigma for a Gaussian kernel size, as the original's `cv2.GaussianBlur(k, 0)`.
fn gaussian_sigma(k: u32) -> f64 {
    0.3 * ((k as f64 - 1.0) * 0.5 - 1.0) + 0.8
}

/// Nearest odd whole number (at least 1).
fn odd(v: f64) -> u32 {
    let n = v.max(1.0);
    let lo = ((n - 1.0) / 2.0).floor() * 2.0 + 1.0;
    (if n - lo > 1.0 { lo + 2.0 } else { lo }) as u32
}

impl Blur {
    /// A box (`gaussian` false) or Gaussian blur with kernels `kx`, `ky` (made odd) on a layer
    /// of source `layer` (mask-weighted on `input`).
    pub fn new(kx: u32, ky: u32, gaussian: bool, layer: LayerSource) -> Self {
        Blur {
            kx: kx.max(1) | 1,
            ky: ky.max(1) | 1,
            gaussian,
            masked: layer == LayerSource::Input,
            wrap: None,
            reduce: true,
            tmp: RgbaImage::default(),
            out: RgbaImage::default(),
            small: RgbaImage::default(),
            small_blur: RgbaImage::default(),
            resizer: fast_image_resize::Resizer::new(),
            muldiv: fast_image_resize::MulDiv::default(),
        }
    }

    /// `light_wrap`: background light reaching `radius` pixels into the person, `strength` 0–1.
    pub fn light_wrap(radius: u32, strength: f32) -> Self {
        let k = 2 * radius.max(1) + 1;
        Blur {
            wrap: Some(strength.clamp(0.0, 1.0)),
            masked: true,
            ..Blur::new(k, k, false, LayerSource::Previous)
        }
    }

    /// The same filter, always at full resolution (the reference the reduced path is
    /// measured against).
    pub fn full_resolution(mut self) -> Self {
        self.reduce = false;
        self
    }

    /// The whole factor the frame is reduced by before blurring (1 = full resolution).
    pub fn reduction(&self) -> u32 {
        if !self.reduce {
            return 1;
        }
        let k = self.kx.min(self.ky);
        if self.gaussian {
            // Keep at least 1.5 pixels of sigma at the reduced size.
            (gaussian_sigma(k) / 1.5).floor().clamp(1.0, 4.0) as u32
        } else {
            // Keep a kernel of at least 3 at the reduced size.
            (k / 3).clamp(1, 4)
        }
    }

    /// Blurs `src` into `dst` (same size) with kernels `kx`, `ky`, or Gaussian sigmas.
    fn blur_into(
        src: &RgbaImage,
        dst: &mut RgbaImage,
        (kx, ky): (u32, u32),
        sigma: Option<(f64, f64)>,
    ) {
        dst.reshape(src.width, src.height);
        let s = BlurImage::borrow(
            &src.data,
            src.width,
            src.height,
            FastBlurChannels::Channels4,
        );
        let mut d = BlurImageMut::borrow(
            &mut dst.data,
            src.width,
            src.height,
            FastBlurChannels::Channels4,
        );
        let policy = ThreadingPolicy::Single;
        let res = match sigma {
            Some((sx, sy)) => libblur::gaussian_blur(
                &s,
                &mut d,
                libblur::GaussianBlurParams {
                    x_kernel: kx,
                    x_sigma: sx,
                    y_kernel: ky,
                    y_sigma: sy,
                },
                libblur::EdgeMode2D::new(libblur::EdgeMode::Reflect101),
                policy,
                libblur::ConvolutionMode::FixedPoint,
            ),
            None => libblur::box_blur(
                &s,
                &mut d,
                BoxBlurParameters {
                    x_axis_kernel: kx,
                    y_axis_kernel: ky,
                },
                policy,
            ),
        };
        debug_assert!(res.is_ok(), "{res:?}");
    }

    /// The reduced kernels (and Gaussian sigmas) for a reduction by `f`. The area downscale
    /// and the bilinear upscale blur by about f²/4 pixels² of variance of their own: the reduced
    /// kernel makes up the rest.
    fn reduced_kernels(&self, f: u32) -> ((u32, u32), Option<(f64, f64)>) {
        let ff = f as f64;
        if self.gaussian {
            let s = |k: u32| (gaussian_sigma(k).powi(2) - ff * ff / 4.0).max(0.25).sqrt() / ff;
            (
                (
                    odd(self.kx as f64 / ff).max(3),
                    odd(self.ky as f64 / ff).max(3),
                ),
                Some((s(self.kx), s(self.ky))),
            )
        } else {
            // A box of k has a variance of (k² − 1)/12 pixels².
            let k = |k: u32| odd(((k * k) as f64 / (ff * ff) - 2.0).max(1.0).sqrt()).max(3);
            ((k(self.kx), k(self.ky)), None)
        }
    }

    /// Shrinks `src` by `f` (area average, channels as they are) into `self.small`.
    fn shrink(&mut self, src: &RgbaImage, f: u32) {
        self.small
            .reshape(src.width.div_ceil(f), src.height.div_ceil(f));
        resize_rgba(&mut self.resizer, src, &mut self.small, FilterType::Box);
    }

    /// Shrinks the weighted, premultiplied layer in `self.tmp` by `f` and blurs it into
    /// `self.small_blur`.
    fn blur_weights_reduced(&mut self, f: u32) {
        let tmp = std::mem::take(&mut self.tmp);
        self.shrink(&tmp, f);
        self.tmp = tmp;
        self.blur_small(f);
    }

    /// Blurs `self.small` into `self.small_blur` with the kernels for a reduction by `f`.
    fn blur_small(&mut self, f: u32) {
        let (kernels, sigma) = self.reduced_kernels(f);
        Self::blur_into(&self.small, &mut self.small_blur, kernels, sigma);
    }

    /// Enlarges `self.small_blur` into `dst` (bilinear, channels as they are).
    fn enlarge(&mut self, dst: &mut RgbaImage) {
        resize_rgba(
            &mut self.resizer,
            &self.small_blur,
            dst,
            FilterType::Bilinear,
        );
    }
}

/// Resizes `src` into `dst` (its own size) by convolution with `filter`, channels as they are
/// (no alpha weighting: the blur premultiplies itself).
fn resize_rgba(
    resizer: &mut fast_image_resize::Resizer,
    src: &RgbaImage,
    dst: &mut RgbaImage,
    filter: FilterType,
) {
    use fast_image_resize::{images, PixelType, ResizeAlg, ResizeOptions};
    let s = images::ImageRef::new(src.width, src.height, &src.data, PixelType::U8x4)
        .expect("buffer matches its size");
    let mut d = images::Image::from_slice_u8(dst.width, dst.height, &mut dst.data, PixelType::U8x4)
        .expect("buffer matches its size");
    let opts = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(filter))
        .use_alpha(false);
    resizer.resize(&s, &mut d, &opts).expect("same pixel type");
}

/// Copies `src` into `dst` with the background weight `255 − mask` as alpha; false if `src`
/// is not opaque (the alpha channel is about to carry the weight).
fn weights_into_alpha(src: &[u8], mask: &[u8], dst: &mut [u8]) -> bool {
    dst.copy_from_slice(src);
    let mut all = 0xFF;
    for (p, &m) in dst.chunks_exact_mut(4).zip(mask) {
        all &= p[3];
        p[3] = 255 - m;
    }
    all == 0xFF
}

/// The camera frame (RGB) weighted by the background, `255 − mask`, premultiplied, with the
/// weight as alpha: what [`weights_into_alpha`] and a premultiplication make of a filled
/// `input` layer, bit for bit, in one pass (the blur is bound by memory traffic, not arithmetic).
fn frame_weights_premultiplied(frame: &[u8], mask: &[u8], dst: &mut [u8]) {
    crate::with_avx2!({
        for ((d, s), &m) in dst.chunks_exact_mut(4).zip(frame.chunks_exact(3)).zip(mask) {
            let w = 255 - m as u32;
            let p = |c: u8| crate::compose::div255(c as u32 * w) as u8;
            d.copy_from_slice(&[p(s[0]), p(s[1]), p(s[2]), w as u8]);
        }
    })
}

/// Un-premultiplies a blurred background in place and makes it opaque. Where hardly any
/// background was within reach (weight below 8/255: deep inside the person, hidden by the
/// foreground) it fades to the camera pixel at `(x·f + f/2, y·f + f/2)` of `frame`.
fn unpremultiply(
    muldiv: &fast_image_resize::MulDiv,
    img: &mut RgbaImage,
    frame: &crate::frame::RgbFrame,
    f: u32,
) {
    use fast_image_resize::{images, PixelType};
    const T: u32 = 8;
    let (w, h) = (img.width, img.height);
    let mut view = images::Image::from_slice_u8(w, h, &mut img.data, PixelType::U8x4)
        .expect("buffer matches its size");
    muldiv
        .divide_alpha_inplace(&mut view)
        .expect("U8x4 is supported");
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    let (w, f) = (w as usize, f as usize);
    for (y, row) in img.data.chunks_exact_mut(w * 4).enumerate() {
        let fy = (y * f + f / 2).min(fh - 1);
        let frow = &frame.data[fy * fw * 3..(fy + 1) * fw * 3];
        for (x, p) in row.chunks_exact_mut(4).enumerate() {
            let a = p[3] as u32;
            if a < T {
                let fx = (x * f + f / 2).min(fw - 1);
                for (c, &k) in p[..3].iter_mut().zip(&frow[fx * 3..fx * 3 + 3]) {
                    *c = ((*c as u32 * a + k as u32 * (T - a)) / T) as u8;
                }
            }
            p[3] = 255;
        }
    }
}

impl FilterOp for Blur {
    fn keeps_opaque(&self) -> bool {
        true
    }

    fn background_rows(&mut self, ctx: &FrameCtx) -> Option<&RgbaImage> {
        let f = self.reduction();
        if f == 1 || !self.weights_from_frame(ctx) {
            return None;
        }
        self.blur_weights_reduced(f);
        unpremultiply(&self.muldiv, &mut self.small_blur, ctx.frame, f);
        // Only the horizontal pass of the enlargement (same height): the compositor does the
        // vertical one row by row.
        let mut wide = std::mem::take(&mut self.out);
        wide.reshape(ctx.frame.width, self.small_blur.height);
        self.enlarge(&mut wide);
        self.out = wide;
        Some(&self.out)
    }

    fn apply_to_frame(&mut self, img: &mut RgbaImage, ctx: &FrameCtx) -> bool {
        if !self.weights_from_frame(ctx) {
            return false;
        }
        img.reshape(ctx.frame.width, ctx.frame.height);
        self.blur_weighted(img, ctx, true);
        true
    }

    fn apply(&mut self, img: &mut RgbaImage, ctx: &FrameCtx) {
        if self.kx == 1 && self.ky == 1 && self.wrap.is_none() {
            return;
        }
        let (w, h) = (img.width, img.height);
        let f = self.reduction();
        // Weighted by the background: 255 − mask in alpha (the layer must be opaque), then
        // premultiplied.
        self.tmp.reshape(w, h);
        let weighted = self.masked
            && ctx.mask.width == w
            && ctx.mask.height == h
            && weights_into_alpha(&img.data, &ctx.mask.data, &mut self.tmp.data);
        if weighted {
            self.blur_weighted(img, ctx, false);
            return;
        }
        if self.wrap.is_some() {
            return;
        }
        if f == 1 {
            self.tmp.data.copy_from_slice(&img.data);
            let sigma = self
                .gaussian
                .then(|| (gaussian_sigma(self.kx), gaussian_sigma(self.ky)));
            Self::blur_into(&self.tmp, img, (self.kx, self.ky), sigma);
        } else {
            self.shrink(img, f);
            self.blur_small(f);
            self.enlarge(img);
        }
    }
}

impl Blur {
    /// For a masked blur on the camera frame: the frame's premultiplied background weights
    /// into `self.tmp`; false when this filter has no such shortcut.
    fn weights_from_frame(&mut self, ctx: &FrameCtx) -> bool {
        let (w, h) = (ctx.frame.width, ctx.frame.height);
        if !self.masked || self.wrap.is_some() || (self.kx, self.ky) == (1, 1) {
            return false;
        }
        if (ctx.mask.width, ctx.mask.height) != (w, h) {
            return false;
        }
        self.tmp.reshape(w, h);
        frame_weights_premultiplied(&ctx.frame.data, &ctx.mask.data, &mut self.tmp.data);
        true
    }

    /// The mask-weighted blur (or light wrap) of `self.tmp` (the layer with the background
    /// weight in alpha, `premultiplied` already or not) into `img`.
    fn blur_weighted(&mut self, img: &mut RgbaImage, ctx: &FrameCtx, premultiplied: bool) {
        let (w, h) = (img.width, img.height);
        let f = self.reduction();
        if !premultiplied {
            use fast_image_resize::{images, PixelType};
            let mut view = images::Image::from_slice_u8(w, h, &mut self.tmp.data, PixelType::U8x4)
                .expect("buffer matches its size");
            self.muldiv
                .multiply_alpha_inplace(&mut view)
                .expect("U8x4 is supported");
        }
        self.out.reshape(w, h);
        if f == 1 {
            let sigma = self
                .gaussian
                .then(|| (gaussian_sigma(self.kx), gaussian_sigma(self.ky)));
            Self::blur_into(&self.tmp, &mut self.out, (self.kx, self.ky), sigma);
        } else {
            self.blur_weights_reduced(f);
            if self.wrap.is_some() {
                let mut out = std::mem::take(&mut self.out);
                self.enlarge(&mut out);
                self.out = out;
            }
        }
        if let Some(s) = self.wrap {
            // out = img + s·m·(B − W·img), B = blurred premultiplied background, W its weight.
            let s = (s * 256.0) as i32;
            for ((p, b), &m) in img
                .data
                .chunks_exact_mut(4)
                .zip(self.out.data.chunks_exact(4))
                .zip(&ctx.mask.data)
            {
                let k = s * m as i32; // strength × mask, scaled by 256·255
                let wgt = b[3] as i32;
                for c in 0..3 {
                    let v = p[c] as i32;
                    let d = b[c] as i32 * 255 - wgt * v; // (B − W·img) scaled by 255
                    p[c] = (v + ((k * (d / 255)) >> 16)).clamp(0, 255) as u8;
                }
                p[3] = 255;
            }
            return;
        }
        if f == 1 {
            unpremultiply(&self.muldiv, &mut self.out, ctx.frame, 1);
            std::mem::swap(img, &mut self.out);
        } else {
            unpremultiply(&self.muldiv, &mut self.small_blur, ctx.frame, f);
            self.enlarge(img);
        }
    }
}

/// `roll`: scroll by a constant speed per frame, wrapping around (like numpy.roll).
pub(super) struct Roll {
    sx: i32,
    sy: i32,
    tmp: Vec<u8>,
}

impl Roll {
    /// Scrolls by `sx`, `sy` pixels a frame.
    pub(super) fn new(sx: i32, sy: i32) -> Self {
        Roll {
            sx,
            sy,
            tmp: vec![],
        }
    }
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

/// `flip`: mirrors left to right (`h`) and top to bottom (`v`).
pub(super) struct Flip {
    pub(super) h: bool,
    pub(super) v: bool,
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

/// `stripes`: horizontal bands `width` px high, alternately darker and lighter by `intensity`
/// (semi-transparent black and white bands), moving down by `speed` px per frame.
pub(super) struct Stripes {
    width: u32,
    speed: i32,
    dark: [u8; 256],
    light: [u8; 256],
}

impl Stripes {
    /// Bands `width` px high at opacity `intensity`/255, moving `speed` px a frame.
    pub(super) fn new(width: u32, intensity: u8, speed: i32) -> Self {
        // A black (dark) or white (light) band at opacity intensity/255.
        let k = intensity as u32;
        Stripes {
            width,
            speed,
            dark: table(|v| ((v as u32 * (255 - k) + 127) / 255) as u8),
            light: table(|v| (v as u32 + ((255 - v as u32) * k + 127) / 255) as u8),
        }
    }
}

impl FilterOp for Stripes {
    fn apply(&mut self, img: &mut RgbaImage, ctx: &FrameCtx) {
        let w = img.width as usize;
        let period = 2 * self.width as i64;
        let shift = (self.speed as i64 * ctx.index as i64).rem_euclid(period);
        for (y, row) in img.data.chunks_exact_mut(w * 4).enumerate() {
            let dark = (y as i64 - shift).rem_euclid(period) < self.width as i64;
            let lut = if dark { &self.dark } else { &self.light };
            for p in row.chunks_exact_mut(4) {
                p[0] = lut[p[0] as usize];
                p[1] = lut[p[1] as usize];
                p[2] = lut[p[2] as usize];
            }
        }
    }
}

/// `chroma_key`: pixels within `fuzz` (0–1 of the RGB cube's diagonal) of the key become
/// transparent, with a soft ramp over the next 25 % of `fuzz` so keyed edges do not alias.
pub(super) struct ChromaKey {
    pub(super) key: [u8; 3],
    pub(super) fuzz: f32,
}

impl FilterOp for ChromaKey {
    fn apply(&mut self, img: &mut RgbaImage, _: &FrameCtx) {
        // Squared distances in integers; a square root only on the soft ramp.
        let diag = 3.0 * 255.0f32 * 255.0;
        let inner = (self.fuzz * self.fuzz * diag) as i32;
        let outer = ((self.fuzz * 1.25).powi(2) * diag) as i32;
        let (ri, ro) = ((inner as f32).sqrt(), (outer as f32).sqrt());
        let k = self.key.map(|c| c as i32);
        for p in img.data.chunks_exact_mut(4) {
            let (dr, dg, db) = (p[0] as i32 - k[0], p[1] as i32 - k[1], p[2] as i32 - k[2]);
            let d = dr * dr + dg * dg + db * db;
            if d <= inner {
                p[3] = 0;
            } else if d < outer {
                let t = ((d as f32).sqrt() - ri) / (ro - ri);
                p[3] = (p[3] as f32 * t) as u8;
            }
        }
    }
}

/// Anchor of `translate_to_head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Centre of the head.
    Head,
    /// Eye line (upper part of the head).
    Eyes,
}

/// `translate_to_head`: moves the layer so its centre sits on the person's head, smoothed.
pub(super) struct TranslateToHead {
    anchor: Anchor,
    n: usize,
    history: VecDeque<(f32, f32)>,
    tmp: Vec<u8>,
}

impl TranslateToHead {
    /// Follows the `anchor` point, averaged over `n` frames.
    pub(super) fn new(anchor: Anchor, n: usize) -> Self {
        TranslateToHead {
            anchor,
            n,
            history: VecDeque::new(),
            tmp: vec![],
        }
    }
}

/// Where the head is in a mask (255 = person): the person's top blob from its highest row down
/// to the neck (the narrowest row before the shoulders widen it), or down to 1.4 head widths
/// when no shoulders are in view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadBox {
    /// Top row of the head (the highest person pixels: hair, or a hat).
    pub top: f32,
    /// Bottom row (the neck, or the chin when no shoulders are seen).
    pub bottom: f32,
    /// Leftmost and rightmost columns of the head.
    pub left: f32,
    /// Rightmost column (exclusive).
    pub right: f32,
    /// Centroid of the head's pixels.
    pub centroid: (f32, f32),
}

/// Eye line as a fraction of the head box from its top (the mask's top includes the hair).
pub const EYES_FRACTION: f32 = 0.52;

/// Finds the head in a mask; `None` when nobody is there.
pub fn head_box(mask: &crate::frame::Mask) -> Option<HeadBox> {
    let (w, h) = (mask.width as usize, mask.height as usize);
    if w == 0 || h == 0 || mask.data.len() < w * h {
        return None;
    }
    let min_run = (w / 64).max(3);
    // The longest run of person pixels in row `y` that overlaps `span` (anywhere when `None`).
    let run_in = |y: usize, span: Option<(usize, usize)>| -> Option<(usize, usize)> {
        let row = &mask.data[y * w..(y + 1) * w];
        let mut best: Option<(usize, usize)> = None;
        let mut x = 0;
        while x < w {
            if row[x] > 127 {
                let s = x;
                while x < w && row[x] > 127 {
                    x += 1;
                }
                let overlaps = span.is_none_or(|(lo, hi)| s < hi && x > lo);
                if overlaps && best.is_none_or(|(bs, be)| x - s > be - bs) {
                    best = Some((s, x));
                }
            } else {
                x += 1;
            }
        }
        best
    };
    // Follow the blob down from its top row, one overlapping run per row.
    let track = |top: usize| -> Vec<(usize, usize)> {
        let mut spans = vec![];
        let mut prev = None;
        for y in top..h {
            match run_in(y, prev) {
                Some(r) => {
                    spans.push(r);
                    prev = Some(r);
                }
                None => break,
            }
        }
        spans
    };
    // The top: the first row with a run wide enough that goes on for a few rows (skips specks).
    let mut found = None;
    for y in 0..h {
        if run_in(y, None).is_some_and(|(s, e)| e - s >= min_run) {
            let spans = track(y);
            let wide = spans.iter().filter(|(s, e)| e - s >= min_run).count();
            if wide >= (min_run * 2).min(h - y) {
                found = Some((y, spans));
                break;
            }
        }
    }
    let (top, spans) = found?;
    let widths: Vec<usize> = spans.iter().map(|(s, e)| e - s).collect();
    // Head width: the widest row while still within one head width of the top.
    let mut head_w = 0usize;
    let mut bottom = None;
    for (i, &wd) in widths.iter().enumerate() {
        if i < head_w.max(min_run) {
            head_w = head_w.max(wd);
            continue;
        }
        let from = (head_w * 4 / 5).min(i);
        if wd * 2 > head_w * 3 && i > from {
            // Shoulders: the head ends at the narrowest row above them (the neck).
            let neck = (from..i).min_by_key(|&j| widths[j]).unwrap_or(i);
            bottom = Some(neck);
            break;
        }
        if i as f32 >= 1.4 * head_w as f32 {
            bottom = Some(i);
            break;
        }
    }
    let bottom = bottom.unwrap_or(widths.len()).max(1);
    let (mut sx, mut sy, mut n) = (0f64, 0f64, 0f64);
    let (mut left, mut right) = (usize::MAX, 0);
    for (i, &(s, e)) in spans[..bottom].iter().enumerate() {
        let len = (e - s) as f64;
        sx += (s + e - 1) as f64 / 2.0 * len;
        sy += (top + i) as f64 * len;
        n += len;
        left = left.min(s);
        right = right.max(e);
    }
    Some(HeadBox {
        top: top as f32,
        bottom: (top + bottom) as f32,
        left: left as f32,
        right: right as f32,
        centroid: ((sx / n) as f32, (sy / n) as f32),
    })
}

/// Head position (x, y) in pixels: the head's centroid (`head`), or its centre column at the
/// estimated eye line (`eyes`).
pub fn head_position(mask: &crate::frame::Mask, anchor: Anchor) -> Option<(f32, f32)> {
    let b = head_box(mask)?;
    Some(match anchor {
        Anchor::Head => b.centroid,
        Anchor::Eyes => (b.centroid.0, b.top + (b.bottom - b.top) * EYES_FRACTION),
    })
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
