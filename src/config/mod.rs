//! The YAML configuration (SPEC §3): options, defaults, validation and line-numbered errors.

mod output;
mod user;
pub use output::{OutputFormat, DEFAULT_JPEG_QUALITY};

pub use user::{user_config_path, write_example, EXAMPLE};

// The layer and filter language is defined with the filters (`compose`); a config holds it.
pub use crate::compose::{
    Anchor, Filter, FilterArg, FilterError, LayerError, LayerSource, LayerSpec, FILTER_NAMES,
    LAYER_SOURCES, MAX_FILTERS,
};
pub use crate::media::{Fit, FitAnchor, Interpolation};

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Errors from reading or validating a config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read. (The I/O error is part of the message, not a `source`, so
    /// that a printed error chain says it once.)
    #[error("cannot read config file {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The YAML is malformed or an option has a wrong name, type or value.
    #[error("{path}: {message}")]
    Invalid {
        /// The file (or `<inline>`).
        path: PathBuf,
        /// What is wrong, with line and column where known.
        message: String,
        /// 1-based line of the error, where known.
        line: Option<usize>,
    },
    /// `backdrop init` would replace an existing config file.
    #[error("{path} already exists; edit it, or move it away to start again from the example")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The config file (or its folder) could not be written.
    #[error("cannot write config file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Neither `XDG_CONFIG_HOME` nor `HOME` is set, so there is no per-user config file.
    #[error("neither XDG_CONFIG_HOME nor HOME is set, so there is no per-user config file; pass -c FILE")]
    NoHome,
}

/// Which inference engine runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// ONNX Runtime when its library loads, else tract.
    #[default]
    Auto,
    /// tract, the pure-Rust engine (always available).
    Tract,
    /// ONNX Runtime, loaded at run time; an error when it cannot be loaded.
    Onnxruntime,
}

impl std::fmt::Display for EngineChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineChoice::Auto => "auto",
            EngineChoice::Tract => "tract",
            EngineChoice::Onnxruntime => "onnxruntime",
        })
    }
}

/// How the model's low-resolution mask becomes the full-resolution alpha (`refine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RefineMode {
    /// Edge-aware: a fast guided filter steered by the frame, soft alpha at the edge, with
    /// `segmentation_threshold` as the centre of the soft ramp.
    #[default]
    Guided,
    /// The original tool's way: bilinear upsampling, hard threshold, `blur` of the edge.
    Plain,
}

impl std::fmt::Display for RefineMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RefineMode::Guided => "guided",
            RefineMode::Plain => "plain",
        })
    }
}

/// How masks are smoothed over time (`temporal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TemporalMode {
    /// Per-pixel exponential average whose weight follows the image's motion: strong where the
    /// picture is still (no flicker), none where it moves (no afterimages).
    #[default]
    Adaptive,
    /// Plain mean of the last `average_masks` masks (the original tool).
    Mean,
}

impl std::fmt::Display for TemporalMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TemporalMode::Adaptive => "adaptive",
            TemporalMode::Mean => "mean",
        })
    }
}

/// The whole configuration, as read from `config.yaml`, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Camera device, e.g. `/dev/video0`.
    pub real_video_device: String,
    /// v4l2loopback device, e.g. `/dev/video10`.
    pub virtual_video_device: String,
    /// Capture width; auto-detected when absent.
    pub width: Option<u32>,
    /// Capture height; auto-detected when absent.
    pub height: Option<u32>,
    /// Capture frame rate.
    pub fps: u32,
    /// Ask the camera for MJPEG (`true`), YUYV (`false`) or pick automatically (absent).
    pub mjpeg: Option<bool>,
    /// Foreground/background threshold of the mask (0–1).
    pub segmentation_threshold: f32,
    /// Blur of the mask edge, in pixels.
    pub blur: u32,
    /// Shrink the mask by this many pixels (removes specks).
    pub dilate: u32,
    /// Then grow the mask by this many pixels.
    pub erode: u32,
    /// Number of recent masks averaged.
    pub average_masks: u32,
    /// Mask refinement: `guided` (edge-aware, default) or `plain` (threshold + blur).
    pub refine: RefineMode,
    /// Temporal smoothing: `adaptive` (motion-adaptive, default) or `mean` (of `average_masks`).
    pub temporal: TemporalMode,
    /// Run the model on a crop around the person found in the previous masks.
    pub track_person: bool,
    /// Output the mask instead of the composition.
    pub debug_show_mask: bool,
    /// Model name (`auto`, `selfie`, `selfie_landscape`) or a path to an `.onnx` file.
    pub model: String,
    /// BodyPix multiplier (only for BodyPix models).
    pub multiplier: Option<f32>,
    /// BodyPix output stride (only for BodyPix models).
    pub stride: Option<u32>,
    /// Factor for the model's input size, where the model allows it.
    pub internal_resolution: Option<f32>,
    /// Inference engine.
    pub engine: EngineChoice,
    /// Explicit path to `libonnxruntime.so` (else `ORT_DYLIB_PATH`, else the data directory).
    pub onnxruntime_library: Option<PathBuf>,
    /// Intra-op threads of ONNX Runtime (tract always uses one).
    pub inference_threads: u32,
    /// Pixel format written to the virtual camera.
    pub output_format: OutputFormat,
    /// JPEG quality (1–100) of `output_format: mjpeg`.
    pub jpeg_quality: u32,
    /// Most masks per second (the model may run slower than the video); absent = every frame.
    pub mask_fps: Option<f32>,
    /// Delay the video by the inference latency so each frame is composed with its own mask.
    pub delay_video: bool,
    /// Close the camera and stop working while no app has the virtual camera open (where the
    /// virtual camera can tell).
    pub on_demand: bool,
    /// The composition, bottom to top.
    #[serde(skip)]
    pub layers: Vec<LayerSpec>,
    /// The `layers` list as written; parsed into `layers` with line numbers for errors.
    #[serde(rename = "layers")]
    raw_layers: Vec<serde_yaml::Value>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            real_video_device: "/dev/video0".into(),
            virtual_video_device: "/dev/video10".into(),
            width: None,
            height: None,
            fps: 30,
            mjpeg: None,
            segmentation_threshold: 0.5,
            blur: 6,
            dilate: 0,
            erode: 0,
            average_masks: 2,
            refine: RefineMode::Guided,
            temporal: TemporalMode::Adaptive,
            track_person: true,
            debug_show_mask: false,
            model: "auto".into(),
            multiplier: None,
            stride: None,
            internal_resolution: None,
            engine: EngineChoice::Auto,
            onnxruntime_library: None,
            inference_threads: 1,
            output_format: Default::default(),
            jpeg_quality: DEFAULT_JPEG_QUALITY,
            mask_fps: None,
            delay_video: false,
            on_demand: true,
            layers: vec![],
            raw_layers: vec![],
        }
    }
}

/// Largest config file read: a config is a few KB, so anything near this is the wrong file
/// (and reading stops here, so `-c /dev/zero` cannot exhaust memory).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Deepest nesting of lists and maps accepted; a config needs about 8 levels. The YAML parser's
/// time grows with the square of the nesting, so deeper input is refused before parsing.
pub const MAX_NESTING: usize = 32;

/// Most layers a config may have (each holds a frame-sized buffer).
pub const MAX_LAYERS: usize = 64;

/// The configuration used when no file is given: blurred background.
pub const DEFAULT_YAML: &str = "layers:\n  - input: [[\"blur\", 10]]\n  - foreground: []\n";

impl Config {
    /// True when `other` needs the model reloaded.
    pub fn model_changed(&self, other: &Config) -> bool {
        (
            &self.model,
            self.engine,
            &self.onnxruntime_library,
            self.multiplier,
            self.stride,
            self.internal_resolution,
            self.inference_threads,
        ) != (
            &other.model,
            other.engine,
            &other.onnxruntime_library,
            other.multiplier,
            other.stride,
            other.internal_resolution,
            other.inference_threads,
        )
    }

    /// True when `other` needs the camera re-initialised.
    pub fn capture_changed(&self, other: &Config) -> bool {
        (
            &self.real_video_device,
            self.width,
            self.height,
            self.fps,
            self.mjpeg,
        ) != (
            &other.real_video_device,
            other.width,
            other.height,
            other.fps,
            other.mjpeg,
        )
    }

    /// True when `other` needs the virtual camera re-opened.
    pub fn output_changed(&self, other: &Config) -> bool {
        (
            &self.virtual_video_device,
            self.output_format,
            self.fps,
            self.jpeg_quality,
        ) != (
            &other.virtual_video_device,
            other.output_format,
            other.fps,
            other.jpeg_quality,
        )
    }

    /// Reads and validates a config file (at most [`MAX_CONFIG_BYTES`] are read).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        use std::io::Read;
        let read_err = |error| ConfigError::Read {
            path: path.to_owned(),
            error,
        };
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
            line: None,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(invalid(
                "is a folder; give the config file (e.g. config.yaml)".into(),
            ));
        }
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(invalid(format!(
                "the file is larger than {} MiB; a config is a few KB, so this is probably not a config file",
                MAX_CONFIG_BYTES >> 20
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            invalid(format!(
                "not UTF-8 text (invalid byte at offset {}); is it a config file?",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, path, base)
    }

    /// Parses and validates YAML text; relative file paths in filters resolve against `base`.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String, line: Option<usize>| ConfigError::Invalid {
            path: path.to_owned(),
            message,
            line,
        };
        if text.len() > MAX_CONFIG_BYTES {
            return Err(invalid(
                format!(
                    "the config is larger than {} MiB; a config is a few KB",
                    MAX_CONFIG_BYTES >> 20
                ),
                None,
            ));
        }
        if let Some((depth, line)) = too_deep(text) {
            return Err(invalid(
                format!(
                    "lists and maps are nested more than {MAX_NESTING} levels deep at line {line} ({depth} seen); a config needs about 8"
                ),
                Some(line),
            ));
        }
        // An empty file is a valid config with all defaults.
        let mut cfg: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| {
                let line = e.location().map(|l| l.line());
                invalid(e.to_string(), line)
            })?
        };
        let raw = std::mem::take(&mut cfg.raw_layers);
        if raw.len() > MAX_LAYERS {
            return Err(invalid(
                format!(
                    "layers: {} layers; at most {MAX_LAYERS} are allowed",
                    raw.len()
                ),
                layer_line(text, MAX_LAYERS),
            ));
        }
        for (i, v) in raw.iter().enumerate() {
            let layer = LayerSpec::from_value(v).map_err(|m| {
                let line = layer_line(text, i);
                let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
                invalid(format!("layers[{i}]: {m}{at}"), line)
            })?;
            cfg.layers.push(layer);
        }
        if cfg.layers.is_empty() {
            cfg.layers = Config::parse(DEFAULT_YAML, path, base)?.layers;
        }
        for layer in &mut cfg.layers {
            layer.resolve_paths(base);
        }
        cfg.validate().map_err(|e| invalid(e.to_string(), None))?;
        Ok(cfg)
    }

    /// Checks value ranges that the types alone cannot express.
    pub fn validate(&self) -> Result<(), OptionError> {
        let bad = |option, value, problem, fix| {
            Err(OptionError {
                option,
                value,
                problem,
                fix,
            })
        };
        const RANGE: &str = "is out of range";
        if !(0.0..=1.0).contains(&self.segmentation_threshold) {
            return bad(
                "segmentation_threshold",
                self.segmentation_threshold.to_string(),
                RANGE,
                "use a value between 0 and 1 (e.g. 0.5)",
            );
        }
        if self.fps == 0 || self.fps > 240 {
            return bad("fps", self.fps.to_string(), RANGE, "use 1..=240");
        }
        if self.average_masks > 64 {
            return bad(
                "average_masks",
                self.average_masks.to_string(),
                "is too many",
                "use 0..=64 (1 or 0 disables averaging)",
            );
        }
        for (name, v) in [
            ("blur", self.blur),
            ("dilate", self.dilate),
            ("erode", self.erode),
        ] {
            if v > 200 {
                return bad(name, format!("{v} pixels"), "is too large", "use 0..=200");
            }
        }
        if let (Some(w), Some(h)) = (self.width, self.height) {
            if w == 0 || h == 0 || w > 7680 || h > 4320 || w % 2 == 1 {
                return bad(
                    "width/height",
                    format!("{w}x{h}"),
                    "is not a usable size",
                    "use an even width up to 7680x4320",
                );
            }
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return bad(
                "jpeg_quality",
                self.jpeg_quality.to_string(),
                RANGE,
                "use 1..=100 (85 is the default, 90+ for a sharper, larger picture)",
            );
        }
        if !(1..=16).contains(&self.inference_threads) {
            return bad(
                "inference_threads",
                self.inference_threads.to_string(),
                RANGE,
                "use 1..=16",
            );
        }
        if let Some(f) = self.mask_fps {
            if !(f > 0.0 && f <= 240.0) {
                return bad(
                    "mask_fps",
                    f.to_string(),
                    RANGE,
                    "use 0 < mask_fps <= 240, or remove it",
                );
            }
        }
        if let Some(r) = self.internal_resolution {
            if !(r > 0.0 && r <= 1.0) {
                return bad(
                    "internal_resolution",
                    r.to_string(),
                    RANGE,
                    "use a factor in (0, 1]",
                );
            }
        }
        Ok(())
    }
}

/// An option whose value is outside what works, with the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{option}: {value} {problem}; {fix}")]
pub struct OptionError {
    /// The option's name.
    pub option: &'static str,
    /// The value given (with its unit, where it has one).
    pub value: String,
    /// What is wrong with it.
    pub problem: &'static str,
    /// What to use instead.
    pub fix: &'static str,
}

/// The nesting depth and 1-based line where `text` first nests lists and maps deeper than
/// [`MAX_NESTING`], or `None`. A cheap scan, not a parser: block nesting by indentation (and
/// `- ` items), flow nesting by brackets outside quotes and comments; generous enough that
/// its approximations never matter for a real config.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<u8> = None;
    for (n, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        if flow == 0 && quote.is_none() {
            let ind = b.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
            if ind == b.len() || b[ind] == b'#' {
                continue;
            }
            while indents.last().is_some_and(|&t| t >= ind) {
                indents.pop();
            }
            indents.push(ind);
            i = ind;
            // `- - x`: each dash opens a nested sequence.
            while b.get(i) == Some(&b'-') && matches!(b.get(i + 1), Some(b' ') | None) {
                i += 2;
                indents.push(i);
            }
        }
        let mut prev = b' ';
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(b'"') if c == b'\\' => i += 1,
                Some(q) if c == q => {
                    // '' inside single quotes is an escaped quote.
                    if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        quote = None;
                    }
                }
                Some(_) => {}
                None => match c {
                    b'#' if prev == b' ' || prev == b'\t' => break,
                    b'"' | b'\'' if matches!(prev, b' ' | b'\t' | b'[' | b'{' | b',' | b':') => {
                        quote = Some(c)
                    }
                    b'[' | b'{' => {
                        flow += 1;
                        if indents.len() + flow > MAX_NESTING {
                            return Some((indents.len() + flow, n + 1));
                        }
                    }
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
            i += 1;
        }
        if indents.len() + flow > MAX_NESTING {
            return Some((indents.len() + flow, n + 1));
        }
    }
    None
}

/// The 1-based line of the `index`-th item of the top-level `layers:` block list, if written
/// in block style (serde_yaml gives no positions for values, so we find it in the text).
fn layer_line(text: &str, index: usize) -> Option<usize> {
    let mut lines = text
        .lines()
        .enumerate()
        .skip_while(|(_, l)| !l.starts_with("layers:"));
    lines.next()?;
    let mut indent = None;
    let mut seen = 0;
    for (n, l) in lines {
        let body = l.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let ind = l.len() - body.len();
        if ind == 0 && !body.starts_with('-') {
            return None; // the next top-level key: the list ended
        }
        if body.starts_with('-') && *indent.get_or_insert(ind) == ind {
            if seen == index {
                return Some(n + 1);
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.yaml"), Path::new("/base"))
    }

    #[test]
    fn empty_file_gives_defaults_with_blurred_background() {
        let c = parse("").unwrap();
        assert_eq!(c.model, "auto");
        assert_eq!(c.layers.len(), 2);
        assert_eq!(c.layers[0].source, LayerSource::Input);
        assert!(matches!(
            c.layers[0].filters[0],
            Filter::Blur(crate::compose::filters::defs::Blur { x: 10, y: 10 })
        ));
    }

    #[test]
    fn options_are_read() {
        let c = parse(
            "real_video_device: /dev/video4\nwidth: 1280\nheight: 720\nfps: 25\nmjpeg: true\n\
             segmentation_threshold: 0.7\nblur: 3\ndilate: 2\nerode: 4\naverage_masks: 5\n\
             debug_show_mask: true\nmodel: selfie_landscape\nengine: tract\n",
        )
        .unwrap();
        assert_eq!(c.real_video_device, "/dev/video4");
        assert_eq!(
            (c.width, c.height, c.fps, c.mjpeg),
            (Some(1280), Some(720), 25, Some(true))
        );
        assert_eq!((c.blur, c.dilate, c.erode, c.average_masks), (3, 2, 4, 5));
        assert!(c.debug_show_mask);
        assert_eq!(c.engine, EngineChoice::Tract);
        assert!((c.segmentation_threshold - 0.7).abs() < 1e-6);
    }

    #[test]
    fn unknown_option_names_line_and_accepted_options() {
        let e = parse("fps: 30\nsegmentation_treshold: 0.5\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("segmentation_treshold"), "{msg}");
        assert!(msg.contains("segmentation_threshold"), "{msg}");
        assert!(
            matches!(e, ConfigError::Invalid { line: Some(2), .. }),
            "{e:?}"
        );
    }

    #[test]
    fn out_of_range_threshold_is_rejected() {
        let e = parse("segmentation_threshold: 1.5\n").unwrap_err();
        assert!(e.to_string().contains("between 0 and 1"), "{e}");
    }

    #[test]
    fn wrong_type_names_line() {
        let e = parse("fps: 30\nblur: lots\n").unwrap_err();
        assert!(
            matches!(e, ConfigError::Invalid { line: Some(2), .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("blur"), "{e}");
    }

    #[test]
    fn bad_yaml_syntax_names_line() {
        let e = parse("fps: 30\nlayers:\n  - input: [[\"blur\", 10]\n").unwrap_err();
        assert!(
            matches!(e, ConfigError::Invalid { line: Some(_), .. }),
            "{e:?}"
        );
    }

    #[test]
    fn nesting_bound_counts_structure_not_text() {
        // Brackets inside quotes and comments are text.
        let odd = format!(
            "layers:  # {}\n  - empty: [[\"image\", \"{}.png\"], ['roll', 1, 0]]\n",
            "[".repeat(50),
            "[".repeat(50)
        );
        let c = parse(&odd).unwrap();
        assert_eq!(c.layers.len(), 1);
        assert_eq!(too_deep("a:\n  b:\n    - - [x]\n"), None);
        let deep = format!("layers: {}{}\n", "[".repeat(40), "]".repeat(40));
        assert_eq!(too_deep(&deep), Some((33, 1)));
        let e = parse(&deep).unwrap_err();
        assert!(
            matches!(e, ConfigError::Invalid { line: Some(1), .. }),
            "{e:?}"
        );
    }

    #[test]
    fn layer_count_is_bounded() {
        let ok = format!("layers:\n{}", "  - input: []\n".repeat(MAX_LAYERS));
        assert_eq!(parse(&ok).unwrap().layers.len(), MAX_LAYERS);
        let e = parse(&format!("{ok}  - input: []\n")).unwrap_err();
        assert!(e.to_string().contains("65 layers; at most 64"), "{e}");
        assert!(
            matches!(e, ConfigError::Invalid { line: Some(66), .. }),
            "{e:?}"
        );
    }

    #[test]
    fn mjpeg_output_and_its_quality_are_read_and_checked() {
        let c = parse("output_format: mjpeg\njpeg_quality: 92\n").unwrap();
        assert_eq!(c.output_format, OutputFormat::Mjpeg);
        assert_eq!(c.jpeg_quality, 92);
        assert!(c.output_changed(&parse("output_format: mjpeg\n").unwrap()));
        assert_eq!(parse("").unwrap().jpeg_quality, 85);
        let e = parse("jpeg_quality: 300\n").unwrap_err();
        assert!(
            e.to_string().contains("jpeg_quality: 300 is out of range"),
            "{e}"
        );
        let e = parse("output_format: h264\n").unwrap_err();
        assert!(e.to_string().contains("mjpeg"), "{e}");
    }

    #[test]
    fn engine_values_are_checked() {
        let e = parse("engine: cuda\n").unwrap_err();
        assert!(e.to_string().contains("onnxruntime"), "{e}");
    }

    #[test]
    fn spec_examples_parse() {
        let docs = [
            "layers:\n  - empty: [[\"image\", \"background.jpg\"]]\n  - foreground: []\n",
            "layers:\n  - input: [[\"blur\", 10]]\n  - foreground: []\n",
            "layers:\n  - input: [[\"blur\", 10]]\n  - foreground: []\n  - previous: [[\"image\", \"images/fog.jpg\"], [\"roll\", 5, 0]]\n",
        ];
        for d in docs {
            let c = Config::parse(d, Path::new("x.yaml"), Path::new("/cfg")).unwrap();
            assert!(c.layers.len() >= 2);
        }
        let c = Config::parse(docs[2], Path::new("x.yaml"), Path::new("/cfg")).unwrap();
        assert_eq!(
            c.layers[2].filters,
            vec![
                Filter::Image(crate::compose::filters::defs::Image {
                    path: "/cfg/images/fog.jpg".into(),
                    interpolation: Interpolation::Linear,
                    fit: Fit::default(),
                }),
                Filter::Roll(crate::compose::filters::defs::Roll {
                    speed_x: 5,
                    speed_y: 0
                })
            ]
        );
    }

    #[test]
    fn layer_errors_carry_line_and_names() {
        let text =
            "fps: 30\nlayers:\n  - input: [[\"blur\", 10]]\n  - foreground: [[\"sharpen\", 2]]\n";
        let e = Config::parse(text, Path::new("c.yaml"), Path::new(".")).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("foreground") && m.contains("sharpen") && m.contains("line 4"),
            "{m}"
        );
        let e = Config::parse(
            "layers:\n  - background: []\n",
            Path::new("c.yaml"),
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown layer source"), "{e}");
    }
}
