//! Measures what an idle pool costs: builds the default pool, runs a burst of work so every
//! worker has been busy, lets it settle, then reads the CPU time (user + system) of the
//! pool's worker threads over one idle second from /proc/self/task/*/stat (Linux).
//!
//! ```text
//! cargo run --release --example idle_cpu
//! ```

use std::time::Duration;

/// Total CPU time, in clock ticks, of this process's threads whose name starts with `prefix`.
fn cpu_ticks(prefix: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task").expect("Linux /proc") {
        let dir = entry.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // Fields after the ")" that closes the name: state is field 3, utime 14, stime 15.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    total
}

fn main() {
    let pool = corepool::Pool::new();
    let workers = pool.plan().cpu_workers();
    let handles: Vec<_> = (0..10_000u64)
        .map(|i| pool.submit(move || (0..1_000u64).fold(i, |a, x| a.wrapping_mul(31) ^ x)))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    // USER_HZ is 100 on every Linux ABI: one tick is 10 ms.
    let tick_ms = 10.0;
    let before = cpu_ticks("corepool-cpu");
    std::thread::sleep(Duration::from_secs(1));
    let after = cpu_ticks("corepool-cpu");
    let parks: u64 = pool.metrics().workers.iter().map(|w| w.parks).sum();
    println!(
        "{workers} idle workers used {:.0} ms of CPU in 1 s (clock-tick resolution {tick_ms} ms); parks so far: {parks}",
        (after - before) as f64 * tick_ms
    );
}
