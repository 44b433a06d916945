//! What the loom models in `loom-tests/` reach through `corepool::__loom` (loom builds only).
//!
//! [`Workers`] is a pool's shared state without a pool's threads: the model's own loom
//! threads play its workers with the real [`WorkerThread`] code, and an outside thread can
//! steal from them. A protocol that needs only a worker and a thief (the join latch) is then
//! checked with two loom threads instead of a whole pool's start, sleep and shutdown, which
//! lets loom afford more preemptions.

use crate::join_handle::JoinHandle;
use crate::lane::blocking::LaneConfig;
use crate::placement::topology::{neighbour_order, Topology};
use crate::pool::Pool;
use crate::sched::registry::Registry;
use crate::sched::start::{self, PoolConfig, Seat};
use crate::sched::worker::WorkerThread;
use crate::sync::{Arc, Deque, SeededBugs, Steal};
use crate::task::cancel::CancelToken;
use crate::task::slot::{Outcome, Task};
use crate::DEFAULT_BLOCKING_KEEP_ALIVE;

/// A registry of `n` worker slots and no threads (module docs).
pub struct Workers {
    registry: Kept<Arc<Registry>>,
    /// Each worker's own deque until a model thread takes its seat ([`Workers::worker`]).
    /// A std mutex: the seats are handed out before the racing starts, and a loom lock would
    /// only add scheduling points.
    deques: Kept<std::sync::Mutex<Vec<Option<Deque<Task>>>>>,
}

impl Workers {
    /// `n` unpinned worker slots (ring neighbours), with `bugs` seeded.
    pub fn new(n: usize, bugs: SeededBugs) -> Workers {
        let neighbours = neighbour_order(&vec![None; n], &Topology::default());
        let seats = neighbours
            .into_iter()
            .enumerate()
            .map(|(i, neighbours)| Seat {
                name: format!("model-worker-{i}"),
                cpu: None,
                neighbours,
            })
            .collect();
        // No blocking lane (no blocking_io threads) and an unbounded injector.
        let (registry, deques) = start::registry(
            seats,
            PoolConfig {
                cpu_to_worker: Box::new([]),
                handlers: Default::default(),
                queue_capacity: None,
                spin_window: std::time::Duration::ZERO,
                lane: LaneConfig {
                    max: 0,
                    capacity: None,
                    keep_alive: DEFAULT_BLOCKING_KEEP_ALIVE,
                    stack_size: None,
                    seeded_bugs: bugs,
                },
                seeded_bugs: bugs,
                caller_worker: false,
            },
        );
        Workers {
            registry: Kept::new(registry),
            deques: Kept::new(std::sync::Mutex::new(
                deques.into_iter().map(Some).collect(),
            )),
        }
    }

    /// Worker `index`'s seat, for the calling model thread (or one it moves it to).
    ///
    /// # Panics
    /// If the seat was already taken.
    pub fn worker(&self, index: usize) -> Worker {
        let deque = self.deques.lock().unwrap()[index]
            .take()
            .unwrap_or_else(|| panic!("worker {index}'s seat is already taken"));
        Worker(Kept::new(WorkerThread::new(
            index,
            deque,
            Arc::clone(&self.registry),
        )))
    }

    /// A thread outside the workers that steals from them, to move into a model thread.
    pub fn thief(&self) -> Thief {
        Thief(Kept::new(Arc::clone(&self.registry)))
    }
}

/// One worker's seat: the real worker code, run by a model thread.
pub struct Worker(Kept<WorkerThread>);

impl Worker {
    /// Runs `f` as this worker: inside, `corepool::join`, `corepool::spawn` and helping waits
    /// behave exactly as on a pool thread.
    ///
    /// A panic in `f` fails the model; the pointer is then left set, because a failed model
    /// unwinds outside its execution, where touching a loom thread-local aborts.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        self.0.set_current();
        let result = f();
        WorkerThread::clear_current();
        result
    }
}

/// An outside thread stealing from the workers ([`Workers::thief`]).
pub struct Thief(Kept<Arc<Registry>>);

impl Thief {
    /// Knocks on worker `victim`, as a searcher that found its deque empty does
    /// (`heartbeat.rs`): the victim's next join promotes its oldest private half onto its
    /// deque, where [`steal_and_run`](Self::steal_and_run) can find it.
    pub fn knock(&self, victim: usize) {
        self.0.workers[victim].knock();
    }

    /// Takes the oldest task from worker `victim`'s deque and runs it on the calling thread.
    /// False if there was none.
    pub fn steal_and_run(&self, victim: usize) -> bool {
        let scratch = Deque::new_lifo();
        match self.0.workers[victim].stealer.steal_batch_and_pop(&scratch) {
            Steal::Success(task) => {
                drop(task.run());
                debug_assert!(scratch.is_empty(), "a one-task steal moved more");
                true
            }
            Steal::Empty | Steal::Retry => false,
        }
    }
}

/// Inside [`Worker::enter`]: submits `f` to the entered worker's own deque, as
/// `pool.submit` does on a worker, and returns its handle; a [`Thief`] may then steal it, and
/// the handle's `join` helps (`JoinHandle::join` on a worker).
///
/// # Panics
/// Outside [`Worker::enter`].
pub fn submit_here<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (task, handle) = Task::submit(f, None);
    WorkerThread::with_current(|w| {
        let w = w.expect("submit_here outside Worker::enter");
        w.count_submitted();
        w.push_local(task);
        handle.run_by(w.registry())
    })
}

/// `pool.set_active_workers(n)` without its clamp to at least one, so a model can pause a
/// one-worker pool's only worker (the gate is per worker: the same code pauses worker 1 of
/// two, at the cost of a third model thread).
pub fn set_active_workers_unclamped(pool: &Pool, n: usize) -> usize {
    pool.registry().set_active_workers(n)
}

/// A cancel token with `bugs` seeded (the token's own negative controls).
pub fn token_with_bugs(bugs: SeededBugs) -> CancelToken {
    CancelToken::with_seeded_bugs(bugs)
}

/// A task bound to `token` as `pool.submit_with` binds it, but queued nowhere: the model's
/// own thread starts it ([`Unqueued::run`]) where a worker would.
pub fn submit_bound<F, T>(token: &CancelToken, f: F) -> (Unqueued, JoinHandle<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (task, handle) = Task::submit(f, Some(token));
    (Unqueued(task), handle)
}

/// A task of [`submit_bound`], not in any queue. Dropped unrun, it is rejected (or stays
/// cancelled, if it was).
pub struct Unqueued(Task);

impl Unqueued {
    /// Starts the task as a worker would: true if it ran, false if a cancel had taken it.
    pub fn run(self) -> bool {
        match self.0.run() {
            Outcome::Completed | Outcome::Panicked(_) => true,
            Outcome::Cancelled => false,
        }
    }
}

/// Owns a value holding loom objects and drops it normally — except while a failed model
/// unwinds, outside its execution, where touching a loom object aborts the test run; then it
/// leaks it (as `Pool` does).
struct Kept<T>(std::mem::ManuallyDrop<T>);

impl<T> Kept<T> {
    fn new(value: T) -> Self {
        Kept(std::mem::ManuallyDrop::new(value))
    }
}

impl<T> std::ops::Deref for Kept<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Drop for Kept<T> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: dropped once, here, and never used after.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.0) };
        }
    }
}
