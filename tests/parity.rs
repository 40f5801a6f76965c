//! Both engines against the model's reference runtime (LiteRT running the original .tflite,
//! masks made by scripts/make_reference_masks.py) on the same real frames.

mod common;
use backdrop::segment::{
    find_onnxruntime_library, Engine, ModelInfo, OrtEngine, Segmenter, TractEngine,
};
use common::*;

struct Case {
    stem: String,
    model: String,
    w: u32,
    h: u32,
}

fn cases() -> Vec<Case> {
    let m = std::fs::read_to_string(need("reference/manifest.txt")).unwrap();
    m.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Case {
                stem: f[0].into(),
                model: f[1].into(),
                w: f[2].parse().unwrap(),
                h: f[3].parse().unwrap(),
            }
        })
        .collect()
}

fn check_engine(name: &str, make: &dyn Fn(&ModelInfo) -> Box<dyn Engine>) {
    let cases = cases();
    assert!(cases.len() >= 8, "expected at least 4 frames x 2 models");
    println!("{name}: frame / model / mean abs diff / max abs diff / IoU@0.5");
    for c in &cases {
        let info = ModelInfo {
            name: c.model.clone(),
            path: need(&format!("models/{}.onnx", c.model)),
            width: c.w,
            height: c.h,
        };
        let mut seg = Segmenter::new(make(&info), info.clone());
        let rgb = image::open(need(&format!("reference/{}_{}_input.png", c.stem, c.model)))
            .unwrap()
            .to_rgb8();
        assert_eq!((rgb.width(), rgb.height()), (c.w, c.h));
        let bytes =
            std::fs::read(need(&format!("reference/{}_{}_mask.f32", c.stem, c.model))).unwrap();
        let reference: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let got = seg.segment_model_sized(rgb.as_raw()).unwrap();
        assert_eq!(got.len(), reference.len());
        let n = got.len() as f64;
        let mean = got
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs() as f64)
            .sum::<f64>()
            / n;
        let max = got
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let (mut i, mut u) = (0, 0);
        for (a, b) in got.iter().zip(&reference) {
            i += (*a > 0.5 && *b > 0.5) as u32;
            u += (*a > 0.5 || *b > 0.5) as u32;
        }
        let iou = if u == 0 { 1.0 } else { i as f64 / u as f64 };
        println!(
            "  {} / {} / {mean:.2e} / {max:.2e} / {iou:.5}",
            c.stem, c.model
        );
        assert!(
            mean < 1e-4,
            "{name} {} {}: mean abs diff {mean}",
            c.stem,
            c.model
        );
        assert!(iou > 0.999, "{name} {} {}: IoU {iou}", c.stem, c.model);
        // The person is really there: the reference itself is not an empty mask.
        assert!(
            reference.iter().filter(|&&p| p > 0.5).count() > 100,
            "{} has no person",
            c.stem
        );
    }
}

#[test]
fn tract_matches_reference_runtime() {
    check_engine("tract", &|m| Box::new(TractEngine::load(m).unwrap()));
}

#[test]
fn onnxruntime_matches_reference_runtime() {
    let lib =
        find_onnxruntime_library(None).expect("make setup installs ONNX Runtime into data/lib");
    check_engine("onnxruntime", &|m| {
        Box::new(OrtEngine::load(m, &lib, 1).unwrap())
    });
}
