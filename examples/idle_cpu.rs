//! Measures what an idle pool costs: builds the default pool, runs a burst of work so every
//! worker has been busy, lets it settle, then reads, for the pool's worker threads only, the
//! CPU time (`/proc/self/task/*/schedstat`, nanoseconds) and the context switches
//! (`/proc/self/task/*/status`) over one idle second (Linux).
//!
//! ```text
//! cargo run --release --example idle_cpu
//! ```

use std::time::Duration;

/// (on-CPU nanoseconds, context switches) summed over threads named `prefix*`.
fn usage(prefix: &str) -> (u64, u64) {
    let (mut ns, mut switches) = (0, 0);
    for entry in std::fs::read_dir("/proc/self/task").expect("Linux /proc") {
        let dir = entry.expect("task entry").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let schedstat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        ns += schedstat
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0);
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        switches += status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    (ns, switches)
}

fn main() {
    let pool = corepool::Pool::new();
    let workers = pool.plan().cpu_workers();
    let handles: Vec<_> = (0..10_000u64)
        .map(|i| pool.submit(move || (0..1_000u64).fold(i, |a, x| a.wrapping_mul(31) ^ x)))
        .collect();
    for h in handles {
        h.join().expect("task");
    }
    std::thread::sleep(Duration::from_millis(200));
    let (ns0, sw0) = usage("corepool-cpu");
    std::thread::sleep(Duration::from_secs(1));
    let (ns1, sw1) = usage("corepool-cpu");
    println!(
        "{workers} idle workers over 1 s: {:.3} ms of CPU, {} context switches",
        (ns1 - ns0) as f64 / 1e6,
        sw1 - sw0
    );
}
