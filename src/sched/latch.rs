//! Waiting for a job: the latches a [`StackJob`] (`task/job.rs`) is set through, and the
//! signal an outside thread blocks on.
//!
//! # Latches
//!
//! - [`ThreadLatch`]: for a thread outside the pool; it blocks on its thread-local [`Signal`],
//!   which outlives any one job, notified while its lock is held.
//! - [`WorkerLatch`]: for a worker that waits while running other tasks (`join`, `scope`).
//! - [`CrossLatch`]: for a worker that waits, helping its own pool, on a job it queued on
//!   another pool; it keeps its waker alive by reference count, since the setter belongs to
//!   the other pool.
//!   `set` stores `SET`, fences, and wakes the owner if it sleeps; the owner's sleep recheck
//!   (`sleep.rs`, final recheck) looks at the latch, so the same Dekker argument as for work
//!   applies: either the owner's recheck sees `SET`, or the setter's scan sees the owner
//!   asleep.

use std::mem::ManuallyDrop;
use std::task::Wake;

use crate::sched::registry::Registry;
use crate::sync::{fence, thread_local, AtomicUsize, Condvar, Mutex, Ordering};
use crate::task::job::{Latch, StackJob, StackResult};

/// What a helping worker waits on: `wait_until` runs other tasks until `probe` is true, and
/// the sleep recheck looks at it. Whoever makes it true must then fence and wake the owner
/// (as [`WorkerLatch`] and [`FlagWaker`] do).
pub(crate) trait Probe {
    /// True once the wait is over; Acquire, so the result is visible.
    fn probe(&self) -> bool;
}

impl Probe for WorkerLatch<'_> {
    #[inline]
    fn probe(&self) -> bool {
        WorkerLatch::probe(self)
    }
}

/// A waker for a worker that helps while it waits on a [`JoinHandle`](crate::JoinHandle):
/// `wake` sets the flag, fences, and wakes the owner if it sleeps.
pub(crate) struct FlagWaker {
    set: AtomicUsize,
    owner: usize,
    registry: ManuallyDrop<crate::sync::Arc<Registry>>,
}

impl FlagWaker {
    pub(crate) fn new(owner: usize, registry: crate::sync::Arc<Registry>) -> Self {
        FlagWaker {
            set: AtomicUsize::new(UNSET),
            owner,
            registry: ManuallyDrop::new(registry),
        }
    }

    /// Re-arms the flag before the next poll.
    pub(crate) fn reset(&self) {
        // ORDERING: Relaxed: the poll that follows is an AcqRel RMW on the task's state.
        self.set.store(UNSET, Ordering::Relaxed);
    }
}

impl Drop for FlagWaker {
    fn drop(&mut self) {
        // A failed loom model unwinds outside its execution, where touching a loom object
        // panics again and aborts the test run: leak the registry then (as `Pool` does, and
        // under shuttle too).
        #[cfg(any(corepool_loom, corepool_shuttle))]
        if std::thread::panicking() {
            return;
        }
        // SAFETY: dropped exactly once, here, and never used after.
        unsafe { ManuallyDrop::drop(&mut self.registry) };
    }
}

impl Probe for FlagWaker {
    fn probe(&self) -> bool {
        // ORDERING: Acquire pairs with the Release store in `wake_by_ref`.
        self.set.load(Ordering::Acquire) == SET
    }
}

impl Wake for FlagWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        // ORDERING: Release publishes the completion to the owner's Acquire probe.
        self.set.store(SET, Ordering::Release);
        // ORDERING: pairs with the sleeper's fence (`sleep.rs`), as in `WorkerLatch::set`.
        // (A loom negative control can drop it.)
        if !self.registry.seeded_bugs.flag_wake_without_fence() {
            fence(Ordering::SeqCst);
        }
        self.registry.wake_worker(self.owner);
    }
}

/// The latch of a worker that waits, helping its own pool, for a job it queued on *another*
/// pool (`install`, `join`, `scope` across pools). The setter is a worker of that other pool,
/// which holds no reference to the waiter's pool: the latch keeps the waiter's [`FlagWaker`]
/// (and through it the waiter's registry) alive in an `Arc` the setter clones before it
/// publishes, so the waiter may return and its pool be freed meanwhile.
pub(crate) struct CrossLatch(std::sync::Arc<FlagWaker>);

impl CrossLatch {
    pub(crate) fn new(owner: usize, registry: crate::sync::Arc<Registry>) -> Self {
        CrossLatch(std::sync::Arc::new(FlagWaker::new(owner, registry)))
    }
}

impl Probe for CrossLatch {
    fn probe(&self) -> bool {
        self.0.probe()
    }
}

impl Latch for CrossLatch {
    unsafe fn set(this: *const Self) {
        // SAFETY: valid on entry. The clone is taken before anything is published, and owns
        // what `wake_by_ref` touches after its Release store (the point of no return).
        let waker = unsafe { std::sync::Arc::clone(&(*this).0) };
        waker.wake_by_ref();
    }
}

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

/// The latch of a thread outside the pool: its thread-local signal.
pub(crate) struct ThreadLatch<'s>(&'s Signal);

impl<'s> ThreadLatch<'s> {
    /// A latch that notifies `signal`.
    pub(crate) fn new(signal: &'s Signal) -> Self {
        ThreadLatch(signal)
    }
}

/// Calls `f` with the calling thread's signal (the one `install` from outside blocks on): an
/// outside thread's in-place scope waits on it (`scope.rs`).
pub(crate) fn with_thread_signal<R>(f: impl FnOnce(&Signal) -> R) -> R {
    THREAD_SIGNAL.with(f)
}

impl Latch for ThreadLatch<'_> {
    unsafe fn set(this: *const Self) {
        // SAFETY: valid on entry (the contract); the signal itself is thread-local to the
        // blocked caller and outlives the job, so using it after this read is fine.
        let signal = unsafe { (*this).0 };
        signal.notify();
    }
}

const UNSET: usize = 0;
const SET: usize = 1;

/// The latch of a worker that helps while it waits (`join`, `scope`).
pub(crate) struct WorkerLatch<'r> {
    state: AtomicUsize,
    owner: usize,
    registry: &'r Registry,
}

impl<'r> WorkerLatch<'r> {
    pub(crate) fn new(owner: usize, registry: &'r Registry) -> Self {
        WorkerLatch {
            state: AtomicUsize::new(UNSET),
            owner,
            registry,
        }
    }

    /// True once set; the job's writes are then visible.
    #[inline]
    pub(crate) fn probe(&self) -> bool {
        // ORDERING: Acquire pairs with the Release store in `set`.
        self.state.load(Ordering::Acquire) == SET
    }
}

impl Latch for WorkerLatch<'_> {
    unsafe fn set(this: *const Self) {
        // SAFETY: valid on entry. Read everything before publishing: the owner may return and
        // pop the latch's frame as soon as it sees SET. The registry outlives the latch (the
        // setter runs on one of its workers).
        let (owner, registry) = unsafe { ((*this).owner, (*this).registry) };
        // SAFETY: still valid: nothing is published yet.
        let state = unsafe { &(*this).state };
        // ORDERING: Release publishes the job's result to the owner's Acquire probe.
        // Point of no return.
        state.store(SET, Ordering::Release);
        // ORDERING: pairs with the sleeper's fence (`sleep.rs`): the owner's recheck sees SET, or
        // this wake sees the owner asleep. (A loom negative control can drop it.)
        if !registry.seeded_bugs.latch_set_without_fence() {
            fence(Ordering::SeqCst);
        }
        registry.wake_worker(owner);
    }
}

impl<F, R> StackJob<ThreadLatch<'_>, F, R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    /// Runs `f` through `queue` from a thread outside the pool, blocking until it has run
    /// (or was rejected). Returns `None` if the pool rejected it; a panic in `f` resumes here.
    pub(crate) fn run_and_wait(f: F, queue: impl FnOnce(crate::task::slot::Task)) -> Option<R> {
        THREAD_SIGNAL.with(|signal| {
            let job = StackJob::new(f, ThreadLatch(signal));
            // SAFETY: we block below until the job has run or been rejected (its latch), so it
            // outlives the task; the task is queued exactly once.
            let task =
                unsafe { crate::task::slot::Task::from_raw(&job as *const StackJob<_, F, R>) };
            queue(task);
            signal.wait();
            match job.take_result() {
                StackResult::Done(r) => Some(r),
                StackResult::Panicked(p) => std::panic::resume_unwind(p),
                StackResult::Rejected => None,
                StackResult::Pending => unreachable!("stack job signalled before finishing"),
            }
        })
    }
}
