//! The naive-vs-pool experiment of the Go worker-pool write-ups: 10,000 jobs, each a 1 ms
//! blocking wait followed by about 50 µs of CPU work, run five ways:
//!
//! - `thread-per-job`: one OS thread per job, all joined at the end;
//! - `channel-pool`: 200 long-lived threads draining one shared job channel
//!   (`benches/common/channel_pool.rs`); each job waits and computes on the same thread;
//! - `corepool`: the wait runs on the blocking lane (`spawn_blocking`, 200 threads, the
//!   "+ blocking_io" term of the sizing rule, started by `build` with `prestart_blocking` as
//!   the channel pool starts its 200) and, once it is over, hands the CPU part to the pinned
//!   CPU workers with `pool.spawn`;
//! - `corepool/lazy`: the same with the lane's default lazy start: the submitting thread
//!   starts the first lane thread, and each new one starts the next while jobs are queued;
//! - `corepool/nopin`: as `corepool` with `pin_workers(false)`: the 200 lane threads and the
//!   CPU workers share 2 CPUs, and a pinned worker cannot leave a CPU a lane thread is using.
//!
//! Each variant runs in its own process (this example re-executes itself with `--child`), so
//! its peak RSS (`VmHWM` from `/proc/self/status`, read by the child at the end) and its CPU
//! time (`getrusage`) are its own. The wall time covers building the pool, submitting every
//! job and waiting for the last one to finish; the waiter blocks (no polling), and the pool's
//! teardown comes after the clock stops. Repetitions go round the variants.
//!
//! The CPU floor is `jobs × CPU part ÷ cores`: no schedule can finish sooner. The CPU part is
//! calibrated to take 50 µs a job back to back, but this machine's speed drifts by a few per
//! cent from one second to the next, so the floor is also measured in every round, beside the
//! variants: `cpu-only` runs all the CPU parts and nothing else, split over one thread per
//! core. A third floor adds what the waits alone cost the machine (`waits-only`: the same
//! sleeps on the same number of threads, no CPU part): a sleep is a timer and two context
//! switches, which on a virtual machine is several µs of CPU each.
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

use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

use channel_pool::ChannelPool;

/// The floors, measured in each round like the variants.
const REFERENCES: [&str; 2] = ["cpu-only", "waits-only"];

const VARIANTS: [&str; 5] = [
    "thread-per-job",
    "channel-pool",
    "corepool",
    "corepool/lazy",
    "corepool/nopin",
];

/// `steps` dependent multiply-xor steps.
fn work(steps: u64) -> u64 {
    (0..steps).fold(0x9E37_79B9_7F4A_7C15u64, |a, x| {
        black_box(a.wrapping_mul(31) ^ x)
    })
}

/// Steps that take `us` microseconds each when jobs run back to back on this thread, as the
/// CPU parts do on a worker. A first guess comes from the fastest of several short trials (a
/// trial slowed by another process does not count); it is then corrected twice by the mean of
/// 1,000 jobs in a row, which also pays the timer interrupts and other small costs a job pays
/// in a long run: the guess alone missed by a few per cent, either way.
fn calibrate(us: u64) -> u64 {
    const PROBE: u64 = 200_000;
    const ROW: u32 = 1_000;
    let best = (0..20)
        .map(|_| {
            let t = Instant::now();
            black_box(work(black_box(PROBE)));
            t.elapsed()
        })
        .min()
        .unwrap();
    let mut steps = (PROBE as f64 * us as f64 / (best.as_secs_f64() * 1e6)).round() as u64;
    for _ in 0..2 {
        let t = Instant::now();
        for _ in 0..ROW {
            black_box(work(black_box(steps)));
        }
        let mean_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(ROW);
        steps = (steps as f64 * us as f64 / mean_us).round() as u64;
    }
    steps
}

/// Counts the jobs down and wakes the waiting thread after the last one. The waiter blocks
/// instead of polling: a run lasts hundreds of milliseconds, and a poll every few µs would
/// take a CPU from the workers thousands of times.
struct Done {
    left: AtomicUsize,
    waiter: Thread,
}

impl Done {
    /// For `jobs` jobs, waited for by the calling thread.
    fn new(jobs: usize) -> &'static Done {
        Box::leak(Box::new(Done {
            left: AtomicUsize::new(jobs),
            waiter: std::thread::current(),
        }))
    }

    fn count_down(&self) {
        // ORDERING: AcqRel: each job's effects are released to the waiter; the last one sees
        // all of them before it wakes the waiter.
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.waiter.unpark();
        }
    }

    fn wait(&self) {
        // ORDERING: Acquire pairs with the jobs' AcqRel decrements.
        while self.left.load(Ordering::Acquire) > 0 {
            std::thread::park();
        }
    }
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

/// CPU time (user + system) this process has used so far, in nanoseconds.
fn cpu_used_ns() -> u64 {
    // SAFETY: getrusage writes one rusage struct we own; all-zero bytes are a valid rusage.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// Runs `job` `jobs` times, split evenly over `threads` threads started for it, and joins them.
fn split_over_threads(jobs: usize, threads: usize, job: impl Fn() + Copy + Send + 'static) {
    let per_thread = jobs.div_ceil(threads);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let mine = per_thread.min(jobs.saturating_sub(t * per_thread));
            std::thread::spawn(move || (0..mine).for_each(|_| job()))
        })
        .collect();
    for h in handles {
        h.join().expect("a floor thread panicked");
    }
}

/// Runs one variant in this process and prints `wall_ns peak_rss_kib cpu_ns`. The wall time
/// ends when the last job is done; a pool's teardown (joining its threads) comes after it.
fn child(variant: &str, p: &Params) {
    let (jobs, wait, steps) = (p.jobs, p.wait, p.steps);
    let start = Instant::now();
    let wall = match variant {
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
            start.elapsed()
        }
        // The CPU parts alone, back to back on one thread per core: the floor as this machine
        // runs it now.
        "cpu-only" => {
            let cores = corepool::detect_cores().cpus().len();
            split_over_threads(jobs, cores, move || {
                black_box(work(steps));
            });
            start.elapsed()
        }
        // The blocking waits alone, on `threads` threads: what they cost the machine whoever
        // schedules them (timer interrupts, two context switches each).
        "waits-only" => {
            split_over_threads(jobs, p.threads, move || std::thread::sleep(wait));
            start.elapsed()
        }
        "channel-pool" => {
            let done = Done::new(jobs);
            let pool = ChannelPool::new(p.threads);
            for _ in 0..jobs {
                pool.spawn(move || {
                    std::thread::sleep(wait);
                    black_box(work(steps));
                    done.count_down();
                });
            }
            done.wait();
            let wall = start.elapsed();
            drop(pool);
            wall
        }
        "corepool" | "corepool/lazy" | "corepool/nopin" => {
            let done = Done::new(jobs);
            let pool = corepool::Pool::builder()
                .sizing(corepool::Sizing::cpu_bound().blocking_io(p.threads))
                .pin_workers(variant != "corepool/nopin")
                .prestart_blocking(variant != "corepool/lazy")
                .blocking_queue_capacity(jobs)
                .build()
                .expect("corepool pool");
            for _ in 0..jobs {
                let cpu = pool.handle();
                drop(pool.spawn_blocking(move || {
                    std::thread::sleep(wait);
                    cpu.spawn(move || {
                        black_box(work(steps));
                        done.count_down();
                    });
                }));
            }
            done.wait();
            let wall = start.elapsed();
            pool.shutdown();
            wall
        }
        other => panic!("unknown variant {other}"),
    };
    println!("{} {} {}", wall.as_nanos(), peak_rss_kib(), cpu_used_ns());
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
    let nominal_floor = p.jobs as f64 * p.cpu_us as f64 / 1e3 / cores as f64;
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
    let exe = std::env::current_exe().expect("path of this example");
    // One run of a variant in its own process: (wall ms, peak RSS MiB, CPU ms).
    let run = |variant: &str| -> (f64, f64, f64) {
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
        let wall = fields.next().unwrap() / 1e6;
        let rss = fields.next().unwrap() / 1024.0;
        let cpu = fields.next().unwrap() / 1e6;
        (wall, rss, cpu)
    };
    // Repetitions go round the floors and the variants, so a slow spell of a shared machine
    // falls on all of them alike; each run is compared with the floors of its own round.
    let names: Vec<&str> = REFERENCES.iter().chain(VARIANTS.iter()).copied().collect();
    let mut results: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); names.len()];
    for _ in 0..p.reps {
        for (v, name) in names.iter().enumerate() {
            results[v].push(run(name));
        }
    }
    let (cpu_only, waits_only) = (&results[0], &results[1]);
    // Per round: the measured floor, and the floor that also pays for the waits.
    let floors: Vec<(f64, f64)> = cpu_only
        .iter()
        .zip(waits_only)
        .map(|(c, w)| (c.0, (c.2 + w.2) / cores as f64))
        .collect();
    println!(
        "CPU floor: nominal {nominal_floor:.1} ms; measured {:.1} ms (`cpu-only`: the CPU parts \
         alone, one thread per core)",
        median(floors.iter().map(|f| f.0).collect())
    );
    println!(
        "The waits alone (`waits-only`: {} sleeps on {} threads, no CPU part) use {:.1} ms of \
         CPU: with them the floor is {:.1} ms",
        p.jobs,
        p.threads,
        median(waits_only.iter().map(|r| r.2).collect()),
        median(floors.iter().map(|f| f.1).collect())
    );
    println!();
    println!(
        "{:<15} {:>9} {:>15} {:>10} {:>11} {:>12} {:>8} {:>9}",
        "variant",
        "wall ms",
        "range ms",
        "÷ nominal",
        "÷ measured",
        "÷ with waits",
        "CPU ms",
        "RSS MiB"
    );
    for (name, runs) in names.iter().zip(&results) {
        let walls: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let (lo, hi) = walls
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let ratio = |floor: fn(&(f64, f64)) -> f64| {
            median(
                runs.iter()
                    .zip(&floors)
                    .map(|(r, f)| r.0 / floor(f))
                    .collect(),
            )
        };
        println!(
            "{:<15} {:>9.1} {:>15} {:>10.2} {:>11.2} {:>12.2} {:>8.1} {:>9.1}",
            name,
            median(walls.clone()),
            format!("{lo:.1}–{hi:.1}"),
            median(walls) / nominal_floor,
            ratio(|f| f.0),
            ratio(|f| f.1),
            median(runs.iter().map(|r| r.2).collect()),
            median(runs.iter().map(|r| r.1).collect())
        );
    }
}
