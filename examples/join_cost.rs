//! The cost of one `join` nobody steals: fib(n) by join on a 1-worker pool, or by chili's
//! join on a 1-thread pool, or by plain calls — one of them per run, so an instruction
//! counter sees only that one.
//!
//! ```text
//! cargo build --release --example join_cost
//! valgrind --tool=callgrind target/release/examples/join_cost corepool 25
//! valgrind --tool=callgrind target/release/examples/join_cost corepool-plain 25
//! ```
//!
//! `corepool-plain` (and `chili-plain`) builds the same pool and runs the plain recursion in
//! it, so instructions per join = (instructions of the `corepool` run − those of the
//! `corepool-plain` run) ÷ the join count it prints (fib(n) makes fib(n + 1) − 1 joins): the
//! pool's start and stop cancel out. It prints the wall time too, which on a quiet machine
//! gives the same comparison in nanoseconds.

use std::hint::black_box;
use std::num::NonZero;
use std::time::Instant;

fn fib_corepool(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = corepool::join(|| fib_corepool(n - 1), || fib_corepool(n - 2));
    a + b
}

fn fib_chili(n: u64, scope: &mut chili::Scope<'_>) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = scope.join(|s| fib_chili(n - 1, s), |s| fib_chili(n - 2, s));
    a + b
}

fn fib_plain(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    fib_plain(black_box(n - 1)) + fib_plain(black_box(n - 2))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "corepool".to_string());
    let n: u64 = args
        .next()
        .map(|s| s.parse().expect("n: a number"))
        .unwrap_or(25);
    let joins = fib_plain(n + 1) - 1;
    let start = Instant::now();
    let result = match which.as_str() {
        "corepool" | "corepool-plain" => {
            let pool = corepool::Pool::builder()
                .sizing(corepool::Sizing::cpu_bound().cores(1))
                .build()
                .expect("a 1-worker pool");
            if which == "corepool" {
                pool.install(|| fib_corepool(black_box(n)))
            } else {
                pool.install(|| fib_plain(black_box(n)))
            }
        }
        "chili" | "chili-plain" => {
            let pool = chili::ThreadPool::with_config(chili::Config {
                thread_count: NonZero::new(1),
                ..chili::Config::default()
            });
            let mut scope = pool.scope();
            if which == "chili" {
                fib_chili(black_box(n), &mut scope)
            } else {
                fib_plain(black_box(n))
            }
        }
        "plain" => fib_plain(black_box(n)),
        other => panic!(
            "unknown contender {other:?}: corepool, corepool-plain, chili, chili-plain or plain"
        ),
    };
    let elapsed = start.elapsed();
    println!(
        "{which}: fib({n}) = {result}, {joins} joins, {:.2?} ({:.2} ns a join)",
        elapsed,
        elapsed.as_nanos() as f64 / joins as f64
    );
}
