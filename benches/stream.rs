//! Streams of many small items: the per-item overhead of `pool.stream(..).map(..)` (ordered,
//! results pulled on the caller's thread) against rayon's `par_bridge` over the same
//! iterator, rayon's `par_iter` over a `Vec` collected beforehand (not timed: the best case
//! for rayon, which a lazily read source does not have), and one thread; then the time
//! `try_for_each` takes to report an error planted halfway.
//!
//! Every contender reads 10,000,000 `u64`s from a range and folds a cheap hash of each into
//! one number (no output vector). Criterion reports time per iteration and, with the
//! throughput set, elements per second; per-item ns = time ÷ 10,000,000.
//!
//! Quick run: `cargo bench --bench stream -- --warm-up-time 1 --measurement-time 5`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::iter::{ParallelBridge, ParallelIterator};
use rayon::prelude::*;
use std::hint::black_box;

const ITEMS: u64 = 10_000_000;

/// A few ns of work per item.
#[inline]
fn hash(x: u64) -> u64 {
    (x ^ 0x9E37_79B9_7F4A_7C15)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9)
        .rotate_left(31)
}

fn stream_map(c: &mut Criterion) {
    let pool = corepool::Pool::new();
    let workers = pool.plan().cpu_workers();
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("rayon pool");
    let collected: Vec<u64> = (0..ITEMS).collect();

    let mut group = c.benchmark_group("stream_map_10M");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ITEMS));
    group.bench_function("one_thread", |b| {
        b.iter(|| (0..ITEMS).map(hash).fold(0u64, u64::wrapping_add))
    });
    group.bench_function("corepool_stream_ordered", |b| {
        b.iter(|| {
            pool.stream(0..ITEMS)
                .map(hash)
                .fold(0u64, u64::wrapping_add)
        })
    });
    group.bench_function("corepool_stream_unordered", |b| {
        b.iter(|| {
            pool.stream(0..ITEMS)
                .unordered()
                .map(hash)
                .fold(0u64, u64::wrapping_add)
        })
    });
    group.bench_function("rayon_par_bridge", |b| {
        b.iter(|| {
            rayon.install(|| {
                (0..ITEMS)
                    .par_bridge()
                    .map(hash)
                    .reduce(|| 0, u64::wrapping_add)
            })
        })
    });
    group.bench_function("rayon_par_iter_collected_vec", |b| {
        b.iter(|| {
            rayon.install(|| {
                collected
                    .par_iter()
                    .map(|&x| hash(x))
                    .reduce(|| 0, u64::wrapping_add)
            })
        })
    });
    group.finish();

    // Time to the error: item ITEMS / 2 fails; everything before it must run (first error in
    // input order), nothing after it need.
    let bad = ITEMS / 2;
    let check = |x: u64| {
        black_box(hash(x));
        if x == bad {
            Err(x)
        } else {
            Ok(())
        }
    };
    let mut group = c.benchmark_group("try_for_each_error_at_5M");
    group.sample_size(10);
    group.bench_function("one_thread", |b| b.iter(|| (0..ITEMS).try_for_each(check)));
    group.bench_function("corepool_stream", |b| {
        b.iter(|| pool.stream(0..ITEMS).try_for_each(check))
    });
    group.bench_function("rayon_par_bridge", |b| {
        b.iter(|| rayon.install(|| (0..ITEMS).par_bridge().try_for_each(check)))
    });
    group.bench_function("rayon_par_iter_collected_vec", |b| {
        b.iter(|| rayon.install(|| collected.par_iter().try_for_each(|&x| check(x))))
    });
    group.finish();
}

criterion_group!(benches, stream_map);
criterion_main!(benches);
