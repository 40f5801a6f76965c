//! Man pages generated from the clap definitions (`backdrop manpage DIR`, run by the package
//! build), with the sections clap does not know about: files, environment, exit status.

use crate::Cli;
use clap::CommandFactory;
use std::path::Path;

/// `backdrop --help`'s description and the man page's.
pub const LONG_ABOUT: &str = "\
Backdrop reads your webcam, finds you in every frame with a segmentation neural network \
(MediaPipe selfie segmentation, run in-process by ONNX Runtime), blurs or replaces what is \
behind you, and offers the result as a v4l2loopback virtual camera that every video-call app \
can open. The picture is described by layers and filters in a YAML file that is re-read while \
it runs.

Once: `sudo modprobe v4l2loopback video_nr=10 card_label=Backdrop exclusive_caps=1`. Then \
`backdrop run`, and pick \"Backdrop\" as the camera in the call app.";

/// Shown at the end of `backdrop --help`.
pub const AFTER_HELP: &str = "\
Without -c, `run` and `check` use ~/.config/backdrop/config.yaml ($XDG_CONFIG_HOME/backdrop/
config.yaml); `run` creates it from the example on first use, `init` writes it. Logs:
BACKDROP_LOG=debug. Exit status: 0 on success, 2 on errors. See `man backdrop`.";

/// The main page's sections after the commands, in roff.
const SECTIONS: &str = r#".SH FILES
.TP
\fI~/.config/backdrop/config.yaml\fR
The configuration used when no \fB\-c\fR is given (\fI$XDG_CONFIG_HOME/backdrop/config.yaml\fR
when XDG_CONFIG_HOME is set). \fBbackdrop run\fR creates it from the example on first use and
says so; \fBbackdrop init\fR writes it explicitly and never replaces an existing file. Relative
paths in a config file start at the file's folder. \fBrun\fR re-reads it within a second of a
change; a broken edit is reported with its line while the last good configuration stays.
.TP
\fI/usr/share/backdrop/config.yaml.example\fR, \fI/usr/share/backdrop/examples/\fR
The documented example configuration and ready-made layer stacks.
.TP
\fI/usr/lib/backdrop/\fR
The data directory: the segmentation models (\fImodels/\fR) and the ONNX Runtime library
(\fIlib/\fR).
.TP
\fI/usr/lib/systemd/user/backdrop.service\fR
Runs \fBbackdrop run\fR in the background for your user:
\fBsystemctl \-\-user enable \-\-now backdrop\fR.
.SH ENVIRONMENT
.TP
\fBBACKDROP_LOG\fR
Log level or filter: error, warn, info (the default), debug, trace.
.TP
\fBBACKDROP_DATA_DIR\fR
Data directory to use instead of the installed one.
.TP
\fBORT_DYLIB_PATH\fR
ONNX Runtime library to load (the config's \fBonnxruntime_library\fR comes first).
.TP
\fBBACKDROP_MEDIA_BUDGET_MIB\fR
Memory for decoded background pictures and videos, all layers together (default 768).
.TP
\fBXDG_CONFIG_HOME\fR, \fBHOME\fR
Where the per-user configuration lives.
.SH EXIT STATUS
0 on success; 2 on any error, with a message naming the file, device or option and the fix;
\fBdoctor\fR exits 1 when it finds a problem.
.SH SEE ALSO
\fBv4l2-ctl\fR(1), \fBffmpeg\fR(1), \fBmodprobe\fR(8);
\fI/usr/share/doc/backdrop/README.md.gz\fR (set-up, configuration reference, troubleshooting).
"#;

/// Writes `backdrop.1` and one page per visible command (`backdrop-run.1`, ...) into `dir`.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        clap_mangen::Man::new(sub.clone()).generate_to(dir)?;
    }
    let man = clap_mangen::Man::new(cmd);
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    page.extend_from_slice(SECTIONS.as_bytes());
    man.render_version_section(&mut page)?;
    std::fs::write(dir.join("backdrop.1"), page)?;
    Ok(())
}
