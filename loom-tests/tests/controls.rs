//! Production controls: cancellation racing a worker that picks the task up, and the blocking
//! lane's handoff to a lazily started thread and its close.
//!
//! Each model ends in shutdown + join, so a stranded task or thread fails it. Checked by hand:
//! making the cell's `TAKEN` claim a load followed by a store (check-then-act) makes the cancel
//! model fail at once.
#![cfg(loom)]

use common::{check, Bound, Leaky};
use corepool::{Pool, Sizing, TaskError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod common;

/// `JoinHandle::cancel` racing the only worker starting the task: the task runs xor is
/// cancelled, the handle reports which, and the counters agree.
#[test]
fn cancel_racing_the_start_runs_xor_cancels() {
    check(Bound::Env, || {
        let pool = common::pool(1);
        // std atomics: records only (see handoff.rs).
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let handle = Leaky::new(pool.submit(move || {
            // ORDERING: SeqCst: a check only.
            r.fetch_add(1, Ordering::SeqCst);
        }));
        let cancelled = handle.cancel();
        let result = handle.into_inner().join();
        pool.shutdown();
        // ORDERING: SeqCst: a check only; shutdown joined the worker.
        let ran = runs.load(Ordering::SeqCst);
        assert_eq!(ran, usize::from(!cancelled), "runs xor cancelled");
        assert_eq!(matches!(result, Err(TaskError::Cancelled)), cancelled);
        let m = pool.metrics();
        assert_eq!(
            (m.completed, m.cancelled),
            (ran as u64, u64::from(cancelled))
        );
    });
}

/// A blocking task handed to the lane, which has no thread yet: one is started, runs it, and
/// leaves when the pool shuts down (its keep-alive never times out under loom, so only the
/// close can end it).
#[test]
fn blocking_lane_starts_a_thread_and_closes() {
    check(Bound::Env, || {
        let pool = Leaky::new(
            Pool::builder()
                .sizing(Sizing::cpu_bound().cores(1).blocking_io(1))
                .pin_workers(false)
                .build()
                .unwrap(),
        );
        let handle = Leaky::new(pool.spawn_blocking(|| 5));
        let result = handle.into_inner().join();
        assert_eq!(result.unwrap(), 5);
        pool.shutdown();
        assert_eq!(pool.metrics().blocking.completed, 1);
    });
}
