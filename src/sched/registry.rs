//! What the workers of one pool share: the injector and its bound, each worker's stealer,
//! parker, neighbour list and counters, the idle word, the control word, the blocking lane,
//! and the pool's lifecycle.
//!
//! The protocols that operate on it live beside it: finding work in `worker.rs`, sleeping and
//! waking in `sleep.rs`, admission in `lane/bound.rs`, pausing and cancelling in `control.rs`, the
//! blocking lane in `lane/blocking.rs`, start in `start.rs`, shutdown in `lifecycle.rs`.
//!
//! # Where a task goes
//!
//! - From one of this pool's workers: onto its own deque, never bounded — a task must never
//!   block (or deadlock) submitting to its own pool.
//! - From anywhere else: admitted by the injector's bound (waiting for room, or refused, as
//!   the caller chose), then into the injector. Every task in the injector holds one slot of
//!   the bound, released by whoever takes it out (a worker's batch, or a drain).

use std::any::Any;
use std::time::Duration;

use crate::lane::blocking::Lane;
use crate::lane::bound::{Bound, Refused, Wait};
use crate::metrics::Metrics;
use crate::placement::sizing::WorkerPlacement;
use crate::sched::control::Control;
use crate::sched::counters::{Gauges, PoolCounters, WorkerCounters};
use crate::sched::fifo::Fifo;
use crate::sched::heartbeat::Gate;
use crate::sched::lifecycle::Lifecycle;
use crate::sched::park::Parker;
use crate::sched::sleep::{Idle, Notified};
use crate::sched::worker::WorkerThread;
use crate::sync::{
    current_cpu, Arc, AtomicUsize, CachePadded, Injector, Ordering, SeededBugs, Steal, Stealer,
};
use crate::task::slot::{Discard, Discarded, Task};

/// Receives the payload of a fire-and-forget task's panic.
pub(crate) type PanicHandler = Box<dyn Fn(Box<dyn Any + Send>) + Send + Sync>;

/// Called with a worker's index on that worker's thread (`Builder::start_handler`,
/// `Builder::exit_handler`).
pub(crate) type ThreadHandler = Box<dyn Fn(usize) + Send + Sync>;

/// The builder's handlers: for panics of fire-and-forget tasks, and what each CPU worker
/// runs as it starts and as it exits.
#[derive(Default)]
pub(crate) struct Handlers {
    pub(crate) panic: Option<PanicHandler>,
    pub(crate) start: Option<ThreadHandler>,
    pub(crate) exit: Option<ThreadHandler>,
}

/// One worker as the others see it.
pub(crate) struct WorkerSlot {
    pub(super) parker: Parker,
    pub(super) stealer: Stealer<Task>,
    /// Every other worker, nearest first (`topology.rs`).
    pub(super) neighbours: Box<[usize]>,
    /// The CPU it is pinned to, if it is.
    pub(super) cpu: Option<usize>,
    pub(super) counters: WorkerCounters,
    pub(super) name: String,
    /// The queue behind this worker's `corepool::spawn_fifo` markers (`fifo.rs`).
    pub(super) fifo: Fifo,
    /// Broadcast tasks for this worker only (`broadcast.rs`); only a worker of this pool
    /// pushes here.
    pub(super) inbox: Injector<Task>,
    /// Its heartbeat gate: the knock flag and the owner's "3 private halves" bit, read by
    /// its joins (`heartbeat.rs`).
    pub(super) gate: Arc<CachePadded<Gate>>,
}

impl WorkerSlot {
    /// Asks this worker to promote a private join half at its next join (`heartbeat.rs`).
    #[inline]
    pub(crate) fn knock(&self) {
        self.gate.knock();
    }
}

/// Who pushed the work we are about to announce.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Producer {
    /// A worker of this pool (its own index).
    Worker(usize),
    /// A thread outside the pool: the nearest worker is the one pinned to its CPU, if any.
    /// Its push may find a backlog in the injector (`sleep.rs`, "work appears": the backlog rule).
    Outside,
}

/// One pool's shared state (module docs). Its fields are the scheduler's (`pub(super)`):
/// code outside `sched/` calls the methods below.
pub(crate) struct Registry {
    pub(super) injector: Injector<Task>,
    /// The injector's capacity (`Builder::queue_capacity`).
    pub(super) bound: Bound,
    pub(super) workers: Box<[WorkerSlot]>,
    pub(super) idle: Idle,
    pub(super) control: Control,
    pub(super) lane: Lane,
    pub(super) lifecycle: Lifecycle,
    pub(super) counters: PoolCounters,
    /// How long a searcher with nothing to do keeps looking before it sleeps
    /// (`Builder::spin_before_park`).
    pub(super) spin_window: Duration,
    /// OS CPU id → the first worker pinned to it.
    cpu_to_worker: Box<[Option<usize>]>,
    handlers: Handlers,
    pub(super) seeded_bugs: SeededBugs,
    /// Worker 0 is the thread that built the pool (`Builder::use_current_thread`), not a
    /// thread of the pool: off duty it counts as asleep (`worker.rs`).
    pub(super) caller_worker: bool,
    /// Workers blocked in `JoinHandle::join_blocking` on a task of this pool that had not
    /// started (debug builds only: the self-deadlock check).
    blocking_joins: AtomicUsize,
}

/// Where an admitted blocking task goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaneRoute {
    /// The lane's queue; the task holds a slot of the lane's bound.
    Lane,
    /// Nowhere: the lane may run no thread (`blocking_io` 0); the handle reports it.
    NoLane,
}

/// Where an admitted task goes (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The calling worker's own deque.
    Local,
    /// The injector; the task holds a slot of the bound.
    Injector,
}

impl Registry {
    pub(crate) fn new(
        workers: Box<[WorkerSlot]>,
        cpu_to_worker: Box<[Option<usize>]>,
        handlers: Handlers,
        queue_capacity: Option<usize>,
        spin_window: Duration,
        lane: Lane,
        seeded_bugs: SeededBugs,
    ) -> Registry {
        Registry {
            injector: Injector::new(),
            bound: Bound::new(queue_capacity, seeded_bugs),
            lifecycle: Lifecycle::new(workers.len()),
            control: Control::new(workers.len(), seeded_bugs),
            idle: Idle::new(),
            lane,
            workers,
            counters: PoolCounters::new(),
            spin_window,
            cpu_to_worker,
            handlers,
            seeded_bugs,
            caller_worker: false,
            blocking_joins: AtomicUsize::new(0),
        }
    }

    /// A worker of this pool is about to block in `JoinHandle::join_blocking` on a task of
    /// this pool: counts it as unavailable until [`leave_blocking_join`](Registry::leave_blocking_join),
    /// and returns false — undoing the count — if that would be a certain deadlock:
    ///
    /// - every active worker would be blocked so, and the awaited task has not `started`:
    ///   nothing is left to start it;
    /// - every worker, paused ones included, would be blocked so: a task that has started
    ///   runs on one of them, under a wait that cannot end either.
    ///
    /// (A paused worker finishes the task it is running, so a started task may still end
    /// while only the active ones are blocked.) Every wait counted here is for a CPU task of
    /// this pool, which only this pool's workers run; waits on anything else are not counted.
    /// Concurrent entries are ordered by the one RMW: whichever completes the set is refused,
    /// so a refusal never leaves a deadlock behind.
    pub(crate) fn enter_blocking_join(&self, started: bool) -> bool {
        // ORDERING: AcqRel: the RMW chain on `blocking_joins` orders concurrent entries
        // (pairs with the fetch_sub in `leave_blocking_join`).
        let blocked = self.blocking_joins.fetch_add(1, Ordering::AcqRel) + 1;
        let all_active = blocked >= self.control.active();
        let all = blocked >= self.workers.len();
        if all || (all_active && !started) {
            self.leave_blocking_join();
            return false;
        }
        true
    }

    /// The wait [`enter_blocking_join`](Registry::enter_blocking_join) counted is over.
    pub(crate) fn leave_blocking_join(&self) {
        // ORDERING: AcqRel: pairs with the fetch_add in `enter_blocking_join`.
        self.blocking_joins.fetch_sub(1, Ordering::AcqRel);
    }

    /// Queues `task` for worker `target` only — a broadcast (`broadcast.rs`) — and wakes it:
    /// from a sleep (the same Dekker pairing as a latch: push, fence, claim; the sleeper's
    /// final recheck looks at its inbox) or from the pause gate (which rechecks its inbox
    /// under the gate's lock, taken here after the push). Called only on a worker of this
    /// pool, which holds the pool open meanwhile, so the target has not exited.
    pub(crate) fn push_broadcast(&self, from: &WorkerThread, target: usize, task: Task) {
        from.count_submitted();
        self.workers[target].inbox.push(task);
        // ORDERING: pairs with the fence in `sleep` step 3: the target's recheck sees this
        // push, or this claim sees the target asleep.
        crate::sync::fence(Ordering::SeqCst);
        self.wake_worker(target);
        self.control.wake_paused();
    }

    /// The oldest broadcast task for worker `index`, if any. An empty inbox (the usual case)
    /// costs a length check, not a steal.
    #[inline]
    pub(crate) fn pop_inbox(&self, index: usize) -> Option<Task> {
        let inbox = &self.workers[index].inbox;
        if inbox.is_empty() {
            return None;
        }
        loop {
            match inbox.steal() {
                Steal::Success(task) => return Some(task),
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    /// True if worker `index` has a broadcast task waiting.
    pub(crate) fn inbox_is_empty(&self, index: usize) -> bool {
        self.workers[index].inbox.is_empty()
    }

    /// How many CPU workers the pool has (paused ones included).
    pub(crate) fn num_workers(&self) -> usize {
        self.workers.len()
    }

    /// True if the calling thread is one of this pool's workers (worker 0 on the building
    /// thread included, in a pool call or not: this opens no duty window).
    pub(crate) fn is_current(&self) -> bool {
        WorkerThread::is_worker_of(self)
    }

    /// True once outside submissions are refused.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.idle.load().is_shutdown()
    }

    /// Admits one tracked task before it is built, so a refused caller still holds its
    /// closure: a worker of this pool is always admitted (own deque); anyone else waits for
    /// room in the injector as `wait` says, and is refused once the pool is shut down.
    #[inline]
    pub(crate) fn admit(&self, wait: Wait) -> Result<Route, Refused> {
        if self.is_current() {
            return Ok(Route::Local);
        }
        if self.is_shut_down() {
            return Err(Refused::Closed);
        }
        self.bound.admit(wait, || self.is_shut_down())?;
        Ok(Route::Injector)
    }

    /// Queues a task [`admit`](Registry::admit) let in, and counts it as submitted.
    #[inline]
    pub(crate) fn push_admitted(&self, route: Route, task: Task) {
        match route {
            Route::Local => WorkerThread::with_current(|w| {
                match w.filter(|w| std::ptr::eq(w.registry(), self)) {
                    Some(w) => {
                        w.count_submitted();
                        w.push_local(task);
                    }
                    // Admitted as local, so the caller is a worker of this pool; a worker 0
                    // whose pool terminated meanwhile still gets its window (`worker.rs`),
                    // which runs the task before it gives the seat up.
                    None => unreachable!("admitted as local off this pool's workers"),
                }
            }),
            Route::Injector => {
                self.counters.add_submitted();
                self.push_to_injector(task);
            }
        }
    }

    /// Admits (waiting for room) and queues a tracked task; after shutdown it is rejected
    /// (its handle, if any, reports it).
    pub(crate) fn push(&self, task: Task) {
        match self.admit(Wait::Forever) {
            Ok(route) => self.push_admitted(route, task),
            Err(_) => {
                self.reject(task);
            }
        }
    }

    /// Queues a task that belongs to work already accepted (a scope's task): never refused,
    /// never waits. From a thread outside the pool it goes to the injector over the bound.
    pub(crate) fn push_insider(&self, task: Task) {
        let route = if self.is_current() {
            Route::Local
        } else {
            self.bound.force_admit();
            Route::Injector
        };
        self.push_admitted(route, task);
    }

    /// An untracked job from a thread outside the pool (`install`): admitted like any
    /// outside submission, waiting for room; rejected after shutdown.
    pub(crate) fn inject(&self, task: Task) {
        match self.admit(Wait::Forever) {
            Ok(_) => self.push_to_injector(task),
            Err(_) => {
                self.reject(task);
            }
        }
    }

    /// A task for the blocking lane (`blocking.rs`): admitted as
    /// [`admit_blocking`](Registry::admit_blocking) says, waiting for room; after shutdown it
    /// is rejected, with no lane its handle reports that.
    pub(crate) fn push_blocking(&self, task: Task) {
        match self.admit_blocking(Wait::Forever) {
            Ok(route) => self.push_blocking_admitted(route, task),
            Err(_) => self.lane.refuse(task, Discard::Reject),
        }
    }

    /// Admits one blocking task before it is built, so a refused caller still holds its
    /// closure. Refused once the pool is shut down — except for this pool's own workers, which
    /// may still use the lane while the pool drains — then, on a running pool, routed to
    /// [`LaneRoute::NoLane`] if the lane may run no thread, else admitted by the lane's bound
    /// (waiting as `wait` says).
    pub(crate) fn admit_blocking(&self, wait: Wait) -> Result<LaneRoute, Refused> {
        let insider = self.is_current();
        let shut_down = || !insider && self.is_shut_down();
        if shut_down() {
            return Err(Refused::Closed);
        }
        if self.lane.max() == 0 {
            return Ok(LaneRoute::NoLane);
        }
        self.lane.admit(wait, shut_down)?;
        Ok(LaneRoute::Lane)
    }

    /// Queues a blocking task [`admit_blocking`](Registry::admit_blocking) let in (or, with
    /// no lane, hands it back reported and counted as rejected).
    pub(crate) fn push_blocking_admitted(&self, route: LaneRoute, task: Task) {
        match route {
            LaneRoute::Lane => self.lane.push(task),
            LaneRoute::NoLane => self.lane.refuse(task, Discard::NoLane),
        }
    }

    /// Counts a `try_*` or `*_timeout` call refused at the door, whose closure went back to
    /// its caller: once, as refused (a full queue: the injector's, or with `lane` the blocking
    /// lane's) or as rejected (shut down).
    #[cold]
    pub(crate) fn count_refusal(&self, refused: Refused, lane: bool) {
        match (refused, lane) {
            (Refused::Full | Refused::Timeout, false) => self.counters.add_refused(),
            (Refused::Closed, false) => self.counters.add_rejected(),
            (Refused::Full | Refused::Timeout, true) => self.lane.count_refused(),
            (Refused::Closed, true) => self.lane.count_rejected(),
        }
    }

    /// How many threads the blocking lane may run now (`Pool::set_blocking_io`); 0 means
    /// it has none and [`push_blocking`](Registry::push_blocking) hands tasks back.
    pub(crate) fn lane_max(&self) -> usize {
        self.lane.max()
    }

    /// The bugs seeded in this pool (none outside loom builds).
    pub(crate) fn seeded_bugs(&self) -> SeededBugs {
        self.seeded_bugs
    }

    /// Lets `n` CPU workers run (`control.rs`) and returns `n`; once the pool is shut down
    /// nothing changes, and the count in force is returned.
    pub(crate) fn set_active_workers(&self, n: usize) -> usize {
        if self.is_shut_down() {
            return self.control.active();
        }
        self.control.set_active(n);
        n
    }

    /// The most threads the blocking lane may run from now on.
    pub(crate) fn set_blocking_threads(&self, n: usize) {
        self.lane.set_max(n);
    }

    /// Starts the blocking lane's threads now rather than on first use.
    pub(crate) fn prestart_lane(&self) {
        self.lane.prestart();
    }

    /// Push and announce (`sleep.rs`, producer steps); the task holds a slot of the bound.
    fn push_to_injector(&self, task: Task) {
        self.injector.push(task);
        if self.notify_work_from(Producer::Outside) == Notified::Terminated {
            self.drain_injector();
        }
    }

    /// `notify_work` with the backlog and the producer's nearest worker looked at only when
    /// the idle word makes them matter. A backlog: the injector holds more than the task just
    /// pushed — only an outside push looks.
    #[inline]
    pub(crate) fn notify_work_from(&self, producer: Producer) -> Notified {
        let outside = matches!(producer, Producer::Outside);
        let backlog = || outside && self.injector.len() > 1;
        self.notify_work(backlog, || match producer {
            Producer::Worker(i) => Some(i),
            Producer::Outside => {
                current_cpu().and_then(|cpu| self.cpu_to_worker.get(cpu).copied().flatten())
            }
        })
    }

    /// Rejects everything left in the injector (the workers are gone). These tasks were
    /// accepted by submitters that raced shutdown: they move from submitted to rejected.
    pub(crate) fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                Steal::Success(task) => {
                    self.bound.release(1);
                    let tracked = task.is_tracked();
                    if self.reject(task) && tracked {
                        self.counters.unsubmit();
                    }
                }
                Steal::Empty => break,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    /// The pool will not run `task`: count it; a fire-and-forget one is also reported, since
    /// nobody else will learn of it. False if its handle had cancelled it already (then it
    /// counts as cancelled, not rejected).
    #[cold]
    pub(crate) fn reject(&self, task: Task) -> bool {
        match task.discard(Discard::Reject) {
            Discarded::Reported => self.counters.add_rejected(),
            Discarded::Unobserved => {
                self.counters.add_rejected();
                eprintln!(
                    "corepool: Pool::spawn on a pool that has been shut down: the task was dropped \
                     unrun (Pool::try_spawn hands it back instead)"
                );
            }
            Discarded::AlreadyCancelled => {
                self.counters.add_cancelled();
                return false;
            }
        }
        true
    }

    /// A fire-and-forget task panicked on worker `index`.
    #[cold]
    pub(crate) fn handle_panic(&self, index: usize, payload: Box<dyn Any + Send>) {
        self.report_panic(index, payload, "a spawned task")
    }

    /// Runs worker `index`'s start (`exit` false) or exit handler, if the builder set one; a
    /// panic in it goes to the panic handler, and the worker carries on (`worker.rs`).
    pub(crate) fn run_thread_handler(&self, index: usize, exit: bool) {
        let handler = if exit {
            &self.handlers.exit
        } else {
            &self.handlers.start
        };
        if let Some(handler) = handler {
            if let Err(payload) = crate::task::slot::catch(|| handler(index)) {
                let what = if exit {
                    "the exit handler"
                } else {
                    "the start handler"
                };
                self.report_panic(index, payload, what);
            }
        }
    }

    /// `what` (a task, a handler) panicked on worker `index`: to the panic handler, else
    /// stderr.
    #[cold]
    fn report_panic(&self, index: usize, payload: Box<dyn Any + Send>, what: &str) {
        match &self.handlers.panic {
            Some(handler) => {
                let handler_result = crate::task::slot::catch(|| handler(payload));
                if let Err(handler_payload) = handler_result {
                    eprintln!(
                        "corepool: the panic handler itself panicked on {}; worker continues",
                        self.workers[index].name
                    );
                    crate::task::slot::drop_quietly(handler_payload, "the panic handler's panic");
                }
            }
            None => {
                eprintln!(
                    "corepool: {what} panicked on {}: {}",
                    self.workers[index].name,
                    crate::error::panic_message(&*payload)
                );
                crate::task::slot::drop_quietly(payload, "a panic payload");
            }
        }
    }

    /// A snapshot of the pool's counters (`counters.rs`); `placements` gives each worker's
    /// cpu and pin status.
    pub(crate) fn metrics(&self, placements: &[WorkerPlacement]) -> Metrics {
        let gauges = Gauges {
            active: self.control.active(),
            workers: self
                .workers
                .iter()
                .map(|w| (&w.counters, w.stealer.len()))
                .collect(),
            injector_queue: self.injector.len(),
            queue_capacity: self.bound.capacity(),
            blocking: self.lane.metrics(),
        };
        self.counters.gather(gauges, placements)
    }
}
