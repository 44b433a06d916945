//! The contract a user leans on: errors that travel with `?`, refusals counted once, one
//! answer after shutdown, no silent oversubscription, no hang after a shutdown that gave up,
//! handles tasks can hold without keeping the pool alive, a detected self-deadlock.

mod common;

use std::error::Error;
use std::time::Duration;

use common::watchdog;
use corepool::{Pool, Sizing, SubmitError, TaskError, TrySubmitError};

const LIMIT: Duration = Duration::from_secs(30);

fn small_pool() -> Pool {
    Pool::builder()
        .sizing(Sizing::cpu_bound().cores(1))
        .pin_workers(false)
        .panic_handler(|_| {})
        .build()
        .unwrap()
}

fn assert_send_sync_static<T: Send + Sync + 'static>() {}

type BoxError = Box<dyn Error + Send + Sync>;

#[test]
fn task_errors_travel_with_question_mark() {
    assert_send_sync_static::<TaskError>();
    assert_send_sync_static::<SubmitError>();
    let pool = small_pool();
    watchdog("errors with ?", LIMIT, move || {
        fn joined(pool: &Pool, fail: bool) -> Result<u32, BoxError> {
            let handle = pool.submit(move || {
                if fail {
                    panic!("task {}", u32::from(fail) + 6)
                } else {
                    3
                }
            });
            Ok(handle.join()?)
        }
        assert_eq!(joined(&pool, false).unwrap(), 3);
        let err = joined(&pool, true).unwrap_err();
        assert_eq!(err.to_string(), "task panicked: task 7");
        let err = *err.downcast::<TaskError>().unwrap();
        assert_eq!(err.panic_message(), Some("task 7"));
        // Shared between threads by reference: it is Sync.
        let shared = std::sync::Arc::new(err);
        let other = std::sync::Arc::clone(&shared);
        let msg = std::thread::spawn(move || other.to_string())
            .join()
            .unwrap();
        assert_eq!(msg, "task panicked: task 7");
        let err = std::sync::Arc::into_inner(shared).unwrap();
        assert_eq!(*err.into_panic().downcast::<String>().unwrap(), "task 7");

        let payload = pool
            .submit(|| std::panic::panic_any(11u16))
            .join()
            .unwrap_err()
            .try_into_panic()
            .unwrap();
        assert_eq!(*payload.downcast::<u16>().unwrap(), 11);
        assert!(matches!(
            TaskError::Cancelled.try_into_panic(),
            Err(TaskError::Cancelled)
        ));
        let not_a_panic = std::panic::catch_unwind(|| TaskError::Rejected.into_panic());
        assert!(not_a_panic.is_err());

        // A closure that is not Sync: the refusal still travels, without the closure.
        fn refused(pool: &Pool) -> Result<(), BoxError> {
            let cell = std::cell::Cell::new(1);
            pool.try_spawn(move || cell.set(2))
                .map_err(SubmitError::from)?;
            Ok(())
        }
        assert!(refused(&pool).is_ok());
        pool.shutdown();
        let err = refused(&pool).unwrap_err();
        assert_eq!(
            err.downcast_ref::<SubmitError>(),
            Some(&SubmitError::ShutDown)
        );
        assert_eq!(TrySubmitError::Timeout(()).reason(), SubmitError::Timeout);
    });
}
