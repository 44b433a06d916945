//! Per-core scaling: corepool and rayon side by side, from 1 core to every core this process
//! may use, at k = 1, 2 and 4 workers per core.
//!
//! Three workloads:
//! - `uniform`: a batch of equal items (`pool.for_each` / `par_iter().for_each`);
//! - `heavy-tailed`: the same total work, item costs drawn from a Pareto(1.5) tail;
//! - `fork-join`: fib(n) by `join` with no sequential cutoff.
//!
//! For each (cores, k) a fresh pool is built; its CPU workers are confined to the first
//! `cores` CPUs (corepool pins them; rayon's threads get that affinity mask in their start
//! handler), so "2 workers per core on 1 core" really has one core. Each cell is the median
//! of `--reps` timed runs after one untimed warm-up run. Speedup is against the same
//! contender on 1 core with k = 1; efficiency is speedup ÷ cores.
//!
//! Writes an SVG chart of speedup against cores, next to the ideal line.
//!
//! ```text
//! cargo run --release --example scaling -- [--items N] [--steps S] [--fib N] [--reps R]
//!                                          [--cores C] [--svg PATH]
//! ```
//!
//! Defaults: 2,000 items of about 20 µs (`--steps 20000`), fib(30), 5 reps, every core,
//! `target/scaling.svg`; the whole run takes well under a minute on 2 cores.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use rayon::prelude::*;

#[path = "../benches/common/workloads.rs"]
mod workloads;
use workloads::{costs, fib_corepool, fib_rayon, fib_sequential, work};

const KS: [usize; 3] = [1, 2, 4];

struct Args {
    items: usize,
    steps: u64,
    fib: u64,
    reps: usize,
    cores: usize,
    svg: String,
}

fn parse_args() -> Args {
    let detected = corepool::detect_cores().cpus().len();
    let mut args = Args {
        items: 2_000,
        steps: 20_000,
        fib: 30,
        reps: 5,
        cores: detected,
        svg: "target/scaling.svg".to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--items" => args.items = value().parse().expect("--items: a number"),
            "--steps" => args.steps = value().parse().expect("--steps: a number"),
            "--fib" => args.fib = value().parse().expect("--fib: a number"),
            "--reps" => args.reps = value().parse().expect("--reps: a number"),
            "--cores" => args.cores = value().parse().expect("--cores: a number"),
            "--svg" => args.svg = value(),
            "-h" | "--help" => {
                println!(
                    "usage: scaling [--items N] [--steps S] [--fib N] [--reps R] [--cores C] [--svg PATH]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown flag {other} (try --help)"),
        }
    }
    assert!(
        args.reps > 0 && args.items > 0,
        "--reps and --items must be positive"
    );
    args.cores = args.cores.clamp(1, detected);
    args
}

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Uniform,
    HeavyTailed,
    ForkJoin,
}

impl Workload {
    const ALL: [Workload; 3] = [Workload::Uniform, Workload::HeavyTailed, Workload::ForkJoin];
    fn name(self) -> &'static str {
        match self {
            Workload::Uniform => "uniform batch",
            Workload::HeavyTailed => "heavy-tailed batch",
            Workload::ForkJoin => "fork-join (fib)",
        }
    }
}

/// Restricts the calling thread to `cpus` (an affinity mask, not a pin to one CPU).
fn confine_to(cpus: &[usize]) {
    // SAFETY: `set` is a plain bitmask initialised by CPU_ZERO before use, and
    // sched_setaffinity only reads `size_of::<cpu_set_t>()` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Median time of `reps` runs of `run` after one warm-up.
fn measure(reps: usize, mut run: impl FnMut()) -> Duration {
    run();
    median(
        (0..reps)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed()
            })
            .collect(),
    )
}

fn time_corepool(w: Workload, cores: usize, k: usize, items: &[u64], args: &Args) -> Duration {
    let pool = corepool::Pool::builder()
        .sizing(corepool::Sizing::cpu_bound().cores(cores).per_core(k))
        .build()
        .expect("corepool pool");
    let t = match w {
        Workload::Uniform | Workload::HeavyTailed => measure(args.reps, || {
            pool.for_each(items, |&s| {
                black_box(work(s));
            })
        }),
        Workload::ForkJoin => measure(args.reps, || {
            black_box(pool.install(|| fib_corepool(black_box(args.fib))));
        }),
    };
    pool.shutdown();
    t
}

fn time_rayon(w: Workload, cores: usize, k: usize, items: &[u64], args: &Args) -> Duration {
    let cpus: Vec<usize> = corepool::detect_cores().cpus()[..cores].to_vec();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores * k)
        .start_handler(move |_| confine_to(&cpus))
        .build()
        .expect("rayon pool");
    match w {
        Workload::Uniform | Workload::HeavyTailed => measure(args.reps, || {
            pool.install(|| {
                items.par_iter().for_each(|&s| {
                    black_box(work(s));
                })
            })
        }),
        Workload::ForkJoin => measure(args.reps, || {
            black_box(pool.install(|| fib_rayon(black_box(args.fib))));
        }),
    }
}

/// One measured cell.
struct Cell {
    workload: Workload,
    k: usize,
    cores: usize,
    corepool: Duration,
    rayon: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args = parse_args();
    let uniform = costs(args.items, args.steps, false);
    let heavy = costs(args.items, args.steps, true);
    println!(
        "scaling: {} items x ~{} steps, fib({}), {} reps (median), 1..={} cores, k in {:?}",
        args.items, args.steps, args.fib, args.reps, args.cores, KS
    );
    let started = Instant::now();
    let mut cells = Vec::new();
    for w in Workload::ALL {
        let items: &[u64] = match w {
            Workload::Uniform => &uniform,
            Workload::HeavyTailed => &heavy,
            Workload::ForkJoin => &[],
        };
        let sequential = match w {
            Workload::ForkJoin => measure(args.reps, || {
                black_box(fib_sequential(black_box(args.fib)));
            }),
            _ => measure(args.reps, || {
                items.iter().for_each(|&s| {
                    black_box(work(s));
                })
            }),
        };
        println!();
        println!(
            "{} — sequential {:.1} ms; speedup and efficiency vs the same pool on 1 core, k = 1",
            w.name(),
            ms(sequential)
        );
        println!(
            "{:>2} {:>5} | {:>10} {:>8} {:>6} | {:>10} {:>8} {:>6}",
            "k", "cores", "corepool", "speedup", "eff", "rayon", "speedup", "eff"
        );
        let mut base: Option<(Duration, Duration)> = None;
        for k in KS {
            for cores in 1..=args.cores {
                let c = time_corepool(w, cores, k, items, &args);
                let r = time_rayon(w, cores, k, items, &args);
                let (bc, br) = *base.get_or_insert((c, r));
                let (sc, sr) = (
                    bc.as_secs_f64() / c.as_secs_f64(),
                    br.as_secs_f64() / r.as_secs_f64(),
                );
                println!(
                    "{:>2} {:>5} | {:>7.1} ms {:>7.2}x {:>6.3} | {:>7.1} ms {:>7.2}x {:>6.3}",
                    k,
                    cores,
                    ms(c),
                    sc,
                    sc / cores as f64,
                    ms(r),
                    sr,
                    sr / cores as f64
                );
                cells.push(Cell {
                    workload: w,
                    k,
                    cores,
                    corepool: c,
                    rayon: r,
                });
            }
        }
        if let Some((bc, br)) = base {
            println!(
                "1-core, k = 1 overhead vs sequential: corepool {:+.1} %, rayon {:+.1} %",
                (bc.as_secs_f64() / sequential.as_secs_f64() - 1.0) * 100.0,
                (br.as_secs_f64() / sequential.as_secs_f64() - 1.0) * 100.0
            );
        }
    }
    let svg = chart(&cells, args.cores);
    if let Some(dir) = std::path::Path::new(&args.svg).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).expect("create the SVG's directory");
        }
    }
    std::fs::write(&args.svg, svg).expect("write the SVG");
    println!();
    println!(
        "chart: {} ({:.1} s in all)",
        args.svg,
        started.elapsed().as_secs_f64()
    );
}

/// Hand-drawn SVG: one panel per workload, speedup against cores, the ideal line dashed grey,
/// corepool solid and rayon dashed, one colour per k.
fn chart(cells: &[Cell], max_cores: usize) -> String {
    const PANEL_W: f64 = 300.0;
    const PANEL_H: f64 = 260.0;
    const LEFT: f64 = 50.0;
    const TOP: f64 = 50.0;
    const GAP: f64 = 40.0;
    const COLOURS: [&str; 3] = ["#1f77b4", "#d62728", "#2ca02c"];
    let speedup = |c: &Cell, corepool: bool| {
        let base = cells
            .iter()
            .find(|b| b.workload == c.workload && b.k == 1 && b.cores == 1)
            .expect("the 1-core, k = 1 cell");
        if corepool {
            base.corepool.as_secs_f64() / c.corepool.as_secs_f64()
        } else {
            base.rayon.as_secs_f64() / c.rayon.as_secs_f64()
        }
    };
    let y_max = cells
        .iter()
        .flat_map(|c| [speedup(c, true), speedup(c, false)])
        .fold(max_cores as f64, f64::max)
        .mul_add(1.1, 0.0)
        .ceil()
        .max(2.0);
    let width = LEFT + 3.0 * PANEL_W + 2.0 * GAP + 30.0;
    let height = TOP + PANEL_H + 110.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" font-size="16" text-anchor="middle">Speedup vs cores (vs the same pool on 1 core, k = 1)</text>"#,
        width / 2.0
    );
    let x_span = (max_cores.max(2) - 1) as f64;
    for (p, w) in Workload::ALL.iter().enumerate() {
        let x0 = LEFT + p as f64 * (PANEL_W + GAP);
        let px = |cores: f64| x0 + (cores - 1.0) / x_span * PANEL_W;
        let py = |v: f64| TOP + PANEL_H - v / y_max * PANEL_H;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="14" text-anchor="middle">{}</text>"#,
            x0 + PANEL_W / 2.0,
            TOP - 10.0,
            w.name()
        );
        let _ = writeln!(
            s,
            r##"<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#444"/>"##
        );
        // Horizontal grid and y labels.
        let step = if y_max > 8.0 {
            2.0
        } else if y_max > 4.0 {
            1.0
        } else {
            0.5
        };
        let mut v = 0.0;
        while v <= y_max + 1e-9 {
            let y = py(v);
            let _ = writeln!(
                s,
                r##"<line x1="{x0}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{v}</text>"##,
                x0 + PANEL_W,
                x0 - 5.0,
                y + 4.0
            );
            v += step;
        }
        for cores in 1..=max_cores.max(2) {
            let x = px(cores as f64);
            let _ = writeln!(
                s,
                r#"<text x="{x}" y="{}" text-anchor="middle">{cores}</text>"#,
                TOP + PANEL_H + 16.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">cores</text>"#,
            x0 + PANEL_W / 2.0,
            TOP + PANEL_H + 32.0
        );
        // Ideal: speedup = cores.
        let _ = writeln!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#888" stroke-width="1.5" stroke-dasharray="2,4"/>"##,
            px(1.0),
            py(1.0),
            px(max_cores.max(2) as f64),
            py(max_cores.max(2) as f64)
        );
        for (ki, k) in KS.iter().enumerate() {
            for corepool in [true, false] {
                let pts: Vec<(f64, f64)> = cells
                    .iter()
                    .filter(|c| c.workload == *w && c.k == *k)
                    .map(|c| (px(c.cores as f64), py(speedup(c, corepool))))
                    .collect();
                let path: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let dash = if corepool {
                    ""
                } else {
                    r#" stroke-dasharray="6,4""#
                };
                let colour = COLOURS[ki];
                let _ = writeln!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
                    path.join(" ")
                );
                for (x, y) in pts {
                    if corepool {
                        let _ = writeln!(
                            s,
                            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"/>"#
                        );
                    } else {
                        let _ = writeln!(
                            s,
                            r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="white" stroke="{colour}" stroke-width="1.5"/>"#,
                            x - 3.5,
                            y - 3.5
                        );
                    }
                }
            }
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="18" y="{}" transform="rotate(-90 18 {})" text-anchor="middle">speedup</text>"#,
        TOP + PANEL_H / 2.0,
        TOP + PANEL_H / 2.0
    );
    // Legend.
    let ly = TOP + PANEL_H + 60.0;
    let mut lx = LEFT;
    for (ki, k) in KS.iter().enumerate() {
        let colour = COLOURS[ki];
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><circle cx="{}" cy="{ly}" r="4" fill="{colour}"/><text x="{}" y="{}">corepool k={k}</text>"#,
            lx + 30.0,
            lx + 15.0,
            lx + 36.0,
            ly + 4.0
        );
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{colour}" stroke-width="2" stroke-dasharray="6,4"/><rect x="{}" y="{}" width="7" height="7" fill="white" stroke="{colour}" stroke-width="1.5"/><text x="{}" y="{}">rayon k={k}</text>"#,
            ly + 22.0,
            lx + 30.0,
            ly + 22.0,
            lx + 11.5,
            ly + 18.5,
            lx + 36.0,
            ly + 26.0
        );
        lx += 170.0;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="#888" stroke-width="1.5" stroke-dasharray="2,4"/><text x="{}" y="{}">ideal (speedup = cores)</text>"##,
        lx + 30.0,
        lx + 36.0,
        ly + 4.0
    );
    s.push_str("</svg>\n");
    s
}
