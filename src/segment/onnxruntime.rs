//! The fast engine: ONNX Runtime, loaded at run time from the shared library the set-up step
//! extracts from the PyPI wheel (`ort`'s `load-dynamic`; nothing is downloaded at build time).

use super::{data_dir, Engine, ModelInfo, SegmentError};
use ort::session::{builder::GraphOptimizationLevel, Session};
use ort::value::TensorRef;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The ONNX Runtime version the set-up step installs.
pub const ORT_VERSION: &str = "1.32.0";

/// Finds `libonnxruntime.so`: the explicit option, else `ORT_DYLIB_PATH`, else the data directory.
pub fn find_onnxruntime_library(explicit: Option<&Path>) -> Result<PathBuf, SegmentError> {
    let (path, origin) = if let Some(p) = explicit {
        (p.to_owned(), "onnxruntime_library in the config")
    } else if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        (PathBuf::from(p), "ORT_DYLIB_PATH")
    } else {
        (
            data_dir()
                .join("lib")
                .join(format!("libonnxruntime.so.{ORT_VERSION}")),
            "the data directory",
        )
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(SegmentError::Onnxruntime(format!(
            "{} (from {origin}) does not exist; run `make onnxruntime` (scripts/fetch_onnxruntime.sh) to install it",
            path.display()
        )))
    }
}

/// The process-wide ONNX Runtime environment. `ort` can load one library per process, so the
/// first successful load wins and a later request for another path is refused clearly.
static ENV: OnceLock<Result<(ort::environment::Environment, PathBuf), OrtEnvError>> =
    OnceLock::new();

/// Why the ONNX Runtime environment could not be set up (kept for the whole process, so the
/// reason is a message rather than the loader's error).
#[derive(Debug, Clone, thiserror::Error)]
pub enum OrtEnvError {
    /// The library could not be loaded.
    #[error("cannot load {}: {reason}", lib.display())]
    Load {
        /// The library file.
        lib: PathBuf,
        /// What the loader said.
        reason: String,
    },
    /// The library loaded, but its environment could not be created.
    #[error("cannot start ONNX Runtime from {}: {reason}", lib.display())]
    Start {
        /// The library file.
        lib: PathBuf,
        /// What ONNX Runtime said.
        reason: String,
    },
}

/// Turns ONNX Runtime's telemetry off for this process (its `ORT_DISABLE_TELEMETRY` switch,
/// unless the user set it). Call it at start, before any thread exists: it changes the
/// environment, which other threads' C code may read meanwhile. The library does it as well
/// when it first loads ONNX Runtime, for programs that did not.
///
/// Why: the PyPI wheel's library ships Microsoft's 1DS telemetry. At start it writes a device id
/// and an event store under ~/.cache/Microsoft, and a background thread resolves and contacts
/// its collector every few seconds, camera or not (measured in the VM test: the only CPU an idle
/// `run` used). `with_telemetry(false)` stops events but, by ONNX Runtime's design, not the
/// uploader; this switch, read when the library starts, stops it all. A camera app sends
/// nothing anywhere.
pub fn disable_onnxruntime_telemetry() {
    if std::env::var_os("ORT_DISABLE_TELEMETRY").is_none() {
        std::env::set_var("ORT_DISABLE_TELEMETRY", "1");
    }
}

fn environment(lib: &Path) -> Result<&'static ort::environment::Environment, SegmentError> {
    let got = ENV.get_or_init(|| {
        // A no-op for the binary, which did it at start (see the function).
        disable_onnxruntime_telemetry();
        let env = ort::init_from(lib)
            .map_err(|e| OrtEnvError::Load {
                lib: lib.to_owned(),
                reason: e.to_string(),
            })?
            .with_name("backdrop")
            // `ort` turns the events on unless told otherwise.
            .with_telemetry(false)
            .build()
            .map_err(|e| OrtEnvError::Start {
                lib: lib.to_owned(),
                reason: e.to_string(),
            })?;
        Ok((env, lib.to_owned()))
    });
    match got {
        Ok((env, loaded)) if loaded == lib => Ok(env),
        Ok((_, loaded)) => Err(SegmentError::Onnxruntime(format!(
            "{} is already loaded in this process; restart to use {}",
            loaded.display(),
            lib.display()
        ))),
        Err(e) => Err(SegmentError::OrtEnv(e.clone())),
    }
}

/// ONNX Runtime session for one model.
pub struct OrtEngine {
    session: Session,
    shape: [usize; 4],
}

impl OrtEngine {
    /// Loads ONNX Runtime from `lib` (once per process) and the model into a session with
    /// `threads` intra-op threads. Uses the `<name>.resize.onnx` variant when it is installed:
    /// ONNX Runtime's own Resize kernel is faster there than the plain-op upsampling tract needs.
    pub fn load(model: &ModelInfo, lib: &Path, threads: usize) -> Result<Self, SegmentError> {
        let env = environment(lib)?;
        let variant = model.path.with_extension("resize.onnx");
        let path = if variant.is_file() {
            variant
        } else {
            model.path.clone()
        };
        let load = |e: ort::Error| SegmentError::Load {
            path: model.path.clone(),
            reason: e.to_string(),
        };
        let session = Session::builder(env)
            .map_err(load)?
            .with_intra_threads(threads.max(1))
            .map_err(|e| load(e.into()))?
            .with_inter_threads(1)
            .map_err(|e| load(e.into()))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| load(e.into()))?
            .commit_from_file(&path)
            .map_err(load)?;
        Ok(OrtEngine {
            session,
            shape: [1, model.height as usize, model.width as usize, 3],
        })
    }
}

impl Engine for OrtEngine {
    fn name(&self) -> &'static str {
        "onnxruntime"
    }

    fn infer(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), SegmentError> {
        let run = |e: ort::Error| SegmentError::Run(e.to_string());
        let tensor = TensorRef::from_array_view((self.shape, input)).map_err(run)?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(run)?;
        let (_, data) = outputs[0].try_extract_tensor::<f32>().map_err(run)?;
        if data.len() != output.len() {
            return Err(SegmentError::Run(format!(
                "model output has {} values, expected {}",
                data.len(),
                output.len()
            )));
        }
        output.copy_from_slice(data);
        Ok(())
    }
}
