//! `CancelToken`'s lock-free list (`task/cancel.rs`): registrations racing `cancel` and a
//! prune. The promise checked: once `cancel` has returned, no task bound before it can
//! start, and every bound task — before, during or after the cancel — ends cancelled.
//!
//! Under loom every second push prunes, so with one task bound first and two registrants
//! racing the cancel, one or two prunes take the list out and splice it back while the
//! cancel swaps `CLOSED` in. The tasks are real submit cells bound as `pool.submit_with`
//! binds them, but queued nowhere (`__loom::submit_bound`): the model starts them itself,
//! where a worker would.
#![cfg(corepool_loom)]

use common::{check, Bound, Leaky};
use corepool::__loom::{submit_bound, token_with_bugs, SeededBugs};
use corepool::TaskError;
use loom::thread;

mod common;

/// Three threads (the canceller and two registrants) at the suite's bound.
const BOUND: Bound = Bound::Env;

fn register_racing_cancel_and_prune(bugs: SeededBugs) {
    let token = Leaky::new(token_with_bugs(bugs));
    let (first, first_handle) = submit_bound(&token, || ());
    let (first, first_handle) = (Leaky::new(first), Leaky::new(first_handle));
    let registrants: Vec<_> = (0..2)
        .map(|_| {
            let token = token.clone();
            thread::spawn(move || {
                let (task, handle) = submit_bound(&token, || ());
                (Leaky::new(task), Leaky::new(handle))
            })
        })
        .collect();
    token.cancel();
    // The promise: a task bound before the cancel cannot start once it has returned.
    assert!(
        !first.into_inner().run(),
        "a task bound before cancel started after cancel returned"
    );
    assert!(matches!(
        first_handle.into_inner().join(),
        Err(TaskError::Cancelled)
    ));
    for registrant in registrants {
        let (task, handle) = registrant.join().unwrap();
        // Bound before, during or after the cancel: cancelled by it, by a prune that found
        // the token closed, or at registration.
        assert!(!task.into_inner().run(), "a bound task escaped the cancel");
        assert!(matches!(
            handle.into_inner().join(),
            Err(TaskError::Cancelled)
        ));
    }
}

#[test]
fn registrations_racing_cancel_and_prune_are_all_cancelled() {
    check(BOUND, || {
        register_racing_cancel_and_prune(SeededBugs::default())
    });
}

/// Negative control: a prune that does not count itself in `pruning` holds the first task
/// out of the list while the cancel swaps an empty list, does not wait, and returns; the
/// task then starts.
#[test]
#[should_panic]
fn an_uncounted_prune_lets_a_bound_task_start_after_cancel() {
    check(BOUND, || {
        register_racing_cancel_and_prune(SeededBugs {
            prune_uncounted: true,
            ..SeededBugs::default()
        })
    });
}
