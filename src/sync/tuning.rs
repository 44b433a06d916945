//! The scheduler's tuning constants, in one place, each loom value beside the real one with
//! the reason it shrinks. (The builder's public defaults are in `builder.rs`.)

/// Tasks a worker runs from its own deque before it looks at the injector first
/// (`worker.rs`, find-work order: the injector first). Prime, so it does not fall into step with other periodic work.
#[cfg(not(corepool_loom))]
pub(crate) const INJECTOR_INTERVAL: u32 = 61;
/// Shrunk from 61 to 2 so a model reaches the fairness branch with two tasks.
#[cfg(corepool_loom)]
pub(crate) const INJECTOR_INTERVAL: u32 = 2;

/// A thief takes half of a neighbour's deque at once only from a deque at least this long;
/// from a shorter one (a fork-join stack) it takes one task (`worker.rs`, find-work order: stealing).
#[cfg(not(corepool_loom))]
pub(crate) const BATCH_STEAL_MIN_LEN: usize = 16;
/// Shrunk from 16 to 2 so a model reaches both the single and the batch steal.
#[cfg(corepool_loom)]
pub(crate) const BATCH_STEAL_MIN_LEN: usize = 2;

/// `build` waits for every worker's pin report before it returns, so the plan shows what
/// pinning really did (`lifecycle.rs`, start).
#[cfg(not(corepool_loom))]
pub(crate) const START_HANDSHAKE: bool = true;
/// Off under loom: nothing is pinned, so there is nothing to report, and the handshake's
/// lock and condvar waits multiplied a two-worker start + shutdown model's interleavings
/// twelvefold (164k vs 13.7k at two preemptions) without checking any protocol. Workers
/// start at once; exit accounting and thread joining are unchanged.
#[cfg(corepool_loom)]
pub(crate) const START_HANDSHAKE: bool = false;

/// An idle worker's backoff (`spin.rs`): step `s` spins 2^s hints, for this many steps
/// (1, 2, 4 … 64 hints: a few µs). No spin at all under loom or shuttle (`spin.rs` says
/// why).
#[cfg(not(any(corepool_loom, corepool_shuttle)))]
pub(crate) const SPIN_BACKOFF_STEPS: u32 = 7;

/// Yields of a worker that is not searching, after the backoff, before it parks.
#[cfg(not(any(corepool_loom, corepool_shuttle)))]
pub(crate) const SPIN_YIELDS: u32 = 4;
