//! `Builder::start_handler` / `exit_handler`: once per CPU worker, on its thread, panics
//! reported, builds not held up, shutdown racing the handlers.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::watchdog;
use corepool::{Pool, Sizing};

const LIMIT: Duration = Duration::from_secs(60);

fn sizing(workers: usize) -> Sizing {
    Sizing::cpu_bound()
        .cores(1)
        .per_core(workers)
        .oversubscribe(true)
}

#[test]
fn each_cpu_worker_runs_start_then_exit_once_on_its_own_thread() {
    watchdog("handlers once each", LIMIT, || {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, e) = (log.clone(), log.clone());
        let pool = Pool::builder()
            .sizing(sizing(3).blocking_io(1))
            .pin_workers(false)
            .thread_name(|i| format!("handlers-{i}"))
            .start_handler(move |i| {
                let me = std::thread::current().name().map(str::to_owned);
                assert_eq!(corepool::current_thread_index(), Some(i));
                s.lock().unwrap().push(("start", i, me));
            })
            .exit_handler(move |i| {
                let me = std::thread::current().name().map(str::to_owned);
                assert_eq!(corepool::current_thread_index(), Some(i));
                e.lock().unwrap().push(("exit", i, me));
            })
            .build()
            .unwrap();
        // The blocking lane runs neither.
        pool.spawn_blocking(|| ()).join().unwrap();
        assert_eq!(pool.install(|| 7), 7);
        pool.shutdown();
        let mut log = log.lock().unwrap().clone();
        log.sort();
        let expected: Vec<_> = ["exit", "start"]
            .into_iter()
            .flat_map(|k| (0..3).map(move |i| (k, i, Some(format!("handlers-{i}")))))
            .collect();
        assert_eq!(log, expected);
    });
}

#[test]
fn build_does_not_wait_for_start_handlers_and_other_workers_run_tasks_meanwhile() {
    watchdog("start handler blocks", LIMIT, || {
        let release = Arc::new(AtomicBool::new(false));
        let r = release.clone();
        let pool = Pool::builder()
            .sizing(sizing(2))
            .pin_workers(false)
            .start_handler(move |i| {
                if i == 0 {
                    while !r.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
            .build()
            .unwrap();
        // Worker 0 is still in its handler: worker 1 runs this.
        let on = pool.submit(corepool::current_thread_index).join().unwrap();
        assert_eq!(on, Some(1));
        release.store(true, Ordering::Release);
        pool.shutdown();
    });
}

#[test]
fn a_panicking_handler_goes_to_the_panic_handler_and_the_worker_carries_on() {
    watchdog("handler panics", LIMIT, || {
        let reported = Arc::new(Mutex::new(Vec::new()));
        let rep = reported.clone();
        let pool = Pool::builder()
            .sizing(sizing(2))
            .pin_workers(false)
            .panic_handler(move |p| {
                rep.lock()
                    .unwrap()
                    .push(corepool::panic_message(&*p).to_owned())
            })
            .start_handler(|i| panic!("start {i}"))
            .exit_handler(|i| panic!("exit {i}"))
            .build()
            .unwrap();
        let sum: u64 = pool
            .map(&(0..1000u64).collect::<Vec<_>>(), |x| x * 2)
            .iter()
            .sum();
        assert_eq!(sum, 999_000);
        pool.shutdown();
        let mut reported = reported.lock().unwrap().clone();
        reported.sort();
        assert_eq!(reported, ["exit 0", "exit 1", "start 0", "start 1"]);
    });
}

#[test]
fn work_spawned_by_an_exit_handler_still_runs() {
    watchdog("exit handler spawns", LIMIT, || {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let pool = Pool::builder()
            .sizing(sizing(2))
            .pin_workers(false)
            .exit_handler(move |_| {
                let r = r.clone();
                corepool::spawn(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                });
            })
            .build()
            .unwrap();
        pool.shutdown();
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn shutdown_right_after_build_races_the_handlers_and_runs_each_once() {
    watchdog("handlers vs shutdown", LIMIT, || {
        for round in 0..30 {
            let starts = Arc::new(AtomicUsize::new(0));
            let exits = Arc::new(AtomicUsize::new(0));
            let (s, e) = (starts.clone(), exits.clone());
            let pool = Pool::builder()
                .sizing(sizing(3))
                .pin_workers(false)
                .start_handler(move |_| {
                    s.fetch_add(1, Ordering::SeqCst);
                })
                .exit_handler(move |_| {
                    e.fetch_add(1, Ordering::SeqCst);
                })
                .build()
                .unwrap();
            if round % 3 == 1 {
                pool.set_active_workers(1); // two paused workers still exit cleanly
            }
            if round % 2 == 0 {
                drop(pool);
            } else {
                pool.shutdown();
            }
            assert_eq!(starts.load(Ordering::SeqCst), 3, "round {round}");
            assert_eq!(exits.load(Ordering::SeqCst), 3, "round {round}");
        }
    });
}

#[test]
fn a_failed_build_runs_no_handler() {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let err = Pool::builder()
        .sizing(sizing(2))
        .thread_name(|i| if i == 1 { "bad\0".into() } else { "ok".into() })
        .start_handler(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        corepool::BuildError::InvalidThreadName { .. }
    ));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}
