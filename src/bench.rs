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
    /// Takes up to `max` frames of `clip` scaled to `w`x`h`, encoded as a webcam's MJPEG
    /// ([`crate::ffmpeg::encode_mjpeg`]).
    pub fn prepare(clip: &Path, w: u32, h: u32, fps: f64, max: usize) -> Result<Self, String> {
        let stream = crate::ffmpeg::encode_mjpeg(clip, w, h, max).map_err(|e| e.to_string())?;
        let jpegs = split_jpegs(&stream);
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

/// Splits a stream of concatenated JPEGs at their end-of-image markers (`FF D9` cannot occur
/// inside the entropy-coded data, where `FF` is always followed by `00` or a restart marker).
fn split_jpegs(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut jpegs = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < stream.len() {
        if stream[i] == 0xFF && stream[i + 1] == 0xD9 {
            jpegs.push(stream[start..i + 2].to_vec());
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    jpegs
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
    s += &format!("model: {}\n", r.model);
    s += &format!(
        "input: {}x{} MJPEG (YCbCr 4:2:2, as UVC webcams send), decoded in the timed run; output converted to YUYV\n",
        o.width, o.height
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two real JPEGs back to back (one with an `FF 00` stuffed byte in its data, as any
    /// textured picture has) come apart into two that decode.
    #[test]
    fn split_jpegs_finds_each_picture() {
        let mut stream = Vec::new();
        for (w, h) in [(16u32, 8u32), (24, 16)] {
            let px: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut stream, 90)
                .encode(&px, w, h, image::ExtendedColorType::Rgb8)
                .unwrap();
        }
        let parts = split_jpegs(&stream);
        assert_eq!(parts.len(), 2);
        let mut f = RgbFrame::default();
        for (p, w) in parts.iter().zip([16, 24]) {
            decode_mjpeg(p, &mut f).unwrap();
            assert_eq!(f.width, w);
        }
    }
}
