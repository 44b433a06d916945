//! Cooperative yields: a task on a worker runs other queued work in place, then carries on —
//! rayon's `yield_now` / `yield_local`.
//!
//! A yield is one round of the worker's find-work order (`sched/worker.rs`), run on the
//! yielding task's stack: [`yield_now`] looks where the worker loop looks (own deque, the
//! injector, neighbours), [`yield_local`] only at the worker's own deque. At most one task is
//! run per call. Like a helping wait, the yielding task's stack hosts the task it runs, so
//! locks held across a yield can be re-entered by it.

use crate::pool::Pool;
use crate::sched::worker::WorkerThread;

/// What a yield did ([`yield_now`], [`yield_local`]).
///
/// ```
/// use corepool::Yield;
///
/// let pool = corepool::Pool::new();
/// // Nothing else is queued on this worker's deque.
/// assert_eq!(pool.install(corepool::yield_local), Some(Yield::Idle));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Yield {
    /// Another task was found and run to completion (or its panic reported).
    Executed,
    /// Nothing was found to run.
    Idle,
}

impl Yield {
    /// What a worker's yield reports: whether it ran a task.
    fn from_ran(ran: bool) -> Yield {
        if ran {
            Yield::Executed
        } else {
            Yield::Idle
        }
    }
}

/// Runs one pending task of the current pool, if there is one, then returns: the worker's
/// own deque first, then the pool's injector, then other workers' deques. Returns `None` off
/// any corepool CPU worker (it does not use the global pool).
///
/// For a long task that polls for something — an atomic flag, a channel — and wants the pool
/// to make progress meanwhile. A panic in the task run here goes to the pool's panic handler.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// assert_eq!(corepool::yield_now(), None); // not on a worker
/// let pool = corepool::Pool::builder()
///     .sizing(corepool::Sizing::cpu_bound().cores(1))
///     .build()
///     .unwrap();
/// let flag = Arc::new(AtomicBool::new(false));
/// let f = flag.clone();
/// pool.install(move || {
///     corepool::spawn(move || f.store(true, Ordering::Release));
///     // One worker: the spawned task only runs if this one yields to it.
///     while !flag.load(Ordering::Acquire) {
///         corepool::yield_now();
///     }
/// });
/// ```
pub fn yield_now() -> Option<Yield> {
    WorkerThread::with_current(|w| w.map(|w| Yield::from_ran(w.yield_now())))
}

/// Like [`yield_now`], but runs only a task from the calling worker's own deque (what this
/// worker spawned or left behind): it never takes work from the injector or other workers.
/// Returns `None` off any corepool CPU worker.
///
/// ```
/// use corepool::Yield;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// assert_eq!(corepool::yield_local(), None);
/// let pool = corepool::Pool::builder()
///     .sizing(corepool::Sizing::cpu_bound().cores(1))
///     .build()
///     .unwrap();
/// let ran = pool.install(|| {
///     static RAN: AtomicUsize = AtomicUsize::new(0);
///     corepool::spawn(|| { RAN.fetch_add(1, Ordering::Relaxed); });
///     let mut yields = 0;
///     while corepool::yield_local() == Some(Yield::Executed) {
///         yields += 1;
///     }
///     (yields, RAN.load(Ordering::Relaxed))
/// });
/// assert_eq!(ran, (1, 1));
/// ```
pub fn yield_local() -> Option<Yield> {
    WorkerThread::with_current(|w| w.map(|w| Yield::from_ran(w.yield_local())))
}

impl Pool {
    /// [`yield_now`](crate::yield_now()) if the calling thread is one of this pool's CPU
    /// workers; `None` otherwise (another pool's worker too).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// assert_eq!(pool.yield_now(), None);
    /// assert!(pool.install(|| pool.yield_now()).is_some());
    /// ```
    pub fn yield_now(&self) -> Option<Yield> {
        let registry = self.registry();
        WorkerThread::with_current(|w| {
            w.filter(|w| std::ptr::eq(w.registry(), registry))
                .map(|w| Yield::from_ran(w.yield_now()))
        })
    }

    /// [`yield_local`](crate::yield_local()) if the calling thread is one of this pool's CPU
    /// workers; `None` otherwise.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let other = corepool::Pool::new();
    /// assert_eq!(other.install(|| pool.yield_local()), None);
    /// assert_eq!(pool.install(|| pool.yield_local()), Some(corepool::Yield::Idle));
    /// ```
    pub fn yield_local(&self) -> Option<Yield> {
        let registry = self.registry();
        WorkerThread::with_current(|w| {
            w.filter(|w| std::ptr::eq(w.registry(), registry))
                .map(|w| Yield::from_ran(w.yield_local()))
        })
    }
}
