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
//! Per worker, shared through its `WorkerSlot`: the **gate**, one word on its own cache line
//! ([`Gate`]). Its top bit is the **heartbeat flag**; its bit 0, the **deep bit**, says
//! whether `tail - head` is at least [`REGISTERED_DEPTH`]. It is a hint, never a correctness
//! condition (the protocol reads `head` and `tail`, never the gate), so every access is
//! Relaxed. A thread-local pointer (`GATE`, `worker.rs`) leads a join straight to its
//! worker's gate — or, on a thread that runs no worker, to [`CLOSED`], a gate whose flag is
//! set for good.
//!
//! # Who writes what
//!
//! - The owner pushes and takes back halves (`tail`), promotes (`head`), sets the deep bit
//!   when its private count reaches [`REGISTERED_DEPTH`] and clears it when the count falls
//!   below, and clears the flag when it promotes on a knock, just before the push.
//! - Any other worker **knocks** (sets the flag) when, searching, it finds this worker's
//!   deque empty (`worker.rs`, find-work step 4), and on its way to sleep (`sleep.rs`, steps
//!   1 and 6) — so a worker with private halves learns that a sleeper could take one, and
//!   its promotion's push wakes it (`push_local` announces an empty deque's first task, as
//!   before).
//!
//! Both sides change the word only by read-modify-writes (an OR or an AND of their own bit),
//! so neither undoes the other: a knock that lands while the owner flips its deep bit stays
//! set. The owner pays for one only when its count crosses [`REGISTERED_DEPTH`] (fib(25) on
//! one worker: 572 times in 121,392 joins, of which 376 register; a loop of shallow joins:
//! never); the plain path only loads.
//!
//! # Steps (`join.rs` runs 0, 1, 3 and 4; the worker's waits run 5)
//!
//! 0. **Deep joins register nothing unless asked.** With [`REGISTERED_DEPTH`] (3) or more
//!    *private* halves on the stack (`tail - head`) and the flag clear, the join runs `a`,
//!    then `b`, as plain calls (panics as in `join.rs`). The test is the gate read as a
//!    signed number, above 0: a thread-local load, a load and a compare. A thief
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
//!    join to the next that the gate's load does not have.)
//! 1. **Push**: `slots[tail] = b`, `tail + 1` (the deep bit set if the private count is now
//!    3). If the flag is set, **promote** (2).
//! 2. **Promote** the oldest private half: `head + 1` (the deep bit cleared if the count
//!    fell to 2), then push its task onto the deque. The oldest is the outermost join's
//!    half, the biggest piece of work on this stack, so one promotion per knock hands a
//!    thief the most. The flag is cleared before the push (*Knocks*, below). Help ramps up
//!    through the knocks sleepers left: a worker on its way to sleep knocked on every other
//!    worker, so the one its promotion's push woke promotes in turn at its first join, and
//!    wakes the next sleeper; a worker that runs dry searches, and knocks again.
//! 3. `a` runs.
//! 4. **Take back**: `tail - 1`. If `head <= tail` the half was never promoted: nobody else
//!    has ever seen it, and the owner runs it inline — no fence, no latch (one atomic AND
//!    if the count fell to 2: the deep bit cleared). Otherwise it was promoted (it is `slots[tail]` and
//!    `head == tail + 1`): `head = tail`, and the join follows the public protocol of
//!    `join.rs` (pop the deque; run it if it is still there; else wait, helping, for the
//!    latch a thief sets).
//! 5. **Promote all** (the deep bit cleared, the flag left as it is) before a push onto the
//!    deque (the invariant), a helping wait or a yield (`worker.rs`): code that waits
//!    inside `a` for something `b` does, through the pool, must not wait behind a half
//!    nobody can see. A wait that does not go through the pool (a bare spin, a channel's
//!    blocking `recv`) promotes nothing: `b` then runs after `a` on this worker, unless `a`
//!    joins again after a knock — as it would on a 1-worker pool, and as `join`'s docs say
//!    (`b` is *potentially* parallel).
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

use crate::sync::{Arc, CachePadded, HintWord, Ordering};
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

/// A worker's **gate**: the one word a join loads to choose its path (step 0). Bit 0, the
/// **deep bit**, is set while the worker has at least [`REGISTERED_DEPTH`] private halves
/// (written by the owner alone); the top bit is the heartbeat flag, set by knocks. Read as a
/// signed number, the word is positive exactly when a join may run as plain calls: deep
/// enough, no knock.
///
/// A hint, like the flag it holds (module docs, *State*): every access is Relaxed. Both sides
/// change the word by read-modify-writes only, so neither overwrites the other's bit; the
/// owner's happen only when its private count crosses [`REGISTERED_DEPTH`].
pub(crate) struct Gate(HintWord);

/// The gate's deep bit.
const DEEP: usize = 1;

/// The gate's heartbeat flag: its top bit, the sign bit of the word read as signed.
const KNOCKED: usize = 1 << (usize::BITS - 1);

/// The gate of every thread that runs no worker: knocked for good, so a join there always
/// takes the path that looks for its worker (`worker.rs`, `GATE`). Nothing writes it.
pub(crate) static CLOSED: Gate = Gate(HintWord::new(KNOCKED));

impl Gate {
    /// A gate with no private half and no knock.
    pub(crate) fn new() -> Self {
        Gate(HintWord::new(0))
    }

    /// Step 0: true if a join here may run `a` then `b` as plain calls — at least
    /// [`REGISTERED_DEPTH`] private halves and no knock — in one load and one compare.
    #[inline(always)]
    pub(crate) fn plain(&self) -> bool {
        // ORDERING: Relaxed: a hint; a knock missed here is seen by the next join that looks.
        (self.0.load(Ordering::Relaxed) as isize) > 0
    }

    /// Asks the owner to promote a private half at its next registered join. Loads first, so
    /// knocking on a worker already asked costs no cache-line transfer.
    #[inline]
    pub(crate) fn knock(&self) {
        // ORDERING: Relaxed both: a hint; the work it leads to is published by the deque push.
        if !self.knocked() {
            self.0.fetch_or(KNOCKED, Ordering::Relaxed);
        }
    }

    /// True if the flag is set: somebody knocked, and no promotion answered it yet.
    #[inline]
    fn knocked(&self) -> bool {
        // ORDERING: Relaxed: a hint.
        self.0.load(Ordering::Relaxed) & KNOCKED != 0
    }

    /// The owner answers a knock: clears the flag (step 2: before its push).
    fn clear_knock(&self) {
        // ORDERING: Relaxed: a hint; the push that follows publishes the promoted half.
        self.0.fetch_and(!KNOCKED, Ordering::Relaxed);
    }

    /// The owner's private count reached [`REGISTERED_DEPTH`].
    fn set_deep(&self) {
        // ORDERING: Relaxed: a hint (the bit only chooses a join's path).
        self.0.fetch_or(DEEP, Ordering::Relaxed);
    }

    /// The owner's private count fell below [`REGISTERED_DEPTH`].
    fn clear_deep(&self) {
        // ORDERING: Relaxed: as in `set_deep`.
        self.0.fetch_and(!DEEP, Ordering::Relaxed);
    }
}

/// One worker's stack of private join halves (module docs), with its gate.
pub(crate) struct PrivateHalves {
    slots: Box<[Cell<Option<TaskId>>]>,
    head: Cell<usize>,
    tail: Cell<usize>,
    gate: Arc<CachePadded<Gate>>,
}

impl PrivateHalves {
    /// An empty stack whose depth `gate` reports (the worker's gate, shared with its slot).
    pub(crate) fn new(gate: Arc<CachePadded<Gate>>) -> Self {
        PrivateHalves {
            slots: (0..CAPACITY).map(|_| Cell::new(None)).collect(),
            head: Cell::new(0),
            tail: Cell::new(0),
            gate,
        }
    }

    /// The gate (`worker.rs` points the thread's `GATE` at it while the worker runs here).
    pub(crate) fn gate(&self) -> &Gate {
        &self.gate
    }

    /// How many halves are private: pushed, not promoted (`head..tail`).
    #[inline]
    fn private(&self) -> usize {
        self.tail.get() - self.head.get()
    }

    /// True if another half fits (step 1 may run).
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.tail.get() < self.slots.len()
    }

    /// Step 1: `id` becomes the newest private half. True if somebody knocked: the caller
    /// then promotes ([`answer_knock`](Self::answer_knock)).
    ///
    /// # Panics
    /// In debug builds, if there is no room ([`has_room`](Self::has_room) first).
    #[inline]
    pub(crate) fn push(&self, id: TaskId) -> bool {
        let tail = self.tail.get();
        debug_assert!(tail < self.slots.len(), "private halves full: {tail}");
        match self.slots.get(tail) {
            Some(slot) => {
                slot.set(Some(id));
                self.tail.set(tail + 1);
                if self.private() == REGISTERED_DEPTH {
                    self.gate.set_deep();
                }
                self.gate.knocked()
            }
            None => false,
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
            self.leave_one();
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
        self.leave_one();
        self.slots[head].get()
    }

    /// One private half fewer (taken back or promoted): clears the gate's deep bit if the
    /// count just fell below [`REGISTERED_DEPTH`].
    #[inline]
    fn leave_one(&self) {
        if self.private() == REGISTERED_DEPTH - 1 {
            self.gate.clear_deep();
        }
    }

    /// Step 2 after a knock: the oldest private half, promoted, with the flag cleared —
    /// before the caller pushes it (*Knocks*). `None` (the flag left set) if none is private.
    #[inline]
    pub(crate) fn answer_knock(&self) -> Option<TaskId> {
        let id = self.promote_oldest()?;
        self.gate.clear_knock();
        Some(id)
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
        let halves = PrivateHalves::new(Arc::new(CachePadded::new(Gate::new())));
        let ids = ids(3);
        for &id in &ids {
            assert!(!halves.push(id));
        }
        let bugs = crate::sync::SeededBugs::default();
        for _ in 0..3 {
            assert_eq!(halves.take_back(bugs), TakenBack::Private);
        }
        assert!(halves.is_empty());
    }

    #[test]
    fn promotion_takes_the_oldest_and_take_back_sees_it() {
        let halves = PrivateHalves::new(Arc::new(CachePadded::new(Gate::new())));
        let ids = ids(3);
        for &id in &ids {
            assert!(!halves.push(id));
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
        let halves = PrivateHalves::new(Arc::new(CachePadded::new(Gate::new())));
        let id = ids(1)[0];
        for _ in 0..REGISTERED_DEPTH {
            assert!(
                !halves.gate().plain(),
                "the outermost halves always register"
            );
            assert!(!halves.push(id), "nobody knocked");
        }
        assert!(halves.gate().plain());
        // Taking one back (its `b` runs next) makes the joins under it shallow again.
        let _ = halves.take_back(crate::sync::SeededBugs::default());
        assert!(!halves.gate().plain());
        // So does promoting one: a promoted half is no longer private.
        halves.push(id);
        assert!(halves.gate().plain());
        assert!(halves.promote_oldest().is_some());
        assert!(!halves.gate().plain());
    }

    #[test]
    fn a_knock_closes_the_gate_until_answered() {
        let halves = PrivateHalves::new(Arc::new(CachePadded::new(Gate::new())));
        let id = ids(1)[0];
        for _ in 0..REGISTERED_DEPTH + 1 {
            halves.push(id);
        }
        assert!(halves.gate().plain());
        halves.gate().knock();
        halves.gate().knock(); // a second knock changes nothing
        assert!(halves.gate().knocked());
        assert!(!halves.gate().plain(), "a knocked join registers");
        assert!(halves.push(id), "the next push sees the knock");
        assert!(halves.answer_knock().is_some());
        assert!(!halves.gate().knocked(), "answered");
        // Four private halves again (one promoted, one pushed): still deep, through the knock.
        assert!(halves.gate().plain());
        let bugs = crate::sync::SeededBugs::default();
        for _ in 0..REGISTERED_DEPTH + 1 {
            assert_eq!(halves.take_back(bugs), TakenBack::Private);
        }
        assert_eq!(halves.take_back(bugs), TakenBack::Promoted);
        assert!(halves.is_empty());
        assert!(!halves.gate().plain());
        assert!(
            !CLOSED.plain(),
            "a thread with no worker never joins plainly"
        );
    }

    #[test]
    fn capacity_is_reported() {
        let halves = PrivateHalves::new(Arc::new(CachePadded::new(Gate::new())));
        let id = ids(1)[0];
        for _ in 0..CAPACITY {
            assert!(halves.has_room());
            let _ = halves.push(id);
        }
        assert!(!halves.has_room());
    }
}
