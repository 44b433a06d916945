//! Shutdown racing late work: an outside submit from another thread, and a task that spawns
//! a task. Work accepted before shutdown runs (a task's own spawns included); a submit that
//! races shutdown is either run or handed back as `TaskError::Rejected` — never stranded;
//! every thread exits.
//!
//! `shutdown_now` racing a task's start and its handle's `cancel`: the worker may run it,
//! the handle may cancel it, or the worker, now cancelling, may discard it; exactly one of
//! them takes it (the cell's `TAKEN` claim), and ran + cancelled = accepted.
#![cfg(corepool_loom)]

use common::{check, pool, pool_with, Bound, Leaky};
use corepool::__loom::SeededBugs;
use corepool::TaskError;
use loom::thread;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod common;

/// Three threads (main, the late submitter, one worker): the suite's two preemptions take a
/// second; three took 23 s.
const BOUND: Bound = Bound::Env;

#[test]
fn late_work_runs_or_is_handed_back() {
    check(BOUND, || {
        let pool = pool(1);
        // std atomics: records only (see handoff.rs).
        let parent_and_child = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&parent_and_child);
        pool.spawn(move || {
            // ORDERING: SeqCst: a check only.
            count.fetch_add(1, Ordering::SeqCst);
            corepool::spawn(move || {
                // ORDERING: SeqCst: a check only.
                count.fetch_add(1, Ordering::SeqCst);
            });
        });
        let late = {
            let pool = pool.clone();
            thread::spawn(move || pool.submit(|| 7).join())
        };
        pool.shutdown();
        match late.join().unwrap() {
            Ok(value) => assert_eq!(value, 7),
            Err(TaskError::Rejected) => {}
            Err(e) => panic!("late submit: {e}"),
        }
        // ORDERING: SeqCst: a check only; shutdown joined the worker.
        assert_eq!(parent_and_child.load(Ordering::SeqCst), 2);
    });
}

/// One worker, a submitted task, a thread cancelling its handle, and `shutdown_now` from the
/// main thread. The handle's `cancel` says true exactly when the task was cancelled by it;
/// the result says ran or cancelled; the pool's counts add up to what it accepted.
fn shutdown_now_racing_start_and_cancel(bugs: SeededBugs) {
    let pool = pool_with(1, bugs);
    let handle = Leaky::new(pool.submit(|| 7));
    let canceller = thread::spawn(move || {
        let by_handle = handle.cancel();
        (by_handle, handle.into_inner().join())
    });
    let report = pool.shutdown_now();
    let (by_handle, result) = canceller.join().unwrap();
    match result {
        Ok(value) => assert!(value == 7 && !by_handle, "ran, yet cancel said {by_handle}"),
        Err(TaskError::Cancelled) => {}
        Err(e) => panic!("shutdown_now: {e}"),
    }
    assert_eq!(report.submitted, 1);
    assert_eq!(report.ran() + report.cancelled, report.submitted);
    let m = pool.metrics();
    assert_eq!(
        (m.completed, m.cancelled),
        (report.completed, report.cancelled)
    );
}

#[test]
fn shutdown_now_races_start_and_cancel() {
    check(BOUND, || {
        shutdown_now_racing_start_and_cancel(SeededBugs::default())
    });
}

/// Negative control: a worker that claims a task by a load and a later store (not one
/// `fetch_or(TAKEN)`) can take it while the handle's cancel takes it too; both then own the
/// closure slot (a race loom reports, or the cell's own assert).
#[test]
#[should_panic]
fn shutdown_now_with_a_split_claim_takes_a_task_twice() {
    check(BOUND, || {
        shutdown_now_racing_start_and_cancel(SeededBugs {
            claim_check_then_act: true,
            ..SeededBugs::default()
        })
    });
}
