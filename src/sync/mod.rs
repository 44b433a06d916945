//! The facade: the only module that names `std::sync`, `std::thread`, `crossbeam_deque`,
//! `crossbeam_utils` and `core_affinity`. Types and thin wrappers only; the scheduler's
//! tuning constants are in `tuning.rs`, the loom negative controls in `seeded.rs`.
//!
//! Under `cfg(corepool_loom)` every name maps to a loom type, the crossbeam deque is swapped
//! for a mock (loom cannot see crossbeam's atomics), and pinning is a no-op. Everything else
//! in the crate imports from here.
//!
//! [`OnceLock`] and [`StdMutex`] are std's under both: they only hold the global pool (`global.rs`), which no
//! loom model builds.

#[cfg(not(corepool_loom))]
mod imp {
    pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use std::thread;
    pub(crate) use std::thread_local;

    /// `std::cell::UnsafeCell` with loom's closure-based API, so protocol code is written once.
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
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use loom::thread;
    pub(crate) use loom::thread_local;
    pub(crate) use mock_deque::{Deque, Injector, Steal, Stealer};

    /// No pinning under loom.
    pub(crate) fn pin_current_thread(_cpu: usize) -> bool {
        false
    }

    /// No CPU under loom.
    pub(crate) fn current_cpu() -> Option<usize> {
        None
    }

    /// loom's handles cannot tell; finished handles are then kept until shutdown joins them.
    pub(crate) fn thread_is_finished(_handle: &thread::JoinHandle<()>) -> bool {
        false
    }

    /// loom's handles carry no name.
    pub(crate) fn thread_name(_handle: &thread::JoinHandle<()>) -> Option<String> {
        None
    }

    /// A deque loom can see: a loom `Mutex<VecDeque>` plus a length read without the lock, so
    /// `is_empty` can be stale exactly as crossbeam's is. Same API subset as crossbeam-deque.
    mod mock_deque {
        use loom::sync::atomic::{AtomicUsize, Ordering};
        use loom::sync::{Arc, Mutex};
        use std::collections::VecDeque;

        /// Outcome of a steal, as in crossbeam-deque.
        pub(crate) enum Steal<T> {
            Empty,
            Success(T),
            #[allow(dead_code)] // crossbeam's contention signal; the mock never contends
            Retry,
        }

        struct Queue<T> {
            items: Mutex<VecDeque<T>>,
            len: AtomicUsize,
        }

        impl<T> Queue<T> {
            fn new() -> Self {
                Queue {
                    items: Mutex::new(VecDeque::new()),
                    len: AtomicUsize::new(0),
                }
            }
            fn push_back(&self, t: T) {
                let mut q = self.items.lock().unwrap();
                q.push_back(t);
                // ORDERING: Release, read by the lock-free `is_empty`: as in crossbeam, a
                // reader that sees the new length also sees the pushed item.
                self.len.store(q.len(), Ordering::Release);
            }
            fn pop_back(&self) -> Option<T> {
                let mut q = self.items.lock().unwrap();
                let t = q.pop_back();
                // ORDERING: Release, as in push_back.
                self.len.store(q.len(), Ordering::Release);
                t
            }
            fn pop_front(&self) -> Option<T> {
                let mut q = self.items.lock().unwrap();
                let t = q.pop_front();
                // ORDERING: Release, as in push_back.
                self.len.store(q.len(), Ordering::Release);
                t
            }
            /// Moves up to half (at least one) from the front of `self` into `dest`, returns one.
            fn steal_batch_and_pop_into(&self, dest: &Queue<T>) -> Option<T> {
                let mut q = self.items.lock().unwrap();
                let first = q.pop_front()?;
                let extra = q.len() / 2;
                let moved: Vec<T> = q.drain(..extra).collect();
                // ORDERING: Release, as in push_back.
                self.len.store(q.len(), Ordering::Release);
                drop(q);
                for t in moved {
                    dest.push_back(t);
                }
                Some(first)
            }
            fn is_empty(&self) -> bool {
                // ORDERING: Acquire pairs with the Release stores; read without the lock, so
                // it can be stale exactly like crossbeam's.
                self.len.load(Ordering::Acquire) == 0
            }
            fn len(&self) -> usize {
                // ORDERING: as in is_empty.
                self.len.load(Ordering::Acquire)
            }
        }

        fn to_steal<T>(t: Option<T>) -> Steal<T> {
            t.map_or(Steal::Empty, Steal::Success)
        }

        /// The owner's end of a LIFO deque.
        pub(crate) struct Deque<T>(Arc<Queue<T>>);
        /// A thief's end.
        pub(crate) struct Stealer<T>(Arc<Queue<T>>);
        /// The shared FIFO for outside submissions.
        pub(crate) struct Injector<T>(Queue<T>);

        impl<T> Deque<T> {
            pub(crate) fn new_lifo() -> Self {
                Deque(Arc::new(Queue::new()))
            }
            pub(crate) fn push(&self, t: T) {
                self.0.push_back(t)
            }
            pub(crate) fn pop(&self) -> Option<T> {
                self.0.pop_back()
            }
            pub(crate) fn len(&self) -> usize {
                self.0.len()
            }
            pub(crate) fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
            pub(crate) fn stealer(&self) -> Stealer<T> {
                Stealer(self.0.clone())
            }
        }

        impl<T> Stealer<T> {
            pub(crate) fn steal(&self) -> Steal<T> {
                to_steal(self.0.pop_front())
            }
            pub(crate) fn steal_batch_and_pop(&self, dest: &Deque<T>) -> Steal<T> {
                to_steal(self.0.steal_batch_and_pop_into(&dest.0))
            }
            pub(crate) fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
            pub(crate) fn len(&self) -> usize {
                self.0.len()
            }
        }

        impl<T> Injector<T> {
            pub(crate) fn new() -> Self {
                Injector(Queue::new())
            }
            pub(crate) fn push(&self, t: T) {
                self.0.push_back(t)
            }
            pub(crate) fn steal(&self) -> Steal<T> {
                to_steal(self.0.pop_front())
            }
            pub(crate) fn steal_batch_and_pop(&self, dest: &Deque<T>) -> Steal<T> {
                to_steal(self.0.steal_batch_and_pop_into(&dest.0))
            }
            pub(crate) fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
            pub(crate) fn len(&self) -> usize {
                self.0.len()
            }
        }
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

/// A small per-thread number for striped statistics counters (not a protocol: under loom, where
/// model threads share one OS thread, all of them simply use the same stripe).
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

/// Submit cells are shared between the queue and a handle (as `dyn Completion`), which needs
/// unsized coercion; loom's `Arc` cannot coerce, so task cells always use std's.
/// The protocol state inside a cell is still a facade atomic, which is what the models check.
pub(crate) use std::sync::Arc as TaskArc;
