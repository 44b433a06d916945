//! Join latch: when a thief runs the `b` half of a `join`, its result is written before the
//! waiting owner reads it, and the owner sleeps only while the latch is unset — the setter's
//! wake always finds it, so it never sleeps through the end of its own join.
//!
//! The owner runs the real `corepool::join` and helping wait as worker 0 of a thread-less
//! registry (`__loom::Workers`); the thief is a second model thread that steals once from
//! worker 0's deque. Loom explores every point at which that steal can land, including the
//! one where the owner has found its deque empty and is on its way to sleep. The result sits
//! in a loom `UnsafeCell`, so reading it before the thief's write happens-before the read is a
//! reported data race, and a lost wake leaves the owner parked: a reported deadlock.
//!
//! `scope` completion, the same way: worker 0 opens a scope and spawns two tasks into it
//! while the thief may steal one. The body and each task subtract one from `pending`; the
//! one that brings it to zero sets the owner's latch (`scope.rs`, step 2). The tasks write
//! into loom `UnsafeCell`s the owner reads after the scope, so a latch set too early is a
//! reported race, and one never set leaves the owner parked: a reported deadlock.
#![cfg(corepool_loom)]

use common::{check, Bound};
use corepool::__loom::{SeededBugs, Workers};
use loom::cell::UnsafeCell;
use loom::thread;

mod common;

/// Two threads are cheap enough to explore every interleaving (about 4k).
const BOUND: Bound = Bound::Exhaustive;

/// Worker 0 joins `|| 1` with `|| "two"` while a thief may steal the second half.
fn join_with_a_thief(bugs: SeededBugs) {
    let workers = Workers::new(1, bugs);
    let owner = workers.worker(0);
    let thief = workers.thief();
    // A knock first, so the join offers its half on the deque (`heartbeat.rs`).
    thief.knock(0);
    let thief = thread::spawn(move || thief.steal_and_run(0));
    let (a, b) = owner.enter(|| corepool::join(|| 1, || String::from("two")));
    assert_eq!((a, b.as_str()), (1, "two"));
    thief.join().unwrap();
}

#[test]
fn stolen_half_is_seen_and_wakes_its_owner() {
    check(BOUND, || join_with_a_thief(SeededBugs::default()));
}

/// Negative control: without the setter's fence, the owner's recheck can miss `SET` while the
/// setter's scan misses the owner's `Sleepy` (store buffering), and the owner sleeps forever.
#[test]
#[should_panic]
fn latch_set_without_fence_loses_the_wake() {
    check(BOUND, || {
        join_with_a_thief(SeededBugs {
            latch_set_without_fence: true,
            ..SeededBugs::default()
        })
    });
}

/// Negative control: an owner that parks without its final recheck sleeps through a latch set
/// just before it announced itself sleepy.
#[test]
#[should_panic]
fn owner_without_final_recheck_sleeps_through_the_set() {
    check(BOUND, || {
        join_with_a_thief(SeededBugs {
            skip_final_recheck: true,
            ..SeededBugs::default()
        })
    });
}

/// Two result slots the scope's tasks write, one each.
struct Slots([UnsafeCell<usize>; 2]);

// SAFETY: each slot is written by one task only, and read by the owner only after the scope
// has ended; loom's `UnsafeCell` reports any access that is not so ordered.
unsafe impl Sync for Slots {}

/// Worker 0 opens a scope with two tasks while a thief may steal one of them.
fn scope_with_a_thief(bugs: SeededBugs) {
    let workers = Workers::new(1, bugs);
    let owner = workers.worker(0);
    let thief = workers.thief();
    let thief = thread::spawn(move || thief.steal_and_run(0));
    let slots = Slots([UnsafeCell::new(0), UnsafeCell::new(0)]);
    owner.enter(|| {
        corepool::scope(|s| {
            for i in 0..2 {
                let slots = &slots;
                // SAFETY: this task alone writes slot `i` (see `Slots`).
                s.spawn(move |_| slots.0[i].with_mut(|p| unsafe { *p = i + 1 }));
            }
        })
    });
    // SAFETY: the scope has ended: both writes happen-before these reads (see `Slots`).
    let read = slots.0.each_ref().map(|slot| slot.with(|p| unsafe { *p }));
    assert_eq!(read, [1, 2]);
    thief.join().unwrap();
}

/// Two threads, but three tasks' worth of steps: every interleaving is about 110k (25 s);
/// five preemptions are about 4.5k (a second), seven 25k (8 s). The seeded twin fails at
/// three already.
const SCOPE: Bound = Bound::At(5);

#[test]
fn scope_completion_sets_the_owner_latch_once() {
    check(SCOPE, || scope_with_a_thief(SeededBugs::default()));
}

/// Negative control: a task that finishes by a load and a store of `pending` (not one RMW)
/// can lose the body's or the other task's decrement: the count never reaches zero and the
/// owner sleeps for ever.
#[test]
#[should_panic]
fn scope_count_check_then_act_never_sets_the_latch() {
    check(SCOPE, || {
        scope_with_a_thief(SeededBugs {
            scope_count_check_then_act: true,
            ..SeededBugs::default()
        })
    });
}
