//! What the workers of one pool share: the injector, each worker's stealer, parker, neighbour
//! list and counters, the idle word, and the pool's lifecycle.
//!
//! The protocols that operate on it live beside it: finding work in `worker.rs`, sleeping and
//! waking in `sleep.rs`, shutdown in `shutdown.rs`.

use std::any::Any;

use crate::metrics::{PoolCounters, WorkerCounters};
use crate::park::Parker;
use crate::shutdown::Lifecycle;
use crate::sleep::{Idle, Notified};
use crate::sync::{current_cpu, Injector, SeededBugs, Steal, Stealer};
use crate::task::{Rejected, Task};
use crate::worker::WorkerThread;

/// Receives the payload of a fire-and-forget task's panic.
pub(crate) type PanicHandler = Box<dyn Fn(Box<dyn Any + Send>) + Send + Sync>;

/// One worker as the others see it.
pub(crate) struct WorkerSlot {
    pub(crate) parker: Parker,
    pub(crate) stealer: Stealer<Task>,
    /// Every other worker, nearest first (`topology.rs`).
    pub(crate) neighbours: Box<[usize]>,
    pub(crate) counters: WorkerCounters,
    pub(crate) name: String,
}

/// Who pushed the work we are about to announce.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Producer {
    /// A worker of this pool (its own index).
    Worker(usize),
    /// A thread outside the pool: the nearest worker is the one pinned to its CPU, if any.
    Outside,
}

pub(crate) struct Registry {
    pub(crate) injector: Injector<Task>,
    pub(crate) workers: Box<[WorkerSlot]>,
    pub(crate) idle: Idle,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) counters: PoolCounters,
    /// OS CPU id → the first worker pinned to it.
    cpu_to_worker: Box<[Option<usize>]>,
    panic_handler: Option<PanicHandler>,
    pub(crate) seeded_bugs: SeededBugs,
}

impl Registry {
    pub(crate) fn new(
        workers: Box<[WorkerSlot]>,
        cpu_to_worker: Box<[Option<usize>]>,
        panic_handler: Option<PanicHandler>,
        seeded_bugs: SeededBugs,
    ) -> Registry {
        Registry {
            injector: Injector::new(),
            lifecycle: Lifecycle::new(workers.len()),
            workers,
            idle: Idle::new(),
            counters: PoolCounters::new(),
            cpu_to_worker,
            panic_handler,
            seeded_bugs,
        }
    }

    /// True if the calling thread is one of this pool's workers.
    pub(crate) fn is_current(&self) -> bool {
        WorkerThread::with_current(|w| w.is_some_and(|w| std::ptr::eq(w.registry(), self)))
    }

    /// Queues a task: onto the caller's own deque if it is one of our workers, else into the
    /// injector. After shutdown an outside task is rejected (its handle reports it).
    pub(crate) fn push(&self, task: Task) {
        let pushed_locally = WorkerThread::with_current(|w| match w {
            Some(w) if std::ptr::eq(w.registry(), self) => {
                w.push_local(task);
                None
            }
            _ => Some(task),
        });
        if let Some(task) = pushed_locally {
            self.inject(task);
        }
    }

    /// Outside submission: shutdown check, push, announce (`sleep.rs`, producer steps).
    pub(crate) fn inject(&self, task: Task) {
        if self.idle.load().is_shutdown() {
            self.reject(task);
            return;
        }
        self.injector.push(task);
        if self.notify_work_from(Producer::Outside) == Notified::Terminated {
            self.drain_injector();
        }
    }

    /// `notify_work` with the producer's nearest worker resolved only when a wake is needed.
    #[inline]
    pub(crate) fn notify_work_from(&self, producer: Producer) -> Notified {
        self.notify_work(|| match producer {
            Producer::Worker(i) => Some(i),
            Producer::Outside => {
                current_cpu().and_then(|cpu| self.cpu_to_worker.get(cpu).copied().flatten())
            }
        })
    }

    /// Rejects everything left in the injector (the workers are gone).
    pub(crate) fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                Steal::Success(task) => self.reject(task),
                Steal::Empty => break,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    /// The pool will not run `task`: count it; a fire-and-forget one is also reported, since
    /// nobody else will learn of it.
    #[cold]
    pub(crate) fn reject(&self, task: Task) {
        self.counters.add_rejected();
        if task.reject() == Rejected::Unobserved {
            eprintln!("corepool: the pool is shut down; a spawned task was rejected and dropped");
        }
    }

    /// A fire-and-forget task panicked on worker `index`.
    #[cold]
    pub(crate) fn handle_panic(&self, index: usize, payload: Box<dyn Any + Send>) {
        match &self.panic_handler {
            Some(handler) => {
                let handler_result = crate::task::catch(|| handler(payload));
                if handler_result.is_err() {
                    eprintln!(
                        "corepool: the panic handler itself panicked on {}; worker continues",
                        self.workers[index].name
                    );
                }
            }
            None => eprintln!(
                "corepool: a spawned task panicked on {}: {}",
                self.workers[index].name,
                crate::error::panic_message(&*payload)
            ),
        }
    }
}
