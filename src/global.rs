//! The global pool: what the free functions ([`join`](crate::join()),
//! [`scope`](crate::scope()), [`spawn`](crate::spawn), [`current_num_threads`](crate::current_num_threads), …)
//! run on when the calling thread is not one of a pool's CPU workers.
//!
//! # States
//!
//! - **Unbuilt**: `GLOBAL` is empty.
//! - **Built**: `GLOBAL` holds an owning [`Pool`] for the rest of the process; it is never
//!   shut down (like rayon's global pool, its threads sleep when idle and end with the
//!   process).
//!
//! # Transitions (both under `BUILD`, so exactly one pool is ever built)
//!
//! 1. [`Builder::build_global`](crate::Builder::build_global): takes `BUILD`; if `GLOBAL`
//!    is set, refuses with [`BuildError::GlobalPoolAlreadyBuilt`]; otherwise builds the
//!    pool from the builder (a build error is returned and the global pool stays unbuilt)
//!    and sets `GLOBAL`.
//! 2. First use ([`global_pool`]): `GLOBAL` is read without the lock (the fast path of every
//!    free function outside a pool); if empty, takes `BUILD`, re-checks, and builds from
//!    [`Builder::new`] — the `COREPOOL_*` variables apply.
//!
//! A racing first use and `build_global` serialise on `BUILD`: whichever takes it first
//! builds, the other sees the result. Nothing is built twice and no thread starts for a
//! pool that is then thrown away.

use crate::builder::Builder;
use crate::error::BuildError;
use crate::pool::Pool;
use crate::sched::worker::WorkerThread;
use crate::sync::{OnceLock, StdMutex};

/// The global pool once built.
static GLOBAL: OnceLock<Pool> = OnceLock::new();

/// Serialises building the global pool.
static BUILD: StdMutex<()> = StdMutex::new(());

/// The global pool, built from the defaults on first use.
///
/// # Panics
///
/// If the default pool cannot be built (an invalid `COREPOOL_*` variable, or the OS refusing
/// threads) — as [`Pool::new`] does.
#[inline]
pub(crate) fn global_pool() -> &'static Pool {
    match GLOBAL.get() {
        Some(pool) => pool,
        None => build_default(),
    }
}

/// Runs `f` on a worker of the global pool, handing it that worker: what a free function
/// (`join`, `scope`, …) does when called off any worker. `f` gets the worker, so it runs the
/// on-worker path directly; calling the free function again from inside would make it
/// recursive, and the compiler then stops inlining it into its callers (`join`: 10 % on
/// fib(30)).
#[cold]
#[inline(never)]
pub(crate) fn on_global_worker<R: Send>(
    name: &'static str,
    f: impl FnOnce(&WorkerThread) -> R + Send,
) -> R {
    global_pool().install_as(name, || {
        WorkerThread::with_current(
            |worker| f(worker.expect("install runs its closure on a worker")),
        )
    })
}

/// Step 2, the slow path.
#[cold]
#[inline(never)]
fn build_default() -> &'static Pool {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(pool) = GLOBAL.get() {
        return pool;
    }
    let pool = Builder::new()
        .build()
        .unwrap_or_else(|e| panic!("corepool: cannot build the global pool: {e}"));
    GLOBAL.get_or_init(|| pool)
}

impl Builder {
    /// Builds the **global pool** with these settings: the pool the free functions
    /// ([`join`](crate::join()), [`scope`](crate::scope()), [`spawn`](crate::spawn),
    /// [`current_num_threads`](crate::current_num_threads), …) use when called from a thread
    /// that is not one of a pool's CPU workers. Without it, the global pool is built from
    /// [`Builder::new`] on first use. The global pool lives for the rest of the process and is
    /// never shut down.
    ///
    /// Errors: [`BuildError::GlobalPoolAlreadyBuilt`] if the global pool exists already (an
    /// earlier `build_global`, or a free function called outside a pool); otherwise as
    /// [`build`](Builder::build), and the global pool then stays unbuilt.
    ///
    /// ```
    /// use corepool::{BuildError, Pool, Sizing};
    ///
    /// Pool::builder()
    ///     .sizing(Sizing::cpu_bound().cores(1).per_core(2).oversubscribe(true))
    ///     .build_global()
    ///     .unwrap();
    /// assert_eq!(corepool::current_num_threads(), 2);
    /// let (a, b) = corepool::join(|| 1, || 2); // on the global pool
    /// assert_eq!(a + b, 3);
    ///
    /// let again = Pool::builder().build_global().unwrap_err();
    /// assert!(matches!(again, BuildError::GlobalPoolAlreadyBuilt));
    /// assert!(again.to_string().contains("global pool"));
    /// ```
    pub fn build_global(self) -> Result<(), BuildError> {
        // Step 1.
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        if GLOBAL.get().is_some() {
            return Err(BuildError::GlobalPoolAlreadyBuilt);
        }
        let pool = self.build()?;
        // Under `BUILD` with `GLOBAL` empty: this set cannot lose.
        let _ = GLOBAL.set(pool);
        Ok(())
    }
}
