//! Runtime controls of the CPU workers: how many may run ([`Pool::set_active_workers`]) and
//! whether queued tasks are being cancelled ([`Pool::shutdown_now`]).
//!
//! [`Pool::set_active_workers`]: crate::Pool::set_active_workers
//! [`Pool::shutdown_now`]: crate::Pool::shutdown_now
//!
//! # The control word
//!
//! One cache-padded word, read by every worker once per task (Relaxed: it changes rarely, so
//! its line stays shared in every cache):
//! - bits 0..32 — `active`: workers `0..active` run, the others are paused;
//! - `CANCELLING` (bit 63) — `shutdown_now` was called: a worker discards every cancellable
//!   task it takes (counted as cancelled) instead of running it. Set once, never cleared.
//!
//! # Pausing a worker — numbered steps ([`Registry::pause`])
//!
//! Worker `i` checks at the top of its main loop, never inside a task (a helping wait does not
//! pause), and pauses when `i >= active` and the pool is not shut down:
//! 1. it stops searching, handing the search on as any searcher that stops does;
//! 2. if its own deque holds tasks, it announces them, so a sleeper wakes up to steal them (and
//!    every sleeper's final recheck sees them, so nobody sleeps while they wait);
//! 3. under the gate lock, while `i >= active` and the pool is not shut down, it waits on the
//!    gate condvar (counted as a park).
//!
//! A resize stores `active` under the gate lock and notifies every paused worker; shutdown sets
//! `SHUTDOWN` first, then takes the gate lock and notifies.
//!
//! # Why pausing loses nothing and blocks no shutdown
//!
//! A paused worker is neither searching nor counted as sleeping in the idle word, and no waker
//! ever claims it: to the sleep protocol it is a busy worker, so work is announced to the
//! active ones exactly as before. The pool terminates only when every worker is counted
//! asleep, so a paused worker holds termination back until shutdown releases it, and then it
//! goes through the ordinary sleep protocol. The gate cannot miss a notification: the resizer
//! (or shutdown) changes the state before taking the lock, and the worker reads it under the
//! lock before every wait.

use crate::sched::registry::{Producer, Registry};
use crate::sync::{AtomicUsize, CachePadded, Condvar, Mutex, Ordering, SeededBugs};

const ACTIVE_MASK: usize = u32::MAX as usize;
const CANCELLING: usize = 1 << (usize::BITS - 1);

/// The control word and the gate paused workers wait at (module docs).
pub(crate) struct Control {
    word: CachePadded<AtomicUsize>,
    gate: Mutex<()>,
    resumed: Condvar,
    seeded_bugs: SeededBugs,
}

impl Control {
    pub(crate) fn new(workers: usize, seeded_bugs: SeededBugs) -> Self {
        Control {
            word: CachePadded::new(AtomicUsize::new(workers)),
            gate: Mutex::new(()),
            resumed: Condvar::new(),
            seeded_bugs,
        }
    }

    #[inline]
    fn load(&self) -> usize {
        // ORDERING: Relaxed: a worker acting on a stale value only pauses or cancels one task
        // late; the gate's lock orders what matters (module docs).
        self.word.load(Ordering::Relaxed)
    }

    /// Workers allowed to run.
    pub(crate) fn active(&self) -> usize {
        self.load() & ACTIVE_MASK
    }

    /// True if worker `index` should pause (the caller also checks for shutdown).
    #[inline]
    pub(crate) fn pauses(&self, index: usize) -> bool {
        index >= self.load() & ACTIVE_MASK
    }

    /// True once `shutdown_now` asked to cancel queued tasks.
    #[inline]
    pub(crate) fn is_cancelling(&self) -> bool {
        self.load() & CANCELLING != 0
    }

    /// Sets `active` (already clamped by the caller) and releases the workers it resumes.
    pub(crate) fn set_active(&self, active: usize) {
        if self.seeded_bugs.gate_notify_outside_lock() {
            return self.set_active_outside_gate(active);
        }
        let guard = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        let mut cur = self.load();
        loop {
            let new = (cur & !ACTIVE_MASK) | active;
            // ORDERING: Relaxed: readers are ordered by the gate lock (module docs).
            match self
                .word
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        self.resumed.notify_all();
        drop(guard);
    }

    /// Negative control (loom only, `SeededBugs::gate_notify_outside_lock`): the same change and
    /// notification without the gate lock, so they can fall between a paused worker's check
    /// and its wait.
    #[cold]
    fn set_active_outside_gate(&self, active: usize) {
        let cur = self.load();
        // ORDERING: Relaxed, as in `set_active` (the bug is the missing lock, not this).
        self.word
            .store((cur & !ACTIVE_MASK) | active, Ordering::Relaxed);
        self.resumed.notify_all();
    }

    /// `shutdown_now`: from now on workers cancel what they take.
    pub(crate) fn start_cancelling(&self) {
        // ORDERING: Relaxed: set before SHUTDOWN, whose RMW and fence publish it; a worker
        // that runs one more task before seeing it runs a task that was accepted, and the
        // counts stay exact either way.
        self.word.fetch_or(CANCELLING, Ordering::Relaxed);
    }

    /// A broadcast task was queued: paused workers recheck their inboxes (`Registry::pause`).
    pub(crate) fn wake_paused(&self) {
        let guard = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        self.resumed.notify_all();
        drop(guard);
    }

    /// Shutdown: every paused worker resumes (the caller has set `SHUTDOWN`).
    pub(crate) fn release_all(&self) {
        if self.seeded_bugs.gate_notify_outside_lock() {
            // Negative control (loom only): the notification can fall between a paused
            // worker's check of `SHUTDOWN` and its wait.
            return self.resumed.notify_all();
        }
        let guard = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        self.resumed.notify_all();
        drop(guard);
    }
}

impl Registry {
    /// Steps 1–3 of the module docs, for worker `index`; `stop_searching` is step 1.
    #[cold]
    pub(crate) fn pause(&self, index: usize, stop_searching: impl FnOnce()) {
        stop_searching();
        if !self.workers[index].stealer.is_empty() {
            self.notify_work_from(Producer::Worker(index));
        }
        let counters = &self.workers[index].counters;
        let mut guard = self.control.gate.lock().unwrap_or_else(|e| e.into_inner());
        counters.park_begin(self.counters.epoch);
        // A broadcast task ends the pause early: the worker runs it and pauses again
        // (`worker.rs`). Checked under the gate, which its pusher takes after pushing.
        while self.control.pauses(index)
            && !self.idle.load().is_shutdown()
            && self.inbox_is_empty(index)
        {
            guard = self
                .control
                .resumed
                .wait(guard)
                .unwrap_or_else(|e| e.into_inner());
        }
        drop(guard);
        counters.park_end(self.counters.epoch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_and_cancelling_bits_are_independent() {
        let c = Control::new(8, SeededBugs::default());
        assert_eq!(c.active(), 8);
        assert!(!c.pauses(7) && c.pauses(8));
        c.set_active(3);
        assert!(!c.pauses(2) && c.pauses(3));
        assert!(!c.is_cancelling());
        c.start_cancelling();
        assert!(c.is_cancelling());
        assert_eq!(c.active(), 3);
        c.set_active(crate::MAX_THREADS);
        assert_eq!(c.active(), crate::MAX_THREADS);
        assert!(c.is_cancelling());
    }
}
