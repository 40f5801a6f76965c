//! Video files through the `ffmpeg`/`ffprobe` programs, as raw RGB frames over pipes.
//!
//! Why a subprocess and not libav bindings or ffmpeg-sidecar: the ffmpeg CLI is one apt package
//! on every distribution, links nothing into our binary (no libav ABI to track), and raw pipes let
//! us read each frame straight into a reused buffer. ffmpeg-sidecar would add stderr parsing and a
//! fresh `Vec` per frame for the same two commands.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Errors from running ffmpeg.
#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    /// The program is not installed.
    #[error("`{0}` was not found; install it with `sudo apt-get install ffmpeg`")]
    NotInstalled(&'static str),
    /// ffprobe could not read the file.
    #[error("cannot read video {path}: {reason}")]
    Probe {
        /// The file.
        path: PathBuf,
        /// ffprobe's message.
        reason: String,
    },
    /// Reading or writing frames failed.
    #[error("ffmpeg failed on {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// What ffprobe says about a video's first video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// Frame count, when the container says.
    pub frames: Option<u64>,
}

fn spawn_err(prog: &'static str, e: std::io::Error) -> FfmpegError {
    if e.kind() == std::io::ErrorKind::NotFound {
        FfmpegError::NotInstalled(prog)
    } else {
        FfmpegError::Io {
            path: prog.into(),
            reason: e.to_string(),
        }
    }
}

fn parse_rate(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
    (d > 0.0 && n > 0.0).then_some(n / d)
}

/// Reads size, rate and frame count of `path`'s first video stream. The size is the one ffmpeg
/// decodes to: phones record portrait video as landscape frames with a rotation (display matrix
/// side data, or the older `rotate` tag), which ffmpeg applies while decoding, so a quarter turn
/// swaps width and height.
pub fn probe(path: &Path) -> Result<VideoInfo, FfmpegError> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg("stream=width,height,avg_frame_rate,r_frame_rate,nb_frames:stream_side_data=rotation:stream_tags=rotate")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .map_err(|e| spawn_err("ffprobe", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
    };
    let bad = |reason: String| FfmpegError::Probe {
        path: path.to_owned(),
        reason,
    };
    if !out.status.success() {
        return Err(bad(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    let width = get("width")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("no video stream in the file".into()))?;
    let height = get("height")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("no video stream in the file".into()))?;
    let fps = get("avg_frame_rate")
        .and_then(parse_rate)
        .or_else(|| get("r_frame_rate").and_then(parse_rate))
        .unwrap_or(25.0);
    let frames = get("nb_frames").and_then(|v| v.parse().ok());
    let rotation = get("rotation")
        .or_else(|| get("TAG:rotate"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    let quarter_turn = (rotation.round() as i64).rem_euclid(180) == 90;
    let (width, height) = if quarter_turn {
        (height, width)
    } else {
        (width, height)
    };
    Ok(VideoInfo {
        width,
        height,
        fps,
        frames,
    })
}

/// Up to `max` frames of `path` scaled to `w`x`h`, encoded as concatenated JPEGs the way a UVC
/// webcam sends MJPEG: YCbCr 4:2:2 (ffmpeg's MJPEG encoder, quality 3 of 31).
pub fn encode_mjpeg(path: &Path, w: u32, h: u32, max: usize) -> Result<Vec<u8>, FfmpegError> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-frames:v", &max.to_string(), "-an", "-vf"])
        .arg(format!("scale={w}:{h}:flags=bicubic,format=yuvj422p"))
        .args(["-c:v", "mjpeg", "-q:v", "3", "-f", "mjpeg", "-"])
        .output()
        .map_err(|e| spawn_err("ffmpeg", e))?;
    if !out.status.success() {
        return Err(FfmpegError::Io {
            path: path.to_owned(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// Most of ffmpeg's stderr kept for error messages.
const STDERR_KEEP: usize = 8 << 10;

/// Reads a child's stderr on its own thread, so that an ffmpeg printing many decode errors never
/// blocks on a full pipe (and with it, us); keeps the first [`STDERR_KEEP`] bytes.
fn drain_stderr(child: &mut Child) -> Option<std::thread::JoinHandle<String>> {
    let mut err = child.stderr.take()?;
    std::thread::Builder::new()
        .name("ffmpeg-stderr".into())
        .spawn(move || {
            let mut keep = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match err.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let room = STDERR_KEEP.saturating_sub(keep.len());
                        keep.extend_from_slice(&buf[..n.min(room)]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            String::from_utf8_lossy(&keep).into_owned()
        })
        .ok()
}

/// What the stderr thread kept (once the child has exited).
fn stderr_text(h: &mut Option<std::thread::JoinHandle<String>>) -> String {
    h.take().and_then(|h| h.join().ok()).unwrap_or_default()
}

/// Decodes a video into RGB24 (or RGBA) frames of a fixed size.
pub struct Decoder {
    child: Child,
    stdout: ChildStdout,
    stderr: Option<std::thread::JoinHandle<String>>,
    path: PathBuf,
    /// Bytes per frame.
    pub frame_bytes: usize,
}

impl Decoder {
    /// Starts decoding `path` as `pix_fmt` (`rgb24`/`rgba`); `vf` is an optional filter chain.
    pub fn spawn(
        path: &Path,
        pix_fmt: &str,
        vf: Option<&str>,
        frame_bytes: usize,
    ) -> Result<Self, FfmpegError> {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-nostdin", "-i"]).arg(path);
        if let Some(vf) = vf {
            cmd.args(["-vf", vf]);
        }
        cmd.args(["-an", "-sn", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_err("ffmpeg", e))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = drain_stderr(&mut child);
        Ok(Decoder {
            child,
            stdout,
            stderr,
            path: path.to_owned(),
            frame_bytes,
        })
    }

    /// Reads the next frame into `buf` (`frame_bytes` long); `Ok(false)` at the end.
    pub fn read_frame(&mut self, buf: &mut [u8]) -> Result<bool, FfmpegError> {
        let mut got = 0;
        while got < buf.len() {
            match self.stdout.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(FfmpegError::Io {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        if got == buf.len() {
            return Ok(true);
        }
        // End of stream: a clean end, or a decode error that ffmpeg reports on stderr.
        let status = self.child.wait().map_err(|e| FfmpegError::Io {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        if !status.success() {
            return Err(FfmpegError::Io {
                path: self.path.clone(),
                reason: first_lines(&stderr_text(&mut self.stderr)),
            });
        }
        if got > 0 {
            // Raw frames have no framing: a stream that does not end on a frame boundary was
            // decoded at another size than expected, and its pixels would be garbage.
            return Err(FfmpegError::Io {
                path: self.path.clone(),
                reason: format!(
                    "the decoded frames are not {} bytes each as probed (a partial frame of {got} bytes at the end); the video's size or rotation was misread",
                    buf.len()
                ),
            });
        }
        Ok(false)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn first_lines(s: &str) -> String {
    let s: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).take(3).collect();
    if s.is_empty() {
        "ffmpeg exited with an error".into()
    } else {
        s.join("; ")
    }
}

/// Encodes RGB24 frames into a video file; the codec follows the file extension.
pub struct Encoder {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<std::thread::JoinHandle<String>>,
    path: PathBuf,
}

impl Encoder {
    /// Starts an encoder for `width`x`height` RGB24 frames at `fps`.
    pub fn spawn(path: &Path, width: u32, height: u32, fps: f64) -> Result<Self, FfmpegError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"])
            .args([
                "-s",
                &format!("{width}x{height}"),
                "-r",
                &format!("{fps:.3}"),
                "-i",
                "-",
            ]);
        // 4:2:0 needs even sizes: pad odd ones by a pixel.
        if width % 2 == 1 || height % 2 == 1 {
            cmd.args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]);
        }
        match ext.as_str() {
            "y4m" => cmd.args(["-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe"]),
            "webm" => cmd.args(["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "32", "-pix_fmt", "yuv420p"]),
            "mp4" | "mkv" | "mov" => {
                cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"])
            }
            "avi" => cmd.args(["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"]),
            _ => {
                return Err(FfmpegError::Io {
                    path: path.to_owned(),
                    reason: "unknown video extension; use .mp4, .mkv, .mov, .webm, .avi or .y4m (or .png/.jpg for a picture)".into(),
                })
            }
        };
        cmd.arg(path);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_err("ffmpeg", e))?;
        let stdin = child.stdin.take();
        let stderr = drain_stderr(&mut child);
        Ok(Encoder {
            child,
            stdin,
            stderr,
            path: path.to_owned(),
        })
    }

    /// Writes one frame.
    pub fn write_frame(&mut self, rgb: &[u8]) -> Result<(), FfmpegError> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(FfmpegError::Io {
                path: self.path.clone(),
                reason: "the encoder has already stopped".into(),
            });
        };
        if let Err(e) = stdin.write_all(rgb) {
            // ffmpeg stopped reading (it failed): its message says why.
            drop(self.stdin.take());
            let status = self.child.wait();
            let err = stderr_text(&mut self.stderr);
            let reason = if err.trim().is_empty() {
                match status {
                    Ok(st) => format!("{e} (ffmpeg stopped: {st})"),
                    Err(_) => e.to_string(),
                }
            } else {
                first_lines(&err)
            };
            return Err(FfmpegError::Io {
                path: self.path.clone(),
                reason,
            });
        }
        Ok(())
    }

    /// Closes the input and waits for the file to be complete.
    pub fn finish(mut self) -> Result<(), FfmpegError> {
        drop(self.stdin.take());
        let io = |e: std::io::Error| FfmpegError::Io {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let status = self.child.wait().map_err(io)?;
        let err = stderr_text(&mut self.stderr);
        // ffmpeg 5 exits 0 after "Error writing trailer ...: No space left on device" (or File
        // too large): at `-v error` an encoder fed raw frames says nothing unless something
        // failed, so anything it printed is a failure.
        if !status.success() || !err.trim().is_empty() {
            return Err(FfmpegError::Io {
                path: self.path.clone(),
                reason: if err.trim().is_empty() {
                    format!("ffmpeg stopped: {status}")
                } else {
                    first_lines(&err)
                },
            });
        }
        // And the file must read back as a video (a device such as /dev/null is not checked).
        if std::fs::metadata(&self.path).is_ok_and(|m| m.is_file()) {
            probe(&self.path).map_err(|e| FfmpegError::Io {
                path: self.path.clone(),
                reason: format!("the written file does not read back as a video: {e}"),
            })?;
        }
        Ok(())
    }
}

impl Drop for Encoder {
    /// An encoder dropped before [`Encoder::finish`] (an error stopped the run) is killed, so it
    /// does not go on to complete a file nobody wants; `finish` has already waited for it.
    fn drop(&mut self) {
        if self.stdin.take().is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
