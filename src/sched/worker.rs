//! A worker thread: its find-work order, and the thread-local that lets code running on it
//! (`corepool::spawn`, `current_worker`) reach its own deque.
//!
//! # Find-work order ([`WorkerThread::find_task`])
//!
//! 1. Every [`INJECTOR_INTERVAL`](crate::sync) (61) tasks, the injector first — so outside work
//!    is never starved by a worker that keeps feeding its own deque.
//! 2. Own deque, LIFO (newest first: hot in cache, and the oldest are left for thieves).
//! 3. The injector, taking a batch (`steal_batch_and_pop`).
//! 4. Neighbours, nearest first (`topology.rs`) — but only as a *searcher*, and at most half
//!    the workers may become one on their own (`sleep.rs`). From a long deque (at least
//!    [`BATCH_STEAL_MIN_LEN`](crate::sync) tasks: a burst of spawns) a thief takes a batch,
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
//! most the window; workers that do not search sleep after a few yields. A searcher's spin never yields the CPU (`sync.rs`, `IdleSpin`, says why).
//! A searcher that finds work stops searching, and if it was the last searcher and a queue
//! still holds work, it wakes a sleeper to take over the search.

use std::cell::Cell;
use std::time::Duration;

use crate::sched::registry::{Producer, Registry};
use crate::sched::sleep::AfterSleep;
use crate::sync::{
    current_worker_ptr, set_current_worker_ptr, Arc, Deque, IdleSpin, Steal, BATCH_STEAL_MIN_LEN,
    INJECTOR_INTERVAL,
};
use std::task::{Poll, Waker};

use crate::sched::latch::{CrossLatch, FlagWaker, Probe, StackJob, StackResult, WorkerLatch};
use crate::task::slot::{both, catch, Discard, Outcome, Payload, Task, TaskId};

/// The state only the worker's own thread touches.
pub(crate) struct WorkerThread {
    index: usize,
    local: Deque<Task>,
    registry: Arc<Registry>,
    tick: Cell<u32>,
    searching: Cell<bool>,
}

impl WorkerThread {
    pub(crate) fn new(index: usize, local: Deque<Task>, registry: Arc<Registry>) -> Self {
        WorkerThread {
            index,
            local,
            registry,
            tick: Cell::new(0),
            searching: Cell::new(false),
        }
    }

    /// Calls `f` with the worker running on this thread, if any.
    #[inline]
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&WorkerThread>) -> R) -> R {
        let ptr = current_worker_ptr().cast::<WorkerThread>();
        // SAFETY: the pointer is non-null only while `run` executes on this thread, and `run`
        // borrows the WorkerThread for that whole time, so the pointee is alive; we only
        // hand out a shared reference, and WorkerThread's mutable state is in Cells.
        f(unsafe { ptr.as_ref() })
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// True if this worker's own deque offers nothing to thieves right now.
    pub(crate) fn local_is_empty(&self) -> bool {
        self.local.is_empty()
    }

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
    #[inline]
    pub(crate) fn push_local(&self, task: Task) {
        let was_empty = self.local.is_empty();
        self.local.push(task);
        if was_empty {
            self.registry.notify_work_from(Producer::Worker(self.index));
        }
    }

    /// The worker's main loop; returns when the pool has terminated.
    pub(crate) fn run(&self) {
        set_current_worker_ptr((self as *const WorkerThread).cast());
        self.work_until(None);
        debug_assert!(
            self.local.is_empty(),
            "worker {} exits with queued work",
            self.index
        );
        set_current_worker_ptr(std::ptr::null());
    }

    /// Runs other tasks — own deque first, then as in the find-work order — until `latch` is
    /// set, and sleeps (woken by the latch's setter) when there are none.
    ///
    /// This is what lets a task wait for work it queued without deadlocking, even on one
    /// worker. It also means the waiting task's stack hosts unrelated tasks meanwhile: code
    /// that holds a lock while it waits may see another task take the same lock on this
    /// thread (re-entrancy), and very deep chains of waits deepen one thread's stack.
    pub(crate) fn wait_until(&self, latch: &dyn Probe) {
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

    /// `join` on this worker (`join.rs` has the protocol).
    ///
    /// Only the common case is here — `b` pushed, `a` run, `b` popped back and run — so the
    /// frame stays small; everything else is in [`join_slow`](Self::join_slow).
    #[inline]
    pub(crate) fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        let job_b = StackJob::new(b, WorkerLatch::new(self.index, &self.registry));
        let job_b_ptr = &job_b as *const StackJob<_, B, RB>;
        // SAFETY: this frame does not return before job_b has run — inline below, or by a
        // thief, which sets its latch (`join_slow` waits for it) — so the job outlives its
        // task; it is queued once.
        let task_b = unsafe { Task::from_raw(job_b_ptr) };
        // Step 1: offer b to thieves.
        self.push_local(task_b);
        // Step 2: run a here.
        let result_a = catch(a);
        // Step 3, the common case: b is on top of the deque, unstolen.
        let id_b = Task::id_of(job_b_ptr);
        match self.local.pop() {
            Some(task) if task.is(id_b) => {
                task.take_back();
                // SAFETY: we took our own task back unrun, so the closure is still in the job
                // and nobody else can reach it.
                let b = unsafe { job_b.take_func_unchecked() };
                match result_a {
                    // `a` is done, so `b` may simply run; a panic in it unwinds from here
                    // with both halves finished.
                    Ok(ra) => (ra, b()),
                    Err(payload) => resume_after(payload, b),
                }
            }
            popped => self.join_slow(&job_b, id_b, result_a, popped),
        }
    }

    /// Step 3 when the top of the deque was not `b` (`popped`): run what `a` left behind
    /// until `b` comes back, or, if a thief took `b`, help until its latch is set. Step 4.
    #[cold]
    #[inline(never)]
    fn join_slow<F, RA, RB>(
        &self,
        job_b: &StackJob<WorkerLatch<'_>, F, RB>,
        id_b: TaskId,
        result_a: Result<RA, Payload>,
        mut popped: Option<Task>,
    ) -> (RA, RB)
    where
        F: FnOnce() -> RB + Send,
        RB: Send,
    {
        let result_b = loop {
            match popped {
                Some(task) if task.is(id_b) => {
                    task.take_back();
                    // SAFETY: as in `join`: our own task, taken back unrun.
                    let b = unsafe { job_b.take_func_unchecked() };
                    break catch(b);
                }
                Some(task) if job_b.latch.probe() => {
                    // The thief is done with b: put this task back on top of the deque,
                    // where it was, and return.
                    self.push_local(task);
                    break stack_result(job_b.take_result());
                }
                Some(task) => self.execute(task),
                None => {
                    self.wait_until(&job_b.latch);
                    break stack_result(job_b.take_result());
                }
            }
            if job_b.latch.probe() {
                break stack_result(job_b.take_result());
            }
            popped = self.local.pop();
        };
        // Step 4: both halves are done; the first panic wins.
        both(result_a, result_b)
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
        if let Some(task) = self.steal_from_injector() {
            return Some(task);
        }
        self.try_steal_from_neighbours()
    }

    /// A batch from the injector; the tasks taken out give their slots of the bound back.
    fn steal_from_injector(&self) -> Option<Task> {
        let registry = &*self.registry;
        let before = registry.bound.capacity().map(|_| self.local.len());
        loop {
            match registry.injector.steal_batch_and_pop(&self.local) {
                Steal::Success(task) => {
                    if let Some(before) = before {
                        registry
                            .bound
                            .release(1 + self.local.len().saturating_sub(before));
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
                    Steal::Empty => break,
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
    fn execute(&self, task: Task) {
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

/// `a` panicked and `b` came back unrun: run `b` too (both halves finish), then resume
/// `a`'s panic — it wins over one from `b`.
#[cold]
#[inline(never)]
fn resume_after<RB>(payload: Payload, b: impl FnOnce() -> RB) -> ! {
    let (never, _) = both(Err::<std::convert::Infallible, _>(payload), catch(b));
    match never {}
}

/// A finished stack job's result as `catch` gives it.
fn stack_result<R>(result: StackResult<R>) -> Result<R, Payload> {
    match result {
        StackResult::Done(r) => Ok(r),
        StackResult::Panicked(p) => Err(p),
        StackResult::Rejected | StackResult::Pending => {
            unreachable!("a job on a worker's own deque is neither rejected nor left pending")
        }
    }
}

/// Runs `f` on the current worker's own deque, for it or a thief to pick up.
///
/// This is the cheap way to fan out from inside a task: no shared queue is touched, and an
/// idle worker is woken only if nobody is already looking for work.
///
/// # Panics
///
/// If the calling thread is not a corepool worker. corepool never creates a global pool
/// behind your back; outside a pool, call [`Pool::spawn`](crate::Pool::spawn) on the pool
/// you mean.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let pool = corepool::Pool::new();
/// let count = Arc::new(AtomicUsize::new(0));
/// let c = count.clone();
/// pool.install(move || {
///     for _ in 0..10 {
///         let c = c.clone();
///         corepool::spawn(move || {
///             c.fetch_add(1, Ordering::Relaxed);
///         });
///     }
/// });
/// pool.shutdown(); // runs every accepted task
/// assert_eq!(count.load(Ordering::Relaxed), 10);
///
/// // Outside any pool it panics instead of guessing which pool you meant.
/// assert!(std::panic::catch_unwind(|| corepool::spawn(|| ())).is_err());
/// ```
pub fn spawn<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    let task = Task::spawn(f);
    WorkerThread::with_current(|w| match w {
        Some(w) => {
            w.count_submitted();
            w.push_local(task)
        }
        None => {
            // Release the task without running it, then explain.
            drop(task);
            panic!(
                "corepool::spawn called outside a corepool worker; \
                 use Pool::spawn on the pool you mean"
            )
        }
    })
}

/// The index of the worker running the calling code, or `None` outside any pool.
///
/// ```
/// let pool = corepool::Pool::new();
/// assert_eq!(corepool::current_worker(), None);
/// let index = pool.install(corepool::current_worker);
/// assert!(index.unwrap() < pool.plan().cpu_workers());
/// ```
pub fn current_worker() -> Option<usize> {
    WorkerThread::with_current(|w| w.map(WorkerThread::index))
}
