//! Composition (SPEC §4): layers drawn bottom to top, each a source plus filters, alpha-composited.
//!
//! Changing the layers while running (hot reload) is split in two so that no frame waits for a
//! video to decode: [`Plan::prepare`] builds the layers that are new (any thread), and
//! [`Compositor::install`] swaps them in between two frames, keeping every unchanged layer as it
//! is (its decoded media and its animation phase). [`Compositor::update`] does both at once.

pub mod filters;
mod layers;
pub use crate::media;

pub use filters::{
    head_box, head_position, Anchor, Blur, BuildCtx, Filter, FilterError, FilterOp, HeadBox,
    EYES_FRACTION, FILTER_NAMES,
};
pub use layers::{FilterArg, LayerError, LayerSource, LayerSpec, LAYER_SOURCES, MAX_FILTERS};

use crate::frame::{Mask, RgbFrame, RgbaImage};
use media::MediaOptions;
use std::path::PathBuf;

/// Errors building layers (missing or unreadable pictures, videos, folders).
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// A picture, folder or video used by a filter cannot be read.
    #[error("layer `{layer}`, filter `{filter}`: cannot use {path}: {reason}")]
    Media {
        /// Layer source name.
        layer: String,
        /// Filter name.
        filter: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// What went wrong and how to fix it (boxed: errors travel by value through the stages).
        reason: Box<media::MediaError>,
    },
    /// `BACKDROP_MEDIA_BUDGET_MIB` is not a number.
    #[error("{0}")]
    Budget(Box<media::MediaError>),
    /// The layers' frame buffers would take more memory than allowed.
    #[error("{layers} layers at {width}x{height} need {need_mib} MiB of layer buffers, more than the {max_mib} MiB allowed; use fewer layers or a smaller frame size")]
    TooLarge {
        /// Number of layers.
        layers: usize,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
        /// Memory they would need, MiB.
        need_mib: usize,
        /// The limit, MiB ([`LAYER_BUFFER_BUDGET`]).
        max_mib: usize,
    },
}

/// Most memory the layers' own frame buffers (4 bytes a pixel each) may take together: 1 GiB,
/// e.g. 64 layers at 1080p, 32 at 4K; decoded backgrounds have their own budget
/// ([`media::media_budget`]).
pub const LAYER_BUFFER_BUDGET: usize = 1 << 30;

/// Per-frame information filters may use.
pub struct FrameCtx<'a> {
    /// The camera frame.
    pub frame: &'a RgbFrame,
    /// The person mask at frame size (255 = person).
    pub mask: &'a Mask,
    /// Frame number since the start.
    pub index: u64,
    /// Seconds since the start of the stream (media time for files).
    pub time: f64,
}

struct Layer {
    source: LayerSource,
    filters: Vec<Box<dyn FilterOp>>,
    buf: RgbaImage,
    /// Decoded media held by the filters.
    bytes: usize,
}

fn build_layer(
    spec: &LayerSpec,
    width: u32,
    height: u32,
    media: MediaOptions,
) -> Result<Layer, ComposeError> {
    let mut filters = Vec::with_capacity(spec.filters.len());
    let mut bytes = 0;
    for f in &spec.filters {
        let op = f.build(&BuildCtx {
            layer: spec.source,
            width,
            height,
            media: MediaOptions {
                budget: media.budget.saturating_sub(bytes),
                ..media
            },
        })?;
        bytes += op.media_bytes();
        filters.push(op);
    }
    Ok(Layer {
        source: spec.source,
        filters,
        buf: RgbaImage::new(width, height),
        bytes,
    })
}

/// What a compositor holds, enough to prepare a change of layers on another thread: the layer
/// specs, the media memory of each, the frame size and the media options.
#[derive(Debug, Clone)]
pub struct Plan {
    specs: Vec<LayerSpec>,
    bytes: Vec<usize>,
    width: u32,
    height: u32,
    media: MediaOptions,
    generation: u64,
}

/// New layers built by [`Plan::prepare`], ready for [`Compositor::install`].
pub struct Prepared {
    plan: Plan,
    slots: Vec<Slot>,
    base: u64,
}

enum Slot {
    /// Keep the current layer with this index.
    Keep(usize),
    /// A newly built layer.
    New(Layer),
}

impl Prepared {
    /// The plan of the compositor once this is installed (to prepare the next change from).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// How many layers were built anew (the rest are kept as they run).
    pub fn built(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::New(_)))
            .count()
    }
}

impl Plan {
    /// The layers.
    pub fn specs(&self) -> &[LayerSpec] {
        &self.specs
    }

    /// Media bytes held by all layers.
    pub fn media_bytes(&self) -> usize {
        self.bytes.iter().sum()
    }

    /// Builds what `specs` needs that the compositor does not have yet (the slow part of a
    /// change: pictures and videos are decoded here). Layers whose spec is unchanged, at the same
    /// frame size, are kept. On error nothing changes.
    pub fn prepare(
        &self,
        specs: &[LayerSpec],
        width: u32,
        height: u32,
    ) -> Result<Prepared, ComposeError> {
        let need = specs
            .len()
            .saturating_mul(width as usize * height as usize * 4);
        if need > LAYER_BUFFER_BUDGET {
            return Err(ComposeError::TooLarge {
                layers: specs.len(),
                width,
                height,
                need_mib: need >> 20,
                max_mib: LAYER_BUFFER_BUDGET >> 20,
            });
        }
        let same_size = width == self.width && height == self.height;
        let mut taken = vec![false; self.specs.len()];
        let keep: Vec<Option<usize>> = specs
            .iter()
            .map(|spec| {
                let i = (0..self.specs.len())
                    .find(|&i| same_size && !taken[i] && self.specs[i] == *spec)?;
                taken[i] = true;
                Some(i)
            })
            .collect();
        let mut used: usize = keep.iter().flatten().map(|&i| self.bytes[i]).sum();
        let mut slots = Vec::with_capacity(specs.len());
        let mut bytes = Vec::with_capacity(specs.len());
        for (spec, k) in specs.iter().zip(keep) {
            match k {
                Some(i) => {
                    slots.push(Slot::Keep(i));
                    bytes.push(self.bytes[i]);
                }
                None => {
                    let left = MediaOptions {
                        budget: self.media.budget.saturating_sub(used),
                        ..self.media
                    };
                    let layer = build_layer(spec, width, height, left)?;
                    used += layer.bytes;
                    bytes.push(layer.bytes);
                    slots.push(Slot::New(layer));
                }
            }
        }
        Ok(Prepared {
            plan: Plan {
                specs: specs.to_vec(),
                bytes,
                width,
                height,
                media: self.media,
                generation: self.generation + 1,
            },
            slots,
            base: self.generation,
        })
    }
}

/// The layer stack, with per-layer buffers reused across frames.
pub struct Compositor {
    layers: Vec<Layer>,
    acc: RgbaImage,
    /// One interpolated background row (the blurred-background shortcut).
    row: Vec<u8>,
    plan: Plan,
}

impl Compositor {
    /// Builds the layers (loading pictures and videos once) for frames of `width`x`height`, with
    /// the default media options ([`MediaOptions::from_env`]).
    pub fn new(specs: &[LayerSpec], width: u32, height: u32) -> Result<Self, ComposeError> {
        let media = MediaOptions::from_env().map_err(|e| ComposeError::Budget(Box::new(e)))?;
        Self::with_options(specs, width, height, media)
    }

    /// As [`Compositor::new`], with at most `budget` bytes of decoded media in memory (larger
    /// backgrounds are streamed).
    pub fn with_budget(
        specs: &[LayerSpec],
        width: u32,
        height: u32,
        budget: usize,
    ) -> Result<Self, ComposeError> {
        let media = MediaOptions {
            budget,
            stream_wait: media::STREAM_WAIT,
        };
        Self::with_options(specs, width, height, media)
    }

    /// As [`Compositor::new`], with the given media budget and stream wait.
    pub fn with_options(
        specs: &[LayerSpec],
        width: u32,
        height: u32,
        media: MediaOptions,
    ) -> Result<Self, ComposeError> {
        let mut c = Compositor {
            layers: vec![],
            acc: RgbaImage::new(width, height),
            row: Vec::new(),
            plan: Plan {
                specs: vec![],
                bytes: vec![],
                width,
                height,
                media,
                generation: 0,
            },
        };
        let p = c.plan.prepare(specs, width, height)?;
        c.install(p);
        Ok(c)
    }

    /// A copy of the current plan, for [`Plan::prepare`] on another thread.
    pub fn plan(&self) -> Plan {
        self.plan.clone()
    }

    /// The current layers.
    pub fn specs(&self) -> &[LayerSpec] {
        &self.plan.specs
    }

    /// Bytes of decoded media held by all layers.
    pub fn media_bytes(&self) -> usize {
        self.plan.media_bytes()
    }

    /// Swaps in prepared layers (fast: nothing is decoded unless the compositor changed since the
    /// plan was taken, in which case missing layers are built here).
    pub fn install(&mut self, p: Prepared) {
        let had_media = self.plan.media_bytes();
        let stale = p.base != self.plan.generation;
        let same_size = self.plan.width == p.plan.width && self.plan.height == p.plan.height;
        let mut old: Vec<Option<Layer>> = self.layers.drain(..).map(Some).collect();
        let mut layers = Vec::with_capacity(p.slots.len());
        let mut specs = Vec::with_capacity(p.slots.len());
        let (width, height, media) = (p.plan.width, p.plan.height, p.plan.media);
        for (spec, slot) in p.plan.specs.into_iter().zip(p.slots) {
            let layer = match slot {
                Slot::New(l) => Some(l),
                Slot::Keep(i) if !stale => old.get_mut(i).and_then(Option::take),
                Slot::Keep(_) => {
                    // Prepared against another state: take the same layer, or build it now.
                    let found = (0..old.len())
                        .find(|&i| same_size && old[i].is_some() && self.plan.specs[i] == spec);
                    match found {
                        Some(i) => old[i].take(),
                        None => build_layer(&spec, width, height, media)
                            .map_err(|e| tracing::error!("{e}; leaving the layer out"))
                            .ok(),
                    }
                }
            };
            if let Some(l) = layer {
                layers.push(l);
                specs.push(spec);
            }
        }
        self.plan = Plan {
            bytes: layers.iter().map(|l| l.bytes).collect(),
            specs,
            width,
            height,
            media,
            generation: self.plan.generation + 1,
        };
        self.layers = layers;
        self.acc.reshape(width, height);
        let now = self.plan.media_bytes();
        if now != had_media {
            tracing::info!(
                "backgrounds: {} MiB of decoded media in memory (media budget {} MiB; set {} to change it)",
                media::mib(now),
                media::mib(media.budget),
                media::MEDIA_BUDGET_ENV
            );
        }
    }

    /// Rebuilds for a new layer list, keeping layers whose spec did not change (and so their
    /// animation phase and decoded media). On error the current layers stay.
    pub fn update(
        &mut self,
        specs: &[LayerSpec],
        width: u32,
        height: u32,
    ) -> Result<(), ComposeError> {
        let p = self.plan.prepare(specs, width, height)?;
        self.install(p);
        Ok(())
    }

    /// Composes one frame into `out` (RGB, same size as the frame).
    pub fn compose(&mut self, ctx: &FrameCtx, out: &mut RgbFrame) {
        let (w, h) = (ctx.frame.width, ctx.frame.height);
        // The usual stack, a blurred camera frame under the person: the blur hands over its
        // background before the vertical pass of its enlargement, finished during the blend.
        if let [bg, fg] = &mut self.layers[..] {
            if bg.source == LayerSource::Input
                && bg.filters.len() == 1
                && fg.source == LayerSource::Foreground
                && fg.filters.is_empty()
            {
                let rows = bg.filters[0].background_rows(ctx);
                if let Some(wide) = rows.filter(|b| b.width == w && b.height > 0) {
                    out.reshape(w, h);
                    over_foreground_wide(ctx, wide, &mut self.row, out);
                    return;
                }
            }
        }
        let mut first = true;
        // Whether everything composed so far is known to be opaque (an input layer whose
        // filters keep it so): the final blend then needs no alpha checks.
        let mut opaque = false;
        out.reshape(w, h);
        let n = self.layers.len();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            // A plain foreground layer is blended straight from the frame and the mask: no
            // layer buffer to fill and read back (two full-frame passes saved); on top of the
            // stack it is also flattened in the same pass.
            if layer.source == LayerSource::Foreground && layer.filters.is_empty() && !first {
                if i + 1 == n {
                    over_foreground_flatten(ctx, &self.acc, opaque, out);
                    return;
                }
                over_foreground(ctx, &mut self.acc);
                opaque = false;
                continue;
            }
            layer.buf.reshape(w, h);
            let mut filters = &mut layer.filters[..];
            if first && layer.source == LayerSource::Previous {
                layer.buf.data.fill(0); // nothing is composed yet
            } else if layer.source == LayerSource::Input
                && filters
                    .first_mut()
                    .is_some_and(|f| f.apply_to_frame(&mut layer.buf, ctx))
            {
                filters = &mut filters[1..];
            } else {
                fill_source(layer.source, ctx, &self.acc, &mut layer.buf);
            }
            for f in filters {
                f.apply(&mut layer.buf, ctx);
            }
            opaque = first
                && layer.source == LayerSource::Input
                && layer.filters.iter().all(|f| f.keeps_opaque());
            if first {
                // Over nothing, a layer is itself: swap buffers instead of copying.
                std::mem::swap(&mut layer.buf, &mut self.acc);
                first = false;
            } else {
                over(&layer.buf, &mut self.acc);
            }
        }
        if first {
            self.acc.data.fill(0);
        }
        flatten(&self.acc, out);
    }
}

/// Fills a layer buffer from its source.
fn fill_source(src: LayerSource, ctx: &FrameCtx, acc: &RgbaImage, dst: &mut RgbaImage) {
    let rgb = ctx.frame.data.chunks_exact(3);
    match src {
        LayerSource::Input => crate::with_avx2!({
            for (d, s) in dst.data.chunks_exact_mut(4).zip(rgb) {
                d.copy_from_slice(&[s[0], s[1], s[2], 255]);
            }
        }),
        LayerSource::Foreground => crate::with_avx2!({
            for ((d, s), &a) in dst.data.chunks_exact_mut(4).zip(rgb).zip(&ctx.mask.data) {
                d.copy_from_slice(&[s[0], s[1], s[2], a]);
            }
        }),
        LayerSource::Previous => dst.data.copy_from_slice(&acc.data),
        LayerSource::Empty => dst.data.fill(0),
    }
}

/// `x / 255` rounded, for `x` up to 255 * 255.
#[inline]
fn div255(x: u32) -> u32 {
    (x + 128 + ((x + 128) >> 8)) >> 8
}

/// Straight-alpha "over": `src` drawn onto `dst`. Colours are weighted by alpha, so a
/// half-transparent edge pixel mixes with what is below instead of darkening (no black fringe).
pub fn over(src: &RgbaImage, dst: &mut RgbaImage) {
    for (s, d) in src.data.chunks_exact(4).zip(dst.data.chunks_exact_mut(4)) {
        over_px(s[0], s[1], s[2], s[3], d);
    }
}

/// "Over" of the camera frame with the mask as alpha (a `foreground` layer) onto `dst`.
fn over_foreground(ctx: &FrameCtx, dst: &mut RgbaImage) {
    let px = ctx.frame.data.chunks_exact(3).zip(&ctx.mask.data);
    for ((s, &a), d) in px.zip(dst.data.chunks_exact_mut(4)) {
        over_px(s[0], s[1], s[2], a, d);
    }
}

/// The frame's rows and the mask's, side by side.
#[inline(always)]
fn frame_mask_rows<'a>(ctx: &FrameCtx<'a>) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    let w = ctx.frame.width as usize;
    ctx.frame
        .data
        .chunks_exact(w * 3)
        .zip(ctx.mask.data.chunks_exact(w))
}

/// [`over_foreground`] onto `below`, then [`flatten`], in one pass into `out` (same result);
/// `opaque`: `below` is known to be opaque.
fn over_foreground_flatten(ctx: &FrameCtx, below: &RgbaImage, opaque: bool, out: &mut RgbFrame) {
    let w = ctx.frame.width as usize;
    crate::with_avx2!({
        let rows = frame_mask_rows(ctx).zip(
            below
                .data
                .chunks_exact(w * 4)
                .zip(out.data.chunks_exact_mut(w * 3)),
        );
        for ((frow, mrow), (brow, orow)) in rows {
            over_row(frow, mrow, brow, opaque, orow);
        }
    })
}

/// [`over_foreground_flatten`] over a background given at full width but fewer rows (`wide`,
/// the blur's enlargement before its vertical pass): each output row of the background is
/// interpolated (bilinear, pixel centres aligned) from two rows of `wide` into a one-row buffer
/// and blended at once, so the full-size background is never written and read back.
fn over_foreground_wide(ctx: &FrameCtx, wide: &RgbaImage, row: &mut Vec<u8>, out: &mut RgbFrame) {
    let (w, h) = (ctx.frame.width as usize, ctx.frame.height as usize);
    let wh = wide.height as usize;
    debug_assert!(wide.width as usize == w && wh > 0, "checked by the caller");
    row.resize(w * 4, 0);
    let scale = wh as f32 / h as f32;
    crate::with_avx2!({
        let rows = frame_mask_rows(ctx).zip(out.data.chunks_exact_mut(w * 3));
        for (y, ((frow, mrow), orow)) in rows.enumerate() {
            if <[u8]>::iter(mrow).all(|&m| m == 255) {
                orow.copy_from_slice(frow);
                continue;
            }
            let v = ((y as f32 + 0.5) * scale - 0.5).clamp(0.0, (wh - 1) as f32);
            let j0 = (v as usize).min(wh - 1);
            let j1 = (j0 + 1).min(wh - 1);
            let b = ((v - j0 as f32) * 256.0 + 0.5) as u16;
            let (r0, r1) = (
                &wide.data[j0 * w * 4..][..w * 4],
                &wide.data[j1 * w * 4..][..w * 4],
            );
            for ((d, &p), &q) in row.iter_mut().zip(r0).zip(r1) {
                *d = ((p as u16 * (256 - b) + q as u16 * b + 128) >> 8) as u8;
            }
            over_row(frow, mrow, row, true, orow);
        }
    })
}

/// One row of [`over_foreground_flatten`]: runs of 16 pixels. Most of a mask is 0 or 255 and
/// most backgrounds are opaque, so a run that is wholly person is the frame, one wholly
/// background the layer below, and only the edge is mixed (exact at mask 0 and 255:
/// div255(255·x) = x).
#[inline(always)]
fn over_row(frow: &[u8], mrow: &[u8], brow: &[u8], opaque: bool, orow: &mut [u8]) {
    const N: usize = 16;
    let runs = frow.chunks(N * 3).zip(mrow.chunks(N));
    for ((f, m), (b, o)) in runs.zip(brow.chunks(N * 4).zip(orow.chunks_mut(N * 3))) {
        let word = <[u8; N]>::try_from(m).ok().map(u128::from_ne_bytes);
        if word == Some(u128::MAX) {
            o.copy_from_slice(f);
            continue;
        }
        // A fixed-size fold (vectorised) over the run's alphas.
        let opaque = <&[u8; N * 4]>::try_from(b)
            .is_ok_and(|b| opaque || b.chunks_exact(4).fold(255, |a, p| a & p[3]) == 255);
        if opaque && word == Some(0) {
            rgba_to_rgb(b, o);
        } else if opaque {
            // The edge: the run's channels side by side in fixed-size arrays so that the mix
            // runs in 16-bit vector lanes (255·255 + 255 fits in 16 bits).
            let (mut m3, mut b3) = ([0u8; N * 3], [0u8; N * 3]);
            for (d, &v) in m3.chunks_exact_mut(3).zip(m) {
                d.fill(v);
            }
            rgba_to_rgb(b, &mut b3);
            for (((o, &f), &b), &m) in o.iter_mut().zip(f).zip(&b3).zip(&m3) {
                let x = f as u16 * m as u16 + b as u16 * (255 - m as u16) + 128;
                *o = ((x + (x >> 8)) >> 8) as u8;
            }
        } else {
            let px = f.chunks_exact(3).zip(m).zip(b.chunks_exact(4));
            for (((f, &m), b), o) in px.zip(o.chunks_exact_mut(3)) {
                let mut d = [b[0], b[1], b[2], b[3]];
                over_px(f[0], f[1], f[2], m, &mut d);
                flatten_px(&d, o);
            }
        }
    }
}

/// RGBA → RGB (alpha dropped). Four pixels at a time through 32-bit words: the byte-wise copy
/// is not vectorised by the compiler and was the slowest part of the final blend.
#[inline(always)]
pub(crate) fn rgba_to_rgb(src: &[u8], dst: &mut [u8]) {
    let n = src.len() / 16 * 4;
    let (head, tail) = dst.split_at_mut(n * 3);
    for (s, d) in src.chunks_exact(16).zip(head.chunks_exact_mut(12)) {
        let v = |i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
        let (v0, v1, v2, v3) = (v(0), v(4), v(8), v(12));
        let w0 = (v0 & 0xFF_FFFF) | (v1 << 24);
        let w1 = ((v1 >> 8) & 0xFFFF) | (v2 << 16);
        let w2 = ((v2 >> 16) & 0xFF) | (v3 << 8);
        d[..4].copy_from_slice(&w0.to_le_bytes());
        d[4..8].copy_from_slice(&w1.to_le_bytes());
        d[8..].copy_from_slice(&w2.to_le_bytes());
    }
    for (s, d) in src[n * 4..].chunks_exact(4).zip(tail.chunks_exact_mut(3)) {
        d.copy_from_slice(&s[..3]);
    }
}

/// One pixel of straight-alpha "over".
#[inline(always)]
fn over_px(r: u8, g: u8, b: u8, a: u8, d: &mut [u8]) {
    let sa = a as u32;
    if sa == 255 || (sa != 0 && d[3] == 0) {
        // Opaque, or over nothing: the source as it is.
        d.copy_from_slice(&[r, g, b, a]);
    } else if sa != 0 {
        let s = [r as u32, g as u32, b as u32];
        if d[3] == 255 {
            // Over an opaque pixel (the usual case): a plain mix, the result opaque.
            let ia = 255 - sa;
            for c in 0..3 {
                d[c] = div255(s[c] * sa + d[c] as u32 * ia) as u8;
            }
            return;
        }
        let da = d[3] as u32 * (255 - sa); // scaled by 255
        let oa = sa * 255 + da; // output alpha, scaled by 255
        for c in 0..3 {
            d[c] = ((s[c] * sa * 255 + d[c] as u32 * da + oa / 2) / oa) as u8;
        }
        d[3] = ((oa + 127) / 255) as u8;
    }
}

/// Drops alpha onto black: the final RGB frame.
fn flatten(src: &RgbaImage, out: &mut RgbFrame) {
    for (s, d) in src.data.chunks_exact(4).zip(out.data.chunks_exact_mut(3)) {
        flatten_px(s, d);
    }
}

/// One pixel of [`flatten`].
#[inline(always)]
fn flatten_px(s: &[u8], d: &mut [u8]) {
    let a = s[3] as u32;
    if a == 255 {
        d.copy_from_slice(&s[..3]);
    } else {
        for c in 0..3 {
            d[c] = div255(s[c] as u32 * a) as u8;
        }
    }
}

/// Writes the mask as a grey frame (`debug_show_mask`).
pub fn mask_to_rgb(mask: &Mask, out: &mut RgbFrame) {
    out.reshape(mask.width, mask.height);
    for (d, &m) in out.data.chunks_exact_mut(3).zip(&mask.data) {
        d.fill(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_buffers_are_budgeted_before_allocating() {
        let spec = LayerSpec {
            source: LayerSource::Input,
            filters: vec![],
        };
        // 64 layers at 8K would take 8 GiB of buffers: refused, naming the limit.
        let e = Compositor::with_budget(&vec![spec.clone(); 64], 7680, 4320, 0)
            .err()
            .expect("refused");
        assert!(
            e.to_string()
                .contains("64 layers at 7680x4320 need 8100 MiB")
                && e.to_string().contains("1024 MiB"),
            "{e}"
        );
        // 64 at 1080p fit.
        assert!(Compositor::with_budget(&vec![spec; 64], 1920, 1080, 0).is_ok());
    }

    fn img(px: [u8; 4]) -> RgbaImage {
        RgbaImage {
            width: 1,
            height: 1,
            data: px.to_vec(),
        }
    }

    #[test]
    fn div255_rounds_exactly() {
        for x in 0..=255 * 255 {
            assert_eq!(div255(x), (x + 127) / 255, "{x}");
        }
    }

    /// The one-pass blend + flatten gives exactly what the two passes give, on rows whose
    /// width is not a multiple of the 16-pixel runs, with runs wholly person, wholly
    /// background, mixed, and over opaque, half-transparent and empty pixels.
    #[test]
    fn fused_foreground_flatten_matches_two_passes() {
        let (w, h) = (53u32, 7u32);
        let mut state = 0x2545_f491_u32;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        };
        let frame = RgbFrame {
            width: w,
            height: h,
            data: (0..w * h * 3).map(|_| rnd()).collect(),
        };
        let mask = Mask {
            width: w,
            height: h,
            data: (0..w * h)
                .map(|i| match (i % w) / 16 {
                    0 => 255,
                    1 => 0,
                    _ => rnd(),
                })
                .collect(),
        };
        let below = RgbaImage {
            width: w,
            height: h,
            data: (0..w * h)
                .flat_map(|i| {
                    let a = match i / w {
                        0..=3 => 255,
                        4 => 0,
                        _ => rnd(),
                    };
                    [rnd(), rnd(), rnd(), a]
                })
                .collect(),
        };
        let ctx = FrameCtx {
            frame: &frame,
            mask: &mask,
            index: 0,
            time: 0.0,
        };
        let mut acc = below.clone();
        over_foreground(&ctx, &mut acc);
        let mut two = RgbFrame::new(w, h);
        flatten(&acc, &mut two);
        let mut one = RgbFrame::new(w, h);
        over_foreground_flatten(&ctx, &below, false, &mut one);
        assert_eq!(one.data, two.data);
        // Told that `below` is opaque (rows 0–3 are), the shortcut gives the same there.
        let opaque_rows = (w * 4 * 3) as usize;
        over_foreground_flatten(&ctx, &below, true, &mut one);
        assert_eq!(one.data[..opaque_rows], two.data[..opaque_rows]);
        let mut rgb = vec![0; (w * 3) as usize];
        rgba_to_rgb(&below.data[..(w * 4) as usize], &mut rgb);
        let dropped: Vec<u8> = below.data[..(w * 4) as usize]
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        assert_eq!(rgb, dropped);
    }

    #[test]
    fn over_is_straight_alpha() {
        // Opaque red over opaque blue at half alpha → purple, opaque.
        let mut d = img([0, 0, 255, 255]);
        over(&img([255, 0, 0, 128]), &mut d);
        assert_eq!(d.data, vec![128, 0, 127, 255]);
        // Half-transparent white over transparent: colour kept (no darkening), alpha 128.
        let mut d = img([0, 0, 0, 0]);
        over(&img([255, 255, 255, 128]), &mut d);
        assert_eq!(d.data, vec![255, 255, 255, 128]);
        // Transparent source changes nothing.
        let mut d = img([1, 2, 3, 4]);
        over(&img([9, 9, 9, 0]), &mut d);
        assert_eq!(d.data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn foreground_over_input_uses_mask() {
        let frame = RgbFrame {
            width: 2,
            height: 1,
            data: vec![10, 20, 30, 200, 100, 50],
        };
        let mask = Mask {
            width: 2,
            height: 1,
            data: vec![0, 255],
        };
        let specs = vec![
            LayerSpec {
                source: LayerSource::Empty,
                filters: vec![
                    Filter::SolidColor(filters::defs::SolidColor { r: 0, g: 255, b: 0 }),
                    Filter::ChangeAlpha(filters::defs::ChangeAlpha {
                        change: 255,
                        min: 0,
                        max: 255,
                    }),
                ],
            },
            LayerSpec {
                source: LayerSource::Foreground,
                filters: vec![],
            },
        ];
        let mut c = Compositor::new(&specs, 2, 1).unwrap();
        let mut out = RgbFrame::default();
        c.compose(
            &FrameCtx {
                frame: &frame,
                mask: &mask,
                index: 0,
                time: 0.0,
            },
            &mut out,
        );
        assert_eq!(out.data, vec![0, 255, 0, 200, 100, 50]);
    }
}
