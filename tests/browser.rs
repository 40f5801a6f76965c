//! Real browsers against Backdrop's MJPEG virtual camera: vm/browser/browser-e2e.sh boots the
//! same Debian 12 kernel as tests/vm.rs (v4l2loopback 0.12.7, exclusive_caps=1), runs `backdrop
//! run` from a vivid camera to the loopback with `output_format: mjpeg` at 1280x720@30, and opens
//! it with getUserMedia in headless Chromium and Firefox ESR (installed with apt-get when
//! missing). Firefox must report 30 fps (it assumes 15 for raw formats 800 px wide or more) and
//! Chromium must list and open the camera; both must receive real, changing pictures.
//!
//! Frame rates under TCG emulation are far below 30 (the whole pipeline and the browser share two
//! emulated CPUs), so the frame threshold is low; the rate a browser *asks for* is the point.
//! BACKDROP_SKIP_VM=1 or BACKDROP_SKIP_BROWSERS=1 skips it.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[test]
fn browsers_open_the_mjpeg_virtual_camera() {
    for var in ["BACKDROP_SKIP_VM", "BACKDROP_SKIP_BROWSERS"] {
        if std::env::var(var).is_ok_and(|v| v == "1") {
            eprintln!("{var}=1: skipping the browser test");
            return;
        }
    }
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/browser/browser-e2e.sh");
    let t0 = Instant::now();
    let out = Command::new(&harness)
        .args(["--cases", "mjpeg", "--browsers", "chromium firefox"])
        .args(["--min-frames", "2", "--draw-gap", "2", "--timeout", "900"])
        .env("BACKDROP", env!("CARGO_BIN_EXE_backdrop"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", harness.display()));
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("{log}");
    eprintln!(
        "browser test: {:.0} s including browser installation and VM boot",
        t0.elapsed().as_secs_f64()
    );
    let verdict = |case: &str| {
        log.lines()
            .find_map(|l| {
                l.split_once(&format!("] {case}: "))
                    .map(|(_, v)| v.to_owned())
            })
            .unwrap_or_else(|| panic!("no verdict for {case} (exit {:?})", out.status.code()))
    };
    let chromium = verdict("mjpeg-chromium");
    let firefox = verdict("mjpeg-firefox");
    assert!(
        chromium.starts_with("PASS") && chromium.contains("VirtualCam"),
        "Chromium did not list and open the MJPEG camera: {chromium}"
    );
    assert!(
        firefox.starts_with("PASS"),
        "Firefox did not open the MJPEG camera: {firefox}"
    );
    assert!(
        firefox.contains("settings=1280x720@30 "),
        "Firefox does not run the MJPEG camera at 30 fps: {firefox}"
    );
    assert!(
        log.contains("1280x720 MJPG quality 85"),
        "the producer was not Backdrop's MJPEG output"
    );
    assert!(out.status.success(), "browser-e2e.sh failed");
}
