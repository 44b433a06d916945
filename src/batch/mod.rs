//! Batch helpers over slices and index ranges: `for_each`, `for_each_mut`, `for_each_index`,
//! order-preserving `map`, and `reduce`; their fallible forms `try_for_each`, `try_map`,
//! `try_reduce`; `for_each_init` and `map_init`, which make one state per piece rather than
//! per item; and `for_each_chunk`, `for_each_chunk_mut`, `map_chunks` for items too small to
//! be worth a visit each.
//!
//! # Splitting
//!
//! One routine, [`fold_range`], serves all of them. It folds a range of indices into an
//! accumulator, chunk by chunk, and splits the range in halves by `join`:
//! 1. **Up front**, until pieces are at most `len / (4 × workers)`, so every worker starts
//!    with something to steal.
//! 2. **Then lazily**: a piece is worked through in chunks of `min_len` items; before each
//!    chunk, if this worker offers nothing — its deque is empty and no earlier half waits
//!    privately for a knock (`sched/heartbeat.rs`): thieves took all it had, so others are
//!    hungry — and at least two chunks remain, the rest is split in half again (the right half
//!    offered to thieves). Pieces nobody steals stop splitting; the tail of an irregular batch
//!    keeps being divided where the idle workers are.
//!
//! At every split the accumulator built so far goes on into the left half, which runs on
//! this worker next; only the right half starts from `identity()`. So a per-piece state
//! (`map_init`'s scratch buffer, `try_reduce`'s partial sum) is made once per right half that
//! runs, not once per split, and never per item. It lives in the piece's own stack frame: a
//! worker that helps while it waits in `join` and runs another piece of the same call
//! re-entrantly runs it with that piece's own state, never a borrowed one.
//!
//! `min_len` defaults to `len / (256 × workers)` (at least 1), so the per-chunk check is
//! amortised over many items when items are cheap; set it per call with [`Batch::min_len`].
//!
//! Each index is visited exactly once, which is what lets `for_each_mut` and the `map`s hand
//! out disjoint `&mut` access through a shared base pointer. The `map`s write results in
//! place; each piece's accumulator owns the run of slots it has written (a [`Written`]), runs
//! are merged as halves are combined, and a run dropped — on an error, or unwinding from a
//! panic — drops its results. Nothing is exposed before every slot is written.
//!
//! # Short-circuit (the `try_` helpers)
//!
//! One word per call, the first failing index ([`FirstFailure`], `usize::MAX` while none),
//! lowered with `fetch_min` by the piece whose item failed. Before each chunk — and so before
//! a piece or a stolen half starts — a piece reads it and stops if a failure lies *before*
//! the chunk: nothing after a known error starts, while everything before it still runs.
//! Hence the error returned is the one at the lowest index, whatever ran first:
//! 1. Let `i` be the lowest index whose item fails. Every index below `i` runs (a chunk is
//!    skipped only when a failure is known before its start, and none is below `i`), and so
//!    does `i` itself (no failure is below it either); it fails and lowers the word.
//! 2. Halves are combined left to right and an error on the left wins; skipped pieces lie
//!    right of a failure. So the error that reaches the caller is item `i`'s.
//!
//! The word is only a hint to stop early: a stale read costs a few more items, never a wrong
//! answer, because the errors themselves travel in the returned accumulators. What a call
//! does run after an error is what was in flight: the current chunk of each running piece.
//!
//! # Panics
//!
//! A panic in a closure unwinds through `join`, which re-raises it once both halves have
//! finished; the call resumes it after every piece has stopped. A panic does not stop the
//! other pieces early.

use std::mem::MaybeUninit;
use std::ops::Range;

mod on_pool;

use crate::pool::Pool;
use crate::sched::worker::WorkerThread;
use crate::sync::{AtomicUsize, Ordering};

/// Per-call options for the batch helpers; get one from [`Pool::batch`].
///
/// ```
/// let pool = corepool::Pool::new();
/// let items: Vec<u64> = (0..1000).collect();
/// // Pieces of at least 100 items: useful when one item is very cheap.
/// let sum = pool.batch().min_len(100).reduce(&items, || 0, |acc, x| acc + x, |a, b| a + b);
/// assert_eq!(sum, 499_500);
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a Batch does nothing until one of its helpers is called"]
pub struct Batch<'p> {
    pool: &'p Pool,
    min_len: Option<usize>,
    /// The function the user called (`Pool::map`, `Batch::reduce`, …), for the panic after
    /// shutdown; the first name set wins, so `Pool::map` is not reported as `Batch::map`.
    caller: Option<&'static str>,
}

impl<'p> Batch<'p> {
    pub(crate) fn new(pool: &'p Pool) -> Self {
        Batch {
            pool,
            min_len: None,
            caller: None,
        }
    }

    /// Names the function the user called, unless a caller further out named it already.
    pub(crate) fn named(mut self, caller: &'static str) -> Self {
        self.caller.get_or_insert(caller);
        self
    }

    /// The smallest piece a worker runs without looking for hungry peers (default:
    /// `len / (256 × workers)`, at least 1). For the chunk helpers this counts chunks.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// pool.batch().min_len(1).for_each_index(0..10, |i| assert!(i < 10));
    /// ```
    pub fn min_len(mut self, min_len: usize) -> Self {
        self.min_len = Some(min_len.max(1));
        self
    }

    fn plan(&self, len: usize) -> Split {
        let workers = self.pool.plan().cpu_workers().max(1);
        Split {
            min_len: self.min_len.unwrap_or(len / (256 * workers)).max(1),
            max_piece: (len / (4 * workers)).max(1),
        }
    }

    /// Folds `range` on the pool: the entry point of every helper.
    fn run<A: Send>(
        self,
        range: Range<usize>,
        stop: Option<&FirstFailure>,
        identity: &(dyn Fn() -> A + Sync),
        fold_chunk: &(dyn Fn(A, Range<usize>) -> A + Sync),
        combine: &(dyn Fn(A, A) -> A + Sync),
    ) -> A {
        let fold = Fold {
            split: self.plan(range.len()),
            stop,
            identity,
            fold_chunk,
            combine,
        };
        self.pool
            .install_as(self.caller.unwrap_or("Batch::run"), || {
                fold_range(identity(), range, &fold)
            })
    }

    /// Calls `f` on every item, in parallel.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let total = AtomicU64::new(0);
    /// pool.batch().for_each(&[1u64, 2, 3], |x| { total.fetch_add(*x, Ordering::Relaxed); });
    /// assert_eq!(total.into_inner(), 6);
    /// ```
    pub fn for_each<T, F>(mut self, items: &[T], f: F)
    where
        T: Sync,
        F: Fn(&T) + Sync,
    {
        self.caller.get_or_insert("Batch::for_each");
        self.for_each_index(0..items.len(), |i| f(&items[i]))
    }

    /// Calls `f` on every item with `&mut` access, in parallel.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut v = vec![1, 2, 3];
    /// pool.batch().for_each_mut(&mut v, |x| *x *= 10);
    /// assert_eq!(v, [10, 20, 30]);
    /// ```
    pub fn for_each_mut<T, F>(mut self, items: &mut [T], f: F)
    where
        T: Send,
        F: Fn(&mut T) + Sync,
    {
        self.caller.get_or_insert("Batch::for_each_mut");
        let base = SendPtr(items.as_mut_ptr());
        self.for_each_index(0..items.len(), |i| {
            // SAFETY: `i < items.len()`, and fold_range visits each index exactly once, so this
            // is the only reference to item i while it lives; `items` is borrowed mutably for
            // the whole call.
            f(unsafe { &mut *base.at(i) })
        })
    }

    /// Calls `f` on every index of `range`, in parallel.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let hits = AtomicUsize::new(0);
    /// pool.batch().for_each_index(0..100, |_| { hits.fetch_add(1, Ordering::Relaxed); });
    /// assert_eq!(hits.into_inner(), 100);
    /// ```
    pub fn for_each_index<F>(mut self, range: Range<usize>, f: F)
    where
        F: Fn(usize) + Sync,
    {
        self.caller.get_or_insert("Batch::for_each_index");
        self.run(range, None, &|| (), &|(), r| r.for_each(&f), &|(), ()| ())
    }

    /// Calls `f(&mut state, item)` on every item, in parallel, with one `state` per piece
    /// made by `init` — a scratch buffer, a parser, a hasher — rather than one per item.
    ///
    /// `init` runs once for the first piece and once for each piece split off and run
    /// separately (a few per worker; see [`Batch::min_len`]); a state is never shared
    /// between two pieces running at once, even on one worker.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let words = ["alpha", "beta", "gamma", "delta"];
    /// let (inits, letters) = (AtomicUsize::new(0), AtomicUsize::new(0));
    /// pool.for_each_init(
    ///     &words,
    ///     || { inits.fetch_add(1, Ordering::Relaxed); String::with_capacity(64) },
    ///     |buf, w| {
    ///         buf.clear();
    ///         buf.push_str(w);
    ///         letters.fetch_add(buf.len(), Ordering::Relaxed);
    ///     },
    /// );
    /// assert_eq!(letters.into_inner(), 19);
    /// assert!(inits.into_inner() <= words.len());
    /// ```
    pub fn for_each_init<T, S, I, F>(mut self, items: &[T], init: I, f: F)
    where
        T: Sync,
        S: Send,
        I: Fn() -> S + Sync,
        F: Fn(&mut S, &T) + Sync,
    {
        self.caller.get_or_insert("Batch::for_each_init");
        self.run(
            0..items.len(),
            None,
            &|| None,
            &|state: Option<S>, r| {
                let mut state = state.unwrap_or_else(&init);
                items[r].iter().for_each(|item| f(&mut state, item));
                Some(state)
            },
            &|left, right| left.or(right),
        );
    }

    /// Calls `f` on every item, in parallel, until one fails; returns the error of the
    /// failing item with the **lowest index**.
    ///
    /// After a failure at index `i`, pieces that start after `i` never start, running ones
    /// stop at their next chunk, and everything before `i` still runs (module docs).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let lines = ["1", "2", "x", "4", "y"];
    /// let checked = pool.try_for_each(&lines, |l| l.parse::<u32>().map(drop).map_err(|_| *l));
    /// assert_eq!(checked, Err("x"));
    /// ```
    pub fn try_for_each<T, E, F>(mut self, items: &[T], f: F) -> Result<(), E>
    where
        T: Sync,
        E: Send,
        F: Fn(&T) -> Result<(), E> + Sync,
    {
        self.caller.get_or_insert("Batch::try_for_each");
        self.try_reduce(items, || (), |(), item| f(item), |(), ()| ())
    }

    /// Maps every item, in parallel, keeping the order.
    ///
    /// If `f` panics, the panic resumes here once every piece has stopped; results already
    /// made are dropped, never exposed.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let squares = pool.batch().map(&[1, 2, 3], |x| x * x);
    /// assert_eq!(squares, [1, 4, 9]);
    /// ```
    pub fn map<T, U, F>(mut self, items: &[T], f: F) -> Vec<U>
    where
        T: Sync,
        U: Send,
        F: Fn(&T) -> U + Sync,
    {
        self.caller.get_or_insert("Batch::map");
        let mapped = self.fill(items.len(), None, &|| (), &|(), i| {
            Ok::<U, std::convert::Infallible>(f(&items[i]))
        });
        match mapped {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Maps every item, in parallel, keeping the order, with one state per piece made by
    /// `init` (rayon's `map_init`): `f(&mut state, item)`. `init` runs as in
    /// [`for_each_init`](Batch::for_each_init).
    ///
    /// ```
    /// use std::fmt::Write;
    ///
    /// let pool = corepool::Pool::new();
    /// let ids: Vec<u32> = (0..1_000).collect();
    /// // One scratch String per piece, reused for every item of it.
    /// let lens = pool.map_init(&ids, String::new, |buf, id| {
    ///     buf.clear();
    ///     write!(buf, "item-{id}").unwrap();
    ///     buf.len()
    /// });
    /// assert_eq!((lens[0], lens[999]), (6, 8));
    /// ```
    pub fn map_init<T, S, U, I, F>(mut self, items: &[T], init: I, f: F) -> Vec<U>
    where
        T: Sync,
        S: Send,
        U: Send,
        I: Fn() -> S + Sync,
        F: Fn(&mut S, &T) -> U + Sync,
    {
        self.caller.get_or_insert("Batch::map_init");
        let mapped = self.fill(items.len(), None, &init, &|state, i| {
            Ok::<U, std::convert::Infallible>(f(state, &items[i]))
        });
        match mapped {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Maps every item, in parallel, keeping the order, until one fails; returns the error of
    /// the failing item with the lowest index (short-circuit as in
    /// [`try_for_each`](Batch::try_for_each)). Results made before the error are dropped.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let parse = |s: &&str| s.parse::<i32>();
    /// assert_eq!(pool.try_map(&["1", "-2", "3"], parse), Ok(vec![1, -2, 3]));
    /// assert!(pool.try_map(&["1", "two", "3", "four"], parse).is_err());
    /// ```
    pub fn try_map<T, U, E, F>(mut self, items: &[T], f: F) -> Result<Vec<U>, E>
    where
        T: Sync,
        U: Send,
        E: Send,
        F: Fn(&T) -> Result<U, E> + Sync,
    {
        self.caller.get_or_insert("Batch::try_map");
        let stop = FirstFailure::new();
        self.fill(items.len(), Some(&stop), &|| (), &|(), i| f(&items[i]))
    }

    /// Folds every item into an accumulator per piece (`fold`, starting from `identity()`),
    /// then merges accumulators (`combine`) — for sums, histograms, merges. `combine` must be
    /// associative; pieces are combined in order, so it need not be commutative.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let words = ["a", "bb", "ccc"];
    /// let joined = pool.batch().reduce(&words, String::new, |mut s, w| { s.push_str(w); s }, |a, b| a + &b);
    /// assert_eq!(joined, "abbccc");
    /// ```
    pub fn reduce<T, A, I, F, C>(mut self, items: &[T], identity: I, fold: F, combine: C) -> A
    where
        T: Sync,
        A: Send,
        I: Fn() -> A + Sync,
        F: Fn(A, &T) -> A + Sync,
        C: Fn(A, A) -> A + Sync,
    {
        self.caller.get_or_insert("Batch::reduce");
        self.run(
            0..items.len(),
            None,
            &identity,
            &|acc, r| items[r].iter().fold(acc, &fold),
            &combine,
        )
    }

    /// [`reduce`](Batch::reduce) with a fallible `fold`: stops at the first failing item and
    /// returns the error of the failing item with the lowest index (short-circuit as in
    /// [`try_for_each`](Batch::try_for_each)). `combine` cannot fail. `identity` runs lazily,
    /// once for each piece that folds at least one item (and once for an empty slice).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let fields = ["3", "4", "5"];
    /// let add = |acc: u64, f: &&str| f.parse::<u64>().map(|n| acc + n);
    /// assert_eq!(pool.batch().try_reduce(&fields, || 0, add, |a, b| a + b), Ok(12));
    /// assert!(pool.batch().try_reduce(&["1", "x"], || 0, add, |a, b| a + b).is_err());
    /// ```
    pub fn try_reduce<T, A, E, I, F, C>(
        mut self,
        items: &[T],
        identity: I,
        fold: F,
        combine: C,
    ) -> Result<A, E>
    where
        T: Sync,
        A: Send,
        E: Send,
        I: Fn() -> A + Sync,
        F: Fn(A, &T) -> Result<A, E> + Sync,
        C: Fn(A, A) -> A + Sync,
    {
        self.caller.get_or_insert("Batch::try_reduce");
        let stop = FirstFailure::new();
        // `None`: this piece has folded nothing yet, so `identity` has not run for it.
        let folded: Result<Option<A>, E> = self.run(
            0..items.len(),
            Some(&stop),
            &|| Ok(None),
            &|acc, r| {
                let mut acc = acc?.unwrap_or_else(&identity);
                for i in r {
                    acc = fold(acc, &items[i]).inspect_err(|_| stop.record(i))?;
                }
                Ok(Some(acc))
            },
            &|left, right| match (left?, right?) {
                (Some(l), Some(r)) => Ok(Some(combine(l, r))),
                (l, r) => Ok(l.or(r)),
            },
        );
        Ok(folded?.unwrap_or_else(identity))
    }

    /// Calls `f` on consecutive chunks of `chunk_size` items (the last may be shorter), in
    /// parallel — rayon's `par_chunks`: for items too cheap to be visited one by one, or work
    /// that wants a slice (a vectorised kernel, one write per chunk).
    ///
    /// # Panics
    ///
    /// If `chunk_size` is 0; and as [`for_each`](Batch::for_each) if `f` panics.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let bytes: Vec<u8> = (0..=255).collect();
    /// let sum = AtomicU64::new(0);
    /// pool.for_each_chunk(&bytes, 64, |chunk| {
    ///     assert_eq!(chunk.len(), 64);
    ///     sum.fetch_add(chunk.iter().map(|&b| u64::from(b)).sum(), Ordering::Relaxed);
    /// });
    /// assert_eq!(sum.into_inner(), 255 * 256 / 2);
    /// ```
    pub fn for_each_chunk<T, F>(mut self, items: &[T], chunk_size: usize, f: F)
    where
        T: Sync,
        F: Fn(&[T]) + Sync,
    {
        self.caller.get_or_insert("Batch::for_each_chunk");
        let chunks = Chunks::new(items.len(), chunk_size);
        self.for_each_index(0..chunks.count, |c| f(&items[chunks.range(c)]))
    }

    /// Calls `f` on consecutive chunks of `chunk_size` items with `&mut` access, in parallel.
    ///
    /// # Panics
    ///
    /// If `chunk_size` is 0; and as [`for_each`](Batch::for_each) if `f` panics.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut v: Vec<u32> = (0..10).collect();
    /// pool.for_each_chunk_mut(&mut v, 4, |chunk| chunk.reverse());
    /// assert_eq!(v, [3, 2, 1, 0, 7, 6, 5, 4, 9, 8]);
    /// ```
    pub fn for_each_chunk_mut<T, F>(mut self, items: &mut [T], chunk_size: usize, f: F)
    where
        T: Send,
        F: Fn(&mut [T]) + Sync,
    {
        self.caller.get_or_insert("Batch::for_each_chunk_mut");
        let chunks = Chunks::new(items.len(), chunk_size);
        let base = SendPtr(items.as_mut_ptr());
        self.for_each_index(0..chunks.count, |c| {
            let r = chunks.range(c);
            // SAFETY: chunk ranges are disjoint and inside `items`, and fold_range visits
            // each chunk index exactly once, so this is the only reference to these items
            // while it lives; `items` is borrowed mutably for the whole call.
            f(unsafe { std::slice::from_raw_parts_mut(base.at(r.start), r.len()) })
        })
    }

    /// Maps consecutive chunks of `chunk_size` items (the last may be shorter), in parallel,
    /// to one result each, in order: `ceil(len / chunk_size)` results.
    ///
    /// # Panics
    ///
    /// If `chunk_size` is 0; and as [`map`](Batch::map) if `f` panics.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let samples: Vec<f64> = (1..=10).map(f64::from).collect();
    /// let maxima = pool.map_chunks(&samples, 4, |c| c.iter().cloned().fold(f64::MIN, f64::max));
    /// assert_eq!(maxima, [4.0, 8.0, 10.0]);
    /// ```
    pub fn map_chunks<T, U, F>(mut self, items: &[T], chunk_size: usize, f: F) -> Vec<U>
    where
        T: Sync,
        U: Send,
        F: Fn(&[T]) -> U + Sync,
    {
        self.caller.get_or_insert("Batch::map_chunks");
        let chunks = Chunks::new(items.len(), chunk_size);
        let mapped = self.fill(chunks.count, None, &|| (), &|(), c| {
            Ok::<U, std::convert::Infallible>(f(&items[chunks.range(c)]))
        });
        match mapped {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// The one loop behind the `map`s: `out[i] = produce(&mut state, i)` for `i < len`, with
    /// a state per piece, written in place; stops at the first error if `stop` is given.
    fn fill<S, U, E, P>(
        self,
        len: usize,
        stop: Option<&FirstFailure>,
        init: &(dyn Fn() -> S + Sync),
        produce: &P,
    ) -> Result<Vec<U>, E>
    where
        S: Send,
        U: Send,
        E: Send,
        P: Fn(&mut S, usize) -> Result<U, E> + Sync,
    {
        let mut out: Vec<MaybeUninit<U>> = Vec::with_capacity(len);
        let base = SendPtr(out.as_mut_ptr().cast::<U>());
        let filled = self.run(
            0..len,
            stop,
            &|| Piece {
                state: None,
                written: Written { base, run: None },
                err: None,
            },
            &|mut piece: Piece<S, U, E>, r| {
                if piece.err.is_some() {
                    return piece;
                }
                let state = piece.state.get_or_insert_with(init);
                for i in r {
                    match produce(state, i) {
                        // SAFETY: `i < len` = capacity, visited once (fold_range), so slot i
                        // is uninitialised and no one else touches it; `out` outlives the
                        // call and is not moved while pieces run.
                        Ok(value) => unsafe { piece.written.push(i, value) },
                        Err(e) => {
                            if let Some(stop) = stop {
                                stop.record(i);
                            }
                            piece.err = Some(e);
                            break;
                        }
                    }
                }
                piece
            },
            &Piece::combine,
        );
        let Piece {
            mut written, err, ..
        } = filled;
        if let Some(e) = err {
            return Err(e); // `written` drops the results made so far
        }
        let run = written.take_run();
        assert_eq!(
            run.unwrap_or(0..0),
            0..len,
            "corepool: batch map finished without writing every slot"
        );
        let mut out = std::mem::ManuallyDrop::new(out);
        let (ptr, cap) = (out.as_mut_ptr(), out.capacity());
        // SAFETY: all `len` elements are initialised (the run covers 0..len and its guard was
        // disarmed); MaybeUninit<U> has U's layout; the original vector is forgotten, so the
        // buffer has one owner.
        Ok(unsafe { Vec::from_raw_parts(ptr.cast::<U>(), len, cap) })
    }
}

/// How [`fold_range`] splits (module docs).
#[derive(Debug, Clone, Copy)]
struct Split {
    min_len: usize,
    max_piece: usize,
}

/// One call's fold: how it splits, when it stops, and the three closures.
struct Fold<'f, A> {
    split: Split,
    stop: Option<&'f FirstFailure>,
    identity: &'f (dyn Fn() -> A + Sync),
    fold_chunk: &'f (dyn Fn(A, Range<usize>) -> A + Sync),
    combine: &'f (dyn Fn(A, A) -> A + Sync),
}

impl<A> Fold<'_, A> {
    /// True if a failure is known before `start`: the chunk starting there is not needed.
    #[inline]
    fn stops_before(&self, start: usize) -> bool {
        self.stop.is_some_and(|stop| stop.before(start))
    }
}

/// The first failing index of one `try_` call (module docs, "Short-circuit"); `usize::MAX`
/// while nothing has failed. Only ever lowered.
struct FirstFailure(AtomicUsize);

impl FirstFailure {
    fn new() -> Self {
        FirstFailure(AtomicUsize::new(usize::MAX))
    }

    /// Item `i` failed.
    fn record(&self, i: usize) {
        // ORDERING: Relaxed — pairs with the Relaxed load in `before`, a hint only: the error
        // itself travels in the piece's accumulator, published by join's latch.
        self.0.fetch_min(i, Ordering::Relaxed);
    }

    /// True if some item before `start` has failed.
    #[inline]
    fn before(&self, start: usize) -> bool {
        // ORDERING: Relaxed — pairs with `record`'s fetch_min; a stale value only lets a
        // chunk run that could have been skipped.
        self.0.load(Ordering::Relaxed) < start
    }
}

/// Consecutive chunks of a slice, by chunk index.
#[derive(Clone, Copy)]
struct Chunks {
    len: usize,
    size: usize,
    count: usize,
}

impl Chunks {
    fn new(len: usize, size: usize) -> Self {
        assert!(size > 0, "corepool: chunk size must be at least 1, got 0");
        Chunks {
            len,
            size,
            count: len.div_ceil(size),
        }
    }

    /// The items of chunk `c`.
    fn range(self, c: usize) -> Range<usize> {
        let start = c * self.size;
        start..(start + self.size).min(self.len)
    }
}

/// A `map` piece's accumulator: its state, the results it owns, its error.
struct Piece<S, U, E> {
    state: Option<S>,
    written: Written<U>,
    err: Option<E>,
}

impl<S, U, E> Piece<S, U, E> {
    /// Merges two adjacent pieces, left first: the left error wins; results that cannot
    /// join the left run (something between them was skipped, so the call fails anyway)
    /// are dropped now.
    fn combine(mut left: Self, right: Self) -> Self {
        if left.err.is_none() {
            left.written.append(right.written);
            left.err = right.err;
        }
        left
    }
}

/// The run of consecutive slots a piece has written, which it owns: dropping a `Written`
/// drops those results (an error, or unwinding from a panic).
struct Written<U> {
    base: SendPtr<U>,
    run: Option<Range<usize>>,
}

impl<U> Written<U> {
    /// Writes slot `i`, which must follow the run.
    ///
    /// # Safety
    ///
    /// Slot `i` is inside the buffer, uninitialised, and touched by no one else.
    unsafe fn push(&mut self, i: usize, value: U) {
        // SAFETY: the caller's contract.
        unsafe { self.base.at(i).write(value) };
        match &mut self.run {
            Some(run) => {
                debug_assert_eq!(run.end, i, "a piece writes consecutive slots");
                run.end = i + 1;
            }
            None => self.run = Some(i..i + 1),
        }
    }

    /// Takes over `right`'s run if it continues this one; else `right` drops its results.
    fn append(&mut self, mut right: Written<U>) {
        match (self.run.clone(), right.run.clone()) {
            (None, _) => self.run = right.take_run(),
            (Some(l), Some(r)) if l.end == r.start => {
                right.run = None;
                self.run = Some(l.start..r.end);
            }
            _ => {}
        }
    }

    /// Disarms the guard: the caller now owns the run's results.
    fn take_run(&mut self) -> Option<Range<usize>> {
        self.run.take()
    }
}

impl<U> Drop for Written<U> {
    fn drop(&mut self) {
        if let Some(run) = self.run.take() {
            let slice = std::ptr::slice_from_raw_parts_mut(self.base.at(run.start), run.len());
            // SAFETY: the run's slots were written by this piece (or ones merged into it) and
            // are owned by this guard alone; taking the run first means they drop once.
            unsafe { std::ptr::drop_in_place(slice) };
        }
    }
}

/// A pointer shared by the pieces of one call, each touching disjoint indices.
struct SendPtr<T>(*mut T);

impl<T> SendPtr<T> {
    /// Element `i`'s address. A method (not field access) so closures capture the whole
    /// `SendPtr`, which is `Send`, rather than its raw-pointer field, which is not.
    /// Computing the address is safe; dereferencing it is the caller's `unsafe`.
    fn at(self, i: usize) -> *mut T {
        self.0.wrapping_add(i)
    }
}

impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}

// SAFETY: pieces dereference disjoint indices only (each index once), and T is Send.
unsafe impl<T: Send> Send for SendPtr<T> {}
// SAFETY: as above; sharing the pointer shares no element.
unsafe impl<T: Send> Sync for SendPtr<T> {}

/// The one splitting routine (module docs): folds `range` into `acc`, which holds what this
/// piece folded before it. Runs on a worker (callers go through `install`).
fn fold_range<A: Send>(acc: A, range: Range<usize>, fold: &Fold<'_, A>) -> A {
    // A piece not yet started never starts after a failure before it.
    if fold.stops_before(range.start) {
        return acc;
    }
    // Step 1: up-front split.
    if range.len() > fold.split.max_piece && range.len() >= 2 {
        return halves(acc, range, fold);
    }
    // Step 2: chunks, splitting again when this worker has nothing left to offer.
    let mut acc = acc;
    let mut start = range.start;
    while start < range.end && !fold.stops_before(start) {
        let remaining = range.end - start;
        if remaining >= 2 * fold.split.min_len && offers_nothing() {
            return halves(acc, start..range.end, fold);
        }
        let chunk_end = start + fold.split.min_len.min(remaining);
        acc = (fold.fold_chunk)(acc, start..chunk_end);
        start = chunk_end;
    }
    acc
}

/// Splits `range` in halves: `acc` goes on into the left one, here; the right one, offered
/// to thieves, starts from `identity()`.
fn halves<A: Send>(acc: A, range: Range<usize>, fold: &Fold<'_, A>) -> A {
    let mid = range.start + range.len() / 2;
    let (left, right) = crate::join(
        || fold_range(acc, range.start..mid, fold),
        || fold_range((fold.identity)(), mid..range.end, fold),
    );
    (fold.combine)(left, right)
}

/// True if the calling worker has nothing a thief could get right now: its deque is empty
/// and no half of an earlier split waits privately for a knock (`sched/heartbeat.rs`). A
/// private half is as good as an offered one — it is promoted as soon as another worker
/// asks — so splitting again then would only multiply pieces.
fn offers_nothing() -> bool {
    WorkerThread::with_current(|w| w.is_some_and(WorkerThread::offers_nothing))
}
