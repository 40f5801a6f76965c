//! Who has the virtual camera open, for on-demand capture. v4l2loopback 0.12 (Debian 12,
//! Ubuntu 22.04) has no client-usage events, so the device node itself is watched: inotify
//! reports every open and close of it (any driver version), and `/proc/*/fd` then tells which
//! processes other than this one still hold it. The /proc scan runs only after an event, so a
//! caller can block in [`ConsumerWatch::wait`] while nobody watches, at no cost.
//!
//! Limits: processes of other users are not visible in /proc to an unprivileged Backdrop (a
//! call app runs as the same user), and a process that only keeps the node open (without
//! streaming) counts as a consumer; callers debounce.

use crate::v4l2::holder_pids;
use inotify::{EventMask, Inotify, WatchMask};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a watch without inotify (or whose node is gone) rescans /proc at most.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// Watches one device node's openers; see the module docs.
pub struct ConsumerWatch {
    device: PathBuf,
    inotify: Option<Inotify>,
    /// Whether a watch on the node is in place (it goes when the node is removed).
    watching: bool,
    events: Vec<u8>,
    /// An open or close happened since the last scan.
    dirty: bool,
    /// More opens than closes in the last batch: the opener's fd may not be in its table yet.
    opened: bool,
    count: usize,
    last_scan: Option<Instant>,
}

impl ConsumerWatch {
    /// Watches `device` (which may not exist yet: the watch is set up once it does).
    pub fn new(device: impl AsRef<Path>) -> ConsumerWatch {
        let inotify = Inotify::init()
            .map_err(|e| tracing::warn!("inotify unavailable ({e}): checking for consumers of the virtual camera once a second instead"))
            .ok();
        let mut w = ConsumerWatch {
            device: device.as_ref().to_owned(),
            inotify,
            watching: false,
            events: vec![0; 4096],
            dirty: true,
            opened: false,
            count: 0,
            last_scan: None,
        };
        w.add_watch();
        w
    }

    /// The watched node.
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// Whether opens and closes wake [`ConsumerWatch::wait`] (else it polls once a second).
    pub fn has_events(&self) -> bool {
        self.watching
    }

    fn add_watch(&mut self) {
        if self.watching {
            return;
        }
        if let Some(i) = &mut self.inotify {
            let mask = WatchMask::OPEN | WatchMask::CLOSE_WRITE | WatchMask::CLOSE_NOWRITE;
            self.watching = i.watches().add(&self.device, mask).is_ok();
            if self.watching {
                // Opens before the watch existed were not seen.
                self.dirty = true;
            }
        }
    }

    /// Reads the pending events without blocking; true when some were opens or closes.
    fn drain(&mut self) -> bool {
        let Some(i) = &mut self.inotify else {
            return false;
        };
        let (mut opens, mut closes) = (0usize, 0usize);
        while let Ok(events) = i.read_events(&mut self.events) {
            for e in events {
                if e.mask.contains(EventMask::OPEN) {
                    opens += 1;
                }
                if e.mask
                    .intersects(EventMask::CLOSE_WRITE | EventMask::CLOSE_NOWRITE)
                {
                    closes += 1;
                }
                if e.mask.contains(EventMask::IGNORED) {
                    // The node was removed (module unloaded): watch it again once it is back.
                    self.watching = false;
                }
            }
        }
        if opens + closes > 0 {
            self.dirty = true;
            self.opened = opens > closes;
            true
        } else {
            false
        }
    }

    /// Blocks until the node is opened or closed, or `timeout` passes; true when it was.
    /// Without inotify it sleeps (at most a second) and reports whether the count changed.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        self.add_watch();
        if !self.watching {
            let before = self.count;
            std::thread::sleep(timeout.min(POLL_EVERY));
            return self.count() != before;
        }
        if self.drain() {
            return true;
        }
        let fd = self.inotify.as_ref().map(|i| i.as_raw_fd());
        let mut p = libc::pollfd {
            fd: fd.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd; the inotify fd lives as long as `self`.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        n > 0 && self.drain()
    }

    /// How many processes other than this one hold the node open now. Rescans /proc only
    /// after an open or close (or, without inotify, at most once a second).
    pub fn count(&mut self) -> usize {
        self.add_watch();
        self.drain();
        let due = if self.watching {
            self.dirty
        } else {
            self.last_scan.is_none_or(|t| t.elapsed() >= POLL_EVERY)
        };
        if !due {
            return self.count;
        }
        let before = self.count;
        self.count = holder_pids(&self.device).len();
        // inotify reports an open before the kernel puts the new fd in the opener's table: if
        // an open has no holder yet, look again a moment later.
        for _ in 0..4 {
            if !(self.opened && self.count <= before) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
            self.count = holder_pids(&self.device).len();
        }
        self.dirty = false;
        self.opened = false;
        self.last_scan = Some(Instant::now());
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// A real file opened by real child processes: opens and closes wake the watch, and the
    /// count follows them; this process's own opens do not count.
    #[test]
    fn opens_and_closes_of_other_processes_wake_and_count() {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("video99");
        std::fs::write(&node, b"x").unwrap();
        let mut w = ConsumerWatch::new(&node);
        assert!(w.has_events(), "inotify watch on {}", node.display());
        assert_eq!(w.count(), 0);
        assert!(!w.wait(Duration::from_millis(50)), "no event yet");

        // Our own open: an event, but not a consumer.
        let own = std::fs::File::open(&node).unwrap();
        assert!(w.wait(Duration::from_secs(2)));
        assert_eq!(w.count(), 0, "this process is not its own consumer");
        drop(own);
        assert!(w.wait(Duration::from_secs(2)), "our close is an event too");

        // Two other processes, each opening the node itself.
        let spawn = || {
            Command::new("sh")
                .arg("-c")
                .arg("exec sleep 30 < \"$0\"")
                .arg(&node)
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut a = spawn();
        let t = Instant::now();
        assert!(w.wait(Duration::from_secs(5)), "the open woke the watch");
        let woke = t.elapsed();
        while w.count() == 0 && t.elapsed() < Duration::from_secs(5) {
            w.wait(Duration::from_millis(100));
        }
        assert_eq!(w.count(), 1, "one consumer");
        let mut b = spawn();
        assert!(w.wait(Duration::from_secs(5)));
        let t2 = Instant::now();
        while w.count() < 2 && t2.elapsed() < Duration::from_secs(5) {
            w.wait(Duration::from_millis(100));
        }
        assert_eq!(w.count(), 2, "two consumers");
        assert_eq!(holder_pids(&node).len(), 2);

        a.kill().unwrap();
        a.wait().unwrap();
        assert!(w.wait(Duration::from_secs(5)), "the close woke the watch");
        assert_eq!(w.count(), 1);
        b.kill().unwrap();
        b.wait().unwrap();
        assert!(w.wait(Duration::from_secs(5)));
        assert_eq!(w.count(), 0);
        // Quiet again: waiting times out.
        assert!(!w.wait(Duration::from_millis(100)));
        eprintln!("woken {woke:?} after the first open");
    }

    /// A node that appears only later (module loaded after Backdrop started) is watched once
    /// it exists.
    #[test]
    fn a_node_created_later_is_watched_then() {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("video98");
        let mut w = ConsumerWatch::new(&node);
        assert!(!w.has_events());
        assert_eq!(w.count(), 0);
        std::fs::write(&node, b"x").unwrap();
        assert_eq!(w.count(), 0);
        assert!(w.has_events());
        let mut c = Command::new("sh")
            .arg("-c")
            .arg("exec sleep 30 < \"$0\"")
            .arg(&node)
            .spawn()
            .unwrap();
        assert!(w.wait(Duration::from_secs(5)));
        let t = Instant::now();
        while w.count() == 0 && t.elapsed() < Duration::from_secs(5) {
            w.wait(Duration::from_millis(100));
        }
        assert_eq!(w.count(), 1);
        c.kill().unwrap();
        c.wait().unwrap();
    }
}
