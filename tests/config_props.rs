//! Property tests of the config and layer parser: whatever the text, `Config::parse` returns (a
//! config or an error with a message) quickly and never panics. A few hundred generated inputs
//! per run, in about a second; failures proptest finds are kept in
//! `tests/config_props.regressions` (committed) and replayed first on every run, and crashes
//! found so far are also spelt out in `known_crashers` below.

use backdrop::config::{Config, FILTER_NAMES, LAYER_SOURCES};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::path::Path;
use std::time::{Duration, Instant};

/// Longest a single parse may take. Real configs parse in well under a millisecond; the
/// generous bound catches super-linear blow-ups (deep nesting, alias expansion), not noise.
const PARSE_LIMIT: Duration = Duration::from_secs(2);

fn parse_bounded(text: &str) {
    let t0 = Instant::now();
    let r = Config::parse(text, Path::new("fuzz.yaml"), Path::new("/base"));
    let took = t0.elapsed();
    assert!(
        took < PARSE_LIMIT,
        "parse took {took:?} for {} bytes",
        text.len()
    );
    if let Err(e) = r {
        assert!(!e.to_string().trim().is_empty(), "empty error message");
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/config_props.regressions",
        ))),
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    }
}

/// YAML scalars that exercise the parser's types and ranges.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        (-300i32..300).prop_map(|v| v.to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("~".to_string()),
        Just(".nan".to_string()),
        Just("-.inf".to_string()),
        Just("0x1F".to_string()),
        Just("\"\"".to_string()),
        Just("LINEAR".to_string()),
        Just("head".to_string()),
        Just("'it''s'".to_string()),
        "[a-z_./]{0,12}".prop_map(|s| format!("\"{s}\"")),
        prop::sample::select(FILTER_NAMES).prop_map(|s| s.to_string()),
        prop::sample::select(LAYER_SOURCES).prop_map(|s| s.to_string()),
    ]
}

/// Flow-style YAML values built like filters and layers: lists and maps of scalars, nested.
fn value() -> impl Strategy<Value = String> {
    scalar().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(("[a-z_]{1,14}", inner), 0..4).prop_map(|v| {
                let kv: Vec<String> = v.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", kv.join(", "))
            }),
        ]
    })
}

/// Option names the config knows, and a few it does not.
const KEYS: &[&str] = &[
    "real_video_device",
    "virtual_video_device",
    "width",
    "height",
    "fps",
    "mjpeg",
    "segmentation_threshold",
    "blur",
    "dilate",
    "erode",
    "average_masks",
    "refine",
    "temporal",
    "debug_show_mask",
    "track_person",
    "model",
    "engine",
    "onnxruntime_library",
    "inference_threads",
    "output_format",
    "mask_fps",
    "delay_video",
    "multiplier",
    "stride",
    "internal_resolution",
    "layers",
    "sparkle",
];

/// A whole config: options with values, and a block list of layers with filters.
fn config_text() -> impl Strategy<Value = String> {
    let option = (prop::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k}: {v}\n"));
    let filter = (
        prop::sample::select(FILTER_NAMES),
        prop::collection::vec(value(), 0..4),
    )
        .prop_map(|(f, args)| {
            if args.is_empty() {
                format!("\"{f}\"")
            } else {
                format!("[\"{f}\", {}]", args.join(", "))
            }
        });
    let layer = (
        prop::sample::select(LAYER_SOURCES),
        prop::collection::vec(filter, 0..4),
    )
        .prop_map(|(s, fs)| format!("  - {s}: [{}]\n", fs.join(", ")));
    (
        prop::collection::vec(option, 0..6),
        prop::collection::vec(layer, 0..5),
    )
        .prop_map(|(opts, layers)| {
            let mut s = opts.concat();
            if !layers.is_empty() {
                s += "layers:\n";
                s += &layers.concat();
            }
            s
        })
}

/// Text made of the characters that matter to YAML, plus some letters and digits.
fn yamlish_noise() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "[", "]", "{", "}", ":", ",", "-", "#", "&a", "*a", "!", "|", ">", "'", "\"", "%", "@",
            "`", "?", " ", "  ", "\n", "\t", "layers", "input", "blur", "image", "1", "0.5", "\\",
            "\u{feff}", "\u{0}", "é", "---\n", "...\n",
        ]),
        0..200,
    )
    .prop_map(|v| v.concat())
}

/// Edits a valid config: deletes, duplicates or inserts YAML punctuation at random places.
fn mutated() -> impl Strategy<Value = String> {
    (
        config_text(),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..6), 1..8),
    )
        .prop_map(|(text, edits)| {
            let mut b = text.into_bytes();
            for (at, op) in edits {
                if b.is_empty() {
                    break;
                }
                let i = at.index(b.len());
                match op {
                    0 => {
                        b.remove(i);
                    }
                    1 => b.insert(i, b'['),
                    2 => b.insert(i, b':'),
                    3 => b.insert(i, b'\n'),
                    4 => b.insert(i, b' '),
                    _ => {
                        let c = b[i];
                        b.insert(i, c);
                    }
                }
            }
            String::from_utf8_lossy(&b).into_owned()
        })
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn generated_configs_parse_or_fail_cleanly(text in config_text()) {
        parse_bounded(&text);
    }

    #[test]
    fn edited_configs_parse_or_fail_cleanly(text in mutated()) {
        parse_bounded(&text);
    }

    #[test]
    fn yaml_noise_parses_or_fails_cleanly(text in yamlish_noise()) {
        parse_bounded(&text);
    }
}

/// Inputs that once took too long or might: each must parse (or fail) within the bound.
#[test]
fn known_crashers() {
    let deep = |n: usize| format!("layers: {}{}\n", "[".repeat(n), "]".repeat(n));
    // "Billion laughs": each list refers ten times to the one before, 10^9 items in all.
    let mut lists = vec!["&l0 [x, x, x, x, x, x, x, x, x, x]".to_string()];
    for i in 1..10 {
        lists.push(format!(
            "&l{i} [{}]",
            vec![format!("*l{}", i - 1); 10].join(", ")
        ));
    }
    let laughs = format!("layers: [{}]\n", lists.join(", "));
    let many = format!("layers:\n{}", "  - input: []\n".repeat(5000));
    let dashes = format!("layers: {}x\n", "- ".repeat(5000));
    for text in [
        deep(10_000),
        deep(33),
        laughs,
        many,
        dashes,
        "layers: [{input: [[\"blur\", 1e400]]}]".into(),
        "layers:\n  - input: [[\"roll\", -9223372036854775808, 0]]\n".into(),
        "layers:\n  - foreground: [[\"image\", {image_path: [[[]]]}]]\n".into(),
        "? [a]\n: b\n".into(),
        "\u{feff}fps: 30\n".into(),
    ] {
        parse_bounded(&text);
    }
    // The deep ones are refused by the nesting bound, naming it.
    let e = Config::parse(&deep(10_000), Path::new("x.yaml"), Path::new("/"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nested more than 32 levels"), "{e}");
}
