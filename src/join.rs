//! `join`: run two closures, potentially in parallel.
//!
//! # Protocol (on a worker: [`join`]'s first test, `join_registered`, and `join_slow` for the
//! uncommon cases)
//!
//! 0. With 3 private halves already waiting on the worker's stack and no knock, the join
//!    runs `a` then `b` as plain calls, registering nothing (`sched/heartbeat.rs`, step 0).
//!    [`join`] tests that first, from the thread's gate pointer alone — it does not look up
//!    the worker — and holds nothing else inline, so a deep recursion's frames hold no job.
//! 1. `b` becomes a [`StackJob`] on the caller's stack with a [`WorkerLatch`]. No
//!    allocation. Its id goes on the worker's stack of *private* halves, which only this
//!    thread sees (`sched/heartbeat.rs`); if another worker has knocked (it looked for work
//!    and found none, or went to sleep), the oldest private half — this one, or an outer
//!    join's — is promoted onto the worker's own deque, where thieves may take it (oldest
//!    first). With the private stack full (very deep nesting) `b` goes onto the deque at
//!    once (`join_public`).
//! 2. `a` runs here, under `catch_unwind`.
//! 3. The worker takes `b` back from the private stack. Never promoted — the common case
//!    of a registered join, a few plain loads and stores in `join_registered` — it runs
//!    inline: nobody else ever saw it. Promoted, it follows the public protocol, out of
//!    line in `join_slow`: the worker pops its deque, and its own `b`
//!    (recognised by [`Task::is`](crate::task::slot)) is run inline; anything popped instead
//!    (tasks `a` left behind) is run, until `b` comes back or its latch is set (a task popped
//!    after that is pushed back where it was). An empty deque means a thief has `b`: the
//!    worker helps (`wait_until`) until the latch is set.
//! 4. Both halves are finished before anything is resumed: a panic in either is re-raised
//!    here after the other has completed (the first, `a`'s, wins when both panic). A panic in
//!    an inline `b` unwinds straight out: `a` has finished and `b`'s task is no longer
//!    queued.
//!
//! The frame cannot be left early: step 3 returns only once `b` ran inline or its latch is
//! set, and panics are caught until step 4 (`a` under `catch_unwind`; a stolen `b` by its
//! executor). That is what makes borrowing from the caller's stack sound.
//!
//! Off any CPU worker, [`join`] runs the whole protocol on the global pool (`global.rs`,
//! built on first use): the join is installed there and the caller blocks until it is done.

use std::marker::PhantomData;

use crate::global::on_global_worker;
use crate::sched::heartbeat::TakenBack;
use crate::sched::latch::WorkerLatch;
use crate::sched::worker::WorkerThread;
use crate::task::job::{StackJob, StackResult};
use crate::task::slot::{both, catch, Payload, Task, TaskId};

/// Runs `a` and `b`, potentially in parallel, and returns both results.
///
/// On a corepool worker, `a` runs here while `b` waits on the worker's private stack; once an
/// idle worker asks for work, the worker's next `join` (one inside `a`, say) offers the
/// oldest waiting half to it. If nobody took `b`, it runs here too, right after `a`. Both
/// closures may borrow from the caller's stack. `b` is only *potentially* parallel: a wait
/// inside `a` that goes through the pool (a `join`, [`yield_now`](crate::yield_now), a scope,
/// a helping [`JoinHandle::join`](crate::JoinHandle::join)) offers this worker's waiting
/// halves, but a bare spin or a blocking channel offers nothing, and deep in a recursion
/// (once 3 halves wait privately on the worker, and nobody has asked for work) a join runs
/// `b` after `a` as plain calls, offering it to nobody — a thief takes the outer, bigger
/// halves first. So `a` must not wait for something only `b` does.
/// While it waits for a stolen `b`, the worker runs other tasks (see
/// [`Pool::install`](crate::Pool::install) for what that implies). On any other thread it
/// runs on the global pool (built on first use, see
/// [`Builder::build_global`](crate::Builder::build_global)), blocking the caller until both
/// are done; use [`Pool::join`](crate::Pool::join) to choose the pool.
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
/// assert_eq!(fib(10), 55); // outside a pool: on the global pool
/// ```
// Never inlined: then the closures, and the function they call, are inlined into `join`,
// so a recursion through `join` (fib, a tree walk) tests its leaves without a call. Inlined
// into such a function instead, `join` leaves every leaf a call of its own: fib(30) on one
// worker took 5.1 ms that way against 3.6 (`benches/join.rs`, `fib_1_worker`).
#[inline(never)]
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    if WorkerThread::plain_join_here() {
        // Deep in a recursion on a worker, nobody asking for work (`sched/heartbeat.rs`,
        // step 0): plain calls, both halves finishing before a panic resumes.
        return then_b(catch(a), b);
    }
    WorkerThread::with_current(|worker| match worker {
        Some(worker) => join_registered(worker, a, b),
        None => join_global(a, b),
    })
}

/// `join` off any worker: the same join, installed on the global pool. Kept out of line so
/// the in-pool path stays a tail call.
#[cold]
#[inline(never)]
fn join_global<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    on_global_worker("corepool::join", |worker| join_on(worker, a, b))
}

/// What [`join_context`] tells each half about where it runs.
///
/// ```
/// let pool = corepool::Pool::new();
/// let (a, b) = pool.install(|| corepool::join_context(|ctx| ctx.migrated(), |ctx| ctx.migrated()));
/// assert!(!a); // a always runs on the caller's worker
/// # let _ = b;
/// ```
#[derive(Debug)]
pub struct FnContext {
    migrated: bool,
    /// Not `Send`/`Sync`: it describes the call it was handed to.
    _marker: PhantomData<*mut ()>,
}

impl FnContext {
    fn new(migrated: bool) -> FnContext {
        FnContext {
            migrated,
            _marker: PhantomData,
        }
    }

    /// True if the closure runs on a different thread from the one that called
    /// [`join_context`]: `b` when a thief took it, and both halves when `join_context` was
    /// called off any worker (the join then runs on the global pool).
    ///
    /// ```
    /// let (a, b) = corepool::join_context(|ctx| ctx.migrated(), |ctx| ctx.migrated());
    /// assert!(a && b); // called off any pool
    /// ```
    #[inline]
    pub fn migrated(&self) -> bool {
        self.migrated
    }
}

/// [`join`], telling each closure whether it migrated ([`FnContext::migrated`]) — rayon's
/// `join_context`. Typical use: split further only when `b` was stolen, i.e. when there are
/// idle workers to use the pieces.
///
/// # Panics
///
/// As [`join`]: if either closure panics, after both have finished.
///
/// ```
/// fn sum(v: &[u64]) -> u64 {
///     if v.len() <= 1024 {
///         return v.iter().sum();
///     }
///     let (l, r) = v.split_at(v.len() / 2);
///     let (a, b) = corepool::join_context(|_| sum(l), |ctx| {
///         if ctx.migrated() { sum(r) } else { r.iter().sum() } // stolen: keep splitting
///     });
///     a + b
/// }
/// let v: Vec<u64> = (1..=100_000).collect();
/// assert_eq!(corepool::Pool::new().install(|| sum(&v)), 5_000_050_000);
/// ```
pub fn join_context<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce(FnContext) -> RA + Send,
    B: FnOnce(FnContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    WorkerThread::with_current(|worker| match worker {
        Some(worker) => join_context_on(worker, a, b, false),
        None => on_global_worker("corepool::join_context", |worker| {
            join_context_on(worker, a, b, true)
        }),
    })
}

/// `join_context` on `worker`; `injected` when the caller was off any worker.
fn join_context_on<A, B, RA, RB>(worker: &WorkerThread, a: A, b: B, injected: bool) -> (RA, RB)
where
    A: FnOnce(FnContext) -> RA + Send,
    B: FnOnce(FnContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    // Only compared, never dereferenced: the home worker is alive (it waits in this join).
    let home = worker as *const WorkerThread as usize;
    join_on(
        worker,
        move || a(FnContext::new(injected)),
        move || {
            let here =
                WorkerThread::with_current(|w| w.map_or(0, |w| w as *const WorkerThread as usize));
            b(FnContext::new(injected || here != home))
        },
    )
}

/// `join` on `worker` (module docs), for the callers that start from a worker rather than
/// from the thread's gate ([`join_context`], a join moved onto the global pool): step 0,
/// then [`join_registered`].
#[inline]
fn join_on<A, B, RA, RB>(worker: &WorkerThread, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    if worker.skip_registration() {
        // Deep in a recursion (`sched/heartbeat.rs`, step 0): plain calls, both halves
        // finishing before a panic resumes.
        return then_b(catch(a), b);
    }
    join_registered(worker, a, b)
}

/// `join` with `b` on the private stack (module docs, steps 1–3): `a` run, `b` taken back
/// and run inline unless it was promoted meanwhile ([`join_slow`]), or published at once
/// when the private stack is full ([`join_public`]). Out of line: its frame holds the job.
#[inline(never)]
fn join_registered<A, B, RA, RB>(worker: &WorkerThread, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    if !worker.has_private_room() {
        return join_public(worker, a, b);
    }
    let job_b = StackJob::new(b, WorkerLatch::new(worker.index(), worker.registry()));
    let job_b_ptr = &job_b as *const StackJob<_, B, RB>;
    let id_b = Task::id_of(job_b_ptr);
    // Step 1. SAFETY: this frame does not return before job_b has run — inline below, or,
    // once promoted, by whoever takes its task (`join_slow` waits for the latch) — so the
    // job outlives any task made from its id; only the private stack queues it, once.
    unsafe { worker.push_private(id_b) };
    // Step 2: run a here.
    let result_a = catch(a);
    // Step 3, the common case: nobody asked for b.
    match worker.take_back_private() {
        TakenBack::Private => {
            // SAFETY: b was never promoted, so no task for it exists and the closure is
            // still in the job.
            let b = unsafe { job_b.take_func_unchecked() };
            then_b(result_a, b)
        }
        // Promoted: the public protocol, from a pop of the deque (our own `b` on top is run
        // inline).
        TakenBack::Promoted => join_slow(worker, &job_b, id_b, result_a, worker.pop_local()),
    }
}

/// `join` with the private stack full: `b` goes onto the deque at once (the public protocol
/// of the module docs, without steps 1's private stack).
#[cold]
#[inline(never)]
fn join_public<A, B, RA, RB>(worker: &WorkerThread, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let job_b = StackJob::new(b, WorkerLatch::new(worker.index(), worker.registry()));
    let job_b_ptr = &job_b as *const StackJob<_, B, RB>;
    // SAFETY: this frame does not return before job_b has run — inline, popped back by
    // `join_slow`, or by a thief, which sets its latch (`join_slow` waits for it) — so the
    // job outlives its task; it is queued once.
    let task_b = unsafe { Task::from_raw(job_b_ptr) };
    // Offer b to thieves.
    worker.push_local(task_b);
    // Step 2: run a here.
    let result_a = catch(a);
    // b is on top of the deque, unstolen (join_slow runs it inline), or stolen.
    join_slow(
        worker,
        &job_b,
        Task::id_of(job_b_ptr),
        result_a,
        worker.pop_local(),
    )
}

/// Step 3 on the public path, from `popped` (what a pop of the deque gave): our own `b` is
/// run inline; anything else `a` left behind is run until `b` comes back, or, if a thief
/// took `b`, the worker helps until its latch is set. Step 4.
#[cold]
#[inline(never)]
fn join_slow<F, RA, RB>(
    worker: &WorkerThread,
    job_b: &StackJob<WorkerLatch<'_>, F, RB>,
    id_b: TaskId,
    result_a: Result<RA, Payload>,
    mut popped: Option<Task>,
) -> (RA, RB)
where
    F: FnOnce() -> RB + Send,
    RB: Send,
{
    let result_b = loop {
        match popped {
            Some(task) if task.is(id_b) => {
                task.take_back();
                // SAFETY: as in `join`: our own task, taken back unrun.
                let b = unsafe { job_b.take_func_unchecked() };
                break catch(b);
            }
            Some(task) if job_b.latch.probe() => {
                // The thief is done with b: put this task back on top of the deque,
                // where it was, and return.
                worker.push_local(task);
                break stack_result(job_b.take_result());
            }
            Some(task) => worker.execute(task),
            None => {
                worker.wait_until(&job_b.latch);
                break stack_result(job_b.take_result());
            }
        }
        if job_b.latch.probe() {
            break stack_result(job_b.take_result());
        }
        popped = worker.pop_local();
    };
    // Step 4: both halves are done; the first panic wins.
    both(result_a, result_b)
}

/// `a` panicked and `b` came back unrun: run `b` too (both halves finish), then resume
/// `a`'s panic — it wins over one from `b`.
#[cold]
#[inline(never)]
fn resume_after<RB>(payload: Payload, b: impl FnOnce() -> RB) -> ! {
    let (never, _) = both(Err::<std::convert::Infallible, _>(payload), catch(b));
    match never {}
}

/// `a` is done (`result_a`) and `b` runs here, inline: its panic unwinds from here with both
/// halves finished, and a panic of `a` resumes after `b` has run.
#[inline(always)]
fn then_b<RA, RB>(result_a: Result<RA, Payload>, b: impl FnOnce() -> RB) -> (RA, RB) {
    match result_a {
        Ok(ra) => (ra, b()),
        Err(payload) => resume_after(payload, b),
    }
}

/// A finished stack job's result as `catch` gives it.
fn stack_result<R>(result: StackResult<R>) -> Result<R, Payload> {
    match result {
        StackResult::Done(r) => Ok(r),
        StackResult::Panicked(p) => Err(p),
        StackResult::Rejected | StackResult::Pending => {
            unreachable!("a job on a worker's own deque is neither rejected nor left pending")
        }
    }
}

/// `Pool::join`: the same, on a chosen pool.
impl crate::pool::Pool {
    /// [`join`](crate::join()) on this pool, from anywhere: runs `a` and `b` potentially in
    /// parallel on the pool's workers and returns both results. Both may borrow.
    ///
    /// # Panics
    ///
    /// If either closure panics (after both finished), or if the pool has been shut down.
    ///
    /// ```
    /// let pool = corepool::Pool::new();
    /// let data = [1, 2, 3, 4];
    /// let (left, right) = pool.join(|| data[..2].iter().sum::<i32>(), || data[2..].iter().sum::<i32>());
    /// assert_eq!(left + right, 10);
    /// ```
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        self.install_as("Pool::join", || crate::join(a, b))
    }
}
