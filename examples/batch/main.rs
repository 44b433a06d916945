//! The main job: SHA-256 of every file under a directory, on a corepool pool.
//!
//! ```text
//! cargo run --release --example batch                      # generated data: corepool vs one thread
//! cargo run --release --example batch -- DIR > SHA256SUMS  # your files; sha256sum -c SHA256SUMS
//! cargo run --release --example batch -- --compare DIR     # also time one thread and a 1-worker pool
//! cargo run --release --example batch -- --generate DIR    # write the data set to DIR and stop
//! ```
//!
//! Digest lines go to stdout in `sha256sum` format, in listing order, so `sha256sum -c`
//! checks them. Everything else goes to stderr: a progress bar (on a terminal, for runs over
//! 32 MB), one line per entry that failed (a file as its result comes; an entry that could
//! not be listed after the digests) or was skipped, and the closing summary — the plan,
//! files, bytes, wall time and MB/s of each run, the speedup over one thread and the
//! per-worker metrics table.
//!
//! The files go through `pool.stream` as the tree is walked, so hashing starts with the first
//! file listed: each is opened on this thread as it enters the stream's window (64 parcels
//! of up to 8 files), then a worker reads and hashes it, with a
//! per-worker [`FileHasher`](hash_tree::FileHasher) whose buffers are reused from file to
//! file; the stream hands the digests back in listing order. SHA-256 is sequential, so a file
//! is never split across workers: the parallelism comes from the many files, and with
//! heavy-tailed sizes it is work stealing that keeps every worker busy while one of them
//! grinds through a large file. `hash_tree.rs` says how big files and cold data are read.
//!
//! With no PATH, a deterministic data set (256 MiB in 2,000 files of 1 KiB to ~25 MiB, one or
//! two directories deep; `--mib`, `--files` to resize it) is written to a temporary directory,
//! hashed on the default pool and then on this thread alone, and removed, also when a step
//! fails.
//!
//! Exit status: 0 if every entry was hashed, 1 if any failed (the others are still hashed and
//! printed), 2 for bad arguments.

pub mod dataset;
pub mod hash_tree;

use std::error::Error;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corepool::{Pool, Progress, Sizing};
use indicatif::{ProgressBar, ProgressStyle};

use hash_tree::{Chunking, FileEntry, FileHasher, Found, Sha256Digest};

const USAGE: &str = "\
usage: batch [--compare] [--no-progress] PATH...
       batch [--compare] [--mib N] [--files N] [--no-progress]
       batch --generate DIR [--mib N] [--files N]

Prints the SHA-256 of every file under each PATH in sha256sum format on stdout;
progress, errors and a summary go to stderr. With no PATH, hashes a generated
data set (default 256 MiB in 2000 files) on the default pool and on one thread.

  --compare       also hash on one thread and on a 1-worker pool, and compare
  --generate DIR  write the generated data set to DIR (created if missing), then stop
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

/// Parcels of files (up to 8 files each) opened and not yet handed back: the stream's
/// window. At most 512 open files, and enough files ahead that one long file at the head of
/// the line rarely leaves a worker idle.
const WINDOW: usize = 64;

struct Options {
    paths: Vec<PathBuf>,
    compare: bool,
    generate: Option<PathBuf>,
    mib: Option<u64>,
    files: Option<usize>,
    progress: bool,
}

fn main() -> ExitCode {
    ExitCode::from(exit_status(std::env::args_os().skip(1), &mut io::stdout()))
}

/// The whole program but for the process around it: digest lines go to `stdout`; returns the
/// exit status (0 all hashed, 1 some entry failed, 2 bad arguments).
pub fn exit_status(args: impl Iterator<Item = OsString>, stdout: &mut dyn Write) -> u8 {
    let options = match parse_args(args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            let _ = writeln!(stdout, "{USAGE}");
            return 0;
        }
        Err(message) => {
            say!("batch: {message}\n\n{USAGE}");
            return 2;
        }
    };
    match run(&options, stdout) {
        Ok(0) => 0,
        Ok(failures) => {
            say!(
                "batch: {failures} {} failed",
                if failures == 1 { "entry" } else { "entries" }
            );
            1
        }
        Err(error) => {
            say!("batch: {error}");
            1
        }
    }
}

/// `Ok(None)` means `--help`.
fn parse_args(args: impl Iterator<Item = OsString>) -> Result<Option<Options>, String> {
    let mut options = Options {
        paths: Vec::new(),
        compare: false,
        generate: None,
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
            "--generate" => {
                let dir = args.next().ok_or("--generate needs a directory")?;
                options.generate = Some(PathBuf::from(dir));
            }
            "--" => options.paths.extend(args.by_ref().map(PathBuf::from)),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if !options.paths.is_empty() && (options.mib.is_some() || options.files.is_some()) {
        return Err("--mib and --files size the generated data set; they take no PATH".into());
    }
    if options.generate.is_some() && !options.paths.is_empty() {
        return Err("--generate writes the data set and stops; it takes no PATH".into());
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

/// Everything after argument parsing; returns how many entries failed.
fn run(options: &Options, stdout: &mut dyn Write) -> Result<usize, Box<dyn Error>> {
    let spec = dataset::Spec::new(options.mib.unwrap_or(256), options.files.unwrap_or(2000));

    if let Some(dir) = &options.generate {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        generate(dir, &spec)?;
        return Ok(0);
    }

    // No PATH: generate the data set; `data_dir` removes it when dropped, on every path out.
    let data_dir = if options.paths.is_empty() {
        let dir = tempfile::Builder::new()
            .prefix("corepool-batch-")
            .tempdir()?;
        generate(dir.path(), &spec)?;
        Some(dir)
    } else {
        None
    };
    let (roots, strip) = match &data_dir {
        Some(dir) => (vec![dir.path().to_path_buf()], Some(dir.path())),
        None => (options.paths.clone(), None),
    };

    let chunking = Chunking::default();
    // Cores detected, k = 1.
    let pool = Pool::builder().sizing(Sizing::cpu_bound()).build()?;
    let workers = pool.plan().cpu_workers();

    // The walk feeds the stream as it goes: the first files are hashed while the rest of
    // the tree is still being listed. Entries that failed or were skipped are said after
    // the digests.
    let mut full = Run::new(strip, Some(stdout));
    let (mut problems, mut skipped) = (Vec::new(), Vec::new());
    let items = Progress::new();
    let wall = time(|| {
        let label = format!("{workers} {}", plural(workers, "worker"));
        with_bar(options.progress, &label, |bar, hashed| {
            full.bar = bar.inner.clone();
            let walk = hash_tree::Walk::new(&roots).filter_map(|found| match found {
                Found::File(file) => {
                    bar.grow(file.len);
                    Some(file)
                }
                Found::Problem(problem) => {
                    problems.push(problem);
                    None
                }
                Found::Skipped(skip) => {
                    skipped.push(skip);
                    None
                }
            });
            hash_tree::hash_files(&pool, walk, WINDOW, chunking, &items, hashed, |i, f, r| {
                full.hashed(i, f, r)
            });
        });
        full.finish();
    });
    pool.shutdown();
    for problem in &problems {
        say!("batch: {}: {}", problem.path.display(), problem.error);
    }
    for skip in &skipped {
        say!("batch: {}: skipped: {}", skip.path.display(), skip.reason);
    }
    let files = std::mem::take(&mut full.files);
    let listed_bytes: u64 = files.iter().map(|f| f.len).sum();
    let show_bar = options.progress && listed_bytes >= PROGRESS_MIN_BYTES;
    // Read now: the comparison runs must not count as this pool's idle time.
    let metrics = pool.metrics();

    // The same work on this thread alone: what a user would compare against.
    let one_thread = (data_dir.is_some() || options.compare).then(|| {
        let mut run = Run::new(strip, None);
        let wall = time(|| {
            with_bar(show_bar, "1 thread", |bar, hashed| {
                bar.grow(listed_bytes);
                let mut hasher = FileHasher::on_this_thread(chunking).counting(hashed);
                for (index, entry) in files.iter().enumerate() {
                    let result =
                        hash_tree::open(&entry.path).and_then(|file| hasher.hash(file, entry.len));
                    run.hashed(index, entry.clone(), result);
                }
            })
        });
        (run, wall)
    });

    let one_worker = if options.compare {
        let one = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).per_core(1))
            .build()?;
        let mut run = Run::new(strip, None);
        let wall = time(|| {
            with_bar(show_bar, "1 worker", |bar, hashed| {
                bar.grow(listed_bytes);
                let (listed, items) = (files.iter().cloned(), &Progress::new());
                hash_tree::hash_files(&one, listed, WINDOW, chunking, items, hashed, |i, f, r| {
                    run.hashed(i, f, r)
                })
            })
        });
        one.shutdown();
        Some((run, wall))
    } else {
        None
    };

    let disagree: usize = [&one_thread, &one_worker]
        .into_iter()
        .flatten()
        .map(|(other, _)| {
            full.digests
                .iter()
                .zip(&other.digests)
                .filter(|(a, b)| matches!((a, b), (Some(a), Some(b)) if a != b))
                .count()
        })
        .sum();

    // The summary.
    let bytes: u64 = files
        .iter()
        .zip(&full.digests)
        .filter(|(_, d)| d.is_some())
        .map(|(f, _)| f.len)
        .sum();
    let largest = files.iter().map(|f| f.len).max().unwrap_or(0);
    say!();
    say!("{}", pool.plan());
    say!();
    say!(
        "files: {} hashed, {} failed, {} skipped   bytes: {} ({:.1} MB, largest file {:.1} MB)",
        full.digests.iter().filter(|d| d.is_some()).count(),
        full.failed + problems.len(),
        skipped.len(),
        bytes,
        mb(bytes),
        mb(largest)
    );
    say!(
        "one hasher per file (SHA-256 is sequential); {} stream items (parcels of up to {} \
         files, {WINDOW} in the window); {} KiB reads; files of {} MiB or more read ahead \
         by an idle worker",
        items.items_done(),
        hash_tree::PARCEL_FILES,
        chunking.chunk >> 10,
        chunking.read_ahead_from >> 20,
    );
    let line = |label: &str, wall: Duration| {
        say!(
            "{label:<26} wall {:>8.1} ms  {:>8.1} MB/s",
            wall.as_secs_f64() * 1e3,
            mb(bytes) / wall.as_secs_f64()
        )
    };
    line(
        &format!("corepool, {workers} {}:", plural(workers, "worker")),
        wall,
    );
    if let Some((_, wall1)) = &one_thread {
        line("one thread:", *wall1);
    }
    if let Some((_, wall_w)) = &one_worker {
        line("corepool, 1 worker:", *wall_w);
        say!(
            "  (1 worker, but not 1 thread: this thread opens the files and collects the digests)"
        );
    }
    if let Some((_, wall1)) = &one_thread {
        let speedup = wall1.as_secs_f64() / wall.as_secs_f64();
        say!(
            "speedup over one thread: {speedup:.2}x with {workers} {}",
            plural(workers, "worker")
        );
        if speedup > workers as f64 * 1.05 {
            say!(
                "  (more than the workers: reads ahead by an idle worker overlap the \
                 hashing, or other load slowed the one-thread run)"
            );
        }
    }
    if data_dir.is_none() && (one_thread.is_some() || one_worker.is_some()) {
        say!(
            "  (corepool ran first: files not in the page cache were read from disk in its \
             run only)"
        );
    }
    say!();
    say!("{metrics}");

    if disagree > 0 {
        say!("batch: the comparison runs disagree on {disagree} digests (files changed?)");
    }
    let failures = problems.len() + full.failed + disagree;
    let write_error = full.write_error.take();
    drop((full, one_thread, one_worker));
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

/// Writes the data set under `dir`, saying what it does; on a pool of its own, so the
/// hashing pool's metrics count only the hashing.
fn generate(dir: &Path, spec: &dataset::Spec) -> io::Result<()> {
    let pool = Pool::new();
    say!(
        "generating {} MiB in {} heavy-tailed files under {} ...",
        spec.total_bytes >> 20,
        spec.files,
        dir.display()
    );
    let start = Instant::now();
    let made = dataset::generate(&pool, dir, spec)?;
    say!(
        "generated {} files, {:.1} MB (largest {:.1} MB) in {:.2} s",
        made.files,
        mb(made.bytes),
        mb(made.largest),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `work` with a progress bar (hidden unless `show`), redrawn every 100 ms by a thread
/// here from the bytes the hashers count as they go. (The stream's `Progress`, weighed by
/// file size, moves only as whole files finish: during a single huge file it would stand
/// still.) The bar's length grows as `work` lists files ([`Bar::grow`]), and it is drawn
/// only once they hold [`PROGRESS_MIN_BYTES`].
fn with_bar(show: bool, label: &str, work: impl FnOnce(&Bar, &Arc<AtomicU64>)) {
    let hashed = Arc::new(AtomicU64::new(0));
    let style = ProgressStyle::with_template(
        "{msg:>10} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = Bar {
        inner: ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden())
            .with_style(style)
            .with_message(label.to_owned()),
        show,
    };
    if !show {
        return work(&bar, &hashed);
    }
    std::thread::scope(|scope| {
        let ticker = scope.spawn(|| {
            while !bar.inner.is_finished() {
                let total = bar.inner.length().unwrap_or(0);
                // ORDERING: Relaxed — a progress figure only.
                bar.inner
                    .set_position(hashed.load(Ordering::Relaxed).min(total));
                std::thread::park_timeout(Duration::from_millis(100));
            }
        });
        work(&bar, &hashed);
        bar.inner.finish_and_clear();
        ticker.thread().unpark();
    });
}

/// A run's progress bar, whose length grows as files are listed.
struct Bar {
    inner: ProgressBar,
    /// Whether to draw it once it is long enough.
    show: bool,
}

impl Bar {
    /// `bytes` more were listed; the bar appears once the total reaches
    /// [`PROGRESS_MIN_BYTES`] (on a terminal).
    fn grow(&self, bytes: u64) {
        if !self.show {
            return;
        }
        let before = self.inner.length().unwrap_or(0);
        self.inner.inc_length(bytes);
        if before < PROGRESS_MIN_BYTES && before + bytes >= PROGRESS_MIN_BYTES {
            self.inner
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
}

/// One hashing run's results: keeps the digests, prints lines and errors in listing order
/// (if it has a `stdout`), a batch at a time with the progress bar cleared.
struct Run<'a> {
    /// The files hashed so far, in listing order.
    files: Vec<FileEntry>,
    /// Printed paths are made relative to this (the generated data set's temporary root).
    strip: Option<&'a Path>,
    /// Where digest lines go; `None` for the comparison runs, which print nothing.
    stdout: Option<&'a mut dyn Write>,
    bar: ProgressBar,
    digests: Vec<Option<Sha256Digest>>,
    failed: usize,
    /// Lines waiting for the next flush, so the bar is cleared once per batch, not per line.
    out: Vec<u8>,
    errors: Vec<String>,
    last_flush: Instant,
    write_error: Option<io::Error>,
}

impl<'a> Run<'a> {
    fn new(strip: Option<&'a Path>, stdout: Option<&'a mut dyn Write>) -> Run<'a> {
        Run {
            files: Vec::new(),
            strip,
            stdout,
            bar: ProgressBar::hidden(),
            digests: Vec::new(),
            failed: 0,
            out: Vec::new(),
            errors: Vec::new(),
            last_flush: Instant::now(),
            write_error: None,
        }
    }

    /// File `index` of the listing, `file`, is done; called in listing order.
    fn hashed(&mut self, index: usize, file: FileEntry, result: io::Result<Sha256Digest>) {
        debug_assert_eq!(index, self.digests.len(), "results come in listing order");
        let path = self
            .strip
            .and_then(|root| file.path.strip_prefix(root).ok())
            .unwrap_or(&file.path);
        match result {
            Ok(digest) => {
                if self.stdout.is_some() {
                    self.out
                        .extend_from_slice(&hash_tree::checksum_line(&digest, path));
                }
                self.digests.push(Some(digest));
            }
            Err(error) => {
                if self.stdout.is_some() {
                    self.errors
                        .push(format!("batch: {}: {error}", path.display()));
                }
                self.failed += 1;
                self.digests.push(None);
            }
        }
        self.files.push(file);
        if self.out.len() >= 64 << 10
            || !self.errors.is_empty()
            || self.last_flush.elapsed() >= Duration::from_millis(100)
        {
            self.flush();
        }
    }

    /// Writes what is pending with the bar cleared; after a write error, stdout is left alone.
    fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.out.is_empty() && self.errors.is_empty() {
            return;
        }
        let (out, errors) = (
            std::mem::take(&mut self.out),
            std::mem::take(&mut self.errors),
        );
        let (write_error, stdout) = (&mut self.write_error, &mut self.stdout);
        self.bar.suspend(|| {
            if let (None, Some(stdout)) = (&write_error, stdout) {
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
