//! Start at login: the systemd user unit shipped as `packaging/systemd/backdrop.service`,
//! installed by `backdrop install-service` with absolute paths (a checkout's binary is not on
//! the user manager's PATH), and its state for `backdrop doctor`.

use super::Level;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The unit's name.
pub const UNIT_NAME: &str = "backdrop.service";

/// The unit shipped in the repository (packages install it as is).
pub const SHIPPED_UNIT: &str = include_str!("../../packaging/systemd/backdrop.service");

/// Errors installing the unit.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Neither `$XDG_CONFIG_HOME` nor `$HOME` is set.
    #[error(
        "cannot tell where the systemd user units go: neither XDG_CONFIG_HOME nor HOME is set"
    )]
    NoHome,
    /// The unit file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The unit file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The config file does not exist.
    #[error("config {0} does not exist; the service would fail at every login (create it, e.g. cp config.yaml.example {0})")]
    NoConfig(PathBuf),
}

/// Why a `systemctl` step of the installation failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// systemctl ran and refused; what it printed.
    #[error("{stderr}")]
    Failed {
        /// systemctl's error output.
        stderr: String,
    },
    /// systemctl could not be run (not installed, not a systemd system).
    #[error("cannot run systemctl: {0}")]
    Spawn(std::io::Error),
}

/// Quotes one ExecStart argument for systemd: `%` doubled, quoted when it has spaces, quotes
/// or backslashes.
fn systemd_quote(arg: &str) -> String {
    let s = arg.replace('%', "%%");
    if s.chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\' || c == '\'')
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s
    }
}

/// The shipped unit with `ExecStart` running `exe run [-c config]` by absolute path.
pub fn unit_text(exe: &Path, config: Option<&Path>) -> String {
    let mut exec = format!("ExecStart={} run", systemd_quote(&exe.to_string_lossy()));
    if let Some(c) = config {
        exec += &format!(" -c {}", systemd_quote(&c.to_string_lossy()));
    }
    SHIPPED_UNIT
        .lines()
        .map(|l| {
            if l.starts_with("ExecStart=") {
                exec.clone()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Where `install-service` writes the unit: `$XDG_CONFIG_HOME/systemd/user` (else
/// `~/.config/systemd/user`).
pub fn user_unit_path() -> Result<PathBuf, ServiceError> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or(ServiceError::NoHome)?;
    Ok(base.join("systemd/user").join(UNIT_NAME))
}

/// What `install` did.
#[derive(Debug)]
pub struct Installed {
    /// The unit file written.
    pub path: PathBuf,
    /// The systemctl commands run, with their outcome (`Err`: what went wrong).
    pub steps: Vec<(String, Result<(), StepError>)>,
}

/// Writes the unit for `exe` (and `config`, made absolute) to [`user_unit_path`] and, with
/// `start`, enables and starts it (`systemctl --user daemon-reload`, `enable --now`).
pub fn install(exe: &Path, config: Option<&Path>, start: bool) -> Result<Installed, ServiceError> {
    install_to(&user_unit_path()?, exe, config, start)
}

/// [`install`] to the unit file `path`.
pub fn install_to(
    path: &Path,
    exe: &Path,
    config: Option<&Path>,
    start: bool,
) -> Result<Installed, ServiceError> {
    let path = path.to_owned();
    let config = match config {
        Some(c) => {
            let abs = std::path::absolute(c).unwrap_or_else(|_| c.to_owned());
            if !abs.is_file() {
                return Err(ServiceError::NoConfig(abs));
            }
            Some(abs)
        }
        None => None,
    };
    let write = |p: &Path| -> std::io::Result<()> {
        std::fs::create_dir_all(p.parent().expect("unit path has a folder"))?;
        std::fs::write(p, unit_text(exe, config.as_deref()))
    };
    write(&path).map_err(|source| ServiceError::Write {
        path: path.clone(),
        source,
    })?;
    let mut steps = vec![];
    if start {
        for args in [
            &["--user", "daemon-reload"][..],
            &["--user", "enable", "--now", UNIT_NAME],
        ] {
            let line = format!("systemctl {}", args.join(" "));
            let res = match Command::new("systemctl").args(args).output() {
                Ok(o) if o.status.success() => Ok(()),
                Ok(o) => Err(StepError::Failed {
                    stderr: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                }),
                Err(e) => Err(StepError::Spawn(e)),
            };
            let failed = res.is_err();
            steps.push((line, res));
            if failed {
                break;
            }
        }
    }
    Ok(Installed { path, steps })
}

/// What systemd says about the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceState {
    /// No systemctl on this machine.
    NoSystemctl,
    /// systemctl knows no such unit.
    NotInstalled,
    /// Installed: `systemctl --user is-enabled` and `is-active` answers (or why they failed).
    Installed {
        /// `enabled`, `disabled`, `static`, ...
        enabled: String,
        /// `active`, `inactive`, `failed`, `activating`, ... or the error (no user manager).
        active: String,
    },
}

fn systemctl(args: &[&str]) -> Option<(bool, String)> {
    let o = Command::new("systemctl").args(args).output().ok()?;
    let text = if o.stdout.is_empty() {
        String::from_utf8_lossy(&o.stderr)
    } else {
        String::from_utf8_lossy(&o.stdout)
    };
    Some((o.status.success(), text.trim().to_owned()))
}

/// Asks systemctl about the unit.
pub fn state() -> ServiceState {
    let Some((_, enabled)) = systemctl(&["--user", "is-enabled", UNIT_NAME]) else {
        return ServiceState::NoSystemctl;
    };
    if enabled.contains("No such file") || enabled.contains("not-found") || enabled.is_empty() {
        return ServiceState::NotInstalled;
    }
    let active = systemctl(&["--user", "is-active", UNIT_NAME])
        .map(|(_, a)| {
            if a.contains("Failed to connect") {
                "state unknown (no systemd user session to ask)".to_owned()
            } else {
                a
            }
        })
        .unwrap_or_default();
    ServiceState::Installed { enabled, active }
}

/// The doctor's finding for a service state.
pub fn finding(s: &ServiceState) -> (Level, String, Option<String>) {
    match s {
        ServiceState::NoSystemctl => (
            Level::Ok,
            "start at login: no systemctl here (not a systemd system): start `backdrop run` yourself".into(),
            None,
        ),
        ServiceState::NotInstalled => (
            Level::Ok,
            format!("start at login: {UNIT_NAME} is not installed"),
            Some("to start Backdrop at every login: backdrop install-service -c /path/to/config.yaml".into()),
        ),
        ServiceState::Installed { enabled, active } => {
            let first = |s: &str| s.lines().next().unwrap_or_default().to_owned();
            let (enabled, active) = (first(enabled), first(active));
            let what = format!("start at login: {UNIT_NAME} is installed, {enabled}, {active}");
            match (enabled.as_str(), active.as_str()) {
                ("enabled", "active") => (Level::Ok, what, None),
                ("enabled", "failed") => (
                    Level::Warn,
                    what,
                    Some(format!("see why: journalctl --user -u {UNIT_NAME} -e; then systemctl --user restart {UNIT_NAME}")),
                ),
                ("enabled", _) => (
                    Level::Ok,
                    what,
                    Some(format!("it starts at the next login, or now: systemctl --user start {UNIT_NAME}")),
                ),
                _ => (
                    Level::Ok,
                    what,
                    Some(format!("to start it at every login: systemctl --user enable --now {UNIT_NAME}")),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_unit_restarts_on_failure_and_starts_at_login() {
        for line in [
            "ExecStart=/usr/bin/env backdrop run",
            "Restart=on-failure",
            "RestartSec=2",
            "WantedBy=default.target",
        ] {
            assert!(SHIPPED_UNIT.lines().any(|l| l == line), "{line}");
        }
    }

    #[test]
    fn installed_unit_runs_the_binary_and_config_by_absolute_path() {
        let u = unit_text(
            Path::new("/home/a b/backdrop/target/release/backdrop"),
            Some(Path::new("/home/a b/100%.yaml")),
        );
        assert!(
            u.contains("\nExecStart=\"/home/a b/backdrop/target/release/backdrop\" run -c \"/home/a b/100%%.yaml\"\n"),
            "{u}"
        );
        assert_eq!(u.matches("ExecStart=").count(), 1);
        assert!(u.contains("Restart=on-failure"));
        let u = unit_text(Path::new("/usr/local/bin/backdrop"), None);
        assert!(
            u.contains("\nExecStart=/usr/local/bin/backdrop run\n"),
            "{u}"
        );
    }

    /// systemd itself accepts the units (where systemd-analyze exists).
    #[test]
    fn systemd_analyze_verifies_the_units() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("backdrop");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let unit = dir.path().join(UNIT_NAME);
        for text in [SHIPPED_UNIT.to_owned(), unit_text(&exe, None)] {
            std::fs::write(&unit, text).unwrap();
            let Ok(o) = Command::new("systemd-analyze")
                .args(["verify", "--man=no"])
                .arg(&unit)
                .output()
            else {
                eprintln!("no systemd-analyze: unit syntax not verified");
                return;
            };
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                !err.contains(UNIT_NAME) || err.contains("Failed to connect"),
                "systemd-analyze verify: {err}"
            );
        }
    }

    #[test]
    fn doctor_findings_for_each_state() {
        let (l, what, fix) = finding(&ServiceState::NotInstalled);
        assert_eq!(l, Level::Ok);
        assert!(what.contains("not installed"));
        assert!(fix.unwrap().contains("backdrop install-service"));
        let (l, what, _) = finding(&ServiceState::Installed {
            enabled: "enabled".into(),
            active: "active".into(),
        });
        assert_eq!(l, Level::Ok);
        assert!(what.ends_with("installed, enabled, active"), "{what}");
        let (l, _, fix) = finding(&ServiceState::Installed {
            enabled: "enabled".into(),
            active: "failed".into(),
        });
        assert_eq!(l, Level::Warn);
        assert!(fix
            .unwrap()
            .contains("journalctl --user -u backdrop.service"));
        let (_, what, _) = finding(&ServiceState::NoSystemctl);
        assert!(what.contains("no systemctl"));
    }

    #[test]
    fn install_writes_the_unit_with_the_config_path() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.yaml");
        std::fs::write(&cfg, "fps: 30\n").unwrap();
        let unit = dir.path().join("systemd/user/backdrop.service");
        let got = install_to(&unit, Path::new("/opt/backdrop"), Some(&cfg), false).unwrap();
        assert_eq!(got.path, unit);
        assert!(got.steps.is_empty());
        let text = std::fs::read_to_string(&got.path).unwrap();
        assert!(
            text.contains(&format!("ExecStart=/opt/backdrop run -c {}", cfg.display())),
            "{text}"
        );
        let e = install_to(
            &unit,
            Path::new("/opt/backdrop"),
            Some(&dir.path().join("nope.yaml")),
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("nope.yaml does not exist"), "{e}");
    }
}
