//! The [`Metrics`] snapshot of a pool's counters (gathered in `sched/counters.rs`).
//!
//! How the pool-wide figures relate: every tracked task (spawned, submitted, scope task,
//! blocking task — not `install`/`join`'s stack jobs) that the pool accepts is counted once
//! in `submitted`, and ends as exactly one of `completed`, `panicked` or `cancelled`. A task
//! refused at the door is only `rejected`; a task accepted by a submitter that raced
//! shutdown and was then refused moves from `submitted` to `rejected`. So at rest
//! `submitted = completed + panicked + cancelled`.

use std::fmt;
use std::time::Duration;

use crate::placement::sizing::PinStatus;

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
    /// Threads (CPU workers or blocking-lane threads) still running a task when the pool was
    /// dropped after [`shutdown_timeout`](crate::Pool::shutdown_timeout) or
    /// [`shutdown_now_timeout`](crate::Pool::shutdown_now_timeout) had given up on them: let
    /// go rather than waited for again (each is also named in a line on stderr). Read it
    /// through a [`PoolHandle`](crate::PoolHandle).
    pub detached_threads: u64,
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
