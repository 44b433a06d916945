//! Bad input: every invalid configuration gets a typed error, and every hostile task —
//! panicking handlers, odd payloads, panicking drops, deep nesting, self-waits, submissions
//! from a `Drop` during shutdown — gets documented behaviour, never a hang or UB. Every test
//! that could hang runs under a watchdog.

mod common;

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::Duration;

use common::watchdog;
use corepool::{
    panic_message, BuildError, Origin, Pool, Sizing, TaskError, TrySubmitError, ENV_BLOCKING_IO,
    ENV_CORES, ENV_PER_CORE, ENV_PIN, ENV_SPIN_US, MAX_THREADS,
};

const LIMIT: Duration = Duration::from_secs(60);

/// The env test writes the process environment, which every build reads: it takes this for
/// writing, every other test for reading.
static ENV: RwLock<()> = RwLock::new(());

fn env_read() -> std::sync::RwLockReadGuard<'static, ()> {
    ENV.read().unwrap_or_else(|e| e.into_inner())
}

fn pool(cores: usize) -> Pool {
    named_pool(cores, "corepool-cpu-")
}

/// A pool whose workers are named `{prefix}{i}`, so a test can count its own threads.
fn named_pool(cores: usize, prefix: &'static str) -> Pool {
    Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(cores)
                .oversubscribe(true)
                .per_core(1)
                .blocking_io(0),
        )
        .pin_workers(false)
        .thread_name(move |i| format!("{prefix}{i}"))
        .build()
        .unwrap()
}

/// Which errors the docs allow for one configuration (several may apply at once; any of
/// them is a fine answer), or `None` if it is valid.
fn allowed_errors(
    cores: usize,
    per_core: usize,
    blocking: usize,
    queue: Option<usize>,
    blocking_queue: Option<usize>,
    oversubscribe: bool,
) -> Option<Vec<&'static str>> {
    let mut allowed = Vec::new();
    if !oversubscribe && cores > corepool::detect_cores().cpus().len().max(1) {
        allowed.push("CoresBeyondAllowed");
    }
    if queue == Some(0) || blocking_queue == Some(0) {
        allowed.push("ZeroQueueCapacity");
    }
    if cores == 0 {
        allowed.push("ZeroCores");
    }
    if per_core == 0 {
        allowed.push("ZeroPerCore");
    }
    let total = cores
        .checked_mul(per_core)
        .and_then(|w| w.checked_add(blocking));
    // With a zero factor the total is small, so TooManyThreads only applies without one.
    if cores != 0 && per_core != 0 && total.is_none_or(|t| t > MAX_THREADS) {
        allowed.push("TooManyThreads");
    }
    (!allowed.is_empty()).then_some(allowed)
}

fn error_name(e: &BuildError) -> &'static str {
    match e {
        BuildError::ZeroCores { .. } => "ZeroCores",
        BuildError::ZeroPerCore { .. } => "ZeroPerCore",
        BuildError::TooManyThreads { .. } => "TooManyThreads",
        BuildError::CoresBeyondAllowed { .. } => "CoresBeyondAllowed",
        BuildError::InvalidEnv { .. } => "InvalidEnv",
        BuildError::ZeroQueueCapacity => "ZeroQueueCapacity",
        BuildError::InvalidThreadName { .. } => "InvalidThreadName",
        BuildError::Spawn(_) => "Spawn",
        _ => "unknown",
    }
}

#[test]
fn every_invalid_builder_combination_is_a_typed_error() {
    let _env = env_read();
    let cores = [0, 1, 2, MAX_THREADS, MAX_THREADS + 1, usize::MAX];
    let per_core = [0, 1, 2, usize::MAX / 2, usize::MAX];
    let blocking = [0, 1, MAX_THREADS - 4, MAX_THREADS, usize::MAX];
    let queue = [None, Some(0), Some(1), Some(usize::MAX)];
    let (mut tried, mut refused, mut built) = (0u64, 0u64, 0u64);
    for &c in &cores {
        for &k in &per_core {
            for &b in &blocking {
                for &q in &queue {
                    for &bq in &queue {
                        // Half the combinations opt in to more cores than CPUs.
                        let over = bq.is_some();
                        let expected = allowed_errors(c, k, b, q, bq, over);
                        // Valid plans with thousands of CPU workers would start them all:
                        // check those through `Sizing::plan`, which starts nothing.
                        let heavy = expected.is_none() && c.saturating_mul(k) > 4;
                        tried += 1;
                        let sizing = Sizing::cpu_bound()
                            .cores(c)
                            .per_core(k)
                            .blocking_io(b)
                            .oversubscribe(over);
                        if heavy {
                            assert!(sizing.plan(false).is_ok(), "{c} x {k} + {b}");
                            continue;
                        }
                        let mut builder = Pool::builder().sizing(sizing).pin_workers(false);
                        if let Some(q) = q {
                            builder = builder.queue_capacity(q);
                        }
                        if let Some(bq) = bq {
                            builder = builder.blocking_queue_capacity(bq);
                        }
                        match (builder.build(), expected) {
                            (Ok(pool), None) => {
                                built += 1;
                                assert_eq!(pool.submit(|| 7).join().unwrap(), 7);
                            }
                            (Err(e), Some(allowed)) => {
                                refused += 1;
                                assert!(
                                    allowed.contains(&error_name(&e)),
                                    "{c} x {k} + {b}, queue {q:?}/{bq:?}: {e:?} not in {allowed:?}"
                                );
                                assert!(!e.to_string().is_empty());
                                if let BuildError::ZeroCores { origin }
                                | BuildError::ZeroPerCore { origin } = e
                                {
                                    assert_eq!(origin, Origin::Code);
                                }
                                if let BuildError::TooManyThreads { total, limit } = e {
                                    assert_eq!(limit, MAX_THREADS);
                                    assert!(total > MAX_THREADS, "saturating total {total}");
                                }
                            }
                            (Ok(_), Some(allowed)) => panic!(
                                "{c} x {k} + {b}, queue {q:?}/{bq:?} built, expected {allowed:?}"
                            ),
                            (Err(e), None) => {
                                panic!("{c} x {k} + {b}, queue {q:?}/{bq:?} refused: {e}")
                            }
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "figures: builder combinations tried {tried} (refused {refused}, built {built}, \
         valid heavy plans checked without starting {})",
        tried - refused - built
    );
    assert!(refused > 0 && built > 0);
}

#[test]
fn every_invalid_environment_value_names_its_variable() {
    let _env = ENV.write().unwrap_or_else(|e| e.into_inner());
    let vars = [ENV_CORES, ENV_PER_CORE, ENV_BLOCKING_IO];
    let bad = [
        "abc",
        "1.5",
        "-1",
        "+-2",
        "0x10",
        "1e3",
        "99999999999999999999999999",
        "٣", // a digit, but not an ASCII one
        "2 2",
    ];
    let mut tried = 0;
    for var in vars {
        for value in bad {
            for v in vars {
                std::env::remove_var(v);
            }
            std::env::set_var(var, value);
            tried += 1;
            match Pool::builder().pin_workers(false).build() {
                Err(BuildError::InvalidEnv {
                    var: named,
                    value: held,
                }) => {
                    assert_eq!(named, var);
                    assert_eq!(held, value);
                }
                other => panic!("{var}={value:?}: {other:?}"),
            }
            // Code that sets the field overrides a bad variable.
            let sizing = Sizing::cpu_bound().cores(1).per_core(1).blocking_io(0);
            let pool = Pool::builder().sizing(sizing).pin_workers(false).build();
            assert!(pool.is_ok(), "{var}={value:?} with the field set in code");
        }
        // Blank means unset; surrounding spaces are trimmed.
        for (value, ok) in [("", true), ("   ", true), (" 1 ", true)] {
            std::env::set_var(var, value);
            tried += 1;
            assert_eq!(
                Pool::builder().pin_workers(false).build().is_ok(),
                ok,
                "{var}={value:?}"
            );
        }
        std::env::remove_var(var);
    }
    // Zeros and overflows from the environment name the variable.
    std::env::set_var(ENV_CORES, "0");
    tried += 1;
    assert!(matches!(
        Pool::builder().build(),
        Err(BuildError::ZeroCores { origin: Origin::Env(v) }) if v == ENV_CORES
    ));
    std::env::set_var(ENV_CORES, "1");
    std::env::set_var(ENV_PER_CORE, usize::MAX.to_string());
    std::env::set_var(ENV_BLOCKING_IO, usize::MAX.to_string());
    tried += 1;
    assert!(matches!(
        Pool::builder().build(),
        Err(BuildError::TooManyThreads {
            total: usize::MAX,
            ..
        })
    ));
    for v in vars {
        std::env::remove_var(v);
    }
    // The switch and the spin window: each bad value is a typed error naming its variable;
    // setting the field in code overrides it; blank means unset.
    let switches = ["2", "-1", "tru", "yes please", "oui", "٣", "0x1", "on off"];
    for (var, bad) in [(ENV_PIN, &switches[..]), (ENV_SPIN_US, &bad[..])] {
        for value in bad {
            std::env::set_var(var, value);
            tried += 1;
            match Pool::builder().build() {
                Err(BuildError::InvalidEnv {
                    var: named,
                    value: held,
                }) => {
                    assert_eq!(named, var);
                    assert_eq!(held, *value);
                }
                other => panic!("{var}={value:?}: {other:?}"),
            }
            let in_code = Pool::builder()
                .pin_workers(false)
                .spin_before_park(std::time::Duration::ZERO)
                .build();
            assert!(
                in_code.is_ok(),
                "{var}={value:?} with the field set in code"
            );
        }
        for value in ["", "  ", " 1 "] {
            std::env::set_var(var, value);
            tried += 1;
            assert!(Pool::builder().build().is_ok(), "{var}={value:?}");
        }
        std::env::remove_var(var);
    }
    eprintln!("figures: environment values tried {tried}");
}

#[test]
fn a_panicking_panic_handler_is_survived() {
    let _env = env_read();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1).per_core(1).blocking_io(0))
        .pin_workers(false)
        .panic_handler(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            panic!("the handler panics too");
        })
        .build()
        .unwrap();
    watchdog("panicking handler", LIMIT, move || {
        for _ in 0..100 {
            pool.spawn(|| panic!("task panic"));
        }
        // The only worker survived all hundred: it still runs work.
        assert_eq!(pool.submit(|| 5).join().unwrap(), 5);
        pool.shutdown();
        let m = pool.metrics();
        assert_eq!(calls.load(Ordering::SeqCst), 100);
        assert_eq!((m.panicked, m.completed, m.submitted), (100, 1, 101));
    });
}

/// Panic payloads that panic when dropped — the handler's own, and a spawned task's
/// with no handler, where the pool drops it: the worker must not unwind and die.
#[test]
fn panic_payloads_that_panic_when_dropped_are_survived() {
    let _env = env_read();
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("payload dropped");
            }
        }
    }
    let pool = pool(1);
    watchdog("task payload bomb, no handler", LIMIT, move || {
        pool.spawn(|| std::panic::panic_any(Bomb));
        pool.spawn(|| std::panic::panic_any(Bomb));
        assert_eq!(pool.submit(|| 5).join().unwrap(), 5);
        // Two scope tasks panic with bombs: one is resumed, the other dropped by the pool.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.scope(|s| {
                s.spawn(|_| std::panic::panic_any(Bomb));
                s.spawn(|_| std::panic::panic_any(Bomb));
            })
        }));
        let payload = r.expect_err("the scope resumes a panic");
        assert!(payload.downcast_ref::<Bomb>().is_some());
        std::mem::forget(payload);
        assert_eq!(pool.submit(|| 6).join().unwrap(), 6);
        pool.shutdown();
        let m = pool.metrics();
        assert!(m.panicked >= 2, "{m:?}");
        assert_eq!(m.submitted, m.completed + m.panicked, "{m:?}");
    });
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1).per_core(1).blocking_io(0))
        .pin_workers(false)
        .panic_handler(|_| std::panic::panic_any(Bomb))
        .build()
        .unwrap();
    // The handler's own panic payload is a bomb too.
    watchdog("handler payload bomb", LIMIT, move || {
        pool.spawn(|| panic!("task panic"));
        assert_eq!(pool.submit(|| 6).join().unwrap(), 6);
        pool.shutdown();
        assert_eq!(pool.metrics().panicked, 1);
    });
}

#[test]
fn non_string_panic_payloads_reach_handle_and_handler_intact() {
    let _env = env_read();
    let seen: Arc<Mutex<Vec<Box<dyn Any + Send>>>> = Arc::default();
    let s = seen.clone();
    let pool = Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(2)
                .oversubscribe(true)
                .per_core(1)
                .blocking_io(0),
        )
        .pin_workers(false)
        .panic_handler(move |p| s.lock().unwrap().push(p))
        .build()
        .unwrap();
    #[derive(Debug, PartialEq)]
    struct Custom(u32, &'static str);
    let p = pool.clone();
    watchdog("odd payloads", LIMIT, move || {
        let h = p.submit(|| -> u8 { std::panic::panic_any(Custom(7, "seven")) });
        match h.join() {
            Err(TaskError::Panicked(mut payload)) => {
                assert_eq!(payload.message(), "<non-string panic payload>");
                assert_eq!(
                    payload.payload_mut().downcast_ref::<Custom>(),
                    Some(&Custom(7, "seven"))
                );
            }
            other => panic!("{other:?}"),
        }
        let h = p.submit(|| std::panic::panic_any(()));
        assert!(h.join().unwrap_err().is_panic());
        p.spawn(|| std::panic::panic_any(42u64));
        p.spawn(|| std::panic::panic_any(Box::new(vec![1u8, 2, 3])));
        p.spawn(|| std::panic::panic_any(String::from("a String")));
        p.shutdown();
    });
    let mut got = seen.lock().unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.iter().any(|p| p.downcast_ref::<u64>() == Some(&42)));
    assert!(got.iter().any(|p| p
        .downcast_ref::<Box<Vec<u8>>>()
        .is_some_and(|v| **v == [1, 2, 3])));
    assert!(got.iter().any(|p| panic_message(&**p) == "a String"));
    got.clear();
    assert_eq!(pool.metrics().panicked, 5);
}

/// Panics on drop, unless already unwinding (a double panic would abort the process).
struct PanicOnDrop(&'static str);
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

#[test]
fn a_task_whose_capture_panics_when_dropped_after_running_is_a_task_panic() {
    let _env = env_read();
    let pool = pool(1);
    watchdog("panicking drop after run", LIMIT, move || {
        let bomb = PanicOnDrop("dropped after running");
        let h = pool.submit(move || {
            let _keep = &bomb;
            1
        });
        match h.join() {
            Err(TaskError::Panicked(p)) => assert_eq!(p.message(), "dropped after running"),
            other => panic!("{other:?}"),
        }
        // A result value that panics when the handle drops it: in the caller, where it belongs.
        let h = pool.submit(|| PanicOnDrop("result dropped"));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(h.join())));
        assert!(r.is_err());
        assert_eq!(pool.submit(|| 2).join().unwrap(), 2);
        pool.shutdown();
        let m = pool.metrics();
        assert_eq!((m.completed, m.panicked), (2, 1));
    });
}

/// A queued task whose capture panics when dropped unrun: cancelled by its handle, a token,
/// `shutdown_now`, or refused after shutdown. Documented behaviour: the panic is reported on
/// stderr and goes no further; the task counts as cancelled (or rejected), its handle says
/// so, and no worker dies.
#[test]
fn a_task_whose_capture_panics_when_dropped_unrun_leaves_the_pool_consistent() {
    let _env = env_read();
    let pool = named_pool(1, "bi-unrun-");
    watchdog("panicking drop unrun", LIMIT, move || {
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let busy = pool.submit(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        started.recv().unwrap();
        // Cancelled through its handle: whatever `cancel` does with the panic, the task
        // counts as cancelled and never runs.
        let bomb = PanicOnDrop("dropped by cancel");
        let queued = pool.submit(move || drop(bomb));
        let cancel = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| queued.cancel()));
        let token = corepool::CancelToken::new();
        let bomb = PanicOnDrop("dropped by token");
        let by_token = pool.submit_with(&token, move || drop(bomb));
        let token_cancel =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| token.cancel()));
        // Left in the queue for shutdown_now (a spawn and a submit).
        let bomb = PanicOnDrop("dropped by shutdown_now (spawn)");
        pool.spawn(move || drop(bomb));
        let bomb = PanicOnDrop("dropped by shutdown_now (submit)");
        let left = pool.submit(move || drop(bomb));
        release.send(()).unwrap();
        busy.join().unwrap();
        assert!(
            matches!(cancel, Ok(true)),
            "cancel: {:?}",
            cancel.map_err(|p| panic_message(&*p).to_owned())
        );
        assert!(token_cancel.is_ok(), "a token cancel does not unwind");
        assert!(matches!(queued.join(), Err(TaskError::Cancelled)));
        assert!(matches!(by_token.join(), Err(TaskError::Cancelled)));
        let stop = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.shutdown_now()));
        let report = stop.expect("shutdown_now does not unwind");
        // The last one either ran (its drop then panics inside the task) or was cancelled.
        match left.join() {
            Err(TaskError::Cancelled) => {}
            Err(TaskError::Panicked(p)) => {
                assert_eq!(p.message(), "dropped by shutdown_now (submit)")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            report.submitted,
            report.ran() + report.cancelled,
            "{report:?}"
        );
        // Refused after shutdown: dropped quietly too.
        let bomb = PanicOnDrop("dropped on rejection");
        let rejected = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.spawn(move || drop(bomb));
        }));
        assert!(
            rejected.is_ok(),
            "a refused spawn does not unwind into the caller"
        );
        let m = pool.metrics();
        assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m:?}");
        assert_eq!(
            (m.completed, m.rejected),
            (1, 1),
            "only the busy task completed: {m:?}"
        );
        assert!(m.cancelled >= 2, "{m:?}");
        assert_eq!(common::settle_threads("bi-unrun-", 0), 0);
    });
}

#[test]
fn join_and_scope_nested_three_pools_deep() {
    let _env = env_read();
    let (a, b, c) = (pool(1), pool(1), pool(1));
    watchdog("three pools deep", LIMIT, move || {
        let data: Vec<u64> = (1..=300).collect();
        // a.install -> b.join -> c.scope -> corepool::join, one worker each: every level
        // waits on the next.
        let (left, right) = a.install(|| {
            b.join(
                || {
                    let sum = AtomicUsize::new(0);
                    c.scope(|s| {
                        for chunk in data[..150].chunks(10) {
                            let sum = &sum;
                            s.spawn(move |_| {
                                let (x, y) = corepool::join(
                                    || chunk[..5].iter().sum::<u64>(),
                                    || chunk[5..].iter().sum::<u64>(),
                                );
                                sum.fetch_add((x + y) as usize, Ordering::Relaxed);
                            });
                        }
                    });
                    sum.into_inner() as u64
                },
                || {
                    let (x, y) = c.join(|| data[150..].iter().sum::<u64>(), || 0);
                    x + y
                },
            )
        });
        assert_eq!(left + right, 45_150);
        // a.join -> b.scope -> c.join and c.scope -> corepool::join.
        let out = AtomicUsize::new(0);
        let ((), total) = a.join(
            || {
                b.scope(|s| {
                    s.spawn(|_| {
                        let (x, y) = c.join(|| 1, || 2);
                        out.fetch_add(x + y, Ordering::Relaxed);
                    });
                    s.spawn(|_| {
                        c.scope(|s2| {
                            s2.spawn(|_| {
                                let (x, y) = corepool::join(|| 3, || 4);
                                out.fetch_add(x + y, Ordering::Relaxed);
                            });
                            s2.spawn(|_| {
                                out.fetch_add(5, Ordering::Relaxed);
                            });
                        });
                    });
                })
            },
            || data.iter().sum::<u64>(),
        );
        assert_eq!((out.into_inner(), total), (15, 45_150));
    });
}

/// A worker of pool A that calls `b.install` (or `b.join`/`b.scope`) keeps running A's work
/// while it waits, so work that comes back into A meanwhile — here from inside C — is run by
/// the very worker that waits: even with one worker in A, no deadlock.
#[test]
fn nesting_that_cycles_back_into_a_one_worker_pool() {
    let _env = env_read();
    let (a, b, c) = (pool(1), pool(1), pool(1));
    watchdog("a -> b -> c -> a", LIMIT, move || {
        let v = a.install(|| b.join(|| c.scope(|_| a.install(|| 1)), || 2));
        assert_eq!(v, (1, 2));
    });
}

#[test]
fn waiting_on_a_handle_inside_a_one_worker_pool_helps_instead_of_deadlocking() {
    let _env = env_read();
    let pool = pool(1);
    watchdog("one-worker self-wait", LIMIT, move || {
        // A child spawned from inside and joined.
        let p = pool.clone();
        let outer = pool.submit(move || p.submit(|| 20).join().unwrap() + 1);
        assert_eq!(outer.join().unwrap(), 21);
        // A sibling submitted from outside after the waiter started: it sits in the
        // injector, and the only worker is the waiter.
        let slot: Arc<Mutex<Option<corepool::JoinHandle<u32>>>> = Arc::default();
        let (started_tx, started) = mpsc::channel();
        let s = slot.clone();
        let waiter = pool.submit(move || {
            started_tx.send(()).unwrap();
            let handle = loop {
                if let Some(h) = s.lock().unwrap().take() {
                    break h;
                }
                std::thread::yield_now();
            };
            handle.join().unwrap() * 2
        });
        started.recv().unwrap();
        *slot.lock().unwrap() = Some(pool.submit(|| 21));
        assert_eq!(waiter.join().unwrap(), 42);
        // Ten levels of a task waiting for its own child.
        fn depth(p: Pool, n: u32) -> u32 {
            if n == 0 {
                return 0;
            }
            let q = p.clone();
            p.submit(move || depth(q, n - 1)).join().unwrap() + 1
        }
        let p = pool.clone();
        assert_eq!(pool.submit(move || depth(p, 10)).join().unwrap(), 10);
        // Awaiting a handle as a future from inside the pool: polled, not blocked.
        pool.shutdown();
    });
}

/// A value whose `Drop` submits to the pool, dropped while the pool shuts down: when
/// `shutdown_now` discards the task holding it, and when a task holding it ends during a
/// draining `shutdown`. Submitting must answer (refused, or accepted and run), never hang.
#[test]
fn submitting_from_a_drop_during_shutdown_never_hangs() {
    let _env = env_read();
    struct SubmitOnDrop {
        pool: Pool,
        outcomes: Arc<Mutex<Vec<&'static str>>>,
    }
    impl Drop for SubmitOnDrop {
        fn drop(&mut self) {
            // Each outcome is known before the lock is taken: a `join` on a worker runs other
            // tasks while it waits — here, other guards' drops, which take the same lock.
            let o = &self.outcomes;
            let tried = match self.pool.try_submit(|| ()) {
                Ok(h) => match h.join() {
                    Ok(()) => "try_submit ran",
                    Err(TaskError::Cancelled) => "try_submit cancelled",
                    Err(_) => "try_submit other",
                },
                Err(TrySubmitError::ShutDown(_)) => "try_submit shut down",
                Err(_) => "try_submit full or timeout",
            };
            o.lock().unwrap().push(tried);
            let submitted = match self.pool.submit(|| ()).join() {
                Ok(()) => "submit ran",
                Err(TaskError::Rejected) => "submit rejected",
                Err(TaskError::Cancelled) => "submit cancelled",
                Err(_) => "submit other",
            };
            o.lock().unwrap().push(submitted);
            self.pool.spawn(|| ());
        }
    }
    for mode in ["shutdown_now", "shutdown", "drop last handle"] {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).per_core(1).blocking_io(0))
            .pin_workers(false)
            .queue_capacity(4)
            .thread_name(|i| format!("bi-subdrop-{i}"))
            .build()
            .unwrap();
        let outcomes: Arc<Mutex<Vec<&'static str>>> = Arc::default();
        let o = outcomes.clone();
        watchdog(mode, LIMIT, move || {
            let (started_tx, started) = mpsc::channel();
            let (release, release_rx) = mpsc::channel::<()>();
            pool.spawn(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started.recv().unwrap();
            // Queued behind the busy worker, each holding a value that submits on drop.
            for _ in 0..3 {
                let guard = SubmitOnDrop {
                    pool: pool.clone(),
                    outcomes: o.clone(),
                };
                pool.spawn(move || drop(guard));
            }
            release.send(()).unwrap();
            match mode {
                "shutdown_now" => {
                    pool.shutdown_now();
                }
                "shutdown" => pool.shutdown(),
                _ => drop(pool),
            }
        });
        // With the last handle dropped from the test, the pool's real last handle is in a
        // guard: the pool finishes on its own, so wait for its threads before counting.
        assert_eq!(common::settle_threads("bi-subdrop-", 0), 0, "{mode}");
        let got = outcomes.lock().unwrap();
        eprintln!("{mode}: {got:?}");
        assert_eq!(got.len(), 6, "{mode}: every drop answered both submissions");
    }
}

/// `shutdown`, `shutdown_now` or the last handle's drop called from one of the pool's own
/// blocking-lane tasks: like from a CPU task, it starts the shutdown and returns (the lane
/// thread cannot wait for itself), and every thread still leaves.
#[test]
fn shutdown_from_a_blocking_lane_task_does_not_wait_for_itself() {
    // Alone in the binary: lane threads are all named `corepool-io-*`, and this counts them.
    let _env = ENV.write().unwrap_or_else(|e| e.into_inner());
    for how in ["shutdown", "shutdown_now", "last handle"] {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).per_core(1).blocking_io(2))
            .pin_workers(false)
            .thread_name(|i| format!("bi-lane-{i}"))
            .build()
            .unwrap();
        watchdog(how, LIMIT, move || {
            let p = pool.clone();
            let (done_tx, done) = mpsc::channel();
            let h = pool.spawn_blocking(move || {
                match how {
                    "shutdown" => p.shutdown(),
                    "shutdown_now" => drop(p.shutdown_now()),
                    _ => drop(p),
                }
                done_tx.send(()).unwrap();
                7
            });
            if how == "last handle" {
                drop(pool);
                assert_eq!(h.join().unwrap(), 7);
            } else {
                assert_eq!(h.join().unwrap(), 7);
                assert!(pool.is_shut_down());
                pool.shutdown(); // from outside: waits for the rest
            }
            done.recv().unwrap();
        });
        assert_eq!(common::settle_threads("bi-lane-", 0), 0, "{how}");
        assert_eq!(common::settle_threads("corepool-io-", 0), 0, "{how}");
    }
}

/// Shutting down, or dropping the last handle, from a CPU task of the pool itself.
#[test]
fn shutdown_and_last_drop_from_inside_the_pool() {
    let _env = env_read();
    for how in ["shutdown", "shutdown_now", "last handle"] {
        let pool = named_pool(2, "bi-inside-");
        watchdog(how, LIMIT, move || {
            let p = pool.clone();
            let (done_tx, done) = mpsc::channel();
            match how {
                "last handle" => {
                    pool.spawn(move || {
                        drop(p);
                        done_tx.send(()).unwrap();
                    });
                    drop(pool);
                }
                _ => {
                    let h = pool.submit(move || {
                        if how == "shutdown" {
                            p.shutdown()
                        } else {
                            p.shutdown_now();
                        }
                        done_tx.send(()).unwrap();
                    });
                    h.join().unwrap();
                    pool.shutdown();
                }
            }
            done.recv().unwrap();
        });
        assert_eq!(common::settle_threads("bi-inside-", 0), 0, "{how}");
    }
}

/// Extreme but legal values: zero and maximal durations and counts are accepted and behave
/// as documented (clamped, capped, or waiting without a deadline), never overflowing.
#[test]
fn extreme_durations_and_counts_are_clamped_not_overflowed() {
    let _env = env_read();
    // An endless spin window too: the last searcher never sleeps while idle, yet pausing and
    // shutdown still reach it.
    for (keep_alive, spin) in [
        (Duration::ZERO, Duration::MAX),
        (Duration::MAX, Duration::ZERO),
    ] {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).per_core(2).blocking_io(1))
            .pin_workers(false)
            .spin_before_park(spin)
            .prestart_blocking(true)
            .blocking_keep_alive(keep_alive)
            .queue_capacity(usize::MAX)
            .blocking_queue_capacity(usize::MAX)
            .build()
            .unwrap();
        watchdog("extreme values", LIMIT, move || {
            for _ in 0..3 {
                assert_eq!(pool.spawn_blocking(|| 1).join().unwrap(), 1);
            }
            assert_eq!(pool.set_active_workers(0), 1);
            assert_eq!(pool.set_active_workers(usize::MAX), 2);
            pool.set_blocking_io(usize::MAX);
            assert_eq!(pool.metrics().blocking.max_threads, corepool::MAX_THREADS);
            pool.set_blocking_io(1);
            let h = pool.submit_timeout(|| 2, Duration::MAX).ok().unwrap();
            assert_eq!(h.join().unwrap(), 2);
            let h = pool.submit_timeout(|| 3, Duration::ZERO).ok().unwrap();
            assert_eq!(h.join().unwrap(), 3);
            assert!(pool.shutdown_timeout(Duration::MAX).is_ok());
            assert!(
                pool.shutdown_timeout(Duration::ZERO).is_ok(),
                "already shut down"
            );
            assert_eq!(pool.set_active_workers(2), pool.metrics().active_workers);
        });
    }
}

/// A thread name the OS cannot take (an interior NUL byte): a typed error, not a panic.
#[test]
fn a_thread_name_with_a_nul_byte_is_an_error_not_a_panic() {
    let _env = env_read();
    let built = std::panic::catch_unwind(|| {
        Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).per_core(1).blocking_io(0))
            .pin_workers(false)
            .thread_name(|i| format!("bad\0name-{i}"))
            .build()
            .map(drop)
    });
    match built {
        Ok(Err(BuildError::InvalidThreadName { name })) => assert_eq!(name, "bad\0name-0"),
        Ok(other) => panic!("{other:?}"),
        Err(p) => panic!("build panicked: {}", panic_message(&*p)),
    }
}
