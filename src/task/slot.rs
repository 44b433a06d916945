//! What sits in the queues: a [`Task`], the one owner of a closure or a job.
//!
//! Every kind of work shares the one type, so every queue and every find-work path handles
//! them alike:
//! - a small `pool.spawn` closure (two words or less) — stored in the task itself, no
//!   allocation;
//! - `SpawnJob` — a larger `pool.spawn` closure, boxed and freed when it has run;
//! - [`SubmitCell`](crate::task::cell::SubmitCell) — `pool.submit`: one allocation shared
//!   with the [`JoinHandle`](crate::JoinHandle), holding the closure, then the result, and
//!   the waiter (protocol in `cell.rs`);
//! - `StackJob` — `pool.install`: lives on the waiting caller's stack, which stays blocked
//!   until the job has run or was rejected, so it needs no allocation and may borrow.
//!
//! A task is consumed exactly once: by [`Task::run`], or without running by [`Task::discard`]
//! — rejected when the pool can no longer run it (also on drop, so a task dropped in a queue
//! is never silently lost), or cancelled by `shutdown_now`.
//!
//! Two properties of a task's kind, fixed in its vtable:
//! - **tracked**: counted in the metrics (submitted, completed, panicked, cancelled). Stack
//!   jobs are not: they are part of a caller's wait (`install`) or of a running task (`join`).
//! - **cancellable**: `shutdown_now` may discard it unrun. Scope tasks and stack jobs are not:
//!   an owner waits for them to finish, so they always run.

use std::any::Any;
use std::marker::PhantomData;
use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A panic payload.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// How running a task went, for the worker's counters and the panic handler.
pub(crate) enum Outcome {
    /// It ran and returned.
    Completed,
    /// It panicked; `Some` when no handle took the payload (fire-and-forget).
    Panicked(Option<Payload>),
    /// Its handle or token cancelled it before it started: nothing ran.
    Cancelled,
}

/// Why a task is consumed without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Discard {
    /// The pool is shut down and cannot run it (a handle reports `TaskError::Rejected`).
    Reject,
    /// `shutdown_now` cancels it (a handle reports `TaskError::Cancelled`).
    Cancel,
    /// The blocking lane has no thread to run it (`TaskError::NoBlockingLane`).
    NoLane,
}

/// What discarding a task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Discarded {
    /// A handle or a waiting caller now reports it.
    Reported,
    /// A fire-and-forget task: nobody waits, so the pool must count (and, for a rejection,
    /// report) it.
    Unobserved,
    /// Its handle or token had already cancelled it: count it as cancelled, whatever the
    /// reason given.
    AlreadyCancelled,
}

/// A job a task points at (boxed, reference-counted or on a caller's stack). The functions
/// take the raw pointer the task was made from, so they keep its full provenance — an `Arc`
/// or `Box` is rebuilt from exactly the pointer `into_raw` gave.
pub(crate) trait RawJob: Send {
    /// Counted in the metrics (see the module docs).
    const TRACKED: bool;
    /// May be discarded unrun by `shutdown_now` (see the module docs).
    const CANCELLABLE: bool;

    /// Runs the job (catching its panic) and releases it.
    ///
    /// # Safety
    /// `this` is the pointer the task was made from; called at most once, and the job is gone
    /// after.
    unsafe fn execute(this: *const Self) -> Outcome;

    /// Releases the job without running it: drops the closure, tells whoever waits why.
    ///
    /// # Safety
    /// As for `execute`; exactly one of the two is called.
    unsafe fn discard(this: *const Self, why: Discard) -> Discarded;
}

/// Names a job a task points at: its address and its kind's vtable (see [`Task::is`]). A
/// vtable constant may exist at more than one address; a mismatch then only sends `join`
/// down its general path, which runs the job correctly too.
#[derive(Clone, Copy)]
pub(crate) struct TaskId(usize, &'static VTable);

impl TaskId {
    /// True if both name the same job.
    #[cfg(test)]
    pub(crate) fn same(self, other: TaskId) -> bool {
        self.0 == other.0 && std::ptr::eq(self.1, other.1)
    }

    /// An id naming address `addr`, for tests that only compare and count ids.
    #[cfg(test)]
    pub(crate) fn for_tests(addr: usize) -> TaskId {
        TaskId(addr, &InlineSpawn::<fn(), true>::VTABLE)
    }
}

/// A task's storage: the closure itself, or a pointer to a heap or stack job. Sixteen bytes,
/// two words on 64-bit targets (an index plus an `Arc`, or two references, fit); a larger or
/// more aligned closure goes to the heap.
///
/// One 16-byte scalar rather than `[usize; 2]` on purpose: it makes a `Task` a pair of
/// scalars (vtable, slot), which the compiler copies as plain register stores. crossbeam's
/// deque writes its items with a volatile copy; a three-word struct is copied through a
/// 16-byte load of a stack temporary that was just written as two 8-byte stores, which the
/// CPU cannot forward (a store-forwarding stall on every push, about 4 ns per `join`).
type Slot = MaybeUninit<u128>;

/// What a task does with its slot; one static table per kind of task.
struct VTable {
    /// Consumes the slot by running it.
    run: unsafe fn(*mut Slot) -> Outcome,
    /// Consumes the slot without running it.
    discard: unsafe fn(*mut Slot, Discard) -> Discarded,
    /// Counted in the metrics (module docs).
    tracked: bool,
    /// May be discarded by `shutdown_now` (module docs).
    cancellable: bool,
}

/// The unit every queue holds: owns one closure or job until it is run or rejected.
///
/// A static vtable for the task's kind, and a 16-byte slot holding either the closure
/// itself or the job's raw pointer.
///
/// Small fire-and-forget closures live inside the task itself, so spawning them allocates
/// nothing: the deque moves the bytes, and the worker reads the closure out and calls it.
pub(crate) struct Task {
    vtable: &'static VTable,
    slot: Slot,
}

// SAFETY: a Task holds either a closure that is Send (`Task::spawn`'s bound) or a pointer to a
// job that is Send (the `RawJob` trait's bound), and it is that value's only owner while queued.
unsafe impl Send for Task {}

impl Task {
    /// A fire-and-forget task: in place if the closure fits, else boxed. Cancellable.
    #[inline]
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(f: F) -> Task {
        // SAFETY: F is 'static, so it outlives any task.
        unsafe { Task::spawn_unchecked::<F, true>(f) }
    }

    /// A fire-and-forget task for a closure that borrows (a scope's task); `CANCELLABLE`
    /// false when an owner counts on it running.
    ///
    /// # Safety
    /// Everything `f` borrows must outlive the task's run or discard (a scope guarantees it
    /// by waiting for all its tasks).
    #[inline]
    pub(crate) unsafe fn spawn_unchecked<F: FnOnce() + Send, const CANCELLABLE: bool>(
        f: F,
    ) -> Task {
        if size_of::<F>() <= size_of::<Slot>() && align_of::<F>() <= align_of::<Slot>() {
            let mut slot = Slot::uninit();
            // SAFETY: F fits the slot in size and alignment (checked just above); the slot
            // now owns `f`, released by exactly one of InlineSpawn's run/discard.
            unsafe { slot.as_mut_ptr().cast::<F>().write(f) };
            Task {
                vtable: &InlineSpawn::<F, CANCELLABLE>::VTABLE,
                slot,
            }
        } else {
            let job = Box::into_raw(Box::new(SpawnJob::<F, CANCELLABLE>(f)));
            // SAFETY: a fresh Box pointer; `SpawnJob`'s execute/discard rebuild it once.
            unsafe { Task::from_raw(job) }
        }
    }

    /// A task that owns the job behind `job` until it runs or is rejected.
    ///
    /// # Safety
    /// `job` must satisfy `J`'s `RawJob` contract until one of its functions consumes it (for a
    /// stack job: the caller blocks until then), and must not be enqueued twice.
    pub(crate) unsafe fn from_raw<J: RawJob>(job: *const J) -> Task {
        let mut slot = Slot::uninit();
        // SAFETY: a thin pointer is one word: within the slot, and word-aligned.
        unsafe { slot.as_mut_ptr().cast::<*const J>().write(job) };
        Task {
            vtable: &PointedJob::<J>::VTABLE,
            slot,
        }
    }

    /// True if this task points at the job `id` names: lets `join` recognise its own half
    /// when it pops it back.
    #[inline]
    pub(crate) fn is(&self, id: TaskId) -> bool {
        // Compare the kind first: only then is the slot known to hold a job pointer (an
        // inline closure's bytes may include uninitialised padding and must not be read).
        std::ptr::eq(self.vtable, id.1)
            // SAFETY: same vtable, so the slot holds a `*const J` written by
            // `from_raw`: its first word is an initialised pointer, read as an integer.
            && unsafe { self.slot.as_ptr().cast::<usize>().read() } == id.0
    }

    /// The id a task made by `from_raw(job)` has.
    #[inline]
    pub(crate) fn id_of<J: RawJob>(job: *const J) -> TaskId {
        TaskId(job as usize, &PointedJob::<J>::VTABLE)
    }

    /// The task `from_raw(job)` makes, rebuilt from `Task::id_of(job)`: a join's private
    /// half being promoted (`sched/heartbeat.rs`).
    ///
    /// # Safety
    /// `id` came from `Task::id_of(job)`, `job` meets `from_raw`'s contract, and no other task
    /// for it exists (it is queued once).
    #[inline]
    pub(crate) unsafe fn from_id(id: TaskId) -> Task {
        let mut slot = Slot::uninit();
        // The job's address was exposed by `id_of`'s cast; this cast takes that provenance
        // back, so the pointer `run` reads out of the slot may be used.
        let job = id.0 as *const ();
        // SAFETY: a thin pointer is one word: within the slot, and word-aligned.
        unsafe { slot.as_mut_ptr().cast::<*const ()>().write(job) };
        Task { vtable: id.1, slot }
    }

    /// The owner of a stack job takes its own task back unrun, to run the closure inline.
    #[inline]
    pub(crate) fn take_back(self) {
        std::mem::forget(self);
    }

    /// Runs the task on this thread.
    #[inline]
    pub(crate) fn run(self) -> Outcome {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` owns the slot's value, gives it to `run`, and is never dropped.
        unsafe { (this.vtable.run)(&mut this.slot) }
    }

    /// Consumes the task without running it.
    pub(crate) fn discard(self, why: Discard) -> Discarded {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: as in `run`.
        unsafe { (this.vtable.discard)(&mut this.slot, why) }
    }

    /// Counted in the metrics (module docs).
    #[inline]
    pub(crate) fn is_tracked(&self) -> bool {
        self.vtable.tracked
    }

    /// May be discarded by `shutdown_now` (module docs).
    #[inline]
    pub(crate) fn is_cancellable(&self) -> bool {
        self.vtable.cancellable
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // A task dropped unrun (a queue torn down with work in it) is rejected, not leaked.
        // SAFETY: drop runs once, and `run`/`discard` never let a consumed task drop.
        unsafe {
            (self.vtable.discard)(&mut self.slot, Discard::Reject);
        }
    }
}

/// The vtable of a closure stored in place.
struct InlineSpawn<F, const CANCELLABLE: bool>(PhantomData<F>);

impl<F: FnOnce() + Send, const CANCELLABLE: bool> InlineSpawn<F, CANCELLABLE> {
    const VTABLE: VTable = VTable {
        run: Self::run,
        discard: Self::discard,
        tracked: true,
        cancellable: CANCELLABLE,
    };

    /// # Safety
    /// `slot` holds an F written by `Task::spawn` and not yet consumed.
    unsafe fn run(slot: *mut Slot) -> Outcome {
        // SAFETY: the caller's contract; reading moves the closure out, consuming the slot.
        let f = unsafe { slot.cast::<F>().read() };
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => Outcome::Completed,
            Err(payload) => Outcome::Panicked(Some(payload)),
        }
    }

    /// # Safety
    /// As for `run`.
    unsafe fn discard(slot: *mut Slot, _why: Discard) -> Discarded {
        // SAFETY: the caller's contract; reading moves the closure out, consuming the slot.
        drop_quietly(unsafe { slot.cast::<F>().read() }, "a task discarded unrun");
        Discarded::Unobserved
    }
}

/// The vtable of a task that points at a [`RawJob`].
struct PointedJob<J>(PhantomData<J>);

impl<J: RawJob> PointedJob<J> {
    const VTABLE: VTable = VTable {
        run: Self::run,
        discard: Self::discard,
        tracked: J::TRACKED,
        cancellable: J::CANCELLABLE,
    };

    /// # Safety
    /// `slot` holds a `*const J` written by `Task::from_raw` and not yet consumed.
    unsafe fn run(slot: *mut Slot) -> Outcome {
        // SAFETY: the caller's contract, then J's own.
        unsafe { J::execute(slot.cast::<*const J>().read()) }
    }

    /// # Safety
    /// As for `run`.
    unsafe fn discard(slot: *mut Slot, why: Discard) -> Discarded {
        // SAFETY: as in `run`.
        unsafe { J::discard(slot.cast::<*const J>().read(), why) }
    }
}

/// A `pool.spawn` closure too large to store in place: boxed.
struct SpawnJob<F, const CANCELLABLE: bool>(F);

impl<F: FnOnce() + Send, const CANCELLABLE: bool> RawJob for SpawnJob<F, CANCELLABLE> {
    const TRACKED: bool = true;
    const CANCELLABLE: bool = CANCELLABLE;

    unsafe fn execute(this: *const Self) -> Outcome {
        // SAFETY: `this` came from Box::into_raw in `Task::spawn` and is released once.
        let job = unsafe { Box::from_raw(this as *mut Self) };
        match catch_unwind(AssertUnwindSafe(job.0)) {
            Ok(()) => Outcome::Completed,
            Err(payload) => Outcome::Panicked(Some(payload)),
        }
    }

    unsafe fn discard(this: *const Self, _why: Discard) -> Discarded {
        // SAFETY: as in `execute`.
        drop_quietly(
            unsafe { Box::from_raw(this as *mut Self) },
            "a task discarded unrun",
        );
        Discarded::Unobserved
    }
}

/// Two results of work that has *all finished*: both values, or the first panic resumed
/// (`a`'s before `b`'s) — the panic rule of `join` and `scope`.
pub(crate) fn both<A, B>(a: Result<A, Payload>, b: Result<B, Payload>) -> (A, B) {
    match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(p), _) | (_, Err(p)) => std::panic::resume_unwind(p),
    }
}

/// Runs `f`, turning a panic into its payload.
#[inline]
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Payload> {
    catch_unwind(AssertUnwindSafe(f))
}

/// Drops a user value — a closure discarded unrun, a panic payload — on a path that must
/// not unwind (a worker's loop, a canceller that still has to complete the handle, a
/// token's list). A panic in its `Drop` is reported on stderr; that panic's own payload is
/// leaked, since dropping it could panic again.
pub(crate) fn drop_quietly<V>(value: V, what: &str) {
    if let Err(payload) = catch(move || drop(value)) {
        eprintln!(
            "corepool: {what} panicked while being dropped: {}",
            crate::error::panic_message(&*payload)
        );
        std::mem::forget(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A capture whose drop is counted, so every path must release it exactly once.
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn inline_and_boxed_closures_run_once_and_release_their_captures() {
        let drops = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        // Small: one Arc + one Counted (two words) — stored in place.
        let (c, r) = (Counted(drops.clone()), ran.clone());
        let small = Task::spawn(move || {
            let _keep = &c;
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert!(matches!(small.run(), Outcome::Completed));
        // Large: 64 bytes of capture — boxed.
        let (c, r, big) = (Counted(drops.clone()), ran.clone(), [7u64; 8]);
        let large = Task::spawn(move || {
            let _keep = &c;
            r.fetch_add(big.iter().sum::<u64>() as usize, Ordering::SeqCst);
        });
        assert!(matches!(large.run(), Outcome::Completed));
        assert_eq!(ran.load(Ordering::SeqCst), 1 + 56);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn rejected_and_dropped_tasks_release_without_running() {
        let drops = Arc::new(AtomicUsize::new(0));
        let c = Counted(drops.clone());
        let small = Task::spawn(move || drop(c));
        assert_eq!(small.discard(Discard::Reject), Discarded::Unobserved);
        let c = Counted(drops.clone());
        let big = [1u64; 8];
        let large = Task::spawn(move || drop((c, big)));
        drop(large);
        let (task, handle) = Task::submit(|| 5, None);
        drop(task);
        assert!(matches!(handle.join(), Err(crate::TaskError::Rejected)));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    /// Panics when dropped (unless already unwinding), after counting the drop.
    struct PanicsOnDrop(Arc<AtomicUsize>);
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            if !std::thread::panicking() {
                panic!("capture dropped");
            }
        }
    }

    #[test]
    fn a_capture_that_panics_when_discarded_does_not_unwind() {
        let drops = Arc::new(AtomicUsize::new(0));
        let c = PanicsOnDrop(drops.clone());
        let small = Task::spawn(move || drop(c));
        assert_eq!(small.discard(Discard::Cancel), Discarded::Unobserved);
        let (c, big) = (PanicsOnDrop(drops.clone()), [1u64; 8]);
        let large = Task::spawn(move || drop((c, big)));
        drop(large);
        let c = PanicsOnDrop(drops.clone());
        let (task, handle) = Task::submit(move || drop(c), None);
        assert_eq!(task.discard(Discard::Cancel), Discarded::Reported);
        assert!(matches!(handle.join(), Err(crate::TaskError::Cancelled)));
        let c = PanicsOnDrop(drops.clone());
        let (task, handle) = Task::submit(move || drop(c), None);
        assert!(handle.cancel());
        assert!(matches!(task.run(), Outcome::Cancelled));
        assert!(matches!(handle.join(), Err(crate::TaskError::Cancelled)));
        assert_eq!(drops.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn panics_are_caught_in_every_kind() {
        let small = Task::spawn(|| panic!("small"));
        assert!(matches!(small.run(), Outcome::Panicked(Some(_))));
        let big = [0u8; 64];
        let large = Task::spawn(move || panic!("large {}", big.len()));
        assert!(matches!(large.run(), Outcome::Panicked(Some(_))));
        let (task, handle) = Task::submit(|| -> u8 { panic!("submitted") }, None);
        assert!(matches!(task.run(), Outcome::Panicked(None)));
        assert!(handle.join().unwrap_err().is_panic());
    }

    #[test]
    fn a_submitted_task_delivers_its_value() {
        let (task, handle) = Task::submit(|| String::from("value"), None);
        assert!(!handle.is_finished());
        assert!(matches!(task.run(), Outcome::Completed));
        assert!(handle.is_finished());
        assert_eq!(handle.join().unwrap(), "value");
    }
}
