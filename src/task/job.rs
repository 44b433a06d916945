//! The [`StackJob`] that `install` and `join` place on their caller's stack, and the
//! [`Latch`] it sets when done (the latches themselves are the scheduler's, `sched/latch.rs`).
//!
//! # StackJob protocol
//!
//! The caller builds the job on its stack, queues a [`Task`](crate::task::slot::Task)
//! pointing at it, and does not leave the frame until the job's latch is set. The executor (a worker, a thief, or a
//! rejecter at shutdown):
//! 1. takes the closure, runs it under `catch_unwind` (or drops it, when rejecting);
//! 2. writes the result into the job;
//! 3. sets the latch — **point of no return**: the caller may return and pop the frame at
//!    once, so [`Latch::set`] copies out everything it needs before it publishes, and nothing
//!    touches the job after.

use crate::sync::UnsafeCell;
use crate::task::slot::{catch, drop_quietly, Discard, Discarded, Outcome, Payload, RawJob};

/// Something a job sets when it is done.
pub(crate) trait Latch {
    /// Publishes "done" and wakes whoever waits.
    ///
    /// # Safety
    /// `this` is valid on entry; the waiter may free it the moment the flag is published, so
    /// an implementation reads what it needs first and touches nothing of `*this` after.
    unsafe fn set(this: *const Self);
}

/// What a stack job ended with.
pub(crate) enum StackResult<R> {
    Pending,
    Done(R),
    Panicked(Payload),
    Rejected,
}

/// A job on its waiting caller's stack (module docs).
pub(crate) struct StackJob<L, F, R> {
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<StackResult<R>>,
    pub(crate) latch: L,
}

impl<L, F, R> StackJob<L, F, R>
where
    L: Latch,
    F: FnOnce() -> R + Send,
    R: Send,
{
    pub(crate) fn new(f: F, latch: L) -> Self {
        StackJob {
            func: UnsafeCell::new(Some(f)),
            result: UnsafeCell::new(StackResult::Pending),
            latch,
        }
    }

    /// Takes the closure: only the task's one consumer, or the owner before queueing.
    pub(crate) fn take_func(&self) -> Option<F> {
        // SAFETY: the closure slot belongs to whoever consumes the job's task (exactly one
        // party), or to the owner once it has taken the task back unrun.
        self.func.with_mut(|f| unsafe { (*f).take() })
    }

    /// Takes the closure back, unrun, from a job whose task its owner took back.
    ///
    /// # Safety
    /// Only the owner, after taking the job's task back unrun (so nobody else can reach the
    /// job and the closure is still in it).
    #[inline]
    pub(crate) unsafe fn take_func_unchecked(&self) -> F {
        // SAFETY: the caller's contract: the closure slot is the owner's, and full.
        self.func
            .with_mut(|f| unsafe { (*f).take().unwrap_unchecked() })
    }

    /// Takes the result, once the latch is set (or the owner ran the job itself).
    pub(crate) fn take_result(&self) -> StackResult<R> {
        // SAFETY: the executor's writes happened before the latch was set, which the caller
        // observed (or the caller is the executor); the job is ours again.
        self.result
            .with_mut(|r| unsafe { std::ptr::replace(r, StackResult::Pending) })
    }

    /// Steps 2 and 3 of the protocol.
    ///
    /// # Safety
    /// `this` is a live job whose closure the caller took; the job may be gone on return.
    unsafe fn finish(this: *const Self, result: StackResult<R>) {
        // SAFETY: the executor owns the job until the latch is set; the owner is waiting.
        unsafe { (*this).result.with_mut(|r| *r = result) };
        // SAFETY: `set` is the point of no return and touches nothing after publishing.
        unsafe { L::set(std::ptr::addr_of!((*this).latch)) };
    }
}

impl<L, F, R> RawJob for StackJob<L, F, R>
where
    L: Latch,
    F: FnOnce() -> R + Send,
    R: Send,
    L: Send,
{
    /// Part of a caller's wait (`install`) or of a running task (`join`), not a task of its own.
    const TRACKED: bool = false;
    /// Its owner waits for it: it always runs.
    const CANCELLABLE: bool = false;

    unsafe fn execute(this: *const Self) -> Outcome {
        // SAFETY: the owner does not leave the frame before the latch is set.
        let f = unsafe { (*this).take_func() }.expect("stack job executed twice");
        let (result, outcome) = match catch(f) {
            Ok(r) => (StackResult::Done(r), Outcome::Completed),
            Err(p) => (StackResult::Panicked(p), Outcome::Panicked(None)),
        };
        // SAFETY: we took the closure; `finish` is our last touch of the job.
        unsafe { Self::finish(this, result) };
        outcome
    }

    unsafe fn discard(this: *const Self, why: Discard) -> Discarded {
        debug_assert_eq!(why, Discard::Reject, "a stack job is only ever rejected");
        // SAFETY: as in `execute`.
        drop_quietly(unsafe { (*this).take_func() }, "a rejected job");
        // SAFETY: as in `execute`.
        unsafe { Self::finish(this, StackResult::Rejected) };
        Discarded::Reported
    }
}
