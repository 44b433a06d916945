//! The fleet's tests, one binary (one link of the broker client instead of three), each
//! test with its own `redis-server` on 127.0.0.1 on a free port.
//!
//! - `kill_and_drain`: the fleet test — 100k jobs, three workers, one SIGKILLed, one drained.
//! - `failures`: retries, dead letters after N deliveries, a never-acknowledged job.
//! - `ingest`: 202, 503 with `Retry-After` past the bound, 400.

mod failures;
mod ingest;
mod kill_and_drain;
mod support;
