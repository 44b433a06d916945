//! `scope`: spawn tasks that borrow from the caller's stack.
//!
//! # Protocol
//!
//! A [`Scope`] lives on the stack of the worker that opened it and counts what is still
//! running in `pending`: 1 for the scope's body, plus 1 per spawned task not yet finished.
//!
//! 1. `spawn` adds 1 (Relaxed: the spawner is itself counted — the body or a running task —
//!    so `pending` cannot reach 0 meanwhile), then queues the task (own deque when on a
//!    worker of the pool).
//! 2. A finished task (or the body) subtracts 1 (AcqRel). Whoever brings it to 0 sets the
//!    scope's [`WorkerLatch`] — **point of no return**: the owner may then return and pop
//!    the scope's frame, so nothing touches the scope after.
//! 3. The owner, after its body, helps (`wait_until`) until the latch is set, then resumes
//!    the first panic recorded (body or tasks), if any.
//!
//! The owner's frame outlives every task: step 3 returns only after the last task's step 2,
//! and panics are caught until then. That is what makes the `'scope` borrows sound, and why
//! spawning erases the closure's lifetime.

use std::marker::PhantomData;

use crate::sched::latch::WorkerLatch;
use crate::sched::worker::WorkerThread;
use crate::sync::{AtomicUsize, Mutex, Ordering};
use crate::task::job::Latch;
use crate::task::slot::{both, catch, Payload, Task};

/// A scope for spawning tasks that may borrow anything that outlives it; see [`scope`].
///
/// ```
/// let pool = corepool::Pool::new();
/// let mut halves = [0u64; 2];
/// let data: Vec<u64> = (1..=100).collect();
/// pool.scope(|s| {
///     let (left, right) = halves.split_at_mut(1);
///     let (a, b) = data.split_at(50);
///     s.spawn(move |_| left[0] = a.iter().sum());
///     s.spawn(move |_| right[0] = b.iter().sum());
/// });
/// assert_eq!(halves[0] + halves[1], 5050);
/// ```
pub struct Scope<'scope> {
    pending: AtomicUsize,
    panic: Mutex<Option<Payload>>,
    latch: WorkerLatch<'scope>,
    registry: &'scope crate::sched::registry::Registry,
    /// Invariant in `'scope`, as borrows into the scope require.
    _marker: PhantomData<&'scope mut &'scope ()>,
}

impl<'scope> Scope<'scope> {
    /// Spawns `f` into the scope: it may borrow anything that outlives the scope, and the
    /// scope does not return before it has finished. `f` gets the scope, to spawn more.
    ///
    /// A panic in `f` is held until every task of the scope has finished, then resumed by
    /// [`scope`].
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let count = AtomicUsize::new(0);
    /// pool.scope(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn(|s| {
    ///             count.fetch_add(1, Ordering::Relaxed);
    ///             s.spawn(|_| { count.fetch_add(1, Ordering::Relaxed); });
    ///         });
    ///     }
    /// });
    /// assert_eq!(count.load(Ordering::Relaxed), 8);
    /// ```
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        // Step 1. ORDERING: Relaxed: the caller is counted, so this cannot race to 0.
        self.pending.fetch_add(1, Ordering::Relaxed);
        let scope = ScopePtr(self as *const Scope<'scope>);
        let job = move || {
            let scope = scope;
            // SAFETY: the scope outlives its tasks (module docs: the owner waits for this
            // task's step 2 before leaving the frame).
            let this = unsafe { &*scope.0 };
            if let Err(payload) = catch(|| f(this)) {
                this.record_panic(payload);
            }
            // SAFETY: `this` is not used after; step 2 may free the scope.
            unsafe { Scope::complete_one(scope.0) };
        };
        // SAFETY: the closure borrows for 'scope only, and the scope's owner does not return
        // before the closure has run (module docs). Not cancellable: the owner counts on it.
        let task = unsafe { Task::spawn_unchecked::<_, false>(job) };
        self.registry.push_insider(task);
    }

    fn record_panic(&self, payload: Payload) {
        let mut first = self.panic.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(payload);
        } else {
            // Only the first is resumed; a later payload may panic when dropped.
            drop(first);
            crate::task::slot::drop_quietly(payload, "a scope task's later panic payload");
        }
    }

    /// Step 2.
    ///
    /// # Safety
    /// `this` is a live scope this caller is counted in; the scope may be gone on return.
    unsafe fn complete_one(this: *const Self) {
        // SAFETY: live on entry (the caller's count keeps it so).
        let pending = unsafe { &(*this).pending };
        // ORDERING: AcqRel: Release publishes this task's writes; the last one Acquires all
        // the others' before it sets the latch, whose Release hands them to the owner.
        if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: the count is 0 but the owner still waits on the latch, which `set`
            // reads before publishing; nothing is touched after.
            unsafe { WorkerLatch::set(std::ptr::addr_of!((*this).latch)) };
        }
    }
}

/// A scope pointer a task may carry to another thread.
#[derive(Clone, Copy)]
struct ScopePtr<'scope>(*const Scope<'scope>);

// SAFETY: a Scope is Sync (atomics and a mutex), and the pointer is only dereferenced while
// the scope is alive (module docs).
unsafe impl Send for ScopePtr<'_> {}

/// Opens a scope on the current worker: `f` may [`spawn`](Scope::spawn) tasks that borrow
/// from the caller's stack; `scope` returns `f`'s value once every spawned task (nested ones
/// too) has finished, helping run them meanwhile.
///
/// # Panics
///
/// Outside a corepool worker (use [`Pool::scope`](crate::Pool::scope) from anywhere). If `f`
/// or any task panics, the first panic is resumed after all have finished.
///
/// ```
/// let pool = corepool::Pool::new();
/// let words = ["a", "bb", "ccc"];
/// let total = pool.install(|| {
///     let mut lens = [0; 3];
///     corepool::scope(|s| {
///         for (len, w) in lens.iter_mut().zip(&words) {
///             s.spawn(move |_| *len = w.len());
///         }
///     });
///     lens.iter().sum::<usize>()
/// });
/// assert_eq!(total, 6);
/// ```
pub fn scope<'scope, F, R>(f: F) -> R
where
    F: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    WorkerThread::with_current(|worker| match worker {
        Some(worker) => scope_on(worker, f),
        None => panic!(
            "corepool::scope called outside a corepool worker; \
             use Pool::scope on the pool you mean"
        ),
    })
}

fn scope_on<'scope, F, R>(worker: &WorkerThread, f: F) -> R
where
    F: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    // The registry outlives this call: this thread is one of its workers.
    let registry: &crate::sched::registry::Registry = worker.registry();
    // SAFETY: extending to 'scope is sound because the scope, and every task holding it, is
    // finished before this function returns (module docs, step 3).
    let registry: &'scope crate::sched::registry::Registry =
        unsafe { &*(registry as *const crate::sched::registry::Registry) };
    let scope = Scope {
        pending: AtomicUsize::new(1),
        panic: Mutex::new(None),
        latch: WorkerLatch::new(worker.index(), registry),
        registry,
        _marker: PhantomData,
    };
    let body = catch(|| f(&scope));
    // SAFETY: the body's own count; the scope lives on (we wait below).
    unsafe { Scope::complete_one(&scope) };
    // Step 3.
    worker.wait_until(&scope.latch);
    let task_panic = scope.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    both(body, task_panic.map_or(Ok(()), Err)).0
}
