//! Admission to a bounded queue: the capacity protocol behind
//! [`Builder::queue_capacity`](crate::Builder::queue_capacity) (the injector) and the blocking
//! lane's queue.
//!
//! # State
//!
//! - `queued`: slots held — tasks admitted and not yet taken out of the queue by a consumer.
//!   Changed only by RMW.
//! - `waiters`: submitters blocked for room; changed only under `lock`.
//! - `capacity`: the bound. An unbounded [`Bound`] counts nothing at all, so an unbounded
//!   pool pays nothing for the feature.
//!
//! # Steps
//!
//! Producer ([`Bound::admit`]):
//! 1. CAS `queued` up by one if it is below capacity → admitted (a CAS, not a fetch_add, so a
//!    refused attempt never makes a concurrent one fail spuriously).
//! 2. Full: [`Wait::No`] → `Full`. Otherwise take the lock, `waiters + 1`, `fence(SeqCst)`,
//!    retry step 1, check `closed`, then wait on the condvar (until the deadline, if any) and
//!    loop; `waiters − 1` on the way out.
//!
//! Consumer ([`Bound::release`]), after taking `n` tasks out of the queue: `queued − n`,
//! `fence(SeqCst)`, and if `waiters > 0`, take the lock and notify every waiter.
//!
//! Closing (shutdown) or resizing: the caller changes its own state first (e.g. sets
//! `SHUTDOWN`), then [`Bound::wake_all`] takes the lock and notifies.
//!
//! # Why no blocked submitter is forgotten
//!
//! The waiter writes `waiters`, fences, reads `queued`; the consumer writes `queued`, fences,
//! reads `waiters`. The SeqCst fences order the two, so either the waiter's retry sees the
//! room, or the consumer sees the waiter and notifies. The waiter holds the lock from its
//! retry until the condvar releases it, and the consumer notifies under the lock, so the
//! notification cannot fall between the two. `closed` is set before `wake_all` takes the
//! lock and read under it: the same argument.

use std::time::Instant;

use crate::sync::{fence, wait_until_deadline, AtomicUsize, Condvar, Mutex, Ordering, SeededBugs};

/// How long a submitter waits for room.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// Not at all: a full queue refuses at once.
    No,
    /// Until there is room (or the queue closes).
    Forever,
    /// Until there is room, the queue closes, or this instant passes.
    Until(Instant),
}

/// Why a submitter was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue is full ([`Wait::No`]).
    Full,
    /// The deadline passed with the queue still full.
    Timeout,
    /// The queue is closed (shutdown).
    Closed,
}

/// A queue's capacity and the submitters waiting for room (module docs).
pub(crate) struct Bound {
    capacity: Option<usize>,
    queued: AtomicUsize,
    waiters: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
    seeded_bugs: SeededBugs,
}

impl Bound {
    /// `None`: unbounded, counts nothing. `seeded_bugs`: loom's negative controls (none
    /// outside loom).
    pub(crate) fn new(capacity: Option<usize>, seeded_bugs: SeededBugs) -> Self {
        Bound {
            capacity,
            queued: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            room: Condvar::new(),
            seeded_bugs,
        }
    }

    /// The bound, if any.
    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    /// Step 1.
    fn try_reserve(&self, capacity: usize) -> bool {
        // ORDERING: Relaxed first read; the CAS decides. AcqRel on success keeps the RMW chain
        // simple; the protocol's ordering is carried by the fences.
        let mut cur = self.queued.load(Ordering::Relaxed);
        while cur < capacity {
            match self.queued.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
        false
    }

    /// Admits one task, waiting as `wait` says; `closed` is checked before every wait.
    /// On `Ok` the caller must queue exactly one task (or [`release`](Bound::release) the slot).
    pub(crate) fn admit(&self, wait: Wait, closed: impl Fn() -> bool) -> Result<(), Refused> {
        let Some(capacity) = self.capacity else {
            return Ok(());
        };
        if self.try_reserve(capacity) {
            return Ok(());
        }
        if let Wait::No = wait {
            return Err(Refused::Full);
        }
        self.wait_for_room(capacity, wait, closed)
    }

    /// Admits one task over the bound: for work that belongs to a task already accepted,
    /// which must never wait or be refused.
    pub(crate) fn force_admit(&self) {
        if self.capacity.is_some() {
            // ORDERING: AcqRel: part of the RMW chain on `queued`.
            self.queued.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Step 2.
    #[cold]
    fn wait_for_room(
        &self,
        capacity: usize,
        wait: Wait,
        closed: impl Fn() -> bool,
    ) -> Result<(), Refused> {
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // ORDERING: Relaxed: changed only under the lock; the consumer's read is ordered by the
        // fences (module docs).
        self.waiters.fetch_add(1, Ordering::Relaxed);
        // ORDERING: pairs with the fence in `release`.
        fence(Ordering::SeqCst);
        let result = loop {
            if self.try_reserve(capacity) {
                break Ok(());
            }
            if closed() {
                break Err(Refused::Closed);
            }
            let deadline = match wait {
                Wait::No => unreachable!("checked by admit"),
                Wait::Forever => None,
                Wait::Until(deadline) => Some(deadline),
            };
            match wait_until_deadline(&self.room, guard, deadline) {
                Ok(g) => guard = g,
                Err(g) => {
                    guard = g;
                    break Err(Refused::Timeout);
                }
            }
        };
        // ORDERING: Relaxed: under the lock, as above.
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        drop(guard);
        result
    }

    /// A consumer took `n` admitted tasks out of the queue.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if self.capacity.is_none() || n == 0 {
            return;
        }
        // ORDERING: AcqRel: part of the RMW chain on `queued`; the fence below orders it
        // before the read of `waiters`.
        let prev = self.queued.fetch_sub(n, Ordering::AcqRel);
        debug_assert!(prev >= n, "released {n} slots with only {prev} held");
        if !self.seeded_bugs.release_without_fence() {
            // ORDERING: pairs with the fence in `wait_for_room` (module docs).
            fence(Ordering::SeqCst);
        }
        // ORDERING: Relaxed: ordered by the fence above.
        if self.waiters.load(Ordering::Relaxed) > 0 {
            self.wake_all();
        }
    }

    /// Wakes every blocked submitter to look again (room, shutdown, resize).
    pub(crate) fn wake_all(&self) {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.room.notify_all();
        drop(guard);
    }

    /// Slots held (0 when unbounded: nothing is counted).
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        // ORDERING: Relaxed: a statistic.
        self.queued.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(any(corepool_loom, corepool_shuttle))))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_full_bound_refuses_then_admits_after_release() {
        let bound = Bound::new(Some(2), SeededBugs::default());
        assert_eq!(bound.admit(Wait::No, || false), Ok(()));
        assert_eq!(bound.admit(Wait::No, || false), Ok(()));
        assert_eq!(bound.admit(Wait::No, || false), Err(Refused::Full));
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(
            bound.admit(Wait::Until(soon), || false),
            Err(Refused::Timeout)
        );
        assert_eq!(bound.admit(Wait::Forever, || true), Err(Refused::Closed));
        bound.release(1);
        assert_eq!(bound.queued(), 1);
        assert_eq!(bound.admit(Wait::No, || false), Ok(()));
    }

    #[test]
    fn a_blocked_submitter_wakes_on_release() {
        let bound = std::sync::Arc::new(Bound::new(Some(1), SeededBugs::default()));
        bound.admit(Wait::No, || false).unwrap();
        let b = bound.clone();
        let waiter = std::thread::spawn(move || b.admit(Wait::Forever, || false));
        std::thread::sleep(Duration::from_millis(20));
        bound.release(1);
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(bound.queued(), 1);
    }

    #[test]
    fn unbounded_counts_nothing() {
        let bound = Bound::new(None, SeededBugs::default());
        for _ in 0..1000 {
            bound.admit(Wait::No, || false).unwrap();
        }
        bound.release(1000);
        assert_eq!(bound.queued(), 0);
    }
}
