//! A reusable count-down latch: tasks count down, one thread sleeps until the count is 0.
//!
//! Fields and who writes them:
//! - `remaining`: set by [`Latch::reset`] (the waiting thread, while no task holds the
//!   latch's count), decremented by each task in [`Latch::count_down`].
//! - `done` (under the mutex): set to `false` by `reset`, set to `true` only by the task
//!   whose decrement takes `remaining` from 1 to 0.
//!
//! Protocol for one iteration:
//! 1. The waiter calls `reset(n)` before it hands out any of the `n` tasks.
//! 2. Each task calls `count_down` exactly once. The task that takes `remaining` to 0 locks
//!    `done`, sets it, unlocks, and notifies the condvar.
//! 3. The waiter calls `wait`, which sleeps on the condvar until `done` is `true`.
//!
//! No wakeup is lost: the last task sets `done` under the mutex, and the waiter checks `done`
//! under the same mutex before each sleep, so either it sees `true` or it is already asleep
//! when the notification comes. Once `wait` returns, every task has already done its
//! decrement, so the next `reset` races with nobody; a late `notify_all` from the previous
//! iteration's last task only causes a spurious wakeup, which the `done` loop absorbs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Count-down latch; see the module docs for the protocol.
#[derive(Debug, Default)]
pub struct Latch {
    remaining: AtomicUsize,
    done: Mutex<bool>,
    wake: Condvar,
}

impl Latch {
    /// A latch with a count of 0, shared by the bench thread and the tasks.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Re-arms the latch for `n` count downs. Call only when no task of a previous
    /// iteration is still to count down (that is, after `wait` returned).
    pub fn reset(&self, n: usize) {
        assert!(n > 0, "a latch armed with 0 would never be released");
        *self.done.lock().unwrap() = false;
        // ORDERING: Relaxed is enough: the tasks that decrement this value are handed out
        // after this store through the pool's queue, whose push/pop pair orders this store
        // before their `fetch_sub`.
        self.remaining.store(n, Ordering::Relaxed);
    }

    /// Counts down once; the count down that reaches 0 releases the waiter.
    #[inline]
    pub fn count_down(&self) {
        // ORDERING: AcqRel. Release publishes this task's effects to the task that reaches
        // 0; Acquire in that last task sees every earlier task's effects before it hands
        // them on to the waiter through the mutex.
        let before = self.remaining.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "latch counted down past 0");
        if before == 1 {
            self.release_waiter();
        }
    }

    #[cold]
    fn release_waiter(&self) {
        *self.done.lock().unwrap() = true;
        self.wake.notify_all();
    }

    /// Sleeps until the count reaches 0 (never spins).
    pub fn wait(&self) {
        let mut done = self.done.lock().unwrap();
        while !*done {
            done = self.wake.wait(done).unwrap();
        }
    }
}
