//! The `backdrop` command line: parses arguments, runs the library, maps errors to exit codes.

use anyhow::Context;
use backdrop::bench::BenchOptions;
use backdrop::config::EngineChoice;
use backdrop::pipeline::{self, Delivery, Options};
use backdrop::process::ProcessOptions;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[path = "backdrop/manual.rs"]
mod manual;

/// Virtual background for any Linux video-call app.
#[derive(Parser)]
#[command(version, about, long_about = manual::LONG_ABOUT, after_help = manual::AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Camera → virtual camera until Ctrl-C: the main job. The config file is watched for changes.
    Run {
        /// Config file (default: ~/.config/backdrop/config.yaml, created from the example on
        /// first run: blurred background, /dev/video0 → /dev/video10).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Use a video file as the camera instead of real_video_device: it is replayed in a
        /// loop at the configured size and rate, decoded as a webcam's MJPEG (for tests and
        /// demos without a camera; up to 10 s of the clip are kept in memory).
        #[arg(long, hide = true, value_name = "CLIP")]
        camera_file: Option<PathBuf>,
    },
    /// Write the example config to ~/.config/backdrop/config.yaml (or -c FILE) to edit; never
    /// replaces an existing file.
    Init {
        /// Write it here instead.
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// List V4L2 devices (cameras with their formats, sizes and rates, v4l2loopback outputs)
    /// and PipeWire cameras (Backdrop's node and the apps reading it).
    Devices,
    /// Check the v4l2loopback module (or PipeWire), the virtual camera and the camera, and
    /// print the fixes.
    Doctor {
        /// Config file naming the devices (default: ~/.config/backdrop/config.yaml if it exists,
        /// else /dev/video0 → /dev/video10).
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Run the pipeline on a video or picture file and write a video or picture.
    Process {
        /// Input video (.mp4, .mkv, .webm, .avi, .y4m, ...) or picture (.png, .jpg, ...).
        input: PathBuf,
        /// Output video (.mp4, .mkv, .webm, .avi, .y4m) or picture (.png, .jpg).
        #[arg(short, long)]
        output: PathBuf,
        /// Config file (default: blurred background).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Stop after this many frames (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        frames: Option<u64>,
        /// Hide the progress bar.
        #[arg(short, long)]
        quiet: bool,
        /// Pace the output at the input's frame rate, like a live camera (to try config edits
        /// while it runs: the config file is watched and changes apply within a second).
        #[arg(long)]
        realtime: bool,
    },
    /// Run the full pipeline on a real clip without devices and print per-stage timings.
    Bench {
        /// A video with a person (scaled to --size, re-encoded as MJPEG before timing).
        input: PathBuf,
        /// Frame size, WIDTHxHEIGHT (even width, up to 7680x4320).
        #[arg(long, default_value = "1280x720", value_parser = parse_size)]
        size: (u32, u32),
        /// Frames to run (at least 1).
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
        frames: u64,
        /// Inference engine: auto, tract or onnxruntime.
        #[arg(long)]
        engine: Option<String>,
        /// Pace the input at this frame rate, 1 to 1000 (reports cores used); default: as fast
        /// as possible.
        #[arg(long, value_parser = parse_fps)]
        fps: Option<f64>,
        /// Model: selfie, selfie_landscape or a path.
        #[arg(long)]
        model: Option<String>,
        /// Config file (default: blurred background).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Output format to encode each frame in, as for the virtual camera: yuyv, i420 or
        /// mjpeg (default: the config's output_format).
        #[arg(long, value_parser = parse_output)]
        output: Option<backdrop::sink::yuv::OutputFormat>,
    },
    /// Start Backdrop at every login: write the systemd user unit (absolute paths of this
    /// binary and the config) and enable and start it.
    InstallService {
        /// Config file the service runs with (default: the built-in one).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Only write the unit file; do not enable or start it.
        #[arg(long)]
        no_start: bool,
    },
    /// Validate a config file and print the resolved options, layers and filters.
    Check {
        /// Config file (default: ~/.config/backdrop/config.yaml).
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Write the man pages (backdrop.1, backdrop-run.1, ...) into a folder.
    #[command(hide = true)]
    Manpage {
        /// The folder.
        dir: PathBuf,
    },
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    #[command(hide = true)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `run` without `-c`: the per-user config, created from the example on first use.
fn user_config_for_run() -> anyhow::Result<PathBuf> {
    let path = backdrop::config::user_config_path()?;
    if !path.exists() {
        backdrop::config::write_example(&path)?;
        eprintln!(
            "backdrop: created {} from the example (blurred background); edit it to change the picture, changes apply while it runs",
            path.display()
        );
    }
    Ok(path)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            config,
            camera_file,
        } => {
            use std::sync::atomic::AtomicBool;
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                // The first signal stops cleanly; a second one while stopping exits at once.
                signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())?;
                signal_hook::flag::register(sig, stop.clone())?;
            }
            let config = Some(match config {
                Some(c) => c,
                None => user_config_for_run()?,
            });
            let cfg = pipeline::load_config(config.as_deref())?;
            let mut opts = Options::new(Delivery::Live, config);
            opts.stop = stop;
            let open_source: pipeline::OpenSource = match camera_file {
                None => Box::new(backdrop::source::camera::open_for),
                Some(clip) => {
                    Box::new(move |cfg| {
                        let (w, h) = (cfg.width.unwrap_or(1280), cfg.height.unwrap_or(720));
                        let fps = cfg.fps.max(1);
                        let frames = fps as usize * 10;
                        // Paced by itself at the config's rate, so a reload of fps re-paces it.
                        let src = backdrop::source::ReplaySource::prepare(
                            &clip, w, h, fps as f64, frames,
                        )?
                        .paced();
                        Ok(Box::new(src) as Box<dyn backdrop::source::Source>)
                    })
                }
            };
            let report = pipeline::run(
                cfg,
                opts,
                open_source,
                Box::new(|cfg, info| backdrop::sink::open_for(cfg, info.width, info.height)),
            )?;
            let secs = report.elapsed.as_secs_f64().max(1e-3);
            for (stage, t) in report.stats.summary() {
                tracing::debug!(
                    "{stage}: median {:.2} ms, p99 {:.2} ms, CPU {:.2} ms, {} samples",
                    t.median,
                    t.p99,
                    t.cpu,
                    t.count
                );
            }
            // Camera frame captured → written to the virtual camera.
            let latency = report
                .stats
                .summary()
                .into_iter()
                .find(|(k, _)| *k == "latency")
                .map(|(_, l)| format!(", latency median {:.1} ms (p99 {:.1})", l.median, l.p99))
                .unwrap_or_default();
            note(format_args!(
                "backdrop: stopped after {secs:.1} s: {} frames written ({:.1} fps), {} camera frames, {} masks{latency}",
                report.frames_out,
                report.frames_out as f64 / secs,
                report.frames_in,
                report.masks
            ));
        }
        Command::Devices => {
            let v4l2 = backdrop::devices::render_devices(&backdrop::devices::list_devices());
            emit(&(v4l2 + &backdrop::devices::pipewire::report()))?;
        }
        Command::Doctor { config } => {
            let user = backdrop::config::user_config_path().ok();
            let config = config.or(user.filter(|p| p.exists()));
            let cfg = pipeline::load_config(config.as_deref())?;
            let report = backdrop::devices::doctor(&cfg);
            emit(&report.render())?;
            if report.failed() {
                // Like every other failure (the README's exit status): the report said why.
                return Ok(ExitCode::from(2));
            }
        }
        Command::Process {
            input,
            output,
            config,
            frames,
            quiet,
            realtime,
        } => {
            let bar = (!quiet).then(progress_bar);
            let opts = ProcessOptions {
                config,
                max_frames: frames,
                progress: bar.clone().map(|b| -> pipeline::Progress {
                    Arc::new(move |done, total| {
                        if total.is_some_and(|t| t > 1) {
                            b.set_length(total.unwrap_or(0));
                            b.set_position(done);
                        }
                    })
                }),
                realtime,
            };
            backdrop::sink::ensure_not_input(&input, &output)?;
            let t0 = std::time::Instant::now();
            let result = backdrop::process::process(&input, &output, &opts);
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let report = result.with_context(|| format!("cannot process {}", input.display()))?;
            let secs = t0.elapsed().as_secs_f64();
            note(format_args!(
                "wrote {} ({} frames in {secs:.1} s, {:.1} fps, engine {})",
                output.display(),
                report.frames_out,
                report.frames_out as f64 / secs.max(1e-3),
                report.engine
            ));
        }
        Command::Bench {
            input,
            size,
            frames,
            engine,
            fps,
            model,
            config,
            output,
        } => {
            let engine = match engine.as_deref() {
                None => None,
                Some("auto") => Some(EngineChoice::Auto),
                Some("tract") => Some(EngineChoice::Tract),
                Some("onnxruntime") => Some(EngineChoice::Onnxruntime),
                Some(e) => anyhow::bail!("--engine {e}: use auto, tract or onnxruntime"),
            };
            let opts = BenchOptions {
                width: size.0,
                height: size.1,
                frames,
                engine,
                fps,
                config,
                model,
                output,
            };
            let report = backdrop::bench::run_bench(&input, &opts)
                .with_context(|| format!("bench on {}", input.display()))?;
            emit(&backdrop::bench::format_report(&report, &opts))?;
        }
        Command::InstallService { config, no_start } => {
            use backdrop::devices::service;
            let exe = std::env::current_exe().context("cannot tell where this binary is")?;
            if let Some(c) = &config {
                backdrop::config::Config::load(c)?;
            }
            let done = service::install(&exe, config.as_deref(), !no_start)?;
            println!("wrote {}", done.path.display());
            let mut failed = false;
            for (cmd, res) in &done.steps {
                match res {
                    Ok(()) => println!("ran {cmd}"),
                    Err(e) => {
                        println!("{cmd} failed: {e}");
                        failed = true;
                    }
                }
            }
            if no_start || failed {
                println!(
                    "to start it now and at every login: systemctl --user daemon-reload && systemctl --user enable --now {}",
                    service::UNIT_NAME
                );
            } else {
                println!(
                    "Backdrop now starts at every login; `backdrop doctor` shows its state, `journalctl --user -u {}` its log",
                    service::UNIT_NAME
                );
            }
            if failed {
                anyhow::bail!("the unit is installed, but systemctl could not enable it (no systemd user session?)");
            }
        }
        Command::Check { config } => {
            let config = match config {
                Some(c) => c,
                None => {
                    let path = backdrop::config::user_config_path()?;
                    anyhow::ensure!(
                        path.exists(),
                        "{} does not exist: run `backdrop init` to create it, or pass -c FILE",
                        path.display()
                    );
                    path
                }
            };
            let cfg = backdrop::config::Config::load(&config)?;
            let engine = check_loads(&cfg)?;
            let mut s = String::new();
            use std::fmt::Write as _;
            let _ = writeln!(s, "{}: OK", config.display());
            let _ = writeln!(
                s,
                "  camera {} → virtual camera {}",
                cfg.real_video_device, cfg.virtual_video_device
            );
            let size = match (cfg.width, cfg.height) {
                (Some(w), Some(h)) => format!("{w}x{h}"),
                _ => "auto".into(),
            };
            let mjpeg = match cfg.mjpeg {
                None => "auto",
                Some(true) => "yes",
                Some(false) => "no (YUYV)",
            };
            let _ = writeln!(s, "  size {size}, {} fps, mjpeg {mjpeg}", cfg.fps);
            let _ = match cfg.output_format {
                backdrop::sink::yuv::OutputFormat::Mjpeg => {
                    writeln!(s, "  output MJPEG, jpeg_quality {}", cfg.jpeg_quality)
                }
                f => writeln!(s, "  output {}", f.name().to_uppercase()),
            };
            let model = if cfg.model.trim() == "auto" {
                "auto (selfie_landscape for frames at least 3:2 wide, else selfie)".to_string()
            } else {
                cfg.model.clone()
            };
            let _ = writeln!(s, "  model {model}, engine {}", cfg.engine);
            let _ = writeln!(s, "  loaded for a 640x480 camera: {engine}");
            let _ = writeln!(
                s,
                "  mask: threshold {}, dilate {}, erode {}, blur {}, average {}{}",
                cfg.segmentation_threshold,
                cfg.dilate,
                cfg.erode,
                cfg.blur,
                cfg.average_masks,
                if cfg.debug_show_mask {
                    ", DEBUG: showing the mask"
                } else {
                    ""
                }
            );
            let _ = writeln!(s, "  layers (bottom to top):");
            for (i, l) in cfg.layers.iter().enumerate() {
                let _ = writeln!(s, "    {}. {l}", i + 1);
            }
            emit(&s)?;
        }
        Command::Init { config } => {
            let path = match config {
                Some(c) => c,
                None => backdrop::config::user_config_path()?,
            };
            backdrop::config::write_example(&path)?;
            println!(
                "wrote {}: edit it, then `backdrop run`{}",
                path.display(),
                if path == backdrop::config::user_config_path().unwrap_or_default() {
                    String::new()
                } else {
                    format!(" -c {}", path.display())
                }
            );
        }
        Command::Manpage { dir } => manual::write_man_pages(&dir)?,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "backdrop",
                &mut std::io::stdout(),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `check` loads to validate a config the way `run` and `process` would: the layers, built
/// by the compositor itself at a nominal 640x480 (with no media budget, so each picture and
/// video is opened and its first frame decoded, not the whole file), and the model with its
/// engine. Returns the model and engine line.
fn check_loads(cfg: &backdrop::config::Config) -> anyhow::Result<String> {
    backdrop::compose::media::media_budget().map_err(anyhow::Error::msg)?;
    backdrop::compose::Compositor::with_budget(&cfg.layers, 640, 480, 0)?;
    let (seg, why) = backdrop::segment::Segmenter::for_frames(cfg, Some((640, 480)))?;
    let m = seg.model();
    Ok(format!(
        "model {} ({}x{}), engine {why}",
        m.name, m.width, m.height
    ))
}

/// Writes a command's report to stdout. A closed pipe (`backdrop check | head -1`) means the
/// reader has seen enough, so the output ends quietly (exit status as if it had all been read);
/// any other failure (`>/dev/full`) is an error, exit status 2.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

/// A line on stderr; a closed or full stderr is ignored (the work itself is done, and there is
/// nowhere left to complain).
fn note(args: std::fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// The progress bar of `process` (on stderr; hidden when stderr is not a terminal).
fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} frames [{bar:30}] {per_sec} eta {eta}",
        )
        .expect("valid template"),
    );
    bar
}

fn parse_output(s: &str) -> Result<backdrop::sink::yuv::OutputFormat, String> {
    use backdrop::sink::yuv::OutputFormat;
    [OutputFormat::Yuyv, OutputFormat::I420, OutputFormat::Mjpeg]
        .into_iter()
        .find(|f| f.name() == s.to_ascii_lowercase())
        .ok_or_else(|| "use yuyv, i420 or mjpeg".into())
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or("use WIDTHxHEIGHT, e.g. 1280x720")?;
    let (w, h) = (
        w.parse().map_err(|_| "bad width")?,
        h.parse().map_err(|_| "bad height")?,
    );
    if w < 16 || h < 16 || w % 2 == 1 || w > 7680 || h > 4320 {
        return Err("use an even width and a height of at least 16, up to 7680x4320".into());
    }
    Ok((w, h))
}

fn parse_fps(s: &str) -> Result<f64, String> {
    let f: f64 = s
        .trim()
        .parse()
        .map_err(|_| "not a number; use a frame rate such as 30".to_string())?;
    // Checked here, as the pacing turns the rate into a frame interval (0 or NaN cannot be one,
    // and 0.001 fps would wait 17 minutes for the first frame).
    if !(f.is_finite() && (1.0..=1000.0).contains(&f)) {
        return Err("out of range; use 1 to 1000 frames per second".into());
    }
    Ok(f)
}

fn main() -> ExitCode {
    // First, while the process has one thread (it changes the environment).
    backdrop::segment::disable_onnxruntime_telemetry();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BACKDROP_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        // Its default reports a failed log write with eprintln!, which panics when stderr is
        // closed or full (`2>/dev/full`): a lost log line must not stop the work.
        .log_internal_errors(false)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            note(format_args!("backdrop: error: {e:#}"));
            ExitCode::from(2)
        }
    }
}
