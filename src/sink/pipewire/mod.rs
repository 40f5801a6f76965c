//! The PipeWire camera: `virtual_video_device: pipewire` publishes a PipeWire video source
//! node (`media.class` Video/Source, `media.role` Camera, named "Backdrop") instead of writing to
//! a v4l2loopback device. No kernel module: it works with Secure Boot, on immutable systems and
//! for sandboxed (Flatpak) apps, which reach cameras through the camera portal, and for
//! browsers with PipeWire camera support.
//!
//! The node offers raw YUY2 and I420 (the configured `output_format` first; MJPEG is not
//! offered, shared memory needs no compression) at the output size and rate. It is a driver:
//! each written frame goes into a free buffer and is pushed into the graph at once
//! (`pw_stream_trigger_process`), so the rate is Backdrop's. Frames flow only while a consumer
//! is linked and running (stream state "streaming"); [`Sink::has_consumers`] reports that, so
//! `on_demand` closes the camera while nobody watches. When the daemon goes away the next write
//! fails as [`SinkError::Lost`] and the pipeline re-opens the output until the daemon is back.
//!
//! libpipewire is loaded at run time ([`ffi`], which says why), so Backdrop builds and runs
//! without PipeWire; only this output needs it.

mod ffi;
pub use ffi::LoadError;
mod pod;
mod probe;

pub use probe::{probe, Client, Graph, Node};

use super::encode::FrameEncoder;
use super::yuv::OutputFormat;
use super::{Sink, SinkError};
use crate::frame::RgbFrame;
use ffi::{Lib, Locked, PwBuffer, SpaHook, SpaMetaHeader, StreamEvents};
use pod::Pod;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The `virtual_video_device` value that selects this output.
pub const DEVICE: &str = "pipewire";

/// The node's name and description, which apps show as the camera's name.
pub const NODE_NAME: &str = "Backdrop";

/// How long opening waits for the daemon to publish the node.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// After a failed open, further opens within this time fail at once with the same error (the
/// pipeline retries on every frame while the daemon is away).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// True when `virtual_video_device` names the PipeWire output.
pub fn is_pipewire(device: &str) -> bool {
    device.trim().eq_ignore_ascii_case(DEVICE)
}

/// Errors of the PipeWire output, each with the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PipeWireError {
    /// libpipewire is not installed (or too old).
    #[error("PipeWire output: cannot load {library} ({reason}); install PipeWire (sudo apt install pipewire wireplumber), or set virtual_video_device to a v4l2loopback device")]
    NoLibrary {
        /// The library file.
        library: &'static str,
        /// What the loader said.
        reason: ffi::LoadError,
    },
    /// No daemon answers.
    #[error("PipeWire output: no PipeWire daemon answers at {socket} ({reason}); start it (systemctl --user start pipewire wireplumber), or set virtual_video_device to a v4l2loopback device")]
    NotRunning {
        /// The socket tried.
        socket: String,
        /// Why the connection failed.
        reason: String,
    },
    /// The daemon refused or did not publish the node.
    #[error("PipeWire output: the daemon did not publish the \"{NODE_NAME}\" camera: {reason}; see the daemon's log (journalctl --user -u pipewire -u wireplumber)")]
    NotPublished {
        /// What happened.
        reason: String,
    },
    /// A PipeWire call failed.
    #[error("PipeWire output: {op} failed: {reason}")]
    Failed {
        /// The call.
        op: &'static str,
        /// Why.
        reason: String,
    },
}

/// The socket libpipewire connects to (`PIPEWIRE_REMOTE` in the runtime directory), for
/// messages.
pub fn socket() -> String {
    let remote = std::env::var("PIPEWIRE_REMOTE").unwrap_or_else(|_| "pipewire-0".into());
    if remote.starts_with('/') {
        return remote;
    }
    match ["PIPEWIRE_RUNTIME_DIR", "XDG_RUNTIME_DIR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|d| !d.is_empty()))
    {
        Some(dir) => format!("{dir}/{remote}"),
        None => format!("{remote} in $XDG_RUNTIME_DIR, which is not set"),
    }
}

/// Why connecting failed, from errno (libpipewire says EHOSTDOWN for "nothing listens").
fn connect_error() -> String {
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EHOSTDOWN) | Some(libc::ECONNREFUSED) | Some(libc::ENOENT) => {
            "nothing listens there".into()
        }
        _ => e.to_string(),
    }
}

fn library() -> Result<&'static Lib, PipeWireError> {
    ffi::lib().map_err(|reason| PipeWireError::NoLibrary {
        library: ffi::LIBRARY,
        reason,
    })
}

/// State the stream's callbacks (on PipeWire's thread) share with the sink.
struct Shared {
    lib: &'static Lib,
    tl: *mut c_void,
    stream: AtomicPtr<c_void>,
    state: AtomicI32,
    /// The last error PipeWire reported.
    error: Mutex<Option<String>>,
    /// The negotiated `SPA_VIDEO_FORMAT_*` (0 while none is).
    format: AtomicU32,
    /// Counts state changes, for [`Sink::wait_consumers`] to block on.
    changes: Mutex<u64>,
    changed: Condvar,
    width: u32,
    height: u32,
}

fn state_name(s: i32) -> &'static str {
    match s {
        ffi::STATE_ERROR => "error",
        ffi::STATE_UNCONNECTED => "unconnected",
        ffi::STATE_CONNECTING => "connecting",
        ffi::STATE_PAUSED => "paused",
        ffi::STATE_STREAMING => "streaming",
        _ => "unknown",
    }
}

unsafe extern "C" fn on_state_changed(
    data: *mut c_void,
    old: c_int,
    new: c_int,
    error: *const c_char,
) {
    let s = &*(data as *const Shared);
    s.state.store(new, Ordering::SeqCst);
    if let Some(e) = ffi::cstr(error) {
        if let Ok(mut g) = s.error.lock() {
            *g = Some(e);
        }
    }
    let stream = s.stream.load(Ordering::SeqCst);
    let what = match new {
        ffi::STATE_STREAMING if !stream.is_null() && (s.lib.stream_is_driving)(stream) => {
            " (a consumer is linked; Backdrop drives the graph)"
        }
        ffi::STATE_STREAMING => " (a consumer is linked; another node drives the graph)",
        ffi::STATE_PAUSED if old == ffi::STATE_STREAMING => " (no consumer)",
        _ => "",
    };
    tracing::info!(
        "PipeWire camera: {} -> {}{what}",
        state_name(old),
        state_name(new)
    );
    (s.lib.thread_loop_signal)(s.tl, false);
    if let Ok(mut n) = s.changes.lock() {
        *n += 1;
        s.changed.notify_all();
    }
}

unsafe extern "C" fn on_param_changed(data: *mut c_void, id: u32, param: *const u8) {
    let s = &*(data as *const Shared);
    if id != pod::PARAM_FORMAT {
        return;
    }
    let Some(p) = pod::from_ptr(param) else {
        // The format was cleared (the consumer went, the node was suspended).
        s.format.store(0, Ordering::SeqCst);
        return;
    };
    let format = pod::prop_id(p, pod::FORMAT_VIDEO_FORMAT).unwrap_or(0);
    let size = pod::prop_rectangle(p, pod::FORMAT_VIDEO_SIZE);
    let (stride, bytes) = match format {
        pod::VIDEO_FORMAT_YUY2 => (
            s.width * 2,
            OutputFormat::Yuyv.frame_bytes(s.width, s.height),
        ),
        pod::VIDEO_FORMAT_I420 => (s.width, OutputFormat::I420.frame_bytes(s.width, s.height)),
        _ => {
            tracing::warn!(
                "PipeWire camera: a consumer chose format {format}, which was not offered"
            );
            return;
        }
    };
    if size.is_some_and(|sz| sz != (s.width, s.height)) {
        tracing::warn!("PipeWire camera: a consumer chose size {size:?}, which was not offered");
        return;
    }
    tracing::info!(
        "PipeWire camera: format {} {}x{}",
        if format == pod::VIDEO_FORMAT_YUY2 {
            "YUY2"
        } else {
            "I420"
        },
        s.width,
        s.height
    );
    s.format.store(format, Ordering::SeqCst);
    let buffers = pod::object(
        pod::OBJECT_PARAM_BUFFERS,
        pod::PARAM_BUFFERS,
        &[
            (pod::BUFFERS_BUFFERS, pod::Value::IntRange(4, 2, 16)),
            (pod::BUFFERS_BLOCKS, pod::Value::Int(1)),
            (pod::BUFFERS_SIZE, pod::Value::Int(bytes as i32)),
            (pod::BUFFERS_STRIDE, pod::Value::Int(stride as i32)),
        ],
    );
    // A header with a sequence number and time stamp, which consumers use for timing.
    let meta = pod::object(
        pod::OBJECT_PARAM_META,
        pod::PARAM_META,
        &[
            (pod::META_TYPE, pod::Value::Id(ffi::META_HEADER)),
            (
                pod::META_SIZE,
                pod::Value::Int(std::mem::size_of::<SpaMetaHeader>() as i32),
            ),
        ],
    );
    let mut params = [buffers.as_ptr(), meta.as_ptr()];
    let stream = s.stream.load(Ordering::SeqCst);
    if !stream.is_null() {
        (s.lib.stream_update_params)(stream, params.as_mut_ptr(), params.len() as u32);
    }
}

static STREAM_EVENTS: StreamEvents = StreamEvents {
    version: 2,
    destroy: None,
    state_changed: Some(on_state_changed),
    control_info: None,
    io_changed: None,
    param_changed: Some(on_param_changed),
    add_buffer: None,
    remove_buffer: None,
    process: None,
    drained: None,
    command: None,
    trigger_done: None,
};

/// The PipeWire camera; see the module docs.
pub struct PipeWireSink {
    lib: &'static Lib,
    tl: *mut c_void,
    started: bool,
    context: *mut c_void,
    core: *mut c_void,
    stream: *mut c_void,
    /// Read by the callbacks until the stream is destroyed (dropped after it).
    shared: Box<Shared>,
    hook: Box<SpaHook>,
    width: u32,
    height: u32,
    fps: u32,
    encoder: Option<FrameEncoder>,
    node_id: u32,
    seq: u64,
    /// Frames dropped because the consumer held every buffer.
    dropped: u64,
}

// SAFETY: the PipeWire objects are used only under the thread loop's lock (or after the loop
// stopped, in drop); the callbacks' state is atomics and a mutex.
unsafe impl Send for PipeWireSink {}

impl PipeWireSink {
    /// Connects to the PipeWire daemon and publishes the camera node at `width`x`height` (even)
    /// and `fps`, offering `preferred` first (YUY2 for `yuyv` and `mjpeg`, I420 for `i420`).
    pub fn open(
        width: u32,
        height: u32,
        fps: u32,
        preferred: OutputFormat,
    ) -> Result<PipeWireSink, PipeWireError> {
        let lib = library()?;
        let width = width.max(2) & !1;
        let height = height.max(2) & !1;
        let name = ffi::cstring("backdrop-pipewire");
        // SAFETY: plain constructor; the sink owns the result.
        let tl = unsafe { (lib.thread_loop_new)(name.as_ptr(), std::ptr::null()) };
        if tl.is_null() {
            return Err(PipeWireError::Failed {
                op: "pw_thread_loop_new",
                reason: std::io::Error::last_os_error().to_string(),
            });
        }
        let mut sink = PipeWireSink {
            lib,
            tl,
            started: false,
            context: std::ptr::null_mut(),
            core: std::ptr::null_mut(),
            stream: std::ptr::null_mut(),
            shared: Box::new(Shared {
                lib,
                tl,
                stream: AtomicPtr::new(std::ptr::null_mut()),
                state: AtomicI32::new(ffi::STATE_UNCONNECTED),
                error: Mutex::new(None),
                format: AtomicU32::new(0),
                changes: Mutex::new(0),
                changed: Condvar::new(),
                width,
                height,
            }),
            hook: SpaHook::boxed(),
            width,
            height,
            fps: fps.max(1),
            encoder: None,
            node_id: ffi::ID_ANY,
            seq: 0,
            dropped: 0,
        };
        sink.connect(preferred)?;
        tracing::info!(
            "PipeWire camera \"{NODE_NAME}\" published (node {}, PipeWire {} at {}): {}x{} {} at {} fps",
            sink.node_id,
            lib.version(),
            socket(),
            width,
            height,
            match preferred {
                OutputFormat::I420 => "I420 or YUY2",
                _ => "YUY2 or I420",
            },
            sink.fps
        );
        Ok(sink)
    }

    fn connect(&mut self, preferred: OutputFormat) -> Result<(), PipeWireError> {
        let lib = self.lib;
        // SAFETY: tl is ours; started once.
        if unsafe { (lib.thread_loop_start)(self.tl) } < 0 {
            return Err(PipeWireError::Failed {
                op: "pw_thread_loop_start",
                reason: std::io::Error::last_os_error().to_string(),
            });
        }
        self.started = true;
        let _lock = Locked::new(lib, self.tl);
        // SAFETY: all calls below run under the loop's lock, on objects created here; each
        // pointer is checked before use and owned by self (freed in drop).
        unsafe {
            let lp = (lib.thread_loop_get_loop)(self.tl);
            self.context = (lib.context_new)(lp, std::ptr::null_mut(), 0);
            if self.context.is_null() {
                return Err(PipeWireError::Failed {
                    op: "pw_context_new",
                    reason: std::io::Error::last_os_error().to_string(),
                });
            }
            self.core = (lib.context_connect)(self.context, std::ptr::null_mut(), 0);
            if self.core.is_null() {
                return Err(PipeWireError::NotRunning {
                    socket: socket(),
                    reason: connect_error(),
                });
            }
            let props = lib.properties(&[
                ("media.class", "Video/Source"),
                ("media.role", "Camera"),
                ("media.type", "Video"),
                ("media.category", "Capture"),
                ("node.name", NODE_NAME),
                ("node.description", NODE_NAME),
                ("node.nick", NODE_NAME),
                ("media.name", NODE_NAME),
                ("application.name", NODE_NAME),
            ]);
            let name = ffi::cstring(NODE_NAME);
            self.stream = (lib.stream_new)(self.core, name.as_ptr(), props);
            if self.stream.is_null() {
                return Err(PipeWireError::Failed {
                    op: "pw_stream_new",
                    reason: std::io::Error::last_os_error().to_string(),
                });
            }
            self.shared.stream.store(self.stream, Ordering::SeqCst);
            (lib.stream_add_listener)(
                self.stream,
                &mut *self.hook,
                &STREAM_EVENTS,
                &*self.shared as *const Shared as *mut c_void,
            );
            let order = match preferred {
                OutputFormat::I420 => [pod::VIDEO_FORMAT_I420, pod::VIDEO_FORMAT_YUY2],
                _ => [pod::VIDEO_FORMAT_YUY2, pod::VIDEO_FORMAT_I420],
            };
            let formats: Vec<Pod> = order
                .iter()
                .map(|&f| {
                    pod::video_format(pod::PARAM_ENUM_FORMAT, f, self.width, self.height, self.fps)
                })
                .collect();
            let mut params: Vec<*const u8> = formats.iter().map(Pod::as_ptr).collect();
            let res = (lib.stream_connect)(
                self.stream,
                ffi::DIRECTION_OUTPUT,
                ffi::ID_ANY,
                ffi::STREAM_FLAG_DRIVER | ffi::STREAM_FLAG_MAP_BUFFERS,
                params.as_mut_ptr(),
                params.len() as u32,
            );
            if res < 0 {
                return Err(PipeWireError::Failed {
                    op: "pw_stream_connect",
                    reason: std::io::Error::from_raw_os_error(-res).to_string(),
                });
            }
            // Wait until the daemon has the node (paused: published, no consumer yet).
            let deadline = Instant::now() + PUBLISH_TIMEOUT;
            loop {
                let state = self.shared.state.load(Ordering::SeqCst);
                match state {
                    ffi::STATE_PAUSED | ffi::STATE_STREAMING => break,
                    ffi::STATE_ERROR | ffi::STATE_UNCONNECTED if self.error().is_some() => {
                        return Err(PipeWireError::NotPublished {
                            reason: self.error().unwrap_or_default(),
                        })
                    }
                    _ if Instant::now() >= deadline => {
                        return Err(PipeWireError::NotPublished {
                            reason: format!(
                                "no answer within {} s (stream {})",
                                PUBLISH_TIMEOUT.as_secs(),
                                state_name(state)
                            ),
                        })
                    }
                    _ => {
                        (lib.thread_loop_timed_wait)(self.tl, 1);
                    }
                }
            }
            self.node_id = (lib.stream_get_node_id)(self.stream);
        }
        Ok(())
    }

    fn error(&self) -> Option<String> {
        self.shared.error.lock().ok()?.clone()
    }

    /// The node's id in the PipeWire graph.
    pub fn node_id(&self) -> u32 {
        self.node_id
    }

    /// The output size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The format a consumer negotiated (`None` while none is linked).
    pub fn format(&self) -> Option<OutputFormat> {
        match self.shared.format.load(Ordering::SeqCst) {
            pod::VIDEO_FORMAT_YUY2 => Some(OutputFormat::Yuyv),
            pod::VIDEO_FORMAT_I420 => Some(OutputFormat::I420),
            _ => None,
        }
    }

    fn lost(&self, why: &str) -> SinkError {
        let reason = match self.error() {
            Some(e) => format!("{why}: {e}"),
            None => why.to_owned(),
        };
        SinkError::Lost {
            device: DEVICE.into(),
            reason: std::io::Error::other(reason),
        }
    }

    /// Copies `bytes` into a free buffer and pushes it into the graph; false when the consumer
    /// holds every buffer (the frame is dropped).
    fn push(&mut self, bytes: &[u8], stride: u32) -> bool {
        let lib = self.lib;
        let _lock = Locked::new(lib, self.tl);
        // SAFETY: under the loop's lock; the buffer comes from the stream and goes back to it;
        // sizes are checked against the buffer's maxsize.
        unsafe {
            let b: *mut PwBuffer = (lib.stream_dequeue_buffer)(self.stream);
            if b.is_null() {
                return false;
            }
            let buf = &mut *(*b).buffer;
            if buf.n_datas >= 1 {
                let d = &mut *buf.datas;
                if !d.data.is_null() && !d.chunk.is_null() {
                    let n = bytes.len().min(d.maxsize as usize);
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), d.data as *mut u8, n);
                    let c = &mut *d.chunk;
                    c.offset = 0;
                    c.size = n as u32;
                    c.stride = stride as i32;
                    c.flags = 0;
                }
            }
            let metas = std::slice::from_raw_parts(buf.metas, buf.n_metas as usize);
            if let Some(m) = metas.iter().find(|m| {
                m.type_ == ffi::META_HEADER
                    && m.size as usize >= std::mem::size_of::<SpaMetaHeader>()
                    && !m.data.is_null()
            }) {
                let h = &mut *(m.data as *mut SpaMetaHeader);
                let mut ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
                h.pts = ts.tv_sec * 1_000_000_000 + ts.tv_nsec;
                h.flags = 0;
                h.offset = 0;
                h.dts_offset = 0;
                h.seq = self.seq;
            }
            self.seq += 1;
            (lib.stream_queue_buffer)(self.stream, b);
            (lib.stream_trigger_process)(self.stream);
        }
        true
    }

    /// Converts `frame` and hands it to PipeWire; `again` (a repeat while the camera stalls)
    /// resends the frame converted last when there is one in this format: a copy, not a
    /// conversion.
    fn send(&mut self, frame: &RgbFrame, again: bool) -> Result<(), SinkError> {
        match self.shared.state.load(Ordering::SeqCst) {
            ffi::STATE_STREAMING => {}
            ffi::STATE_ERROR => return Err(self.lost("the PipeWire stream failed")),
            ffi::STATE_UNCONNECTED => {
                return Err(self.lost("disconnected from the PipeWire daemon"))
            }
            // Published, nobody linked: nothing to send.
            _ => return Ok(()),
        }
        let Some(format) = self.format() else {
            return Ok(());
        };
        let renegotiated = self.encoder.as_ref().map(FrameEncoder::format) != Some(format);
        if renegotiated {
            // Allocated once per negotiation, not per frame.
            self.encoder = Some(FrameEncoder::new(format, self.width, self.height, 0)?);
        }
        let stride = match format {
            OutputFormat::Yuyv => self.width * 2,
            _ => self.width,
        };
        let mut enc = self.encoder.take().expect("set above");
        let bytes = if again && !renegotiated && !enc.last().is_empty() {
            enc.last()
        } else {
            enc.encode(frame)?
        };
        let pushed = self.push(bytes, stride);
        self.encoder = Some(enc);
        if !pushed {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                tracing::debug!(
                    "PipeWire camera: the consumer holds every buffer; {} frames dropped",
                    self.dropped
                );
            }
        }
        Ok(())
    }
}

impl Sink for PipeWireSink {
    fn write(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        self.send(frame, false)
    }

    fn write_again(&mut self, frame: &RgbFrame) -> Result<(), SinkError> {
        self.send(frame, true)
    }

    /// A consumer is linked and streaming (`None` once the daemon is gone: the next write says
    /// so).
    fn has_consumers(&mut self) -> Option<bool> {
        match self.shared.state.load(Ordering::SeqCst) {
            ffi::STATE_STREAMING => Some(true),
            ffi::STATE_PAUSED | ffi::STATE_CONNECTING => Some(false),
            _ => None,
        }
    }

    /// Blocks until the stream's state changes (a consumer linked or left, the daemon went
    /// away) or `timeout` passes: an idle output costs no CPU and sees a consumer at once.
    fn wait_consumers(&mut self, timeout: Duration) -> bool {
        let Ok(n) = self.shared.changes.lock() else {
            std::thread::sleep(timeout);
            return false;
        };
        let start = *n;
        match self
            .shared
            .changed
            .wait_timeout_while(n, timeout, |n| *n == start)
        {
            Ok((n, _)) => *n != start,
            Err(_) => false,
        }
    }
}

impl Drop for PipeWireSink {
    fn drop(&mut self) {
        let lib = self.lib;
        // SAFETY: the loop thread is stopped first, so nothing else touches these objects; each
        // is destroyed once, children before parents; the hook and shared state outlive them.
        unsafe {
            if self.started {
                (lib.thread_loop_stop)(self.tl);
            }
            if !self.stream.is_null() {
                self.shared
                    .stream
                    .store(std::ptr::null_mut(), Ordering::SeqCst);
                (lib.stream_destroy)(self.stream);
            }
            if !self.core.is_null() {
                (lib.core_disconnect)(self.core);
            }
            if !self.context.is_null() {
                (lib.context_destroy)(self.context);
            }
            (lib.thread_loop_destroy)(self.tl);
        }
    }
}

/// When the last open failed, and how (see [`RETRY_AFTER`]).
static LAST_FAILURE: Mutex<Option<(Instant, PipeWireError)>> = Mutex::new(None);

/// Opens the PipeWire camera for `cfg` at the accepted size nearest the camera's
/// `width`x`height` (the same sizes as the loopback, which every app accepts).
pub fn open_for(
    cfg: &crate::config::Config,
    width: u32,
    height: u32,
) -> Result<Box<dyn Sink>, SinkError> {
    let mut last = LAST_FAILURE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((t, e)) = last.as_ref() {
        if t.elapsed() < RETRY_AFTER {
            return Err(e.clone().into());
        }
    }
    let (w, h) = super::loopback::output_size(width, height);
    match PipeWireSink::open(w, h, cfg.fps, cfg.output_format) {
        Ok(s) => {
            *last = None;
            Ok(Box::new(s))
        }
        Err(e) => {
            *last = Some((Instant::now(), e.clone()));
            Err(e.into())
        }
    }
}
