//! The workloads the benches and `examples/scaling.rs` share, so every figure measures the
//! same work: integer items of a given number of steps (uniform or heavy-tailed), and fib by
//! `join` with no sequential cutoff. Each includer uses part of it.
#![allow(dead_code)]

use std::hint::black_box;

/// The work for one item: `steps` dependent multiply-xor steps.
pub fn work(steps: u64) -> u64 {
    (0..steps).fold(0x9E37_79B9_7F4A_7C15u64, |a, x| {
        black_box(a.wrapping_mul(31) ^ x)
    })
}

/// `items` item costs with mean `mean` steps: all equal, or a deterministic Pareto(1.5) tail
/// (most items cheap, a few 100× the mean) scaled to the same mean.
pub fn costs(items: usize, mean: u64, heavy_tailed: bool) -> Vec<u64> {
    if !heavy_tailed {
        return vec![mean; items];
    }
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let raw: Vec<f64> = (0..items)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            (1.0 - u * 0.9999).powf(-1.0 / 1.5)
        })
        .collect();
    let raw_mean = raw.iter().sum::<f64>() / items as f64;
    raw.iter()
        .map(|r| ((r / raw_mean) * mean as f64) as u64)
        .collect()
}

/// fib by `corepool::join`, no cutoff: nearly all of the time is the join itself.
pub fn fib_corepool(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = corepool::join(|| fib_corepool(n - 1), || fib_corepool(n - 2));
    a + b
}

/// fib by `rayon::join`, no cutoff.
pub fn fib_rayon(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = rayon::join(|| fib_rayon(n - 1), || fib_rayon(n - 2));
    a + b
}

/// The plain recursion: the floor. The compiler turns its second call into a loop (it keeps
/// a running sum), so it makes about half the calls its source says.
pub fn fib_sequential(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    fib_sequential(n - 1) + fib_sequential(n - 2)
}

/// The same recursion with both of its calls kept (the arguments pass through `black_box`,
/// so the compiler cannot fold one call into a loop): what a join that nobody steals is
/// compared with when the question is the price of the join over a call.
pub fn fib_two_calls(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    fib_two_calls(black_box(n - 1)) + fib_two_calls(black_box(n - 2))
}
