//! Engine choice: `auto` falls back to tract when ONNX Runtime cannot be used, `onnxruntime`
//! makes that an error (exit 2); both say why. Each case is its own process, as a process
//! loads at most one ONNX Runtime library.

mod common;
use common::*;

fn process_with(engine: &str, env: &[(&str, &str)], extra_cfg: &str) -> (i32, String) {
    let photo = need("footage/stills/mpl_grace_hopper.jpg");
    let yaml = format!("engine: {engine}\n{extra_cfg}");
    let p = process_with_config(&photo, &yaml, "o.png", &[], env);
    if p.code == 0 {
        assert!(p.out.is_file(), "no output picture: {}", p.err);
    }
    (p.code, p.err)
}

#[test]
fn auto_uses_onnxruntime_when_installed() {
    let (code, err) = process_with("auto", &[], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("engine onnxruntime (engine: auto; found"),
        "{err}"
    );
}

#[test]
fn missing_library_falls_back_under_auto_and_fails_when_asked_for() {
    let env = [("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")];
    let (code, err) = process_with("auto", &env, "");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("engine tract (engine: auto; ONNX Runtime not used"),
        "{err}"
    );
    assert!(
        err.contains("/nonexistent/libonnxruntime.so") && err.contains("make onnxruntime"),
        "{err}"
    );
    let (code, err) = process_with("onnxruntime", &env, "");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ONNX Runtime is not usable")
            && err.contains("/nonexistent/libonnxruntime.so"),
        "{err}"
    );
}

#[test]
fn unloadable_library_falls_back_under_auto_and_fails_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("libonnxruntime.so.1.32.0");
    std::fs::write(&junk, b"not a shared library").unwrap();
    let env = [("ORT_DYLIB_PATH", junk.to_str().unwrap())];
    let (code, err) = process_with("auto", &env, "");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("engine tract") && err.contains("cannot load"),
        "{err}"
    );
    let (code, err) = process_with("onnxruntime", &env, "");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot load") && err.contains(junk.to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn a_library_that_is_not_onnxruntime_is_refused() {
    // A real shared library of the system, but not ONNX Runtime (no OrtGetApiBase).
    let libz = [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("zlib is on every Debian system");
    let (code, err) = process_with(
        "onnxruntime",
        &[],
        &format!("onnxruntime_library: {libz}\n"),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ONNX Runtime is not usable") && err.contains(libz),
        "{err}"
    );
}

#[test]
fn explicit_library_option_is_honoured() {
    let lib = need("lib/libonnxruntime.so.1.32.0");
    let env = [("ORT_DYLIB_PATH", "/nonexistent/ignored.so")];
    let (code, err) = process_with(
        "onnxruntime",
        &env,
        &format!("onnxruntime_library: {}\n", lib.display()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("engine onnxruntime (engine: onnxruntime; library"),
        "{err}"
    );
}

#[test]
fn an_older_onnxruntime_is_refused_by_version() {
    // A library with ONNX Runtime's entry point that reports version 1.16.3 (older than the
    // API this build needs), built here with the system C compiler: the version check of the
    // real loader must refuse it with a message naming the version.
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("old.c");
    std::fs::write(
        &c,
        "typedef struct { const void *(*GetApi)(unsigned); const char *(*GetVersionString)(void); } OrtApiBase;\n\
         static const void *get_api(unsigned v) { (void)v; return 0; }\n\
         static const char *version(void) { return \"1.16.3\"; }\n\
         static const OrtApiBase base = { get_api, version };\n\
         const OrtApiBase *OrtGetApiBase(void) { return &base; }\n",
    )
    .unwrap();
    let lib = dir.path().join("libonnxruntime.so.1.16.3");
    let st = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&c)
        .status();
    assert!(st.is_ok_and(|s| s.success()), "cc failed");
    let env = [("ORT_DYLIB_PATH", lib.to_str().unwrap())];
    let (code, err) = process_with("onnxruntime", &env, "");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("1.16.3") && err.contains("ONNX Runtime is not usable"),
        "{err}"
    );
    let (code, err) = process_with("auto", &env, "");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("engine tract") && err.contains("1.16.3"),
        "{err}"
    );
}

/// The ONNX Runtime wheel's library ships Microsoft's telemetry, which writes a device id and an
/// event store under the user's cache folder (and uploads from a background thread). Backdrop
/// turns it off before the library starts: a run leaves nothing in the home folder.
#[test]
fn onnxruntime_leaves_no_telemetry_files() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join(".cache");
    let (code, err) = process_with(
        "onnxruntime",
        &[
            ("HOME", home.path().to_str().unwrap()),
            ("XDG_CACHE_HOME", cache.to_str().unwrap()),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("engine onnxruntime"), "{err}");
    let left: Vec<_> = walk(home.path());
    assert!(
        left.is_empty(),
        "ONNX Runtime wrote into the home folder: {left:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(e.path());
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}
