//! Pictures and animations used by filters (`image`, `image_sequence`, `video`).
//!
//! A background is decoded once, scaled to the output size and kept in memory, as long as it fits
//! the media budget ([`media_budget`], 768 MiB by default, shared by all layers). Opaque frames
//! are kept as RGB (3 bytes a pixel), frames with transparency as RGBA. A background larger than
//! what is left of the budget is *streamed* instead: a background thread decodes it on the fly
//! into a small ring of frames (looping by restarting the decoder), so a long video costs a few
//! frames of memory and one decoder's CPU instead of failing. Either way the choice and the memory
//! used are logged when the layer is built.

use crate::frame::RgbaImage;
use fast_image_resize::{
    images::CroppedImageMut, images::Image, images::ImageRef, FilterType, PixelType, ResizeAlg,
    ResizeOptions, Resizer,
};
use image::AnimationDecoder;
use std::fmt;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::Duration;

/// Pixel interpolation used when scaling pictures and videos to the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// Bilinear.
    #[default]
    Linear,
    /// Nearest neighbour.
    Nearest,
}

/// How a picture or video whose shape differs from the frame's fills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Scaled to fill the frame, the overflow cut off; the anchor says which part stays.
    Cover(FitAnchor),
    /// Scaled to fit inside the frame, transparent bars beside or above and below it; the
    /// anchor says where it sits.
    Contain(FitAnchor),
    /// Scaled to the frame's shape, distorting it (the original tool's behaviour).
    Stretch,
}

impl Default for Fit {
    fn default() -> Self {
        Fit::Cover(FitAnchor::Center)
    }
}

/// Which part of a picture `cover` keeps (and where `contain` places it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FitAnchor {
    /// The middle.
    #[default]
    Center,
    /// The top edge (of a picture taller than the frame).
    Top,
    /// The bottom edge.
    Bottom,
    /// The left edge (of a picture wider than the frame).
    Left,
    /// The right edge.
    Right,
}

impl FitAnchor {
    /// Horizontal and vertical position as fractions of the free or cut space: 0 left/top,
    /// 0.5 centre, 1 right/bottom.
    pub fn fractions(self) -> (f64, f64) {
        match self {
            FitAnchor::Center => (0.5, 0.5),
            FitAnchor::Top => (0.5, 0.0),
            FitAnchor::Bottom => (0.5, 1.0),
            FitAnchor::Left => (0.0, 0.5),
            FitAnchor::Right => (1.0, 0.5),
        }
    }
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let anchor = |a: &FitAnchor| match a {
            FitAnchor::Center => "",
            FitAnchor::Top => ", top",
            FitAnchor::Bottom => ", bottom",
            FitAnchor::Left => ", left",
            FitAnchor::Right => ", right",
        };
        match self {
            Fit::Cover(a) => write!(f, "cover{}", anchor(a)),
            Fit::Contain(a) => write!(f, "contain{}", anchor(a)),
            Fit::Stretch => f.write_str("stretch"),
        }
    }
}

/// Default most memory decoded backgrounds may hold, all layers together.
pub const MEDIA_BUDGET_BYTES: usize = 768 << 20;

/// Environment variable overriding [`MEDIA_BUDGET_BYTES`], in MiB.
pub const MEDIA_BUDGET_ENV: &str = "BACKDROP_MEDIA_BUDGET_MIB";

/// Frames a streamed background decodes ahead.
pub const STREAM_RING: usize = 3;

/// Slack when comparing frame times (seconds).
const TIME_EPS: f64 = 1e-6;

/// How long a streamed background may hold up a frame waiting for its decoder before the
/// current frame is shown again, by default: live output must not stall.
pub const STREAM_WAIT: Duration = Duration::from_millis(100);

/// How media are held and played: the memory they may take and how long a streamed one may be
/// waited for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediaOptions {
    /// Most bytes of decoded media in memory, all layers together; larger backgrounds are
    /// streamed.
    pub budget: usize,
    /// How long a streamed background may hold up a frame waiting for its decoder before the
    /// current frame is shown again. Live output keeps [`STREAM_WAIT`]; file processing, which
    /// has no deadline, waits longer so its output does not depend on timing.
    pub stream_wait: Duration,
}

impl MediaOptions {
    /// The media budget from the environment ([`media_budget`]) and the live stream wait.
    pub fn from_env() -> Result<Self, MediaError> {
        Ok(MediaOptions {
            budget: media_budget()?,
            stream_wait: STREAM_WAIT,
        })
    }
}

/// Why a picture, animation, folder or video cannot be used as a background (each says the fix
/// where there is one).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// `BACKDROP_MEDIA_BUDGET_MIB` is not a number of MiB.
    #[error("{MEDIA_BUDGET_ENV}={value} is not a number of MiB; use a whole number from 0 to {MEDIA_BUDGET_MAX_MIB} (e.g. 768, the default), or unset it")]
    Budget {
        /// The value as set, quoted.
        value: String,
    },
    /// The file does not exist.
    #[error("the file does not exist; check the path (relative paths start at the config file's folder)")]
    NoFile,
    /// The path is something other than a file.
    #[error("it {what}; give a picture or video file")]
    NotAFile {
        /// What it is instead, e.g. "is a folder, not a file".
        what: String,
    },
    /// An `image_sequence` was given a file.
    #[error("it is a file, not a folder of pictures")]
    NotAFolder,
    /// An `image_sequence` folder does not exist.
    #[error("the folder does not exist; check the path (relative paths start at the config file's folder)")]
    NoFolder,
    /// An `image_sequence` folder cannot be listed.
    #[error("cannot list the folder: {0}")]
    List(std::io::Error),
    /// An `image_sequence` folder holds no pictures.
    #[error("the folder has no pictures ({})", PICTURE_EXTS.join(", "))]
    NoPictures,
    /// The file cannot be opened.
    #[error("cannot open: {0}")]
    Open(std::io::Error),
    /// The file cannot be read.
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    /// The picture file is larger than what is read.
    #[error("the file is {mib} MiB; pictures up to {max_mib} MiB are read")]
    TooLarge {
        /// Its size, MiB.
        mib: u64,
        /// The limit, MiB.
        max_mib: u64,
    },
    /// A JPEG without its end marker.
    #[error("not a readable picture: the JPEG is truncated (it has no end-of-image marker: an interrupted copy or download?)")]
    Truncated,
    /// The picture decoder failed.
    #[error("not a readable picture: {0}")]
    Picture(image::ImageError),
    /// The animation decoder failed.
    #[error("not a readable animation: {0}")]
    Animation(image::ImageError),
    /// One picture of an `image_sequence` failed.
    #[error("{}: {error}", path.display())]
    InFolder {
        /// The picture.
        path: PathBuf,
        /// What is wrong with it.
        error: Box<MediaError>,
    },
    /// ffmpeg cannot read the video.
    #[error(transparent)]
    Video(#[from] crate::ffmpeg::FfmpegError),
    /// Nothing was decoded.
    #[error("it has no frames")]
    NoFrames,
    /// The decoding thread could not start.
    #[error("cannot start a decoding thread: {0}")]
    Thread(std::io::Error),
    /// A streamed background gave no first frame in time.
    #[error("no frame could be decoded within 60 s")]
    FirstFrameTimeout,
}

/// Largest media budget accepted, in MiB (1 TiB: anything above is a typo).
const MEDIA_BUDGET_MAX_MIB: usize = 1 << 20;

/// The media budget in bytes: `BACKDROP_MEDIA_BUDGET_MIB` when set, else 768 MiB. A value that is
/// not a whole number of MiB (up to 1 TiB) is an error naming the variable, not silently ignored.
pub fn media_budget() -> Result<usize, MediaError> {
    match std::env::var(MEDIA_BUDGET_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(MEDIA_BUDGET_BYTES),
        Ok(v) if v.trim().is_empty() => Ok(MEDIA_BUDGET_BYTES),
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&m| m <= MEDIA_BUDGET_MAX_MIB)
            .map(|m| m << 20)
            .ok_or_else(|| MediaError::Budget {
                value: format!("{v:?}"),
            }),
        Err(std::env::VarError::NotUnicode(v)) => Err(MediaError::Budget {
            value: format!("{v:?}"),
        }),
    }
}

/// Formats bytes as MiB with one decimal.
pub fn mib(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / (1 << 20) as f64)
}

/// What a media filter shows.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaSource {
    /// A picture; animated GIF, APNG and animated WebP play.
    Picture(PathBuf),
    /// A folder of pictures, sorted by name (numbers in names compare as numbers), at `fps`.
    Sequence {
        /// The folder.
        dir: PathBuf,
        /// Frames per second.
        fps: f32,
    },
    /// A video (decoded by ffmpeg), or an animated picture, at `target_fps` at most.
    Video {
        /// The file.
        path: PathBuf,
        /// Frame rate limit; `None` keeps the file's.
        target_fps: Option<f32>,
    },
}

/// A decoded background: frames in memory, or a stream decoded on the fly.
pub struct Media {
    inner: Inner,
    label: String,
}

enum Inner {
    Memory(Animation),
    Stream(Stream),
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("label", &self.label)
            .field("streamed", &self.is_streamed())
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl Media {
    /// Decodes `src` at `w`x`h`, fitted as `fit` says; keeps it in memory when it fits
    /// `opts.budget` bytes, else streams it.
    pub fn open(
        src: &MediaSource,
        w: u32,
        h: u32,
        interp: Interpolation,
        fit: Fit,
        opts: MediaOptions,
    ) -> Result<Media, MediaError> {
        let budget = opts.budget;
        let opener = Opener::resolve(src, w, h, interp, fit)?;
        let label = opener.label();
        // Skip decoding what certainly cannot fit (at 3 bytes a pixel, the least a frame takes).
        let too_big = opener
            .estimated_frames()
            .is_some_and(|n| n.saturating_mul(w as usize * h as usize * 3) > budget);
        if !too_big {
            if let Some(anim) = Animation::decode(&opener, budget)? {
                tracing::info!(
                    "{label}: {} frame(s) at {w}x{h}, {} MiB in memory (media budget {} MiB left before it; fit {})",
                    anim.frames.len(),
                    mib(anim.bytes()),
                    mib(budget),
                    opener.fit
                );
                return Ok(Media {
                    inner: Inner::Memory(anim),
                    label,
                });
            }
        }
        let stream = Stream::start(opener, opts.stream_wait)?;
        tracing::info!(
            "{label}: larger than the media budget ({} MiB left): streamed from disk, {} MiB in memory ({} frames decoded ahead)",
            mib(budget),
            mib(stream.bytes()),
            STREAM_RING
        );
        Ok(Media {
            inner: Inner::Stream(stream),
            label,
        })
    }

    /// Writes the frame due at `t` seconds (looping) into `dst` (reshaped to the media size).
    pub fn draw(&mut self, t: f64, dst: &mut RgbaImage) {
        match &mut self.inner {
            Inner::Memory(a) => a.draw(t, dst),
            Inner::Stream(s) => s.draw(t, dst),
        }
    }

    /// Bytes of decoded frames held (for a stream: its ring of frames).
    pub fn bytes(&self) -> usize {
        match &self.inner {
            Inner::Memory(a) => a.bytes(),
            Inner::Stream(s) => s.bytes(),
        }
    }

    /// Whether the media is streamed rather than held in memory.
    pub fn is_streamed(&self) -> bool {
        matches!(self.inner, Inner::Stream(_))
    }

    /// Frames held in memory (`None` for a stream).
    pub fn frame_count(&self) -> Option<usize> {
        match &self.inner {
            Inner::Memory(a) => Some(a.frames.len()),
            Inner::Stream(_) => None,
        }
    }

    /// What the media is, for logs.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// One stored frame: RGB when opaque (3 bytes a pixel), else RGBA.
struct Stored {
    data: Vec<u8>,
    rgb: bool,
}

impl Stored {
    fn from_rgba(img: RgbaImage) -> Stored {
        if img.data.chunks_exact(4).all(|p| p[3] == 255) {
            let mut data = Vec::with_capacity(img.pixels() * 3);
            for p in img.data.chunks_exact(4) {
                data.extend_from_slice(&p[..3]);
            }
            Stored { data, rgb: true }
        } else {
            Stored {
                data: img.data,
                rgb: false,
            }
        }
    }

    fn write(&self, dst: &mut [u8]) {
        if self.rgb {
            for (d, s) in dst.chunks_exact_mut(4).zip(self.data.chunks_exact(3)) {
                d[0] = s[0];
                d[1] = s[1];
                d[2] = s[2];
                d[3] = 255;
            }
        } else {
            dst.copy_from_slice(&self.data);
        }
    }
}

/// Frames held in memory with their display times.
struct Animation {
    frames: Vec<Stored>,
    /// End time of each frame, seconds from the start of the loop.
    ends: Vec<f64>,
    width: u32,
    height: u32,
}

impl Animation {
    /// Decodes every frame; `Ok(None)` when they do not fit in `budget` bytes.
    fn decode(opener: &Opener, budget: usize) -> Result<Option<Animation>, MediaError> {
        let mut reader = opener.open()?;
        let mut anim = Animation {
            frames: vec![],
            ends: vec![],
            width: opener.w,
            height: opener.h,
        };
        let (mut bytes, mut t) = (0usize, 0.0);
        loop {
            let mut img = RgbaImage::default();
            let Some(d) = reader.next_into(&mut img)? else {
                break;
            };
            let s = Stored::from_rgba(img);
            bytes += s.data.len();
            if bytes > budget {
                return Ok(None);
            }
            t += d;
            anim.frames.push(s);
            anim.ends.push(t);
        }
        if anim.frames.is_empty() {
            return Err(MediaError::NoFrames);
        }
        Ok(Some(anim))
    }

    fn index_at(&self, t: f64) -> usize {
        let total = *self.ends.last().expect("non-empty");
        if self.frames.len() == 1 || total <= 0.0 {
            return 0;
        }
        // Output and media frame times often coincide (a 30 fps video in a 30 fps stream):
        // a frame is due from its exact start, whatever the rounding of either sum.
        let t = (t + TIME_EPS).rem_euclid(total);
        self.ends
            .partition_point(|&e| e <= t)
            .min(self.frames.len() - 1)
    }

    fn draw(&self, t: f64, dst: &mut RgbaImage) {
        dst.reshape(self.width, self.height);
        self.frames[self.index_at(t)].write(&mut dst.data);
    }

    fn bytes(&self) -> usize {
        self.frames.iter().map(|f| f.data.len()).sum()
    }
}

/// A background decoded on the fly by a background thread into a ring of `STREAM_RING` frames.
struct Stream {
    rx: Receiver<(RgbaImage, f64)>,
    back: Sender<RgbaImage>,
    cur: RgbaImage,
    cur_end: f64,
    start: Option<f64>,
    stop: Arc<AtomicBool>,
    frame_bytes: usize,
    /// How long a late frame is waited for ([`MediaOptions::stream_wait`]).
    wait: Duration,
}

impl Stream {
    /// Starts the decoding thread and waits for the first frame (so errors show at start-up).
    fn start(opener: Opener, wait: Duration) -> Result<Stream, MediaError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(RgbaImage, f64)>(STREAM_RING);
        let (back, back_rx) = std::sync::mpsc::channel::<RgbaImage>();
        let (first_tx, first_rx) = std::sync::mpsc::channel::<Result<(), MediaError>>();
        let stop = Arc::new(AtomicBool::new(false));
        let frame_bytes = opener.w as usize * opener.h as usize * 4;
        let stop2 = stop.clone();
        std::thread::Builder::new()
            .name("media-stream".into())
            .spawn(move || stream_loop(&opener, &tx, &back_rx, first_tx, &stop2))
            .map_err(MediaError::Thread)?;
        match first_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(MediaError::FirstFrameTimeout),
        }
        Ok(Stream {
            rx,
            back,
            cur: RgbaImage::default(),
            cur_end: 0.0,
            start: None,
            stop,
            frame_bytes,
            wait,
        })
    }

    fn draw(&mut self, t: f64, dst: &mut RgbaImage) {
        let start = *self.start.get_or_insert(t);
        let rel = t - start + TIME_EPS;
        while self.cur.data.is_empty() || rel >= self.cur_end {
            // The decoder runs ahead, so a frame is normally waiting; a late one is waited for
            // briefly, then the current frame is shown again rather than stalling the output.
            let wait = if self.cur.data.is_empty() {
                Duration::from_secs(5)
            } else {
                self.wait
            };
            match self.rx.recv_timeout(wait) {
                Ok((img, d)) => {
                    let old = std::mem::replace(&mut self.cur, img);
                    if !old.data.is_empty() {
                        let _ = self.back.send(old);
                    }
                    self.cur_end += d.max(1e-3);
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if self.cur.data.is_empty() {
            return;
        }
        dst.reshape(self.cur.width, self.cur.height);
        dst.data.copy_from_slice(&self.cur.data);
    }

    /// The ring, the frame shown and the one being decoded.
    fn bytes(&self) -> usize {
        (STREAM_RING + 2) * self.frame_bytes
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // The thread also stops when it finds the receiver gone; the flag stops it between files.
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn stream_loop(
    opener: &Opener,
    tx: &SyncSender<(RgbaImage, f64)>,
    back: &Receiver<RgbaImage>,
    first: Sender<Result<(), MediaError>>,
    stop: &AtomicBool,
) {
    let mut first = Some(first);
    let label = opener.label();
    let mut next = Some(opener.open());
    while !stop.load(Ordering::Relaxed) {
        // The next pass is opened when this one starts, so looping never waits for a decoder
        // to start (an ffmpeg process, or a file to open).
        let this = next.take().unwrap_or_else(|| opener.open());
        next = Some(opener.open());
        let mut reader = match this {
            Ok(r) => r,
            Err(e) => {
                match first.take() {
                    Some(f) => {
                        let _ = f.send(Err(e));
                    }
                    None => tracing::error!("{label}: {e}; the background stops"),
                }
                return;
            }
        };
        let mut n = 0u64;
        loop {
            let mut buf = back.try_recv().unwrap_or_default();
            match reader.next_into(&mut buf) {
                Ok(Some(d)) => {
                    n += 1;
                    if tx.send((buf, d)).is_err() {
                        return;
                    }
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(()));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    match first.take() {
                        Some(f) => {
                            let _ = f.send(Err(e));
                            return;
                        }
                        None => tracing::warn!("{label}: {e}; restarting it"),
                    }
                    break;
                }
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
        }
        if n == 0 {
            if let Some(f) = first.take() {
                let _ = f.send(Err(MediaError::NoFrames));
            }
            return;
        }
    }
}

/// Everything needed to (re)start decoding a background; cheap to clone, sent to stream threads.
#[derive(Clone)]
struct Opener {
    kind: Kind,
    w: u32,
    h: u32,
    interp: Interpolation,
    fit: Fit,
}

#[derive(Clone)]
enum Kind {
    /// A still picture.
    Still(PathBuf),
    /// An animated picture; frames shorter than `min_frame` seconds are merged (target_fps).
    Animated {
        path: PathBuf,
        format: AnimFormat,
        min_frame: f64,
    },
    /// A folder of pictures, one frame each.
    Files { files: Vec<PathBuf>, frame: f64 },
    /// A video through ffmpeg, already at `fps` and output size.
    Ffmpeg {
        path: PathBuf,
        fps: f64,
        est_frames: Option<usize>,
    },
}

#[derive(Clone, Copy, PartialEq)]
enum AnimFormat {
    Gif,
    Png,
    Webp,
}

/// Why a media path is not a usable file, with the fix, or `None` when it is one.
fn file_problem(path: &Path) -> Option<MediaError> {
    let what = crate::files::not_a_file(path)?;
    Some(if what == "does not exist" {
        MediaError::NoFile
    } else {
        MediaError::NotAFile { what }
    })
}

/// Largest picture file read (the decoders also cap what a picture may allocate).
const PICTURE_MAX_BYTES: u64 = 256 << 20;

/// Picture files an `image_sequence` folder may hold.
pub const PICTURE_EXTS: &[&str] = &["png", "jpg", "jpeg", "webp", "gif", "bmp"];

fn ext_of(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn open_file(path: &Path) -> Result<BufReader<std::fs::File>, MediaError> {
    std::fs::File::open(path)
        .map(BufReader::new)
        .map_err(MediaError::Open)
}

/// Whether a picture file holds an animation the image decoders can play.
fn animation_format(path: &Path) -> Result<Option<AnimFormat>, MediaError> {
    let f = match ext_of(path).as_str() {
        "gif" => Some(AnimFormat::Gif),
        "webp" => image::codecs::webp::WebPDecoder::new(open_file(path)?)
            .ok()
            .filter(|d| d.has_animation())
            .map(|_| AnimFormat::Webp),
        "png" | "apng" => image::codecs::png::PngDecoder::new(open_file(path)?)
            .ok()
            .filter(|d| d.is_apng().unwrap_or(false))
            .map(|_| AnimFormat::Png),
        _ => None,
    };
    Ok(f)
}

impl Opener {
    fn resolve(
        src: &MediaSource,
        w: u32,
        h: u32,
        interp: Interpolation,
        fit: Fit,
    ) -> Result<Opener, MediaError> {
        let kind = match src {
            MediaSource::Picture(path) => {
                if let Some(why) = file_problem(path) {
                    return Err(why);
                }
                match animation_format(path)? {
                    Some(format) => Kind::Animated {
                        path: path.clone(),
                        format,
                        min_frame: 0.0,
                    },
                    None => Kind::Still(path.clone()),
                }
            }
            MediaSource::Sequence { dir, fps } => {
                if dir.is_file() {
                    return Err(MediaError::NotAFolder);
                }
                let files = list_pictures(dir)?;
                Kind::Files {
                    files,
                    frame: 1.0 / (*fps as f64).max(1e-3),
                }
            }
            MediaSource::Video { path, target_fps } => {
                if let Some(why) = file_problem(path) {
                    return Err(why);
                }
                // Animated pictures play through the image decoders (exact frame delays, and
                // animated WebP, which ffmpeg cannot decode).
                if let Some(format) = animation_format(path)? {
                    Kind::Animated {
                        path: path.clone(),
                        format,
                        min_frame: target_fps.map_or(0.0, |f| 1.0 / f as f64),
                    }
                } else {
                    let info = crate::ffmpeg::probe(path)?;
                    // Odd containers report 90k or 1000 fps; cap what we decode at 60.
                    let own = info.fps.min(60.0);
                    let fps = target_fps.map_or(own, |f| (f as f64).min(own));
                    let est_frames = info
                        .frames
                        .map(|n| (n as f64 * fps / info.fps.max(1e-3)).ceil() as usize);
                    Kind::Ffmpeg {
                        path: path.clone(),
                        fps,
                        est_frames,
                    }
                }
            }
        };
        Ok(Opener {
            kind,
            w,
            h,
            interp,
            fit,
        })
    }

    fn label(&self) -> String {
        match &self.kind {
            Kind::Still(p) => format!("picture {}", p.display()),
            Kind::Animated { path, .. } => format!("animated picture {}", path.display()),
            Kind::Files { files, .. } => format!(
                "image sequence {} ({} pictures)",
                files
                    .first()
                    .and_then(|f| f.parent())
                    .unwrap_or(Path::new("?"))
                    .display(),
                files.len()
            ),
            Kind::Ffmpeg { path, fps, .. } => {
                format!("video {} at {fps:.1} fps", path.display())
            }
        }
    }

    /// Frames the media will have, where known before decoding.
    fn estimated_frames(&self) -> Option<usize> {
        match &self.kind {
            Kind::Still(_) => Some(1),
            Kind::Animated { .. } => None,
            Kind::Files { files, .. } => Some(files.len()),
            Kind::Ffmpeg { est_frames, .. } => *est_frames,
        }
    }

    fn open(&self) -> Result<Box<dyn FrameReader>, MediaError> {
        let scaler = Scaler {
            resizer: Resizer::new(),
            w: self.w,
            h: self.h,
            interp: self.interp,
            fit: self.fit,
        };
        Ok(match &self.kind {
            Kind::Still(path) => Box::new(StillReader {
                path: Some(path.clone()),
                scaler,
            }),
            Kind::Animated {
                path,
                format,
                min_frame,
            } => {
                let r = open_file(path)?;
                let bad = MediaError::Animation;
                let frames = match format {
                    AnimFormat::Gif => image::codecs::gif::GifDecoder::new(r)
                        .map_err(bad)?
                        .into_frames(),
                    AnimFormat::Png => image::codecs::png::PngDecoder::new(r)
                        .map_err(bad)?
                        .apng()
                        .map_err(bad)?
                        .into_frames(),
                    AnimFormat::Webp => image::codecs::webp::WebPDecoder::new(r)
                        .map_err(bad)?
                        .into_frames(),
                };
                Box::new(AnimReader {
                    frames,
                    gif: *format == AnimFormat::Gif,
                    min_frame: *min_frame,
                    pending: None,
                    scaler,
                })
            }
            Kind::Files { files, frame } => Box::new(FilesReader {
                files: files.clone(),
                next: 0,
                frame: *frame,
                scaler,
            }),
            Kind::Ffmpeg { path, fps, .. } => {
                let flags = if self.interp == Interpolation::Nearest {
                    "neighbor"
                } else {
                    "bilinear"
                };
                let vf = format!(
                    "fps={fps:.4},{}",
                    ffmpeg_fit(self.w, self.h, flags, self.fit)
                );
                let frame_bytes = self.w as usize * self.h as usize * 4;
                let dec = crate::ffmpeg::Decoder::spawn(path, "rgba", Some(&vf), frame_bytes)?;
                Box::new(FfmpegReader {
                    dec,
                    frame: 1.0 / fps,
                    w: self.w,
                    h: self.h,
                })
            }
        })
    }
}

/// Lists the pictures of a folder in name order (numbers in names compare by value).
fn list_pictures(dir: &Path) -> Result<Vec<PathBuf>, MediaError> {
    let rd = std::fs::read_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => MediaError::NoFolder,
        _ => MediaError::List(e),
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
                && PICTURE_EXTS.contains(&ext_of(p).as_str())
        })
        .collect();
    if files.is_empty() {
        return Err(MediaError::NoPictures);
    }
    files.sort_by(|a, b| {
        natural_cmp(
            &a.file_name().unwrap_or_default().to_string_lossy(),
            &b.file_name().unwrap_or_default().to_string_lossy(),
        )
    });
    Ok(files)
}

/// Compares names with runs of digits compared as numbers: `frame2` < `frame10`. Zero-padded
/// names sort as plain text would.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (da, db) = (&a[..na], &b[..nb]);
                let ta = &da[da.iter().take_while(|&&c| c == b'0').count()..];
                let tb = &db[db.iter().take_while(|&&c| c == b'0').count()..];
                let o = ta.len().cmp(&tb.len()).then(ta.cmp(tb)).then(na.cmp(&nb));
                if o != Ordering::Equal {
                    return o;
                }
                (a, b) = (&a[na..], &b[nb..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

/// Decodes frames one at a time, scaled to the output size.
trait FrameReader {
    /// Fills `dst` with the next frame; returns its display time in seconds, `None` at the end.
    fn next_into(&mut self, dst: &mut RgbaImage) -> Result<Option<f64>, MediaError>;
}

struct Scaler {
    resizer: Resizer,
    w: u32,
    h: u32,
    interp: Interpolation,
    fit: Fit,
}

impl Scaler {
    fn scale(&mut self, src: &RgbaImage, dst: &mut RgbaImage) {
        scale_rgba(
            &mut self.resizer,
            src,
            self.w,
            self.h,
            self.interp,
            self.fit,
            dst,
        );
    }
}

/// ffmpeg filters that scale a video to `w`x`h` as `fit` says, ending in RGBA: the same
/// geometry as [`placement`], worked out by ffmpeg on the frames it decodes (so rotated phone
/// videos fit by their upright shape). ffmpeg scales here because the frames cross the pipe
/// at output size (a 4K video's frames would be 33 MB each at full size).
fn ffmpeg_fit(w: u32, h: u32, flags: &str, fit: Fit) -> String {
    match fit {
        Fit::Stretch => format!("scale={w}:{h}:flags={flags},format=rgba"),
        Fit::Cover(anchor) => {
            let (ax, ay) = anchor.fractions();
            format!(
                "scale={w}:{h}:flags={flags}:force_original_aspect_ratio=increase,format=rgba,\
                 crop={w}:{h}:(iw-ow)*{ax}:(ih-oh)*{ay}"
            )
        }
        Fit::Contain(anchor) => {
            let (ax, ay) = anchor.fractions();
            format!(
                "scale={w}:{h}:flags={flags}:force_original_aspect_ratio=decrease,format=rgba,\
                 pad={w}:{h}:(ow-iw)*{ax}:(oh-ih)*{ay}:color=black@0"
            )
        }
    }
}

struct StillReader {
    path: Option<PathBuf>,
    scaler: Scaler,
}

impl FrameReader for StillReader {
    fn next_into(&mut self, dst: &mut RgbaImage) -> Result<Option<f64>, MediaError> {
        let Some(path) = self.path.take() else {
            return Ok(None);
        };
        let img = decode_picture(&path)?;
        self.scaler.scale(&img, dst);
        Ok(Some(0.0))
    }
}

struct FilesReader {
    files: Vec<PathBuf>,
    next: usize,
    frame: f64,
    scaler: Scaler,
}

impl FrameReader for FilesReader {
    fn next_into(&mut self, dst: &mut RgbaImage) -> Result<Option<f64>, MediaError> {
        let Some(path) = self.files.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let img = decode_picture(path).map_err(|e| MediaError::InFolder {
            path: path.clone(),
            error: Box::new(e),
        })?;
        self.scaler.scale(&img, dst);
        Ok(Some(self.frame))
    }
}

struct AnimReader {
    frames: image::Frames<'static>,
    gif: bool,
    min_frame: f64,
    pending: Option<image::Frame>,
    scaler: Scaler,
}

impl AnimReader {
    fn delay(&self, f: &image::Frame) -> f64 {
        let (num, den) = f.delay().numer_denom_ms();
        let ms = num as f64 / den.max(1) as f64;
        // Browsers show GIF delays of 0 or 10 ms as 100 ms; so do we (and for 0 elsewhere).
        if (self.gif && ms <= 10.0) || ms <= 0.0 {
            0.1
        } else {
            ms / 1000.0
        }
    }
}

impl FrameReader for AnimReader {
    fn next_into(&mut self, dst: &mut RgbaImage) -> Result<Option<f64>, MediaError> {
        let bad = MediaError::Animation;
        let first = match self.pending.take() {
            Some(f) => f,
            None => match self.frames.next() {
                Some(f) => f.map_err(bad)?,
                None => return Ok(None),
            },
        };
        // target_fps: frames shown for less than 1/target_fps are merged into the one before.
        let mut d = self.delay(&first);
        while d + 1e-9 < self.min_frame {
            match self.frames.next() {
                Some(f) => {
                    let f = f.map_err(bad)?;
                    let fd = self.delay(&f);
                    if d + fd / 2.0 > self.min_frame {
                        self.pending = Some(f);
                        break;
                    }
                    d += fd;
                }
                None => break,
            }
        }
        let buf = first.into_buffer();
        let src = RgbaImage {
            width: buf.width(),
            height: buf.height(),
            data: buf.into_raw(),
        };
        self.scaler.scale(&src, dst);
        Ok(Some(d))
    }
}

struct FfmpegReader {
    dec: crate::ffmpeg::Decoder,
    frame: f64,
    w: u32,
    h: u32,
}

impl FrameReader for FfmpegReader {
    fn next_into(&mut self, dst: &mut RgbaImage) -> Result<Option<f64>, MediaError> {
        dst.reshape(self.w, self.h);
        match self.dec.read_frame(&mut dst.data) {
            Ok(true) => Ok(Some(self.frame)),
            Ok(false) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether a JPEG file is complete: its last scan ends with the end-of-image marker. The JPEG
/// decoder is lenient and fills a truncated picture with grey; a truncated PNG is an error, and
/// so is a truncated JPEG here. The marker segments before the first scan are skipped by their
/// lengths (an EXIF thumbnail has its own end marker); inside scans a 0xFF byte is always
/// followed by 0x00 or a restart marker, so FF D9 can only be the end marker.
pub fn jpeg_is_complete(b: &[u8]) -> bool {
    if b.len() < 4 || b[..2] != [0xFF, 0xD8] {
        return false;
    }
    let mut i = 2;
    loop {
        // Markers may be preceded by fill bytes (0xFF).
        while b.get(i) == Some(&0xFF) && b.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let (Some(&0xFF), Some(&marker), Some(&hi), Some(&lo)) =
            (b.get(i), b.get(i + 1), b.get(i + 2), b.get(i + 3))
        else {
            return false;
        };
        i += 2 + u16::from_be_bytes([hi, lo]) as usize;
        if marker == 0xDA {
            break;
        }
    }
    b.get(i..)
        .is_some_and(|rest| rest.windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// Reads and decodes a picture file, turned upright by its EXIF orientation (phone photos are
/// stored sideways with a tag saying so). A truncated JPEG is an error, as a truncated PNG is.
pub fn read_picture(path: &Path) -> Result<image::DynamicImage, MediaError> {
    use image::ImageDecoder;
    if let Some(why) = file_problem(path) {
        return Err(why);
    }
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if len > PICTURE_MAX_BYTES {
        return Err(MediaError::TooLarge {
            mib: len >> 20,
            max_mib: PICTURE_MAX_BYTES >> 20,
        });
    }
    let bytes = std::fs::read(path).map_err(MediaError::Read)?;
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes[..]))
        .with_guessed_format()
        .map_err(MediaError::Read)?;
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(&bytes) {
        return Err(MediaError::Truncated);
    }
    let bad = MediaError::Picture;
    let mut dec = reader.into_decoder().map_err(bad)?;
    let orientation = dec
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(dec).map_err(bad)?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn decode_picture(path: &Path) -> Result<RgbaImage, MediaError> {
    let img = read_picture(path)?.to_rgba8();
    Ok(RgbaImage {
        width: img.width(),
        height: img.height(),
        data: img.into_raw(),
    })
}

/// Where a picture lands in the frame: the part of the picture shown and the part of the frame
/// it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Shown part of the picture: left, top, width, height in picture pixels (fractional for
    /// `cover`, so the scale is exactly the same on both axes).
    pub src: [f64; 4],
    /// Covered part of the frame: left, top, width, height in frame pixels; the rest is
    /// transparent (only `contain` leaves a rest).
    pub dst: [u32; 4],
}

/// The placement of a `sw`x`sh` picture in a `w`x`h` frame for `fit`.
pub fn placement(sw: u32, sh: u32, w: u32, h: u32, fit: Fit) -> Placement {
    let (sw_f, sh_f, w_f, h_f) = (sw as f64, sh as f64, w as f64, h as f64);
    let whole = Placement {
        src: [0.0, 0.0, sw_f, sh_f],
        dst: [0, 0, w, h],
    };
    match fit {
        Fit::Stretch => whole,
        Fit::Cover(anchor) => {
            let s = (w_f / sw_f).max(h_f / sh_f);
            let (cw, ch) = ((w_f / s).min(sw_f), (h_f / s).min(sh_f));
            // Same shape to within a pixel: nothing to cut, the whole picture is scaled.
            if sw_f - cw < 0.5 && sh_f - ch < 0.5 {
                return whole;
            }
            let (ax, ay) = anchor.fractions();
            Placement {
                src: [(sw_f - cw) * ax, (sh_f - ch) * ay, cw, ch],
                dst: [0, 0, w, h],
            }
        }
        Fit::Contain(anchor) => {
            let s = (w_f / sw_f).min(h_f / sh_f);
            let dw = ((sw_f * s).round() as u32).clamp(1, w);
            let dh = ((sh_f * s).round() as u32).clamp(1, h);
            let (ax, ay) = anchor.fractions();
            Placement {
                src: [0.0, 0.0, sw_f, sh_f],
                dst: [
                    ((w - dw) as f64 * ax).round() as u32,
                    ((h - dh) as f64 * ay).round() as u32,
                    dw,
                    dh,
                ],
            }
        }
    }
}

/// Scales an RGBA picture to `w`x`h` as `fit` says (alpha-aware, so transparent edges do not
/// darken). `contain` leaves the bars transparent, so the layers below show there.
pub fn scale_rgba(
    resizer: &mut Resizer,
    src: &RgbaImage,
    w: u32,
    h: u32,
    interp: Interpolation,
    fit: Fit,
    dst: &mut RgbaImage,
) {
    dst.reshape(w, h);
    let p = placement(src.width, src.height, w, h, fit);
    let [dx, dy, dw, dh] = p.dst;
    if (dw, dh) != (w, h) {
        dst.data.fill(0);
    }
    let whole_src = p.src == [0.0, 0.0, src.width as f64, src.height as f64];
    if whole_src && (src.width, src.height) == (w, h) {
        dst.data.copy_from_slice(&src.data);
        return;
    }
    let s = ImageRef::new(src.width, src.height, &src.data, PixelType::U8x4)
        .expect("buffer matches size");
    let mut d =
        Image::from_slice_u8(w, h, &mut dst.data, PixelType::U8x4).expect("buffer matches size");
    let alg = match interp {
        Interpolation::Linear => ResizeAlg::Convolution(FilterType::Bilinear),
        Interpolation::Nearest => ResizeAlg::Nearest,
    };
    let mut opts = ResizeOptions::new().resize_alg(alg);
    if !whole_src {
        let [l, t, cw, ch] = p.src;
        opts = opts.crop(l, t, cw, ch);
    }
    let done = if (dw, dh) == (w, h) {
        resizer.resize(&s, &mut d, &opts)
    } else {
        let mut part = CroppedImageMut::new(&mut d, dx, dy, dw, dh).expect("inside the frame");
        resizer.resize(&s, &mut part, &opts)
    };
    done.expect("same pixel type, crop inside the picture");
}

/// Reads an image file into RGB (for `process` on a photo).
pub fn load_rgb(path: &Path) -> Result<crate::frame::RgbFrame, MediaError> {
    let img = read_picture(path)?.to_rgb8();
    Ok(crate::frame::RgbFrame {
        width: img.width(),
        height: img.height(),
        data: img.into_raw(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_completeness_looks_past_the_header_segments() {
        let mut jpg = Vec::new();
        let px: Vec<u8> = (0..64 * 48 * 3).map(|i| (i * 7 % 251) as u8).collect();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 90)
            .encode(&px, 64, 48, image::ExtendedColorType::Rgb8)
            .unwrap();
        assert!(jpeg_is_complete(&jpg));
        // Bytes after the end marker (some cameras pad) are fine.
        let mut padded = jpg.clone();
        padded.extend_from_slice(&[0; 100]);
        assert!(jpeg_is_complete(&padded));
        // Cut anywhere in the scan: incomplete.
        assert!(!jpeg_is_complete(&jpg[..jpg.len() - 2]));
        assert!(!jpeg_is_complete(&jpg[..jpg.len() * 2 / 3]));
        // An end marker inside a header segment (an EXIF thumbnail) does not count.
        let mut thumb = vec![
            0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, b'E', b'x', 0xFF, 0xD9, 0, 0,
        ];
        thumb.extend_from_slice(&jpg[2..jpg.len() * 2 / 3]);
        assert!(!jpeg_is_complete(&thumb));
        assert!(!jpeg_is_complete(b"\xFF\xD8"));
        assert!(!jpeg_is_complete(b"not a jpeg"));
    }

    #[test]
    fn natural_order() {
        let mut v = vec![
            "f10.png", "f2.png", "f1.png", "f02b.png", "a.png", "f002.png",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            vec!["a.png", "f1.png", "f2.png", "f02b.png", "f002.png", "f10.png"]
        );
        let mut z = vec!["0010.png", "0002.png", "0001.png"];
        z.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(z, vec!["0001.png", "0002.png", "0010.png"]);
    }

    #[test]
    fn frame_times_loop() {
        let f = |v: u8| Stored {
            data: vec![v; 3],
            rgb: true,
        };
        let a = Animation {
            frames: vec![f(1), f(2), f(3)],
            ends: vec![0.1, 0.3, 0.4],
            width: 1,
            height: 1,
        };
        let at = |t: f64| a.index_at(t);
        assert_eq!(
            [
                at(0.0),
                at(0.05),
                at(0.1),
                at(0.29),
                at(0.35),
                at(0.4),
                at(0.45)
            ],
            [0, 0, 1, 1, 2, 0, 0]
        );
        let mut d = RgbaImage::default();
        a.draw(0.2, &mut d);
        assert_eq!(d.data, vec![2, 2, 2, 255]);
    }
}
