//! The blocking lane: the `+ blocking_io` term of the sizing rule.
//!
//! At most `max` threads ([`Sizing::blocking_io`](crate::Sizing::blocking_io), changed at run
//! time by [`Pool::set_blocking_io`](crate::Pool::set_blocking_io)), started lazily when a task
//! arrives and no idle thread is there (or all at once by
//! [`Builder::prestart_blocking`](crate::Builder::prestart_blocking)), leaving after an idle
//! keep-alive. The lane has its own queue and bound: its threads never look at the CPU
//! queues, and CPU workers never look at it, so a blocking call can never stall a CPU worker.
//!
//! # The lane word (one `AtomicU64`, see [`Word`])
//!
//! - `live` — threads started and not exiting;
//! - `idle` — threads waiting for work that no producer has claimed;
//! - `notified` — idle threads a producer has claimed, not yet back at work;
//! - `starting` (one bit) — a thread is being started for a producer and has not yet looked
//!   at the queue.
//!
//! Counts are anonymous: a claim takes *an* idle thread, and whichever idle thread next looks
//! at the word consumes it.
//!
//! # Producer ([`Lane::push`]) — numbered steps
//!
//! 1. Admission by the lane's own bound (`bound.rs`).
//! 2. Push the task onto the lane's queue.
//! 3. `fence(SeqCst)`.
//! 4. CAS the word: `idle > 0` → `idle − 1, notified + 1`, then take and release the lock and
//!    notify one waiter;
//!    else `live < max` and not `starting` → `live + 1, starting` and start a thread;
//!    else nothing: a thread on its way will look at the queue (step 0 below), or every live
//!    thread is busy and takes the task when it finishes its own.
//!
//! Starting a thread takes tens of µs, so a burst of tasks into an empty lane would otherwise
//! cost its submitter one start per task. With `starting`, the submitter starts at most one
//! thread at a time and each new thread starts the next (step 0): the lane still grows by one
//! thread per task queued behind the busy ones, while the submitter goes on submitting.
//!
//! # Lane thread — numbered steps
//!
//! 0. Started for a producer: clear `starting`, `fence(SeqCst)`, and if the queue holds more
//!    than the one task this thread takes, do the producer's step 4 once more (claim an idle
//!    thread, or start the next one).
//! 1. Pop a task and run it (or, during `shutdown_now`, cancel it); repeat.
//! 2. Queue empty: if `live > max` (the lane shrank) or the lane is closed, leave (`live − 1`).
//! 3. Otherwise `idle + 1`, `fence(SeqCst)`, and look at the queue again: a task there → undo
//!    (`idle − 1`, or `notified − 1` if a producer claimed us meanwhile) and go to 1.
//! 4. Under the lock, until claimed: a claim (`notified > 0`) → `notified − 1`, go to 1; the
//!    lane closed, shrank below `live`, or the keep-alive ran out → `idle − 1, live − 1`
//!    and leave; else wait on the condvar (at most the keep-alive).
//!
//! # Why no task waits forever
//!
//! The producer pushes, fences, reads the word; the thread adds itself to `idle`, fences,
//! reads the queue. With the fences ordered, either the producer sees the idle thread (and
//! claims it: the claim is read under the lock the thread waits with, so its notification
//! cannot be missed), or the thread's step-3 look sees the task. A producer that does nothing
//! because `starting` is set is covered the same way by step 0: the starting thread clears the
//! bit, fences, reads the queue, so either the producer saw the bit clear (and acted itself) or
//! the thread sees its task — and runs it, or starts a thread for it when the queue holds more
//! than one. Every skipped task thus still gets a thread of its own, up to `max`: a blocking
//! task that waits for another queued behind it is not stranded. A thread leaves only by a
//! CAS on the word that finds nobody's claim pending for it, so a producer's claim never
//! targets a thread that has gone: the CAS that loses re-reads the word and, finding no idle
//! thread, starts one. With `max = 0` and no live thread, the producer drains the queue
//! itself (the tasks report [`TaskError::NoBlockingLane`](crate::TaskError::NoBlockingLane)).

use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use crate::lane::bound::{Bound, Refused, Wait};
use crate::metrics::BlockingMetrics;
use crate::sync::{
    fence, thread, thread_local, Arc, AtomicU64, AtomicU8, AtomicUsize, Condvar, Injector, Mutex,
    Ordering, StatCounter, Steal,
};
use crate::sync::{thread_is_finished, wait_until_deadline, SeededBugs};
use crate::task::slot::{Discard, Discarded, Outcome, Task};

const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
const LIVE: u64 = 1;
const IDLE: u64 = 1 << FIELD_BITS;
const NOTIFIED: u64 = 1 << (2 * FIELD_BITS);
/// The `starting` bit, above the three fields.
const STARTING: u64 = 1 << (3 * FIELD_BITS);

/// One snapshot of the lane word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Word(u64);

impl Word {
    fn live(self) -> usize {
        (self.0 & FIELD_MASK) as usize
    }
    fn idle(self) -> usize {
        ((self.0 >> FIELD_BITS) & FIELD_MASK) as usize
    }
    fn notified(self) -> usize {
        ((self.0 >> (2 * FIELD_BITS)) & FIELD_MASK) as usize
    }
    fn starting(self) -> bool {
        self.0 & STARTING != 0
    }
}

/// Lane state: open, closed (drain then leave), or closed and cancelling.
const OPEN: u8 = 0;
const CLOSED: u8 = 1;
const CANCELLING: u8 = 2;

struct Shared {
    queue: Injector<Task>,
    bound: Bound,
    word: AtomicU64,
    max: AtomicUsize,
    state: AtomicU8,
    lock: Mutex<()>,
    wake: Condvar,
    /// Signalled (under `lock`) by every thread that leaves.
    exited: Condvar,
    keep_alive: Duration,
    stack_size: Option<usize>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
    next_name: AtomicUsize,
    submitted: StatCounter,
    completed: StatCounter,
    panicked: StatCounter,
    cancelled: StatCounter,
    refused: StatCounter,
    rejected: StatCounter,
    busy: StatCounter,
    seeded_bugs: SeededBugs,
}

/// The blocking lane of one pool (module docs).
pub(crate) struct Lane(Arc<Shared>);

/// Options of the lane, from the builder.
pub(crate) struct LaneConfig {
    pub(crate) max: usize,
    pub(crate) capacity: Option<usize>,
    pub(crate) keep_alive: Duration,
    pub(crate) stack_size: Option<usize>,
    pub(crate) seeded_bugs: SeededBugs,
}

impl Lane {
    pub(crate) fn new(config: LaneConfig) -> Lane {
        Lane(Arc::new(Shared {
            queue: Injector::new(),
            bound: Bound::new(config.capacity, config.seeded_bugs),
            word: AtomicU64::new(0),
            max: AtomicUsize::new(config.max),
            state: AtomicU8::new(OPEN),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            exited: Condvar::new(),
            keep_alive: config.keep_alive,
            stack_size: config.stack_size,
            threads: Mutex::new(Vec::new()),
            next_name: AtomicUsize::new(0),
            submitted: StatCounter::new(0),
            completed: StatCounter::new(0),
            panicked: StatCounter::new(0),
            cancelled: StatCounter::new(0),
            refused: StatCounter::new(0),
            rejected: StatCounter::new(0),
            busy: StatCounter::new(0),
            seeded_bugs: config.seeded_bugs,
        }))
    }

    /// The most threads the lane may run now.
    pub(crate) fn max(&self) -> usize {
        // ORDERING: Relaxed: a setting; the word's CAS re-reads it.
        self.0.max.load(Ordering::Relaxed)
    }

    fn is_open(&self) -> bool {
        // ORDERING: Relaxed: a closed lane is also signalled under the lock (step 4).
        self.0.state.load(Ordering::Relaxed) == OPEN
    }

    /// Step 1; `closed` adds the caller's own refusal (the pool shutting down).
    pub(crate) fn admit(&self, wait: Wait, closed: impl Fn() -> bool) -> Result<(), Refused> {
        self.0.bound.admit(wait, || closed() || !self.is_open())
    }

    /// A submitter found the lane's queue full and did not wait (or not long enough).
    pub(crate) fn count_refused(&self) {
        // ORDERING: Relaxed: a statistic.
        self.0.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The lane will not take `task`: the pool is shut down ([`Discard::Reject`]) or the
    /// lane has no thread ([`Discard::NoLane`]). Counted as rejected; its handle reports it.
    #[cold]
    pub(crate) fn refuse(&self, task: Task, why: Discard) {
        // A fresh task, never queued: nobody could have cancelled it.
        let discarded = task.discard(why);
        debug_assert_eq!(discarded, Discarded::Reported, "a fresh blocking task");
        self.count_rejected();
    }

    /// A call the lane refused for good (shut down, or no thread), its closure handed back.
    pub(crate) fn count_rejected(&self) {
        // ORDERING: Relaxed: a statistic.
        self.0.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Steps 2–4, after [`admit`](Lane::admit).
    pub(crate) fn push(&self, task: Task) {
        // ORDERING: Relaxed: a statistic.
        self.0.submitted.fetch_add(1, Ordering::Relaxed);
        self.0.queue.push(task);
        // ORDERING: pairs with the fence in the thread's step 3.
        fence(Ordering::SeqCst);
        if !self.wake_or_start() {
            self.drain_if_no_lane();
        }
    }

    /// Step 4: claims an idle thread or starts one; false if there is no thread at all and
    /// none may be started.
    fn wake_or_start(&self) -> bool {
        let s = &*self.0;
        // ORDERING: Acquire/AcqRel: the word's RMW chain; the fences order it with the queue.
        let mut cur = Word(s.word.load(Ordering::Acquire));
        loop {
            let (new, action) = if cur.idle() > 0 {
                (cur.0 - IDLE + NOTIFIED, Action::Notify)
            } else if cur.live() < self.max() && self.is_open() {
                if cur.starting() {
                    // The thread being started looks at the queue after us (module docs).
                    return true;
                }
                (cur.0 + LIVE + STARTING, Action::Start)
            } else {
                return cur.live() > 0;
            };
            match s
                .word
                .compare_exchange_weak(cur.0, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    match action {
                        Action::Notify => {
                            // The claim is in the word already; taking the lock once orders
                            // it before the wait of a thread that is between its look at the
                            // word and its wait (it holds the lock there). The signal follows
                            // the unlock, so the thread woken does not block at once on a lock
                            // its waker still holds (`park.rs` says the same of workers).
                            drop(s.lock.lock().unwrap_or_else(|e| e.into_inner()));
                            s.wake.notify_one();
                        }
                        Action::Start => self.start_thread(true),
                    }
                    return true;
                }
                Err(actual) => cur = Word(actual),
            }
        }
    }

    /// Starts a thread that has its `live` already. `handed`: started by a producer's step 4
    /// with `starting` set, which the thread clears in its step 0.
    #[cold]
    fn start_thread(&self, handed: bool) {
        let s = &*self.0;
        // ORDERING: Relaxed: only makes names unique.
        let n = s.next_name.fetch_add(1, Ordering::Relaxed);
        let mut builder = thread::Builder::new().name(format!("corepool-io-{n}"));
        if let Some(size) = s.stack_size {
            builder = builder.stack_size(size);
        }
        let lane = Lane(Arc::clone(&self.0));
        match builder.spawn(move || {
            // Dropped explicitly on the normal way out. A lane thread never unwinds (tasks run
            // under catch_unwind) except when a failed loom model tears its threads down; then
            // it leaks rather than touch loom objects outside the model and abort.
            let lane = ManuallyDrop::new(lane);
            thread_main(&lane, handed);
            drop(ManuallyDrop::into_inner(lane));
        }) {
            Ok(handle) => {
                let mut threads = s.threads.lock().unwrap_or_else(|e| e.into_inner());
                threads.retain(|h| !thread_is_finished(h));
                threads.push(handle);
            }
            Err(e) => {
                // ORDERING: AcqRel: undo our `live + 1` (and `starting`, which nobody else
                // clears or sets while it is ours). Tasks queued behind it are run by the
                // threads already live, or refused below if there are none.
                let undo = if handed { LIVE + STARTING } else { LIVE };
                s.word.fetch_sub(undo, Ordering::AcqRel);
                eprintln!("corepool: could not start a blocking-lane thread: {e}");
                self.drain_if_no_lane();
            }
        }
    }

    /// With no live thread and none allowed, nothing would ever run the queue: refuse what is
    /// in it (module docs).
    #[cold]
    fn drain_if_no_lane(&self) {
        let s = &*self.0;
        // ORDERING: Acquire: the word's chain.
        if Word(s.word.load(Ordering::Acquire)).live() > 0 {
            return;
        }
        let why = if self.is_open() {
            Discard::NoLane
        } else {
            Discard::Reject
        };
        while let Some(task) = pop(&s.queue) {
            s.bound.release(1);
            // ORDERING: Relaxed: statistics.
            if task.discard(why) == Discarded::AlreadyCancelled {
                s.cancelled.fetch_add(1, Ordering::Relaxed);
            } else {
                // Accepted, then refused after all: it moves from submitted to rejected.
                s.submitted.fetch_sub(1, Ordering::Relaxed);
                s.rejected.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Starts every thread the lane may have now, rather than one per task as work arrives
    /// (`Builder::prestart_blocking`): each takes `live + 1` as a producer's step 4 would,
    /// then waits for work like any idle thread, and leaves after the keep-alive.
    pub(crate) fn prestart(&self) {
        let s = &*self.0;
        // ORDERING: Acquire/AcqRel: the word's RMW chain, as in `wake_or_start`.
        let mut cur = Word(s.word.load(Ordering::Acquire));
        while cur.live() < self.max() && self.is_open() {
            match s.word.compare_exchange_weak(
                cur.0,
                cur.0 + LIVE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.start_thread(false);
                    // ORDERING: Acquire: as above.
                    cur = Word(s.word.load(Ordering::Acquire));
                }
                Err(actual) => cur = Word(actual),
            }
        }
    }

    /// Changes `max`. Growing starts threads for what is queued; shrinking lets surplus
    /// threads leave as soon as they are idle.
    pub(crate) fn set_max(&self, max: usize) {
        let s = &*self.0;
        // ORDERING: Relaxed: re-read by every CAS on the word and, by waiters, under the lock.
        let old = s.max.swap(max, Ordering::Relaxed);
        if max > old {
            for _ in 0..(max - old).min(s.queue.len()) {
                self.wake_or_start();
            }
        }
        let guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
        s.wake.notify_all();
        drop(guard);
        // More threads drain the queue sooner: let blocked submitters look again.
        s.bound.wake_all();
        if max == 0 {
            self.drain_if_no_lane();
        }
    }

    /// Lets submitters waiting for room in the lane's queue look again (the pool is shutting
    /// down: they are refused now, not when the lane's threads have left).
    pub(crate) fn wake_submitters(&self) {
        self.0.bound.wake_all();
    }

    /// True on one of this lane's threads (which must not wait for the lane's threads).
    pub(crate) fn is_current(&self) -> bool {
        let me: *const Shared = &*self.0;
        CURRENT_LANE.with(|c| std::ptr::eq(c.get(), me.cast()))
    }

    /// Closes the lane without waiting: its threads finish the queue — or, with `cancel`,
    /// discard what they have not started — and leave on their own.
    pub(crate) fn close(&self, cancel: bool) {
        let s = &*self.0;
        // ORDERING: Relaxed: the notification below is sent under the lock the threads read
        // the state under.
        s.state
            .fetch_max(if cancel { CANCELLING } else { CLOSED }, Ordering::Relaxed);
        let guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
        s.wake.notify_all();
        drop(guard);
    }

    /// Closes the lane (no more tasks), lets its threads finish the queue — or, with
    /// `cancel`, discard what they have not started — and joins them. False if the deadline
    /// passed first (the threads then finish on their own).
    pub(crate) fn shut_down(&self, cancel: bool, deadline: Option<Instant>) -> bool {
        let s = &*self.0;
        // ORDERING: Relaxed: the notification below is sent under the lock the threads read
        // the state under.
        s.state
            .fetch_max(if cancel { CANCELLING } else { CLOSED }, Ordering::Relaxed);
        let mut guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
        s.wake.notify_all();
        // ORDERING: Acquire: a thread's leaving CAS comes before its notification (under
        // this lock).
        while Word(s.word.load(Ordering::Acquire)).live() > 0 {
            match wait_until_deadline(&s.exited, guard, deadline) {
                Ok(g) => guard = g,
                Err(_) => return false,
            }
        }
        drop(guard);
        s.bound.wake_all();
        let threads = std::mem::take(&mut *s.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            // A lane thread never unwinds (tasks run under catch_unwind).
            let _ = t.join();
        }
        // A producer that was admitted before the close may have pushed after the threads
        // left: nothing will run that now.
        while let Some(task) = pop(&s.queue) {
            s.bound.release(1);
            task.discard(Discard::Cancel);
            // ORDERING: Relaxed: a statistic.
            s.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Closes the lane without waiting, joins the threads that have left and lets go of the
    /// rest (detached: they finish on their own); returns the names of those let go.
    pub(crate) fn detach_unfinished(&self, cancel: bool) -> Vec<String> {
        self.close(cancel);
        let threads =
            std::mem::take(&mut *self.0.threads.lock().unwrap_or_else(|e| e.into_inner()));
        crate::sync::detach_unfinished(threads)
    }

    pub(crate) fn metrics(&self) -> BlockingMetrics {
        let s = &*self.0;
        // ORDERING: Relaxed: statistics.
        let get = |c: &StatCounter| c.load(Ordering::Relaxed);
        // ORDERING: Relaxed: statistics.
        let word = Word(s.word.load(Ordering::Relaxed));
        BlockingMetrics {
            max_threads: self.max(),
            threads: word.live(),
            busy: get(&s.busy) as usize,
            queued: s.queue.len(),
            queue_capacity: s.bound.capacity(),
            submitted: get(&s.submitted),
            completed: get(&s.completed),
            panicked: get(&s.panicked),
            cancelled: get(&s.cancelled),
            refused: get(&s.refused),
            rejected: get(&s.rejected),
        }
    }
}

#[derive(Clone, Copy)]
enum Action {
    Notify,
    Start,
}

fn pop(queue: &Injector<Task>) -> Option<Task> {
    loop {
        match queue.steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}

thread_local! {
    /// The lane whose thread this is (type-erased), null elsewhere. Not `const`: loom's
    /// macro takes no `const` initialiser.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT_LANE: std::cell::Cell<*const ()> = std::cell::Cell::new(std::ptr::null());
}

/// A lane thread (module docs, thread steps).
fn thread_main(lane: &Lane, handed: bool) {
    let s = &*lane.0;
    let me: *const Shared = s;
    CURRENT_LANE.with(|c| c.set(me.cast()));
    if handed {
        hand_on_start(lane);
    }
    loop {
        // Step 1.
        while let Some(task) = pop(&s.queue) {
            s.bound.release(1);
            run(s, task);
        }
        // Steps 2–4.
        if !wait_for_work(s) {
            let guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.exited.notify_all();
            drop(guard);
            return;
        }
    }
}

/// Step 0: a thread started for a producer takes `starting` off and starts (or claims) one
/// more thread if tasks are queued behind the one it will take.
fn hand_on_start(lane: &Lane) {
    let s = &*lane.0;
    // ORDERING: AcqRel: the word's RMW chain.
    s.word.fetch_and(!STARTING, Ordering::AcqRel);
    // ORDERING: pairs with the producers' fence (module docs): a producer that saw
    // `starting` pushed before it, so the look below sees that producer's task.
    fence(Ordering::SeqCst);
    if !s.seeded_bugs.lane_start_without_hand_on() && s.queue.len() > 1 {
        lane.wake_or_start();
    }
}

fn run(s: &Shared, task: Task) {
    // ORDERING: Relaxed: a setting checked per task; a task started just before
    // `shutdown_now` is one that had started.
    if s.state.load(Ordering::Relaxed) == CANCELLING {
        task.discard(Discard::Cancel);
        // ORDERING: Relaxed: a statistic.
        s.cancelled.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // ORDERING: Relaxed: statistics.
    s.busy.fetch_add(1, Ordering::Relaxed);
    let counter = match task.run() {
        Outcome::Completed => &s.completed,
        Outcome::Panicked(_) => &s.panicked,
        Outcome::Cancelled => &s.cancelled,
    };
    // ORDERING: Relaxed: statistics.
    counter.fetch_add(1, Ordering::Relaxed);
    s.busy.fetch_sub(1, Ordering::Relaxed);
}

/// Steps 2–4: true when there is work again, false when the thread must leave (its `live`
/// already taken off the word).
fn wait_for_work(s: &Shared) -> bool {
    // Step 2 and the `idle + 1` of step 3, in one CAS.
    // ORDERING: AcqRel/Acquire: the word's RMW chain.
    let mut cur = Word(s.word.load(Ordering::Acquire));
    loop {
        let leave = surplus_or_closed(s, cur);
        let new = if leave { cur.0 - LIVE } else { cur.0 + IDLE };
        match s
            .word
            .compare_exchange_weak(cur.0, new, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) if leave => return false,
            Ok(_) => break,
            Err(actual) => cur = Word(actual),
        }
    }
    // Step 3. ORDERING: pairs with the producer's fence (module docs).
    fence(Ordering::SeqCst);
    if !s.queue.is_empty() {
        consume_idle_or_claim(s);
        return true;
    }
    // Step 4.
    let mut guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
    let mut timed_out = false;
    loop {
        // ORDERING: Acquire/AcqRel: the word's chain; under the lock, after any notification.
        let mut cur = Word(s.word.load(Ordering::Acquire));
        loop {
            let (new, leaving) = if cur.notified() > 0 {
                (cur.0 - NOTIFIED, false)
            } else if timed_out || surplus_or_closed(s, cur) {
                (cur.0 - IDLE - LIVE, true)
            } else {
                break;
            };
            match s
                .word
                .compare_exchange_weak(cur.0, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    drop(guard);
                    return !leaving;
                }
                Err(actual) => cur = Word(actual),
            }
        }
        let (g, result) = s
            .wake
            .wait_timeout(guard, s.keep_alive)
            .unwrap_or_else(|e| e.into_inner());
        guard = g;
        timed_out = result.timed_out();
    }
}

/// Step 2's test: the lane shrank below the live threads, or closed.
fn surplus_or_closed(s: &Shared, cur: Word) -> bool {
    // ORDERING: Relaxed: settings, re-read on every CAS retry and under the lock.
    cur.live() > s.max.load(Ordering::Relaxed) || s.state.load(Ordering::Relaxed) != OPEN
}

/// Step 3's undo: leave `idle`, or consume the claim a producer made meanwhile.
fn consume_idle_or_claim(s: &Shared) {
    // ORDERING: Acquire/AcqRel: the word's chain.
    let mut cur = Word(s.word.load(Ordering::Acquire));
    loop {
        let new = if cur.idle() > 0 {
            cur.0 - IDLE
        } else {
            debug_assert!(
                cur.notified() > 0,
                "an idle thread is in neither count: {cur:?}"
            );
            cur.0 - NOTIFIED
        };
        match s
            .word
            .compare_exchange_weak(cur.0, new, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return,
            Err(actual) => cur = Word(actual),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_fields_are_independent() {
        let w = Word(3 * LIVE + 2 * IDLE + NOTIFIED);
        assert_eq!((w.live(), w.idle(), w.notified()), (3, 2, 1));
        let max = crate::MAX_THREADS as u64;
        let w = Word(max * LIVE + max * IDLE + max * NOTIFIED);
        let m = crate::MAX_THREADS;
        assert_eq!((w.live(), w.idle(), w.notified()), (m, m, m));
        assert!(!w.starting());
        let w = Word(w.0 + STARTING);
        assert_eq!(
            (w.live(), w.idle(), w.notified(), w.starting()),
            (m, m, m, true)
        );
    }
}
