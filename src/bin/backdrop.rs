//! The `backdrop` command line: parses arguments, runs the library, maps errors to exit codes.

use anyhow::Context;
use backdrop::bench::BenchOptions;
use backdrop::config::EngineChoice;
use backdrop::pipeline::{self, ProcessOptions};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
    },
    /// Write the example config to ~/.config/backdrop/config.yaml (or -c FILE) to edit; never
    /// replaces an existing file.
    Init {
        /// Write it here instead.
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// List V4L2 devices: cameras with their formats, sizes and rates, and v4l2loopback outputs.
    Devices,
    /// Check the v4l2loopback module, the virtual camera and the camera, and print the fixes.
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
        /// Stop after this many frames.
        #[arg(long)]
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
        /// Frame size, WIDTHxHEIGHT.
        #[arg(long, default_value = "1280x720", value_parser = parse_size)]
        size: (u32, u32),
        /// Frames to run.
        #[arg(long, default_value_t = 300)]
        frames: u64,
        /// Inference engine: auto, tract or onnxruntime.
        #[arg(long)]
        engine: Option<String>,
        /// Pace the input at this frame rate (reports cores used); default: as fast as possible.
        #[arg(long)]
        fps: Option<f64>,
        /// Model: selfie, selfie_landscape or a path.
        #[arg(long)]
        model: Option<String>,
        /// Config file (default: blurred background).
        #[arg(short, long)]
        config: Option<PathBuf>,
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

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { config } => {
            use std::sync::{atomic::AtomicBool, Arc};
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
            let cfg = backdrop::live::load_with(config.as_deref(), None)?;
            let report = backdrop::live::run_live(
                cfg,
                backdrop::live::LiveOptions::new(config, stop),
                backdrop::source::camera::factory(),
                backdrop::sink::loopback::factory(),
            )?;
            let secs = report.elapsed.as_secs_f64().max(1e-3);
            eprintln!(
                "backdrop: stopped after {secs:.1} s: {} frames written ({:.1} fps), {} camera frames, {} masks",
                report.frames_out,
                report.frames_out as f64 / secs,
                report.frames_in,
                report.masks
            );
        }
        Command::Devices => {
            print!(
                "{}",
                backdrop::devices::render_devices(&backdrop::devices::list_devices())
            );
        }
        Command::Doctor { config } => {
            let user = backdrop::config::user_config_path().ok();
            let config = config.or(user.filter(|p| p.exists()));
            let cfg = pipeline::load_config(config.as_deref())?;
            let report = backdrop::devices::doctor(&cfg);
            print!("{}", report.render());
            if report.failed() {
                std::process::exit(1);
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
            let opts = ProcessOptions {
                config,
                max_frames: frames,
                progress: !quiet,
                realtime,
            };
            let t0 = std::time::Instant::now();
            let report = pipeline::process(&input, &output, &opts)
                .with_context(|| format!("cannot process {}", input.display()))?;
            let secs = t0.elapsed().as_secs_f64();
            let mut ms = report.frame_ms.clone();
            ms.sort_by(f64::total_cmp);
            let median = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
            eprintln!(
                "wrote {} ({} frames in {secs:.1} s, {:.1} ms/frame median, engine {})",
                output.display(),
                report.frames,
                median,
                report.engine
            );
        }
        Command::Bench {
            input,
            size,
            frames,
            engine,
            fps,
            model,
            config,
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
            };
            let report = backdrop::bench::run_bench(&input, &opts)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("bench on {}", input.display()))?;
            print!("{}", backdrop::bench::format_report(&report, &opts));
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
            println!("{}: OK", config.display());
            println!(
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
            println!("  size {size}, {} fps, mjpeg {mjpeg}", cfg.fps);
            let model = if cfg.model.trim() == "auto" {
                "auto (selfie_landscape for frames at least 3:2 wide, else selfie)".to_string()
            } else {
                cfg.model.clone()
            };
            println!("  model {model}, engine {}", cfg.engine);
            println!(
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
            println!("  layers (bottom to top):");
            for (i, l) in cfg.layers.iter().enumerate() {
                println!("    {}. {l}", i + 1);
            }
            if let Err(e) = backdrop::segment::resolve_model(&cfg, None) {
                println!("  warning: {e}");
            }
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
    Ok(())
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or("use WIDTHxHEIGHT, e.g. 1280x720")?;
    let (w, h) = (
        w.parse().map_err(|_| "bad width")?,
        h.parse().map_err(|_| "bad height")?,
    );
    if w < 16 || h < 16 || w % 2 == 1 {
        return Err("use an even width and a height of at least 16".into());
    }
    Ok((w, h))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BACKDROP_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("backdrop: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
