//! The naive-vs-pool experiment of the Go worker-pool write-ups: 10,000 jobs, each a 1 ms
//! blocking wait followed by about 50 µs of CPU work, run three ways:
//!
//! - `thread-per-job`: one OS thread per job, all joined at the end;
//! - `channel-pool`: 200 long-lived threads draining one shared job channel
//!   (`benches/common/channel_pool.rs`); each job waits and computes on the same thread;
//! - `corepool`: the wait runs on the blocking lane (`spawn_blocking`, at most 200 threads,
//!   the "+ blocking_io" term of the sizing rule) and, once it is over, hands the CPU part to
//!   the pinned CPU workers with `pool.spawn`;
//! - `corepool/nopin`: the same with `pin_workers(false)`: the 200 lane threads and the CPU
//!   workers share 2 CPUs, and a pinned worker cannot leave a CPU a lane thread is using.
//!
//! Each variant runs in its own process (this example re-executes itself with `--child`), so
//! its peak RSS (`VmHWM` from `/proc/self/status`, read by the child at the end) is its own.
//! The wall time covers building the pool, submitting every job and waiting for the last.
//!
//! The CPU floor is `jobs × CPU part ÷ cores`: no schedule can finish sooner. It is computed
//! twice: nominally (50 µs per job) and from the measured time of running all the CPU parts
//! back to back on this thread.
//!
//! ```text
//! cargo run --release --example naive_vs_pool -- [--jobs N] [--wait-us W] [--cpu-us C]
//!                                                [--threads T] [--reps R]
//! ```
//!
//! Defaults: 10,000 jobs, 1,000 µs wait, 50 µs CPU, 200 pool/lane threads, 3 reps: about
//! 10 s in all on 2 cores.

#[path = "../benches/common/channel_pool.rs"]
#[allow(dead_code)]
mod channel_pool;
#[path = "../benches/common/latch.rs"]
#[allow(dead_code)]
mod latch;

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use channel_pool::ChannelPool;
use latch::Latch;

const VARIANTS: [&str; 4] = [
    "thread-per-job",
    "channel-pool",
    "corepool",
    "corepool/nopin",
];

/// `steps` dependent multiply-xor steps.
fn work(steps: u64) -> u64 {
    (0..steps).fold(0x9E37_79B9_7F4A_7C15u64, |a, x| {
        black_box(a.wrapping_mul(31) ^ x)
    })
}

/// Steps that take `us` microseconds on this machine: the fastest of several trials, so that
/// a trial slowed by another process does not inflate the job.
fn calibrate(us: u64) -> u64 {
    const PROBE: u64 = 200_000;
    let best = (0..20)
        .map(|_| {
            let t = Instant::now();
            black_box(work(black_box(PROBE)));
            t.elapsed()
        })
        .min()
        .unwrap();
    (PROBE as f64 * us as f64 / (best.as_secs_f64() * 1e6)).round() as u64
}

/// Peak resident set of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Params {
    jobs: usize,
    wait: Duration,
    cpu_us: u64,
    threads: usize,
    reps: usize,
    steps: u64,
}

/// Runs one variant in this process and prints `wall_ns peak_rss_kib`.
fn child(variant: &str, p: &Params) {
    let (jobs, wait, steps) = (p.jobs, p.wait, p.steps);
    let start = Instant::now();
    match variant {
        "thread-per-job" => {
            let handles: Vec<_> = (0..jobs)
                .map(|_| {
                    std::thread::spawn(move || {
                        std::thread::sleep(wait);
                        black_box(work(steps));
                    })
                })
                .collect();
            for h in handles {
                h.join().expect("job thread panicked");
            }
        }
        "channel-pool" => {
            let latch = Latch::new();
            let pool = ChannelPool::new(p.threads);
            for _ in 0..jobs {
                pool.spawn(move || {
                    std::thread::sleep(wait);
                    black_box(work(steps));
                    latch.count_down();
                });
            }
            latch.wait(jobs);
            drop(pool);
        }
        "corepool" | "corepool/nopin" => {
            let latch = Latch::new();
            let pool = corepool::Pool::builder()
                .sizing(corepool::Sizing::cpu_bound().blocking_io(p.threads))
                .pin_workers(variant == "corepool")
                .blocking_queue_capacity(jobs)
                .build()
                .expect("corepool pool");
            for _ in 0..jobs {
                let cpu = pool.clone();
                drop(pool.spawn_blocking(move || {
                    std::thread::sleep(wait);
                    cpu.spawn(move || {
                        black_box(work(steps));
                        latch.count_down();
                    });
                }));
            }
            latch.wait(jobs);
            pool.shutdown();
        }
        other => panic!("unknown variant {other}"),
    }
    let wall = start.elapsed();
    println!("{} {}", wall.as_nanos(), peak_rss_kib());
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let mut p = Params {
        jobs: 10_000,
        wait: Duration::from_micros(1_000),
        cpu_us: 50,
        threads: 200,
        reps: 3,
        steps: 0,
    };
    let mut child_variant = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = || -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--jobs" => p.jobs = num() as usize,
            "--wait-us" => p.wait = Duration::from_micros(num()),
            "--cpu-us" => p.cpu_us = num(),
            "--threads" => p.threads = num() as usize,
            "--reps" => p.reps = num() as usize,
            "--steps" => p.steps = num(),
            "--child" => {
                child_variant = Some(it.next().expect("--child needs a variant"));
            }
            "-h" | "--help" => {
                println!(
                    "usage: naive_vs_pool [--jobs N] [--wait-us W] [--cpu-us C] [--threads T] [--reps R]"
                );
                return;
            }
            other => panic!("unknown flag {other} (try --help)"),
        }
    }
    assert!(
        p.jobs > 0 && p.threads > 0 && p.reps > 0,
        "counts must be positive"
    );
    if let Some(variant) = child_variant {
        child(&variant, &p);
        return;
    }

    let cores = corepool::detect_cores().cpus().len();
    p.steps = calibrate(p.cpu_us);
    let t = Instant::now();
    for _ in 0..p.jobs {
        black_box(work(black_box(p.steps)));
    }
    let cpu_total = t.elapsed().as_secs_f64() * 1e3;
    let nominal_floor = p.jobs as f64 * p.cpu_us as f64 / 1e3 / cores as f64;
    let measured_floor = cpu_total / cores as f64;
    println!(
        "naive vs pool: {} jobs of {} µs wait + {} µs CPU ({} steps), {} threads, {} cores, {} reps",
        p.jobs,
        p.wait.as_micros(),
        p.cpu_us,
        p.steps,
        p.threads,
        cores,
        p.reps
    );
    println!(
        "CPU floor: nominal {nominal_floor:.1} ms; measured {measured_floor:.1} ms \
         (all CPU parts back to back took {cpu_total:.1} ms on one thread)"
    );
    println!();
    println!(
        "{:<15} {:>10} {:>17} {:>11} {:>11} {:>14}",
        "variant", "wall ms", "range ms", "÷ nominal", "÷ measured", "peak RSS MiB"
    );
    let exe = std::env::current_exe().expect("path of this example");
    for variant in VARIANTS {
        let mut walls = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..p.reps {
            let out = Command::new(&exe)
                .args([
                    "--child",
                    variant,
                    "--jobs",
                    &p.jobs.to_string(),
                    "--wait-us",
                    &p.wait.as_micros().to_string(),
                    "--threads",
                    &p.threads.to_string(),
                    "--steps",
                    &p.steps.to_string(),
                ])
                .output()
                .expect("run a child");
            assert!(
                out.status.success(),
                "{variant} child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().unwrap());
            walls.push(fields.next().unwrap() / 1e6);
            rss.push(fields.next().unwrap() / 1024.0);
        }
        let (lo, hi) = walls
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let wall = median(walls);
        println!(
            "{:<15} {:>10.1} {:>17} {:>11.2} {:>11.2} {:>14.1}",
            variant,
            wall,
            format!("{lo:.1}–{hi:.1}"),
            wall / nominal_floor,
            wall / measured_floor,
            median(rss)
        );
    }
}
