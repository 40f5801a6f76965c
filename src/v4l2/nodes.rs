//! Finding nodes without streaming: the `/dev/video*` list, which of them are v4l2loopback
//! devices, and which processes hold a node open (sysfs and /proc only). The lowest layer under
//! the camera, the virtual camera and `backdrop devices`/`doctor`.

use std::path::{Path, PathBuf};

/// The `/dev/video*` nodes, sorted by number.
pub fn video_nodes() -> Vec<PathBuf> {
    let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir("/dev")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("video")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// The v4l2loopback nodes present now.
pub fn loopback_nodes() -> Vec<PathBuf> {
    video_nodes()
        .into_iter()
        .filter(|p| {
            // sysfs tells without opening (opening could disturb nothing, but needs permission).
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            std::fs::read_link(format!("/sys/class/video4linux/{name}/device/driver"))
                .ok()
                .and_then(|l| {
                    l.file_name()
                        .map(|n| n.to_string_lossy().contains("v4l2loopback"))
                })
                .unwrap_or(false)
                || super::Device::open(p, true)
                    .and_then(|d| d.query_cap())
                    .is_ok_and(|c| c.is_loopback())
        })
        .collect()
}

/// The loaded v4l2loopback's version; 0.12 and older do not publish one.
pub fn loopback_version() -> String {
    std::fs::read_to_string("/sys/module/v4l2loopback/version")
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|_| "0.12 or older".into())
}

/// The processes other than this one that hold `device` open (those whose /proc entries this
/// user may read).
pub fn holder_pids(device: &Path) -> Vec<u32> {
    let Ok(target) = std::fs::canonicalize(device) else {
        return vec![];
    };
    let me = std::process::id();
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(e.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == target))
        {
            out.push(pid);
        }
    }
    out
}

/// The processes (other than this one) that hold `device` open, as "name (pid N)".
pub fn holders(device: &Path) -> Vec<String> {
    holder_pids(device)
        .into_iter()
        .map(|pid| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            format!("{} (pid {pid})", name.trim())
        })
        .collect()
}

/// ", used by NAME (pid N)" for the processes holding `device` open, or "".
pub fn holders_suffix(device: &Path) -> String {
    let h = holders(device);
    if h.is_empty() {
        String::new()
    } else {
        format!(", used by {}", h.join(", "))
    }
}
