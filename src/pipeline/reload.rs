//! The one reload path of every command (SPEC §3): load the config, watch its file, validate each
//! change, prepare what it needs off the frame loop (pictures, videos, a new model), and hand it
//! to the stages, which install it between two frames. A broken edit is reported with its line
//! and changes nothing: the last good configuration stays.

use super::slots::lock;
use crate::compose::{Plan, Prepared};
use crate::config::{Config, ConfigError};
use crate::segment::Segmenter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Command-line overrides, re-applied to every loaded config.
pub type Overrides = Arc<dyn Fn(&mut Config) + Send + Sync>;

/// Loads the config file, or the built-in default (blurred background) when none is given.
pub fn load_config(path: Option<&Path>) -> Result<Config, ConfigError> {
    match path {
        Some(p) => Config::load(p),
        None => Config::parse("", Path::new("<default>"), Path::new(".")),
    }
}

/// Loads a config file (or the default) and applies the overrides.
pub fn load_with(
    path: Option<&Path>,
    overrides: Option<&Overrides>,
) -> Result<Config, ConfigError> {
    let mut cfg = load_config(path)?;
    if let Some(o) = overrides {
        o(&mut cfg);
    }
    Ok(cfg)
}

/// The configuration in force, and what a reload prepared for the stages to install.
pub(crate) struct ConfigCell {
    current: Mutex<(Arc<Config>, u64)>,
    /// Layers built for a version, for the output stage.
    layers: Mutex<Option<(u64, Prepared)>>,
    /// A model loaded for a version, for the segmentation stage: (version, model, engine note).
    model: Mutex<Option<(u64, Segmenter, String)>>,
}

impl ConfigCell {
    pub(crate) fn new(cfg: Config) -> Self {
        ConfigCell {
            current: Mutex::new((Arc::new(cfg), 0)),
            layers: Mutex::new(None),
            model: Mutex::new(None),
        }
    }

    /// The configuration in force and its version.
    pub(crate) fn current(&self) -> (Arc<Config>, u64) {
        let g = lock(&self.current);
        (g.0.clone(), g.1)
    }

    /// The layers prepared for `version` or an earlier one, if any wait.
    pub(crate) fn take_layers(&self, version: u64) -> Option<Prepared> {
        let mut g = lock(&self.layers);
        match &*g {
            Some((v, _)) if *v <= version => g.take().map(|(_, p)| p),
            _ => None,
        }
    }

    /// The model loaded for `version` or an earlier one, if one waits.
    pub(crate) fn take_model(&self, version: u64) -> Option<(Segmenter, String)> {
        let mut g = lock(&self.model);
        match &*g {
            Some((v, ..)) if *v <= version => g.take().map(|(_, s, why)| (s, why)),
            _ => None,
        }
    }

    /// Installs a validated config with what was prepared for it; returns its version.
    fn publish(
        &self,
        cfg: Config,
        layers: Option<Prepared>,
        model: Option<(Segmenter, String)>,
    ) -> u64 {
        // Pending parts first, then the version that makes the stages look for them.
        let mut cur = lock(&self.current);
        let v = cur.1 + 1;
        if let Some(p) = layers {
            *lock(&self.layers) = Some((v, p));
        }
        if let Some((s, why)) = model {
            *lock(&self.model) = Some((v, s, why));
        }
        *cur = (Arc::new(cfg), v);
        v
    }
}

/// What the config watcher needs to prepare a change.
pub(crate) struct Watch {
    pub file: PathBuf,
    pub overrides: Option<Overrides>,
    /// The compositor's layers, to build only what changed.
    pub plan: Plan,
    /// Frame size the layers and the model are prepared for.
    pub size: (u32, u32),
    pub stop: Arc<AtomicBool>,
}

/// Starts watching `w.file`; each valid change is prepared and published to `cell`.
pub(crate) fn watch_config(w: Watch, cell: Arc<ConfigCell>) -> Option<notify::RecommendedWatcher> {
    let Watch {
        file,
        overrides,
        mut plan,
        size: (width, height),
        stop,
    } = w;
    let path = file.clone();
    watch_file(&path, move || {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        // An editor that truncates then writes can be caught in between: an empty file is a
        // save in progress (its completion is another change), not a wish for all defaults.
        if std::fs::metadata(&file).is_ok_and(|m| m.len() == 0) {
            tracing::debug!("{}: empty, waiting for the save to finish", file.display());
            return;
        }
        let new = match load_with(Some(&file), overrides.as_ref()) {
            Ok(c) => c,
            Err(e) => return tracing::error!("{e}; keeping the last good configuration"),
        };
        let (good, _) = cell.current();
        if *good == new {
            return;
        }
        // The slow parts are built here, off the frame loop: the stages only swap them in, so
        // a reload never stalls the output.
        let prepared = (|| -> Result<_, Box<dyn std::error::Error>> {
            let layers = if new.layers != plan.specs() {
                Some(plan.prepare(&new.layers, width, height)?)
            } else {
                None
            };
            let model = if good.model_changed(&new) {
                Some(Segmenter::for_frames(&new, Some((width, height)))?)
            } else {
                None
            };
            Ok((layers, model))
        })();
        let (layers, model) = match prepared {
            Ok(p) => p,
            Err(e) => {
                return tracing::error!(
                    "{}: {e}; keeping the last good configuration",
                    file.display()
                )
            }
        };
        if let Some(p) = &layers {
            plan = p.plan().clone();
        }
        tracing::info!(
            "{}: reloaded ({} layer(s) rebuilt{})",
            file.display(),
            layers.as_ref().map_or(0, |p| p.built()),
            if model.is_some() {
                ", model reloaded"
            } else {
                ""
            }
        );
        cell.publish(new, layers, model);
    })
}

/// Watches a file for changes (through its folder, as editors save by renaming a new file over
/// the old one) and calls `on_change` on a dedicated thread after each burst of changes (50 ms
/// debounce). Watching stops when the returned watcher is dropped; `None` when the file cannot
/// be watched (a warning is logged).
pub fn watch_file(
    path: &Path,
    mut on_change: impl FnMut() + Send + 'static,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let dir = file
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let name = file.file_name().map(|n| n.to_owned());
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev {
            let relevant = !matches!(ev.kind, notify::EventKind::Access(_));
            if relevant && ev.paths.iter().any(|p| p.file_name() == name.as_deref()) {
                let _ = tx.send(());
            }
        }
    })
    .map_err(|e| tracing::warn!("cannot watch {} for changes: {e}", file.display()))
    .ok()?;
    if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
        tracing::warn!("cannot watch {} for changes: {e}", dir.display());
        return None;
    }
    let shown = file.clone();
    std::thread::Builder::new()
        .name("config-watch".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                // Debounce: editors write in several steps.
                std::thread::sleep(std::time::Duration::from_millis(50));
                while rx.try_recv().is_ok() {}
                // A panic here would only stop reloading; catch it so the run goes on with
                // the last good configuration and says so.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut on_change)).is_err() {
                    tracing::error!(
                        "reloading {} failed unexpectedly; keeping the last good configuration",
                        shown.display()
                    );
                }
            }
        })
        .map_err(|e| tracing::warn!("cannot watch {} for changes: {e}", file.display()))
        .ok()?;
    Some(watcher)
}
