//! Sleep/wake: a submission racing workers on their way to sleep is never lost.
//!
//! A lost wakeup leaves the submitter blocked in `join` and every worker parked: loom reports
//! that as a deadlock, so these models fail instead of hanging.
#![cfg(loom)]

use corepool::__loom::SeededBugs;
use corepool::{Pool, Sizing};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;

fn pool_with(workers: usize, bugs: SeededBugs) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(workers))
        .pin_workers(false)
        .seed_bugs(bugs)
        .build()
        .unwrap()
}

fn pool(workers: usize) -> Pool {
    pool_with(workers, SeededBugs::default())
}

/// One worker racing toward sleep while the main thread submits and waits.
fn submit_while_worker_goes_to_sleep(bugs: SeededBugs) {
    let pool = pool_with(1, bugs);
    let handle = pool.submit(|| 7);
    assert_eq!(handle.join().unwrap(), 7);
    pool.shutdown();
}

#[test]
fn one_worker_no_lost_wakeup() {
    loom::model(|| submit_while_worker_goes_to_sleep(SeededBugs::default()));
}

/// Negative control: without the final recheck before parking, the model must find the
/// interleaving where the submitter sees a searcher, the searcher gives up and parks, and the
/// task is stranded (a deadlock).
#[test]
#[should_panic]
fn one_worker_without_final_recheck_loses_the_wakeup() {
    loom::model(|| {
        submit_while_worker_goes_to_sleep(SeededBugs {
            skip_final_recheck: true,
        })
    });
}

/// Two workers, one task from outside: whichever worker wakes or is searching runs it exactly
/// once, and the other's sleep, wake and exit interleave with it. The task's loom `Arc` is
/// checked for leaks, so a task stranded in a queue fails the model too.
#[test]
fn two_workers_one_task_runs_once() {
    // Three threads with a full start and shutdown each: at two preemptions this model runs
    // for far longer than the suite's budget, so it explores every interleaving with at most
    // one preemption (the one-worker models above keep two).
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let pool = pool(2);
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let handle = pool.submit(move || r.fetch_add(1, Ordering::Relaxed));
        handle.join().unwrap();
        pool.shutdown();
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    });
}
