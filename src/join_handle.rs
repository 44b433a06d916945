//! [`JoinHandle`]: the public side of `pool.submit`'s cell (`task/cell.rs` holds the
//! completion protocol): a helping or blocking `join`, `cancel`, and `Future`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::error::TaskError;
use crate::sched::latch::Signal;
use crate::sched::registry::Registry;
use crate::sched::worker::WorkerThread;
use crate::sync::TaskArc;
use crate::task::cancel::CancelToken;
use crate::task::cell::{submit_task, Completion};
use crate::task::slot::Task;

impl Task {
    /// A task whose result goes to the returned handle; one allocation for both. Bound to
    /// `token`, if given, before it can be queued.
    pub(crate) fn submit<F, T>(f: F, token: Option<&CancelToken>) -> (Task, JoinHandle<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (task, cell) = submit_task(f, token);
        (task, JoinHandle::new(cell))
    }
}

/// An owned permission to wait for a submitted task's result.
///
/// [`join`](JoinHandle::join) blocks until the task has finished; the handle is also a
/// [`Future`], so async code can `.await` CPU work done on the pool. Dropping the handle
/// detaches the task: it still runs, and its result is dropped.
///
/// ```
/// let pool = corepool::Pool::new();
/// let handle = pool.submit(|| 6 * 7);
/// assert_eq!(handle.join().unwrap(), 42);
/// ```
#[must_use = "dropping a JoinHandle detaches the task; call .join() to get its result"]
pub struct JoinHandle<T> {
    cell: TaskArc<dyn Completion<T>>,
    /// The pool whose CPU workers run the task (its registry's address), for the
    /// self-deadlock check of `join_blocking`; 0 when none (a blocking-lane task, or one
    /// rejected at once).
    pool: usize,
}

impl<T: Send + 'static> JoinHandle<T> {
    /// Marks the task as queued for `registry`'s CPU workers.
    pub(crate) fn run_by(mut self, registry: &Registry) -> Self {
        self.pool = registry as *const Registry as usize;
        self
    }

    pub(crate) fn new(cell: TaskArc<dyn Completion<T>>) -> Self {
        JoinHandle { cell, pool: 0 }
    }

    /// Waits until the task has finished, and returns its result.
    ///
    /// On one of a pool's workers the wait *helps*: the worker runs other tasks (its own
    /// deque first) until the result is ready, so a task that submits a child and joins it
    /// cannot deadlock, even on a one-worker pool. The price is re-entrancy: an unrelated task
    /// may run on this thread, inside this call — use [`join_blocking`](JoinHandle::join_blocking)
    /// where that is wrong (e.g. while holding a lock another task takes). On any other
    /// thread it blocks.
    ///
    /// Errors: [`TaskError::Panicked`] with the payload if the task panicked,
    /// [`TaskError::Rejected`] if the pool was shut down before accepting it,
    /// [`TaskError::Cancelled`] if it was cancelled before it started.
    ///
    /// ```
    /// use corepool::{Pool, Sizing, TaskError};
    ///
    /// let pool = Pool::builder().sizing(Sizing::cpu_bound().cores(1)).build().unwrap();
    /// let p = pool.handle();
    /// // One worker, and a task that waits for its own child: the wait runs the child.
    /// let outer = pool.submit(move || p.submit(|| 20).join().unwrap() + 1);
    /// assert_eq!(outer.join().unwrap(), 21);
    ///
    /// pool.shutdown();
    /// assert!(matches!(pool.submit(|| 1).join(), Err(TaskError::Rejected)));
    /// ```
    pub fn join(self) -> Result<T, TaskError> {
        let cell = &self.cell;
        let helped = WorkerThread::with_current(|worker| {
            worker.map(|w| w.wait_for_poll(|waker| cell.poll_join(waker)))
        });
        match helped {
            Some(result) => result,
            None => self.join_blocking(),
        }
    }

    /// Blocks the calling thread until the task has finished, without running anything else
    /// meanwhile — for code holding a lock or other state that an unrelated task must not
    /// see. On a worker this blocks the worker: the task must be able to finish without it.
    ///
    /// # Panics
    ///
    /// In debug builds, when called on a worker of the pool that must run the task, the task
    /// has not started, and every other active worker of that pool is blocked the same way
    /// (on a one-worker pool: always): nothing would ever start the task, so the call panics
    /// at once with a message saying so, instead of deadlocking. Release builds do not check:
    /// there the same call deadlocks. [`join`](JoinHandle::join) never does — it runs other
    /// tasks, the awaited one included, while it waits.
    ///
    /// ```
    /// use corepool::{Pool, Sizing};
    ///
    /// let pool = corepool::Pool::new();
    /// assert_eq!(pool.submit(|| 2 + 2).join_blocking().unwrap(), 4);
    ///
    /// // On the only worker, waiting for a task queued behind it could never end: a debug
    /// // build says so (a release build would deadlock here).
    /// if cfg!(debug_assertions) {
    ///     let one = Pool::builder().sizing(Sizing::cpu_bound().cores(1)).build().unwrap();
    ///     let p = one.clone();
    ///     let outer = one.submit(move || p.submit(|| 1).join_blocking());
    ///     let err = outer.join().unwrap_err();
    ///     assert!(err.panic_message().unwrap().contains("would deadlock"));
    /// }
    /// ```
    pub fn join_blocking(self) -> Result<T, TaskError> {
        let pool = self.pool;
        let check = cfg!(debug_assertions) && pool != 0 && !self.cell.is_finished();
        if !check {
            return self.wait_blocking();
        }
        WorkerThread::with_current(|worker| {
            let registry = match worker.map(WorkerThread::registry) {
                Some(r) if r as *const Registry as usize == pool => r,
                _ => return self.wait_blocking(),
            };
            if !registry.enter_blocking_join(self.cell.is_started()) {
                panic!(
                    "corepool: JoinHandle::join_blocking on a worker of the pool that must run \
                     the task, which has not started, while every other active worker of that \
                     pool is blocked too: this would deadlock. Use JoinHandle::join, which runs \
                     other tasks (this one included) while it waits"
                );
            }
            /// Undoes the count however the wait ends.
            struct Leave<'a>(&'a Registry);
            impl Drop for Leave<'_> {
                fn drop(&mut self) {
                    self.0.leave_blocking_join();
                }
            }
            let _leave = Leave(registry);
            self.wait_blocking()
        })
    }

    /// Parks the calling thread until the result is there.
    fn wait_blocking(self) -> Result<T, TaskError> {
        let signal = std::sync::Arc::new(Signal::new());
        let waker = Waker::from(signal.clone());
        loop {
            match self.cell.poll_join(&waker) {
                Poll::Ready(result) => return result,
                Poll::Pending => signal.wait(),
            }
        }
    }

    /// Cancels the task if it has not started: it will never run, its closure is dropped
    /// now (freeing what it captured), and `join` gives [`TaskError::Cancelled`]. Returns
    /// true if this call cancelled it; false if it had already started (it then runs to the
    /// end), finished, or been cancelled.
    ///
    /// ```
    /// use corepool::{Pool, Sizing, TaskError};
    /// use std::sync::mpsc;
    ///
    /// let pool = Pool::builder().sizing(Sizing::cpu_bound().cores(1)).build().unwrap();
    /// let (started_tx, started) = mpsc::channel();
    /// let (release, release_rx) = mpsc::channel::<()>();
    /// // Keep the only worker busy, so the next task waits in the queue.
    /// let busy = pool.submit(move || { started_tx.send(()).unwrap(); release_rx.recv().unwrap(); });
    /// started.recv().unwrap();
    /// let queued = pool.submit(|| "never runs");
    /// assert!(queued.cancel());
    /// release.send(()).unwrap();
    /// busy.join().unwrap();
    /// assert!(matches!(queued.join(), Err(TaskError::Cancelled)));
    /// ```
    pub fn cancel(&self) -> bool {
        self.cell.cancel()
    }

    /// True once the task has finished (ran, panicked, or was rejected or cancelled); `join`
    /// then returns without blocking.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let handle = pool.submit(|| 1);
    /// while !handle.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(handle.join().unwrap(), 1);
    /// ```
    pub fn is_finished(&self) -> bool {
        self.cell.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.cell.is_finished())
            .finish()
    }
}

/// Awaiting a handle gives the task's result; the waker is woken by the worker that
/// finishes the task, with no polling loop.
///
/// ```
/// use std::future::Future;
/// use std::pin::pin;
/// use std::task::{Context, Poll, Waker};
///
/// let pool = corepool::Pool::new();
/// let mut handle = pool.submit(|| "done");
/// let mut fut = pin!(handle);
/// let mut cx = Context::from_waker(Waker::noop());
/// loop {
///     if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
///         assert_eq!(out.unwrap(), "done");
///         break;
///     }
///     std::thread::yield_now();
/// }
/// ```
impl<T> Future for JoinHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.cell.poll_join(cx.waker())
    }
}
