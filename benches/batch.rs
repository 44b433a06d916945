//! Batch efficiency: 20,000 items of integer work (about 20 µs each on average), uniform or
//! heavy-tailed, through `pool.for_each`, rayon's `par_iter().for_each` and chili's `join`
//! (halves down to single items: it has no parallel iterator), on 1 worker and on every CPU
//! this process may use, plus the sequential loop.
//!
//! Efficiency = sequential time ÷ (parallel time × workers); compute it from the medians in
//! `target/criterion/batch_*/`.
//!
//! Quick run: `cargo bench --bench batch -- --warm-up-time 1 --measurement-time 5`.

#[path = "common/workloads.rs"]
mod workloads;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rayon::prelude::*;
use workloads::{costs, work};

const ITEMS: usize = 20_000;
/// Loop steps for the mean item (~20 µs on the reference machine).
const MEAN_STEPS: u64 = 20_000;

fn batch(c: &mut Criterion) {
    let all = corepool::detect_cores().cpus().len();
    for (shape, heavy) in [("uniform", false), ("heavy_tailed", true)] {
        let items = costs(ITEMS, MEAN_STEPS, heavy);
        let mut group = c.benchmark_group(format!("batch_{shape}"));
        group.sample_size(10);
        group.bench_function("sequential", |b| {
            b.iter(|| {
                items.iter().for_each(|&s| {
                    std::hint::black_box(work(s));
                })
            })
        });
        for workers in [1, all] {
            let pool = corepool::Pool::builder()
                .sizing(corepool::Sizing::cpu_bound().cores(workers))
                .build()
                .expect("corepool pool");
            group.bench_with_input(BenchmarkId::new("corepool", workers), &workers, |b, _| {
                b.iter(|| {
                    pool.for_each(&items, |&s| {
                        std::hint::black_box(work(s));
                    })
                })
            });
            drop(pool);
            let rayon = rayon::ThreadPoolBuilder::new()
                .num_threads(workers)
                .build()
                .expect("rayon pool");
            group.bench_with_input(BenchmarkId::new("rayon", workers), &workers, |b, _| {
                b.iter(|| {
                    rayon.install(|| {
                        items.par_iter().for_each(|&s| {
                            std::hint::black_box(work(s));
                        })
                    })
                })
            });
            drop(rayon);
            let chili = chili::ThreadPool::with_config(chili::Config {
                thread_count: std::num::NonZero::new(workers),
                ..chili::Config::default()
            });
            group.bench_with_input(BenchmarkId::new("chili", workers), &workers, |b, _| {
                b.iter(|| for_each_chili(&items, &mut chili.scope()))
            });
        }
        group.finish();
    }
}

/// chili has no parallel iterator: the batch is split in halves by its `join` down to single
/// items, as its README's examples do with their trees.
fn for_each_chili(items: &[u64], scope: &mut chili::Scope<'_>) {
    match items {
        [] => {}
        [s] => {
            std::hint::black_box(work(*s));
        }
        _ => {
            let (l, r) = items.split_at(items.len() / 2);
            scope.join(|s| for_each_chili(l, s), |s| for_each_chili(r, s));
        }
    }
}

criterion_group!(benches, batch);
criterion_main!(benches);
