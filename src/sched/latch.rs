//! Waiting for a job: latches, and the [`StackJob`] that `install` and `join` place on their
//! caller's stack.
//!
//! # StackJob protocol
//!
//! The caller builds the job on its stack, queues a [`Task`](crate::task::slot::Task) pointing at it, and does not
//! leave the frame until the job's latch is set. The executor (a worker, a thief, or a
//! rejecter at shutdown):
//! 1. takes the closure, runs it under `catch_unwind` (or drops it, when rejecting);
//! 2. writes the result into the job;
//! 3. sets the latch — **point of no return**: the caller may return and pop the frame at
//!    once, so [`Latch::set`] copies out everything it needs before it publishes, and nothing
//!    touches the job after.
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
//!   (`sleep.rs`, final recheck) looks at the latch, so the same Dekker argument as for work applies:
//!   either the owner's recheck sees `SET`, or the setter's scan sees the owner asleep.

use std::task::Wake;

use crate::sched::registry::Registry;
use crate::sync::{fence, thread_local, AtomicUsize, Condvar, Mutex, Ordering, UnsafeCell};
use crate::task::slot::{catch, Discard, Discarded, Outcome, Payload, RawJob};

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
    registry: crate::sync::Arc<Registry>,
}

impl FlagWaker {
    pub(crate) fn new(owner: usize, registry: crate::sync::Arc<Registry>) -> Self {
        FlagWaker {
            set: AtomicUsize::new(UNSET),
            owner,
            registry,
        }
    }

    /// Re-arms the flag before the next poll.
    pub(crate) fn reset(&self) {
        // ORDERING: Relaxed: the poll that follows is an AcqRel RMW on the task's state.
        self.set.store(UNSET, Ordering::Relaxed);
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
        fence(Ordering::SeqCst);
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

/// Something a job sets when it is done.
pub(crate) trait Latch {
    /// Publishes "done" and wakes whoever waits.
    ///
    /// # Safety
    /// `this` is valid on entry; the waiter may free it the moment the flag is published, so
    /// an implementation reads what it needs first and touches nothing of `*this` after.
    unsafe fn set(this: *const Self);
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
        crate::task::slot::drop_quietly(unsafe { (*this).take_func() }, "a rejected job");
        // SAFETY: as in `execute`.
        unsafe { Self::finish(this, StackResult::Rejected) };
        Discarded::Reported
    }
}
