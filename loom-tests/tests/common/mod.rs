//! What every model file shares: building a pool for a model, and running a model at its
//! own preemption bound.
#![allow(dead_code)] // each test file uses a different part

use corepool::__loom::SeededBugs;
use corepool::{Pool, Sizing};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

/// How many preemptions loom explores per interleaving.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// `LOOM_MAX_PREEMPTIONS` (the suite's command sets 2).
    Env,
    /// This many, whatever the environment says.
    At(usize),
    /// Every interleaving: only for models small enough to afford it.
    Exhaustive,
}

/// Explores `model` at `bound`. Prints how many interleavings it took and how long (shown
/// with `-- --nocapture`), so a model that grows too expensive is noticed.
pub fn check(bound: Bound, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    match bound {
        Bound::Env => {}
        Bound::At(n) => builder.preemption_bound = Some(n),
        Bound::Exhaustive => builder.preemption_bound = None,
    }
    let shown = builder.preemption_bound;
    let iterations = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = iterations.clone();
    let start = Instant::now();
    builder.check(move || {
        // ORDERING: Relaxed: a statistic, read after the model finished on this thread.
        counted.fetch_add(1, Ordering::Relaxed);
        model();
    });
    eprintln!(
        "{}: {} interleavings, preemption bound {}, {:.1?}",
        std::thread::current().name().unwrap_or("model"),
        // ORDERING: Relaxed: as above.
        iterations.load(Ordering::Relaxed),
        shown.map_or("none".to_string(), |n| n.to_string()),
        start.elapsed()
    );
}

/// An unpinned pool of `workers` with `bugs` seeded.
pub fn pool_with(workers: usize, bugs: SeededBugs) -> Leaky<Pool> {
    Leaky::new(
        Pool::builder()
            .sizing(Sizing::cpu_bound().cores(workers).oversubscribe(true))
            .pin_workers(false)
            .seed_bugs(bugs)
            .build()
            .unwrap(),
    )
}

/// An unpinned pool of `workers`, no bugs seeded.
pub fn pool(workers: usize) -> Leaky<Pool> {
    pool_with(workers, SeededBugs::default())
}

/// Holds a value made of loom objects (a `Pool`, a loom `Arc`) and drops it normally — but
/// leaks it while a failing model unwinds: loom has already left the execution then, and
/// touching a loom object would abort the whole test binary instead of failing one test.
pub struct Leaky<T>(ManuallyDrop<T>);

impl<T> Leaky<T> {
    pub fn new(value: T) -> Self {
        Leaky(ManuallyDrop::new(value))
    }

    /// Takes the value out, to consume it (e.g. a handle's `join`).
    pub fn into_inner(self) -> T {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the value is moved out exactly once.
        ManuallyDrop::into_inner(unsafe { std::ptr::read(&this.0) })
    }
}

impl<T: Clone> Clone for Leaky<T> {
    fn clone(&self) -> Self {
        Leaky::new(T::clone(self))
    }
}

impl<T> Deref for Leaky<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Leaky<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> Drop for Leaky<T> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: dropped once, here; never used after.
            unsafe { ManuallyDrop::drop(&mut self.0) };
        }
    }
}

/// Polls `future` to completion on the calling model thread, parking (loom's park) between
/// polls; its waker unparks the thread. The first `Pending` is followed by one immediate
/// re-poll with the same waker, as executors sometimes do, so the "waker already registered"
/// path races the completer too.
///
/// (loom's own `future::block_on` would do, but it drops a loom `Arc` while a failing model
/// unwinds, which aborts the test binary instead of failing the one test.)
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(loom::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(loom::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut repolled = false;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        if repolled {
            loom::thread::park();
        }
        repolled = true;
    }
}
