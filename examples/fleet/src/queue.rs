//! The broker side: which Redis keys a queue uses, and how jobs get onto it.
//!
//! A queue named `jobs` is four things on one Redis server:
//!
//! | key | type | written by | read by |
//! |---|---|---|---|
//! | `jobs` | stream of jobs | ingest (`XADD`, bounded), publishers | workers, as consumer group `workers` |
//! | `jobs:results` | stream of `id, key, digest, worker, deliveries` | workers, with the ack | whoever wants results |
//! | `jobs:dead` | stream of jobs given up on, with `error` and `attempts` | workers | an operator |
//!
//! The group's pending-entries list (PEL) is the fourth: every job a worker has read and not
//! yet acknowledged, with its owner, idle time and delivery count. A worker acknowledges a
//! job and deletes it from `jobs` in one `MULTI` with writing its result or dead letter, so
//! `XLEN jobs` counts exactly the jobs not yet finished (waiting or in flight) — which is
//! what the ingest's bound ([`ENQUEUE_BOUNDED`]) compares against.

use std::time::Duration;

use redis::{Commands, Connection, RedisResult};

use crate::job::Job;

/// The consumer group every worker of a queue joins.
pub const GROUP: &str = "workers";

/// Adds a job only while the stream holds fewer than a bound; answers the new entry's id,
/// or nil when full. `KEYS[1]` is the stream, `ARGV[1]` the bound, the rest field/value
/// pairs. One script, so the check and the add are one atomic step on the server.
pub const ENQUEUE_BOUNDED: &str = r"
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
";

/// The Redis keys of one queue.
///
/// ```
/// let q = corepool_fleet::Queue::named("jobs");
/// assert_eq!((q.stream.as_str(), q.dead.as_str(), q.results.as_str()),
///            ("jobs", "jobs:dead", "jobs:results"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// The job stream.
    pub stream: String,
    /// Jobs given up on after too many attempts.
    pub dead: String,
    /// One entry per finished job (per delivery that finished and was acknowledged).
    pub results: String,
}

impl Queue {
    /// The keys of the queue called `name`.
    ///
    /// ```
    /// assert_eq!(corepool_fleet::Queue::named("q").stream, "q");
    /// ```
    pub fn named(name: &str) -> Queue {
        Queue {
            stream: name.to_string(),
            dead: format!("{name}:dead"),
            results: format!("{name}:results"),
        }
    }

    /// Creates the stream and the consumer group if they do not exist yet (any number of
    /// workers may race to do it; `BUSYGROUP` means another one won).
    ///
    /// ```no_run
    /// let mut con = corepool_fleet::connect("redis://127.0.0.1:6379/")?;
    /// corepool_fleet::Queue::named("jobs").ensure_group(&mut con)?;
    /// # Ok::<(), redis::RedisError>(())
    /// ```
    pub fn ensure_group(&self, con: &mut Connection) -> RedisResult<()> {
        let created: RedisResult<()> = con.xgroup_create_mkstream(&self.stream, GROUP, "0");
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Publishes `jobs` in one pipeline, without a bound (a batch producer that knows what it
    /// sends); answers the entry ids.
    ///
    /// ```no_run
    /// use corepool_fleet::{connect, Job, Queue};
    /// let mut con = connect("redis://127.0.0.1:6379/")?;
    /// let ids = Queue::named("jobs").publish(&mut con, &[Job::new("a", 1, b"x".to_vec())])?;
    /// assert_eq!(ids.len(), 1);
    /// # Ok::<(), redis::RedisError>(())
    /// ```
    pub fn publish(&self, con: &mut Connection, jobs: &[Job]) -> RedisResult<Vec<String>> {
        let mut pipe = redis::pipe();
        for job in jobs {
            pipe.xadd(&self.stream, "*", &job.to_fields());
        }
        pipe.query(con)
    }

    /// Publishes one job if the stream holds fewer than `bound` unfinished jobs
    /// ([`ENQUEUE_BOUNDED`]); `Ok(None)` when full.
    ///
    /// ```no_run
    /// use corepool_fleet::{connect, Job, Queue};
    /// let mut con = connect("redis://127.0.0.1:6379/")?;
    /// match Queue::named("jobs").enqueue_bounded(&mut con, &Job::new("a", 1, vec![]), 10_000)? {
    ///     Some(id) => println!("queued as {id}"),
    ///     None => println!("full: try later"),
    /// }
    /// # Ok::<(), redis::RedisError>(())
    /// ```
    pub fn enqueue_bounded(
        &self,
        con: &mut Connection,
        job: &Job,
        bound: usize,
    ) -> RedisResult<Option<String>> {
        self.bounded_invocation(job, bound).invoke(con)
    }

    /// The script call behind [`enqueue_bounded`](Queue::enqueue_bounded), for any
    /// connection (the ingest runs it on an async one).
    ///
    /// ```
    /// use corepool_fleet::{Job, Queue};
    /// let call = Queue::named("jobs").bounded_invocation(&Job::new("a", 1, vec![]), 100);
    /// // then `call.invoke(&mut con)`, or `call.invoke_async(&mut con).await` on an async one
    /// drop(call);
    /// ```
    pub fn bounded_invocation(&self, job: &Job, bound: usize) -> redis::ScriptInvocation<'static> {
        let script: &'static redis::Script = bounded_script();
        let mut call = script.key(&self.stream);
        call.arg(bound);
        for (field, value) in job.to_fields() {
            call.arg(field).arg(value);
        }
        call
    }
}

fn bounded_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(ENQUEUE_BOUNDED))
}

/// Opens a blocking connection to `url` with 5 s connect, read and write timeouts, so no
/// call can hang on a broker that went away.
///
/// ```no_run
/// let mut con = corepool_fleet::connect("redis://127.0.0.1:6379/")?;
/// let _: () = redis::cmd("PING").query(&mut con)?;
/// # Ok::<(), redis::RedisError>(())
/// ```
pub fn connect(url: &str) -> RedisResult<Connection> {
    let limit = Duration::from_secs(5);
    let con = redis::Client::open(url)?.get_connection_with_timeout(limit)?;
    con.set_read_timeout(Some(limit))?;
    con.set_write_timeout(Some(limit))?;
    Ok(con)
}
