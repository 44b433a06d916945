//! Batch helpers: every item exactly once, order kept, reduce correct (and ordered), panics,
//! empty inputs, piece sizes, one worker; the `try_` helpers (lowest failing index, nothing
//! started after an error beyond what was in flight), per-piece state, chunk boundaries.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use corepool::{Pool, Sizing};

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(workers).oversubscribe(true))
        .build()
        .unwrap()
}

#[test]
fn for_each_visits_every_item_exactly_once_for_any_piece_size() {
    for workers in [1, 2, 3] {
        let pool = pool(workers);
        for len in [0usize, 1, 2, 7, 1_000, 100_003] {
            for min_len in [None, Some(1), Some(3), Some(1 << 20)] {
                let seen: Vec<AtomicU8> = (0..len).map(|_| AtomicU8::new(0)).collect();
                let items: Vec<usize> = (0..len).collect();
                let batch = match min_len {
                    Some(m) => pool.batch().min_len(m),
                    None => pool.batch(),
                };
                batch.for_each(&items, |&i| {
                    seen[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    seen.iter().all(|s| s.load(Ordering::Relaxed) == 1),
                    "workers {workers} len {len} min_len {min_len:?}"
                );
            }
        }
    }
}

#[test]
fn for_each_mut_and_for_each_index_cover_everything() {
    let pool = pool(2);
    let mut v: Vec<u64> = (0..50_000).collect();
    pool.for_each_mut(&mut v, |x| *x = *x * 3 + 1);
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 3 + 1));
    let hits: Vec<AtomicU8> = (0..10_000).map(|_| AtomicU8::new(0)).collect();
    pool.for_each_index(5_000..10_000, |i| {
        hits[i].fetch_add(1, Ordering::Relaxed);
    });
    assert!(hits[..5_000].iter().all(|h| h.load(Ordering::Relaxed) == 0));
    assert!(hits[5_000..].iter().all(|h| h.load(Ordering::Relaxed) == 1));
}

#[test]
fn map_keeps_order_and_owns_its_results() {
    let pool = pool(2);
    let items: Vec<u32> = (0..100_000).collect();
    let strings = pool.map(&items, |i| format!("#{i}"));
    assert_eq!(strings.len(), items.len());
    assert!(strings
        .iter()
        .enumerate()
        .all(|(i, s)| *s == format!("#{i}")));
    let empty: Vec<String> = pool.map(&[] as &[u32], |i| i.to_string());
    assert!(empty.is_empty());
    // Irregular costs do not disturb the order.
    let irregular = pool.batch().min_len(1).map(&items[..2_000], |&i| {
        if i % 97 == 0 {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        i * 2
    });
    assert!(irregular
        .iter()
        .enumerate()
        .all(|(i, &x)| x == i as u32 * 2));
}

#[test]
fn a_panic_in_map_or_for_each_resumes_after_all_pieces_stopped() {
    let pool = pool(2);
    let items: Vec<usize> = (0..10_000).collect();
    let err = catch_unwind(AssertUnwindSafe(|| {
        pool.map(&items, |&i| {
            if i == 7_777 {
                panic!("bad item {i}");
            }
            i.to_string()
        })
    }))
    .unwrap_err();
    assert_eq!(corepool::panic_message(&*err), "bad item 7777");
    let visited = AtomicUsize::new(0);
    let err = catch_unwind(AssertUnwindSafe(|| {
        pool.batch().min_len(10).for_each(&items, |&i| {
            visited.fetch_add(1, Ordering::Relaxed);
            assert!(i != 5, "item five");
        })
    }))
    .unwrap_err();
    assert!(corepool::panic_message(&*err).contains("item five"));
    // The pool is fine afterwards.
    assert_eq!(
        pool.reduce(&items, || 0, |a, &x| a + x, |a, b| a + b),
        49_995_000
    );
}

#[test]
fn reduce_is_correct_and_combines_in_order() {
    let pool = pool(2);
    let items: Vec<u64> = (1..=200_000).collect();
    let sum = pool.reduce(&items, || 0u64, |a, &x| a + x, |a, b| a + b);
    assert_eq!(sum, 200_000 * 200_001 / 2);
    // A non-commutative combine: concatenation must come out in index order.
    let digits: Vec<u32> = (0..3_000).map(|i| i % 10).collect();
    let text = pool.batch().min_len(7).reduce(
        &digits,
        String::new,
        |mut s, d| {
            s.push(char::from_digit(*d, 10).unwrap());
            s
        },
        |a, b| a + &b,
    );
    let expected: String = digits
        .iter()
        .map(|d| char::from_digit(*d, 10).unwrap())
        .collect();
    assert_eq!(text, expected);
    let empty = pool.reduce(&[] as &[u64], || 17u64, |a, &x| a + x, |a, b| a + b);
    assert_eq!(empty, 17);
}

#[test]
fn heavy_tailed_work_is_shared_between_workers() {
    let pool = pool(2);
    // A few items cost 100x the rest.
    let items: Vec<u64> = (0..4_000).collect();
    let spin = |n: u64| (0..n).fold(0u64, |a, x| a.wrapping_mul(31) ^ x);
    let total = pool.reduce(
        &items,
        || 0u64,
        |a, &i| a ^ spin(if i % 400 == 0 { 200_000 } else { 2_000 }),
        |a, b| a ^ b,
    );
    std::hint::black_box(total);
    pool.shutdown();
    let m = pool.metrics();
    // The batch runs inside one `install` on one worker; the other takes part only by
    // stealing pieces of it.
    assert!(
        m.workers.iter().any(|w| w.stolen > 0),
        "both workers took part:\n{m}"
    );
}

// ---- try_, _init and chunk helpers ----

/// An error that names its index, so a test can tell which failure came back.
#[derive(Debug, PartialEq, Eq)]
struct Failed(usize);

/// A tiny deterministic generator (no dependency, same sequence every run).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}

#[test]
fn try_helpers_return_the_error_at_the_lowest_failing_index() {
    common::watchdog("lowest failing index", Duration::from_secs(120), || {
        let mut seed = 7;
        for workers in [1, 2, 3] {
            let pool = pool(workers);
            for len in [1usize, 2, 9, 1_000, 30_001] {
                for min_len in [None, Some(1), Some(5), Some(1 << 20)] {
                    let batch = || match min_len {
                        Some(m) => pool.batch().min_len(m),
                        None => pool.batch(),
                    };
                    // 1 to 4 failing indices, anywhere.
                    let fails: Vec<usize> = (0..1 + lcg(&mut seed) % 4)
                        .map(|_| (lcg(&mut seed) as usize) % len)
                        .collect();
                    let lowest = *fails.iter().min().unwrap();
                    let items: Vec<usize> = (0..len).collect();
                    let check = |&i: &usize| {
                        if fails.contains(&i) {
                            Err(Failed(i))
                        } else {
                            Ok(i)
                        }
                    };
                    let what =
                        format!("workers {workers} len {len} min_len {min_len:?} fails {fails:?}");
                    assert_eq!(
                        batch().try_for_each(&items, |i| check(i).map(drop)),
                        Err(Failed(lowest)),
                        "try_for_each, {what}"
                    );
                    assert_eq!(
                        batch().try_map(&items, check),
                        Err(Failed(lowest)),
                        "try_map, {what}"
                    );
                    assert_eq!(
                        batch().try_reduce(&items, || 0, |a, i| Ok(a + check(i)?), |a, b| a + b),
                        Err(Failed(lowest)),
                        "try_reduce, {what}"
                    );
                    // Without failures: the same answers as the infallible helpers.
                    let ok = |&i: &usize| Ok::<_, Failed>(i * 2);
                    assert_eq!(
                        batch().try_map(&items, ok),
                        Ok(batch().map(&items, |i| i * 2))
                    );
                    assert_eq!(
                        batch().try_reduce(
                            &items,
                            String::new,
                            |s, i| Ok::<_, Failed>(s + &(i % 10).to_string()),
                            |a, b| a + &b
                        ),
                        Ok(items
                            .iter()
                            .map(|i| (i % 10).to_string())
                            .collect::<String>()),
                        "{what}"
                    );
                    assert_eq!(
                        batch().try_for_each(&items, |_| Ok::<_, Failed>(())),
                        Ok(())
                    );
                }
            }
        }
    });
}

#[test]
fn on_one_worker_nothing_after_the_error_runs() {
    // One worker runs pieces depth-first, left to right: indices strictly in order. So after
    // the failure at `e` nothing may start, and everything before it must have run.
    let pool = pool(1);
    let items: Vec<usize> = (0..50_000).collect();
    for e in [0, 1, 777, 25_000, 49_999] {
        for min_len in [1, 64, 100_000] {
            let ran: Vec<AtomicU8> = items.iter().map(|_| AtomicU8::new(0)).collect();
            let result = pool.batch().min_len(min_len).try_for_each(&items, |&i| {
                ran[i].fetch_add(1, Ordering::Relaxed);
                if i == e {
                    Err(Failed(i))
                } else {
                    Ok(())
                }
            });
            assert_eq!(result, Err(Failed(e)));
            let ran: Vec<u8> = ran.iter().map(|r| r.load(Ordering::Relaxed)).collect();
            assert!(ran[..=e].iter().all(|&r| r == 1), "e {e} min_len {min_len}");
            let after = ran[e + 1..].iter().filter(|&&r| r != 0).count();
            assert_eq!(
                after, 0,
                "e {e} min_len {min_len}: {after} items ran after the error"
            );
        }
    }
}

#[test]
fn on_several_workers_only_what_was_in_flight_runs_after_the_error() {
    common::watchdog("in flight after an error", Duration::from_secs(120), || {
        let pool = pool(2);
        let items: Vec<usize> = (0..200_000).collect();
        for e in [1_000, 100_000, 150_001] {
            let failed = AtomicU8::new(0);
            let (started, late) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let result = pool.batch().min_len(1).try_for_each(&items, |&i| {
                started.fetch_add(1, Ordering::Relaxed);
                if i > e && failed.load(Ordering::SeqCst) == 1 {
                    late.fetch_add(1, Ordering::Relaxed);
                }
                // About a microsecond of work per item.
                std::hint::black_box((0..200u64).fold(i as u64, |h, x| h.rotate_left(5) ^ x));
                if i == e {
                    failed.store(1, Ordering::SeqCst);
                    return Err(Failed(i));
                }
                Ok(())
            });
            assert_eq!(result, Err(Failed(e)));
            // After the failing item returned, each other worker may finish the chunk (one
            // item here) it had started and begin at most another before it reads the failure;
            // without the short-circuit this would be tens of thousands.
            let (started, late) = (started.into_inner(), late.into_inner());
            assert!(
                late <= 64,
                "e {e}: {late} items started after the error ({started} in all)"
            );
            assert!(started > e, "e {e}: only {started} started");
        }
    });
}

/// Counts values made and dropped, to prove results are dropped exactly once.
#[derive(Debug)]
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(made: &AtomicUsize, dropped: &'a AtomicUsize) -> Self {
        made.fetch_add(1, Ordering::Relaxed);
        Counted(dropped)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn map_results_are_dropped_once_on_success_error_and_panic() {
    let pool = pool(2);
    let items: Vec<usize> = (0..20_000).collect();
    for min_len in [1, 16, 1 << 20] {
        let (made, dropped) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let out = pool
            .batch()
            .min_len(min_len)
            .map(&items, |_| Counted::new(&made, &dropped));
        assert_eq!(out.len(), items.len());
        drop(out);
        assert_eq!(made.load(Ordering::Relaxed), items.len());
        assert_eq!(dropped.load(Ordering::Relaxed), items.len());

        let (made, dropped) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let out = pool.batch().min_len(min_len).try_map(&items, |&i| {
            if i == 12_345 || i == 17_000 {
                return Err(Failed(i));
            }
            Ok(Counted::new(&made, &dropped))
        });
        assert_eq!(out.err(), Some(Failed(12_345)));
        assert!(made.load(Ordering::Relaxed) >= 12_345);
        assert_eq!(
            made.load(Ordering::Relaxed),
            dropped.load(Ordering::Relaxed),
            "min_len {min_len}"
        );

        let (made, dropped) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let err = catch_unwind(AssertUnwindSafe(|| {
            pool.batch().min_len(min_len).map_init(
                &items,
                || 0u8,
                |_, &i| {
                    assert!(i != 9_999, "item 9999");
                    Counted::new(&made, &dropped)
                },
            )
        }))
        .unwrap_err();
        assert!(corepool::panic_message(&*err).contains("item 9999"));
        assert_eq!(
            made.load(Ordering::Relaxed),
            dropped.load(Ordering::Relaxed),
            "min_len {min_len}"
        );
    }
}

#[test]
fn init_runs_per_piece_and_each_state_serves_one_run_of_indices() {
    common::watchdog("init per piece", Duration::from_secs(120), || {
        let len = 100_000;
        let items: Vec<usize> = (0..len).collect();
        let inits = AtomicUsize::new(0);
        for workers in [1, 2, 3] {
            let pool = pool(workers);
            for min_len in [1usize, 1_000] {
                // A state is (its id, the next index it expects): pieces go left to right
                // and hand their state on to their left half, so each state must see one
                // consecutive run of indices — which it could not if two pieces shared it.
                let init = || (inits.fetch_add(1, Ordering::Relaxed), None::<usize>);
                let step = |state: &mut (usize, Option<usize>), i: usize| {
                    if let Some(next) = state.1 {
                        assert_eq!(i, next, "state {} skipped or shared", state.0);
                    }
                    state.1 = Some(i + 1);
                    // Nested parallel work: the worker helps while it waits and may run
                    // another piece of this very call re-entrantly.
                    if i % 5_000 == 0 {
                        corepool::scope(|s| {
                            s.spawn(|_| {
                                std::hint::black_box(i);
                            })
                        });
                    }
                    state.0
                };
                let ids = pool
                    .batch()
                    .min_len(min_len)
                    .map_init(&items, init, |s, &i| step(s, i));
                let made = inits.swap(0, Ordering::Relaxed);
                let distinct = {
                    let mut ids = ids.clone();
                    ids.dedup();
                    ids.len()
                };
                assert!(
                    made >= 1 && distinct <= made,
                    "workers {workers}: {made} inits, {distinct} runs"
                );
                // One per piece, far from one per item. With min_len 1000 every piece has at
                // least 1000 items (lazy splits need two chunks; the up-front ones stop at
                // len / (4 × workers) ≥ 8333), so at most len / 1000 states. With min_len 1,
                // chains of lazy splits make a few dozen to a few hundred pieces (seen:
                // 19–164): one state per 100 items would already be a broken rule.
                let bound = if min_len == 1 {
                    len / 100
                } else {
                    len / min_len
                };
                assert!(
                    made <= bound,
                    "workers {workers} min_len {min_len}: {made} inits > {bound}"
                );

                pool.batch()
                    .min_len(min_len)
                    .for_each_init(&items, init, |s, &i| {
                        step(s, i);
                    });
                let made = inits.swap(0, Ordering::Relaxed);
                assert!(
                    made >= 1 && made <= bound,
                    "for_each_init, workers {workers}: {made} inits"
                );
            }
            // Nothing to do: no state made.
            pool.for_each_init(
                &[] as &[u8],
                || inits.fetch_add(1, Ordering::Relaxed),
                |_, _| {},
            );
            let none: Vec<u8> = pool.map_init(
                &[] as &[u8],
                || inits.fetch_add(1, Ordering::Relaxed),
                |_, &b| b,
            );
            assert!(none.is_empty());
            assert_eq!(inits.load(Ordering::Relaxed), 0);
        }
    });
}

#[test]
fn chunk_helpers_cut_at_the_right_boundaries() {
    let pool = pool(2);
    for len in [0usize, 1, 7, 64, 65, 1_000, 10_007] {
        let items: Vec<usize> = (0..len).collect();
        for size in [1usize, 3, 64, 1_000, 1 << 20] {
            let expected: Vec<(usize, usize)> =
                items.chunks(size).map(|c| (c[0], c.len())).collect();
            let seen = std::sync::Mutex::new(Vec::new());
            pool.batch().min_len(1).for_each_chunk(&items, size, |c| {
                seen.lock().unwrap().push((c[0], c.len()));
            });
            let mut seen = seen.into_inner().unwrap();
            seen.sort_unstable();
            assert_eq!(seen, expected, "for_each_chunk len {len} size {size}");
            assert_eq!(pool.map_chunks(&items, size, |c| (c[0], c.len())), expected);

            let mut v = items.clone();
            pool.for_each_chunk_mut(&mut v, size, |c| {
                let first = c[0];
                c.iter_mut().for_each(|x| *x -= first);
            });
            let by_std: Vec<usize> = items
                .chunks(size)
                .flat_map(|c| c.iter().map(move |x| x - c[0]))
                .collect();
            assert_eq!(v, by_std, "for_each_chunk_mut len {len} size {size}");
        }
    }
    let err = catch_unwind(AssertUnwindSafe(|| {
        pool.for_each_chunk(&[1, 2, 3], 0, |_| {})
    }))
    .unwrap_err();
    assert!(corepool::panic_message(&*err).contains("chunk size must be at least 1"));
}

#[test]
fn new_helpers_on_empty_slices() {
    let pool = pool(2);
    let empty: &[u32] = &[];
    assert_eq!(pool.try_for_each(empty, |_| Err(Failed(0))), Ok(()));
    assert_eq!(pool.try_map(empty, |_| Err::<u8, _>(Failed(0))), Ok(vec![]));
    assert_eq!(
        pool.try_reduce(empty, || 5, |_, _| Err(Failed(0)), |a, b| a + b),
        Ok(5)
    );
    assert!(pool.map_chunks(empty, 4, |c| c.len()).is_empty());
    pool.for_each_chunk(empty, 4, |_| panic!("no chunk in an empty slice"));
    pool.for_each_chunk_mut(&mut [] as &mut [u32], 4, |_| {
        panic!("no chunk in an empty slice")
    });
}

#[test]
fn a_panic_in_the_new_helpers_resumes_after_all_pieces_stopped() {
    let pool = pool(2);
    let items: Vec<usize> = (0..10_000).collect();
    let running = AtomicUsize::new(0);
    // Every piece has stopped when the panic comes back: nothing is still running.
    let guarded = |i: usize, bad: usize| {
        running.fetch_add(1, Ordering::SeqCst);
        let _leave = Leave(&running);
        assert!(i != bad, "bad item {i}");
        Ok::<(), Failed>(())
    };
    let calls: Vec<Box<dyn Fn() + '_>> = vec![
        Box::new(|| drop(pool.try_for_each(&items, |&i| guarded(i, 4_321)))),
        Box::new(|| drop(pool.try_map(&items, |&i| guarded(i, 4_321)))),
        Box::new(|| drop(pool.try_reduce(&items, || (), |(), &i| guarded(i, 4_321), |(), ()| ()))),
        Box::new(|| pool.for_each_init(&items, || (), |(), &i| guarded(i, 4_321).unwrap())),
        Box::new(|| drop(pool.map_chunks(&items, 10, |c| guarded(c[0], 4_320).unwrap()))),
        Box::new(|| pool.for_each_chunk(&items, 10, |c| guarded(c[0], 4_320).unwrap())),
    ];
    for (n, call) in calls.iter().enumerate() {
        let err = catch_unwind(AssertUnwindSafe(call)).unwrap_err();
        assert!(
            corepool::panic_message(&*err).starts_with("bad item 432"),
            "call {n}"
        );
        assert_eq!(
            running.load(Ordering::SeqCst),
            0,
            "call {n}: a piece still ran"
        );
    }
    // The pool is fine afterwards.
    assert_eq!(
        pool.try_map(&items, |&i| Ok::<_, Failed>(i))
            .map(|v| v.len()),
        Ok(10_000)
    );
}

/// Decrements a counter when dropped (also while unwinding).
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
