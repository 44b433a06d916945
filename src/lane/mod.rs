//! The blocking lane and admission to bounded queues.

pub(crate) mod blocking;
pub(crate) mod bound;
