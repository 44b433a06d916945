//! FIFO spawns on a LIFO deque — rayon's `spawn_fifo` order.
//!
//! A worker's deque is LIFO for its owner. A FIFO spawn puts the task at the back of a
//! [`Fifo`] queue and pushes a **marker** task onto the worker's deque; the marker, run by
//! whichever worker pops or steals it, takes the task at the *front* of that queue and runs
//! it. So on one worker the FIFO tasks run oldest first, while thieves and the rest of the
//! pool see ordinary deque tasks.
//!
//! # Why nothing is lost, and the queue outlives its markers
//!
//! 1. Every push puts exactly one task in the queue *before* its marker on a deque, and
//!    every marker takes exactly one task out, so a marker never finds the queue empty
//!    (the tasks in the queue always number at least the markers not yet run).
//! 2. The queue's owner waits for all of its tasks: a scope's queues live in the scope's
//!    frame, which waits for every task it counted (`scope.rs`); a worker's own queue (for
//!    [`corepool::spawn_fifo`](crate::spawn_fifo)) lives in the registry, which every
//!    worker running a marker holds.
//! 3. A marker takes its task out *before* running it (and touches the queue no more), so
//!    when the last task ends — possibly ending the scope — every marker has already done
//!    its only access to the queue.
//!
//! Markers are queued on the pushing worker's own deque only, which is never refused and
//! is drained before its worker exits; they are not cancellable (their task must run).

use std::panic::resume_unwind;

use crate::sync::{Injector, Steal};
use crate::task::slot::{Outcome, Task};

/// A FIFO queue of tasks, each with a marker on some deque (module docs).
pub(crate) struct Fifo(Injector<Task>);

impl Fifo {
    pub(crate) fn new() -> Fifo {
        Fifo(Injector::new())
    }

    /// Step 3: the oldest task; there is one by step 1.
    fn pop_front(&self) -> Task {
        loop {
            match self.0.steal() {
                Steal::Success(task) => return task,
                Steal::Retry => std::hint::spin_loop(),
                Steal::Empty => unreachable!("a FIFO marker found its queue empty"),
            }
        }
    }

    /// Queues `task` here and returns its marker, for the caller to push onto its worker's
    /// own deque (`WorkerThread::push_fifo_on`, which counts it as one submitted task: the
    /// marker is what the metrics see run).
    ///
    /// # Safety
    /// `self` outlives every marker's run (module docs, step 2).
    pub(crate) unsafe fn push(&self, task: Task) -> Task {
        self.0.push(task);
        let fifo = FifoPtr(self as *const Fifo);
        let marker = move || {
            let fifo = fifo;
            // SAFETY: the caller's contract: the queue outlives this marker's run.
            let task = unsafe { &*fifo.0 }.pop_front();
            // The queue is not touched after this point (step 3).
            if let Outcome::Panicked(Some(payload)) = task.run() {
                // To the executing worker's panic reporting, as the marker's own panic.
                resume_unwind(payload);
            }
        };
        // SAFETY: the marker borrows nothing but the queue, which outlives it (above).
        unsafe { Task::spawn_unchecked::<_, false>(marker) }
    }
}

/// A queue pointer a marker carries to the worker that runs it.
#[derive(Clone, Copy)]
struct FifoPtr(*const Fifo);

// SAFETY: a `Fifo` is `Sync` (a crossbeam injector), and the pointer is only dereferenced
// while the queue is alive (module docs).
unsafe impl Send for FifoPtr {}
