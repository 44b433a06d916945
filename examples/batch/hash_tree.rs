//! SHA-256 of every file under a set of paths, on a corepool pool, `sha256sum` style.
//!
//! Two steps:
//!
//! 1. [`list`] walks the paths (directories depth-first, entries in byte order) into the
//!    regular files to hash, the entries that failed (missing path, unreadable directory,
//!    broken symlink) and the ones skipped on purpose (sockets, FIFOs, devices, symlinks to
//!    directories below a root). Nothing is opened yet.
//! 2. [`hash_files`] hashes the listed files and hands each result to a [`Sink`] in listing
//!    order, whatever order they finish in.
//!
//! # One hashing chain per file
//!
//! SHA-256 is sequential (Merkle–Damgård): each block's compression takes the state the
//! previous block left, so a file's digest cannot be put together from digests of its
//! chunks. Output that `sha256sum -c` accepts therefore means each file is hashed front to
//! back by one chain of tasks. A file is read in chunks of at most [`Window::chunk`] bytes; the
//! chain alternates *read the next chunk* (blocking I/O, on the pool's blocking lane) and
//! *feed it to the hasher* (a CPU task on a pinned worker), carrying the hasher state from task to task. A small file is one
//! read and one hash task. The parallelism comes from many files at once, and because file
//! sizes are heavy-tailed, one worker may draw a long file while the other finishes many
//! short ones — work stealing is what keeps both busy.
//!
//! # Memory
//!
//! A chain holds at most one chunk at a time, and [`hash_files`] starts a new file only while
//! the chunks of the files in flight fit in [`Window::max_bytes`] (and at most
//! [`Window::max_files`] files are open), so a huge tree or a huge file needs no more memory
//! than the window, whatever its size.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use corepool::Pool;
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Sha256Digest = [u8; 32];

/// A regular file to hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The path as it will be printed: a root as given, joined with the names below it.
    pub path: PathBuf,
    /// Its length when it was listed (the hash reads whatever is there when it runs).
    pub len: u64,
}

/// An entry that could not be listed; it counts as a failure.
#[derive(Debug)]
pub struct Problem {
    pub path: PathBuf,
    pub error: io::Error,
}

/// An entry left out on purpose; not a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: &'static str,
}

/// What [`list`] found.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<FileEntry>,
    pub problems: Vec<Problem>,
    pub skipped: Vec<Skipped>,
}

impl Listing {
    /// Bytes over all listed files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }
}

/// Lists the regular files under `roots`, in order: each root in turn, directories
/// depth-first with their entries sorted by name.
///
/// A symlink to a file is hashed (its target's bytes, as `sha256sum` does). A symlink to a
/// directory is followed when it is a root (it was named on purpose) and skipped below one,
/// which also keeps link cycles out. A broken symlink is a [`Problem`].
pub fn list(roots: &[PathBuf]) -> Listing {
    let mut listing = Listing::default();
    for root in roots {
        // An explicit stack, so a deep tree cannot overflow the thread's stack.
        let mut stack = vec![(root.clone(), true)];
        while let Some((path, is_root)) = stack.pop() {
            visit(path, is_root, &mut listing, &mut stack);
        }
    }
    listing
}

/// Sorts out one entry: a file joins the listing, a directory pushes its entries onto `stack`.
fn visit(path: PathBuf, is_root: bool, out: &mut Listing, stack: &mut Vec<(PathBuf, bool)>) {
    let own = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(error) => return out.problems.push(Problem { path, error }),
    };
    let meta = if own.file_type().is_symlink() {
        match fs::metadata(&path) {
            Ok(target) if target.is_dir() && !is_root => {
                return out.skipped.push(Skipped {
                    path,
                    reason: "symbolic link to a directory, not followed",
                })
            }
            Ok(target) => target,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let target = fs::read_link(&path)
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|_| "?".to_owned());
                let error = io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("broken symbolic link (to {target})"),
                );
                return out.problems.push(Problem { path, error });
            }
            Err(error) => return out.problems.push(Problem { path, error }),
        }
    } else {
        own
    };
    if meta.is_file() {
        let len = meta.len();
        out.files.push(FileEntry { path, len });
    } else if meta.is_dir() {
        match read_dir_sorted(&path) {
            // Reversed, so the stack pops them in order.
            Ok(children) => stack.extend(children.into_iter().rev().map(|c| (c, false))),
            Err(error) => out.problems.push(Problem { path, error }),
        }
    } else {
        out.skipped.push(Skipped {
            path,
            reason: "not a regular file (socket, FIFO or device)",
        });
    }
}

/// The directory's entries, sorted by name. One unreadable entry fails the directory.
fn read_dir_sorted(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut names = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names.into_iter().map(|name| dir.join(name)).collect())
}

/// How much [`hash_files`] keeps in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Bytes a file may hold at once: each read takes at most this much.
    pub chunk: usize,
    /// A new file starts only while the in-flight files' chunks (`min(len, chunk)` each)
    /// stay within this; one file always may, however large.
    pub max_bytes: u64,
    /// At most this many files are in flight (each holds an open file descriptor).
    pub max_files: usize,
}

impl Default for Window {
    /// 4 MiB chunks, 64 MiB and 256 files in flight.
    fn default() -> Window {
        Window {
            chunk: 4 << 20,
            max_bytes: 64 << 20,
            max_files: 256,
        }
    }
}

/// Where [`hash_files`] delivers results; called on the thread that called it.
pub trait Sink {
    /// File `index` of the listing is done: its digest, or why it could not be hashed.
    /// Called once per file, in listing order.
    fn hashed(&mut self, index: usize, result: io::Result<Sha256Digest>);

    /// Bytes hashed so far over all files (chunks of unfinished files included). Called
    /// whenever results arrive and at least every 100 ms.
    fn progress(&mut self, _bytes_hashed: u64) {}
}

impl<F: FnMut(usize, io::Result<Sha256Digest>)> Sink for F {
    fn hashed(&mut self, index: usize, result: io::Result<Sha256Digest>) {
        self(index, result)
    }
}

/// Hashes every file in `files` on `pool` and gives each result to `sink`, in order.
///
/// Never panics and never hangs on a bad file: a file that cannot be opened or read yields
/// its `io::Error`. If the pool is shut down (or a task dies), the files whose tasks were
/// dropped yield an error saying so.
pub fn hash_files(pool: &Pool, files: &[FileEntry], window: Window, sink: &mut impl Sink) {
    let chunk = window.chunk.max(1);
    let cost = |i: usize| files[i].len.min(chunk as u64);
    let hashed = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<Done>();
    // Results that arrived ahead of the next one to deliver.
    let mut early: BTreeMap<usize, io::Result<Sha256Digest>> = BTreeMap::new();
    let (mut started, mut delivered) = (0, 0);
    let (mut in_flight, mut in_flight_bytes) = (0usize, 0u64);

    while delivered < files.len() {
        while started < files.len()
            && in_flight < window.max_files.max(1)
            && (in_flight == 0 || in_flight_bytes + cost(started) <= window.max_bytes)
        {
            let job = FileJob {
                path: files[started].path.clone(),
                file: None,
                hasher: Sha256::new(),
                chunk,
                hashed: hashed.clone(),
                reply: Reply {
                    index: started,
                    tx: Some(tx.clone()),
                },
                pool: pool.clone(),
            };
            read_on_lane(pool, job);
            in_flight += 1;
            in_flight_bytes += cost(started);
            started += 1;
        }

        let mut arrived = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(done) => vec![done],
            // `tx` lives in this frame, so the channel cannot disconnect; a timeout just
            // means a progress tick.
            Err(_) => Vec::new(),
        };
        arrived.extend(rx.try_iter());
        for (index, result) in arrived {
            in_flight -= 1;
            in_flight_bytes -= cost(index);
            early.insert(index, result);
        }
        while let Some(result) = early.remove(&delivered) {
            sink.hashed(delivered, result);
            delivered += 1;
        }
        // ORDERING: Relaxed — a progress figure; the digests travel through the channel.
        sink.progress(hashed.load(Ordering::Relaxed));
    }
}

/// Starts the next read of `job`'s file.
fn read_on_lane(pool: &Pool, job: FileJob) {
    // Blocking I/O goes to the blocking lane, never to a CPU worker. The chain reports its own
    // result (`Reply`), so the handle is not needed: dropping it detaches the read.
    let _detached = pool.spawn_blocking(move || read_chunk(job));
}

/// A file's hashing chain: everything one task hands the next.
struct FileJob {
    path: PathBuf,
    /// Opened by the first read.
    file: Option<File>,
    hasher: Sha256,
    chunk: usize,
    /// Bytes hashed over all files, for progress.
    hashed: Arc<AtomicU64>,
    reply: Reply,
    pool: Pool,
}

/// (file index, result), sent once per file.
type Done = (usize, io::Result<Sha256Digest>);

/// Sends a file's result exactly once: explicitly, or as an error if the chain is dropped
/// first (a task rejected by a shut-down pool, or unwound by a panic), so the caller never
/// waits for a file that will not finish.
struct Reply {
    index: usize,
    tx: Option<mpsc::Sender<Done>>,
}

impl Reply {
    fn send(mut self, result: io::Result<Sha256Digest>) {
        if let Some(tx) = self.tx.take() {
            // The receiver outlives every job unless the caller itself unwound; then
            // nobody is left to tell.
            let _ = tx.send((self.index, result));
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let error = io::Error::other("hashing stopped: its task was dropped unfinished");
            let _ = tx.send((self.index, Err(error)));
        }
    }
}

/// Blocking step: reads the next chunk (opening the file first time), then queues the hash.
fn read_chunk(mut job: FileJob) {
    match job.read_next() {
        Ok(data) => {
            let pool = job.pool.clone();
            pool.spawn(move || hash_chunk(job, data));
        }
        Err(error) => job.reply.send(Err(error)),
    }
}

/// CPU step: feeds the chunk to the hasher; then finishes, or reads the next chunk.
fn hash_chunk(mut job: FileJob, data: Vec<u8>) {
    job.hasher.update(&data);
    // ORDERING: Relaxed — progress only, see `hash_files`.
    job.hashed.fetch_add(data.len() as u64, Ordering::Relaxed);
    // A short read means end of file; a full chunk may be followed by an empty one.
    let at_end = data.len() < job.chunk;
    drop(data);
    if at_end {
        let digest: Sha256Digest = job.hasher.finalize().into();
        job.reply.send(Ok(digest));
    } else {
        let pool = job.pool.clone();
        read_on_lane(&pool, job);
    }
}

impl FileJob {
    /// Up to `chunk` bytes from where the last read stopped; fewer only at end of file.
    fn read_next(&mut self) -> io::Result<Vec<u8>> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = File::open(&self.path)?;
                self.file.insert(file)
            }
        };
        let hint = file
            .metadata()
            .map_or(0, |m| m.len())
            .min(self.chunk as u64);
        let mut data = Vec::with_capacity(hint as usize);
        file.take(self.chunk as u64).read_to_end(&mut data)?;
        Ok(data)
    }
}

/// A file's line in `sha256sum` format: `<hex digest>  <path>\n`.
///
/// Like GNU `sha256sum`, a path holding `\`, a newline or a carriage return is written
/// escaped (`\\`, `\n`, `\r`) with a `\` before the digest, so `sha256sum -c` reads it back.
pub fn checksum_line(digest: &Sha256Digest, path: &Path) -> Vec<u8> {
    let name = path_bytes(path);
    let needs_escape = name.iter().any(|b| matches!(b, b'\\' | b'\n' | b'\r'));
    let mut line = Vec::with_capacity(1 + 64 + 2 + name.len() + 1);
    if needs_escape {
        line.push(b'\\');
    }
    line.extend_from_slice(hex(digest).as_bytes());
    line.extend_from_slice(b"  ");
    for &b in name.iter() {
        match b {
            b'\\' => line.extend_from_slice(b"\\\\"),
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            _ => line.push(b),
        }
    }
    line.push(b'\n');
    line
}

/// Lower-case hex.
pub fn hex(digest: &Sha256Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The path's bytes as the OS has them (no lossy conversion on Unix).
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::borrow::Cow::Borrowed(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::borrow::Cow::Owned(path.to_string_lossy().into_owned().into_bytes())
    }
}
