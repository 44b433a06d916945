//! Production controls: bounded queue and backpressure, try_submit, cancellation, shutdown
//! variants, the blocking lane, resizing, metrics that add up.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use corepool::{CancelToken, Pool, Sizing, TaskError, TrySubmitError};

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1).per_core(workers))
        .build()
        .unwrap()
}

/// Threads of this process whose name starts with `prefix`, waiting (at most 5 s) for exiting
/// ones to leave /proc.
fn threads_left(prefix: &str) -> usize {
    let count = || {
        std::fs::read_dir("/proc/self/task")
            .expect("/proc/self/task")
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with(prefix))
            .count()
    };
    for _ in 0..500 {
        if count() == 0 {
            return 0;
        }
        thread::sleep(Duration::from_millis(10));
    }
    count()
}

/// Runs `f` on a thread and fails (instead of hanging the suite) if it takes over a minute.
fn with_watchdog<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{name}: no result within 60 s (a hang)"))
}

/// A gate that keeps the pool's workers busy until opened.
struct Gate {
    tx: Option<mpsc::Sender<()>>,
    rx: Arc<std::sync::Mutex<mpsc::Receiver<()>>>,
}

impl Gate {
    fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Gate {
            tx: Some(tx),
            rx: Arc::new(std::sync::Mutex::new(rx)),
        }
    }
    /// Occupies one worker until the gate opens; returns once the task runs.
    fn block_one_worker(&self, pool: &Pool) {
        let (started_tx, started) = mpsc::channel();
        let rx = self.rx.clone();
        pool.spawn(move || {
            started_tx.send(()).unwrap();
            let _ = rx.lock().unwrap().recv();
        });
        started.recv().unwrap();
    }
    fn open(&mut self) {
        self.tx.take();
    }
}

#[test]
fn a_full_queue_hands_the_same_closure_back() {
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1))
        .queue_capacity(2)
        .build()
        .unwrap();
    let mut gate = Gate::new();
    gate.block_one_worker(&pool);
    let a = pool.try_submit(|| 1).unwrap();
    let b = pool.try_submit(|| 2).unwrap();
    // The closure carries a value only it has: getting it back proves it is the same one.
    let marker = Arc::new(7u32);
    let m = marker.clone();
    let err = pool.try_submit(move || *m + 1).unwrap_err();
    assert!(matches!(err, TrySubmitError::Full(_)), "{err:?}");
    assert_eq!(Arc::strong_count(&marker), 2, "the closure is still alive");
    let f = err.into_inner();
    assert_eq!(f(), 8);
    assert_eq!(Arc::strong_count(&marker), 1);
    let err = pool
        .submit_timeout(|| 3, Duration::from_millis(30))
        .unwrap_err();
    assert!(matches!(err, TrySubmitError::Timeout(_)));
    assert!(matches!(
        pool.try_spawn(|| ()),
        Err(TrySubmitError::Full(_))
    ));
    assert_eq!(pool.metrics().injector_queue, 2);
    gate.open();
    assert_eq!((a.join().unwrap(), b.join().unwrap()), (1, 2));
    pool.shutdown();
    let err = pool.try_submit(|| 4).unwrap_err();
    assert!(matches!(err, TrySubmitError::ShutDown(_)));
    assert_eq!(err.into_inner()(), 4);
}

#[test]
fn a_blocked_submitter_waits_for_room_and_wakes_when_workers_are_added() {
    with_watchdog("resize wakes submitter", || {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).per_core(4))
            .queue_capacity(2)
            .build()
            .unwrap();
        assert_eq!(pool.set_active_workers(1), 1);
        let mut gate = Gate::new();
        gate.block_one_worker(&pool); // the only active worker is busy
        let queued: Vec<_> = (0..2).map(|i| pool.submit(move || i)).collect();
        let returned = Arc::new(AtomicBool::new(false));
        let (p, r) = (pool.clone(), returned.clone());
        let submitter = thread::spawn(move || {
            let h = p.submit(|| 99); // the queue is full: this waits
            r.store(true, Ordering::SeqCst);
            h.join().unwrap()
        });
        // Nothing can take from the injector: the active worker is held by the gate and the
        // others are paused, so the submitter must still be waiting.
        thread::sleep(Duration::from_millis(100));
        assert!(
            !returned.load(Ordering::SeqCst),
            "submit did not wait for room"
        );
        let before: Vec<u64> = pool.metrics().workers.iter().map(|w| w.executed).collect();
        assert_eq!(&before[1..], [0, 0, 0], "paused workers ran nothing");
        // More workers: they take the queued tasks, which makes room.
        assert_eq!(pool.set_active_workers(4), 4);
        assert_eq!(submitter.join().unwrap(), 99);
        let results: Vec<_> = queued.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results, [0, 1]);
        gate.open();
        pool.shutdown();
    });
}

#[test]
fn shutdown_releases_blocked_submitters() {
    with_watchdog("shutdown releases submitters", || {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1))
            .queue_capacity(1)
            .build()
            .unwrap();
        let mut gate = Gate::new();
        gate.block_one_worker(&pool);
        let first = pool.submit(|| 1);
        let (p1, p2) = (pool.clone(), pool.clone());
        let waiting_submit = thread::spawn(move || p1.submit(|| 2).join());
        let waiting_timeout = thread::spawn(move || {
            p2.submit_timeout(|| 3, Duration::from_secs(3600))
                .map(|_| ())
                .map_err(|e| e.into_inner()())
        });
        thread::sleep(Duration::from_millis(50));
        let p3 = pool.clone();
        let shutdown = thread::spawn(move || p3.shutdown());
        thread::sleep(Duration::from_millis(50));
        gate.open();
        shutdown.join().unwrap();
        assert_eq!(first.join().unwrap(), 1, "accepted work still ran");
        assert!(matches!(
            waiting_submit.join().unwrap(),
            Err(TaskError::Rejected)
        ));
        // The timed submitter gets its very closure back, and can run it itself.
        assert_eq!(waiting_timeout.join().unwrap(), Err(3));
    });
}

#[test]
fn spawns_from_inside_never_block_on_the_bound() {
    with_watchdog("inside spawns", || {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1))
            .queue_capacity(1)
            .build()
            .unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let (p, c) = (pool.clone(), count.clone());
        let total = pool
            .submit(move || {
                let handles: Vec<_> = (0..1_000)
                    .map(|_| {
                        let c = c.clone();
                        corepool::spawn({
                            let c = c.clone();
                            move || {
                                c.fetch_add(1, Ordering::Relaxed);
                            }
                        });
                        p.submit(move || c.fetch_add(1, Ordering::Relaxed))
                    })
                    .collect();
                let mut joined = 0;
                for h in handles {
                    h.join().unwrap();
                    joined += 1;
                }
                joined
            })
            .join()
            .unwrap();
        pool.shutdown();
        assert_eq!(total, 1_000);
        assert_eq!(count.load(Ordering::Relaxed), 2_000);
    });
}

#[test]
fn cancel_racing_the_start_runs_xor_cancels() {
    let pool = pool(2);
    let (mut ran, mut cancelled) = (0, 0);
    for _ in 0..2_000 {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let handle = pool.submit(move || f.store(true, Ordering::SeqCst));
        let did_cancel = handle.cancel();
        let result = handle.join();
        let did_run = flag.load(Ordering::SeqCst);
        assert_ne!(did_cancel, did_run, "ran xor cancelled");
        assert_eq!(result.is_ok(), did_run);
        assert_eq!(
            matches!(result, Err(TaskError::Cancelled)),
            did_cancel,
            "{result:?}"
        );
        if did_run {
            ran += 1;
        } else {
            cancelled += 1;
        }
    }
    pool.shutdown();
    let m = pool.metrics();
    assert_eq!((m.completed, m.cancelled), (ran, cancelled), "{m}");
    assert_eq!(m.submitted, 2_000);
    eprintln!("cancel race: {ran} ran, {cancelled} cancelled");
}

/// Counts how many closures were dropped.
struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn cancelled_closures_are_dropped_at_once() {
    let pool = pool(1);
    let mut gate = Gate::new();
    gate.block_one_worker(&pool);
    let drops = Arc::new(AtomicUsize::new(0));
    let token = CancelToken::new();
    let guarded = DropCounter(drops.clone());
    let single = pool.submit(move || drop(guarded));
    let group: Vec<_> = (0..100)
        .map(|_| {
            let guarded = DropCounter(drops.clone());
            pool.submit_with(&token, move || drop(guarded))
        })
        .collect();
    assert!(single.cancel());
    assert!(!single.cancel(), "a second cancel finds it taken");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "dropped by cancel, not later"
    );
    token.cancel();
    assert_eq!(drops.load(Ordering::SeqCst), 101);
    assert!(group.iter().all(|h| h.is_finished()));
    gate.open();
    assert!(matches!(single.join(), Err(TaskError::Cancelled)));
    for h in group {
        assert!(matches!(h.join(), Err(TaskError::Cancelled)));
    }
    pool.shutdown();
    let m = pool.metrics();
    assert_eq!(m.cancelled, 101, "{m}");
    assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m}");
}

#[test]
fn a_refused_submit_on_a_cancelled_token_counts_as_rejected_once() {
    let pool = pool(1);
    let token = CancelToken::new();
    token.cancel();
    pool.shutdown();
    let h = pool.submit_with(&token, || 1);
    assert!(matches!(h.join(), Err(TaskError::Rejected)));
    let m = pool.metrics();
    assert_eq!((m.submitted, m.cancelled, m.rejected), (0, 0, 1), "{m}");
    assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m}");
}

#[test]
fn a_token_with_many_finished_tasks_stays_small_and_still_cancels() {
    let pool = pool(2);
    let token = CancelToken::new();
    // Many bound tasks that finish: the token prunes them as it goes.
    for chunk in 0..50 {
        let handles: Vec<_> = (0..200)
            .map(|i| pool.submit_with(&token, move || chunk * 200 + i))
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
    let mut gate = Gate::new();
    gate.block_one_worker(&pool);
    gate.block_one_worker(&pool);
    let late: Vec<_> = (0..10)
        .map(|i| pool.submit_with(&token, move || i))
        .collect();
    token.cancel();
    gate.open();
    assert!(late
        .into_iter()
        .all(|h| h.join().unwrap_err().is_cancelled()));
    pool.shutdown();
}

#[test]
fn shutdown_now_under_a_submit_storm_accounts_for_every_task() {
    for round in 0..20 {
        let pool = pool(2);
        let start = Arc::new(Barrier::new(4));
        let producers: Vec<_> = (0..3)
            .map(|_| {
                let (pool, start) = (pool.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    let mut handles = Vec::new();
                    loop {
                        match pool.try_submit(|| std::hint::black_box(17u64).pow(2)) {
                            Ok(h) => handles.push(h),
                            Err(TrySubmitError::ShutDown(_)) => break,
                            Err(e) => panic!("unbounded pool refused: {e}"),
                        }
                    }
                    handles
                })
            })
            .collect();
        start.wait();
        thread::sleep(Duration::from_millis(5));
        let report = with_watchdog("shutdown_now", {
            let pool = pool.clone();
            move || pool.shutdown_now()
        });
        let (mut ran, mut cancelled, mut rejected, mut accepted) = (0u64, 0u64, 0u64, 0u64);
        for p in producers {
            for h in p.join().unwrap() {
                match h.join() {
                    Ok(289) => ran += 1,
                    Err(TaskError::Cancelled) => cancelled += 1,
                    Err(TaskError::Rejected) => rejected += 1,
                    other => panic!("unexpected {other:?}"),
                }
                accepted += 1;
            }
        }
        // Rejected handles were accepted by submitters that raced the shutdown: they count
        // as refused, not as submitted.
        assert_eq!(ran + cancelled, accepted - rejected, "round {round}");
        assert_eq!(report.ran(), ran, "round {round}: {report:?}");
        assert_eq!(report.cancelled, cancelled, "round {round}: {report:?}");
        // Once every racing submitter has returned, the books balance exactly.
        let m = pool.metrics();
        assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m}");
        assert_eq!(m.submitted, accepted - rejected, "round {round}: {m}");
        if round == 0 {
            eprintln!("shutdown_now storm: {ran} ran, {cancelled} cancelled, {rejected} raced");
        }
    }
    assert_eq!(threads_left("corepool-"), 0, "no thread outlives its pool");
}

#[test]
fn every_shutdown_variant_leaves_no_thread() {
    let build = || {
        Pool::builder()
            .sizing(
                Sizing::cpu_bound()
                    .cores(2)
                    .oversubscribe(true)
                    .blocking_io(3),
            )
            .build()
            .unwrap()
    };
    let use_it = |pool: &Pool| {
        let handles: Vec<_> = (0..6)
            .map(|i| pool.spawn_blocking(move || thread::sleep(Duration::from_millis(i))))
            .collect();
        pool.submit(|| ()).join().unwrap();
        handles
    };
    let pool = build();
    let hs = use_it(&pool);
    pool.shutdown();
    assert!(
        hs.into_iter().all(|h| h.join().is_ok()),
        "graceful runs all"
    );

    let pool = build();
    let _ = use_it(&pool);
    let report = pool.shutdown_now();
    assert_eq!(report.submitted, report.ran() + report.cancelled);

    let pool = build();
    let _ = use_it(&pool);
    assert!(pool.shutdown_timeout(Duration::from_secs(30)).is_ok());

    let pool = build();
    let _ = use_it(&pool);
    drop(pool);

    assert_eq!(threads_left("corepool-"), 0);
}

#[test]
fn the_blocking_lane_runs_apart_from_the_cpu_workers_and_respects_its_cap() {
    let pool = Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(2)
                .oversubscribe(true)
                .blocking_io(3),
        )
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..30)
        .map(|_| {
            let (running, peak) = (running.clone(), peak.clone());
            pool.spawn_blocking(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
                let name = thread::current().name().unwrap().to_owned();
                (corepool::current_worker(), name)
            })
        })
        .collect();
    for h in handles {
        let (worker, name) = h.join().unwrap();
        assert_eq!(worker, None, "a blocking task ran on a CPU worker");
        assert!(name.starts_with("corepool-io-"), "{name}");
    }
    assert!(peak.load(Ordering::SeqCst) <= 3, "cap of 3 threads");
    // A CPU task can hand blocking work to the lane and wait for it.
    let p = pool.clone();
    let via_cpu = pool
        .submit(move || p.spawn_blocking(|| 5).join().unwrap())
        .join()
        .unwrap();
    assert_eq!(via_cpu, 5);
    pool.shutdown();
    let m = pool.metrics();
    assert_eq!(m.blocking.completed, 31, "{m}");
    assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m}");
}

#[test]
fn a_burst_of_blocking_tasks_that_wait_for_each_other_gets_a_thread_each() {
    // 32 tasks submitted in one go into a lane with no thread yet: the submitter starts one
    // thread and each new thread starts the next, so all 32 end up running at once — which
    // they must, since none returns before all have arrived.
    const TASKS: usize = 32;
    with_watchdog("blocking rendezvous", || {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).blocking_io(TASKS))
            .build()
            .unwrap();
        let all_in = Arc::new(Barrier::new(TASKS));
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let all_in = all_in.clone();
                pool.spawn_blocking(move || all_in.wait().is_leader())
            })
            .collect();
        let leaders = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&leader| leader)
            .count();
        assert_eq!(leaders, 1);
        assert_eq!(pool.metrics().blocking.threads, TASKS);
        pool.shutdown();
    });
}

#[test]
fn the_blocking_lane_grows_shrinks_and_lets_idle_threads_go() {
    with_watchdog("lane resize", || {
        let pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).blocking_io(1))
            .blocking_keep_alive(Duration::from_millis(50))
            .build()
            .unwrap();
        // One thread, held by the first task: the rest queue behind it.
        let (release, held) = mpsc::channel::<()>();
        let held = Arc::new(std::sync::Mutex::new(held));
        let h = held.clone();
        let first = pool.spawn_blocking(move || h.lock().unwrap().recv().ok());
        let (started_tx, started) = mpsc::channel();
        let queued: Vec<_> = (0..4)
            .map(|_| {
                let tx = started_tx.clone();
                pool.spawn_blocking(move || tx.send(()).unwrap())
            })
            .collect();
        thread::sleep(Duration::from_millis(50));
        assert!(started.try_recv().is_err(), "capped at one busy thread");
        // Growing starts threads for the queued tasks at once, while the first is still held.
        pool.set_blocking_io(4);
        for _ in 0..4 {
            started.recv().unwrap();
        }
        drop(release);
        first.join().unwrap();
        queued.into_iter().for_each(|h| h.join().unwrap());
        assert!(pool.metrics().blocking.threads >= 2);
        // Idle threads leave after the keep-alive.
        let deadline = Instant::now() + Duration::from_secs(20);
        while pool.metrics().blocking.threads > 0 {
            assert!(Instant::now() < deadline, "idle lane threads never left");
            thread::sleep(Duration::from_millis(10));
        }
        pool.set_blocking_io(0);
        assert!(matches!(
            pool.spawn_blocking(|| ()).join(),
            Err(TaskError::NoBlockingLane)
        ));
        pool.shutdown();
    });
    assert_eq!(threads_left("corepool-io"), 0);
}

#[test]
fn counters_add_up_under_load() {
    let pool = Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(2)
                .oversubscribe(true)
                .blocking_io(2),
        )
        .panic_handler(|_| {})
        .build()
        .unwrap();
    let token = CancelToken::new();
    let producers: Vec<_> = (0..4)
        .map(|t| {
            let (pool, token) = (pool.clone(), token.clone());
            thread::spawn(move || {
                let mut handles = Vec::new();
                for i in 0..20_000u64 {
                    match i % 50 {
                        0 => pool.spawn(|| panic!("one in fifty spawns panics")),
                        1 => handles.push(pool.submit_with(&token, move || i)),
                        2 if t == 0 => handles.push(pool.spawn_blocking(move || i)),
                        3 => {
                            let h = pool.submit(move || i);
                            h.cancel();
                            handles.push(h);
                        }
                        _ => pool.spawn(move || {
                            if i % 7 == 0 {
                                corepool::spawn(move || {
                                    std::hint::black_box(i);
                                });
                            }
                        }),
                    }
                    if t == 1 && i == 10_000 {
                        token.cancel();
                    }
                }
                handles
            })
        })
        .collect();
    // Snapshots while it runs never stop the pool, and are never ahead of themselves.
    for _ in 0..20 {
        let m = pool.metrics();
        assert!(
            m.completed + m.panicked + m.cancelled <= m.submitted + m.running,
            "{m}"
        );
        thread::sleep(Duration::from_millis(1));
    }
    let handles: Vec<_> = producers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    for h in handles {
        match h.join() {
            Ok(_) | Err(TaskError::Cancelled) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    pool.shutdown();
    let m = pool.metrics();
    assert_eq!(m.submitted, m.completed + m.panicked + m.cancelled, "{m}");
    assert_eq!(m.panicked, 4 * 400, "{m}");
    assert!(
        m.cancelled >= 4 * 400,
        "every cancel of a queued task counts: {m}"
    );
    assert_eq!(m.running, 0);
    assert_eq!(m.rejected, 0);
    eprintln!("{m}");
}

#[test]
fn join_handles_are_futures() {
    let pool = pool(2);
    // Under a tokio runtime: an async handler awaiting CPU work.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let p = pool.clone();
    let sum = rt.block_on(async move {
        let a = p.submit(|| (1..=100u64).sum::<u64>());
        let b = p.submit(|| (101..=200u64).sum::<u64>());
        a.await.unwrap() + b.await.unwrap()
    });
    assert_eq!(sum, 20_100);
    // A cancelled or rejected task resolves too.
    let token = CancelToken::new();
    token.cancel();
    let cancelled = rt.block_on(pool.submit_with(&token, || 1));
    assert!(matches!(cancelled, Err(TaskError::Cancelled)));
    // And under a minimal block_on: a waker that unparks the waiting thread, no busy loop.
    assert_eq!(block_on(pool.submit(|| "done")).unwrap(), "done");
    pool.shutdown();
    assert!(matches!(
        block_on(pool.submit(|| 1)),
        Err(TaskError::Rejected)
    ));
}

/// The smallest executor for one future: poll, park until woken, repeat.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => thread::park(),
        }
    }
}

#[test]
fn busy_time_stops_growing_once_the_workers_have_exited() {
    with_watchdog("busy time after shutdown", || {
        let pool = pool(2);
        pool.for_each_index(0..1_000, |i| {
            std::hint::black_box(i);
        });
        pool.shutdown();
        let busy = |pool: &Pool| -> Vec<Duration> {
            pool.metrics().workers.iter().map(|w| w.busy).collect()
        };
        let at_shutdown = busy(&pool);
        thread::sleep(Duration::from_millis(200));
        assert_eq!(
            busy(&pool),
            at_shutdown,
            "an exited worker still counts as busy"
        );
    });
}
