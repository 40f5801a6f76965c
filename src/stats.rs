//! Timing samples per pipeline stage (wall and CPU time), for `bench` and the run summary.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// CPU time consumed by the calling thread.
pub fn thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time consumed by the whole process (all threads).
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(id, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Peak resident memory of the process, bytes.
pub fn peak_rss_bytes() -> u64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as u64 * 1024
}

/// Measures one stage on the current thread: wall and CPU time since `start()`.
pub struct Probe {
    wall: Instant,
    cpu: Duration,
}

impl Probe {
    /// Starts measuring.
    pub fn start() -> Self {
        Probe {
            wall: Instant::now(),
            cpu: thread_cpu(),
        }
    }

    /// (wall ms, cpu ms) since start.
    pub fn ms(&self) -> (f64, f64) {
        (
            self.wall.elapsed().as_secs_f64() * 1e3,
            (thread_cpu().saturating_sub(self.cpu)).as_secs_f64() * 1e3,
        )
    }
}

/// Summary of one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageSummary {
    /// Samples.
    pub count: usize,
    /// Median wall ms.
    pub median: f64,
    /// 99th percentile wall ms.
    pub p99: f64,
    /// Mean CPU ms.
    pub cpu: f64,
}

/// Wall and CPU milliseconds per stage name.
type Samples = BTreeMap<&'static str, (Vec<f64>, Vec<f64>)>;

/// Collected samples of named stages; cheap to record from several threads.
#[derive(Default)]
pub struct Stats {
    samples: Mutex<Samples>,
}

/// Percentile (0–100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Stats {
    /// Records one sample of `stage`.
    pub fn record(&self, stage: &'static str, (wall, cpu): (f64, f64)) {
        let mut m = self.samples.lock().expect("stats lock");
        let e = m
            .entry(stage)
            .or_insert_with(|| (Vec::with_capacity(4096), Vec::with_capacity(4096)));
        e.0.push(wall);
        e.1.push(cpu);
    }

    /// Forgets all samples (after warm-up).
    pub fn clear(&self) {
        self.samples.lock().expect("stats lock").clear();
    }

    /// Summary per stage.
    pub fn summary(&self) -> Vec<(&'static str, StageSummary)> {
        let m = self.samples.lock().expect("stats lock");
        m.iter()
            .map(|(k, (wall, cpu))| {
                let mut w = wall.clone();
                w.sort_by(f64::total_cmp);
                let s = StageSummary {
                    count: w.len(),
                    median: percentile(&w, 50.0),
                    p99: percentile(&w, 99.0),
                    cpu: cpu.iter().sum::<f64>() / cpu.len().max(1) as f64,
                };
                (*k, s)
            })
            .collect()
    }
}
