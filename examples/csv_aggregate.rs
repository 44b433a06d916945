//! A 200 MB CSV aggregated per key, stopping at the first malformed line: corepool's
//! `pool.stream` against rayon and one thread.
//!
//! ```text
//! cargo run --release --example csv_aggregate                     # generate ~200 MB, aggregate
//! cargo run --release --example csv_aggregate -- --bad-line 4000000   # plant a malformed line
//! cargo run --release --example csv_aggregate -- --engine all     # corepool, rayon, one thread
//! cargo run --release --example csv_aggregate -- --generate sales.csv --mib 200
//! cargo run --release --example csv_aggregate -- sales.csv --engine rayon
//! ```
//!
//! The data: sales records `order_id,store,sku,quantity,price_cents` under a header line,
//! deterministic (the same bytes every run), ~1,000 stores with skewed popularity. The job:
//! per store, the orders, units, revenue and largest order; a malformed line (wrong field
//! count, an empty field, a number that is not one) stops the run with its line number
//! (the header is line 1). Without FILE the CSV is written to a temporary directory and
//! removed at the end; `--mib N` resizes it, `--bad-line N` replaces line N by a malformed one.
//!
//! The engines, each timed from opening the file to the last record (or the error):
//! - **corepool** (default): the caller's thread reads the file in chunks of whole lines (a
//!   partial last line is carried into the next chunk), `pool.stream(chunks).map(parse)`
//!   parses them on the workers, and the caller merges the per-chunk tables in input order.
//!   At most `--window` chunks are out at once: memory stays at a few chunks whatever the
//!   file. The first malformed line ends the loop; dropping the stream stops it (nothing
//!   more is read, queued chunks never start). The progress bar is fed by the stream's
//!   `Progress` (bytes done).
//! - **rayon**: the whole file read into memory, then `par_split` on newlines and `try_fold`
//!   into per-piece tables, `try_reduce` to merge — the program a rayon user writes first.
//!   Its `try_reduce` returns whichever error it meets first, which is the lowest line only
//!   when there is one malformed line (as in these runs).
//! - **serial**: the same chunks, parsed and merged on the calling thread.
//!
//! Exit status: 0 when the file was aggregated, 1 when a run met a malformed line or an I/O
//! error, 2 for bad arguments.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::fmt;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corepool::{Pool, Progress};
use indicatif::{ProgressBar, ProgressStyle};

/// The first line of every file.
pub const HEADER: &str = "order_id,store,sku,quantity,price_cents";

/// Default chunk of the corepool and serial engines.
pub const DEFAULT_CHUNK_BYTES: usize = 1 << 20;

/// Chunks in flight per CPU worker, by default (the stream's window).
pub const DEFAULT_WINDOW_PER_WORKER: usize = 4;

// ---------------------------------------------------------------------------------------
// The data

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Lines, the header included.
    pub lines: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Writes a deterministic CSV of at least `bytes` bytes (whole lines) to `path`. With
/// `bad_line = Some(n)`, line `n` (1 = the header) is replaced by a malformed record: a
/// quantity that is not a number.
pub fn generate(path: &Path, bytes: u64, bad_line: Option<u64>) -> io::Result<Generated> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut line = Vec::with_capacity(64);
    let mut written = 0u64;
    let mut lines = 0u64;
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        // xorshift64*: fast, deterministic, good enough for test data.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    while written < bytes || lines == 0 {
        line.clear();
        lines += 1;
        if lines == 1 {
            line.extend_from_slice(HEADER.as_bytes());
        } else {
            let r = next();
            // Skewed store popularity: the low stores get most orders.
            let store = ((r % 1_000) * ((r >> 10) % 1_000)) / 1_000;
            let sku = (r >> 20) % 50_000;
            let quantity = 1 + (r >> 36) % 20;
            let price = 99 + (r >> 41) % 49_901;
            push_u64(&mut line, lines - 1);
            line.extend_from_slice(b",store-");
            push_padded(&mut line, store, 4);
            line.extend_from_slice(b",SKU-");
            push_padded(&mut line, sku, 6);
            line.push(b',');
            if bad_line == Some(lines) {
                line.extend_from_slice(b"three");
            } else {
                push_u64(&mut line, quantity);
            }
            line.push(b',');
            push_u64(&mut line, price);
        }
        if bad_line == Some(1) && lines == 1 {
            line.extend_from_slice(b",extra");
        }
        line.push(b'\n');
        out.write_all(&line)?;
        written += line.len() as u64;
    }
    out.flush()?;
    Ok(Generated {
        lines,
        bytes: written,
    })
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let start = out.len();
    push_u64(out, n);
    let len = out.len() - start;
    if len < width {
        out.splice(start..start, std::iter::repeat_n(b'0', width - len));
    }
}

// ---------------------------------------------------------------------------------------
// Parsing and aggregation

/// Per-store totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records.
    pub orders: u64,
    /// Sum of quantities.
    pub units: u64,
    /// Sum of quantity × price, in cents.
    pub revenue_cents: u64,
    /// The largest quantity × price of one record, in cents.
    pub largest_order_cents: u64,
}

impl Stats {
    fn add(&mut self, quantity: u64, price_cents: u64) {
        let value = quantity * price_cents;
        self.orders += 1;
        self.units += quantity;
        self.revenue_cents += value;
        self.largest_order_cents = self.largest_order_cents.max(value);
    }

    fn merge(&mut self, other: &Stats) {
        self.orders += other.orders;
        self.units += other.units;
        self.revenue_cents += other.revenue_cents;
        self.largest_order_cents = self.largest_order_cents.max(other.largest_order_cents);
    }
}

/// Per-store totals of some records, keyed by the store field's bytes.
#[derive(Debug, Default)]
pub struct Table {
    /// Records folded in.
    pub records: u64,
    stores: HashMap<Vec<u8>, Stats, BuildHasherDefault<KeyHasher>>,
}

/// A multiply-rotate hash over 8-byte words (the Fx hash's scheme): keys here are short
/// and not attacker-chosen, and SipHash would be a good part of the work per line.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.mix(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        let tail = words.remainder();
        last[..tail.len()].copy_from_slice(tail);
        self.mix(u64::from_le_bytes(last) ^ ((tail.len() as u64) << 56));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl KeyHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Table {
    fn add(&mut self, record: Record<'_>) {
        self.records += 1;
        match self.stores.get_mut(record.store) {
            Some(stats) => stats.add(record.quantity, record.price_cents),
            None => {
                let mut stats = Stats::default();
                stats.add(record.quantity, record.price_cents);
                self.stores.insert(record.store.to_vec(), stats);
            }
        }
    }

    /// Folds `other` into this table.
    pub fn merge(&mut self, other: Table) {
        self.records += other.records;
        for (store, stats) in other.stores {
            self.stores.entry(store).or_default().merge(&stats);
        }
    }

    /// The totals per store, sorted by store.
    pub fn into_sorted(self) -> BTreeMap<String, Stats> {
        self.stores
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect()
    }
}

/// One parsed data line.
#[derive(Debug, Clone, Copy)]
struct Record<'a> {
    store: &'a [u8],
    quantity: u64,
    price_cents: u64,
}

/// Why a line is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// The header is not [`HEADER`].
    Header,
    /// Not five fields (an empty line has one).
    FieldCount(usize),
    /// A field that must not be empty is.
    EmptyField(&'static str),
    /// A numeric field that is not a number; the field's text.
    NotANumber(&'static str, String),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Header => write!(f, "the header is not {HEADER:?}"),
            Malformed::FieldCount(n) => write!(f, "{n} fields, expected 5"),
            Malformed::EmptyField(name) => write!(f, "empty {name}"),
            Malformed::NotANumber(name, text) => write!(f, "{name} is not a number: {text:?}"),
        }
    }
}

const FIELDS: [&str; 5] = ["order_id", "store", "sku", "quantity", "price_cents"];

fn parse_record(line: &[u8]) -> Result<Record<'_>, Malformed> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = [&line[..0]; 5];
    let mut n = 0;
    for field in line.split(|&b| b == b',') {
        if n < 5 {
            fields[n] = field;
        }
        n += 1;
    }
    if n != 5 {
        return Err(Malformed::FieldCount(n));
    }
    if let Some(i) = fields.iter().position(|f| f.is_empty()) {
        return Err(Malformed::EmptyField(FIELDS[i]));
    }
    let number = |i: usize| {
        parse_u64(fields[i]).ok_or_else(|| {
            Malformed::NotANumber(FIELDS[i], String::from_utf8_lossy(fields[i]).into_owned())
        })
    };
    number(0)?;
    Ok(Record {
        store: fields[1],
        quantity: number(3)?,
        price_cents: number(4)?,
    })
}

/// Decimal digits only, at most 18 of them (no overflow possible).
fn parse_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 18 {
        return None;
    }
    field.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// A chunk of whole lines, in file order.
#[derive(Debug)]
pub struct Chunk {
    /// Position in the file: 0 for the first chunk, which starts with the header.
    pub index: u64,
    /// Whole lines; only the file's last line may lack its `\n`.
    pub bytes: Vec<u8>,
}

/// What one chunk gave.
#[derive(Debug)]
pub struct Parsed {
    /// Lines in the chunk.
    pub lines: u64,
    /// Its records' totals.
    pub table: Table,
    /// The chunk's buffer, for [`ChunkReader::spares`].
    pub buffer: Vec<u8>,
}

/// A malformed line, by its line number within its chunk (1-based).
#[derive(Debug)]
pub struct BadLine {
    /// Line within the chunk, 1-based.
    pub line_in_chunk: u64,
    /// What is wrong with it.
    pub why: Malformed,
}

/// Parses every line of `chunk` into a table, or names the first malformed one.
pub fn parse_chunk(chunk: Chunk) -> Result<Parsed, BadLine> {
    let mut table = Table::default();
    let mut lines = 0u64;
    let mut rest = &chunk.bytes[..];
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        lines += 1;
        let bad = |why| BadLine {
            line_in_chunk: lines,
            why,
        };
        if chunk.index == 0 && lines == 1 {
            if line.strip_suffix(b"\r").unwrap_or(line) != HEADER.as_bytes() {
                return Err(bad(Malformed::Header));
            }
        } else {
            table.add(parse_record(line).map_err(bad)?);
        }
        rest = next;
    }
    Ok(Parsed {
        lines,
        table,
        buffer: chunk.bytes,
    })
}

/// Room for the partial line carried into a chunk, beyond its nominal size.
const CARRY_ROOM: usize = 4096;

/// Buffers of parsed chunks, handed back to the reader for the next chunks: the caller's
/// thread holds both ends, so a plain `Rc<RefCell<..>>` does (the stream's source need not
/// be `Send`). Without it every chunk would be fresh memory: the allocator does not give
/// back here, quickly, buffers freed on the workers.
pub type Spares = Rc<RefCell<Vec<Vec<u8>>>>;

/// Reads a file as [`Chunk`]s of about `chunk_bytes` whole lines, carrying the partial last
/// line of each read into the next chunk. Runs on the caller's thread (the stream's source).
pub struct ChunkReader<R> {
    source: R,
    chunk_bytes: usize,
    carry: Vec<u8>,
    spares: Spares,
    next_index: u64,
    done: bool,
}

impl<R: Read> ChunkReader<R> {
    /// Chunks of about `chunk_bytes` (at least 1; a longer line makes a longer chunk).
    pub fn new(source: R, chunk_bytes: usize) -> Self {
        ChunkReader {
            source,
            chunk_bytes: chunk_bytes.max(1),
            carry: Vec::new(),
            spares: Spares::default(),
            next_index: 0,
            done: false,
        }
    }

    /// Where to put the buffers of parsed chunks for reuse.
    pub fn spares(&self) -> Spares {
        self.spares.clone()
    }
}

impl<R: Read> Iterator for ChunkReader<R> {
    type Item = io::Result<Chunk>;

    fn next(&mut self) -> Option<io::Result<Chunk>> {
        if self.done {
            return None;
        }
        let spare = self.spares.borrow_mut().pop();
        let mut bytes = spare.unwrap_or_else(|| Vec::with_capacity(self.chunk_bytes + CARRY_ROOM));
        bytes.clear();
        bytes.append(&mut self.carry);
        let mut scanned = 0;
        loop {
            let want = (self.chunk_bytes.saturating_sub(bytes.len())).max(4096);
            let read = match (&mut self.source).take(want as u64).read_to_end(&mut bytes) {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if read == 0 {
                // End of file: whatever is left is the last chunk.
                self.done = true;
                if bytes.is_empty() {
                    return None;
                }
                break;
            }
            if bytes.len() < self.chunk_bytes {
                continue;
            }
            // Cut after the last newline; the rest starts the next chunk.
            if let Some(cut) = bytes[scanned..].iter().rposition(|&b| b == b'\n') {
                self.carry = bytes[scanned + cut + 1..].to_vec();
                bytes.truncate(scanned + cut + 1);
                break;
            }
            scanned = bytes.len(); // one line longer than a chunk: read on
        }
        let index = self.next_index;
        self.next_index += 1;
        Some(Ok(Chunk { index, bytes }))
    }
}

// ---------------------------------------------------------------------------------------
// The engines

/// What a run found.
#[derive(Debug)]
pub struct Summary {
    /// Lines, the header included.
    pub lines: u64,
    /// Records (data lines).
    pub records: u64,
    /// Totals per store.
    pub stores: BTreeMap<String, Stats>,
}

/// Why a run stopped.
#[derive(Debug)]
pub enum RunError {
    /// Reading the file failed.
    Io(io::Error),
    /// A malformed line, by its line number in the file (1 = the header).
    Malformed {
        /// Line number, 1-based.
        line: u64,
        /// What is wrong with it.
        why: Malformed,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Io(e) => write!(f, "reading the file: {e}"),
            RunError::Malformed { line, why } => write!(f, "line {line} is malformed: {why}"),
        }
    }
}

impl Error for RunError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            RunError::Io(e) => Some(e),
            RunError::Malformed { .. } => None,
        }
    }
}

impl From<io::Error> for RunError {
    fn from(e: io::Error) -> Self {
        RunError::Io(e)
    }
}

/// Folds parsed chunks, in file order, into the summary; the first bad line (or read error)
/// ends it with its line number in the file.
#[derive(Default)]
struct Merge {
    lines: u64,
    table: Table,
}

impl Merge {
    /// Merges one chunk's table; hands back its buffer.
    fn take(&mut self, parsed: Result<Parsed, ChunkError>) -> Result<Vec<u8>, RunError> {
        match parsed {
            Ok(p) => {
                self.lines += p.lines;
                self.table.merge(p.table);
                Ok(p.buffer)
            }
            Err(ChunkError::Io(e)) => Err(RunError::Io(e)),
            Err(ChunkError::Bad(bad)) => Err(RunError::Malformed {
                line: self.lines + bad.line_in_chunk,
                why: bad.why,
            }),
        }
    }

    fn finish(self) -> Result<Summary, RunError> {
        if self.lines == 0 {
            // An empty file: not even the header.
            return Err(RunError::Malformed {
                line: 1,
                why: Malformed::Header,
            });
        }
        Ok(Summary {
            lines: self.lines,
            records: self.table.records,
            stores: self.table.into_sorted(),
        })
    }
}

/// A chunk that could not be read or parsed.
#[derive(Debug)]
enum ChunkError {
    Io(io::Error),
    Bad(BadLine),
}

fn read_and_parse(chunk: io::Result<Chunk>) -> Result<Parsed, ChunkError> {
    parse_chunk(chunk.map_err(ChunkError::Io)?).map_err(ChunkError::Bad)
}

/// How the corepool engine reads.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    /// Bytes per chunk (whole lines).
    pub chunk_bytes: usize,
    /// Chunks taken from the file and not yet merged, at most.
    pub window: usize,
}

impl StreamOptions {
    /// The defaults for `pool`.
    pub fn for_pool(pool: &Pool) -> Self {
        StreamOptions {
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            window: DEFAULT_WINDOW_PER_WORKER * pool.plan().cpu_workers().max(1),
        }
    }
}

/// corepool: chunks read here, parsed by `pool.stream(..).map(..)`, merged here in order.
/// `progress` counts the bytes of chunks parsed; `on_chunk` is called after each merge (the
/// progress bar's tick).
pub fn aggregate_corepool(
    pool: &Pool,
    path: &Path,
    options: StreamOptions,
    progress: &Progress,
    on_chunk: &mut dyn FnMut(),
) -> Result<Summary, RunError> {
    let chunks = ChunkReader::new(File::open(path)?, options.chunk_bytes);
    let spares = chunks.spares();
    let parsed = pool
        .stream(chunks)
        .window(options.window)
        .progress(progress)
        .weigh(|chunk: &io::Result<Chunk>| chunk.as_ref().map_or(0, |c| c.bytes.len() as u64))
        .map(read_and_parse);
    let mut merge = Merge::default();
    for chunk in parsed {
        // An error returns here, dropping the stream: nothing more is read, and chunks
        // queued behind the bad one never start.
        let buffer = merge.take(chunk)?;
        spares.borrow_mut().push(buffer);
        on_chunk();
    }
    merge.finish()
}

/// One thread: the same chunks, parsed and merged in turn.
pub fn aggregate_serial(
    path: &Path,
    chunk_bytes: usize,
    on_chunk: &mut dyn FnMut(u64),
) -> Result<Summary, RunError> {
    let mut merge = Merge::default();
    let chunks = ChunkReader::new(File::open(path)?, chunk_bytes);
    let spares = chunks.spares();
    for chunk in chunks {
        let len = chunk.as_ref().map_or(0, |c| c.bytes.len() as u64);
        let buffer = merge.take(read_and_parse(chunk))?;
        spares.borrow_mut().push(buffer);
        on_chunk(len);
    }
    merge.finish()
}

/// rayon: the whole file in memory, `par_split` on newlines, `try_fold` + `try_reduce`.
pub fn aggregate_rayon(pool: &rayon::ThreadPool, path: &Path) -> Result<Summary, RunError> {
    use rayon::prelude::*;

    let bytes = std::fs::read(path)?;
    let header_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let header = &bytes[..header_end];
    if header.strip_suffix(b"\r").unwrap_or(header) != HEADER.as_bytes() {
        return Err(RunError::Malformed {
            line: 1,
            why: Malformed::Header,
        });
    }
    let body = &bytes[(header_end + 1).min(bytes.len())..];
    let end = body.as_ptr_range().end as usize;
    let folded = pool.install(|| {
        body.par_split(|&b| b == b'\n')
            .try_fold(Table::default, |mut table, line| {
                if line.is_empty() && line.as_ptr() as usize == end {
                    return Ok(table); // after the final newline
                }
                match parse_record(line) {
                    Ok(record) => {
                        table.add(record);
                        Ok(table)
                    }
                    Err(why) => Err((line.as_ptr() as usize - bytes.as_ptr() as usize, why)),
                }
            })
            .try_reduce(Table::default, |mut a, b| {
                a.merge(b);
                Ok(a)
            })
    });
    match folded {
        Ok(table) => {
            let lines = 1 + table.records;
            Ok(Summary {
                lines,
                records: table.records,
                stores: table.into_sorted(),
            })
        }
        Err((offset, why)) => {
            let newlines =
                pool.install(|| bytes[..offset].par_iter().filter(|&&b| b == b'\n').count());
            Err(RunError::Malformed {
                line: 1 + newlines as u64,
                why,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------
// The command line

const USAGE: &str = "\
usage: csv_aggregate [FILE] [--engine corepool|rayon|serial|all] [--mib N] [--bad-line N]
                     [--chunk-kib N] [--window N] [--no-progress]
       csv_aggregate --generate FILE [--mib N] [--bad-line N]

Aggregates a sales CSV per store and prints the totals and the time taken; stops
at the first malformed line and names it. Without FILE, a deterministic CSV is
generated in a temporary directory (removed afterwards).

  --engine E      corepool (default), rayon, serial, or all three in turn
  --mib N         size of a generated CSV in MiB (default 200)
  --bad-line N    make line N of a generated CSV malformed (1 = the header)
  --generate F    only write the CSV to F
  --chunk-kib N   chunk size of the corepool and serial engines (default 1024)
  --window N      chunks in flight for corepool (default 4 per worker)
  --no-progress   no progress bar";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Corepool,
    Rayon,
    Serial,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Corepool => "corepool",
            Engine::Rayon => "rayon",
            Engine::Serial => "one thread",
        }
    }
}

struct Options {
    file: Option<PathBuf>,
    generate_only: bool,
    engines: Vec<Engine>,
    mib: u64,
    bad_line: Option<u64>,
    chunk_kib: Option<usize>,
    window: Option<usize>,
    progress: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options {
        file: None,
        generate_only: false,
        engines: vec![Engine::Corepool],
        mib: 200,
        bad_line: None,
        chunk_kib: None,
        window: None,
        progress: true,
    };
    fn number<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        v.parse()
            .map_err(|_| format!("{flag}: {v:?} is not a number"))
    }
    fn positive<T: std::str::FromStr + PartialEq + Default>(
        flag: &str,
        v: Option<String>,
    ) -> Result<T, String> {
        let n: T = number(flag, v)?;
        if n == T::default() {
            return Err(format!("{flag} must be at least 1"));
        }
        Ok(n)
    }
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--engine" => {
                o.engines = match args.next().as_deref() {
                    Some("corepool") => vec![Engine::Corepool],
                    Some("rayon") => vec![Engine::Rayon],
                    Some("serial") => vec![Engine::Serial],
                    Some("all") => vec![Engine::Corepool, Engine::Rayon, Engine::Serial],
                    other => return Err(format!("--engine: unknown engine {other:?}")),
                }
            }
            "--mib" => o.mib = positive("--mib", args.next())?,
            "--bad-line" => o.bad_line = Some(positive("--bad-line", args.next())?),
            "--chunk-kib" => o.chunk_kib = Some(positive("--chunk-kib", args.next())?),
            "--window" => o.window = Some(positive("--window", args.next())?),
            "--no-progress" => o.progress = false,
            "--generate" => {
                o.generate_only = true;
                o.file = Some(args.next().ok_or("--generate needs a file")?.into());
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            file if o.file.is_none() => o.file = Some(file.into()),
            extra => return Err(format!("one FILE only, got another: {extra}")),
        }
    }
    Ok(Some(o))
}

/// `eprintln!` that ignores a failed write: a closed stderr must not panic the run.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            say!("csv_aggregate: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            say!("csv_aggregate: {e}");
            ExitCode::from(1)
        }
    }
}

/// Generates if asked, runs the engines; `Ok(false)` if a run stopped at an error.
fn run(o: &Options) -> Result<bool, Box<dyn Error>> {
    let _temp; // the generated file's directory, removed when this returns
    let path = match &o.file {
        Some(path) if !o.generate_only => path.clone(),
        given => {
            let path = match given {
                Some(path) => path.clone(),
                None => {
                    let dir = tempfile::tempdir()?;
                    let path = dir.path().join("sales.csv");
                    _temp = dir;
                    path
                }
            };
            let t = Instant::now();
            let g = generate(&path, o.mib << 20, o.bad_line)?;
            say!(
                "generated {}: {} lines, {:.1} MB in {:.2} s{}",
                path.display(),
                g.lines,
                g.bytes as f64 / 1e6,
                t.elapsed().as_secs_f64(),
                o.bad_line
                    .map(|n| format!(" (line {n} malformed)"))
                    .unwrap_or_default()
            );
            if o.generate_only {
                return Ok(true);
            }
            path
        }
    };
    let size = std::fs::metadata(&path)?.len();
    let pool = Pool::new();
    let workers = pool.plan().cpu_workers();
    let mut all_ok = true;
    let mut first: Option<(Engine, BTreeMap<String, Stats>)> = None;
    for &engine in &o.engines {
        let bar = progress_bar(o.progress, size, engine);
        let t = Instant::now();
        let result = match engine {
            Engine::Corepool => {
                let mut stream = StreamOptions::for_pool(&pool);
                if let Some(kib) = o.chunk_kib {
                    stream.chunk_bytes = kib << 10;
                }
                if let Some(w) = o.window {
                    stream.window = w;
                }
                let progress = Progress::new();
                aggregate_corepool(&pool, &path, stream, &progress, &mut || {
                    bar.set_position(progress.weight_done())
                })
            }
            Engine::Rayon => {
                let rayon = rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .build()?;
                aggregate_rayon(&rayon, &path)
            }
            Engine::Serial => aggregate_serial(
                &path,
                o.chunk_kib.map_or(DEFAULT_CHUNK_BYTES, |k| k << 10),
                &mut |n| bar.inc(n),
            ),
        };
        let elapsed = t.elapsed();
        bar.finish_and_clear();
        let threads = match engine {
            Engine::Serial => "1 thread".to_string(),
            _ => format!("{workers} workers"),
        };
        match result {
            Ok(summary) => {
                report(engine, &threads, &summary, size, elapsed);
                match &first {
                    Some((other, stores)) if *stores != summary.stores => {
                        say!("  differs from {}!", other.name());
                        all_ok = false;
                    }
                    Some(_) => {}
                    None => first = Some((engine, summary.stores)),
                }
            }
            Err(e) => {
                say!(
                    "{:<10} ({threads}): {e} — stopped after {:.3} s",
                    engine.name(),
                    elapsed.as_secs_f64()
                );
                all_ok = false;
            }
        }
    }
    Ok(all_ok)
}

fn progress_bar(enabled: bool, size: u64, engine: Engine) -> ProgressBar {
    if !enabled || engine == Engine::Rayon {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{msg:>10} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(size)
        .with_style(style)
        .with_message(engine.name())
}

fn report(engine: Engine, threads: &str, s: &Summary, size: u64, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    let revenue: u64 = s.stores.values().map(|v| v.revenue_cents).sum();
    say!(
        "{:<10} ({threads}): {} records, {} stores, revenue {}.{:02} in {secs:.3} s ({:.0} MB/s)",
        engine.name(),
        s.records,
        s.stores.len(),
        revenue / 100,
        revenue % 100,
        size as f64 / 1e6 / secs
    );
    let mut top: Vec<(&String, &Stats)> = s.stores.iter().collect();
    top.sort_by(|a, b| b.1.revenue_cents.cmp(&a.1.revenue_cents).then(a.0.cmp(b.0)));
    for (store, v) in top.iter().take(3) {
        say!(
            "    {store}: {} orders, {} units, revenue {}.{:02}, largest order {}.{:02}",
            v.orders,
            v.units,
            v.revenue_cents / 100,
            v.revenue_cents % 100,
            v.largest_order_cents / 100,
            v.largest_order_cents % 100
        );
    }
}
