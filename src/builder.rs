//! [`Builder`]: configure and start a [`Pool`].

use std::any::Any;
use std::fmt;
use std::time::Duration;

use crate::error::BuildError;
use crate::lane::blocking::LaneConfig;
use crate::placement::cores::detect_cores;
use crate::placement::sizing::{env_pin, env_spin, process_env, PinStatus, Plan, Sizing};
use crate::placement::topology::{neighbour_order, Topology};
use crate::pool::Pool;
use crate::sched::registry::{Handlers, PanicHandler, ThreadHandler};
use crate::sched::start::{self, PoolConfig, Seat};
use crate::sched::worker::WorkerThread;
use crate::sync::SeededBugs;

type ThreadName = Box<dyn FnMut(usize) -> String>;

/// Configures a [`Pool`]; start it with [`build`](Builder::build).
///
/// ```
/// use corepool::{Pool, Sizing};
///
/// let pool = Pool::builder()
///     .sizing(Sizing::cpu_bound().cores(2).per_core(1))
///     .pin_workers(false)
///     .thread_name(|i| format!("hasher-{i}"))
///     .stack_size(4 << 20)
///     .panic_handler(|payload| eprintln!("task failed: {}", corepool::panic_message(&*payload)))
///     .build()?;
/// assert_eq!(pool.plan().cpu_workers(), 2);
/// # Ok::<(), corepool::BuildError>(())
/// ```
#[must_use = "a Builder does nothing until .build() is called"]
pub struct Builder {
    sizing: Sizing,
    /// `None`: from `COREPOOL_PIN`, else on.
    pin_workers: Option<bool>,
    thread_name: Option<ThreadName>,
    stack_size: Option<usize>,
    panic_handler: Option<PanicHandler>,
    start_handler: Option<ThreadHandler>,
    exit_handler: Option<ThreadHandler>,
    queue_capacity: Option<usize>,
    blocking_queue_capacity: Option<usize>,
    blocking_keep_alive: Duration,
    /// `None`: from `COREPOOL_SPIN_US`, else [`DEFAULT_SPIN_BEFORE_PARK`].
    spin_before_park: Option<Duration>,
    prestart_blocking: bool,
    use_current_thread: bool,
    seeded_bugs: SeededBugs,
}

/// The blocking lane's queue bound when the builder leaves it unset.
///
/// ```
/// let pool = corepool::Pool::new();
/// assert_eq!(pool.metrics().blocking.queue_capacity, Some(corepool::DEFAULT_BLOCKING_QUEUE_CAPACITY));
/// ```
pub const DEFAULT_BLOCKING_QUEUE_CAPACITY: usize = 1024;

/// How long an idle blocking-lane thread waits for work before it leaves, by default.
///
/// ```
/// assert_eq!(corepool::DEFAULT_BLOCKING_KEEP_ALIVE.as_secs(), 10);
/// ```
pub const DEFAULT_BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(10);

pub use crate::placement::sizing::DEFAULT_SPIN_BEFORE_PARK;

impl Default for Builder {
    fn default() -> Self {
        Builder {
            sizing: Sizing::cpu_bound(),
            pin_workers: None,
            thread_name: None,
            stack_size: None,
            panic_handler: None,
            start_handler: None,
            exit_handler: None,
            queue_capacity: None,
            blocking_queue_capacity: Some(DEFAULT_BLOCKING_QUEUE_CAPACITY),
            blocking_keep_alive: DEFAULT_BLOCKING_KEEP_ALIVE,
            spin_before_park: None,
            prestart_blocking: false,
            use_current_thread: false,
            seeded_bugs: SeededBugs::default(),
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("sizing", &self.sizing)
            .field("pin_workers", &self.pin_workers)
            .field("stack_size", &self.stack_size)
            .field("custom_thread_name", &self.thread_name.is_some())
            .field("custom_panic_handler", &self.panic_handler.is_some())
            .field("start_handler", &self.start_handler.is_some())
            .field("exit_handler", &self.exit_handler.is_some())
            .field("queue_capacity", &self.queue_capacity)
            .field("blocking_queue_capacity", &self.blocking_queue_capacity)
            .field("blocking_keep_alive", &self.blocking_keep_alive)
            .field("spin_before_park", &self.spin_before_park)
            .field("prestart_blocking", &self.prestart_blocking)
            .field("use_current_thread", &self.use_current_thread)
            .finish()
    }
}

impl Builder {
    /// A builder with the defaults: [`Sizing::cpu_bound`], pinning on, threads named
    /// `corepool-cpu-{i}`, the platform's stack size, panics reported on stderr.
    ///
    /// ```
    /// let pool = corepool::Builder::new().build().unwrap();
    /// assert!(pool.plan().cpu_workers() >= 1);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// How many threads: `cores × per_core + blocking_io` (see [`Sizing`]).
    ///
    /// ```
    /// let pool = corepool::Pool::builder()
    ///     .sizing(corepool::Sizing::cpu_bound().cores(1).per_core(3))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.plan().cpu_workers(), 3);
    /// ```
    pub fn sizing(mut self, sizing: Sizing) -> Self {
        self.sizing = sizing;
        self
    }

    /// Pin worker `i` to allowed CPU `i mod cores` (default `true`, or what
    /// [`COREPOOL_PIN`](crate::ENV_PIN) says when this is not called). A worker whose pinning
    /// fails runs unpinned; the plan and metrics show it.
    ///
    /// ```
    /// let pool = corepool::Pool::builder().pin_workers(false).build().unwrap();
    /// assert!(pool.plan().workers().iter().all(|w| !w.pin.is_pinned()));
    /// ```
    pub fn pin_workers(mut self, pin: bool) -> Self {
        self.pin_workers = Some(pin);
        self
    }

    /// Names worker threads; called with each worker's index. Default `corepool-cpu-{i}`.
    /// Linux shows at most 15 bytes of a thread name. A name with a NUL byte makes
    /// [`build`](Builder::build) fail with [`BuildError::InvalidThreadName`].
    ///
    /// ```
    /// let pool = corepool::Pool::builder().thread_name(|i| format!("sim-{i}")).build().unwrap();
    /// let name = pool.install(|| std::thread::current().name().map(str::to_owned));
    /// assert!(name.unwrap().starts_with("sim-"));
    /// ```
    pub fn thread_name(mut self, name: impl FnMut(usize) -> String + 'static) -> Self {
        self.thread_name = Some(Box::new(name));
        self
    }

    /// Stack size of each worker thread, in bytes.
    ///
    /// ```
    /// let pool = corepool::Pool::builder().stack_size(8 << 20).build().unwrap();
    /// assert_eq!(pool.install(|| 1 + 1), 2);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Receives the payload of every fire-and-forget task ([`Pool::spawn`],
    /// [`spawn`](crate::spawn)) that panics. Without one, a line naming the worker goes to
    /// stderr. The worker survives either way; a handler that itself panics is reported and
    /// ignored. Submitted tasks' panics go to their [`JoinHandle`](crate::JoinHandle) instead.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let s = seen.clone();
    /// let pool = corepool::Pool::builder()
    ///     .panic_handler(move |_| { s.fetch_add(1, Ordering::SeqCst); })
    ///     .build()
    ///     .unwrap();
    /// pool.spawn(|| panic!("lost"));
    /// pool.shutdown();
    /// assert_eq!(seen.load(Ordering::SeqCst), 1);
    /// ```
    pub fn panic_handler(
        mut self,
        handler: impl Fn(Box<dyn Any + Send>) + Send + Sync + 'static,
    ) -> Self {
        self.panic_handler = Some(Box::new(handler));
        self
    }

    /// Runs `handler(index)` on each CPU worker's thread as it starts, before it takes any
    /// task — rayon's `start_handler`. Inside it the thread already is the worker
    /// ([`current_thread_index`](crate::current_thread_index) is `Some(index)`). It runs
    /// after [`build`](Builder::build) has released the workers, so `build` does not wait for
    /// it to return; tasks submitted meanwhile wait for that worker (or are taken by the
    /// others). A panic in it goes to the [`panic_handler`](Builder::panic_handler) and the
    /// worker starts normally. Blocking-lane threads do not run it (they are not CPU workers
    /// and have no index).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let s = started.clone();
    /// let pool = corepool::Pool::builder()
    ///     .sizing(corepool::Sizing::cpu_bound().cores(1).per_core(2).oversubscribe(true))
    ///     .start_handler(move |index| {
    ///         assert_eq!(corepool::current_thread_index(), Some(index));
    ///         s.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// pool.shutdown(); // joins the workers, so both handlers have run
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// ```
    pub fn start_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.start_handler = Some(Box::new(handler));
        self
    }

    /// Runs `handler(index)` on each CPU worker's thread as it exits, after its last task —
    /// rayon's `exit_handler`. Workers exit when the pool shuts down, and
    /// [`shutdown`](crate::Pool::shutdown) (or dropping the last owner) waits for the exit
    /// handlers with the threads; a pool whose build failed runs none. A panic in it goes to
    /// the [`panic_handler`](Builder::panic_handler) and the worker still exits cleanly.
    /// Blocking-lane threads do not run it.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use std::sync::Arc;
    ///
    /// let exited = Arc::new(Mutex::new(Vec::new()));
    /// let e = exited.clone();
    /// let pool = corepool::Pool::builder()
    ///     .sizing(corepool::Sizing::cpu_bound().cores(1).per_core(2).oversubscribe(true))
    ///     .exit_handler(move |index| e.lock().unwrap().push(index))
    ///     .build()
    ///     .unwrap();
    /// drop(pool);
    /// let mut exited = exited.lock().unwrap().clone();
    /// exited.sort();
    /// assert_eq!(exited, [0, 1]);
    /// ```
    pub fn exit_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.exit_handler = Some(Box::new(handler));
        self
    }

    /// Bounds the injector — the queue of work submitted from outside the pool — to `n`
    /// tasks (default: unbounded). When it is full, [`Pool::submit`] and [`Pool::spawn`] wait
    /// for room (backpressure), [`Pool::try_submit`] hands the closure back at once, and
    /// [`Pool::submit_timeout`] after its timeout. Tasks spawned from inside the pool's own
    /// tasks go to the worker's own deque and are never bounded, so a task can never block
    /// (or deadlock) submitting to its own pool. Workers take tasks out in batches, so up to a
    /// batch per worker may wait in workers' deques on top of `n`. `n = 0` is a
    /// [`BuildError::ZeroQueueCapacity`].
    ///
    /// ```
    /// use corepool::{Pool, TrySubmitError};
    ///
    /// let pool = Pool::builder().queue_capacity(1_000).build()?;
    /// let handle = match pool.try_submit(|| 1) {
    ///     Ok(handle) => handle,
    ///     Err(TrySubmitError::Full(f)) => pool.submit(f), // wait for room after all
    ///     Err(e) => panic!("{e}"),
    /// };
    /// assert_eq!(handle.join().unwrap(), 1);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = Some(n);
        self
    }

    /// Bounds the blocking lane's own queue (default
    /// [`DEFAULT_BLOCKING_QUEUE_CAPACITY`]); [`Pool::spawn_blocking`] waits for room when it
    /// is full. `n = 0` is a [`BuildError::ZeroQueueCapacity`].
    ///
    /// ```
    /// use corepool::{Pool, Sizing};
    ///
    /// let pool = Pool::builder()
    ///     .sizing(Sizing::cpu_bound().blocking_io(2))
    ///     .blocking_queue_capacity(16)
    ///     .build()?;
    /// assert_eq!(pool.metrics().blocking.queue_capacity, Some(16));
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn blocking_queue_capacity(mut self, n: usize) -> Self {
        self.blocking_queue_capacity = Some(n);
        self
    }

    /// How long an idle blocking-lane thread waits for work before it leaves (default
    /// [`DEFAULT_BLOCKING_KEEP_ALIVE`]). Lane threads start only when blocking work arrives.
    ///
    /// ```
    /// use std::time::Duration;
    /// use corepool::{Pool, Sizing};
    ///
    /// let pool = Pool::builder()
    ///     .sizing(Sizing::cpu_bound().blocking_io(1))
    ///     .blocking_keep_alive(Duration::from_millis(20))
    ///     .build()?;
    /// pool.spawn_blocking(|| ()).join().unwrap();
    /// std::thread::sleep(Duration::from_millis(500));
    /// assert_eq!(pool.metrics().blocking.threads, 0); // it left after 20 ms idle
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn blocking_keep_alive(mut self, keep_alive: Duration) -> Self {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// Starts all `blocking_io` lane threads in `build`, instead of one per blocking task as
    /// they arrive (the default). By default a burst of blocking tasks into an idle lane costs
    /// its submitter one thread start (tens of µs), and each new thread starts the next, so
    /// the *k*-th task of the burst waits for *k* starts in a row; prestarting takes that wait
    /// off the burst, for blocking work known to come. Idle threads still leave after
    /// [`blocking_keep_alive`](Builder::blocking_keep_alive), and come back lazily.
    ///
    /// ```
    /// use corepool::{Pool, Sizing};
    ///
    /// let pool = Pool::builder()
    ///     .sizing(Sizing::cpu_bound().blocking_io(4))
    ///     .prestart_blocking(true)
    ///     .build()?;
    /// assert_eq!(pool.metrics().blocking.threads, 4);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn prestart_blocking(mut self, prestart: bool) -> Self {
        self.prestart_blocking = prestart;
        self
    }

    /// How long an idle worker that is *searching* keeps looking for work (spinning, without
    /// giving up its CPU) before it sleeps (default [`DEFAULT_SPIN_BEFORE_PARK`], or
    /// [`COREPOOL_SPIN_US`](crate::ENV_SPIN_US) microseconds when this is not called).
    ///
    /// Only the last searcher spins the window out (while several search, each sleeps after
    /// a short backoff until one is left), and workers that do not search sleep after the
    /// backoff and a few yields. A longer window buys lower start latency for work that
    /// arrives in a trickle — a task every few tens of µs — for at most one window of one
    /// CPU's time each time the pool runs dry. `Duration::ZERO` sleeps right after the backoff:
    /// the least CPU, and a wake-up (tens of µs) for the next task. Shutdown and
    /// [`Pool::set_active_workers`](crate::Pool::set_active_workers) end a spin early.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::builder()
    ///     .spin_before_park(Duration::ZERO)
    ///     .build()?;
    /// assert_eq!(pool.install(|| 6 * 7), 42);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn spin_before_park(mut self, window: Duration) -> Self {
        self.spin_before_park = Some(window);
        self
    }

    /// Makes the thread that calls [`build`](Builder::build) the pool's worker 0 — rayon's
    /// `use_current_thread`. No thread is started for worker 0: on the building thread
    /// [`current_thread_index`](crate::current_thread_index) is `Some(0)`, and
    /// [`join`](crate::join()), [`scope`](crate::scope()), [`spawn`](crate::spawn),
    /// [`Pool::install`] (which runs its closure right there) use this pool. The thread runs
    /// pool work only while it blocks in the pool — the helping wait of a `join` whose other
    /// half was stolen, a scope waiting for its tasks, a [`JoinHandle::join`](crate::JoinHandle::join),
    /// [`yield_now`](crate::yield_now), [`Pool::wait_idle`] — and otherwise runs the
    /// caller's own code; what it queued is stolen by the other workers meanwhile (with no
    /// other worker, it runs what it queued as the call that queued it returns). A
    /// [`broadcast`](Pool::broadcast) call for worker 0 runs when the building thread next
    /// makes a pool call.
    ///
    /// - **Pinning**: the building thread is never pinned, whatever
    ///   [`pin_workers`](Builder::pin_workers) says — it is the caller's thread, and an
    ///   affinity set on it would outlast the pool and constrain everything else the thread
    ///   does; the plan shows worker 0 as [`PinStatus::CallerThread`].
    ///   The other workers are pinned as usual.
    /// - **Handlers and names**: the start and exit handlers do not run for worker 0 and
    ///   [`thread_name`](Builder::thread_name) does not rename the thread (as in rayon).
    /// - **Shutdown and drop on the building thread** (between pool calls): worker 0 joins
    ///   in and runs the pool's remaining work with the others until the pool terminates,
    ///   then the thread is no pool's worker any more. Inside a pool call (a task running on
    ///   worker 0), shutdown returns at once as it does on any worker.
    /// - **Shutdown and drop on another thread**: the other workers run everything accepted
    ///   (worker 0's queued tasks included) and exit; worker 0 does not hold them up unless
    ///   its thread is inside a pool call or a broadcast call waits for it. With a single CPU
    ///   worker there is no other worker: tasks queued from outside threads are then rejected
    ///   as after any shutdown (their handles say so) — shut a one-worker pool down on its
    ///   building thread to run them. The building thread finds out on its next pool call
    ///   (which then runs on worker 0 alone), build or exit, and stops being worker 0.
    /// - A thread that already is a worker — of any pool, including worker 0 of another
    ///   pool still running — cannot build such a pool: [`BuildError::CurrentThreadInPool`].
    ///
    /// ```
    /// use corepool::{BuildError, PinStatus, Pool, Sizing};
    ///
    /// let pool = Pool::builder()
    ///     .sizing(Sizing::cpu_bound().cores(1).per_core(2).oversubscribe(true))
    ///     .use_current_thread()
    ///     .build()?;
    /// assert_eq!(corepool::current_thread_index(), Some(0));
    /// assert_eq!(pool.plan().workers()[0].pin, PinStatus::CallerThread);
    /// let (a, b) = corepool::join(|| 1, || 2); // on this pool, this thread being worker 0
    /// assert_eq!(a + b, 3);
    ///
    /// let again = Pool::builder().use_current_thread().build().unwrap_err();
    /// assert!(matches!(again, BuildError::CurrentThreadInPool));
    ///
    /// drop(pool); // runs what is left, then this thread is no worker any more
    /// assert_eq!(corepool::current_thread_index(), None);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn use_current_thread(mut self) -> Self {
        self.use_current_thread = true;
        self
    }

    /// Seeds protocol bugs on purpose, for the loom models' and shuttle scenarios' negative
    /// controls.
    #[cfg(any(corepool_loom, corepool_shuttle))]
    #[doc(hidden)]
    pub fn seed_bugs(mut self, bugs: SeededBugs) -> Self {
        self.seeded_bugs = bugs;
        self
    }

    /// Resolves the sizing, starts the workers, and returns the pool once every worker is up
    /// and has tried to pin itself.
    ///
    /// Errors: invalid sizing or environment overrides ([`BuildError`] names the culprit), or
    /// the OS refusing a thread.
    ///
    /// ```
    /// use corepool::{BuildError, Origin, Pool, Sizing};
    ///
    /// let err = Pool::builder().sizing(Sizing::cpu_bound().per_core(0)).build().unwrap_err();
    /// assert!(matches!(err, BuildError::ZeroPerCore { origin: Origin::Code }));
    /// ```
    pub fn build(self) -> Result<Pool, BuildError> {
        if self.queue_capacity == Some(0) || self.blocking_queue_capacity == Some(0) {
            return Err(BuildError::ZeroQueueCapacity);
        }
        if self.use_current_thread && !WorkerThread::caller_seat_free() {
            return Err(BuildError::CurrentThreadInPool);
        }
        let detected = detect_cores();
        let resolved = self.sizing.resolve(&detected)?;
        let pin_workers = match self.pin_workers {
            Some(pin) => pin,
            None => env_pin(&process_env)?.unwrap_or(true),
        };
        let spin_before_park = match self.spin_before_park {
            Some(window) => window,
            None => env_spin(&process_env)?.unwrap_or(DEFAULT_SPIN_BEFORE_PARK),
        };
        let mut plan = Plan::new(resolved, &detected, pin_workers);
        plan.set_spin_before_park(spin_before_park);
        let n = plan.cpu_workers();
        // Worker 0 on the building thread is never pinned (`use_current_thread` says why).
        let first_thread = usize::from(self.use_current_thread);
        if self.use_current_thread {
            plan.set_pin(0, PinStatus::CallerThread);
        }

        let pinned_cpus: Vec<Option<usize>> = plan
            .workers()
            .iter()
            .map(|w| {
                if pin_workers && w.index >= first_thread {
                    w.cpu
                } else {
                    None
                }
            })
            .collect();
        // Unpinned workers go by ring distance; only pinned ones need the sysfs topology.
        let topology = if pinned_cpus.iter().any(Option::is_some) {
            Topology::read()
        } else {
            Topology::default()
        };
        let neighbours = neighbour_order(&pinned_cpus, &topology);
        let max_cpu = pinned_cpus.iter().flatten().max().map_or(0, |c| c + 1);
        let mut cpu_to_worker = vec![None; max_cpu];
        for (i, cpu) in pinned_cpus.iter().enumerate() {
            if let Some(cpu) = *cpu {
                cpu_to_worker[cpu].get_or_insert(i);
            }
        }

        let mut name = self
            .thread_name
            .unwrap_or_else(|| Box::new(|i| format!("corepool-cpu-{i}")));
        let mut names: Vec<String> = (0..n).map(&mut name).collect();
        if self.use_current_thread {
            // Panic reports name worker 0 by the thread it really is.
            names[0] = std::thread::current()
                .name()
                .unwrap_or("the building thread")
                .to_owned();
        }
        if let Some(bad) = names.iter().find(|name| name.contains('\0')) {
            return Err(BuildError::InvalidThreadName { name: bad.clone() });
        }
        let seats = names
            .into_iter()
            .zip(neighbours)
            .zip(&pinned_cpus)
            .map(|((name, neighbours), &cpu)| Seat {
                name,
                cpu,
                neighbours,
            })
            .collect();
        let (registry, deques) = start::registry(
            seats,
            PoolConfig {
                cpu_to_worker: cpu_to_worker.into_boxed_slice(),
                handlers: Handlers {
                    panic: self.panic_handler,
                    start: self.start_handler,
                    exit: self.exit_handler,
                },
                queue_capacity: self.queue_capacity,
                spin_window: spin_before_park,
                lane: LaneConfig {
                    max: plan.blocking_io(),
                    capacity: self.blocking_queue_capacity,
                    keep_alive: self.blocking_keep_alive,
                    stack_size: self.stack_size,
                    seeded_bugs: self.seeded_bugs,
                },
                seeded_bugs: self.seeded_bugs,
                caller_worker: self.use_current_thread,
            },
        );
        let mut deques = deques;
        let caller_deque = if self.use_current_thread {
            Some(deques.remove(0))
        } else {
            None
        };
        let pins = start::start_threads(
            &registry,
            deques,
            first_thread,
            plan.workers(),
            self.stack_size,
        )
        .map_err(BuildError::Spawn)?;
        for (i, pin) in pins.into_iter().flatten().enumerate() {
            plan.set_pin(first_thread + i, pin);
        }
        if let Some(deque) = caller_deque {
            start::take_caller_seat(&registry, deque);
        }
        if self.prestart_blocking {
            registry.prestart_lane();
        }
        Ok(Pool::from_parts(registry, plan))
    }
}

/// The two ways to a pool: defaults, or a builder.
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
}
