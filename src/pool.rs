//! [`Pool`]: the handle users hold.

use std::fmt;
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use crate::error::{ShutdownTimedOut, SubmitError, TrySubmitError};
use crate::join_handle::JoinHandle;
use crate::lane::bound::{Refused, Wait};
use crate::metrics::Metrics;
use crate::placement::sizing::{Plan, MAX_THREADS};
use crate::sched::registry::Registry;
use crate::sched::worker::WorkerThread;
use crate::sync::Arc;
use crate::task::cancel::CancelToken;
use crate::task::job::StackJob;
use crate::task::slot::Task;

/// A work-stealing pool of pinned CPU workers.
///
/// `Pool` is the pool's **owner**: cheap to clone (every clone is an owner too) and to send
/// anywhere. The pool shuts down — running every task it accepted, then joining its threads —
/// when [`shutdown`](Pool::shutdown) is called or the last owner is dropped.
///
/// Tasks that submit more work should capture a [`PoolHandle`] ([`Pool::handle`]), not a
/// `Pool` clone: a handle does everything a `Pool` does but does not keep the pool running, so
/// dropping the owner (e.g. at the end of `main`) still shuts it down and waits for every task
/// it accepted. A `Pool` clone held by a task is an owner: the pool then stays up until that
/// task drops it, and a `main` that returns meanwhile ends the process with the work unrun.
///
/// ```
/// let pool = corepool::Pool::new();
/// let handle = pool.submit(|| (1..=10u64).product::<u64>());
/// assert_eq!(handle.join().unwrap(), 3_628_800);
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
    /// `Some` for an owner; `None` inside a [`PoolHandle`].
    owner: Option<Arc<Owner>>,
}

/// What owners and handles share (workers hold the registry, not this).
struct PoolInner {
    registry: ManuallyDrop<Arc<Registry>>,
    plan: Plan,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // A failed loom model unwinds outside its execution, where touching any loom object
        // panics again and aborts the test run: leak the pool instead. Likewise under
        // shuttle, where waiting for the workers while a failed schedule unwinds would block
        // the unwinding thread.
        #[cfg(any(corepool_loom, corepool_shuttle))]
        if std::thread::panicking() {
            return;
        }
        // SAFETY: dropped exactly once, here, and never used after.
        unsafe { ManuallyDrop::drop(&mut self.registry) };
    }
}

/// Held by the owning `Pool`s only, so its drop means "the last owner is gone".
struct Owner {
    inner: Arc<PoolInner>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        // As in `PoolInner::drop`.
        #[cfg(any(corepool_loom, corepool_shuttle))]
        if std::thread::panicking() {
            return;
        }
        self.inner.registry.shutdown_on_drop();
    }
}

/// A handle to a [`Pool`] that does not keep it running — tokio's `Handle` to its `Runtime`.
/// It dereferences to [`Pool`], so every method is there; give one to the tasks that submit
/// more work. Once every owner is gone (or the pool was shut down) its submissions are
/// rejected like any after shutdown, and its [`metrics`](Pool::metrics) stay readable. A
/// `Pool` cloned out of a handle (`(*handle).clone()`) is a handle too: only
/// [`Pool::builder`], [`Pool::new`] and clones of an owner own the pool.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let pool = corepool::Pool::new();
/// let ran = Arc::new(AtomicUsize::new(0));
/// for _ in 0..50 {
///     let (handle, ran) = (pool.handle(), ran.clone());
///     pool.spawn(move || {
///         // A follow-up task, submitted through the handle the task holds.
///         handle.spawn(move || { ran.fetch_add(1, Ordering::Relaxed); });
///     });
/// }
/// let watcher = pool.handle();
/// drop(pool); // the owner: shuts down, running everything accepted, though tasks hold handles
/// assert_eq!(ran.load(Ordering::Relaxed), 50);
/// assert!(watcher.is_shut_down());
/// assert_eq!(watcher.metrics().completed, 100);
/// ```
#[derive(Clone)]
pub struct PoolHandle(Pool);

impl std::ops::Deref for PoolHandle {
    type Target = Pool;

    fn deref(&self) -> &Pool {
        &self.0
    }
}

impl fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PoolHandle").field(&self.0).finish()
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("cpu_workers", &self.inner.plan.cpu_workers())
            .field("shut_down", &self.is_shut_down())
            .field("owner", &self.owner.is_some())
            .finish()
    }
}

impl Pool {
    pub(crate) fn from_parts(registry: Arc<Registry>, plan: Plan) -> Pool {
        let inner = Arc::new(PoolInner {
            registry: ManuallyDrop::new(registry),
            plan,
        });
        Pool {
            owner: Some(Arc::new(Owner {
                inner: Arc::clone(&inner),
            })),
            inner,
        }
    }

    /// A [`PoolHandle`]: this pool, without keeping it running — what a task should capture
    /// to submit more work (see [`Pool`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let handle = pool.handle();
    /// let doubled = pool.submit(move || handle.submit(|| 21).join().unwrap() * 2);
    /// assert_eq!(doubled.join().unwrap(), 42);
    /// ```
    pub fn handle(&self) -> PoolHandle {
        PoolHandle(Pool {
            inner: Arc::clone(&self.inner),
            owner: None,
        })
    }

    /// Waits until every task accepted so far — and whatever those spawn — has finished
    /// (run, panicked or been cancelled), leaving the pool running: for callers that keep the
    /// pool and want its queues drained, e.g. between the phases of a batch job. Tasks
    /// submitted meanwhile are waited for too, so under a steady stream of work this waits
    /// for a moment with nothing in flight. Results and side effects should travel through
    /// handles, channels or atomics as usual; this only says that the work is done.
    ///
    /// Polls the pool's counters, sleeping between looks (from a few µs up to 1 ms); called
    /// on one of the pool's own workers it would wait for its own task, so it panics there.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = corepool::Pool::new();
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..100 {
    ///     let done = done.clone();
    ///     pool.spawn(move || { done.fetch_add(1, Ordering::Relaxed); });
    /// }
    /// pool.wait_idle();
    /// assert_eq!(done.load(Ordering::Relaxed), 100);
    /// assert!(!pool.is_shut_down()); // still running
    /// ```
    pub fn wait_idle(&self) {
        // Worker 0 on the building thread (`Builder::use_current_thread`), between pool
        // calls, is no task: it helps, one round of the find-work order per look.
        let caller_worker = WorkerThread::is_caller_seat_of(self.registry());
        assert!(
            caller_worker || !self.registry().is_current(),
            "corepool: Pool::wait_idle called from one of the pool's own tasks, which would \
             wait for itself"
        );
        let mut pause = Duration::from_micros(5);
        loop {
            // Finished tasks first, accepted ones second: if every task accepted by the second
            // look had finished by the first, nothing was in flight in between.
            let first = self.metrics();
            let finished = first.completed + first.panicked + first.cancelled;
            let second = self.metrics();
            if finished == second.submitted {
                return;
            }
            if caller_worker && WorkerThread::with_current(|w| w.is_some_and(|w| w.yield_now())) {
                continue;
            }
            crate::sync::pause_between_polls(pause);
            pause = (pause * 2).min(Duration::from_millis(1));
        }
    }

    /// Runs `f` on the pool, fire-and-forget.
    ///
    /// From one of this pool's workers the task goes onto that worker's own deque (never
    /// bounded, never blocking); from any other thread, into the shared injector — waiting
    /// for room if [`Builder::queue_capacity`](crate::Builder::queue_capacity) bounds it and it is full. A panic in `f` goes
    /// to the panic handler ([`Builder::panic_handler`](crate::Builder::panic_handler)). After shutdown the task is dropped
    /// unrun, counted in [`Metrics::rejected`] and reported on stderr; [`try_spawn`](Pool::try_spawn)
    /// hands it back instead.
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
        self.registry().push(Task::spawn(f));
    }

    /// [`spawn`](Pool::spawn) without waiting: a full queue or a shut-down pool hands `f`
    /// back at once.
    ///
    /// ```
    /// use corepool::{Pool, TrySubmitError};
    ///
    /// let pool = Pool::new();
    /// assert!(pool.try_spawn(|| ()).is_ok());
    /// pool.shutdown();
    /// assert!(matches!(pool.try_spawn(|| ()), Err(TrySubmitError::ShutDown(_))));
    /// ```
    pub fn try_spawn<F>(&self, f: F) -> Result<(), TrySubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        let route = match self.registry().admit(Wait::No) {
            Ok(route) => route,
            Err(refused) => return Err(self.count_refusal(refused, f)),
        };
        // Admitted: only now is the closure moved into a task.
        self.registry().push_admitted(route, Task::spawn(f));
        Ok(())
    }

    /// Runs `f` on the pool and returns a handle to its result (also a [`Future`](std::future::Future)).
    ///
    /// The handle's [`join`](JoinHandle::join) returns the value, the panic payload
    /// ([`TaskError::Panicked`](crate::TaskError::Panicked)),
    /// [`TaskError::Cancelled`](crate::TaskError::Cancelled) if it was cancelled before it
    /// started, or [`TaskError::Rejected`](crate::TaskError::Rejected) if the pool was shut
    /// down. From outside the pool, a full bounded queue makes this call wait for room
    /// (backpressure); use [`try_submit`](Pool::try_submit) or
    /// [`submit_timeout`](Pool::submit_timeout) not to wait. From one of the pool's own
    /// workers it never waits.
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
        self.submit_or_reject(f, None)
    }

    /// [`submit`](Pool::submit) bound to a [`CancelToken`]: cancelling the token cancels this
    /// task if it has not started (its handle then reports
    /// [`TaskError::Cancelled`](crate::TaskError::Cancelled)).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let token = corepool::CancelToken::new();
    /// let handle = pool.submit_with(&token, || 5);
    /// assert_eq!(handle.join().unwrap(), 5); // ran before anyone cancelled
    /// ```
    pub fn submit_with<F, T>(&self, token: &CancelToken, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_or_reject(f, Some(token))
    }

    /// [`submit`](Pool::submit) without waiting: if the bounded queue is full, or the pool
    /// is shut down, the same closure comes back in the error.
    ///
    /// ```
    /// use corepool::{Pool, TrySubmitError};
    ///
    /// let pool = Pool::builder().queue_capacity(64).build().unwrap();
    /// match pool.try_submit(|| 2 + 2) {
    ///     Ok(handle) => assert_eq!(handle.join().unwrap(), 4),
    ///     Err(TrySubmitError::Full(f)) => assert_eq!(f(), 4), // run it ourselves, or retry
    ///     Err(e) => panic!("{e}"),
    /// }
    /// ```
    pub fn try_submit<F, T>(&self, f: F) -> Result<JoinHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_waiting(f, Wait::No, None)
            .map_err(|(f, r)| self.count_refusal(r, f))
    }

    /// [`submit`](Pool::submit), waiting at most `timeout` for room in a full queue; then
    /// [`TrySubmitError::Timeout`] hands the closure back.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::builder().queue_capacity(8).build().unwrap();
    /// let handle = pool.submit_timeout(|| 1, Duration::from_millis(100)).unwrap();
    /// assert_eq!(handle.join().unwrap(), 1);
    /// ```
    pub fn submit_timeout<F, T>(
        &self,
        f: F,
        timeout: Duration,
    ) -> Result<JoinHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let wait = Instant::now()
            .checked_add(timeout)
            .map_or(Wait::Forever, Wait::Until);
        self.submit_waiting(f, wait, None)
            .map_err(|(f, r)| self.count_refusal(r, f))
    }

    /// Counts a `try_*`/`*_timeout` call the injector refused — once, as refused (full) or
    /// rejected (shut down) — and hands the closure back in the error.
    #[cold]
    fn count_refusal<F>(&self, refused: Refused, f: F) -> TrySubmitError<F> {
        self.registry().count_refusal(refused, false);
        TrySubmitError::from_refused(refused, f)
    }

    /// Admits, then builds and queues the task; a refusal hands `f` back.
    fn submit_waiting<F, T>(
        &self,
        f: F,
        wait: Wait,
        token: Option<&CancelToken>,
    ) -> Result<JoinHandle<T>, (F, Refused)>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let registry = self.registry();
        let route = match registry.admit(wait) {
            Ok(route) => route,
            Err(refused) => return Err((f, refused)),
        };
        let (task, handle) = Task::submit(f, token);
        registry.push_admitted(route, task);
        Ok(handle.run_by(registry))
    }

    /// Waits for room; after shutdown, a handle that reports `Rejected`.
    fn submit_or_reject<F, T>(&self, f: F, token: Option<&CancelToken>) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_waiting(f, Wait::Forever, token)
            .unwrap_or_else(|(f, _)| {
                // Not bound to the token: a refused call counts as rejected, once, even if
                // the token was already cancelled — bound to it, the cell would come back
                // already cancelled and be counted as a cancelled task the pool never
                // accepted (`submitted < completed + cancelled` at rest; found by the shuttle
                // scenarios).
                let (task, handle) = Task::submit(f, None);
                self.registry().reject(task);
                handle
            })
    }

    /// Runs blocking code (file or network I/O, a blocking library call) on the pool's
    /// **blocking lane**, never on a CPU worker, and returns a handle to its result.
    ///
    /// The lane runs at most `blocking_io` threads ([`Sizing::blocking_io`](crate::Sizing::blocking_io),
    /// [`set_blocking_io`](Pool::set_blocking_io)), started when needed and leaving after
    /// [`Builder::blocking_keep_alive`](crate::Builder::blocking_keep_alive) idle. It has its own queue
    /// ([`Builder::blocking_queue_capacity`](crate::Builder::blocking_queue_capacity)); when that is full this call waits for room
    /// ([`try_spawn_blocking`](Pool::try_spawn_blocking) does not). After shutdown the handle
    /// reports [`TaskError::Rejected`](crate::TaskError::Rejected), like every other way of
    /// submitting; on a running pool with `blocking_io = 0` it reports
    /// [`TaskError::NoBlockingLane`](crate::TaskError::NoBlockingLane) at once.
    ///
    /// ```
    /// use corepool::{Pool, Sizing, TaskError};
    ///
    /// let pool = Pool::builder().sizing(Sizing::cpu_bound().blocking_io(4)).build()?;
    /// let text = pool.spawn_blocking(|| std::fs::read_to_string("Cargo.toml"));
    /// assert!(text.join().unwrap().is_ok());
    ///
    /// let cpu_only = Pool::new(); // blocking_io defaults to 0
    /// assert!(matches!(cpu_only.spawn_blocking(|| ()).join(), Err(TaskError::NoBlockingLane)));
    /// cpu_only.shutdown();
    /// assert!(matches!(cpu_only.spawn_blocking(|| ()).join(), Err(TaskError::Rejected)));
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (task, handle) = Task::submit(f, None);
        self.registry().push_blocking(task);
        handle
    }

    /// [`spawn_blocking`](Pool::spawn_blocking) without waiting: if the lane's queue is full,
    /// or the pool is shut down, the same closure comes back in the error (counted in
    /// [`Metrics::refused`] or [`Metrics::rejected`]). With `blocking_io = 0` the handle
    /// reports [`TaskError::NoBlockingLane`](crate::TaskError::NoBlockingLane), as
    /// `spawn_blocking`'s does.
    ///
    /// ```
    /// use corepool::{Pool, Sizing, TrySubmitError};
    ///
    /// let pool = Pool::builder().sizing(Sizing::cpu_bound().blocking_io(1)).build()?;
    /// match pool.try_spawn_blocking(|| 6 * 7) {
    ///     Ok(handle) => assert_eq!(handle.join().unwrap(), 42),
    ///     Err(TrySubmitError::Full(f)) => assert_eq!(f(), 42), // the lane's queue was full
    ///     Err(e) => panic!("{e}"),
    /// }
    /// pool.shutdown();
    /// assert!(matches!(pool.try_spawn_blocking(|| 1), Err(TrySubmitError::ShutDown(_))));
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn try_spawn_blocking<F, T>(&self, f: F) -> Result<JoinHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let registry = self.registry();
        match registry.admit_blocking(Wait::No) {
            Ok(route) => {
                // Admitted: only now is the closure moved into a task.
                let (task, handle) = Task::submit(f, None);
                registry.push_blocking_admitted(route, task);
                Ok(handle)
            }
            Err(refused) => {
                registry.count_refusal(refused, true);
                Err(TrySubmitError::from_refused(refused, f))
            }
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The number of CPU workers in this pool (paused ones included; blocking-lane threads
    /// not) — rayon's `ThreadPool::current_num_threads`.
    ///
    /// ```
    /// let pool = corepool::Pool::builder()
    ///     .sizing(corepool::Sizing::cpu_bound().cores(1).per_core(2).oversubscribe(true))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.current_num_threads(), 2);
    /// ```
    pub fn current_num_threads(&self) -> usize {
        self.inner.plan.cpu_workers()
    }

    /// The index of the calling thread among this pool's CPU workers, or `None` if it is not
    /// one of them (another pool's worker, a blocking-lane thread, any other thread) —
    /// rayon's `ThreadPool::current_thread_index`.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let other = corepool::Pool::new();
    /// assert_eq!(pool.current_thread_index(), None);
    /// assert!(pool.install(|| pool.current_thread_index()).is_some());
    /// assert_eq!(other.install(|| pool.current_thread_index()), None);
    /// ```
    pub fn current_thread_index(&self) -> Option<usize> {
        let registry = self.registry();
        WorkerThread::with_current(|w| {
            w.filter(|w| std::ptr::eq(w.registry(), registry))
                .map(WorkerThread::index)
        })
    }

    /// Runs `f` on one of the pool's workers and returns its value, blocking the caller
    /// meanwhile. `f` may borrow from the caller's stack. Called from one of this pool's own
    /// workers, it just runs `f` there; called from a worker of *another* pool, that worker
    /// keeps running its own pool's tasks while it waits (so work that comes back into its
    /// pool cannot deadlock). A panic in `f` resumes in the caller.
    ///
    /// # Panics
    ///
    /// If `f` panics, or if the pool has been shut down: nothing could run `f`, and there is
    /// no value to return. The message names the function called (`Pool::install`,
    /// `Pool::map`, …); the call counts once in [`Metrics::rejected`]. The same holds for
    /// [`join`](Pool::join), [`scope`](Pool::scope) and the batch helpers, which run through
    /// `install`. [`try_install`](Pool::try_install) returns an error instead.
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
        self.install_as("Pool::install", f)
    }

    /// [`install`](Pool::install) that reports a shut-down pool as
    /// [`SubmitError::ShutDown`] instead of panicking (counted once in
    /// [`Metrics::rejected`]).
    ///
    /// ```
    /// use corepool::SubmitError;
    ///
    /// let pool = corepool::Pool::new();
    /// assert_eq!(pool.try_install(|| 6 * 7), Ok(42));
    /// pool.shutdown();
    /// assert_eq!(pool.try_install(|| 6 * 7), Err(SubmitError::ShutDown));
    /// assert_eq!(pool.metrics().rejected, 1);
    /// ```
    pub fn try_install<F, R>(&self, f: F) -> Result<R, SubmitError>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let registry = self.registry();
        let ran = WorkerThread::with_current(|worker| match worker {
            // One of this pool's workers (worker 0 on the building thread of a
            // `use_current_thread` pool: on duty while `f` runs) runs `f` right here.
            Some(worker) if std::ptr::eq(worker.registry(), registry) => Some(f()),
            // A worker of another pool helps its own pool while it waits.
            Some(worker) => worker.run_elsewhere(f, |task| registry.inject(task)),
            None => StackJob::run_and_wait(f, |task| registry.inject(task)),
        });
        ran.ok_or(SubmitError::ShutDown)
    }

    /// [`install`](Pool::install), naming `caller` — the function the user called — in the
    /// panic after shutdown.
    pub(crate) fn install_as<F, R>(&self, caller: &'static str, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        self.try_install(f).unwrap_or_else(|_| {
            panic!(
                "corepool: {caller} called on a pool that has been shut down: no worker is left \
                 to run it (Pool::try_install reports this as an error instead)"
            )
        })
    }

    /// Stops accepting outside work, runs every task already accepted (and whatever those
    /// spawn), then joins every worker thread. Idempotent; other handles see the pool as shut
    /// down. Later submissions are rejected: [`submit`](Pool::submit)'s handle reports
    /// [`TaskError::Rejected`](crate::TaskError::Rejected) at once.
    ///
    /// Called from a task running on this same pool (a CPU task or a blocking-lane task) it
    /// cannot wait for itself: it starts the shutdown and returns; the threads finish once that task and the rest are done.
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
        self.registry().shutdown(None);
    }

    /// Stops at once: refuses new work, **cancels every task not yet started** (their handles
    /// report [`TaskError::Cancelled`](crate::TaskError::Cancelled); spawned closures are
    /// dropped unrun), lets running tasks finish, and joins every thread. Returns the final
    /// counts.
    ///
    /// Tasks an owner waits for — a scope's tasks, the halves of `join`, `install` — are
    /// never cancelled: they belong to a task that is running, and run with it. Called from
    /// inside the pool, it starts the stop and returns without waiting (the report then is
    /// not final).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use corepool::{Pool, Sizing};
    ///
    /// let pool = Pool::builder().sizing(Sizing::cpu_bound().cores(1)).build().unwrap();
    /// let (started_tx, started) = mpsc::channel();
    /// let running = pool.submit(move || { started_tx.send(()).unwrap(); std::thread::sleep(std::time::Duration::from_millis(50)); 1 });
    /// started.recv().unwrap();
    /// let queued: Vec<_> = (0..100).map(|i| pool.submit(move || i)).collect();
    /// let report = pool.shutdown_now();
    /// assert_eq!(running.join().unwrap(), 1);             // it had started: it finished
    /// assert!(queued.into_iter().all(|h| h.join().unwrap_err().is_cancelled()));
    /// assert_eq!((report.ran(), report.cancelled), (1, 100));
    /// ```
    pub fn shutdown_now(&self) -> ShutdownReport {
        self.registry().shutdown_now(None);
        ShutdownReport::from(&self.metrics())
    }

    /// [`shutdown_now`](Pool::shutdown_now), waiting at most `timeout` for the running tasks
    /// to finish and the threads to exit. On timeout the stop goes on in the background, and
    /// dropping the last owner will not wait for those threads again: the ones still running
    /// then are detached and reported ([`Metrics::detached_threads`], and a line on stderr).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::new();
    /// let (started_tx, started) = std::sync::mpsc::channel();
    /// pool.spawn(move || { started_tx.send(()).unwrap(); std::thread::sleep(Duration::from_millis(300)) });
    /// started.recv().unwrap();
    /// assert!(pool.shutdown_now_timeout(Duration::from_millis(1)).is_err());
    /// let report = pool.shutdown_now_timeout(Duration::from_secs(10)).unwrap();
    /// assert_eq!(report.ran(), 1);
    /// ```
    pub fn shutdown_now_timeout(
        &self,
        timeout: Duration,
    ) -> Result<ShutdownReport, ShutdownTimedOut> {
        let deadline = Instant::now().checked_add(timeout);
        if self.registry().shutdown_now(deadline) {
            Ok(ShutdownReport::from(&self.metrics()))
        } else {
            Err(ShutdownTimedOut)
        }
    }

    /// [`shutdown`](Pool::shutdown), waiting at most `timeout` for the accepted work to finish
    /// and the threads to exit. On timeout the shutdown goes on in the background: a later
    /// [`shutdown`](Pool::shutdown) waits for the rest, but dropping the last owner does not
    /// wait again — threads still running then (stuck, as far as the pool can tell) are
    /// detached and reported ([`Metrics::detached_threads`], and a line on stderr naming
    /// them), and everything else is cleaned up.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::new();
    /// pool.spawn(|| std::thread::sleep(Duration::from_millis(300)));
    /// std::thread::sleep(Duration::from_millis(50)); // let it start
    /// assert!(pool.shutdown_timeout(Duration::from_millis(1)).is_err());
    /// assert!(pool.shutdown_timeout(Duration::from_secs(10)).is_ok());
    /// ```
    pub fn shutdown_timeout(&self, timeout: Duration) -> Result<(), ShutdownTimedOut> {
        let deadline = Instant::now().checked_add(timeout);
        if self.registry().shutdown(deadline) {
            Ok(())
        } else {
            Err(ShutdownTimedOut)
        }
    }

    /// Lets only the first `n` CPU workers run (clamped to `1..=` the pool's CPU workers) and
    /// returns the number now active. Surplus workers finish the task they are running, then
    /// park — their queued work is stolen by the others — until a later call lets them run
    /// again; a [`broadcast`](Pool::broadcast) still reaches them (a parked worker makes its
    /// call and parks again). No effect after shutdown.
    ///
    /// ```
    /// use corepool::{Pool, Sizing};
    ///
    /// let pool = Pool::builder().sizing(Sizing::cpu_bound().cores(1).per_core(4)).build().unwrap();
    /// assert_eq!(pool.set_active_workers(2), 2);
    /// assert_eq!(pool.submit(|| 1).join().unwrap(), 1);
    /// assert_eq!(pool.set_active_workers(100), 4);
    /// assert_eq!(pool.metrics().active_workers, 4);
    /// ```
    pub fn set_active_workers(&self, n: usize) -> usize {
        let n = n.clamp(1, self.inner.plan.cpu_workers());
        self.registry().set_active_workers(n)
    }

    /// Changes how many threads the blocking lane may run (capped at
    /// [`MAX_THREADS`]). Growing starts threads for queued blocking tasks
    /// at once and wakes submitters waiting for room; shrinking lets surplus threads leave as
    /// soon as they are idle. At 0, [`spawn_blocking`](Pool::spawn_blocking) reports
    /// [`TaskError::NoBlockingLane`](crate::TaskError::NoBlockingLane); what is already queued
    /// still runs.
    ///
    /// ```
    /// let pool = corepool::Pool::new(); // blocking_io = 0
    /// pool.set_blocking_io(2);
    /// assert_eq!(pool.spawn_blocking(|| 3).join().unwrap(), 3);
    /// assert_eq!(pool.metrics().blocking.max_threads, 2);
    /// ```
    pub fn set_blocking_io(&self, n: usize) {
        self.registry().set_blocking_threads(n.min(MAX_THREADS));
    }

    /// True once [`shutdown`](Pool::shutdown) has been called on any handle.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// assert!(!pool.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.registry().is_shut_down()
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

    /// A snapshot of the pool's counters, cheap to take at any time (no lock, nothing
    /// stops). A worker counts a task just after it finished, so a snapshot taken right after
    /// `join` may not include it yet; after [`shutdown`](Pool::shutdown) the figures are
    /// final. `install` and `join` are parts of their caller's work, not tasks of their own:
    /// they are not counted.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// pool.spawn(|| ());
    /// pool.shutdown();
    /// let m = pool.metrics();
    /// assert_eq!((m.submitted, m.completed, m.executed()), (1, 1, 1));
    /// ```
    pub fn metrics(&self) -> Metrics {
        self.inner.registry.metrics(self.inner.plan.workers())
    }
}

/// What [`Pool::shutdown_now`] leaves behind: the pool's task counts over its whole life,
/// so that `submitted == ran() + cancelled` — exactly so once no other thread is still inside
/// a submit call: a submitter racing the shutdown is counted as accepted until it finds the
/// pool gone, and then as rejected.
///
/// ```
/// let pool = corepool::Pool::new();
/// pool.submit(|| ()).join().unwrap();
/// let report = pool.shutdown_now();
/// assert_eq!((report.submitted, report.ran(), report.cancelled), (1, 1, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Tasks the pool accepted.
    pub submitted: u64,
    /// Tasks that ran and returned.
    pub completed: u64,
    /// Tasks that ran and panicked.
    pub panicked: u64,
    /// Tasks cancelled before they started (by `shutdown_now`, a handle or a token).
    pub cancelled: u64,
}

impl ShutdownReport {
    /// Tasks that ran: completed + panicked.
    ///
    /// ```
    /// let report = corepool::Pool::new().shutdown_now();
    /// assert_eq!(report.ran(), 0);
    /// ```
    pub fn ran(&self) -> u64 {
        self.completed + self.panicked
    }
}

impl From<&Metrics> for ShutdownReport {
    fn from(m: &Metrics) -> Self {
        ShutdownReport {
            submitted: m.submitted,
            completed: m.completed,
            panicked: m.panicked,
            cancelled: m.cancelled,
        }
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
    /// the blocking lane, shutdown, rejection): small enough to run under miri.
    #[test]
    fn round_trip_through_every_path() {
        let pool = Pool::builder()
            .sizing(
                Sizing::cpu_bound()
                    .cores(2)
                    .oversubscribe(true)
                    .blocking_io(2),
            )
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
        // A burst into the empty blocking lane: the caller starts one thread, which starts the
        // next.
        let lane: Vec<_> = (0..3)
            .map(|i| pool.spawn_blocking(move || i * 10))
            .collect();
        let lane_sum: i32 = lane.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(lane_sum, 30);
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
