//! Batch helpers over slices and index ranges: `for_each`, `for_each_mut`, `for_each_index`,
//! order-preserving `map`, and `reduce`.
//!
//! # Splitting
//!
//! One routine, [`fold_range`], serves all five. A range is split in halves by `join`:
//! 1. **Up front**, until pieces are at most `len / (4 × workers)`, so every worker starts
//!    with something to steal.
//! 2. **Then lazily**: a piece is worked through in chunks of `min_len` items; before each
//!    chunk, if this worker's own deque is empty — thieves took all it offered, so others are
//!    hungry — and at least two chunks remain, the rest is split in half again (the right half
//!    offered to thieves). Pieces nobody steals stop splitting; the tail of an irregular batch
//!    keeps being divided where the idle workers are.
//!
//! `min_len` defaults to `len / (256 × workers)` (at least 1), so the per-chunk check is
//! amortised over many items when items are cheap; set it per call with [`Batch::min_len`].
//!
//! Each index is visited exactly once, which is what lets `for_each_mut` and `map` hand out
//! disjoint `&mut` access through a shared base pointer.

use std::mem::MaybeUninit;
use std::ops::Range;

use crate::pool::Pool;
use crate::sched::worker::WorkerThread;

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

    /// Runs `f` on the pool through `install`, naming the user's function if it panics
    /// because the pool is shut down.
    fn install<R: Send>(self, f: impl FnOnce() -> R + Send) -> R {
        self.pool
            .install_as(self.caller.unwrap_or("Batch::for_each_index"), f)
    }

    /// The smallest piece a worker runs without looking for hungry peers (default:
    /// `len / (256 × workers)`, at least 1).
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
    pub fn for_each<T, F>(self, items: &[T], f: F)
    where
        T: Sync,
        F: Fn(&T) + Sync,
    {
        self.named("Batch::for_each")
            .for_each_index(0..items.len(), |i| f(&items[i]))
    }

    /// Calls `f` on every item with `&mut` access, in parallel.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut v = vec![1, 2, 3];
    /// pool.batch().for_each_mut(&mut v, |x| *x *= 10);
    /// assert_eq!(v, [10, 20, 30]);
    /// ```
    pub fn for_each_mut<T, F>(self, items: &mut [T], f: F)
    where
        T: Send,
        F: Fn(&mut T) + Sync,
    {
        self.named("Batch::for_each_mut")
            .for_each_mut_indexed(items, |_, item| f(item))
    }

    /// The one loop that hands out `&mut` access: `f(i, &mut items[i])` for every index.
    fn for_each_mut_indexed<T, F>(self, items: &mut [T], f: F)
    where
        T: Send,
        F: Fn(usize, &mut T) + Sync,
    {
        let base = SendPtr(items.as_mut_ptr());
        self.for_each_index(0..items.len(), |i| {
            // SAFETY: `i < items.len()`, and fold_range visits each index exactly once, so this
            // is the only reference to item i while it lives; `items` is borrowed mutably for
            // the whole call.
            f(i, unsafe { &mut *base.at(i) })
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
    pub fn for_each_index<F>(self, range: Range<usize>, f: F)
    where
        F: Fn(usize) + Sync,
    {
        let split = self.plan(range.len());
        self.named("Batch::for_each_index")
            .install(|| fold_range(range, split, &|| (), &|(), r| r.for_each(&f), &|(), ()| ()))
    }

    /// Maps every item, in parallel, keeping the order.
    ///
    /// If `f` panics, the panic resumes here once every piece has stopped; results already
    /// made are leaked, never exposed.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let squares = pool.batch().map(&[1, 2, 3], |x| x * x);
    /// assert_eq!(squares, [1, 4, 9]);
    /// ```
    pub fn map<T, U, F>(self, items: &[T], f: F) -> Vec<U>
    where
        T: Sync,
        U: Send,
        F: Fn(&T) -> U + Sync,
    {
        let len = items.len();
        let mut out: Vec<MaybeUninit<U>> = Vec::with_capacity(len);
        // SAFETY: MaybeUninit needs no initialisation; capacity is `len`.
        unsafe { out.set_len(len) };
        self.named("Batch::map")
            .for_each_mut_indexed(&mut out, |i, slot| {
                slot.write(f(&items[i]));
            });
        // Every index was written (fold_range returned without panicking).
        let mut out = std::mem::ManuallyDrop::new(out);
        let (ptr, len, cap) = (out.as_mut_ptr(), out.len(), out.capacity());
        // SAFETY: all `len` elements are initialised; MaybeUninit<U> has U's layout; the
        // original vector is forgotten, so the buffer has one owner.
        unsafe { Vec::from_raw_parts(ptr.cast::<U>(), len, cap) }
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
    pub fn reduce<T, A, I, F, C>(self, items: &[T], identity: I, fold: F, combine: C) -> A
    where
        T: Sync,
        A: Send,
        I: Fn() -> A + Sync,
        F: Fn(A, &T) -> A + Sync,
        C: Fn(A, A) -> A + Sync,
    {
        let split = self.plan(items.len());
        self.named("Batch::reduce").install(|| {
            fold_range(
                0..items.len(),
                split,
                &identity,
                &|acc, r| items[r].iter().fold(acc, &fold),
                &combine,
            )
        })
    }
}

/// How [`fold_range`] splits (module docs).
#[derive(Debug, Clone, Copy)]
struct Split {
    min_len: usize,
    max_piece: usize,
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

/// The one splitting routine (module docs). Runs on a worker (callers go through `install`).
fn fold_range<A: Send>(
    range: Range<usize>,
    split: Split,
    identity: &(dyn Fn() -> A + Sync),
    fold_chunk: &(dyn Fn(A, Range<usize>) -> A + Sync),
    combine: &(dyn Fn(A, A) -> A + Sync),
) -> A {
    let halves = |r: Range<usize>| {
        let mid = r.start + r.len() / 2;
        let (left, right) = crate::join(
            || fold_range(r.start..mid, split, identity, fold_chunk, combine),
            || fold_range(mid..r.end, split, identity, fold_chunk, combine),
        );
        combine(left, right)
    };
    // Step 1: up-front split.
    if range.len() > split.max_piece && range.len() >= 2 {
        return halves(range);
    }
    // Step 2: chunks, splitting again when this worker's deque ran dry.
    let mut acc = identity();
    let mut start = range.start;
    while start < range.end {
        let remaining = range.end - start;
        if remaining >= 2 * split.min_len && own_deque_is_empty() {
            let rest = halves(start..range.end);
            return combine(acc, rest);
        }
        let chunk_end = start + split.min_len.min(remaining);
        acc = fold_chunk(acc, start..chunk_end);
        start = chunk_end;
    }
    acc
}

/// True if the calling worker offers nothing to thieves right now.
fn own_deque_is_empty() -> bool {
    WorkerThread::with_current(|w| w.is_some_and(WorkerThread::local_is_empty))
}
