//! Helpers shared by the reliability tests: a watchdog against hangs, OS thread counts, RSS.

#![allow(dead_code)]

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Runs `f` on its own thread and returns its value; if it has not finished after `limit`,
/// fails the test naming `what` instead of hanging CI. A panic in `f` resumes here.
pub fn watchdog<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let body = thread::Builder::new()
        .name(format!("watched: {what}"))
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(result);
        })
        .expect("spawn the watched thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => {
            body.join().unwrap();
            value
        }
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("watchdog: {what} still running after {limit:?}: a hang"),
    }
}

/// Threads of this process whose name starts with `prefix` (Linux: /proc/self/task/*/comm).
pub fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// All threads of this process, from the OS.
pub fn os_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// Waits (at most 5 s) until at most `n` threads named `prefix*` are left, and returns the
/// count then. A joined thread's /proc entry goes away a moment after `join` returns; a
/// leaked thread stays and fails the caller's assertion.
pub fn settle_threads(prefix: &str, n: usize) -> usize {
    for _ in 0..500 {
        if threads_named(prefix) <= n {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    threads_named(prefix)
}

/// Resident set size of this process in KiB (Linux: /proc/self/status, VmRSS).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// A pool of `workers` unpinned CPU workers on one core, for tests that need an exact count.
pub fn unpinned_pool(workers: usize) -> corepool::Pool {
    corepool::Pool::builder()
        .sizing(
            corepool::Sizing::cpu_bound()
                .cores(1)
                .per_core(workers)
                .oversubscribe(true),
        )
        .pin_workers(false)
        .build()
        .unwrap()
}
