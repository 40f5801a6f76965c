//! `backdrop bench`: the full live pipeline on a real clip without devices. The clip is scaled
//! and re-encoded as JPEG once, before timing, so the timed run decodes MJPEG as from a webcam;
//! the output is converted to YUYV as for the loopback and discarded.

use crate::config::{Config, EngineChoice};
use crate::frame::RgbFrame;
use crate::live::{
    run_live, LiveError, LiveMode, LiveOptions, LiveReport, LiveSink, LiveSource, Read,
};
use crate::sink::yuv::{OutputFormat, YuvConverter};
use crate::source::mjpeg::decode_mjpeg;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Options of a bench run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Frame size.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames to output.
    pub frames: u64,
    /// Force an engine.
    pub engine: Option<EngineChoice>,
    /// Pace the input at this rate (else as fast as the pipeline goes).
    pub fps: Option<f64>,
    /// Config file (default: blurred background).
    pub config: Option<PathBuf>,
    /// Model override.
    pub model: Option<String>,
}

/// A clip replayed from memory as MJPEG, looping.
pub struct ReplaySource {
    jpegs: Vec<Vec<u8>>,
    next: usize,
    mode: LiveMode,
}

impl ReplaySource {
    /// Decodes up to `max` frames of `clip` scaled to `w`x`h` and encodes each as JPEG.
    pub fn prepare(clip: &Path, w: u32, h: u32, fps: f64, max: usize) -> Result<Self, String> {
        let vf = format!("scale={w}:{h}:flags=bicubic");
        let mut dec = crate::ffmpeg::Decoder::spawn(clip, "rgb24", Some(&vf), (w * h * 3) as usize)
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; (w * h * 3) as usize];
        let mut jpegs = Vec::new();
        while jpegs.len() < max && dec.read_frame(&mut buf).map_err(|e| e.to_string())? {
            let mut j = Vec::with_capacity(buf.len() / 8);
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut j, 85)
                .encode(&buf, w, h, image::ExtendedColorType::Rgb8)
                .map_err(|e| e.to_string())?;
            jpegs.push(j);
        }
        if jpegs.is_empty() {
            return Err(format!("{} has no frames", clip.display()));
        }
        Ok(ReplaySource {
            jpegs,
            next: 0,
            mode: LiveMode {
                width: w,
                height: h,
                fps,
            },
        })
    }
}

impl LiveSource for ReplaySource {
    fn mode(&self) -> LiveMode {
        self.mode
    }
    fn read(&mut self, out: &mut RgbFrame, _: Duration) -> Result<Read, LiveError> {
        let j = &self.jpegs[self.next % self.jpegs.len()];
        self.next += 1;
        decode_mjpeg(j, out).map_err(LiveError::Fatal)?;
        Ok(Read::Frame)
    }
    fn reopen(&mut self) -> Result<(), LiveError> {
        Ok(())
    }
}

/// Converts each frame to YUYV (as for the loopback) and drops it.
#[derive(Default)]
pub struct DiscardSink {
    conv: YuvConverter,
    buf: Vec<u8>,
}

impl LiveSink for DiscardSink {
    fn write(&mut self, frame: &RgbFrame) -> Result<(), LiveError> {
        self.conv.convert(frame, OutputFormat::Yuyv, &mut self.buf);
        std::hint::black_box(&self.buf);
        Ok(())
    }
}

/// Runs the bench; returns the live report (per-stage samples inside).
pub fn run_bench(clip: &Path, o: &BenchOptions) -> Result<LiveReport, String> {
    let mut cfg: Config =
        crate::pipeline::load_config(o.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(e) = o.engine {
        cfg.engine = e;
    }
    if let Some(m) = &o.model {
        cfg.model = m.clone();
    }
    cfg.fps = o.fps.map(|f| f.round() as u32).unwrap_or(30).max(1);
    let src = ReplaySource::prepare(clip, o.width, o.height, o.fps.unwrap_or(30.0), 150)?;
    let mut src = Some(src);
    let stop = Arc::new(AtomicBool::new(false));
    let mut opts = LiveOptions::new(None, stop);
    opts.max_frames = Some(o.frames);
    opts.keep_alive = false;
    opts.source_fps = o.fps;
    opts.lockstep = o.fps.is_none();
    run_live(
        cfg,
        opts,
        Box::new(move |_| {
            src.take()
                .map(|s| Box::new(s) as Box<dyn LiveSource>)
                .ok_or(LiveError::Fatal("replay opened twice".into()))
        }),
        Box::new(|_, _| Ok(Box::new(DiscardSink::default()))),
    )
    .map_err(|e| e.to_string())
}

/// Formats a report as the bench's text output (stages table, totals, and the final line).
pub fn format_report(r: &LiveReport, o: &BenchOptions) -> String {
    let mut s = String::new();
    let secs = r.elapsed.as_secs_f64();
    s += &format!("engine: {}\n", r.engine);
    s += &format!(
        "{:<18} {:>10} {:>10} {:>10}\n",
        "stage", "median ms", "p99 ms", "CPU ms"
    );
    for (name, st) in r.stats.summary() {
        s += &format!(
            "{name:<18} {:>10.2} {:>10.2} {:>10.2}\n",
            st.median, st.p99, st.cpu
        );
    }
    let fps = r.frames_composed as f64 / secs;
    let cpu_per_frame = r.cpu.as_secs_f64() * 1e3 / r.frames_composed.max(1) as f64;
    s += &format!(
        "frames: {} composed in {secs:.2} s; mask rate {:.1}/s; peak memory {} MiB\n",
        r.frames_composed,
        r.masks as f64 / secs,
        crate::stats::peak_rss_bytes() >> 20
    );
    if let Some(f) = o.fps {
        s += &format!(
            "paced at {f} fps: {:.2} cores used on average\n",
            r.cpu.as_secs_f64() / secs
        );
    }
    s += &format!("end-to-end: {fps:.1} fps, {cpu_per_frame:.1} ms CPU/frame\n");
    s
}
