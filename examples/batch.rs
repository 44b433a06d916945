//! The main job: a CPU-bound checksum batch over generated data.
//!
//! Generates a deterministic, heavy-tailed set of blocks (default 128 MiB in 2,000 blocks,
//! sizes from 4 KiB to a few MiB), checksums every block as one task on the pool (64-bit
//! FNV-1a, a byte-at-a-time hash, so the work is pure CPU), once on a 1-worker pool and once
//! on the default pool, verifies both runs agree, and prints throughput, the speedup, the
//! plan and the per-worker metrics.
//!
//! ```text
//! cargo run --release --example batch [-- MIB [BLOCKS]]
//! ```

use std::time::{Duration, Instant};

use corepool::{Pool, Sizing};

/// Deterministic generator (xorshift64*), so every run checksums the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Heavy-tailed block sizes (a Pareto-like mix) scaled to `total` bytes.
fn generate(total: usize, blocks: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let weights: Vec<f64> = (0..blocks)
        .map(|_| {
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            1.0 / (1.0 - u * 0.999).powf(1.0 / 1.2)
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|w| {
            let len = ((w / sum) * total as f64).max(4096.0) as usize;
            let mut block = vec![0u8; len];
            for chunk in block.chunks_mut(8) {
                let bytes = rng.next().to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
            block
        })
        .collect()
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Checksums every block as one task; returns the digests in block order and the wall time.
fn run(pool: &Pool, blocks: &std::sync::Arc<Vec<Vec<u8>>>) -> (Vec<u64>, Duration) {
    let start = Instant::now();
    let handles: Vec<_> = (0..blocks.len())
        .map(|i| {
            let blocks = blocks.clone();
            pool.submit(move || fnv1a(&blocks[i]))
        })
        .collect();
    let digests = handles
        .into_iter()
        .map(|h| h.join().expect("checksum task failed"))
        .collect();
    (digests, start.elapsed())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map_or(Ok(128), |a| a.parse())?;
    let blocks: usize = args.next().map_or(Ok(2000), |a| a.parse())?;

    eprintln!("generating {mib} MiB in {blocks} heavy-tailed blocks ...");
    let data = std::sync::Arc::new(generate(mib << 20, blocks));
    let bytes: usize = data.iter().map(Vec::len).sum();
    let largest = data.iter().map(Vec::len).max().unwrap_or(0);

    let one = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1))
        .build()?;
    let (serial, t1) = run(&one, &data);
    drop(one);

    let pool = Pool::builder().build()?;
    let (parallel, tn) = run(&pool, &data);
    pool.shutdown();
    assert_eq!(serial, parallel, "the two runs disagree");

    let combined = parallel.iter().fold(0u64, |acc, d| acc.rotate_left(5) ^ d);
    let mb = bytes as f64 / 1e6;
    let workers = pool.plan().cpu_workers();
    println!("{}", pool.plan());
    println!();
    println!(
        "blocks: {}   bytes: {} ({:.1} MB, largest block {:.1} MB)",
        data.len(),
        bytes,
        mb,
        largest as f64 / 1e6
    );
    println!("combined checksum: {combined:016x}");
    println!(
        "1 worker:  {:>8.1} ms  {:>8.1} MB/s",
        t1.as_secs_f64() * 1e3,
        mb / t1.as_secs_f64()
    );
    println!(
        "{workers} workers: {:>8.1} ms  {:>8.1} MB/s   speedup {:.2}x   efficiency {:.2}",
        tn.as_secs_f64() * 1e3,
        mb / tn.as_secs_f64(),
        t1.as_secs_f64() / tn.as_secs_f64(),
        t1.as_secs_f64() / tn.as_secs_f64() / workers as f64
    );
    println!();
    println!("{}", pool.metrics());
    Ok(())
}
