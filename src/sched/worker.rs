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
//!
//! # Worker 0 on the building thread (`Builder::use_current_thread`)
//!
//! The thread that builds such a pool becomes its worker 0 without running the loop: the
//! `WorkerThread` lives in the thread's `CALLER_SEAT`, and its [`Duty`] says what it does.
//!
//! - **Off** — the thread runs its own code, outside any pool call. `CURRENT` is null, and the
//!   idle word counts worker 0 as *sleeping*, so the other workers can terminate without it;
//!   its parker stays `Awake`, so no waker claims it. Its deque is empty or being drained by
//!   thieves (every sleeper's recheck looks at it).
//! - **On** — a *duty window*: any call that asks for the current worker
//!   ([`with_current`](WorkerThread::with_current): `join`, `scope`, `spawn`, `install`,
//!   `current_thread_index`, …) finds `CURRENT` null, finds the seat, and runs with worker 0
//!   on duty for the call: one RMW takes it off the sleeping count, `CURRENT` points at it,
//!   and it is a worker like the others until the call returns — its helping waits run pool
//!   work, its pushes go to its own deque. Nested calls see `CURRENT` set and cost nothing
//!   more.
//! - Closing the window: run the broadcast inbox dry (only worker 0 may run those; with no
//!   other worker, its deque too), clear `CURRENT`, then a sleeper's steps 1, 3, 4 and 5
//!   without parking (`sleep.rs`, `transition_seat_off_duty`): whatever its recheck sees —
//!   tasks it spawned and left on its deque — is announced like a producer's push, and with
//!   nothing left a pool being shut down is terminated by it.
//! - **Released** — the pool terminated: a window opened on it runs the call on worker 0 alone
//!   (its pushes stay on its deque), then runs what is left there and frees the seat: the
//!   thread is no pool's worker any more. A seat is freed only when its window closes, or at
//!   top level (shutdown's help, a new build, thread exit), so no frame still holds it.
//!
//! Why nothing is lost: a window's close counts worker 0 asleep *with* work possibly left on
//! its deque (unlike a sleeper, whose deque is empty). A terminator's CAS compares the whole
//! idle word, and the close fences and then either sees every worker asleep — and claims one,
//! changing the word, so the CAS fails — or sees `TERMINATED`: then worker 0 runs the rest
//! itself (Released). Opening a window is one RMW on the word, so it either fails a racing
//! terminator's CAS or reads `TERMINATED`. A broadcast call waiting in worker 0's inbox
//! blocks termination (`sleep.rs` step 5) until the building thread opens a window.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use crate::sched::registry::{Producer, Registry};
use crate::sched::sleep::{AfterSleep, Notified};
use crate::sched::spin::IdleSpin;
use crate::sync::seeded::{self, SeededBugs};
use crate::sync::tuning::{BATCH_STEAL_MIN_LEN, INJECTOR_INTERVAL};
use crate::sync::{thread_local, Arc, Deque, Steal};
use std::task::{Poll, Waker};

use crate::sched::fifo::Fifo;
use crate::sched::heartbeat::{Gate, PrivateHalves, TakenBack, CLOSED};
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

#[cfg(not(corepool_loom))]
thread_local! {
    /// The heartbeat gate of the worker in `CURRENT`, [`CLOSED`] while that is null: all a
    /// `join` reads to run as plain calls (`heartbeat.rs`, step 0), with no null check and no
    /// pointer to the worker's slot to follow.
    static GATE: Cell<*const Gate> = const { Cell::new(&CLOSED) };
}

#[cfg(corepool_loom)]
thread_local! {
    /// As above, for a model thread.
    static GATE: Cell<*const Gate> = Cell::new(&CLOSED);
}

#[cfg(not(corepool_loom))]
thread_local! {
    /// Worker 0 of the pool this thread built with `Builder::use_current_thread`, while it
    /// has not been released (module docs).
    static CALLER_SEAT: CallerSeat = const { CallerSeat(RefCell::new(None)) };
}

#[cfg(corepool_loom)]
thread_local! {
    /// As above; loom's macro takes no `const` init (and no model builds such a pool).
    static CALLER_SEAT: CallerSeat = CallerSeat(RefCell::new(None));
}

/// The thread's caller seat; its drop (thread exit) takes worker 0 off duty for good.
struct CallerSeat(RefCell<Option<Box<WorkerThread>>>);

impl CallerSeat {
    fn get(&self) -> *const WorkerThread {
        self.0
            .borrow()
            .as_deref()
            .map_or(std::ptr::null(), |w| w as *const WorkerThread)
    }
}

impl Drop for CallerSeat {
    fn drop(&mut self) {
        if let Some(seat) = self.0.get_mut().take() {
            // The thread exits while its pool may live on (owned elsewhere): run what only
            // worker 0 would run, and leave it counted asleep for good. The window's close
            // finds the seat already gone from `CALLER_SEAT` and frees nothing.
            let window = DutyWindow::open(&seat);
            window.seat.run_own_queues(true);
            drop(window);
        }
    }
}

/// What a worker does with its thread (module docs, "Worker 0 on the building thread").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Duty {
    /// A thread of the pool's own, running the worker loop until termination.
    Loop,
    /// Worker 0 on the building thread, outside any pool call: counted asleep, unclaimable.
    Off,
    /// Worker 0 on the building thread, inside a pool call: a worker like the others.
    On,
    /// Worker 0 of a pool that has terminated: counted nowhere.
    Released,
}

/// Worker 0 on duty for one call on the building thread (module docs); closing it (drop, so
/// also on unwind) takes it off duty again.
struct DutyWindow<'a> {
    seat: &'a WorkerThread,
}

impl<'a> DutyWindow<'a> {
    fn open(seat: &'a WorkerThread) -> Self {
        debug_assert_eq!(seat.duty.get(), Duty::Off, "a duty window opened twice");
        let r = &*seat.registry;
        if r.transition_seat_on_duty() == Notified::Terminated {
            seat.duty.set(Duty::Released);
        } else {
            seat.duty.set(Duty::On);
            r.workers[seat.index].counters.park_end(r.counters.epoch);
        }
        seat.set_current();
        DutyWindow { seat }
    }
}

impl Drop for DutyWindow<'_> {
    fn drop(&mut self) {
        let seat = self.seat;
        let r = &*seat.registry;
        if seat.duty.get() == Duty::On {
            // Its inbox only it runs; with no other worker, its deque too.
            seat.run_own_queues(r.workers.len() == 1);
            r.workers[seat.index].counters.exit(r.counters.epoch);
            WorkerThread::clear_current();
            seat.duty.set(Duty::Off);
            if r.transition_seat_off_duty(seat.index) != Notified::Terminated {
                return;
            }
            // Terminated after a terminator's recheck missed this deque: nobody else will
            // run what is on it.
            seat.duty.set(Duty::Released);
            seat.set_current();
        }
        seat.run_own_queues(true);
        WorkerThread::clear_current();
        // Point of no return: the seat is freed (unless thread exit already took it out).
        // (`try_with`: at thread exit `CALLER_SEAT` itself is being destroyed.)
        let freed = CALLER_SEAT.try_with(|c| {
            let mut slot = c.0.borrow_mut();
            if slot.as_deref().is_some_and(|w| std::ptr::eq(w, seat)) {
                slot.take()
            } else {
                None
            }
        });
        drop(freed);
    }
}

/// The state only the worker's own thread touches.
pub(crate) struct WorkerThread {
    index: usize,
    duty: Cell<Duty>,
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
}

impl WorkerThread {
    pub(crate) fn new(index: usize, local: Deque<Task>, registry: Arc<Registry>) -> Self {
        let gate = Arc::clone(&registry.workers[index].gate);
        WorkerThread {
            index,
            duty: Cell::new(Duty::Loop),
            local,
            landing: Deque::new_lifo(),
            registry,
            tick: Cell::new(0),
            searching: Cell::new(false),
            halves: PrivateHalves::new(gate),
        }
    }

    /// Calls `f` with the worker running on this thread, if any — on the building thread of
    /// a `use_current_thread` pool, its worker 0, on duty for the call (module docs).
    #[inline]
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&WorkerThread>) -> R) -> R {
        let ptr = CURRENT.with(|c| c.get());
        if ptr.is_null() {
            return WorkerThread::with_caller_seat(f);
        }
        // SAFETY: the pointer is non-null only while `run` executes on this thread, or a duty
        // window of worker 0 on the building thread is open, and `run` (the window) borrows
        // the WorkerThread for that whole time, so the pointee is alive; we only hand out a
        // shared reference, and WorkerThread's mutable state is in Cells.
        f(Some(unsafe { &*ptr }))
    }

    /// [`with_current`](Self::with_current) with no worker current: worker 0 on duty for `f`
    /// if this thread has a caller seat, else none. Out of line: only threads that are no
    /// pool's workers come here.
    #[cold]
    #[inline(never)]
    fn with_caller_seat<R>(f: impl FnOnce(Option<&WorkerThread>) -> R) -> R {
        let seat = CALLER_SEAT.with(CallerSeat::get);
        if seat.is_null() {
            return f(None);
        }
        // SAFETY: a seat is freed only when its window closes, at thread exit, or at top
        // level with no window open (`finish_pool_as_caller`, `caller_seat_free`); this
        // frame opens the window, so the seat outlives the reference.
        let seat = unsafe { &*seat };
        let _window = DutyWindow::open(seat);
        f(Some(seat))
    }

    /// Makes the calling thread worker 0 of `registry`, off duty (module docs); `start.rs`
    /// calls it for `Builder::use_current_thread`, once [`caller_seat_free`](Self::caller_seat_free)
    /// said yes and the other workers run.
    pub(crate) fn take_caller_seat(local: Deque<Task>, registry: Arc<Registry>) {
        let seat = Box::new(WorkerThread::new(0, local, registry));
        seat.duty.set(Duty::Off);
        let r = &*seat.registry;
        // Off duty from the start: asleep as far as the idle word and the busy time go.
        r.idle.transition_to_sleeping(false, false);
        r.workers[0].counters.exit(r.counters.epoch);
        CALLER_SEAT.with(|c| {
            let previous = c.0.borrow_mut().replace(seat);
            debug_assert!(previous.is_none(), "a second caller seat");
        });
    }

    /// This thread's caller seat while no pool call runs on it (`CURRENT` null, so no window
    /// is open): `Err(())` inside a pool call, `Ok(None)` with no seat.
    fn seat_between_calls<'a>() -> Result<Option<&'a WorkerThread>, ()> {
        if !CURRENT.with(|c| c.get()).is_null() {
            return Err(());
        }
        let seat = CALLER_SEAT.with(CallerSeat::get);
        // SAFETY: as in `with_caller_seat`: a seat is freed only when its window closes, at
        // thread exit, or at top level — where the callers of this use it, on this thread,
        // before anything else can free it.
        Ok(unsafe { seat.as_ref() })
    }

    /// Whether the calling thread may become worker 0 of a new pool: it is no pool's worker
    /// and inside no pool call. Worker 0 of a pool that terminated meanwhile (dropped on
    /// another thread) is released first.
    pub(crate) fn caller_seat_free() -> bool {
        let Ok(seat) = WorkerThread::seat_between_calls() else {
            return false;
        };
        match seat {
            None => true,
            Some(seat) if seat.registry.idle.load().is_terminated() => {
                // The window finds the pool terminated and frees the seat as it closes.
                drop(DutyWindow::open(seat));
                true
            }
            Some(_) => false,
        }
    }

    /// `Registry::shutdown` on the building thread of `registry` outside any pool call:
    /// worker 0 comes on duty and runs the worker loop until the pool terminates, and the
    /// seat is freed. False if the calling thread is not `registry`'s worker 0 outside any
    /// pool call (then it is another thread, or a pool call's code, which must not wait).
    pub(crate) fn finish_pool_as_caller(registry: &Registry) -> bool {
        let Ok(Some(seat)) = WorkerThread::seat_between_calls() else {
            return false;
        };
        if !std::ptr::eq(seat.registry(), registry) {
            return false;
        }
        let window = DutyWindow::open(seat);
        if seat.duty.get() == Duty::On {
            seat.work_until(None);
            seat.stop_searching();
            // The loop returns only once the pool has terminated.
            seat.duty.set(Duty::Released);
        }
        drop(window);
        true
    }

    /// Whether the calling thread is one of `registry`'s workers: its current worker, or —
    /// outside any pool call — its worker 0 on the building thread. Opens no duty window.
    #[inline]
    pub(crate) fn is_worker_of(registry: &Registry) -> bool {
        let ptr = CURRENT.with(|c| c.get());
        // SAFETY: as in `with_current`.
        match unsafe { ptr.as_ref() } {
            Some(w) => std::ptr::eq(w.registry(), registry),
            None => WorkerThread::is_caller_seat_of(registry),
        }
    }

    /// Whether the calling thread is `registry`'s worker 0 outside any pool call.
    pub(crate) fn is_caller_seat_of(registry: &Registry) -> bool {
        WorkerThread::seat_between_calls()
            .is_ok_and(|seat| seat.is_some_and(|seat| std::ptr::eq(seat.registry(), registry)))
    }

    /// Runs this worker's broadcast inbox dry, and with `deque`, its own deque too.
    fn run_own_queues(&self, deque: bool) {
        loop {
            let task = if deque { self.local.pop() } else { None };
            match task.or_else(|| self.registry.pop_inbox(self.index)) {
                Some(task) => self.execute(task),
                None => return,
            }
        }
    }

    #[inline]
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// True if this worker has nothing another worker could get: its own deque is empty and
    /// no join half waits privately to be promoted on a knock (`heartbeat.rs`).
    pub(crate) fn offers_nothing(&self) -> bool {
        self.local.is_empty() && !self.halves.has_private()
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
        self.promote_all();
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
        GATE.with(|g| g.set(self.halves.gate()));
        seeded::set_on_this_thread(self.registry.seeded_bugs);
    }

    /// No worker runs on the calling thread any more.
    pub(super) fn clear_current() {
        seeded::set_on_this_thread(SeededBugs::default());
        GATE.with(|g| g.set(&CLOSED));
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
            // A waiting worker does not leave on termination: termination does not look at
            // what it waits for — a job on another pool (`install` elsewhere), a future, or,
            // for worker 0 on the building thread, anything: the pool may have terminated
            // before its window opened. Its latch's setter still wakes it (the parker works
            // on), so it waits on.
            if after == AfterSleep::Exit && waiting.is_none() {
                return;
            }
            // Any other waiting worker holds the pool open while it sleeps (`sleep.rs`,
            // `holding`), so the pool cannot have terminated under it.
            debug_assert!(
                after == AfterSleep::Search || (self.index == 0 && self.registry.caller_worker),
                "the pool terminated under worker {} waiting mid-task",
                self.index
            );
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

    /// `heartbeat.rs`, step 0: true if a join on this worker runs its halves as plain calls.
    #[inline]
    pub(crate) fn skip_registration(&self) -> bool {
        self.halves.gate().plain()
    }

    /// `heartbeat.rs`, step 0 for a join on the calling thread: true if a worker runs here
    /// and the join may run its halves as plain calls. One thread-local load and one compare:
    /// off any worker the gate is [`CLOSED`].
    #[inline(always)]
    pub(crate) fn plain_join_here() -> bool {
        let gate = GATE.with(|g| g.get());
        // SAFETY: `GATE` points at `CLOSED` (a static) or at the gate of the worker in
        // `CURRENT`, which `set_current`/`clear_current` change together; that worker holds
        // its gate's `Arc` and is alive while it is current (`with_current`).
        unsafe { &*gate }.plain()
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
        if self.halves.push(id) {
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
        // The flag is cleared before the push (`heartbeat.rs`, *Knocks*): a knock that still
        // finds it set is answered by the push that follows.
        if let Some(id) = self.halves.answer_knock() {
            // SAFETY: the half was private, so no task for it exists; `push_private`'s contract
            // keeps its job alive until it has run (its join takes it back as promoted).
            self.push_public(unsafe { Task::from_id(id) });
        }
    }

    /// `heartbeat.rs`, step 5: promotes every private half, oldest first. With none private
    /// (the common case) it costs a compare.
    #[inline]
    fn promote_all(&self) {
        if self.halves.has_private() {
            self.promote_each();
        }
    }

    /// [`promote_all`](Self::promote_all)'s loop, out of line.
    #[cold]
    #[inline(never)]
    fn promote_each(&self) {
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
