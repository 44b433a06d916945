//! FIFO scopes and spawns: [`scope_fifo`], [`in_place_scope_fifo`], [`spawn_fifo`], their
//! `Pool::` forms, and [`ScopeFifo`].
//!
//! A [`ScopeFifo`] is a [`Scope`] (same counting protocol, `scope.rs`) plus one FIFO queue per
//! worker of its pool (`sched/fifo.rs`). [`ScopeFifo::spawn_fifo`] on worker *i* queues the
//! task in the scope's queue *i* and a marker on worker *i*'s deque; off the pool it goes to
//! the injector, which is FIFO already. So without stealing, a worker runs a scope's FIFO
//! tasks oldest first, and nested or interleaved scopes each keep their own order (each has
//! its own queues) — rayon's rules, mixed LIFO/FIFO included.

use crate::global::{global_pool, on_global_worker};
use crate::pool::Pool;
use crate::sched::fifo::Fifo;
use crate::sched::registry::Registry;
use crate::sched::worker::WorkerThread;
use crate::scope::{Opener, Scope};
use crate::task::slot::Task;

/// A scope whose [`spawn_fifo`](ScopeFifo::spawn_fifo) tasks run in the order they were
/// spawned on each worker (a [`Scope`]'s run newest first); see [`scope_fifo`].
///
/// ```
/// use std::sync::Mutex;
///
/// let pool = corepool::Pool::builder()
///     .sizing(corepool::Sizing::cpu_bound().cores(1))
///     .build()
///     .unwrap();
/// let order = Mutex::new(Vec::new());
/// pool.scope_fifo(|s| {
///     for i in 0..5 {
///         let order = &order;
///         s.spawn_fifo(move |_| order.lock().unwrap().push(i));
///     }
/// });
/// assert_eq!(order.into_inner().unwrap(), [0, 1, 2, 3, 4]);
/// ```
pub struct ScopeFifo<'scope> {
    base: Scope<'scope>,
    /// One queue per worker of the pool.
    fifos: Box<[Fifo]>,
}

impl<'scope> ScopeFifo<'scope> {
    /// The scope this one wraps.
    pub(crate) fn base(&self) -> &Scope<'scope> {
        &self.base
    }

    fn new(base: Scope<'scope>) -> Self {
        let fifos = (0..base.registry().num_workers())
            .map(|_| Fifo::new())
            .collect();
        ScopeFifo { base, fifos }
    }

    /// Spawns `f` into the scope, in FIFO order with the scope's other FIFO tasks spawned on
    /// the same worker; otherwise as [`Scope::spawn`]: it may borrow anything that outlives
    /// the scope, which does not return before it has finished, and its panic is resumed by
    /// the scope after every task has finished.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let count = AtomicUsize::new(0);
    /// corepool::scope_fifo(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn_fifo(|s| {
    ///             count.fetch_add(1, Ordering::Relaxed);
    ///             s.spawn_fifo(|_| { count.fetch_add(1, Ordering::Relaxed); });
    ///         });
    ///     }
    /// });
    /// assert_eq!(count.load(Ordering::Relaxed), 8);
    /// ```
    pub fn spawn_fifo<F>(&self, f: F)
    where
        F: FnOnce(&ScopeFifo<'scope>) + Send + 'scope,
    {
        let this = FifoScopePtr(self as *const ScopeFifo<'scope>);
        let task = self.base.task(move |_| {
            let this = this;
            // SAFETY: the ScopeFifo holds the scope this task is counted in, so it is alive
            // while the task runs (`scope.rs`).
            f(unsafe { &*this.0 })
        });
        let registry = self.base.registry();
        WorkerThread::with_current(|w| match w {
            Some(w) if std::ptr::eq(w.registry(), registry) => {
                // SAFETY: the queue lives in this scope, which waits for the task and so for
                // its marker's only access to the queue (`sched/fifo.rs`, steps 2 and 3).
                unsafe { w.push_fifo_on(&self.fifos[w.index()], task) }
            }
            _ => registry.push_insider(task),
        })
    }
}

/// A FIFO-scope pointer a task may carry to another thread.
#[derive(Clone, Copy)]
struct FifoScopePtr<'scope>(*const ScopeFifo<'scope>);

// SAFETY: a ScopeFifo is Sync (a Scope and crossbeam queues), and the pointer is only
// dereferenced while the scope is alive.
unsafe impl Send for FifoScopePtr<'_> {}

fn open_fifo<'scope, F, R>(opener: Opener<'_>, f: F) -> R
where
    F: FnOnce(&ScopeFifo<'scope>) -> R,
{
    opener.open(ScopeFifo::new, |s| &s.base, f)
}

/// [`scope`](crate::scope()) with FIFO spawns: `f` may
/// [`spawn_fifo`](ScopeFifo::spawn_fifo) tasks that borrow from the caller's stack; returns
/// `f`'s value once every task has finished. On a corepool worker the scope opens there;
/// on any other thread it runs on the global pool while the caller blocks.
///
/// # Panics
///
/// If `f` or any task panics, the first panic is resumed after all have finished.
///
/// ```
/// let pool = corepool::Pool::new();
/// let mut out = vec![0; 4];
/// pool.install(|| {
///     corepool::scope_fifo(|s| {
///         for (i, slot) in out.iter_mut().enumerate() {
///             s.spawn_fifo(move |_| *slot = i * 2);
///         }
///     })
/// });
/// assert_eq!(out, [0, 2, 4, 6]);
/// ```
pub fn scope_fifo<'scope, F, R>(f: F) -> R
where
    F: FnOnce(&ScopeFifo<'scope>) -> R + Send,
    R: Send,
{
    WorkerThread::with_current(|worker| match worker {
        Some(worker) => open_fifo(Opener::Worker(worker), f),
        None => on_global_worker("corepool::scope_fifo", |worker| {
            open_fifo(Opener::Worker(worker), f)
        }),
    })
}

/// [`in_place_scope`](crate::in_place_scope()) with FIFO spawns: the body runs on the
/// calling thread, the tasks on the current pool (the calling worker's, else the global
/// pool).
///
/// # Panics
///
/// If `f` or any task panics, the first panic is resumed after all have finished.
///
/// ```
/// let mut out = [0u32; 3];
/// corepool::in_place_scope_fifo(|s| {
///     for (i, slot) in out.iter_mut().enumerate() {
///         s.spawn_fifo(move |_| *slot = i as u32 + 1);
///     }
/// });
/// assert_eq!(out, [1, 2, 3]);
/// ```
pub fn in_place_scope_fifo<'scope, F, R>(f: F) -> R
where
    F: FnOnce(&ScopeFifo<'scope>) -> R,
{
    WorkerThread::with_current(|worker| match worker {
        Some(worker) => open_fifo(Opener::Worker(worker), f),
        None => open_fifo(Opener::Outside(global_pool().registry()), f),
    })
}

/// Runs `f` in the background on the current pool, in FIFO order with the other
/// `spawn_fifo` tasks of the calling worker (where [`spawn`](crate::spawn) runs newest
/// first); off any worker, on the global pool (its queue is FIFO). A panic in `f` goes to the
/// pool's panic handler. Unlike `spawn`'s tasks, a FIFO task is not cancelled by
/// [`Pool::shutdown_now`]: its marker on the deque must run.
///
/// ```
/// use std::sync::Mutex;
/// use std::sync::Arc;
///
/// let pool = corepool::Pool::builder()
///     .sizing(corepool::Sizing::cpu_bound().cores(1))
///     .build()
///     .unwrap();
/// let order = Arc::new(Mutex::new(Vec::new()));
/// let o = order.clone();
/// pool.install(move || {
///     for i in 0..4 {
///         let o = o.clone();
///         corepool::spawn_fifo(move || o.lock().unwrap().push(i));
///     }
/// });
/// pool.shutdown();
/// assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
/// ```
pub fn spawn_fifo<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    let task = Task::spawn(f);
    WorkerThread::with_current(|w| match w {
        Some(w) => w.push_fifo(task),
        None => global_pool().registry().push(task),
    })
}

impl Pool {
    /// [`spawn_fifo`](crate::spawn_fifo()) on this pool: from one of its workers, FIFO with
    /// that worker's other `spawn_fifo` tasks; from anywhere else, as
    /// [`Pool::spawn`] (the injector is FIFO).
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new();
    /// let (tx, rx) = mpsc::channel();
    /// pool.spawn_fifo(move || tx.send(6 * 7).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 42);
    /// ```
    pub fn spawn_fifo<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let registry: &Registry = self.registry();
        let task = Task::spawn(f);
        WorkerThread::with_current(|w| match w {
            Some(w) if std::ptr::eq(w.registry(), registry) => w.push_fifo(task),
            _ => registry.push(task),
        })
    }

    /// [`scope_fifo`](crate::scope_fifo()) on this pool, from anywhere.
    ///
    /// # Panics
    ///
    /// If `f` or any task panics (the first, after all have finished), or if the pool has
    /// been shut down.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut squares = vec![0u64; 8];
    /// pool.scope_fifo(|s| {
    ///     for (i, slot) in squares.iter_mut().enumerate() {
    ///         s.spawn_fifo(move |_| *slot = (i * i) as u64);
    ///     }
    /// });
    /// assert_eq!(squares[7], 49);
    /// ```
    pub fn scope_fifo<'scope, F, R>(&self, f: F) -> R
    where
        F: FnOnce(&ScopeFifo<'scope>) -> R + Send,
        R: Send,
    {
        self.install_as("Pool::scope_fifo", || scope_fifo(f))
    }

    /// [`in_place_scope_fifo`](crate::in_place_scope_fifo()) on this pool: the body runs on
    /// the calling thread, the tasks on this pool (see [`Pool::in_place_scope`]).
    ///
    /// # Panics
    ///
    /// As [`Pool::in_place_scope`].
    ///
    /// ```
    /// use std::sync::Mutex;
    ///
    /// let pool = corepool::Pool::builder()
    ///     .sizing(corepool::Sizing::cpu_bound().cores(1))
    ///     .build()
    ///     .unwrap();
    /// let order = Mutex::new(Vec::new());
    /// pool.install(|| {
    ///     pool.in_place_scope_fifo(|s| {
    ///         for i in 0..3 {
    ///             let order = &order;
    ///             s.spawn_fifo(move |_| order.lock().unwrap().push(i));
    ///         }
    ///     })
    /// });
    /// assert_eq!(order.into_inner().unwrap(), [0, 1, 2]);
    /// ```
    pub fn in_place_scope_fifo<'scope, F, R>(&self, f: F) -> R
    where
        F: FnOnce(&ScopeFifo<'scope>) -> R,
    {
        let registry = self.registry();
        if registry.is_shut_down() {
            panic!(
                "corepool: Pool::in_place_scope_fifo called on a pool that has been shut down: \
                 no worker is left to run its tasks"
            );
        }
        WorkerThread::with_current(|worker| match worker {
            Some(worker) if std::ptr::eq(worker.registry(), registry) => {
                open_fifo(Opener::Worker(worker), f)
            }
            _ => open_fifo(Opener::Outside(registry), f),
        })
    }
}
