//! The batch example's default data set: deterministic, heavy-tailed files on disk.
//!
//! File `i` gets a size from a Pareto-like draw (most files a few KiB to a few tens of KiB, a
//! handful of several MiB, the largest around a tenth of the total) and bytes from an
//! xorshift64* stream seeded by `(seed, i)`, so the same spec always writes the same tree,
//! whatever order the pool writes the files in. Files sit one or two directories deep.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use corepool::Pool;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Bytes over all files (each file is at least [`MIN_FILE`], so tiny totals come out larger).
    pub total_bytes: u64,
    /// Number of files.
    pub files: usize,
    /// Seeds both the sizes and the contents.
    pub seed: u64,
}

impl Spec {
    /// `mib` MiB in `files` files, with the example's fixed seed.
    pub fn new(mib: u64, files: usize) -> Spec {
        Spec {
            total_bytes: mib << 20,
            files,
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

/// The smallest file generated.
pub const MIN_FILE: u64 = 1024;

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    pub files: usize,
    pub bytes: u64,
    pub largest: u64,
}

/// Deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // xorshift must not start at 0.
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Heavy-tailed sizes (Pareto with shape 1, truncated) scaled to about `spec.total_bytes`.
pub fn sizes(spec: &Spec) -> Vec<u64> {
    let mut rng = Rng::new(spec.seed);
    let weights: Vec<f64> = (0..spec.files)
        .map(|_| (1.0 - rng.unit() * 0.9999).recip() - 0.999)
        .collect();
    let sum: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|w| ((w / sum) * spec.total_bytes as f64).max(MIN_FILE as f64) as u64)
        .collect()
}

/// Where file `i` goes under the root: `d3/f00011.bin`, every third file one level deeper
/// (`d2/e1/f00002.bin`).
pub fn relative_path(i: usize) -> PathBuf {
    let mut path = PathBuf::from(format!("d{}", i % 8));
    if i % 3 == 2 {
        path.push(format!("e{}", i % 5));
    }
    path.push(format!("f{i:05}.bin"));
    path
}

/// Writes the data set under `root` (which must exist), the files in parallel on `pool`.
///
/// Errors name the file that could not be written.
pub fn generate(pool: &Pool, root: &Path, spec: &Spec) -> io::Result<Generated> {
    let sizes = sizes(spec);
    let dirs: BTreeSet<PathBuf> = (0..spec.files)
        .filter_map(|i| relative_path(i).parent().map(|p| root.join(p)))
        .collect();
    for dir in &dirs {
        fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
    }
    let indices: Vec<usize> = (0..spec.files).collect();
    let written = pool.map(&indices, |&i| {
        let path = root.join(relative_path(i));
        write_file(
            &path,
            sizes[i],
            spec.seed ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
        )
        .map_err(|e| with_path(e, &path))
    });
    written.into_iter().collect::<io::Result<Vec<()>>>()?;
    Ok(Generated {
        files: spec.files,
        bytes: sizes.iter().sum(),
        largest: sizes.iter().copied().max().unwrap_or(0),
    })
}

/// `len` pseudo-random bytes from `seed`, written 64 KiB at a time.
fn write_file(path: &Path, len: u64, seed: u64) -> io::Result<()> {
    let mut rng = Rng::new(seed);
    let mut out = BufWriter::new(File::create(path)?);
    let mut block = vec![0u8; 64 << 10];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        for word in block[..n].chunks_mut(8) {
            word.copy_from_slice(&rng.next().to_le_bytes()[..word.len()]);
        }
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.flush()
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
