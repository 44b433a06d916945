//! `Builder::use_current_thread`: the building thread as worker 0 — what it sees, what it
//! runs and when, a second seat refused, and drop, shutdown, sleep and pause racing it.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{settle_threads, watchdog};
use corepool::{BuildError, PinStatus, Pool, Sizing, TaskError};

const LIMIT: Duration = Duration::from_secs(60);

/// A pool whose worker 0 is the calling thread, with `workers` CPU workers in all; the
/// others are threads named `{prefix}-{i}`.
fn caller_pool(workers: usize, prefix: &'static str) -> Pool {
    Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(1)
                .per_core(workers)
                .oversubscribe(true),
        )
        .thread_name(move |i| format!("{prefix}-{i}"))
        .use_current_thread()
        .build()
        .unwrap()
}

#[test]
fn the_building_thread_is_worker_zero_and_no_thread_is_started_for_it() {
    watchdog("worker 0 identity", LIMIT, || {
        let pool = caller_pool(3, "uct-id");
        assert_eq!(corepool::current_thread_index(), Some(0));
        assert_eq!(pool.current_thread_index(), Some(0));
        assert_eq!(corepool::current_num_threads(), 3);
        assert_eq!(
            settle_threads("uct-id", 2),
            2,
            "threads for workers 1 and 2 only"
        );
        let plan = pool.plan();
        assert_eq!(plan.workers()[0].pin, PinStatus::CallerThread);
        assert!(plan.to_string().contains("the building thread"), "{plan}");

        // install runs right here; join and scope use this pool.
        let me = thread::current().id();
        assert_eq!(pool.install(|| thread::current().id()), me);
        let (a, b) = corepool::join(corepool::current_thread_index, || {
            corepool::current_thread_index()
        });
        assert_eq!(a, Some(0));
        assert!(b.is_some_and(|i| i < 3), "{b:?}");
        let ran = AtomicUsize::new(0);
        corepool::scope(|s| {
            for _ in 0..100 {
                s.spawn(|_| {
                    assert!(corepool::current_thread_index().is_some_and(|i| i < 3));
                    ran.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
        assert_eq!(ran.load(Ordering::Relaxed), 100);

        // Another thread is no worker of it.
        let other = pool.handle();
        let seen = thread::spawn(move || {
            (
                corepool::current_thread_index(),
                other.current_thread_index(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(seen, (None, None));
        drop(pool);
        assert_eq!(corepool::current_thread_index(), None);
        assert_eq!(settle_threads("uct-id", 0), 0);
    });
}

#[test]
fn spawns_from_the_building_thread_are_run_by_the_others_while_it_does_its_own_work() {
    watchdog("off-duty spawns", LIMIT, || {
        let pool = caller_pool(2, "uct-spawn");
        let (tx, rx) = mpsc::channel();
        for i in 0..200 {
            let tx = tx.clone();
            corepool::spawn(move || tx.send((i, corepool::current_thread_index())).unwrap());
        }
        // This thread never waits in the pool here: it blocks on a channel, outside it.
        let mut seen: Vec<_> = (0..200).map(|_| rx.recv().unwrap()).collect();
        assert!(
            seen.iter().all(|(_, index)| *index == Some(1)),
            "worker 1 ran them all"
        );
        seen.sort();
        assert!(seen.iter().map(|(i, _)| *i).eq(0..200));
        // Pool::spawn from here takes the same way (its own deque, never bounded).
        let (tx2, rx2) = mpsc::channel();
        pool.spawn(move || tx2.send(()).unwrap());
        rx2.recv().unwrap();
        let m = pool.metrics();
        assert_eq!(m.workers[0].executed, 0, "worker 0 ran nothing: {m}");
    });
}

#[test]
fn a_second_seat_on_the_same_thread_is_a_build_error_until_the_first_pool_is_gone() {
    watchdog("second seat", LIMIT, || {
        let pool = caller_pool(2, "uct-second");
        let err = Pool::builder().use_current_thread().build().unwrap_err();
        assert!(matches!(err, BuildError::CurrentThreadInPool), "{err:?}");
        assert!(err.to_string().contains("use_current_thread"), "{err}");
        // A plain pool may still be built here, and its workers cannot take a seat either.
        let plain = common::unpinned_pool(1);
        let inside = plain.install(|| Pool::builder().use_current_thread().build().map(drop));
        assert!(matches!(inside, Err(BuildError::CurrentThreadInPool)));
        drop(plain);
        drop(pool);
        let again = caller_pool(2, "uct-second");
        assert_eq!(again.current_thread_index(), Some(0));
    });
}

#[test]
fn dropping_on_the_building_thread_runs_everything_accepted_and_frees_the_thread() {
    watchdog("drop on the building thread", LIMIT, || {
        for round in 0..50 {
            let pool = caller_pool(2, "uct-drop");
            let ran = Arc::new(AtomicUsize::new(0));
            for _ in 0..100 {
                let ran = ran.clone();
                corepool::spawn(move || {
                    ran.fetch_add(1, Ordering::Relaxed);
                });
            }
            let outside = pool.handle();
            let r = ran.clone();
            let handles = thread::spawn(move || {
                (0..100)
                    .map(|_| {
                        let r = r.clone();
                        outside.submit(move || r.fetch_add(1, Ordering::Relaxed))
                    })
                    .collect::<Vec<_>>()
            })
            .join()
            .unwrap();
            drop(pool);
            assert_eq!(ran.load(Ordering::Relaxed), 200, "round {round}");
            assert!(handles.into_iter().all(|h| h.join().is_ok()));
            assert_eq!(corepool::current_thread_index(), None);
        }
        assert_eq!(settle_threads("uct-drop", 0), 0);
    });
}

#[test]
fn dropping_on_another_thread_does_not_wait_for_the_building_thread() {
    watchdog("drop elsewhere", LIMIT, || {
        let pool = caller_pool(3, "uct-away");
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..500 {
            let ran = ran.clone();
            corepool::spawn(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        let watcher = pool.handle();
        // The building thread stays outside the pool while another thread drops it.
        thread::spawn(move || drop(pool)).join().unwrap();
        assert!(watcher.is_shut_down());
        assert_eq!(
            ran.load(Ordering::Relaxed),
            500,
            "worker 0's deque was drained by the others"
        );
        assert_eq!(settle_threads("uct-away", 0), 0);
        let m = watcher.metrics();
        assert_eq!(m.completed, 500, "{m}");
        // The building thread gives the seat up on its next build, and works as any thread.
        let next = caller_pool(2, "uct-away");
        assert_eq!(next.current_thread_index(), Some(0));
        drop(next);
        let (a, b) = corepool::join(|| 1, || 2); // the global pool now
        assert_eq!(a + b, 3);
    });
}

#[test]
fn a_pool_of_only_the_building_thread_runs_work_when_that_thread_waits_in_it() {
    watchdog("one-worker caller pool", LIMIT, || {
        let pool = caller_pool(1, "uct-one");
        assert_eq!(settle_threads("uct-one", 0), 0, "no thread at all");
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let ran = ran.clone();
            corepool::spawn(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        // Nobody else could run them: worker 0 does, as the call that queued each ends.
        assert_eq!(ran.load(Ordering::Relaxed), 10);
        pool.wait_idle(); // waits by helping
        let (a, b) = corepool::join(|| 1, || 2);
        assert_eq!(a + b, 3);
        assert_eq!(pool.submit(|| 5).join().unwrap(), 5, "join helps, here");
        // Work from another thread waits for this one.
        let outside = pool.handle();
        let handles: Vec<_> =
            thread::spawn(move || (0..20).map(|i| outside.submit(move || i)).collect())
                .join()
                .unwrap();
        assert_eq!(corepool::yield_now(), Some(corepool::Yield::Executed));
        pool.shutdown(); // on the building thread: runs the rest first
        let sum: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, (0..20).sum());
        assert_eq!(corepool::current_thread_index(), None);
    });
}

#[test]
fn a_one_worker_caller_pool_shut_down_elsewhere_rejects_the_outside_work_it_cannot_run() {
    watchdog("one-worker caller pool, shut down elsewhere", LIMIT, || {
        let pool = caller_pool(1, "uct-one-away");
        // From another thread: into the injector, which only worker 0 could take from.
        let outside = pool.handle();
        let queued: Vec<_> =
            thread::spawn(move || (0..5).map(|i| outside.submit(move || i)).collect())
                .join()
                .unwrap();
        let watcher = pool.handle();
        thread::spawn(move || drop(pool)).join().unwrap();
        // Handed back, not lost: every handle has its answer.
        assert!(queued
            .into_iter()
            .all(|h| matches!(h.join(), Err(TaskError::Rejected))));
        assert_eq!(watcher.metrics().rejected, 5);
        // The joins above were this thread's next pool calls: the last one ended the pool,
        // and the seat was given up.
        assert_eq!(corepool::current_thread_index(), None);
        assert!(Pool::builder().use_current_thread().build().is_ok());
    });
}

#[test]
fn shutdown_elsewhere_waits_while_the_building_thread_is_inside_a_scope() {
    watchdog("shutdown during a scope on worker 0", LIMIT, || {
        let pool = caller_pool(2, "uct-scope");
        let barrier = Arc::new(Barrier::new(2));
        let b = barrier.clone();
        let watcher = pool.handle();
        let stopper = thread::spawn(move || {
            b.wait();
            pool.shutdown();
        });
        let ran = AtomicUsize::new(0);
        corepool::scope(|s| {
            barrier.wait(); // shutdown starts while this scope is open
            for _ in 0..1_000 {
                s.spawn(|s| {
                    s.spawn(|_| {
                        ran.fetch_add(1, Ordering::Relaxed);
                    });
                });
            }
        });
        assert_eq!(ran.load(Ordering::Relaxed), 1_000);
        stopper.join().unwrap();
        assert!(watcher.is_shut_down());
        assert_eq!(settle_threads("uct-scope", 0), 0);
    });
}

#[test]
fn sleeping_workers_are_woken_by_every_off_duty_push() {
    watchdog("off-duty pushes wake sleepers", LIMIT, || {
        let pool = caller_pool(3, "uct-sleep");
        let (tx, rx) = mpsc::channel();
        let mut received = Vec::new();
        for i in 0..200 {
            // Let the others fall asleep between pushes now and then.
            if i % 20 == 0 {
                thread::sleep(Duration::from_millis(2));
            }
            let tx = tx.clone();
            corepool::spawn(move || tx.send(i).unwrap());
            if i % 7 == 0 {
                // ...and sometimes wait for it outside the pool, so nothing but a wake-up
                // can run it.
                while !received.contains(&i) {
                    received.push(rx.recv().unwrap());
                }
            }
        }
        drop(tx);
        received.extend(rx.iter());
        received.sort();
        assert!(received.into_iter().eq(0..200));
        drop(pool);
    });
}

#[test]
fn pausing_every_other_worker_leaves_worker_zero_to_run_what_it_waits_for() {
    watchdog("pause with worker 0", LIMIT, || {
        let pool = caller_pool(3, "uct-pause");
        assert_eq!(pool.set_active_workers(1), 1);
        // Only worker 0 is active: a submitted task runs when this thread joins it.
        let handle = pool.submit(corepool::current_thread_index);
        assert_eq!(handle.join().unwrap(), Some(0));
        let (a, b) = corepool::join(
            corepool::current_thread_index,
            corepool::current_thread_index,
        );
        assert_eq!((a, b), (Some(0), Some(0)));
        // Broadcast still reaches the paused workers, and worker 0 runs its call here.
        let mut seen = pool.broadcast(|ctx| ctx.index());
        seen.sort();
        assert_eq!(seen, [0, 1, 2]);
        assert_eq!(pool.set_active_workers(3), 3);
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..300 {
            let ran = ran.clone();
            corepool::spawn(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        pool.set_active_workers(1); // race: pause while the spawns are being stolen
        pool.wait_idle();
        assert_eq!(ran.load(Ordering::Relaxed), 300);
        drop(pool); // paused workers are released and the pool terminates
        assert_eq!(settle_threads("uct-pause", 0), 0);
    });
}

#[test]
fn a_broadcast_from_another_thread_waits_for_worker_zero_to_wait_in_the_pool() {
    watchdog("broadcast from elsewhere", LIMIT, || {
        let pool = caller_pool(2, "uct-bcast");
        let other = pool.handle();
        let caster = thread::spawn(move || {
            let mut v =
                other.broadcast(|ctx| (ctx.index(), thread::current().name().map(str::to_owned)));
            v.sort();
            v
        });
        // Worker 0's call runs here once this thread waits in the pool.
        while !caster.is_finished() {
            corepool::yield_now();
            thread::sleep(Duration::from_millis(1));
        }
        let v = caster.join().unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], (0, thread::current().name().map(str::to_owned)));
        assert_eq!(v[1].0, 1);
    });
}

#[test]
fn shutdown_racing_outside_submitters_and_worker_zero_loses_nothing() {
    watchdog("shutdown race", LIMIT, || {
        for round in 0..30 {
            let pool = caller_pool(2, "uct-race");
            let ran = Arc::new(AtomicUsize::new(0));
            let accepted = Arc::new(AtomicUsize::new(0));
            let submitter = {
                let (handle, ran, accepted) = (pool.handle(), ran.clone(), accepted.clone());
                thread::spawn(move || {
                    for _ in 0..2_000 {
                        let ran = ran.clone();
                        if handle
                            .try_spawn(move || {
                                ran.fetch_add(1, Ordering::Relaxed);
                            })
                            .is_ok()
                        {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            };
            for _ in 0..500 {
                let ran = ran.clone();
                accepted.fetch_add(1, Ordering::Relaxed);
                corepool::spawn(move || {
                    ran.fetch_add(1, Ordering::Relaxed);
                });
            }
            let watcher = pool.handle();
            if round % 2 == 0 {
                pool.shutdown_now();
            } else {
                drop(pool);
            }
            submitter.join().unwrap();
            // Every task accepted ran or was cancelled (shutdown_now); none is left over.
            let m = watcher.metrics();
            assert_eq!(m.submitted, m.completed + m.cancelled, "round {round}: {m}");
            assert_eq!(
                m.completed,
                ran.load(Ordering::Relaxed) as u64,
                "round {round}: {m}"
            );
            assert!(
                m.submitted <= accepted.load(Ordering::Relaxed) as u64,
                "round {round}: {m}"
            );
            if round % 2 == 1 {
                assert_eq!(m.cancelled, 0, "round {round}: {m}");
            }
            assert_eq!(corepool::current_thread_index(), None, "round {round}");
        }
        assert_eq!(settle_threads("uct-race", 0), 0);
    });
}

#[test]
fn submissions_from_the_building_thread_racing_a_shutdown_elsewhere_run_or_come_back() {
    watchdog("building-thread submits vs shutdown", LIMIT, || {
        for round in 0..30 {
            let pool = caller_pool(2, "uct-submit-race");
            let barrier = Arc::new(Barrier::new(2));
            let stopper = {
                let (pool, barrier) = (pool.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    pool.shutdown();
                })
            };
            let ran = Arc::new(AtomicUsize::new(0));
            let (mut accepted, mut handles) = (0u64, Vec::new());
            barrier.wait();
            for i in 0..1_000u64 {
                let r = ran.clone();
                let task = move || {
                    r.fetch_add(1, Ordering::Relaxed);
                };
                if i % 2 == 0 {
                    accepted += u64::from(pool.try_spawn(task).is_ok());
                } else {
                    handles.push(pool.submit(task));
                }
            }
            stopper.join().unwrap();
            // Each handle has its answer: ran, or rejected by the shut-down pool.
            for h in handles {
                match h.join() {
                    Ok(()) => accepted += 1,
                    Err(TaskError::Rejected) => {}
                    Err(e) => panic!("round {round}: {e:?}"),
                }
            }
            drop(pool);
            assert_eq!(
                ran.load(Ordering::Relaxed) as u64,
                accepted,
                "round {round}"
            );
            assert_eq!(corepool::current_thread_index(), None, "round {round}");
        }
    });
}

/// A join's `b` on worker 0 reaches the idle worker in every call into the pool. Between
/// calls the other worker sleeps, and it asked worker 0 for work on its way there; that ask
/// must not be lost to a promotion worker 0 took back itself (`sched/heartbeat.rs`,
/// *Knocks*), since nothing else wakes it: a call on the building thread pushes nothing
/// anywhere until worker 0 promotes. Here `a` waits for `b` to start on the other worker,
/// joining as it waits (a join is where worker 0 answers a knock): with the ask lost, it
/// would wait forever.
#[test]
fn a_join_on_worker_zero_reaches_the_idle_worker_in_every_call() {
    watchdog("knocks are not lost", LIMIT, || {
        let pool = caller_pool(2, "uct-knock");
        for _ in 0..2_000 {
            let started = AtomicBool::new(false);
            let (_, b_ran_on) = pool.install(|| {
                corepool::join(
                    || {
                        // ORDERING: Acquire pairs with b's Release store.
                        while !started.load(Ordering::Acquire) {
                            corepool::join(|| (), || ());
                            std::hint::spin_loop();
                        }
                    },
                    || {
                        // ORDERING: Release: publishes that b started.
                        started.store(true, Ordering::Release);
                        corepool::current_thread_index()
                    },
                )
            });
            assert_eq!(b_ran_on, Some(1), "a waits, so b runs on the other worker");
        }
    });
}
