//! `Builder::build_global` racing first use from many threads: exactly one global pool is
//! ever built. Its own test binary: the global pool is per process.

mod common;

use std::sync::Barrier;
use std::time::Duration;

use common::{threads_named, watchdog};
use corepool::{BuildError, Pool, Sizing};

#[test]
fn build_global_racing_first_use_builds_exactly_one_pool() {
    watchdog("build_global race", Duration::from_secs(60), || {
        assert_eq!(threads_named("corepool-cpu"), 0);
        let barrier = Barrier::new(8);
        let results: Vec<Option<Result<(), BuildError>>> = std::thread::scope(|s| {
            let racers: Vec<_> = (0..8)
                .map(|t| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        if t % 2 == 0 {
                            Some(
                                Pool::builder()
                                    .sizing(
                                        Sizing::cpu_bound()
                                            .cores(1)
                                            .per_core(3)
                                            .oversubscribe(true),
                                    )
                                    .thread_name(|i| format!("globalrace-{i}"))
                                    .build_global(),
                            )
                        } else {
                            let (a, b) = corepool::join(|| 1, || 2);
                            assert_eq!(a + b, 3);
                            None
                        }
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let built = results.iter().flatten().filter(|r| r.is_ok()).count();
        assert!(built <= 1, "{built} build_global calls succeeded");
        for r in results.iter().flatten() {
            if let Err(e) = r {
                assert!(matches!(e, BuildError::GlobalPoolAlreadyBuilt), "{e}");
            }
        }
        let n = corepool::current_num_threads();
        if built == 1 {
            assert_eq!(n, 3);
            assert_eq!(threads_named("globalrace-"), 3);
            assert_eq!(threads_named("corepool-cpu"), 0);
        } else {
            assert_eq!(threads_named("globalrace-"), 0);
            assert_eq!(threads_named("corepool-cpu"), n);
        }
    });
}
