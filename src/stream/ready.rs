//! The **ready list**: finished groups of a stream (or tasks of a [`JoinSet`](crate::JoinSet))
//! handed from the workers that ran them to the one consumer that waits for them.
//!
//! # Shape
//!
//! A multi-producer, single-consumer Treiber stack of intrusive nodes (every node type is
//! `#[repr(C)]` with a [`Link`] first), a count of the nodes pushed, and what the consumer
//! needs to sleep until *enough* of them are there — not one wake per node: a consumer that
//! can only use the next group in input order, or that refills a window, gains nothing from
//! being woken for each group (a futex wake and two context switches, one of them on the
//! worker that pushed), so it says how many it waits for.
//!
//! | field     | written by                                  | meaning                                  |
//! |-----------|---------------------------------------------|------------------------------------------|
//! | `head`    | producers (CAS a node on), the consumer (swap the whole list out, or swap [`CLOSED`] in) | null (empty), a chain newest first, or `CLOSED` |
//! | `pushed`  | producers (add one after each push)         | nodes pushed so far (never decreases)    |
//! | `taken`   | the consumer only                           | nodes the consumer has taken so far      |
//! | `wake_at` | the consumer, under `waker`'s lock          | while `waiting`: wake the consumer once `pushed` reaches this |
//! | `urgent`  | producers of urgent nodes (true), the consumer (false, as it takes) | an urgent node (a failure, say) may be in the list: do not wait for the count |
//! | `waiting` | the consumer (true) and the producer that takes its waker (false), both under `waker`'s lock | the consumer may be asleep: a producer must look at `wake_at` |
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
//! 2. An urgent node (one the consumer should see at once: a failure that stops the stream)
//!    also sets `urgent` (Release). Add one to `pushed` (Release); `n` is the count this push
//!    made.
//! 3. `fence(SeqCst)`.
//! 4. Load `waiting`; if set and `n >= wake_at` (or the node is urgent), lock, take the
//!    waker and clear `waiting`, unlock, wake.
//!
//! Consumer ([`ReadyList::poll_take`], waiting for `want` more nodes):
//! 1. Swap `head` with null (Acquire); anything there is ready: take it. (Every swap that
//!    takes nodes first clears a set `urgent` (Acquire swap), so an urgent node that set it is in
//!    that swap, or leaves `urgent` set for the next wait.)
//! 2. Otherwise lock, store the waker, `wake_at = taken + want` and set `waiting`, unlock.
//! 3. `fence(SeqCst)`.
//! 4. Load `pushed` (Acquire): if it reached `wake_at`, at least `want` nodes are in the list
//!    (every node counted was pushed first, and all but `taken` of them are still there):
//!    clear the registration, swap them out and take them. So too if `urgent` is set and the
//!    list holds anything. Otherwise return `Pending` and sleep until woken, then poll again.
//!
//! # Why no wakeup is lost
//!
//! Let *P* be the push whose step 2 makes `pushed` reach the `wake_at` of a registration.
//! Its step 2 and the consumer's step 2 are each followed by a SeqCst fence, and then each
//! side reads what the other wrote (Dekker): by the fences' total order either the
//! consumer's step 4 load finds `pushed >= wake_at` and takes the nodes, or *P*'s step 4
//! finds `waiting` set and this `wake_at` (a later registration only follows a wake, and
//! asks for nodes beyond *P*'s) — and then the waker it takes under the lock is the one
//! stored in step 2 or a later one, so the consumer is woken. A push before *P* finds
//! `n < wake_at` and leaves the consumer asleep, rightly; *P* itself is always made, since
//! `want` nodes are still to come when the consumer registers (the caller's promise: at
//! least `want` of its groups are out). A stale waker (a registration left over from a wait
//! that ended by finding work) only causes a spurious wake; the consumer always re-polls.
//! Without the consumer's fence (`SeededBugs::ready_wait_without_fence`) both sides can miss
//! each other, and a producer comparing the count from *before* its push
//! (`SeededBugs::ready_wake_on_stale_count`) never wakes for the node that completes the
//! wait: either way the consumer sleeps forever, the loom model's negative controls. An
//! urgent push follows the same Dekker pair through `urgent` instead of the count.
//!
//! # Closing
//!
//! A consumer that leaves while nodes are still out ([`ReadyList::close`], a dropped
//! `StreamMap` or `JoinSet`) swaps `CLOSED` into `head` and frees what it took; every later
//! producer finds `CLOSED` in step 1 and frees its own node. Each node is freed exactly once:
//! by whoever holds it when the swap or the failed CAS decides.

use std::task::{Poll, Waker};

#[cfg(corepool_loom)]
use crate::sync::Arc;
use crate::sync::{fence, AtomicBool, AtomicPtr, AtomicUsize, Mutex, Ordering};

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
    pushed: AtomicUsize,
    taken: AtomicUsize,
    wake_at: AtomicUsize,
    urgent: AtomicBool,
    waiting: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// Negative controls for the loom model (always false outside loom).
    skip_fence: bool,
    stale_count: bool,
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
            pushed: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            wake_at: AtomicUsize::new(0),
            urgent: AtomicBool::new(false),
            waiting: AtomicBool::new(false),
            waker: Mutex::new(None),
            skip_fence: bugs.ready_wait_without_fence(),
            stale_count: bugs.ready_wake_on_stale_count(),
        }
    }

    /// Producer steps 1–4; an `urgent` node wakes a waiting consumer whatever it waits for.
    ///
    /// # Safety
    /// `node` points at a live node whose first field is a [`Link`], owned by the caller and
    /// never pushed before; on `Queued` it belongs to the consumer from the CAS on.
    pub(crate) unsafe fn push(&self, node: *mut Link, urgent: bool) -> Pushed {
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
        if urgent {
            // ORDERING: Release pairs with the consumer's Acquire swap of `urgent` before it
            // swaps the list out: finding it set, that swap sees the node pushed above.
            self.urgent.store(true, Ordering::Release);
        }
        // ORDERING: Release, step 2: a consumer whose Acquire load sees this count (or a later
        // one: every later change is an RMW, continuing the release sequence) sees the node
        // pushed above in the list.
        let mut n = self.pushed.fetch_add(1, Ordering::Release).wrapping_add(1);
        if self.stale_count {
            n -= 1;
        }
        // ORDERING: step 3, pairs with the consumer's fence in `poll_take` step 3 (Dekker).
        fence(Ordering::SeqCst);
        // ORDERING: Relaxed, both: ordered by the fence above (they were stored before the
        // consumer's fence); the waker itself is read under the lock.
        if self.waiting.load(Ordering::Relaxed)
            && (urgent || n >= self.wake_at.load(Ordering::Relaxed))
        {
            self.wake_consumer();
        }
        Pushed::Queued
    }

    /// Producer step 4, slow path: the consumer may sleep, and this push completes its wait.
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

    /// True once `want` more nodes than the consumer has taken were pushed, or an urgent
    /// one (a hint: `take` decides). Only the spin uses it, and loom builds have no spin.
    #[cfg(not(any(corepool_loom, corepool_shuttle)))]
    #[inline]
    fn reached(&self, want: usize) -> bool {
        // ORDERING: Relaxed, all: `taken` is the consumer's own; the others are hints for
        // the spin, and `take`'s Acquire swap decides.
        self.urgent.load(Ordering::Relaxed)
            || self.pushed.load(Ordering::Relaxed)
                >= self.taken.load(Ordering::Relaxed).wrapping_add(want)
    }

    /// Consumer step 1 alone: takes whatever is ready, newest first (null if nothing).
    pub(crate) fn take(&self) -> *mut Link {
        // ORDERING: Relaxed first look, so an empty list costs no RMW.
        if self.head.load(Ordering::Relaxed).is_null() {
            return std::ptr::null_mut();
        }
        self.swap_out()
    }

    /// Swaps the whole list out and counts what it took in `taken`.
    fn swap_out(&self) -> *mut Link {
        // ORDERING: Relaxed look first, so a take costs no extra RMW when nothing urgent
        // came (almost always); finding it set, the Acquire swap pairs with the urgent
        // producer's Release store: its node is in the swap below. A set flag missed here
        // stays set for the next wait, which then looks at the list (step 4).
        if self.urgent.load(Ordering::Relaxed) {
            self.urgent.swap(false, Ordering::Acquire);
        }
        // ORDERING: Acquire pairs with the producers' Release CAS: the nodes' contents are
        // visible.
        let list = self.head.swap(std::ptr::null_mut(), Ordering::Acquire);
        debug_assert!(list != CLOSED, "took from a closed ready list");
        let mut count = 0usize;
        let mut node = list;
        while !node.is_null() {
            count += 1;
            // SAFETY: swapped out of the list: the chain is the consumer's.
            node = unsafe { next_of(node) };
        }
        // ORDERING: Relaxed, both: only the consumer reads or writes `taken`.
        let taken = self.taken.load(Ordering::Relaxed);
        self.taken
            .store(taken.wrapping_add(count), Ordering::Relaxed);
        list
    }

    /// Consumer steps 1–4: a non-null chain (newest first) once something is ready; else
    /// `Pending` after registering `waker`, which the producer of the `want`-th next node
    /// wakes. `want` is at least one, and at least `want` nodes are still to be pushed.
    pub(crate) fn poll_take(&self, waker: &Waker, want: usize) -> Poll<*mut Link> {
        debug_assert!(want >= 1, "a wait for no node");
        let list = self.take();
        if !list.is_null() {
            return Poll::Ready(list);
        }
        // ORDERING: Relaxed: only the consumer reads or writes `taken`.
        let wake_at = self.taken.load(Ordering::Relaxed).wrapping_add(want);
        {
            let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
            // ORDERING: Relaxed, both: under the lock; published to producers by the fence
            // below.
            self.wake_at.store(wake_at, Ordering::Relaxed);
            self.waiting.store(true, Ordering::Relaxed);
        }
        if !self.skip_fence {
            // ORDERING: step 3, pairs with the producers' fence in `push` step 3 (Dekker).
            fence(Ordering::SeqCst);
        }
        // ORDERING: Acquire pairs with the producers' Release add (step 2): the nodes it
        // counts are in the list for the swap below.
        // ORDERING: Relaxed for `urgent` and `head`: they only say to look; `swap_out`
        // synchronizes with the nodes.
        let look = self.pushed.load(Ordering::Acquire) >= wake_at
            || (self.urgent.load(Ordering::Relaxed)
                && !self.head.load(Ordering::Relaxed).is_null());
        if !look {
            return Poll::Pending;
        }
        // Enough is there: the registration is not needed (a producer that already saw
        // `waiting` may still wake us once; harmless).
        {
            let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
            // ORDERING: Relaxed: under the lock.
            self.waiting.store(false, Ordering::Relaxed);
            *slot = None;
        }
        let list = self.swap_out();
        if list.is_null() {
            // Only after an urgent look whose node an earlier swap took: keep waiting.
            return Poll::Pending;
        }
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

/// Takes what the list has, or waits until `want` more nodes are there (module docs) and
/// takes them: on a worker (of any pool) the wait runs other tasks meanwhile, as
/// `JoinHandle::join` does; on any other thread it blocks, after a spin of at most
/// [`SPIN_BEFORE_BLOCK`] when `spin` says the wait is likely that short. At least `want`
/// (one or more) nodes must still be coming.
pub(crate) fn wait_take(list: &ReadyList, want: usize, spin: bool) -> *mut Link {
    let now = list.take();
    if !now.is_null() {
        return now;
    }
    let helped = crate::sched::worker::WorkerThread::with_current(|worker| {
        worker.map(|w| w.wait_for_poll(|waker| list.poll_take(waker, want)))
    });
    if let Some(taken) = helped {
        return taken;
    }
    // Spin a little first: a group often finishes within microseconds of the wait, and
    // blocking costs a futex wait and wake (and, on a busy machine, the CPU itself).
    if spin && spin_until_ready(list, want) {
        let now = list.take();
        if !now.is_null() {
            return now;
        }
    }
    let signal = std::sync::Arc::new(crate::sched::latch::Signal::new());
    let waker = Waker::from(signal.clone());
    loop {
        match list.poll_take(&waker, want) {
            Poll::Ready(taken) => return taken,
            Poll::Pending => signal.wait(),
        }
    }
}

/// How long an outside consumer polls before it registers and blocks (never under loom,
/// where `spin_until_ready` does not spin).
pub(crate) const SPIN_BEFORE_BLOCK: std::time::Duration = std::time::Duration::from_micros(30);

/// Polls `list` (a relaxed load each) for at most [`SPIN_BEFORE_BLOCK`]; true once `want`
/// more nodes were pushed.
#[cfg(not(any(corepool_loom, corepool_shuttle)))]
fn spin_until_ready(list: &ReadyList, want: usize) -> bool {
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            std::hint::spin_loop();
            if list.reached(want) {
                return true;
            }
        }
        if start.elapsed() >= SPIN_BEFORE_BLOCK {
            return false;
        }
    }
}

/// No spin under loom or shuttle: it only multiplies interleavings, and its window is
/// wall-clock time.
#[cfg(any(corepool_loom, corepool_shuttle))]
fn spin_until_ready(_list: &ReadyList, _want: usize) -> bool {
    false
}

/// The ready list on its own, for its loom model (loom builds only): nodes carry a `u32`,
/// producers are the model's threads, and the consumer waits outside any pool.
#[cfg(corepool_loom)]
#[derive(Clone)]
pub struct LoomReady {
    list: Arc<ReadyList>,
}

#[cfg(corepool_loom)]
#[repr(C)]
struct LoomNode {
    link: Link,
    value: u32,
}

#[cfg(corepool_loom)]
impl LoomReady {
    /// An empty list with `bugs` seeded.
    pub fn new(bugs: crate::sync::SeededBugs) -> LoomReady {
        LoomReady {
            list: Arc::new(ReadyList::new(bugs)),
        }
    }

    /// Producer steps 1–4 with a node holding `value`.
    pub fn push(&self, value: u32, urgent: bool) {
        let node = Box::into_raw(Box::new(LoomNode {
            link: Link::new(),
            value,
        }));
        // SAFETY: a fresh node, pushed once; the model never closes the list.
        let pushed = unsafe { self.list.push(node.cast(), urgent) };
        assert!(
            matches!(pushed, Pushed::Queued),
            "the model's list is never closed"
        );
    }

    /// The consumer: waits for `want` more nodes (or an urgent one, or takes what is there)
    /// and returns their values, newest first.
    pub fn wait(&self, want: usize) -> Vec<u32> {
        let mut chain = wait_take(&self.list, want, false);
        let mut values = Vec::new();
        while !chain.is_null() {
            // SAFETY: taken out of the list: the chain is ours; every node is a `LoomNode`.
            let next = unsafe { next_of(chain) };
            // SAFETY: as above, from `Box::into_raw` in `push`.
            values.push(unsafe { Box::from_raw(chain.cast::<LoomNode>()) }.value);
            chain = next;
        }
        values
    }
}

#[cfg(all(test, not(any(corepool_loom, corepool_shuttle))))]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering as StdOrdering;

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
            let pushed = unsafe { list.push(node(v), false) };
            assert!(matches!(pushed, Pushed::Queued));
        }
        assert_eq!(free_chain(list.take()), [3, 2, 1]);
        assert!(list.take().is_null());
    }

    #[test]
    fn a_closed_list_hands_back_what_it_held_and_refuses_later_pushes() {
        let list = ReadyList::new(crate::sync::SeededBugs::default());
        // SAFETY: a fresh node, pushed once.
        unsafe { list.push(node(7), false) };
        assert_eq!(free_chain(list.close()), [7]);
        // SAFETY: a fresh node, pushed once; refused, so still ours.
        match unsafe { list.push(node(8), false) } {
            Pushed::Closed(back) => assert_eq!(free_chain(back), [8]),
            Pushed::Queued => panic!("a closed list took a node"),
        }
    }

    /// Counts its wakes.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            // ORDERING: SeqCst: a test's counter, read after the pushes on the same thread.
            self.0.fetch_add(1, StdOrdering::SeqCst);
        }
    }

    fn counting_waker() -> (std::sync::Arc<Count>, Waker) {
        let count = std::sync::Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        (count, waker)
    }

    #[test]
    fn a_registered_waker_is_woken_by_the_next_push_only() {
        let (count, waker) = counting_waker();
        let list = ReadyList::new(crate::sync::SeededBugs::default());
        assert!(list.poll_take(&waker, 1).is_pending());
        // SAFETY: fresh nodes, pushed once.
        unsafe { list.push(node(1), false) };
        // SAFETY: as above.
        unsafe { list.push(node(2), false) };
        assert_eq!(
            count.0.load(StdOrdering::SeqCst),
            1,
            "one wake per registration"
        );
        match list.poll_take(&waker, 1) {
            Poll::Ready(chain) => assert_eq!(free_chain(chain), [2, 1]),
            Poll::Pending => panic!("nodes were pushed"),
        }
    }

    #[test]
    fn a_consumer_waiting_for_three_nodes_is_woken_by_the_third_push_only() {
        let (count, waker) = counting_waker();
        let list = ReadyList::new(crate::sync::SeededBugs::default());
        // One node taken first, so the wait counts from there.
        // SAFETY: fresh nodes, pushed once.
        unsafe { list.push(node(1), false) };
        assert_eq!(free_chain(list.take()), [1]);
        assert!(list.poll_take(&waker, 3).is_pending());
        for v in 2..=3 {
            // SAFETY: as above.
            unsafe { list.push(node(v), false) };
        }
        assert_eq!(count.0.load(StdOrdering::SeqCst), 0, "two of three pushed");
        // SAFETY: as above.
        unsafe { list.push(node(4), false) };
        assert_eq!(count.0.load(StdOrdering::SeqCst), 1, "the third push wakes");
        match list.poll_take(&waker, 3) {
            Poll::Ready(chain) => assert_eq!(free_chain(chain), [4, 3, 2]),
            Poll::Pending => panic!("three nodes were pushed"),
        }
    }
}
