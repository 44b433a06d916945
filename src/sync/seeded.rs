//! Negative controls: bugs a loom model seeds on purpose, so a model that cannot fail is
//! caught. Each switch sits at its bug's site in the protocol code; outside loom they are
//! `const false` and the real paths compile as if they were not there.

/// Bugs a loom model can seed on purpose (negative controls), set per pool through
/// `Builder::seed_bugs` (or `__loom::Workers::new`), which exist only under `cfg(corepool_loom)`.
/// Outside loom this is a field-less type whose switches are `const false`, so the real code
/// paths compile exactly as if the switches were not there.
#[cfg(corepool_loom)]
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
    /// A join that takes back a promoted half leaves the private stack's `head` where it was
    /// (`sched/heartbeat.rs`, step 4), so the next join at that depth takes its private half
    /// for a promoted one and waits for a latch nobody sets.
    pub take_back_keeps_head: bool,
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
    pub(crate) const fn ready_wait_without_fence(&self) -> bool {
        #[cfg(corepool_loom)]
        return self.ready_wait_without_fence;
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

    #[inline(always)]
    pub(crate) const fn take_back_keeps_head(&self) -> bool {
        #[cfg(corepool_loom)]
        return self.take_back_keeps_head;
        #[cfg(not(corepool_loom))]
        false
    }
}

#[cfg(corepool_loom)]
loom::thread_local! {
    /// The bugs seeded in the pool whose worker runs on this (model) thread.
    static ON_THIS_THREAD: std::cell::Cell<SeededBugs> = std::cell::Cell::new(SeededBugs::default());
}

/// The bugs seeded in the pool of the worker running on this thread (none outside loom, or
/// off a worker): for protocol code that knows no pool, such as a submit cell completing.
#[inline(always)]
pub(crate) fn on_this_thread() -> SeededBugs {
    #[cfg(corepool_loom)]
    return ON_THIS_THREAD.with(|b| b.get());
    #[cfg(not(corepool_loom))]
    SeededBugs::default()
}

/// A worker starts (`bugs` of its pool) or stops (`SeededBugs::default()`) running on this
/// thread; a no-op outside loom.
#[inline(always)]
pub(crate) fn set_on_this_thread(bugs: SeededBugs) {
    #[cfg(corepool_loom)]
    ON_THIS_THREAD.with(|b| b.set(bugs));
    #[cfg(not(corepool_loom))]
    let _ = bugs;
}
