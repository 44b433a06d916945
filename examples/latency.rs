//! Start latency under offered load: a producer thread offers tiny tasks at a fixed rate and
//! every task records how long it waited between its submission and the moment it started.
//!
//! Two loads, the headline figures of the Go worker-pool write-ups: 1 million tasks a minute
//! (one every 60 µs) and 1 million a second (one every 1 µs). Contenders: corepool, rayon,
//! tokio (multi-thread runtime) and the shared-channel worker pool
//! (`benches/common/channel_pool.rs`), all with one worker per CPU this process may use.
//! `corepool/nopin` is corepool with `pin_workers(false)`, to show what pinning costs or
//! saves on the machine at hand.
//!
//! The producer is open-loop: task `i` is due at `start + i × interval`; whatever is due is
//! submitted at once (so a late producer catches up in a burst rather than lowering the
//! rate), and otherwise the producer sleeps until the next due time (with 1 ns timer slack),
//! spinning only for the last 20 µs. The submit timestamp is taken immediately before each
//! submit call; the task's first act is to take its start timestamp. Latency = start − submit.
//!
//! Each (contender, load) runs `--reps` times after a short warm-up on a pool built for it;
//! the repetitions go round the contenders (one run of each, then the next round), so the
//! quiet and noisy spells of a shared machine fall on all of them alike. The table shows the
//! median over the repetitions of each percentile, and the range of the p99 over them.
//!
//! ```text
//! cargo run --release --example latency -- [--secs S] [--reps R] [--load minute|second]
//!                                            [--only NAME[,NAME...]]
//! ```
//!
//! Defaults: 1 s per run, 3 reps, both loads, every contender: about 40 s in all.

#[path = "../benches/common/channel_pool.rs"]
#[allow(dead_code)]
mod channel_pool;
#[path = "../benches/common/latch.rs"]
mod latch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use channel_pool::ChannelPool;
use latch::Latch;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the process's epoch.
#[inline]
fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// One slot per task: the submit time, overwritten by the task with its start latency.
struct Recorder {
    slots: Box<[AtomicU64]>,
    latch: &'static Latch,
}

impl Recorder {
    /// The body of every task: two captured words (the recorder and an index), so every
    /// contender's small-closure path applies.
    #[inline]
    fn start(&'static self, i: usize) {
        let started = now_ns();
        let slot = &self.slots[i];
        // ORDERING: Relaxed: the submit time was stored before the task was handed to the
        // pool, whose queue orders that store before this load.
        let submitted = slot.load(Ordering::Relaxed);
        slot.store(started.saturating_sub(submitted), Ordering::Relaxed);
        self.latch.count_down();
    }
}

/// A pool under test: a fire-and-forget spawn from a thread outside it.
enum Contender {
    Corepool(corepool::Pool),
    Rayon(rayon::ThreadPool),
    Tokio(tokio::runtime::Runtime),
    Channel(ChannelPool),
}

impl Contender {
    const NAMES: [&'static str; 5] = [
        "corepool",
        "corepool/nopin",
        "rayon",
        "tokio",
        "channel pool",
    ];

    fn build(name: &str, workers: usize) -> Contender {
        match name {
            "corepool" => Contender::Corepool(
                corepool::Pool::builder()
                    .sizing(corepool::Sizing::cpu_bound().cores(workers))
                    .build()
                    .expect("corepool pool"),
            ),
            // The same pool with its workers left to the OS scheduler: on a shared machine a
            // pinned worker whose CPU is busy cannot move to the idle one.
            "corepool/nopin" => Contender::Corepool(
                corepool::Pool::builder()
                    .sizing(corepool::Sizing::cpu_bound().cores(workers))
                    .pin_workers(false)
                    .build()
                    .expect("corepool pool"),
            ),
            "rayon" => Contender::Rayon(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .build()
                    .expect("rayon pool"),
            ),
            "tokio" => Contender::Tokio(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .build()
                    .expect("tokio runtime"),
            ),
            _ => Contender::Channel(ChannelPool::new(workers)),
        }
    }

    #[inline]
    fn spawn(&self, rec: &'static Recorder, i: usize) {
        match self {
            Contender::Corepool(p) => p.spawn(move || rec.start(i)),
            Contender::Rayon(p) => p.spawn(move || rec.start(i)),
            Contender::Tokio(rt) => drop(rt.spawn(async move { rec.start(i) })),
            Contender::Channel(p) => p.spawn(move || rec.start(i)),
        }
    }
}

/// Offers `n` tasks, one every `interval`, and waits for all of them; returns the achieved
/// offered rate (tasks per second over the producer's run).
fn offer(pool: &Contender, rec: &'static Recorder, n: usize, interval: Duration) -> f64 {
    let interval = interval.as_nanos() as u64;
    rec.latch.reset();
    let start = now_ns();
    let mut i = 0;
    while i < n {
        let due = start + i as u64 * interval;
        let now = now_ns();
        if now >= due {
            // ORDERING: Relaxed: the spawn below publishes this store to the task.
            rec.slots[i].store(now_ns(), Ordering::Relaxed);
            pool.spawn(rec, i);
            i += 1;
        } else if due - now > 20_000 {
            std::thread::sleep(Duration::from_nanos(due - now - 20_000));
        } else {
            std::hint::spin_loop();
        }
    }
    let elapsed = (now_ns() - start).max(1);
    rec.latch.wait(n);
    n as f64 / (elapsed as f64 / 1e9)
}

/// (p50, p99, p999, max) in µs.
fn percentiles(rec: &Recorder, n: usize) -> [f64; 4] {
    let mut v: Vec<u64> = rec.slots[..n]
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .collect();
    v.sort_unstable();
    let at = |q: f64| v[((n as f64 * q) as usize).min(n - 1)] as f64 / 1e3;
    [
        at(0.50),
        at(0.99),
        at(0.999),
        *v.last().unwrap() as f64 / 1e3,
    ]
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let mut secs = 1.0f64;
    let mut reps = 3usize;
    let mut load_filter: Option<String> = None;
    let mut only: Option<Vec<String>> = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--secs" => {
                secs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--secs: a number")
            }
            "--reps" => {
                reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--reps: a number")
            }
            "--load" => {
                let load = it.next().expect("--load: minute or second");
                assert!(
                    load == "minute" || load == "second",
                    "--load: minute or second"
                );
                load_filter = Some(load);
            }
            "--only" => {
                let names: Vec<String> = it
                    .next()
                    .expect("--only: contender names, comma-separated")
                    .split(',')
                    .map(str::to_owned)
                    .collect();
                for name in &names {
                    assert!(
                        Contender::NAMES.contains(&name.as_str()),
                        "--only: unknown contender {name:?}; known: {:?}",
                        Contender::NAMES
                    );
                }
                only = Some(names);
            }
            "-h" | "--help" => {
                println!(
                    "usage: latency [--secs S] [--reps R] [--load minute|second] \
                     [--only NAME[,NAME...]]"
                );
                return;
            }
            other => panic!("unknown flag {other} (try --help)"),
        }
    }
    assert!(secs > 0.0 && reps > 0, "--secs and --reps must be positive");
    // Precise sleeps for the 60 µs pacing: the default 50 µs timer slack would round them up.
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    now_ns();
    let workers = corepool::detect_cores().cpus().len();
    let loads: Vec<(&str, Duration)> = [
        ("minute", "1M tasks/minute", Duration::from_micros(60)),
        ("second", "1M tasks/second", Duration::from_micros(1)),
    ]
    .into_iter()
    .filter(|(key, _, _)| load_filter.as_deref().is_none_or(|f| f == *key))
    .map(|(_, label, interval)| (label, interval))
    .collect();
    let max_n = loads
        .iter()
        .map(|(_, iv)| (secs / iv.as_secs_f64()).ceil() as usize)
        .max()
        .unwrap();
    let rec: &'static Recorder = Box::leak(Box::new(Recorder {
        slots: (0..max_n).map(|_| AtomicU64::new(0)).collect(),
        latch: Latch::new(),
    }));
    println!(
        "latency: submit -> start, {workers} workers each, {secs} s per run, {reps} reps (medians)"
    );
    let started = Instant::now();
    for &(load, interval) in &loads {
        let n = (secs / interval.as_secs_f64()).ceil() as usize;
        println!();
        println!("{load} (one task every {interval:?}, {n} tasks per run)");
        println!(
            "{:<13} {:>9} {:>9} {:>9} {:>10} {:>19} {:>12}",
            "", "p50 µs", "p99 µs", "p999 µs", "max µs", "p99 range µs", "offered/s"
        );
        let names: Vec<&str> = Contender::NAMES
            .into_iter()
            .filter(|name| only.as_ref().is_none_or(|o| o.iter().any(|n| n == name)))
            .collect();
        let pools: Vec<Contender> = names
            .iter()
            .map(|name| Contender::build(name, workers))
            .collect();
        for pool in &pools {
            // Warm-up: a tenth of a run, not recorded.
            offer(pool, rec, n.div_ceil(10), interval);
        }
        // Repetitions go round the contenders, so a slow spell of a shared machine falls on
        // all of them alike rather than on whoever was running then.
        let mut stats: Vec<Vec<[f64; 4]>> = vec![Vec::new(); pools.len()];
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); pools.len()];
        for _ in 0..reps {
            for (c, pool) in pools.iter().enumerate() {
                rates[c].push(offer(pool, rec, n, interval));
                stats[c].push(percentiles(rec, n));
            }
        }
        drop(pools);
        for (c, name) in names.iter().enumerate() {
            let col = |j: usize| median(stats[c].iter().map(|s| s[j]).collect());
            let (lo, hi) = stats[c]
                .iter()
                .map(|s| s[1])
                .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
            println!(
                "{:<13} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>19} {:>12.0}",
                name,
                col(0),
                col(1),
                col(2),
                col(3),
                format!("{lo:.1}–{hi:.1}"),
                median(rates[c].clone())
            );
        }
    }
    println!();
    println!("{:.1} s in all", started.elapsed().as_secs_f64());
}
