//! Broadcasts: one call of a closure on every CPU worker of a pool — rayon's `broadcast`,
//! `spawn_broadcast`, and the scopes' `spawn_broadcast`.
//!
//! # Protocol
//!
//! Each worker has an **inbox** (`sched/registry.rs`): a queue only it takes from, checked
//! right after its own deque, by its sleep's final recheck, and by its pause gate.
//!
//! 1. The caller gets onto a worker of the pool: it is one already, or the broadcast is
//!    installed (blocking) or spawned (fire-and-forget) there first. So every inbox push comes
//!    from a running worker of the pool, which holds the pool open: no worker has exited, and
//!    the pool cannot terminate before the pushed tasks have run.
//! 2. For each worker *i*, one task goes to inbox *i*, then a `fence(SeqCst)` and a claim of
//!    worker *i* if it sleeps — the producer's half of the sleep protocol, as a latch's
//!    setter does — and a notify of the pause gate under its lock.
//! 3. Worker *i* runs the task next time it looks for work: awake, after its own deque;
//!    asleep, after the claim wakes it; **paused** by
//!    [`Pool::set_active_workers`](crate::Pool::set_active_workers), it leaves the gate, runs
//!    the task, and pauses again. So a broadcast never waits for a resume.
//! 4. [`broadcast`] counts the calls in a scope (`scope.rs`): it returns when all have
//!    finished, with the results in worker order, or resumes the first panic after all
//!    finished. A spawned broadcast's calls are fire-and-forget tasks (panics to the panic
//!    handler); a scope's are counted in that scope.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::global::global_pool;
use crate::pool::Pool;
use crate::sched::registry::Registry;
use crate::sched::worker::WorkerThread;
use crate::scope::{Opener, Scope};
use crate::scope_fifo::ScopeFifo;
use crate::sync::Mutex;
use crate::task::slot::Task;

/// Where a broadcast call runs: which worker, of how many.
///
/// ```
/// let pool = corepool::Pool::builder()
///     .sizing(corepool::Sizing::cpu_bound().cores(1).per_core(2).oversubscribe(true))
///     .build()
///     .unwrap();
/// let seen = pool.broadcast(|ctx| (ctx.index(), ctx.num_threads()));
/// assert_eq!(seen, [(0, 2), (1, 2)]);
/// ```
#[derive(Debug)]
pub struct BroadcastContext<'a> {
    index: usize,
    num_threads: usize,
    /// Not `Send`/`Sync`, and tied to the call it was handed to.
    _marker: PhantomData<&'a mut dyn Fn()>,
}

impl BroadcastContext<'_> {
    fn new(index: usize, num_threads: usize) -> Self {
        BroadcastContext {
            index,
            num_threads,
            _marker: PhantomData,
        }
    }

    /// The index of the worker running this call, in `0..num_threads()`; the same as
    /// [`current_thread_index`](crate::current_thread_index) there.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let same = pool.broadcast(|ctx| Some(ctx.index()) == corepool::current_thread_index());
    /// assert!(same.iter().all(|&s| s));
    /// ```
    #[inline]
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many workers the broadcast runs on: all of the pool's CPU workers.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let n = pool.broadcast(|ctx| ctx.num_threads());
    /// assert_eq!(n.len(), pool.current_num_threads());
    /// assert!(n.iter().all(|&k| k == n.len()));
    /// ```
    #[inline]
    pub fn num_threads(&self) -> usize {
        self.num_threads
    }
}

/// Runs `op` once on every CPU worker of the current pool (the calling worker's, else the
/// global pool) and returns the results in worker-index order; see [`Pool::broadcast`].
///
/// # Panics
///
/// If any call panics, after all have finished (the first panic).
///
/// ```
/// let per_worker = corepool::broadcast(|ctx| ctx.index() * 10);
/// assert_eq!(per_worker.len(), corepool::current_num_threads());
/// assert_eq!(per_worker[0], 0);
/// ```
pub fn broadcast<OP, R>(op: OP) -> Vec<R>
where
    OP: Fn(BroadcastContext<'_>) -> R + Sync,
    R: Send,
{
    WorkerThread::with_current(|w| match w {
        Some(w) => broadcast_on(w, &op),
        None => global_pool().broadcast_as("corepool::broadcast", op),
    })
}

/// Step 2–4 for [`broadcast`], on `worker`.
fn broadcast_on<OP, R>(worker: &WorkerThread, op: &OP) -> Vec<R>
where
    OP: Fn(BroadcastContext<'_>) -> R + Sync,
    R: Send,
{
    let registry = worker.registry();
    let n = registry.num_workers();
    let results: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    Opener::Worker(worker).open(
        |scope| scope,
        |scope| scope,
        |scope: &Scope<'_>| {
            for (index, slot) in results.iter().enumerate() {
                let task = scope.task(move |_| {
                    let r = op(BroadcastContext::new(index, n));
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                });
                registry.push_broadcast(worker, index, task);
            }
        },
    );
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every broadcast call finished")
        })
        .collect()
}

/// Runs `op` once on every CPU worker of the current pool, in the background; see
/// [`Pool::spawn_broadcast`].
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let pool = corepool::Pool::new();
/// let calls = Arc::new(AtomicUsize::new(0));
/// let c = calls.clone();
/// pool.install(move || {
///     corepool::spawn_broadcast(move |_| { c.fetch_add(1, Ordering::SeqCst); })
/// });
/// pool.shutdown();
/// assert_eq!(calls.load(Ordering::SeqCst), pool.current_num_threads());
/// ```
pub fn spawn_broadcast<OP>(op: OP)
where
    OP: Fn(BroadcastContext<'_>) + Send + Sync + 'static,
{
    WorkerThread::with_current(|w| match w {
        Some(w) => spawn_broadcast_on(w, Arc::new(op)),
        None => global_pool().spawn_broadcast(op),
    })
}

fn spawn_broadcast_on<OP>(worker: &WorkerThread, op: Arc<OP>)
where
    OP: Fn(BroadcastContext<'_>) + Send + Sync + 'static,
{
    let registry = worker.registry();
    let n = registry.num_workers();
    for index in 0..n {
        let op = Arc::clone(&op);
        let task = Task::spawn(move || op(BroadcastContext::new(index, n)));
        registry.push_broadcast(worker, index, task);
    }
}

impl Pool {
    /// Runs `op` once on every CPU worker of this pool and returns the results in
    /// worker-index order — rayon's `ThreadPool::broadcast`. The calls run as tasks: a busy
    /// worker makes its call when its current task ends (or waits), a sleeping one is woken,
    /// and a worker paused by [`set_active_workers`](Pool::set_active_workers) leaves its
    /// pause for the call and then pauses again. `op` may borrow from the caller's stack.
    ///
    /// # Panics
    ///
    /// If any call panics (the first, after all have finished), or if the pool has been shut
    /// down.
    ///
    /// ```
    /// use std::cell::Cell;
    ///
    /// thread_local!(static SEEN: Cell<u32> = Cell::new(0));
    /// let pool = corepool::Pool::new();
    /// pool.broadcast(|_| SEEN.with(|s| s.set(s.get() + 1))); // per-thread setup
    /// let counts = pool.broadcast(|_| SEEN.with(Cell::get));
    /// assert!(counts.iter().all(|&c| c == 1));
    /// ```
    pub fn broadcast<OP, R>(&self, op: OP) -> Vec<R>
    where
        OP: Fn(BroadcastContext<'_>) -> R + Sync,
        R: Send,
    {
        self.broadcast_as("Pool::broadcast", op)
    }

    /// [`broadcast`](Pool::broadcast), naming `caller` in the panic after shutdown.
    fn broadcast_as<OP, R>(&self, caller: &'static str, op: OP) -> Vec<R>
    where
        OP: Fn(BroadcastContext<'_>) -> R + Sync,
        R: Send,
    {
        let op = &op;
        self.install_as(caller, move || {
            WorkerThread::with_current(|w| broadcast_on(w.expect("install runs on a worker"), op))
        })
    }

    /// Runs `op` once on every CPU worker of this pool, in the background — rayon's
    /// `ThreadPool::spawn_broadcast`. From outside the pool, one task that queues the calls
    /// is submitted as by [`spawn`](Pool::spawn) (rejected after shutdown). A panic in a call
    /// goes to the panic handler.
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new();
    /// let (tx, rx) = mpsc::channel();
    /// let tx = std::sync::Mutex::new(tx);
    /// pool.spawn_broadcast(move |ctx| tx.lock().unwrap().send(ctx.index()).unwrap());
    /// let mut seen: Vec<usize> = rx.iter().take(pool.current_num_threads()).collect();
    /// seen.sort();
    /// assert_eq!(seen, (0..pool.current_num_threads()).collect::<Vec<_>>());
    /// ```
    pub fn spawn_broadcast<OP>(&self, op: OP)
    where
        OP: Fn(BroadcastContext<'_>) + Send + Sync + 'static,
    {
        let registry: &Registry = self.registry();
        let op = Arc::new(op);
        WorkerThread::with_current(|w| match w {
            Some(w) if std::ptr::eq(w.registry(), registry) => spawn_broadcast_on(w, op),
            _ => self.spawn(move || {
                WorkerThread::with_current(|w| {
                    spawn_broadcast_on(w.expect("a pool task runs on a worker"), op)
                })
            }),
        })
    }
}

/// Queues one call of `op` per worker of `scope`'s pool, each counted in `scope`; from off
/// the pool, through one scope task that queues them from a worker (step 1).
fn scope_broadcast<'scope, S, OP>(scope: &Scope<'scope>, wrapped: *const S, op: OP)
where
    S: Sync + 'scope,
    OP: Fn(&S, BroadcastContext<'_>) + Send + Sync + 'scope,
{
    let registry = scope.registry();
    let op = Arc::new(op);
    let wrapped = SendPtr(wrapped);
    let queue = move |scope: &Scope<'scope>, worker: &WorkerThread| {
        let n = registry.num_workers();
        for index in 0..n {
            let op = Arc::clone(&op);
            let task = scope.task(move |_| {
                let wrapped = wrapped;
                // SAFETY: the scope `wrapped` holds counts this task, so it is alive.
                op(unsafe { &*wrapped.0 }, BroadcastContext::new(index, n))
            });
            registry.push_broadcast(worker, index, task);
        }
    };
    WorkerThread::with_current(|w| match w {
        Some(w) if std::ptr::eq(w.registry(), registry) => queue(scope, w),
        _ => scope.spawn(move |scope| {
            WorkerThread::with_current(|w| queue(scope, w.expect("a scope task runs on a worker")))
        }),
    })
}

/// A scope pointer the broadcast calls carry to their workers.
struct SendPtr<S>(*const S);

impl<S> Clone for SendPtr<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for SendPtr<S> {}

// SAFETY: points to a scope type that is Sync, dereferenced only while the scope is alive.
unsafe impl<S: Sync> Send for SendPtr<S> {}

impl<'scope> Scope<'scope> {
    /// Runs `op` once on every CPU worker of the scope's pool, each call counted in the
    /// scope like a [`spawn`](Scope::spawn)ed task — rayon's `Scope::spawn_broadcast`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let calls = AtomicUsize::new(0);
    /// pool.scope(|s| s.spawn_broadcast(|_, _| { calls.fetch_add(1, Ordering::SeqCst); }));
    /// assert_eq!(calls.load(Ordering::SeqCst), pool.current_num_threads());
    /// ```
    pub fn spawn_broadcast<OP>(&self, op: OP)
    where
        OP: Fn(&Scope<'scope>, BroadcastContext<'_>) + Send + Sync + 'scope,
    {
        scope_broadcast(self, self as *const Scope<'scope>, op)
    }
}

impl<'scope> ScopeFifo<'scope> {
    /// [`Scope::spawn_broadcast`] for a FIFO scope — rayon's `ScopeFifo::spawn_broadcast`.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut per_worker = vec![0; pool.current_num_threads()];
    /// let slots: Vec<_> = per_worker.iter_mut().map(std::sync::Mutex::new).collect();
    /// pool.scope_fifo(|s| s.spawn_broadcast(|_, ctx| **slots[ctx.index()].lock().unwrap() += 1));
    /// drop(slots);
    /// assert!(per_worker.iter().all(|&c| c == 1));
    /// ```
    pub fn spawn_broadcast<OP>(&self, op: OP)
    where
        OP: Fn(&ScopeFifo<'scope>, BroadcastContext<'_>) + Send + Sync + 'scope,
    {
        scope_broadcast(self.base(), self as *const ScopeFifo<'scope>, op)
    }
}
