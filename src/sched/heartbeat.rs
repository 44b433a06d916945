//! Heartbeat joins: a `join`'s second half stays private to its worker until somebody could
//! use it, and is only then promoted to the worker's deque, where thieves look.
//!
//! The idea is heartbeat scheduling (Acar, Charguéraud, Guatto, Rainey, Sieczkowski, PLDI
//! 2018) made demand-driven, as in lazy binary splitting (Tzannes et al., PPoPP 2010):
//! publishing a half costs a deque push with its fence and a pop with a SeqCst fence, about
//! 20 ns a join, and is wasted whenever nobody steals. Here a join pays that only after
//! another worker asked for work; until then its half sits on a plain, non-atomic stack.
//!
//! # State
//!
//! Per worker, in [`PrivateHalves`] (only the worker's own thread touches it: `Cell`s, no
//! atomics, no fences):
//! - `slots[0..tail)`: the `b` halves of the joins in progress on this worker's stack,
//!   oldest (outermost) first, as [`TaskId`]s of the jobs on their callers' frames;
//! - `head`: the halves in `slots[0..head)` were **promoted** — handed to the worker's deque
//!   as tasks; those in `slots[head..tail)` are **private**: nobody else knows them. Always
//!   `head <= tail`.
//!
//! **Invariant**: every task on the worker's deque is older than every private half. A push
//! onto the deque (a task spawned inside `a`, a FIFO marker) promotes all private halves
//! first (step 5), and a promotion pushes the oldest private half, above which only private
//! halves remain. So the deque's order is the order the halves would have had if each join
//! had pushed its half at once: tasks `a` leaves behind lie above `b`, and the owner still
//! runs them before it takes `b` back (`join.rs`, step 3).
//!
//! Per worker, in its `WorkerSlot` (shared): the **heartbeat flag**, one `AtomicBool` on its
//! own cache line. It is a hint, never a correctness condition, so every access is Relaxed.
//!
//! # Who writes what
//!
//! - The owner pushes and takes back halves (`tail`), promotes (`head`), and clears the flag
//!   when it promotes, just before the push.
//! - Any other worker **knocks** (sets the flag) when, searching, it finds this worker's deque
//!   empty (`worker.rs`, find-work step 4), and on its way to sleep (`sleep.rs`, steps 1 and
//!   6) — so a worker with private halves learns that a sleeper could take one, and its
//!   promotion's push wakes it (`push_local` announces an empty deque's first task, as
//!   before).
//!
//! # Steps (`join.rs` runs 0, 1, 3 and 4; the worker's waits run 5)
//!
//! 0. **Deep joins register nothing unless asked.** With [`REGISTERED_DEPTH`] (3) or more
//!    *private* halves on the stack (`tail - head`) and the flag clear, the join runs `a`,
//!    then `b`, as plain calls (panics as in `join.rs`) — three loads and no store. A thief
//!    always gets the oldest half, so the three outermost private halves are the ones worth
//!    offering; a deeper join registers only once somebody knocked, and since step 2
//!    promotes the oldest private half, it then hands over one of those, or — when none is
//!    private any more, deep in an unbalanced recursion — its own. The count is of halves,
//!    not of depth: a taken-back `b` pops its slot, so in a balanced tree the joins under
//!    the right-hand side of the top levels have few halves below them (with 8 instead of 3,
//!    60 % of a 2^16-node tree's joins registered). And of *private* halves, not of every
//!    pending one: once the outer halves are promoted, the worker offers nothing privately,
//!    and code that splits its work again whenever that is so (`batch/`, `offers_nothing`)
//!    must see its next split's half kept private, not run as a plain call — else it splits
//!    down to single chunks. (chili registers below 3 queued jobs too, and deeper checks its
//!    heartbeat on one join in 64: a counter stored on every join, a dependency from each
//!    join to the next that the flag's load does not have.)
//! 1. **Push**: `slots[tail] = b`, `tail + 1`. If the flag is set, **promote** (2).
//! 2. **Promote** the oldest private half: `head + 1`, then push its task onto the deque.
//!    The oldest is the outermost join's half, the biggest piece of work on this stack, so
//!    one promotion per knock hands a thief the most. The flag is cleared before the push
//!    (*Knocks*, below). Help ramps up through the knocks sleepers left: a worker on its way
//!    to sleep knocked on every other worker, so the one its promotion's push woke promotes
//!    in turn at its first join, and wakes the next sleeper; a worker that runs dry
//!    searches, and knocks again.
//! 3. `a` runs.
//! 4. **Take back**: `tail - 1`. If `head <= tail` the half was never promoted: nobody else
//!    has ever seen it, and the owner runs it inline — no atomics, no latch. Otherwise it
//!    was promoted (it is `slots[tail]` and `head == tail + 1`): `head = tail`, and the join
//!    follows the public protocol of `join.rs` (pop the deque; run it if it is still there;
//!    else wait, helping, for the latch a thief sets).
//! 5. **Promote all** before a push onto the deque (the invariant), a helping wait or a
//!    yield (`worker.rs`): code that waits inside `a` for something `b` does, through the
//!    pool, must not wait behind a half nobody can see. A wait that does not go through the
//!    pool (a bare spin, a channel's blocking `recv`) promotes nothing: `b` then runs after
//!    `a` on this worker, unless `a` joins again after a knock — as it would on a 1-worker
//!    pool, and as `join`'s docs say (`b` is *potentially* parallel).
//!
//! A full stack (more nested joins than [`CAPACITY`]) is no error: the join then publishes
//! its half at once, the protocol of `join.rs`, and leaves the private stack alone.
//!
//! # Why a promoted half runs exactly once, and its owner sees the result
//!
//! Only the owner moves a half from private to promoted, and only the owner reads `head`
//! and `tail`, all on one thread: no race on the private stack. A half is promoted at most
//! once (`head` only passes a slot once before the slot is taken back). From the moment its
//! task is on the deque it is exactly the task `join.rs` used to push: the deque hands it to
//! one consumer (the owner's pop or a thief's steal), which is the existing join latch
//! protocol (loom-checked in `join_latch.rs`), so it runs once and the owner reads its result
//! only after the latch's Release store. The owner takes a promoted half back only through
//! that protocol, because step 4 tells it was promoted from `head` alone.
//!
//! Step 4 restores `head` to `tail` when it finds its half promoted: the slots above were
//! taken back already (they are inner joins, finished first), so every half below is
//! promoted too, and the next push starts private again. Leaving `head` high would make the
//! next join at this depth think its private half was promoted and wait for a latch nobody
//! sets (the loom model `heartbeat.rs` has that bug seeded).
//!
//! # Knocks
//!
//! A knock is only a hint: a lost one costs parallelism, never a task (a private half is
//! always run by its owner). But a knock lost by a worker on its way to sleep can cost all of
//! it: nobody else asks that owner again, and a recursion — or every later call into a
//! `use_current_thread` pool, which wakes nobody by itself — runs on one worker. The race:
//! the sleeper's knock finds the flag still set by an earlier knock that the owner is about
//! to answer; the owner pushes the half while the sleeper still counts as searching (so the
//! push's announcement wakes nobody), takes it back unstolen before the sleeper's final
//! recheck looks, and the sleeper parks. Two rules close it. The owner clears the flag
//! *before* its push, so a knock that finds it set is followed by that push. And the sleeper
//! knocks once more after its recheck found nothing (`sleep.rs`, step 6): a flag clear by now
//! is set again, and the promotion it leads to pushes after the sleeper counted itself
//! asleep, so its announcement wakes it; a flag still set means the owner's push is still to
//! come, after the same count.
//!
//! # Why nothing is lost
//!
//! A private half is run by its owner at step 4, always: the join frame does not return
//! before (see `join.rs`), and panics in `a` are caught first. A promoted half is a task like
//! any other. Every join takes back its own half before anything can unwind out of it, so
//! the stack is balanced whenever a task ends, and a worker's main loop sees it empty.

use std::cell::Cell;

use crate::task::slot::TaskId;

/// How many nested joins keep their halves private; deeper ones publish theirs at once.
/// Deep enough for any balanced recursion (2^64 leaves need 64), small enough to be a few
/// cache lines per worker.
pub(crate) const CAPACITY: usize = 128;

/// Below this many private halves every join keeps its half on the stack; from here on, only
/// a join that finds its worker knocked does, and the others run their halves as plain calls
/// (step 0).
pub(crate) const REGISTERED_DEPTH: usize = 3;

/// What [`PrivateHalves::take_back`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TakenBack {
    /// The half was never promoted: the owner runs it inline.
    Private,
    /// It was promoted: follow the public join protocol.
    Promoted,
}

/// One worker's stack of private join halves (module docs).
pub(crate) struct PrivateHalves {
    slots: Box<[Cell<Option<TaskId>>]>,
    head: Cell<usize>,
    tail: Cell<usize>,
}

impl PrivateHalves {
    pub(crate) fn new() -> Self {
        PrivateHalves {
            slots: (0..CAPACITY).map(|_| Cell::new(None)).collect(),
            head: Cell::new(0),
            tail: Cell::new(0),
        }
    }

    /// How many halves are private: pushed, not promoted (`head..tail`).
    #[inline]
    fn private(&self) -> usize {
        self.tail.get() - self.head.get()
    }

    /// Step 0's depth test: at least [`REGISTERED_DEPTH`] private halves wait on the stack.
    #[inline]
    pub(crate) fn is_deep(&self) -> bool {
        self.private() >= REGISTERED_DEPTH
    }

    /// True if another half fits (step 1 may run).
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.tail.get() < self.slots.len()
    }

    /// Step 1 (without the flag check): `id` becomes the newest private half.
    ///
    /// # Panics
    /// In debug builds, if there is no room ([`has_room`](Self::has_room) first).
    #[inline]
    pub(crate) fn push(&self, id: TaskId) {
        let tail = self.tail.get();
        debug_assert!(tail < self.slots.len(), "private halves full: {tail}");
        if let Some(slot) = self.slots.get(tail) {
            slot.set(Some(id));
            self.tail.set(tail + 1);
        }
    }

    /// Step 4: takes back the newest half, and tells whether it had been promoted.
    #[inline]
    pub(crate) fn take_back(&self, bugs: crate::sync::SeededBugs) -> TakenBack {
        let tail = self.tail.get();
        debug_assert!(tail > 0, "take_back on an empty private stack");
        let tail = tail.wrapping_sub(1);
        self.tail.set(tail);
        if self.head.get() <= tail {
            TakenBack::Private
        } else {
            // Promoted: every half below is too (module docs, step 4).
            if !bugs.take_back_keeps_head() {
                self.head.set(tail);
            }
            TakenBack::Promoted
        }
    }

    /// Step 2's bookkeeping: the oldest private half, now counted as promoted; `None` if no
    /// half is private.
    #[inline]
    pub(crate) fn promote_oldest(&self) -> Option<TaskId> {
        if !self.has_private() {
            return None;
        }
        let head = self.head.get();
        self.head.set(head + 1);
        self.slots[head].get()
    }

    /// True if some half is private (not yet promoted).
    #[inline]
    pub(crate) fn has_private(&self) -> bool {
        self.private() > 0
    }

    /// True if no half is on the stack, private or promoted (a task's end, the main loop).
    pub(crate) fn is_empty(&self) -> bool {
        self.tail.get() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are only compared and counted here, never made into tasks.
    fn ids(n: usize) -> Vec<TaskId> {
        (1..=n).map(|i| TaskId::for_tests(i * 64)).collect()
    }

    #[test]
    fn unpromoted_halves_come_back_private() {
        let halves = PrivateHalves::new();
        let ids = ids(3);
        for &id in &ids {
            halves.push(id);
        }
        let bugs = crate::sync::SeededBugs::default();
        for _ in 0..3 {
            assert_eq!(halves.take_back(bugs), TakenBack::Private);
        }
        assert!(halves.is_empty());
    }

    #[test]
    fn promotion_takes_the_oldest_and_take_back_sees_it() {
        let halves = PrivateHalves::new();
        let ids = ids(3);
        for &id in &ids {
            halves.push(id);
        }
        let promoted = halves.promote_oldest().expect("a private half");
        assert!(promoted.same(ids[0]), "the oldest is promoted first");
        let second = halves.promote_oldest().expect("a private half");
        assert!(second.same(ids[1]));
        let bugs = crate::sync::SeededBugs::default();
        assert_eq!(halves.take_back(bugs), TakenBack::Private); // ids[2]
        assert_eq!(halves.take_back(bugs), TakenBack::Promoted); // ids[1]

        // A new join at this depth starts private again.
        halves.push(ids[2]);
        assert_eq!(halves.take_back(bugs), TakenBack::Private);
        assert_eq!(halves.take_back(bugs), TakenBack::Promoted); // ids[0]
        assert!(halves.is_empty());
        assert!(halves.promote_oldest().is_none(), "nothing left to promote");
    }

    #[test]
    fn depth_counts_private_halves() {
        let halves = PrivateHalves::new();
        let id = ids(1)[0];
        for _ in 0..REGISTERED_DEPTH {
            assert!(!halves.is_deep(), "the outermost halves always register");
            halves.push(id);
        }
        assert!(halves.is_deep());
        // Taking one back (its `b` runs next) makes the joins under it shallow again.
        let _ = halves.take_back(crate::sync::SeededBugs::default());
        assert!(!halves.is_deep());
        // So does promoting one: a promoted half is no longer private.
        halves.push(id);
        assert!(halves.is_deep());
        assert!(halves.promote_oldest().is_some());
        assert!(!halves.is_deep());
    }

    #[test]
    fn capacity_is_reported() {
        let halves = PrivateHalves::new();
        let id = ids(1)[0];
        for _ in 0..CAPACITY {
            assert!(halves.has_room());
            halves.push(id);
        }
        assert!(!halves.has_room());
    }
}
