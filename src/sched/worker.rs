//! A worker thread: its find-work order, and the thread-local that lets code running on it
//! (`corepool::spawn`, `current_worker`, helping waits) reach its own deque.
//!
//! # Find-work order ([`WorkerThread::find_task`])
//!
//! 1. Every [`INJECTOR_INTERVAL`] (61) tasks, the injector first — so outside work
//!    is never starved by a worker that keeps feeding its own deque.
//! 2. Own deque, LIFO (newest first: hot in cache, and the oldest are left for thieves);
//!    then the worker's broadcast inbox (`broadcast.rs`), oldest first.
//! 3. The injector, taking a batch (`steal_batch_and_pop`). From a bounded injector the batch
//!    lands first in a deque no thief can reach, so the slots it gives back are counted exactly.
//! 4. Neighbours, nearest first (`topology.rs`) — but only as a *searcher*, and at most half
//!    the workers may become one on their own (`sleep.rs`). From a long deque (at least
//!    [`BATCH_STEAL_MIN_LEN`] tasks: a burst of spawns) a thief takes a batch,
//!    half of it; from a short one it takes one task, the oldest. Short deques are fork-join
//!    stacks, where the oldest task is the biggest piece of work and taking more would steal
//!    the victim's own next `join` halves, only to have it steal them back.
//!
//! A worker that finds nothing spins briefly (an exponential backoff of a few µs), then
//! sleeps by the protocol in `sleep.rs`. A *searcher* keeps looking for the pool's spin
//! window ([`Builder::spin_before_park`](crate::Builder::spin_before_park)) before it sleeps:
//! work that arrives in a steady trickle then finds a worker awake instead of paying for a
//! wake-up. Only the last searcher does (while several search, each sleeps right after the
//! backoff until one is left), so an idle pool of any size keeps at most one CPU busy, for at
//! most the window; workers that do not search sleep after a few yields. A searcher's spin never yields the CPU (`spin.rs` says why).
//! A searcher that finds work stops searching, and if it was the last searcher and a queue
//! still holds work, it wakes a sleeper to take over the search.

use std::cell::Cell;
use std::time::Duration;

use crate::sched::registry::{Producer, Registry};
use crate::sched::sleep::AfterSleep;
use crate::sched::spin::IdleSpin;
use crate::sync::seeded::{self, SeededBugs};
use crate::sync::tuning::{BATCH_STEAL_MIN_LEN, INJECTOR_INTERVAL};
use crate::sync::{thread_local, Arc, AtomicBool, CachePadded, Deque, Ordering, Steal};
use std::task::{Poll, Waker};

use crate::sched::fifo::Fifo;
use crate::sched::heartbeat::{PrivateHalves, TakenBack};
use crate::sched::latch::{CrossLatch, FlagWaker, Probe};
use crate::task::job::{StackJob, StackResult};
use crate::task::slot::{Discard, Outcome, Task, TaskId};

#[cfg(not(corepool_loom))]
thread_local! {
    /// The worker running on this thread, null elsewhere (const-initialised: no lazy-init
    /// check on the `join`/`spawn` fast paths).
    static CURRENT: Cell<*const WorkerThread> = const { Cell::new(std::ptr::null()) };
}

#[cfg(corepool_loom)]
thread_local! {
    /// The worker running on this (model) thread; loom's macro takes no `const` init.
    static CURRENT: Cell<*const WorkerThread> = Cell::new(std::ptr::null());
}

/// The state only the worker's own thread touches.
pub(crate) struct WorkerThread {
    index: usize,
    local: Deque<Task>,
    /// Where a batch from a bounded injector lands first (`steal_from_injector`): no thief
    /// can see this deque, so its length counts exactly the tasks that left the injector.
    /// Empty whenever the worker is not inside that step.
    landing: Deque<Task>,
    registry: Arc<Registry>,
    tick: Cell<u32>,
    searching: Cell<bool>,
    /// The halves of the joins in progress here that nobody else has seen (`heartbeat.rs`).
    halves: PrivateHalves,
    /// This worker's heartbeat flag, shared with its `WorkerSlot`: set by a knock, read at
    /// every join (`heartbeat.rs`).
    heartbeat: Arc<CachePadded<AtomicBool>>,
}

impl WorkerThread {
    pub(crate) fn new(index: usize, local: Deque<Task>, registry: Arc<Registry>) -> Self {
        let heartbeat = Arc::clone(&registry.workers[index].heartbeat);
        WorkerThread {
            index,
            local,
            landing: Deque::new_lifo(),
            registry,
            tick: Cell::new(0),
            searching: Cell::new(false),
            halves: PrivateHalves::new(),
            heartbeat,
        }
    }

    /// Calls `f` with the worker running on this thread, if any.
    #[inline]
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&WorkerThread>) -> R) -> R {
        let ptr = CURRENT.with(|c| c.get());
        // SAFETY: the pointer is non-null only while `run` executes on this thread, and `run`
        // borrows the WorkerThread for that whole time, so the pointee is alive; we only
        // hand out a shared reference, and WorkerThread's mutable state is in Cells.
        f(unsafe { ptr.as_ref() })
    }

    #[inline]
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// True if this worker's own deque offers nothing to thieves right now.
    pub(crate) fn local_is_empty(&self) -> bool {
        self.local.is_empty()
    }

    #[inline]
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Pushes onto this worker's own deque; announces it when the deque was empty.
    ///
    /// A local push can never strand work: this worker is awake and drains its own deque
    /// before it may sleep. The announcement only recruits help, and one per empty →
    /// non-empty edge is enough: a woken searcher that finds work hands the search on
    /// (`sleep.rs`), so help ramps up while the deque stays busy. This keeps the fence of
    /// `notify_work` off the common path of `join` and of bursts of inside spawns.
    ///
    /// Every private join half is promoted first (`heartbeat.rs`: nothing on the deque is
    /// newer than a private half), so a task spawned inside a join's `a` lands above `b`, as
    /// it would if `b` had been pushed at once.
    #[inline]
    pub(crate) fn push_local(&self, task: Task) {
        if self.halves.has_private() {
            self.promote_all();
        }
        self.push_public(task);
    }

    /// `push_local` without the promotion: for the promotions themselves.
    #[inline]
    fn push_public(&self, task: Task) {
        let was_empty = self.local.is_empty();
        self.local.push(task);
        if was_empty {
            self.registry.notify_work_from(Producer::Worker(self.index));
        }
    }

    /// The worker's main loop, between its start and exit handlers (`start.rs`, step 3);
    /// returns when the pool has terminated. The handlers see this worker as current.
    pub(crate) fn run(&self) {
        self.set_current();
        self.registry.run_thread_handler(self.index, false);
        self.work_until(None);
        self.registry.run_thread_handler(self.index, true);
        debug_assert!(self.halves.is_empty(), "a join outlived its task");
        // What the exit handler spawned onto this deque: nobody else will look any more.
        while let Some(task) = self.local.pop() {
            self.execute(task);
        }
        debug_assert!(
            self.local.is_empty() && self.registry.inbox_is_empty(self.index),
            "worker {} exits with queued work",
            self.index
        );
        let registry = &*self.registry;
        registry.workers[self.index]
            .counters
            .exit(registry.counters.epoch);
        WorkerThread::clear_current();
    }

    /// Makes this the worker running on the calling thread (`with_current` finds it), with
    /// its pool's seeded bugs (loom only). `run` does, and a loom model's seat.
    pub(super) fn set_current(&self) {
        CURRENT.with(|c| c.set(self));
        seeded::set_on_this_thread(self.registry.seeded_bugs);
    }

    /// No worker runs on the calling thread any more.
    pub(super) fn clear_current() {
        seeded::set_on_this_thread(SeededBugs::default());
        CURRENT.with(|c| c.set(std::ptr::null()));
    }

    /// Runs other tasks — own deque first, then as in the find-work order — until `latch` is
    /// set, and sleeps (woken by the latch's setter) when there are none.
    ///
    /// This is what lets a task wait for work it queued without deadlocking, even on one
    /// worker. It also means the waiting task's stack hosts unrelated tasks meanwhile: code
    /// that holds a lock while it waits may see another task take the same lock on this
    /// thread (re-entrancy), and very deep chains of waits deepen one thread's stack.
    ///
    /// Every private join half of this worker is promoted first (`heartbeat.rs`, step 5): the
    /// wait may be for one of them.
    pub(crate) fn wait_until(&self, latch: &dyn Probe) {
        self.promote_all();
        self.work_until(Some(latch));
        // Back to the waiting task's own work: stop counting as a searcher.
        self.stop_searching();
    }

    /// The one work loop: find a task and run it; with nothing found, spin briefly, then
    /// sleep. Without a latch it returns when the pool terminates (the main loop); with one,
    /// when the latch is set (a helping wait — a waiting worker holds the pool open, so it
    /// never sees termination).
    fn work_until(&self, waiting: Option<&dyn Probe>) {
        let idle = IdleSpin::new();
        let registry = &*self.registry;
        while !waiting.is_some_and(Probe::probe) {
            if waiting.is_none() && registry.control.pauses(self.index) && !registry.is_shut_down()
            {
                // A paused worker still runs the broadcasts meant for it.
                if let Some(task) = registry.pop_inbox(self.index) {
                    self.execute(task);
                    continue;
                }
                registry.pause(self.index, || self.stop_searching());
                continue;
            }
            if let Some(task) = self.find_task() {
                self.stop_searching();
                self.execute(task);
                idle.reset();
                continue;
            }
            // Only the one searcher left spins out the window: on a big pool, half the workers
            // may search at once, and a trickle of work needs one awake worker, not many. None
            // once shutdown is asked: termination waits for every worker to sleep.
            let window = || {
                let c = registry.idle.load();
                if c.searching() == 1 && !c.is_shutdown() {
                    registry.spin_window
                } else {
                    Duration::ZERO
                }
            };
            if idle.spin(self.searching.get(), window) {
                continue;
            }
            idle.reset();
            let mut searching = self.searching.get();
            let after = self.registry.sleep(self.index, &mut searching, waiting);
            self.searching.set(searching);
            if after == AfterSleep::Exit {
                debug_assert!(waiting.is_none(), "a waiting worker holds the pool open");
                return;
            }
        }
    }

    /// Polls until ready, running other tasks between polls (the waker wakes this worker).
    pub(crate) fn wait_for_poll<R>(&self, mut poll: impl FnMut(&Waker) -> Poll<R>) -> R {
        let flag = std::sync::Arc::new(FlagWaker::new(self.index, Arc::clone(&self.registry)));
        let waker = Waker::from(std::sync::Arc::clone(&flag));
        loop {
            flag.reset();
            if let Poll::Ready(r) = poll(&waker) {
                return r;
            }
            self.wait_until(&*flag);
        }
    }

    /// Runs `f` as a job handed to another pool by `queue`, helping this worker's own pool
    /// until it is done — so `install` across pools never leaves this pool without its
    /// worker, and work that comes back into this pool meanwhile is run here. `None` if the
    /// other pool rejected the job; a panic in `f` resumes here.
    pub(crate) fn run_elsewhere<F, R>(&self, f: F, queue: impl FnOnce(Task)) -> Option<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let job = StackJob::new(f, CrossLatch::new(self.index, Arc::clone(&self.registry)));
        // SAFETY: we wait below until the job has run or been rejected (its latch), so the
        // job outlives its task; it is queued once.
        let task = unsafe { Task::from_raw(&job as *const StackJob<CrossLatch, F, R>) };
        queue(task);
        self.wait_until(&job.latch);
        match job.take_result() {
            StackResult::Done(r) => Some(r),
            StackResult::Panicked(p) => std::panic::resume_unwind(p),
            StackResult::Rejected => None,
            StackResult::Pending => unreachable!("a stack job's latch set before it finished"),
        }
    }

    /// One round of the find-work order, run here (`yielding.rs`); true if a task ran.
    pub(crate) fn yield_now(&self) -> bool {
        // A yield lets other work progress: that includes this worker's private join halves.
        self.promote_all();
        let found = self.find_task();
        // A yield is not a search: hand it on if this round made us a searcher.
        self.stop_searching();
        match found {
            Some(task) => {
                self.execute(task);
                true
            }
            None => false,
        }
    }

    /// The own deque only (`yielding.rs`); true if a task ran.
    pub(crate) fn yield_local(&self) -> bool {
        self.promote_all();
        match self.local.pop() {
            Some(task) => {
                self.execute(task);
                true
            }
            None => false,
        }
    }

    /// Queues `task` FIFO with respect to this worker's other `spawn_fifo` tasks (`fifo.rs`).
    pub(crate) fn push_fifo(&self, task: Task) {
        // SAFETY: the worker's queue lives in the registry, which every worker that can run
        // the marker (one of this pool's) holds.
        unsafe { self.push_fifo_on(&self.registry.workers[self.index].fifo, task) }
    }

    /// Queues `task` on `fifo` and its marker on this worker's own deque (`fifo.rs`).
    ///
    /// # Safety
    /// `fifo` outlives every marker's run (`fifo.rs`, step 2).
    pub(crate) unsafe fn push_fifo_on(&self, fifo: &Fifo, task: Task) {
        // SAFETY: the caller's contract.
        let marker = unsafe { fifo.push(task) };
        self.count_submitted();
        self.push_local(marker);
    }

    /// Pops the newest task of this worker's own deque (`join.rs`: `b` taken back).
    #[inline]
    pub(crate) fn pop_local(&self) -> Option<Task> {
        self.local.pop()
    }

    /// True if another join half fits on the private stack (`heartbeat.rs`, step 1).
    #[inline]
    pub(crate) fn has_private_room(&self) -> bool {
        self.halves.has_room()
    }

    /// `heartbeat.rs`, step 1: `id` becomes this worker's newest private join half, and if
    /// somebody knocked, the oldest private half is promoted.
    ///
    /// # Safety
    /// `id` is `Task::id_of(job)` for a stack job that meets `Task::from_raw`'s contract until
    /// the matching [`take_back_private`](Self::take_back_private) (and, if that finds it
    /// promoted, until the job has run); nothing else queues it. There is room
    /// ([`has_private_room`](Self::has_private_room)).
    #[inline]
    pub(crate) unsafe fn push_private(&self, id: TaskId) {
        self.halves.push(id);
        // ORDERING: Relaxed: a hint (`heartbeat.rs`); the promoted task is published by the
        // deque push, which pairs with the thief's steal.
        if self.heartbeat.load(Ordering::Relaxed) {
            self.promote_on_heartbeat();
        }
    }

    /// `heartbeat.rs`, step 4: takes back this worker's newest private join half.
    #[inline]
    pub(crate) fn take_back_private(&self) -> TakenBack {
        self.halves.take_back(self.registry.seeded_bugs)
    }

    /// `heartbeat.rs`, step 2: somebody knocked; promote the oldest private half.
    #[cold]
    #[inline(never)]
    fn promote_on_heartbeat(&self) {
        if let Some(id) = self.halves.promote_oldest() {
            // SAFETY: the half was private, so no task for it exists; `push_private`'s contract
            // keeps its job alive until it has run (its join takes it back as promoted).
            self.push_public(unsafe { Task::from_id(id) });
            // While a worker sleeps, the next join promotes again (module docs, step 2).
            if self.registry.idle.load().sleeping() == 0 {
                // ORDERING: Relaxed: a hint; a knock racing this store is lost at worst, and
                // the knocker knocks again while it searches, or was woken by the push.
                self.heartbeat.store(false, Ordering::Relaxed);
            }
        }
    }

    /// `heartbeat.rs`, step 5: promotes every private half, oldest first.
    #[cold]
    #[inline(never)]
    fn promote_all(&self) {
        while let Some(id) = self.halves.promote_oldest() {
            // SAFETY: as in `promote_on_heartbeat`.
            self.push_public(unsafe { Task::from_id(id) });
        }
    }

    /// Steps 1–4 of the module docs.
    #[inline]
    fn find_task(&self) -> Option<Task> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % INJECTOR_INTERVAL == 0 {
            if let Some(task) = self.steal_from_injector() {
                return Some(task);
            }
        }
        if let Some(task) = self.local.pop() {
            return Some(task);
        }
        if let Some(task) = self.registry.pop_inbox(self.index) {
            return Some(task);
        }
        if let Some(task) = self.steal_from_injector() {
            return Some(task);
        }
        self.try_steal_from_neighbours()
    }

    /// A batch from the injector; the tasks taken out give their slots of the bound back.
    fn steal_from_injector(&self) -> Option<Task> {
        let registry = &*self.registry;
        // A bounded injector gets one slot back per task taken out of it, so the batch must
        // be counted exactly. Counting it by the own deque's length before and after would
        // undercount whenever a thief takes from that deque in between, and the slots so
        // missed would be lost for good. The batch lands in `landing` instead, which only
        // this thread can reach, and moves to the own deque once counted.
        let dest = if registry.bound.capacity().is_some() {
            &self.landing
        } else {
            &self.local
        };
        loop {
            match registry.injector.steal_batch_and_pop(dest) {
                Steal::Success(task) => {
                    if registry.bound.capacity().is_some() {
                        registry.bound.release(1 + self.landing.len());
                        while let Some(landed) = self.landing.pop() {
                            self.local.push(landed);
                        }
                    }
                    return Some(task);
                }
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    /// Step 4: only as a searcher.
    fn try_steal_from_neighbours(&self) -> Option<Task> {
        let registry = &*self.registry;
        if !self.searching.get() {
            if !registry
                .idle
                .try_transition_to_searching(registry.workers.len())
            {
                return None;
            }
            self.searching.set(true);
        }
        let me = &registry.workers[self.index];
        me.counters.add_steal_attempt();
        for &victim in me.neighbours.iter() {
            let before = self.local.len();
            let stealer = &registry.workers[victim].stealer;
            loop {
                let stolen = if stealer.len() >= BATCH_STEAL_MIN_LEN {
                    stealer.steal_batch_and_pop(&self.local)
                } else {
                    stealer.steal()
                };
                match stolen {
                    Steal::Success(task) => {
                        let moved = self.local.len().saturating_sub(before);
                        me.counters.add_stolen(1 + moved as u64);
                        return Some(task);
                    }
                    Steal::Empty => {
                        // Nothing public there: ask it to promote a private join half.
                        registry.workers[victim].knock();
                        break;
                    }
                    Steal::Retry => std::hint::spin_loop(),
                }
            }
        }
        None
    }

    /// A searcher that found work: the last one hands the search on (`sleep.rs`).
    #[inline]
    fn stop_searching(&self) {
        if self.searching.get() {
            self.searching.set(false);
            if self.registry.idle.transition_from_searching() {
                self.registry.hand_on_search(self.index);
            }
        }
    }

    /// Runs a task found in a queue — or, once `shutdown_now` asked, cancels it if its kind
    /// allows (`control.rs`) — and counts the outcome.
    #[inline]
    pub(crate) fn execute(&self, task: Task) {
        let registry = &*self.registry;
        let counters = &registry.workers[self.index].counters;
        if registry.control.is_cancelling() && task.is_cancellable() {
            task.discard(Discard::Cancel);
            counters.add_cancelled();
            return;
        }
        if !task.is_tracked() {
            if let Outcome::Panicked(Some(payload)) = task.run() {
                registry.handle_panic(self.index, payload);
            }
            return;
        }
        counters.start_task();
        let outcome = task.run();
        counters.end_task();
        match outcome {
            Outcome::Completed => counters.add_completed(),
            Outcome::Panicked(payload) => {
                counters.add_panicked();
                if let Some(payload) = payload {
                    registry.handle_panic(self.index, payload);
                }
            }
            Outcome::Cancelled => counters.add_cancelled(),
        }
    }

    /// Counts a tracked task this worker submits to its own deque.
    #[inline]
    pub(crate) fn count_submitted(&self) {
        self.registry.workers[self.index].counters.add_submitted();
    }
}
