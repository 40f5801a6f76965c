//! The virtual camera: composed RGB frames scaled to a size every browser accepts, encoded as
//! YUYV, I420 or JPEG ([`FrameEncoder`]) and handed to a v4l2loopback device through mmap
//! streaming.
//!
//! I/O path: REQBUFS → QUERYBUF/mmap → QBUF → STREAMON, then DQBUF/fill/QBUF per frame. It is the
//! one sequence every v4l2loopback accepts: 0.14+ rejects STREAMON without REQBUFS, older
//! versions need STREAMON to announce the capture side again on re-opens with exclusive_caps,
//! and 0.12.x (Debian 12) breaks the device for later producers after a write() producer exits
//! (mmap producers are not affected). write(2) is kept as a fallback for drivers without MMAP
//! output.
//!
//! Whole frames only: v4l2loopback shares its buffers between the producer and every consumer,
//! and a consumer reads (or decodes, for MJPEG) a frame in place while the producer goes on (a
//! JPEG overwritten while being decoded breaks apart). So each frame goes into the buffer
//! written longest ago. v4l2loopback 0.12 hands a reader the newest frame, or the one before
//! when the reader is exactly two behind, so with n buffers in use a reader has until n - 2 more
//! frames are written (2 with `max_buffers=4`: 66 ms at 30 fps) to finish with its frame. It
//! maps buffer `i` to `i % used` and lowers `used` to the smallest count any consumer ever asked
//! for (browsers ask for 4), so the buffers in use are found out again before each frame
//! (QUERYBUF offsets) instead of assumed. (Its REQBUFS also resets every buffer's bytesused to
//! the whole buffer, so a consumer's first frame may come with stale bytes after the JPEG's end
//! marker, which decoders ignore.)

use super::{Sink, SinkError};
use crate::frame::RgbFrame;
use crate::sink::consumers::ConsumerWatch;
use crate::sink::encode::FrameEncoder;
use crate::sink::yuv::OutputFormat;
use crate::v4l2::{
    fourcc_str, Device, Mapping, PixFormat, BUF_FLAG_MAPPED, BUF_TYPE_OUTPUT, CAP_VIDEO_CAPTURE,
    CAP_VIDEO_OUTPUT, COLORSPACE_JPEG, COLORSPACE_SMPTE170M, EVENT_PRI_CLIENT_USAGE,
    EVENT_SUB_FL_SEND_INITIAL, FIELD_NONE, PIX_MJPEG, PIX_YUV420, PIX_YUYV,
};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Output sizes every common consumer accepts (Firefox refuses odd ones), largest first.
pub const ACCEPTED_SIZES: &[(u32, u32)] = &[
    (1920, 1080),
    (1280, 720),
    (960, 540),
    (800, 600),
    (640, 480),
    (640, 360),
    (320, 240),
];

/// Buffers asked of the loopback (v4l2loopback grants up to its `max_buffers`, 2 by default;
/// the documented modprobe line asks for 4, as many as browsers use).
const OUTPUT_BUFFERS: u32 = 8;

/// The v4l2loopback `max_buffers` the documented modprobe line sets.
pub const MAX_BUFFERS: u32 = 4;

/// The accepted output size nearest to a camera's `width`x`height`: the same size when it is
/// accepted, else the smallest accepted size of the same shape that is not smaller, else the
/// one closest in shape and area (the frame is then scaled to cover it and centre-cropped).
pub fn output_size(width: u32, height: u32) -> (u32, u32) {
    if ACCEPTED_SIZES.contains(&(width, height)) || width == 0 || height == 0 {
        return if width == 0 || height == 0 {
            (640, 480)
        } else {
            (width, height)
        };
    }
    let aspect = width as f64 / height as f64;
    let same_shape = |&&(w, h): &&(u32, u32)| ((w as f64 / h as f64) / aspect - 1.0).abs() < 0.02;
    if let Some(&s) = ACCEPTED_SIZES
        .iter()
        .rev()
        .filter(same_shape)
        .find(|&&(w, h)| w >= width && h >= height)
    {
        return s;
    }
    if let Some(&s) = ACCEPTED_SIZES.iter().find(same_shape) {
        return s;
    }
    let cost = |&(w, h): &(u32, u32)| {
        let shape = ((w as f64 / h as f64) / aspect).ln().abs();
        let area = ((w as f64 * h as f64) / (width as f64 * height as f64))
            .ln()
            .abs();
        shape * 4.0 + area
    };
    ACCEPTED_SIZES
        .iter()
        .copied()
        .min_by(|a, b| cost(a).total_cmp(&cost(b)))
        .expect("list is not empty")
}

/// Errors opening the virtual camera, each naming the device and the fix.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    /// The device node does not exist.
    #[error("virtual camera {device} does not exist; {fix}")]
    NotFound {
        /// The device.
        device: PathBuf,
        /// What to do (load the module, or pick the right node).
        fix: String,
    },
    /// No permission.
    #[error("no permission to open virtual camera {0}; add yourself to the video group: sudo usermod -aG video $USER, then log in again")]
    Permission(PathBuf),
    /// The node is not a v4l2loopback device (the classic `VIDIOC_S_FMT: Invalid argument`).
    #[error("{device} is not a v4l2loopback device (it is {what}); set virtual_video_device to the loopback node (see `backdrop devices`)")]
    NotLoopback {
        /// The device.
        device: PathBuf,
        /// What it is instead.
        what: String,
    },
    /// Another producer feeds the device, or a consumer holds it at another format.
    #[error("virtual camera {device} is busy{holders}; stop the program using it (another producer, or a consumer holding an older format), or use another loopback device (modprobe v4l2loopback devices=2)")]
    Busy {
        /// The device.
        device: PathBuf,
        /// ", used by ..." when known.
        holders: String,
    },
    /// The driver refused the format (v4l2loopback 0.12 after a write() producer exited).
    #[error("virtual camera {device} refused {format} {width}x{height}: {reason}; reload the module: sudo modprobe -r v4l2loopback && {modprobe}")]
    FormatRefused {
        /// The device.
        device: PathBuf,
        /// Pixel format.
        format: String,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// What the driver said.
        reason: String,
        /// The modprobe line.
        modprobe: String,
    },
    /// Another ioctl failed.
    #[error("virtual camera {device}: {op} failed: {source}")]
    Io {
        /// The device.
        device: PathBuf,
        /// The operation.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

/// The modprobe line Backdrop documents, for the node `device` (video_nr taken from its name).
pub fn modprobe_line(device: &Path) -> String {
    let nr = device
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("video"))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(10);
    format!("sudo modprobe v4l2loopback video_nr={nr} card_label=Backdrop exclusive_caps=1 max_buffers={MAX_BUFFERS}")
}

/// The loaded v4l2loopback's `max_buffers` (2 when it was loaded without it).
pub fn loaded_max_buffers() -> Option<u32> {
    std::fs::read_to_string("/sys/module/v4l2loopback/parameters/max_buffers")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// How frames reach the driver.
enum Io {
    /// Streaming: mapped driver buffers, filled in turn.
    Mmap {
        /// Each mapping with the buffer offset it maps.
        maps: Vec<(u32, Mapping)>,
        /// Buffers REQBUFS granted (indices to QUERYBUF).
        count: u32,
        /// Buffer offsets as QUERYBUF reports them now, per index (kept to avoid allocating).
        offsets: Vec<u32>,
        /// Buffers the driver uses now (see the module docs); logged when it changes.
        used: u32,
        next: u32,
        queued: u32,
    },
    /// write(2) of whole frames.
    Write,
}

/// An open output. Field order matters: mappings drop before the device closes.
struct Output {
    io: Io,
    dev: Device,
    /// Whether the client-usage event works (v4l2loopback 0.13+).
    usage_events: bool,
    /// v4l2loopback < 0.13: any consumer's REQBUFS (e.g. one closing) clears the MAPPED flag of
    /// the shared buffers, and every other consumer's next DQBUF then fails with EINVAL (the
    /// call freezes). Mapping a buffer sets the flag again, so the producer restores it.
    restore_mapped: bool,
}

/// A v4l2loopback virtual camera; see the module docs.
pub struct Loopback {
    out: Option<Output>,
    device: PathBuf,
    width: u32,
    height: u32,
    fps: u32,
    format: OutputFormat,
    encoder: FrameEncoder,
    consumers: Option<bool>,
    watch: ConsumerWatch,
    last_retry: Option<Instant>,
    /// Frames dropped because their JPEG did not fit the driver's buffer.
    oversize: u64,
}

impl Loopback {
    /// Opens `device`, sets `width`x`height` in `format` at `fps` (`jpeg_quality` for MJPEG)
    /// and starts streaming a black frame so consumers see a camera at once.
    pub fn open(
        device: impl AsRef<Path>,
        width: u32,
        height: u32,
        fps: u32,
        format: OutputFormat,
        jpeg_quality: u32,
    ) -> Result<Loopback, LoopbackError> {
        let device = device.as_ref().to_owned();
        let width = width.max(2) & !1;
        let height = height.max(2) & !1;
        let encoder = FrameEncoder::new(format, width, height, jpeg_quality).map_err(|e| {
            LoopbackError::Io {
                device: device.clone(),
                op: "JPEG encoder",
                source: io::Error::other(e.to_string()),
            }
        })?;
        let mut lb = Loopback {
            out: None,
            watch: ConsumerWatch::new(&device),
            device,
            width,
            height,
            fps,
            format,
            encoder,
            consumers: None,
            last_retry: None,
            oversize: 0,
        };
        lb.out = Some(lb.start()?);
        let black = RgbFrame::new(width, height);
        if let Err(e) = lb.write(&black) {
            return Err(LoopbackError::Io {
                device: lb.device.clone(),
                op: "first frame",
                source: match e {
                    SinkError::Lost { reason, .. } => reason,
                    e => io::Error::other(e.to_string()),
                },
            });
        }
        Ok(lb)
    }

    /// The output size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The device path.
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// The output format.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Buffers the driver cycles through now (1 for write()); see the module docs.
    pub fn buffers_in_use(&self) -> u32 {
        match self.out.as_ref().map(|o| &o.io) {
            Some(Io::Mmap { used, .. }) => *used,
            _ => 1,
        }
    }

    /// Blocks until a consumer may have come or gone, or `timeout` passes; true when one may
    /// have (then ask [`Sink::has_consumers`]). With v4l2loopback 0.13+ the driver's
    /// client-usage event wakes it, on older ones inotify on the node (see
    /// [`ConsumerWatch`]); either way nothing runs while nobody opens or closes the camera.
    pub fn wait_consumers_change(&mut self, timeout: Duration) -> bool {
        match &self.out {
            Some(o) if o.usage_events => o
                .dev
                .poll(libc::POLLPRI, timeout)
                .is_ok_and(|r| r & libc::POLLPRI != 0),
            _ => self.watch.wait(timeout),
        }
    }

    /// Writes the last frame again without encoding it again (keep-alive while idle).
    pub fn repeat(&mut self) -> Result<(), SinkError> {
        if self.encoder.last().is_empty() {
            let black = RgbFrame::new(self.width, self.height);
            return self.write(&black);
        }
        self.send(None)
    }

    /// "mmap" or "write", the I/O path in use (for logs and tests).
    pub fn io_path(&self) -> &'static str {
        match self.out.as_ref().map(|o| &o.io) {
            Some(Io::Mmap { .. }) => "mmap",
            Some(Io::Write) => "write",
            None => "closed",
        }
    }

    fn io_err(&self, op: &'static str, source: io::Error) -> LoopbackError {
        LoopbackError::Io {
            device: self.device.clone(),
            op,
            source,
        }
    }

    fn start(&self) -> Result<Output, LoopbackError> {
        let path = &self.device;
        let dev = Device::open(path, false).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => LoopbackError::NotFound {
                device: path.clone(),
                fix: not_found_fix(path),
            },
            Some(libc::EACCES | libc::EPERM) => LoopbackError::Permission(path.clone()),
            Some(libc::EBUSY) => LoopbackError::Busy {
                device: path.clone(),
                holders: crate::v4l2::holders_suffix(path),
            },
            _ => self.io_err("open", e),
        })?;
        let cap = dev
            .query_cap()
            .map_err(|e| self.io_err("VIDIOC_QUERYCAP", e))?;
        if !cap.is_loopback() {
            let caps = cap.caps();
            let what = if caps & CAP_VIDEO_CAPTURE != 0 && caps & CAP_VIDEO_OUTPUT == 0 {
                format!("a camera: {}, driver {}", cap.card(), cap.driver())
            } else {
                format!("{}, driver {}", cap.card(), cap.driver())
            };
            return Err(LoopbackError::NotLoopback {
                device: path.clone(),
                what,
            });
        }
        let fourcc = match self.format {
            OutputFormat::Yuyv => PIX_YUYV,
            OutputFormat::I420 => PIX_YUV420,
            OutputFormat::Mjpeg => PIX_MJPEG,
        };
        let frame_bytes = self.encoder.max_bytes() as u32;
        let want = PixFormat {
            width: self.width,
            height: self.height,
            pixelformat: fourcc,
            field: FIELD_NONE,
            bytesperline: match self.format {
                OutputFormat::Yuyv => self.width * 2,
                OutputFormat::I420 => self.width,
                OutputFormat::Mjpeg => 0,
            },
            sizeimage: frame_bytes,
            colorspace: match self.format {
                OutputFormat::Mjpeg => COLORSPACE_JPEG,
                _ => COLORSPACE_SMPTE170M,
            },
            ..Default::default()
        };
        let refused = |reason: String| LoopbackError::FormatRefused {
            device: path.clone(),
            format: fourcc_str(fourcc),
            width: self.width,
            height: self.height,
            reason,
            modprobe: modprobe_line(path),
        };
        let got = dev
            .set_format(BUF_TYPE_OUTPUT, want)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EBUSY) => LoopbackError::Busy {
                    device: path.clone(),
                    holders: crate::v4l2::holders_suffix(path),
                },
                _ => refused(format!("VIDIOC_S_FMT: {e}")),
            })?;
        if (got.width, got.height, got.pixelformat) != (self.width, self.height, fourcc) {
            // v4l2loopback answers S_FMT with the current format while another producer streams
            // (and, 0.13+, while a consumer still holds the device).
            return Err(LoopbackError::Busy {
                device: path.clone(),
                holders: format!(
                    " (it is set to {}x{} {}){}",
                    got.width,
                    got.height,
                    fourcc_str(got.pixelformat),
                    crate::v4l2::holders_suffix(path)
                ),
            });
        }
        // Consumers read the rate with G_PARM; a driver without it is not fatal.
        if let Err(e) = dev.set_fps(BUF_TYPE_OUTPUT, self.fps) {
            tracing::warn!("virtual camera {}: VIDIOC_S_PARM: {e}", path.display());
        }
        // A JPEG's size varies; a frame that does not fit its buffer is dropped (logged).
        let needed = match self.format {
            OutputFormat::Mjpeg => 0,
            _ => frame_bytes,
        };
        let io = match dev.request_buffers(BUF_TYPE_OUTPUT, OUTPUT_BUFFERS) {
            Ok(n) if n > 0 => {
                let mut maps: Vec<(u32, Mapping)> = Vec::with_capacity(n as usize);
                let mut offsets = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let b = dev
                        .query_buffer(BUF_TYPE_OUTPUT, i)
                        .map_err(|e| self.io_err("VIDIOC_QUERYBUF", e))?;
                    if b.length < needed {
                        return Err(refused(format!(
                            "buffer {i} holds {} bytes, a frame needs {frame_bytes}",
                            b.length
                        )));
                    }
                    offsets.push(b.offset());
                    if !maps.iter().any(|(o, _)| *o == b.offset()) {
                        maps.push((b.offset(), dev.map(&b).map_err(|e| self.io_err("mmap", e))?));
                    }
                }
                let used = buffers_in_use(&offsets);
                Io::Mmap {
                    maps,
                    count: n,
                    offsets,
                    used,
                    next: 0,
                    queued: 0,
                }
            }
            Ok(_) | Err(_) => {
                tracing::warn!(
                    "virtual camera {}: no MMAP output buffers, falling back to write()",
                    path.display()
                );
                Io::Write
            }
        };
        let usage_events = dev
            .subscribe_event(EVENT_PRI_CLIENT_USAGE, EVENT_SUB_FL_SEND_INITIAL)
            .is_ok();
        // The event came with 0.13, which also fixed the MAPPED bug (QUERYCAP's version is the
        // kernel's, and 0.12 has no sysfs version).
        let restore_mapped = matches!(io, Io::Mmap { .. }) && !usage_events;
        tracing::info!(
            "virtual camera {}: {}x{} {}{} at {} fps ({}, consumers seen through {})",
            path.display(),
            self.width,
            self.height,
            fourcc_str(fourcc),
            if self.format == OutputFormat::Mjpeg {
                format!(" quality {}", self.encoder.quality())
            } else {
                String::new()
            },
            self.fps,
            match &io {
                Io::Mmap { used, .. } => format!("mmap streaming, {used} buffers"),
                Io::Write => "write()".into(),
            },
            if usage_events {
                "v4l2loopback events"
            } else if self.watch.has_events() {
                "inotify on the node"
            } else {
                "a /proc scan once a second"
            }
        );
        if let Io::Mmap { used, .. } = &io {
            if *used < 3 && self.format == OutputFormat::Mjpeg {
                tracing::warn!(
                    "virtual camera {}: only {used} buffers: a consumer slower than one frame interval may decode a half-overwritten JPEG; reload the module with max_buffers={MAX_BUFFERS}: sudo modprobe -r v4l2loopback && {}",
                    path.display(),
                    modprobe_line(path)
                );
            }
        }
        Ok(Output {
            io,
            dev,
            usage_events,
            restore_mapped,
        })
    }

    /// Writes `bytes` (or, for `None`, the encoder's last frame) as the next frame.
    fn send(&mut self, bytes: Option<&[u8]>) -> Result<(), SinkError> {
        if self.out.is_none() {
            // The device went away (module reloaded): retry once a second, keep the caller going.
            if self
                .last_retry
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
            {
                return Err(self.lost(io::Error::other("the device is gone; retrying")));
            }
            self.last_retry = Some(Instant::now());
            match self.start() {
                Ok(o) => {
                    tracing::info!("virtual camera {} is back", self.device.display());
                    self.out = Some(o);
                }
                Err(e) => return Err(self.lost(io::Error::other(e))),
            }
        }
        let data = bytes.unwrap_or(self.encoder.last());
        let out = self.out.as_mut().expect("opened above");
        let n = data.len();
        let res = match &mut out.io {
            Io::Mmap {
                maps,
                count,
                offsets,
                used,
                next,
                queued,
            } => (|| {
                // Once every buffer was queued, take one back first (the V4L2 protocol; the
                // loopback never blocks here). The buffer is chosen round-robin rather than by
                // DQBUF's answer because v4l2loopback 0.12 returns the newest one, the frame a
                // reader may be copying right now.
                if *queued >= *count {
                    out.dev.dequeue(BUF_TYPE_OUTPUT)?;
                } else {
                    *queued += 1;
                }
                for i in 0..*count {
                    let b = out.dev.query_buffer(BUF_TYPE_OUTPUT, i)?;
                    offsets[i as usize] = b.offset();
                    if out.restore_mapped && b.flags & BUF_FLAG_MAPPED == 0 {
                        // v4l2loopback < 0.13: any consumer's REQBUFS (e.g. one closing)
                        // clears the MAPPED flag of the shared buffers, and every other
                        // consumer's next DQBUF then fails with EINVAL (the call freezes).
                        // Mapping the buffer sets the flag again.
                        tracing::debug!(
                            "v4l2loopback buffer {i} lost its MAPPED flag: re-mapping it"
                        );
                        drop(out.dev.map(&b)?);
                    }
                }
                let now = buffers_in_use(offsets);
                if now != *used {
                    tracing::info!(
                        "virtual camera: a consumer asked for fewer buffers, {now} in use now (was {used})"
                    );
                    *used = now;
                    *next %= now;
                }
                let i = *next;
                let offset = offsets[i as usize];
                let slot = match maps.iter().position(|(o, _)| *o == offset) {
                    Some(p) => p,
                    None => {
                        let b = out.dev.query_buffer(BUF_TYPE_OUTPUT, i)?;
                        maps.push((offset, out.dev.map(&b)?));
                        maps.len() - 1
                    }
                };
                let buf = maps[slot].1.as_mut_slice();
                if n > buf.len() {
                    return Ok(false);
                }
                buf[..n].copy_from_slice(data);
                out.dev.queue(BUF_TYPE_OUTPUT, i, n as u32)?;
                *next = (i + 1) % *used;
                if *queued == 1 {
                    out.dev.stream_on(BUF_TYPE_OUTPUT)?;
                }
                Ok::<bool, io::Error>(true)
            })(),
            Io::Write => out.dev.write_frame(data).map(|()| true),
        };
        match res {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.oversize += 1;
                if self.oversize.is_power_of_two() {
                    tracing::warn!(
                        "virtual camera {}: a {n}-byte JPEG does not fit the driver's buffer; dropped ({} so far); lower jpeg_quality",
                        self.device.display(),
                        self.oversize
                    );
                }
                Ok(())
            }
            Err(e) => {
                self.out = None;
                self.last_retry = Some(Instant::now());
                Err(self.lost(e))
            }
        }
    }
}

/// How many distinct buffers v4l2loopback cycles through, from the offsets QUERYBUF reports
/// for indices 0.. (0.12 maps index `i` to buffer `i % used`).
fn buffers_in_use(offsets: &[u32]) -> u32 {
    let first = offsets.first().copied().unwrap_or(0);
    offsets
        .iter()
        .skip(1)
        .position(|&o| o == first)
        .map_or(offsets.len(), |p| p + 1)
        .max(1) as u32
}

fn not_found_fix(device: &Path) -> String {
    if Path::new("/sys/module/v4l2loopback").exists() {
        let nodes: Vec<String> = crate::v4l2::loopback_nodes()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "v4l2loopback is loaded with {}; set virtual_video_device to one of them, or reload it: sudo modprobe -r v4l2loopback && {}",
            if nodes.is_empty() {
                "no devices".to_owned()
            } else {
                nodes.join(", ")
            },
            modprobe_line(device)
        )
    } else {
        format!(
            "the v4l2loopback module is not loaded: {} (install it first with sudo apt install v4l2loopback-dkms; see `backdrop doctor`)",
            modprobe_line(device)
        )
    }
}

impl Loopback {
    fn lost(&self, reason: io::Error) -> SinkError {
        SinkError::Lost {
            device: self.device.clone(),
            reason,
        }
    }
}

impl Sink for Loopback {
    fn write(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        self.encoder.encode(frame)?;
        self.send(None)
    }

    fn write_again(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        if self.encoder.last().is_empty() {
            return self.write(frame);
        }
        self.send(None)
    }

    /// v4l2loopback 0.12 hands a reader that opens the newest frame at once only after three
    /// were written: the frame goes into three buffers.
    fn hold(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        self.write(frame)?;
        self.send(None)?;
        self.send(None)
    }

    fn wait_consumers(&mut self, timeout: Duration) -> bool {
        Loopback::wait_consumers_change(self, timeout)
    }

    /// v4l2loopback 0.13+: a consumer streams (its client-usage event); older: another
    /// process holds the node open ([`ConsumerWatch`]).
    fn has_consumers(&mut self) -> Option<bool> {
        let out = self.out.as_ref()?;
        if !out.usage_events {
            return Some(self.watch.count() > 0);
        }
        while out
            .dev
            .poll(libc::POLLPRI, Duration::ZERO)
            .is_ok_and(|r| r & libc::POLLPRI != 0)
        {
            match out.dev.dequeue_event() {
                Some((EVENT_PRI_CLIENT_USAGE, count)) => self.consumers = Some(count > 0),
                Some(_) => {}
                None => break,
            }
        }
        self.consumers
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(o) = &self.out {
            if matches!(o.io, Io::Mmap { .. }) {
                let _ = o.dev.stream_off(BUF_TYPE_OUTPUT);
            }
        }
    }
}

/// Opens the virtual camera a config names (`virtual_video_device`) at the accepted size
/// nearest the camera's `width`x`height`, in the configured format and rate.
pub fn open_for(
    cfg: &crate::config::Config,
    width: u32,
    height: u32,
) -> Result<Box<dyn Sink>, SinkError> {
    let (w, h) = output_size(width, height);
    Ok(Box::new(Loopback::open(
        &cfg.virtual_video_device,
        w,
        h,
        cfg.fps,
        cfg.output_format,
        cfg.jpeg_quality,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_sizes_stay_and_others_map_to_the_nearest_accepted_one() {
        assert_eq!(output_size(1280, 720), (1280, 720));
        assert_eq!(output_size(640, 480), (640, 480));
        // Same shape, not smaller.
        assert_eq!(output_size(1024, 576), (1280, 720));
        assert_eq!(output_size(352, 288), (320, 240));
        assert_eq!(output_size(2560, 1440), (1920, 1080));
        assert_eq!(output_size(3840, 2160), (1920, 1080));
        assert_eq!(output_size(160, 120), (320, 240));
        assert_eq!(output_size(1024, 768), (800, 600));
        // 4:3 larger than any accepted 4:3 size: the largest 4:3 one.
        assert_eq!(output_size(1600, 1200), (800, 600));
        // Odd shapes: closest in shape and area.
        assert_eq!(output_size(1280, 800), (1280, 720));
        assert_eq!(output_size(0, 0), (640, 480));
    }

    #[test]
    fn modprobe_line_names_the_node_number_and_exclusive_caps() {
        assert_eq!(
            modprobe_line(Path::new("/dev/video7")),
            "sudo modprobe v4l2loopback video_nr=7 card_label=Backdrop exclusive_caps=1 max_buffers=4"
        );
    }

    #[test]
    fn buffers_in_use_follow_the_queried_offsets() {
        // 8 indices over 8 buffers; over 4 (a consumer asked for 4); over 3; a single one.
        let size = 0x10_0000;
        let ring = |used: u32| (0..8).map(|i| (i % used) * size).collect::<Vec<u32>>();
        assert_eq!(buffers_in_use(&ring(8)), 8);
        assert_eq!(buffers_in_use(&ring(4)), 4);
        assert_eq!(buffers_in_use(&ring(3)), 3);
        assert_eq!(buffers_in_use(&ring(1)), 1);
        assert_eq!(buffers_in_use(&[0, size]), 2);
        assert_eq!(buffers_in_use(&[]), 1);
    }
}
