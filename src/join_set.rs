//! [`JoinSet`]: a set of submitted tasks whose results are taken in completion order.
//!
//! Each task is one heap entry (`#[repr(C)]`, a ready-list [`Link`] first, then the function
//! that takes its result out and frees it), owned in turn by its queued task, the worker that
//! runs it (or the thread that discards it), the set's ready list, and the set — the same
//! hand-over as a stream's groups (`stream/ready.rs` has the protocol and why no wakeup is
//! lost).
//!
//! Cancelling: the set keeps an **epoch** word; each entry records the epoch it was
//! submitted in. `cancel_all` (and the drop) advances the epoch, and a worker that takes an
//! entry whose epoch is no longer current does not run it: it drops the closure and reports
//! [`TaskError::Cancelled`]. The worker reads the epoch (Acquire) before starting, so each
//! task either started before the advance, or never starts.

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;

use crate::error::{PanicPayload, TaskError};
use crate::pool::Pool;
use crate::stream::{next_of, wait_take, Link, Pushed, ReadyList};
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::task::slot::{catch, drop_quietly, Discard, Discarded, Outcome, RawJob, Task};

/// Takes the result out of an entry and frees it.
type Finish<T> = unsafe fn(*mut Link) -> Result<T, TaskError>;

/// What every entry of a `JoinSet<T>` starts with, whatever its closure's type.
#[repr(C)]
struct Header<T> {
    link: Link,
    finish: Finish<T>,
}

#[repr(C)]
struct Entry<T, F> {
    header: Header<T>,
    /// Moved out by whoever pushes the entry (to outlive the push); never dropped in place.
    list: ManuallyDrop<Arc<ReadyList>>,
    epoch_word: Arc<AtomicU64>,
    epoch: u64,
    func: Option<F>,
    result: Option<Result<T, TaskError>>,
}

// SAFETY: the link's raw pointer belongs to the ready-list protocol; the closure and the
// result are Send, and an entry is only ever touched by its current owner.
unsafe impl<T: Send, F: Send> Send for Entry<T, F> {}

impl<T, F> Entry<T, F>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    /// Hands the finished entry to the set (or frees it, if the set is gone).
    ///
    /// # Safety
    /// `this` is a live entry owned by the caller, with its result written, pushed never
    /// before.
    unsafe fn publish(this: *mut Self) {
        // SAFETY: ours; the list is moved out once, here, so it outlives the push.
        let list = unsafe { ManuallyDrop::take(&mut (*this).list) };
        // SAFETY: `Link` is the first field of the `#[repr(C)]` header, itself first.
        if let Pushed::Closed(link) = unsafe { list.push(this.cast::<Link>(), false) } {
            // SAFETY: the list refused it: still ours, from Box::into_raw in `submit`.
            drop_quietly(
                unsafe { Box::from_raw(link.cast::<Self>()) },
                "a join set entry",
            );
        }
        drop(list);
    }

    /// The `finish` of this entry type.
    ///
    /// # Safety
    /// `link` is an entry of this type that came out of its set's ready list.
    unsafe fn finish(link: *mut Link) -> Result<T, TaskError> {
        // SAFETY: the contract; `list` was moved out when published (ManuallyDrop).
        let mut entry = unsafe { Box::from_raw(link.cast::<Self>()) };
        entry
            .result
            .take()
            .expect("a published entry has its result")
    }
}

impl<T, F> RawJob for Entry<T, F>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    const TRACKED: bool = true;
    const CANCELLABLE: bool = true;

    unsafe fn execute(this: *const Self) -> Outcome {
        let this = this as *mut Self;
        // SAFETY: the task owned the entry, now we do (RawJob contract) until `publish`.
        let entry = unsafe { &mut *this };
        let func = entry.func.take().expect("an entry runs once");
        // ORDERING: Acquire pairs with the AcqRel fetch_add in `cancel_all` (module docs).
        let outcome = if entry.epoch_word.load(Ordering::Acquire) != entry.epoch {
            drop_quietly(func, "a cancelled task");
            entry.result = Some(Err(TaskError::Cancelled));
            Outcome::Cancelled
        } else {
            match catch(func) {
                Ok(value) => {
                    entry.result = Some(Ok(value));
                    Outcome::Completed
                }
                Err(payload) => {
                    entry.result = Some(Err(TaskError::Panicked(PanicPayload::new(payload))));
                    Outcome::Panicked(None)
                }
            }
        };
        // SAFETY: ours, result written, never published before.
        unsafe { Self::publish(this) };
        outcome
    }

    unsafe fn discard(this: *const Self, why: Discard) -> Discarded {
        let this = this as *mut Self;
        // SAFETY: as in `execute`.
        let entry = unsafe { &mut *this };
        if let Some(func) = entry.func.take() {
            drop_quietly(func, "a task discarded unrun");
        }
        entry.result = Some(Err(match why {
            Discard::Reject => TaskError::Rejected,
            Discard::Cancel => TaskError::Cancelled,
            Discard::NoLane => TaskError::NoBlockingLane,
        }));
        // SAFETY: as in `execute`.
        unsafe { Self::publish(this) };
        Discarded::Reported
    }
}

/// A set of tasks on a pool whose results are taken as they finish (tokio's `JoinSet`).
///
/// [`submit`](JoinSet::submit) tasks, then [`join_next`](JoinSet::join_next) gives each
/// result in completion order until the set is empty. [`cancel_all`](JoinSet::cancel_all)
/// cancels the tasks that have not started (they report [`TaskError::Cancelled`]); dropping
/// the set does the same and returns at once (running tasks finish; their results are
/// dropped).
///
/// ```
/// let pool = corepool::Pool::new();
/// let mut set = pool.join_set();
/// for i in 0..10u64 {
///     set.submit(move || i * i);
/// }
/// let mut total = 0;
/// while let Some(result) = set.join_next() {
///     total += result.unwrap();
/// }
/// assert_eq!(total, 285);
/// ```
pub struct JoinSet<T> {
    pool: Pool,
    list: Arc<ReadyList>,
    epoch_word: Arc<AtomicU64>,
    epoch: u64,
    /// Tasks submitted whose results were not taken yet.
    len: usize,
    /// Received, not yet handed out: newest first (pop = oldest).
    arrived: Vec<*mut Link>,
    _results: PhantomData<T>,
}

// SAFETY: the raw pointers in `arrived` are entries the set owns (taken out of its ready list);
// their results are `T: Send`.
unsafe impl<T: Send> Send for JoinSet<T> {}

impl Pool {
    /// An empty [`JoinSet`] on this pool.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut set = pool.join_set::<u32>();
    /// assert!(set.is_empty());
    /// assert!(set.join_next().is_none());
    /// ```
    pub fn join_set<T: Send + 'static>(&self) -> JoinSet<T> {
        JoinSet {
            pool: self.clone(),
            list: Arc::new(ReadyList::new(self.registry().seeded_bugs())),
            epoch_word: Arc::new(AtomicU64::new(0)),
            epoch: 0,
            len: 0,
            arrived: Vec::new(),
            _results: PhantomData,
        }
    }
}

impl<T: Send + 'static> JoinSet<T> {
    fn entry<F>(&mut self, f: F) -> Task
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let entry = Box::into_raw(Box::new(Entry {
            header: Header {
                link: Link::new(),
                finish: Entry::<T, F>::finish,
            },
            list: ManuallyDrop::new(Arc::clone(&self.list)),
            epoch_word: Arc::clone(&self.epoch_word),
            epoch: self.epoch,
            func: Some(f),
            result: None,
        }));
        self.len += 1;
        // SAFETY: a fresh entry, queued once; it owns itself until published.
        unsafe { Task::from_raw(entry) }
    }

    /// Runs `f` on the pool as part of the set. From outside the pool a full bounded queue
    /// makes this wait for room, as [`Pool::submit`] does; after shutdown the task is
    /// rejected (its result reports [`TaskError::Rejected`]).
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut set = pool.join_set();
    /// set.submit(|| "done");
    /// assert_eq!(set.len(), 1);
    /// assert_eq!(set.join_next().unwrap().unwrap(), "done");
    /// ```
    pub fn submit<F>(&mut self, f: F)
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let task = self.entry(f);
        self.pool.registry().push(task);
    }

    /// Runs `f` on the pool's blocking lane (as [`Pool::spawn_blocking`]) as part of the set.
    /// With `blocking_io = 0` its result reports [`TaskError::NoBlockingLane`].
    ///
    /// ```
    /// use corepool::{Pool, Sizing};
    ///
    /// let pool = Pool::builder().sizing(Sizing::cpu_bound().blocking_io(2)).build()?;
    /// let mut set = pool.join_set();
    /// set.submit_blocking(|| std::fs::metadata("Cargo.toml").is_ok());
    /// set.submit(|| true);
    /// while let Some(r) = set.join_next() {
    ///     assert!(r.unwrap());
    /// }
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn submit_blocking<F>(&mut self, f: F)
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let task = self.entry(f);
        self.pool.registry().push_blocking(task);
    }

    /// Waits for the next task to finish and returns its result (completion order); `None`
    /// once every submitted task's result has been taken. On a worker the wait runs other
    /// tasks meanwhile, as [`JoinHandle::join`](crate::JoinHandle::join) does.
    ///
    /// ```
    /// use corepool::TaskError;
    ///
    /// let pool = corepool::Pool::new();
    /// let mut set = pool.join_set();
    /// set.submit(|| -> u32 { panic!("boom") });
    /// assert!(matches!(set.join_next(), Some(Err(TaskError::Panicked(_)))));
    /// assert!(set.join_next().is_none());
    /// ```
    pub fn join_next(&mut self) -> Option<Result<T, TaskError>> {
        if self.len == 0 {
            return None;
        }
        if self.arrived.is_empty() {
            self.receive(wait_take(&self.list, 1, true));
        }
        self.pop_arrived()
    }

    /// The next finished task's result if one has finished, without waiting.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut set = pool.join_set();
    /// set.submit(|| 1);
    /// let r = loop {
    ///     if let Some(r) = set.try_join_next() { break r; }
    ///     std::thread::yield_now();
    /// };
    /// assert_eq!(r.unwrap(), 1);
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, TaskError>> {
        if self.len == 0 {
            return None;
        }
        if self.arrived.is_empty() {
            self.receive(self.list.take());
        }
        self.pop_arrived()
    }

    fn receive(&mut self, mut chain: *mut Link) {
        while !chain.is_null() {
            self.arrived.push(chain);
            // SAFETY: taken out of the list: the chain is ours.
            chain = unsafe { next_of(chain) };
        }
    }

    fn pop_arrived(&mut self) -> Option<Result<T, TaskError>> {
        let link = self.arrived.pop()?;
        self.len -= 1;
        // SAFETY: every node of this list is an entry of a `JoinSet<T>` (the header is its
        // first field), published once, and now ours; `finish` frees it.
        Some(unsafe { ((*link.cast::<Header<T>>()).finish)(link) })
    }

    /// Cancels every task of the set that has not started: it never will, and its result
    /// reports [`TaskError::Cancelled`] (the closure is dropped when a worker reaches the
    /// task, which then costs next to nothing). Tasks submitted later run normally.
    ///
    /// ```
    /// use corepool::{Pool, Sizing, TaskError};
    /// use std::sync::mpsc;
    ///
    /// let pool = Pool::builder().sizing(Sizing::cpu_bound().cores(1)).build().unwrap();
    /// let (started_tx, started) = mpsc::channel();
    /// let (release, release_rx) = mpsc::channel::<()>();
    /// let mut set = pool.join_set();
    /// set.submit(move || { started_tx.send(()).unwrap(); release_rx.recv().unwrap(); 0 });
    /// started.recv().unwrap(); // the only worker is busy: the next ones stay queued
    /// for i in 1..=3 { set.submit(move || i); }
    /// set.cancel_all();
    /// release.send(()).unwrap();
    /// let mut cancelled = 0;
    /// while let Some(r) = set.join_next() {
    ///     if matches!(r, Err(TaskError::Cancelled)) { cancelled += 1; }
    /// }
    /// assert_eq!(cancelled, 3);
    /// ```
    pub fn cancel_all(&mut self) {
        // ORDERING: AcqRel, paired with the workers' Acquire load before they start a task.
        self.epoch = self.epoch_word.fetch_add(1, Ordering::AcqRel) + 1;
    }

    /// Tasks submitted whose results have not been taken yet.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let mut set = pool.join_set();
    /// set.submit(|| ());
    /// set.submit(|| ());
    /// assert_eq!(set.len(), 2);
    /// set.join_next();
    /// assert_eq!(set.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no result is left to take.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// assert!(pool.join_set::<()>().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T> Drop for JoinSet<T> {
    /// Cancels what has not started and returns at once; running tasks finish and their
    /// results are dropped where they finish.
    fn drop(&mut self) {
        // ORDERING: as in `cancel_all`.
        self.epoch_word.fetch_add(1, Ordering::AcqRel);
        let mut chain = self.list.close();
        while !chain.is_null() {
            self.arrived.push(chain);
            // SAFETY: taken out of the list by `close`: the chain is ours.
            chain = unsafe { next_of(chain) };
        }
        for link in self.arrived.drain(..) {
            // SAFETY: as in `pop_arrived`.
            drop_quietly(
                unsafe { ((*link.cast::<Header<T>>()).finish)(link) },
                "a join set's result",
            );
        }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}
