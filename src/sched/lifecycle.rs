//! Starting and stopping the worker threads.
//!
//! # Start
//!
//! `Builder::build` spawns every worker; each tries to pin itself, reports the outcome with
//! [`Lifecycle::worker_started`] and waits for `build`'s verdict. `build` waits for all
//! reports, so the plan it returns shows what pinning really did, then releases them
//! ([`Lifecycle::release`]). If a thread cannot be spawned, the verdict is "exit" and the
//! threads already started leave without ever touching a task.
//!
//! # Shutdown ([`Registry::shutdown`]) — numbered steps
//!
//! 1. Set `SHUTDOWN` in the idle word: outside submissions are refused from now on (a racing
//!    one is either run or rejected, see `sleep.rs`). Tasks spawned from inside running tasks
//!    are still accepted: they belong to work already accepted. For `shutdown_now`, the
//!    control word's `CANCELLING` is set first: from then on workers cancel every cancellable
//!    task they take instead of running it (`control.rs`).
//! 2. Wake everyone who waits for the pool: submitters blocked on a full queue, the injector's
//!    or the blocking lane's (they get their task back, or a `Rejected` handle), paused workers (they resume, so the pool can
//!    terminate), and — after a fence — every sleeping worker, so each passes through the
//!    sleep protocol again and sees `SHUTDOWN` (a worker falling asleep concurrently sees it
//!    when it reloads the word after its fence, `sleep.rs`).
//! 3. Workers keep running (or cancelling) tasks until every queue is empty and every worker
//!    is asleep; the last to fall asleep sets `TERMINATED` and wakes the rest; each worker
//!    thread returns and reports with [`Lifecycle::worker_exited`].
//! 4. The caller waits for all exits (or its deadline), joins the threads, and rejects
//!    anything a racing submitter left in the injector.
//! 5. Then the blocking lane closes: its threads finish (or, for `shutdown_now`, cancel) what
//!    is queued and leave; the caller joins them. The lane closes last because CPU tasks
//!    still running in step 3 may hand work to it.
//!
//! A deadline (`shutdown_timeout`, `shutdown_now_timeout`) that passes in step 4 or 5 ends
//! the call there: the shutdown goes on in the background, and the pool remembers that it
//! *gave up*. Dropping the last owning handle then does not wait again
//! ([`Registry::shutdown_on_drop`]): it looks once, joins what has finished, and detaches
//! every thread still running — still stuck, as far as it can tell — naming them on stderr
//! and counting them in `Metrics::detached_threads`. A detached thread keeps the pool's shared
//! state alive and finishes the shutdown protocol on its own if its task ever returns.
//!
//! Called from one of the pool's own workers, steps 1–2 happen and the call returns at once:
//! the calling task itself keeps the pool from terminating until it returns, so waiting would
//! deadlock. The threads then finish on their own.
//!
//! # Worker 0 on the building thread (`Builder::use_current_thread`)
//!
//! Worker 0 has no thread of the pool's: `build` starts threads for workers 1.. only, and
//! `live` never counts worker 0. Shutdown (or the last owner's drop):
//!
//! - **on the building thread, between pool calls** — after steps 1–2 worker 0 comes on duty
//!   and runs the worker loop like a pool thread until the pool terminates (it is the last
//!   worker to fall asleep, or another is), then gives up its seat; then steps 4–5 as for any
//!   outside caller. Nothing waits for a thread that cannot come. A deadline
//!   (`shutdown_timeout`) bounds steps 4–5 only: worker 0's loop runs until termination, as
//!   a pool thread's does, so a stuck task elsewhere holds it there.
//! - **inside a pool call on that thread** (a task worker 0 runs while it waits) — as from
//!   any worker: it returns at once.
//! - **on another thread** — worker 0 is off duty there (counted asleep), so the other
//!   workers terminate without it and step 4 waits for them only; what worker 0's own deque
//!   held was stolen by them. A broadcast call waiting in worker 0's inbox holds termination
//!   until the building thread next waits in the pool. With no other worker (one CPU
//!   worker, which is the building thread) nothing can run the injector's tasks: step 4
//!   finds no thread to wait for and the injector is drained (its tasks rejected); worker 0's
//!   own deque is empty (with no other worker, each pool call on the building thread runs
//!   what it queued before it returns). The building thread stays worker 0 until its next
//!   pool call, its next `use_current_thread` build, or its exit, which find the pool shut
//!   down (and, closing, terminate it) or terminated, and give the seat up.

use std::time::Instant;

use crate::placement::sizing::PinStatus;
use crate::sched::registry::Registry;
use crate::sched::worker::WorkerThread;
use crate::sync::tuning::START_HANDSHAKE;
use crate::sync::{thread, wait_until_deadline, Condvar, Mutex};

struct Counts {
    pins: Vec<Option<PinStatus>>,
    live: usize,
    /// Set by `build` once every thread started (`Some(true)`) or one failed to (`Some(false)`).
    go: Option<bool>,
    /// A shutdown with a deadline returned before every thread had exited.
    gave_up: bool,
}

/// Start and exit bookkeeping (a lock, but only ever taken at start, exit and shutdown).
pub(crate) struct Lifecycle {
    counts: Mutex<Counts>,
    changed: Condvar,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl Lifecycle {
    pub(crate) fn new(workers: usize) -> Self {
        Lifecycle {
            counts: Mutex::new(Counts {
                pins: vec![None; workers],
                live: 0,
                // Without the handshake (loom), the verdict is "go" from the start: a loom
                // thread cannot fail to spawn.
                go: if START_HANDSHAKE { None } else { Some(true) },
                gave_up: false,
            }),
            changed: Condvar::new(),
            threads: Mutex::new(Vec::with_capacity(workers)),
        }
    }

    pub(crate) fn add_thread(&self, handle: thread::JoinHandle<()>) {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// A worker thread is up and has tried to pin itself. Returns whether it may start
    /// work: false when a sibling thread could not be spawned and `build` gives up.
    pub(crate) fn worker_started(&self, index: usize, pin: PinStatus) -> bool {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.pins[index] = Some(pin);
        c.live += 1;
        self.changed.notify_all();
        loop {
            match c.go {
                Some(go) => return go,
                None => c = self.changed.wait(c).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    /// `build`'s verdict: start work, or (a thread failed to spawn) exit at once. A refused
    /// start also waits for the threads already running to leave and joins them.
    pub(crate) fn release(&self, go: bool) {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).go = Some(go);
        self.changed.notify_all();
        if !go {
            self.wait_all_exited(None);
            self.join_threads();
        }
    }

    /// A worker thread is about to return.
    pub(crate) fn worker_exited(&self) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.live -= 1;
        self.changed.notify_all();
    }

    /// Waits until every worker from index `first` on has reported (those before it have no
    /// thread: worker 0 on the building thread); returns their pin outcomes.
    pub(crate) fn wait_started(&self, first: usize) -> Vec<PinStatus> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        while c.pins[first..].iter().any(Option::is_none) {
            c = self.changed.wait(c).unwrap_or_else(|e| e.into_inner());
        }
        c.pins[first..].iter().map(|p| p.unwrap()).collect()
    }

    /// Waits until every worker has exited, or the deadline passes (false).
    fn wait_all_exited(&self, deadline: Option<Instant>) -> bool {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        while c.live > 0 {
            match wait_until_deadline(&self.changed, c, deadline) {
                Ok(guard) => c = guard,
                Err(_) => return false,
            }
        }
        true
    }

    /// A shutdown's deadline passed with threads still running.
    fn give_up(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gave_up = true;
    }

    fn gave_up(&self) -> bool {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gave_up
    }

    /// Joins the worker threads that have finished and lets go of the rest (detached: they
    /// run on, and exit on their own); returns the names of those let go.
    fn detach_unfinished(&self) -> Vec<String> {
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        crate::sync::detach_unfinished(handles)
    }

    fn join_threads(&self) {
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            // A worker never panics out of its loop (tasks run under catch_unwind); if it
            // somehow did, the panic was already printed, and shutdown still completes.
            let _ = h.join();
        }
    }
}

impl Registry {
    /// Steps 1–5 of the module docs. Idempotent; every caller outside the pool returns only
    /// after all threads have exited, or its deadline passed (false).
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) -> bool {
        // Step 1.
        self.idle.set_shutdown();
        // Step 2 (wake_all fences first).
        self.bound.wake_all();
        self.lane.wake_submitters();
        self.control.release_all();
        self.wake_all();
        // On worker 0's building thread (`use_current_thread`) between pool calls, that
        // worker comes on duty and runs the loop until the pool terminates, then the caller
        // waits for the others as any outside caller does.
        if !WorkerThread::finish_pool_as_caller(self) && self.is_current() {
            return true;
        }
        // Likewise on a blocking-lane thread: it cannot wait for itself. The lane closes
        // now; the threads leave on their own, and a later shutdown or the last owner's
        // drop from outside joins them.
        if self.lane.is_current() {
            self.lane.close(self.control.is_cancelling());
            return true;
        }
        // Step 4.
        if !self.lifecycle.wait_all_exited(deadline) {
            self.lifecycle.give_up();
            return false;
        }
        self.lifecycle.join_threads();
        self.drain_injector();
        // Step 5.
        if !self.lane.shut_down(self.control.is_cancelling(), deadline) {
            self.lifecycle.give_up();
            return false;
        }
        true
    }

    /// The last owning handle is gone: [`shutdown`](Registry::shutdown), waiting for
    /// everything accepted — unless an earlier shutdown with a deadline gave up on stuck
    /// threads. Then it does not wait again: it looks once, and detaches and reports whatever
    /// still runs (module docs).
    pub(crate) fn shutdown_on_drop(&self) {
        if !self.lifecycle.gave_up() {
            self.shutdown(None);
            return;
        }
        if self.shutdown(Some(Instant::now())) {
            return; // the stuck threads finished meanwhile
        }
        let mut detached = self.lifecycle.detach_unfinished();
        detached.extend(self.lane.detach_unfinished(self.control.is_cancelling()));
        if detached.is_empty() {
            return;
        }
        self.counters.add_detached(detached.len() as u64);
        eprintln!(
            "corepool: the pool was dropped after its shutdown gave up on stuck tasks; {} \
             still-running thread(s) detached: {}",
            detached.len(),
            detached.join(", ")
        );
    }

    /// Step 1's `CANCELLING`, then the rest.
    pub(crate) fn shutdown_now(&self, deadline: Option<Instant>) -> bool {
        self.control.start_cancelling();
        self.shutdown(deadline)
    }
}
