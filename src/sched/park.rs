//! The per-worker parker: one state word plus a `Mutex` and `Condvar`, the only lock a worker
//! ever takes, and only to block.
//!
//! # States (one `AtomicU8`, typed as [`ParkState`])
//!
//! | state      | meaning                                                        | written by         |
//! |------------|----------------------------------------------------------------|--------------------|
//! | `Awake`    | running or searching; wakers skip it                           | owner              |
//! | `Sleepy`   | counted as sleeping, doing its final recheck; claimable        | owner              |
//! | `Parked`   | blocked (or about to block, holding the lock) on the condvar   | owner, under lock  |
//! | `Claiming` | a waker won the claim and is moving it from sleeping to searching in the idle word | a waker (CAS) |
//! | `Notified` | that accounting is done; the owner may go                      | the waker, under lock |
//!
//! # Transitions
//!
//! 1. `Awake → Sleepy` — owner, [`Parker::transition_to_sleepy`], after it counted itself as
//!    sleeping (see `sleep.rs`).
//! 2. `Sleepy | Parked → Claiming` — a waker, [`Parker::try_claim`]; exactly one claim wins.
//! 3. `Claiming → Notified` — the same waker, [`Parker::finish_claim`], under the lock, after
//!    its update of the idle word.
//! 4. `Sleepy → Awake` — owner, [`Parker::try_cancel_sleep`], when its recheck found work;
//!    excludes (2), so exactly one side takes it off the sleeping count.
//! 5. `Sleepy → Parked` — owner, under the lock, then waits until `Notified`.
//! 6. `Notified → Awake` — owner, once it saw the claim finished.
//!
//! # Why the owner waits for `Notified`, not just for a claim
//!
//! Between (2) and (3) the idle word still counts the owner as sleeping. Were the owner to go
//! on at (2), it could search, fail, and count itself asleep again before the waker's update
//! landed — corrupting the counts (the loom model found this). Waiting for (3) makes the
//! claim and its accounting one step as far as the owner can tell.
//!
//! # Why no wakeup is lost here
//!
//! (3) stores `Notified` under the lock, and the owner checks for `Notified` under the same
//! lock before every wait (and waits by releasing it atomically), so either the owner sees
//! `Notified` before it waits, or it is already waiting when the waker — after unlocking —
//! signals.

use crate::sync::{AtomicU8, Condvar, Mutex, MutexGuard, Ordering};

/// The parker's state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ParkState {
    /// Running or searching.
    Awake = 0,
    /// Counted as sleeping; final recheck in progress; claimable.
    Sleepy = 1,
    /// Blocked on the condvar; claimable.
    Parked = 2,
    /// Claimed; the waker is updating the idle word.
    Claiming = 3,
    /// Claimed and accounted; the owner wakes as a searcher.
    Notified = 4,
}

impl ParkState {
    fn from_u8(v: u8) -> ParkState {
        match v {
            0 => ParkState::Awake,
            1 => ParkState::Sleepy,
            2 => ParkState::Parked,
            3 => ParkState::Claiming,
            4 => ParkState::Notified,
            other => panic!("corrupt parker state {other}"),
        }
    }
}

/// How a sleep ended, from the owner's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The owner undid its own sleep; it must take itself off the sleeping count.
    ByItself,
    /// A waker claimed it and has already moved it from sleeping to searching.
    Claimed,
}

pub(crate) struct Parker {
    state: AtomicU8,
    lock: Mutex<()>,
    cvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            state: AtomicU8::new(ParkState::Awake as u8),
            lock: Mutex::new(()),
            cvar: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Transition 1. The caller has already been counted as sleeping.
    pub(crate) fn transition_to_sleepy(&self) {
        debug_assert_eq!(self.state(), ParkState::Awake);
        // ORDERING: Relaxed is enough: the SeqCst fence the caller issues next (the sleeper's fence, `sleep.rs`)
        // orders this store before its final recheck, and a waker reads it after its own fence.
        self.state.store(ParkState::Sleepy as u8, Ordering::Relaxed);
    }

    /// Transition 4, or — if a waker got there first — wait for its transition 3.
    pub(crate) fn try_cancel_sleep(&self) -> Woken {
        // ORDERING: AcqRel on success: nothing to publish but keeps the word's order simple;
        // failure is followed by the locked wait, which synchronises with the waker.
        match self.state.compare_exchange(
            ParkState::Sleepy as u8,
            ParkState::Awake as u8,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => Woken::ByItself,
            Err(_) => {
                let guard = self.lock();
                drop(self.wait_notified(guard));
                self.consume_notification();
                Woken::Claimed
            }
        }
    }

    /// Transitions 5 and 6: block until a claim is finished.
    pub(crate) fn park(&self) -> Woken {
        let guard = self.lock();
        // ORDERING: Relaxed: on failure (a claim in progress) the locked wait below decides.
        let _ = self.state.compare_exchange(
            ParkState::Sleepy as u8,
            ParkState::Parked as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        drop(self.wait_notified(guard));
        self.consume_notification();
        Woken::Claimed
    }

    /// Waits, holding the lock between checks, until transition 3.
    fn wait_notified<'a>(&self, mut guard: MutexGuard<'a, ()>) -> MutexGuard<'a, ()> {
        // ORDERING: Relaxed: the lock orders this load after the waker's store, and the
        // waker's idle-word update before both (its unlock releases, our lock acquires).
        while self.state.load(Ordering::Relaxed) != ParkState::Notified as u8 {
            guard = self.cvar.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
        guard
    }

    /// Transition 6.
    fn consume_notification(&self) {
        debug_assert_eq!(self.state(), ParkState::Notified);
        // ORDERING: Relaxed: only the owner leaves Notified, and a waker never claims Awake.
        self.state.store(ParkState::Awake as u8, Ordering::Relaxed);
    }

    /// Transition 2: claims the worker if it sleeps. On success the caller must update the
    /// idle word, then call [`Parker::finish_claim`].
    pub(crate) fn try_claim(&self) -> bool {
        // ORDERING: Relaxed load is a hint only; the CAS decides. Relaxed CAS: the waker's
        // later writes reach the owner through the lock in `finish_claim`.
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if !matches!(
                ParkState::from_u8(cur),
                ParkState::Sleepy | ParkState::Parked
            ) {
                return false;
            }
            match self.state.compare_exchange_weak(
                cur,
                ParkState::Claiming as u8,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Transition 3: publishes the claim, then signals the owner in case it waits.
    ///
    /// The signal comes after the unlock: signalled under the lock, an owner woken onto the
    /// waker's CPU preempts the waker while it still holds the lock, blocks on it at once, and
    /// waits for the waker to be scheduled again — a whole time slice when the waker is a busy
    /// producer. Signalling after the unlock loses nothing: an owner that had not begun to
    /// wait checks `Notified` under the lock first, and one that waits gets the signal.
    pub(crate) fn finish_claim(&self) {
        let guard = self.lock();
        debug_assert_eq!(self.state(), ParkState::Claiming);
        // ORDERING: Relaxed: published by the unlock below to the owner's locked wait.
        self.state
            .store(ParkState::Notified as u8, Ordering::Relaxed);
        drop(guard);
        self.cvar.notify_one();
    }

    pub(crate) fn state(&self) -> ParkState {
        // ORDERING: Relaxed: diagnostic read (asserts).
        ParkState::from_u8(self.state.load(Ordering::Relaxed))
    }
}
