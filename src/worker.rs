//! A worker thread: its find-work order, and the thread-local that lets code running on it
//! (`corepool::spawn`, `current_worker`) reach its own deque.
//!
//! # Find-work order ([`WorkerThread::find_task`])
//!
//! 1. Every [`INJECTOR_INTERVAL`](crate::sync) (61) tasks, the injector first — so outside work
//!    is never starved by a worker that keeps feeding its own deque.
//! 2. Own deque, LIFO (newest first: hot in cache, and the oldest are left for thieves).
//! 3. The injector, taking a batch (`steal_batch_and_pop`).
//! 4. Neighbours, nearest first (`topology.rs`), each a batch steal of half their deque — but
//!    only as a *searcher*, and at most half the workers may become one on their own
//!    (`sleep.rs`).
//!
//! A worker that finds nothing spins briefly (crossbeam `Backoff`: a few spins, then a few
//! yields), then sleeps by the protocol in `sleep.rs`. A searcher that finds work stops
//! searching, and if it was the last searcher it announces work so a sleeper takes over the
//! search.

use std::cell::Cell;

use crate::registry::{Producer, Registry};
use crate::sleep::AfterSleep;
use crate::sync::{thread_local, Arc, Backoff, Deque, Steal, INJECTOR_INTERVAL};
use crate::task::{Outcome, Task};

thread_local! {
    /// The worker running on this thread, if any; set for the whole of `WorkerThread::run`.
    /// (Not a `const` initialiser: loom's `thread_local!` does not take one.)
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT: Cell<*const WorkerThread> = Cell::new(std::ptr::null());
}

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
        let ptr = CURRENT.with(|c| c.get());
        // SAFETY: CURRENT is non-null only while `run` executes on this thread, and `run`
        // borrows the WorkerThread for that whole time, so the pointee is alive; we only
        // hand out a shared reference, and WorkerThread's mutable state is in Cells.
        f(unsafe { ptr.as_ref() })
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Pushes onto this worker's own deque and announces it.
    #[inline]
    pub(crate) fn push_local(&self, task: Task) {
        self.local.push(task);
        self.registry.notify_work_from(Producer::Worker(self.index));
    }

    /// The worker's main loop; returns when the pool has terminated.
    pub(crate) fn run(&self) {
        CURRENT.with(|c| c.set(self));
        let backoff = Backoff::new();
        loop {
            if let Some(task) = self.find_task() {
                self.stop_searching();
                self.execute(task);
                backoff.reset();
                continue;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            backoff.reset();
            let mut searching = self.searching.get();
            let after = self.registry.sleep(self.index, &mut searching);
            self.searching.set(searching);
            if after == AfterSleep::Exit {
                break;
            }
        }
        debug_assert!(
            self.local.is_empty(),
            "worker {} exits with queued work",
            self.index
        );
        CURRENT.with(|c| c.set(std::ptr::null()));
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

    fn steal_from_injector(&self) -> Option<Task> {
        loop {
            match self.registry.injector.steal_batch_and_pop(&self.local) {
                Steal::Success(task) => return Some(task),
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
            loop {
                match registry.workers[victim]
                    .stealer
                    .steal_batch_and_pop(&self.local)
                {
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

    /// A searcher that found work: the last one hands the search on.
    #[inline]
    fn stop_searching(&self) {
        if self.searching.get() {
            self.searching.set(false);
            if self.registry.idle.transition_from_searching() {
                self.registry.notify_work_from(Producer::Worker(self.index));
            }
        }
    }

    #[inline]
    fn execute(&self, task: Task) {
        let counters = &self.registry.workers[self.index].counters;
        match task.run() {
            Outcome::Completed => counters.add_executed(),
            Outcome::Panicked(payload) => {
                counters.add_executed();
                counters.add_panicked();
                if let Some(payload) = payload {
                    self.registry.handle_panic(self.index, payload);
                }
            }
            Outcome::Cancelled => {}
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
        Some(w) => w.push_local(task),
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
