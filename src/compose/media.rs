//! Pictures and animations used by filters: decoded once, scaled to the output size, kept in memory.

use crate::config::Interpolation;
use crate::frame::RgbaImage;
use fast_image_resize::{
    images::Image, images::ImageRef, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer,
};
use image::AnimationDecoder;
use std::io::BufReader;
use std::path::Path;

/// A sequence of frames with their display durations (a still picture is one frame).
#[derive(Debug, Clone, Default)]
pub struct Animation {
    /// Frames at output size.
    pub frames: Vec<RgbaImage>,
    /// Seconds each frame is shown.
    pub durations: Vec<f64>,
    total: f64,
}

impl Animation {
    /// Builds from frames and durations.
    pub fn new(frames: Vec<RgbaImage>, durations: Vec<f64>) -> Self {
        let total = durations.iter().sum();
        Animation {
            frames,
            durations,
            total,
        }
    }

    /// The frame shown at `t` seconds, looping.
    pub fn frame_at(&self, t: f64) -> &RgbaImage {
        if self.frames.len() == 1 || self.total <= 0.0 {
            return &self.frames[0];
        }
        let mut t = t.rem_euclid(self.total);
        for (f, d) in self.frames.iter().zip(&self.durations) {
            if t < *d {
                return f;
            }
            t -= d;
        }
        self.frames.last().expect("non-empty")
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.frames.iter().map(|f| f.data.len()).sum()
    }
}

/// Scales an RGBA picture to `w`x`h` (alpha-aware, so transparent edges do not darken).
pub fn scale_rgba(
    resizer: &mut Resizer,
    src: &RgbaImage,
    w: u32,
    h: u32,
    interp: Interpolation,
    dst: &mut RgbaImage,
) {
    dst.reshape(w, h);
    if src.width == w && src.height == h {
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
    resizer
        .resize(&s, &mut d, &ResizeOptions::new().resize_alg(alg))
        .expect("same pixel type");
}

fn to_rgba(img: image::RgbaImage) -> RgbaImage {
    RgbaImage {
        width: img.width(),
        height: img.height(),
        data: img.into_raw(),
    }
}

/// Reads a picture or animated picture (GIF, APNG, animated WebP) and scales every frame.
pub fn load_animation(
    path: &Path,
    w: u32,
    h: u32,
    interp: Interpolation,
) -> Result<Animation, String> {
    if !path.exists() {
        return Err("the file does not exist; check the path (relative paths start at the config file's folder)".into());
    }
    let file = || {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|e| format!("cannot open: {e}"))
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let frames: Option<Vec<image::Frame>> = match ext.as_str() {
        "gif" => image::codecs::gif::GifDecoder::new(file()?)
            .ok()
            .and_then(|d| d.into_frames().collect_frames().ok()),
        "webp" => image::codecs::webp::WebPDecoder::new(file()?)
            .ok()
            .filter(|d| d.has_animation())
            .and_then(|d| d.into_frames().collect_frames().ok()),
        "png" | "apng" => image::codecs::png::PngDecoder::new(file()?)
            .ok()
            .filter(|d| d.is_apng().unwrap_or(false))
            .and_then(|d| d.apng().ok())
            .and_then(|d| d.into_frames().collect_frames().ok()),
        _ => None,
    };
    let mut resizer = Resizer::new();
    let mut out = Animation::default();
    match frames {
        Some(fr) if fr.len() > 1 => {
            let mut frames = Vec::with_capacity(fr.len());
            let mut durations = Vec::with_capacity(fr.len());
            for f in fr {
                let (num, den) = f.delay().numer_denom_ms();
                // Browsers show 0/10 ms GIF delays as 100 ms; so do we.
                let secs = if num as f64 / den.max(1) as f64 <= 10.0 {
                    0.1
                } else {
                    num as f64 / den as f64 / 1000.0
                };
                let mut d = RgbaImage::default();
                scale_rgba(
                    &mut resizer,
                    &to_rgba(f.into_buffer()),
                    w,
                    h,
                    interp,
                    &mut d,
                );
                frames.push(d);
                durations.push(secs);
            }
            out = Animation::new(frames, durations);
        }
        _ => {
            let img = image::ImageReader::new(file()?)
                .with_guessed_format()
                .map_err(|e| format!("cannot read: {e}"))?
                .decode()
                .map_err(|e| format!("not a readable picture: {e}"))?;
            let mut d = RgbaImage::default();
            scale_rgba(&mut resizer, &to_rgba(img.to_rgba8()), w, h, interp, &mut d);
            out.frames.push(d);
            out.durations.push(0.0);
        }
    }
    Ok(out)
}

/// Reads an image file into RGB (for `process` on a photo).
pub fn load_rgb(path: &Path) -> Result<crate::frame::RgbFrame, String> {
    let img = image::ImageReader::open(path)
        .map_err(|e| format!("cannot open: {e}"))?
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?
        .decode()
        .map_err(|e| format!("not a readable picture: {e}"))?
        .to_rgb8();
    Ok(crate::frame::RgbFrame {
        width: img.width(),
        height: img.height(),
        data: img.into_raw(),
    })
}

/// Most memory a decoded background may hold (frames at output size).
pub const MEDIA_BUDGET_BYTES: usize = 768 << 20;

const PICTURE_EXTS: &[&str] = &["png", "jpg", "jpeg", "webp", "gif", "bmp"];

/// Reads a folder of pictures (sorted by file name) as an animation at `fps`.
pub fn load_sequence(
    dir: &Path,
    fps: f32,
    w: u32,
    h: u32,
    interp: Interpolation,
) -> Result<Animation, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot list the folder: {e}"))?;
    let mut files: Vec<std::path::PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| PICTURE_EXTS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "the folder has no pictures ({})",
            PICTURE_EXTS.join(", ")
        ));
    }
    let per_frame = w as usize * h as usize * 4;
    if files.len() * per_frame > MEDIA_BUDGET_BYTES {
        return Err(format!(
            "{} pictures at {w}x{h} need {} MiB, more than the {} MiB budget; use fewer pictures",
            files.len(),
            (files.len() * per_frame) >> 20,
            MEDIA_BUDGET_BYTES >> 20
        ));
    }
    let mut frames = Vec::with_capacity(files.len());
    for f in &files {
        let a = load_animation(f, w, h, interp).map_err(|e| format!("{}: {e}", f.display()))?;
        frames.push(a.frames.into_iter().next().expect("one frame"));
    }
    let d = 1.0 / fps as f64;
    let n = frames.len();
    Ok(Animation::new(frames, vec![d; n]))
}

/// Decodes a video (or animated GIF) with ffmpeg at `target_fps` (default: its own rate).
pub fn load_video(
    path: &Path,
    target_fps: Option<f32>,
    w: u32,
    h: u32,
    interp: Interpolation,
) -> Result<Animation, String> {
    if !path.is_file() {
        return Err("the file does not exist; check the path (relative paths start at the config file's folder)".into());
    }
    let info = crate::ffmpeg::probe(path).map_err(|e| e.to_string())?;
    let fps = target_fps
        .map(|f| f as f64)
        .unwrap_or(info.fps)
        .min(info.fps.max(1.0));
    let flags = if interp == Interpolation::Nearest {
        "neighbor"
    } else {
        "bilinear"
    };
    let vf = format!("fps={fps:.4},scale={w}:{h}:flags={flags}");
    let per_frame = w as usize * h as usize * 4;
    let mut dec = crate::ffmpeg::Decoder::spawn(path, "rgba", Some(&vf), per_frame)
        .map_err(|e| e.to_string())?;
    let mut frames = Vec::new();
    loop {
        let mut f = RgbaImage::new(w, h);
        if !dec.read_frame(&mut f.data).map_err(|e| e.to_string())? {
            break;
        }
        frames.push(f);
        if frames.len() * per_frame > MEDIA_BUDGET_BYTES {
            return Err(format!(
                "decoded at {w}x{h} and {fps:.1} fps the video needs more than {} MiB; set a lower target_fps or use a shorter clip",
                MEDIA_BUDGET_BYTES >> 20
            ));
        }
    }
    if frames.is_empty() {
        return Err("the video has no frames".into());
    }
    let n = frames.len();
    tracing::info!(
        "video background {}: {n} frames at {w}x{h}, {} MiB in memory",
        path.display(),
        (n * per_frame) >> 20
    );
    Ok(Animation::new(frames, vec![1.0 / fps; n]))
}
