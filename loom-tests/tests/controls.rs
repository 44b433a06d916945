//! Production controls under loom: cancellation racing a worker that picks the task up, and
//! the blocking lane's handoff to a lazily started thread and its close.
//!
//! Each model ends in shutdown + join, so a stranded task or thread fails it (loom reports a
//! deadlock, or a leaked loom object).
#![cfg(loom)]

use corepool::{Pool, Sizing, TaskError};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;

/// `JoinHandle::cancel` racing the only worker starting the task: the task runs xor is
/// cancelled, the handle reports which, and the counters agree.
#[test]
fn cancel_racing_the_start_runs_xor_cancels() {
    loom::model(|| {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1))
            .pin_workers(false)
            .build()
            .unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let handle = pool.submit(move || {
            r.fetch_add(1, Ordering::Relaxed);
        });
        let cancelled = handle.cancel();
        let result = handle.join();
        pool.shutdown();
        let ran = runs.load(Ordering::Relaxed);
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
    loom::model(|| {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).blocking_io(1))
            .pin_workers(false)
            .build()
            .unwrap();
        let handle = pool.spawn_blocking(|| 5);
        assert_eq!(handle.join().unwrap(), 5);
        pool.shutdown();
        assert_eq!(pool.metrics().blocking.completed, 1);
    });
}
