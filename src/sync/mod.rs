//! The facade: the only module that names `std::sync`, `std::thread`, `crossbeam_deque`,
//! `crossbeam_utils`, `core_affinity`, `loom` and `shuttle`. Types and thin wrappers only;
//! the scheduler's tuning constants are in `tuning.rs`, the negative controls in `seeded.rs`.
//!
//! Three modes, one per build:
//! - the real one: std's atomics, locks and threads, crossbeam's deque, pinning by
//!   `core_affinity`;
//! - `cfg(corepool_loom)`: every name maps to a loom type, the crossbeam deque is swapped for
//!   a mock (`mock_deque.rs`: loom cannot see crossbeam's atomics), nothing is pinned;
//! - `cfg(corepool_shuttle)`: atomics, `Mutex`/`Condvar`, threads and thread-locals are
//!   shuttle's (its `Arc` is std's), the deque is the same mock over shuttle's types, and
//!   nothing is pinned. Shuttle does not model time: its `Condvar::wait_timeout` never times
//!   out and its `sleep` is a context switch, so a timed wait is an untimed one there too.
//!
//! Everything else in the crate imports from here.
//!
//! [`OnceLock`] and [`StdMutex`] are std's in every mode: they only hold the global pool
//! (`global.rs`), which no model builds.

#[cfg(all(corepool_loom, corepool_shuttle))]
compile_error!("corepool_loom and corepool_shuttle are two different model checkers: set one");

/// `std::cell::UnsafeCell` with loom's closure-based API, so protocol code is written once
/// (the real and the shuttle builds; shuttle has no cell of its own).
#[cfg(not(corepool_loom))]
mod std_cell {
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Shared (read-only) access: several threads may read at once.
        #[inline]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Exclusive access.
        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(not(any(corepool_loom, corepool_shuttle)))]
mod imp {
    pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use std::thread;
    pub(crate) use std::thread_local;

    pub(crate) use super::std_cell::UnsafeCell;

    /// Pins the calling thread to OS CPU `cpu`; false if the OS refused.
    pub(crate) fn pin_current_thread(cpu: usize) -> bool {
        core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
    }

    /// The OS CPU the calling thread runs on right now, if the OS says (miri cannot ask).
    pub(crate) fn current_cpu() -> Option<usize> {
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            // SAFETY: sched_getcpu takes no arguments, touches no memory of ours and only
            // returns a number (or -1 with errno set).
            let cpu = unsafe { libc::sched_getcpu() };
            usize::try_from(cpu).ok()
        }
        #[cfg(not(all(target_os = "linux", not(miri))))]
        {
            None
        }
    }

    /// True once the thread has finished (its handle may be joined without blocking).
    pub(crate) fn thread_is_finished(handle: &thread::JoinHandle<()>) -> bool {
        handle.is_finished()
    }

    /// The thread's name, for reports.
    pub(crate) fn thread_name(handle: &thread::JoinHandle<()>) -> Option<String> {
        handle.thread().name().map(str::to_owned)
    }
}

#[cfg(corepool_loom)]
mod imp {
    pub(crate) use super::mock_deque::{Deque, Injector, Steal, Stealer};
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use loom::thread;
    pub(crate) use loom::thread_local;

    pub(crate) use super::model_threads::{current_cpu, pin_current_thread, thread_is_finished};

    /// loom's handles carry no name.
    pub(crate) fn thread_name(_handle: &thread::JoinHandle<()>) -> Option<String> {
        None
    }
}

#[cfg(corepool_shuttle)]
mod imp {
    pub(crate) use super::mock_deque::{Deque, Injector, Steal, Stealer};
    pub(crate) use super::std_cell::UnsafeCell;
    pub(crate) use shuttle::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
    pub(crate) use shuttle::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use shuttle::thread;
    pub(crate) use shuttle::thread_local;

    pub(crate) use super::model_threads::{current_cpu, pin_current_thread, thread_is_finished};

    /// The thread's name, for reports.
    pub(crate) fn thread_name(handle: &thread::JoinHandle<()>) -> Option<String> {
        handle.thread().name().map(str::to_owned)
    }
}

#[cfg(any(corepool_loom, corepool_shuttle))]
mod mock_deque;

/// What both model checkers' threads lack: a CPU to pin to or report (loom's threads and
/// shuttle's coroutines all run on the test's one OS thread), and a handle that can say it
/// has finished (finished handles are then kept until shutdown joins them).
#[cfg(any(corepool_loom, corepool_shuttle))]
mod model_threads {
    pub(crate) fn pin_current_thread(_cpu: usize) -> bool {
        false
    }

    pub(crate) fn current_cpu() -> Option<usize> {
        None
    }

    pub(crate) fn thread_is_finished(_handle: &super::imp::thread::JoinHandle<()>) -> bool {
        false
    }
}

pub(crate) use imp::*;
pub(crate) use std::sync::{Mutex as StdMutex, OnceLock};

/// Joins the finished `handles` and drops the others (detaching their threads); returns the
/// names of the detached ones.
pub(crate) fn detach_unfinished(handles: Vec<thread::JoinHandle<()>>) -> Vec<String> {
    let mut detached = Vec::new();
    for h in handles {
        if thread_is_finished(&h) {
            // Finished: joining does not block.
            let _ = h.join();
        } else {
            detached.push(thread_name(&h).unwrap_or_else(|| "an unnamed thread".to_owned()));
        }
    }
    detached
}

pub(crate) mod seeded;
pub(crate) mod tuning;
pub(crate) use seeded::SeededBugs;

/// Waits on `cvar` once, poison ignored: untimed without a deadline. `Err` (with the guard,
/// no wait) once the deadline has passed. The caller loops on its own condition.
pub(crate) fn wait_until_deadline<'a, T>(
    cvar: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Option<std::time::Instant>,
) -> Result<MutexGuard<'a, T>, MutexGuard<'a, T>> {
    let Some(deadline) = deadline else {
        return Ok(cvar.wait(guard).unwrap_or_else(|e| e.into_inner()));
    };
    match deadline.checked_duration_since(std::time::Instant::now()) {
        Some(left) if !left.is_zero() => Ok(cvar
            .wait_timeout(guard, left)
            .unwrap_or_else(|e| e.into_inner())
            .0),
        _ => Err(guard),
    }
}

/// Padding to a cache line, for counters and words that must not share one.
pub(crate) use crossbeam_utils::CachePadded;

/// A small per-thread number for striped statistics counters (not a protocol: under loom or
/// shuttle, where model threads share one OS thread, all of them simply use the same stripe).
#[inline]
pub(crate) fn stripe_index() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    static NEXT: StdAtomicUsize = StdAtomicUsize::new(0);
    std::thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            // ORDERING: Relaxed: only spreads threads over stripes.
            i = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            s.set(i);
        }
        i
    })
}

/// Heartbeat gates (`sched/heartbeat.rs`: a worker's private half count and its knock flag)
/// are plain std atomics even under loom: a knock is a hint that orders nothing (the deque
/// push publishes a promoted half), and as a loom atomic every knock a sleeper makes, and
/// every registered join's count, would be a scheduling point multiplying every model's
/// interleavings. The heartbeat model sets its knock before the race it checks.
pub(crate) use std::sync::atomic::AtomicUsize as HintWord;

/// Statistics counters (metrics) are plain std atomics even under loom: they order nothing,
/// and as loom atomics every increment would be a scheduling point that multiplies the
/// interleavings a model explores without checking anything.
pub(crate) use std::sync::atomic::AtomicU64 as StatCounter;

/// Cancel-token lists (`cancel.rs`) hold std `Weak`s of submit cells (see `TaskArc`); their
/// atomics are the facade's, so loom checks the list protocol (`loom-tests/tests/cancel.rs`).
pub(crate) mod token {
    pub(crate) use super::{AtomicBool, AtomicPtr, AtomicUsize};
    pub(crate) use std::sync::Weak;
}

/// Sleeps about `pause` between two polls (`Pool::wait_idle`). Under shuttle, which does not
/// model time, a context switch, so the threads being waited for run; under loom a yield.
pub(crate) fn pause_between_polls(pause: std::time::Duration) {
    #[cfg(not(any(corepool_loom, corepool_shuttle)))]
    std::thread::sleep(pause);
    #[cfg(corepool_shuttle)]
    shuttle::thread::sleep(pause);
    #[cfg(corepool_loom)]
    {
        let _ = pause;
        loom::thread::yield_now();
    }
}

/// Submit cells are shared between the queue and a handle (as `dyn Completion`), which needs
/// unsized coercion; loom's `Arc` cannot coerce, so task cells always use std's.
/// The protocol state inside a cell is still a facade atomic, which is what the models check.
pub(crate) use std::sync::Arc as TaskArc;
