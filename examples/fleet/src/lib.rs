//! corepool beyond one machine: worker processes sharing one job stream on Redis Streams.
//!
//! ```text
//!  HTTP clients ──▶ fleet-ingest ──XADD (bounded)──▶ Redis stream `jobs` ◀──XREADGROUP/XACK── fleet-worker × N
//!                   (503 + Retry-After when full)    consumer group `workers`                 (one corepool pool each)
//! ```
//!
//! - [`job`]: what a job is and the CPU work it stands for (a verifiable SHA-256 chain).
//! - [`queue`]: the Redis keys of a queue, publishing, the bounded enqueue script.
//! - [`worker`]: the worker loop — pull against the pool's free capacity, acknowledge after
//!   the task, negative-ack on failure or panic, dead-letter after N attempts, drain on
//!   SIGTERM. Its module docs give the protocol and why no job is lost.
//! - [`local`]: a throwaway `redis-server` and kill-on-drop child processes, for the tests
//!   and the load run.
//!
//! The binaries are `fleet-worker` and `fleet-ingest` (`--help` on each). README "Beyond one
//! machine" has the recipe, `deploy/fleet.yaml` a Kubernetes manifest, `tests/fleet/`
//! the fleet's tests and `load-run.sh` the load run.

pub mod job;
pub mod local;
pub mod queue;
pub mod worker;

pub use job::{Fault, Job, JobError, MAX_ROUNDS, digest};
pub use queue::{ENQUEUE_BOUNDED, GROUP, Queue, connect};
pub use worker::{Summary, WorkerConfig, WorkerError, run_worker};
