//! Admission to a bounded queue (`lane/bound.rs`): a submitter blocked on a full injector or
//! a full blocking-lane queue is woken by the consumer that makes room, or by shutdown, and
//! never sleeps through either.
//!
//! The waiter counts itself in `waiters`, fences, and retries; the consumer frees its slot,
//! fences, and wakes the waiters it sees. A missed wakeup leaves the submitter blocked with
//! the worker (or lane thread) asleep: a reported deadlock. Shutdown sets `SHUTDOWN` before it
//! wakes the waiters, which read it under the lock: a late submitter is run or rejected.
#![cfg(corepool_loom)]

use common::{check, Bound, Leaky};
use corepool::__loom::SeededBugs;
use corepool::{Pool, Sizing, TaskError};
use loom::sync::{Condvar, Mutex};
use loom::thread;
use std::sync::Arc;
use std::time::Duration;

mod common;

/// One CPU worker, an injector of one slot, and a blocking lane of `lane_threads` threads
/// and one queued task at most.
fn bounded_pool(lane_threads: usize, bugs: SeededBugs) -> Leaky<Pool> {
    Leaky::new(
        Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).blocking_io(lane_threads))
            .pin_workers(false)
            .queue_capacity(1)
            .blocking_queue_capacity(1)
            .seed_bugs(bugs)
            .build()
            .unwrap(),
    )
}

/// The main thread submits two tasks into an injector of one slot: the second waits until
/// the worker has taken the first out.
fn injector_full_until_the_worker_takes(bugs: SeededBugs) {
    let pool = bounded_pool(0, bugs);
    let first = Leaky::new(pool.submit(|| 1));
    let second = Leaky::new(pool.submit(|| 2));
    assert_eq!(first.into_inner().join().unwrap(), 1);
    assert_eq!(second.into_inner().join().unwrap(), 2);
    pool.shutdown();
    assert_eq!(pool.metrics().completed, 2);
}

/// Two threads (the submitter and the worker), at the suite's bound: three preemptions are
/// 68k interleavings (40 s on a shared 2-core machine); two already catch the seeded twin.
const CONSUMER: Bound = Bound::Env;

#[test]
fn a_submitter_blocked_on_a_full_injector_is_woken_by_the_worker() {
    check(CONSUMER, || {
        injector_full_until_the_worker_takes(SeededBugs::default())
    });
}

/// Negative control: a consumer that frees its slot without the fence before it reads
/// `waiters` can miss the submitter that counted itself meanwhile, whose retry in turn read
/// the queue still full: it waits for ever.
#[test]
#[should_panic]
fn a_release_without_fence_strands_the_blocked_submitter() {
    check(CONSUMER, || {
        injector_full_until_the_worker_takes(SeededBugs {
            release_without_fence: true,
            ..SeededBugs::default()
        })
    });
}

/// The same through the blocking lane's queue: one lane thread, one queued task at most.
fn lane_full_until_its_thread_takes(bugs: SeededBugs) {
    let pool = bounded_pool(1, bugs);
    let first = Leaky::new(pool.spawn_blocking(|| 1));
    let second = Leaky::new(pool.spawn_blocking(|| 2));
    assert_eq!(first.into_inner().join().unwrap(), 1);
    assert_eq!(second.into_inner().join().unwrap(), 2);
    pool.shutdown();
    assert_eq!(pool.metrics().blocking.completed, 2);
}

#[test]
fn a_submitter_blocked_on_a_full_lane_is_woken_by_its_thread() {
    check(Bound::Env, || {
        lane_full_until_its_thread_takes(SeededBugs::default())
    });
}

/// Negative control: the lane's consumer with the same missing fence.
#[test]
#[should_panic]
fn a_lane_release_without_fence_strands_the_blocked_submitter() {
    check(Bound::Env, || {
        lane_full_until_its_thread_takes(SeededBugs {
            release_without_fence: true,
            ..SeededBugs::default()
        })
    });
}

/// A gate the main thread opens: the task holding the worker waits at it. Loom's lock and
/// condvar in a std `Arc`, whose clones and drops are no scheduling points.
type Gate = Arc<(Mutex<bool>, Condvar)>;

fn wait_at(gate: &Gate) {
    let (open, cvar) = &**gate;
    let mut open = open.lock().unwrap();
    while !*open {
        open = cvar.wait(open).unwrap();
    }
}

fn open(gate: &Gate) {
    let (open, cvar) = &**gate;
    *open.lock().unwrap() = true;
    cvar.notify_all();
}

/// The worker is held by a task, a second task fills the injector, and a third submitter
/// (another thread) blocks for room while the main thread starts the shutdown: the blocked
/// submitter is woken and rejected — or, if the worker made room first, admitted and run.
/// Then the gate opens and the shutdown completes.
#[test]
fn a_submitter_blocked_on_a_full_injector_is_woken_by_shutdown() {
    check(Bound::Env, || {
        let pool = bounded_pool(0, SeededBugs::default());
        let gate: Leaky<Gate> = Leaky::new(Arc::new((Mutex::new(false), Condvar::new())));
        let held = gate.clone();
        pool.spawn(move || wait_at(&held));
        pool.spawn(|| ());
        let late = {
            let pool = pool.clone();
            thread::spawn(move || pool.submit(|| 3).join())
        };
        // Starts the shutdown without waiting for it (no deadline passes under loom, and a
        // zero one has passed at once).
        assert!(pool.shutdown_timeout(Duration::ZERO).is_err());
        open(&gate);
        pool.shutdown();
        match late.join().unwrap() {
            Ok(value) => assert_eq!(value, 3),
            Err(TaskError::Rejected) => {}
            Err(e) => panic!("late submit: {e}"),
        }
        let m = pool.metrics();
        assert_eq!(m.completed, m.submitted);
    });
}
