//! Criterion benches of the per-frame kernels at 1280x720, on a real frame of the test footage
//! (run `make setup` first): MJPEG decode, model-input resize + inference, mask refinement,
//! composition of the blurred-background stack, and RGB → YUYV.

use backdrop::compose::{Compositor, FrameCtx};
use backdrop::config::Config;
use backdrop::frame::{Mask, RgbFrame};
use backdrop::segment::refine::{MaskRefiner, RefineParams};
use backdrop::segment::Segmenter;
use backdrop::sink::yuv::{OutputFormat, YuvConverter};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::{Path, PathBuf};

fn frame_720p() -> (RgbFrame, Vec<u8>) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/footage/stills/ultralytics_zidane.jpg");
    let jpeg =
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (run `make setup`)", p.display()));
    let img = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    assert_eq!((img.width(), img.height()), (1280, 720));
    (
        RgbFrame {
            width: 1280,
            height: 720,
            data: img.into_raw(),
        },
        jpeg,
    )
}

fn kernels(c: &mut Criterion) {
    let (frame, jpeg) = frame_720p();
    let mut out = RgbFrame::default();
    c.bench_function("mjpeg_decode_720p", |b| {
        b.iter(|| backdrop::source::mjpeg::decode_mjpeg(&jpeg, &mut out).unwrap())
    });

    let cfg = Config::parse("engine: auto\n", Path::new("b.yaml"), Path::new(".")).unwrap();
    let (mut seg, _) = Segmenter::from_config(&cfg).unwrap();
    c.bench_function(&format!("segment_720p_{}", seg.engine_name()), |b| {
        b.iter(|| seg.segment(&frame).unwrap().len())
    });

    let probs = seg.segment(&frame).unwrap().to_vec();
    let (mw, mh) = (seg.model().width, seg.model().height);
    let params = RefineParams::from_config(&cfg);
    let mut refiner = MaskRefiner::new();
    let mut mask = Mask::new(1280, 720);
    c.bench_function("refine_720p", |b| {
        b.iter(|| refiner.refine_guided(&probs, mw, mh, &frame, &params, &mut mask))
    });

    let mut comp = Compositor::new(&cfg.layers, 1280, 720).unwrap();
    let mut composed = RgbFrame::default();
    let mut i = 0;
    c.bench_function("compose_blur_background_720p", |b| {
        b.iter(|| {
            i += 1;
            comp.compose(
                &FrameCtx {
                    frame: &frame,
                    mask: &mask,
                    index: i,
                    time: i as f64 / 30.0,
                },
                &mut composed,
            )
        })
    });

    let mut conv = YuvConverter::default();
    let mut yuyv = Vec::new();
    c.bench_function("rgb_to_yuyv_720p", |b| {
        b.iter(|| conv.convert(&frame, OutputFormat::Yuyv, &mut yuyv))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = kernels
}
criterion_main!(benches);
