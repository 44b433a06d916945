//! The ready list (`src/stream/ready.rs`): workers push finished groups of a stream (or
//! tasks of a `JoinSet`) while the one consumer takes them, and sleeps when there are none.
//! No finished group may be missed by a consumer that is going to sleep (a lost wakeup is a
//! loom deadlock), none freed twice or never (the nodes hold a loom `Arc` of the list: a leak
//! fails the model), and a consumer that leaves early (a dropped `JoinSet` or `StreamMap`)
//! races workers still pushing: each node is freed by exactly one side.
//!
//! The consumer is the model's main thread, outside the pool, so it really blocks; the
//! negative controls remove its SeqCst fence between registering its waker and rechecking
//! the list, or make a producer compare the count from before its push with the number of
//! nodes the consumer waits for, and must deadlock. Two models take the list alone
//! (`__loom::LoomReady`): a consumer waiting for a batch of nodes, and an urgent node that
//! ends a wait for more.
#![cfg(corepool_loom)]

use common::{check, pool, pool_with, Bound, Leaky};
use corepool::__loom::{LoomReady, SeededBugs};
use corepool::TaskError;

mod common;

/// Two tasks, one worker, a consumer that waits for both results.
fn two_results(bugs: SeededBugs) {
    let pool = pool_with(1, bugs);
    let mut set = Leaky::new(pool.join_set());
    set.submit(|| String::from("a"));
    set.submit(|| String::from("b"));
    let mut got = [
        set.join_next().unwrap().unwrap(),
        set.join_next().unwrap().unwrap(),
    ];
    got.sort();
    assert_eq!(got, ["a", "b"]);
    assert!(set.join_next().is_none());
    drop(set);
    pool.shutdown();
}

fn ready_wait_without_fence() -> SeededBugs {
    SeededBugs {
        ready_wait_without_fence: true,
        ..SeededBugs::default()
    }
}

#[test]
fn a_waiting_consumer_gets_every_result() {
    check(Bound::Env, || two_results(SeededBugs::default()));
}

/// Negative control: without the consumer's fence, its recheck and the worker's look at
/// `waiting` can both miss, and the consumer sleeps forever.
#[test]
#[should_panic]
fn a_consumer_without_its_fence_can_sleep_forever() {
    check(Bound::Env, || two_results(ready_wait_without_fence()));
}

/// The consumer waits for two nodes at once (a stream waits for a batch of groups, not
/// for each): pushed by two producers, the one whose push completes the count must wake
/// it, whatever the interleaving, and no node may be missed or taken twice.
fn wait_for_two(bugs: SeededBugs) {
    let ready = LoomReady::new(bugs);
    let producers: Vec<_> = (1..=2u32)
        .map(|v| {
            let ready = ready.clone();
            loom::thread::spawn(move || ready.push(v, false))
        })
        .collect();
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(ready.wait(2 - got.len()));
    }
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
    for p in producers {
        p.join().unwrap();
    }
}

#[test]
fn a_consumer_waiting_for_a_batch_is_woken_by_its_last_node() {
    check(Bound::Env, || wait_for_two(SeededBugs::default()));
}

/// Negative control: a producer that compares the count from before its push never wakes
/// for the node that completes the batch, and the consumer sleeps forever.
#[test]
#[should_panic]
fn a_producer_comparing_a_stale_count_can_leave_the_consumer_asleep() {
    check(Bound::Env, || {
        wait_for_two(SeededBugs {
            ready_wake_on_stale_count: true,
            ..SeededBugs::default()
        })
    });
}

/// An urgent node (a stream's failure) ends a wait for more than will come: the consumer
/// asks for two, the only producer pushes one, urgent.
fn urgent_ends_the_wait(bugs: SeededBugs) {
    let ready = LoomReady::new(bugs);
    let producer = {
        let ready = ready.clone();
        loom::thread::spawn(move || ready.push(7, true))
    };
    assert_eq!(ready.wait(2), [7]);
    producer.join().unwrap();
}

#[test]
fn an_urgent_node_wakes_a_consumer_waiting_for_more() {
    check(Bound::Env, || urgent_ends_the_wait(SeededBugs::default()));
}

/// Negative control: the urgent push and the consumer's look at `urgent` are the same
/// Dekker pair as the count's; without the consumer's fence both can miss.
#[test]
#[should_panic]
fn an_urgent_node_without_the_consumers_fence_can_go_unseen() {
    check(Bound::Env, || {
        urgent_ends_the_wait(ready_wait_without_fence())
    });
}

/// The set is dropped while its tasks may be queued, running or pushing: queued ones are
/// cancelled, the rest free their own nodes once they find the list closed.
#[test]
fn a_dropped_join_set_frees_every_entry_once() {
    check(Bound::Env, || {
        let pool = pool(1);
        let mut set = Leaky::new(pool.join_set());
        set.submit(|| 1u8);
        set.submit(|| 2u8);
        let first = set.join_next().unwrap();
        assert!(matches!(first, Ok(1 | 2)));
        drop(set);
        pool.shutdown();
        let m = pool.metrics();
        assert_eq!(m.completed + m.cancelled, 2);
    });
}

/// `cancel_all` racing the worker's start of the second task: it runs xor reports cancelled.
#[test]
fn cancel_all_races_the_start() {
    check(Bound::Env, || {
        let pool = pool(1);
        let mut set = Leaky::new(pool.join_set());
        set.submit(|| 7u8);
        set.cancel_all();
        let r = set.join_next().unwrap();
        assert!(matches!(r, Ok(7) | Err(TaskError::Cancelled)));
        drop(set);
        pool.shutdown();
        let m = pool.metrics();
        assert_eq!(
            (m.completed, m.cancelled),
            (u64::from(r.is_ok()), u64::from(r.is_err()))
        );
    });
}

/// An ordered stream of two items with a window of two, on one worker: both groups are out
/// at once, come back through the ready list in either order, and leave the reorder buffer
/// in input order.
#[test]
fn an_ordered_stream_through_the_ready_list() {
    check(Bound::Env, || {
        let pool = pool(1);
        let out: Vec<u32> = pool.stream(0..2u32).window(2).map(|x| x * 10).collect();
        assert_eq!(out, [0, 10]);
        pool.shutdown();
    });
}

/// A half-read stream dropped while its other group is queued or running: the drop closes
/// the list and leaves; the group, stopped, frees itself.
#[test]
fn a_dropped_stream_frees_its_groups() {
    check(Bound::Env, || {
        let pool = pool(1);
        let mut it = Leaky::new(pool.stream(0..2u32).window(2).map(|x| x + 1));
        assert_eq!(it.next(), Some(1));
        drop(it);
        pool.shutdown();
    });
}
