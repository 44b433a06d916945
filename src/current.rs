//! What code asks of "the pool it runs on": [`spawn`], [`current_worker`] /
//! [`current_thread_index`], [`current_num_threads`]. On one of a pool's CPU workers that is
//! the worker's own pool — on the thread that built a pool with
//! [`Builder::use_current_thread`](crate::Builder::use_current_thread), that pool, whose
//! worker 0 the thread is; on any other thread (including a blocking-lane thread) it is the
//! global pool (`global.rs`), built on first use.

use crate::global::global_pool;
use crate::sched::worker::WorkerThread;
use crate::task::slot::Task;

/// Runs `f` in the background on the current pool: on a corepool worker, onto that worker's
/// own deque, for it or a thief to pick up; on any other thread, into the global pool
/// (built on first use, see [`Builder::build_global`](crate::Builder::build_global)).
///
/// On a worker this is the cheap way to fan out from inside a task: no shared queue is
/// touched, and an idle worker is woken only if nobody is already looking for work. A panic
/// in `f` goes to the pool's panic handler. Use [`Pool::spawn`](crate::Pool::spawn) to
/// choose the pool.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::{mpsc, Arc};
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
/// // Outside any pool it runs on the global pool.
/// let (tx, rx) = mpsc::channel();
/// corepool::spawn(move || tx.send(corepool::current_thread_index()).unwrap());
/// assert!(rx.recv().unwrap().is_some());
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
        None => spawn_global(task),
    })
}

/// [`spawn`] off any worker; out of line so the worker path stays small.
#[cold]
#[inline(never)]
fn spawn_global(task: Task) {
    global_pool().registry().push(task)
}

/// The index of the worker running the calling code, or `None` outside any pool.
/// The same as [`current_thread_index`].
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

/// The index of the CPU worker running the calling code, in `0..current_num_threads()`, or
/// `None` on a thread that is not a corepool CPU worker (blocking-lane threads included) —
/// rayon's `current_thread_index`. Does not build the global pool.
///
/// ```
/// let pool = corepool::Pool::builder()
///     .sizing(corepool::Sizing::cpu_bound().cores(1).per_core(3).oversubscribe(true))
///     .build()
///     .unwrap();
/// assert_eq!(corepool::current_thread_index(), None);
/// let index = pool.install(corepool::current_thread_index).unwrap();
/// assert!(index < 3);
/// ```
pub fn current_thread_index() -> Option<usize> {
    current_worker()
}

/// The number of CPU workers of the current pool: the pool whose worker runs the calling
/// code, otherwise the global pool (built on first use) — rayon's `current_num_threads`.
/// Workers paused by [`Pool::set_active_workers`](crate::Pool::set_active_workers) still
/// count; blocking-lane threads do not.
///
/// ```
/// let pool = corepool::Pool::builder()
///     .sizing(corepool::Sizing::cpu_bound().cores(1).per_core(3).oversubscribe(true))
///     .build()
///     .unwrap();
/// assert_eq!(pool.install(corepool::current_num_threads), 3);
/// assert!(corepool::current_num_threads() >= 1); // the global pool's
/// ```
pub fn current_num_threads() -> usize {
    WorkerThread::with_current(|w| match w {
        Some(w) => w.registry().num_workers(),
        None => global_pool().plan().cpu_workers(),
    })
}

/// The most threads a corepool pool may run ([`MAX_THREADS`](crate::MAX_THREADS), CPU
/// workers and blocking lane together) — rayon's `max_num_threads`.
///
/// ```
/// assert_eq!(corepool::max_num_threads(), corepool::MAX_THREADS);
/// ```
pub fn max_num_threads() -> usize {
    crate::placement::sizing::MAX_THREADS
}

/// Whether the calling worker holds tasks (spawned here, or halves of its joins, not yet
/// taken by anyone), or `None` off any CPU worker — rayon's `current_thread_has_pending_tasks`.
///
/// ```
/// assert_eq!(corepool::current_thread_has_pending_tasks(), None);
/// let pool = corepool::Pool::new();
/// assert_eq!(pool.install(corepool::current_thread_has_pending_tasks), Some(false));
/// ```
pub fn current_thread_has_pending_tasks() -> Option<bool> {
    WorkerThread::with_current(|w| w.map(|w| !w.offers_nothing()))
}

impl crate::Pool {
    /// Whether the calling worker holds tasks (spawned here, or halves of its joins, not yet
    /// taken by anyone), or `None` if the calling thread is not one of this pool's CPU workers —
    /// rayon's `ThreadPool::current_thread_has_pending_tasks`.
    ///
    /// ```
    /// let pool = corepool::Pool::builder()
    ///     .sizing(corepool::Sizing::cpu_bound().cores(1))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.current_thread_has_pending_tasks(), None);
    /// let (before, after) = pool.install(|| {
    ///     let before = pool.current_thread_has_pending_tasks();
    ///     corepool::spawn(|| ());
    ///     (before, pool.current_thread_has_pending_tasks())
    /// });
    /// assert_eq!(before, Some(false));
    /// assert_eq!(after, Some(true)); // one worker, busy here: nobody took it yet
    /// ```
    pub fn current_thread_has_pending_tasks(&self) -> Option<bool> {
        let registry = self.registry();
        WorkerThread::with_current(|w| {
            w.filter(|w| std::ptr::eq(w.registry(), registry))
                .map(|w| !w.offers_nothing())
        })
    }
}
