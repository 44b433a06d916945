//! [`Pool::stream`]: bounded, ordered, fallible parallel processing of any iterator.
//!
//! The source is read lazily on the caller's thread. Items are taken in **groups** (one task
//! each), sized adaptively from the measured cost per item — one item per group until a group
//! has run, then enough for about 20 µs of work — so a stream of ten million integers costs
//! tens of thousands of tasks, not ten million; the window still counts items. Finished
//! groups come back through a **ready list** (`ready.rs`: a lock-free stack the workers push
//! onto and the consumer swaps out, with a Dekker handshake for the consumer's sleep); an
//! ordered stream puts them back in input order in a reorder buffer only the consumer
//! touches (`driver.rs`). What one group does is in `group.rs`.
//!
//! Failure rules, shared by every consumer:
//! - an error or a panic at item `k` lowers the stream's stop index to `k + 1`: items after
//!   it never start (checked before each item), items before it still run (an earlier error
//!   may be among them), and nothing more is taken from the source; the caller gets the error
//!   or panic of the *smallest* index, after every group out has come back;
//! - a cancelled [`CancelToken`] stops the stream the same way, from every index: items not
//!   started never start; `map` ends, `for_each` and `try_for_each` return;
//! - a dropped [`StreamMap`] stops every item not yet started and leaves at once; groups
//!   still out free themselves.

mod driver;
mod group;
mod ready;

use std::convert::Infallible;
use std::fmt;

use crate::error::TaskError;
use crate::pool::Pool;
use crate::sync::{Ordering, StatCounter, TaskArc};
use crate::task::cancel::CancelToken;
use driver::{Driver, Lane, Options, Weigh};
use group::{Control, Failure, Fns, Payload, Shared};

#[cfg(corepool_loom)]
pub use ready::LoomReady;
pub(crate) use ready::{next_of, wait_take, Link, Pushed, ReadyList};

/// Items a stream may hold per CPU worker, by default: the default window is this times the
/// pool's CPU workers, at most [`DEFAULT_WINDOW_MAX`]. Sized for small items — numbers,
/// lines, paths — where a wide window is what lets cheap items travel in large groups; set
/// [`Stream::window`] when each item (or its result) holds real memory, such as a file's
/// contents.
///
/// ```
/// assert_eq!(corepool::DEFAULT_WINDOW_PER_WORKER, 16_384);
/// ```
pub const DEFAULT_WINDOW_PER_WORKER: usize = 16_384;

/// The largest default window, whatever the number of workers.
///
/// ```
/// assert_eq!(corepool::DEFAULT_WINDOW_MAX, 262_144);
/// ```
pub const DEFAULT_WINDOW_MAX: usize = 262_144;

/// A progress observer for streams: counts of items taken and done, and their weight (e.g.
/// bytes, see [`Stream::weigh`]). Clones share the counters, so a progress bar on another
/// thread can poll one while the stream runs; several streams may feed one observer. The
/// counters are updated once per group (not per item), with relaxed atomics: each figure
/// is exact once the stream has returned, and never runs ahead of the truth meanwhile.
///
/// ```
/// use corepool::{Pool, Progress};
///
/// let pool = Pool::new();
/// let progress = Progress::new();
/// let watcher = progress.clone(); // e.g. moved to a thread that draws a bar
/// let lines = vec!["a", "bb", "ccc"];
/// pool.stream(lines)
///     .progress(&progress)
///     .weigh(|line| line.len() as u64)
///     .for_each(|line| assert!(!line.is_empty()));
/// assert_eq!((watcher.items_taken(), watcher.items_done()), (3, 3));
/// assert_eq!(watcher.weight_done(), 6);
/// ```
#[derive(Clone, Default)]
pub struct Progress {
    inner: TaskArc<ProgressInner>,
}

#[derive(Default)]
struct ProgressInner {
    items_taken: StatCounter,
    items_done: StatCounter,
    weight_taken: StatCounter,
    weight_done: StatCounter,
}

impl Progress {
    /// A new observer, all counters zero.
    ///
    /// ```
    /// assert_eq!(corepool::Progress::new().items_done(), 0);
    /// ```
    pub fn new() -> Self {
        Progress::default()
    }

    /// Items taken from the source so far.
    ///
    /// ```
    /// let p = corepool::Progress::new();
    /// corepool::Pool::new().stream(0..5).progress(&p).for_each(|_| ());
    /// assert_eq!(p.items_taken(), 5);
    /// ```
    pub fn items_taken(&self) -> u64 {
        // ORDERING: Relaxed: a statistic (type docs).
        self.inner.items_taken.load(Ordering::Relaxed)
    }

    /// Items whose function has run (returned `Ok` for `try_for_each`) so far.
    ///
    /// ```
    /// let p = corepool::Progress::new();
    /// corepool::Pool::new().stream(0..5).progress(&p).for_each(|_| ());
    /// assert_eq!(p.items_done(), 5);
    /// ```
    pub fn items_done(&self) -> u64 {
        // ORDERING: Relaxed: a statistic.
        self.inner.items_done.load(Ordering::Relaxed)
    }

    /// Total weight of the items taken (0 unless the stream has a [`weigh`](Stream::weigh)).
    ///
    /// ```
    /// let p = corepool::Progress::new();
    /// corepool::Pool::new().stream(vec![2u64, 3]).progress(&p).weigh(|x| *x).for_each(|_| ());
    /// assert_eq!(p.weight_taken(), 5);
    /// ```
    pub fn weight_taken(&self) -> u64 {
        // ORDERING: Relaxed: a statistic.
        self.inner.weight_taken.load(Ordering::Relaxed)
    }

    /// Total weight of the items done.
    ///
    /// ```
    /// let p = corepool::Progress::new();
    /// corepool::Pool::new().stream(vec![2u64, 3]).progress(&p).weigh(|x| *x).for_each(|_| ());
    /// assert_eq!(p.weight_done(), 5);
    /// ```
    pub fn weight_done(&self) -> u64 {
        // ORDERING: Relaxed: a statistic.
        self.inner.weight_done.load(Ordering::Relaxed)
    }

    pub(crate) fn add_taken(&self, items: u64, weight: u64) {
        use crate::sync::Ordering::Relaxed;
        // ORDERING: Relaxed: statistics.
        self.inner.items_taken.fetch_add(items, Relaxed);
        // ORDERING: Relaxed: statistics.
        self.inner.weight_taken.fetch_add(weight, Relaxed);
    }

    pub(crate) fn add_done(&self, items: u64, weight: u64) {
        use crate::sync::Ordering::Relaxed;
        // ORDERING: Relaxed: statistics. Weight first, so a reader that sees all items done
        // is about to see all the weight too (both are exact once the stream returned).
        self.inner.weight_done.fetch_add(weight, Relaxed);
        // ORDERING: Relaxed: statistics.
        self.inner.items_done.fetch_add(items, Relaxed);
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("items_taken", &self.items_taken())
            .field("items_done", &self.items_done())
            .field("weight_taken", &self.weight_taken())
            .field("weight_done", &self.weight_done())
            .finish()
    }
}

/// A stream of items from an iterator, processed on a pool; made by [`Pool::stream`],
/// configured by its builder methods, consumed by [`map`](Stream::map),
/// [`for_each`](Stream::for_each), [`try_for_each`](Stream::try_for_each) and their `_init`
/// variants.
///
/// ```
/// let pool = corepool::Pool::new();
/// let lengths: Vec<usize> = pool
///     .stream(["a", "bb", "ccc"])
///     .window(2) // at most two items in flight
///     .map(|s| s.len())
///     .collect();
/// assert_eq!(lengths, [1, 2, 3]);
/// ```
#[must_use = "a Stream does nothing until map, for_each or try_for_each is called"]
pub struct Stream<'p, I: Iterator> {
    pool: &'p Pool,
    source: I,
    window: Option<usize>,
    ordered: bool,
    token: Option<CancelToken>,
    progress: Option<Progress>,
    weigh: Option<Weigh<'p, I::Item>>,
    lane: Lane,
}

impl<I: Iterator> fmt::Debug for Stream<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("window", &self.window)
            .field("ordered", &self.ordered)
            .field("blocking_lane", &(self.lane == Lane::Blocking))
            .finish()
    }
}

impl Pool {
    /// A [`Stream`] over `source`: items are read lazily from it on the calling thread (the
    /// iterator need not be `Send`) and processed on the pool, at most
    /// [`window`](Stream::window) at a time.
    ///
    /// Usable from anywhere, including from inside one of the pool's own tasks: a consumer
    /// that waits on a worker runs other tasks meanwhile (as
    /// [`JoinHandle::join`](crate::JoinHandle::join) does), so it cannot deadlock, even on a
    /// one-worker pool.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let squares: Vec<u64> = pool.stream(1..=4u64).map(|x| x * x).collect();
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// ```
    pub fn stream<I>(&self, source: I) -> Stream<'_, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
    {
        Stream {
            pool: self,
            source: source.into_iter(),
            window: None,
            ordered: true,
            token: None,
            progress: None,
            weigh: None,
            lane: Lane::Cpu,
        }
    }
}

impl<'p, I> Stream<'p, I>
where
    I: Iterator,
    I::Item: Send + 'static,
{
    /// At most `n` items (at least 1) taken from the source and not yet handed back: the
    /// memory bound, and the backpressure onto the source. "Handed back" means returned by
    /// the [`map`](Stream::map) iterator (or known never to produce an output), or — for
    /// `for_each` — run. Default: [`DEFAULT_WINDOW_PER_WORKER`] × the pool's CPU workers, at
    /// most [`DEFAULT_WINDOW_MAX`] — meant for small items; set a window whenever items or
    /// results are large (a window of file contents is a window of files in memory).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let taken = AtomicUsize::new(0);
    /// let source = (0..100).inspect(|_| { taken.fetch_add(1, Ordering::Relaxed); });
    /// let mut out = pool.stream(source).window(8).map(|x| x);
    /// assert_eq!(out.next(), Some(0));
    /// assert!(taken.load(Ordering::Relaxed) <= 9); // 8 in the window, plus the one returned
    /// ```
    pub fn window(mut self, n: usize) -> Self {
        self.window = Some(n.max(1));
        self
    }

    /// [`map`](Stream::map) yields results in completion order rather than input order:
    /// no waiting behind a slow item, and the window frees up as soon as any item finishes.
    /// (Errors and panics are still the first in input order; see the module rules in
    /// [`try_for_each`](Stream::try_for_each).)
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut v: Vec<u32> = pool.stream(0..100u32).unordered().map(|x| x * 2).collect();
    /// v.sort();
    /// assert_eq!(v, (0..100).map(|x| x * 2).collect::<Vec<_>>());
    /// ```
    pub fn unordered(mut self) -> Self {
        self.ordered = false;
        self
    }

    /// Stops the stream when `token` is cancelled: nothing more is taken from the source,
    /// items not yet started never start, [`map`](Stream::map) ends after the results
    /// already made (in order: a prefix of the input), and `for_each`/`try_for_each` return
    /// once the running items have finished (check the token to tell a stop from the end).
    ///
    /// ```
    /// use corepool::{CancelToken, Pool};
    ///
    /// let pool = Pool::new();
    /// let token = CancelToken::new();
    /// let t = token.clone();
    /// let seen: Vec<u64> = pool
    ///     .stream(0..)
    ///     .cancel_on(&token)
    ///     .map(move |x: u64| { if x == 1000 { t.cancel(); } x })
    ///     .collect();
    /// assert!(token.is_cancelled());
    /// assert!(seen.iter().enumerate().all(|(i, &x)| i as u64 == x)); // a prefix, in order
    /// ```
    pub fn cancel_on(mut self, token: &CancelToken) -> Self {
        self.token = Some(token.clone());
        self
    }

    /// Reports to `progress` as items are taken and done (see [`Progress`]).
    ///
    /// ```
    /// let p = corepool::Progress::new();
    /// let n = corepool::Pool::new().stream(0..10).progress(&p).map(|x| x).count();
    /// assert_eq!((n, p.items_done()), (10, 10));
    /// ```
    pub fn progress(mut self, progress: &Progress) -> Self {
        self.progress = Some(progress.clone());
        self
    }

    /// Weighs each item (on the caller's thread, as it is taken) for the progress observer,
    /// e.g. a file's size, so a progress bar can count bytes.
    ///
    /// ```
    /// let p = corepool::Progress::new();
    /// corepool::Pool::new()
    ///     .stream(vec![vec![0u8; 10], vec![0u8; 5]])
    ///     .progress(&p)
    ///     .weigh(|buf| buf.len() as u64)
    ///     .for_each(|buf| assert!(buf.iter().all(|&b| b == 0)));
    /// assert_eq!(p.weight_done(), 15);
    /// ```
    pub fn weigh<W>(mut self, weight: W) -> Self
    where
        W: Fn(&I::Item) -> u64 + 'static,
    {
        self.weigh = Some(Box::new(weight));
        self
    }

    /// Runs the items on the pool's **blocking lane** (its `blocking_io` threads, as
    /// [`Pool::spawn_blocking`] does) instead of the CPU workers, one item per task: for a
    /// stage that truly blocks — a cold disk, a database call — so the CPU workers stay free.
    /// Chain a CPU stream after it for the work that follows: each stage reads the one before
    /// lazily, and each window bounds its memory. With `blocking_io = 0` the stream panics
    /// with [`TaskError::NoBlockingLane`] when it is consumed. Lane threads keep no
    /// per-worker state: on the lane, the `_init` variants make one state per item.
    ///
    /// ```
    /// use corepool::{Pool, Sizing};
    ///
    /// let pool = Pool::builder().sizing(Sizing::cpu_bound().blocking_io(4)).build()?;
    /// let paths = vec!["Cargo.toml", "README.md"];
    /// // Stage 1, blocking: read each file on the lane, two at a time.
    /// let contents = pool
    ///     .stream(paths)
    ///     .on_blocking_lane()
    ///     .window(2)
    ///     .map(|p| std::fs::read(p).map(|bytes| (p, bytes)));
    /// // Stage 2, CPU: count the lines on the workers.
    /// let lines: Vec<(&str, usize)> = pool
    ///     .stream(contents)
    ///     .map(|read| {
    ///         let (p, bytes) = read.expect("readable");
    ///         (p, bytes.iter().filter(|&&b| b == b'\n').count())
    ///     })
    ///     .collect();
    /// assert_eq!(lines[0].0, "Cargo.toml");
    /// assert!(lines.iter().all(|(_, n)| *n > 0));
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn on_blocking_lane(mut self) -> Self {
        self.lane = Lane::Blocking;
        self
    }

    fn window_or_default(&self) -> usize {
        self.window.unwrap_or_else(|| {
            DEFAULT_WINDOW_PER_WORKER
                .saturating_mul(self.pool.plan().cpu_workers().max(1))
                .min(DEFAULT_WINDOW_MAX)
        })
    }

    fn options(&mut self, must_drain: bool) -> Options<'p, I::Item> {
        Options {
            window: self.window_or_default(),
            ordered: self.ordered,
            weigh: self.weigh.take(),
            lane: self.lane,
            must_drain,
        }
    }

    fn control(&self) -> Control {
        Control::new(self.token.clone(), self.progress.clone())
    }

    fn workers(&self) -> usize {
        self.pool.plan().cpu_workers()
    }

    /// Maps every item on the pool; the returned iterator yields the results **in input
    /// order** (completion order after [`unordered`](Stream::unordered)), as the caller pulls
    /// them, with at most the window's worth taken ahead.
    ///
    /// If `f` panics, the results before the panicking item are yielded, then — once every
    /// running item has finished — the panic resumes in the caller's `next`. Dropping the
    /// iterator early stops the stream: nothing more is taken, queued items never start, and
    /// the drop returns at once (running items finish on their own).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let words = vec!["alpha".to_string(), "beta".to_string()];
    /// let upper: Vec<String> = pool.stream(words).map(|w| w.to_uppercase()).collect();
    /// assert_eq!(upper, ["ALPHA", "BETA"]);
    /// ```
    pub fn map<U, F>(self, f: F) -> StreamMap<'p, I, U>
    where
        F: Fn(I::Item) -> U + Send + Sync + 'static,
        U: Send + 'static,
    {
        self.map_init(|| (), move |_: &mut (), item| f(item))
    }

    /// [`map`](Stream::map) with a state per worker: `init` runs once per worker that takes
    /// part in this stream (not once per item), and `f` gets the worker's state by `&mut` —
    /// a hasher, a scratch buffer, a parser. (A worker that runs a second item of the same
    /// stream inside a helping wait gets a second state: two items never share one.)
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = corepool::Pool::new();
    /// let inits = Arc::new(AtomicUsize::new(0));
    /// let counted = inits.clone();
    /// let lens: Vec<usize> = pool
    ///     .stream((0..1000).map(|i| i.to_string()))
    ///     .map_init(
    ///         move || { counted.fetch_add(1, Ordering::Relaxed); String::new() },
    ///         |scratch, s| { scratch.clear(); scratch.push_str(&s); scratch.len() },
    ///     )
    ///     .collect();
    /// assert_eq!(lens[999], 3);
    /// assert!(inits.load(Ordering::Relaxed) <= 2 * pool.plan().cpu_workers());
    /// ```
    pub fn map_init<S, N, U, F>(mut self, init: N, f: F) -> StreamMap<'p, I, U>
    where
        N: Fn() -> S + Send + Sync + 'static,
        S: Send + 'static,
        F: Fn(&mut S, I::Item) -> U + Send + Sync + 'static,
        U: Send + 'static,
    {
        let work = Fns::new(init, move |s: &mut S, item| Ok::<U, Infallible>(f(s, item)));
        let shared = TaskArc::new(Shared::new(work, self.workers(), self.control()));
        let options = self.options(false);
        StreamMap {
            driver: Driver::new(self.pool, self.source, shared, options),
            current: Vec::new().into_iter(),
            current_short: 0,
            pending_panic: None,
            ending: false,
            finished: false,
        }
    }

    /// Runs `f` on every item and returns when all have run. `f` may borrow from the
    /// caller's stack. A panic in `f` resumes here once every running item has finished
    /// (items after the panicking one do not start).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let total = AtomicU64::new(0); // borrowed, not moved
    /// pool.stream(1..=100u64).for_each(|x| { total.fetch_add(x, Ordering::Relaxed); });
    /// assert_eq!(total.into_inner(), 5050);
    /// ```
    pub fn for_each<F>(self, f: F)
    where
        F: Fn(I::Item) + Sync,
    {
        self.for_each_init(|| (), |_, item| f(item))
    }

    /// [`for_each`](Stream::for_each) with a state per worker (see
    /// [`map_init`](Stream::map_init)); the states are dropped before this returns.
    ///
    /// ```
    /// use std::sync::Mutex;
    ///
    /// let pool = corepool::Pool::new();
    /// let sums = Mutex::new(Vec::new());
    /// struct Local<'a> { sum: u64, out: &'a Mutex<Vec<u64>> }
    /// impl Drop for Local<'_> {
    ///     fn drop(&mut self) { self.out.lock().unwrap().push(self.sum); }
    /// }
    /// pool.stream(1..=100u64).for_each_init(|| Local { sum: 0, out: &sums }, |l, x| l.sum += x);
    /// assert_eq!(sums.into_inner().unwrap().iter().sum::<u64>(), 5050);
    /// ```
    pub fn for_each_init<S, N, F>(self, init: N, f: F)
    where
        S: Send,
        N: Fn() -> S + Sync,
        F: Fn(&mut S, I::Item) + Sync,
    {
        let result = self.try_for_each_init(init, |s, item| {
            f(s, item);
            Ok::<(), Infallible>(())
        });
        match result {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }

    /// Runs `f` on every item until one fails, and returns the **first error in input
    /// order**: from then on nothing more is taken from the source, items after the failing
    /// one never start (queued ones are skipped), items before it still run (one of them may
    /// fail earlier), and this returns once every running item has finished. A panic in `f`
    /// is treated the same way and resumed here.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let lines = ["1", "2", "x", "4", "y"];
    /// let result = pool.stream(lines).try_for_each(|l| l.parse::<u32>().map(drop).map_err(|_| l));
    /// assert_eq!(result, Err("x"));
    /// ```
    pub fn try_for_each<E, F>(self, f: F) -> Result<(), E>
    where
        E: Send,
        F: Fn(I::Item) -> Result<(), E> + Sync,
    {
        self.try_for_each_init(|| (), |_, item| f(item))
    }

    /// [`try_for_each`](Stream::try_for_each) with a state per worker (see
    /// [`map_init`](Stream::map_init)).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let r = pool.stream(0..1000u32).try_for_each_init(
    ///     || Vec::with_capacity(16),
    ///     |buf, x| { buf.clear(); buf.extend_from_slice(&x.to_le_bytes()); if x == 500 { Err(x) } else { Ok(()) } },
    /// );
    /// assert_eq!(r, Err(500));
    /// ```
    pub fn try_for_each_init<S, N, E, F>(mut self, init: N, f: F) -> Result<(), E>
    where
        S: Send,
        N: Fn() -> S + Sync,
        E: Send,
        F: Fn(&mut S, I::Item) -> Result<(), E> + Sync,
    {
        let (init, f) = (&init, &f);
        let work = Fns::new(init, move |s: &mut S, item| f(s, item));
        let shared = TaskArc::new(Shared::new(work, self.workers(), self.control()));
        // The work borrows from this frame: the driver receives every group back before it
        // is dropped (`must_drain`), also when this function unwinds.
        let mut options = self.options(true);
        // Nothing is handed back in order here: completion order frees the window soonest.
        options.ordered = false;
        let mut driver = Driver::new(self.pool, self.source, shared, options);
        let mut first: Option<(u64, Failure<E>)> = None;
        let mut lost = None;
        loop {
            driver.feed();
            let Some(mut group) = driver.receive() else {
                break;
            };
            driver.outstanding -= group.len;
            let ran = group.ran.take().expect("a received group has run");
            if let Some(why) = ran.lost {
                driver.stop();
                lost.get_or_insert(why);
            }
            if let Some((at, failure)) = ran.failure {
                driver.stop_feeding_at(at + 1);
                if first.as_ref().is_none_or(|(i, _)| at < *i) {
                    first = Some((at, failure));
                }
            }
        }
        drop(driver);
        if let Some(why) = lost {
            lost_group(why);
        }
        match first {
            None => Ok(()),
            Some((_, Failure::Error(e))) => Err(e),
            Some((_, Failure::Panic(p))) => std::panic::resume_unwind(p),
        }
    }
}

/// The pool did not run a group (shut down, `shutdown_now`, or no blocking lane): the stream
/// cannot complete, and must not pretend it did.
#[cold]
fn lost_group(why: TaskError) -> ! {
    panic!("corepool: Pool::stream could not run its items: {why}")
}

/// The results of [`Stream::map`]: an iterator, in input order (or completion order after
/// [`Stream::unordered`]). Dropping it stops the stream (see [`Stream::map`]).
///
/// ```
/// let pool = corepool::Pool::new();
/// let mut it = pool.stream(0..1_000_000u64).map(|x| x + 1);
/// assert_eq!(it.next(), Some(1));
/// assert_eq!(it.next(), Some(2));
/// drop(it); // stops the rest; the pool stays usable
/// assert_eq!(pool.submit(|| 7).join().unwrap(), 7);
/// ```
pub struct StreamMap<'p, I: Iterator, U> {
    driver: Driver<'p, I, U, Infallible>,
    current: std::vec::IntoIter<U>,
    /// Items of the current group that produced no output (stopped before they started).
    current_short: usize,
    pending_panic: Option<Payload>,
    /// Ordered, and the current group stopped short: the stream ends after it.
    ending: bool,
    finished: bool,
}

impl<I: Iterator, U> fmt::Debug for StreamMap<'_, I, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamMap")
            .field("finished", &self.finished)
            .finish()
    }
}

impl<I, U> StreamMap<'_, I, U>
where
    I: Iterator,
    I::Item: Send + 'static,
    U: Send + 'static,
{
    /// Ends the stream: waits for what is out, then resumes a pending panic.
    fn finish(&mut self) {
        self.finished = true;
        self.driver.stop_and_drain();
        if let Some(p) = self.pending_panic.take() {
            std::panic::resume_unwind(p);
        }
    }
}

impl<I, U> Iterator for StreamMap<'_, I, U>
where
    I: Iterator,
    I::Item: Send + 'static,
    U: Send + 'static,
{
    type Item = U;

    fn next(&mut self) -> Option<U> {
        loop {
            if let Some(out) = self.current.next() {
                self.driver.outstanding -= 1;
                return Some(out);
            }
            if self.finished {
                return None;
            }
            self.driver.outstanding -= std::mem::take(&mut self.current_short);
            if self.ending || self.pending_panic.is_some() {
                self.finish();
                return None;
            }
            self.driver.feed();
            let Some(mut group) = self.driver.next_group() else {
                self.finish();
                return None;
            };
            let ran = group.ran.take().expect("a received group has run");
            if let Some(why) = ran.lost {
                self.driver.outstanding -= group.len;
                self.finish();
                lost_group(why);
            }
            self.current_short = group.len - ran.outs.len();
            match ran.failure {
                Some((_, Failure::Panic(p))) => {
                    self.driver.stop();
                    self.pending_panic = Some(p);
                }
                Some((_, Failure::Error(never))) => match never {},
                None if self.current_short > 0 && self.driver.is_ordered() => {
                    // Stopped by the token: later groups may have run items, but the output
                    // must stay a prefix of the input.
                    self.ending = true;
                }
                None => {}
            }
            self.current = ran.outs.into_iter();
        }
    }
}
