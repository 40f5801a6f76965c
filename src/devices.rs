//! `backdrop devices` (which V4L2 nodes are cameras, with their modes, and which are
//! v4l2loopback outputs; the PipeWire cameras) and `backdrop doctor` (the usual set-up failures,
//! each with its fix).

pub mod pipewire;
pub mod service;

use crate::config::Config;
use crate::sink::loopback::{loaded_max_buffers, modprobe_line};
use crate::sink::yuv::OutputFormat;
use crate::source::camera::{choose_mode, format_mismatch, mode_options};
use crate::v4l2::{
    fourcc_str, Device, FrameRates, FrameSizes, PixFormat, BUF_TYPE_CAPTURE, BUF_TYPE_OUTPUT,
    CAP_META_CAPTURE, CAP_STREAMING, CAP_VIDEO_CAPTURE, CAP_VIDEO_M2M, CAP_VIDEO_OUTPUT,
    FIELD_NONE, PIX_YUYV,
};
use crate::v4l2::{holders, loopback_nodes, loopback_version};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One pixel format of a camera with its sizes and rates.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraFormat {
    /// Four-character code.
    pub fourcc: u32,
    /// Driver's description.
    pub description: String,
    /// Sizes as the driver reports them.
    pub sizes: Option<FrameSizes>,
    /// Rates of each discrete size (same order as the sizes).
    pub rates: Vec<((u32, u32), Option<FrameRates>)>,
}

/// What a V4L2 node is.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceKind {
    /// A capture device.
    Camera(Vec<CameraFormat>),
    /// A v4l2loopback node; `streaming` is the format a producer writes, if one does.
    Loopback {
        /// The format being produced, when a producer is running.
        streaming: Option<PixFormat>,
    },
    /// Anything else (metadata nodes, codecs, ...), with a short description.
    Other(String),
}

/// A V4L2 node.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// `/dev/videoN`.
    pub path: PathBuf,
    /// Device name (the loopback's card_label).
    pub card: String,
    /// Driver name.
    pub driver: String,
    /// Bus location.
    pub bus: String,
    /// Driver version: the module's for v4l2loopback (e.g. 0.13.2), else the kernel's.
    pub version: String,
    /// What it is.
    pub kind: DeviceKind,
}

/// Why a node could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The node cannot be opened.
    #[error("{0}")]
    Open(std::io::Error),
    /// The node does not answer `VIDIOC_QUERYCAP` (not a V4L2 device).
    #[error("VIDIOC_QUERYCAP: {0}")]
    QueryCap(std::io::Error),
}

impl InspectError {
    /// Whether the node exists but the user may not open it (the fix: the video group).
    pub fn permission_denied(&self) -> bool {
        let (InspectError::Open(e) | InspectError::QueryCap(e)) = self;
        e.kind() == std::io::ErrorKind::PermissionDenied
    }
}

/// Inspects one node; `Err` carries the reason it could not be opened.
pub fn inspect(path: &Path) -> Result<DeviceInfo, InspectError> {
    let dev = Device::open(path, true).map_err(InspectError::Open)?;
    let cap = dev.query_cap().map_err(InspectError::QueryCap)?;
    let caps = cap.caps();
    let kind = if cap.is_loopback() {
        // With exclusive_caps the node only announces CAPTURE while a producer streams.
        let streaming = (caps & CAP_VIDEO_CAPTURE != 0)
            .then(|| dev.get_format(BUF_TYPE_CAPTURE).ok())
            .flatten()
            .filter(|f| f.width > 0);
        DeviceKind::Loopback { streaming }
    } else if caps & CAP_VIDEO_CAPTURE != 0 && caps & CAP_VIDEO_M2M == 0 {
        let mut formats = vec![];
        for f in dev.formats(BUF_TYPE_CAPTURE) {
            let sizes = dev.frame_sizes(f.fourcc);
            let rates = match &sizes {
                Some(FrameSizes::Discrete(v)) => v
                    .iter()
                    .map(|&(w, h)| ((w, h), dev.frame_rates(f.fourcc, w, h)))
                    .collect(),
                _ => vec![],
            };
            formats.push(CameraFormat {
                fourcc: f.fourcc,
                description: f.description,
                sizes,
                rates,
            });
        }
        DeviceKind::Camera(formats)
    } else if caps & CAP_META_CAPTURE != 0 {
        DeviceKind::Other("metadata node (not a picture source)".into())
    } else if caps & CAP_VIDEO_M2M != 0 {
        DeviceKind::Other("memory-to-memory codec".into())
    } else if caps & CAP_VIDEO_OUTPUT != 0 {
        DeviceKind::Other("video output".into())
    } else {
        DeviceKind::Other(format!("capabilities {caps:#x}"))
    };
    Ok(DeviceInfo {
        path: path.to_owned(),
        card: cap.card(),
        driver: cap.driver(),
        bus: cap.bus_info(),
        version: if cap.is_loopback() {
            loopback_version()
        } else {
            let v = cap.version;
            format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
        },
        kind,
    })
}

fn fmt_rates(r: &Option<FrameRates>) -> String {
    match r {
        None => String::new(),
        Some(FrameRates::Discrete(v)) => {
            let list: Vec<String> = v.iter().map(|f| fmt_fps(*f)).collect();
            format!(" @ {} fps", list.join("/"))
        }
        Some(FrameRates::Range { min, max }) => {
            format!(" @ {}-{} fps", fmt_fps(*min), fmt_fps(*max))
        }
    }
}

fn fmt_fps(f: f64) -> String {
    if (f - f.round()).abs() < 0.01 {
        format!("{}", f.round())
    } else {
        format!("{f:.2}")
    }
}

/// Renders `backdrop devices`' report for the given nodes (and for nodes that failed to open).
pub fn render_devices(list: &[Result<DeviceInfo, (PathBuf, InspectError)>]) -> String {
    let mut s = String::new();
    if list.is_empty() {
        s.push_str("no V4L2 devices (/dev/video*) found; plug in a camera, and load v4l2loopback for the virtual camera (see `backdrop doctor`)\n");
    }
    for item in list {
        let d = match item {
            Ok(d) => d,
            Err((p, e)) => {
                let _ = writeln!(s, "{}: cannot open: {e}", p.display());
                continue;
            }
        };
        match &d.kind {
            DeviceKind::Camera(formats) => {
                let _ = writeln!(
                    s,
                    "{}: camera \"{}\" (driver {}, {})",
                    d.path.display(),
                    d.card,
                    d.driver,
                    d.bus
                );
                for f in formats {
                    let _ = write!(s, "    {} ({}):", fourcc_str(f.fourcc), f.description);
                    match &f.sizes {
                        Some(FrameSizes::Discrete(_)) => {
                            for ((w, h), r) in &f.rates {
                                let _ = write!(s, "\n        {w}x{h}{}", fmt_rates(r));
                            }
                            s.push('\n');
                        }
                        Some(FrameSizes::Stepwise { min, max, step }) => {
                            let _ = writeln!(
                                s,
                                " any size {}x{} to {}x{} (steps {}x{})",
                                min.0, min.1, max.0, max.1, step.0, step.1
                            );
                        }
                        None => s.push_str(" sizes not reported\n"),
                    }
                }
            }
            DeviceKind::Loopback { streaming } => {
                let state = match streaming {
                    Some(f) => format!(
                        "a producer is writing {}x{} {}",
                        f.width,
                        f.height,
                        fourcc_str(f.pixelformat)
                    ),
                    None => "idle, ready for `backdrop run`".to_owned(),
                };
                let _ = writeln!(
                    s,
                    "{}: virtual camera (v4l2loopback {}) \"{}\": {state}",
                    d.path.display(),
                    d.version,
                    d.card
                );
            }
            DeviceKind::Other(what) => {
                let _ = writeln!(
                    s,
                    "{}: {what} \"{}\" (driver {})",
                    d.path.display(),
                    d.card,
                    d.driver
                );
            }
        }
    }
    s
}

/// `backdrop devices`: every node, inspected.
pub fn list_devices() -> Vec<Result<DeviceInfo, (PathBuf, InspectError)>> {
    crate::v4l2::video_nodes()
        .into_iter()
        .map(|p| inspect(&p).map_err(|e| (p, e)))
        .collect()
}

/// How bad a doctor finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Works.
    Ok,
    /// Works, but may bite.
    Warn,
    /// `backdrop run` will fail.
    Fail,
}

/// One doctor finding with its fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// How bad.
    pub level: Level,
    /// What was found.
    pub what: String,
    /// What to do, if anything.
    pub fix: Option<String>,
}

/// What `backdrop doctor` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DoctorReport {
    /// Findings in the order checked.
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    fn add(&mut self, level: Level, what: impl Into<String>, fix: Option<String>) {
        self.findings.push(Finding {
            level,
            what: what.into(),
            fix,
        });
    }
    /// True when some finding makes `backdrop run` fail.
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Fail)
    }
    /// The report as text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for f in &self.findings {
            let tag = match f.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            let _ = writeln!(s, "[{tag}] {}", f.what);
            if let Some(fix) = &f.fix {
                for line in fix.lines() {
                    let _ = writeln!(s, "       {line}");
                }
            }
        }
        s.push_str(if self.failed() {
            "backdrop run will fail until the FAIL items are fixed.\n"
        } else {
            "everything needed for `backdrop run` is in place.\n"
        });
        s
    }
}

/// Whether UEFI Secure Boot is on (`None`: cannot tell, e.g. BIOS boot).
pub fn secure_boot() -> Option<bool> {
    let dir = std::fs::read_dir("/sys/firmware/efi/efivars").ok()?;
    for e in dir.flatten() {
        if e.file_name().to_string_lossy().starts_with("SecureBoot-") {
            // 4 bytes of attributes, then the value.
            let b = std::fs::read(e.path()).ok()?;
            return b.get(4).map(|&v| v == 1);
        }
    }
    None
}

/// Whether a v4l2loopback module is installed for the running kernel.
fn module_installed() -> bool {
    let Ok(rel) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let dir = PathBuf::from("/lib/modules").join(rel.trim());
    std::fs::read_to_string(dir.join("modules.dep"))
        .map(|d| d.contains("/v4l2loopback.ko"))
        .unwrap_or(false)
}

/// `backdrop doctor`: checks the module, the virtual camera and the camera named by `cfg`.
pub fn doctor(cfg: &Config) -> DoctorReport {
    let mut r = DoctorReport::default();
    let virt = PathBuf::from(&cfg.virtual_video_device);
    let cam = PathBuf::from(&cfg.real_video_device);
    if crate::sink::pipewire::is_pipewire(&cfg.virtual_video_device) {
        pipewire::check(&mut r, cfg);
    } else {
        check_module(&mut r, &virt);
        check_loopback(&mut r, &virt);
        check_output(&mut r, cfg);
    }
    check_camera(&mut r, cfg, &cam);
    check_on_demand(&mut r, cfg, &virt, &cam);
    let (level, what, fix) = service::finding(&service::state());
    r.add(level, what, fix);
    r
}

/// `on_demand`, and the state of a running Backdrop: streaming (it holds the camera) or idle
/// (it holds only the virtual camera, because no app reads it).
fn check_on_demand(r: &mut DoctorReport, cfg: &Config, virt: &Path, cam: &Path) {
    let is_backdrop = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "backdrop")
    };
    let running: Vec<u32> = crate::v4l2::holder_pids(virt)
        .into_iter()
        .filter(is_backdrop)
        .collect();
    let state = match running.first() {
        None => "Backdrop is not running".to_owned(),
        Some(pid) if crate::v4l2::holder_pids(cam).contains(pid) => {
            format!("Backdrop (pid {pid}) is streaming: an app reads the virtual camera, the camera is on")
        }
        Some(pid) if cfg.on_demand => format!(
            "Backdrop (pid {pid}) is idle: no app reads the virtual camera, so the camera is off until one opens it"
        ),
        Some(pid) => format!("Backdrop (pid {pid}) holds the virtual camera but not the camera"),
    };
    if cfg.on_demand {
        r.add(Level::Ok, format!("on_demand: on; {state}"), None);
    } else {
        r.add(
            Level::Ok,
            format!("on_demand: off (the camera stays on while Backdrop runs); {state}"),
            Some("set on_demand: true to turn the camera off while no app uses it".into()),
        );
    }
}

/// The output format, and what it needs of the module.
fn check_output(r: &mut DoctorReport, cfg: &Config) {
    match cfg.output_format {
        OutputFormat::Mjpeg => {
            r.add(
                Level::Ok,
                format!(
                    "output format: MJPEG, jpeg_quality {} (Firefox runs it at 30 fps)",
                    cfg.jpeg_quality
                ),
                None,
            );
            if let Some(n) = loaded_max_buffers().filter(|&n| n < 3) {
                r.add(
                    Level::Warn,
                    format!("v4l2loopback has max_buffers={n}: a consumer slower than one frame may decode a half-overwritten JPEG (broken pictures)"),
                    Some(format!("sudo modprobe -r v4l2loopback && {}", modprobe_line(Path::new(&cfg.virtual_video_device)))),
                );
            }
        }
        f => r.add(
            Level::Ok,
            format!("output format: {}", f.name().to_uppercase()),
            Some("Firefox runs raw cameras 800 px wide or more at 15 fps; for Firefox calls at 720p/1080p set output_format: mjpeg".into()),
        ),
    }
}

fn check_module(r: &mut DoctorReport, virt: &Path) {
    let sys = Path::new("/sys/module/v4l2loopback");
    if sys.exists() {
        let version = loopback_version();
        r.add(Level::Ok, format!("v4l2loopback {version} is loaded"), None);
        let excl =
            std::fs::read_to_string(sys.join("parameters/exclusive_caps")).unwrap_or_default();
        if excl.trim_start().starts_with('N') || excl.trim_start().starts_with('0') {
            r.add(
                Level::Warn,
                "v4l2loopback was loaded without exclusive_caps=1: Chrome, Chromium, Zoom and Teams do not list such a device",
                Some(format!("sudo modprobe -r v4l2loopback && {}", modprobe_line(virt))),
            );
        }
        return;
    }
    let sb = secure_boot();
    if module_installed() {
        let mut fix = modprobe_line(virt);
        if sb == Some(true) {
            fix.push_str(
                "\nSecure Boot is on: if modprobe says \"Key was rejected by service\", the DKMS-built module is not signed with an enrolled key.\n\
                 Enroll the DKMS key and reboot: sudo mokutil --import /var/lib/dkms/mok.pub (then confirm in the blue MOK screen at boot),\n\
                 or turn Secure Boot off in the firmware settings.",
            );
        }
        r.add(
            Level::Fail,
            "the v4l2loopback module is installed but not loaded",
            Some(fix),
        );
    } else {
        let mut fix = format!(
            "sudo apt install v4l2loopback-dkms linux-headers-$(uname -r)\n{}",
            modprobe_line(virt)
        );
        if sb == Some(true) {
            fix.push_str("\nSecure Boot is on: the DKMS build must be signed; apt offers to enroll a MOK key, accept it and reboot.");
        }
        r.add(
            Level::Fail,
            "the v4l2loopback module is not installed",
            Some(fix),
        );
    }
    // Make it load at boot, the usual follow-up question.
    if let Some(f) = r.findings.last_mut() {
        if let Some(fix) = f.fix.as_mut() {
            let nr = modprobe_line(virt);
            let opts = nr.trim_start_matches("sudo modprobe v4l2loopback ");
            let _ = write!(
                fix,
                "\nto load it at every boot: echo v4l2loopback | sudo tee /etc/modules-load.d/v4l2loopback.conf; echo 'options v4l2loopback {opts}' | sudo tee /etc/modprobe.d/v4l2loopback.conf"
            );
            if let Some(alt) = pipewire::alternative() {
                let _ = write!(fix, "\n{alt}");
            }
        }
    }
}

fn check_loopback(r: &mut DoctorReport, virt: &Path) {
    let loaded = Path::new("/sys/module/v4l2loopback").exists();
    if !virt.exists() {
        if loaded {
            let nodes: Vec<String> = loopback_nodes()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            r.add(
                Level::Fail,
                format!("virtual_video_device {} does not exist", virt.display()),
                Some(if nodes.is_empty() {
                    format!("reload the module: sudo modprobe -r v4l2loopback && {}", modprobe_line(virt))
                } else {
                    format!(
                        "v4l2loopback devices here: {}; set virtual_video_device to one of them, or reload with video_nr: sudo modprobe -r v4l2loopback && {}",
                        nodes.join(", "),
                        modprobe_line(virt)
                    )
                }),
            );
        }
        return;
    }
    let info = match inspect(virt) {
        Ok(i) => i,
        Err(e) => {
            let fix = if e.permission_denied() {
                "add yourself to the video group: sudo usermod -aG video $USER, then log in again"
                    .to_owned()
            } else {
                format!("check {} with `backdrop devices`", virt.display())
            };
            r.add(
                Level::Fail,
                format!("cannot open {}: {e}", virt.display()),
                Some(fix),
            );
            return;
        }
    };
    match &info.kind {
        DeviceKind::Loopback { streaming } => {
            let held = holders(virt);
            // Consumers hold it too; Backdrop never reads a virtual camera, so a backdrop
            // process among the holders is its producer.
            let ours = held.iter().any(|h| h.starts_with("backdrop (pid"));
            if let Some(f) = streaming.filter(|_| ours) {
                r.add(
                    Level::Ok,
                    format!(
                        "virtual camera {} (\"{}\") is fed by Backdrop: {}x{} {} ({})",
                        virt.display(),
                        info.card,
                        f.width,
                        f.height,
                        fourcc_str(f.pixelformat),
                        held.join(", ")
                    ),
                    Some(format!("a second `backdrop run` on it would fail: stop this one first (systemctl --user stop {} if it is the service)", service::UNIT_NAME)),
                );
                return;
            }
            if let Some(f) = streaming.filter(|_| !held.is_empty()) {
                r.add(
                    Level::Fail,
                    format!(
                        "virtual camera {} is busy: a producer already writes {}x{} {} ({})",
                        virt.display(),
                        f.width,
                        f.height,
                        fourcc_str(f.pixelformat),
                        held.join(", ")
                    ),
                    Some("stop that program (another backdrop, OBS's virtual camera, ffmpeg), or give Backdrop its own device: sudo modprobe v4l2loopback devices=2 ...".into()),
                );
                return;
            }
            // Try what `backdrop run` does first: set the output format.
            match probe_output_format(virt) {
                Ok(()) => r.add(
                    Level::Ok,
                    format!("virtual camera {} (\"{}\") accepts YUYV output", virt.display(), info.card),
                    None,
                ),
                Err(e) => r.add(
                    Level::Fail,
                    format!("virtual camera {} refuses the output format: VIDIOC_S_FMT: {e}", virt.display()),
                    Some(format!(
                        "v4l2loopback 0.12 (Debian 12, Ubuntu 22.04) refuses new producers after a write() producer (ffmpeg -f v4l2, an old backdrop) exited;\n\
                         reload the module: sudo modprobe -r v4l2loopback && {}",
                        modprobe_line(virt)
                    )),
                ),
            }
        }
        DeviceKind::Camera(_) => r.add(
            Level::Fail,
            format!(
                "virtual_video_device {} is a real camera (\"{}\"), not the v4l2loopback device: writing to it fails with \"VIDIOC_S_FMT: Invalid argument\"",
                virt.display(),
                info.card
            ),
            Some(loopback_hint(virt)),
        ),
        DeviceKind::Other(what) => r.add(
            Level::Fail,
            format!("virtual_video_device {} is a {what}, not a v4l2loopback device", virt.display()),
            Some(loopback_hint(virt)),
        ),
    }
}

fn loopback_hint(virt: &Path) -> String {
    let nodes: Vec<String> = loopback_nodes()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if nodes.is_empty() {
        format!(
            "load v4l2loopback ({}) and set virtual_video_device to its node",
            modprobe_line(virt)
        )
    } else {
        format!(
            "set virtual_video_device to the loopback node: {}",
            nodes.join(", ")
        )
    }
}

/// Sets a YUYV 640x480 output format and closes again (what a producer does first).
fn probe_output_format(virt: &Path) -> std::io::Result<()> {
    let dev = Device::open(virt, true)?;
    let pix = PixFormat {
        width: 640,
        height: 480,
        pixelformat: PIX_YUYV,
        field: FIELD_NONE,
        bytesperline: 1280,
        sizeimage: 640 * 480 * 2,
        ..Default::default()
    };
    dev.set_format(BUF_TYPE_OUTPUT, pix).map(|_| ())
}

/// The fix for a `real_video_device` that is not a camera at all.
const CAMERA_HINT: &str =
    "set real_video_device to a camera listed by `backdrop devices` (usually /dev/video0)";

fn is_char_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device())
}

fn check_camera(r: &mut DoctorReport, cfg: &Config, cam: &Path) {
    if !cam.exists() {
        let cams: Vec<String> = list_devices()
            .into_iter()
            .flatten()
            .filter(|d| matches!(d.kind, DeviceKind::Camera(_)))
            .map(|d| format!("{} (\"{}\")", d.path.display(), d.card))
            .collect();
        r.add(
            Level::Fail,
            format!("camera {} does not exist", cam.display()),
            Some(if cams.is_empty() {
                "no camera found: plug one in (and check `dmesg` for USB errors)".into()
            } else {
                format!(
                    "cameras here: {}; set real_video_device to one of them",
                    cams.join(", ")
                )
            }),
        );
        return;
    }
    if let Some(what) = crate::source::not_a_file(cam).filter(|_| !is_char_device(cam)) {
        // A folder, a regular file, a symlink loop: no group membership fixes that.
        let what = what.replace("not a file", "not a device");
        r.add(
            Level::Fail,
            format!("real_video_device {} {what}", cam.display()),
            Some(CAMERA_HINT.into()),
        );
        return;
    }
    let dev = match Device::open(cam, true) {
        Ok(d) => d,
        Err(e) => {
            let fix = if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) {
                "add yourself to the video group: sudo usermod -aG video $USER, then log in again"
            } else {
                CAMERA_HINT
            };
            r.add(
                Level::Fail,
                format!("cannot open camera {}: {e}", cam.display()),
                Some(fix.into()),
            );
            return;
        }
    };
    let Ok(cap) = dev.query_cap() else {
        r.add(
            Level::Fail,
            format!(
                "real_video_device {} is not a V4L2 capture device",
                cam.display()
            ),
            Some(CAMERA_HINT.into()),
        );
        return;
    };
    let caps = cap.caps();
    if cap.is_loopback() || caps & CAP_VIDEO_CAPTURE == 0 || caps & CAP_STREAMING == 0 {
        r.add(
            Level::Fail,
            format!(
                "real_video_device {} is not a camera ({}, driver {})",
                cam.display(),
                cap.card(),
                cap.driver()
            ),
            Some("set real_video_device to a camera listed by `backdrop devices` (UVC cameras have a second, metadata node: use the first)".into()),
        );
        return;
    }
    let options = mode_options(&dev);
    let Some(m) = choose_mode(&options, cfg.width, cfg.height, cfg.fps, cfg.mjpeg) else {
        let (wanted, offered) = format_mismatch(&dev, cfg.mjpeg);
        r.add(
            Level::Fail,
            format!(
                "camera {} offers no {wanted} mode (it has {offered})",
                cam.display(),
            ),
            Some("remove `mjpeg` from the config, or set it the other way".into()),
        );
        return;
    };
    let pix = PixFormat {
        width: m.width,
        height: m.height,
        pixelformat: m.fourcc,
        field: FIELD_NONE,
        ..Default::default()
    };
    match dev.set_format(BUF_TYPE_CAPTURE, pix) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let held = holders(cam);
            if !held.is_empty() && held.iter().all(|h| h.starts_with("backdrop (pid")) {
                r.add(
                    Level::Ok,
                    format!(
                        "camera {} (\"{}\") is in use by Backdrop ({})",
                        cam.display(),
                        cap.card(),
                        held.join(", ")
                    ),
                    None,
                );
                return;
            }
            r.add(
                Level::Fail,
                format!(
                    "camera {} is busy{}",
                    cam.display(),
                    if held.is_empty() {
                        String::new()
                    } else {
                        format!(" (used by {})", held.join(", "))
                    }
                ),
                Some("close the other program using the camera (a browser tab, a video app), then try again".into()),
            );
        }
        Err(e) => r.add(
            Level::Fail,
            format!(
                "camera {} refuses {}x{} {}: {e}",
                cam.display(),
                m.width,
                m.height,
                fourcc_str(m.fourcc)
            ),
            Some("set width/height to a size listed by `backdrop devices`".into()),
        ),
        Ok(got) => {
            let fps = if m.max_fps > 0.0 {
                format!(", up to {} fps", fmt_fps(m.max_fps))
            } else {
                String::new()
            };
            let level = if m.max_fps > 0.0 && m.max_fps + 0.5 < cfg.fps as f64 {
                Level::Warn
            } else {
                Level::Ok
            };
            r.add(
                level,
                format!(
                    "camera {} (\"{}\") will capture {}x{} {}{fps} (fps wanted: {})",
                    cam.display(),
                    cap.card(),
                    got.width,
                    got.height,
                    fourcc_str(got.pixelformat),
                    cfg.fps
                ),
                (level == Level::Warn)
                    .then(|| "lower fps, or set a smaller width/height".to_owned()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_renders_levels_fixes_and_verdict() {
        let mut r = DoctorReport::default();
        r.add(Level::Ok, "module loaded", None);
        r.add(
            Level::Fail,
            "camera missing",
            Some("plug it in\nthen retry".into()),
        );
        let s = r.render();
        assert!(s.contains("[ok  ] module loaded"));
        assert!(s.contains("[FAIL] camera missing\n       plug it in\n       then retry\n"));
        assert!(r.failed());
        assert!(s.ends_with("until the FAIL items are fixed.\n"));
    }

    #[test]
    fn devices_render_cameras_with_modes_and_loopbacks_with_state() {
        let cam = DeviceInfo {
            path: "/dev/video0".into(),
            card: "Cam".into(),
            driver: "uvcvideo".into(),
            bus: "usb-1".into(),
            version: "6.1.0".into(),
            kind: DeviceKind::Camera(vec![CameraFormat {
                fourcc: PIX_YUYV,
                description: "YUYV 4:2:2".into(),
                sizes: Some(FrameSizes::Discrete(vec![(640, 480)])),
                rates: vec![((640, 480), Some(FrameRates::Discrete(vec![30.0, 15.0])))],
            }]),
        };
        let lb = DeviceInfo {
            path: "/dev/video10".into(),
            card: "Backdrop".into(),
            driver: "v4l2 loopback".into(),
            bus: "platform:v4l2loopback-000".into(),
            version: "0.12.7".into(),
            kind: DeviceKind::Loopback { streaming: None },
        };
        let s = render_devices(&[
            Ok(cam),
            Ok(lb),
            Err((
                "/dev/video2".into(),
                InspectError::Open(std::io::Error::from_raw_os_error(libc::EACCES)),
            )),
        ]);
        assert!(s.contains("/dev/video0: camera \"Cam\""), "{s}");
        assert!(s.contains("640x480 @ 30/15 fps"), "{s}");
        assert!(
            s.contains("/dev/video10: virtual camera (v4l2loopback 0.12.7) \"Backdrop\": idle"),
            "{s}"
        );
        assert!(
            s.contains("/dev/video2: cannot open: Permission denied"),
            "{s}"
        );
    }
}
