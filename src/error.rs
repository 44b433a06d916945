//! Typed errors: building a pool ([`BuildError`]) and joining a task ([`TaskError`]).

use std::any::Any;
use std::fmt;

/// Where a sizing value came from, so an error can name the culprit.
///
/// ```
/// use corepool::{BuildError, Origin, Pool, Sizing};
///
/// let err = Pool::builder().sizing(Sizing::cpu_bound().cores(0)).build().unwrap_err();
/// assert!(matches!(err, BuildError::ZeroCores { origin: Origin::Code }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Set in code through [`Sizing`](crate::Sizing).
    Code,
    /// Read from this environment variable.
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Code => f.write_str("set in code"),
            Origin::Env(var) => write!(f, "from ${var}"),
        }
    }
}

/// Why [`Builder::build`](crate::Builder::build) refused to start a pool.
///
/// ```
/// use corepool::{BuildError, Pool, Sizing};
///
/// let err = Pool::builder()
///     .sizing(Sizing::cpu_bound().cores(1).per_core(0))
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, BuildError::ZeroPerCore { .. }));
/// println!("{err}"); // names the culprit
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// `cores` was 0.
    ZeroCores {
        /// Where the 0 came from.
        origin: Origin,
    },
    /// `per_core` (k) was 0.
    ZeroPerCore {
        /// Where the 0 came from.
        origin: Origin,
    },
    /// `cores × per_core + blocking_io` is more threads than corepool will start.
    TooManyThreads {
        /// The total the sizing asked for (saturating).
        total: usize,
        /// The most corepool starts ([`MAX_THREADS`](crate::MAX_THREADS)).
        limit: usize,
    },
    /// `cores` is more than the CPUs this process may use (affinity mask, cgroup quota), and
    /// [`Sizing::oversubscribe`](crate::Sizing::oversubscribe) was not asked for. Use
    /// [`Sizing::per_core`](crate::Sizing::per_core) to run more workers per core.
    CoresBeyondAllowed {
        /// The cores asked for.
        cores: usize,
        /// The CPUs this process may use ([`detect_cores`](crate::detect_cores)).
        allowed: usize,
        /// Where `cores` came from.
        origin: Origin,
    },
    /// An environment override could not be parsed: a whole number, or for
    /// [`ENV_PIN`](crate::ENV_PIN) a switch (`1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`).
    InvalidEnv {
        /// The variable, e.g. `COREPOOL_CORES`.
        var: &'static str,
        /// What it held.
        value: String,
    },
    /// A queue capacity of 0 ([`Builder::queue_capacity`](crate::Builder::queue_capacity) or
    /// [`Builder::blocking_queue_capacity`](crate::Builder::blocking_queue_capacity)): nothing
    /// could ever be submitted.
    ZeroQueueCapacity,
    /// [`Builder::thread_name`](crate::Builder::thread_name) gave a name with a NUL byte,
    /// which no thread can take.
    InvalidThreadName {
        /// The name it gave.
        name: String,
    },
    /// The operating system refused to start a worker thread.
    Spawn(std::io::Error),
    /// [`Builder::build_global`](crate::Builder::build_global) was called after the global
    /// pool already existed (built by an earlier `build_global`, or on first use by a free
    /// function such as [`join`](crate::join())).
    GlobalPoolAlreadyBuilt,
    /// [`Builder::use_current_thread`](crate::Builder::use_current_thread) was asked on a
    /// thread that already is a pool's worker: a CPU worker of any pool, or worker 0 of
    /// another such pool that is still running.
    CurrentThreadInPool,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroCores { origin } => write!(f, "cores must be at least 1 (0 {origin})"),
            BuildError::ZeroPerCore { origin } => {
                write!(f, "workers per core must be at least 1 (0 {origin})")
            }
            BuildError::TooManyThreads { total, limit } => write!(
                f,
                "cores x per_core + blocking_io = {total} threads, more than the limit of {limit}"
            ),
            BuildError::CoresBeyondAllowed {
                cores,
                allowed,
                origin,
            } => write!(
                f,
                "cores = {cores} ({origin}) but this process may use only {allowed} {}; \
                 per_core(k) runs k workers per core, Sizing::oversubscribe(true) starts the \
                 extra workers unpinned",
                crate::placement::cores::plural(*allowed, "CPU", "CPUs")
            ),
            BuildError::InvalidEnv { var, value } if *var == crate::ENV_PIN => write!(
                f,
                "${var} = {value:?} is not one of 1, true, yes, on, 0, false, no, off"
            ),
            BuildError::InvalidEnv { var, value } => {
                write!(f, "${var} = {value:?} is not a whole number")
            }
            BuildError::ZeroQueueCapacity => {
                f.write_str("a queue capacity must be at least 1 (leave it unset for unbounded)")
            }
            BuildError::InvalidThreadName { name } => {
                write!(f, "thread name {name:?} contains a NUL byte")
            }
            BuildError::Spawn(e) => write!(f, "could not start a worker thread: {e}"),
            BuildError::GlobalPoolAlreadyBuilt => f.write_str(
                "the global pool has already been built (by an earlier build_global, or on \
                 first use of a free function such as corepool::join)",
            ),
            BuildError::CurrentThreadInPool => f.write_str(
                "use_current_thread: the calling thread already is a pool's worker (a CPU \
                 worker, or worker 0 of another use_current_thread pool still running)",
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a [`JoinHandle`](crate::JoinHandle) has no value to give.
///
/// `Send + Sync + 'static`, like tokio's `JoinError`, so `handle.join()?` works in a function
/// returning `Box<dyn Error + Send + Sync>` (or `anyhow::Result`).
///
/// ```
/// use corepool::{Pool, TaskError};
///
/// let pool = Pool::new();
/// let handle = pool.submit(|| -> u32 { panic!("boom") });
/// match handle.join() {
///     Err(TaskError::Panicked(panic)) => assert_eq!(panic.message(), "boom"),
///     other => panic!("unexpected {other:?}"),
/// }
///
/// fn answer(pool: &Pool) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
///     Ok(pool.submit(|| 42).join()?)
/// }
/// assert_eq!(answer(&pool).unwrap(), 42);
/// ```
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; [`into_panic`](TaskError::into_panic) gives back the payload
    /// `catch_unwind` caught.
    Panicked(PanicPayload),
    /// The pool was shut down before the task was accepted; the task never ran.
    Rejected,
    /// The task was cancelled before it started ([`JoinHandle::cancel`](crate::JoinHandle::cancel),
    /// a [`CancelToken`](crate::CancelToken), or [`Pool::shutdown_now`](crate::Pool::shutdown_now));
    /// it never ran.
    Cancelled,
    /// [`Pool::spawn_blocking`](crate::Pool::spawn_blocking) on a running pool whose blocking
    /// lane has no threads (`blocking_io` is 0); the task never ran. After shutdown
    /// `spawn_blocking` reports [`Rejected`](TaskError::Rejected) like every other call.
    NoBlockingLane,
}

/// A task's panic payload, held so that [`TaskError`] is `Sync`: the payload (`Box<dyn Any +
/// Send>`, not `Sync`) is reachable only by value or through `&mut`, never through `&`; the
/// message was read from it when the panic was caught.
///
/// ```
/// use corepool::Pool;
///
/// let pool = Pool::new();
/// let err = pool.submit(|| -> () { std::panic::panic_any(7u8) }).join().unwrap_err();
/// let corepool::TaskError::Panicked(mut panic) = err else { unreachable!() };
/// assert_eq!(panic.message(), "<non-string panic payload>");
/// assert_eq!(panic.payload_mut().downcast_mut::<u8>(), Some(&mut 7));
/// assert_eq!(*panic.into_payload().downcast::<u8>().unwrap(), 7);
/// ```
pub struct PanicPayload {
    payload: Box<dyn Any + Send + 'static>,
    message: Box<str>,
}

// SAFETY: `Sync` lets other threads hold `&PanicPayload` at once. Through `&` this type
// exposes only `message` (an owned `Box<str>`, itself `Sync`); `payload` is reached only by
// `into_payload(self)` and `payload_mut(&mut self)`, which need exclusive access, and is
// never read through `&self` (`Debug` and `Display` print `message`). So no two threads can
// touch the non-`Sync` payload at once. It is `Send` on its own.
unsafe impl Sync for PanicPayload {}

impl PanicPayload {
    /// Wraps a payload `catch_unwind` caught, reading its message now.
    pub(crate) fn new(payload: Box<dyn Any + Send + 'static>) -> Self {
        let message = panic_message(&*payload).into();
        PanicPayload { payload, message }
    }

    /// The panic's message: the `&str` or `String` it carried, else
    /// `"<non-string panic payload>"`.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let err = pool.submit(|| -> () { panic!("at {}", 3) }).join().unwrap_err();
    /// assert_eq!(err.panic_message(), Some("at 3"));
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The payload, to downcast in place.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let err = pool.submit(|| -> () { std::panic::panic_any(5u32) }).join().unwrap_err();
    /// let corepool::TaskError::Panicked(mut panic) = err else { unreachable!() };
    /// *panic.payload_mut().downcast_mut::<u32>().unwrap() += 1;
    /// assert_eq!(*panic.into_payload().downcast::<u32>().unwrap(), 6);
    /// ```
    pub fn payload_mut(&mut self) -> &mut (dyn Any + Send + 'static) {
        &mut *self.payload
    }

    /// The payload itself, e.g. for [`std::panic::resume_unwind`].
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let err = pool.submit(|| -> () { panic!("gone") }).join().unwrap_err();
    /// let corepool::TaskError::Panicked(panic) = err else { unreachable!() };
    /// assert_eq!(*panic.into_payload().downcast::<&str>().unwrap(), "gone");
    /// ```
    pub fn into_payload(self) -> Box<dyn Any + Send + 'static> {
        self.payload
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.message, f)
    }
}

impl fmt::Display for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl TaskError {
    /// True if the task panicked.
    ///
    /// ```
    /// # use corepool::TaskError;
    /// assert!(!TaskError::Rejected.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// True if the task was cancelled before it started.
    ///
    /// ```
    /// # use corepool::TaskError;
    /// assert!(TaskError::Cancelled.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// The panic's message if the task panicked.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let err = pool.submit(|| -> () { panic!("boom") }).join().unwrap_err();
    /// assert_eq!(err.panic_message(), Some("boom"));
    /// assert_eq!(corepool::TaskError::Rejected.panic_message(), None);
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            TaskError::Panicked(p) => Some(p.message()),
            _ => None,
        }
    }

    /// The panic payload, as `catch_unwind` caught it.
    ///
    /// # Panics
    ///
    /// If the task did not panic; [`try_into_panic`](TaskError::try_into_panic) does not.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let err = pool.submit(|| -> () { panic!("boom") }).join().unwrap_err();
    /// assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic().unwrap_or_else(|e| {
            panic!("TaskError::into_panic on an error that is not a panic: {e}")
        })
    }

    /// The panic payload if the task panicked, else the error itself.
    ///
    /// ```
    /// use corepool::TaskError;
    ///
    /// assert!(matches!(TaskError::Cancelled.try_into_panic(), Err(TaskError::Cancelled)));
    /// let pool = corepool::Pool::new();
    /// let err = pool.submit(|| -> () { panic!("boom") }).join().unwrap_err();
    /// assert!(err.try_into_panic().is_ok());
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, TaskError> {
        match self {
            TaskError::Panicked(p) => Ok(p.into_payload()),
            other => Err(other),
        }
    }

    /// Resumes the task's panic on this thread if it panicked, otherwise returns `self`.
    ///
    /// ```
    /// # use corepool::TaskError;
    /// let err = TaskError::Rejected.resume_if_panic();
    /// assert!(matches!(err, TaskError::Rejected));
    /// ```
    pub fn resume_if_panic(self) -> Self {
        match self.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(other) => other,
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            TaskError::Rejected => f.write_str("Rejected"),
            TaskError::Cancelled => f.write_str("Cancelled"),
            TaskError::NoBlockingLane => f.write_str("NoBlockingLane"),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(p) => write!(f, "task panicked: {}", p.message()),
            TaskError::Rejected => f.write_str("task rejected: the pool is shut down"),
            TaskError::Cancelled => f.write_str("task cancelled before it started"),
            TaskError::NoBlockingLane => {
                f.write_str("task rejected: the pool has no blocking lane (blocking_io = 0)")
            }
        }
    }
}

impl std::error::Error for TaskError {}

/// The message of a panic payload: the `&str` or `String` it carries, else a placeholder.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("at {}", 3)).unwrap_err();
/// assert_eq!(corepool::panic_message(&*payload), "at 3");
/// let odd = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
/// assert_eq!(corepool::panic_message(&*odd), "<non-string panic payload>");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}

/// Why [`Pool::try_submit`](crate::Pool::try_submit) and friends did not take a task; each
/// variant hands the closure back, untouched.
///
/// ```
/// use corepool::{Pool, TrySubmitError};
///
/// let pool = Pool::new();
/// pool.shutdown();
/// match pool.try_submit(|| 42) {
///     Err(TrySubmitError::ShutDown(f)) => assert_eq!(f(), 42), // the same closure, back
///     _ => unreachable!(),
/// }
/// ```
pub enum TrySubmitError<F> {
    /// The queue is full ([`Builder::queue_capacity`](crate::Builder::queue_capacity)).
    Full(F),
    /// The queue stayed full for the whole timeout.
    Timeout(F),
    /// The pool is shut down.
    ShutDown(F),
}

impl<F> TrySubmitError<F> {
    /// The closure that was not submitted.
    ///
    /// ```
    /// let err = corepool::TrySubmitError::Full(|| 7);
    /// assert_eq!(err.into_inner()(), 7);
    /// ```
    pub fn into_inner(self) -> F {
        match self {
            TrySubmitError::Full(f) | TrySubmitError::Timeout(f) | TrySubmitError::ShutDown(f) => f,
        }
    }

    /// True if the pool refused because its queue is full (now or for the whole timeout):
    /// trying again later may work.
    ///
    /// ```
    /// assert!(corepool::TrySubmitError::Timeout(()).is_full());
    /// assert!(!corepool::TrySubmitError::ShutDown(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        !matches!(self, TrySubmitError::ShutDown(_))
    }

    pub(crate) fn from_refused(refused: crate::lane::bound::Refused, f: F) -> Self {
        match refused {
            crate::lane::bound::Refused::Full => TrySubmitError::Full(f),
            crate::lane::bound::Refused::Timeout => TrySubmitError::Timeout(f),
            crate::lane::bound::Refused::Closed => TrySubmitError::ShutDown(f),
        }
    }
}

impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySubmitError::Full(_) => "Full(..)",
            TrySubmitError::Timeout(_) => "Timeout(..)",
            TrySubmitError::ShutDown(_) => "ShutDown(..)",
        })
    }
}

impl<F> fmt::Display for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.reason(), f)
    }
}

impl<F> std::error::Error for TrySubmitError<F> {}

impl<F> TrySubmitError<F> {
    /// Why the task was refused, without the closure: a `Send + Sync + Copy` error for `?`
    /// into `Box<dyn Error + Send + Sync>` or `anyhow`, whatever the closure captured. The
    /// closure is dropped unrun here; use [`into_inner`](TrySubmitError::into_inner) first to
    /// keep it.
    ///
    /// ```
    /// use corepool::{Pool, SubmitError};
    ///
    /// fn run(pool: &Pool) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    ///     let not_sync = std::cell::Cell::new(20); // a closure capturing this is not Sync
    ///     let handle = pool.try_submit(move || not_sync.get() + 1).map_err(SubmitError::from)?;
    ///     Ok(handle.join()?)
    /// }
    /// let pool = Pool::new();
    /// assert_eq!(run(&pool).unwrap(), 21);
    /// pool.shutdown();
    /// let err = run(&pool).unwrap_err();
    /// assert!(matches!(err.downcast_ref::<SubmitError>(), Some(SubmitError::ShutDown)));
    /// ```
    pub fn reason(&self) -> SubmitError {
        match self {
            TrySubmitError::Full(_) => SubmitError::Full,
            TrySubmitError::Timeout(_) => SubmitError::Timeout,
            TrySubmitError::ShutDown(_) => SubmitError::ShutDown,
        }
    }
}

/// Why [`Pool::try_submit`](crate::Pool::try_submit) and friends did not take a task, without
/// the closure [`TrySubmitError`] hands back: `Send + Sync + 'static`, so it travels with `?`.
///
/// ```
/// use corepool::{SubmitError, TrySubmitError};
///
/// let err: SubmitError = TrySubmitError::Full(|| 7).into();
/// assert_eq!(err, SubmitError::Full);
/// assert_eq!(err.to_string(), "the pool's queue is full");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubmitError {
    /// The queue was full ([`TrySubmitError::Full`]).
    Full,
    /// The queue stayed full for the whole timeout ([`TrySubmitError::Timeout`]).
    Timeout,
    /// The pool is shut down ([`TrySubmitError::ShutDown`]).
    ShutDown,
}

impl<F> From<TrySubmitError<F>> for SubmitError {
    /// Drops the closure unrun, keeping why.
    fn from(err: TrySubmitError<F>) -> Self {
        err.reason()
    }
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubmitError::Full => "the pool's queue is full",
            SubmitError::Timeout => "the pool's queue stayed full until the timeout",
            SubmitError::ShutDown => "the pool is shut down",
        })
    }
}

impl std::error::Error for SubmitError {}

/// [`Pool::shutdown_timeout`](crate::Pool::shutdown_timeout) (or
/// [`shutdown_now_timeout`](crate::Pool::shutdown_now_timeout)) returned before every thread
/// had finished. The shutdown goes on: the threads finish what they accepted on their own,
/// and a later [`Pool::shutdown`](crate::Pool::shutdown) waits for them; dropping the last
/// owner does not — it detaches and reports the threads still running then.
///
/// ```
/// let err = corepool::ShutdownTimedOut;
/// assert_eq!(err.to_string(), "the pool did not finish shutting down in time");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownTimedOut;

impl fmt::Display for ShutdownTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the pool did not finish shutting down in time")
    }
}

impl std::error::Error for ShutdownTimedOut {}
