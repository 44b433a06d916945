//! Blocking a thread until a job is done: [`Signal`], and the [`StackJob`] that `install`
//! places on its caller's stack.
//!
//! # StackJob protocol
//!
//! The caller (not a worker of the pool) builds the job on its stack, queues a [`Task`]
//! pointing at it, and blocks on its thread's [`Signal`] until the job says it is done.
//! The executor (a worker, or a rejecter at shutdown):
//! 1. takes the closure, runs it under `catch_unwind` (or drops it, when rejecting);
//! 2. writes the result into the job;
//! 3. notifies the caller's signal — **point of no return**: the caller may return and pop
//!    the job's stack frame at once, so the job is not touched after step 3 starts.
//!
//! The signal therefore cannot live in the job: it is the caller's thread-local, which
//! outlives any one job, and it is notified while its lock is held, so the caller cannot see
//! `woken` and leave before the notifier is done with it.

use std::task::Wake;

use crate::sync::{thread_local, Condvar, Mutex, UnsafeCell};
use crate::task::{catch, Outcome, Payload, RawJob, Rejected, Task};

/// A one-slot wake signal for a blocked thread (the only lock is taken to block).
pub(crate) struct Signal {
    woken: Mutex<bool>,
    cvar: Condvar,
}

impl Signal {
    pub(crate) fn new() -> Self {
        Signal {
            woken: Mutex::new(false),
            cvar: Condvar::new(),
        }
    }

    /// Blocks until `notify` was called since the last `wait` returned.
    pub(crate) fn wait(&self) {
        let mut woken = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        while !*woken {
            woken = self.cvar.wait(woken).unwrap_or_else(|e| e.into_inner());
        }
        *woken = false;
    }

    /// Wakes the waiter; notifies while holding the lock (see the module docs).
    pub(crate) fn notify(&self) {
        let mut woken = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        *woken = true;
        self.cvar.notify_one();
        drop(woken);
    }
}

impl Wake for Signal {
    fn wake(self: std::sync::Arc<Self>) {
        self.notify();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.notify();
    }
}

thread_local! {
    /// The signal an outside thread blocks on in `install`.
    static THREAD_SIGNAL: Signal = Signal::new();
}

/// What a stack job ended with.
enum StackResult<R> {
    Pending,
    Done(R),
    Panicked(Payload),
    Rejected,
}

/// A job on its waiting caller's stack (module docs).
pub(crate) struct StackJob<'s, F, R> {
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<StackResult<R>>,
    signal: &'s Signal,
}

impl<'s, F, R> StackJob<'s, F, R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    /// Runs `f` through `queue`, blocking this thread until it has run (or was rejected).
    /// Returns `None` if the pool rejected it. A panic in `f` resumes here.
    pub(crate) fn run_and_wait(f: F, queue: impl FnOnce(Task)) -> Option<R> {
        THREAD_SIGNAL.with(|signal| {
            let job = StackJob {
                func: UnsafeCell::new(Some(f)),
                result: UnsafeCell::new(StackResult::Pending),
                signal,
            };
            // SAFETY: we block below until the job has run or been rejected (its signal), so
            // it outlives the task; the task is queued exactly once.
            let task = unsafe { Task::from_raw(&job as *const StackJob<'_, F, R>) };
            queue(task);
            signal.wait();
            let result = job.result.with_mut(|r| {
                // SAFETY: the signal was notified after the executor's last write (step 3),
                // and the executor never touches the job again.
                unsafe { std::ptr::replace(r, StackResult::Pending) }
            });
            match result {
                StackResult::Done(r) => Some(r),
                StackResult::Panicked(p) => std::panic::resume_unwind(p),
                StackResult::Rejected => None,
                StackResult::Pending => unreachable!("stack job signalled before finishing"),
            }
        })
    }

    fn finish(&self, result: StackResult<R>) {
        // SAFETY: the executor owns the job until it notifies (step 3); the caller is blocked.
        self.result.with_mut(|r| unsafe { *r = result });
        let signal = self.signal;
        // Point of no return: `self` may be gone once the caller wakes.
        signal.notify();
    }

    fn take_func(&self) -> F {
        // SAFETY: the executor owns the job (only one Task pointed at it and it is consumed).
        self.func
            .with_mut(|f| unsafe { (*f).take() })
            .expect("stack job executed twice")
    }
}

impl<F, R> RawJob for StackJob<'_, F, R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    unsafe fn execute(this: *const Self) -> Outcome {
        // SAFETY: the caller is blocked on the signal until `finish`, so the job is alive.
        let this = unsafe { &*this };
        let f = this.take_func();
        match catch(f) {
            Ok(r) => this.finish(StackResult::Done(r)),
            Err(p) => {
                this.finish(StackResult::Panicked(p));
                return Outcome::Panicked(None);
            }
        }
        Outcome::Completed
    }

    unsafe fn reject(this: *const Self) -> Rejected {
        // SAFETY: as in `execute`.
        let this = unsafe { &*this };
        drop(this.take_func());
        this.finish(StackResult::Rejected);
        Rejected::Reported
    }
}
