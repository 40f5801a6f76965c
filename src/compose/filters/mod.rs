//! The filters of SPEC §4. Each is defined once, in [`defs`]: its name, its arguments
//! (positional order and defaults), how they are read from the config and the operation it
//! builds; the operations themselves work in place on a layer's RGBA buffer ([`ops`]).
//!
//! This module holds what all filters share: the [`FilterKind`] a definition implements, the
//! argument reader ([`Args`]), the three argument forms of an entry ([`parse_filter`]) and
//! [`FilterError`].

pub mod defs;
mod ops;

pub use defs::{Filter, FILTER_NAMES};
pub use ops::{head_box, head_position, Anchor, Blur, HeadBox, EYES_FRACTION};

use super::media::{Fit, FitAnchor, Interpolation, Media, MediaOptions, MediaSource};
use super::{ComposeError, FrameCtx, LayerSource};
use crate::frame::RgbaImage;
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// A filter applied to a layer every frame.
pub trait FilterOp: Send {
    /// Transforms `img` in place.
    fn apply(&mut self, img: &mut RgbaImage, ctx: &FrameCtx);
    /// On an `input` layer whose first filter this is: fills `img` with the filter applied to
    /// the camera frame, read straight from `ctx` (saving the pass that fills the layer). False
    /// when the filter has no such shortcut; the compositor then fills the layer and calls
    /// [`FilterOp::apply`].
    fn apply_to_frame(&mut self, _img: &mut RgbaImage, _ctx: &FrameCtx) -> bool {
        false
    }
    /// On an `input` layer whose only filter this is, under a plain foreground: the layer at
    /// full width but fewer rows, to be interpolated vertically while it is blended (a blur
    /// computed at reduced resolution). `None` when the filter has no such shortcut.
    fn background_rows(&mut self, _ctx: &FrameCtx) -> Option<&RgbaImage> {
        None
    }
    /// Whether an opaque layer stays opaque through this filter (lets the compositor skip
    /// alpha checks).
    fn keeps_opaque(&self) -> bool {
        false
    }
    /// Bytes of decoded media the filter holds (counted against the media budget).
    fn media_bytes(&self) -> usize {
        0
    }
}

/// One filter of the layer language: implemented by the typed arguments of each filter in
/// [`defs`], listed there in `registry!`.
pub trait FilterKind: Sized {
    /// The name written in configs.
    const NAME: &'static str;
    /// The arguments in positional order, with their defaults.
    const PARAMS: &'static [Param];
    /// Reads the arguments (defaults already filled in).
    fn parse(a: &Args) -> Result<Self, FilterError>;
    /// Builds the operation run every frame.
    fn build(&self, at: &BuildCtx) -> Result<Box<dyn FilterOp>, ComposeError>;
    /// The file or folder the filter reads, if any (made absolute against the config's folder).
    fn path_mut(&mut self) -> Option<&mut PathBuf> {
        None
    }
}

/// Declares the filters: the [`Filter`] enum (a variant per filter, holding its typed
/// arguments, named as its [`FilterKind`] type), [`FILTER_NAMES`] and the dispatch from a
/// name to a parser and from a filter to its builder.
macro_rules! registry {
    ($($kind:ident),* $(,)?) => {
        /// One filter with its arguments resolved to typed values.
        #[derive(Clone, PartialEq)]
        pub enum Filter {
            $(
                #[doc = concat!("See [`", stringify!($kind), "`].")]
                $kind($kind),
            )*
        }

        /// All filter names, for error messages and docs.
        pub const FILTER_NAMES: &[&str] = &[$(<$kind as FilterKind>::NAME),*];

        /// Each filter's signature and parser.
        pub(super) const SIGS: &[Sig] = &[$(
            Sig {
                name: <$kind as FilterKind>::NAME,
                params: <$kind as FilterKind>::PARAMS,
                parse: |a| <$kind as FilterKind>::parse(a).map(Filter::$kind),
            },
        )*];

        impl Filter {
            /// The filter's name.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Filter::$kind(_) => <$kind as FilterKind>::NAME,)*
                }
            }

            /// Builds the operation run every frame (pictures and videos are decoded here).
            pub fn build(&self, at: &BuildCtx) -> Result<Box<dyn FilterOp>, ComposeError> {
                match self {
                    $(Filter::$kind(f) => f.build(at),)*
                }
            }

            /// The file or folder the filter reads, if any.
            pub fn path_mut(&mut self) -> Option<&mut PathBuf> {
                match self {
                    $(Filter::$kind(f) => f.path_mut(),)*
                }
            }
        }

        // The arguments alone (`Blur { x: 10, y: 10 }`), as layer descriptions show them.
        impl std::fmt::Debug for Filter {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $(Filter::$kind(k) => std::fmt::Debug::fmt(k, f),)*
                }
            }
        }
    };
}
use registry;

/// What a filter is built for.
#[derive(Debug, Clone, Copy)]
pub struct BuildCtx {
    /// The source of the filter's layer.
    pub layer: LayerSource,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Media budget left for this filter and how long a streamed one may be waited for.
    pub media: MediaOptions,
}

impl BuildCtx {
    /// `image`, `image_sequence`, `video`: decodes `src` at the frame size (kept in memory
    /// when it fits the budget, else streamed); the layer becomes the frame due at each time.
    fn show(
        &self,
        filter: &'static str,
        src: MediaSource,
        path: &Path,
        interp: Interpolation,
        fit: Fit,
    ) -> Result<Box<dyn FilterOp>, ComposeError> {
        Media::open(&src, self.width, self.height, interp, fit, self.media)
            .map(|media| Box::new(ops::Show { media }) as Box<dyn FilterOp>)
            .map_err(|reason| ComposeError::Media {
                layer: self.layer.to_string(),
                filter,
                path: path.to_owned(),
                reason: Box::new(reason),
            })
    }
}

/// A filter argument's default: required, a YAML literal, "same as another argument", or none.
#[derive(Debug, Clone, Copy)]
pub enum ArgDefault {
    /// The argument must be given.
    Required,
    /// This YAML value.
    Value(&'static str),
    /// The value of the named argument.
    SameAs(&'static str),
    /// May be left out (read as absent).
    Optional,
}
use ArgDefault::{Optional, Required, SameAs};

/// One argument of a filter: its name and its default.
pub type Param = (&'static str, ArgDefault);

/// A filter's signature and parser, as the registry lists them.
pub(super) struct Sig {
    name: &'static str,
    params: &'static [Param],
    parse: fn(&Args) -> Result<Filter, FilterError>,
}

impl Sig {
    fn usage(&self) -> String {
        usage(self.name, self.params)
    }
}

/// `name(a, b = 10, c = a, d (optional))`, shown with every argument error.
fn usage(name: &str, params: &[Param]) -> String {
    let ps: Vec<String> = params
        .iter()
        .map(|(n, d)| match d {
            Required => n.to_string(),
            ArgDefault::Value(v) => format!("{n} = {v}"),
            SameAs(o) => format!("{n} = {o}"),
            Optional => format!("{n} (optional)"),
        })
        .collect();
    format!("{name}({})", ps.join(", "))
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

/// The arguments of one filter entry, defaults filled in, read by name into typed values.
pub struct Args<'a> {
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

    /// The error for argument `name` not being `want`.
    pub fn bad(&self, name: &'static str, want: &str) -> FilterError {
        FilterError::BadValue {
            argument: name,
            want: want.to_owned(),
            got: self.raw(name).map(show).unwrap_or_else(|| "nothing".into()),
            usage: self.sig.usage(),
        }
    }

    /// A whole number in `lo..=hi` (a float with no fraction counts).
    pub fn int(&self, name: &'static str, lo: i64, hi: i64) -> Result<i64, FilterError> {
        match self.raw(name).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        }) {
            Some(v) if (lo..=hi).contains(&v) => Ok(v),
            _ => Err(self.bad(name, &format!("a whole number in {lo}..={hi}"))),
        }
    }

    /// A whole number in 0..=255.
    pub fn u8(&self, name: &'static str) -> Result<u8, FilterError> {
        Ok(self.int(name, 0, 255)? as u8)
    }

    /// A number in `lo..=hi`.
    pub fn float(&self, name: &'static str, lo: f64, hi: f64) -> Result<f64, FilterError> {
        match self.raw(name).and_then(Value::as_f64) {
            Some(v) if v >= lo && v <= hi => Ok(v),
            _ => Err(self.bad(name, &format!("a number in {lo}..={hi}"))),
        }
    }

    /// A number in `lo..=hi`, or nothing (left out or `null`).
    pub fn opt_float(
        &self,
        name: &'static str,
        lo: f64,
        hi: f64,
    ) -> Result<Option<f64>, FilterError> {
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.float(name, lo, hi).map(Some),
        }
    }

    /// `true` or `false` (1 or 0 count).
    pub fn boolean(&self, name: &'static str) -> Result<bool, FilterError> {
        match self.raw(name) {
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(n.as_i64() == Some(1))
            }
            _ => Err(self.bad(name, "true or false")),
        }
    }

    /// A non-empty string.
    pub fn string(&self, name: &'static str) -> Result<String, FilterError> {
        match self.raw(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(self.bad(name, "a non-empty string")),
        }
    }

    /// `interpolation_method` of the media filters.
    pub fn interpolation(&self) -> Result<Interpolation, FilterError> {
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
    pub fn fit(&self) -> Result<Fit, FilterError> {
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

/// A YAML value as written in a config, for error messages.
pub(super) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Parses one filter entry: `"name"`, `["name", a, b]`, `["name", [a, b]]` or `["name", {k: v}]`.
pub fn parse_filter(v: &Value) -> Result<Filter, FilterError> {
    let (name, rest): (&str, &[Value]) = match v {
        Value::String(s) => (s.as_str(), &[]),
        Value::Sequence(seq) => match seq.first() {
            Some(Value::String(s)) => (s.as_str(), &seq[1..]),
            _ => return Err(FilterError::NoName { got: show(v) }),
        },
        _ => return Err(FilterError::NotAFilter { got: show(v) }),
    };
    let Some(sig) = defs::SIGS.iter().find(|s| s.name == name) else {
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
                ArgDefault::Value(lit) => {
                    values[i] = Some(serde_yaml::from_str(lit).expect("default literal parses"))
                }
                SameAs(_) | Optional => {}
            }
        }
    }
    (sig.parse)(&Args { sig, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(yaml: &str) -> Result<Filter, FilterError> {
        parse_filter(&serde_yaml::from_str(yaml).unwrap())
    }

    #[test]
    fn three_argument_forms_agree() {
        let want = Filter::Blur(defs::Blur { x: 10, y: 4 });
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
            Filter::Blur(defs::Blur { x: 7, y: 7 })
        );
        assert_eq!(
            filter(r#"["gaussian_blur", 10]"#).unwrap(),
            Filter::GaussianBlur(defs::GaussianBlur { x: 11, y: 11 })
        );
        assert_eq!(
            filter(r#""grayscale""#).unwrap(),
            Filter::Grayscale(defs::Grayscale)
        );
    }

    #[test]
    fn image_defaults_and_interpolation() {
        assert_eq!(
            filter(r#"["image", "bg.jpg", "NEAREST"]"#).unwrap(),
            Filter::Image(defs::Image {
                path: "bg.jpg".into(),
                interpolation: Interpolation::Nearest,
                fit: Fit::Cover(FitAnchor::Center),
            })
        );
        let e = filter(r#"["image", "bg.jpg", "CUBIC"]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("LINEAR or NEAREST"), "{e}");
    }

    #[test]
    fn fit_in_all_three_forms() {
        let fit = |yaml: &str| match filter(yaml) {
            Ok(Filter::Image(defs::Image { fit, .. }))
            | Ok(Filter::ImageSequence(defs::ImageSequence { fit, .. }))
            | Ok(Filter::Video(defs::Video { fit, .. })) => Ok(fit),
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

    /// The registry: each name once, and each filter that needs no argument parses from its
    /// bare name (its defaults) and builds an operation that keeps the layer's size; the others
    /// name the argument they need.
    #[test]
    fn every_filter_is_registered_once_and_builds_from_its_defaults() {
        let mut names = FILTER_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FILTER_NAMES.len());
        let (w, h) = (8, 6);
        let frame = crate::frame::RgbFrame::new(w, h);
        let mask = crate::frame::Mask::new(w, h);
        let ctx = FrameCtx {
            frame: &frame,
            mask: &mask,
            index: 3,
            time: 0.1,
        };
        let at = BuildCtx {
            layer: LayerSource::Input,
            width: w,
            height: h,
            media: MediaOptions {
                budget: 0,
                stream_wait: crate::compose::media::STREAM_WAIT,
            },
        };
        for sig in defs::SIGS {
            let bare = filter(&format!("\"{}\"", sig.name));
            match sig.params.iter().find(|(_, d)| matches!(d, Required)) {
                None => {
                    let f = bare.unwrap();
                    assert_eq!(f.name(), sig.name);
                    let mut img = RgbaImage::new(w, h);
                    f.build(&at).unwrap().apply(&mut img, &ctx);
                    assert_eq!((img.width, img.height), (w, h), "{}", sig.name);
                }
                Some((arg, _)) => assert_eq!(
                    bare.unwrap_err(),
                    FilterError::Missing {
                        filter: sig.name,
                        argument: arg,
                        usage: sig.usage(),
                    }
                ),
            }
        }
    }
}
