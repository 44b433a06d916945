//! What sits in the queues: a [`Task`], the one owner of a closure or a job.
//!
//! Every kind of work shares the one type, so every queue and every find-work path handles
//! them alike:
//! - a small `pool.spawn` closure (two words or less) — stored in the task itself, no
//!   allocation;
//! - `SpawnJob` — a larger `pool.spawn` closure, boxed and freed when it has run;
//! - [`SubmitCell`] — `pool.submit`: one allocation shared with the [`JoinHandle`], holding
//!   the closure, then the result, and the waiter (protocol in `join_handle.rs`);
//! - `StackJob` — `pool.install`: lives on the waiting caller's stack, which stays blocked
//!   until the job has run or was rejected, so it needs no allocation and may borrow.
//!
//! A task is consumed exactly once: by [`Task::run`] or, when the pool can no longer run it,
//! by [`Task::reject`] (also on drop, so a task dropped in a queue is never silently lost).

use std::any::Any;
use std::marker::PhantomData;
use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};
use std::panic::{catch_unwind, AssertUnwindSafe};

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
}

/// What rejecting a task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// A handle or a waiting caller now reports the rejection.
    Reported,
    /// A fire-and-forget task: nobody waits, so the pool must count and report it.
    Unobserved,
}

/// A job a task points at (boxed, reference-counted or on a caller's stack). The functions
/// take the raw pointer the task was made from, so they keep its full provenance — an `Arc`
/// or `Box` is rebuilt from exactly the pointer `into_raw` gave.
pub(crate) trait RawJob: Send {
    /// Runs the job (catching its panic) and releases it.
    ///
    /// # Safety
    /// `this` is the pointer the task was made from; called at most once, and the job is gone
    /// after.
    unsafe fn execute(this: *const Self) -> Outcome;

    /// Releases the job without running it: drops the closure, tells whoever waits.
    ///
    /// # Safety
    /// As for `execute`; exactly one of the two is called.
    unsafe fn reject(this: *const Self) -> Rejected;
}

/// Names a job a task points at: its address and its kind's vtable (see [`Task::is`]). A
/// vtable constant may exist at more than one address; a mismatch then only sends `join`
/// down its general path, which runs the job correctly too.
#[derive(Clone, Copy)]
pub(crate) struct TaskId(usize, &'static VTable);

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
    reject: unsafe fn(*mut Slot) -> Rejected,
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
    /// A fire-and-forget task: in place if the closure fits, else boxed.
    #[inline]
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(f: F) -> Task {
        // SAFETY: F is 'static, so it outlives any task.
        unsafe { Task::spawn_unchecked(f) }
    }

    /// [`Task::spawn`] for a closure that borrows.
    ///
    /// # Safety
    /// Everything `f` borrows must outlive the task's run or rejection (a scope guarantees it
    /// by waiting for all its tasks).
    #[inline]
    pub(crate) unsafe fn spawn_unchecked<F: FnOnce() + Send>(f: F) -> Task {
        if size_of::<F>() <= size_of::<Slot>() && align_of::<F>() <= align_of::<Slot>() {
            let mut slot = Slot::uninit();
            // SAFETY: F fits the slot in size and alignment (checked just above); the slot
            // now owns `f`, released by exactly one of InlineSpawn's run/reject.
            unsafe { slot.as_mut_ptr().cast::<F>().write(f) };
            Task {
                vtable: &InlineSpawn::<F>::VTABLE,
                slot,
            }
        } else {
            let job = Box::into_raw(Box::new(SpawnJob(f)));
            // SAFETY: a fresh Box pointer; `SpawnJob`'s execute/reject rebuild it once.
            unsafe { Task::from_raw(job) }
        }
    }

    /// A task whose result goes to the returned handle; one allocation for both.
    pub(crate) fn submit<F, T>(f: F) -> (Task, JoinHandle<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let cell = TaskArc::new(SubmitCell::new(f));
        let handle = JoinHandle::new(cell.clone());
        // SAFETY: the pointer carries one strong count, which `SubmitCell`'s execute/reject
        // give back with Arc::from_raw, exactly once.
        let task = unsafe { Task::from_raw(TaskArc::into_raw(cell)) };
        (task, handle)
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

    /// The pool cannot run this task any more.
    pub(crate) fn reject(self) -> Rejected {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: as in `run`.
        unsafe { (this.vtable.reject)(&mut this.slot) }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // A task dropped unrun (a queue torn down with work in it) is rejected, not leaked.
        // SAFETY: drop runs once, and `run`/`reject` never let a consumed task drop.
        unsafe {
            (self.vtable.reject)(&mut self.slot);
        }
    }
}

/// The vtable of a closure stored in place.
struct InlineSpawn<F>(PhantomData<F>);

impl<F: FnOnce() + Send> InlineSpawn<F> {
    const VTABLE: VTable = VTable {
        run: Self::run,
        reject: Self::reject,
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
    unsafe fn reject(slot: *mut Slot) -> Rejected {
        // SAFETY: the caller's contract; the closure is dropped in place, consuming the slot.
        unsafe { slot.cast::<F>().drop_in_place() };
        Rejected::Unobserved
    }
}

/// The vtable of a task that points at a [`RawJob`].
struct PointedJob<J>(PhantomData<J>);

impl<J: RawJob> PointedJob<J> {
    const VTABLE: VTable = VTable {
        run: Self::run,
        reject: Self::reject,
    };

    /// # Safety
    /// `slot` holds a `*const J` written by `Task::from_raw` and not yet consumed.
    unsafe fn run(slot: *mut Slot) -> Outcome {
        // SAFETY: the caller's contract, then J's own.
        unsafe { J::execute(slot.cast::<*const J>().read()) }
    }

    /// # Safety
    /// As for `run`.
    unsafe fn reject(slot: *mut Slot) -> Rejected {
        // SAFETY: as in `run`.
        unsafe { J::reject(slot.cast::<*const J>().read()) }
    }
}

/// A `pool.spawn` closure too large to store in place: boxed.
struct SpawnJob<F>(F);

impl<F: FnOnce() + Send> RawJob for SpawnJob<F> {
    unsafe fn execute(this: *const Self) -> Outcome {
        // SAFETY: `this` came from Box::into_raw in `Task::spawn` and is released once.
        let job = unsafe { Box::from_raw(this as *mut Self) };
        match catch_unwind(AssertUnwindSafe(job.0)) {
            Ok(()) => Outcome::Completed,
            Err(payload) => Outcome::Panicked(Some(payload)),
        }
    }

    unsafe fn reject(this: *const Self) -> Rejected {
        // SAFETY: as in `execute`.
        drop(unsafe { Box::from_raw(this as *mut Self) });
        Rejected::Unobserved
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
        assert_eq!(small.reject(), Rejected::Unobserved);
        let c = Counted(drops.clone());
        let big = [1u64; 8];
        let large = Task::spawn(move || drop((c, big)));
        drop(large);
        let (task, handle) = Task::submit(|| 5);
        drop(task);
        assert!(matches!(handle.join(), Err(crate::TaskError::Rejected)));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn panics_are_caught_in_every_kind() {
        let small = Task::spawn(|| panic!("small"));
        assert!(matches!(small.run(), Outcome::Panicked(Some(_))));
        let big = [0u8; 64];
        let large = Task::spawn(move || panic!("large {}", big.len()));
        assert!(matches!(large.run(), Outcome::Panicked(Some(_))));
        let (task, handle) = Task::submit(|| -> u8 { panic!("submitted") });
        assert!(matches!(task.run(), Outcome::Panicked(None)));
        assert!(handle.join().unwrap_err().is_panic());
    }

    #[test]
    fn a_submitted_task_delivers_its_value() {
        let (task, handle) = Task::submit(|| String::from("value"));
        assert!(!handle.is_finished());
        assert!(matches!(task.run(), Outcome::Completed));
        assert!(handle.is_finished());
        assert_eq!(handle.join().unwrap(), "value");
    }
}
