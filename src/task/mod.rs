//! Tasks: the task slot the queues carry, and cancel tokens.

pub(crate) mod cancel;
pub(crate) mod cell;
pub(crate) mod job;
pub(crate) mod slot;
