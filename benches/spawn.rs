//! Spawn throughput: how fast a pool takes in and runs 100,000 tiny fire-and-forget tasks.
//!
//! Three submission patterns, one criterion group each:
//! - `spawn_outside`: the bench thread submits every task, one by one, then sleeps until all
//!   of them ran. This exercises the pool's shared injection path.
//! - `spawn_inside`: one task already running on the pool submits every task. Where the pool
//!   has per-worker queues this is the worker's local queue; the channel pool has only its one
//!   shared channel.
//! - `spawn_chain`: a chain of 100,000 tasks where each task, as its last act, spawns the next
//!   from inside the pool. Only one task exists at a time, so this measures the latency of a
//!   spawn-and-pick-up round trip on one worker (or, for the channel pool, through the shared
//!   channel), not throughput.
//!
//! Contenders: `corepool`, `rayon`, `tokio` (multi-thread runtime) and `channel_pool`, the
//! shared-channel job/worker design of the Go worker-pool write-ups (see
//! `common/channel_pool.rs`). Every contender gets the same worker count W, the number of
//! CPUs this process may run on (`corepool::detect_cores`).
//!
//! Each pool is built once per benchmark, before criterion starts timing, and shut down after
//! it, so only one pool is alive while a contender is measured. Each task does a
//! `black_box`ed computation and counts itself done in a per-thread [`Latch`] slot (no shared
//! contended atomic per task, for any contender); the bench thread sleeps between sums of the
//! slots rather than spinning, so it does not take a core from the pool. Only the
//! submissions and the wait are timed; re-arming the latch is not.
//!
//! Quick run: `cargo bench --bench spawn -- --warm-up-time 1 --measurement-time 3`.

mod common;

use common::{time_iterations, tiny_task, ChannelPool, Latch};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};

/// Tasks per iteration.
const TASKS: usize = 100_000;

/// Where the tasks of one iteration are submitted from.
#[derive(Debug, Clone, Copy)]
enum Submitter {
    /// The bench thread, which is not one of the pool's workers.
    Outside,
    /// A task running on one of the pool's workers.
    Inside,
    /// Each task spawns the next from inside, a chain of `TASKS` links.
    Chain,
}

impl Submitter {
    fn group_name(self) -> &'static str {
        match self {
            Submitter::Outside => "spawn_outside",
            Submitter::Inside => "spawn_inside",
            Submitter::Chain => "spawn_chain",
        }
    }
}

/// What each contender offers the benchmark: a fire-and-forget spawn from outside, and a
/// spawn from inside one of its own running tasks (its worker-local path, where it has one).
trait Contender {
    /// What a running task needs in order to spawn locally.
    type Inside: Clone + Send + 'static;
    /// Spawns from a thread outside the pool.
    fn spawn(&self, f: impl FnOnce() + Send + 'static);
    /// Captured by the task that spawns from inside.
    fn inside(&self) -> Self::Inside;
    /// Spawns from inside a task running on the pool.
    fn spawn_inside(inside: &Self::Inside, f: impl FnOnce() + Send + 'static);
}

impl Contender for corepool::Pool {
    type Inside = ();
    fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        corepool::Pool::spawn(self, f);
    }
    fn inside(&self) {}
    fn spawn_inside((): &(), f: impl FnOnce() + Send + 'static) {
        // Pushes onto the current worker's own deque.
        corepool::spawn(f);
    }
}

impl Contender for rayon::ThreadPool {
    type Inside = ();
    fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        rayon::ThreadPool::spawn(self, f);
    }
    fn inside(&self) {}
    fn spawn_inside((): &(), f: impl FnOnce() + Send + 'static) {
        // On a worker of the pool, rayon::spawn pushes onto that worker's local deque.
        rayon::spawn(f);
    }
}

impl Contender for tokio::runtime::Runtime {
    type Inside = ();
    fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        // The JoinHandle is dropped: fire and forget, as for the others.
        drop(tokio::runtime::Runtime::spawn(self, async move { f() }));
    }
    fn inside(&self) {}
    fn spawn_inside((): &(), f: impl FnOnce() + Send + 'static) {
        // On a worker, tokio::spawn goes to that worker's local queue (overflowing to the
        // shared one when it is full).
        drop(tokio::spawn(async move { f() }));
    }
}

impl Contender for ChannelPool {
    type Inside = common::channel_pool::Spawner;
    fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        ChannelPool::spawn(self, f);
    }
    fn inside(&self) -> Self::Inside {
        self.spawner()
    }
    fn spawn_inside(inside: &Self::Inside, f: impl FnOnce() + Send + 'static) {
        // The channel pool has only its one shared channel.
        inside.spawn(f);
    }
}

/// One link of the chain: the task's work, then the spawn of link `i + 1` from inside.
fn link<C: Contender>(inside: C::Inside, i: usize, latch: &'static Latch) {
    tiny_task(i, latch);
    if i + 1 < TASKS {
        let next = inside.clone();
        C::spawn_inside(&inside, move || link::<C>(next, i + 1, latch));
    }
}

/// Measures one contender; the pool is built by the caller and dropped (shut down) here.
fn bench<C: Contender>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    pool: C,
    from: Submitter,
) {
    let latch = Latch::new();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            time_iterations(iters, latch, TASKS, |latch| match from {
                Submitter::Outside => {
                    for i in 0..TASKS {
                        pool.spawn(move || tiny_task(i, latch));
                    }
                }
                Submitter::Inside => {
                    let inside = pool.inside();
                    pool.spawn(move || {
                        for i in 0..TASKS {
                            C::spawn_inside(&inside, move || tiny_task(i, latch));
                        }
                    });
                }
                Submitter::Chain => {
                    let inside = pool.inside();
                    pool.spawn(move || link::<C>(inside, 0, latch));
                }
            })
        })
    });
    drop(pool);
}

fn bench_group(c: &mut Criterion, from: Submitter) {
    let workers = corepool::detect_cores().cpus().len();
    let mut group = c.benchmark_group(from.group_name());
    // One iteration takes milliseconds: flat sampling keeps the sample count affordable.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(TASKS as u64));
    let corepool = corepool::Pool::builder()
        .sizing(corepool::Sizing::cpu_bound().cores(workers))
        .build()
        .expect("failed to build the corepool pool");
    bench(&mut group, "corepool", corepool, from);
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("failed to build the rayon pool");
    bench(&mut group, "rayon", rayon, from);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("failed to build the tokio runtime");
    bench(&mut group, "tokio", tokio, from);
    bench(&mut group, "channel_pool", ChannelPool::new(workers), from);
    group.finish();
}

fn spawn_outside(c: &mut Criterion) {
    bench_group(c, Submitter::Outside);
}

fn spawn_inside(c: &mut Criterion) {
    bench_group(c, Submitter::Inside);
}

fn spawn_chain(c: &mut Criterion) {
    bench_group(c, Submitter::Chain);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = spawn_outside, spawn_inside, spawn_chain
}
criterion_main!(benches);
