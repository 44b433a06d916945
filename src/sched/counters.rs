//! The pool's counters, and the [`Metrics`] snapshot gathered from them.
//!
//! Per-worker counters are written only by their own worker, with a plain load and store
//! (no read-modify-write, so no cache line bounces between cores on the hot path); anyone may
//! read them at any time. Submissions from outside the pool go to a striped counter: each
//! submitting thread adds to its own cache line. A snapshot is therefore cheap and never stops
//! the pool, and each figure is exact for its own counter at the instant it was read.
//! `metrics.rs` says how the figures relate.

use std::time::{Duration, Instant};

use crate::metrics::{BlockingMetrics, Metrics, WorkerMetrics};
use crate::placement::sizing::WorkerPlacement;
use crate::sync::{stripe_index, CachePadded, Ordering, StatCounter};

/// A counter with a single writer.
struct OwnedCounter(StatCounter);

impl OwnedCounter {
    fn new(v: u64) -> Self {
        OwnedCounter(StatCounter::new(v))
    }

    /// Only the owning worker calls this.
    #[inline]
    fn add(&self, n: u64) {
        // ORDERING: Relaxed load + store: a single writer, and readers want a recent value,
        // not a synchronised one.
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    /// Only the owning worker calls this.
    #[inline]
    fn set(&self, v: u64) {
        // ORDERING: Relaxed: single writer, as in `add`.
        self.0.store(v, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        // ORDERING: Relaxed: a monitoring read.
        self.0.load(Ordering::Relaxed)
    }
}

/// `awake_since` while the worker is parked.
const PARKED: u64 = u64::MAX;

/// One worker's counters, written by that worker only.
pub(crate) struct WorkerCounters {
    submitted: OwnedCounter,
    completed: OwnedCounter,
    panicked: OwnedCounter,
    cancelled: OwnedCounter,
    /// Tasks between start and end on this thread (more than one while a wait helps).
    running: OwnedCounter,
    stolen: OwnedCounter,
    steal_attempts: OwnedCounter,
    parks: OwnedCounter,
    /// Nanoseconds awake, up to the last park.
    busy_ns: OwnedCounter,
    /// Nanoseconds since the pool's epoch when the worker last woke; [`PARKED`] while parked.
    awake_since: OwnedCounter,
}

impl WorkerCounters {
    pub(crate) fn new() -> Self {
        WorkerCounters {
            submitted: OwnedCounter::new(0),
            completed: OwnedCounter::new(0),
            panicked: OwnedCounter::new(0),
            cancelled: OwnedCounter::new(0),
            running: OwnedCounter::new(0),
            stolen: OwnedCounter::new(0),
            steal_attempts: OwnedCounter::new(0),
            parks: OwnedCounter::new(0),
            busy_ns: OwnedCounter::new(0),
            awake_since: OwnedCounter::new(0),
        }
    }
    #[inline]
    pub(crate) fn add_submitted(&self) {
        self.submitted.add(1)
    }
    #[inline]
    pub(crate) fn start_task(&self) {
        self.running.add(1)
    }
    #[inline]
    pub(crate) fn end_task(&self) {
        self.running.add(u64::MAX) // wrapping −1
    }
    #[inline]
    pub(crate) fn add_completed(&self) {
        self.completed.add(1)
    }
    pub(crate) fn add_panicked(&self) {
        self.panicked.add(1)
    }
    pub(crate) fn add_cancelled(&self) {
        self.cancelled.add(1)
    }
    pub(crate) fn add_stolen(&self, n: u64) {
        self.stolen.add(n)
    }
    pub(crate) fn add_steal_attempt(&self) {
        self.steal_attempts.add(1)
    }

    /// The worker is about to park: close its awake interval.
    pub(crate) fn park_begin(&self, epoch: Instant) {
        self.parks.add(1);
        let since = self.awake_since.get();
        if since != PARKED {
            let now = nanos_since(epoch);
            self.busy_ns.add(now.saturating_sub(since));
            self.awake_since.set(PARKED);
        }
    }

    /// The worker woke up: open a new awake interval.
    pub(crate) fn park_end(&self, epoch: Instant) {
        self.awake_since.set(nanos_since(epoch));
    }

    fn busy(&self, epoch: Instant) -> Duration {
        let since = self.awake_since.get();
        let open = if since == PARKED {
            0
        } else {
            nanos_since(epoch).saturating_sub(since)
        };
        Duration::from_nanos(self.busy_ns.get() + open)
    }
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
}

/// Stripes of [`Striped`]: enough that a handful of submitting threads rarely share one.
const STRIPES: usize = 16;

/// A counter many threads add to, each mostly on its own cache line.
pub(crate) struct Striped(Box<[CachePadded<StatCounter>]>);

impl Striped {
    pub(crate) fn new() -> Self {
        Striped(
            (0..STRIPES)
                .map(|_| CachePadded::new(StatCounter::new(0)))
                .collect(),
        )
    }

    #[inline]
    pub(crate) fn add(&self, n: u64) {
        // ORDERING: Relaxed: a statistic; RMW because stripes may be shared.
        self.0[stripe_index() % STRIPES].fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub(&self, n: u64) {
        // ORDERING: Relaxed: as in `add`; only the sum is meaningful.
        self.0[stripe_index() % STRIPES].fetch_sub(n, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self) -> u64 {
        self.0
            .iter()
            // ORDERING: Relaxed: a monitoring read.
            .map(|c| c.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// Pool-wide counters: outside submissions (striped) and rare events (shared RMW, off the
/// hot path).
pub(crate) struct PoolCounters {
    pub(crate) epoch: Instant,
    submitted: Striped,
    /// Calls refused because the injector was full (`try_*`, `*_timeout`); striped, since a
    /// load-shedding server may refuse from many threads at once.
    refused: Striped,
    rejected: StatCounter,
    /// Threads let go when the pool was dropped after a shutdown gave up on them.
    detached: StatCounter,
    /// Tasks cancelled outside any worker (found already cancelled when drained).
    cancelled: StatCounter,
}

impl PoolCounters {
    pub(crate) fn new() -> Self {
        PoolCounters {
            epoch: Instant::now(),
            submitted: Striped::new(),
            refused: Striped::new(),
            rejected: StatCounter::new(0),
            detached: StatCounter::new(0),
            cancelled: StatCounter::new(0),
        }
    }
    #[inline]
    pub(crate) fn add_submitted(&self) {
        self.submitted.add(1)
    }
    /// An accepted task was refused after all (a submitter raced shutdown).
    pub(crate) fn unsubmit(&self) {
        self.submitted.sub(1)
    }
    /// A call refused because the injector was full: it may succeed later.
    pub(crate) fn add_refused(&self) {
        self.refused.add(1)
    }
    pub(crate) fn add_detached(&self, n: u64) {
        // ORDERING: Relaxed: a statistic.
        self.detached.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_rejected(&self) {
        // ORDERING: Relaxed: a statistic.
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_cancelled(&self) {
        // ORDERING: Relaxed: a statistic.
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a snapshot reads besides the counters: the pool's queues and its lane.
pub(crate) struct Gauges<'a> {
    /// CPU workers allowed to run (the control word).
    pub(crate) active: usize,
    /// Each worker's counters and the length of its own deque.
    pub(crate) workers: Vec<(&'a WorkerCounters, usize)>,
    pub(crate) injector_queue: usize,
    pub(crate) queue_capacity: Option<usize>,
    pub(crate) blocking: BlockingMetrics,
}

impl PoolCounters {
    /// Reads every counter once; `placements` gives each worker's cpu and pin status.
    pub(crate) fn gather(&self, gauges: Gauges<'_>, placements: &[WorkerPlacement]) -> Metrics {
        let Gauges {
            active,
            workers: slots,
            injector_queue,
            queue_capacity,
            blocking,
        } = gauges;
        let epoch = self.epoch;
        let workers: Vec<WorkerMetrics> = slots
            .iter()
            .zip(placements)
            .enumerate()
            .map(|(index, (&(c, local_queue), place))| {
                let panicked = c.panicked.get();
                WorkerMetrics {
                    index,
                    cpu: place.cpu,
                    pin: place.pin,
                    active: index < active,
                    executed: c.completed.get() + panicked,
                    panicked,
                    cancelled: c.cancelled.get(),
                    stolen: c.stolen.get(),
                    steal_attempts: c.steal_attempts.get(),
                    parks: c.parks.get(),
                    local_queue,
                    busy: c.busy(epoch),
                }
            })
            .collect();
        let sum = |f: fn(&WorkerCounters) -> &OwnedCounter| -> u64 {
            slots
                .iter()
                .map(|&(c, _)| f(c).get())
                .fold(0, u64::wrapping_add)
        };
        // ORDERING: Relaxed: statistics.
        let rejected = self.rejected.load(Ordering::Relaxed) + blocking.rejected;
        let refused = self.refused.sum().wrapping_add(blocking.refused);
        // ORDERING: Relaxed: statistics.
        let cancelled_outside = self.cancelled.load(Ordering::Relaxed);
        Metrics {
            active_workers: active,
            submitted: self
                .submitted
                .sum()
                .wrapping_add(sum(|c| &c.submitted))
                .wrapping_add(blocking.submitted),
            completed: sum(|c| &c.completed) + blocking.completed,
            panicked: sum(|c| &c.panicked) + blocking.panicked,
            cancelled: sum(|c| &c.cancelled) + cancelled_outside + blocking.cancelled,
            refused,
            rejected,
            // ORDERING: Relaxed: a statistic.
            detached_threads: self.detached.load(Ordering::Relaxed),
            running: sum(|c| &c.running) + blocking.busy as u64,
            injector_queue,
            queue_capacity,
            workers,
            blocking,
        }
    }
}
