//! A property test: random sequences of pool operations (spawn, submit, try_submit, cancel,
//! join, set_active_workers, shutdown, shutdown_now) checked against a model of what must
//! have happened to every task — ran exactly once, or was cancelled (never ran), or was
//! refused (never ran, closure handed back or handle `Rejected`) — and of the counters.

mod common;

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corepool::{JoinHandle, Pool, Sizing, TaskError, TrySubmitError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Debug, Clone)]
enum Op {
    Spawn,
    Submit,
    TrySubmit,
    /// Cancel the handle at this index (modulo the handles still held).
    Cancel(usize),
    /// Join the handle at this index (modulo the handles still held).
    Join(usize),
    Resize(usize),
    Shutdown,
    ShutdownNow,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Spawn),
        6 => Just(Op::Submit),
        4 => Just(Op::TrySubmit),
        4 => any::<usize>().prop_map(Op::Cancel),
        3 => any::<usize>().prop_map(Op::Join),
        2 => (0usize..6).prop_map(Op::Resize),
        1 => Just(Op::Shutdown),
        1 => Just(Op::ShutdownNow),
    ]
}

/// What the model knows about one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Accepted; may run, or be cancelled by `shutdown_now`.
    Accepted,
    /// Accepted and must have run (a plain shutdown drained it, or its handle said so).
    MustRun,
    /// Cancelled before it started: must never run.
    Cancelled,
    /// Refused (after shutdown, or a full queue): must never run.
    Refused,
}

/// Totals over all cases, for the figures: tasks that ran, were cancelled, were refused.
static RAN: AtomicU64 = AtomicU64::new(0);
static CANCELLED: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);

struct Held {
    id: usize,
    handle: JoinHandle<usize>,
}

/// Joins a held handle and checks its outcome against the model: a value only if it was not
/// cancelled (it must then have run); `Cancelled` only if its handle or a `shutdown_now`
/// asked for it.
fn join_held(h: Held, expect: &mut [Expect], cancelling: bool) -> Result<(), TestCaseError> {
    match h.handle.join() {
        Ok(v) => {
            prop_assert_eq!(v, h.id);
            prop_assert!(expect[h.id] != Expect::Cancelled);
            expect[h.id] = Expect::MustRun;
        }
        Err(TaskError::Cancelled) => {
            prop_assert!(
                expect[h.id] == Expect::Cancelled || cancelling,
                "task {} cancelled unasked",
                h.id
            );
            expect[h.id] = Expect::Cancelled;
        }
        Err(e) => return Err(TestCaseError::fail(format!("join {}: {e:?}", h.id))),
    }
    Ok(())
}

/// Runs one sequence on a fresh pool and checks every task and counter against the model.
fn check(workers: usize, capacity: Option<usize>, ops: &[Op]) -> Result<(), TestCaseError> {
    let before = common::threads_named("pt-worker-");
    let mut builder = Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(workers)
                .oversubscribe(true)
                .per_core(1)
                .blocking_io(0),
        )
        .pin_workers(false)
        .thread_name(|i| format!("pt-worker-{i}"));
    if let Some(c) = capacity {
        builder = builder.queue_capacity(c);
    }
    let pool = builder.build().unwrap();
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..ops.len()).map(|_| AtomicU8::new(0)).collect());
    let mut expect: Vec<Expect> = Vec::new();
    let mut held: Vec<Held> = Vec::new();
    let mut shut_down = false;
    let mut cancelling = false;
    let task = |id: usize| {
        let runs = runs.clone();
        move || {
            runs[id].fetch_add(1, Ordering::SeqCst);
            std::thread::yield_now();
            id
        }
    };
    for op in ops {
        let id = expect.len();
        match op {
            Op::Spawn => {
                let f = task(id);
                pool.spawn(move || {
                    f();
                });
                expect.push(if shut_down {
                    Expect::Refused
                } else {
                    Expect::Accepted
                });
            }
            Op::Submit => {
                let handle = pool.submit(task(id));
                if shut_down {
                    prop_assert!(matches!(handle.join(), Err(TaskError::Rejected)));
                    expect.push(Expect::Refused);
                } else {
                    held.push(Held { id, handle });
                    expect.push(Expect::Accepted);
                }
            }
            Op::TrySubmit => match pool.try_submit(task(id)) {
                Ok(handle) => {
                    prop_assert!(!shut_down, "try_submit accepted after shutdown");
                    held.push(Held { id, handle });
                    expect.push(Expect::Accepted);
                }
                Err(TrySubmitError::ShutDown(_)) => {
                    prop_assert!(shut_down, "ShutDown before shutdown");
                    expect.push(Expect::Refused);
                }
                Err(TrySubmitError::Full(_)) => {
                    prop_assert!(capacity.is_some(), "Full on an unbounded queue");
                    expect.push(Expect::Refused);
                }
                Err(e) => return Err(TestCaseError::fail(format!("try_submit: {e}"))),
            },
            Op::Cancel(i) if !held.is_empty() => {
                let h = &held[i % held.len()];
                if h.handle.cancel() {
                    prop_assert!(
                        expect[h.id] == Expect::Accepted,
                        "cancelled task {} expected {:?}",
                        h.id,
                        expect[h.id]
                    );
                    expect[h.id] = Expect::Cancelled;
                }
            }
            Op::Join(i) if !held.is_empty() => {
                let h = held.swap_remove(i % held.len());
                join_held(h, &mut expect, cancelling)?;
            }
            Op::Cancel(_) | Op::Join(_) => {}
            Op::Resize(n) => {
                let active = pool.set_active_workers(*n);
                prop_assert!((1..=workers).contains(&active));
                if !shut_down {
                    prop_assert_eq!(active, (*n).clamp(1, workers));
                }
            }
            Op::Shutdown => {
                pool.shutdown();
                if !shut_down {
                    // A plain shutdown drains: everything accepted and not cancelled ran.
                    for e in expect.iter_mut() {
                        if *e == Expect::Accepted {
                            *e = Expect::MustRun;
                        }
                    }
                }
                shut_down = true;
            }
            Op::ShutdownNow => {
                let report = pool.shutdown_now();
                prop_assert_eq!(report.submitted, report.ran() + report.cancelled);
                cancelling |= !shut_down;
                shut_down = true;
            }
        }
        // Ids are positions in `ops` (Cancel, Join, Resize and the shutdowns use one too,
        // unused), so `runs` is always long enough.
        while expect.len() < id + 1 {
            expect.push(Expect::Refused);
        }
    }
    // Join what is left (before the final shutdown, so a handle may still see it run).
    for h in held.drain(..) {
        join_held(h, &mut expect, cancelling)?;
    }
    pool.shutdown();
    // Everything still merely accepted now either ran (a plain shutdown) or — if a
    // shutdown_now came first — ran or was cancelled.
    let mut ran = 0u64;
    for (id, e) in expect.iter().enumerate() {
        let count = runs[id].load(Ordering::SeqCst);
        prop_assert!(count <= 1, "task {id} ran {count} times");
        match e {
            Expect::MustRun => prop_assert_eq!(count, 1, "task {} never ran", id),
            Expect::Cancelled | Expect::Refused => prop_assert_eq!(count, 0, "task {} ran", id),
            Expect::Accepted if !cancelling => prop_assert_eq!(count, 1, "task {} lost", id),
            Expect::Accepted => {}
        }
        ran += u64::from(count);
    }
    let accepted = expect.iter().filter(|e| **e != Expect::Refused).count() as u64;
    RAN.fetch_add(ran, Ordering::Relaxed);
    CANCELLED.fetch_add(accepted - ran, Ordering::Relaxed);
    REFUSED.fetch_add(
        ops.iter()
            .filter(|o| matches!(o, Op::Spawn | Op::Submit | Op::TrySubmit))
            .count() as u64
            - accepted,
        Ordering::Relaxed,
    );
    let m = pool.metrics();
    prop_assert_eq!(m.submitted, accepted, "{:?}", m);
    prop_assert_eq!(m.completed, ran, "{:?}", m);
    prop_assert_eq!(m.cancelled, accepted - ran, "{:?}", m);
    prop_assert_eq!(m.panicked, 0);
    drop(pool);
    // No thread left behind (counted from the OS).
    let left = common::settle_threads("pt-worker-", before);
    prop_assert_eq!(left, before, "a worker thread outlived its pool");
    Ok(())
}

#[test]
fn random_operation_sequences_match_the_model() {
    const CASES: u32 = 300;
    let (ops_total, cases) = common::watchdog("model", Duration::from_secs(300), || {
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (
            1usize..=3,
            prop_oneof![Just(None), (1usize..8).prop_map(Some)],
            proptest::collection::vec(op(), 0..60),
        );
        let ops_total = std::sync::atomic::AtomicUsize::new(0);
        let result = runner.run(&strategy, |(workers, capacity, ops)| {
            ops_total.fetch_add(ops.len(), Ordering::Relaxed);
            check(workers, capacity, &ops)
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        (ops_total.into_inner(), CASES)
    });
    assert_eq!(common::settle_threads("pt-worker-", 0), 0);
    let (ran, cancelled, refused) = (
        RAN.load(Ordering::Relaxed),
        CANCELLED.load(Ordering::Relaxed),
        REFUSED.load(Ordering::Relaxed),
    );
    eprintln!(
        "figures: property test: {cases} cases, {ops_total} operations; tasks ran {ran}, \
         cancelled {cancelled}, refused {refused}; all matched the model"
    );
    assert!(
        ran > 0 && cancelled > 0 && refused > 0,
        "the cases reach every outcome"
    );
}
