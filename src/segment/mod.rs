//! Person segmentation: model lookup, the inference engines, and mask refinement.

mod masker;
mod onnxruntime;
pub mod refine;
mod track;
mod tract;

pub use self::masker::Masker;
pub use self::onnxruntime::{
    disable_onnxruntime_telemetry, find_onnxruntime_library, OrtEngine, OrtEnvError,
};
pub use self::track::{Tracker, CROP_MAX_AREA, REFRESH_FRAMES, REFRESH_SECS};
pub use self::tract::TractEngine;

use crate::config::{Config, EngineChoice};
use crate::frame::RgbFrame;
use fast_image_resize::{
    images::Image, images::ImageRef, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer,
};
use std::path::{Path, PathBuf};

/// Errors from finding, loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// A known model name whose file is not installed.
    #[error("model `{name}` is not installed ({detail}). Installed models: {installed}. Run `make models` (or scripts/fetch_models.sh) to install the default models, or set `model:` to a path to an .onnx file")]
    NotInstalled {
        /// The requested name.
        name: String,
        /// Why (missing file, or no source for these weights).
        detail: String,
        /// What is installed.
        installed: String,
    },
    /// The model file exists but cannot be loaded.
    #[error("cannot load model {path}: {reason}")]
    Load {
        /// The file.
        path: PathBuf,
        /// The engine's message.
        reason: String,
    },
    /// An option that the chosen model does not have.
    #[error(
        "option `{option}` does not apply to model `{model}`: {why}. Remove it from the config"
    )]
    Unsupported {
        /// The option name.
        option: &'static str,
        /// The model.
        model: String,
        /// Why.
        why: String,
    },
    /// The ONNX Runtime library could not be used.
    #[error("ONNX Runtime is not usable: {0}")]
    Onnxruntime(String),
    /// The ONNX Runtime library could not be loaded or started.
    #[error("ONNX Runtime is not usable: {0}")]
    OrtEnv(OrtEnvError),
    /// Inference failed at run time.
    #[error("inference failed: {0}")]
    Run(String),
}

/// An inference engine running one segmentation model: NHWC RGB in \[0,1\] → person probability.
pub trait Engine: Send {
    /// Short engine name for logs and benchmarks (`tract`, `onnxruntime`).
    fn name(&self) -> &'static str;
    /// Runs the model on `input` (`h*w*3` floats) and writes `h*w` probabilities to `output`.
    fn infer(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), SegmentError>;
}

/// A model file and its fixed input size.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Name as given in the config (`selfie`, or the file stem of a path).
    pub name: String,
    /// The `.onnx` file.
    pub path: PathBuf,
    /// Input width.
    pub width: u32,
    /// Input height.
    pub height: u32,
}

/// Installed model names with their input sizes (width, height).
pub const KNOWN_MODELS: &[(&str, u32, u32)] =
    &[("selfie", 256, 256), ("selfie_landscape", 256, 144)];

/// `model: auto` (the default): the model whose input shape is nearest the frame's: the
/// landscape one (144x256) for frames at least 3:2 wide (16:9 webcams), else the general one
/// (256x256: 4:3, square, portrait). Unknown frame size: the general one.
pub fn auto_model(frame: Option<(u32, u32)>) -> &'static str {
    match frame {
        Some((w, h)) if h > 0 && w as f32 / h as f32 >= 1.5 => "selfie_landscape",
        _ => "selfie",
    }
}

/// Whether the model in use should change for frames of this size (`model: auto` only, and
/// only to a model that is installed).
pub fn auto_model_differs(cfg: &Config, current: &str, w: u32, h: u32) -> bool {
    let want = auto_model(Some((w, h)));
    cfg.model.trim() == "auto" && current != want && model_path(&data_dir(), want).is_file()
}

/// Where an installed model of that name lives in the data directory `dir`.
fn model_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("models").join(format!("{name}.onnx"))
}

/// BodyPix names of the original tool: recognised, but no registry package ships their weights.
const BODYPIX: &[&str] = &["mobilenet", "resnet50"];

/// The data directory holding `models/` and `lib/`: `$BACKDROP_DATA_DIR`, else a `data/` folder
/// beside the executable or one of its parents (a source checkout), else `data/` in the current
/// folder, else `~/.local/share/backdrop` when it holds models, else the installed package's
/// `lib/backdrop` beside the executable's `bin/` (`/usr/lib/backdrop` for `/usr/bin/backdrop`),
/// else `~/.local/share/backdrop` (named in the "not installed" errors).
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BACKDROP_DATA_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().ok();
    if let Some(exe) = &exe {
        for dir in exe.ancestors().skip(1) {
            let cand = dir.join("data");
            if cand.join("models").is_dir() {
                return cand;
            }
        }
    }
    let cwd = PathBuf::from("data");
    if cwd.join("models").is_dir() {
        return cwd;
    }
    let home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("backdrop");
    if home.join("models").is_dir() {
        return home;
    }
    let installed = exe
        .as_deref()
        .and_then(|e| e.parent()?.parent())
        .map(|prefix| prefix.join("lib").join("backdrop"));
    match installed {
        Some(dir) if dir.join("models").is_dir() => dir,
        _ => home,
    }
}

fn installed_models(dir: &Path) -> String {
    let list: Vec<&str> = KNOWN_MODELS
        .iter()
        .filter(|(n, _, _)| model_path(dir, n).is_file())
        .map(|(n, _, _)| *n)
        .collect();
    if list.is_empty() {
        format!("none (looked in {})", dir.join("models").display())
    } else {
        list.join(", ")
    }
}

/// Resolves the config's `model` (a name, `auto`, or a path) to a file and input size, for
/// frames of `frame` size (which `auto` chooses by; `None` when not known yet).
pub fn resolve_model(cfg: &Config, frame: Option<(u32, u32)>) -> Result<ModelInfo, SegmentError> {
    let dir = data_dir();
    let mut name = cfg.model.trim();
    if name == "auto" {
        name = auto_model(frame);
        // The other shape rather than none when only one is installed.
        let other = KNOWN_MODELS.iter().map(|m| m.0).find(|&n| n != name);
        let installed = |n: &str| model_path(&dir, n).is_file();
        if let Some(other) = other.filter(|&o| !installed(name) && installed(o)) {
            name = other;
        }
    }
    if BODYPIX.contains(&name) {
        return Err(SegmentError::NotInstalled {
            name: name.into(),
            detail: "BodyPix weights are not shipped by any package registry, only downloaded at run time from Google's servers".into(),
            installed: installed_models(&dir),
        });
    }
    let (info, fixed) = if let Some(&(n, w, h)) = KNOWN_MODELS.iter().find(|(n, _, _)| *n == name) {
        let path = model_path(&dir, n);
        if !path.is_file() {
            return Err(SegmentError::NotInstalled {
                name: n.into(),
                detail: format!("{} does not exist", path.display()),
                installed: installed_models(&dir),
            });
        }
        (
            ModelInfo {
                name: n.into(),
                path,
                width: w,
                height: h,
            },
            true,
        )
    } else {
        let path = PathBuf::from(name);
        if !path.is_file() {
            return Err(SegmentError::NotInstalled {
                name: name.into(),
                detail: "it is neither a known model name nor an existing .onnx file".into(),
                installed: installed_models(&dir),
            });
        }
        let (w, h) = tract::input_size(&path)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        (
            ModelInfo {
                name: stem,
                path,
                width: w,
                height: h,
            },
            false,
        )
    };
    for (option, set) in [
        ("multiplier", cfg.multiplier.is_some()),
        ("stride", cfg.stride.is_some()),
        (
            "internal_resolution",
            cfg.internal_resolution.is_some_and(|r| r != 1.0),
        ),
    ] {
        if set && (fixed || option != "internal_resolution") {
            return Err(SegmentError::Unsupported {
                option,
                model: info.name.clone(),
                why: format!(
                    "it is a BodyPix option and this model has a fixed {}x{} input",
                    info.width, info.height
                ),
            });
        }
    }
    Ok(info)
}

/// Creates the engine the config asks for; returns it with a sentence saying why it was chosen.
pub fn create_engine(
    cfg: &Config,
    model: &ModelInfo,
) -> Result<(Box<dyn Engine>, String), SegmentError> {
    let tract =
        || -> Result<Box<dyn Engine>, SegmentError> { Ok(Box::new(TractEngine::load(model)?)) };
    match cfg.engine {
        EngineChoice::Tract => Ok((tract()?, "tract (engine: tract in the config)".into())),
        EngineChoice::Onnxruntime => {
            let lib = find_onnxruntime_library(cfg.onnxruntime_library.as_deref())?;
            let e = OrtEngine::load(model, &lib, cfg.inference_threads as usize)?;
            Ok((
                Box::new(e),
                format!(
                    "onnxruntime (engine: onnxruntime; library {})",
                    lib.display()
                ),
            ))
        }
        EngineChoice::Auto => {
            let tried =
                find_onnxruntime_library(cfg.onnxruntime_library.as_deref()).and_then(|lib| {
                    OrtEngine::load(model, &lib, cfg.inference_threads as usize).map(|e| (e, lib))
                });
            match tried {
                Ok((e, lib)) => Ok((
                    Box::new(e),
                    format!("onnxruntime (engine: auto; found {})", lib.display()),
                )),
                Err(why) => Ok((
                    tract()?,
                    format!("tract (engine: auto; ONNX Runtime not used: {why})"),
                )),
            }
        }
    }
}

/// A rectangle of frame pixels: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// Runs the model on frames: resizes the frame to the model input, infers, keeps the probabilities.
pub struct Segmenter {
    engine: Box<dyn Engine>,
    model: ModelInfo,
    resizer: Resizer,
    resized: Image<'static>,
    input: Vec<f32>,
    output: Vec<f32>,
    /// Wall time of the last resize and inference.
    pub last_timing: SegmentTiming,
}

/// Wall and CPU milliseconds of the last `segment` call, split into resize and inference.
#[derive(Debug, Clone, Copy, Default)]
pub struct SegmentTiming {
    /// Resize (wall ms, cpu ms).
    pub resize: (f64, f64),
    /// Inference (wall ms, cpu ms).
    pub infer: (f64, f64),
}

impl SegmentTiming {
    /// Adds another run's times.
    pub fn add(&mut self, t: &SegmentTiming) {
        self.resize = (self.resize.0 + t.resize.0, self.resize.1 + t.resize.1);
        self.infer = (self.infer.0 + t.infer.0, self.infer.1 + t.infer.1);
    }
}

impl Segmenter {
    /// Wraps a loaded engine for `model`.
    pub fn new(engine: Box<dyn Engine>, model: ModelInfo) -> Self {
        let n = (model.width * model.height) as usize;
        Segmenter {
            engine,
            resizer: Resizer::new(),
            resized: Image::new(model.width, model.height, PixelType::U8x3),
            input: vec![0.0; n * 3],
            output: vec![0.0; n],
            last_timing: SegmentTiming::default(),
            model,
        }
    }

    /// Loads the model and engine the config asks for (`model: auto` as for a frame of unknown
    /// size). Returns the segmenter and why this engine.
    pub fn from_config(cfg: &Config) -> Result<(Self, String), SegmentError> {
        Self::for_frames(cfg, None)
    }

    /// As [`Segmenter::from_config`], for frames of `frame` size (which `model: auto` chooses
    /// by).
    pub fn for_frames(
        cfg: &Config,
        frame: Option<(u32, u32)>,
    ) -> Result<(Self, String), SegmentError> {
        let model = resolve_model(cfg, frame)?;
        let (engine, why) = create_engine(cfg, &model)?;
        Ok((Segmenter::new(engine, model), why))
    }

    /// The model in use.
    pub fn model(&self) -> &ModelInfo {
        &self.model
    }

    /// The engine's name.
    pub fn engine_name(&self) -> &'static str {
        self.engine.name()
    }

    /// Segments a frame; returns person probabilities at model resolution (`model.width*height`).
    pub fn segment(&mut self, frame: &RgbFrame) -> Result<&[f32], SegmentError> {
        self.segment_region(frame, None)
    }

    /// Segments the part `crop` of a frame (the whole frame when `None`); returns person
    /// probabilities at model resolution covering that part.
    pub fn segment_region(
        &mut self,
        frame: &RgbFrame,
        crop: Option<Rect>,
    ) -> Result<&[f32], SegmentError> {
        let src = ImageRef::new(frame.width, frame.height, &frame.data, PixelType::U8x3)
            .map_err(|e| SegmentError::Run(format!("bad frame buffer: {e}")))?;
        // The model sees the whole frame (or the crop) stretched to its input (MediaPipe's own
        // pre-processing).
        let mut opts =
            ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
        if let Some(r) = crop {
            opts = opts.crop(r.x as f64, r.y as f64, r.w as f64, r.h as f64);
        }
        let probe = crate::stats::Probe::start();
        self.resizer
            .resize(&src, &mut self.resized, &opts)
            .map_err(|e| SegmentError::Run(format!("resize: {e}")))?;
        self.last_timing.resize = probe.ms();
        self.infer_resized()
    }

    /// Runs the model on an RGB image already at model size (used by parity tests).
    pub fn segment_model_sized(&mut self, rgb: &[u8]) -> Result<&[f32], SegmentError> {
        self.resized.buffer_mut().copy_from_slice(rgb);
        self.infer_resized()
    }

    fn infer_resized(&mut self) -> Result<&[f32], SegmentError> {
        for (dst, &src) in self.input.iter_mut().zip(self.resized.buffer()) {
            *dst = src as f32 / 255.0;
        }
        let probe = crate::stats::Probe::start();
        self.engine.infer(&self.input, &mut self.output)?;
        self.last_timing.infer = probe.ms();
        Ok(&self.output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_the_model_nearest_the_frame_shape() {
        assert_eq!(auto_model(Some((1280, 720))), "selfie_landscape");
        assert_eq!(auto_model(Some((1920, 1080))), "selfie_landscape");
        assert_eq!(auto_model(Some((720, 480))), "selfie_landscape"); // 3:2
        assert_eq!(auto_model(Some((640, 480))), "selfie");
        assert_eq!(auto_model(Some((1080, 1920))), "selfie");
        assert_eq!(auto_model(Some((0, 0))), "selfie");
        assert_eq!(auto_model(None), "selfie");
        let cfg = Config::default();
        assert_eq!(cfg.model, "auto");
        let mut explicit = Config::default();
        explicit.model = "selfie".into();
        assert!(!auto_model_differs(&explicit, "selfie", 1280, 720));
    }
}
