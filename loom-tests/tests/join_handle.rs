//! JoinHandle completion: the worker that finishes a submitted task hands its output and the
//! wakeup to the handle — whether the handle blocks (`join` from outside the pool) or is
//! polled as a `Future` — with no lost wakeup and no data race on the output.
//!
//! The output is a `String`, moved through the cell's loom `UnsafeCell`: a read that does not
//! happen-after the write is a reported race. A lost wakeup leaves the handle waiting with
//! the worker asleep: a reported deadlock.
#![cfg(corepool_loom)]

use common::{block_on, check, pool_with, Bound};
use corepool::__loom::SeededBugs;

mod common;

/// Two threads (the handle's and one worker) afford three preemptions (about 2k
/// interleavings each, well under a second).
const BOUND: Bound = Bound::At(3);

fn blocking_join(bugs: SeededBugs) {
    let pool = pool_with(1, bugs);
    let handle = pool.submit(|| String::from("done"));
    assert_eq!(handle.join().unwrap(), "done");
    pool.shutdown();
}

fn awaited(bugs: SeededBugs) {
    let pool = pool_with(1, bugs);
    let handle = pool.submit(|| String::from("done"));
    assert_eq!(block_on(handle).unwrap(), "done");
    pool.shutdown();
}

fn wake_before_publish() -> SeededBugs {
    SeededBugs {
        wake_before_publish: true,
        ..SeededBugs::default()
    }
}

#[test]
fn blocking_join_gets_the_output() {
    check(BOUND, || blocking_join(SeededBugs::default()));
}

#[test]
fn awaited_handle_gets_the_output() {
    check(BOUND, || awaited(SeededBugs::default()));
}

/// Negative control: a completer that wakes the handle before publishing `COMPLETE` (and not
/// after) lets the handle poll too early, wait again, and never be woken.
#[test]
#[should_panic]
fn blocking_join_with_wake_before_publish_hangs() {
    check(BOUND, || blocking_join(wake_before_publish()));
}

/// Negative control: the same bug, seen from a polled `Future`.
#[test]
#[should_panic]
fn awaited_handle_with_wake_before_publish_hangs() {
    check(BOUND, || awaited(wake_before_publish()));
}
