//! Starting a pool: the one place that builds a registry with its worker slots and deques,
//! shared by `Builder::build` (which then starts a thread per worker here) and the loom door
//! (whose model threads take the seats instead).
//!
//! # A worker thread's life
//!
//! 1. Pin itself to its planned CPU, if it has one (the outcome is its pin status).
//! 2. Report with [`Lifecycle::worker_started`](super::lifecycle::Lifecycle::worker_started)
//!    and wait for the builder's verdict (`lifecycle.rs`, start).
//! 3. On "go", run the start handler, if any, then the worker loop (`worker.rs`) until the
//!    pool terminates, then the exit handler, if any. The builder has returned by then: it
//!    does not wait for start handlers. A worker told to leave (a failed build) runs
//!    neither.
//! 4. Report its exit; shutdown joins the thread (so it waits for exit handlers).

use std::io;
use std::mem::ManuallyDrop;
use std::time::Duration;

use crate::lane::blocking::{Lane, LaneConfig};
use crate::placement::sizing::{PinStatus, WorkerPlacement};
use crate::sched::counters::WorkerCounters;
use crate::sched::fifo::Fifo;
use crate::sched::heartbeat::Gate;
use crate::sched::park::Parker;
use crate::sched::registry::{Handlers, Registry, WorkerSlot};
use crate::sched::worker::WorkerThread;
use crate::sync::tuning::START_HANDSHAKE;
use crate::sync::{pin_current_thread, thread, Arc, CachePadded, Deque, Injector, SeededBugs};
use crate::task::slot::Task;

/// One worker as the builder planned it.
pub(crate) struct Seat {
    /// Its thread's name (also in panic reports).
    pub(crate) name: String,
    /// The CPU it will be pinned to, if it will be.
    pub(crate) cpu: Option<usize>,
    /// Every other worker, nearest first (`topology.rs`).
    pub(crate) neighbours: Vec<usize>,
}

/// Everything about a pool that is not per worker.
pub(crate) struct PoolConfig {
    /// OS CPU id → the first worker pinned to it.
    pub(crate) cpu_to_worker: Box<[Option<usize>]>,
    pub(crate) handlers: Handlers,
    /// The injector's bound.
    pub(crate) queue_capacity: Option<usize>,
    /// How long the last searcher spins before it sleeps.
    pub(crate) spin_window: Duration,
    pub(crate) lane: LaneConfig,
    pub(crate) seeded_bugs: SeededBugs,
    /// Worker 0 is the building thread (`Builder::use_current_thread`): no thread is
    /// started for it; [`take_caller_seat`] makes the caller that worker.
    pub(crate) caller_worker: bool,
}

/// The registry for `seats`, and each worker's own deque (its stealer is in the registry);
/// no thread is started.
pub(crate) fn registry(seats: Vec<Seat>, config: PoolConfig) -> (Arc<Registry>, Vec<Deque<Task>>) {
    let deques: Vec<Deque<Task>> = seats.iter().map(|_| Deque::new_lifo()).collect();
    let slots: Box<[WorkerSlot]> = seats
        .into_iter()
        .zip(&deques)
        .map(|(seat, deque)| WorkerSlot {
            parker: Parker::new(),
            stealer: deque.stealer(),
            neighbours: seat.neighbours.into_boxed_slice(),
            cpu: seat.cpu,
            counters: WorkerCounters::new(),
            name: seat.name,
            fifo: Fifo::new(),
            inbox: Injector::new(),
            gate: Arc::new(CachePadded::new(Gate::new())),
        })
        .collect();
    let mut registry = Registry::new(
        slots,
        config.cpu_to_worker,
        config.handlers,
        config.queue_capacity,
        config.spin_window,
        Lane::new(config.lane),
        config.seeded_bugs,
    );
    registry.caller_worker = config.caller_worker;
    (Arc::new(registry), deques)
}

/// Starts a thread per worker from index `first` on — `deques` holds theirs, from worker
/// `first` on — (`placements` says where each goes)
/// and, with the start handshake, waits until each has pinned itself and returns what
/// pinning did, by worker index from `first`; then lets them run. If a thread cannot be
/// started, the ones already started leave without touching a task, and the error is
/// returned.
pub(crate) fn start_threads(
    registry: &Arc<Registry>,
    deques: Vec<Deque<Task>>,
    first: usize,
    placements: &[WorkerPlacement],
    stack_size: Option<usize>,
) -> io::Result<Option<Vec<PinStatus>>> {
    for (index, deque) in (first..).zip(deques) {
        let registry_for_thread = Arc::clone(registry);
        let planned = placements[index];
        let mut builder = thread::Builder::new().name(registry.workers[index].name.clone());
        if let Some(size) = stack_size {
            builder = builder.stack_size(size);
        }
        let spawned = builder.spawn(move || {
            // Step 1.
            let pin = match (planned.pin, planned.cpu) {
                (PinStatus::Pending, Some(cpu)) if pin_current_thread(cpu) => PinStatus::Pinned,
                (PinStatus::Pending, _) => PinStatus::Failed,
                (other, _) => other,
            };
            // Dropped explicitly on the normal way out. A worker never unwinds (tasks run
            // under catch_unwind) except when a failed loom model tears its threads down;
            // then these leak rather than touch loom objects outside the model and abort.
            let registry = ManuallyDrop::new(registry_for_thread);
            // Step 2.
            if registry.lifecycle.worker_started(index, pin) {
                // Step 3.
                let worker =
                    ManuallyDrop::new(WorkerThread::new(index, deque, Arc::clone(&registry)));
                worker.run();
                drop(ManuallyDrop::into_inner(worker));
            }
            // Step 4.
            registry.lifecycle.worker_exited();
            drop(ManuallyDrop::into_inner(registry));
        });
        match spawned {
            Ok(handle) => registry.lifecycle.add_thread(handle),
            Err(e) => {
                registry.lifecycle.release(false);
                return Err(e);
            }
        }
    }
    if !START_HANDSHAKE {
        return Ok(None);
    }
    let pins = registry.lifecycle.wait_started(first);
    registry.lifecycle.release(true);
    Ok(Some(pins))
}

/// Makes the calling thread worker 0 of `registry` (`Builder::use_current_thread`), off
/// duty: it runs pool work only while it waits in the pool (`worker.rs`, "Worker 0 on the
/// building thread"). Called by `build` once the other workers run; `deque` is worker 0's.
/// The caller was checked to be no pool's worker.
pub(crate) fn take_caller_seat(registry: &Arc<Registry>, deque: Deque<Task>) {
    debug_assert!(
        registry.caller_worker,
        "a caller seat in a pool built without one"
    );
    WorkerThread::take_caller_seat(deque, Arc::clone(registry));
}
