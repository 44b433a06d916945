//! Stress: ten million tasks with panics and cancellations, shutdown_now in the middle of a
//! submit storm, pool churn, a saturated and resized blocking lane, and blocked submitters
//! released by shutdown. Release mode only (`scripts/test-all.sh` runs it with
//! `cargo test --release -p stress-tests`); each test prints its figures (`-- --nocapture`)
//! and runs under a watchdog that fails it rather than hanging CI. A package of its own, so
//! that release build compiles corepool alone, not corepool's dev-dependencies.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex, Once};
use std::thread;
use std::time::Duration;

use common::{os_threads, rss_kib, settle_threads, threads_named, watchdog};
use corepool::{CancelToken, JoinHandle, Pool, Sizing, TaskError, TrySubmitError};

const LIMIT: Duration = Duration::from_secs(300);

/// The tests take turns: each loads both cores, and the churn test samples the process's
/// RSS, which another test's allocations would blur.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The message of every panic these tests cause on purpose.
const STRESS_PANIC: &str = "stress: deliberate panic";

/// Keeps the default panic hook quiet about the deliberate panics (there are 100,000 of
/// them); any other panic is printed as usual.
fn quiet_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&STRESS_PANIC) {
                default(info);
            }
        }));
    });
}

/// Outcome of a task id, as the task itself or its handle saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Ran,
    Cancelled,
}

#[test]
#[cfg_attr(debug_assertions, ignore = "release only: run by scripts/test-all.sh")]
fn ten_million_tasks_run_exactly_once_or_are_cancelled() {
    let _serial = serial();
    quiet_deliberate_panics();
    // 8 outside threads x 1.2M outer tasks; every 4th outer task spawns a nested child from
    // inside the pool: 9.6M + 2.4M = 12M tasks.
    const PRODUCERS: usize = 8;
    const PER_PRODUCER: usize = 1_200_000;
    const OUTER: usize = PRODUCERS * PER_PRODUCER;
    const NESTED: usize = OUTER / 4;
    const TOTAL: usize = OUTER + NESTED;
    /// Every 100th outer task panics (after recording its run): 1 %.
    fn panics(i: usize) -> bool {
        i % 100 == 7
    }
    /// Every 50th outer task is submitted with a handle (and a token), so it can be cancelled.
    fn cancellable(i: usize) -> bool {
        i % 50 == 3
    }

    let panicked_seen = Arc::new(AtomicU64::new(0));
    let p = panicked_seen.clone();
    let pool = Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(2)
                .oversubscribe(true)
                .per_core(2)
                .blocking_io(0),
        )
        .queue_capacity(1 << 16)
        .thread_name(|i| format!("st-10m-{i}"))
        .panic_handler(move |payload| {
            assert_eq!(corepool::panic_message(&*payload), STRESS_PANIC);
            p.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..TOTAL).map(|_| AtomicU8::new(0)).collect());

    let p = pool.clone();
    let r = runs.clone();
    let (fates, panicked_expected) = watchdog("10M tasks", LIMIT, move || {
        let start = std::time::Instant::now();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|t| {
                let pool = p.clone();
                let runs = r.clone();
                thread::spawn(move || {
                    let mut handles: Vec<(usize, JoinHandle<()>)> = Vec::new();
                    let mut token = CancelToken::new();
                    let mut panicking = 0u64;
                    for i in t * PER_PRODUCER..(t + 1) * PER_PRODUCER {
                        let runs = runs.clone();
                        if cancellable(i) {
                            let h = pool.submit_with(&token, move || {
                                runs[i].fetch_add(1, Ordering::Relaxed);
                            });
                            // Every 7th by its handle, straight away.
                            if i % 7 == 0 {
                                h.cancel();
                            }
                            handles.push((i, h));
                            // Every 100 cancellable tasks, cancel the token for half of the
                            // batches, whatever of them has not started yet.
                            if handles.len() % 100 == 0 {
                                if (handles.len() / 100) % 2 == 0 {
                                    token.cancel();
                                }
                                token = CancelToken::new();
                            }
                            continue;
                        }
                        let panic = panics(i);
                        panicking += u64::from(panic);
                        pool.spawn(move || {
                            runs[i].fetch_add(1, Ordering::Relaxed);
                            if i % 4 == 0 {
                                let child = OUTER + i / 4;
                                let runs = runs.clone();
                                corepool::spawn(move || {
                                    runs[child].fetch_add(1, Ordering::Relaxed);
                                });
                            }
                            if panic {
                                std::panic::panic_any(STRESS_PANIC);
                            }
                        });
                    }
                    let fates: Vec<(usize, Fate)> = handles
                        .into_iter()
                        .map(|(i, h)| match h.join() {
                            Ok(()) => (i, Fate::Ran),
                            Err(TaskError::Cancelled) => (i, Fate::Cancelled),
                            Err(e) => panic!("task {i}: {e:?}"),
                        })
                        .collect();
                    (fates, panicking)
                })
            })
            .collect();
        let mut fates = Vec::new();
        let mut panicking = 0;
        for producer in producers {
            let (f, n) = producer.join().unwrap();
            fates.extend(f);
            panicking += n;
        }
        // Still healthy: a final batch runs, through every kind of entry point.
        let batch: Vec<u64> = (0..10_000).collect();
        assert_eq!(p.map(&batch, |x| x * 2).iter().sum::<u64>(), 2 * 49_995_000);
        let hs: Vec<_> = (0..1_000u64).map(|i| p.submit(move || i)).collect();
        assert_eq!(
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>(),
            499_500
        );
        assert_eq!(p.install(|| corepool::join(|| 1, || 2)), (1, 2));
        p.shutdown();
        eprintln!("figures: 10M run: {:.1} s", start.elapsed().as_secs_f64());
        (fates, panicking)
    });

    // Every id ran exactly once, except the cancelled ones, which never ran.
    let mut fate_of = vec![Fate::Ran; TOTAL];
    let mut cancelled = 0u64;
    for &(i, fate) in &fates {
        fate_of[i] = fate;
        cancelled += u64::from(fate == Fate::Cancelled);
    }
    let mut ran = 0u64;
    for (i, count) in runs.iter().enumerate() {
        let count = count.load(Ordering::Relaxed);
        match fate_of[i] {
            Fate::Ran => assert_eq!(count, 1, "task {i} ran {count} times"),
            Fate::Cancelled => assert_eq!(count, 0, "cancelled task {i} ran"),
        }
        ran += u64::from(count);
    }
    let m = pool.metrics();
    // On top of TOTAL: the final batch's 1,000 submits and the map's scope tasks.
    let extra = 1_000;
    assert_eq!(ran + cancelled, TOTAL as u64);
    assert!(m.submitted >= TOTAL as u64 + extra, "{m:?}");
    assert!(m.completed + m.panicked >= ran + extra, "{m:?}");
    assert_eq!(m.cancelled, cancelled, "{m:?}");
    assert_eq!(m.panicked, panicked_expected, "{m:?}");
    assert_eq!(panicked_seen.load(Ordering::Relaxed), panicked_expected);
    assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m:?}");
    assert_eq!(m.rejected, 0);
    assert_eq!(m.running, 0);
    assert_eq!(settle_threads("st-10m-", 0), 0);
    eprintln!(
        "figures: tasks {TOTAL} ({OUTER} from {PRODUCERS} outside threads, {NESTED} nested), \
         ran {ran}, cancelled {cancelled}, panics survived {panicked_expected}, \
         lost 0, twice 0; metrics submitted {} = completed {} + panicked {} + cancelled {}",
        m.submitted, m.completed, m.panicked, m.cancelled
    );
}

/// How a storm submitter's task ended, from its handle.
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    accepted: u64,
    ran: u64,
    cancelled: u64,
    rejected: u64,
    handed_back: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.accepted += other.accepted;
        self.ran += other.ran;
        self.cancelled += other.cancelled;
        self.rejected += other.rejected;
        self.handed_back += other.handed_back;
    }

    fn join(&mut self, h: JoinHandle<u64>, expect: u64) {
        match h.join() {
            Ok(v) => {
                assert_eq!(v, expect);
                self.accepted += 1;
                self.ran += 1;
            }
            Err(TaskError::Cancelled) => {
                self.accepted += 1;
                self.cancelled += 1;
            }
            Err(TaskError::Rejected) => self.rejected += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "release only: run by scripts/test-all.sh")]
fn shutdown_now_in_a_submit_storm_loses_nothing() {
    let _serial = serial();
    const ROUNDS: usize = 200;
    const SUBMITTERS: usize = 4;
    let before = threads_named("st-storm-");
    let totals = watchdog("shutdown_now storm", LIMIT, move || {
        let mut totals = Tally::default();
        let mut sum_ran_counter = 0u64;
        for round in 0..ROUNDS {
            let pool = Pool::builder()
                .sizing(
                    Sizing::cpu_bound()
                        .cores(2)
                        .oversubscribe(true)
                        .per_core(1)
                        .blocking_io(0),
                )
                .queue_capacity(if round % 2 == 0 { 64 } else { 1 << 20 })
                .thread_name(|i| format!("st-storm-{i}"))
                .build()
                .unwrap();
            let ran = Arc::new(AtomicU64::new(0));
            let accepted_so_far = Arc::new(AtomicU64::new(0));
            let start = Arc::new(Barrier::new(SUBMITTERS + 1));
            let submitters: Vec<_> = (0..SUBMITTERS)
                .map(|t| {
                    let (pool, ran, accepted, start) = (
                        pool.clone(),
                        ran.clone(),
                        accepted_so_far.clone(),
                        start.clone(),
                    );
                    thread::spawn(move || {
                        let mut tally = Tally::default();
                        let mut handles = Vec::new();
                        start.wait();
                        for n in 0u64.. {
                            let ran = ran.clone();
                            let task = move || {
                                ran.fetch_add(1, Ordering::Relaxed);
                                n
                            };
                            // Each submitter mixes the entry points.
                            let refused = match (t + n as usize) % 4 {
                                0 | 1 => {
                                    let h = pool.submit(task);
                                    let done = h.is_finished();
                                    handles.push((h, n));
                                    // A rejected handle is finished at once.
                                    done && pool.is_shut_down()
                                }
                                2 => match pool.try_submit(task) {
                                    Ok(h) => {
                                        handles.push((h, n));
                                        false
                                    }
                                    Err(TrySubmitError::Full(_)) => false,
                                    Err(TrySubmitError::ShutDown(f)) => {
                                        tally.handed_back += 1;
                                        drop(f);
                                        true
                                    }
                                    Err(e) => panic!("{e}"),
                                },
                                _ => match pool.submit_timeout(task, Duration::from_secs(3600)) {
                                    Ok(h) => {
                                        handles.push((h, n));
                                        false
                                    }
                                    Err(TrySubmitError::ShutDown(f)) => {
                                        tally.handed_back += 1;
                                        drop(f);
                                        true
                                    }
                                    Err(e) => panic!("{e}"),
                                },
                            };
                            accepted.fetch_add(1, Ordering::Relaxed);
                            if refused {
                                break;
                            }
                        }
                        for (h, n) in handles {
                            tally.join(h, n);
                        }
                        tally
                    })
                })
                .collect();
            start.wait();
            // Let the storm build up (a varying amount), then stop everything at once.
            let target = 200 + (round as u64 * 37) % 2_000;
            while accepted_so_far.load(Ordering::Relaxed) < target {
                thread::yield_now();
            }
            let report = pool.shutdown_now();
            let mut round_tally = Tally::default();
            for s in submitters {
                round_tally.add(s.join().unwrap());
            }
            let m = pool.metrics();
            let ran = ran.load(Ordering::Relaxed);
            // Nothing lost: every accepted task ran or was cancelled, as its handle says.
            assert_eq!(round_tally.ran, ran, "round {round}");
            assert_eq!(m.submitted, round_tally.accepted, "round {round}: {m:?}");
            assert_eq!(m.completed, ran, "round {round}: {m:?}");
            assert_eq!(m.cancelled, round_tally.cancelled, "round {round}: {m:?}");
            assert_eq!(m.panicked, 0);
            // The report is taken while the submitters may still be inside a submit call: each
            // of them may be counted as accepted until it finds the pool gone (documented on
            // ShutdownReport). The exact figures are the metrics above, read after they left.
            let in_flight = report
                .submitted
                .checked_sub(report.ran() + report.cancelled);
            assert!(
                in_flight.is_some_and(|n| n <= SUBMITTERS as u64),
                "{report:?}"
            );
            // Every refusal after shutdown counts once: rejected handles and closures handed
            // back alike.
            assert_eq!(
                m.rejected,
                round_tally.rejected + round_tally.handed_back,
                "round {round}: {m:?}"
            );
            sum_ran_counter += ran;
            totals.add(round_tally);
        }
        assert_eq!(totals.ran, sum_ran_counter);
        totals
    });
    // No leaked thread, from the OS.
    assert_eq!(settle_threads("st-storm-", before), before);
    eprintln!(
        "figures: shutdown_now under load {ROUNDS} times: accepted {}, ran {}, cancelled {}, \
         lost 0; refused after shutdown: {} rejected handles, {} closures handed back",
        totals.accepted, totals.ran, totals.cancelled, totals.rejected, totals.handed_back
    );
    assert_eq!(totals.accepted, totals.ran + totals.cancelled);
    assert!(totals.cancelled > 0, "some shutdown_now found queued work");
}

#[test]
#[cfg_attr(debug_assertions, ignore = "release only: run by scripts/test-all.sh")]
fn a_thousand_pools_churned_leave_no_thread_and_no_memory_behind() {
    let _serial = serial();
    const POOLS: usize = 1_000;
    const WARM_UP: usize = 50;
    fn use_and_drop(i: usize) {
        let pool = Pool::builder()
            .sizing(
                Sizing::cpu_bound()
                    .cores(2)
                    .oversubscribe(true)
                    .per_core(1)
                    .blocking_io(1),
            )
            .queue_capacity(256)
            .blocking_keep_alive(Duration::from_millis(1))
            .thread_name(|i| format!("st-churn-{i}"))
            .build()
            .unwrap();
        let h = pool.submit(move || i * 2);
        let b = pool.spawn_blocking(move || i + 1);
        let data: Vec<usize> = (0..256).collect();
        assert_eq!(pool.reduce(&data, || 0, |a, x| a + x, |a, b| a + b), 32_640);
        assert_eq!(h.join().unwrap(), i * 2);
        assert_eq!(b.join().unwrap(), i + 1);
        let counter = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let c = counter.clone();
            pool.spawn(move || {
                c.fetch_add(1, Ordering::Relaxed);
            });
        }
        match i % 3 {
            0 => drop(pool), // the last handle
            1 => pool.shutdown(),
            _ => {
                pool.shutdown_now();
            }
        }
        if i % 3 != 2 {
            assert_eq!(counter.load(Ordering::Relaxed), 100);
        }
    }
    let figures = watchdog("pool churn", LIMIT, move || {
        for i in 0..WARM_UP {
            use_and_drop(i);
        }
        let threads_before = settle_threads("st-churn-", 0);
        let os_before = os_threads();
        let rss_before = rss_kib();
        for i in WARM_UP..WARM_UP + POOLS {
            use_and_drop(i);
        }
        let threads_after = settle_threads("st-churn-", 0);
        let os_after = os_threads();
        let rss_after = rss_kib();
        (
            threads_before,
            threads_after,
            os_before,
            os_after,
            rss_before,
            rss_after,
        )
    });
    let (threads_before, threads_after, os_before, os_after, rss_before, rss_after) = figures;
    eprintln!(
        "figures: pools churned {POOLS} (+{WARM_UP} warm-up); pool threads {threads_before} -> \
         {threads_after}; process threads {os_before} -> {os_after}; RSS {rss_before} KiB -> \
         {rss_after} KiB"
    );
    assert_eq!((threads_before, threads_after), (0, 0));
    assert!(
        os_after <= os_before,
        "process threads grew: {os_before} -> {os_after}"
    );
    // The tests of this binary take turns, so RSS is ours alone. A leaked pool (registry,
    // deques, counters: a few KiB at least) would add several MiB over a thousand pools.
    let growth = rss_after.saturating_sub(rss_before);
    assert!(
        growth < 4 * 1024,
        "RSS grew {growth} KiB over {POOLS} pools: a leak"
    );
}

#[test]
#[cfg_attr(debug_assertions, ignore = "release only: run by scripts/test-all.sh")]
fn blocking_lane_saturated_and_resized_while_busy() {
    let _serial = serial();
    const SUBMITTERS: usize = 4;
    const PER_SUBMITTER: u64 = 2_000;
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1).per_core(1).blocking_io(2))
        .blocking_queue_capacity(8)
        .blocking_keep_alive(Duration::from_millis(5))
        .thread_name(|i| format!("st-lane-cpu-{i}"))
        .build()
        .unwrap();
    let p = pool.clone();
    let (max_seen, resizes) = watchdog("lane saturation", LIMIT, move || {
        let running = Arc::new(AtomicUsize::new(0));
        let max_allowed_seen = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let submitters: Vec<_> = (0..SUBMITTERS)
            .map(|t| {
                let (pool, running) = (p.clone(), running.clone());
                thread::spawn(move || {
                    let handles: Vec<_> = (0..PER_SUBMITTER)
                        .map(|n| {
                            let running = running.clone();
                            // Waits for room in the 8-slot lane queue most of the time.
                            pool.spawn_blocking(move || {
                                running.fetch_add(1, Ordering::SeqCst);
                                thread::sleep(Duration::from_micros(50));
                                running.fetch_sub(1, Ordering::SeqCst);
                                t as u64 * PER_SUBMITTER + n
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .enumerate()
                        .map(|(n, h)| {
                            assert_eq!(h.join().unwrap(), t as u64 * PER_SUBMITTER + n as u64);
                        })
                        .count()
                })
            })
            .collect();
        // Resize the lane up and down while it is saturated.
        let resizer = {
            let (pool, done, max_allowed_seen) =
                (p.clone(), done.clone(), max_allowed_seen.clone());
            thread::spawn(move || {
                let mut resizes = 0;
                while !done.load(Ordering::Relaxed) {
                    let n = [1, 4, 2, 8, 1, 3][resizes % 6];
                    pool.set_blocking_io(n);
                    max_allowed_seen.fetch_max(n, Ordering::Relaxed);
                    resizes += 1;
                    thread::sleep(Duration::from_millis(2));
                }
                pool.set_blocking_io(2);
                resizes
            })
        };
        let mut completed = 0;
        for s in submitters {
            completed += s.join().unwrap();
        }
        assert_eq!(running.load(Ordering::SeqCst), 0);
        done.store(true, Ordering::Relaxed);
        let resizes = resizer.join().unwrap();
        assert_eq!(completed as u64, SUBMITTERS as u64 * PER_SUBMITTER);
        let lane = p.metrics().blocking;
        assert!(lane.threads <= 8, "{lane:?}");
        p.shutdown();
        (max_allowed_seen.load(Ordering::Relaxed), resizes)
    });
    let m = pool.metrics();
    let total = SUBMITTERS as u64 * PER_SUBMITTER;
    assert_eq!(
        (
            m.blocking.submitted,
            m.blocking.completed,
            m.blocking.cancelled
        ),
        (total, total, 0),
        "{m:?}"
    );
    assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m:?}");
    assert_eq!(settle_threads("corepool-io-", 0), 0);
    eprintln!(
        "figures: blocking lane: {total} tasks through an 8-slot queue from {SUBMITTERS} \
         threads, {resizes} resizes while busy (up to {max_seen} threads), lost 0"
    );
}

/// Submitters blocked on a full injector (submit, submit_timeout, spawn) and on a full
/// blocking-lane queue (spawn_blocking) are released by shutdown, before the busy work
/// finishes: `submit_timeout` hands its closure back as `ShutDown(f)`, `submit` and
/// `spawn_blocking` return handles that report `Rejected`, `spawn` drops its closure.
#[test]
#[cfg_attr(debug_assertions, ignore = "release only: run by scripts/test-all.sh")]
fn submitters_blocked_on_full_queues_are_released_by_shutdown() {
    let _serial = serial();
    const ROUNDS: usize = 50;
    const BLOCKED: usize = 6;
    let released = watchdog("blocked submitters", LIMIT, move || {
        let mut released = 0;
        for round in 0..ROUNDS {
            let pool = Pool::builder()
                .sizing(Sizing::cpu_bound().cores(1).per_core(1).blocking_io(1))
                .queue_capacity(2)
                .blocking_queue_capacity(1)
                .thread_name(|i| format!("st-block-{i}"))
                .build()
                .unwrap();
            // Occupy the only CPU worker and the only lane thread until told.
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let release_rx = Arc::new(Mutex::new(release_rx));
            let (started_tx, started) = mpsc::channel();
            for _ in 0..2 {
                let (rx, started_tx) = (release_rx.clone(), started_tx.clone());
                let busy = move || {
                    started_tx.send(()).unwrap();
                    rx.lock().unwrap().recv().unwrap();
                };
                pool.spawn(busy);
            }
            // The second busy task is queued behind the first; fill the lane too.
            started.recv().unwrap();
            let (lane_started_tx, lane_started) = mpsc::channel();
            let rx = release_rx.clone();
            let lane_busy = pool.spawn_blocking(move || {
                lane_started_tx.send(()).unwrap();
                rx.lock().unwrap().recv().unwrap();
            });
            lane_started.recv().unwrap();
            let lane_queued = pool.spawn_blocking(|| 1u64);
            // Fill the injector to its bound.
            while pool.try_spawn(|| ()).is_ok() {}
            // Now every outside submission waits for room.
            let (out_tx, out) = mpsc::channel::<(usize, &'static str)>();
            let waiters: Vec<_> = (0..BLOCKED)
                .map(|k| {
                    let (pool, out_tx) = (pool.clone(), out_tx.clone());
                    thread::spawn(move || {
                        let what = match k % 4 {
                            0 => match pool.submit_timeout(move || k, Duration::from_secs(3600)) {
                                Err(TrySubmitError::ShutDown(f)) => {
                                    assert_eq!(f(), k, "the same closure handed back");
                                    "handed back"
                                }
                                Ok(_) => "accepted",
                                Err(e) => panic!("{e}"),
                            },
                            1 => match pool.submit(move || k).join() {
                                Err(TaskError::Rejected) => "rejected",
                                _ => "accepted",
                            },
                            2 => match pool.spawn_blocking(move || k).join() {
                                Err(TaskError::Rejected) => "rejected",
                                _ => "accepted",
                            },
                            _ => {
                                pool.spawn(|| ());
                                "spawn returned"
                            }
                        };
                        out_tx.send((k, what)).unwrap();
                    })
                })
                .collect();
            drop(out_tx);
            // Give them a moment to block (not needed for correctness: a submitter that
            // has not blocked yet is refused all the same).
            thread::sleep(Duration::from_millis(if round % 5 == 0 { 20 } else { 1 }));
            let stopper = {
                let pool = pool.clone();
                thread::spawn(move || pool.shutdown_now())
            };
            // Every waiter comes back while the busy tasks still hold both threads.
            let mut outcomes: Vec<(usize, &str)> = Vec::new();
            for _ in 0..BLOCKED {
                match out.recv_timeout(Duration::from_secs(30)) {
                    Ok(o) => outcomes.push(o),
                    Err(_) => panic!(
                        "round {round}: only {outcomes:?} released by shutdown_now (0: \
                         submit_timeout, 1: submit, 2: spawn_blocking, 3: spawn)"
                    ),
                }
            }
            outcomes.sort();
            for w in waiters {
                w.join().unwrap();
            }
            assert!(
                outcomes.iter().all(|o| o.1 != "accepted"),
                "round {round}: {outcomes:?}"
            );
            released += outcomes.len();
            for _ in 0..3 {
                let _ = release_tx.send(());
            }
            let report = stopper.join().unwrap();
            lane_busy.join().unwrap();
            // Queued on the lane before the stop: cancelled (or ran, if the lane got to it).
            match lane_queued.join() {
                Ok(1) | Err(TaskError::Cancelled) => {}
                other => panic!("{other:?}"),
            }
            let m = pool.metrics();
            assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m:?}");
            assert_eq!(report.submitted, m.submitted);
        }
        released
    });
    assert_eq!(settle_threads("st-block-", 0), 0);
    eprintln!(
        "figures: {ROUNDS} shutdowns with {released} submitters blocked on full queues, \
         all released by the shutdown with their task handed back or reported rejected"
    );
}
