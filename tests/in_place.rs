//! `in_place_scope` and `Pool::in_place_scope`: the body on the caller's thread, the tasks on
//! the pool; one worker never deadlocks; panics; shutdown racing a scope opened off the pool.

mod common;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{unpinned_pool as pool, watchdog};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn the_body_runs_on_the_caller_and_the_tasks_on_the_global_pool() {
    watchdog("in_place_scope off pool", LIMIT, || {
        let me = std::thread::current().id();
        let not_send = Cell::new(0u32);
        let on_workers = AtomicUsize::new(0);
        let body_thread = corepool::in_place_scope(|s| {
            for _ in 0..50 {
                s.spawn(|s| {
                    if corepool::current_thread_index().is_some() {
                        on_workers.fetch_add(1, Ordering::Relaxed);
                    }
                    s.spawn(|_| {
                        on_workers.fetch_add(1, Ordering::Relaxed);
                    });
                });
            }
            not_send.set(7);
            std::thread::current().id()
        });
        assert_eq!(body_thread, me);
        assert_eq!(not_send.get(), 7);
        assert_eq!(on_workers.load(Ordering::Relaxed), 100);
    });
}

#[test]
fn one_worker_pool_in_place_scope_from_its_own_worker_and_from_outside() {
    watchdog("in_place_scope one worker", LIMIT, || {
        let pool = pool(1);
        let count = AtomicUsize::new(0);
        // From outside: the body never needs the worker.
        pool.in_place_scope(|s| {
            for _ in 0..10 {
                s.spawn(|s| {
                    s.spawn(|_| {
                        count.fetch_add(1, Ordering::Relaxed);
                    });
                });
            }
        });
        assert_eq!(count.load(Ordering::Relaxed), 10);
        // From the worker itself, nested in a task.
        let index = pool.install(|| {
            pool.in_place_scope(|s| {
                s.spawn(|_| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
                pool.current_thread_index()
            })
        });
        assert_eq!(index, Some(0));
        assert_eq!(count.load(Ordering::Relaxed), 11);
    });
}

#[test]
fn from_another_pools_worker_the_body_stays_and_the_tasks_go() {
    watchdog("in_place_scope across pools", LIMIT, || {
        let pool = pool(2);
        let other = self::pool(1);
        let (body_index, task_indices) = other.install(|| {
            let seen = std::sync::Mutex::new(Vec::new());
            let body = pool.in_place_scope(|s| {
                for _ in 0..8 {
                    s.spawn(|_| seen.lock().unwrap().push(pool.current_thread_index()));
                }
                other.current_thread_index()
            });
            (body, seen.into_inner().unwrap())
        });
        assert_eq!(body_index, Some(0));
        assert_eq!(task_indices.len(), 8);
        assert!(task_indices.iter().all(Option::is_some));
    });
}

#[test]
fn a_task_panic_is_resumed_after_every_task_finished() {
    watchdog("in_place_scope panic", LIMIT, || {
        let pool = pool(2);
        let finished = AtomicUsize::new(0);
        let err = catch_unwind(AssertUnwindSafe(|| {
            pool.in_place_scope(|s| {
                s.spawn(|_| panic!("task fails"));
                for _ in 0..20 {
                    s.spawn(|_| {
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                }
            })
        }))
        .unwrap_err();
        assert_eq!(corepool::panic_message(&*err), "task fails");
        assert_eq!(finished.load(Ordering::SeqCst), 20);
    });
}

#[test]
fn on_a_shut_down_pool_it_panics_before_running_the_body() {
    let pool = pool(1);
    pool.shutdown();
    let ran = Cell::new(false);
    let err =
        catch_unwind(AssertUnwindSafe(|| pool.in_place_scope(|_| ran.set(true)))).unwrap_err();
    assert!(corepool::panic_message(&*err).contains("shut down"));
    assert!(!ran.get());
}

#[test]
fn shutdown_racing_an_off_pool_scope_never_hangs_or_loses_a_task_silently() {
    watchdog("in_place_scope vs shutdown", LIMIT, || {
        for round in 0..30 {
            let pool = pool(2);
            let ran = AtomicUsize::new(0);
            let outcome = std::thread::scope(|t| {
                let scoper = t.spawn(|| {
                    catch_unwind(AssertUnwindSafe(|| {
                        pool.in_place_scope(|s| {
                            for _ in 0..500 {
                                s.spawn(|_| {
                                    ran.fetch_add(1, Ordering::Relaxed);
                                });
                            }
                        })
                    }))
                });
                if round % 2 == 0 {
                    std::thread::yield_now();
                }
                pool.shutdown();
                scoper.join().unwrap()
            });
            match outcome {
                Ok(()) => assert_eq!(ran.load(Ordering::Relaxed), 500, "round {round}"),
                Err(payload) => {
                    let msg = corepool::panic_message(&*payload);
                    assert!(
                        msg.contains("rejected unrun") || msg.contains("shut down"),
                        "round {round}: {msg}"
                    );
                    assert!(ran.load(Ordering::Relaxed) <= 500);
                }
            }
        }
    });
}
