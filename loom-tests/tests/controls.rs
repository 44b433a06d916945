//! Production controls: cancellation racing a worker that picks the task up; the pause gate
//! (`set_active_workers`) racing a push, a resume and shutdown; and the blocking lane's
//! handoff to a lazily started thread, its chain of starts, and its close.
//!
//! Each model ends in shutdown + join, so a stranded task or thread fails it. The cancel
//! model's seeded twin makes the cell's `TAKEN` claim a load followed by a store
//! (check-then-act). Checked by hand: dropping the fence after a new lane thread clears `starting` (with
//! the clear made a plain release) makes the chain model fail at once.
#![cfg(corepool_loom)]

use common::{check, Bound, Leaky};
use corepool::__loom::{set_active_workers_unclamped, SeededBugs};
use corepool::{Pool, Sizing, TaskError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod common;

/// `JoinHandle::cancel` racing the only worker starting the task: the task runs xor is
/// cancelled, the handle reports which, and the counters agree.
fn cancel_racing_the_start(bugs: SeededBugs) {
    let pool = common::pool_with(1, bugs);
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
}

#[test]
fn cancel_racing_the_start_runs_xor_cancels() {
    check(
        Bound::Env,
        || cancel_racing_the_start(SeededBugs::default()),
    );
}

/// Negative control: a worker that claims the task by a load and a later store (not one
/// `fetch_or(TAKEN)`) can start it after the cancel took it: both own the closure slot.
#[test]
#[should_panic]
fn cancel_racing_a_split_claim_runs_and_cancels() {
    check(Bound::Env, || {
        cancel_racing_the_start(SeededBugs {
            claim_check_then_act: true,
            ..SeededBugs::default()
        })
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

/// Two blocking tasks on a lane of two threads, the first waiting until the second has run:
/// the second needs a thread of its own even when it is pushed while the first one's thread is
/// still being started, and its producer therefore starts none (`blocking.rs`, `starting` and
/// step 0). Ends in shutdown, so a stranded task or thread fails it.
fn lane_rendezvous(bugs: SeededBugs) {
    let pool = Leaky::new(
        Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).blocking_io(2))
            .pin_workers(false)
            .seed_bugs(bugs)
            .build()
            .unwrap(),
    );
    // A std `Arc` around loom's lock and condvar: the rendezvous itself is what loom must
    // see; as a loom `Arc`, each clone and drop was one more scheduling point on the lane
    // threads' paths, multiplying the interleavings for nothing.
    let met = Leaky::new(Arc::new((
        loom::sync::Mutex::new(false),
        loom::sync::Condvar::new(),
    )));
    let waits = met.clone();
    let first = Leaky::new(pool.spawn_blocking(move || {
        let (lock, cvar) = &**waits;
        let mut met = lock.lock().unwrap();
        while !*met {
            met = cvar.wait(met).unwrap();
        }
    }));
    let meets = met.clone();
    let second = Leaky::new(pool.spawn_blocking(move || {
        let (lock, cvar) = &**meets;
        *lock.lock().unwrap() = true;
        cvar.notify_one();
    }));
    first.into_inner().join().unwrap();
    second.into_inner().join().unwrap();
    pool.shutdown();
    assert_eq!(pool.metrics().blocking.completed, 2);
}

#[test]
fn blocking_lane_chain_start_gives_each_task_a_thread() {
    check(Bound::Env, || lane_rendezvous(SeededBugs::default()));
}

/// Negative control: a started thread that never looks at the queue behind it leaves the
/// second task without a thread, and the first waits for it forever.
#[test]
#[should_panic]
fn blocking_lane_start_without_hand_on_strands_a_task() {
    check(Bound::Env, || {
        lane_rendezvous(SeededBugs {
            lane_start_without_hand_on: true,
            ..SeededBugs::default()
        })
    });
}

/// The pause gate (`control.rs`): the main thread pauses the pool's only worker (the public
/// API keeps one running; the gate is per worker, so this is worker 1 of two with one model
/// thread fewer), pushes a task while the worker may be on its way into the gate, then
/// resumes the worker and joins the task, or shuts the pool down (which releases the worker
/// and runs what was accepted) and then joins it. A resume or release that the worker misses
/// leaves it waiting at the gate: a reported deadlock.
fn pause_push_then(resume: bool, bugs: SeededBugs) {
    let pool = common::pool_with(1, bugs);
    set_active_workers_unclamped(&pool, 0);
    let handle = Leaky::new(pool.submit(|| 5));
    if resume {
        assert_eq!(set_active_workers_unclamped(&pool, 1), 1);
        assert_eq!(handle.into_inner().join().unwrap(), 5);
        pool.shutdown();
    } else {
        pool.shutdown();
        assert_eq!(handle.into_inner().join().unwrap(), 5);
    }
    assert_eq!(pool.metrics().completed, 1);
}

/// Two threads (main and the worker), at the suite's bound: three preemptions are 35k
/// interleavings for the resume (14 s on a shared 2-core machine); two already catch both
/// seeded twins.
const GATE: Bound = Bound::Env;

fn gate_notify_outside_lock() -> SeededBugs {
    SeededBugs {
        gate_notify_outside_lock: true,
        ..SeededBugs::default()
    }
}

#[test]
fn a_paused_worker_resumes_for_a_task_pushed_meanwhile() {
    check(GATE, || pause_push_then(true, SeededBugs::default()));
}

#[test]
fn shutdown_releases_a_paused_worker_and_runs_its_task() {
    check(GATE, || pause_push_then(false, SeededBugs::default()));
}

/// Negative control: a resize that changes `active` and notifies without the gate lock can
/// slip between the worker's check and its wait.
#[test]
#[should_panic]
fn a_resume_outside_the_gate_lock_is_missed() {
    check(GATE, || pause_push_then(true, gate_notify_outside_lock()));
}

/// Negative control: the same for shutdown's release of the gate.
#[test]
#[should_panic]
fn a_shutdown_release_outside_the_gate_lock_is_missed() {
    check(GATE, || pause_push_then(false, gate_notify_outside_lock()));
}
