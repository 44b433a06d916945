//! One group of a stream's items, run as one task: the job a worker runs, what it shares with
//! the other groups of its stream, and the per-worker state slots.
//!
//! A group is a heap node (`#[repr(C)]`, [`Link`] first) owned in turn by its task, the worker
//! that runs it (or the thread that discards it), the stream's [`ReadyList`], and the
//! consumer (`ready.rs` has that protocol). Running it:
//! 1. take the worker's state out of its slot (or make one: the slot is empty the first time,
//!    and also while an outer run of this stream on the same worker holds it — a helping wait
//!    inside an item can run another group here);
//! 2. for each item, in order: stop if its index reached `stop_at` or the stream's token is
//!    cancelled — it never starts; else call the function; an error or a panic lowers
//!    `stop_at` to just past this item (`fetch_min`), so no later item of the stream starts;
//! 3. put the state back (if the slot was refilled meanwhile, the extra state is dropped);
//! 4. record the outputs, how many items ran and the failure, report progress;
//! 5. push the node onto the ready list — point of no return.

use std::any::Any;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use super::ready::{Link, Pushed, ReadyList};
use super::Progress;
use crate::error::TaskError;
use crate::sync::{Arc, AtomicPtr, AtomicU64, Ordering, TaskArc};
use crate::task::cancel::CancelToken;
use crate::task::slot::{drop_quietly, Discard, Discarded, Outcome, RawJob};

/// A panic payload.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// What one stream runs per item: `call(&mut state, item)`, with a state made by `init` once
/// per worker.
pub(crate) trait Work: Send + Sync {
    type Item: Send;
    type State: Send;
    type Out: Send;
    type Err: Send;
    fn init(&self) -> Self::State;
    fn call(&self, state: &mut Self::State, item: Self::Item) -> Result<Self::Out, Self::Err>;
}

/// The types a [`Fns`] works with, named for the compiler only.
type Signature<T, S, U, E> = fn(T) -> (S, U, E);

/// A [`Work`] from two closures.
pub(crate) struct Fns<T, S, U, E, N, F> {
    init: N,
    f: F,
    _types: PhantomData<Signature<T, S, U, E>>,
}

impl<T, S, U, E, N, F> Fns<T, S, U, E, N, F> {
    pub(crate) fn new(init: N, f: F) -> Self {
        Fns {
            init,
            f,
            _types: PhantomData,
        }
    }
}

impl<T, S, U, E, N, F> Work for Fns<T, S, U, E, N, F>
where
    T: Send,
    S: Send,
    U: Send,
    E: Send,
    N: Fn() -> S + Send + Sync,
    F: Fn(&mut S, T) -> Result<U, E> + Send + Sync,
{
    type Item = T;
    type State = S;
    type Out = U;
    type Err = E;

    #[inline]
    fn init(&self) -> S {
        (self.init)()
    }

    #[inline]
    fn call(&self, state: &mut S, item: T) -> Result<U, E> {
        (self.f)(state, item)
    }
}

/// One state slot per worker of the pool (module docs, steps 1 and 3). Each slot holds a
/// boxed state or null; a swap takes it out, so no two runs ever share one state.
pub(crate) struct StateSlots<S> {
    slots: Box<[AtomicPtr<S>]>,
}

impl<S> StateSlots<S> {
    fn new(workers: usize) -> Self {
        StateSlots {
            slots: (0..workers)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
        }
    }

    /// Takes worker `index`'s state out of its slot, if there is one.
    fn take(&self, index: usize) -> Option<Box<S>> {
        let slot = self.slots.get(index)?;
        // ORDERING: Acquire pairs with the Release swap in `put`: the state's contents,
        // written by the last run (maybe on another thread before a resize), are visible.
        let ptr = slot.swap(std::ptr::null_mut(), Ordering::Acquire);
        // SAFETY: a non-null slot holds a pointer from Box::into_raw in `put`, and the swap
        // made it ours alone.
        (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) })
    }

    /// Puts a state back; if the slot was refilled meanwhile, the state displaced is dropped.
    fn put(&self, index: usize, state: Box<S>) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        // ORDERING: AcqRel: Release publishes the state to the next `take`; Acquire takes
        // ownership of a displaced one.
        let old = slot.swap(Box::into_raw(state), Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: as in `take`: the swap made the displaced state ours.
            drop(unsafe { Box::from_raw(old) });
        }
    }
}

impl<S> Drop for StateSlots<S> {
    fn drop(&mut self) {
        for slot in self.slots.iter() {
            // ORDERING: Acquire: the last `put` may have been on another thread; we are the
            // last owner, so nothing races this swap.
            let ptr = slot.swap(std::ptr::null_mut(), Ordering::Acquire);
            if !ptr.is_null() {
                // SAFETY: the last owner: every slot's state is ours.
                drop(unsafe { Box::from_raw(ptr) });
            }
        }
    }
}

/// What every group of one stream reads besides the work: when to stop, the token, the
/// progress observer, and the sizing hint.
pub(crate) struct Control {
    /// Items with an index at or past this never start (an error, a panic, or a drop).
    stop_at: AtomicU64,
    token: Option<CancelToken>,
    progress: Option<Progress>,
    /// Nanoseconds per item lately (0: none measured yet); see `record_item_ns`.
    item_ns: AtomicU64,
}

impl Control {
    pub(crate) fn new(token: Option<CancelToken>, progress: Option<Progress>) -> Self {
        Control {
            stop_at: AtomicU64::new(u64::MAX),
            token,
            progress,
            item_ns: AtomicU64::new(0),
        }
    }

    /// No item at index `index` or later starts from now on.
    pub(crate) fn stop_from(&self, index: u64) {
        // ORDERING: AcqRel: pairs with the Acquire loads in `stop_index` (a later item, on
        // any worker, sees it).
        self.stop_at.fetch_min(index, Ordering::AcqRel);
    }

    /// The first index that may not start.
    #[inline]
    pub(crate) fn stop_index(&self) -> u64 {
        // ORDERING: Acquire pairs with `stop_from`.
        self.stop_at.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.token.as_ref().is_some_and(CancelToken::is_cancelled)
    }

    /// Nanoseconds per item lately (0 if nothing ran yet).
    pub(crate) fn item_ns(&self) -> u64 {
        // ORDERING: Relaxed: a sizing hint only.
        self.item_ns.load(Ordering::Relaxed)
    }

    /// Folds one group's cost per item into the estimate: a lower figure is taken at once, a
    /// higher one a quarter at a time — a group the OS preempted mid-run looks slow, and
    /// should not shrink the groups that follow by much.
    fn record_item_ns(&self, ns: u64) {
        let ns = ns.max(1);
        // ORDERING: Relaxed: a sizing hint for the feeder, nothing else (two workers racing
        // here lose one sample, which is harmless).
        let old = self.item_ns.load(Ordering::Relaxed);
        let new = if old == 0 || ns <= old {
            ns
        } else {
            old + (ns - old) / 4
        };
        // ORDERING: Relaxed: as above.
        self.item_ns.store(new.max(1), Ordering::Relaxed);
    }

    pub(crate) fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }
}

/// Runs groups of one stream; the closures' types erased (one virtual call per group).
pub(crate) trait Runs<T, U, E>: Send + Sync {
    fn run(&self, items: Vec<T>, first: u64, weights: &[u64]) -> Ran<U, E>;
    fn control(&self) -> &Control;
}

/// What the groups of one stream share: the work, its state slots, the control.
pub(crate) struct Shared<W: Work> {
    work: W,
    slots: StateSlots<W::State>,
    control: Control,
}

impl<W: Work> Shared<W> {
    pub(crate) fn new(work: W, workers: usize, control: Control) -> Self {
        Shared {
            work,
            slots: StateSlots::new(workers),
            control,
        }
    }
}

impl<W: Work> Runs<W::Item, W::Out, W::Err> for Shared<W> {
    fn control(&self) -> &Control {
        &self.control
    }

    /// Steps 1–4 (module docs).
    fn run(&self, items: Vec<W::Item>, first: u64, weights: &[u64]) -> Ran<W::Out, W::Err> {
        let start = Instant::now();
        let control = &self.control;
        let mut outs = Vec::with_capacity(items.len());
        let mut error = None;
        let worker = crate::current_worker();
        let body = catch_unwind(AssertUnwindSafe(|| {
            let mut state = match worker.and_then(|i| self.slots.take(i)) {
                Some(state) => state,
                None => Box::new(self.work.init()),
            };
            for (index, item) in (first..).zip(items) {
                if index >= control.stop_index() || control.is_cancelled() {
                    break;
                }
                match self.work.call(&mut state, item) {
                    Ok(out) => outs.push(out),
                    Err(e) => {
                        control.stop_from(index + 1);
                        error = Some((index, e));
                        break;
                    }
                }
            }
            if let Some(i) = worker {
                self.slots.put(i, state);
            }
        }));
        let done = outs.len();
        let failure = match body {
            Ok(()) => error.map(|(i, e)| (i, Failure::Error(e))),
            Err(payload) => {
                let at = first + done as u64;
                control.stop_from(at + 1);
                Some((at, Failure::Panic(payload)))
            }
        };
        if done > 0 {
            control.record_item_ns(start.elapsed().as_nanos() as u64 / done as u64);
        }
        if let Some(p) = &control.progress {
            let weight = weights.get(..done).map_or(0, |w| w.iter().sum());
            p.add_done(done as u64, weight);
        }
        Ran {
            outs,
            failure,
            lost: None,
        }
    }
}

/// Why a group stopped early.
pub(crate) enum Failure<E> {
    Error(E),
    Panic(Payload),
}

/// What a group did: the outputs of the items that ran (a prefix of the group), the failure
/// that stopped it (with the item's index), or why the pool did not run it at all.
pub(crate) struct Ran<U, E> {
    pub(crate) outs: Vec<U>,
    pub(crate) failure: Option<(u64, Failure<E>)>,
    pub(crate) lost: Option<TaskError>,
}

/// The node (module docs).
#[repr(C)]
pub(crate) struct Group<'a, T, U, E> {
    link: Link,
    /// Moved out by whoever pushes the node (to outlive the push); never dropped in place.
    list: ManuallyDrop<Arc<ReadyList>>,
    shared: TaskArc<dyn Runs<T, U, E> + 'a>,
    pub(crate) seq: u64,
    pub(crate) first: u64,
    pub(crate) len: usize,
    items: Vec<T>,
    weights: Vec<u64>,
    pub(crate) ran: Option<Ran<U, E>>,
}

// SAFETY: the link's raw pointer belongs to the ready-list protocol; everything else a group
// holds is Send (T, U, E: Send; `Runs` is Send + Sync), and a group is only ever touched by
// its current owner.
unsafe impl<T: Send, U: Send, E: Send> Send for Group<'_, T, U, E> {}

impl<'a, T: Send, U: Send, E: Send> Group<'a, T, U, E> {
    /// A new node, as a raw pointer for `Task::from_raw`.
    pub(crate) fn new_raw(
        list: Arc<ReadyList>,
        shared: TaskArc<dyn Runs<T, U, E> + 'a>,
        seq: u64,
        first: u64,
        items: Vec<T>,
        weights: Vec<u64>,
    ) -> *mut Self {
        Box::into_raw(Box::new(Group {
            link: Link::new(),
            list: ManuallyDrop::new(list),
            shared,
            seq,
            first,
            len: items.len(),
            items,
            weights,
            ran: None,
        }))
    }

    /// Step 5: hands the node to the consumer (or frees it, if the consumer is gone).
    ///
    /// # Safety
    /// `this` is a live node owned by the caller, pushed never before.
    unsafe fn publish(this: *mut Self) {
        // SAFETY: ours (the contract); the list is moved out once, here, so the reference
        // outlives the push even if the consumer frees the node right after it.
        let list = unsafe { ManuallyDrop::take(&mut (*this).list) };
        // A failure (or a group that never ran) stops the stream: the consumer should see it
        // now, not when the batch it waits for is complete.
        // SAFETY: ours until pushed (the contract).
        let urgent = unsafe { (*this).ran.as_ref() }
            .is_some_and(|ran| ran.failure.is_some() || ran.lost.is_some());
        // SAFETY: `Link` is the first field of a `#[repr(C)]` node, ours until pushed.
        if let Pushed::Closed(node) = unsafe { list.push(this.cast::<Link>(), urgent) } {
            // SAFETY: the list refused it: still ours, from Box::into_raw in `new_raw`.
            drop_quietly(
                unsafe { Box::from_raw(node.cast::<Self>()) },
                "a stream group",
            );
        }
        drop(list);
    }
}

impl<T, U, E> Group<'_, T, U, E> {
    /// Takes a node the consumer received from the ready list.
    ///
    /// # Safety
    /// `link` came out of this stream's ready list (so it is a `Group` of these types from `new_raw`,
    /// published once), and is owned by the caller.
    pub(crate) unsafe fn from_link(link: *mut Link) -> Box<Self> {
        // SAFETY: the contract; the `list` field was moved out in `publish` and is
        // ManuallyDrop, so dropping the box does not touch it again.
        unsafe { Box::from_raw(link.cast::<Self>()) }
    }
}

impl<T: Send, U: Send, E: Send> RawJob for Group<'_, T, U, E> {
    const TRACKED: bool = true;
    const CANCELLABLE: bool = true;

    unsafe fn execute(this: *const Self) -> Outcome {
        let this = this as *mut Self;
        // SAFETY: the task owned the node, and now we do (RawJob contract) until `publish`.
        let group = unsafe { &mut *this };
        let items = std::mem::take(&mut group.items);
        let ran = group.shared.run(items, group.first, &group.weights);
        group.ran = Some(ran);
        // SAFETY: ours, never published before.
        unsafe { Group::publish(this) };
        Outcome::Completed
    }

    unsafe fn discard(this: *const Self, why: Discard) -> Discarded {
        let this = this as *mut Self;
        // SAFETY: as in `execute`.
        let group = unsafe { &mut *this };
        drop_quietly(std::mem::take(&mut group.items), "a stream group's items");
        group.ran = Some(Ran {
            outs: Vec::new(),
            failure: None,
            lost: Some(match why {
                Discard::Reject => TaskError::Rejected,
                Discard::Cancel => TaskError::Cancelled,
                Discard::NoLane => TaskError::NoBlockingLane,
            }),
        });
        // SAFETY: as in `execute`.
        unsafe { Group::publish(this) };
        Discarded::Reported
    }
}
