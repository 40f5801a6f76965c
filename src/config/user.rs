//! The per-user config file (`$XDG_CONFIG_HOME/backdrop/config.yaml`), used when no `-c` is given,
//! and the example it is created from.

use super::ConfigError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The documented example config (`config.yaml.example`), written by `backdrop init` and by the
/// first `backdrop run`. Built in, so an installed binary needs no file to create it from.
pub const EXAMPLE: &str = include_str!("../../config.yaml.example");

/// The per-user config file: `$XDG_CONFIG_HOME/backdrop/config.yaml`, else
/// `~/.config/backdrop/config.yaml` (a relative `XDG_CONFIG_HOME` is ignored, as the XDG spec
/// says).
pub fn user_config_path() -> Result<PathBuf, ConfigError> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_CONFIG_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".config"))
        })
        .map(|dir| dir.join("backdrop").join("config.yaml"))
        .ok_or(ConfigError::NoHome)
}

/// Writes [`EXAMPLE`] to `path`, creating its folder; refuses to replace an existing file.
pub fn write_example(path: &Path) -> Result<(), ConfigError> {
    let write_err = |source| ConfigError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    // create_new: never overwrite, even if the file appears between a check and the write.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => ConfigError::Exists {
                path: path.to_owned(),
            },
            _ => write_err(e),
        })?;
    f.write_all(EXAMPLE.as_bytes()).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/er/config.yaml");
        write_example(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), EXAMPLE);
        let cfg = crate::config::Config::load(&path).unwrap();
        assert_eq!(cfg.layers.len(), 2);
        std::fs::write(&path, "fps: 15\n").unwrap();
        let e = write_example(&path).unwrap_err();
        assert!(matches!(e, ConfigError::Exists { .. }), "{e}");
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "fps: 15\n");
    }
}
