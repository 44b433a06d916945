//! Counters, and the [`Metrics`] snapshot built from them.
//!
//! Per-worker counters are written only by their own worker, with a plain load and store
//! (no read-modify-write, so no cache line bounces between cores on the hot path); anyone may
//! read them at any time. Submissions from outside the pool go to a striped counter: each
//! submitting thread adds to its own cache line. A snapshot is therefore cheap and never stops
//! the pool, and each figure is exact for its own counter at the instant it was read.
//!
//! How the pool-wide figures relate: every tracked task (spawned, submitted, scope task,
//! blocking task — not `install`/`join`'s stack jobs) that the pool accepts is counted once
//! in `submitted`, and ends as exactly one of `completed`, `panicked` or `cancelled`. A task
//! refused at the door is only `rejected`; a task accepted by a submitter that raced
//! shutdown and was then refused moves from `submitted` to `rejected`. So at rest
//! `submitted = completed + panicked + cancelled`.

use std::fmt;
use std::time::{Duration, Instant};

use crate::placement::sizing::PinStatus;
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
    pub(crate) fn add_rejected(&self) {
        // ORDERING: Relaxed: a statistic.
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_cancelled(&self) {
        // ORDERING: Relaxed: a statistic.
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }
}

/// One worker's figures in a [`Metrics`] snapshot.
///
/// ```
/// let pool = corepool::Pool::new();
/// let w = &pool.metrics().workers[0];
/// assert_eq!(w.index, 0);
/// assert!(w.active);
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
    /// False while [`Pool::set_active_workers`](crate::Pool::set_active_workers) keeps it
    /// parked.
    pub active: bool,
    /// Tasks it ran (panicked ones included).
    pub executed: u64,
    /// Tasks that panicked on it.
    pub panicked: u64,
    /// Tasks it found cancelled, or cancelled itself during `shutdown_now`.
    pub cancelled: u64,
    /// Tasks it took from other workers' deques.
    pub stolen: u64,
    /// Times it went looking in other workers' deques.
    pub steal_attempts: u64,
    /// Times it parked its thread.
    pub parks: u64,
    /// Tasks waiting in its own deque.
    pub local_queue: usize,
    /// Time spent awake (running tasks or looking for them), as opposed to parked.
    pub busy: Duration,
}

/// The blocking lane's figures in a [`Metrics`] snapshot.
///
/// ```
/// use corepool::{Pool, Sizing};
///
/// let pool = Pool::builder().sizing(Sizing::cpu_bound().blocking_io(2)).build().unwrap();
/// pool.spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(1))).join().unwrap();
/// pool.shutdown();
/// let lane = pool.metrics().blocking;
/// assert_eq!((lane.max_threads, lane.completed), (2, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BlockingMetrics {
    /// The most threads the lane may run ([`Pool::set_blocking_io`](crate::Pool::set_blocking_io)).
    pub max_threads: usize,
    /// Threads alive now (started lazily, gone after the keep-alive).
    pub threads: usize,
    /// Threads running a task now.
    pub busy: usize,
    /// Tasks waiting in the lane's queue.
    pub queued: usize,
    /// The lane queue's bound.
    pub queue_capacity: Option<usize>,
    /// Tasks accepted.
    pub submitted: u64,
    /// Tasks that ran and returned.
    pub completed: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Tasks cancelled before they started.
    pub cancelled: u64,
    /// Calls refused because the lane's queue was full
    /// ([`Pool::try_spawn_blocking`](crate::Pool::try_spawn_blocking)).
    pub refused: u64,
    /// Tasks refused for good: the pool was shut down, or the lane had no thread
    /// (`blocking_io` 0).
    pub rejected: u64,
}

/// A snapshot of a pool's counters; see [`Pool::metrics`](crate::Pool::metrics).
///
/// The pool-wide task counts cover the CPU workers and the blocking lane; at rest
/// `submitted == completed + panicked + cancelled`.
///
/// ```
/// let pool = corepool::Pool::new();
/// pool.submit(|| ()).join().unwrap();
/// pool.shutdown();
/// let m = pool.metrics();
/// assert_eq!((m.submitted, m.completed, m.executed()), (1, 1, 1));
/// println!("{m}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Per CPU worker.
    pub workers: Vec<WorkerMetrics>,
    /// CPU workers allowed to run ([`Pool::set_active_workers`](crate::Pool::set_active_workers)).
    pub active_workers: usize,
    /// Tasks accepted (spawned, submitted, scope and blocking tasks).
    pub submitted: u64,
    /// Tasks that ran and returned.
    pub completed: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Tasks cancelled before they started (handle, token or `shutdown_now`).
    pub cancelled: u64,
    /// Calls refused because a queue was full — the injector's
    /// ([`Pool::try_submit`](crate::Pool::try_submit), [`Pool::try_spawn`](crate::Pool::try_spawn),
    /// [`Pool::submit_timeout`](crate::Pool::submit_timeout)) or the blocking lane's
    /// ([`Pool::try_spawn_blocking`](crate::Pool::try_spawn_blocking)): trying again later may
    /// work. Each refused call counts once; the task was never accepted.
    pub refused: u64,
    /// Calls refused for good: the pool was shut down (every way of submitting, `install`
    /// and the batch helpers included), or `spawn_blocking` found no blocking lane. Each
    /// counts once: a task accepted by a submitter that raced shutdown and was then refused
    /// moves from `submitted` to here.
    pub rejected: u64,
    /// Tasks running right now (CPU workers and blocking lane).
    pub running: u64,
    /// Tasks waiting in the injector (outside submissions not yet picked up).
    pub injector_queue: usize,
    /// The injector's bound ([`Builder::queue_capacity`](crate::Builder::queue_capacity)).
    pub queue_capacity: Option<usize>,
    /// The blocking lane.
    pub blocking: BlockingMetrics,
}

impl Metrics {
    /// Tasks run by the CPU workers (panicked ones included).
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
            "{:>6} {:>5} {:>7} {:>10} {:>8} {:>9} {:>9} {:>8} {:>7} {:>6} {:>10}",
            "worker",
            "cpu",
            "pinned",
            "executed",
            "panicked",
            "cancelled",
            "stolen",
            "attempts",
            "parks",
            "queued",
            "busy"
        )?;
        for w in &self.workers {
            let cpu = w.cpu.map_or_else(|| "-".to_string(), |c| c.to_string());
            let pinned = match (w.pin.is_pinned(), w.active) {
                (_, false) => "paused",
                (true, true) => "yes",
                (false, true) => "no",
            };
            writeln!(
                f,
                "{:>6} {:>5} {:>7} {:>10} {:>8} {:>9} {:>9} {:>8} {:>7} {:>6} {:>8.1}ms",
                w.index,
                cpu,
                pinned,
                w.executed,
                w.panicked,
                w.cancelled,
                w.stolen,
                w.steal_attempts,
                w.parks,
                w.local_queue,
                w.busy.as_secs_f64() * 1e3
            )?;
        }
        let b = &self.blocking;
        writeln!(
            f,
            "tasks: submitted {}, completed {}, panicked {}, cancelled {}, refused {}, rejected {}, running {}",
            self.submitted,
            self.completed,
            self.panicked,
            self.cancelled,
            self.refused,
            self.rejected,
            self.running
        )?;
        writeln!(
            f,
            "injector: queued {} (bound {}); active workers {}/{}",
            self.injector_queue,
            bound(self.queue_capacity),
            self.active_workers,
            self.workers.len()
        )?;
        write!(
            f,
            "blocking lane: threads {}/{}, busy {}, queued {} (bound {}), completed {}, panicked {}, cancelled {}",
            b.threads,
            b.max_threads,
            b.busy,
            b.queued,
            bound(b.queue_capacity),
            b.completed,
            b.panicked,
            b.cancelled
        )
    }
}

fn bound(capacity: Option<usize>) -> String {
    capacity.map_or_else(|| "none".to_string(), |c| c.to_string())
}

impl crate::sched::registry::Registry {
    /// Reads every counter once; `placements` gives each worker's cpu and pin status.
    pub(crate) fn metrics(
        &self,
        placements: &[crate::placement::sizing::WorkerPlacement],
    ) -> Metrics {
        let epoch = self.counters.epoch;
        let active = self.control.active();
        let workers: Vec<WorkerMetrics> = self
            .workers
            .iter()
            .zip(placements)
            .enumerate()
            .map(|(index, (slot, place))| {
                let c = &slot.counters;
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
                    local_queue: slot.stealer.len(),
                    busy: c.busy(epoch),
                }
            })
            .collect();
        let sum = |f: fn(&WorkerCounters) -> &OwnedCounter| -> u64 {
            self.workers
                .iter()
                .map(|w| f(&w.counters).get())
                .fold(0, u64::wrapping_add)
        };
        let blocking = self.lane.metrics();
        // ORDERING: Relaxed: statistics.
        let rejected = self.counters.rejected.load(Ordering::Relaxed) + blocking.rejected;
        let refused = self.counters.refused.sum().wrapping_add(blocking.refused);
        // ORDERING: Relaxed: statistics.
        let cancelled_outside = self.counters.cancelled.load(Ordering::Relaxed);
        Metrics {
            active_workers: active,
            submitted: self
                .counters
                .submitted
                .sum()
                .wrapping_add(sum(|c| &c.submitted))
                .wrapping_add(blocking.submitted),
            completed: sum(|c| &c.completed) + blocking.completed,
            panicked: sum(|c| &c.panicked) + blocking.panicked,
            cancelled: sum(|c| &c.cancelled) + cancelled_outside + blocking.cancelled,
            refused,
            rejected,
            running: sum(|c| &c.running) + blocking.busy as u64,
            injector_queue: self.injector.len(),
            queue_capacity: self.bound.capacity(),
            workers,
            blocking,
        }
    }
}
