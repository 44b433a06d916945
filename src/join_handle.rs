//! `pool.submit`'s shared cell and the [`JoinHandle`] that reads it.
//!
//! # The cell
//!
//! One allocation, shared by the queue (as a task) and the handle: the closure, then the
//! output, and the handle's waker. The state word has three bits:
//!
//! | bit          | set by                                   | meaning                                  |
//! |--------------|------------------------------------------|------------------------------------------|
//! | `TAKEN`      | whoever consumes the closure: the task's consumer (run, reject, cancel at shutdown) or [`JoinHandle::cancel`] / a [`CancelToken`](crate::CancelToken) | the closure slot is the setter's |
//! | `COMPLETE`   | the closure's taker, after writing the output | the output slot belongs to the handle |
//! | `JOIN_WAKER` | the handle, after writing the waker      | the completer may read the waker         |
//!
//! # Protocol
//!
//! Completer: 1. `fetch_or(TAKEN)` — if it was already set, a canceller owns the closure and
//! has completed (or will complete) the cell: stop; 2. run or drop the closure; 3. write the
//! output; 4. `fetch_or(COMPLETE)` (AcqRel) — **point of no return**: the handle may read the
//! output and free the cell from here on; 5. if the previous value had `JOIN_WAKER`, wake by
//! reference (the waker slot is read-only for both sides while `JOIN_WAKER` is set).
//!
//! A canceller runs the same steps with "drop the closure" and a `Cancelled` output; the task
//! left in the queue finds `TAKEN` at step 1 when it is reached and does nothing. So a task
//! runs xor is cancelled: the one `fetch_or(TAKEN)` that finds the bit clear decides.
//!
//! Handle (`poll`): `COMPLETE` seen (Acquire) → take the output. Otherwise, with `JOIN_WAKER`
//! clear it owns the waker slot: write the waker, then CAS `JOIN_WAKER` on — which fails only
//! if `COMPLETE` arrived, and then it takes the output. With `JOIN_WAKER` set and a different
//! waker, it CASes `JOIN_WAKER` off (owning the slot again), replaces it, and sets it back.
//!
//! No wakeup is lost: the handle's CAS and the completer's fetch_or are RMWs on one word, so
//! either the CAS sees `COMPLETE` (the handle reads the output itself) or the fetch_or sees
//! `JOIN_WAKER` (the completer wakes the handle).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::error::TaskError;
use crate::sched::latch::Signal;
use crate::sched::worker::WorkerThread;
use crate::sync::{AtomicUsize, Ordering, TaskArc, UnsafeCell};
use crate::task::slot::{catch, drop_quietly, Discard, Discarded, Outcome, RawJob};

const COMPLETE: usize = 1;
const JOIN_WAKER: usize = 2;
const TAKEN: usize = 4;

/// The cell behind `submit` (see the module docs).
pub(crate) struct SubmitCell<F, T> {
    state: AtomicUsize,
    func: UnsafeCell<Option<F>>,
    output: UnsafeCell<Option<Result<T, TaskError>>>,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the closure and output move between threads (F, T: Send); every access to the
// UnsafeCells is made exclusive by the state word (module docs), so sharing &SubmitCell is sound.
unsafe impl<F: Send, T: Send> Send for SubmitCell<F, T> {}
// SAFETY: as above.
unsafe impl<F: Send, T: Send> Sync for SubmitCell<F, T> {}

impl<F, T> SubmitCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    pub(crate) fn new(f: F) -> Self {
        SubmitCell {
            state: AtomicUsize::new(0),
            func: UnsafeCell::new(Some(f)),
            output: UnsafeCell::new(None),
            waker: UnsafeCell::new(None),
        }
    }

    /// Step 1: takes the closure, unless a canceller already did.
    fn take_func(&self) -> Option<F> {
        // ORDERING: AcqRel: the one RMW that finds TAKEN clear owns the closure slot; the
        // slot was written before the cell was shared, so no other ordering is needed.
        if self.state.fetch_or(TAKEN, Ordering::AcqRel) & TAKEN != 0 {
            return None;
        }
        // SAFETY: we set TAKEN first (module docs): the slot is ours alone.
        let f = self.func.with_mut(|f| unsafe { (*f).take() });
        debug_assert!(f.is_some(), "TAKEN was clear but the closure is gone");
        f
    }

    /// Cancels the task if nobody has taken it yet: the closure is dropped here, at once.
    fn cancel(&self) -> bool {
        match self.take_func() {
            Some(f) => {
                drop_quietly(f, "a cancelled task");
                self.complete(Err(TaskError::Cancelled));
                true
            }
            None => false,
        }
    }

    /// Steps 3–5.
    fn complete(&self, output: Result<T, TaskError>) {
        // SAFETY: COMPLETE is not set yet and we took the closure: the slot is ours.
        self.output.with_mut(|o| unsafe { *o = Some(output) });
        if seeded_wake_before_publish() {
            return self.complete_waking_first();
        }
        // ORDERING: AcqRel: Release publishes the output to the handle's Acquire load; Acquire
        // makes the handle's waker write visible if JOIN_WAKER was set.
        let prev = self.state.fetch_or(COMPLETE, Ordering::AcqRel);
        if prev & JOIN_WAKER != 0 {
            // SAFETY: JOIN_WAKER set means the slot holds a waker the handle will not touch
            // until it has seen COMPLETE; we only read it.
            self.waker.with(|w| unsafe {
                if let Some(w) = &*w {
                    w.wake_by_ref();
                }
            });
        }
    }

    /// Negative control (loom only, `SeededBugs::wake_before_publish`): step 5 before step 4,
    /// so a handle woken early polls, finds no `COMPLETE`, waits again, and is never woken.
    #[cold]
    fn complete_waking_first(&self) {
        // ORDERING: Acquire, as the fetch_or in `complete` (the bug is the order, not this).
        if self.state.load(Ordering::Acquire) & JOIN_WAKER != 0 {
            // SAFETY: as in `complete`: JOIN_WAKER set, both sides only read the slot.
            self.waker.with(|w| unsafe {
                if let Some(w) = &*w {
                    w.wake_by_ref();
                }
            });
        }
        // ORDERING: AcqRel, as in `complete`.
        self.state.fetch_or(COMPLETE, Ordering::AcqRel);
    }

    fn take_output(&self) -> Result<T, TaskError> {
        // SAFETY: the caller saw COMPLETE with Acquire: the output slot is the handle's.
        self.output
            .with_mut(|o| unsafe { (*o).take() })
            .expect("JoinHandle polled after it returned its result")
    }

    /// Handle side of the protocol.
    fn poll_join(&self, waker: &Waker) -> Poll<Result<T, TaskError>> {
        // ORDERING: Acquire pairs with the completer's fetch_or(COMPLETE).
        let mut cur = self.state.load(Ordering::Acquire);
        if cur & COMPLETE != 0 {
            return Poll::Ready(self.take_output());
        }
        if cur & JOIN_WAKER != 0 {
            // SAFETY: with JOIN_WAKER set both sides only read the slot.
            let same = self
                .waker
                .with(|w| unsafe { (*w).as_ref().is_some_and(|w| w.will_wake(waker)) });
            if same {
                return Poll::Pending;
            }
            // Take the slot back.
            loop {
                if cur & COMPLETE != 0 {
                    return Poll::Ready(self.take_output());
                }
                // ORDERING: AcqRel on success; Acquire on failure so a COMPLETE we see
                // publishes the output.
                match self.state.compare_exchange_weak(
                    cur,
                    cur & !JOIN_WAKER,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    Err(actual) => cur = actual,
                }
            }
            cur &= !JOIN_WAKER;
        }
        // SAFETY: JOIN_WAKER is clear: the slot is the handle's alone.
        self.waker.with_mut(|w| unsafe { *w = Some(waker.clone()) });
        loop {
            if cur & COMPLETE != 0 {
                return Poll::Ready(self.take_output());
            }
            // ORDERING: Release publishes the waker to the completer's AcqRel fetch_or;
            // Acquire on failure as above.
            match self.state.compare_exchange_weak(
                cur,
                cur | JOIN_WAKER,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Poll::Pending,
                Err(actual) => cur = actual,
            }
        }
    }
}

impl<F, T> RawJob for SubmitCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    const TRACKED: bool = true;
    const CANCELLABLE: bool = true;

    unsafe fn execute(this: *const Self) -> Outcome {
        // SAFETY: the task held one strong count, made by `Task::submit` with into_raw.
        let this = unsafe { TaskArc::from_raw(this) };
        let Some(f) = this.take_func() else {
            return Outcome::Cancelled;
        };
        match catch(f) {
            Ok(value) => {
                this.complete(Ok(value));
                Outcome::Completed
            }
            Err(payload) => {
                this.complete(Err(TaskError::Panicked(crate::error::PanicPayload::new(
                    payload,
                ))));
                Outcome::Panicked(None)
            }
        }
    }

    unsafe fn discard(this: *const Self, why: Discard) -> Discarded {
        // SAFETY: as in `execute`.
        let this = unsafe { TaskArc::from_raw(this) };
        let Some(f) = this.take_func() else {
            return Discarded::AlreadyCancelled;
        };
        drop_quietly(f, "a task discarded unrun");
        this.complete(Err(match why {
            Discard::Reject => TaskError::Rejected,
            Discard::Cancel => TaskError::Cancelled,
            Discard::NoLane => TaskError::NoBlockingLane,
        }));
        Discarded::Reported
    }
}

/// What a [`CancelToken`](crate::CancelToken) keeps of each task bound to it.
pub(crate) trait Cancel: Send + Sync {
    /// Cancels the task unless it was taken (started, finished or cancelled) already.
    fn cancel(&self) -> bool;
    /// The task is done with: nothing left to cancel.
    fn is_finished(&self) -> bool;
}

impl<F, T> Cancel for SubmitCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn cancel(&self) -> bool {
        SubmitCell::cancel(self)
    }

    fn is_finished(&self) -> bool {
        // ORDERING: Relaxed: a hint for pruning a token's list; `cancel` decides by RMW.
        self.state.load(Ordering::Relaxed) & TAKEN != 0
    }
}

/// True only in a loom model that seeded `wake_before_publish` on the completing worker's pool.
#[inline(always)]
fn seeded_wake_before_publish() -> bool {
    cfg!(corepool_loom)
        && WorkerThread::with_current(|w| {
            w.is_some_and(|w| w.registry().seeded_bugs.wake_before_publish())
        })
}

/// The handle side, with the closure's type erased.
pub(crate) trait Completion<T>: Send + Sync {
    fn poll_join(&self, waker: &Waker) -> Poll<Result<T, TaskError>>;
    fn is_finished(&self) -> bool;
    fn cancel(&self) -> bool;
}

impl<F, T> Completion<T> for SubmitCell<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn poll_join(&self, waker: &Waker) -> Poll<Result<T, TaskError>> {
        SubmitCell::poll_join(self, waker)
    }

    fn is_finished(&self) -> bool {
        // ORDERING: Acquire, so a caller that sees true and then joins reads the output.
        self.state.load(Ordering::Acquire) & COMPLETE != 0
    }

    fn cancel(&self) -> bool {
        SubmitCell::cancel(self)
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
}

impl<T: Send + 'static> JoinHandle<T> {
    pub(crate) fn new(cell: TaskArc<dyn Completion<T>>) -> Self {
        JoinHandle { cell }
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
    /// let p = pool.clone();
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
    /// see. On a worker this parks the worker: the task must be able to finish without it
    /// (on a one-worker pool, waiting for a task queued on the same pool deadlocks).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// assert_eq!(pool.submit(|| 2 + 2).join_blocking().unwrap(), 4);
    /// ```
    pub fn join_blocking(self) -> Result<T, TaskError> {
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
