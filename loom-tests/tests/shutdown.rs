//! Shutdown racing late work: an outside submit from another thread, and a task that spawns
//! a task. Work accepted before shutdown runs (a task's own spawns included); a submit that
//! races shutdown is either run or handed back as `TaskError::Rejected` — never stranded;
//! every thread exits.
#![cfg(corepool_loom)]

use common::{check, pool, Bound};
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
