//! The consumer side of a stream: reads the source on the caller's thread, groups items,
//! submits groups, keeps the window, and receives finished groups from the ready list (in
//! completion order, or put back in input order by a reorder buffer only it touches).
//!
//! Window accounting: `outstanding` counts items taken from the source and not yet handed
//! back — for `map`, an item is handed back when its output is returned to the caller (or
//! when it is known never to produce one); for `for_each`, when its group is received. The
//! feeder takes items only while `outstanding` stays within the window.
//!
//! Waking: with nothing at hand, the consumer waits for about half of the groups out
//! ([`Driver::batch_to_wait_for`]), not for the next one: each wake then hands on, and
//! refills the window by, a batch of groups, while the other half keeps the workers busy.
//! A failure is pushed as urgent and wakes it at once (`ready.rs`).

use std::collections::VecDeque;

use super::group::{Control, Group, Runs};
use super::ready::{self, Link, ReadyList};
use crate::lane::bound::Refused;
use crate::pool::Pool;
use crate::sync::{Arc, TaskArc};
use crate::task::slot::Task;

/// Aim for groups that take about this long to run: long enough to amortise a task's cost
/// (a few hundred ns), short enough to balance and to stop soon after an error.
const TARGET_GROUP_NS: u64 = 20_000;

/// A stream's weigher: the weight (e.g. bytes) of one item, for the progress observer.
pub(crate) type Weigh<'p, T> = Box<dyn Fn(&T) -> u64 + 'p>;

/// Where a stream's groups run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// The CPU workers.
    Cpu,
    /// The blocking lane (`Pool::spawn_blocking`'s threads).
    Blocking,
}

/// An ordered stream's reorder buffer: one slot per group out, oldest first.
type Reorder<'p, T, U, E> = VecDeque<Option<Box<Group<'p, T, U, E>>>>;

pub(crate) struct Driver<'p, I: Iterator, U, E> {
    pool: &'p Pool,
    source: I,
    /// Nothing more will be taken: the source ended, or the stream was stopped.
    source_done: bool,
    list: Arc<ReadyList>,
    shared: TaskArc<dyn Runs<I::Item, U, E> + 'p>,
    weigh: Option<Weigh<'p, I::Item>>,
    lane: Lane,
    window: usize,
    /// Items taken and not yet handed back (module docs).
    pub(crate) outstanding: usize,
    next_index: u64,
    next_seq: u64,
    /// Groups submitted and not yet received.
    in_flight: usize,
    /// Received in completion order, not yet handed on: newest first (pop = oldest).
    arrived: Vec<*mut Link>,
    /// Ordered streams: one slot per group from `base_seq` on, filled as groups arrive.
    reorder: Option<Reorder<'p, I::Item, U, E>>,
    base_seq: u64,
    max_group: usize,
    /// Threads that run the groups (CPU workers, or the blocking lane's maximum).
    workers: usize,
    /// Groups out at most before the first measurement (two per worker).
    ramp_groups: usize,
    /// Wait for every group on drop (work that borrows from the caller) instead of closing.
    must_drain: bool,
    closed: bool,
}

pub(crate) struct Options<'p, T> {
    pub(crate) window: usize,
    pub(crate) ordered: bool,
    pub(crate) weigh: Option<Weigh<'p, T>>,
    pub(crate) lane: Lane,
    pub(crate) must_drain: bool,
}

impl<'p, I, U, E> Driver<'p, I, U, E>
where
    I: Iterator,
    I::Item: Send,
    U: Send,
    E: Send,
{
    pub(crate) fn new(
        pool: &'p Pool,
        source: I,
        shared: TaskArc<dyn Runs<I::Item, U, E> + 'p>,
        options: Options<'p, I::Item>,
    ) -> Self {
        let workers = match options.lane {
            Lane::Cpu => pool.plan().cpu_workers(),
            Lane::Blocking => pool.registry().lane_max(),
        }
        .max(1);
        let window = options.window.max(1);
        Driver {
            pool,
            source,
            source_done: false,
            list: Arc::new(ReadyList::new(pool.registry().seeded_bugs())),
            shared,
            weigh: options.weigh,
            lane: options.lane,
            window,
            outstanding: 0,
            next_index: 0,
            next_seq: 0,
            in_flight: 0,
            arrived: Vec::new(),
            reorder: options.ordered.then(VecDeque::new),
            base_seq: 0,
            // At least two groups per worker fit in the window, so all can be busy.
            max_group: (window / (2 * workers)).max(1),
            ramp_groups: 2 * workers,
            workers,
            must_drain: options.must_drain,
            closed: false,
        }
    }

    pub(crate) fn control(&self) -> &Control {
        self.shared.control()
    }

    /// Items per group: enough for `TARGET_GROUP_NS` at the last measured cost per item, one
    /// while nothing is measured, never more than `max_group`.
    fn group_size(&self) -> usize {
        if self.lane == Lane::Blocking {
            return 1;
        }
        let ns = self.control().item_ns();
        if ns == 0 {
            return 1;
        }
        ((TARGET_GROUP_NS / ns) as usize).clamp(1, self.max_group)
    }

    /// How many finished groups to wait for with none at hand (and `in_flight` ≥ 1): half
    /// of those out, so that a wake hands on a batch, but no more than leaves one group per
    /// worker running meanwhile — and always at least one.
    fn batch_to_wait_for(&self) -> usize {
        let out = self.in_flight;
        let left_running = (out / 2).max(self.workers).min(out - 1);
        out - left_running
    }

    /// Whether a consumer off the pool should spin before it blocks for `want` groups: only
    /// while they are measured to finish within a few spins (or not measured yet). Waiting
    /// for longer — a file's hash, a chunk's parse — a spin would only take CPU from the
    /// workers.
    fn worth_spinning(&self, want: usize) -> bool {
        let expected =
            self.control().item_ns() * self.group_size() as u64 * want as u64 / self.workers as u64;
        expected <= 4 * ready::SPIN_BEFORE_BLOCK.as_nanos() as u64
    }

    /// No more items will be taken, and none not yet started will start.
    pub(crate) fn stop(&mut self) {
        self.source_done = true;
        self.control().stop_from(0);
    }

    /// Nothing from `index` on will start, and nothing more is taken from the source.
    pub(crate) fn stop_feeding_at(&mut self, index: u64) {
        self.source_done = true;
        self.control().stop_from(index);
    }

    pub(crate) fn is_ordered(&self) -> bool {
        self.reorder.is_some()
    }

    /// Takes items and submits groups while the window has room (module docs).
    pub(crate) fn feed(&mut self) {
        // Started on a pool that is shut down (from outside it): one rejected call, reported
        // before any item is taken — not one per group of the window.
        if self.next_seq == 0 && !self.source_done {
            let registry = self.pool.registry();
            if registry.is_shut_down() && !registry.is_current() {
                registry.count_refusal(Refused::Closed, matches!(self.lane, Lane::Blocking));
                super::lost_group(crate::error::TaskError::Rejected);
            }
        }
        while !self.source_done {
            let room = self.window - self.outstanding;
            let size = self.group_size();
            if room == 0 || (room < size && self.in_flight > 0) {
                return;
            }
            // Until one group has run, the cost per item is unknown: a few single items, not
            // a window full of them (ten thousand one-integer tasks before the first measure).
            if self.control().item_ns() == 0 && self.in_flight >= self.ramp_groups {
                return;
            }
            let stop = self.control().stop_index();
            if self.next_index >= stop || self.control().is_cancelled() {
                self.source_done = true;
                return;
            }
            let n = size.min(room).min((stop - self.next_index) as usize);
            let mut items = Vec::with_capacity(n);
            let mut weights = Vec::new();
            for _ in 0..n {
                match self.source.next() {
                    Some(item) => {
                        if let Some(weigh) = &self.weigh {
                            weights.push(weigh(&item));
                        }
                        items.push(item);
                    }
                    None => {
                        self.source_done = true;
                        break;
                    }
                }
            }
            if items.is_empty() {
                return;
            }
            if let Some(p) = self.control().progress() {
                p.add_taken(items.len() as u64, weights.iter().sum());
            }
            self.submit(items, weights);
        }
    }

    fn submit(&mut self, items: Vec<I::Item>, weights: Vec<u64>) {
        let len = items.len();
        let group = Group::new_raw(
            Arc::clone(&self.list),
            TaskArc::clone(&self.shared),
            self.next_seq,
            self.next_index,
            items,
            weights,
        );
        self.next_seq += 1;
        self.next_index += len as u64;
        self.outstanding += len;
        self.in_flight += 1;
        if let Some(reorder) = &mut self.reorder {
            reorder.push_back(None);
        }
        // SAFETY: a fresh node, queued once. It stays valid until run or discarded (it owns
        // itself); what it borrows ('p) outlives it: a driver whose work borrows
        // (`must_drain`) receives every group before it is dropped, and one that closes has
        // only 'static work (StreamMap's bounds).
        let task = unsafe { Task::from_raw(group) };
        let registry = self.pool.registry();
        match self.lane {
            Lane::Cpu => registry.push(task),
            Lane::Blocking => registry.push_blocking(task),
        }
    }

    /// The next finished group in completion order, waiting for one; `None` when no group is
    /// out.
    pub(crate) fn receive(&mut self) -> Option<Box<Group<'p, I::Item, U, E>>> {
        if self.arrived.is_empty() {
            if self.in_flight == 0 {
                return None;
            }
            let want = self.batch_to_wait_for();
            let mut list = ready::wait_take(&self.list, want, self.worth_spinning(want));
            while !list.is_null() {
                self.arrived.push(list);
                // SAFETY: taken out of the list: the chain is ours.
                list = unsafe { ready::next_of(list) };
            }
        }
        let link = self.arrived.pop()?;
        self.in_flight -= 1;
        // SAFETY: every node in this list is a group of this driver, published once.
        Some(unsafe { Group::from_link(link) })
    }

    /// The next group in input order (ordered streams), waiting for it.
    pub(crate) fn next_in_order(&mut self) -> Option<Box<Group<'p, I::Item, U, E>>> {
        loop {
            let reorder = self.reorder.as_mut().expect("an ordered stream");
            if let Some(Some(_)) = reorder.front() {
                self.base_seq += 1;
                return reorder.pop_front().flatten();
            }
            let group = self.receive()?;
            let base = self.base_seq;
            let reorder = self.reorder.as_mut().expect("an ordered stream");
            let slot = (group.seq - base) as usize;
            debug_assert!(reorder[slot].is_none(), "group {} arrived twice", group.seq);
            reorder[slot] = Some(group);
        }
    }

    /// The next group in the stream's order.
    pub(crate) fn next_group(&mut self) -> Option<Box<Group<'p, I::Item, U, E>>> {
        if self.reorder.is_some() {
            self.next_in_order()
        } else {
            self.receive()
        }
    }

    /// Stops the stream and waits until every group out has come back (dropping them).
    pub(crate) fn stop_and_drain(&mut self) {
        self.stop();
        while self.receive().is_some() {}
        if let Some(reorder) = &mut self.reorder {
            reorder.clear();
        }
    }
}

impl<I: Iterator, U, E> Drop for Driver<'_, I, U, E> {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        // No item not yet started will start.
        self.shared.control().stop_from(0);
        if self.must_drain {
            // Work that borrows from the caller: every group must be back before we return.
            while !self.arrived.is_empty() || self.in_flight > 0 {
                if self.arrived.is_empty() {
                    let mut list = ready::wait_take(&self.list, self.in_flight, false);
                    while !list.is_null() {
                        self.arrived.push(list);
                        // SAFETY: taken out of the list: the chain is ours.
                        list = unsafe { ready::next_of(list) };
                    }
                }
                if let Some(link) = self.arrived.pop() {
                    self.in_flight -= 1;
                    // SAFETY: as in `receive`.
                    drop(unsafe { Group::<I::Item, U, E>::from_link(link) });
                }
            }
            return;
        }
        // 'static work: leave; groups still out free themselves when they find the list closed.
        let mut list = self.list.close();
        while !list.is_null() {
            self.arrived.push(list);
            // SAFETY: taken out of the list by `close`: the chain is ours.
            list = unsafe { ready::next_of(list) };
        }
        for link in self.arrived.drain(..) {
            // SAFETY: as in `receive`.
            drop(unsafe { Group::<I::Item, U, E>::from_link(link) });
        }
    }
}
