//! A deque a model checker can see (loom and shuttle builds only): a model `Mutex<VecDeque>`
//! plus a length read without the lock, so `is_empty` can be stale exactly as crossbeam's is.
//! Same API subset as crossbeam-deque. The real deque's atomics are core's, invisible to
//! both checkers: it would run each operation as one indivisible step.

use super::imp::{Arc, AtomicUsize, Mutex, Ordering};
use std::collections::VecDeque;

/// Outcome of a steal, as in crossbeam-deque.
pub(crate) enum Steal<T> {
    Empty,
    Success(T),
    #[allow(dead_code)] // crossbeam's contention signal; the mock never contends
    Retry,
}

struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    len: AtomicUsize,
}

impl<T> Queue<T> {
    fn new() -> Self {
        Queue {
            items: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }
    fn push_back(&self, t: T) {
        let mut q = self.items.lock().unwrap();
        q.push_back(t);
        // ORDERING: Release, read by the lock-free `is_empty`: as in crossbeam, a
        // reader that sees the new length also sees the pushed item.
        self.len.store(q.len(), Ordering::Release);
    }
    fn pop_back(&self) -> Option<T> {
        let mut q = self.items.lock().unwrap();
        let t = q.pop_back();
        // ORDERING: Release, as in push_back.
        self.len.store(q.len(), Ordering::Release);
        t
    }
    fn pop_front(&self) -> Option<T> {
        let mut q = self.items.lock().unwrap();
        let t = q.pop_front();
        // ORDERING: Release, as in push_back.
        self.len.store(q.len(), Ordering::Release);
        t
    }
    /// Moves up to half (at least one) from the front of `self` into `dest`, returns one.
    fn steal_batch_and_pop_into(&self, dest: &Queue<T>) -> Option<T> {
        let mut q = self.items.lock().unwrap();
        let first = q.pop_front()?;
        let extra = q.len() / 2;
        let moved: Vec<T> = q.drain(..extra).collect();
        // ORDERING: Release, as in push_back.
        self.len.store(q.len(), Ordering::Release);
        drop(q);
        for t in moved {
            dest.push_back(t);
        }
        Some(first)
    }
    fn is_empty(&self) -> bool {
        // ORDERING: Acquire pairs with the Release stores; read without the lock, so
        // it can be stale exactly like crossbeam's.
        self.len.load(Ordering::Acquire) == 0
    }
    fn len(&self) -> usize {
        // ORDERING: as in is_empty.
        self.len.load(Ordering::Acquire)
    }
}

fn to_steal<T>(t: Option<T>) -> Steal<T> {
    t.map_or(Steal::Empty, Steal::Success)
}

/// The owner's end of a LIFO deque.
pub(crate) struct Deque<T>(Arc<Queue<T>>);
/// A thief's end.
pub(crate) struct Stealer<T>(Arc<Queue<T>>);
/// The shared FIFO for outside submissions.
pub(crate) struct Injector<T>(Queue<T>);

impl<T> Deque<T> {
    pub(crate) fn new_lifo() -> Self {
        Deque(Arc::new(Queue::new()))
    }
    pub(crate) fn push(&self, t: T) {
        self.0.push_back(t)
    }
    pub(crate) fn pop(&self) -> Option<T> {
        self.0.pop_back()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(crate) fn stealer(&self) -> Stealer<T> {
        Stealer(self.0.clone())
    }
}

impl<T> Stealer<T> {
    pub(crate) fn steal(&self) -> Steal<T> {
        to_steal(self.0.pop_front())
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Deque<T>) -> Steal<T> {
        to_steal(self.0.steal_batch_and_pop_into(&dest.0))
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Injector<T> {
    pub(crate) fn new() -> Self {
        Injector(Queue::new())
    }
    pub(crate) fn push(&self, t: T) {
        self.0.push_back(t)
    }
    pub(crate) fn steal(&self) -> Steal<T> {
        to_steal(self.0.pop_front())
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Deque<T>) -> Steal<T> {
        to_steal(self.0.steal_batch_and_pop_into(&dest.0))
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}
