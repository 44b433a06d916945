//! `scope`: spawn tasks that borrow from the caller's stack.
//!
//! # Protocol
//!
//! A [`Scope`] lives on the stack of the thread that opened it and counts what is still
//! running in `pending`: 1 for the scope's body, plus 1 per spawned task not yet finished.
//!
//! 1. `spawn` adds 1 (Relaxed: the spawner is itself counted — the body or a running task —
//!    so `pending` cannot reach 0 meanwhile), then queues the task (own deque when on a
//!    worker of the pool, else the injector).
//! 2. A finished task (or the body) subtracts 1 (AcqRel). A task dropped unrun (queued from
//!    outside into a pool that then shut down and rejected it) records a panic saying so,
//!    then subtracts its 1 the same way: the scope ends instead of waiting for it forever.
//!    Whoever brings it to 0 sets the scope's latch — **point of no return**: the owner may
//!    then return and pop the scope's frame, so nothing touches the scope after.
//! 3. The owner, after its body, waits until the latch is set, then resumes the first panic
//!    recorded (body or tasks), if any. An owner on one of the pool's workers helps
//!    (`wait_until`, a [`WorkerLatch`]); an owner on any other thread — an in-place scope
//!    ([`in_place_scope`], [`Pool::in_place_scope`](crate::Pool::in_place_scope)) opened off
//!    the pool — blocks on its thread's signal (a [`ThreadLatch`]).
//!
//! The owner's frame outlives every task: step 3 returns only after the last task's step 2,
//! and panics are caught until then. That is what makes the `'scope` borrows sound, and why
//! spawning erases the closure's lifetime. A task's closure is dropped (run or not) before
//! its step 2, so nothing it captured outlives the frame either.

use std::marker::PhantomData;

use crate::pool::Pool;
use crate::sched::latch::{with_thread_signal, Signal, ThreadLatch, WorkerLatch};
use crate::sched::registry::Registry;
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
    latch: ScopeLatch<'scope>,
    registry: &'scope Registry,
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
        let task = self.task(f);
        self.registry.push_insider(task);
    }

    /// The pool this scope's tasks run on.
    pub(crate) fn registry(&self) -> &'scope Registry {
        self.registry
    }

    /// Step 1 for `f`: counted in the scope, as a task not yet queued.
    pub(crate) fn task<F>(&self, f: F) -> Task
    where
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        // Step 1. ORDERING: Relaxed: the caller is counted, so this cannot race to 0.
        self.pending.fetch_add(1, Ordering::Relaxed);
        let mut guard = ScopeTask {
            f: Some(f),
            scope: ScopePtr(self as *const Scope<'scope>),
        };
        let job = move || {
            if let Some(f) = guard.f.take() {
                // SAFETY: the scope outlives its tasks (module docs: the owner waits for
                // this task's step 2, in the guard's drop, before leaving the frame).
                let this = unsafe { &*guard.scope.0 };
                if let Err(payload) = catch(|| f(this)) {
                    this.record_panic(payload);
                }
            }
            // Step 2 when `guard` drops here.
        };
        // SAFETY: the closure borrows for 'scope only, and the scope's owner does not return
        // before the closure has run or been dropped (module docs). Not cancellable: the
        // owner counts on it.
        unsafe { Task::spawn_unchecked::<_, false>(job) }
    }

    /// A scope with only its body counted.
    fn new(registry: &'scope Registry, latch: ScopeLatch<'scope>) -> Self {
        Scope {
            pending: AtomicUsize::new(1),
            panic: Mutex::new(None),
            latch,
            registry,
            _marker: PhantomData,
        }
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
        // SAFETY: as above.
        let prev = if unsafe { (*this).registry.seeded_bugs() }.scope_count_check_then_act() {
            // Negative control (loom only): a load and a store, so two tasks finishing
            // together can both read 2, write 1, and leave the latch unset for ever.
            // ORDERING: as the RMW below (the bug is the split, not this).
            let prev = pending.load(Ordering::Acquire);
            // ORDERING: as above.
            pending.store(prev - 1, Ordering::Release);
            prev
        } else {
            // ORDERING: AcqRel: Release publishes this task's writes; the last one Acquires
            // all the others' before it sets the latch, whose Release hands them to the owner.
            pending.fetch_sub(1, Ordering::AcqRel)
        };
        if prev == 1 {
            // SAFETY: the count is 0 but the owner still waits on the latch, which `set`
            // reads before publishing; nothing is touched after.
            unsafe { ScopeLatch::set(std::ptr::addr_of!((*this).latch)) };
        }
    }
}

/// A scope task's closure and its count: dropping it — after the closure ran, or unrun
/// because its pool rejected it — drops the closure, then does step 2 (module docs).
struct ScopeTask<'scope, F> {
    f: Option<F>,
    scope: ScopePtr<'scope>,
}

impl<F> Drop for ScopeTask<'_, F> {
    fn drop(&mut self) {
        let unrun = self.f.take();
        let ran = unrun.is_none();
        if let Err(payload) = catch(move || drop(unrun)) {
            crate::task::slot::drop_quietly(payload, "an unrun scope task's drop panic");
        }
        let this = self.scope.0;
        if !ran {
            // SAFETY: still counted, so the scope is alive.
            unsafe { &*this }.record_panic(Box::new(
                "corepool: a scope task was rejected unrun: its pool shut down",
            ));
        }
        // SAFETY: counted in the scope until here; nothing of the scope is touched after.
        unsafe { Scope::complete_one(this) };
    }
}

/// How the scope's owner waits (module docs, step 3).
enum ScopeLatch<'scope> {
    /// The owner is one of the pool's workers and helps.
    Worker(WorkerLatch<'scope>),
    /// The owner is another thread and blocks on its signal.
    Thread(ThreadLatch<'scope>),
}

impl Latch for ScopeLatch<'_> {
    unsafe fn set(this: *const Self) {
        // SAFETY: valid on entry; each variant's `set` reads what it needs before publishing.
        match unsafe { &*this } {
            ScopeLatch::Worker(latch) => {
                // SAFETY: the same contract, passed on: valid now, untouched after.
                unsafe { WorkerLatch::set(latch) }
            }
            ScopeLatch::Thread(latch) => {
                // SAFETY: as above.
                unsafe { ThreadLatch::set(latch) }
            }
        }
    }
}

/// A scope pointer a task may carry to another thread.
#[derive(Clone, Copy)]
struct ScopePtr<'scope>(*const Scope<'scope>);

// SAFETY: a Scope is Sync (atomics and a mutex), and the pointer is only dereferenced while
// the scope is alive (module docs).
unsafe impl Send for ScopePtr<'_> {}

/// Opens a scope on the current pool: `f` may [`spawn`](Scope::spawn) tasks that borrow
/// from the caller's stack; `scope` returns `f`'s value once every spawned task (nested ones
/// too) has finished, helping run them meanwhile.
///
/// On a corepool worker the scope opens there; on any other thread the whole scope (body
/// included) runs on the global pool (built on first use, see
/// [`Builder::build_global`](crate::Builder::build_global)) while the caller blocks. Use
/// [`Pool::scope`](crate::Pool::scope) to choose the pool.
///
/// # Panics
///
/// If `f` or any task panics, the first panic is resumed after all have finished.
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
///
/// // Off any worker: on the global pool.
/// let mut lens = [0; 3];
/// corepool::scope(|s| {
///     for (len, w) in lens.iter_mut().zip(&words) {
///         s.spawn(move |_| *len = w.len());
///     }
/// });
/// assert_eq!(lens, [1, 2, 3]);
/// ```
pub fn scope<'scope, F, R>(f: F) -> R
where
    F: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    WorkerThread::with_current(|worker| match worker {
        Some(worker) => scope_on(worker, f),
        None => crate::global::on_global_worker("corepool::scope", |worker| scope_on(worker, f)),
    })
}

fn scope_on<'scope, F, R>(worker: &WorkerThread, f: F) -> R
where
    F: FnOnce(&Scope<'scope>) -> R,
{
    Opener::Worker(worker).open(|scope| scope, |scope| scope, f)
}

/// A scope opened on a thread that is not one of `registry`'s workers: the body runs here,
/// the tasks go to the pool, and this thread blocks until they are done (step 3).
fn scope_off_pool<'scope, F, R>(registry: &Registry, f: F) -> R
where
    F: FnOnce(&Scope<'scope>) -> R,
{
    Opener::Outside(registry).open(|scope| scope, |scope| scope, f)
}

/// Where a scope is opened: on a worker of its pool (which helps while it waits), or on
/// another thread (which blocks).
pub(crate) enum Opener<'a> {
    Worker(&'a WorkerThread),
    Outside(&'a Registry),
}

impl Opener<'_> {
    /// Opens the scope `wrap` makes (a [`Scope`], or a type holding one, which `base`
    /// returns) and runs `f` in it: steps 1–3 of the module docs.
    pub(crate) fn open<'scope, S, F, R>(
        self,
        wrap: impl FnOnce(Scope<'scope>) -> S,
        base: impl Fn(&S) -> &Scope<'scope>,
        f: F,
    ) -> R
    where
        F: FnOnce(&S) -> R,
    {
        match self {
            Opener::Worker(worker) => {
                // The registry outlives this call: this thread is one of its workers.
                // SAFETY: extending to 'scope is sound because the scope, and every task
                // holding it, is finished before this function returns (step 3).
                let registry: &'scope Registry =
                    unsafe { &*(worker.registry() as *const Registry) };
                let latch = ScopeLatch::Worker(WorkerLatch::new(worker.index(), registry));
                run_scope(registry, latch, wrap, base, f, |latch| match latch {
                    ScopeLatch::Worker(latch) => worker.wait_until(latch),
                    ScopeLatch::Thread(_) => unreachable!("a worker's scope helps"),
                })
            }
            Opener::Outside(registry) => {
                // SAFETY: as above: the scope is finished before this function returns.
                let registry: &'scope Registry = unsafe { &*(registry as *const Registry) };
                with_thread_signal(|signal| {
                    // SAFETY: the thread-local signal outlives this call, and so the scope.
                    let signal: &'scope Signal = unsafe { &*(signal as *const Signal) };
                    let latch = ScopeLatch::Thread(ThreadLatch::new(signal));
                    run_scope(registry, latch, wrap, base, f, |_| signal.wait())
                })
            }
        }
    }
}

/// Steps 1–3 around `f`, with `wait` for step 3.
fn run_scope<'scope, S, F, R>(
    registry: &'scope Registry,
    latch: ScopeLatch<'scope>,
    wrap: impl FnOnce(Scope<'scope>) -> S,
    base: impl Fn(&S) -> &Scope<'scope>,
    f: F,
    wait: impl FnOnce(&ScopeLatch<'scope>),
) -> R
where
    F: FnOnce(&S) -> R,
{
    let wrapped = wrap(Scope::new(registry, latch));
    let scope = base(&wrapped);
    let body = catch(|| f(&wrapped));
    // SAFETY: the body's own count; the scope lives on (we wait below).
    unsafe { Scope::complete_one(scope) };
    // Step 3.
    wait(&scope.latch);
    let task_panic = scope.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    both(body, task_panic.map_or(Ok(()), Err)).0
}

/// Opens a scope whose body runs on the calling thread — rayon's `in_place_scope`. Tasks
/// spawned into it run on the current pool: the calling worker's, or, on any other thread,
/// the global pool (built on first use). On a worker it is [`scope`]; elsewhere the body
/// runs here (not moved to a worker, so it need not be `Send`), and the caller then blocks
/// until every task has finished. Since the body never waits for a free worker, a one-worker
/// pool cannot deadlock on it.
///
/// # Panics
///
/// If `f` or any task panics, the first panic is resumed after all have finished.
///
/// ```
/// use std::cell::Cell;
///
/// let not_send = Cell::new(0); // the body borrows it: it stays on this thread
/// let mut parts = [0u64; 4];
/// corepool::in_place_scope(|s| {
///     for (i, part) in parts.iter_mut().enumerate() {
///         s.spawn(move |_| *part = i as u64 * 10);
///     }
///     not_send.set(corepool::current_thread_index().map_or(1, |_| 2));
/// });
/// assert_eq!(parts, [0, 10, 20, 30]);
/// assert_eq!(not_send.get(), 1); // the body ran here, off any pool
/// ```
pub fn in_place_scope<'scope, F, R>(f: F) -> R
where
    F: FnOnce(&Scope<'scope>) -> R,
{
    WorkerThread::with_current(|worker| match worker {
        Some(worker) => scope_on(worker, f),
        None => scope_off_pool(crate::global::global_pool().registry(), f),
    })
}

impl Pool {
    /// [`in_place_scope`] on this pool: the body runs on the calling thread, the tasks on
    /// this pool. Called on one of this pool's workers it is [`Pool::scope`] run there;
    /// from any other thread — a worker of another pool too, which then blocks rather than
    /// helps — the caller blocks after the body until every task has finished.
    ///
    /// # Panics
    ///
    /// If `f` or any task panics (the first, after all have finished), or if the pool has
    /// been shut down when it is called. Tasks the pool rejects because it shut down while
    /// the scope ran count as panics (the scope does not wait for them forever).
    ///
    /// ```
    /// let pool = corepool::Pool::builder()
    ///     .sizing(corepool::Sizing::cpu_bound().cores(1))
    ///     .build()
    ///     .unwrap();
    /// let mut seen = vec![None; 3];
    /// pool.in_place_scope(|s| {
    ///     for slot in seen.iter_mut() {
    ///         s.spawn(|_| *slot = corepool::current_thread_index());
    ///     }
    /// });
    /// assert_eq!(seen, [Some(0); 3]);
    /// ```
    pub fn in_place_scope<'scope, F, R>(&self, f: F) -> R
    where
        F: FnOnce(&Scope<'scope>) -> R,
    {
        let registry = self.registry();
        if registry.is_shut_down() {
            panic!(
                "corepool: Pool::in_place_scope called on a pool that has been shut down: no \
                 worker is left to run its tasks"
            );
        }
        WorkerThread::with_current(|worker| match worker {
            Some(worker) if std::ptr::eq(worker.registry(), registry) => scope_on(worker, f),
            _ => scope_off_pool(registry, f),
        })
    }
}

/// `Pool::scope`: the same, on a chosen pool.
impl crate::pool::Pool {
    /// [`scope`](crate::scope()) on this pool, from anywhere: `f` may spawn tasks that borrow
    /// from the caller's stack; returns once all of them (nested ones too) have finished.
    ///
    /// # Panics
    ///
    /// If `f` or any spawned task panics (the first panic, after all have finished), or if
    /// the pool has been shut down.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut squares = vec![0u64; 8];
    /// pool.scope(|s| {
    ///     for (i, slot) in squares.iter_mut().enumerate() {
    ///         s.spawn(move |_| *slot = (i * i) as u64);
    ///     }
    /// });
    /// assert_eq!(squares[7], 49);
    /// ```
    pub fn scope<'scope, F, R>(&self, f: F) -> R
    where
        F: FnOnce(&crate::Scope<'scope>) -> R + Send,
        R: Send,
    {
        self.install_as("Pool::scope", || crate::scope(f))
    }
}
