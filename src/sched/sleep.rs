//! Sleep and wake: how idle workers cost nothing and why no wakeup is lost.
//!
//! # Shared state
//!
//! One word per pool, [`Idle`], packs (see [`IdleWord`]):
//! - `searching` — workers looking for work outside their own deque (bits 0..16);
//! - `sleeping` — workers counted as asleep (bits 16..32);
//! - `SHUTDOWN` — the pool accepts no outside work (bit 32);
//! - `TERMINATED` — every worker is asleep, every queue is empty, no sleeper holds a task,
//!   and shutdown was asked: workers exit (bit 33);
//! - `holding` — sleepers that hold a task open: workers asleep *inside* a helping wait
//!   (`join`, `scope`, `JoinHandle::join`, `install`), counted from step 1 until they leave
//!   the sleep (bits 34..50).
//!
//! Each worker also has a [`Parker`](crate::sched::park::Parker) whose state says whether it may be
//! claimed by a waker (`park.rs`).
//!
//! # A worker goes to sleep ([`Registry::sleep`]) — numbered steps
//!
//! 1. Knock on every other worker (`heartbeat.rs`: a worker running joins then offers a
//!    private half, whose push wakes a sleeper). Count itself as sleeping, and stop searching
//!    if it was (one RMW on the word); a worker waiting on a latch mid-task also counts
//!    itself as holding (same RMW), and uncounts that when it leaves the sleep, however it
//!    leaves.
//! 2. Become claimable: parker `Awake → Sleepy`.
//! 3. `fence(SeqCst)` — pairs with the producer's fence (below).
//! 4. **Final recheck**: look at the injector, every deque and the worker's own broadcast
//!    inbox (`broadcast.rs`; its pusher fences and claims like a producer). Work seen → undo the sleep
//!    (`Sleepy → Awake`, sleeping − 1, searching + 1) and search; or, if a waker claimed it in
//!    the meantime, the waker already did that accounting.
//! 5. Reload the word (after the fence, so a shutdown that missed this worker's `Sleepy` is
//!    seen here — shutdown fences between setting `SHUTDOWN` and waking everyone). If shutdown
//!    was asked, every worker is asleep and none holds a task, set `TERMINATED` by CAS against
//!    exactly the value read, and wake everyone, who exit.
//!    In a pool whose worker 0 is the building thread (`Builder::use_current_thread`),
//!    termination also waits for worker 0's broadcast inbox to be empty: only that thread
//!    runs those calls (`worker.rs`).
//! 6. Knock on every other worker again. A knock of step 1 can be absorbed by a promotion
//!    already under way whose half its owner took back before step 4 looked; nobody would
//!    then ask that owner again while this worker sleeps (`heartbeat.rs`, *Knocks*). A flag
//!    found clear now is set, and the promotion it leads to pushes after this worker counted
//!    itself asleep, so its announcement wakes it. A hint like step 1's: no task depends on it.
//! 7. Park until claimed, then continue as a searcher (the claimer counted it as one).
//!
//! Worker 0 on the building thread is counted as sleeping while the thread is outside any
//! pool call, with its parker left `Awake` (unclaimable); it runs steps 1, 3, 4 and 5 without
//! parking each time a pool call on that thread ends ([`Registry::transition_seat_off_duty`]),
//! and leaves the count by one RMW when the next begins ([`Registry::transition_seat_on_duty`]).
//! `worker.rs` says why no task it leaves on its deque is stranded.
//!
//! # Work appears ([`Registry::notify_work`]) — after every push
//!
//! 1. Push the task (local deque or injector).
//! 2. `fence(SeqCst)`.
//! 3. Load the word. Nobody sleeping, or somebody searching → done: a searcher will find it.
//!    Except for an outside push onto a *backlog* (the injector holds more than that task):
//!    then a sleeper is woken even though somebody searches. The searcher may be a thread the
//!    OS has descheduled — its CPU shared with the producer — and trusting it would leave
//!    everything pushed meanwhile waiting a whole scheduler slice. A backlog is the evidence
//!    that the searchers are not keeping up; waking one more is always safe.
//! 4. Otherwise claim the sleeper nearest the producer that runs on *another* CPU — waking a
//!    worker that shares the producer's CPU adds no parallelism: it can run only by
//!    preempting the producer or after it. So: the neighbours on other CPUs nearest first,
//!    then those sharing the CPU (with `k` workers per core), then the producer's own CPU's
//!    worker. Parker `Sleepy|Parked → Claiming`, then sleeping − 1, searching + 1, then
//!    `Notified` under the parker's lock, and a signal after it.
//!    The claimed worker waits for `Notified`, so it never acts before this accounting landed
//!    (`park.rs`).
//!
//! Only outside pushes depend on this for correctness; a worker's push onto its own deque is
//! announced only when the deque was empty, because the pushing worker is awake and drains
//! its deque before it may sleep — there the announcement recruits help, nothing more.
//!
//! A searcher that finds work stops searching; if it was the last searcher it hands the search
//! on ([`Registry::hand_on_search`]): `fence(SeqCst)`, look at every queue, and only if one
//! still holds work run producer steps 3–4. A burst so ramps up one worker at a time without
//! a thundering herd, and a trickle of single tasks is served by one worker without waking
//! another for each (whose wake-up the found task would otherwise wait behind). At most half
//! the workers may enter searching on their own (woken workers are searchers regardless): the
//! check and the increment are two steps, so under a race the bound can overshoot by the number
//! of racers, which only costs a little spinning.
//!
//! # Why no wakeup is lost
//!
//! Take a producer P (push, fence F_P, load) and a worker W going to sleep (RMW, store
//! `Sleepy`, fence F_W, recheck). SeqCst fences are totally ordered:
//! - F_W before F_P: P's load sees W's RMW (sleeping > 0) and, scanning, W's `Sleepy` — or a
//!   later state of W: `Notified` (another waker claimed W) or `Awake` (W cancelled its sleep).
//!   Either way W is awake again and will pass step 3 again with a fence after F_P.
//! - F_P before F_W: W's recheck sees P's task and W does not park.
//!
//! If P saw `searching > 0`, the searcher S has not yet left searching in the word's order. S
//! leaves either through step 1 (then F_S comes after F_P, and S's recheck sees the task) or by
//! finding work. Then, if S was not the last searcher, one remains and the argument applies to
//! it; if it was, S fences (F_S) and looks at the queues. F_P before F_S: S sees P's task and
//! runs producer steps 3–4. F_S before F_P: P's load would see S's decrement, so P could not
//! have seen S searching — another searcher was still counted, and the argument applies to it.
//! A woken worker's fences come after its claimer's, so the argument chains.
//!
//! # Why no task is stranded at shutdown
//!
//! A worker counts itself asleep only after its own deque came up empty (only the owner pushes
//! to it), so "all asleep, none holding" means no task is running and no deque holds one:
//! what remains can only be in the injector. A worker asleep inside a helping wait has a task
//! on its stack, and its latch may already be set by a worker that has since gone to sleep
//! itself — then nobody else is awake, and the waiter is between its step 1 and its recheck.
//! `holding` keeps such a sleeper from looking like an idle one: without it the last other
//! worker terminated the pool under the waiter, and every other worker left while a task
//! still ran (found by the shuttle scenarios, `shuttle-tests/`; the worker loop asserts it in
//! debug builds). Termination is a CAS from the exact value read after the terminator's fence
//! and empty recheck, so no worker woke in between. An outside producer
//! checks `SHUTDOWN` before pushing; one that raced past it either is seen by some sleeper's
//! recheck (which then does not stay asleep), or sees `TERMINATED` in its step 3 or in its
//! claim RMW — and then drains the injector, rejecting what it finds.
//!
//! Shutdown and termination cannot be missed either: each sets its bit, fences, and claims
//! every sleeper ([`Registry::wake_all`]); a worker stores `Sleepy`, fences, and reloads the
//! word (step 5). One of the two sees the other.

use crate::sched::latch::Probe;
use crate::sched::park::Woken;
use crate::sched::registry::Registry;
use crate::sync::{fence, AtomicU64, Ordering};

const SEARCH_ONE: u64 = 1;
const SEARCH_MASK: u64 = 0xFFFF;
const SLEEP_SHIFT: u32 = 16;
const SLEEP_ONE: u64 = 1 << SLEEP_SHIFT;
const SLEEP_MASK: u64 = 0xFFFF << SLEEP_SHIFT;
const SHUTDOWN: u64 = 1 << 32;
const TERMINATED: u64 = 1 << 33;
const HOLD_SHIFT: u32 = 34;
const HOLD_ONE: u64 = 1 << HOLD_SHIFT;
const HOLD_MASK: u64 = 0xFFFF << HOLD_SHIFT;

/// One snapshot of the idle word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdleWord(u64);

impl IdleWord {
    /// Workers searching outside their own deque.
    pub(crate) fn searching(self) -> usize {
        (self.0 & SEARCH_MASK) as usize
    }
    /// Workers counted as asleep.
    pub(crate) fn sleeping(self) -> usize {
        ((self.0 & SLEEP_MASK) >> SLEEP_SHIFT) as usize
    }
    /// Shutdown was asked: outside submissions are refused.
    pub(crate) fn is_shutdown(self) -> bool {
        self.0 & SHUTDOWN != 0
    }
    /// All work is done and the workers are exiting.
    pub(crate) fn is_terminated(self) -> bool {
        self.0 & TERMINATED != 0
    }
    /// Sleepers inside a helping wait: their task holds the pool open.
    pub(crate) fn holding(self) -> usize {
        ((self.0 & HOLD_MASK) >> HOLD_SHIFT) as usize
    }
}

/// The pool's idle word (see the module docs).
pub(crate) struct Idle {
    word: AtomicU64,
}

/// What a producer learns from [`Registry::notify_work`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notified {
    /// Somebody will find the work.
    Ok,
    /// The workers are gone: the producer must drain what it pushed.
    Terminated,
}

/// What a worker does after [`Registry::sleep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterSleep {
    /// Go on, as a searcher.
    Search,
    /// The pool terminated: leave the thread.
    Exit,
}

impl Idle {
    pub(crate) fn new() -> Self {
        Idle {
            word: AtomicU64::new(0),
        }
    }

    pub(crate) fn load(&self) -> IdleWord {
        // ORDERING: Acquire pairs with the AcqRel RMWs below, so a reader that sees a count
        // also sees the parker state the writer stored before it.
        IdleWord(self.word.load(Ordering::Acquire))
    }

    /// Enters searching unless half the workers already search.
    pub(crate) fn try_transition_to_searching(&self, workers: usize) -> bool {
        let c = self.load();
        if 2 * c.searching() >= workers {
            return false;
        }
        // ORDERING: AcqRel: part of the word's RMW chain; the fences that matter are in
        // notify_work and sleep.
        self.word.fetch_add(SEARCH_ONE, Ordering::AcqRel);
        true
    }

    /// Leaves searching after finding work; true if this was the last searcher.
    pub(crate) fn transition_from_searching(&self) -> bool {
        // ORDERING: AcqRel; the caller follows a `true` with hand_on_search, whose fence orders
        // it.
        let prev = IdleWord(self.word.fetch_sub(SEARCH_ONE, Ordering::AcqRel));
        debug_assert!(prev.searching() > 0, "searching underflow: {prev:?}");
        prev.searching() == 1
    }

    /// Step 1: counts a worker as sleeping (and no longer searching; and holding, if it
    /// sleeps inside a helping wait). Returns the new value.
    pub(crate) fn transition_to_sleeping(&self, was_searching: bool, holding: bool) -> IdleWord {
        let mut delta = if was_searching {
            SLEEP_ONE.wrapping_sub(SEARCH_ONE)
        } else {
            SLEEP_ONE
        };
        if holding {
            delta = delta.wrapping_add(HOLD_ONE);
        }
        // ORDERING: AcqRel: the release publishes this worker's earlier pushes to whoever reads
        // the word later (the last sleeper's RMW, a producer's load); followed by fence step 3.
        let prev = self.word.fetch_add(delta, Ordering::AcqRel);
        IdleWord(prev.wrapping_add(delta))
    }

    /// One sleeper becomes a searcher: done by whoever won the parker (claimer or owner).
    fn transition_sleeping_to_searching(&self) -> IdleWord {
        let delta = SEARCH_ONE.wrapping_sub(SLEEP_ONE);
        // ORDERING: AcqRel: the claimer reads TERMINATED from the chain it joins.
        let prev = IdleWord(self.word.fetch_add(delta, Ordering::AcqRel));
        debug_assert!(prev.sleeping() > 0, "sleeping underflow: {prev:?}");
        IdleWord(prev.0.wrapping_add(delta))
    }

    /// A sleeper that held a task leaves its sleep (by itself or claimed): it no longer
    /// holds the pool open through the word; its task does, as a running one.
    fn release_hold(&self) {
        // ORDERING: AcqRel: part of the word's RMW chain; a would-be terminator that read the
        // hold fails its CAS, and one that reads after this sees the waiter searching (the
        // claim or the owner moved it there before).
        let prev = IdleWord(self.word.fetch_sub(HOLD_ONE, Ordering::AcqRel));
        debug_assert!(prev.holding() > 0, "holding underflow: {prev:?}");
    }

    /// Worker 0's seat comes on duty (`use_current_thread`, `worker.rs`): it was counted
    /// as sleeping while off duty and is now awake, not searching. Returns the new value.
    pub(crate) fn transition_sleeping_to_awake(&self) -> IdleWord {
        // ORDERING: AcqRel: one RMW of the chain the terminator's CAS compares against, so
        // either that CAS fails (the word changed) or this RMW reads TERMINATED.
        let prev = IdleWord(self.word.fetch_sub(SLEEP_ONE, Ordering::AcqRel));
        debug_assert!(prev.sleeping() > 0, "sleeping underflow: {prev:?}");
        IdleWord(prev.0.wrapping_sub(SLEEP_ONE))
    }

    /// Sets SHUTDOWN; returns the value before.
    pub(crate) fn set_shutdown(&self) -> IdleWord {
        // ORDERING: AcqRel: producers that load SHUTDOWN then refuse; racing ones are covered
        // by TERMINATED (module docs).
        IdleWord(self.word.fetch_or(SHUTDOWN, Ordering::AcqRel))
    }

    /// Step 5: terminate, if the word still holds `seen` (read after the caller's fence).
    fn try_terminate(&self, seen: IdleWord) -> bool {
        // ORDERING: AcqRel on success publishes termination; Relaxed on failure: the caller
        // just parks and will be woken by whoever changed the word.
        self.word
            .compare_exchange(
                seen.0,
                seen.0 | TERMINATED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }
}

impl Registry {
    /// A worker with nothing to do goes to sleep (steps 1–6 in the module docs).
    /// `searching` is the worker's own flag; it is true again when this returns `Search`.
    /// `waiting`: the latch of a `join`/`scope` the worker waits on, mid-task; its recheck
    /// then also looks at the latch, it never terminates the pool, and it counts as holding,
    /// so no other worker does either while it sleeps (its task holds the pool open).
    #[cold]
    pub(crate) fn sleep(
        &self,
        index: usize,
        searching: &mut bool,
        waiting: Option<&dyn Probe>,
    ) -> AfterSleep {
        let parker = &self.workers[index].parker;
        // A sleeper inside a helping wait holds its task open (module docs, shutdown).
        let holding = waiting.is_some() && !self.seeded_bugs.sleep_without_hold();
        // Step 1. First a knock on every other worker: one running joins then promotes a
        // private half at its next join, whose push wakes us (`heartbeat.rs`).
        self.knock_on_others(index);
        self.idle.transition_to_sleeping(*searching, holding);
        *searching = false;
        // Step 2.
        parker.transition_to_sleepy();
        // Step 3. ORDERING: pairs with the fence in notify_work (Dekker: one of us sees the
        // other's write).
        fence(Ordering::SeqCst);
        // Step 4.
        let latch_set = || waiting.is_some_and(Probe::probe);
        if !self.seeded_bugs.skip_final_recheck()
            && (self.has_visible_work() || !self.inbox_is_empty(index) || latch_set())
        {
            *searching = true;
            return self.leave_sleep(parker.try_cancel_sleep(), holding);
        }
        // Step 5.
        let seen = self.idle.load();
        let may_terminate = waiting.is_none()
            && (seen.is_terminated()
                || (self.may_terminate(seen) && self.idle.try_terminate(seen)));
        if may_terminate {
            // Point of no return: the pool is terminated; wake everyone so they exit.
            parker.try_cancel_sleep();
            self.wake_all();
            return AfterSleep::Exit;
        }
        // Step 6: the recheck found nothing, so knock again (module docs).
        self.knock_on_others(index);
        // Step 7.
        let counters = &self.workers[index].counters;
        counters.park_begin(self.counters.epoch);
        let woken = parker.park();
        counters.park_end(self.counters.epoch);
        *searching = true;
        self.leave_sleep(woken, holding)
    }

    /// Steps 1 and 6: asks every other worker to promote a private join half.
    fn knock_on_others(&self, index: usize) {
        for (i, worker) in self.workers.iter().enumerate() {
            if i != index {
                worker.knock();
            }
        }
    }

    /// Step 5's condition, on the word read after the fence and an empty recheck: shutdown
    /// was asked, every worker is asleep (an off-duty seat counts as asleep), nobody searches
    /// or holds a task, and — in a pool with a seat — no broadcast call waits in worker 0's inbox: only the
    /// seat's thread can run it, and it does so when it next waits in the pool.
    fn may_terminate(&self, seen: IdleWord) -> bool {
        seen.is_shutdown()
            && seen.sleeping() == self.workers.len()
            && seen.searching() == 0
            && seen.holding() == 0
            && (!self.caller_worker || self.inbox_is_empty(0))
    }

    /// Worker 0 on the building thread comes on duty (`worker.rs`, "Worker 0 on the building thread"):
    /// from counted-asleep to awake. `Terminated` if the pool terminated while it was off
    /// duty: the seat then counts nowhere any more.
    pub(crate) fn transition_seat_on_duty(&self) -> Notified {
        if self.idle.transition_sleeping_to_awake().is_terminated() {
            Notified::Terminated
        } else {
            Notified::Ok
        }
    }

    /// Worker 0's seat goes off duty: it leaves the pool's work to the others until its
    /// thread next waits in the pool. It counts itself asleep (step 1; its parker stays
    /// `Awake`, so no waker claims it), fences (step 3), and rechecks (step 4) — but does
    /// not park: what it sees it announces like a producer, whose claim races a would-be
    /// terminator exactly as a push does. With nothing to see it runs step 5, so a seat
    /// that leaves last terminates a pool being shut down. `Terminated`: the pool is done.
    #[cold]
    pub(crate) fn transition_seat_off_duty(&self, index: usize) -> Notified {
        // Step 1.
        self.idle.transition_to_sleeping(false, false);
        // Step 3. ORDERING: pairs with the fences in notify_work and in `sleep` step 3, as a
        // sleeper's does.
        fence(Ordering::SeqCst);
        // Step 4. Its own deque is among the stealers: work left there is announced.
        if self.has_visible_work() {
            return self.wake_if_needed(|| false, || Some(index));
        }
        // Step 5.
        let seen = self.idle.load();
        if seen.is_terminated() {
            return Notified::Terminated;
        }
        if self.may_terminate(seen) && self.idle.try_terminate(seen) {
            // Point of no return, as in `sleep`.
            self.wake_all();
            return Notified::Terminated;
        }
        Notified::Ok
    }

    /// The worker is awake again, as a searcher: finish the accounting (and drop its hold,
    /// if it waits mid-task) and see whether the pool terminated meanwhile.
    fn leave_sleep(&self, how: Woken, holding: bool) -> AfterSleep {
        if how == Woken::ByItself {
            self.idle.transition_sleeping_to_searching();
        }
        if holding {
            self.idle.release_hold();
        }
        if self.idle.load().is_terminated() {
            AfterSleep::Exit
        } else {
            AfterSleep::Search
        }
    }

    /// Producer steps 2–4, after a push. `backlog`: whether the push found a backlog, so that
    /// a sleeper is woken even if somebody searches; asked only when someone both sleeps and
    /// searches. `near` finds the worker nearest the producer (the producer itself, or the
    /// worker pinned to the producer's CPU); it is only called when a sleeper must be woken.
    #[inline]
    pub(crate) fn notify_work(
        &self,
        backlog: impl FnOnce() -> bool,
        near: impl FnOnce() -> Option<usize>,
    ) -> Notified {
        // ORDERING: pairs with the fence in `sleep` step 3.
        fence(Ordering::SeqCst);
        self.wake_if_needed(backlog, near)
    }

    /// Worker `from` was the last searcher and found work: hand the search on if any queue
    /// still holds work (module docs).
    #[cold]
    pub(crate) fn hand_on_search(&self, from: usize) {
        // ORDERING: pairs with the producers' fence in `notify_work`: a producer that counted
        // on this worker's search either pushed before this fence (the look below sees it) or
        // loads the idle word after it (and sees that this worker no longer searches).
        fence(Ordering::SeqCst);
        if self.has_visible_work() {
            self.wake_if_needed(|| false, || Some(from));
        }
    }

    /// Producer steps 3–4, after the caller's fence.
    #[inline]
    fn wake_if_needed(
        &self,
        backlog: impl FnOnce() -> bool,
        near: impl FnOnce() -> Option<usize>,
    ) -> Notified {
        let c = self.idle.load();
        if c.is_terminated() {
            return Notified::Terminated;
        }
        if c.sleeping() == 0 || (c.searching() > 0 && !backlog()) {
            return Notified::Ok;
        }
        self.wake_one(near())
    }

    /// Claims and wakes the sleeper nearest `near` (step 4): `near`'s neighbours on other
    /// CPUs nearest first, then those pinned to `near`'s CPU, then `near` itself.
    #[cold]
    fn wake_one(&self, near: Option<usize>) -> Notified {
        let start = near.unwrap_or(0);
        let cpu = self.workers[start].cpu;
        let shares = |i: &usize| cpu.is_some() && self.workers[*i].cpu == cpu;
        let neighbours = &self.workers[start].neighbours;
        let candidates = neighbours
            .iter()
            .copied()
            .filter(|i| !shares(i))
            .chain(neighbours.iter().copied().filter(|i| shares(i)))
            .chain(std::iter::once(start));
        for i in candidates {
            if let Some(result) = self.try_wake(i) {
                return result;
            }
        }
        // Nobody claimable: every counted sleeper is already waking or rechecking after a
        // fence that follows ours (module docs), so the work is seen.
        Notified::Ok
    }

    /// Claims worker `i` if it sleeps, moves it to searching and signals it.
    fn try_wake(&self, i: usize) -> Option<Notified> {
        let parker = &self.workers[i].parker;
        if !parker.try_claim() {
            return None;
        }
        let after = self.idle.transition_sleeping_to_searching();
        parker.finish_claim();
        Some(if after.is_terminated() {
            Notified::Terminated
        } else {
            Notified::Ok
        })
    }

    /// Wakes worker `i` if it sleeps (a latch it waits on was set).
    pub(crate) fn wake_worker(&self, i: usize) {
        self.try_wake(i);
    }

    /// Wakes every sleeping worker (shutdown, termination). The caller has just changed the
    /// word (SHUTDOWN or TERMINATED).
    pub(crate) fn wake_all(&self) {
        // ORDERING: pairs with the fence in `sleep` step 3: a worker whose `Sleepy` store this
        // scan misses reloads the word after its fence and sees the change the caller made.
        fence(Ordering::SeqCst);
        for i in 0..self.workers.len() {
            self.try_wake(i);
        }
    }

    /// Step 4's look at every queue. Does not take anything.
    fn has_visible_work(&self) -> bool {
        !self.injector.is_empty() || self.workers.iter().any(|w| !w.stealer.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_masks_are_independent() {
        let idle = Idle::new();
        assert!(idle.try_transition_to_searching(4));
        assert!(idle.try_transition_to_searching(4));
        assert!(!idle.try_transition_to_searching(4), "at most half search");
        let c = idle.transition_to_sleeping(true, false);
        assert_eq!((c.searching(), c.sleeping()), (1, 1));
        let c = idle.transition_to_sleeping(false, false);
        assert_eq!((c.searching(), c.sleeping()), (1, 2));
        let c = idle.transition_sleeping_to_searching();
        assert_eq!((c.searching(), c.sleeping()), (2, 1));
        let c = idle.transition_sleeping_to_awake();
        assert_eq!((c.searching(), c.sleeping()), (2, 0));
        idle.transition_to_sleeping(false, false);
        assert!(!idle.transition_from_searching());
        assert!(idle.transition_from_searching());
        let before = idle.set_shutdown();
        assert!(!before.is_shutdown());
        let c = idle.load();
        assert!(c.is_shutdown() && !c.is_terminated());
        assert_eq!((c.searching(), c.sleeping()), (0, 1));
        assert!(idle.try_terminate(c));
        assert!(idle.load().is_terminated());
        assert!(!idle.try_terminate(c), "terminate is a one-shot CAS");
    }

    #[test]
    fn sleeping_field_holds_max_threads() {
        let idle = Idle::new();
        for _ in 0..crate::MAX_THREADS {
            idle.transition_to_sleeping(false, false);
        }
        let c = idle.load();
        assert_eq!(c.sleeping(), crate::MAX_THREADS);
        assert_eq!(c.searching(), 0);
        assert!(!c.is_shutdown());
    }

    #[test]
    fn holding_field_is_independent_and_holds_max_threads() {
        let idle = Idle::new();
        for _ in 0..crate::MAX_THREADS {
            idle.transition_to_sleeping(false, true);
        }
        idle.set_shutdown();
        let c = idle.load();
        assert_eq!(
            (c.sleeping(), c.holding(), c.searching()),
            (crate::MAX_THREADS, crate::MAX_THREADS, 0)
        );
        assert!(c.is_shutdown() && !c.is_terminated());
        idle.release_hold();
        let c = idle.load();
        assert_eq!(
            (c.sleeping(), c.holding()),
            (crate::MAX_THREADS, crate::MAX_THREADS - 1)
        );
        assert!(c.is_shutdown() && !c.is_terminated());
    }
}
