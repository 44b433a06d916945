//! The contract a user leans on: errors that travel with `?`, refusals counted once, one
//! answer after shutdown, no silent oversubscription, no hang after a shutdown that gave up,
//! handles tasks can hold without keeping the pool alive, a detected self-deadlock.

mod common;

use std::error::Error;
use std::time::Duration;

use common::watchdog;
use corepool::{Pool, Sizing, SubmitError, TaskError, TrySubmitError};

const LIMIT: Duration = Duration::from_secs(30);

fn small_pool() -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1))
        .pin_workers(false)
        .panic_handler(|_| {})
        .build()
        .unwrap()
}

fn assert_send_sync_static<T: Send + Sync + 'static>() {}

type BoxError = Box<dyn Error + Send + Sync>;

#[test]
fn task_errors_travel_with_question_mark() {
    assert_send_sync_static::<TaskError>();
    assert_send_sync_static::<SubmitError>();
    let pool = small_pool();
    watchdog("errors with ?", LIMIT, move || {
        fn joined(pool: &Pool, fail: bool) -> Result<u32, BoxError> {
            let handle = pool.submit(move || {
                if fail {
                    panic!("task {}", u32::from(fail) + 6)
                } else {
                    3
                }
            });
            Ok(handle.join()?)
        }
        assert_eq!(joined(&pool, false).unwrap(), 3);
        let err = joined(&pool, true).unwrap_err();
        assert_eq!(err.to_string(), "task panicked: task 7");
        let err = *err.downcast::<TaskError>().unwrap();
        assert_eq!(err.panic_message(), Some("task 7"));
        // Shared between threads by reference: it is Sync.
        let shared = std::sync::Arc::new(err);
        let other = std::sync::Arc::clone(&shared);
        let msg = std::thread::spawn(move || other.to_string())
            .join()
            .unwrap();
        assert_eq!(msg, "task panicked: task 7");
        let err = std::sync::Arc::into_inner(shared).unwrap();
        assert_eq!(*err.into_panic().downcast::<String>().unwrap(), "task 7");

        let payload = pool
            .submit(|| std::panic::panic_any(11u16))
            .join()
            .unwrap_err()
            .try_into_panic()
            .unwrap();
        assert_eq!(*payload.downcast::<u16>().unwrap(), 11);
        assert!(matches!(
            TaskError::Cancelled.try_into_panic(),
            Err(TaskError::Cancelled)
        ));
        let not_a_panic = std::panic::catch_unwind(|| TaskError::Rejected.into_panic());
        assert!(not_a_panic.is_err());

        // A closure that is not Sync: the refusal still travels, without the closure.
        fn refused(pool: &Pool) -> Result<(), BoxError> {
            let cell = std::cell::Cell::new(1);
            pool.try_spawn(move || cell.set(2))
                .map_err(SubmitError::from)?;
            Ok(())
        }
        assert!(refused(&pool).is_ok());
        pool.shutdown();
        let err = refused(&pool).unwrap_err();
        assert_eq!(
            err.downcast_ref::<SubmitError>(),
            Some(&SubmitError::ShutDown)
        );
        assert_eq!(TrySubmitError::Timeout(()).reason(), SubmitError::Timeout);
    });
}

/// A pool whose one worker and one lane thread can be held busy, with room for one queued
/// task in the injector and one in the lane.
fn tight_pool(blocking_io: usize) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1).blocking_io(blocking_io))
        .pin_workers(false)
        .queue_capacity(1)
        .blocking_queue_capacity(1)
        .build()
        .unwrap()
}

/// Holds a worker (or lane thread) until dropped.
fn hold(start: impl FnOnce(Box<dyn FnOnce() + Send>)) -> std::sync::mpsc::Sender<()> {
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    start(Box::new(move || {
        started_tx.send(()).unwrap();
        let _ = released.recv();
    }));
    started.recv().unwrap();
    release
}

#[test]
fn every_refused_call_is_counted_once_as_refused() {
    let pool = tight_pool(1);
    watchdog("refused calls", LIMIT, move || {
        let p = pool.clone();
        let worker = hold(move |f| p.spawn(f));
        let queued = pool.submit(|| 1); // holds the injector's one slot
        let p = pool.clone();
        let lane_thread = hold(move |f| drop(p.spawn_blocking(f)));
        let lane_queued = pool.spawn_blocking(|| 2); // the lane queue's one slot
        let before = pool.metrics();
        assert_eq!((before.refused, before.rejected), (0, 0));

        assert!(matches!(
            pool.try_spawn(|| ()),
            Err(TrySubmitError::Full(_))
        ));
        assert_eq!(pool.metrics().refused, 1, "try_spawn");
        assert!(matches!(
            pool.try_submit(|| 3),
            Err(TrySubmitError::Full(_))
        ));
        assert_eq!(pool.metrics().refused, 2, "try_submit");
        let timed = pool.submit_timeout(|| 3, Duration::from_millis(1));
        assert!(matches!(timed, Err(TrySubmitError::Timeout(_))));
        assert_eq!(pool.metrics().refused, 3, "submit_timeout");
        let lane = pool.try_spawn_blocking(|| 3);
        assert!(matches!(lane, Err(TrySubmitError::Full(_))));
        let m = pool.metrics();
        assert_eq!(
            (m.refused, m.blocking.refused),
            (4, 1),
            "try_spawn_blocking"
        );
        assert!(m.to_string().contains("refused 4"), "{m}");

        drop(worker);
        drop(lane_thread);
        assert_eq!(queued.join().unwrap(), 1);
        assert_eq!(lane_queued.join().unwrap(), 2);
        pool.shutdown();
        let m = pool.metrics();
        // Refused calls were never accepted: the books still balance, and nothing was rejected.
        assert_eq!((m.refused, m.rejected), (4, 0));
        assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m:?}");
        assert_eq!(m.submitted, 4);
    });
}

/// One call of a synchronous helper, to run after shutdown.
type Call<'a> = Box<dyn FnOnce() + 'a>;

/// Runs `call`, which must panic, and returns the panic's message.
fn panic_of(call: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_err();
    corepool::panic_message(&*payload).to_owned()
}

#[test]
fn after_shutdown_every_call_answers_rejected_once_naming_itself() {
    let pool = tight_pool(0);
    watchdog("calls after shutdown", LIMIT, move || {
        pool.shutdown();
        let mut expected = 0;
        let mut counted = |what: &str| {
            expected += 1;
            assert_eq!(pool.metrics().rejected, expected, "{what} counted once");
        };
        // Handles report Rejected (spawn_blocking too, though this pool has no lane).
        pool.spawn(|| ());
        counted("spawn");
        assert!(matches!(pool.submit(|| 1).join(), Err(TaskError::Rejected)));
        counted("submit");
        let token = corepool::CancelToken::new();
        assert!(matches!(
            pool.submit_with(&token, || 1).join(),
            Err(TaskError::Rejected)
        ));
        counted("submit_with");
        assert!(matches!(
            pool.spawn_blocking(|| 1).join(),
            Err(TaskError::Rejected)
        ));
        counted("spawn_blocking");
        // The try_ forms hand the closure back as ShutDown.
        assert!(matches!(
            pool.try_spawn(|| ()),
            Err(TrySubmitError::ShutDown(_))
        ));
        counted("try_spawn");
        assert!(matches!(
            pool.try_submit(|| 1),
            Err(TrySubmitError::ShutDown(_))
        ));
        counted("try_submit");
        let timed = pool.submit_timeout(|| 1, Duration::from_secs(1));
        assert!(matches!(timed, Err(TrySubmitError::ShutDown(_))));
        counted("submit_timeout");
        assert!(matches!(
            pool.try_spawn_blocking(|| 1),
            Err(TrySubmitError::ShutDown(_))
        ));
        counted("try_spawn_blocking");
        assert_eq!(pool.try_install(|| 1), Err(SubmitError::ShutDown));
        counted("try_install");
        // The synchronous helpers have no value to give: they panic, naming the function.
        let items = [1, 2, 3];
        let mut mutable = [1, 2, 3];
        let calls: Vec<(&str, Call<'_>)> = vec![
            (
                "Pool::install",
                Box::new(|| {
                    let _ = pool.install(|| 1);
                }),
            ),
            (
                "Pool::join",
                Box::new(|| {
                    let _ = pool.join(|| 1, || 2);
                }),
            ),
            ("Pool::scope", Box::new(|| pool.scope(|_| ()))),
            (
                "Pool::map",
                Box::new(|| {
                    let _ = pool.map(&items, |x| x + 1);
                }),
            ),
            ("Pool::for_each", Box::new(|| pool.for_each(&items, |_| ()))),
            (
                "Pool::for_each_mut",
                Box::new(|| pool.for_each_mut(&mut mutable, |x| *x += 1)),
            ),
            (
                "Pool::for_each_index",
                Box::new(|| pool.for_each_index(0..3, |_| ())),
            ),
            (
                "Pool::reduce",
                Box::new(|| {
                    let _ = pool.reduce(&items, || 0, |a, x| a + x, |a, b| a + b);
                }),
            ),
            (
                "Batch::map",
                Box::new(|| {
                    let _ = pool.batch().map(&items, |x| *x);
                }),
            ),
            (
                "Batch::reduce",
                Box::new(|| {
                    let _ = pool
                        .batch()
                        .reduce(&items, || 0, |a, x| a + x, |a, b| a + b);
                }),
            ),
        ];
        for (name, call) in calls {
            let message = panic_of(call);
            assert!(
                message.starts_with(&format!(
                    "corepool: {name} called on a pool that has been shut down"
                )),
                "{name}: {message}"
            );
            counted(name);
        }
        // A JoinSet's tasks report Rejected too, each counted once.
        let mut set = pool.join_set();
        set.submit(|| 1);
        counted("JoinSet::submit");
        set.submit_blocking(|| 1);
        counted("JoinSet::submit_blocking");
        while let Some(result) = set.join_next() {
            assert!(matches!(result, Err(TaskError::Rejected)));
        }
        // A stream cannot complete: it panics, naming the call, counted once.
        let message = panic_of(|| {
            let _ = pool.stream(0..10u32).map(|x| x + 1).count();
        });
        assert!(message.contains("Pool::stream"), "{message}");
        counted("Pool::stream");
        let m = pool.metrics();
        assert_eq!((m.refused, m.submitted), (0, 0), "{m:?}");
    });
}

#[test]
fn join_blocking_on_the_last_free_worker_is_detected_in_debug_builds() {
    if !cfg!(debug_assertions) {
        return; // documented: release builds do not check (the wait would deadlock)
    }
    let pool = small_pool();
    watchdog("join_blocking self-deadlock", LIMIT, move || {
        // One worker waiting for a task queued on its own pool: detected, the outer task
        // panics with the explanation, and the inner task still runs.
        let p = pool.handle();
        let outer = pool.submit(move || p.submit(|| 7).join_blocking().unwrap());
        let err = outer.join().unwrap_err();
        let message = err.panic_message().unwrap();
        assert!(message.contains("JoinHandle::join_blocking"), "{message}");
        assert!(message.contains("would deadlock"), "{message}");

        // Not the last worker: two workers, one blocked on a task the other runs.
        let two = Pool::builder()
            .sizing(
                Sizing::cpu_bound()
                    .cores(2)
                    .oversubscribe(true)
                    .blocking_io(1),
            )
            .pin_workers(false)
            .build()
            .unwrap();
        let t = two.handle();
        let ok = two.submit(move || t.submit(|| 5).join_blocking().unwrap());
        assert_eq!(ok.join().unwrap(), 5);
        // One worker blocks on X, the other runs X, which blocks on Y queued behind it:
        // nobody would be left to run Y. Whichever wait completes the set is refused — X's
        // (X panics, and the outer task gets that as its error) or, when X blocked first,
        // the outer task's (it panics itself); either way nothing hangs.
        let t = two.handle();
        let outer = two.submit(move || {
            let inner = t.clone();
            let x = t.submit(move || inner.submit(|| 1).join_blocking().unwrap());
            x.join_blocking()
        });
        let err = match outer.join() {
            Ok(inner_result) => inner_result.unwrap_err(),
            Err(outer_panic) => outer_panic,
        };
        assert!(
            err.panic_message().unwrap().contains("would deadlock"),
            "{err}"
        );
        // When the outer task's wait was the refused one, X still waits for Y, which the
        // freed worker runs next: let that finish before the next case takes a worker.
        two.wait_idle();

        // Waiting on the blocking lane is not counted.
        let (go, gate) = std::sync::mpsc::channel::<()>();
        let (in_first, first_in) = std::sync::mpsc::channel();
        let t = two.handle();
        let first = two.submit(move || {
            let held = t.spawn_blocking(move || gate.recv().unwrap());
            in_first.send(()).unwrap();
            held.join_blocking().unwrap();
        });
        first_in.recv().unwrap();
        let t = two.handle();
        // The second worker blocks on a task queued behind it; it is not refused, since the
        // first will be free again once the lane task ends.
        let second = two.submit(move || t.submit(|| 1).join_blocking());
        go.send(()).unwrap();
        assert_eq!(second.join().unwrap().unwrap(), 1);
        first.join().unwrap();

        // A task of another pool, or one already running, is never refused.
        let other = small_pool();
        let p = pool.handle();
        let o = other.clone();
        let across = p.submit(move || o.submit(|| 3).join_blocking().unwrap());
        assert_eq!(across.join().unwrap(), 3);
        // The pools still work.
        assert_eq!(pool.submit(|| 1).join().unwrap(), 1);
        assert_eq!(two.install(|| 2), 2);
    });
}

/// A pool with one worker and one lane thread, each stuck in a task until the returned
/// senders are dropped.
fn pool_with_stuck_tasks(prefix: &'static str) -> (Pool, Vec<std::sync::mpsc::Sender<()>>) {
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1).blocking_io(1))
        .pin_workers(false)
        .thread_name(move |i| format!("{prefix}{i}"))
        .build()
        .unwrap();
    let p = pool.clone();
    let worker = hold(move |f| p.spawn(f));
    let p = pool.clone();
    let lane = hold(move |f| drop(p.spawn_blocking(f)));
    (pool, vec![worker, lane])
}

#[test]
fn dropping_after_a_shutdown_that_gave_up_does_not_block_again() {
    for (variant, prefix) in [
        ("shutdown_timeout", "gaveup-a-"),
        ("shutdown_now_timeout", "gaveup-b-"),
    ] {
        let (pool, stuck) = pool_with_stuck_tasks(prefix);
        let watcher = pool.handle();
        let gave_up = match variant {
            "shutdown_timeout" => pool.shutdown_timeout(Duration::from_millis(300)).is_err(),
            _ => pool
                .shutdown_now_timeout(Duration::from_millis(300))
                .is_err(),
        };
        assert!(gave_up, "{variant}: the stuck tasks cannot finish");
        assert_eq!(watcher.metrics().detached_threads, 0);
        // The drop does not wait for the stuck threads again: it detaches and reports them.
        watchdog("drop after a shutdown that gave up", LIMIT, move || {
            drop(pool)
        });
        let m = watcher.metrics();
        // The CPU worker and the lane thread, each stuck in its task.
        assert_eq!(m.detached_threads, 2, "{variant}: {m:?}");
        assert!(m.to_string().contains("detached threads: 2"), "{m}");
        assert!(watcher.is_shut_down());
        assert!(matches!(
            watcher.submit(|| 1).join(),
            Err(TaskError::Rejected)
        ));
        // Once their tasks return, the detached threads finish the shutdown on their own.
        drop(stuck);
        assert_eq!(common::settle_threads(prefix, 0), 0, "{variant}");
        // The lane thread leaves once its task returns (polled for at most 5 s, like
        // `settle_threads`: a thread that never leaves fails the assertion).
        for _ in 0..500 {
            if watcher.metrics().blocking.threads == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let m = watcher.metrics();
        assert_eq!(m.blocking.threads, 0, "{variant}: {m:?}");
        assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m:?}");
    }
    // Without a deadline that gave up, the drop still waits for everything accepted.
    let pool = small_pool();
    let watcher = pool.handle();
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..20 {
        let tx = tx.clone();
        pool.spawn(move || {
            std::thread::sleep(Duration::from_millis(1));
            tx.send(i).unwrap();
        });
    }
    drop(tx);
    watchdog("plain drop", LIMIT, move || drop(pool));
    assert_eq!(rx.iter().count(), 20);
    assert_eq!(watcher.metrics().detached_threads, 0);
}

#[test]
fn dropping_the_owner_runs_everything_accepted_while_tasks_hold_handles() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let ran = Arc::new(AtomicUsize::new(0));
    let pool = small_pool();
    let watcher = pool.handle();
    let r = ran.clone();
    watchdog("owner dropped under handles", LIMIT, move || {
        for _ in 0..200 {
            let (handle, ran) = (pool.handle(), r.clone());
            pool.spawn(move || {
                std::thread::sleep(Duration::from_micros(50));
                let inner = ran.clone();
                // Follow-up work through the handle the task holds: accepted (it comes from
                // inside the pool) even while the owner's drop is shutting down.
                handle.spawn(move || {
                    inner.fetch_add(1, Ordering::Relaxed);
                });
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        drop(pool);
    });
    assert_eq!(ran.load(Ordering::Relaxed), 400, "every accepted task ran");
    assert!(watcher.is_shut_down());
    let m = watcher.metrics();
    assert_eq!((m.submitted, m.completed), (400, 400));
    // A handle never kept the pool up, and submits after the owner is gone are rejected.
    assert!(matches!(
        watcher.submit(|| 1).join(),
        Err(TaskError::Rejected)
    ));
    assert!(matches!(
        watcher.try_spawn(|| ()),
        Err(TrySubmitError::ShutDown(_))
    ));
    assert!(format!("{watcher:?}").contains("owner: false"));
}

#[test]
fn wait_idle_drains_the_queues_and_leaves_the_pool_running() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let pool = Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(2)
                .oversubscribe(true)
                .blocking_io(2),
        )
        .pin_workers(false)
        .build()
        .unwrap();
    watchdog("wait_idle", LIMIT, move || {
        for round in 1..=3 {
            let done = Arc::new(AtomicUsize::new(0));
            for i in 0..300 {
                let (done, handle) = (done.clone(), pool.handle());
                pool.spawn(move || {
                    if i % 3 == 0 {
                        // Work spawned by work is waited for too, the lane's as well.
                        let d = done.clone();
                        handle.spawn(move || {
                            d.fetch_add(1, Ordering::Relaxed);
                        });
                        let d = done.clone();
                        drop(handle.spawn_blocking(move || {
                            d.fetch_add(1, Ordering::Relaxed);
                        }));
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                });
            }
            pool.wait_idle();
            assert_eq!(done.load(Ordering::Relaxed), 300 + 2 * 100, "round {round}");
            assert!(!pool.is_shut_down());
        }
        // From inside the pool it would wait for itself: refused with a message.
        let p = pool.handle();
        let err = pool.submit(move || p.wait_idle()).join().unwrap_err();
        assert!(err.panic_message().unwrap().contains("wait_idle"), "{err}");
        pool.shutdown();
        pool.wait_idle(); // nothing left: returns at once
    });
}

#[test]
fn cores_beyond_the_allowed_cpus_is_a_build_error_unless_opted_in() {
    let allowed = corepool::detect_cores().cpus().len().max(1);
    let err = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(allowed + 62))
        .build()
        .unwrap_err();
    match &err {
        corepool::BuildError::CoresBeyondAllowed {
            cores,
            allowed: a,
            origin,
        } => {
            assert_eq!((*cores, *a), (allowed + 62, allowed));
            assert_eq!(*origin, corepool::Origin::Code);
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&(allowed + 62).to_string()), "{text}");
    assert!(text.contains(&format!("only {allowed} CPU")), "{text}");
    assert!(text.contains("oversubscribe"), "{text}");
    // The opt-in builds them (the extra ones unpinned); per_core needs none.
    let over = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(allowed + 1).oversubscribe(true))
        .pin_workers(false)
        .build()
        .unwrap();
    assert_eq!(over.plan().cpu_workers(), allowed + 1);
    assert_eq!(over.install(|| 1), 1);
    let k = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(allowed).per_core(2))
        .pin_workers(false)
        .build()
        .unwrap();
    assert_eq!(k.plan().cpu_workers(), 2 * allowed);
}
