//! What every model file shares: building a pool for a model, and running a model at its
//! own preemption bound.
#![allow(dead_code)] // each test file uses a different part

use corepool::__loom::SeededBugs;
use corepool::{Pool, Sizing};
use std::sync::atomic::{AtomicUsize, Ordering};
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
pub fn pool_with(workers: usize, bugs: SeededBugs) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(workers))
        .pin_workers(false)
        .seed_bugs(bugs)
        .build()
        .unwrap()
}

/// An unpinned pool of `workers`, no bugs seeded.
pub fn pool(workers: usize) -> Pool {
    pool_with(workers, SeededBugs::default())
}
