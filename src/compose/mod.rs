//! Composition (SPEC §4): layers drawn bottom to top, each a source plus filters, alpha-composited.

mod filters;
pub mod media;

pub use filters::{build_filter, FilterOp};

use crate::config::{LayerSource, LayerSpec};
use crate::frame::{Mask, RgbFrame, RgbaImage};
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
        /// What went wrong and how to fix it.
        reason: String,
    },
}

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
}

/// The layer stack, with per-layer buffers reused across frames.
pub struct Compositor {
    layers: Vec<Layer>,
    acc: RgbaImage,
    specs: Vec<LayerSpec>,
}

impl Compositor {
    /// Builds the layers (loading pictures and videos once) for frames of `width`x`height`.
    pub fn new(specs: &[LayerSpec], width: u32, height: u32) -> Result<Self, ComposeError> {
        let mut layers = Vec::with_capacity(specs.len());
        for spec in specs {
            let filters = spec
                .filters
                .iter()
                .map(|f| build_filter(f, spec.source, width, height))
                .collect::<Result<Vec<_>, _>>()?;
            layers.push(Layer {
                source: spec.source,
                filters,
                buf: RgbaImage::new(width, height),
            });
        }
        Ok(Compositor {
            layers,
            acc: RgbaImage::new(width, height),
            specs: specs.to_vec(),
        })
    }

    /// Rebuilds for a new layer list, keeping layers whose spec did not change (and so their
    /// animation phase and decoded media).
    pub fn update(
        &mut self,
        specs: &[LayerSpec],
        width: u32,
        height: u32,
    ) -> Result<(), ComposeError> {
        let mut old: Vec<Option<(LayerSpec, Layer)>> = self
            .specs
            .drain(..)
            .zip(self.layers.drain(..))
            .map(Some)
            .collect();
        let mut layers = Vec::with_capacity(specs.len());
        for spec in specs {
            let kept = old
                .iter_mut()
                .find(|o| o.as_ref().is_some_and(|(s, _)| s == spec))
                .and_then(Option::take);
            match kept {
                Some((_, layer)) if layer.buf.width == width && layer.buf.height == height => {
                    layers.push(layer)
                }
                _ => {
                    let filters = spec
                        .filters
                        .iter()
                        .map(|f| build_filter(f, spec.source, width, height))
                        .collect::<Result<Vec<_>, _>>()?;
                    layers.push(Layer {
                        source: spec.source,
                        filters,
                        buf: RgbaImage::new(width, height),
                    });
                }
            }
        }
        self.layers = layers;
        self.specs = specs.to_vec();
        self.acc.reshape(width, height);
        Ok(())
    }

    /// Composes one frame into `out` (RGB, same size as the frame).
    pub fn compose(&mut self, ctx: &FrameCtx, out: &mut RgbFrame) {
        let (w, h) = (ctx.frame.width, ctx.frame.height);
        self.acc.reshape(w, h);
        self.acc.data.fill(0);
        for layer in &mut self.layers {
            layer.buf.reshape(w, h);
            fill_source(layer.source, ctx, &self.acc, &mut layer.buf);
            for f in &mut layer.filters {
                f.apply(&mut layer.buf, ctx);
            }
            over(&layer.buf, &mut self.acc);
        }
        out.reshape(w, h);
        flatten(&self.acc, out);
    }
}

/// Fills a layer buffer from its source.
fn fill_source(src: LayerSource, ctx: &FrameCtx, acc: &RgbaImage, dst: &mut RgbaImage) {
    match src {
        LayerSource::Input | LayerSource::Foreground => {
            let rgb = ctx.frame.data.chunks_exact(3);
            let alpha: Box<dyn Iterator<Item = u8>> = if src == LayerSource::Input {
                Box::new(std::iter::repeat(255))
            } else {
                Box::new(ctx.mask.data.iter().copied())
            };
            for ((d, s), a) in dst.data.chunks_exact_mut(4).zip(rgb).zip(alpha) {
                d[0] = s[0];
                d[1] = s[1];
                d[2] = s[2];
                d[3] = a;
            }
        }
        LayerSource::Previous => dst.data.copy_from_slice(&acc.data),
        LayerSource::Empty => dst.data.fill(0),
    }
}

/// Straight-alpha "over": `src` drawn onto `dst`. Colours are weighted by alpha, so a
/// half-transparent edge pixel mixes with what is below instead of darkening (no black fringe).
pub fn over(src: &RgbaImage, dst: &mut RgbaImage) {
    for (s, d) in src.data.chunks_exact(4).zip(dst.data.chunks_exact_mut(4)) {
        let sa = s[3] as u32;
        if sa == 255 {
            d.copy_from_slice(s);
        } else if sa != 0 {
            let da = d[3] as u32 * (255 - sa); // scaled by 255
            let oa = sa * 255 + da; // output alpha, scaled by 255
            for c in 0..3 {
                d[c] = ((s[c] as u32 * sa * 255 + d[c] as u32 * da + oa / 2) / oa) as u8;
            }
            d[3] = ((oa + 127) / 255) as u8;
        }
    }
}

/// Drops alpha onto black: the final RGB frame.
fn flatten(src: &RgbaImage, out: &mut RgbFrame) {
    for (s, d) in src.data.chunks_exact(4).zip(out.data.chunks_exact_mut(3)) {
        let a = s[3] as u32;
        if a == 255 {
            d.copy_from_slice(&s[..3]);
        } else {
            for c in 0..3 {
                d[c] = ((s[c] as u32 * a + 127) / 255) as u8;
            }
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

    fn img(px: [u8; 4]) -> RgbaImage {
        RgbaImage {
            width: 1,
            height: 1,
            data: px.to_vec(),
        }
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
                    crate::config::Filter::SolidColor { r: 0, g: 255, b: 0 },
                    crate::config::Filter::ChangeAlpha {
                        change: 255,
                        min: 0,
                        max: 255,
                    },
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
