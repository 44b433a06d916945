//! [`CancelToken`]: cancel a group of queued tasks at once, like a Go context.
//!
//! # The list
//!
//! A token keeps a lock-free stack (Treiber) of the submit cells bound to it, each by a weak
//! reference, so a finished task's memory is not held up by the token for long:
//! - `head` is null (empty), a node, or [`CLOSED`] once the token is cancelled.
//! - **Push** ([`CancelToken::register`]): CAS the new node onto `head`; finding `CLOSED`, the
//!   registrant cancels its own task instead. Pushers never read a node, so a node taken out
//!   and freed under them is harmless (their CAS only compares the head's address).
//! - **Cancel** ([`CancelToken::cancel`]): `swap(head, CLOSED)`, cancel every task in the
//!   list it took — whoever takes a list out owns its nodes exclusively — wait until no prune
//!   is in flight, then set the flag. So a running task that sees
//!   [`is_cancelled`](CancelToken::is_cancelled) knows no bound task will start any more.
//! - **Prune**, every so many pushes: count itself in `pruning`, take the whole list out (CAS
//!   to null), drop the nodes of finished tasks, and splice the rest back by CAS onto whatever
//!   `head` is now. Finding `CLOSED` there, the pruner cancels the survivors itself. The
//!   pruner increments `pruning`, then a SeqCst fence, then reads `head`; the cancel swaps
//!   `CLOSED` in, then a SeqCst fence, then reads `pruning` (a Dekker handshake): either the
//!   cancel sees the prune and waits for it, or the prune finds `CLOSED` before taking
//!   anything. (Fences, not SeqCst loads, which loom models as Acquire: with SeqCst loads the
//!   cancel model reports a false alarm.)
//!
//! A splice (push, or a prune's splice back) links its chain's last node to the head it read
//! before its CAS; when the CAS then fails because a cancel swapped `CLOSED` in, that link
//! points into the list the cancel now owns. So a splice that finds `CLOSED` cuts the link
//! before it cancels its own chain. (It did not always: the registrant then cancelled and
//! freed the cancel's nodes too, a double free found by the loom model
//! `loom-tests/tests/cancel.rs`.)
//!
//! # Why no bound task escapes a cancel
//!
//! A task is in the list from its push until a cancel or a prune takes it out. A cancel gets
//! everything in the list at its swap. A registrant that comes after the swap finds `CLOSED`.
//! A prune that held nodes during the swap finds `CLOSED` when it splices back, and cancels
//! them. So every bound task that had not started is cancelled — the cell's own `TAKEN` bit
//! decides, for each one, between the cancel and a worker starting it (`cell.rs`).

use crate::sync::token::{AtomicBool, AtomicPtr, AtomicUsize, Weak};
use crate::sync::{fence, thread, Ordering, SeededBugs, TaskArc};
use std::fmt;
use std::ptr;

/// What a [`CancelToken`] keeps of each task bound to it.
pub(crate) trait Cancel: Send + Sync {
    /// Cancels the task unless it was taken (started, finished or cancelled) already.
    fn cancel(&self) -> bool;
    /// The task is done with: nothing left to cancel.
    fn is_finished(&self) -> bool;
}

/// `head` once the token is cancelled. Never dereferenced.
const CLOSED: *mut Node = ptr::dangling_mut::<Node>();

/// Pushes between prunes, at least (more when many tasks stay live).
#[cfg(not(any(corepool_loom, corepool_shuttle)))]
const PRUNE_EVERY: usize = 64;
/// Under loom every second push prunes, so a model of two pushes reaches a prune; under
/// shuttle too, so a scenario's few dozen bound tasks give prunes racing the cancel.
#[cfg(any(corepool_loom, corepool_shuttle))]
const PRUNE_EVERY: usize = 2;

struct Node {
    task: Weak<dyn Cancel>,
    next: *mut Node,
}

struct Inner {
    head: AtomicPtr<Node>,
    cancelled: AtomicBool,
    /// Pushes since the last prune, and the survivors of that prune.
    pushes: AtomicUsize,
    live_after_prune: AtomicUsize,
    /// Prunes in flight, each holding nodes out of the list.
    pruning: AtomicUsize,
    /// loom's negative controls (none outside loom).
    seeded_bugs: SeededBugs,
}

/// Cancels a group of queued tasks at once, like a Go `context`: bind tasks to it with
/// [`Pool::submit_with`](crate::Pool::submit_with); [`cancel`](CancelToken::cancel) then
/// cancels every one of them that has not started (their closures are dropped at once and
/// their handles report [`TaskError::Cancelled`](crate::TaskError::Cancelled)); tasks already
/// running can poll [`is_cancelled`](CancelToken::is_cancelled) to stop early. Tasks bound
/// after the cancel are cancelled as they are submitted. Clones share the group.
///
/// ```
/// use corepool::{CancelToken, Pool, Sizing, TaskError};
/// use std::sync::mpsc;
///
/// let pool = Pool::builder().sizing(Sizing::cpu_bound().cores(1)).build().unwrap();
/// let token = CancelToken::new();
/// let (started_tx, started) = mpsc::channel();
/// let t = token.clone();
/// // A long job that checks the token as it goes.
/// let long = pool.submit_with(&token, move || {
///     started_tx.send(()).unwrap();
///     let mut steps = 0u64;
///     while !t.is_cancelled() {
///         steps += 1;
///         std::thread::yield_now();
///     }
///     steps
/// });
/// started.recv().unwrap();
/// let queued: Vec<_> = (0..10).map(|i| pool.submit_with(&token, move || i)).collect();
/// token.cancel();
/// assert!(long.join().is_ok()); // it was running: it saw the flag and returned
/// for h in queued {
///     assert!(matches!(h.join(), Err(TaskError::Cancelled)));
/// }
/// ```
#[derive(Clone)]
pub struct CancelToken {
    inner: TaskArc<Inner>,
}

impl CancelToken {
    /// A new token, not cancelled.
    ///
    /// ```
    /// assert!(!corepool::CancelToken::new().is_cancelled());
    /// ```
    pub fn new() -> Self {
        Self::with_seeded_bugs(SeededBugs::default())
    }

    /// A new token with loom's negative controls `bugs` (`__loom::token_with_bugs`).
    pub(crate) fn with_seeded_bugs(bugs: SeededBugs) -> Self {
        CancelToken {
            inner: TaskArc::new(Inner {
                head: AtomicPtr::new(ptr::null_mut()),
                cancelled: AtomicBool::new(false),
                pushes: AtomicUsize::new(0),
                live_after_prune: AtomicUsize::new(0),
                pruning: AtomicUsize::new(0),
                seeded_bugs: bugs,
            }),
        }
    }

    /// True once [`cancel`](CancelToken::cancel) was called on any clone.
    ///
    /// ```
    /// let token = corepool::CancelToken::new();
    /// token.cancel();
    /// assert!(token.clone().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `cancel`: a task that sees the flag sees
        // what the canceller did before.
        self.inner.cancelled.load(Ordering::Acquire)
    }

    /// Cancels every task bound to this token that has not started, and every task bound
    /// later. Idempotent. Running tasks are not interrupted; they can poll
    /// [`is_cancelled`](CancelToken::is_cancelled).
    ///
    /// ```
    /// let token = corepool::CancelToken::new();
    /// token.cancel();
    /// let pool = corepool::Pool::new();
    /// let late = pool.submit_with(&token, || 1);
    /// assert!(matches!(late.join(), Err(corepool::TaskError::Cancelled)));
    /// ```
    pub fn cancel(&self) {
        // ORDERING: AcqRel: Acquire takes ownership of the nodes pushed (Released by their
        // CAS), Release publishes CLOSED; the fence below orders it before the read of
        // `pruning` (module docs).
        let list = self.inner.head.swap(CLOSED, Ordering::AcqRel);
        if list != CLOSED {
            // SAFETY: the swap took the list out of `head`: its nodes are ours alone.
            unsafe { cancel_list(list) };
        }
        // A prune in flight holds nodes the swap did not see; it cancels them when it finds
        // CLOSED. Wait for it, so that nothing bound starts once the flag is up.
        // ORDERING: pairs with the fence in `prune`: either this read sees its increment, or
        // that prune's read of `head` sees CLOSED (module docs).
        fence(Ordering::SeqCst);
        // ORDERING: Acquire of the pruner's Release decrement: its cancels happen before ours
        // returns.
        while self.inner.pruning.load(Ordering::Acquire) != 0 {
            thread::yield_now();
        }
        // ORDERING: Release: see is_cancelled.
        self.inner.cancelled.store(true, Ordering::Release);
    }

    /// Binds a task: the next cancel reaches it (module docs, push).
    pub(crate) fn register(&self, task: Weak<dyn Cancel>) {
        let node = Box::into_raw(Box::new(Node {
            task,
            next: ptr::null_mut(),
        }));
        // SAFETY: a fresh node, ours alone; it is its own last node.
        unsafe { self.splice(node, node) };
        // ORDERING: Relaxed: only paces the pruning.
        let pushes = self.inner.pushes.fetch_add(1, Ordering::Relaxed) + 1;
        let live = self.inner.live_after_prune.load(Ordering::Relaxed);
        if pushes >= PRUNE_EVERY.max(live) {
            self.prune();
        }
    }

    /// Module docs, prune.
    #[cold]
    fn prune(&self) {
        if self.inner.seeded_bugs.prune_uncounted() {
            // Negative control (loom only): a prune `cancel` cannot see, so it may return
            // while this one still holds bound tasks out of the list.
            return self.prune_list();
        }
        // ORDERING: Relaxed: the fence after it orders it before the read of `head`.
        self.inner.pruning.fetch_add(1, Ordering::Relaxed);
        // ORDERING: pairs with the fence in `cancel`: either the cancel's read of `pruning`
        // sees the increment, or this prune's read of `head` sees CLOSED (module docs).
        fence(Ordering::SeqCst);
        self.prune_list();
        // ORDERING: Release: the cancels this prune made happen before `cancel` returns.
        self.inner.pruning.fetch_sub(1, Ordering::Release);
    }

    fn prune_list(&self) {
        // ORDERING: Relaxed: pacing only.
        self.inner.pushes.store(0, Ordering::Relaxed);
        // ORDERING: Relaxed: after the fence in `prune`, so a cancel that did not see the
        // increment has its CLOSED seen here or by the CAS. Acquire on the CAS's success takes
        // ownership of the nodes (see `cancel`).
        let mut list = self.inner.head.load(Ordering::Relaxed);
        loop {
            if list.is_null() || list == CLOSED {
                return;
            }
            match self.inner.head.compare_exchange_weak(
                list,
                ptr::null_mut(),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => list = actual,
            }
        }
        // Keep the nodes of tasks that may still be cancelled.
        let (mut kept, mut tail, mut live) = (ptr::null_mut::<Node>(), ptr::null_mut(), 0);
        while !list.is_null() {
            // SAFETY: taken out of `head` above: every node of the list is ours.
            let node = unsafe { Box::from_raw(list) };
            list = node.next;
            if node.task.upgrade().is_some_and(|t| !t.is_finished()) {
                let node = Box::into_raw(node);
                // SAFETY: ours, as above.
                unsafe { (*node).next = kept };
                if kept.is_null() {
                    tail = node;
                }
                kept = node;
                live += 1;
            }
        }
        // ORDERING: Relaxed: pacing only.
        self.inner.live_after_prune.store(live, Ordering::Relaxed);
        if kept.is_null() {
            return;
        }
        // SAFETY: taken out above, so still ours; `tail` is the last kept node.
        unsafe { self.splice(kept, tail) };
    }

    /// Puts the chain `first ..= last` on top of the list by CAS; finding the token cancelled
    /// (`CLOSED`), cancels the chain's tasks instead (module docs, push and prune).
    ///
    /// # Safety
    /// The caller owns every node of the chain exclusively, and `last` is its last node.
    unsafe fn splice(&self, first: *mut Node, last: *mut Node) {
        // ORDERING: Relaxed first read; the CAS decides.
        let mut head = self.inner.head.load(Ordering::Relaxed);
        loop {
            if head == CLOSED {
                // SAFETY: the splice did not happen: the chain is still ours. A failed CAS
                // below may have left `last.next` pointing at a list someone else has taken
                // since: cut it, so only our own nodes are cancelled and freed.
                unsafe {
                    (*last).next = ptr::null_mut();
                    cancel_list(first);
                }
                return;
            }
            // SAFETY: the chain is still ours until the CAS below succeeds.
            unsafe { (*last).next = head };
            // ORDERING: Release publishes the nodes' fields to whoever takes the list out.
            match self.inner.head.compare_exchange_weak(
                head,
                first,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }
}

/// Cancels and frees every node of a list.
///
/// # Safety
/// The caller owns every node of the list exclusively (took it out of `head`, or never
/// pushed it).
unsafe fn cancel_list(mut list: *mut Node) {
    while !list.is_null() {
        // SAFETY: the caller's contract.
        let node = unsafe { Box::from_raw(list) };
        list = node.next;
        if let Some(task) = node.task.upgrade() {
            task.cancel();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // ORDERING: Relaxed: the last owner, so nothing races (what `get_mut` means; the
        // facade's loom atomics have no `get_mut`).
        let list = self.head.load(Ordering::Relaxed);
        if list != CLOSED {
            let mut list = list;
            while !list.is_null() {
                // SAFETY: the last owner of the token: every node is ours.
                let node = unsafe { Box::from_raw(list) };
                list = node.next;
            }
        }
    }
}

impl Default for CancelToken {
    /// Same as [`CancelToken::new`].
    ///
    /// ```
    /// let token = corepool::CancelToken::default();
    /// assert!(!token.is_cancelled());
    /// ```
    fn default() -> Self {
        CancelToken::new()
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

// SAFETY: the raw node pointers are owned by the list protocol (module docs): a node is touched
// only by whoever took it out of `head`, and what a node holds (`Weak<dyn Cancel>`) is
// Send + Sync.
unsafe impl Send for Inner {}
// SAFETY: as above; all shared access goes through the atomics.
unsafe impl Sync for Inner {}
