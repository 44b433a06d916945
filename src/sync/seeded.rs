//! Negative controls: bugs a loom model or a shuttle scenario seeds on purpose, so a check
//! that cannot fail is caught. Each switch sits at its bug's site in the protocol code; in
//! the real build (neither `corepool_loom` nor `corepool_shuttle`) they are
//! `const false` and the real paths compile as if they were not there.

/// Bugs a loom model or shuttle scenario can seed on purpose (negative controls), set per
/// pool through `Builder::seed_bugs` (or `__loom::Workers::new`), which exist only under
/// `cfg(corepool_loom)` or `cfg(corepool_shuttle)`. In the real build this is a field-less
/// type whose switches are `const false`, so the real code paths compile exactly as if the
/// switches were not there.
#[cfg(any(corepool_loom, corepool_shuttle))]
#[derive(Debug, Clone, Copy, Default)]
#[doc(hidden)]
pub struct SeededBugs {
    /// Park without the final recheck (`sleep.rs`, final recheck).
    pub skip_final_recheck: bool,
    /// `WorkerLatch::set` without its SeqCst fence, so the setter's wake scan can miss an
    /// owner that is on its way to sleep (`latch.rs`).
    pub latch_set_without_fence: bool,
    /// The submit cell wakes the handle's waker *before* it publishes `COMPLETE`, and not
    /// after (`cell.rs`: the wake moved ahead of the point of no return).
    pub wake_before_publish: bool,
    /// A blocking-lane thread started for a producer clears `starting` but never looks at
    /// the queue behind it (`blocking.rs`, lane thread: started for a producer), so tasks skipped meanwhile get no thread.
    pub lane_start_without_hand_on: bool,
    /// A stream's or join set's consumer registers its waker but skips the SeqCst fence
    /// before its recheck of the ready list (`stream/ready.rs`, the consumer's recheck), so a
    /// group pushed meanwhile can go unseen by both sides.
    pub ready_wait_without_fence: bool,
    /// A task's closure is claimed by a load of the cell's state and a separate store of
    /// `TAKEN` (check-then-act) instead of one `fetch_or` (`task/cell.rs`, step 1), so a
    /// worker and a canceller can both take it.
    pub claim_check_then_act: bool,
    /// A bounded queue's consumer frees its slots without the SeqCst fence before it reads
    /// `waiters` (`lane/bound.rs`, `release`), so a submitter blocking meanwhile is missed.
    pub release_without_fence: bool,
    /// A resize (`set_active_workers`) or shutdown notifies the pause gate without holding
    /// its lock (`sched/control.rs`, `set_active` and `release_all`), so a paused worker
    /// between its check and its wait misses the resume.
    pub gate_notify_outside_lock: bool,
    /// A cancel-token prune does not count itself in `pruning` (`task/cancel.rs`, prune), so a
    /// `cancel` returns while the prune still holds bound tasks it has not cancelled.
    pub prune_uncounted: bool,
    /// A scope task's completion decrements `pending` by a load and a store instead of one
    /// RMW (`scope.rs`, step 2), so two finishing together can both miss the zero.
    pub scope_count_check_then_act: bool,
    /// A helping `JoinHandle::join`'s waker sets its flag without the SeqCst fence before its
    /// wake scan (`sched/latch.rs`, `FlagWaker`), so the joining worker can sleep through it.
    pub flag_wake_without_fence: bool,
    /// A ready-list producer compares the count from before its push with the consumer's
    /// `wake_at` (`stream/ready.rs`, producer step 4), so the push that completes a wait
    /// never wakes the consumer.
    pub ready_wake_on_stale_count: bool,
    /// A worker asleep inside a helping wait does not count itself as holding
    /// (`sched/sleep.rs`, step 1), so the last other worker to sleep can terminate the pool
    /// under it.
    pub sleep_without_hold: bool,
    /// A join that takes back a promoted half leaves the private stack's `head` where it was
    /// (`sched/heartbeat.rs`, step 4), so the next join at that depth takes its private half
    /// for a promoted one and waits for a latch nobody sets.
    pub take_back_keeps_head: bool,
}

/// In the real build no bug can be seeded: every switch below is `const false`.
#[cfg(not(any(corepool_loom, corepool_shuttle)))]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SeededBugs {
    _none: (),
}

/// The switches, read by the protocol code; always false in the real build.
impl SeededBugs {
    #[inline(always)]
    pub(crate) const fn skip_final_recheck(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.skip_final_recheck;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn latch_set_without_fence(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.latch_set_without_fence;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn wake_before_publish(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.wake_before_publish;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn ready_wait_without_fence(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.ready_wait_without_fence;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn ready_wake_on_stale_count(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.ready_wake_on_stale_count;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn sleep_without_hold(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.sleep_without_hold;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn lane_start_without_hand_on(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.lane_start_without_hand_on;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn claim_check_then_act(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.claim_check_then_act;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn release_without_fence(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.release_without_fence;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn gate_notify_outside_lock(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.gate_notify_outside_lock;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn prune_uncounted(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.prune_uncounted;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn scope_count_check_then_act(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.scope_count_check_then_act;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn flag_wake_without_fence(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.flag_wake_without_fence;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }

    #[inline(always)]
    pub(crate) const fn take_back_keeps_head(&self) -> bool {
        #[cfg(any(corepool_loom, corepool_shuttle))]
        return self.take_back_keeps_head;
        #[cfg(not(any(corepool_loom, corepool_shuttle)))]
        false
    }
}

#[cfg(any(corepool_loom, corepool_shuttle))]
super::thread_local! {
    /// The bugs seeded in the pool whose worker runs on this (model) thread.
    static ON_THIS_THREAD: std::cell::Cell<SeededBugs> = std::cell::Cell::new(SeededBugs::default());
}

/// The bugs seeded in the pool of the worker running on this thread (none in the real build, or
/// off a worker): for protocol code that knows no pool, such as a submit cell completing.
#[inline(always)]
pub(crate) fn on_this_thread() -> SeededBugs {
    #[cfg(any(corepool_loom, corepool_shuttle))]
    return ON_THIS_THREAD.with(|b| b.get());
    #[cfg(not(any(corepool_loom, corepool_shuttle)))]
    SeededBugs::default()
}

/// A worker starts (`bugs` of its pool) or stops (`SeededBugs::default()`) running on this
/// thread; a no-op in the real build.
#[inline(always)]
pub(crate) fn set_on_this_thread(bugs: SeededBugs) {
    #[cfg(any(corepool_loom, corepool_shuttle))]
    ON_THIS_THREAD.with(|b| b.set(bugs));
    #[cfg(not(any(corepool_loom, corepool_shuttle)))]
    let _ = bugs;
}
