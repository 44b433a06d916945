//! `yield_now` / `yield_local`: what each looks at, off-pool answers, and yields racing
//! outside submissions and shutdown.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::watchdog;
use corepool::{Pool, Sizing, Yield};

const LIMIT: Duration = Duration::from_secs(60);

fn one_worker() -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1))
        .pin_workers(false)
        .build()
        .unwrap()
}

#[test]
fn yields_off_a_pool_return_none_and_build_no_pool() {
    assert_eq!(corepool::yield_now(), None);
    assert_eq!(corepool::yield_local(), None);
    let pool = one_worker();
    let other = one_worker();
    assert_eq!(pool.yield_now(), None);
    assert_eq!(
        other.install(|| (pool.yield_now(), pool.yield_local())),
        (None, None)
    );
    let p = pool.handle();
    let lane = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1).blocking_io(1))
        .pin_workers(false)
        .build()
        .unwrap();
    let on_lane = lane.spawn_blocking(move || (corepool::yield_now(), p.yield_now()));
    assert_eq!(on_lane.join().unwrap(), (None, None));
}

#[test]
fn yield_local_runs_only_the_own_deque_and_yield_now_also_the_injector() {
    watchdog("yield kinds", LIMIT, || {
        let pool = one_worker();
        let ran = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let r = ran.clone();
        let busy = pool.submit(move || {
            // Taken out of the injector before the five below are queued there, so no
            // batch steal moved them onto this worker's deque.
            started_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            // Three own-deque tasks.
            for _ in 0..3 {
                let r = r.clone();
                corepool::spawn(move || {
                    r.fetch_add(1, Ordering::Relaxed);
                });
            }
            let mut local = 0;
            while corepool::yield_local() == Some(Yield::Executed) {
                local += 1;
            }
            // The five injector tasks are still there: only yield_now takes them.
            let mut any = 0;
            while corepool::yield_now() == Some(Yield::Executed) {
                any += 1;
            }
            (local, any)
        });
        started_rx.recv().unwrap();
        for _ in 0..5 {
            let r = ran.clone();
            pool.spawn(move || {
                r.fetch_add(100, Ordering::Relaxed);
            });
        }
        go_tx.send(()).unwrap();
        assert_eq!(busy.join().unwrap(), (3, 5));
        assert_eq!(ran.load(Ordering::Relaxed), 503);
    });
}

#[test]
fn a_panicking_task_run_by_a_yield_goes_to_the_panic_handler() {
    watchdog("yield panic", LIMIT, || {
        let reported = Arc::new(AtomicUsize::new(0));
        let rep = reported.clone();
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1))
            .pin_workers(false)
            .panic_handler(move |_| {
                rep.fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .unwrap();
        let y = pool.install(|| {
            corepool::spawn(|| panic!("yielded into"));
            corepool::yield_local()
        });
        assert_eq!(y, Some(Yield::Executed));
        assert_eq!(reported.load(Ordering::Relaxed), 1);
    });
}

#[test]
fn yielding_while_shutdown_runs_every_task_exactly_once() {
    watchdog("yield vs shutdown", LIMIT, || {
        for round in 0..20 {
            let pool = Pool::builder()
                .sizing(Sizing::cpu_bound().cores(1).per_core(2).oversubscribe(true))
                .pin_workers(false)
                .build()
                .unwrap();
            let ran = Arc::new(AtomicUsize::new(0));
            for _ in 0..4 {
                let r = ran.clone();
                pool.spawn(move || {
                    for _ in 0..25 {
                        let r = r.clone();
                        corepool::spawn(move || {
                            r.fetch_add(1, Ordering::Relaxed);
                        });
                        corepool::yield_now();
                    }
                    while corepool::yield_now() == Some(Yield::Executed) {}
                });
            }
            if round % 2 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            pool.shutdown();
            assert_eq!(ran.load(Ordering::Relaxed), 100, "round {round}");
        }
    });
}

#[test]
fn pending_tasks_are_seen_on_the_own_deque_only_and_drained_by_yield_local() {
    watchdog("pending tasks", LIMIT, || {
        let pool = one_worker();
        let other = one_worker();
        assert_eq!(pool.current_thread_has_pending_tasks(), None);
        assert_eq!(
            other.install(|| pool.current_thread_has_pending_tasks()),
            None
        );
        let seen = pool.install(|| {
            let empty = pool.current_thread_has_pending_tasks();
            corepool::spawn(|| ());
            corepool::spawn(|| ());
            let two = pool.current_thread_has_pending_tasks();
            while corepool::yield_local() == Some(Yield::Executed) {}
            (empty, two, pool.current_thread_has_pending_tasks())
        });
        assert_eq!(seen, (Some(false), Some(true), Some(false)));
        assert_eq!(corepool::max_num_threads(), corepool::MAX_THREADS);
    });
}

#[test]
fn yields_fifo_spawns_and_join_context_while_workers_are_paused_and_resumed() {
    watchdog("yield vs pause", LIMIT, || {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).per_core(3).oversubscribe(true))
            .pin_workers(false)
            .build()
            .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let toggler = {
            let pool = pool.handle();
            std::thread::spawn(move || {
                for i in 0..200 {
                    pool.set_active_workers(1 + i % 3);
                    std::thread::yield_now();
                }
                pool.set_active_workers(3);
            })
        };
        for _ in 0..20 {
            let r = ran.clone();
            pool.spawn(move || {
                for _ in 0..10 {
                    let r = r.clone();
                    corepool::spawn_fifo(move || {
                        let (a, b) = corepool::join_context(|_| 1, |_| 1);
                        r.fetch_add(a + b, Ordering::Relaxed);
                    });
                    corepool::yield_now();
                }
                while corepool::yield_local() == Some(Yield::Executed) {}
            });
        }
        toggler.join().unwrap();
        pool.shutdown();
        assert_eq!(ran.load(Ordering::Relaxed), 400);
    });
}
