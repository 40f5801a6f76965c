//! A real clip replayed from memory as a webcam's MJPEG, looping: the camera of `backdrop bench`,
//! so the timed run decodes MJPEG as from a webcam without any device.

use super::mjpeg::decode_mjpeg;
use super::{Read, Source, SourceError, SourceInfo};
use crate::frame::RgbFrame;
use std::path::Path;
use std::time::Duration;

/// A clip replayed from memory as MJPEG, looping.
pub struct ReplaySource {
    jpegs: Vec<Vec<u8>>,
    next: usize,
    info: SourceInfo,
    /// When paced ([`ReplaySource::paced`]): the time the next frame is due.
    due: Option<std::time::Instant>,
}

impl ReplaySource {
    /// Takes up to `max` frames of `clip` scaled to `w`x`h`, encoded as a webcam's MJPEG
    /// ([`crate::ffmpeg::encode_mjpeg`]), to be replayed at `fps`.
    pub fn prepare(clip: &Path, w: u32, h: u32, fps: f64, max: usize) -> Result<Self, SourceError> {
        if !clip.exists() {
            return Err(SourceError::Missing(clip.to_owned()));
        }
        let stream = crate::ffmpeg::encode_mjpeg(clip, w, h, max)?;
        let jpegs = split_jpegs(&stream);
        if jpegs.is_empty() {
            return Err(SourceError::NoFrames(clip.to_owned()));
        }
        Ok(ReplaySource {
            jpegs,
            next: 0,
            info: SourceInfo {
                width: w,
                height: h,
                fps,
                frames: None,
            },
            due: None,
        })
    }

    /// Delivers frames at the clip's rate, as a camera does (`backdrop run --camera-file`),
    /// instead of as fast as they are read.
    pub fn paced(mut self) -> Self {
        self.due = Some(std::time::Instant::now());
        self
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

impl Source for ReplaySource {
    fn info(&self) -> SourceInfo {
        self.info
    }
    fn read(&mut self, out: &mut RgbFrame, timeout: Duration) -> Result<Read, SourceError> {
        if let Some(due) = self.due {
            let now = std::time::Instant::now();
            let wait = due.saturating_duration_since(now);
            if wait > timeout {
                std::thread::sleep(timeout);
                return Ok(Read::Timeout);
            }
            std::thread::sleep(wait);
            // On schedule, unless reading fell more than a frame behind (then from now).
            let interval = Duration::from_secs_f64(1.0 / self.info.fps.max(1e-3));
            let late = now.saturating_duration_since(due);
            self.due = Some(if late > interval {
                now + interval
            } else {
                due + interval
            });
        }
        let j = &self.jpegs[self.next % self.jpegs.len()];
        self.next += 1;
        decode_mjpeg(j, out)?;
        Ok(Read::Frame)
    }
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
