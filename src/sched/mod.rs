//! The scheduler: the registry the workers share, the worker loop, sleep/wake, the parker,
//! latches, the control word and the pool's lifecycle.

pub(crate) mod control;
pub(crate) mod counters;
pub(crate) mod fifo;
pub(crate) mod heartbeat;
pub(crate) mod latch;
pub(crate) mod lifecycle;
#[cfg(corepool_loom)]
pub(crate) mod loom_door;
pub(crate) mod park;
pub(crate) mod registry;
pub(crate) mod sleep;
pub(crate) mod spin;
pub(crate) mod start;
pub(crate) mod worker;
