//! `backdrop bench`: the full pipeline on a real clip without devices. The clip is scaled and
//! re-encoded as JPEG once, before timing ([`ReplaySource`]), so the timed run decodes MJPEG as
//! from a webcam; the output is encoded as for the virtual camera (YUYV, I420 or JPEG) and discarded
//! ([`DiscardSink`]). Every frame is processed (no frame decoded only to be dropped).

use crate::config::EngineChoice;
use crate::pipeline::{Delivery, Options, PipelineError, Report};
use crate::sink::{DiscardSink, Sink};
use crate::source::{ReplaySource, Source};
use std::path::{Path, PathBuf};

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
    /// Output format override (the encode is timed, as for the virtual camera).
    pub output: Option<crate::sink::yuv::OutputFormat>,
}

/// Runs the bench; returns the run's report (per-stage samples inside).
pub fn run_bench(clip: &Path, o: &BenchOptions) -> Result<Report, PipelineError> {
    if o.fps
        .is_some_and(|f| !(f.is_finite() && (1.0..=1000.0).contains(&f)))
        || o.width > 7680
        || o.height > 4320
    {
        return Err(PipelineError::Options(format!(
            "bench: {}x{} at {:?} fps is out of range; use sizes up to 7680x4320 and 1 to 1000 fps",
            o.width, o.height, o.fps
        )));
    }
    let mut cfg = crate::pipeline::load_config(o.config.as_deref())?;
    if let Some(e) = o.engine {
        cfg.engine = e;
    }
    if let Some(m) = &o.model {
        cfg.model = m.clone();
    }
    if let Some(f) = o.output {
        cfg.output_format = f;
    }
    cfg.fps = o.fps.map(|f| f.round() as u32).unwrap_or(30).max(1);
    let src = ReplaySource::prepare(clip, o.width, o.height, o.fps.unwrap_or(30.0), 150)?;
    let mut src = Some(src);
    let mut opts = Options::new(Delivery::EveryFrame, None);
    opts.max_frames = Some(o.frames);
    opts.pace = o.fps;
    crate::pipeline::run(
        cfg,
        opts,
        Box::new(move |_| {
            Ok(Box::new(src.take().expect("the replay is opened once")) as Box<dyn Source>)
        }),
        Box::new(|cfg, info| {
            Ok(Box::new(DiscardSink::open_for(cfg, info.width, info.height)?) as Box<dyn Sink>)
        }),
    )
}

/// Formats a report as the bench's text output (stages table, totals, and the final line).
pub fn format_report(r: &Report, o: &BenchOptions) -> String {
    let output = o
        .output
        .map_or("as configured (output_format)".to_owned(), |f| {
            f.name().to_uppercase()
        });
    let mut s = String::new();
    let secs = r.elapsed.as_secs_f64();
    s += &format!("engine: {}\n", r.engine);
    s += &format!("model: {}\n", r.model);
    s += &format!(
        "input: {}x{} MJPEG (YCbCr 4:2:2, as UVC webcams send), decoded in the timed run; output encoded to {output} as for the virtual camera\n",
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
