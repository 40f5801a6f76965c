//! Every filter, each defined once: its typed arguments, its name and signature (positional
//! order and defaults), how the arguments are read and the operation it builds. Adding a
//! filter: a struct here with its [`FilterKind`] implementation, its name in the `registry!`
//! list (which sets the order of [`FILTER_NAMES`]), and its operation in `ops.rs` unless it is
//! a per-pixel one.

use super::ops::{self, luma, table, PerPixel};
use super::{ArgDefault::*, Args, BuildCtx, FilterError, FilterKind, FilterOp, Param, Sig};
use crate::compose::media::{Fit, Interpolation, MediaSource};
use crate::compose::ComposeError;
use std::path::PathBuf;

super::registry! {
    Image,
    ImageSequence,
    Video,
    Blur,
    GaussianBlur,
    Grayscale,
    Roll,
    ChangeAlpha,
    Colorize,
    ColorFilter,
    SolidColor,
    Flip,
    Stripes,
    ChromaKey,
    TranslateToHead,
    LightWrap,
}

/// Built operations are boxed trait objects.
type Built = Result<Box<dyn FilterOp>, ComposeError>;

/// The `fit` and `anchor` arguments the media filters end with.
const FIT: [Param; 2] = [("fit", Value("cover")), ("anchor", Value("center"))];

/// `image`: a static picture scaled to the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The picture file.
    pub path: PathBuf,
    /// Scaling interpolation.
    pub interpolation: Interpolation,
    /// How a picture of another shape fills the frame.
    pub fit: Fit,
}

impl FilterKind for Image {
    const NAME: &'static str = "image";
    const PARAMS: &'static [Param] = &[
        ("image_path", Required),
        ("interpolation_method", Value("LINEAR")),
        FIT[0],
        FIT[1],
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        Ok(Image {
            path: a.string("image_path")?.into(),
            interpolation: a.interpolation()?,
            fit: a.fit()?,
        })
    }
    fn build(&self, at: &BuildCtx) -> Built {
        let src = MediaSource::Picture(self.path.clone());
        at.show(Self::NAME, src, &self.path, self.interpolation, self.fit)
    }
    fn path_mut(&mut self) -> Option<&mut PathBuf> {
        Some(&mut self.path)
    }
}

/// `image_sequence`: an animation from a folder of pictures.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSequence {
    /// The folder.
    pub path: PathBuf,
    /// Pictures per second.
    pub fps: f32,
    /// Scaling interpolation.
    pub interpolation: Interpolation,
    /// How pictures of another shape fill the frame.
    pub fit: Fit,
}

impl FilterKind for ImageSequence {
    const NAME: &'static str = "image_sequence";
    const PARAMS: &'static [Param] = &[
        ("images_path", Required),
        ("fps", Value("10")),
        ("interpolation_method", Value("LINEAR")),
        FIT[0],
        FIT[1],
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        Ok(ImageSequence {
            path: a.string("images_path")?.into(),
            fps: a.float("fps", 0.01, 240.0)? as f32,
            interpolation: a.interpolation()?,
            fit: a.fit()?,
        })
    }
    fn build(&self, at: &BuildCtx) -> Built {
        let src = MediaSource::Sequence {
            dir: self.path.clone(),
            fps: self.fps,
        };
        at.show(Self::NAME, src, &self.path, self.interpolation, self.fit)
    }
    fn path_mut(&mut self) -> Option<&mut PathBuf> {
        Some(&mut self.path)
    }
}

/// `video`: a looping video (or animated picture).
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    /// The file.
    pub path: PathBuf,
    /// Frame rate limit; `None` keeps the file's.
    pub target_fps: Option<f32>,
    /// Scaling interpolation.
    pub interpolation: Interpolation,
    /// How a video of another shape fills the frame.
    pub fit: Fit,
}

impl FilterKind for Video {
    const NAME: &'static str = "video";
    const PARAMS: &'static [Param] = &[
        ("video_path", Required),
        ("target_fps", Optional),
        ("interpolation_method", Value("LINEAR")),
        FIT[0],
        FIT[1],
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        Ok(Video {
            path: a.string("video_path")?.into(),
            target_fps: a.opt_float("target_fps", 0.01, 240.0)?.map(|f| f as f32),
            interpolation: a.interpolation()?,
            fit: a.fit()?,
        })
    }
    fn build(&self, at: &BuildCtx) -> Built {
        let src = MediaSource::Video {
            path: self.path.clone(),
            target_fps: self.target_fps,
        };
        at.show(Self::NAME, src, &self.path, self.interpolation, self.fit)
    }
    fn path_mut(&mut self) -> Option<&mut PathBuf> {
        Some(&mut self.path)
    }
}

/// `blur`: box blur, kernel sizes in pixels (mask-weighted on an `input` layer).
#[derive(Debug, Clone, PartialEq)]
pub struct Blur {
    /// Horizontal kernel size.
    pub x: u32,
    /// Vertical kernel size.
    pub y: u32,
}

impl FilterKind for Blur {
    const NAME: &'static str = "blur";
    const PARAMS: &'static [Param] = &[
        ("intensity_x", Value("10")),
        ("intensity_y", SameAs("intensity_x")),
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        Ok(Blur {
            x: a.int("intensity_x", 0, 500)? as u32,
            y: a.int("intensity_y", 0, 500)? as u32,
        })
    }
    fn build(&self, at: &BuildCtx) -> Built {
        Ok(Box::new(ops::Blur::new(self.x, self.y, false, at.layer)))
    }
}

/// `gaussian_blur`: Gaussian blur with odd kernel sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianBlur {
    /// Horizontal kernel size (odd).
    pub x: u32,
    /// Vertical kernel size (odd).
    pub y: u32,
}

impl FilterKind for GaussianBlur {
    const NAME: &'static str = "gaussian_blur";
    const PARAMS: &'static [Param] = &[
        ("intensity_x", Value("11")),
        ("intensity_y", SameAs("intensity_x")),
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        // OpenCV needs odd kernels: even values are bumped to the next odd (SPEC §4).
        Ok(GaussianBlur {
            x: a.int("intensity_x", 0, 501)? as u32 | 1,
            y: a.int("intensity_y", 0, 501)? as u32 | 1,
        })
    }
    fn build(&self, at: &BuildCtx) -> Built {
        Ok(Box::new(ops::Blur::new(self.x, self.y, true, at.layer)))
    }
}

/// `grayscale`: a grey image.
#[derive(Debug, Clone, PartialEq)]
pub struct Grayscale;

impl FilterKind for Grayscale {
    const NAME: &'static str = "grayscale";
    const PARAMS: &'static [Param] = &[];
    fn parse(_: &Args) -> Result<Self, FilterError> {
        Ok(Grayscale)
    }
    fn build(&self, _: &BuildCtx) -> Built {
        Ok(Box::new(PerPixel(|p: &mut [u8]| {
            let l = luma(p);
            p[..3].fill(l);
        })))
    }
}

/// `roll`: scroll with wrap-around, pixels per frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Roll {
    /// Horizontal speed.
    pub speed_x: i32,
    /// Vertical speed.
    pub speed_y: i32,
}

impl FilterKind for Roll {
    const NAME: &'static str = "roll";
    const PARAMS: &'static [Param] = &[("speed_x", Value("5")), ("speed_y", Value("0"))];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        Ok(Roll {
            speed_x: a.int("speed_x", -10_000, 10_000)? as i32,
            speed_y: a.int("speed_y", -10_000, 10_000)? as i32,
        })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        Ok(Box::new(ops::Roll::new(self.speed_x, self.speed_y)))
    }
}

/// `change_alpha`: add to alpha, then clip.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeAlpha {
    /// Added to alpha.
    pub change: i32,
    /// Lowest alpha after the change.
    pub min: u8,
    /// Highest alpha after the change.
    pub max: u8,
}

impl FilterKind for ChangeAlpha {
    const NAME: &'static str = "change_alpha";
    const PARAMS: &'static [Param] = &[
        ("change_alpha", Required),
        ("alpha_min", Value("0")),
        ("alpha_max", Value("255")),
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        let (min, max) = (a.u8("alpha_min")?, a.u8("alpha_max")?);
        if min > max {
            return Err(FilterError::AlphaBounds { min, max });
        }
        Ok(ChangeAlpha {
            change: a.int("change_alpha", -255, 255)? as i32,
            min,
            max,
        })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        let (c, lo, hi) = (self.change, self.min as i32, self.max as i32);
        let lut = table(|a| (a as i32 + c).clamp(lo, hi) as u8);
        Ok(Box::new(PerPixel(move |p: &mut [u8]| {
            p[3] = lut[p[3] as usize]
        })))
    }
}

/// Reads `r`, `g`, `b`.
fn rgb(a: &Args) -> Result<[u8; 3], FilterError> {
    Ok([a.u8("r")?, a.u8("g")?, a.u8("b")?])
}

/// Lookup tables scaling each channel by `colour`/255.
fn scale_tables(colour: [u8; 3]) -> [[u8; 256]; 3] {
    colour.map(|k| table(move |v| ((v as u32 * k as u32 + 127) / 255) as u8))
}

/// `colorize`: a grey image tinted with a colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Colorize {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

impl FilterKind for Colorize {
    const NAME: &'static str = "colorize";
    const PARAMS: &'static [Param] = &[("r", Required), ("g", Required), ("b", Required)];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        let [r, g, b] = rgb(a)?;
        Ok(Colorize { r, g, b })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        // Grey (luma), then scaled by the colour: value = luma * colour / 255.
        let lut = scale_tables([self.r, self.g, self.b]);
        Ok(Box::new(PerPixel(move |p: &mut [u8]| {
            let l = luma(p) as usize;
            p[0] = lut[0][l];
            p[1] = lut[1][l];
            p[2] = lut[2][l];
        })))
    }
}

/// `color_filter`: scale the colour channels by value/255.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorFilter {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

impl FilterKind for ColorFilter {
    const NAME: &'static str = "color_filter";
    const PARAMS: &'static [Param] = &[
        ("r", Value("255")),
        ("g", Value("255")),
        ("b", Value("255")),
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        let [r, g, b] = rgb(a)?;
        Ok(ColorFilter { r, g, b })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        let lut = scale_tables([self.r, self.g, self.b]);
        Ok(Box::new(PerPixel(move |p: &mut [u8]| {
            p[0] = lut[0][p[0] as usize];
            p[1] = lut[1][p[1] as usize];
            p[2] = lut[2][p[2] as usize];
        })))
    }
}

/// `solid_color`: fill with one colour.
#[derive(Debug, Clone, PartialEq)]
pub struct SolidColor {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

impl FilterKind for SolidColor {
    const NAME: &'static str = "solid_color";
    const PARAMS: &'static [Param] = &[("r", Required), ("g", Required), ("b", Required)];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        let [r, g, b] = rgb(a)?;
        Ok(SolidColor { r, g, b })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        let col = [self.r, self.g, self.b];
        Ok(Box::new(PerPixel(move |p: &mut [u8]| {
            p[..3].copy_from_slice(&col)
        })))
    }
}

/// `flip`: mirror.
#[derive(Debug, Clone, PartialEq)]
pub struct Flip {
    /// Left to right.
    pub horizontal: bool,
    /// Top to bottom.
    pub vertical: bool,
}

impl FilterKind for Flip {
    const NAME: &'static str = "flip";
    const PARAMS: &'static [Param] = &[("horizontal", Value("true")), ("vertical", Value("false"))];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        Ok(Flip {
            horizontal: a.boolean("horizontal")?,
            vertical: a.boolean("vertical")?,
        })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        Ok(Box::new(ops::Flip {
            h: self.horizontal,
            v: self.vertical,
        }))
    }
}

/// `stripes`: moving semi-transparent stripes.
#[derive(Debug, Clone, PartialEq)]
pub struct Stripes {
    /// Band height, pixels.
    pub width: u32,
    /// Band opacity, 0–255.
    pub intensity: u8,
    /// Pixels per frame the bands move down.
    pub speed: i32,
}

impl FilterKind for Stripes {
    const NAME: &'static str = "stripes";
    const PARAMS: &'static [Param] = &[
        ("width", Value("10")),
        ("intensity", Value("64")),
        ("speed", Value("1")),
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        Ok(Stripes {
            width: a.int("width", 1, 4096)? as u32,
            intensity: a.u8("intensity")?,
            speed: a.int("speed", -4096, 4096)? as i32,
        })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        Ok(Box::new(ops::Stripes::new(
            self.width,
            self.intensity,
            self.speed,
        )))
    }
}

/// `chroma_key`: make pixels near a colour transparent.
#[derive(Debug, Clone, PartialEq)]
pub struct ChromaKey {
    /// Key red.
    pub r: u8,
    /// Key green.
    pub g: u8,
    /// Key blue.
    pub b: u8,
    /// Distance from the key that is keyed, 0–1 of the RGB cube's diagonal.
    pub fuzz: f32,
}

impl FilterKind for ChromaKey {
    const NAME: &'static str = "chroma_key";
    const PARAMS: &'static [Param] = &[
        ("r", Value("0")),
        ("g", Value("255")),
        ("b", Value("0")),
        ("fuzz", Value("0.3")),
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        let [r, g, b] = rgb(a)?;
        Ok(ChromaKey {
            r,
            g,
            b,
            fuzz: a.float("fuzz", 0.0, 1.0)? as f32,
        })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        Ok(Box::new(ops::ChromaKey {
            key: [self.r, self.g, self.b],
            fuzz: self.fuzz,
        }))
    }
}

/// `translate_to_head`: follow the person's head.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslateToHead {
    /// The point of the head put at the centre.
    pub anchor: ops::Anchor,
    /// Frames the head position is averaged over.
    pub average_frames: u32,
}

impl FilterKind for TranslateToHead {
    const NAME: &'static str = "translate_to_head";
    const PARAMS: &'static [Param] = &[
        ("anchor_point", Value("head")),
        ("average_frames", Value("5")),
    ];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        Ok(TranslateToHead {
            anchor: match a.string("anchor_point")?.as_str() {
                "head" => ops::Anchor::Head,
                "eyes" => ops::Anchor::Eyes,
                _ => return Err(a.bad("anchor_point", "\"head\" or \"eyes\"")),
            },
            average_frames: a.int("average_frames", 1, 120)? as u32,
        })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        Ok(Box::new(ops::TranslateToHead::new(
            self.anchor,
            self.average_frames as usize,
        )))
    }
}

/// `light_wrap`: the background's light wraps around the person's edge (on a `previous` layer
/// above the foreground).
#[derive(Debug, Clone, PartialEq)]
pub struct LightWrap {
    /// How deep the light reaches, pixels.
    pub radius: u32,
    /// How much light, 0–1.
    pub strength: f32,
}

impl FilterKind for LightWrap {
    const NAME: &'static str = "light_wrap";
    const PARAMS: &'static [Param] = &[("radius", Value("12")), ("strength", Value("0.6"))];
    fn parse(a: &Args) -> Result<Self, FilterError> {
        Ok(LightWrap {
            radius: a.int("radius", 1, 200)? as u32,
            strength: a.float("strength", 0.0, 1.0)? as f32,
        })
    }
    fn build(&self, _: &BuildCtx) -> Built {
        Ok(Box::new(ops::Blur::light_wrap(self.radius, self.strength)))
    }
}
