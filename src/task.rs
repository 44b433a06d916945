//! What sits in the queues: a [`Task`], one thin owner of a `dyn Job`.
//!
//! Three kinds of job share the one type, so every queue and every find-work path handles
//! them alike:
//! - [`SpawnJob`] — `pool.spawn`: a boxed closure, freed when it has run;
//! - [`SubmitCell`] — `pool.submit`: one allocation shared with the [`JoinHandle`], holding
//!   the closure, then the result, and the waiter (protocol in `join_handle.rs`);
//! - `StackJob` — `pool.install`: lives on the waiting caller's stack, which stays blocked
//!   until the job has run or was rejected, so it needs no allocation and may borrow.
//!
//! A task is consumed exactly once: by [`Task::run`] or, when the pool can no longer run it,
//! by [`Task::reject`] (also on drop, so a task dropped in a queue is never silently lost).

use std::any::Any;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use crate::join_handle::{JoinHandle, SubmitCell};
use crate::sync::TaskArc;

/// A panic payload.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// How running a task went, for the worker's counters and the panic handler.
pub(crate) enum Outcome {
    /// It ran and returned.
    Completed,
    /// It panicked; `Some` when no handle took the payload (fire-and-forget).
    Panicked(Option<Payload>),
    /// It never ran: cancelled before a worker picked it up.
    Cancelled,
}

/// What rejecting a task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// A handle or a waiting caller now reports the rejection.
    Reported,
    /// A fire-and-forget task: nobody waits, so the pool must count and report it.
    Unobserved,
}

/// The interface behind every task.
pub(crate) trait Job: Send {
    /// Runs the job (catching its panic) and releases it.
    ///
    /// # Safety
    /// Called at most once per job, through the `Task` that owns it; the job is gone after.
    unsafe fn execute(&self) -> Outcome;

    /// Releases the job without running it: drops the closure, tells whoever waits.
    ///
    /// # Safety
    /// As for `execute`; exactly one of the two is called.
    unsafe fn reject(&self) -> Rejected;
}

/// The unit every queue holds: owns one job until it is run or rejected.
pub(crate) struct Task(NonNull<dyn Job>);

// SAFETY: every job is Send (the trait's bound), and a Task is its only owner while queued.
unsafe impl Send for Task {}

impl Task {
    /// A fire-and-forget task.
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(f: F) -> Task {
        let job: Box<dyn Job> = Box::new(SpawnJob(f));
        Task(NonNull::from(Box::leak(job)))
    }

    /// A task whose result goes to the returned handle; one allocation for both.
    pub(crate) fn submit<F, T>(f: F) -> (Task, JoinHandle<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let cell = TaskArc::new(SubmitCell::new(f));
        let handle = JoinHandle::new(cell.clone());
        let raw: *const dyn Job = TaskArc::into_raw(cell);
        // SAFETY: Arc::into_raw never returns null; `SubmitCell::execute/reject` rebuild the
        // Arc from this pointer exactly once.
        (
            Task(unsafe { NonNull::new_unchecked(raw as *mut dyn Job) }),
            handle,
        )
    }

    /// A task pointing at a job on a caller's stack.
    ///
    /// # Safety
    /// The job must stay alive and in place until it has been executed or rejected (the caller
    /// blocks on its latch), and must not be enqueued twice.
    pub(crate) unsafe fn from_stack(job: &(dyn Job + '_)) -> Task {
        let ptr: NonNull<dyn Job + '_> = NonNull::from(job);
        // SAFETY: only the lifetime is erased; the caller promises the job outlives the task.
        Task(unsafe { std::mem::transmute::<NonNull<dyn Job + '_>, NonNull<dyn Job>>(ptr) })
    }

    /// Runs the task on this thread.
    #[inline]
    pub(crate) fn run(self) -> Outcome {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is the only owner and is not used (or dropped) again.
        unsafe { this.0.as_ref().execute() }
    }

    /// The pool cannot run this task any more.
    pub(crate) fn reject(self) -> Rejected {
        let this = ManuallyDrop::new(self);
        // SAFETY: as in `run`.
        unsafe { this.0.as_ref().reject() }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // A task dropped unrun (a queue torn down with work in it) is rejected, not leaked.
        // SAFETY: drop runs once and `run`/`reject` forget `self`, so this is the only release.
        unsafe {
            self.0.as_ref().reject();
        }
    }
}

/// `pool.spawn`'s job: the closure itself.
struct SpawnJob<F>(F);

impl<F: FnOnce() + Send> Job for SpawnJob<F> {
    unsafe fn execute(&self) -> Outcome {
        // SAFETY: the job was leaked from a Box in `Task::spawn` and is released once.
        let job = unsafe { Box::from_raw(self as *const Self as *mut Self) };
        match catch_unwind(AssertUnwindSafe(job.0)) {
            Ok(()) => Outcome::Completed,
            Err(payload) => Outcome::Panicked(Some(payload)),
        }
    }

    unsafe fn reject(&self) -> Rejected {
        // SAFETY: as in `execute`.
        drop(unsafe { Box::from_raw(self as *const Self as *mut Self) });
        Rejected::Unobserved
    }
}

/// Runs `f`, turning a panic into its payload.
#[inline]
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Payload> {
    catch_unwind(AssertUnwindSafe(f))
}
