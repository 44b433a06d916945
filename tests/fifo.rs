//! FIFO scopes and spawns: rayon's order rules on one worker (plain, nested, mixed with LIFO
//! scopes), borrowing, panics, and FIFO spawns racing shutdown.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{unpinned_pool as pool, watchdog};
use corepool::{Pool, Scope, ScopeFifo, Sizing};

const LIMIT: Duration = Duration::from_secs(60);

/// The scope kinds under one name, so one test body drives both.
trait Kind {
    type S<'a>: Sync;
    fn open<'a, R: Send>(f: impl FnOnce(&Self::S<'a>) -> R + Send) -> R;
    fn spawn<'a>(s: &Self::S<'a>, f: impl FnOnce(&Self::S<'a>) + Send + 'a);
}
struct Lifo;
struct Fifo;
impl Kind for Lifo {
    type S<'a> = Scope<'a>;
    fn open<'a, R: Send>(f: impl FnOnce(&Scope<'a>) -> R + Send) -> R {
        corepool::scope(f)
    }
    fn spawn<'a>(s: &Scope<'a>, f: impl FnOnce(&Scope<'a>) + Send + 'a) {
        s.spawn(f)
    }
}
impl Kind for Fifo {
    type S<'a> = ScopeFifo<'a>;
    fn open<'a, R: Send>(f: impl FnOnce(&ScopeFifo<'a>) -> R + Send) -> R {
        corepool::scope_fifo(f)
    }
    fn spawn<'a>(s: &ScopeFifo<'a>, f: impl FnOnce(&ScopeFifo<'a>) + Send + 'a) {
        s.spawn_fifo(f)
    }
}

fn plain_order<K: Kind>() -> Vec<i32> {
    pool(1).install(|| {
        let vec = Mutex::new(vec![]);
        K::open(|s| {
            let vec = &vec;
            for i in 0..10 {
                K::spawn(s, move |s| {
                    for j in 0..10 {
                        K::spawn(s, move |_| vec.lock().unwrap().push(i * 10 + j));
                    }
                });
            }
        });
        vec.into_inner().unwrap()
    })
}

fn nested_order<O: Kind, I: Kind>() -> Vec<i32> {
    pool(1).install(|| {
        let vec = Mutex::new(vec![]);
        O::open(|s| {
            let vec = &vec;
            for i in 0..10 {
                O::spawn(s, move |_| {
                    I::open(|s| {
                        for j in 0..10 {
                            I::spawn(s, move |_| vec.lock().unwrap().push(i * 10 + j));
                        }
                    });
                });
            }
        });
        vec.into_inner().unwrap()
    })
}

fn mixed_order<O: Kind, I: Kind>() -> Vec<i32> {
    pool(1).install(|| {
        let vec = Mutex::new(vec![]);
        O::open(|outer| {
            let vec = &vec;
            O::spawn(outer, move |_| vec.lock().unwrap().push(0));
            I::open(|inner| {
                I::spawn(inner, move |_| vec.lock().unwrap().push(-1));
                O::spawn(outer, move |_| vec.lock().unwrap().push(1));
                I::spawn(inner, move |_| vec.lock().unwrap().push(-2));
                O::spawn(outer, move |_| vec.lock().unwrap().push(2));
                I::spawn(inner, move |_| vec.lock().unwrap().push(-3));
            });
            O::spawn(outer, move |_| vec.lock().unwrap().push(3));
        });
        vec.into_inner().unwrap()
    })
}

#[test]
fn one_worker_runs_fifo_spawns_oldest_first_and_lifo_newest_first() {
    watchdog("plain order", LIMIT, || {
        assert_eq!(plain_order::<Fifo>(), (0..100).collect::<Vec<_>>());
        assert_eq!(plain_order::<Lifo>(), (0..100).rev().collect::<Vec<_>>());
    });
}

#[test]
fn nested_scopes_keep_each_ones_order() {
    watchdog("nested order", LIMIT, || {
        assert_eq!(nested_order::<Fifo, Fifo>(), (0..100).collect::<Vec<_>>());
        let lifo_fifo: Vec<i32> = (0..10)
            .rev()
            .flat_map(|i| (0..10).map(move |j| i * 10 + j))
            .collect();
        assert_eq!(nested_order::<Lifo, Fifo>(), lifo_fifo);
        let fifo_lifo: Vec<i32> = (0..10)
            .flat_map(|i| (0..10).rev().map(move |j| i * 10 + j))
            .collect();
        assert_eq!(nested_order::<Fifo, Lifo>(), fifo_lifo);
    });
}

#[test]
fn interleaved_scopes_follow_rayons_mixed_order() {
    watchdog("mixed order", LIMIT, || {
        assert_eq!(mixed_order::<Fifo, Fifo>(), [-1, 0, -2, 1, -3, 2, 3]);
        assert_eq!(mixed_order::<Lifo, Fifo>(), [-1, 2, -2, 1, -3, 3, 0]);
        assert_eq!(mixed_order::<Fifo, Lifo>(), [-3, 0, -2, 1, -1, 2, 3]);
        assert_eq!(mixed_order::<Lifo, Lifo>(), [-3, 2, -2, 1, -1, 3, 0]);
    });
}

#[test]
fn free_spawn_fifo_runs_in_spawn_order_on_one_worker_and_reports_panics() {
    watchdog("spawn_fifo order", LIMIT, || {
        let panics = Arc::new(AtomicUsize::new(0));
        let p = panics.clone();
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1))
            .pin_workers(false)
            .panic_handler(move |_| {
                p.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let o = order.clone();
        let h = pool.handle();
        pool.install(move || {
            for i in 0..20 {
                let o = o.clone();
                if i == 10 {
                    h.spawn_fifo(|| panic!("fifo task fails"));
                }
                corepool::spawn_fifo(move || o.lock().unwrap().push(i));
            }
        });
        pool.shutdown();
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
        assert_eq!(panics.load(Ordering::SeqCst), 1);
        let m = pool.metrics();
        assert_eq!((m.submitted, m.completed, m.panicked), (21, 20, 1), "{m:?}");
    });
}

#[test]
fn fifo_scopes_on_many_workers_run_every_task_once_and_resume_the_first_panic() {
    watchdog("fifo scopes many workers", LIMIT, || {
        let pool = pool(3);
        let hits: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
        pool.scope_fifo(|s| {
            for chunk in hits.chunks(100) {
                s.spawn_fifo(move |s| {
                    for h in chunk {
                        s.spawn_fifo(move |_| {
                            h.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        let done = AtomicUsize::new(0);
        let err = catch_unwind(AssertUnwindSafe(|| {
            pool.in_place_scope_fifo(|s| {
                s.spawn_fifo(|_| panic!("first"));
                for _ in 0..50 {
                    s.spawn_fifo(|_| {
                        done.fetch_add(1, Ordering::SeqCst);
                    });
                }
            })
        }))
        .unwrap_err();
        assert_eq!(corepool::panic_message(&*err), "first");
        assert_eq!(done.load(Ordering::SeqCst), 50);
    });
}

#[test]
fn fifo_spawns_racing_shutdown_all_run() {
    watchdog("spawn_fifo vs shutdown", LIMIT, || {
        for round in 0..20 {
            let pool = pool(2);
            let ran = Arc::new(AtomicUsize::new(0));
            for _ in 0..4 {
                let r = ran.clone();
                pool.spawn(move || {
                    for _ in 0..50 {
                        let r = r.clone();
                        corepool::spawn_fifo(move || {
                            r.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
            }
            if round % 2 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            pool.shutdown();
            assert_eq!(ran.load(Ordering::Relaxed), 200, "round {round}");
        }
    });
}

#[test]
fn off_any_pool_the_fifo_functions_use_the_global_pool() {
    watchdog("fifo global", LIMIT, || {
        let (tx, rx) = std::sync::mpsc::channel();
        corepool::spawn_fifo(move || tx.send(corepool::current_thread_index()).unwrap());
        assert!(rx.recv().unwrap().is_some());
        let on_worker = corepool::scope_fifo(|_| corepool::current_thread_index().is_some());
        assert!(on_worker);
        let mut v = [0; 3];
        let body_here = corepool::in_place_scope_fifo(|s| {
            for (i, x) in v.iter_mut().enumerate() {
                s.spawn_fifo(move |_| *x = i + 1);
            }
            corepool::current_thread_index().is_none()
        });
        assert!(body_here);
        assert_eq!(v, [1, 2, 3]);
    });
}
