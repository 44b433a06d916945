//! A completion counter that costs a task almost nothing: per-thread, cache-padded slots.
//!
//! A single shared countdown (plus an `Arc` clone and drop per task) puts three contended
//! cross-core read-modify-writes on every tiny task, for every contender alike; at ~100 ns a
//! task that swamps the very overheads the benches compare. Here each task adds 1 to its own
//! thread's slot (an uncontended RMW on a line no other thread writes, unless more threads
//! than slots collide), and the bench thread, which never spins, sums the slots between short
//! sleeps until the total reaches the target.
//!
//! Protocol for one iteration:
//! 1. The bench thread calls [`Latch::reset`] while no task of the last iteration is left
//!    (after `wait` returned), zeroing every slot.
//! 2. Each task calls [`Latch::count_down`] exactly once: `fetch_add(1, Release)` on its slot.
//! 3. [`Latch::wait`] sums the slots with Acquire loads; once the sum reaches the target every
//!    task has run (and its effects are visible). Between sums it sleeps `POLL`, so the wait
//!    adds at most about one poll interval (tens of µs) to an iteration of milliseconds, the
//!    same for every contender.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;

const SLOTS: usize = 64;
const POLL: Duration = Duration::from_micros(20);

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS;
}

/// Per-thread completion counter; see the module docs.
pub struct Latch {
    slots: Box<[CachePadded<AtomicUsize>]>,
}

impl Latch {
    /// A latch for the whole bench run, shared by reference with every task.
    pub fn new() -> &'static Self {
        Box::leak(Box::new(Latch {
            slots: (0..SLOTS)
                .map(|_| CachePadded::new(AtomicUsize::new(0)))
                .collect(),
        }))
    }

    /// Zeroes the count; only while no task of the previous iteration is outstanding.
    pub fn reset(&self) {
        for slot in self.slots.iter() {
            // ORDERING: Relaxed: tasks of the next iteration are handed out after this,
            // through the pool's queue, which orders this store before their increments.
            slot.store(0, Ordering::Relaxed);
        }
    }

    /// Counts one task as done.
    #[inline]
    pub fn count_down(&self) {
        let slot = SLOT.with(|s| *s);
        // ORDERING: Release publishes the task's effects to the waiter's Acquire sum.
        self.slots[slot].fetch_add(1, Ordering::Release);
    }

    /// Sleeps until `target` tasks have counted down (never spins).
    pub fn wait(&self, target: usize) {
        loop {
            // ORDERING: Acquire pairs with each task's Release increment.
            let done: usize = self.slots.iter().map(|s| s.load(Ordering::Acquire)).sum();
            if done >= target {
                return;
            }
            std::thread::sleep(POLL);
        }
    }
}
