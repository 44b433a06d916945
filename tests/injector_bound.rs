//! A bounded injector keeps its capacity: the slots a batch of tasks frees when workers take
//! it out of the injector are all given back, however thieves race the taker. Its own test
//! binary, because it runs a pool for seconds and `tests/controls.rs` counts the process's
//! pool threads.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use corepool::{Pool, Sizing, TrySubmitError};

/// Holds one worker busy until dropped.
struct Hold(Option<mpsc::Sender<()>>);

impl Hold {
    fn one_worker(pool: &Pool) -> Hold {
        let (tx, rx) = mpsc::channel::<()>();
        let rx = Mutex::new(rx);
        let (started_tx, started) = mpsc::channel();
        pool.spawn(move || {
            started_tx.send(()).unwrap();
            let _ = rx.lock().unwrap().recv();
        });
        started.recv().unwrap();
        Hold(Some(tx))
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.take();
    }
}

/// Free slots of a pool's bounded injector, counted with one worker active and held busy:
/// nothing leaves the injector while `try_spawn` fills it.
fn free_injector_slots(pool: &Pool, capacity: usize) -> usize {
    pool.set_active_workers(1);
    let hold = Hold::one_worker(pool);
    let mut free = 0;
    while free <= capacity {
        match pool.try_spawn(|| ()) {
            Ok(()) => free += 1,
            Err(TrySubmitError::Full(_)) => break,
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    drop(hold);
    pool.set_active_workers(2);
    free
}

#[test]
fn a_bounded_injector_keeps_its_capacity_while_thieves_take_batches() {
    // Workers take batches out of the injector and give the batch's slots back. Counting a
    // batch by the own deque's length lost slots whenever a thief took from that deque in
    // between, until try_spawn refused a queue that held nothing.
    common::watchdog(
        "bounded injector capacity",
        Duration::from_secs(120),
        || {
            const CAPACITY: usize = 16;
            let pool = Pool::builder()
                .sizing(Sizing::cpu_bound().cores(2).oversubscribe(true))
                .pin_workers(false)
                .queue_capacity(CAPACITY)
                .build()
                .unwrap();
            let done = Arc::new(AtomicUsize::new(0));
            let mut sent = 0;
            for round in 0..4 {
                for i in 0..50_000usize {
                    while sent - done.load(Ordering::Acquire) >= CAPACITY {
                        std::hint::spin_loop();
                    }
                    let done = Arc::clone(&done);
                    let task = move || {
                        let mut x = i;
                        for _ in 0..(i % 7) * 50 {
                            x = x.wrapping_mul(31).wrapping_add(1);
                        }
                        std::hint::black_box(x);
                        done.fetch_add(1, Ordering::Release);
                    };
                    if pool.try_spawn(task).is_ok() {
                        sent += 1;
                    }
                }
                while done.load(Ordering::Acquire) < sent {
                    thread::yield_now();
                }
                // The last task counts itself done before its worker gives its slot back.
                thread::sleep(Duration::from_millis(20));
                assert_eq!(
                    free_injector_slots(&pool, CAPACITY),
                    CAPACITY,
                    "slots lost after round {round}"
                );
            }
        },
    );
}
