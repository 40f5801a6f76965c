//! Hand-offs between the stage threads: [`Latest`] for live delivery (a slow stage skips to the
//! newest frame), and the [`Stamped`] envelope every frame and mask travels in.

use crate::config::Config;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Locks a mutex, also after another stage panicked while holding it (that stage's failure is
/// reported on its own; the data behind the lock stays usable for shutting down).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A latest-wins hand-off between two threads: publishing replaces what was not yet taken, so
/// nothing queues up behind a slow consumer. Buffers are swapped, never allocated.
pub struct Latest<T> {
    inner: Mutex<(T, u64)>,
    cv: Condvar,
}

impl<T: Default + Clone> Default for Latest<T> {
    fn default() -> Self {
        Latest {
            inner: Mutex::new((T::default(), 0)),
            cv: Condvar::new(),
        }
    }
}

impl<T: Default + Clone> Latest<T> {
    /// Publishes `buf` (swapped in; `buf` gets back an old buffer to reuse).
    pub fn publish(&self, buf: &mut T) {
        let mut g = lock(&self.inner);
        std::mem::swap(&mut g.0, buf);
        g.1 += 1;
        self.cv.notify_all();
    }

    /// Publishes a copy of `value` (reusing the slot's allocation).
    pub fn publish_copy(&self, value: &T) {
        let mut g = lock(&self.inner);
        g.0.clone_from(value);
        g.1 += 1;
        self.cv.notify_all();
    }

    /// Takes the newest value if it is newer than `*seen` (waiting up to `timeout`), swapping
    /// it with `buf`. Returns whether `buf` now holds a new value.
    pub fn take(&self, buf: &mut T, seen: &mut u64, timeout: Duration) -> bool {
        let g = lock(&self.inner);
        let (mut g, _) = self
            .cv
            .wait_timeout_while(g, timeout, |v| v.1 == *seen)
            .unwrap_or_else(|p| p.into_inner());
        if g.1 == *seen {
            return false;
        }
        std::mem::swap(&mut g.0, buf);
        *seen = g.1;
        true
    }

    /// Wakes waiters (used at shutdown).
    pub fn wake(&self) {
        self.cv.notify_all();
    }
}

/// A frame (or its mask) with where it came from: its sequence number, capture time, time in the
/// stream, and the configuration in force when it was captured, so every stage applies a
/// reloaded config from the same frame on.
#[derive(Debug, Clone, Default)]
pub struct Stamped<T> {
    /// The payload.
    pub value: T,
    /// Capture sequence number, from 1 (a mask carries its frame's number).
    pub seq: u64,
    /// When the frame was captured.
    pub captured: Option<Instant>,
    /// Seconds into the stream: the file's timestamp, or wall time since start for a camera.
    pub time: f64,
    /// The configuration in force at capture.
    pub config: Arc<Config>,
    /// Its version (0 at start, +1 per reload).
    pub version: u64,
}
