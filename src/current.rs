//! [`spawn`] and [`current_worker`]: what code running on a worker asks of the worker it
//! runs on.

use crate::sched::worker::WorkerThread;
use crate::task::slot::Task;

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
