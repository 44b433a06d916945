//! The yardstick for `examples/batch`: the same job as a plain rayon program.
//!
//! ```text
//! cargo run --release --example hash_rayon -- DIR > SHA256SUMS
//! ```
//!
//! The same listing as the main job (`batch/hash_tree.rs`), then `par_iter` over it: each task
//! opens one file, reads it front to back into a 256 KiB buffer and hashes it (the buffer
//! made once per rayon job split with `map_init`, not per file). Digests go to
//! stdout in `sha256sum` format, in listing order; a file that cannot be read gets a line on
//! stderr and exit status 1. No progress bar, no summary: this is what a user would write in
//! twenty lines, and what the main job has to be at least as fast as.

#[allow(dead_code)]
#[path = "batch/hash_tree.rs"]
mod hash_tree;

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

fn hash_file(path: &Path, buf: &mut [u8]) -> io::Result<[u8; 32]> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    loop {
        match file.read(buf) {
            Ok(0) => return Ok(hasher.finalize().into()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn main() -> ExitCode {
    let roots: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let listing = hash_tree::list(&roots);
    let digests: Vec<io::Result<[u8; 32]>> = listing
        .files
        .par_iter()
        .map_init(|| vec![0u8; 256 << 10], |buf, f| hash_file(&f.path, buf))
        .collect();
    let mut failed = listing.problems.len();
    for p in &listing.problems {
        eprintln!("hash_rayon: {}: {}", p.path.display(), p.error);
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    for (file, digest) in listing.files.iter().zip(digests) {
        match digest {
            Ok(d) => {
                if out
                    .write_all(&hash_tree::checksum_line(&d, &file.path))
                    .is_err()
                {
                    return ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("hash_rayon: {}: {e}", file.path.display());
                failed += 1;
            }
        }
    }
    if out.flush().is_err() || failed > 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
