//! Batch helpers: every item exactly once, order kept, reduce correct (and ordered), panics,
//! empty inputs, piece sizes, one worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

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
