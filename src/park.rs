//! The per-worker parker: one state word plus a `Mutex` and `Condvar`, the only lock a worker
//! ever takes, and only to block.
//!
//! # States (one `AtomicU8`, typed as [`ParkState`])
//!
//! | state      | meaning                                                       | written by        |
//! |------------|---------------------------------------------------------------|-------------------|
//! | `Awake`    | running or searching; wakers skip it                          | owner             |
//! | `Sleepy`   | counted as sleeping, doing its final recheck; claimable       | owner             |
//! | `Parked`   | blocked (or about to block, holding the lock) on the condvar  | owner, under lock |
//! | `Notified` | claimed by a waker, who moved it from sleeping to searching   | a waker (CAS)     |
//!
//! # Transitions
//!
//! 1. `Awake → Sleepy` — owner, [`Parker::transition_to_sleepy`], after it was counted as
//!    sleeping (see `sleep.rs`).
//! 2. `Sleepy | Parked → Notified` — a waker, [`Parker::try_claim`]; exactly one claim wins.
//! 3. `Sleepy → Awake` — owner, [`Parker::try_cancel_sleep`], when its recheck found work;
//!    excludes (2), so exactly one side undoes the sleeping count.
//! 4. `Sleepy → Parked` — owner, under the lock, then waits while `Parked`.
//! 5. `Notified → Awake` — owner, after it saw the claim.
//!
//! # Why no wakeup is lost here
//!
//! A claim that finds `Parked` locks the mutex before signalling. The owner holds that same
//! mutex from its `Sleepy → Parked` CAS until `Condvar::wait` releases it, so the signal either
//! finds the owner waiting or the owner sees `Notified` before it waits.

use crate::sync::{AtomicU8, Condvar, Mutex, Ordering};

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
    /// Claimed by a waker; the owner wakes as a searcher.
    Notified = 3,
}

impl ParkState {
    fn from_u8(v: u8) -> ParkState {
        match v {
            0 => ParkState::Awake,
            1 => ParkState::Sleepy,
            2 => ParkState::Parked,
            3 => ParkState::Notified,
            other => panic!("corrupt parker state {other}"),
        }
    }
}

/// How a sleep ended, from the owner's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The owner undid its own sleep; it must undo its sleeping count itself.
    ByItself,
    /// A waker claimed it and already moved it from sleeping to searching.
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

    /// Transition 1. The caller has already been counted as sleeping.
    pub(crate) fn transition_to_sleepy(&self) {
        debug_assert_eq!(self.state(), ParkState::Awake);
        // ORDERING: Relaxed is enough: the SeqCst fence the caller issues next (sleep.rs step 3)
        // orders this store before its final recheck, and a waker reads it after its own fence.
        self.state.store(ParkState::Sleepy as u8, Ordering::Relaxed);
    }

    /// Transition 3: the owner found work in its recheck and wants to stay awake.
    pub(crate) fn try_cancel_sleep(&self) -> Woken {
        // ORDERING: Acquire on failure pairs with the claimer's AcqRel CAS, so the owner sees
        // the claimer's counter update before acting as a searcher.
        match self.state.compare_exchange(
            ParkState::Sleepy as u8,
            ParkState::Awake as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Woken::ByItself,
            Err(_) => {
                self.consume_notification();
                Woken::Claimed
            }
        }
    }

    /// Transitions 4 and 5: block until claimed. Returns [`Woken::Claimed`] always; kept as a
    /// return value so callers treat both exits of a sleep alike.
    pub(crate) fn park(&self) -> Woken {
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // ORDERING: AcqRel/Acquire: a failure means Notified, and the claimer's writes (its
        // counter update) must be visible before we act as a searcher.
        if self
            .state
            .compare_exchange(
                ParkState::Sleepy as u8,
                ParkState::Parked as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            // ORDERING: Acquire pairs with the claimer's CAS to Notified.
            while self.state.load(Ordering::Acquire) == ParkState::Parked as u8 {
                guard = self.cvar.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        }
        drop(guard);
        self.consume_notification();
        Woken::Claimed
    }

    /// Transition 5.
    fn consume_notification(&self) {
        debug_assert_eq!(self.state(), ParkState::Notified);
        // ORDERING: Relaxed: only the owner writes Awake, and a waker never claims Awake.
        self.state.store(ParkState::Awake as u8, Ordering::Relaxed);
    }

    /// Transition 2: claims the worker if it is sleeping. On success the caller must move it
    /// from sleeping to searching in the counters, then call [`Parker::unpark`].
    pub(crate) fn try_claim(&self) -> Option<ParkState> {
        // ORDERING: Relaxed load is a hint only; the CAS decides. AcqRel on the CAS pairs with
        // the owner's Acquire loads in `park`/`try_cancel_sleep`.
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let seen = ParkState::from_u8(cur);
            if !matches!(seen, ParkState::Sleepy | ParkState::Parked) {
                return None;
            }
            match self.state.compare_exchange_weak(
                cur,
                ParkState::Notified as u8,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(seen),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Finishes a claim: signals the owner if it may be blocked.
    pub(crate) fn unpark(&self, claimed_from: ParkState) {
        if claimed_from == ParkState::Parked {
            // The owner holds the lock from its Parked CAS until it waits: taking it here means
            // the owner is already waiting (or has seen Notified), so the signal is not lost.
            drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
            self.cvar.notify_one();
        }
        // Claimed from Sleepy: the owner has not blocked yet and will see Notified in `park`
        // or `try_cancel_sleep` before it could.
    }

    pub(crate) fn state(&self) -> ParkState {
        // ORDERING: Relaxed: diagnostic read (asserts, metrics).
        ParkState::from_u8(self.state.load(Ordering::Relaxed))
    }
}
