//! `Pool::stream`: order, the window bound, first error wins, per-worker state, cancellation,
//! dropping the iterator, panics, edge cases, use from inside a task, and a property test
//! against a sequential model.

mod common;

use common::watchdog;
use corepool::{CancelToken, Pool, Progress, Sizing};
use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(workers))
        .pin_workers(false)
        .build()
        .unwrap()
}

/// A little work per item, so groups interleave across workers.
fn spin(x: u64) -> u64 {
    (0..(x % 7) * 50).fold(x, |h, i| h.rotate_left(5) ^ i)
}

#[test]
fn map_keeps_input_order() {
    watchdog("map order", LIMIT, || {
        let pool = pool(2);
        let out: Vec<u64> = pool.stream(0..100_000u64).map(|x| spin(x) ^ x).collect();
        let want: Vec<u64> = (0..100_000u64).map(|x| spin(x) ^ x).collect();
        assert_eq!(out, want);
    });
}

#[test]
fn unordered_map_yields_every_result_once() {
    watchdog("unordered map", LIMIT, || {
        let pool = pool(2);
        let mut out: Vec<u64> = pool
            .stream(0..50_000u64)
            .unordered()
            .map(|x| x * 3)
            .collect();
        out.sort_unstable();
        assert_eq!(out, (0..50_000u64).map(|x| x * 3).collect::<Vec<_>>());
    });
}

/// Counts items taken from the source and handed back, and checks the bound at every take.
struct Window {
    taken: AtomicUsize,
    handed: AtomicUsize,
    worst: AtomicUsize,
}

impl Window {
    fn new() -> Arc<Self> {
        Arc::new(Window {
            taken: AtomicUsize::new(0),
            handed: AtomicUsize::new(0),
            worst: AtomicUsize::new(0),
        })
    }

    /// Called by the source as it yields an item.
    fn take(&self) {
        let taken = self.taken.fetch_add(1, Ordering::SeqCst) + 1;
        let held = taken - self.handed.load(Ordering::SeqCst);
        self.worst.fetch_max(held, Ordering::SeqCst);
    }

    fn hand_back(&self) {
        self.handed.fetch_add(1, Ordering::SeqCst);
    }

    fn worst(&self) -> usize {
        self.worst.load(Ordering::SeqCst)
    }
}

#[test]
fn the_window_bounds_items_taken_and_not_handed_back() {
    watchdog("window bound", LIMIT, || {
        let pool = pool(2);
        for n in [1, 2, 3, 7, 64] {
            // map: handed back when the caller receives the output.
            let w = Window::new();
            let src = {
                let w = w.clone();
                (0..2_000u64).inspect(move |_| w.take())
            };
            let mut count = 0;
            for x in pool.stream(src).window(n).map(spin) {
                let _ = x;
                w.hand_back();
                count += 1;
            }
            assert_eq!(count, 2_000);
            assert!(w.worst() <= n, "map window {n}: {} held", w.worst());
            assert!(
                w.worst() >= n.min(2),
                "window {n} never filled: {}",
                w.worst()
            );

            // for_each: handed back once the item has run.
            let w = Window::new();
            let src = {
                let w = w.clone();
                (0..2_000u64).inspect(move |_| w.take())
            };
            pool.stream(src).window(n).for_each(|x| {
                spin(x);
                w.hand_back();
            });
            assert!(w.worst() <= n, "for_each window {n}: {} held", w.worst());
        }
    });
}

#[test]
fn the_first_error_in_input_order_wins_and_nothing_starts_after_it() {
    watchdog("first error", LIMIT, || {
        let pool = pool(2);
        for bad in [0u64, 1, 17, 500, 4_999] {
            let started = Mutex::new(Vec::new());
            let taken = AtomicUsize::new(0);
            let src = (0..5_000u64).inspect(|_| {
                taken.fetch_add(1, Ordering::SeqCst);
            });
            let window = 32;
            let r = pool.stream(src).window(window).try_for_each(|x| {
                started.lock().unwrap().push(x);
                // Errors at `bad` and at every 700th item after it: the first must win.
                if x == bad || (x > bad && x % 700 == 0) {
                    Err(x)
                } else {
                    Ok(())
                }
            });
            assert_eq!(r, Err(bad));
            let started = started.into_inner().unwrap();
            let set: HashSet<u64> = started.iter().copied().collect();
            assert_eq!(set.len(), started.len(), "an item ran twice");
            // Every item before the error ran (one of them could have failed first).
            assert!((0..bad).all(|i| set.contains(&i)));
            // Beyond it, only what was already in the window.
            let after = started.iter().filter(|&&x| x > bad).count();
            assert!(
                after < window,
                "{after} items started after the error at {bad}"
            );
            // And nothing more was taken from the source than the window allows.
            assert!(taken.load(Ordering::SeqCst) <= bad as usize + 1 + window);
        }
    });
}

#[test]
fn state_is_made_once_per_worker_not_per_item() {
    watchdog("init per worker", LIMIT, || {
        let pool = pool(2);
        let inits = Arc::new(AtomicUsize::new(0));
        let c = inits.clone();
        let out: Vec<usize> = pool
            .stream(0..20_000usize)
            .map_init(
                move || {
                    c.fetch_add(1, Ordering::SeqCst);
                    Vec::<usize>::new()
                },
                |seen, x| {
                    seen.push(x);
                    seen.len()
                },
            )
            .collect();
        assert_eq!(out.len(), 20_000);
        // Two workers; no helping wait here, so no second state per worker.
        assert!(inits.load(Ordering::SeqCst) <= 2, "{inits:?} states");
        // Per-worker state persists across items: counts reached far past one group.
        assert!(out.iter().max().copied().unwrap_or(0) >= 10_000);

        let inits = AtomicUsize::new(0);
        pool.stream(0..20_000u64).for_each_init(
            || {
                inits.fetch_add(1, Ordering::SeqCst);
                0u64
            },
            |acc, x| *acc += x,
        );
        assert!(inits.load(Ordering::SeqCst) <= 2);
    });
}

#[test]
fn a_nested_helping_wait_never_shares_a_state() {
    watchdog("re-entrant state", LIMIT, || {
        // One worker: an item that waits on a nested task makes the worker run other groups
        // of the same stream inside the wait. Each run must have its own state.
        let pool = pool(1);
        let p = pool.clone();
        let out: Vec<u64> = pool
            .stream(0..200u64)
            .window(16)
            .map_init(
                || Arc::new(AtomicBool::new(false)),
                move |busy, x| {
                    assert!(
                        !busy.swap(true, Ordering::SeqCst),
                        "two items share a state"
                    );
                    if x % 10 == 0 {
                        p.submit(move || x).join().unwrap();
                    }
                    busy.store(false, Ordering::SeqCst);
                    x
                },
            )
            .collect();
        assert_eq!(out, (0..200).collect::<Vec<_>>());
    });
}

#[test]
fn a_cancel_token_stops_the_stream() {
    watchdog("cancel token", LIMIT, || {
        let pool = pool(2);
        let token = CancelToken::new();
        let t = token.clone();
        let ran = AtomicUsize::new(0);
        let taken = AtomicUsize::new(0);
        let src = (0u64..).inspect(|_| {
            taken.fetch_add(1, Ordering::SeqCst);
        });
        pool.stream(src)
            .window(256)
            .cancel_on(&token)
            .for_each(|x| {
                ran.fetch_add(1, Ordering::SeqCst);
                if x == 10_000 {
                    t.cancel();
                }
            });
        assert!(token.is_cancelled());
        // An endless source, stopped: nothing taken beyond the window after the cancel.
        assert!(taken.load(Ordering::SeqCst) <= 10_001 + 256);
        assert!(ran.load(Ordering::SeqCst) <= 10_001 + 256);

        // map: output stays an in-order prefix.
        let token = CancelToken::new();
        let t = token.clone();
        let out: Vec<u64> = pool
            .stream(0u64..)
            .window(256)
            .cancel_on(&token)
            .map(move |x| {
                if x == 5_000 {
                    t.cancel();
                }
                x
            })
            .collect();
        // An endless source that ended: the token stopped it, within the window.
        assert!(out.len() <= 5_001 + 256);
        assert!(out.iter().enumerate().all(|(i, &x)| i as u64 == x));

        // Cancelled before it starts: nothing runs.
        let token = CancelToken::new();
        token.cancel();
        let n = pool.stream(0..100).cancel_on(&token).map(|x| x).count();
        assert_eq!(n, 0);
    });
}

#[test]
fn dropping_a_half_read_iterator_stops_feeding_and_leaves_the_pool_usable() {
    watchdog("dropped iterator", LIMIT, || {
        let pool = pool(2);
        let taken = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        let t = taken.clone();
        let r = ran.clone();
        let mut it = pool
            .stream((0..1_000_000u64).inspect(move |_| {
                t.fetch_add(1, Ordering::SeqCst);
            }))
            .window(64)
            .map(move |x| {
                r.fetch_add(1, Ordering::SeqCst);
                x
            });
        assert_eq!(it.next(), Some(0));
        assert_eq!(it.next(), Some(1));
        drop(it);
        let taken_at_drop = taken.load(Ordering::SeqCst);
        assert!(taken_at_drop <= 66, "{taken_at_drop} taken");
        // The pool still works, and nothing more of the stream runs once it is quiet.
        assert_eq!(pool.submit(|| 5).join().unwrap(), 5);
        pool.install(|| ());
        assert!(ran.load(Ordering::SeqCst) <= taken_at_drop);
        let out: Vec<u64> = pool.stream(0..10u64).map(|x| x).collect();
        assert_eq!(out.len(), 10);
    });
}

#[test]
fn a_panicking_item_resumes_on_the_caller_after_the_running_items() {
    watchdog("panics", LIMIT, || {
        let pool = pool(2);
        let running = Arc::new(AtomicUsize::new(0));
        let r = running.clone();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for x in pool.stream(0..10_000u64).map(move |x| {
                r.fetch_add(1, Ordering::SeqCst);
                if x == 3_000 {
                    r.fetch_sub(1, Ordering::SeqCst);
                    panic!("item 3000");
                }
                spin(x);
                r.fetch_sub(1, Ordering::SeqCst);
                x
            }) {
                s.lock().unwrap().push(x);
            }
        }));
        let payload = result.expect_err("the panic reached the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"item 3000"));
        assert_eq!(running.load(Ordering::SeqCst), 0, "items still running");
        // Everything before the panicking item was yielded, in order.
        assert_eq!(*seen.lock().unwrap(), (0..3_000).collect::<Vec<_>>());

        let running = AtomicUsize::new(0);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.stream(0..10_000u64).for_each(|x| {
                running.fetch_add(1, Ordering::SeqCst);
                if x == 77 {
                    running.fetch_sub(1, Ordering::SeqCst);
                    panic!("for_each 77");
                }
                running.fetch_sub(1, Ordering::SeqCst);
            })
        }));
        assert!(result.is_err());
        assert_eq!(running.load(Ordering::SeqCst), 0);
        assert_eq!(pool.submit(|| 1).join().unwrap(), 1);
    });
}

#[test]
fn a_panicking_source_waits_for_the_borrowed_work() {
    watchdog("panicking source", LIMIT, || {
        let pool = pool(2);
        let done = AtomicUsize::new(0);
        let src = (0..1_000u64).inspect(|&x| {
            if x == 500 {
                panic!("source");
            }
        });
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.stream(src).for_each(|_| {
                done.fetch_add(1, Ordering::SeqCst);
            })
        }));
        assert!(r.is_err());
        // Nothing borrowed is touched after for_each unwound: the count is final.
        let n = done.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(done.load(Ordering::SeqCst), n);
    });
}

#[test]
fn an_empty_source_and_a_one_worker_pool() {
    watchdog("edge cases", LIMIT, || {
        let one = pool(1);
        assert_eq!(one.stream(Vec::<u8>::new()).map(|x| x).count(), 0);
        one.stream(std::iter::empty::<u8>())
            .for_each(|_| unreachable!());
        assert_eq!(
            one.stream(0..0).try_for_each(|_: i32| Err::<(), _>(())),
            Ok(())
        );
        let v: Vec<u32> = one.stream(0..5_000u32).window(1).map(|x| x + 1).collect();
        assert_eq!(v, (1..=5_000).collect::<Vec<_>>());
        let sum = AtomicUsize::new(0);
        one.stream(0..1_000usize).for_each(|x| {
            sum.fetch_add(x, Ordering::SeqCst);
        });
        assert_eq!(sum.into_inner(), 499_500);
    });
}

#[test]
fn a_stream_inside_a_pool_task_does_not_deadlock() {
    watchdog("inside a task", LIMIT, || {
        for workers in [1, 2] {
            let pool = pool(workers);
            let p = pool.clone();
            let total = pool
                .submit(move || {
                    let inner: u64 = p.stream(0..10_000u64).window(8).map(|x| x * 2).sum();
                    let p2 = p.clone();
                    // And a stream of streams.
                    let nested: u64 = p
                        .stream(0..4u64)
                        .map(move |i| p2.stream(0..100u64).map(move |x| x + i).sum::<u64>())
                        .sum();
                    inner + nested
                })
                .join()
                .unwrap();
            assert_eq!(total, 99_990_000 + 4 * 4_950 + 100 * 6);
        }
    });
}

#[test]
fn progress_counts_items_and_weight() {
    watchdog("progress", LIMIT, || {
        let pool = pool(2);
        let progress = Progress::new();
        let out: Vec<usize> = pool
            .stream((0..1_000usize).map(|n| vec![0u8; n % 10]))
            .progress(&progress)
            .weigh(|v| v.len() as u64)
            .map(|v| v.len())
            .collect();
        let weight: u64 = out.iter().map(|&n| n as u64).sum();
        assert_eq!(progress.items_taken(), 1_000);
        assert_eq!(progress.items_done(), 1_000);
        assert_eq!(progress.weight_taken(), weight);
        assert_eq!(progress.weight_done(), weight);
    });
}

#[test]
fn many_small_items_are_grouped_into_far_fewer_tasks() {
    watchdog("grouping", LIMIT, || {
        let pool = pool(2);
        let before = pool.metrics().submitted;
        let n = 2_000_000u64;
        let sum: u64 = pool.stream(0..n).map(|x| x & 1).sum();
        assert_eq!(sum, n / 2);
        pool.install(|| ());
        let tasks = pool.metrics().submitted - before;
        assert!(tasks < n / 20, "{tasks} tasks for {n} items");
    });
}

#[test]
fn a_blocking_stage_runs_on_the_lane() {
    watchdog("blocking lane", LIMIT, || {
        let lane_pool = Pool::builder()
            .sizing(Sizing::cpu_bound().cores(1).blocking_io(3))
            .pin_workers(false)
            .build()
            .unwrap();
        let out: Vec<(u64, bool)> = lane_pool
            .stream(0..30u64)
            .on_blocking_lane()
            .window(4)
            .map(|x| {
                std::thread::sleep(Duration::from_millis(1));
                (x, corepool::current_worker().is_none())
            })
            .collect();
        assert_eq!(out.len(), 30);
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, &(x, lane))| i as u64 == x && lane));

        let no_lane = pool(1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            no_lane.stream(0..3).on_blocking_lane().for_each(|_| ());
        }));
        assert!(
            r.is_err(),
            "a stream with no lane to run on must not pretend it ran"
        );
    });
}

#[test]
fn a_shut_down_pool_does_not_pretend_the_stream_ran() {
    watchdog("shut down", LIMIT, || {
        let pool = pool(1);
        pool.shutdown();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.stream(0..3).map(|x| x).count()
        }));
        assert!(r.is_err());
    });
}

/// What a stream must do, computed sequentially.
fn model(n: usize, errors: &[usize]) -> (Vec<usize>, Result<(), usize>) {
    let first = errors.iter().copied().filter(|&e| e < n).min();
    let upto = first.unwrap_or(n);
    ((0..upto).collect(), first.map_or(Ok(()), Err))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_streams_match_the_sequential_model(
        n in 0usize..3_000,
        window in 1usize..100,
        errors in proptest::collection::vec(0usize..4_000, 0..4),
        unordered in any::<bool>(),
        workers in 1usize..3,
    ) {
        let (want_ok, want) = model(n, &errors);
        let errs = errors.clone();
        let (ran, got, mapped) = watchdog("proptest", LIMIT, move || {
            let pool = pool(workers);
            let ran = Mutex::new(Vec::new());
            let mut s = pool.stream(0..n).window(window);
            if unordered {
                s = s.unordered();
            }
            let got = s.try_for_each(|x| {
                ran.lock().unwrap().push(x);
                if errs.contains(&x) { Err(x) } else { Ok(()) }
            });
            let mut m = pool.stream(0..n).window(window);
            if unordered {
                m = m.unordered();
            }
            let mut mapped: Vec<usize> = m.map(|x| x * 2).collect();
            if unordered {
                mapped.sort_unstable();
            }
            (ran.into_inner().unwrap(), got, mapped)
        });
        prop_assert_eq!(got, want);
        let ran: HashSet<usize> = ran.into_iter().collect();
        for i in &want_ok {
            prop_assert!(ran.contains(i), "item {} before the first error did not run", i);
        }
        if let Err(e) = want {
            let after = ran.iter().filter(|&&x| x > e).count();
            prop_assert!(after < window, "{} items after the error at {}", after, e);
        }
        prop_assert_eq!(mapped, (0..n).map(|x| x * 2).collect::<Vec<_>>());
    }
}

#[test]
fn progress_can_be_polled_from_another_thread_while_the_stream_runs() {
    watchdog("progress poll", LIMIT, || {
        let pool = pool(2);
        let progress = Progress::new();
        let watcher = progress.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        // A progress bar's loop: the figures never go backwards.
        let poller = std::thread::spawn(move || {
            let (mut last_done, mut polls) = (0, 0u64);
            while !s.load(Ordering::SeqCst) {
                let done = watcher.items_done();
                assert!(done >= last_done, "done went back: {done} < {last_done}");
                last_done = done;
                polls += 1;
                std::thread::yield_now();
            }
            polls
        });
        let r = pool
            .stream(0..200_000u64)
            .progress(&progress)
            .weigh(|_| 2)
            .try_for_each(|x| if x == 150_000 { Err(x) } else { Ok(()) });
        stop.store(true, Ordering::SeqCst);
        assert!(poller.join().unwrap() > 0);
        assert_eq!(r, Err(150_000));
        // Every item before the error ran; the failing one is not counted as done.
        assert!(progress.items_done() >= 150_000);
        assert!(progress.items_done() < progress.items_taken());
        assert_eq!(progress.weight_done(), 2 * progress.items_done());
    });
}
