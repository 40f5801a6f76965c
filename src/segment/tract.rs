//! The pure-Rust engine: tract running the converted ONNX model (always available).

use super::{Engine, ModelInfo, SegmentError};
use std::path::Path;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// tract with the model optimised for its fixed NHWC input shape.
pub struct TractEngine {
    state: TypedSimpleState,
    shape: [usize; 4],
}

fn load_err(path: &Path, e: impl std::fmt::Display) -> SegmentError {
    SegmentError::Load {
        path: path.to_owned(),
        reason: format!("{e:#}"),
    }
}

/// Reads a model's fixed NHWC input size (width, height) from its input fact.
pub fn input_size(path: &Path) -> Result<(u32, u32), SegmentError> {
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .map_err(|e| load_err(path, e))?;
    let fact = model.input_fact(0).map_err(|e| load_err(path, e))?;
    let dims: Option<Vec<usize>> = fact
        .shape
        .dims()
        .map(|d| {
            d.concretize()
                .and_then(|d| d.to_i64().ok().map(|v| v as usize))
        })
        .collect();
    match dims.as_deref() {
        Some([1, h, w, 3]) => Ok((*w as u32, *h as u32)),
        _ => Err(load_err(
            path,
            format!("expected a fixed NHWC RGB input [1,H,W,3], found {fact:?}"),
        )),
    }
}

impl TractEngine {
    /// Loads and optimises the model for its input size.
    pub fn load(model: &ModelInfo) -> Result<Self, SegmentError> {
        let (w, h) = (model.width as usize, model.height as usize);
        let shape = [1, h, w, 3];
        let plan = tract_onnx::onnx()
            .model_for_path(&model.path)
            .and_then(|m| m.with_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), shape)))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| load_err(&model.path, e))?;
        let state = plan.spawn().map_err(|e| load_err(&model.path, e))?;
        Ok(TractEngine { state, shape })
    }
}

impl Engine for TractEngine {
    fn name(&self) -> &'static str {
        "tract"
    }

    fn infer(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), SegmentError> {
        let mut run = || -> TractResult<()> {
            let t = Tensor::from_shape(&self.shape, input)?;
            let out = self.state.run(tvec!(t.into()))?;
            let view = out[0].to_plain_array_view::<f32>()?;
            let src = view
                .as_slice()
                .ok_or_else(|| anyhow::anyhow!("non-contiguous output"))?;
            anyhow::ensure!(
                src.len() == output.len(),
                "output has {} values, expected {}",
                src.len(),
                output.len()
            );
            output.copy_from_slice(src);
            Ok(())
        };
        run().map_err(|e| SegmentError::Run(format!("{e:#}")))
    }
}
