//! The facade: the only module that names `std::sync`, `std::thread`, `crossbeam_deque`,
//! `crossbeam_utils` and `core_affinity`.
//!
//! Under `cfg(corepool_loom)` every name maps to a loom type, the crossbeam deque is swapped for a mock
//! (loom cannot see crossbeam's atomics), pinning is a no-op, and the knobs shrink so the model
//! reaches edge cases in few steps. Everything else in the crate imports from here.
//!
//! The loom-only knobs sit next to the real constants below, each with the reason it shrinks.

#[cfg(not(corepool_loom))]
mod imp {
    pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};
    pub(crate) use std::sync::atomic::{fence, AtomicU64, AtomicU8, AtomicUsize, Ordering};
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

    /// An idle worker's spin before it parks (`worker.rs`): an exponential backoff (1, 2, 4 …
    /// 64 spin hints: a few µs); then a searcher spins in rounds of 64 hints until the pool's
    /// spin window has passed, and any other worker yields its CPU a few times.
    ///
    /// A searcher never yields: producers count on it (`sleep.rs`), and one that yields to a
    /// busy thread sharing its CPU may not run again for a whole scheduler slice
    /// (milliseconds) while still counted — work waits, and the other workers may not search.
    /// Its spin is bounded by the window instead. A worker that is not searching is counted
    /// on by nobody, so it yields, letting such a thread (often the one submitting the work)
    /// run, before it sleeps.
    pub(crate) struct IdleSpin {
        step: std::cell::Cell<u32>,
        /// When the backoff ran out in this idle period.
        since: std::cell::Cell<Option<std::time::Instant>>,
    }

    impl IdleSpin {
        /// Backoff steps: step `s` spins 2^s hints.
        const BACKOFF_STEPS: u32 = 7;
        /// Yields of a worker that is not searching, after the backoff.
        const YIELDS: u32 = 4;

        pub(crate) fn new() -> Self {
            IdleSpin {
                step: std::cell::Cell::new(0),
                since: std::cell::Cell::new(None),
            }
        }

        /// One idle round: spins (or yields) and returns true, or returns false when it is
        /// time to park. `window`: how long a searcher goes on after the backoff (asked only
        /// then).
        #[inline]
        pub(crate) fn spin(
            &self,
            searching: bool,
            window: impl FnOnce() -> std::time::Duration,
        ) -> bool {
            let step = self.step.get();
            if step < Self::BACKOFF_STEPS {
                self.step.set(step + 1);
                Self::hints(1 << step);
                return true;
            }
            if !searching {
                if step < Self::BACKOFF_STEPS + Self::YIELDS {
                    self.step.set(step + 1);
                    std::thread::yield_now();
                    return true;
                }
                return false;
            }
            let window = window();
            if window.is_zero() {
                return false;
            }
            let now = std::time::Instant::now();
            let since = self.since.get().unwrap_or(now);
            self.since.set(Some(since));
            if now.duration_since(since) >= window {
                return false;
            }
            Self::hints(1 << (Self::BACKOFF_STEPS - 1));
            true
        }

        fn hints(n: u32) {
            for _ in 0..n {
                std::hint::spin_loop();
            }
        }

        /// The worker found work (or slept): the next idle period starts afresh.
        #[inline]
        pub(crate) fn reset(&self) {
            self.step.set(0);
            self.since.set(None);
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

    std::thread_local! {
        /// The worker running on this thread (type-erased), null elsewhere.
        static CURRENT_WORKER: std::cell::Cell<*const ()> = const { std::cell::Cell::new(std::ptr::null()) };
    }

    /// The worker pointer `worker.rs` keeps for the thread (const-initialised: no lazy-init
    /// check on the `join`/`spawn` fast paths).
    #[inline]
    pub(crate) fn current_worker_ptr() -> *const () {
        CURRENT_WORKER.with(|c| c.get())
    }

    #[inline]
    pub(crate) fn set_current_worker_ptr(ptr: *const ()) {
        CURRENT_WORKER.with(|c| c.set(ptr))
    }

    /// Tasks a worker runs from its own deque before it looks at the injector first.
    /// Prime, so it does not fall into step with other periodic work.
    pub(crate) const INJECTOR_INTERVAL: u32 = 61;

    /// A thief takes half of a neighbour's deque at once only from a deque at least this long;
    /// from a shorter one (a fork-join stack) it takes one task (`worker.rs`, step 4).
    pub(crate) const BATCH_STEAL_MIN_LEN: usize = 16;

    /// `build` waits for every worker's pin report before it returns, so the plan shows what
    /// pinning really did (`shutdown.rs`, start).
    pub(crate) const START_HANDSHAKE: bool = true;

    /// True once the thread has finished (its handle may be joined without blocking).
    pub(crate) fn thread_is_finished(handle: &thread::JoinHandle<()>) -> bool {
        handle.is_finished()
    }
}

#[cfg(corepool_loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{fence, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use loom::thread;
    pub(crate) use loom::thread_local;
    pub(crate) use mock_deque::{Deque, Injector, Steal, Stealer};

    /// Under loom there is no spin phase at all: correctness must not rest on it, and every
    /// spin step multiplies the interleavings (and the preemptions a bug needs to show).
    pub(crate) struct IdleSpin;

    impl IdleSpin {
        pub(crate) fn new() -> Self {
            IdleSpin
        }
        pub(crate) fn spin(
            &self,
            _searching: bool,
            _window: impl FnOnce() -> std::time::Duration,
        ) -> bool {
            false
        }
        pub(crate) fn reset(&self) {}
    }

    loom::thread_local! {
        /// The worker running on this (model) thread; loom's macro takes no `const` init.
        static CURRENT_WORKER: std::cell::Cell<*const ()> = std::cell::Cell::new(std::ptr::null());
    }

    pub(crate) fn current_worker_ptr() -> *const () {
        CURRENT_WORKER.with(|c| c.get())
    }

    pub(crate) fn set_current_worker_ptr(ptr: *const ()) {
        CURRENT_WORKER.with(|c| c.set(ptr))
    }

    /// No pinning under loom.
    pub(crate) fn pin_current_thread(_cpu: usize) -> bool {
        false
    }

    /// No CPU under loom.
    pub(crate) fn current_cpu() -> Option<usize> {
        None
    }

    /// Shrunk from 61 to 2 so a model reaches the fairness branch with two tasks.
    pub(crate) const INJECTOR_INTERVAL: u32 = 2;

    /// Shrunk from 16 to 2 so a model reaches both the single and the batch steal.
    pub(crate) const BATCH_STEAL_MIN_LEN: usize = 2;

    /// Off under loom: nothing is pinned, so there is nothing to report, and the handshake's
    /// lock and condvar waits multiplied a two-worker start + shutdown model's interleavings
    /// twelvefold (164k vs 13.7k at two preemptions) without checking any protocol. Workers
    /// start at once; exit accounting and thread joining are unchanged.
    pub(crate) const START_HANDSHAKE: bool = false;

    /// loom's handles cannot tell; finished handles are then kept until shutdown joins them.
    pub(crate) fn thread_is_finished(_handle: &thread::JoinHandle<()>) -> bool {
        false
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

/// Bugs a loom model can seed on purpose (negative controls), set per pool through
/// `Builder::seed_bugs` (or `__loom::Workers::new`), which exist only under `cfg(corepool_loom)`.
/// Outside loom this is a field-less type whose switches are `const false`, so the real code
/// paths compile exactly as if the switches were not there.
#[cfg(corepool_loom)]
#[derive(Debug, Clone, Copy, Default)]
#[doc(hidden)]
pub struct SeededBugs {
    /// Park without the final recheck (`sleep.rs` step 4).
    pub skip_final_recheck: bool,
    /// `WorkerLatch::set` without its SeqCst fence, so the setter's wake scan can miss an
    /// owner that is on its way to sleep (`latch.rs`).
    pub latch_set_without_fence: bool,
    /// The submit cell wakes the handle's waker *before* it publishes `COMPLETE`, and not
    /// after (`join_handle.rs` step 5 moved ahead of step 4).
    pub wake_before_publish: bool,
    /// A blocking-lane thread started for a producer clears `starting` but never looks at
    /// the queue behind it (`blocking.rs` step 0), so tasks skipped meanwhile get no thread.
    pub lane_start_without_hand_on: bool,
}

/// Outside loom no bug can be seeded: every switch below is `const false`.
#[cfg(not(corepool_loom))]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SeededBugs {
    _none: (),
}

/// The switches, read by the protocol code; always false outside loom.
impl SeededBugs {
    #[inline(always)]
    pub(crate) const fn skip_final_recheck(&self) -> bool {
        #[cfg(corepool_loom)]
        return self.skip_final_recheck;
        #[cfg(not(corepool_loom))]
        false
    }

    #[inline(always)]
    pub(crate) const fn latch_set_without_fence(&self) -> bool {
        #[cfg(corepool_loom)]
        return self.latch_set_without_fence;
        #[cfg(not(corepool_loom))]
        false
    }

    #[inline(always)]
    pub(crate) const fn wake_before_publish(&self) -> bool {
        #[cfg(corepool_loom)]
        return self.wake_before_publish;
        #[cfg(not(corepool_loom))]
        false
    }

    #[inline(always)]
    pub(crate) const fn lane_start_without_hand_on(&self) -> bool {
        #[cfg(corepool_loom)]
        return self.lane_start_without_hand_on;
        #[cfg(not(corepool_loom))]
        false
    }
}

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

/// Cancel-token lists (`cancel.rs`) hold std `Weak`s of submit cells (see `TaskArc`) and use
/// std atomics even under loom: no model covers them.
pub(crate) mod token {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize};
    pub(crate) use std::sync::Weak;
}

/// Submit cells are shared between the queue and a handle (as `dyn Completion`), which needs
/// unsized coercion; loom's `Arc` cannot coerce, so task cells always use std's.
/// The protocol state inside a cell is still a facade atomic, which is what the models check.
pub(crate) use std::sync::Arc as TaskArc;
