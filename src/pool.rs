//! [`Pool`]: the handle users hold.

use std::fmt;
use std::mem::ManuallyDrop;

use crate::batch::Batch;
use crate::builder::Builder;
use crate::join_handle::JoinHandle;
use crate::latch::StackJob;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::sizing::Plan;
use crate::sync::Arc;
use crate::task::Task;

/// A work-stealing pool of pinned CPU workers.
///
/// `Pool` is a cheap handle: clone it freely and send it anywhere. The pool shuts down —
/// running every task it accepted, then joining its threads — when [`shutdown`](Pool::shutdown)
/// is called or the last handle is dropped.
///
/// ```
/// let pool = corepool::Pool::new();
/// let handle = pool.submit(|| (1..=10u64).product::<u64>());
/// assert_eq!(handle.join().unwrap(), 3_628_800);
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

/// Owned by the user-facing handles only (workers hold the registry, not this), so its drop
/// means "the last handle is gone".
struct PoolInner {
    registry: ManuallyDrop<Arc<Registry>>,
    plan: Plan,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // A failed loom model unwinds outside its execution, where touching any loom object
        // panics again and aborts the test run: leak the pool instead.
        #[cfg(loom)]
        if std::thread::panicking() {
            return;
        }
        self.registry.shutdown();
        // SAFETY: dropped exactly once, here, and never used after.
        unsafe { ManuallyDrop::drop(&mut self.registry) };
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("cpu_workers", &self.inner.plan.cpu_workers())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

impl Pool {
    /// A pool with the default settings ([`Builder::new`]).
    ///
    /// # Panics
    ///
    /// If it cannot be built (an invalid `COREPOOL_*` variable, or the OS refusing threads);
    /// use [`Pool::builder`] to handle that as an error.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// assert_eq!(pool.install(|| 2 + 2), 4);
    /// ```
    pub fn new() -> Pool {
        Builder::new()
            .build()
            .unwrap_or_else(|e| panic!("corepool: cannot build the default pool: {e}"))
    }

    /// A [`Builder`] to configure a pool.
    ///
    /// ```
    /// let pool = corepool::Pool::builder().pin_workers(false).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_parts(registry: Arc<Registry>, plan: Plan) -> Pool {
        Pool {
            inner: Arc::new(PoolInner {
                registry: ManuallyDrop::new(registry),
                plan,
            }),
        }
    }

    /// Runs `f` on the pool, fire-and-forget.
    ///
    /// From one of this pool's workers the task goes onto that worker's own deque; from any
    /// other thread, into the shared injector. A panic in `f` goes to the panic handler
    /// ([`Builder::panic_handler`]). After shutdown the task is dropped unrun, counted in
    /// [`Metrics::rejected`] and reported on stderr.
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new();
    /// let (tx, rx) = mpsc::channel();
    /// pool.spawn(move || tx.send("hello").unwrap());
    /// assert_eq!(rx.recv().unwrap(), "hello");
    /// ```
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.inner.registry.push(Task::spawn(f));
    }

    /// Runs `f` on the pool and returns a handle to its result.
    ///
    /// The handle's [`join`](JoinHandle::join) returns the value, the panic payload
    /// ([`TaskError::Panicked`](crate::TaskError::Panicked)) or
    /// [`TaskError::Rejected`](crate::TaskError::Rejected) if the pool was shut down.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let handles: Vec<_> = (0..4u64).map(|i| pool.submit(move || i * i)).collect();
    /// let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    /// assert_eq!(squares, [0, 1, 4, 9]);
    /// ```
    pub fn submit<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (task, handle) = Task::submit(f);
        self.inner.registry.push(task);
        handle
    }

    /// Runs `f` on one of the pool's workers and returns its value, blocking the caller
    /// meanwhile. `f` may borrow from the caller's stack. Called from one of this pool's own
    /// workers, it just runs `f` there. A panic in `f` resumes in the caller.
    ///
    /// # Panics
    ///
    /// If `f` panics, or if the pool has been shut down (nothing could run `f`).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let data = vec![1, 2, 3];
    /// let sum: i32 = pool.install(|| data.iter().sum());
    /// assert_eq!(sum, 6);
    /// assert!(pool.install(corepool::current_worker).is_some());
    /// ```
    pub fn install<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let registry = &self.inner.registry;
        if registry.is_current() {
            return f();
        }
        StackJob::run_and_wait(f, |task| registry.inject(task))
            .unwrap_or_else(|| panic!("corepool: install on a pool that has been shut down"))
    }

    /// [`join`](crate::join) on this pool, from anywhere: runs `a` and `b` potentially in
    /// parallel on the pool's workers and returns both results. Both may borrow.
    ///
    /// # Panics
    ///
    /// If either closure panics (after both finished), or if the pool has been shut down.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let data = [1, 2, 3, 4];
    /// let (left, right) = pool.join(|| data[..2].iter().sum::<i32>(), || data[2..].iter().sum::<i32>());
    /// assert_eq!(left + right, 10);
    /// ```
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        self.install(|| crate::join(a, b))
    }

    /// [`scope`](crate::scope) on this pool, from anywhere: `f` may spawn tasks that borrow
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
        self.install(|| crate::scope(f))
    }

    /// Options for one call of a batch helper (e.g. the smallest piece); see [`Batch`].
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let v = pool.batch().min_len(4).map(&[1, 2, 3, 4, 5, 6, 7, 8], |x| x + 1);
    /// assert_eq!(v[7], 9);
    /// ```
    pub fn batch(&self) -> Batch<'_> {
        Batch::new(self)
    }

    /// Calls `f` on every item of `items`, in parallel ([`Batch::for_each`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let long = AtomicUsize::new(0);
    /// pool.for_each(&["a", "bbb", "cc"], |w| if w.len() > 1 { long.fetch_add(1, Ordering::Relaxed); });
    /// assert_eq!(long.into_inner(), 2);
    /// ```
    pub fn for_each<T, F>(&self, items: &[T], f: F)
    where
        T: Sync,
        F: Fn(&T) + Sync,
    {
        self.batch().for_each(items, f)
    }

    /// Calls `f` on every item with `&mut` access, in parallel ([`Batch::for_each_mut`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut v: Vec<u32> = (0..100).collect();
    /// pool.for_each_mut(&mut v, |x| *x = *x * 2);
    /// assert_eq!(v[99], 198);
    /// ```
    pub fn for_each_mut<T, F>(&self, items: &mut [T], f: F)
    where
        T: Send,
        F: Fn(&mut T) + Sync,
    {
        self.batch().for_each_mut(items, f)
    }

    /// Calls `f` on every index of `range`, in parallel ([`Batch::for_each_index`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let sum = AtomicU64::new(0);
    /// pool.for_each_index(0..1_000, |i| { sum.fetch_add(i as u64, Ordering::Relaxed); });
    /// assert_eq!(sum.into_inner(), 499_500);
    /// ```
    pub fn for_each_index<F>(&self, range: std::ops::Range<usize>, f: F)
    where
        F: Fn(usize) + Sync,
    {
        self.batch().for_each_index(range, f)
    }

    /// Maps every item in parallel, keeping the order ([`Batch::map`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let lens = pool.map(&["a", "bb", "ccc"], |s| s.len());
    /// assert_eq!(lens, [1, 2, 3]);
    /// ```
    pub fn map<T, U, F>(&self, items: &[T], f: F) -> Vec<U>
    where
        T: Sync,
        U: Send,
        F: Fn(&T) -> U + Sync,
    {
        self.batch().map(items, f)
    }

    /// Folds and combines in parallel ([`Batch::reduce`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let data: Vec<u64> = (1..=100).collect();
    /// assert_eq!(pool.reduce(&data, || 0, |acc, x| acc + x, |a, b| a + b), 5050);
    /// ```
    pub fn reduce<T, A, I, F, C>(&self, items: &[T], identity: I, fold: F, combine: C) -> A
    where
        T: Sync,
        A: Send,
        I: Fn() -> A + Sync,
        F: Fn(A, &T) -> A + Sync,
        C: Fn(A, A) -> A + Sync,
    {
        self.batch().reduce(items, identity, fold, combine)
    }

    /// Stops accepting outside work, runs every task already accepted (and whatever those
    /// spawn), then joins every worker thread. Idempotent; other handles see the pool as shut
    /// down. Later submissions are rejected: [`submit`](Pool::submit)'s handle reports
    /// [`TaskError::Rejected`](crate::TaskError::Rejected) at once.
    ///
    /// Called from a task running on this same pool it cannot wait for itself: it starts the
    /// shutdown and returns; the threads finish once that task and the rest are done.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = corepool::Pool::new();
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..100 {
    ///     let ran = ran.clone();
    ///     pool.spawn(move || { ran.fetch_add(1, Ordering::Relaxed); });
    /// }
    /// pool.shutdown();
    /// assert_eq!(ran.load(Ordering::Relaxed), 100);
    /// assert!(pool.is_shut_down());
    /// ```
    pub fn shutdown(&self) {
        self.inner.registry.shutdown();
    }

    /// True once [`shutdown`](Pool::shutdown) has been called on any handle.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// assert!(!pool.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.inner.registry.idle.load().is_shutdown()
    }

    /// What the pool was built with: cores, workers per core, blocking lane, and which CPU
    /// each worker is pinned to (with the actual outcome of pinning). Prints as a report.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// println!("{}", pool.plan());
    /// assert_eq!(pool.plan().cpu_workers(), pool.plan().cores() * pool.plan().per_core());
    /// ```
    pub fn plan(&self) -> &Plan {
        &self.inner.plan
    }

    /// A snapshot of the pool's counters, cheap to take at any time. A worker counts a task
    /// just after it finished, so a snapshot taken right after `join` may not include it yet;
    /// after [`shutdown`](Pool::shutdown) the figures are final.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// pool.install(|| ());
    /// pool.shutdown();
    /// assert_eq!(pool.metrics().executed(), 1);
    /// ```
    pub fn metrics(&self) -> Metrics {
        self.inner.registry.metrics(self.inner.plan.workers())
    }
}

impl Default for Pool {
    /// Same as [`Pool::new`].
    ///
    /// ```
    /// let pool = corepool::Pool::default();
    /// # drop(pool);
    /// ```
    fn default() -> Self {
        Pool::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sizing;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Every path through the pool once (small and large spawns, submit, install, panic,
    /// shutdown, rejection): small enough to run under miri.
    #[test]
    fn round_trip_through_every_path() {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(2))
            .pin_workers(false)
            .panic_handler(|_| {})
            .build()
            .unwrap();
        let count = std::sync::Arc::new(AtomicUsize::new(0));
        for _ in 0..8 {
            let c = count.clone();
            pool.spawn(move || {
                c.fetch_add(1, Ordering::Relaxed);
                let c2 = c.clone();
                crate::spawn(move || {
                    c2.fetch_add(1, Ordering::Relaxed);
                });
            });
        }
        let big = [1u64; 16];
        let c = count.clone();
        pool.spawn(move || {
            c.fetch_add(big.iter().sum::<u64>() as usize, Ordering::Relaxed);
        });
        pool.spawn(|| panic!("reported to the handler"));
        let borrowed = [1, 2, 3];
        assert_eq!(pool.install(|| borrowed.iter().sum::<i32>()), 6);
        assert_eq!(pool.submit(|| 40 + 2).join().unwrap(), 42);
        assert!(pool
            .submit(|| -> () { panic!("to the handle") })
            .join()
            .is_err());
        // Fork-join paths: join (borrowing, both halves), scope (borrowing tasks), batch
        // helpers (shared base pointers), JoinHandle::join helping on a worker.
        let mut halves = [0u64; 2];
        let (l, r) = halves.split_at_mut(1);
        pool.join(|| l[0] = 1, || r[0] = 2);
        assert_eq!(halves, [1, 2]);
        let mut slots = [0usize; 6];
        pool.scope(|s| {
            for (i, slot) in slots.iter_mut().enumerate() {
                s.spawn(move |_| *slot = i);
            }
        });
        assert_eq!(slots, [0, 1, 2, 3, 4, 5]);
        let mut v = vec![1u32; 20];
        pool.batch().min_len(1).for_each_mut(&mut v, |x| *x += 1);
        assert!(v.iter().all(|&x| x == 2));
        let strings = pool.batch().min_len(1).map(&v, |x| x.to_string());
        assert_eq!(strings.len(), 20);
        let sum = pool
            .batch()
            .min_len(2)
            .reduce(&v, || 0, |a, x| a + x, |a, b| a + b);
        assert_eq!(sum, 40);
        let p = pool.clone();
        assert_eq!(pool.install(move || p.submit(|| 5).join().unwrap()), 5);
        pool.shutdown();
        assert_eq!(count.load(Ordering::Relaxed), 16 + 16);
        assert!(matches!(
            pool.submit(|| 1).join(),
            Err(crate::TaskError::Rejected)
        ));
    }
}
