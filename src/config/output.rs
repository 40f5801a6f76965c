//! The virtual camera's output format, an option of the config (the sinks read it).

/// Output pixel formats of the virtual camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Packed 4:2:2, 2 bytes per pixel (the default: every consumer takes it).
    #[default]
    Yuyv,
    /// Planar 4:2:0, 1.5 bytes per pixel.
    I420,
    /// Motion JPEG: each frame a JPEG (Firefox runs MJPEG cameras at 30 fps, raw ones of 800 px
    /// and wider at 15).
    Mjpeg,
}

impl OutputFormat {
    /// Bytes of one frame; for MJPEG the most a frame may take (that of YUYV: a JPEG of a
    /// camera picture at any sensible quality is several times smaller).
    pub fn frame_bytes(self, w: u32, h: u32) -> usize {
        let (w, h) = (w as usize, h as usize);
        match self {
            OutputFormat::Yuyv | OutputFormat::Mjpeg => w * h * 2,
            OutputFormat::I420 => w * h + 2 * w.div_ceil(2) * h.div_ceil(2),
        }
    }

    /// The config name (`yuyv`, `i420`, `mjpeg`).
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Yuyv => "yuyv",
            OutputFormat::I420 => "i420",
            OutputFormat::Mjpeg => "mjpeg",
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The default `jpeg_quality`: what webcams' MJPEG looks like, about 80 KB per 720p frame.
pub const DEFAULT_JPEG_QUALITY: u32 = 85;
