//! corepool: a lock-free work-stealing executor for CPU-bound work.
//!
//! One worker per core (or `k` per core), each pinned to its CPU and owning a LIFO
//! [crossbeam-deque](https://docs.rs/crossbeam-deque) — the Chase–Lev deque (Chase & Lev,
//! SPAA 2005) with the memory orderings of Lê et al. (PPoPP 2013). Outside submissions go
//! through one global injector; idle workers take from it in batches and steal from their
//! nearest neighbours first (SMT sibling, shared cache, same package, then ring distance).
//! Idle workers spin briefly, then park: an idle pool costs no CPU, and the sleep protocol,
//! checked with [loom](https://docs.rs/loom), loses no wakeup.
//!
//! Pools are sized by the rule `threads = cores × k + blocking_io`, where `cores` is what
//! this process may use (affinity mask, cgroup quota) — see [`Sizing`].
//!
//! ```
//! use corepool::{Pool, Sizing};
//!
//! let pool = Pool::builder().sizing(Sizing::cpu_bound()).build()?;
//! let digest = pool.submit(|| (0..1_000u64).fold(0, |h, x| h ^ x.wrapping_mul(0x9E37_79B9)));
//! let borrowed = [3, 4, 5];
//! let total: i32 = pool.install(|| borrowed.iter().sum());
//! assert_eq!(total, 12);
//! digest.join().unwrap();
//! # Ok::<(), corepool::BuildError>(())
//! ```
//!
//! Fork-join and batches: [`join()`], [`scope()`], and [`Pool::for_each`], [`Pool::map`],
//! [`Pool::reduce`] and friends — fallible ([`Pool::try_map`], lowest failing index wins),
//! with per-piece state ([`Pool::map_init`]) or over chunks ([`Pool::map_chunks`]); a worker
//! that waits in any of them runs other tasks meanwhile.
//!
//! Production controls: a bounded queue with backpressure ([`Builder::queue_capacity`],
//! [`Pool::try_submit`], [`Pool::submit_timeout`]), cancellation ([`JoinHandle::cancel`],
//! [`CancelToken`]), [`Pool::shutdown_now`] and [`Pool::shutdown_timeout`], the blocking lane
//! ([`Pool::spawn_blocking`]), resizing ([`Pool::set_active_workers`],
//! [`Pool::set_blocking_io`]) and [`Metrics`] that add up.
//!
//! How it works — the find-work order, the sleep/wake and shutdown protocols, the task handle,
//! the blocking lane, and the loom models that check them — is written up beside the code; the
//! [architecture map](https://github.com/corepool/corepool/blob/main/ARCHITECTURE.md) and the
//! [README](https://github.com/corepool/corepool#readme) are the places to start.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod batch;
mod broadcast;
mod builder;
mod current;
mod error;
mod global;
mod join;
mod join_handle;
mod join_set;
mod lane;
mod metrics;
mod placement;
mod pool;
mod sched;
mod scope;
mod scope_fifo;
mod stream;
mod sync;
mod task;
mod yielding;

pub use batch::Batch;
pub use broadcast::{broadcast, spawn_broadcast, BroadcastContext};
pub use builder::{
    Builder, DEFAULT_BLOCKING_KEEP_ALIVE, DEFAULT_BLOCKING_QUEUE_CAPACITY, DEFAULT_SPIN_BEFORE_PARK,
};
pub use current::{
    current_num_threads, current_thread_has_pending_tasks, current_thread_index, current_worker,
    max_num_threads, spawn,
};
pub use error::{
    panic_message, BuildError, Origin, PanicPayload, ShutdownTimedOut, SubmitError, TaskError,
    TrySubmitError,
};
pub use join::{join, join_context, FnContext};
pub use join_handle::JoinHandle;
pub use join_set::JoinSet;
pub use metrics::{BlockingMetrics, Metrics, WorkerMetrics};
pub use placement::cores::{detect_cores, CoreSource, DetectedCores};
pub use placement::sizing::{
    PinStatus, Plan, Sizing, WorkerPlacement, ENV_BLOCKING_IO, ENV_CORES, ENV_PER_CORE, ENV_PIN,
    ENV_SPIN_US, MAX_THREADS,
};
pub use pool::{Pool, PoolHandle, ShutdownReport};
pub use scope::{in_place_scope, scope, Scope};
pub use scope_fifo::{in_place_scope_fifo, scope_fifo, spawn_fifo, ScopeFifo};
pub use stream::{Progress, Stream, StreamMap, DEFAULT_WINDOW_MAX, DEFAULT_WINDOW_PER_WORKER};
pub use task::cancel::CancelToken;
pub use yielding::{yield_local, yield_now, Yield};

/// What the borrowing API refuses to compile (scope, join, spawn, install).
#[cfg(doctest)]
pub mod compile_fail;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Internals for the loom models in `loom-tests/`; not a public API.
#[cfg(corepool_loom)]
#[doc(hidden)]
pub mod __loom {
    pub use crate::sched::loom_door::{
        set_active_workers_unclamped, submit_bound, submit_here, token_with_bugs, Unqueued, Worker,
        Workers,
    };
    pub use crate::stream::LoomReady;
    pub use crate::sync::seeded::SeededBugs;
}

/// Internals for the shuttle scenarios in `shuttle-tests/`; not a public API.
#[cfg(corepool_shuttle)]
#[doc(hidden)]
pub mod __shuttle {
    pub use crate::sync::seeded::SeededBugs;
}
