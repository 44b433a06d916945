//! Whole pools under shuttle's randomized (`check_random`) and PCT (`check_pct`) schedules:
//! three workers, a blocking-lane thread, two submitters and a controller (eight threads with
//! the test's own), a few hundred tasks mixing `try_spawn`, `submit`, `submit_with` a token,
//! `spawn_blocking`, handle `join` and `cancel`, `install` with a `scope` or `scope_fifo` and
//! a `join` inside, tasks that spawn children and join a submitted one on the worker (a
//! helping `JoinHandle::join`), `set_active_workers`, the token's `cancel`, and — in the
//! second scenario — a bounded injector and `shutdown_now` in the middle of it all. loom cannot reach a pool this size; shuttle does not prove anything
//! either, it samples schedules, but thousands of them per run.
//!
//! Every task closure carries a [`Probe`] that records in a [`Ledger`] whether it ran or was
//! dropped unrun, and each scenario checks at the end:
//! - exactly once: every closure made either ran once or was dropped unrun once, never both,
//!   never twice, never neither (a task stranded in a queue after shutdown is "neither");
//! - every handle agrees with its closure (`Ok` ran it, `Cancelled`/`Rejected` dropped it);
//! - the counters add up: those that ran = `completed`, those dropped unrun (with the
//!   `install` calls refused after shutdown, which made none) = `cancelled + rejected +
//!   refused`, and `submitted = completed + panicked + cancelled`.
//!
//! A lost wakeup or a task nobody runs shows up as a shuttle deadlock (every thread blocked:
//! a submitter waiting on a handle, the workers parked).
#![cfg(corepool_shuttle)]

use corepool::__shuttle::SeededBugs;
use corepool::{CancelToken, JoinHandle, Pool, PoolHandle, Sizing, SubmitError, TaskError};
use shuttle::rand::{thread_rng, Rng};
use shuttle::scheduler::{PctScheduler, RandomScheduler, Scheduler};
use shuttle::{Config, Runner};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// CPU workers in every scenario.
const WORKERS: usize = 3;
/// The blocking lane's threads (started when a blocking task comes).
const BLOCKING_THREADS: usize = 1;
/// Outside threads submitting work.
const SUBMITTERS: usize = 2;
/// Operations each submitter performs (a few tasks each).
const OPS: usize = 30;
/// Room for every closure a scenario can make (an operation makes at most 7).
const MAX_TASKS: usize = SUBMITTERS * OPS * 8;
/// PCT's bug depth: how many priority changes a schedule gets.
const PCT_DEPTH: usize = 3;

/// Schedules per test unless `SHUTTLE_SCHEDULES` says otherwise.
const DEFAULT_SCHEDULES: usize = 2000;

/// Schedules per test: `SHUTTLE_SCHEDULES` if set, else `default`.
fn schedules(default: usize) -> usize {
    std::env::var("SHUTTLE_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Runs `scenario` under `scheduler` and prints how many schedules it took and how long
/// (shown with `-- --nocapture`).
fn run(
    name: &str,
    scheduler: impl Scheduler + 'static,
    count: usize,
    scenario: impl Fn() + Send + Sync + 'static,
) {
    let mut config = Config::new();
    // Shuttle treats every ordering as SeqCst and says so once per run; that is understood
    // (README: what shuttle does not see).
    config.silence_warnings = true;
    // Shuttle's threads are coroutines with 32 KiB stacks by default; a worker helping in a
    // join inside a scope inside an install needs more.
    config.stack_size = 8 << 20;
    let start = Instant::now();
    Runner::new(scheduler, config).run(scenario);
    eprintln!("{name}: {count} schedules, {:.1?}", start.elapsed());
}

/// What became of every task closure a scenario made. std atomics: records only, read by
/// the checks after every thread is joined (under shuttle all threads share one OS thread).
struct Ledger {
    next: AtomicUsize,
    ran: Vec<AtomicU8>,
    dropped: Vec<AtomicU8>,
    /// A task the pool counts in its metrics (spawned, submitted, a scope's task), as opposed
    /// to a `join` half, which is part of its caller's work.
    counted: Vec<AtomicBool>,
    /// `install` calls refused after shutdown: the pool counts them as rejected, and they
    /// made no probe.
    refused_installs: AtomicUsize,
}

impl Ledger {
    fn new() -> Arc<Ledger> {
        Arc::new(Ledger {
            next: AtomicUsize::new(0),
            ran: (0..MAX_TASKS).map(|_| AtomicU8::new(0)).collect(),
            dropped: (0..MAX_TASKS).map(|_| AtomicU8::new(0)).collect(),
            counted: (0..MAX_TASKS).map(|_| AtomicBool::new(false)).collect(),
            refused_installs: AtomicUsize::new(0),
        })
    }

    fn ran(&self, id: usize) -> u8 {
        self.ran[id].load(Ordering::SeqCst)
    }

    fn dropped(&self, id: usize) -> u8 {
        self.dropped[id].load(Ordering::SeqCst)
    }

    /// Every closure ran xor was dropped unrun, exactly once; returns (ran, dropped unrun)
    /// over the tasks the pool counts.
    fn check_exactly_once(&self) -> (u64, u64) {
        let made = self.next.load(Ordering::SeqCst);
        assert!(made <= MAX_TASKS);
        let (mut ran, mut dropped) = (0, 0);
        for id in 0..made {
            let (r, d) = (self.ran(id), self.dropped(id));
            assert_eq!(
                r + d,
                1,
                "task {id}: ran {r} time(s), dropped unrun {d} time(s)"
            );
            if self.counted[id].load(Ordering::SeqCst) {
                ran += u64::from(r);
                dropped += u64::from(d);
            }
        }
        (ran, dropped)
    }
}

/// Carried by one task closure: `run` records that it ran, dropping it unrun records that.
struct Probe {
    ledger: Arc<Ledger>,
    id: usize,
    done: bool,
}

impl Probe {
    fn new(ledger: &Arc<Ledger>, counted: bool) -> Probe {
        let id = ledger.next.fetch_add(1, Ordering::SeqCst);
        assert!(
            id < MAX_TASKS,
            "scenario made more tasks than the ledger holds"
        );
        ledger.counted[id].store(counted, Ordering::SeqCst);
        Probe {
            ledger: ledger.clone(),
            id,
            done: false,
        }
    }

    fn run(mut self) -> usize {
        self.ledger.ran[self.id].fetch_add(1, Ordering::SeqCst);
        self.done = true;
        self.id
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if !self.done {
            self.ledger.dropped[self.id].fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A counted task and its id: returns the id when run.
fn task(ledger: &Arc<Ledger>) -> (usize, impl FnOnce() -> usize + Send + 'static) {
    let probe = Probe::new(ledger, true);
    (probe.id, move || probe.run())
}

/// A counted fire-and-forget task.
fn spawned(ledger: &Arc<Ledger>) -> impl FnOnce() + Send + 'static {
    let (_, t) = task(ledger);
    move || {
        t();
    }
}

/// A handle the scenario joins at the end, with the task it runs.
struct Pending {
    id: usize,
    handle: JoinHandle<usize>,
}

/// What a handle said, checked against the ledger once everything is joined.
fn check_handle(ledger: &Ledger, id: usize, result: Result<usize, TaskError>) {
    match result {
        Ok(ran) => {
            assert_eq!(ran, id);
            assert_eq!(ledger.ran(id), 1, "task {id}: handle says it ran");
        }
        Err(TaskError::Cancelled | TaskError::Rejected) => {
            assert_eq!(ledger.dropped(id), 1, "task {id}: handle says it never ran");
        }
        Err(e) => panic!("task {id}: unexpected {e:?}"),
    }
}

/// A task that, on a worker, spawns two children onto its own deque, runs a `join` there,
/// and submits a third child and joins it on the worker (a helping `JoinHandle::join`).
/// Its children are made only when it runs, so a parent dropped unrun makes none.
fn parent(ledger: &Arc<Ledger>, pool: PoolHandle) -> impl FnOnce() + Send + 'static {
    let probe = Probe::new(ledger, true);
    let ledger = ledger.clone();
    move || {
        probe.run();
        for _ in 0..2 {
            corepool::spawn(spawned(&ledger));
        }
        let (a, b) = (Probe::new(&ledger, false), Probe::new(&ledger, false));
        corepool::join(move || a.run(), move || b.run());
        let (id, child) = task(&ledger);
        let result = pool.submit(child).join();
        check_handle(&ledger, id, result);
    }
}

/// One submitter: `OPS` operations picked at random (shuttle's random source, so a schedule
/// replays). Returns the handles it did not join yet.
fn submit_loop(pool: PoolHandle, ledger: Arc<Ledger>, token: CancelToken) -> Vec<Pending> {
    let mut pending: Vec<Pending> = Vec::new();
    let mut rng = thread_rng();
    for _ in 0..OPS {
        match rng.gen_range(0..8) {
            // Handed back when the bounded injector is full or after shutdown (and dropped
            // here, unrun), where `spawn` would wait for room or drop it itself and say so
            // on stderr.
            0 => drop(pool.try_spawn(spawned(&ledger))),
            1 | 2 => {
                let (id, t) = task(&ledger);
                let handle = match rng.gen_range(0..3) {
                    0 => pool.submit(t),
                    1 => pool.submit_with(&token, t),
                    _ => pool.spawn_blocking(t),
                };
                pending.push(Pending { id, handle });
            }
            3 => {
                if let Some(p) = pending.last() {
                    p.handle.cancel();
                }
            }
            4 => {
                if !pending.is_empty() {
                    let p = pending.remove(0);
                    check_handle(&ledger, p.id, p.handle.join());
                }
            }
            5 => {
                let l = ledger.clone();
                let fifo = rng.gen_bool(0.5);
                // Refused only after shutdown; the probes are made inside, so none is lost.
                let installed = pool.try_install(move || {
                    if fifo {
                        corepool::scope_fifo(|s| {
                            for _ in 0..3 {
                                let (_, t) = task(&l);
                                s.spawn_fifo(move |_| {
                                    t();
                                });
                            }
                        });
                    } else {
                        corepool::scope(|s| {
                            for _ in 0..3 {
                                let (_, t) = task(&l);
                                s.spawn(move |_| {
                                    t();
                                });
                            }
                        });
                    }
                    let (a, b) = (Probe::new(&l, false), Probe::new(&l, false));
                    corepool::join(move || a.run(), move || b.run());
                });
                if let Err(e) = installed {
                    assert_eq!(e, SubmitError::ShutDown);
                    ledger.refused_installs.fetch_add(1, Ordering::SeqCst);
                }
            }
            _ => drop(pool.try_spawn(parent(&ledger, pool.clone()))),
        }
    }
    pending
}

/// The controller: resizes the pool at random, cancels the token once, and (if
/// `stop_after` is set) calls `shutdown_now` after that many of its rounds.
fn control_loop(pool: PoolHandle, token: CancelToken, stop_after: Option<usize>) {
    let mut rng = thread_rng();
    for round in 0..8 {
        if stop_after == Some(round) {
            // Its report is a snapshot while the submitters still race the stop (a task
            // accepted and then refused moves from `submitted` to `rejected`): the counts
            // are checked once everything is at rest.
            pool.shutdown_now();
            return;
        }
        match rng.gen_range(0..4) {
            0 | 1 => {
                pool.set_active_workers(rng.gen_range(1..=WORKERS));
            }
            2 => token.cancel(),
            _ => shuttle::thread::yield_now(),
        }
    }
    pool.set_active_workers(WORKERS);
}

/// Builds the pool, runs the submitters and the controller, shuts down, and checks.
fn scenario(bugs: SeededBugs, queue_capacity: Option<usize>, shutdown_now: bool) {
    let mut builder = Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(WORKERS)
                .oversubscribe(true)
                .blocking_io(BLOCKING_THREADS),
        )
        .pin_workers(false)
        .seed_bugs(bugs);
    if let Some(capacity) = queue_capacity {
        builder = builder.queue_capacity(capacity);
    }
    let pool = builder.build().unwrap();
    let ledger = Ledger::new();
    let token = CancelToken::new();

    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|_| {
            let (pool, ledger, token) = (pool.handle(), ledger.clone(), token.clone());
            shuttle::thread::spawn(move || submit_loop(pool, ledger, token))
        })
        .collect();
    let stop_after = shutdown_now.then(|| thread_rng().gen_range(0..8));
    let controller = {
        let (pool, token) = (pool.handle(), token.clone());
        shuttle::thread::spawn(move || control_loop(pool, token, stop_after))
    };

    let mut pending = Vec::new();
    for s in submitters {
        pending.extend(s.join().unwrap());
    }
    controller.join().unwrap();
    pool.shutdown();
    for p in pending {
        check_handle(&ledger, p.id, p.handle.join());
    }

    let (ran, dropped) = ledger.check_exactly_once();
    let m = pool.metrics();
    assert_eq!(m.panicked, 0);
    assert_eq!(ran, m.completed, "tasks that ran vs completed: {m:?}");
    let refused_installs = ledger.refused_installs.load(Ordering::SeqCst) as u64;
    assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m:?}");
    // `refused`: a `try_spawn` that found the bounded injector full; the closure came back
    // and was dropped here.
    assert_eq!(
        dropped + refused_installs,
        m.cancelled + m.rejected + m.refused,
        "dropped unrun (+ {refused_installs} refused installs): {m:?}"
    );
    assert_eq!(m.running, 0);
    assert_eq!(m.injector_queue, 0);
}

/// The graceful scenario with the sleeper's final recheck removed (`sleep.rs` step 4): a
/// task pushed while its worker goes to sleep is stranded, and a submitter or a worker
/// waiting on its handle waits forever — shuttle reports the deadlock.
fn graceful_without_final_recheck() {
    let bugs = SeededBugs {
        skip_final_recheck: true,
        ..SeededBugs::default()
    };
    scenario(bugs, None, false)
}

/// The graceful scenario with a sleeper inside a helping wait not counted as holding
/// (`sleep.rs`, step 1): the last other worker to sleep terminates the pool under a worker
/// whose latch is set but not yet seen, which the worker loop's debug assertion reports
/// (a task panic, so `panicked` is 1).
fn graceful_without_hold() {
    let bugs = SeededBugs {
        sleep_without_hold: true,
        ..SeededBugs::default()
    };
    scenario(bugs, None, false)
}

/// Graceful: everything accepted runs, save what a handle or the token cancelled.
fn graceful() {
    scenario(SeededBugs::default(), None, false)
}

/// `shutdown_now` at a random point while the submitters go on, through a bounded injector
/// (submitters block for room and are released by the workers or by the shutdown).
fn stop_now() {
    scenario(SeededBugs::default(), Some(4), true)
}

#[test]
fn graceful_random() {
    let n = schedules(DEFAULT_SCHEDULES);
    run("graceful_random", RandomScheduler::new(n), n, graceful);
}

#[test]
#[should_panic]
fn graceful_random_catches_a_missing_final_recheck() {
    let n = schedules(DEFAULT_SCHEDULES);
    run(
        "graceful_random_catches_a_missing_final_recheck",
        RandomScheduler::new(n),
        n,
        graceful_without_final_recheck,
    );
}

#[test]
#[should_panic]
fn graceful_random_catches_termination_under_a_waiter() {
    let n = schedules(DEFAULT_SCHEDULES);
    run(
        "graceful_random_catches_termination_under_a_waiter",
        RandomScheduler::new(n),
        n,
        graceful_without_hold,
    );
}

#[test]
fn graceful_pct() {
    let n = schedules(DEFAULT_SCHEDULES);
    run("graceful_pct", PctScheduler::new(PCT_DEPTH, n), n, graceful);
}

#[test]
fn shutdown_now_random() {
    let n = schedules(DEFAULT_SCHEDULES);
    run("shutdown_now_random", RandomScheduler::new(n), n, stop_now);
}

#[test]
fn shutdown_now_pct() {
    let n = schedules(DEFAULT_SCHEDULES);
    run(
        "shutdown_now_pct",
        PctScheduler::new(PCT_DEPTH, n),
        n,
        stop_now,
    );
}
