//! Heartbeat joins: a join's half is private to its worker until a knock makes the worker
//! promote its oldest private half onto its deque; a half promoted while its owner goes on to
//! take it back runs exactly once, and the owner always gets its result — whether the thief
//! stole it, or the owner popped it back first. And the private stack is balanced after a
//! promoted half came back, so the next join's private half is run inline, not waited for.
//!
//! The owner runs the real `corepool::join` as worker 0 of a thread-less registry
//! (`__loom::Workers`): a nested join, whose inner push finds the knock and promotes the
//! outer join's half (the oldest), then a second join at the same depth. The thief knocks
//! first, then a second model thread steals once. Loom explores every point at which the
//! steal can land: before the promotion, while the owner takes the promoted half back from
//! its deque, and while it waits for the thief's latch.
#![cfg(corepool_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{check, Bound};
use corepool::__loom::{SeededBugs, Workers};
use loom::thread;

mod common;

/// Two threads are cheap enough to explore every interleaving.
const BOUND: Bound = Bound::Exhaustive;

fn promoted_while_taken_back(bugs: SeededBugs) {
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let workers = Workers::new(1, bugs);
    let owner = workers.worker(0);
    let thief = workers.thief();
    // The knock lands before the owner's first join, so that join promotes: when a knock
    // lands is a Relaxed hint's timing, not part of the protocol checked here.
    thief.knock(0);
    let thief = thread::spawn(move || thief.steal_and_run(0));
    let counted = |v: u32| {
        // ORDERING: Relaxed: a count, read after both threads are joined.
        runs.fetch_add(1, Ordering::Relaxed);
        v
    };
    let (outer, second) = owner.enter(|| {
        let outer = corepool::join(
            || corepool::join(|| counted(1), || counted(2)),
            || counted(3),
        );
        let second = corepool::join(|| counted(4), || counted(5));
        (outer, second)
    });
    assert_eq!((outer, second), (((1, 2), 3), (4, 5)));
    thief.join().unwrap();
    // ORDERING: Relaxed: the join above ordered every increment before this load.
    assert_eq!(
        runs.load(Ordering::Relaxed),
        5,
        "each half runs exactly once"
    );
}

#[test]
fn promoted_half_runs_once_and_its_owner_sees_it() {
    check(BOUND, || promoted_while_taken_back(SeededBugs::default()));
}

/// Negative control: an owner that takes back its promoted half without lowering `head`
/// takes the next join's private half for a promoted one, finds nothing on its deque, and
/// waits for a latch nobody will set: a reported deadlock.
#[test]
#[should_panic]
fn take_back_that_keeps_head_waits_forever() {
    check(BOUND, || {
        promoted_while_taken_back(SeededBugs {
            take_back_keeps_head: true,
            ..SeededBugs::default()
        })
    });
}
