//! `pool.submit`'s shared cell: the completion protocol between the task that runs the
//! closure, a canceller, and the [`JoinHandle`](crate::JoinHandle) that reads the output.
//!
//! # The cell
//!
//! One allocation, shared by the queue (as a task) and the handle: the closure, then the
//! output, and the handle's waker. The state word has three bits:
//!
//! | bit          | set by                                   | meaning                                  |
//! |--------------|------------------------------------------|------------------------------------------|
//! | `TAKEN`      | whoever consumes the closure: the task's consumer (run, reject, cancel at shutdown) or [`JoinHandle::cancel`](crate::JoinHandle::cancel) / a [`CancelToken`] | the closure slot is the setter's |
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

use std::task::{Poll, Waker};

use crate::error::{PanicPayload, TaskError};
use crate::sync::seeded;
use crate::sync::token::Weak as TaskWeak;
use crate::sync::{AtomicUsize, Ordering, TaskArc, UnsafeCell};
use crate::task::cancel::{Cancel, CancelToken};
use crate::task::slot::{catch, drop_quietly, Discard, Discarded, Outcome, RawJob, Task};

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
        let prev = if seeded_claim_check_then_act() {
            self.claim_in_two_steps()
        } else {
            // ORDERING: AcqRel: the one RMW that finds TAKEN clear owns the closure slot; the
            // slot was written before the cell was shared, so no other ordering is needed.
            self.state.fetch_or(TAKEN, Ordering::AcqRel)
        };
        if prev & TAKEN != 0 {
            return None;
        }
        // SAFETY: we set TAKEN first (module docs): the slot is ours alone.
        let f = self.func.with_mut(|f| unsafe { (*f).take() });
        debug_assert!(f.is_some(), "TAKEN was clear but the closure is gone");
        f
    }

    /// Negative control (loom only, `SeededBugs::claim_check_then_act`): step 1 as a load and
    /// a later store, so a canceller can claim between the two and both sides take the slot.
    #[cold]
    fn claim_in_two_steps(&self) -> usize {
        // ORDERING: Acquire, as the fetch_or in `take_func` (the bug is the split, not this).
        let prev = self.state.load(Ordering::Acquire);
        if prev & TAKEN == 0 {
            // ORDERING: as above; its result is ignored (the bug).
            self.state.fetch_or(TAKEN, Ordering::AcqRel);
        }
        prev
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
        // SAFETY: the task held one strong count, made by `submit_task` with into_raw.
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
                this.complete(Err(TaskError::Panicked(PanicPayload::new(payload))));
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

/// True only in a loom model that seeded `claim_check_then_act` on the claiming worker's pool
/// (a canceller off the pool claims correctly; one side doing it wrong is enough to race).
#[inline(always)]
fn seeded_claim_check_then_act() -> bool {
    cfg!(any(corepool_loom, corepool_shuttle)) && seeded::on_this_thread().claim_check_then_act()
}

/// True only in a loom model that seeded `wake_before_publish` on the completing worker's pool.
#[inline(always)]
fn seeded_wake_before_publish() -> bool {
    cfg!(any(corepool_loom, corepool_shuttle)) && seeded::on_this_thread().wake_before_publish()
}

/// The handle side, with the closure's type erased.
pub(crate) trait Completion<T>: Send + Sync {
    fn poll_join(&self, waker: &Waker) -> Poll<Result<T, TaskError>>;
    fn is_finished(&self) -> bool;
    /// True once the closure was taken: the task runs (or ran), or was cancelled.
    fn is_started(&self) -> bool;
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

    fn is_started(&self) -> bool {
        // ORDERING: Acquire: a hint for the self-deadlock check; a stale "not started" only
        // makes the check consider a wait that may still need this worker.
        self.state.load(Ordering::Acquire) & TAKEN != 0
    }

    fn cancel(&self) -> bool {
        SubmitCell::cancel(self)
    }
}

/// A task whose result goes to the returned cell (the handle side); one allocation for
/// both. Bound to `token`, if given, before it can be queued.
pub(crate) fn submit_task<F, T>(
    f: F,
    token: Option<&CancelToken>,
) -> (Task, TaskArc<dyn Completion<T>>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let cell = TaskArc::new(SubmitCell::new(f));
    if let Some(token) = token {
        token.register(TaskArc::downgrade(&cell) as TaskWeak<dyn Cancel>);
    }
    let handle = cell.clone();
    // SAFETY: the pointer carries one strong count, which `SubmitCell`'s execute/discard
    // give back with Arc::from_raw, exactly once.
    let task = unsafe { Task::from_raw(TaskArc::into_raw(cell)) };
    (task, handle)
}
