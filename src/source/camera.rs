//! A V4L2 webcam as a [`Source`]: mode selection, mmap streaming, MJPEG/YUYV decoding into
//! RGB, and recovery when the camera stalls or is unplugged.

use super::mjpeg::MjpegError;
use super::{Read, Source, SourceError, SourceInfo};
use crate::frame::RgbFrame;
use crate::v4l2::{
    fourcc_str, holders_suffix, Device, FrameRates, FrameSizes, Mapping, PixFormat, BUF_FLAG_ERROR,
    BUF_TYPE_CAPTURE, CAP_STREAMING, CAP_VIDEO_CAPTURE, FIELD_NONE, PIX_MJPEG, PIX_YUYV,
};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use yuvutils_rs::{YuvPackedImage, YuvRange, YuvStandardMatrix};

/// Buffers requested from the camera: enough to decode one while the driver fills others.
const CAPTURE_BUFFERS: u32 = 4;

/// Largest area picked automatically: call apps send at most 1080p, and decoding more costs
/// CPU the model needs.
const AUTO_MAX_AREA: u64 = 1920 * 1080;

/// Errors opening a camera, each naming the device and the likely fix.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// The device node does not exist.
    #[error("camera {0} does not exist; plug the camera in or set real_video_device (see `backdrop devices`)")]
    NotFound(PathBuf),
    /// No permission to open the node.
    #[error("no permission to open camera {0}; add yourself to the video group: sudo usermod -aG video $USER, then log in again")]
    Permission(PathBuf),
    /// Another program holds the camera.
    #[error("camera {device} is busy{holders}; close the other program using it (a browser tab, another video app)")]
    Busy {
        /// The device.
        device: PathBuf,
        /// Which processes hold it, when known (", used by ...").
        holders: String,
    },
    /// The node is not a capture device (e.g. the v4l2loopback output, or a metadata node).
    #[error("{device} is not a camera ({what}); set real_video_device to a camera (see `backdrop devices`)")]
    NotACamera {
        /// The device.
        device: PathBuf,
        /// What it is instead.
        what: String,
    },
    /// The camera offers neither MJPEG nor YUYV (or not the one `mjpeg` asks for).
    #[error("camera {device} offers no usable format ({wanted} wanted, it has {offered}); change `mjpeg` in the config or use another camera")]
    NoFormat {
        /// The device.
        device: PathBuf,
        /// What the config asks for.
        wanted: String,
        /// What the camera offers.
        offered: String,
    },
    /// The camera stopped delivering (unplugged, or a driver error while streaming).
    #[error(
        "camera {device}: {op} failed: {source}; keeping the virtual camera alive and retrying"
    )]
    Lost {
        /// The device.
        device: PathBuf,
        /// The operation.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// An ioctl failed.
    #[error("camera {device}: {op} failed: {source}")]
    Io {
        /// The device.
        device: PathBuf,
        /// The operation.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

impl CameraError {
    fn io(device: &Path, op: &'static str, source: io::Error) -> CameraError {
        match source.raw_os_error() {
            Some(libc::EBUSY) => CameraError::Busy {
                device: device.to_owned(),
                holders: holders_suffix(device),
            },
            _ => CameraError::Io {
                device: device.to_owned(),
                op,
                source,
            },
        }
    }

    /// True when retrying later may succeed (unplugged, busy, vanished mid-setup).
    pub fn is_transient(&self) -> bool {
        match self {
            CameraError::NotFound(_) | CameraError::Busy { .. } | CameraError::Lost { .. } => true,
            CameraError::Io { source, .. } => matches!(
                source.raw_os_error(),
                Some(libc::ENODEV | libc::ENXIO | libc::EIO | libc::ENOENT | libc::EAGAIN)
            ),
            _ => false,
        }
    }
}

/// One (format, size) a camera offers, with its fastest rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeOption {
    /// `PIX_MJPEG` or `PIX_YUYV`.
    pub fourcc: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Fastest frame rate at this size (0 when unknown).
    pub max_fps: f64,
}

impl ModeOption {
    fn area(&self) -> u64 {
        self.width as u64 * self.height as u64
    }
}

/// Sizes tried on cameras that accept any size in a range.
const STEPWISE_SIZES: &[(u32, u32)] = &[(1920, 1080), (1280, 720), (640, 480), (640, 360)];

/// For a camera without a usable mode: the formats wanted (by the `mjpeg` option) and those it
/// offers ("none" when it lists none).
pub fn format_mismatch(dev: &Device, mjpeg: Option<bool>) -> (&'static str, String) {
    let wanted = match mjpeg {
        Some(true) => "MJPEG",
        Some(false) => "YUYV",
        None => "MJPEG or YUYV",
    };
    let offered: Vec<String> = dev
        .formats(BUF_TYPE_CAPTURE)
        .iter()
        .map(|f| fourcc_str(f.fourcc))
        .collect();
    let offered = if offered.is_empty() {
        "none".into()
    } else {
        offered.join(", ")
    };
    (wanted, offered)
}

/// Picks the capture mode: the requested size if given (the nearest offered one otherwise), else
/// the largest mode (up to 1080p) that reaches `fps`; MJPEG is preferred above 640x480, where
/// USB cameras only reach full rate compressed, YUYV at or below (no decode cost or artefacts).
pub fn choose_mode(
    options: &[ModeOption],
    width: Option<u32>,
    height: Option<u32>,
    fps: u32,
    mjpeg: Option<bool>,
) -> Option<ModeOption> {
    let allowed: Vec<ModeOption> = options
        .iter()
        .copied()
        .filter(|o| match mjpeg {
            Some(true) => o.fourcc == PIX_MJPEG,
            Some(false) => o.fourcc == PIX_YUYV,
            None => o.fourcc == PIX_MJPEG || o.fourcc == PIX_YUYV,
        })
        .collect();
    if allowed.is_empty() {
        return None;
    }
    // Rates like 29.97 count as 30; unknown rates (0) are assumed to reach it.
    let reaches = |o: &ModeOption| o.max_fps == 0.0 || o.max_fps + 0.5 >= fps as f64;
    let prefer_format = |o: &ModeOption| {
        let big = o.area() > 640 * 480;
        (o.fourcc == PIX_MJPEG) == big
    };
    // Sort key: bigger is better for every component.
    let rank = |o: &ModeOption| {
        (
            reaches(o),
            prefer_format(o),
            o.max_fps.min(fps as f64) as u64,
        )
    };
    if width.is_some() || height.is_some() {
        let dist = |o: &ModeOption| {
            let dw = width.map_or(0, |w| (o.width as i64 - w as i64).unsigned_abs());
            let dh = height.map_or(0, |h| (o.height as i64 - h as i64).unsigned_abs());
            dw + dh
        };
        let best = allowed.iter().map(dist).min()?;
        return allowed
            .iter()
            .filter(|o| dist(o) == best)
            .copied()
            .max_by_key(|o| rank(o));
    }
    let capped: Vec<ModeOption> = allowed
        .iter()
        .copied()
        .filter(|o| o.area() <= AUTO_MAX_AREA)
        .collect();
    let pool = if capped.is_empty() { allowed } else { capped };
    if pool.iter().any(reaches) {
        pool.iter()
            .filter(|o| reaches(o))
            .copied()
            .max_by_key(|o| (o.area(), prefer_format(o)))
    } else {
        // Nothing reaches the rate: the fastest mode, then the largest.
        pool.iter()
            .copied()
            .max_by_key(|o| ((o.max_fps * 100.0) as u64, o.area()))
    }
}

/// Lists the MJPEG and YUYV modes of an open camera.
pub fn mode_options(dev: &Device) -> Vec<ModeOption> {
    let mut out = vec![];
    for f in dev.formats(BUF_TYPE_CAPTURE) {
        if f.fourcc != PIX_MJPEG && f.fourcc != PIX_YUYV {
            continue;
        }
        let sizes: Vec<(u32, u32)> = match dev.frame_sizes(f.fourcc) {
            Some(FrameSizes::Discrete(v)) => v,
            Some(FrameSizes::Stepwise { min, max, .. }) => STEPWISE_SIZES
                .iter()
                .copied()
                .filter(|&(w, h)| w >= min.0 && w <= max.0 && h >= min.1 && h <= max.1)
                .collect(),
            None => dev
                .get_format(BUF_TYPE_CAPTURE)
                .map(|p| vec![(p.width, p.height)])
                .unwrap_or_default(),
        };
        for (w, h) in sizes {
            let max_fps = dev
                .frame_rates(f.fourcc, w, h)
                .as_ref()
                .map_or(0.0, FrameRates::max);
            out.push(ModeOption {
                fourcc: f.fourcc,
                width: w,
                height: h,
                max_fps,
            });
        }
    }
    out
}

/// What the camera was asked for: kept to reopen it the same way.
#[derive(Debug, Clone, PartialEq)]
struct Request {
    device: PathBuf,
    width: Option<u32>,
    height: Option<u32>,
    fps: u32,
    mjpeg: Option<bool>,
}

/// A streaming camera. Field order matters: mappings drop before the device closes.
struct Stream {
    bufs: Vec<Mapping>,
    dev: Device,
    fourcc: u32,
    width: u32,
    height: u32,
    stride: u32,
    fps: f64,
    /// The compressed frame copied out of the driver's buffer before decoding, or YUYV rows
    /// with their padding removed (reused).
    scratch: Vec<u8>,
}

/// A V4L2 camera delivering RGB frames; see the module docs.
pub struct Camera {
    req: Request,
    stream: Option<Stream>,
    mode: SourceInfo,
    fourcc: u32,
    bad_frames: u64,
    last_warning: Option<Instant>,
}

impl Camera {
    /// Opens `device` and starts streaming: `width`/`height` (auto when `None`), `fps`, and MJPEG
    /// (`Some(true)`), YUYV (`Some(false)`) or automatic (`None`).
    pub fn open(
        device: impl AsRef<Path>,
        width: Option<u32>,
        height: Option<u32>,
        fps: u32,
        mjpeg: Option<bool>,
    ) -> Result<Camera, CameraError> {
        let req = Request {
            device: device.as_ref().to_owned(),
            width,
            height,
            fps,
            mjpeg,
        };
        let stream = start(&req)?;
        let mode = SourceInfo {
            width: stream.width,
            height: stream.height,
            fps: stream.fps,
            frames: None,
        };
        let fourcc = stream.fourcc;
        Ok(Camera {
            req,
            stream: Some(stream),
            mode,
            fourcc,
            bad_frames: 0,
            last_warning: None,
        })
    }

    /// The device path.
    pub fn device(&self) -> &Path {
        &self.req.device
    }

    /// The pixel format in use (`MJPG` or `YUYV`).
    pub fn format_name(&self) -> String {
        fourcc_str(self.fourcc)
    }

    /// Frames dropped as corrupt so far.
    pub fn bad_frames(&self) -> u64 {
        self.bad_frames
    }

    fn lost(&mut self, op: &'static str, source: io::Error) -> SourceError {
        self.stream = None;
        SourceError::Camera(CameraError::Lost {
            device: self.req.device.clone(),
            op,
            source,
        })
    }

    fn warn_bad_frame(&mut self, why: &BadFrame) {
        self.bad_frames += 1;
        if self
            .last_warning
            .is_none_or(|t| t.elapsed() > Duration::from_secs(10))
        {
            self.last_warning = Some(Instant::now());
            tracing::warn!(
                "camera {}: dropped a bad frame ({why}); {} so far",
                self.req.device.display(),
                self.bad_frames
            );
        }
    }
}

fn start(req: &Request) -> Result<Stream, CameraError> {
    let path = &req.device;
    {
        use std::os::unix::fs::FileTypeExt;
        // A regular file, a folder, a symlink loop: not a device at all (a missing node is
        // reported below, as a camera that may yet be plugged in).
        if let Ok(m) = std::fs::metadata(path) {
            if !m.file_type().is_char_device() {
                let what = crate::source::not_a_file(path)
                    .unwrap_or_else(|| "is a regular file".into())
                    .replace(", not a file", "");
                return Err(CameraError::NotACamera {
                    device: path.clone(),
                    what: format!("it {what}, not a V4L2 capture device"),
                });
            }
        }
    }
    let dev = Device::open(path, true).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => CameraError::NotFound(path.clone()),
        Some(libc::EACCES | libc::EPERM) => CameraError::Permission(path.clone()),
        Some(libc::ELOOP) => CameraError::NotACamera {
            device: path.clone(),
            what: "it is a symbolic link loop".into(),
        },
        _ => CameraError::io(path, "open", e),
    })?;
    let cap = dev.query_cap().map_err(|e| match e.raw_os_error() {
        // Any other character device (/dev/null, a serial port) answers "inappropriate ioctl".
        Some(libc::ENOTTY | libc::EINVAL) => CameraError::NotACamera {
            device: path.clone(),
            what: "it is a device, but not a V4L2 capture device".into(),
        },
        _ => CameraError::io(path, "VIDIOC_QUERYCAP", e),
    })?;
    let caps = cap.caps();
    if caps & CAP_VIDEO_CAPTURE == 0 || caps & CAP_STREAMING == 0 {
        let what = if cap.is_loopback() {
            "it is a v4l2loopback device, i.e. a virtual camera".to_owned()
        } else {
            format!("driver {}, no video capture", cap.driver())
        };
        return Err(CameraError::NotACamera {
            device: path.clone(),
            what,
        });
    }
    let options = mode_options(&dev);
    let Some(choice) = choose_mode(&options, req.width, req.height, req.fps, req.mjpeg) else {
        let (wanted, offered) = format_mismatch(&dev, req.mjpeg);
        return Err(CameraError::NoFormat {
            device: path.clone(),
            wanted: wanted.into(),
            offered,
        });
    };
    let want = PixFormat {
        width: choice.width,
        height: choice.height,
        pixelformat: choice.fourcc,
        field: FIELD_NONE,
        ..Default::default()
    };
    let got = dev
        .set_format(BUF_TYPE_CAPTURE, want)
        .map_err(|e| CameraError::io(path, "VIDIOC_S_FMT", e))?;
    if got.pixelformat != PIX_MJPEG && got.pixelformat != PIX_YUYV {
        return Err(CameraError::NoFormat {
            device: path.clone(),
            wanted: fourcc_str(choice.fourcc),
            offered: format!("{} after S_FMT", fourcc_str(got.pixelformat)),
        });
    }
    let fps = dev
        .set_fps(BUF_TYPE_CAPTURE, req.fps)
        .map_err(|e| CameraError::io(path, "VIDIOC_S_PARM", e))?
        .or_else(|| dev.get_fps(BUF_TYPE_CAPTURE))
        .unwrap_or(req.fps as f64);
    let n = dev
        .request_buffers(BUF_TYPE_CAPTURE, CAPTURE_BUFFERS)
        .map_err(|e| CameraError::io(path, "VIDIOC_REQBUFS", e))?;
    let mut bufs = Vec::with_capacity(n as usize);
    for i in 0..n {
        let b = dev
            .query_buffer(BUF_TYPE_CAPTURE, i)
            .map_err(|e| CameraError::io(path, "VIDIOC_QUERYBUF", e))?;
        bufs.push(dev.map(&b).map_err(|e| CameraError::io(path, "mmap", e))?);
        dev.queue(BUF_TYPE_CAPTURE, i, 0)
            .map_err(|e| CameraError::io(path, "VIDIOC_QBUF", e))?;
    }
    dev.stream_on(BUF_TYPE_CAPTURE)
        .map_err(|e| CameraError::io(path, "VIDIOC_STREAMON", e))?;
    let stride = if got.bytesperline >= got.width * 2 {
        got.bytesperline
    } else {
        got.width * 2
    };
    tracing::info!(
        "camera {}: {}x{} {} at {fps:.1} fps ({} buffers)",
        path.display(),
        got.width,
        got.height,
        fourcc_str(got.pixelformat),
        bufs.len()
    );
    Ok(Stream {
        bufs,
        dev,
        fourcc: got.pixelformat,
        width: got.width,
        height: got.height,
        stride,
        fps,
        scratch: Vec::new(),
    })
}

/// Why a captured frame was dropped (the stream goes on).
#[derive(Debug, thiserror::Error)]
enum BadFrame {
    #[error("short YUYV frame: {got} of {need} bytes")]
    Short { got: usize, need: usize },
    #[error("YUYV conversion: {0}")]
    Convert(String),
    #[error(transparent)]
    Mjpeg(#[from] MjpegError),
    #[error("the driver flagged it")]
    Flagged,
    #[error("buffer index {0} out of range")]
    Index(usize),
}

/// Converts one captured YUYV buffer into `out`.
/// (`stride`: bytes per line, which drivers may pad; `scratch` holds the unpadded rows then.)
fn decode_yuyv(
    data: &[u8],
    width: u32,
    height: u32,
    stride: u32,
    scratch: &mut Vec<u8>,
    out: &mut RgbFrame,
) -> Result<(), BadFrame> {
    let row = width as usize * 2;
    let need = stride as usize * (height as usize).saturating_sub(1) + row;
    if data.len() < need {
        return Err(BadFrame::Short {
            got: data.len(),
            need,
        });
    }
    // yuvutils wants exactly width*2*height bytes (it ignores the stride), and drivers may
    // report padded lines or a bytesused rounded up.
    let packed = if stride as usize == row {
        &data[..row * height as usize]
    } else {
        scratch.clear();
        for y in 0..height as usize {
            let start = y * stride as usize;
            scratch.extend_from_slice(&data[start..start + row]);
        }
        &scratch[..]
    };
    out.reshape(width, height);
    let packed = YuvPackedImage {
        yuy: packed,
        yuy_stride: width * 2,
        width,
        height,
    };
    yuvutils_rs::yuyv422_to_rgb(
        &packed,
        &mut out.data,
        width * 3,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
    )
    .map_err(|e| BadFrame::Convert(format!("{e:?}")))
}

/// Outcome of one attempt to take a frame from the driver.
enum Step {
    Frame,
    Timeout,
    Nothing,
    Bad(BadFrame),
}

/// Waits for the next frame until `deadline` and decodes the newest one into `out`; errors are
/// (operation, OS error) and mean the camera is lost.
fn grab(
    s: &mut Stream,
    out: &mut RgbFrame,
    deadline: Instant,
) -> Result<Step, (&'static str, io::Error)> {
    let left = deadline.saturating_duration_since(Instant::now());
    let rev = s.dev.poll(libc::POLLIN, left).map_err(|e| ("poll", e))?;
    if rev == 0 {
        return Ok(Step::Timeout);
    }
    if rev & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 && rev & libc::POLLIN == 0 {
        return Err(("poll", io::Error::other("device error or unplugged")));
    }
    // Drain to the newest frame: a slow reader must not get stale ones (latest wins).
    let mut newest: Option<crate::v4l2::Buffer> = None;
    loop {
        match s.dev.dequeue(BUF_TYPE_CAPTURE) {
            Ok(b) => {
                if let Some(old) = newest.replace(b) {
                    s.dev
                        .queue(BUF_TYPE_CAPTURE, old.index, 0)
                        .map_err(|e| ("VIDIOC_QBUF", e))?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(("VIDIOC_DQBUF", e)),
        }
    }
    let Some(b) = newest else {
        // Woken without a frame: the caller tries again until its deadline.
        return Ok(Step::Nothing);
    };
    let idx = b.index as usize;
    let requeue = |s: &Stream| {
        s.dev
            .queue(BUF_TYPE_CAPTURE, b.index, 0)
            .map_err(|e| ("VIDIOC_QBUF", e))
    };
    let result = if b.flags & BUF_FLAG_ERROR != 0 || b.bytesused == 0 {
        requeue(s)?;
        Err(BadFrame::Flagged)
    } else if idx >= s.bufs.len() {
        requeue(s)?;
        Err(BadFrame::Index(idx))
    } else if s.fourcc == PIX_MJPEG {
        // Copy the (small) JPEG out and hand the buffer back before the slow decode: a
        // v4l2loopback "camera" shares its buffers with the producer, which would otherwise
        // overwrite the JPEG mid-decode.
        let used = (b.bytesused as usize).min(s.bufs[idx].as_slice().len());
        let mut jpeg = std::mem::take(&mut s.scratch);
        jpeg.clear();
        jpeg.extend_from_slice(&s.bufs[idx].as_slice()[..used]);
        requeue(s)?;
        let r = super::mjpeg::decode_mjpeg(&jpeg, out).map_err(BadFrame::from);
        s.scratch = jpeg;
        r
    } else {
        let used = (b.bytesused as usize).min(s.bufs[idx].as_slice().len());
        let r = decode_yuyv(
            &s.bufs[idx].as_slice()[..used],
            s.width,
            s.height,
            s.stride,
            &mut s.scratch,
            out,
        );
        requeue(s)?;
        r
    };
    Ok(match result {
        Ok(()) => Step::Frame,
        Err(why) => Step::Bad(why),
    })
}

impl Source for Camera {
    fn info(&self) -> SourceInfo {
        self.mode
    }

    fn read(&mut self, out: &mut RgbFrame, timeout: Duration) -> Result<Read, SourceError> {
        if self.stream.is_none() {
            // Paused (or lost): start again.
            self.stream = Some(start(&self.req)?);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.stream.as_mut().expect("started above");
            match grab(s, out, deadline) {
                Ok(Step::Frame) => {
                    self.mode.width = out.width;
                    self.mode.height = out.height;
                    return Ok(Read::Frame);
                }
                Ok(Step::Timeout) => return Ok(Read::Timeout),
                Ok(Step::Nothing) => {
                    if Instant::now() >= deadline {
                        return Ok(Read::Timeout);
                    }
                }
                Ok(Step::Bad(why)) => {
                    self.warn_bad_frame(&why);
                    if Instant::now() >= deadline {
                        return Ok(Read::Timeout);
                    }
                }
                Err((what, e)) => return Err(self.lost(what, e)),
            }
        }
    }

    fn reopen(&mut self) -> Result<(), SourceError> {
        self.stream = None;
        let s = start(&self.req)?;
        self.mode = SourceInfo {
            width: s.width,
            height: s.height,
            fps: s.fps,
            frames: None,
        };
        self.fourcc = s.fourcc;
        self.stream = Some(s);
        Ok(())
    }

    fn pause(&mut self) {
        if let Some(s) = self.stream.take() {
            // Closing the node (not just STREAMOFF) turns the LED off on every UVC camera.
            let _ = s.dev.stream_off(BUF_TYPE_CAPTURE);
            tracing::info!(
                "camera {}: paused while nobody watches",
                self.req.device.display()
            );
        }
    }
}

/// Opens the camera a config names (`real_video_device` with its size, rate and format
/// choice); the pipeline calls it at start and when capture options change.
pub fn open_for(cfg: &crate::config::Config) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(Camera::open(
        &cfg.real_video_device,
        cfg.width,
        cfg.height,
        cfg.fps,
        cfg.mjpeg,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(fourcc: u32, width: u32, height: u32, max_fps: f64) -> ModeOption {
        ModeOption {
            fourcc,
            width,
            height,
            max_fps,
        }
    }

    /// A typical UVC webcam: YUYV full rate only up to 640x480, MJPEG full rate up to 1080p.
    fn uvc() -> Vec<ModeOption> {
        vec![
            m(PIX_YUYV, 640, 480, 30.0),
            m(PIX_YUYV, 1280, 720, 10.0),
            m(PIX_YUYV, 1920, 1080, 5.0),
            m(PIX_MJPEG, 640, 480, 30.0),
            m(PIX_MJPEG, 1280, 720, 30.0),
            m(PIX_MJPEG, 1920, 1080, 30.0),
            m(PIX_MJPEG, 3840, 2160, 30.0),
        ]
    }

    #[test]
    fn yuyv_with_padded_lines_decodes_to_bt601_colours() {
        // 2x2 frame, lines padded to 8 bytes: white pair, then a red pair (Y 81, U 90, V 240).
        let data = [
            235, 128, 235, 128, 0, 0, 0, 0, //
            81, 90, 81, 240, 0, 0, 0, 0,
        ];
        let (mut out, mut scratch) = (RgbFrame::default(), vec![]);
        decode_yuyv(&data, 2, 2, 8, &mut scratch, &mut out).unwrap();
        assert_eq!((out.width, out.height), (2, 2));
        let px = |i: usize| &out.data[i * 3..i * 3 + 3];
        for c in px(0).iter().chain(px(1)) {
            assert!(*c >= 250, "white: {:?}", &out.data[..6]);
        }
        let red = px(2);
        assert!(
            red[0] >= 245 && red[1] <= 10 && red[2] <= 10,
            "red: {red:?}"
        );
        assert!(decode_yuyv(&data[..10], 2, 2, 8, &mut scratch, &mut out).is_err());
        // Unpadded, with a bytesused rounded up past the frame.
        let mut flat = data[..4].to_vec();
        flat.extend_from_slice(&data[8..12]);
        flat.extend_from_slice(&[0; 8]);
        let mut again = RgbFrame::default();
        decode_yuyv(&flat, 2, 2, 4, &mut scratch, &mut again).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn auto_picks_the_largest_mode_reaching_the_rate_up_to_1080p_in_mjpeg() {
        assert_eq!(
            choose_mode(&uvc(), None, None, 30, None),
            Some(m(PIX_MJPEG, 1920, 1080, 30.0))
        );
        // YUYV only: 1280x720 does not reach 30 fps, so 640x480.
        assert_eq!(
            choose_mode(&uvc(), None, None, 30, Some(false)),
            Some(m(PIX_YUYV, 640, 480, 30.0))
        );
        // At 10 fps YUYV reaches 720p.
        assert_eq!(
            choose_mode(&uvc(), None, None, 10, Some(false)),
            Some(m(PIX_YUYV, 1280, 720, 10.0))
        );
        // 29.97 counts as 30.
        let ntsc = vec![m(PIX_YUYV, 640, 480, 29.97), m(PIX_YUYV, 1280, 720, 7.5)];
        assert_eq!(
            choose_mode(&ntsc, None, None, 30, None),
            Some(m(PIX_YUYV, 640, 480, 29.97))
        );
    }

    #[test]
    fn small_sizes_prefer_yuyv_big_sizes_mjpeg() {
        assert_eq!(
            choose_mode(&uvc(), Some(640), Some(480), 30, None),
            Some(m(PIX_YUYV, 640, 480, 30.0))
        );
        assert_eq!(
            choose_mode(&uvc(), Some(1280), Some(720), 30, None),
            Some(m(PIX_MJPEG, 1280, 720, 30.0))
        );
        assert_eq!(
            choose_mode(&uvc(), Some(640), Some(480), 30, Some(true)),
            Some(m(PIX_MJPEG, 640, 480, 30.0))
        );
        // A requested size that reaches the rate only in YUYV-less MJPEG is still honoured in
        // YUYV when asked for, even if slow.
        assert_eq!(
            choose_mode(&uvc(), Some(1280), Some(720), 30, Some(false)),
            Some(m(PIX_YUYV, 1280, 720, 10.0))
        );
    }

    #[test]
    fn unknown_size_gets_the_nearest_and_missing_formats_give_none() {
        assert_eq!(
            choose_mode(&uvc(), Some(1280), Some(700), 30, None),
            Some(m(PIX_MJPEG, 1280, 720, 30.0))
        );
        let yuyv_only = vec![m(PIX_YUYV, 640, 480, 30.0)];
        assert_eq!(choose_mode(&yuyv_only, None, None, 30, Some(true)), None);
        assert_eq!(choose_mode(&[], None, None, 30, None), None);
        // Nothing reaches 60 fps: the fastest, then the largest.
        assert_eq!(
            choose_mode(&uvc(), None, None, 60, None),
            Some(m(PIX_MJPEG, 1920, 1080, 30.0))
        );
    }
}
