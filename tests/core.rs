//! API behaviour of the core executor: exactly-once delivery, inside spawning, panics,
//! shutdown, rejection, pinning fallback, no leaked threads.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use corepool::{detect_cores, PinStatus, Pool, Sizing, TaskError};

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(workers).oversubscribe(true))
        .build()
        .unwrap()
}

/// Threads of this process whose name starts with `prefix` (Linux: /proc/self/task/*/comm).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Waits (at most 5 s) until no thread named `prefix*` is left. `JoinHandle::join` returns
/// when the kernel clears the thread id, a moment before its /proc entry goes away; a thread
/// that really leaked stays, and fails the caller's assertion.
fn threads_left_after_exit(prefix: &str) -> usize {
    for _ in 0..500 {
        if threads_named(prefix) == 0 {
            return 0;
        }
        thread::sleep(Duration::from_millis(10));
    }
    threads_named(prefix)
}

#[test]
fn one_million_tasks_from_four_outside_threads_run_exactly_once() {
    const PER_THREAD: usize = 250_000;
    const THREADS: usize = 4;
    let pool = pool(detect_cores().cpus().len().max(2));
    let seen: Arc<Vec<AtomicU8>> = Arc::new(
        (0..PER_THREAD * THREADS)
            .map(|_| AtomicU8::new(0))
            .collect(),
    );
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = pool.clone();
            let seen = seen.clone();
            thread::spawn(move || {
                for i in t * PER_THREAD..(t + 1) * PER_THREAD {
                    let seen = seen.clone();
                    pool.spawn(move || {
                        seen[i].fetch_add(1, Ordering::Relaxed);
                    });
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    pool.shutdown();
    let wrong: Vec<(usize, u8)> = seen
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.load(Ordering::Relaxed)))
        .filter(|&(_, n)| n != 1)
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "ids not run exactly once (id, times): {wrong:?}"
    );
    let m = pool.metrics();
    assert_eq!(m.executed(), (PER_THREAD * THREADS) as u64, "{m}");
    assert_eq!(m.rejected, 0);
}

fn spawn_tree(n: usize, count: Arc<AtomicUsize>) {
    count.fetch_add(1, Ordering::Relaxed);
    let rest = n - 1;
    let left = rest / 2;
    let right = rest - left;
    for part in [left, right] {
        if part > 0 {
            let count = count.clone();
            corepool::spawn(move || spawn_tree(part, count));
        }
    }
}

#[test]
fn a_tree_of_100k_tasks_spawned_from_inside_all_run() {
    let pool = pool(detect_cores().cpus().len().max(2));
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    pool.spawn(move || spawn_tree(100_000, c));
    pool.shutdown();
    assert_eq!(count.load(Ordering::Relaxed), 100_000);
    let m = pool.metrics();
    assert_eq!(m.executed(), 100_000, "{m}");
}

#[test]
fn a_panic_reaches_the_handle_and_the_worker_survives() {
    let pool = pool(1);
    let err = pool
        .submit(|| -> u8 { panic!("bad input 7") })
        .join()
        .unwrap_err();
    match err {
        TaskError::Panicked(p) => assert_eq!(p.message(), "bad input 7"),
        other => panic!("expected a panic, got {other:?}"),
    }
    // The single worker is still alive and running tasks.
    assert_eq!(pool.submit(|| 5).join().unwrap(), 5);
    pool.shutdown();
    let m = pool.metrics();
    assert_eq!((m.workers[0].executed, m.workers[0].panicked), (2, 1));
}

#[test]
fn a_spawned_panic_goes_to_the_handler_and_the_worker_survives() {
    let (tx, rx) = mpsc::channel::<String>();
    let tx = Mutex::new(tx);
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1))
        .panic_handler(move |payload| {
            let msg = corepool::panic_message(&*payload).to_owned();
            tx.lock().unwrap().send(msg).unwrap();
        })
        .build()
        .unwrap();
    pool.spawn(|| panic!("detached failure"));
    pool.spawn(|| std::panic::panic_any(42u32));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "detached failure"
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "<non-string panic payload>"
    );
    assert_eq!(pool.submit(|| "alive").join().unwrap(), "alive");
}

#[test]
fn a_panicking_panic_handler_does_not_kill_the_worker() {
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1))
        .panic_handler(|_| panic!("the handler itself fails"))
        .build()
        .unwrap();
    pool.spawn(|| panic!("first"));
    assert_eq!(pool.submit(|| 1).join().unwrap(), 1);
}

#[test]
fn shutdown_runs_every_accepted_task_including_children() {
    let pool = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..200 {
        let ran = ran.clone();
        pool.spawn(move || {
            thread::sleep(Duration::from_micros(200));
            ran.fetch_add(1, Ordering::Relaxed);
            let ran = ran.clone();
            corepool::spawn(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            });
        });
    }
    pool.shutdown();
    assert_eq!(ran.load(Ordering::Relaxed), 400);
}

#[test]
fn submissions_after_shutdown_are_rejected_not_lost() {
    let pool = pool(2);
    pool.shutdown();
    assert!(matches!(pool.submit(|| 1).join(), Err(TaskError::Rejected)));
    let dropped = Arc::new(());
    let d = dropped.clone();
    pool.spawn(move || drop(d));
    // The rejected closure was dropped (its capture released), never run, and counted.
    assert_eq!(Arc::strong_count(&dropped), 1);
    assert_eq!(pool.metrics().rejected, 2);
    let install = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.install(|| 1)));
    assert!(install.is_err(), "install on a shut-down pool panics");
}

#[test]
fn install_borrows_and_runs_inline_on_its_own_worker() {
    let pool = pool(2);
    let mut data = vec![1u64, 2, 3];
    let total: u64 = pool.install(|| {
        let idx = corepool::current_worker().expect("runs on a worker");
        assert!(idx < 2);
        data.iter().sum()
    });
    assert_eq!(total, 6);
    data.push(4);
    // Nested install on the same pool runs inline on the same worker.
    let (outer, inner) = {
        let p = pool.clone();
        pool.install(move || {
            let outer = corepool::current_worker();
            (outer, p.install(corepool::current_worker))
        })
    };
    assert_eq!(outer, inner);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.install(|| panic!("install panic"))
    }));
    assert_eq!(
        corepool::panic_message(&*caught.unwrap_err()),
        "install panic"
    );
}

#[test]
fn threads_are_named_and_none_leak_after_shutdown_or_drop() {
    let cpu = detect_cores().cpus().len().max(2);
    let build = |prefix: &'static str| {
        Pool::builder()
            .sizing(Sizing::cpu_bound().cores(cpu))
            .thread_name(move |i| format!("{prefix}{i}"))
            .build()
            .unwrap()
    };
    let p = build("leakA-");
    assert_eq!(threads_named("leakA-"), cpu);
    p.submit(|| ()).join().unwrap();
    p.shutdown();
    assert_eq!(threads_left_after_exit("leakA-"), 0);

    let p = build("leakB-");
    let clone = p.clone();
    assert_eq!(threads_named("leakB-"), cpu);
    drop(p);
    assert_eq!(threads_named("leakB-"), cpu, "a clone keeps the pool alive");
    drop(clone);
    assert_eq!(
        threads_left_after_exit("leakB-"),
        0,
        "dropping the last handle joins the threads"
    );

    // The last handle dropped inside one of the pool's own tasks: no deadlock, and the
    // threads still leave.
    let p = build("leakC-");
    let (tx, rx) = mpsc::channel();
    let inner = p.clone();
    p.spawn(move || {
        drop(inner);
        tx.send(()).unwrap();
    });
    drop(p);
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(threads_left_after_exit("leakC-"), 0);
}

#[test]
fn workers_on_cores_outside_the_allowed_set_run_unpinned() {
    let allowed = detect_cores().cpus().len();
    let pool = pool(allowed + 2);
    let plan = pool.plan();
    assert_eq!(plan.cpu_workers(), allowed + 2);
    for w in &plan.workers()[allowed..] {
        assert_eq!(w.pin, PinStatus::NoSuchCore, "{plan}");
        assert_eq!(w.cpu, None);
    }
    for w in &plan.workers()[..allowed] {
        assert!(
            matches!(w.pin, PinStatus::Pinned | PinStatus::Failed),
            "{plan}"
        );
    }
    assert!(plan.to_string().contains("no such cpu"), "{plan}");
    // Every worker, pinned or not, takes work.
    let handles: Vec<_> = (0..1000).map(|i| pool.submit(move || i)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 999 * 1000 / 2);
    let m = pool.metrics();
    assert_eq!(m.workers.len(), allowed + 2);
}

#[test]
fn pinning_can_be_turned_off() {
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(2))
        .pin_workers(false)
        .build()
        .unwrap();
    assert!(pool
        .plan()
        .workers()
        .iter()
        .all(|w| w.pin == PinStatus::Disabled));
    assert!(
        pool.plan().to_string().contains("pinning off"),
        "{}",
        pool.plan()
    );
    assert_eq!(pool.install(|| 3), 3);
}

#[test]
fn k_workers_per_core_share_cores_round_robin() {
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1).per_core(3))
        .build()
        .unwrap();
    let cpus: Vec<_> = pool.plan().workers().iter().map(|w| w.cpu).collect();
    assert_eq!(cpus.len(), 3);
    assert!(cpus.windows(2).all(|w| w[0] == w[1]));
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..3000 {
        let c = count.clone();
        pool.spawn(move || {
            c.fetch_add(1, Ordering::Relaxed);
        });
    }
    pool.shutdown();
    assert_eq!(count.load(Ordering::Relaxed), 3000);
}

#[test]
fn join_handles_wait_across_threads_and_report_finished() {
    let pool = pool(2);
    let (tx, rx) = mpsc::channel::<()>();
    let h = pool.submit(move || {
        rx.recv().unwrap();
        "late"
    });
    assert!(!h.is_finished());
    let waiter = thread::spawn(move || h.join().unwrap());
    thread::sleep(Duration::from_millis(20));
    tx.send(()).unwrap();
    assert_eq!(waiter.join().unwrap(), "late");
}

#[test]
fn an_idle_pool_parks_its_workers() {
    let pool = pool(2);
    pool.submit(|| ()).join().unwrap();
    // Wait (bounded) until both workers have parked at least once.
    for _ in 0..1000 {
        if pool.metrics().workers.iter().all(|w| w.parks > 0) {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
    panic!("workers never parked: {}", pool.metrics());
}
