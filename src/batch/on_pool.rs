//! The batch helpers as `Pool` methods (`pool.map(..)`, `pool.try_for_each(..)`, …): each
//! is [`Pool::batch`] with default options, named for the panic a shut-down pool gives.

use crate::pool::Pool;

use super::Batch;

/// The batch helpers on the pool itself: each is [`Pool::batch`] with default options.
impl Pool {
    /// Options for one call of a batch helper (e.g. the smallest piece); see [`Batch`].
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let v = pool.batch().min_len(4).map(&[1, 2, 3, 4, 5, 6, 7, 8], |x| x + 1);
    /// assert_eq!(v[7], 9);
    /// ```
    pub fn batch(&self) -> Batch<'_> {
        Batch::new(self)
    }

    /// Calls `f` on every item of `items`, in parallel ([`Batch::for_each`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let long = AtomicUsize::new(0);
    /// pool.for_each(&["a", "bbb", "cc"], |w| if w.len() > 1 { long.fetch_add(1, Ordering::Relaxed); });
    /// assert_eq!(long.into_inner(), 2);
    /// ```
    pub fn for_each<T, F>(&self, items: &[T], f: F)
    where
        T: Sync,
        F: Fn(&T) + Sync,
    {
        self.batch().named("Pool::for_each").for_each(items, f)
    }

    /// Calls `f` on every item with `&mut` access, in parallel ([`Batch::for_each_mut`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut v: Vec<u32> = (0..100).collect();
    /// pool.for_each_mut(&mut v, |x| *x = *x * 2);
    /// assert_eq!(v[99], 198);
    /// ```
    pub fn for_each_mut<T, F>(&self, items: &mut [T], f: F)
    where
        T: Send,
        F: Fn(&mut T) + Sync,
    {
        self.batch()
            .named("Pool::for_each_mut")
            .for_each_mut(items, f)
    }

    /// Calls `f` on every index of `range`, in parallel ([`Batch::for_each_index`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let sum = AtomicU64::new(0);
    /// pool.for_each_index(0..1_000, |i| { sum.fetch_add(i as u64, Ordering::Relaxed); });
    /// assert_eq!(sum.into_inner(), 499_500);
    /// ```
    pub fn for_each_index<F>(&self, range: std::ops::Range<usize>, f: F)
    where
        F: Fn(usize) + Sync,
    {
        self.batch()
            .named("Pool::for_each_index")
            .for_each_index(range, f)
    }

    /// Maps every item in parallel, keeping the order ([`Batch::map`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let lens = pool.map(&["a", "bb", "ccc"], |s| s.len());
    /// assert_eq!(lens, [1, 2, 3]);
    /// ```
    pub fn map<T, U, F>(&self, items: &[T], f: F) -> Vec<U>
    where
        T: Sync,
        U: Send,
        F: Fn(&T) -> U + Sync,
    {
        self.batch().named("Pool::map").map(items, f)
    }

    /// Folds and combines in parallel ([`Batch::reduce`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let data: Vec<u64> = (1..=100).collect();
    /// assert_eq!(pool.reduce(&data, || 0, |acc, x| acc + x, |a, b| a + b), 5050);
    /// ```
    pub fn reduce<T, A, I, F, C>(&self, items: &[T], identity: I, fold: F, combine: C) -> A
    where
        T: Sync,
        A: Send,
        I: Fn() -> A + Sync,
        F: Fn(A, &T) -> A + Sync,
        C: Fn(A, A) -> A + Sync,
    {
        self.batch()
            .named("Pool::reduce")
            .reduce(items, identity, fold, combine)
    }

    /// Calls `f` on every item in parallel until one fails; the error of the failing item
    /// with the lowest index is returned, and pieces after it never start
    /// ([`Batch::try_for_each`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let ages = [31, 45, -3, 27, -8];
    /// let valid = pool.try_for_each(&ages, |&a| if a >= 0 { Ok(()) } else { Err(a) });
    /// assert_eq!(valid, Err(-3));
    /// ```
    pub fn try_for_each<T, E, F>(&self, items: &[T], f: F) -> Result<(), E>
    where
        T: Sync,
        E: Send,
        F: Fn(&T) -> Result<(), E> + Sync,
    {
        self.batch()
            .named("Pool::try_for_each")
            .try_for_each(items, f)
    }

    /// Maps every item in parallel, keeping the order, until one fails; the error of the
    /// lowest failing index is returned ([`Batch::try_map`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let nums = pool.try_map(&["10", "20", "30"], |s| s.parse::<u32>());
    /// assert_eq!(nums, Ok(vec![10, 20, 30]));
    /// ```
    pub fn try_map<T, U, E, F>(&self, items: &[T], f: F) -> Result<Vec<U>, E>
    where
        T: Sync,
        U: Send,
        E: Send,
        F: Fn(&T) -> Result<U, E> + Sync,
    {
        self.batch().named("Pool::try_map").try_map(items, f)
    }

    /// Folds with a fallible `fold` and combines in parallel, stopping at the first failure
    /// in index order ([`Batch::try_reduce`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let readings = ["12", "7", "oops", "30", "bad"];
    /// fn parse_add(acc: u32, r: &&'static str) -> Result<u32, &'static str> {
    ///     r.parse::<u32>().map(|v| acc + v).map_err(|_| *r)
    /// }
    /// assert_eq!(pool.try_reduce(&readings, || 0, parse_add, |a, b| a + b), Err("oops"));
    /// assert_eq!(pool.try_reduce(&readings[..2], || 0, parse_add, |a, b| a + b), Ok(19));
    /// ```
    pub fn try_reduce<T, A, E, I, F, C>(
        &self,
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
        self.batch()
            .named("Pool::try_reduce")
            .try_reduce(items, identity, fold, combine)
    }

    /// Calls `f(&mut state, item)` on every item in parallel, with one `state` per piece
    /// made by `init`, not one per item ([`Batch::for_each_init`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let lines: Vec<String> = (0..100).map(|i| format!("{i},{}", i * 2)).collect();
    /// let fields = AtomicUsize::new(0);
    /// pool.for_each_init(&lines, String::new, |scratch, line| {
    ///     scratch.clear();
    ///     scratch.push_str(line);
    ///     fields.fetch_add(scratch.split(',').count(), Ordering::Relaxed);
    /// });
    /// assert_eq!(fields.into_inner(), 200);
    /// ```
    pub fn for_each_init<T, S, I, F>(&self, items: &[T], init: I, f: F)
    where
        T: Sync,
        S: Send,
        I: Fn() -> S + Sync,
        F: Fn(&mut S, &T) + Sync,
    {
        self.batch()
            .named("Pool::for_each_init")
            .for_each_init(items, init, f)
    }

    /// Maps every item in parallel, keeping the order, with one state per piece made by
    /// `init` ([`Batch::map_init`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let out = pool.map_init(&[3, 1, 2], Vec::new, |buf: &mut Vec<u8>, &n| {
    ///     buf.clear();
    ///     buf.resize(n, b'x');
    ///     String::from_utf8(buf.clone()).unwrap()
    /// });
    /// assert_eq!(out, ["xxx", "x", "xx"]);
    /// ```
    pub fn map_init<T, S, U, I, F>(&self, items: &[T], init: I, f: F) -> Vec<U>
    where
        T: Sync,
        S: Send,
        U: Send,
        I: Fn() -> S + Sync,
        F: Fn(&mut S, &T) -> U + Sync,
    {
        self.batch()
            .named("Pool::map_init")
            .map_init(items, init, f)
    }

    /// Calls `f` on consecutive chunks of `chunk_size` items (the last may be shorter) in
    /// parallel ([`Batch::for_each_chunk`]). Panics if `chunk_size` is 0.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = corepool::Pool::new();
    /// let pixels = vec![0u8; 1_000];
    /// let chunks = AtomicUsize::new(0);
    /// pool.for_each_chunk(&pixels, 256, |c| { assert!(c.len() <= 256); chunks.fetch_add(1, Ordering::Relaxed); });
    /// assert_eq!(chunks.into_inner(), 4);
    /// ```
    pub fn for_each_chunk<T, F>(&self, items: &[T], chunk_size: usize, f: F)
    where
        T: Sync,
        F: Fn(&[T]) + Sync,
    {
        self.batch()
            .named("Pool::for_each_chunk")
            .for_each_chunk(items, chunk_size, f)
    }

    /// Calls `f` on consecutive chunks of `chunk_size` items with `&mut` access, in parallel
    /// ([`Batch::for_each_chunk_mut`]). Panics if `chunk_size` is 0.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut rows = vec![1u32; 12];
    /// pool.for_each_chunk_mut(&mut rows, 3, |row| row[0] = 0);
    /// assert_eq!(rows.iter().sum::<u32>(), 8);
    /// ```
    pub fn for_each_chunk_mut<T, F>(&self, items: &mut [T], chunk_size: usize, f: F)
    where
        T: Send,
        F: Fn(&mut [T]) + Sync,
    {
        self.batch()
            .named("Pool::for_each_chunk_mut")
            .for_each_chunk_mut(items, chunk_size, f)
    }

    /// Maps consecutive chunks of `chunk_size` items to one result each, in parallel and in
    /// order ([`Batch::map_chunks`]). Panics if `chunk_size` is 0.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let data: Vec<u64> = (1..=10).collect();
    /// assert_eq!(pool.map_chunks(&data, 5, |c| c.iter().sum::<u64>()), [15, 40]);
    /// ```
    pub fn map_chunks<T, U, F>(&self, items: &[T], chunk_size: usize, f: F) -> Vec<U>
    where
        T: Sync,
        U: Send,
        F: Fn(&[T]) -> U + Sync,
    {
        self.batch()
            .named("Pool::map_chunks")
            .map_chunks(items, chunk_size, f)
    }
}
