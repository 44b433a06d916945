//! Fork-join cost: fib(n) by `join` with no sequential cutoff, so nearly all of the time is
//! the join itself (1.6 million joins for n = 30), and the sum of a balanced binary tree of
//! 2^20 nodes by `join` (one join per node, chili's own showcase). corepool against rayon and
//! chili on 2 workers, and the plain sequential recursion as the floor; then fib on 1 worker
//! against the plain recursion, the price of a join nobody steals.
//!
//! The tree is summed in three memory layouts, because the walk is bound by memory, not by
//! the joins, and the layout decides which walk streams. `tree_sum` allocates the nodes level
//! by level, root first: a walk that runs `a` (the left child) first and one that runs `b`
//! first see mirror-image address patterns, so only the joins differ. `tree_sum_post_order`
//! is chili's showcase as written: the tree built by recursion, so every node is allocated
//! after its two subtrees. chili's join runs `b` (the right child) before `a`, which visits
//! exactly the reverse of that allocation order — one descending stream the prefetcher
//! follows — while corepool and rayon run `a` first and the plain recursion goes left first,
//! as each promises, and jump back and forth in it. `tree_sum_pre_order` is its mirror image:
//! each node allocated before its subtrees, left first, so a left-first walk streams and
//! chili's jumps. The `_right_first` rows sum the same tree with the halves swapped (the
//! right subtree as `a`), which gives corepool and the plain recursion chili's visit order:
//! on every layout, a row and its swapped twin compare the same walk.
//!
//! chili's pool of 2 threads is its one worker plus the thread that calls into its scope (the
//! bench thread), as chili counts them; corepool and rayon run 2 workers and the bench thread
//! waits in `install`, which costs a wake-up each way. `corepool_caller` is corepool built
//! with `use_current_thread`, chili's arrangement: the bench thread is worker 0, and the
//! computation starts on it without a wake-up — on a loaded machine, where a wake-up waits
//! for a CPU, that difference can outweigh the joins themselves.
//!
//! tokio and the channel pool are not here: neither has a fork-join primitive. A "join" on
//! them would be a spawn plus a blocking wait on the result, which on a fixed set of workers
//! deadlocks once every worker waits (the channel pool), or turns into async recursion with a
//! boxed future and a task per call (tokio) — a different program, not their way of doing
//! this work. The spawn benches (`spawn_inside`, `spawn_chain`) cover their task overhead.
//!
//! Quick run: `cargo bench --bench join -- --warm-up-time 1 --measurement-time 3 --noplot`.

#[path = "common/workloads.rs"]
mod workloads;

use std::num::NonZero;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use workloads::{fib_corepool, fib_rayon, fib_sequential, fib_two_calls};

/// The worker count of the comparison (the setting; the reference machine has 2).
const WORKERS: usize = 2;
/// Tree depth: 2^20 − 1 nodes.
const TREE_LAYERS: usize = 20;

fn corepool_pool(workers: usize) -> corepool::Pool {
    corepool::Pool::builder()
        .sizing(corepool::Sizing::cpu_bound().cores(workers))
        .build()
        .expect("corepool pool")
}

/// A pool whose worker 0 is the calling (bench) thread, as chili's is. One at a time per
/// thread: each bench function drops its own before the next builds one.
fn corepool_caller_pool(workers: usize) -> corepool::Pool {
    corepool::Pool::builder()
        .sizing(corepool::Sizing::cpu_bound().cores(workers))
        .use_current_thread()
        .build()
        .expect("corepool pool on the bench thread")
}

fn rayon_pool(workers: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("rayon pool")
}

fn chili_pool(threads: usize) -> chili::ThreadPool {
    chili::ThreadPool::with_config(chili::Config {
        thread_count: NonZero::new(threads),
        ..chili::Config::default()
    })
}

/// fib by chili's `Scope::join`, no cutoff.
fn fib_chili(n: u64, scope: &mut chili::Scope<'_>) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = scope.join(|s| fib_chili(n - 1, s), |s| fib_chili(n - 2, s));
    a + b
}

/// A node of a balanced binary tree.
struct Node {
    val: u64,
    left: Option<Box<Node>>,
    right: Option<Box<Node>>,
}

impl Node {
    /// Built by recursion (chili's showcase): each node is allocated after its subtrees.
    fn post_order(layers: usize) -> Node {
        Node {
            val: 1,
            left: (layers > 1).then(|| Box::new(Node::post_order(layers - 1))),
            right: (layers > 1).then(|| Box::new(Node::post_order(layers - 1))),
        }
    }

    /// The mirror image of `post_order`: each node allocated before its subtrees, the left
    /// one first, so a left-first walk visits the nodes in allocation order.
    fn pre_order(layers: usize) -> Box<Node> {
        let mut node = Box::new(Node {
            val: 1,
            left: None,
            right: None,
        });
        if layers > 1 {
            node.left = Some(Node::pre_order(layers - 1));
            node.right = Some(Node::pre_order(layers - 1));
        }
        node
    }

    /// The same tree with its nodes allocated level by level, root first, each level left to
    /// right: the children of the `i`th node allocated are the `2i + 1`th and `2i + 2`th.
    fn level_order(layers: usize) -> Node {
        let n = (1usize << layers) - 1;
        let mut nodes: Vec<Option<Box<Node>>> = (0..n)
            .map(|_| {
                Some(Box::new(Node {
                    val: 1,
                    left: None,
                    right: None,
                }))
            })
            .collect();
        // Link bottom-up; moving a `Box` leaves its node where it was allocated.
        for i in (0..n / 2).rev() {
            let left = nodes[2 * i + 1].take();
            let right = nodes[2 * i + 2].take();
            let node = nodes[i].as_mut().expect("linked once");
            node.left = left;
            node.right = right;
        }
        *nodes[0].take().expect("the root")
    }
}

fn sum_corepool(node: &Node) -> u64 {
    let (l, r) = corepool::join(
        || node.left.as_deref().map_or(0, sum_corepool),
        || node.right.as_deref().map_or(0, sum_corepool),
    );
    node.val + l + r
}

/// The same sum with the halves swapped: the right subtree is `a`, so it is walked first —
/// chili's visit order.
fn sum_corepool_right_first(node: &Node) -> u64 {
    let (r, l) = corepool::join(
        || node.right.as_deref().map_or(0, sum_corepool_right_first),
        || node.left.as_deref().map_or(0, sum_corepool_right_first),
    );
    node.val + l + r
}

fn sum_rayon(node: &Node) -> u64 {
    let (l, r) = rayon::join(
        || node.left.as_deref().map_or(0, sum_rayon),
        || node.right.as_deref().map_or(0, sum_rayon),
    );
    node.val + l + r
}

fn sum_chili(node: &Node, scope: &mut chili::Scope<'_>) -> u64 {
    let (l, r) = scope.join(
        |s| node.left.as_deref().map_or(0, |n| sum_chili(n, s)),
        |s| node.right.as_deref().map_or(0, |n| sum_chili(n, s)),
    );
    node.val + l + r
}

fn sum_sequential(node: &Node) -> u64 {
    node.val
        + node.left.as_deref().map_or(0, sum_sequential)
        + node.right.as_deref().map_or(0, sum_sequential)
}

/// The plain recursion, right subtree first.
fn sum_sequential_right_first(node: &Node) -> u64 {
    let r = node.right.as_deref().map_or(0, sum_sequential_right_first);
    let l = node.left.as_deref().map_or(0, sum_sequential_right_first);
    node.val + l + r
}

fn fib(c: &mut Criterion) {
    let pool = corepool_pool(WORKERS);
    let caller = corepool_caller_pool(WORKERS);
    let rayon = rayon_pool(WORKERS);
    let chili = chili_pool(WORKERS);
    let mut group = c.benchmark_group("fib_join");
    group.sample_size(20);
    for n in [25u64, 30] {
        group.bench_with_input(BenchmarkId::new("corepool", n), &n, |b, &n| {
            b.iter(|| pool.install(|| fib_corepool(std::hint::black_box(n))))
        });
        group.bench_with_input(BenchmarkId::new("corepool_caller", n), &n, |b, &n| {
            b.iter(|| caller.install(|| fib_corepool(std::hint::black_box(n))))
        });
        group.bench_with_input(BenchmarkId::new("rayon", n), &n, |b, &n| {
            b.iter(|| rayon.install(|| fib_rayon(std::hint::black_box(n))))
        });
        group.bench_with_input(BenchmarkId::new("chili", n), &n, |b, &n| {
            b.iter(|| fib_chili(std::hint::black_box(n), &mut chili.scope()))
        });
        group.bench_with_input(BenchmarkId::new("sequential", n), &n, |b, &n| {
            b.iter(|| fib_sequential(std::hint::black_box(n)))
        });
    }
    group.finish();
}

fn tree(c: &mut Criterion) {
    let pool = corepool_pool(WORKERS);
    let caller = corepool_caller_pool(WORKERS);
    let rayon = rayon_pool(WORKERS);
    let chili = chili_pool(WORKERS);
    let nodes = (1u64 << TREE_LAYERS) - 1;
    for (name, tree) in [
        ("tree_sum", Node::level_order(TREE_LAYERS)),
        ("tree_sum_post_order", Node::post_order(TREE_LAYERS)),
        ("tree_sum_pre_order", *Node::pre_order(TREE_LAYERS)),
    ] {
        assert_eq!(sum_sequential(&tree), nodes);
        let mut group = c.benchmark_group(name);
        group.sample_size(20);
        group.bench_function(BenchmarkId::new("corepool", nodes), |b| {
            b.iter(|| pool.install(|| sum_corepool(std::hint::black_box(&tree))))
        });
        group.bench_function(BenchmarkId::new("corepool_caller", nodes), |b| {
            b.iter(|| caller.install(|| sum_corepool(std::hint::black_box(&tree))))
        });
        group.bench_function(BenchmarkId::new("corepool_right_first", nodes), |b| {
            b.iter(|| pool.install(|| sum_corepool_right_first(std::hint::black_box(&tree))))
        });
        group.bench_function(
            BenchmarkId::new("corepool_caller_right_first", nodes),
            |b| b.iter(|| caller.install(|| sum_corepool_right_first(std::hint::black_box(&tree)))),
        );
        group.bench_function(BenchmarkId::new("rayon", nodes), |b| {
            b.iter(|| rayon.install(|| sum_rayon(std::hint::black_box(&tree))))
        });
        group.bench_function(BenchmarkId::new("chili", nodes), |b| {
            b.iter(|| sum_chili(std::hint::black_box(&tree), &mut chili.scope()))
        });
        group.bench_function(BenchmarkId::new("sequential", nodes), |b| {
            b.iter(|| sum_sequential(std::hint::black_box(&tree)))
        });
        group.bench_function(BenchmarkId::new("sequential_right_first", nodes), |b| {
            b.iter(|| sum_sequential_right_first(std::hint::black_box(&tree)))
        });
        group.finish();
    }
}

/// One worker: every join's half comes back unstolen, so this is the join's own cost over a
/// plain call — against the plain recursion as compiled (`sequential`, half its calls turned
/// into a loop) and with both calls kept (`sequential_two_calls`).
fn fib_one_worker(c: &mut Criterion) {
    let pool = corepool_pool(1);
    let caller = corepool_caller_pool(1);
    let chili = chili_pool(1);
    let mut group = c.benchmark_group("fib_1_worker");
    group.sample_size(20);
    let n = 30u64;
    group.bench_with_input(BenchmarkId::new("corepool", n), &n, |b, &n| {
        b.iter(|| pool.install(|| fib_corepool(std::hint::black_box(n))))
    });
    group.bench_with_input(BenchmarkId::new("corepool_caller", n), &n, |b, &n| {
        b.iter(|| caller.install(|| fib_corepool(std::hint::black_box(n))))
    });
    group.bench_with_input(BenchmarkId::new("chili", n), &n, |b, &n| {
        b.iter(|| fib_chili(std::hint::black_box(n), &mut chili.scope()))
    });
    group.bench_with_input(BenchmarkId::new("sequential", n), &n, |b, &n| {
        b.iter(|| fib_sequential(std::hint::black_box(n)))
    });
    group.bench_with_input(BenchmarkId::new("sequential_two_calls", n), &n, |b, &n| {
        b.iter(|| fib_two_calls(std::hint::black_box(n)))
    });
    group.finish();
}

criterion_group!(benches, fib, tree, fib_one_worker);
criterion_main!(benches);
