//! Fork-join cost: fib(n) by `join` with no sequential cutoff, so nearly all of the time is
//! the join itself (1.6 million joins for n = 30). corepool against rayon, same worker count
//! (the CPUs this process may use), and the plain sequential recursion as the floor.
//!
//! tokio and the channel pool are not here: neither has a fork-join primitive. A "join" on
//! them would be a spawn plus a blocking wait on the result, which on a fixed set of workers
//! deadlocks once every worker waits (the channel pool), or turns into async recursion with a
//! boxed future and a task per call (tokio) — a different program, not their way of doing
//! this work. The spawn benches (`spawn_inside`, `spawn_chain`) cover their task overhead.
//!
//! Quick run: `cargo bench --bench join -- --warm-up-time 1 --measurement-time 3`.

#[path = "common/workloads.rs"]
mod workloads;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use workloads::{fib_corepool, fib_rayon, fib_sequential};

fn fib(c: &mut Criterion) {
    let workers = corepool::detect_cores().cpus().len();
    let pool = corepool::Pool::builder()
        .sizing(corepool::Sizing::cpu_bound().cores(workers))
        .build()
        .expect("corepool pool");
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("rayon pool");
    let mut group = c.benchmark_group("fib_join");
    group.sample_size(20);
    for n in [25u64, 30] {
        group.bench_with_input(BenchmarkId::new("corepool", n), &n, |b, &n| {
            b.iter(|| pool.install(|| fib_corepool(std::hint::black_box(n))))
        });
        group.bench_with_input(BenchmarkId::new("rayon", n), &n, |b, &n| {
            b.iter(|| rayon.install(|| fib_rayon(std::hint::black_box(n))))
        });
        group.bench_with_input(BenchmarkId::new("sequential", n), &n, |b, &n| {
            b.iter(|| fib_sequential(std::hint::black_box(n)))
        });
    }
    group.finish();
}

criterion_group!(benches, fib);
criterion_main!(benches);
