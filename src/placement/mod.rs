//! Where workers go: usable cores, pool sizing, CPU topology.

pub(crate) mod cores;
pub(crate) mod sizing;
pub(crate) mod topology;
