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
//! Called from one of the pool's own workers, steps 1–2 happen and the call returns at once:
//! the calling task itself keeps the pool from terminating until it returns, so waiting would
//! deadlock. The threads then finish on their own.

use std::time::Instant;

use crate::placement::sizing::PinStatus;
use crate::sched::registry::Registry;
use crate::sync::tuning::START_HANDSHAKE;
use crate::sync::{thread, wait_until_deadline, Condvar, Mutex};

struct Counts {
    pins: Vec<Option<PinStatus>>,
    live: usize,
    /// Set by `build` once every thread started (`Some(true)`) or one failed to (`Some(false)`).
    go: Option<bool>,
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

    /// Waits until the first `started` workers have reported; returns their pin outcomes.
    pub(crate) fn wait_started(&self, started: usize) -> Vec<PinStatus> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        while c.pins[..started].iter().any(Option::is_none) {
            c = self.changed.wait(c).unwrap_or_else(|e| e.into_inner());
        }
        c.pins[..started].iter().map(|p| p.unwrap()).collect()
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
        if self.is_current() {
            return true;
        }
        // Likewise on a blocking-lane thread: it cannot wait for itself. The lane closes
        // now; the threads leave on their own, and a later shutdown or the last handle's
        // drop from outside joins them.
        if self.lane.is_current() {
            self.lane.close(self.control.is_cancelling());
            return true;
        }
        // Step 4.
        if !self.lifecycle.wait_all_exited(deadline) {
            return false;
        }
        self.lifecycle.join_threads();
        self.drain_injector();
        // Step 5.
        self.lane.shut_down(self.control.is_cancelling(), deadline)
    }

    /// Step 1's `CANCELLING`, then the rest.
    pub(crate) fn shutdown_now(&self) {
        self.control.start_cancelling();
        self.shutdown(None);
    }
}
