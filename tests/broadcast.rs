//! Broadcasts: one call per CPU worker, results by index, on workers that are asleep, busy or
//! paused; panics; scopes' broadcasts; spawned broadcasts racing shutdown.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{unpinned_pool as pool, watchdog};
use corepool::{Pool, Sizing};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn each_worker_makes_one_call_and_results_come_back_by_index() {
    watchdog("broadcast by index", LIMIT, || {
        let pool = pool(3);
        for _ in 0..50 {
            let r = pool.broadcast(|ctx| {
                assert_eq!(corepool::current_thread_index(), Some(ctx.index()));
                (ctx.index(), ctx.num_threads())
            });
            assert_eq!(r, [(0, 3), (1, 3), (2, 3)]);
        }
        // From inside, through the free function; the caller's own call included.
        let inner = pool.install(|| corepool::broadcast(|ctx| ctx.index()));
        assert_eq!(inner, [0, 1, 2]);
        // Off any pool: the global pool.
        let global = corepool::broadcast(|ctx| ctx.index());
        assert_eq!(
            global,
            (0..corepool::current_num_threads()).collect::<Vec<_>>()
        );
    });
}

#[test]
fn sleeping_workers_are_woken_for_their_call() {
    watchdog("broadcast asleep", LIMIT, || {
        let pool = pool(3);
        for round in 0..20 {
            // Long enough for every worker to park.
            std::thread::sleep(Duration::from_millis(if round % 2 == 0 { 5 } else { 0 }));
            assert_eq!(pool.broadcast(|ctx| ctx.index()).len(), 3);
        }
    });
}

#[test]
fn a_busy_worker_makes_its_call_when_its_task_ends() {
    watchdog("broadcast busy", LIMIT, || {
        let pool = pool(2);
        let release = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (r, s) = (release.clone(), started.clone());
        let busy = pool.submit(move || {
            s.store(true, Ordering::SeqCst);
            while !r.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            corepool::current_thread_index().unwrap()
        });
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let p = pool.handle();
        let caster = std::thread::spawn(move || {
            p.broadcast(move |ctx| {
                c.fetch_add(1, Ordering::SeqCst);
                ctx.index()
            })
        });
        // The idle worker makes its call; the busy one cannot until released.
        while calls.load(Ordering::SeqCst) < 1 {
            std::thread::yield_now();
        }
        assert!(!caster.is_finished() || calls.load(Ordering::SeqCst) == 2);
        release.store(true, Ordering::SeqCst);
        assert_eq!(caster.join().unwrap(), [0, 1]);
        assert!(busy.join().unwrap() < 2);
    });
}

#[test]
fn paused_workers_make_their_call_and_stay_paused() {
    watchdog("broadcast paused", LIMIT, || {
        let pool = pool(3);
        pool.set_active_workers(1);
        for _ in 0..20 {
            assert_eq!(pool.broadcast(|ctx| ctx.index()), [0, 1, 2]);
        }
        assert_eq!(pool.metrics().active_workers, 1);
        // Ordinary work still goes to the one active worker only.
        let seen: Vec<_> = (0..50)
            .map(|_| pool.submit(corepool::current_thread_index))
            .map(|h| h.join().unwrap())
            .collect();
        assert!(seen.iter().all(|&i| i == Some(0)), "{seen:?}");
        // Pause and resume racing broadcasts.
        let toggler = {
            let p = pool.handle();
            std::thread::spawn(move || {
                for i in 0..200 {
                    p.set_active_workers(1 + i % 3);
                    std::thread::yield_now();
                }
            })
        };
        for _ in 0..50 {
            assert_eq!(pool.broadcast(|ctx| ctx.index()), [0, 1, 2]);
        }
        toggler.join().unwrap();
    });
}

#[test]
fn a_panicking_call_is_resumed_after_every_call_finished() {
    watchdog("broadcast panic", LIMIT, || {
        let pool = pool(3);
        let finished = AtomicUsize::new(0);
        let err = catch_unwind(AssertUnwindSafe(|| {
            pool.broadcast(|ctx| {
                if ctx.index() == 1 {
                    panic!("worker 1 fails");
                }
                finished.fetch_add(1, Ordering::SeqCst);
            })
        }))
        .unwrap_err();
        assert_eq!(corepool::panic_message(&*err), "worker 1 fails");
        assert_eq!(finished.load(Ordering::SeqCst), 2);
        pool.shutdown();
        let err = catch_unwind(AssertUnwindSafe(|| pool.broadcast(|_| ()))).unwrap_err();
        assert!(corepool::panic_message(&*err).contains("shut down"));
    });
}

#[test]
fn spawned_broadcasts_racing_shutdown_all_run_and_panics_are_reported() {
    watchdog("spawn_broadcast vs shutdown", LIMIT, || {
        for round in 0..20 {
            let reported = Arc::new(AtomicUsize::new(0));
            let rep = reported.clone();
            let pool = Pool::builder()
                .sizing(Sizing::cpu_bound().cores(1).per_core(3).oversubscribe(true))
                .pin_workers(false)
                .panic_handler(move |_| {
                    rep.fetch_add(1, Ordering::SeqCst);
                })
                .build()
                .unwrap();
            if round % 3 == 0 {
                pool.set_active_workers(1);
            }
            let calls = Arc::new(Mutex::new(Vec::new()));
            for _ in 0..5 {
                let c = calls.clone();
                pool.spawn_broadcast(move |ctx| c.lock().unwrap().push(ctx.index()));
            }
            pool.spawn_broadcast(|ctx| {
                if ctx.index() == 2 {
                    panic!("reported");
                }
            });
            let c = calls.clone();
            pool.install(move || {
                corepool::spawn_broadcast(move |ctx| c.lock().unwrap().push(ctx.index()))
            });
            if round % 2 == 0 {
                std::thread::yield_now();
            }
            pool.shutdown();
            let mut calls = calls.lock().unwrap().clone();
            calls.sort();
            let expected: Vec<usize> = (0..3).flat_map(|i| std::iter::repeat_n(i, 6)).collect();
            assert_eq!(calls, expected, "round {round}");
            assert_eq!(reported.load(Ordering::SeqCst), 1, "round {round}");
        }
    });
}

#[test]
fn scopes_broadcast_calls_counted_in_the_scope() {
    watchdog("scope broadcasts", LIMIT, || {
        let pool = pool(3);
        let hits = [
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        ];
        pool.scope(|s| {
            s.spawn_broadcast(|s, ctx| {
                hits[ctx.index()].fetch_add(1, Ordering::SeqCst);
                s.spawn(|_| {
                    hits[0].fetch_add(10, Ordering::SeqCst);
                });
            })
        });
        assert_eq!(hits[0].load(Ordering::SeqCst), 31);
        assert_eq!(
            hits[1].load(Ordering::SeqCst) + hits[2].load(Ordering::SeqCst),
            2
        );
        pool.scope_fifo(|s| {
            s.spawn_broadcast(|_, ctx| {
                hits[ctx.index()].fetch_add(100, Ordering::SeqCst);
            })
        });
        // Off the pool: an in-place scope queues them through one of its own tasks.
        pool.in_place_scope(|s| {
            s.spawn_broadcast(|_, ctx| {
                hits[ctx.index()].fetch_add(1000, Ordering::SeqCst);
            })
        });
        pool.in_place_scope_fifo(|s| {
            s.spawn_broadcast(|_, ctx| {
                hits[ctx.index()].fetch_add(10000, Ordering::SeqCst);
            })
        });
        let h: Vec<usize> = hits.iter().map(|h| h.load(Ordering::SeqCst)).collect();
        assert_eq!(h, [11131, 11101, 11101]);
    });
}
