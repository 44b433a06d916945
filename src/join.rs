//! `join`: run two closures, potentially in parallel.
//!
//! # Protocol (on a worker; [`WorkerThread::join`](crate::sched::worker))
//!
//! 1. `b` becomes a [`StackJob`](crate::sched::latch::StackJob) on the caller's stack with a
//!    [`WorkerLatch`](crate::sched::latch::WorkerLatch), pushed onto the worker's own deque, where
//!    thieves may take it (oldest first). No allocation.
//! 2. `a` runs here, under `catch_unwind`.
//! 3. The worker pops its deque: its own `b` (recognised by [`Task::is`](crate::task::slot)) is
//!    taken back and run inline — the common, unstolen case, which costs a push, a pop and a
//!    compare, and is all that `WorkerThread::join` itself holds. Everything else is in the
//!    out-of-line `join_slow`: anything popped instead (tasks `a` left behind) is run, until
//!    `b` comes back or its latch is set (a task popped after that is pushed back where it
//!    was). An empty deque means a thief has `b`: the worker helps (`wait_until`) until the
//!    latch is set.
//! 4. Both halves are finished before anything is resumed: a panic in either is re-raised
//!    here after the other has completed (the first, `a`'s, wins when both panic). A panic in
//!    an inline `b` unwinds straight out: `a` has finished and `b`'s task is no longer
//!    queued.
//!
//! The frame cannot be left early: step 3 returns only once `b` ran inline or its latch is
//! set, and panics are caught until step 4 (`a` under `catch_unwind`; a stolen `b` by its
//! executor). That is what makes borrowing from the caller's stack sound.
//!
//! Outside any pool, [`join`] runs `a` then `b` on the calling thread, with the same panic
//! rule: corepool never sends work to a pool the caller did not name.

use crate::sched::worker::WorkerThread;
use crate::task::slot::{both, catch};

/// Runs `a` and `b`, potentially in parallel, and returns both results.
///
/// On a corepool worker, `b` is offered to idle workers while `a` runs here; if nobody took
/// it, it runs here too, right after `a`. Both closures may borrow from the caller's stack.
/// While it waits for a stolen `b`, the worker runs other tasks (see
/// [`Pool::install`](crate::Pool::install) for what that implies). Outside any pool it runs
/// `a`, then `b`, on the calling thread; use [`Pool::join`](crate::Pool::join) to run on a
/// particular pool from anywhere.
///
/// # Panics
///
/// If either closure panics, after both have finished; `a`'s panic wins if both do.
///
/// ```
/// fn fib(n: u64) -> u64 {
///     if n < 2 {
///         return n;
///     }
///     let (a, b) = corepool::join(|| fib(n - 1), || fib(n - 2));
///     a + b
/// }
///
/// let pool = corepool::Pool::new();
/// assert_eq!(pool.install(|| fib(20)), 6765);
/// assert_eq!(fib(10), 55); // outside a pool: sequential
/// ```
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    WorkerThread::with_current(|worker| match worker {
        Some(worker) => worker.join(a, b),
        None => join_outside(a, b),
    })
}

/// `join` outside any pool: `a`, then `b`, with the same panic rule. Kept out of line so the
/// in-pool path stays a tail call.
#[cold]
#[inline(never)]
fn join_outside<RA, RB>(a: impl FnOnce() -> RA, b: impl FnOnce() -> RB) -> (RA, RB) {
    let result_a = catch(a);
    both(result_a, catch(b))
}
