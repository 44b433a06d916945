//! Counters, and the [`Metrics`] snapshot built from them.
//!
//! Per-worker counters are written only by their own worker, with a plain load and store
//! (no read-modify-write, so no cache line bounces between cores on the hot path); anyone may
//! read them at any time. A snapshot is therefore cheap and never stops the pool, and each
//! figure is exact for its own worker at the instant it was read.

use std::fmt;

use crate::sizing::PinStatus;
use crate::sync::{Ordering, StatCounter};

/// A counter with a single writer.
struct OwnedCounter(StatCounter);

impl OwnedCounter {
    fn new() -> Self {
        OwnedCounter(StatCounter::new(0))
    }

    /// Only the owning worker calls this.
    #[inline]
    fn add(&self, n: u64) {
        // ORDERING: Relaxed load + store: a single writer, and readers want a recent value,
        // not a synchronised one.
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        // ORDERING: Relaxed: a monitoring read.
        self.0.load(Ordering::Relaxed)
    }
}

/// One worker's counters, written by that worker only.
pub(crate) struct WorkerCounters {
    executed: OwnedCounter,
    panicked: OwnedCounter,
    stolen: OwnedCounter,
    steal_attempts: OwnedCounter,
    parks: OwnedCounter,
}

impl WorkerCounters {
    pub(crate) fn new() -> Self {
        WorkerCounters {
            executed: OwnedCounter::new(),
            panicked: OwnedCounter::new(),
            stolen: OwnedCounter::new(),
            steal_attempts: OwnedCounter::new(),
            parks: OwnedCounter::new(),
        }
    }
    #[inline]
    pub(crate) fn add_executed(&self) {
        self.executed.add(1)
    }
    pub(crate) fn add_panicked(&self) {
        self.panicked.add(1)
    }
    pub(crate) fn add_stolen(&self, n: u64) {
        self.stolen.add(n)
    }
    pub(crate) fn add_steal_attempt(&self) {
        self.steal_attempts.add(1)
    }
    pub(crate) fn add_park(&self) {
        self.parks.add(1)
    }
}

/// Pool-wide counters for rare events (shared, so updated by RMW, off the hot path).
pub(crate) struct PoolCounters {
    rejected: StatCounter,
}

impl PoolCounters {
    pub(crate) fn new() -> Self {
        PoolCounters {
            rejected: StatCounter::new(0),
        }
    }
    pub(crate) fn add_rejected(&self) {
        // ORDERING: Relaxed: a statistic.
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }
}

/// One worker's figures in a [`Metrics`] snapshot.
///
/// ```
/// let pool = corepool::Pool::new();
/// let w = &pool.metrics().workers[0];
/// assert_eq!(w.index, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// The worker's index (`corepool-cpu-{index}` by default).
    pub index: usize,
    /// The OS CPU it was assigned, if any.
    pub cpu: Option<usize>,
    /// What pinning did.
    pub pin: PinStatus,
    /// Tasks it ran (panicked ones included).
    pub executed: u64,
    /// Tasks that panicked on it.
    pub panicked: u64,
    /// Tasks it took from other workers' deques.
    pub stolen: u64,
    /// Times it went looking in other workers' deques.
    pub steal_attempts: u64,
    /// Times it parked its thread.
    pub parks: u64,
    /// Tasks waiting in its own deque.
    pub local_queue: usize,
}

/// A snapshot of a pool's counters; see [`Pool::metrics`](crate::Pool::metrics).
///
/// ```
/// let pool = corepool::Pool::new();
/// pool.submit(|| ()).join().unwrap();
/// pool.shutdown();
/// let m = pool.metrics();
/// assert_eq!(m.executed(), 1);
/// println!("{m}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Per CPU worker.
    pub workers: Vec<WorkerMetrics>,
    /// Tasks refused because the pool was shut down.
    pub rejected: u64,
    /// Tasks waiting in the injector (outside submissions not yet picked up).
    pub injector_queue: usize,
}

impl Metrics {
    /// Tasks run, over all workers.
    ///
    /// ```
    /// let m = corepool::Pool::new().metrics();
    /// assert_eq!(m.executed(), 0);
    /// ```
    pub fn executed(&self) -> u64 {
        self.workers.iter().map(|w| w.executed).sum()
    }
}

impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>6} {:>5} {:>7} {:>10} {:>8} {:>9} {:>8} {:>7} {:>6}",
            "worker",
            "cpu",
            "pinned",
            "executed",
            "panicked",
            "stolen",
            "attempts",
            "parks",
            "queued"
        )?;
        for w in &self.workers {
            let cpu = w.cpu.map_or_else(|| "-".to_string(), |c| c.to_string());
            writeln!(
                f,
                "{:>6} {:>5} {:>7} {:>10} {:>8} {:>9} {:>8} {:>7} {:>6}",
                w.index,
                cpu,
                if w.pin.is_pinned() { "yes" } else { "no" },
                w.executed,
                w.panicked,
                w.stolen,
                w.steal_attempts,
                w.parks,
                w.local_queue
            )?;
        }
        write!(
            f,
            "injector queued: {}, rejected: {}",
            self.injector_queue, self.rejected
        )
    }
}

impl crate::registry::Registry {
    /// Reads every counter once; `placements` gives each worker's cpu and pin status.
    pub(crate) fn metrics(&self, placements: &[crate::sizing::WorkerPlacement]) -> Metrics {
        let workers = self
            .workers
            .iter()
            .zip(placements)
            .enumerate()
            .map(|(index, (slot, place))| {
                let c = &slot.counters;
                WorkerMetrics {
                    index,
                    cpu: place.cpu,
                    pin: place.pin,
                    executed: c.executed.get(),
                    panicked: c.panicked.get(),
                    stolen: c.stolen.get(),
                    steal_attempts: c.steal_attempts.get(),
                    parks: c.parks.get(),
                    local_queue: slot.stealer.len(),
                }
            })
            .collect();
        Metrics {
            workers,
            // ORDERING: Relaxed: a statistic.
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            injector_queue: self.injector.len(),
        }
    }
}
