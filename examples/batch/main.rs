//! The main job: SHA-256 of every file under a directory, on a corepool pool.
//!
//! ```text
//! cargo run --release --example batch                      # generated data, 1 worker vs all
//! cargo run --release --example batch -- DIR > SHA256SUMS  # your files; sha256sum -c SHA256SUMS
//! cargo run --release --example batch -- --compare DIR     # also time a 1-worker run
//! ```
//!
//! Digest lines go to stdout in `sha256sum` format, so `sha256sum -c` checks them. Everything
//! else goes to stderr: a progress bar (on a terminal, for runs over 32 MB), one line per entry
//! that failed or was skipped, and the closing summary — the plan, files, bytes, wall time,
//! MB/s, the speedup over one worker and the per-worker metrics table.
//!
//! Each file is hashed by one chain of tasks, never split across workers: SHA-256 is
//! sequential, so a file's chunks must go through one hasher in order (`hash_tree.rs` has the
//! details). The parallelism comes from the many files, and with heavy-tailed sizes it is work
//! stealing that keeps every worker busy while one of them grinds through a large file.
//!
//! With no PATH, a deterministic data set (256 MiB in 2,000 files of 1 KiB to ~25 MiB, one or
//! two directories deep; `--mib`, `--files` to resize it) is written to a temporary directory,
//! hashed on the default pool and on a 1-worker pool, and removed, also when a step fails.
//!
//! Exit status: 0 if every entry was hashed, 1 if any failed (the others are still hashed and
//! printed), 2 for bad arguments.

mod dataset;
mod hash_tree;

use std::error::Error;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use corepool::{Pool, Sizing};
use indicatif::{ProgressBar, ProgressStyle};

use hash_tree::{FileEntry, Sha256Digest, Sink, Window};

const USAGE: &str = "\
usage: batch [--compare] [--no-progress] PATH...
       batch [--mib N] [--files N] [--no-progress]

Prints the SHA-256 of every file under each PATH in sha256sum format on stdout;
progress, errors and a summary go to stderr. With no PATH, hashes a generated
data set (default 256 MiB in 2000 files) on 1 worker and on the default pool.

  --compare       with PATHs: also hash on a 1-worker pool and report the speedup
  --mib N         size of the generated data set in MiB (default 256)
  --files N       files in the generated data set (default 2000)
  --no-progress   no progress bar";

/// `eprintln!` that ignores a failed write: a closed stderr must not panic the run.
macro_rules! say {
    () => {{
        let _ = writeln!(io::stderr());
    }};
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr(), $($arg)*);
    }};
}

/// Runs over fewer bytes than this finish before a progress bar is worth drawing.
const PROGRESS_MIN_BYTES: u64 = 32_000_000;

struct Options {
    paths: Vec<PathBuf>,
    compare: bool,
    mib: Option<u64>,
    files: Option<usize>,
    progress: bool,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args_os().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            let _ = writeln!(io::stdout(), "{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            say!("batch: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failures) => {
            say!(
                "batch: {failures} {} failed",
                if failures == 1 { "entry" } else { "entries" }
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            say!("batch: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(None)` means `--help`.
fn parse_args(args: impl Iterator<Item = OsString>) -> Result<Option<Options>, String> {
    let mut options = Options {
        paths: Vec::new(),
        compare: false,
        mib: None,
        files: None,
        progress: true,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.to_str().filter(|a| a.starts_with('-') && a.len() > 1) else {
            options.paths.push(PathBuf::from(arg));
            continue;
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--compare" => options.compare = true,
            "--no-progress" => options.progress = false,
            "--mib" => options.mib = Some(number(flag, args.next())?),
            "--files" => options.files = Some(number(flag, args.next())?),
            "--" => options.paths.extend(args.by_ref().map(PathBuf::from)),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if !options.paths.is_empty() && (options.mib.is_some() || options.files.is_some()) {
        return Err("--mib and --files size the generated data set; they take no PATH".into());
    }
    if options.files == Some(0) {
        return Err("--files must be at least 1".into());
    }
    Ok(Some(options))
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<OsString>) -> Result<T, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a number"))?;
    value
        .to_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number, not {value:?}"))
}

/// Threads of the blocking lane, which does every read.
const READ_THREADS: usize = 4;

/// Everything after argument parsing; returns how many entries failed.
fn run(options: &Options) -> Result<usize, Box<dyn Error>> {
    // Cores detected, k = 1, and a blocking lane for the reads.
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().blocking_io(READ_THREADS))
        .build()?;

    // No PATH: generate the data set; `data_dir` removes it when dropped, on every path out.
    let data_dir = if options.paths.is_empty() {
        let spec = dataset::Spec::new(options.mib.unwrap_or(256), options.files.unwrap_or(2000));
        let dir = tempfile::Builder::new()
            .prefix("corepool-batch-")
            .tempdir()?;
        say!(
            "no PATH given: generating {} MiB in {} heavy-tailed files under {} ...",
            spec.total_bytes >> 20,
            spec.files,
            dir.path().display()
        );
        let start = Instant::now();
        let made = dataset::generate(&pool, dir.path(), &spec)?;
        say!(
            "generated {} files, {:.1} MB (largest {:.1} MB) in {:.2} s",
            made.files,
            mb(made.bytes),
            mb(made.largest),
            start.elapsed().as_secs_f64()
        );
        Some(dir)
    } else {
        None
    };
    let (roots, strip) = match &data_dir {
        Some(dir) => (vec![dir.path().to_path_buf()], Some(dir.path())),
        None => (options.paths.clone(), None),
    };
    let compare = options.compare || data_dir.is_some();

    let listing = hash_tree::list(&roots);
    for problem in &listing.problems {
        say!("batch: {}: {}", problem.path.display(), problem.error);
    }
    for skipped in &listing.skipped {
        say!(
            "batch: {}: skipped: {}",
            skipped.path.display(),
            skipped.reason
        );
    }
    let show_bar = options.progress && listing.bytes() >= PROGRESS_MIN_BYTES;
    let window = Window::default();

    let workers = pool.plan().cpu_workers();
    let mut full = Run::new(&listing.files, strip, true, show_bar, workers);
    let wall = time(|| hash_tree::hash_files(&pool, &listing.files, window, &mut full));
    full.finish();
    pool.shutdown();

    let single = if compare {
        let one = Pool::builder()
            .sizing(
                Sizing::cpu_bound()
                    .cores(1)
                    .per_core(1)
                    .blocking_io(READ_THREADS),
            )
            .build()?;
        let mut run = Run::new(&listing.files, strip, false, show_bar, 1);
        let wall = time(|| hash_tree::hash_files(&one, &listing.files, window, &mut run));
        run.finish();
        one.shutdown();
        Some((run, wall))
    } else {
        None
    };

    let disagree = match &single {
        Some((one, _)) => full
            .digests
            .iter()
            .zip(&one.digests)
            .filter(|(a, b)| matches!((a, b), (Some(a), Some(b)) if a != b))
            .count(),
        None => 0,
    };

    // The summary.
    let bytes: u64 = listing
        .files
        .iter()
        .zip(&full.digests)
        .filter(|(_, d)| d.is_some())
        .map(|(f, _)| f.len)
        .sum();
    let largest = listing.files.iter().map(|f| f.len).max().unwrap_or(0);
    say!();
    say!("{}", pool.plan());
    say!();
    say!(
        "files: {} hashed, {} failed, {} skipped   bytes: {} ({:.1} MB, largest file {:.1} MB)",
        full.digests.iter().filter(|d| d.is_some()).count(),
        full.failed + listing.problems.len(),
        listing.skipped.len(),
        bytes,
        mb(bytes),
        mb(largest)
    );
    say!(
        "one hashing chain per file (SHA-256 is sequential): chunks of {} MiB, \
         at most {} MiB / {} files in flight",
        window.chunk >> 20,
        window.max_bytes >> 20,
        window.max_files
    );
    let line = |label: &str, wall: Duration| {
        say!(
            "{label:<26} wall {:>8.1} ms  {:>8.1} MB/s",
            wall.as_secs_f64() * 1e3,
            mb(bytes) / wall.as_secs_f64()
        )
    };
    line(
        &format!("default pool, {workers} {}:", plural(workers, "worker")),
        wall,
    );
    if let Some((_, wall1)) = &single {
        line("1-worker pool:", *wall1);
        let speedup = wall1.as_secs_f64() / wall.as_secs_f64();
        say!(
            "speedup over one worker: {speedup:.2}x (efficiency {:.2} on {workers} {})",
            speedup / workers as f64,
            plural(workers, "worker")
        );
        if speedup > workers as f64 * 1.05 {
            say!("  (above 1: other load slowed the 1-worker run's CPU; timings here are noisy)");
        }
    }
    say!();
    say!("{}", pool.metrics());

    if disagree > 0 {
        say!("batch: the 1-worker run disagrees on {disagree} digests (files changed?)");
    }
    let failures = listing.problems.len() + full.failed + disagree;
    let write_error = full.write_error.take();
    drop((full, single));
    if let Some(dir) = data_dir {
        let path = dir.path().to_path_buf();
        dir.close()
            .map_err(|e| format!("removing {}: {e}", path.display()))?;
        say!("removed {}", path.display());
    }
    match write_error {
        Some(error) => Err(format!("writing to stdout: {error}").into()),
        None => Ok(failures),
    }
}

/// One hashing run's sink: keeps the digests, prints lines and errors in listing order
/// (if `print`), and drives the progress bar.
struct Run<'a> {
    files: &'a [FileEntry],
    /// Printed paths are made relative to this (the generated data set's temporary root).
    strip: Option<&'a Path>,
    print: bool,
    bar: ProgressBar,
    digests: Vec<Option<Sha256Digest>>,
    failed: usize,
    /// Lines waiting for the next flush, so the bar is cleared once per batch, not per line.
    out: Vec<u8>,
    errors: Vec<String>,
    write_error: Option<io::Error>,
}

impl<'a> Run<'a> {
    fn new(
        files: &'a [FileEntry],
        strip: Option<&'a Path>,
        print: bool,
        show_bar: bool,
        workers: usize,
    ) -> Run<'a> {
        let bar = if show_bar {
            let total = files.iter().map(|f| f.len).sum();
            let style = ProgressStyle::with_template(
                "{msg:>10} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            ProgressBar::new(total)
                .with_style(style)
                .with_message(format!("{workers} {}", plural(workers, "worker")))
        } else {
            ProgressBar::hidden()
        };
        Run {
            files,
            strip,
            print,
            bar,
            digests: Vec::with_capacity(files.len()),
            failed: 0,
            out: Vec::new(),
            errors: Vec::new(),
            write_error: None,
        }
    }

    fn shown_path(&self, path: &'a Path) -> &'a Path {
        self.strip
            .and_then(|root| path.strip_prefix(root).ok())
            .unwrap_or(path)
    }

    /// Writes what is pending with the bar cleared; after a write error, stdout is left alone.
    fn flush(&mut self) {
        if self.out.is_empty() && self.errors.is_empty() {
            return;
        }
        let (out, errors) = (
            std::mem::take(&mut self.out),
            std::mem::take(&mut self.errors),
        );
        let write_error = &mut self.write_error;
        self.bar.suspend(|| {
            if write_error.is_none() && !out.is_empty() {
                let mut stdout = io::stdout().lock();
                if let Err(e) = stdout.write_all(&out).and_then(|()| stdout.flush()) {
                    *write_error = Some(e);
                }
            }
            for error in &errors {
                say!("{error}");
            }
        });
    }

    fn finish(&mut self) {
        self.flush();
        self.bar.finish_and_clear();
    }
}

impl Sink for Run<'_> {
    fn hashed(&mut self, index: usize, result: io::Result<Sha256Digest>) {
        let path = self.shown_path(&self.files[index].path);
        match result {
            Ok(digest) => {
                if self.print {
                    self.out
                        .extend_from_slice(&hash_tree::checksum_line(&digest, path));
                }
                self.digests.push(Some(digest));
            }
            Err(error) => {
                if self.print {
                    self.errors
                        .push(format!("batch: {}: {error}", path.display()));
                }
                self.failed += 1;
                self.digests.push(None);
            }
        }
    }

    fn progress(&mut self, bytes_hashed: u64) {
        self.bar.set_position(bytes_hashed);
        self.flush();
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}
