//! Sleep/wake: a submission racing workers on their way to sleep is never lost.
//!
//! The main thread submits one task and waits for its result; the workers meanwhile start,
//! find nothing, and go to sleep by the protocol in `sleep.rs` (announce, `Sleepy`, fence,
//! final recheck, park). A lost wakeup leaves the submitter blocked in `join` and every worker
//! parked: loom reports that as a deadlock, so these models fail instead of hanging.
#![cfg(corepool_loom)]

use common::{check, pool, pool_with, Bound};
use corepool::__loom::SeededBugs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod common;

/// Two threads (the submitter and one worker) afford four preemptions (about 11k
/// interleavings, a second).
const ONE_WORKER: Bound = Bound::At(4);

/// One worker racing toward sleep while the main thread submits and waits.
fn submit_while_worker_goes_to_sleep(bugs: SeededBugs) {
    let pool = pool_with(1, bugs);
    let handle = pool.submit(|| 7);
    assert_eq!(handle.join().unwrap(), 7);
    pool.shutdown();
}

#[test]
fn one_worker_no_lost_wakeup() {
    check(ONE_WORKER, || {
        submit_while_worker_goes_to_sleep(SeededBugs::default())
    });
}

/// Negative control: without the final recheck before parking, the model must find the
/// interleaving where the submitter's scan sees no sleeper yet, the worker then parks without
/// looking again, and the task is stranded (a deadlock).
#[test]
#[should_panic]
fn one_worker_without_final_recheck_loses_the_wakeup() {
    check(ONE_WORKER, || {
        submit_while_worker_goes_to_sleep(SeededBugs {
            skip_final_recheck: true,
            ..SeededBugs::default()
        })
    });
}

/// Two workers, one task from outside: whichever worker wakes or is searching runs it exactly
/// once, and the other's sleep, wake and exit interleave with it. This adds the searcher rule
/// (a producer that sees a searcher wakes nobody) and the hand-on by the last searcher. A
/// task stranded in a queue leaves the `join` waiting: a reported deadlock.
///
/// The run count is a std atomic in a std `Arc`, as in `handoff.rs`: it only records, and as
/// loom objects its increment and the closure's drop of its `Arc` were two more scheduling
/// points on the worker's path, which multiplied the interleavings for nothing.
///
/// The suite's bound of two is what catches a missing final recheck here (one does not: the
/// second worker masks it), at about two CPU-minutes — the suite's most expensive model, so
/// its seeded twin lives only in the one-worker form above.
#[test]
fn two_workers_one_task_runs_once() {
    check(Bound::Env, || {
        let pool = pool(2);
        let runs = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&runs);
        // ORDERING: SeqCst: a check only (the model runs one thread at a time).
        let handle = pool.submit(move || r.fetch_add(1, Ordering::SeqCst));
        handle.join().unwrap();
        pool.shutdown();
        // ORDERING: SeqCst: as above; shutdown joined every worker.
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}
