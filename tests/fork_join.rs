//! join, scope and helping waits: results, borrowing, panics, no deadlock on one worker,
//! deep recursion.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use corepool::{Pool, Sizing};

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(workers).oversubscribe(true))
        .build()
        .unwrap()
}

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = corepool::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

#[test]
fn join_computes_fib_32_without_a_cutoff() {
    let pool = pool(2);
    assert_eq!(pool.install(|| fib(32)), 2_178_309);
    let one = self::pool(1);
    assert_eq!(one.install(|| fib(25)), 75_025);
}

#[test]
fn join_halves_borrow_mutably_from_the_caller() {
    let pool = pool(2);
    let mut data: Vec<u64> = (0..10_000).collect();
    pool.install(|| {
        let (left, right) = data.split_at_mut(5_000);
        corepool::join(
            || left.iter_mut().for_each(|x| *x *= 2),
            || right.iter_mut().for_each(|x| *x += 1),
        );
    });
    assert_eq!(data[4_999], 9_998);
    assert_eq!(data[5_000], 5_001);
    let (l, r) = pool.join(|| data[..10].iter().sum::<u64>(), || data.len());
    assert_eq!((l, r), (90, 10_000));
}

#[test]
fn join_waits_for_both_halves_then_resumes_the_first_panic() {
    let pool = pool(2);
    for _ in 0..50 {
        let b_done = AtomicBool::new(false);
        let err = catch_unwind(AssertUnwindSafe(|| {
            pool.join(
                || panic!("left"),
                || {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                    b_done.store(true, Ordering::SeqCst);
                },
            )
        }))
        .unwrap_err();
        assert_eq!(corepool::panic_message(&*err), "left");
        assert!(
            b_done.load(Ordering::SeqCst),
            "b finished before the panic resumed"
        );

        let err = catch_unwind(AssertUnwindSafe(|| {
            pool.join(|| 1, || -> u8 { panic!("right") })
        }))
        .unwrap_err();
        assert_eq!(corepool::panic_message(&*err), "right");
        let err = catch_unwind(AssertUnwindSafe(|| {
            pool.join(|| -> u8 { panic!("first") }, || -> u8 { panic!("second") })
        }))
        .unwrap_err();
        assert_eq!(corepool::panic_message(&*err), "first");
    }
    // The workers survived every panic.
    assert_eq!(pool.install(|| fib(15)), 610);
}

/// Joins nested `depth` deep, the innermost `a` panicking: counts every `b` that ran.
fn nested_with_a_panic_at_the_bottom(depth: usize, ran: &AtomicUsize) {
    if depth == 0 {
        panic!("bottom");
    }
    corepool::join(
        || nested_with_a_panic_at_the_bottom(depth - 1, ran),
        || {
            ran.fetch_add(1, Ordering::SeqCst);
        },
    );
}

#[test]
fn deep_joins_run_both_halves_before_a_panic_resumes() {
    // Past 3 private halves most joins run as plain calls (`sched/heartbeat.rs`, step 0); their
    // halves must still both finish before the panic goes on up, on one worker and on two.
    for workers in [1, 2] {
        let pool = pool(workers);
        for depth in [3, 20, 200] {
            let ran = AtomicUsize::new(0);
            let err = catch_unwind(AssertUnwindSafe(|| {
                pool.install(|| nested_with_a_panic_at_the_bottom(depth, &ran))
            }))
            .unwrap_err();
            assert_eq!(corepool::panic_message(&*err), "bottom");
            assert_eq!(
                ran.load(Ordering::SeqCst),
                depth,
                "every b ran (depth {depth})"
            );
        }
    }
}

#[test]
fn join_runs_what_a_left_on_its_deque_before_taking_b_back() {
    // One worker: nobody steals, so the tasks `a` spawns sit above `b` and are popped first.
    let pool = pool(1);
    let spawned = Arc::new(AtomicUsize::new(0));
    let (a, b) = pool.install(|| {
        corepool::join(
            || {
                for _ in 0..3 {
                    let spawned = spawned.clone();
                    corepool::spawn(move || {
                        spawned.fetch_add(1, Ordering::SeqCst);
                    });
                }
                "a"
            },
            || spawned.load(Ordering::SeqCst),
        )
    });
    assert_eq!((a, b), ("a", 3), "b ran after the tasks left above it");

    // The same with a panicking `a`: everything still runs before the panic resumes.
    let b_ran = AtomicBool::new(false);
    let err = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| {
            corepool::join(
                || {
                    let spawned = spawned.clone();
                    corepool::spawn(move || {
                        spawned.fetch_add(1, Ordering::SeqCst);
                    });
                    panic!("a fails")
                },
                || b_ran.store(true, Ordering::SeqCst),
            )
        })
    }))
    .unwrap_err();
    assert_eq!(corepool::panic_message(&*err), "a fails");
    assert!(b_ran.load(Ordering::SeqCst));
    assert_eq!(spawned.load(Ordering::SeqCst), 4);
}

#[test]
fn a_stolen_b_with_tasks_left_above_it_still_completes_everything() {
    // Two workers. Once the other worker has stolen `b`, `a` spawns tasks (they sit above
    // where `b` was) and waits for `b` to finish, so `join` finds a task on top and `b`
    // already done. Every task must still run exactly once.
    let pool = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let wait_for = |flag: &AtomicBool| {
        let start = std::time::Instant::now();
        while !flag.load(Ordering::SeqCst) {
            if start.elapsed() > std::time::Duration::from_millis(100) {
                return false; // not stolen this round: b runs after a, here
            }
            // A join point: where a knock from the idle worker gets b promoted.
            corepool::join(|| (), || ());
            std::hint::spin_loop();
        }
        true
    };
    for round in 0..50 {
        let (b_started, b_done) = (AtomicBool::new(false), AtomicBool::new(false));
        let (a, b) = pool.install(|| {
            corepool::join(
                || {
                    if wait_for(&b_started) {
                        for _ in 0..8 {
                            let ran = ran.clone();
                            corepool::spawn(move || {
                                ran.fetch_add(1, Ordering::SeqCst);
                            });
                        }
                        wait_for(&b_done);
                    }
                    round
                },
                || {
                    b_started.store(true, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_micros(200));
                    b_done.store(true, Ordering::SeqCst);
                    round * 2
                },
            )
        });
        assert_eq!((a, b), (round, round * 2));
    }
    pool.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst) % 8, 0);
}

#[test]
fn scope_borrows_waits_for_nested_tasks_and_returns_the_body_value() {
    let pool = pool(2);
    let count = AtomicUsize::new(0);
    let mut slots = vec![0usize; 64];
    let answer = pool.scope(|s| {
        for (i, slot) in slots.iter_mut().enumerate() {
            let count = &count;
            s.spawn(move |s| {
                *slot = i;
                s.spawn(move |_| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
            });
        }
        42
    });
    assert_eq!(answer, 42);
    assert_eq!(count.load(Ordering::Relaxed), 64);
    assert!(slots.iter().enumerate().all(|(i, &v)| i == v));
}

#[test]
fn a_panic_in_a_scope_task_is_resumed_after_every_task_finished() {
    let pool = pool(2);
    let finished = AtomicUsize::new(0);
    let err = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|_| panic!("scoped task failed"));
            for _ in 0..20 {
                s.spawn(|_| {
                    std::thread::sleep(std::time::Duration::from_micros(100));
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    }))
    .unwrap_err();
    assert_eq!(corepool::panic_message(&*err), "scoped task failed");
    assert_eq!(finished.load(Ordering::SeqCst), 20);
    // A panicking body is resumed too, after its tasks.
    let err = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|_| {
                finished.fetch_add(1, Ordering::SeqCst);
            });
            panic!("body failed")
        })
    }))
    .unwrap_err();
    assert_eq!(corepool::panic_message(&*err), "body failed");
    assert_eq!(finished.load(Ordering::SeqCst), 21);
}

#[test]
fn a_task_waiting_for_its_own_child_on_one_worker_does_not_deadlock() {
    let pool = pool(1);
    let p = pool.clone();
    let outer = pool.submit(move || {
        let children: Vec<_> = (0..10u64).map(|i| p.submit(move || i * 2)).collect();
        children.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(outer.join().unwrap(), 90);
    // Nested join and scope on the single worker.
    let hits = AtomicUsize::new(0);
    let total = pool.install(|| {
        let (a, b) = corepool::join(
            || {
                corepool::scope(|s| {
                    s.spawn(|_| {
                        hits.fetch_add(1, Ordering::SeqCst);
                    });
                    1
                })
            },
            || fib(10),
        );
        a + b as usize
    });
    assert_eq!(total, 56);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn join_blocking_does_not_run_other_tasks() {
    let pool = pool(2);
    let p = pool.clone();
    let value = pool.install(move || {
        let worker = corepool::current_worker();
        let h = p.submit(corepool::current_worker);
        let other = h.join_blocking().unwrap();
        (worker, other)
    });
    // The child could not have run on the blocked worker.
    assert_ne!(value.0, value.1);
}

#[test]
fn nested_scope_in_join_in_scope() {
    let pool = pool(2);
    let count = AtomicUsize::new(0);
    pool.scope(|s| {
        for _ in 0..8 {
            s.spawn(|_| {
                corepool::join(
                    || {
                        corepool::scope(|inner| {
                            for _ in 0..8 {
                                inner.spawn(|_| {
                                    count.fetch_add(1, Ordering::Relaxed);
                                });
                            }
                        })
                    },
                    || {
                        count.fetch_add(1, Ordering::Relaxed);
                    },
                );
            });
        }
    });
    assert_eq!(count.load(Ordering::Relaxed), 8 * 9);
}

fn chain(left: usize, done: Arc<AtomicUsize>) {
    done.fetch_add(1, Ordering::Relaxed);
    if left > 1 {
        corepool::spawn(move || chain(left - 1, done));
    }
}

#[test]
fn a_ten_thousand_deep_chain_of_spawns_completes() {
    let pool = pool(2);
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    pool.spawn(move || chain(10_000, d));
    pool.shutdown();
    assert_eq!(done.load(Ordering::Relaxed), 10_000);
}

#[test]
fn join_context_reports_an_unstolen_b_as_not_migrated() {
    let pool = pool(1);
    let (a, b) = pool.install(|| corepool::join_context(|c| c.migrated(), |c| c.migrated()));
    assert_eq!((a, b), (false, false), "one worker: b is taken back inline");
}

#[test]
fn join_context_reports_a_stolen_b_as_migrated() {
    let pool = pool(2);
    for _ in 0..20 {
        let b_started = AtomicBool::new(false);
        let (a, (b, b_thread)) = pool.install(|| {
            let home = std::thread::current().id();
            corepool::join_context(
                |c| {
                    // a holds its worker until b has started, so b can only run on the
                    // other worker: it was stolen. b is offered to the idle worker at a's
                    // next join once that worker knocks (a bare spin would keep it private
                    // and wait forever): the empty joins are a's join points.
                    while !b_started.load(Ordering::Acquire) {
                        corepool::join(|| (), || ());
                        std::hint::spin_loop();
                    }
                    (c.migrated(), home)
                },
                |c| {
                    b_started.store(true, Ordering::Release);
                    (c.migrated(), std::thread::current().id())
                },
            )
        });
        assert!(!a.0);
        assert!(b);
        assert_ne!(a.1, b_thread);
    }
}

#[test]
fn join_context_waits_for_both_halves_then_resumes_the_first_panic() {
    let pool = pool(2);
    let b_done = AtomicBool::new(false);
    let err = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| {
            corepool::join_context(
                |_| panic!("a fails"),
                |_| b_done.store(true, Ordering::SeqCst),
            )
        })
    }))
    .unwrap_err();
    assert_eq!(corepool::panic_message(&*err), "a fails");
    assert!(b_done.load(Ordering::SeqCst));
}

/// A chain of joins, each `a` slow on its way down, so the other worker runs dry and knocks
/// again and again: every knocked join registers its half and promotes one, and the private
/// stack (`sched/heartbeat.rs`, 128 slots) fills up, past which joins publish their halves at
/// once (`join.rs`, `join_public`: thousands of times in this test). Every `b` runs once,
/// the results add up, and a panic at the bottom still waits for every `b`.
fn join_chain(depth: usize, ran: &AtomicUsize, panic_at_bottom: bool) -> usize {
    if depth == 0 {
        if panic_at_bottom {
            panic!("bottom");
        }
        return 0;
    }
    let (below, here) = corepool::join(
        || {
            // A little work on the way down, so the other worker, running dry, knocks
            // again and again while the chain grows.
            std::thread::sleep(std::time::Duration::from_micros(20));
            join_chain(depth - 1, ran, panic_at_bottom)
        },
        || {
            ran.fetch_add(1, Ordering::SeqCst);
            depth
        },
    );
    below + here
}

#[test]
fn joins_deeper_than_the_private_stack_publish_their_halves_and_lose_none() {
    let pool = pool(2);
    const DEPTH: usize = 400;
    for _ in 0..20 {
        let ran = AtomicUsize::new(0);
        let sum = pool.install(|| join_chain(DEPTH, &ran, false));
        assert_eq!(sum, DEPTH * (DEPTH + 1) / 2);
        assert_eq!(ran.load(Ordering::SeqCst), DEPTH);
    }
    let ran = AtomicUsize::new(0);
    let err = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| join_chain(DEPTH, &ran, true))
    }))
    .unwrap_err();
    assert_eq!(corepool::panic_message(&*err), "bottom");
    assert_eq!(
        ran.load(Ordering::SeqCst),
        DEPTH,
        "every b ran before the panic resumed"
    );
}
