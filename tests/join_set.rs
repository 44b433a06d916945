//! `JoinSet`: completion order, every result once, cancel_all, drop cancels what has not
//! started, panics, shutdown, use from inside a task.

mod common;

use common::watchdog;
use corepool::{Pool, Sizing, TaskError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(workers))
        .pin_workers(false)
        .build()
        .unwrap()
}

#[test]
fn every_result_comes_back_once() {
    watchdog("every result", LIMIT, || {
        let pool = pool(2);
        let mut set = pool.join_set();
        for i in 0..10_000u64 {
            set.submit(move || i);
        }
        assert_eq!(set.len(), 10_000);
        let mut seen = vec![false; 10_000];
        while let Some(r) = set.join_next() {
            let i = r.unwrap() as usize;
            assert!(!seen[i], "{i} twice");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert!(set.is_empty());
        assert!(set.join_next().is_none());
    });
}

#[test]
fn results_come_in_completion_order() {
    watchdog("completion order", LIMIT, || {
        let pool = pool(2);
        let mut set = pool.join_set();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        // The first task waits until the second has been joined.
        set.submit(move || {
            release_rx.recv().unwrap();
            "slow"
        });
        set.submit(|| "fast");
        assert_eq!(set.join_next().unwrap().unwrap(), "fast");
        release_tx.send(()).unwrap();
        assert_eq!(set.join_next().unwrap().unwrap(), "slow");
    });
}

#[test]
fn cancel_all_and_drop_cancel_what_has_not_started() {
    watchdog("cancel", LIMIT, || {
        let pool = pool(1);
        let ran = Arc::new(AtomicUsize::new(0));
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let mut set = pool.join_set();
        set.submit(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        started.recv().unwrap();
        for _ in 0..5 {
            let r = ran.clone();
            set.submit(move || {
                r.fetch_add(1, Ordering::SeqCst);
            });
        }
        set.cancel_all();
        // Submitted after the cancel: runs.
        let r = ran.clone();
        set.submit(move || {
            r.fetch_add(100, Ordering::SeqCst);
        });
        release.send(()).unwrap();
        let (mut ok, mut cancelled) = (0, 0);
        while let Some(r) = set.join_next() {
            match r {
                Ok(()) => ok += 1,
                Err(TaskError::Cancelled) => cancelled += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((ok, cancelled), (2, 5));
        assert_eq!(ran.load(Ordering::SeqCst), 100);

        // Drop: the queued ones never run, and the drop does not wait for the running one.
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let mut set = pool.join_set();
        set.submit(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        started.recv().unwrap();
        for _ in 0..5 {
            let r = ran.clone();
            set.submit(move || {
                r.fetch_add(1, Ordering::SeqCst);
            });
        }
        drop(set);
        release.send(()).unwrap();
        pool.install(|| ());
        pool.shutdown();
        assert_eq!(ran.load(Ordering::SeqCst), 100);
        let m = pool.metrics();
        assert_eq!(m.submitted, m.completed + m.cancelled + m.panicked);
    });
}

#[test]
fn panics_shutdown_and_no_lane_are_reported() {
    watchdog("errors", LIMIT, || {
        let pool = pool(2);
        let mut set = pool.join_set();
        set.submit(|| -> u8 { panic!("boom") });
        set.submit_blocking(|| 1u8); // blocking_io = 0: no lane
        let mut errors: Vec<String> = Vec::new();
        while let Some(r) = set.join_next() {
            errors.push(match r {
                Err(TaskError::Panicked(_)) => "panicked".into(),
                Err(TaskError::NoBlockingLane) => "no lane".into(),
                other => format!("{other:?}"),
            });
        }
        errors.sort();
        assert_eq!(errors, ["no lane", "panicked"]);
        pool.shutdown();
        let mut set = pool.join_set();
        set.submit(|| 1);
        assert!(matches!(set.join_next(), Some(Err(TaskError::Rejected))));
    });
}

#[test]
fn a_join_set_inside_a_task_helps_instead_of_deadlocking() {
    watchdog("inside a task", LIMIT, || {
        let pool = pool(1);
        let p = pool.clone();
        let sum = pool
            .submit(move || {
                let mut set = p.join_set();
                for i in 0..100u64 {
                    set.submit(move || i);
                }
                let mut sum = 0;
                while let Some(r) = set.join_next() {
                    sum += r.unwrap();
                }
                sum
            })
            .join()
            .unwrap();
        assert_eq!(sum, 4950);
    });
}

#[test]
fn dropping_a_set_with_finished_results_frees_them() {
    watchdog("drop results", LIMIT, || {
        let pool = pool(2);
        let live = Arc::new(());
        let mut set = pool.join_set();
        for _ in 0..100 {
            let l = live.clone();
            set.submit(move || l);
        }
        // Some may have finished, some not.
        drop(set);
        pool.shutdown();
        assert_eq!(Arc::strong_count(&live), 1, "a result or closure leaked");
    });
}
