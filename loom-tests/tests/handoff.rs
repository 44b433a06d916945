//! Handoff: an outside thread injects tasks while two workers run the real find-work order
//! (own deque, injector batch, then stealing from the neighbour as a searcher) — every task
//! runs exactly once, and shutdown runs everything accepted before it returns.
//!
//! Each task flips its own flag and fails the model if the flag was already set; after
//! shutdown every flag must be set. A task stranded in a queue is caught twice over: its flag
//! stays clear, and shutdown cannot finish (a loom deadlock). Lost wakeups are
//! `sleep_wake.rs`'s business: here shutdown wakes every worker, which would hide one.
#![cfg(corepool_loom)]

use common::{check, pool, Bound};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod common;

/// Three tasks, so the first worker to reach the injector takes one and moves another to its
/// own deque (a batch of half), leaving the other worker something to steal. At the suite's
/// two preemptions: about 126k interleavings, 25 s; three ran for over ten minutes.
const BOUND: Bound = Bound::Env;

#[test]
fn injected_tasks_run_exactly_once() {
    check(BOUND, || {
        let pool = pool(2);
        // std atomics on purpose: they only record what ran, and as loom atomics every
        // access would be a scheduling point that multiplies the interleavings.
        let ran: Arc<[AtomicBool; 3]> = Arc::new(Default::default());
        for i in 0..3 {
            let ran = Arc::clone(&ran);
            pool.spawn(move || {
                // ORDERING: SeqCst: a check only (the model runs one thread at a time).
                assert!(!ran[i].swap(true, Ordering::SeqCst), "task {i} ran twice");
            });
        }
        pool.shutdown();
        for (i, flag) in ran.iter().enumerate() {
            // ORDERING: SeqCst: as above; shutdown joined every worker.
            assert!(flag.load(Ordering::SeqCst), "task {i} never ran");
        }
        assert_eq!(pool.metrics().executed(), 3);
    });
}
