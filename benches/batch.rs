//! Batch efficiency: 20,000 items of integer work (about 20 µs each on average), uniform or
//! heavy-tailed, through `pool.for_each` and rayon's `par_iter().for_each`, on 1 worker and on
//! every CPU this process may use, plus the sequential loop.
//!
//! Efficiency = sequential time ÷ (parallel time × workers); compute it from the medians in
//! `target/criterion/batch_*/`.
//!
//! Quick run: `cargo bench --bench batch -- --warm-up-time 1 --measurement-time 5`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rayon::prelude::*;

const ITEMS: usize = 20_000;
/// Loop steps for the mean item (~20 µs on the reference machine).
const MEAN_STEPS: u64 = 20_000;

/// The work for one item: `steps` dependent multiply-xor steps.
fn work(steps: u64) -> u64 {
    (0..steps).fold(0x9E37_79B9_7F4A_7C15u64, |a, x| {
        std::hint::black_box(a.wrapping_mul(31) ^ x)
    })
}

/// Deterministic item costs: all equal, or a Pareto-like heavy tail with the same mean.
fn costs(heavy_tailed: bool) -> Vec<u64> {
    if !heavy_tailed {
        return vec![MEAN_STEPS; ITEMS];
    }
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let raw: Vec<f64> = (0..ITEMS)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            // Pareto, shape 1.5: most items cheap, a few 100x the mean.
            (1.0 - u * 0.9999).powf(-1.0 / 1.5)
        })
        .collect();
    let mean = raw.iter().sum::<f64>() / ITEMS as f64;
    raw.iter()
        .map(|r| ((r / mean) * MEAN_STEPS as f64) as u64)
        .collect()
}

fn batch(c: &mut Criterion) {
    let all = corepool::detect_cores().cpus().len();
    for (shape, heavy) in [("uniform", false), ("heavy_tailed", true)] {
        let items = costs(heavy);
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
        }
        group.finish();
    }
}

criterion_group!(benches, batch);
criterion_main!(benches);
