//! The free functions off any worker run on the global pool; on a worker, on that worker's
//! pool. Index and count, from every kind of thread.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{unpinned_pool as pool, watchdog};
use corepool::{BuildError, Pool, Sizing};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn join_outside_any_pool_runs_on_the_global_pool_with_the_same_panic_rule() {
    watchdog("join outside", LIMIT, || {
        let me = std::thread::current().id();
        let (a, b) = corepool::join(
            || {
                (
                    std::thread::current().id(),
                    corepool::current_thread_index(),
                )
            },
            corepool::current_thread_index,
        );
        assert_ne!(a.0, me, "a ran on a worker, not the caller");
        let n = corepool::current_num_threads();
        assert!(a.1.unwrap() < n && b.unwrap() < n);
        assert_eq!(corepool::current_thread_index(), None);
        // Borrowing from the caller's stack works across the hand-off.
        let mut data = vec![1u64; 1000];
        let (left, right) = data.split_at_mut(500);
        corepool::join(
            || left.iter_mut().for_each(|x| *x += 1),
            || right.iter_mut().for_each(|x| *x += 2),
        );
        assert_eq!(data.iter().sum::<u64>(), 500 * 2 + 500 * 3);
        // b still runs when a panics; a's panic comes back to the caller.
        let b_ran = AtomicBool::new(false);
        let err = catch_unwind(AssertUnwindSafe(|| {
            corepool::join(|| panic!("a fails"), || b_ran.store(true, Ordering::SeqCst))
        }))
        .unwrap_err();
        assert_eq!(corepool::panic_message(&*err), "a fails");
        assert!(b_ran.load(Ordering::SeqCst));
    });
}

#[test]
fn scope_outside_any_pool_runs_on_the_global_pool() {
    watchdog("scope outside", LIMIT, || {
        let count = AtomicUsize::new(0);
        let mut slots = [0usize; 8];
        let body_on_worker = corepool::scope(|s| {
            for (i, slot) in slots.iter_mut().enumerate() {
                let count = &count;
                s.spawn(move |s| {
                    *slot = i * i;
                    s.spawn(move |_| {
                        count.fetch_add(1, Ordering::Relaxed);
                    });
                });
            }
            corepool::current_thread_index().is_some()
        });
        assert!(body_on_worker, "the body runs on a global worker");
        assert_eq!(count.load(Ordering::Relaxed), 8);
        assert_eq!(slots[7], 49);
        let err =
            catch_unwind(|| corepool::scope(|s| s.spawn(|_| panic!("task fails")))).unwrap_err();
        assert_eq!(corepool::panic_message(&*err), "task fails");
    });
}

#[test]
fn spawn_outside_any_pool_runs_on_the_global_pool() {
    watchdog("spawn outside", LIMIT, || {
        let (tx, rx) = mpsc::channel();
        for i in 0..100 {
            let tx = tx.clone();
            corepool::spawn(move || tx.send((i, corepool::current_thread_index())).unwrap());
        }
        drop(tx);
        let mut got: Vec<_> = rx.iter().collect();
        got.sort();
        assert_eq!(got.len(), 100);
        assert!(got.iter().all(|(_, index)| index.is_some()));
    });
}

#[test]
fn free_functions_on_a_worker_use_that_workers_pool_not_the_global_one() {
    watchdog("free functions on a worker", LIMIT, || {
        let pool = pool(3);
        assert_eq!(pool.current_num_threads(), 3);
        assert_eq!(pool.install(corepool::current_num_threads), 3);
        let (tx, rx) = mpsc::channel();
        let p = pool.handle();
        pool.install(move || {
            corepool::spawn(move || tx.send(p.current_thread_index()).unwrap());
        });
        assert!(
            rx.recv().unwrap().is_some(),
            "spawned onto the installing pool"
        );
        let (a, b) = pool.install(|| {
            corepool::join(
                || pool.current_thread_index(),
                || pool.current_thread_index(),
            )
        });
        assert!(a.is_some() && b.is_some());
        // The global pool has its own size, whatever this pool's is.
        let global = corepool::current_num_threads();
        assert_eq!(global, Pool::new().current_num_threads());
    });
}

#[test]
fn thread_index_is_none_off_the_pools_cpu_workers() {
    watchdog("thread index", LIMIT, || {
        let pool = Pool::builder()
            .sizing(
                Sizing::cpu_bound()
                    .cores(1)
                    .per_core(2)
                    .oversubscribe(true)
                    .blocking_io(1),
            )
            .pin_workers(false)
            .build()
            .unwrap();
        let other = self::pool(1);
        assert_eq!(corepool::current_thread_index(), None);
        assert_eq!(pool.current_thread_index(), None);
        let seen: Vec<usize> = (0..200)
            .map(|_| pool.submit(corepool::current_thread_index))
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        assert!(seen.iter().all(|&i| i < 2));
        assert_eq!(other.install(|| pool.current_thread_index()), None);
        assert_eq!(other.install(|| other.current_thread_index()), Some(0));
        let p = pool.handle();
        let on_lane = pool
            .spawn_blocking(move || (corepool::current_thread_index(), p.current_thread_index()));
        assert_eq!(on_lane.join().unwrap(), (None, None));
        // A shut-down pool still knows its size.
        pool.shutdown();
        assert_eq!(pool.current_num_threads(), 2);
    });
}

#[test]
fn free_functions_from_many_threads_while_the_global_pool_sleeps() {
    watchdog("global pool wake-ups", LIMIT, || {
        let total = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..4)
            .map(|t| {
                let total = total.clone();
                std::thread::spawn(move || {
                    for i in 0..50usize {
                        if i % 10 == 0 {
                            // Long enough for the global workers to park.
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        let (a, b) = corepool::join(|| t, || i);
                        let n = corepool::scope(|s| {
                            s.spawn(|_| ());
                            a + b
                        });
                        total.fetch_add(n, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
        let expected: usize = (0..4).map(|t| (0..50).map(|i| t + i).sum::<usize>()).sum();
        assert_eq!(total.load(Ordering::Relaxed), expected);
    });
}

#[test]
fn build_global_after_first_use_is_an_error_naming_the_global_pool() {
    watchdog("build_global after use", LIMIT, || {
        let _ = corepool::current_num_threads(); // builds it if nothing did yet
        let err = Pool::builder().build_global().unwrap_err();
        assert!(matches!(err, BuildError::GlobalPoolAlreadyBuilt));
        assert!(err.to_string().contains("global pool"));
    });
}

#[test]
fn join_context_outside_any_pool_reports_both_halves_migrated() {
    watchdog("join_context outside", LIMIT, || {
        let me = std::thread::current().id();
        let (a, b) = corepool::join_context(
            |c| (c.migrated(), std::thread::current().id()),
            |c| (c.migrated(), corepool::current_thread_index()),
        );
        assert!(a.0 && b.0);
        assert_ne!(a.1, me);
        assert!(b.1.is_some());
    });
}
