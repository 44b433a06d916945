//! Pieces shared by the bench targets in `benches/`.
//!
//! Each bench target compiles this module on its own and uses only part of it, hence the
//! `dead_code` allowance below.
//!
//! - [`latch`]: a per-thread completion counter the tasks of one iteration bump and the bench
//!   thread sums between short sleeps (it never spins, so it takes no core from the pool).
//! - [`channel_pool`]: the baseline from the Go worker-pool write-ups: one shared unbounded
//!   channel of boxed jobs and a fixed set of long-lived workers draining it.
//! - [`tiny_task`] and [`time_iterations`]: the unit of work and the timing loop every
//!   contender goes through.
#![allow(dead_code)]

pub mod channel_pool;
pub mod latch;

use std::hint::black_box;
use std::time::{Duration, Instant};

pub use channel_pool::ChannelPool;
pub use latch::Latch;

/// The body of one benchmark task: a few arithmetic steps the optimiser cannot see through,
/// then one count down of `latch`.
#[inline]
pub fn tiny_task(i: usize, latch: &'static Latch) {
    black_box(black_box(i).wrapping_mul(0x9E37_79B9).rotate_left(7) ^ 0x5BD1_E995);
    latch.count_down();
}

/// Runs `iters` iterations of one measurement and returns their summed wall time, in the
/// shape `Bencher::iter_custom` expects.
///
/// Before each iteration `latch` is reset (outside the timed span); the timed span is
/// `submit(latch)` plus the wait until `tasks` tasks have counted down.
pub fn time_iterations(
    iters: u64,
    latch: &'static Latch,
    tasks: usize,
    mut submit: impl FnMut(&'static Latch),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        latch.reset();
        let start = Instant::now();
        submit(latch);
        latch.wait(tasks);
        total += start.elapsed();
    }
    total
}
