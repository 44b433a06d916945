//! An idle worker's spin before it parks (`worker.rs`, `sleep.rs`): a short backoff, then
//! either a bounded spin (the last searcher) or a few yields (everyone else).

#[cfg(not(any(corepool_loom, corepool_shuttle)))]
use crate::sync::thread;
#[cfg(not(any(corepool_loom, corepool_shuttle)))]
use crate::sync::tuning::{SPIN_BACKOFF_STEPS, SPIN_YIELDS};

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
#[cfg(not(any(corepool_loom, corepool_shuttle)))]
pub(crate) struct IdleSpin {
    step: std::cell::Cell<u32>,
    /// When the backoff ran out in this idle period.
    since: std::cell::Cell<Option<std::time::Instant>>,
}

#[cfg(not(any(corepool_loom, corepool_shuttle)))]
impl IdleSpin {
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
        if step < SPIN_BACKOFF_STEPS {
            self.step.set(step + 1);
            Self::hints(1 << step);
            return true;
        }
        if !searching {
            if step < SPIN_BACKOFF_STEPS + SPIN_YIELDS {
                self.step.set(step + 1);
                thread::yield_now();
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
        Self::hints(1 << (SPIN_BACKOFF_STEPS - 1));
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

/// Under loom and shuttle there is no spin phase at all: correctness must not rest on it, every
/// spin step multiplies the interleavings (and the preemptions a bug needs to show), and the
/// searcher's window is wall-clock time, which would make a shuttle schedule unreplayable.
#[cfg(any(corepool_loom, corepool_shuttle))]
pub(crate) struct IdleSpin;

#[cfg(any(corepool_loom, corepool_shuttle))]
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
