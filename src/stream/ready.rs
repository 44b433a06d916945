//! The **ready list**: finished groups of a stream (or tasks of a [`JoinSet`](crate::JoinSet))
//! handed from the workers that ran them to the one consumer that waits for them.
//!
//! # Shape
//!
//! A multi-producer, single-consumer Treiber stack of intrusive nodes (every node type is
//! `#[repr(C)]` with a [`Link`] first), plus what the consumer needs to sleep:
//!
//! | field     | written by                                  | meaning                                  |
//! |-----------|---------------------------------------------|------------------------------------------|
//! | `head`    | producers (CAS a node on), the consumer (swap the whole list out, or swap [`CLOSED`] in) | null (empty), a chain newest first, or `CLOSED` |
//! | `waiting` | the consumer (true) and the producer that takes its waker (false), both under `waker`'s lock | the consumer may be asleep: a producer must wake it |
//! | `waker`   | under its lock, as `waiting`                | how to wake the consumer                 |
//!
//! A node is owned, in turn, by the task that carries it, by the worker that runs (or the
//! thread that discards) it, by the list once pushed, and by the consumer once it has swapped
//! the list out. Nobody holds two stages at once, so no node is shared and no node is read
//! by two threads: pushers never read a node already in the list (their CAS compares only
//! addresses), and the consumer never pops one node at a time (no ABA).
//!
//! # Steps
//!
//! Producer ([`ReadyList::push`]), holding its own reference to the list:
//! 1. Write the node's `next`, CAS it onto `head` (Release, so the node's contents — the
//!    group's results — are visible to the consumer's Acquire swap). Finding `CLOSED`, keep
//!    the node and free it (the consumer is gone). **Point of no return** on success: the
//!    consumer may take and free the node at once; the producer touches only the list after.
//! 2. `fence(SeqCst)`.
//! 3. Load `waiting`; if set, lock, take the waker and clear `waiting`, unlock, wake.
//!
//! Consumer ([`ReadyList::poll_take`]):
//! 1. Swap `head` with null (Acquire); anything there is ready.
//! 2. Otherwise lock, store the waker and set `waiting`, unlock.
//! 3. `fence(SeqCst)`.
//! 4. Swap `head` again: anything there is ready (clear the registration, it is not needed);
//!    otherwise return `Pending` and sleep until woken, then poll again.
//!
//! # Why no wakeup is lost
//!
//! Producer step 1 (the node on `head`) and consumer step 2 (`waiting` set) are each followed
//! by a SeqCst fence, and then each side reads what the other wrote (Dekker): by the fences'
//! total order either the consumer's step 4 swap finds the node, or the producer's step 3
//! load finds `waiting` set — and then the waker it takes under the lock is the one stored in
//! step 2 or a later one, so the consumer is woken. A stale waker (a registration left over
//! from a wait that ended by finding work) only causes a spurious wake; the consumer always
//! re-polls. Without the consumer's fence (`SeededBugs::ready_wait_without_fence`) both sides
//! can miss each other and the consumer sleeps forever: the loom model's negative control.
//!
//! # Closing
//!
//! A consumer that leaves while nodes are still out ([`ReadyList::close`], a dropped
//! `StreamMap` or `JoinSet`) swaps `CLOSED` into `head` and frees what it took; every later
//! producer finds `CLOSED` in step 1 and frees its own node. Each node is freed exactly once:
//! by whoever holds it when the swap or the failed CAS decides.

use std::task::{Poll, Waker};

use crate::sync::{fence, AtomicBool, AtomicPtr, Mutex, Ordering};

/// The first field of every node type (`#[repr(C)]`), so the list can be untyped.
#[repr(C)]
pub(crate) struct Link {
    next: *mut Link,
}

impl Link {
    pub(crate) const fn new() -> Self {
        Link {
            next: std::ptr::null_mut(),
        }
    }
}

/// `head` once the consumer is gone. Never dereferenced.
const CLOSED: *mut Link = std::ptr::dangling_mut::<Link>();

/// The list (module docs).
pub(crate) struct ReadyList {
    head: AtomicPtr<Link>,
    waiting: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// Negative control for the loom model (always false outside loom).
    skip_fence: bool,
}

// SAFETY: the raw pointers in `head` are owned by the list protocol (module docs); every
// access to them goes through the atomic `head`, and nodes are Send (their owners' bound).
unsafe impl Send for ReadyList {}
// SAFETY: as above.
unsafe impl Sync for ReadyList {}

/// What [`ReadyList::push`] found.
pub(crate) enum Pushed {
    /// The node is in the list; it belongs to the consumer now.
    Queued,
    /// The consumer has closed the list: the node is still the caller's, to free.
    Closed(*mut Link),
}

impl ReadyList {
    pub(crate) fn new(bugs: crate::sync::SeededBugs) -> Self {
        ReadyList {
            head: AtomicPtr::new(std::ptr::null_mut()),
            waiting: AtomicBool::new(false),
            waker: Mutex::new(None),
            skip_fence: bugs.ready_wait_without_fence(),
        }
    }

    /// Producer steps 1–3.
    ///
    /// # Safety
    /// `node` points at a live node whose first field is a [`Link`], owned by the caller and
    /// never pushed before; on `Queued` it belongs to the consumer from the CAS on.
    pub(crate) unsafe fn push(&self, node: *mut Link) -> Pushed {
        // ORDERING: Relaxed: the CAS below decides.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            if head == CLOSED {
                return Pushed::Closed(node);
            }
            // SAFETY: the node is still ours (caller's contract) until the CAS succeeds.
            unsafe { (*node).next = head };
            // ORDERING: Release publishes the node (and what its owner wrote into it) to the
            // consumer's Acquire swap. Step 1, point of no return on success.
            match self
                .head
                .compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => head = actual,
            }
        }
        // ORDERING: step 2, pairs with the consumer's fence in `poll_take` step 3 (Dekker).
        fence(Ordering::SeqCst);
        // ORDERING: Relaxed: ordered by the fence above; the waker itself is read under the lock.
        if self.waiting.load(Ordering::Relaxed) {
            self.wake_consumer();
        }
        Pushed::Queued
    }

    /// Producer step 3, slow path: the consumer may sleep.
    #[cold]
    fn wake_consumer(&self) {
        let waker = {
            let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
            // ORDERING: Relaxed: under the lock that also guards the waker.
            self.waiting.store(false, Ordering::Relaxed);
            slot.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// True if something is ready (a hint: `take` decides). Only the spin uses it, and
    /// loom builds have no spin.
    #[cfg(not(any(corepool_loom, corepool_shuttle)))]
    #[inline]
    fn has_any(&self) -> bool {
        // ORDERING: Relaxed: a hint for the spin; `take`'s Acquire swap decides.
        !self.head.load(Ordering::Relaxed).is_null()
    }

    /// Consumer step 1 alone: takes whatever is ready, newest first (null if nothing).
    pub(crate) fn take(&self) -> *mut Link {
        // ORDERING: Relaxed first look, so an empty list costs no RMW; Acquire on the swap
        // pairs with the producers' Release CAS: the nodes' contents are visible.
        if self.head.load(Ordering::Relaxed).is_null() {
            return std::ptr::null_mut();
        }
        let list = self.head.swap(std::ptr::null_mut(), Ordering::Acquire);
        debug_assert!(list != CLOSED, "took from a closed ready list");
        list
    }

    /// Consumer steps 1–4: a non-null chain (newest first) once something is ready;
    /// `Pending` after registering `waker`, which a producer then wakes.
    pub(crate) fn poll_take(&self, waker: &Waker) -> Poll<*mut Link> {
        let list = self.take();
        if !list.is_null() {
            return Poll::Ready(list);
        }
        {
            let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
            // ORDERING: Relaxed: under the lock; published to producers by the fence below.
            self.waiting.store(true, Ordering::Relaxed);
        }
        if !self.skip_fence {
            // ORDERING: step 3, pairs with the producers' fence in `push` step 2 (Dekker).
            fence(Ordering::SeqCst);
        }
        // ORDERING: Acquire, as in `take` (always the swap: the fence ordered it).
        let list = self.head.swap(std::ptr::null_mut(), Ordering::Acquire);
        if list.is_null() {
            return Poll::Pending;
        }
        // Found work: the registration is not needed (a producer that already saw `waiting`
        // may still wake us once; harmless).
        let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        // ORDERING: Relaxed: under the lock.
        self.waiting.store(false, Ordering::Relaxed);
        *slot = None;
        Poll::Ready(list)
    }

    /// The consumer leaves: later producers free their own nodes. Returns what was still in
    /// the list (newest first) for the caller to free.
    pub(crate) fn close(&self) -> *mut Link {
        // ORDERING: AcqRel: Acquire takes the nodes pushed so far, Release publishes CLOSED.
        let list = self.head.swap(CLOSED, Ordering::AcqRel);
        debug_assert!(list != CLOSED, "ready list closed twice");
        list
    }
}

/// The node after `link` in a chain taken out of the list (null at its end).
///
/// # Safety
/// The caller owns the chain (took it out of the list).
#[inline]
pub(crate) unsafe fn next_of(link: *mut Link) -> *mut Link {
    // SAFETY: the caller's contract: the node is live and nobody else reads or writes it.
    unsafe { (*link).next }
}

/// Waits until the list has something, and takes it: on a worker (of any pool) the wait runs
/// other tasks meanwhile, as `JoinHandle::join` does; on any other thread it blocks, after a
/// spin of at most [`SPIN_BEFORE_BLOCK`] when `spin` says the wait is likely that short.
pub(crate) fn wait_take(list: &ReadyList, spin: bool) -> *mut Link {
    let now = list.take();
    if !now.is_null() {
        return now;
    }
    let helped = crate::sched::worker::WorkerThread::with_current(|worker| {
        worker.map(|w| w.wait_for_poll(|waker| list.poll_take(waker)))
    });
    if let Some(taken) = helped {
        return taken;
    }
    // Spin a little first: a group often finishes within microseconds of the wait, and
    // blocking costs a futex wait and wake (and, on a busy machine, the CPU itself).
    if spin && spin_until_ready(list) {
        let now = list.take();
        if !now.is_null() {
            return now;
        }
    }
    let signal = std::sync::Arc::new(crate::sched::latch::Signal::new());
    let waker = Waker::from(signal.clone());
    loop {
        match list.poll_take(&waker) {
            Poll::Ready(taken) => return taken,
            Poll::Pending => signal.wait(),
        }
    }
}

/// How long an outside consumer polls before it registers and blocks (never under loom,
/// where `spin_until_ready` does not spin).
pub(crate) const SPIN_BEFORE_BLOCK: std::time::Duration = std::time::Duration::from_micros(30);

/// Polls `list` (a relaxed load each) for at most [`SPIN_BEFORE_BLOCK`]; true once it holds
/// something.
#[cfg(not(any(corepool_loom, corepool_shuttle)))]
fn spin_until_ready(list: &ReadyList) -> bool {
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            std::hint::spin_loop();
            if list.has_any() {
                return true;
            }
        }
        if start.elapsed() >= SPIN_BEFORE_BLOCK {
            return false;
        }
    }
}

/// No spin under loom: it only multiplies interleavings.
#[cfg(any(corepool_loom, corepool_shuttle))]
fn spin_until_ready(_list: &ReadyList) -> bool {
    false
}

#[cfg(all(test, not(any(corepool_loom, corepool_shuttle))))]
mod tests {
    use super::*;

    #[repr(C)]
    struct Node {
        link: Link,
        value: u32,
    }

    fn node(value: u32) -> *mut Link {
        Box::into_raw(Box::new(Node {
            link: Link::new(),
            value,
        }))
        .cast()
    }

    /// Frees a chain, returning its values in chain order.
    fn free_chain(mut chain: *mut Link) -> Vec<u32> {
        let mut values = Vec::new();
        while !chain.is_null() {
            // SAFETY: the test owns the chain; every node came from `node`.
            let next = unsafe { next_of(chain) };
            // SAFETY: as above.
            values.push(unsafe { Box::from_raw(chain.cast::<Node>()) }.value);
            chain = next;
        }
        values
    }

    #[test]
    fn take_returns_the_nodes_newest_first_and_empties_the_list() {
        let list = ReadyList::new(crate::sync::SeededBugs::default());
        assert!(list.take().is_null());
        for v in 1..=3 {
            // SAFETY: fresh nodes, pushed once.
            assert!(matches!(unsafe { list.push(node(v)) }, Pushed::Queued));
        }
        assert_eq!(free_chain(list.take()), [3, 2, 1]);
        assert!(list.take().is_null());
    }

    #[test]
    fn a_closed_list_hands_back_what_it_held_and_refuses_later_pushes() {
        let list = ReadyList::new(crate::sync::SeededBugs::default());
        // SAFETY: a fresh node, pushed once.
        unsafe { list.push(node(7)) };
        assert_eq!(free_chain(list.close()), [7]);
        // SAFETY: a fresh node, pushed once; refused, so still ours.
        match unsafe { list.push(node(8)) } {
            Pushed::Closed(back) => assert_eq!(free_chain(back), [8]),
            Pushed::Queued => panic!("a closed list took a node"),
        }
    }

    #[test]
    fn a_registered_waker_is_woken_by_the_next_push_only() {
        use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.fetch_add(1, StdOrdering::SeqCst);
            }
        }
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let list = ReadyList::new(crate::sync::SeededBugs::default());
        assert!(list.poll_take(&waker).is_pending());
        // SAFETY: fresh nodes, pushed once.
        unsafe { list.push(node(1)) };
        // SAFETY: as above.
        unsafe { list.push(node(2)) };
        assert_eq!(
            count.0.load(StdOrdering::SeqCst),
            1,
            "one wake per registration"
        );
        match list.poll_take(&waker) {
            Poll::Ready(chain) => assert_eq!(free_chain(chain), [2, 1]),
            Poll::Pending => panic!("nodes were pushed"),
        }
    }
}
