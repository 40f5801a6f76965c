//! The layer and filter language of SPEC §4: sources, filter names, the three argument forms.

use serde_yaml::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a layer's pixels come from before its filters run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerSource {
    /// The camera frame, opaque.
    Input,
    /// The camera frame with the person mask as alpha.
    Foreground,
    /// Everything composed so far.
    Previous,
    /// Fully transparent.
    Empty,
}

/// Most filters one layer may have (each may hold a frame-sized buffer).
pub const MAX_FILTERS: usize = 64;

/// Accepted layer source names.
pub const LAYER_SOURCES: &[&str] = &["input", "foreground", "previous", "empty"];

/// Pixel interpolation used when scaling pictures and videos to the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// Bilinear.
    #[default]
    Linear,
    /// Nearest neighbour.
    Nearest,
}

/// How a picture or video whose shape differs from the frame's fills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Scaled to fill the frame, the overflow cut off; the anchor says which part stays.
    Cover(FitAnchor),
    /// Scaled to fit inside the frame, transparent bars beside or above and below it; the
    /// anchor says where it sits.
    Contain(FitAnchor),
    /// Scaled to the frame's shape, distorting it (the original tool's behaviour).
    Stretch,
}

impl Default for Fit {
    fn default() -> Self {
        Fit::Cover(FitAnchor::Center)
    }
}

/// Which part of a picture `cover` keeps (and where `contain` places it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FitAnchor {
    /// The middle.
    #[default]
    Center,
    /// The top edge (of a picture taller than the frame).
    Top,
    /// The bottom edge.
    Bottom,
    /// The left edge (of a picture wider than the frame).
    Left,
    /// The right edge.
    Right,
}

impl FitAnchor {
    /// Horizontal and vertical position as fractions of the free or cut space: 0 left/top,
    /// 0.5 centre, 1 right/bottom.
    pub fn fractions(self) -> (f64, f64) {
        match self {
            FitAnchor::Center => (0.5, 0.5),
            FitAnchor::Top => (0.5, 0.0),
            FitAnchor::Bottom => (0.5, 1.0),
            FitAnchor::Left => (0.0, 0.5),
            FitAnchor::Right => (1.0, 0.5),
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

/// One filter with its arguments resolved to typed values.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Static picture scaled to the frame.
    Image {
        path: PathBuf,
        interpolation: Interpolation,
        fit: Fit,
    },
    /// Animation from a folder of pictures.
    ImageSequence {
        path: PathBuf,
        fps: f32,
        interpolation: Interpolation,
        fit: Fit,
    },
    /// Looping video (or animated picture).
    Video {
        path: PathBuf,
        target_fps: Option<f32>,
        interpolation: Interpolation,
        fit: Fit,
    },
    /// Box blur with kernel sizes in pixels.
    Blur { x: u32, y: u32 },
    /// Gaussian blur with odd kernel sizes.
    GaussianBlur { x: u32, y: u32 },
    /// Grey image.
    Grayscale,
    /// Scroll with wrap-around, pixels per frame.
    Roll { speed_x: i32, speed_y: i32 },
    /// Add to alpha, then clip.
    ChangeAlpha { change: i32, min: u8, max: u8 },
    /// Grey image tinted with a colour.
    Colorize { r: u8, g: u8, b: u8 },
    /// Scale colour channels by value/255.
    ColorFilter { r: u8, g: u8, b: u8 },
    /// Fill with one colour.
    SolidColor { r: u8, g: u8, b: u8 },
    /// Mirror.
    Flip { horizontal: bool, vertical: bool },
    /// Moving semi-transparent stripes.
    Stripes {
        width: u32,
        intensity: u8,
        speed: i32,
    },
    /// Make pixels near a colour transparent.
    ChromaKey { r: u8, g: u8, b: u8, fuzz: f32 },
    /// Follow the person's head.
    TranslateToHead { anchor: Anchor, average_frames: u32 },
    /// Let the background's light wrap around the person's edge (on a `previous` layer above
    /// the foreground): `radius` pixels deep, `strength` 0–1.
    LightWrap { radius: u32, strength: f32 },
}

/// What is wrong with one filter entry; each names the argument and shows the filter's
/// signature.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    /// A list entry that does not start with a name.
    #[error("a filter list must start with the filter name, got {got}")]
    NoName {
        /// The entry as written.
        got: String,
    },
    /// Neither a name nor a list.
    #[error("a filter is a name or a list [name, arguments...], got {got}")]
    NotAFilter {
        /// The entry as written.
        got: String,
    },
    /// No filter has this name.
    #[error("unknown filter `{name}`; known filters: {}", FILTER_NAMES.join(", "))]
    Unknown {
        /// The name as written.
        name: String,
    },
    /// A named argument the filter does not have.
    #[error("filter `{filter}` has no argument `{argument}`; expected {usage}")]
    NoSuchArgument {
        /// The filter.
        filter: &'static str,
        /// The argument as written.
        argument: String,
        /// The filter's signature.
        usage: String,
    },
    /// More positional arguments than the filter has.
    #[error("filter `{filter}` takes at most {max} argument(s), got {got}; expected {usage}")]
    TooMany {
        /// The filter.
        filter: &'static str,
        /// How many it takes.
        max: usize,
        /// How many were given.
        got: usize,
        /// The filter's signature.
        usage: String,
    },
    /// A required argument is missing.
    #[error("filter `{filter}` needs argument `{argument}`; expected {usage}")]
    Missing {
        /// The filter.
        filter: &'static str,
        /// The argument.
        argument: &'static str,
        /// The filter's signature.
        usage: String,
    },
    /// An argument's value is of the wrong kind or out of range.
    #[error("argument `{argument}` must be {want}, got {got}; expected {usage}")]
    BadValue {
        /// The argument.
        argument: &'static str,
        /// What it must be.
        want: String,
        /// The value as written (`nothing` when absent).
        got: String,
        /// The filter's signature.
        usage: String,
    },
    /// `anchor` given with `fit: stretch`.
    #[error("argument `anchor` has no effect with fit `stretch` (the whole picture fills the frame); use fit cover or contain, or leave anchor out; expected {usage}")]
    StretchAnchor {
        /// The filter's signature.
        usage: String,
    },
    /// `change_alpha` with its bounds the wrong way round.
    #[error("filter `change_alpha`: alpha_min {min} is above alpha_max {max}")]
    AlphaBounds {
        /// `alpha_min`.
        min: u8,
        /// `alpha_max`.
        max: u8,
    },
}

/// What is wrong with one layer entry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayerError {
    /// Not a map.
    #[error("a layer is a one-key map like `- input: [[\"blur\", 10]]`, got {got}")]
    NotAMap {
        /// The entry as written.
        got: String,
    },
    /// A map with other than one key.
    #[error("a layer has exactly one source key ({}), got {keys}", LAYER_SOURCES.join(", "))]
    Keys {
        /// How many keys it has.
        keys: usize,
    },
    /// The key is no layer source.
    #[error("unknown layer source `{got}`; use one of {}", LAYER_SOURCES.join(", "))]
    UnknownSource {
        /// The key as written.
        got: String,
    },
    /// Too many filters.
    #[error("layer `{layer}` has {count} filters; at most {MAX_FILTERS} are allowed")]
    TooManyFilters {
        /// The layer source.
        layer: String,
        /// How many it has.
        count: usize,
    },
    /// One of its filters is wrong.
    #[error("layer `{layer}`, filter #{number}: {error}")]
    Filter {
        /// The layer source.
        layer: String,
        /// 1-based position of the filter in the layer.
        number: usize,
        /// What is wrong.
        error: FilterError,
    },
}

/// A layer: a source and its filters, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// The layer's source.
    pub source: LayerSource,
    /// Filters applied in order.
    pub filters: Vec<Filter>,
}

/// A filter argument's default: required, a YAML literal, or "same as another argument".
#[derive(Clone, Copy)]
enum Default_ {
    Required,
    Value(&'static str),
    SameAs(&'static str),
    Optional,
}
use Default_::*;

struct Sig {
    name: &'static str,
    params: &'static [(&'static str, Default_)],
}

/// The filter table: names, parameter names in positional order, defaults.
const SIGS: &[Sig] = &[
    Sig {
        name: "image",
        params: &[
            ("image_path", Required),
            ("interpolation_method", Value("LINEAR")),
            ("fit", Value("cover")),
            ("anchor", Value("center")),
        ],
    },
    Sig {
        name: "image_sequence",
        params: &[
            ("images_path", Required),
            ("fps", Value("10")),
            ("interpolation_method", Value("LINEAR")),
            ("fit", Value("cover")),
            ("anchor", Value("center")),
        ],
    },
    Sig {
        name: "video",
        params: &[
            ("video_path", Required),
            ("target_fps", Optional),
            ("interpolation_method", Value("LINEAR")),
            ("fit", Value("cover")),
            ("anchor", Value("center")),
        ],
    },
    Sig {
        name: "blur",
        params: &[
            ("intensity_x", Value("10")),
            ("intensity_y", SameAs("intensity_x")),
        ],
    },
    Sig {
        name: "gaussian_blur",
        params: &[
            ("intensity_x", Value("11")),
            ("intensity_y", SameAs("intensity_x")),
        ],
    },
    Sig {
        name: "grayscale",
        params: &[],
    },
    Sig {
        name: "roll",
        params: &[("speed_x", Value("5")), ("speed_y", Value("0"))],
    },
    Sig {
        name: "change_alpha",
        params: &[
            ("change_alpha", Required),
            ("alpha_min", Value("0")),
            ("alpha_max", Value("255")),
        ],
    },
    Sig {
        name: "colorize",
        params: &[("r", Required), ("g", Required), ("b", Required)],
    },
    Sig {
        name: "color_filter",
        params: &[
            ("r", Value("255")),
            ("g", Value("255")),
            ("b", Value("255")),
        ],
    },
    Sig {
        name: "solid_color",
        params: &[("r", Required), ("g", Required), ("b", Required)],
    },
    Sig {
        name: "flip",
        params: &[("horizontal", Value("true")), ("vertical", Value("false"))],
    },
    Sig {
        name: "stripes",
        params: &[
            ("width", Value("10")),
            ("intensity", Value("64")),
            ("speed", Value("1")),
        ],
    },
    Sig {
        name: "chroma_key",
        params: &[
            ("r", Value("0")),
            ("g", Value("255")),
            ("b", Value("0")),
            ("fuzz", Value("0.3")),
        ],
    },
    Sig {
        name: "translate_to_head",
        params: &[
            ("anchor_point", Value("head")),
            ("average_frames", Value("5")),
        ],
    },
    Sig {
        name: "light_wrap",
        params: &[("radius", Value("12")), ("strength", Value("0.6"))],
    },
];

/// All filter names, for error messages and docs.
pub const FILTER_NAMES: &[&str] = &[
    "image",
    "image_sequence",
    "video",
    "blur",
    "gaussian_blur",
    "grayscale",
    "roll",
    "change_alpha",
    "colorize",
    "color_filter",
    "solid_color",
    "flip",
    "stripes",
    "chroma_key",
    "translate_to_head",
    "light_wrap",
];

impl Sig {
    fn usage(&self) -> String {
        let ps: Vec<String> = self
            .params
            .iter()
            .map(|(n, d)| match d {
                Required => n.to_string(),
                Value(v) => format!("{n} = {v}"),
                SameAs(o) => format!("{n} = {o}"),
                Optional => format!("{n} (optional)"),
            })
            .collect();
        format!("{}({})", self.name, ps.join(", "))
    }
}

/// Resolved named arguments of one filter.
struct Args<'a> {
    sig: &'a Sig,
    values: Vec<Option<Value>>,
}

impl Args<'_> {
    fn raw(&self, name: &str) -> Option<&Value> {
        let i = self.sig.params.iter().position(|(n, _)| *n == name)?;
        if let Some(v) = &self.values[i] {
            return Some(v);
        }
        match self.sig.params[i].1 {
            SameAs(other) => self.raw(other),
            _ => None,
        }
    }
    fn bad(&self, name: &'static str, want: &str) -> FilterError {
        FilterError::BadValue {
            argument: name,
            want: want.to_owned(),
            got: self.raw(name).map(show).unwrap_or_else(|| "nothing".into()),
            usage: self.sig.usage(),
        }
    }
    fn int(&self, name: &'static str, lo: i64, hi: i64) -> Result<i64, FilterError> {
        match self.raw(name).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        }) {
            Some(v) if (lo..=hi).contains(&v) => Ok(v),
            _ => Err(self.bad(name, &format!("a whole number in {lo}..={hi}"))),
        }
    }
    fn u8(&self, name: &'static str) -> Result<u8, FilterError> {
        Ok(self.int(name, 0, 255)? as u8)
    }
    fn float(&self, name: &'static str, lo: f64, hi: f64) -> Result<f64, FilterError> {
        match self.raw(name).and_then(Value::as_f64) {
            Some(v) if v >= lo && v <= hi => Ok(v),
            _ => Err(self.bad(name, &format!("a number in {lo}..={hi}"))),
        }
    }
    fn opt_float(&self, name: &'static str, lo: f64, hi: f64) -> Result<Option<f64>, FilterError> {
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.float(name, lo, hi).map(Some),
        }
    }
    fn boolean(&self, name: &'static str) -> Result<bool, FilterError> {
        match self.raw(name) {
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(n.as_i64() == Some(1))
            }
            _ => Err(self.bad(name, "true or false")),
        }
    }
    fn string(&self, name: &'static str) -> Result<String, FilterError> {
        match self.raw(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(self.bad(name, "a non-empty string")),
        }
    }
    fn interpolation(&self) -> Result<Interpolation, FilterError> {
        match self
            .string("interpolation_method")?
            .to_ascii_uppercase()
            .as_str()
        {
            "LINEAR" => Ok(Interpolation::Linear),
            "NEAREST" => Ok(Interpolation::Nearest),
            _ => Err(self.bad("interpolation_method", "LINEAR or NEAREST")),
        }
    }

    /// `fit` and `anchor` of the media filters.
    fn fit(&self) -> Result<Fit, FilterError> {
        let anchor = match self.string("anchor")?.to_ascii_lowercase().as_str() {
            "center" | "centre" => FitAnchor::Center,
            "top" => FitAnchor::Top,
            "bottom" => FitAnchor::Bottom,
            "left" => FitAnchor::Left,
            "right" => FitAnchor::Right,
            _ => return Err(self.bad("anchor", "center, top, bottom, left or right")),
        };
        match self.string("fit")?.to_ascii_lowercase().as_str() {
            "cover" => Ok(Fit::Cover(anchor)),
            "contain" => Ok(Fit::Contain(anchor)),
            "stretch" if anchor == FitAnchor::Center => Ok(Fit::Stretch),
            "stretch" => Err(FilterError::StretchAnchor {
                usage: self.sig.usage(),
            }),
            _ => Err(self.bad("fit", "cover, contain or stretch")),
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Parses one filter entry: `"name"`, `["name", a, b]`, `["name", [a, b]]` or `["name", {k: v}]`.
fn parse_filter(v: &Value) -> Result<Filter, FilterError> {
    let (name, rest): (&str, &[Value]) = match v {
        Value::String(s) => (s.as_str(), &[]),
        Value::Sequence(seq) => match seq.first() {
            Some(Value::String(s)) => (s.as_str(), &seq[1..]),
            _ => return Err(FilterError::NoName { got: show(v) }),
        },
        _ => return Err(FilterError::NotAFilter { got: show(v) }),
    };
    let Some(sig) = SIGS.iter().find(|s| s.name == name) else {
        return Err(FilterError::Unknown { name: name.into() });
    };
    let mut values: Vec<Option<Value>> = vec![None; sig.params.len()];
    let positional: &[Value] = match rest {
        [Value::Sequence(list)] => list,
        [Value::Mapping(map)] => {
            for (k, val) in map {
                let key = k.as_str().unwrap_or_default();
                let Some(i) = sig.params.iter().position(|(n, _)| *n == key) else {
                    return Err(FilterError::NoSuchArgument {
                        filter: sig.name,
                        argument: show(k),
                        usage: sig.usage(),
                    });
                };
                values[i] = Some(val.clone());
            }
            &[]
        }
        flat => flat,
    };
    if positional.len() > sig.params.len() {
        return Err(FilterError::TooMany {
            filter: sig.name,
            max: sig.params.len(),
            got: positional.len(),
            usage: sig.usage(),
        });
    }
    for (i, val) in positional.iter().enumerate() {
        values[i] = Some(val.clone());
    }
    for (i, (pname, d)) in sig.params.iter().enumerate() {
        if values[i].is_none() {
            match d {
                Required => {
                    return Err(FilterError::Missing {
                        filter: sig.name,
                        argument: pname,
                        usage: sig.usage(),
                    })
                }
                Value(lit) => {
                    values[i] = Some(serde_yaml::from_str(lit).expect("default literal parses"))
                }
                SameAs(_) | Optional => {}
            }
        }
    }
    let a = Args { sig, values };
    let f = match name {
        "image" => Filter::Image {
            path: a.string("image_path")?.into(),
            interpolation: a.interpolation()?,
            fit: a.fit()?,
        },
        "image_sequence" => Filter::ImageSequence {
            path: a.string("images_path")?.into(),
            fps: a.float("fps", 0.01, 240.0)? as f32,
            interpolation: a.interpolation()?,
            fit: a.fit()?,
        },
        "video" => Filter::Video {
            path: a.string("video_path")?.into(),
            target_fps: a.opt_float("target_fps", 0.01, 240.0)?.map(|f| f as f32),
            interpolation: a.interpolation()?,
            fit: a.fit()?,
        },
        "blur" => Filter::Blur {
            x: a.int("intensity_x", 0, 500)? as u32,
            y: a.int("intensity_y", 0, 500)? as u32,
        },
        "gaussian_blur" => Filter::GaussianBlur {
            // OpenCV needs odd kernels: even values are bumped to the next odd (SPEC §4).
            x: a.int("intensity_x", 0, 501)? as u32 | 1,
            y: a.int("intensity_y", 0, 501)? as u32 | 1,
        },
        "grayscale" => Filter::Grayscale,
        "roll" => Filter::Roll {
            speed_x: a.int("speed_x", -10_000, 10_000)? as i32,
            speed_y: a.int("speed_y", -10_000, 10_000)? as i32,
        },
        "change_alpha" => {
            let (min, max) = (a.u8("alpha_min")?, a.u8("alpha_max")?);
            if min > max {
                return Err(FilterError::AlphaBounds { min, max });
            }
            Filter::ChangeAlpha {
                change: a.int("change_alpha", -255, 255)? as i32,
                min,
                max,
            }
        }
        "colorize" => Filter::Colorize {
            r: a.u8("r")?,
            g: a.u8("g")?,
            b: a.u8("b")?,
        },
        "color_filter" => Filter::ColorFilter {
            r: a.u8("r")?,
            g: a.u8("g")?,
            b: a.u8("b")?,
        },
        "solid_color" => Filter::SolidColor {
            r: a.u8("r")?,
            g: a.u8("g")?,
            b: a.u8("b")?,
        },
        "flip" => Filter::Flip {
            horizontal: a.boolean("horizontal")?,
            vertical: a.boolean("vertical")?,
        },
        "stripes" => Filter::Stripes {
            width: a.int("width", 1, 4096)? as u32,
            intensity: a.u8("intensity")?,
            speed: a.int("speed", -4096, 4096)? as i32,
        },
        "chroma_key" => Filter::ChromaKey {
            r: a.u8("r")?,
            g: a.u8("g")?,
            b: a.u8("b")?,
            fuzz: a.float("fuzz", 0.0, 1.0)? as f32,
        },
        "translate_to_head" => Filter::TranslateToHead {
            anchor: match a.string("anchor_point")?.as_str() {
                "head" => Anchor::Head,
                "eyes" => Anchor::Eyes,
                _ => return Err(a.bad("anchor_point", "\"head\" or \"eyes\"")),
            },
            average_frames: a.int("average_frames", 1, 120)? as u32,
        },
        "light_wrap" => Filter::LightWrap {
            radius: a.int("radius", 1, 200)? as u32,
            strength: a.float("strength", 0.0, 1.0)? as f32,
        },
        _ => unreachable!("every name in SIGS is handled"),
    };
    Ok(f)
}

impl LayerSpec {
    /// Makes relative file paths absolute against the config file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        for f in &mut self.filters {
            if let Filter::Image { path, .. }
            | Filter::ImageSequence { path, .. }
            | Filter::Video { path, .. } = f
            {
                if path.is_relative() {
                    *path = base.join(&*path);
                }
            }
        }
    }
}

impl LayerSpec {
    /// Parses one layer entry (`{source: [filters...]}`); the error says what is wrong.
    pub fn from_value(v: &Value) -> Result<LayerSpec, LayerError> {
        let Value::Mapping(map) = v else {
            return Err(LayerError::NotAMap { got: show(v) });
        };
        if map.len() != 1 {
            return Err(LayerError::Keys { keys: map.len() });
        }
        let (k, filters) = map.iter().next().expect("one entry");
        let key = k.as_str().unwrap_or_default();
        let source = match key {
            "input" => LayerSource::Input,
            "foreground" => LayerSource::Foreground,
            "previous" => LayerSource::Previous,
            "empty" => LayerSource::Empty,
            _ => return Err(LayerError::UnknownSource { got: show(k) }),
        };
        let items: &[Value] = match filters {
            Value::Null => &[],
            Value::Sequence(s) => s,
            // A single filter given without the enclosing list.
            other => std::slice::from_ref(other),
        };
        if items.len() > MAX_FILTERS {
            return Err(LayerError::TooManyFilters {
                layer: key.into(),
                count: items.len(),
            });
        }
        let filters = items
            .iter()
            .enumerate()
            .map(|(i, f)| {
                parse_filter(f).map_err(|error| LayerError::Filter {
                    layer: key.into(),
                    number: i + 1,
                    error,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LayerSpec { source, filters })
    }
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let anchor = |a: &FitAnchor| match a {
            FitAnchor::Center => "",
            FitAnchor::Top => ", top",
            FitAnchor::Bottom => ", bottom",
            FitAnchor::Left => ", left",
            FitAnchor::Right => ", right",
        };
        match self {
            Fit::Cover(a) => write!(f, "cover{}", anchor(a)),
            Fit::Contain(a) => write!(f, "contain{}", anchor(a)),
            Fit::Stretch => f.write_str("stretch"),
        }
    }
}

impl fmt::Display for LayerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(LAYER_SOURCES[*self as usize])
    }
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.source)?;
        if self.filters.is_empty() {
            write!(f, " (no filters)")?;
        }
        for (i, flt) in self.filters.iter().enumerate() {
            write!(f, "{} {flt:?}", if i == 0 { "" } else { " →" })?;
        }
        Ok(())
    }
}

/// A raw filter argument value (re-exported for tests and docs).
pub type FilterArg = Value;

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(yaml: &str) -> Result<Filter, FilterError> {
        parse_filter(&serde_yaml::from_str(yaml).unwrap())
    }

    #[test]
    fn three_argument_forms_agree() {
        let want = Filter::Blur { x: 10, y: 4 };
        assert_eq!(filter(r#"["blur", 10, 4]"#).unwrap(), want);
        assert_eq!(filter(r#"["blur", [10, 4]]"#).unwrap(), want);
        assert_eq!(
            filter(r#"["blur", {intensity_x: 10, intensity_y: 4}]"#).unwrap(),
            want
        );
    }

    #[test]
    fn intensity_y_defaults_to_x_and_gaussian_bumps_to_odd() {
        assert_eq!(
            filter(r#"["blur", 7]"#).unwrap(),
            Filter::Blur { x: 7, y: 7 }
        );
        assert_eq!(
            filter(r#"["gaussian_blur", 10]"#).unwrap(),
            Filter::GaussianBlur { x: 11, y: 11 }
        );
        assert_eq!(filter(r#""grayscale""#).unwrap(), Filter::Grayscale);
    }

    #[test]
    fn image_defaults_and_interpolation() {
        assert_eq!(
            filter(r#"["image", "bg.jpg", "NEAREST"]"#).unwrap(),
            Filter::Image {
                path: "bg.jpg".into(),
                interpolation: Interpolation::Nearest,
                fit: Fit::Cover(FitAnchor::Center),
            }
        );
        let e = filter(r#"["image", "bg.jpg", "CUBIC"]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("LINEAR or NEAREST"), "{e}");
    }

    #[test]
    fn fit_in_all_three_forms() {
        let fit = |yaml: &str| match filter(yaml) {
            Ok(Filter::Image { fit, .. })
            | Ok(Filter::ImageSequence { fit, .. })
            | Ok(Filter::Video { fit, .. }) => Ok(fit),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        let top = Fit::Cover(FitAnchor::Top);
        assert_eq!(
            fit(r#"["image", "a.jpg", "LINEAR", "cover", "top"]"#),
            Ok(top)
        );
        assert_eq!(
            fit(r#"["image", ["a.jpg", "LINEAR", "cover", "top"]]"#),
            Ok(top)
        );
        assert_eq!(
            fit(r#"["image", {image_path: a.jpg, anchor: top}]"#),
            Ok(top)
        );
        assert_eq!(fit(r#"["image", "a.jpg"]"#), Ok(Fit::default()));
        assert_eq!(
            fit(r#"["image_sequence", {images_path: d, fit: CONTAIN, anchor: left}]"#),
            Ok(Fit::Contain(FitAnchor::Left))
        );
        assert_eq!(
            fit(r#"["video", "v.mp4", null, "LINEAR", "stretch"]"#),
            Ok(Fit::Stretch)
        );
        assert_eq!(
            fit(r#"["video", {video_path: v.mp4, fit: contain}]"#),
            Ok(Fit::Contain(FitAnchor::Center))
        );
        let e = fit(r#"["image", {image_path: a.jpg, fit: fill}]"#).unwrap_err();
        assert!(
            e.contains("`fit`")
                && e.contains("cover, contain or stretch")
                && e.contains("\"fill\""),
            "{e}"
        );
        let e = fit(r#"["image", {image_path: a.jpg, anchor: middle}]"#).unwrap_err();
        assert!(e.contains("center, top, bottom, left or right"), "{e}");
        let e = fit(r#"["image", {image_path: a.jpg, fit: stretch, anchor: top}]"#).unwrap_err();
        assert!(e.contains("no effect with fit `stretch`"), "{e}");
    }

    #[test]
    fn unknown_filter_lists_known_ones() {
        let e = filter(r#"["blurr", 10]"#).unwrap_err().to_string();
        assert!(
            e.contains("unknown filter `blurr`") && e.contains("gaussian_blur"),
            "{e}"
        );
    }

    #[test]
    fn bad_arguments_say_what_is_expected() {
        let e = filter(r#"["blur", "ten"]"#).unwrap_err().to_string();
        assert!(
            e.contains("intensity_x") && e.contains("blur(intensity_x = 10"),
            "{e}"
        );
        let e = filter(r#"["roll", 1, 2, 3]"#).unwrap_err().to_string();
        assert!(e.contains("at most 2"), "{e}");
        let e = filter(r#"["colorize", {r: 1, g: 2, q: 3}]"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no argument `\"q\"`") || e.contains("no argument `q`"),
            "{e}"
        );
        let e = filter(r#"["image"]"#).unwrap_err().to_string();
        assert!(e.contains("needs argument `image_path`"), "{e}");
    }

    #[test]
    fn spec_examples_parse() {
        let docs = [
            "layers:\n  - empty: [[\"image\", \"background.jpg\"]]\n  - foreground: []\n",
            "layers:\n  - input: [[\"blur\", 10]]\n  - foreground: []\n",
            "layers:\n  - input: [[\"blur\", 10]]\n  - foreground: []\n  - previous: [[\"image\", \"images/fog.jpg\"], [\"roll\", 5, 0]]\n",
        ];
        for d in docs {
            let c =
                crate::config::Config::parse(d, Path::new("x.yaml"), Path::new("/cfg")).unwrap();
            assert!(c.layers.len() >= 2);
        }
        let c =
            crate::config::Config::parse(docs[2], Path::new("x.yaml"), Path::new("/cfg")).unwrap();
        assert_eq!(
            c.layers[2].filters,
            vec![
                Filter::Image {
                    path: "/cfg/images/fog.jpg".into(),
                    interpolation: Interpolation::Linear,
                    fit: Fit::default(),
                },
                Filter::Roll {
                    speed_x: 5,
                    speed_y: 0
                }
            ]
        );
    }

    #[test]
    fn layer_errors_carry_line_and_names() {
        let text =
            "fps: 30\nlayers:\n  - input: [[\"blur\", 10]]\n  - foreground: [[\"sharpen\", 2]]\n";
        let e =
            crate::config::Config::parse(text, Path::new("c.yaml"), Path::new(".")).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("foreground") && m.contains("sharpen") && m.contains("line 4"),
            "{m}"
        );
        let e = crate::config::Config::parse(
            "layers:\n  - background: []\n",
            Path::new("c.yaml"),
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown layer source"), "{e}");
    }
}
