//! A worker process: one corepool pool fed from the queue's consumer group.
//!
//! The pool is sized like any other ([`Sizing::cpu_bound`]: the affinity mask and the cgroup
//! CPU quota decide the worker count) and bounded ([`Builder::queue_capacity`](corepool::Builder::queue_capacity)).
//! One thread, the *puller*, talks to Redis; the pool's workers only run jobs.
//!
//! # The loop (one puller thread)
//!
//! 1. **Settle.** Take every finished job off the completion channel and, in one `MULTI`:
//!    a success writes its result to `results`, `XACK`s and `XDEL`s the job; a failure
//!    (error or panic) on its last attempt writes the job to `dead`, acks and deletes it; an
//!    earlier failure is negative-acknowledged: `XCLAIM … IDLE <claim-idle> JUSTID` marks it
//!    idle for the whole claim timeout at once, so the next reclaim pass of any worker takes
//!    it (the delivery count is left alone; the claim that redelivers it counts).
//! 2. **Stop?** After SIGTERM (the `stop` flag), pull nothing more: submit what is held
//!    (step 6), wait for the jobs in flight, settle them (step 1), shut the pool down and
//!    return. The consumer leaves the group only if nothing is pending under its name
//!    (jobs it negatively acknowledged may still be: another worker reclaims them).
//! 3. **Free capacity.** `free = capacity − in flight`, where *in flight* counts every job
//!    pulled and not yet settled (queued in the pool, running, or finished and waiting for
//!    step 1). Nothing is pulled beyond it, so the pool's bounded queue can never be full
//!    when the puller submits, and there is no local buffer besides it.
//! 4. **Reclaim** (at most every claim-idle / 4, 250 ms at most): `XPENDING … IDLE
//!    <claim-idle>` lists jobs nobody has touched for the claim timeout — their worker died,
//!    or they were negative-acknowledged — and `XCLAIM` takes up to `free` of them (a claim
//!    only succeeds while the job is still idle, so two workers never both win). A job
//!    already delivered `max-attempts` times is dead-lettered instead of run again: that
//!    catches a job that kills its worker every time.
//! 5. **Read** up to the rest of `free` new jobs with `XREADGROUP … >`, blocking up to
//!    100 ms only when nothing is in flight.
//! 6. **Submit** each job to the pool with `try_spawn`; the task runs the job under
//!    `catch_unwind` and sends the outcome to the completion channel (step 1). A job the
//!    pool hands back as full is held and offered again first thing next round: it is
//!    already counted in flight, so the held jobs stay within the capacity. (The pool can
//!    refuse for a moment even below its bound: a worker gives the slots of a batch it took
//!    from the queue back just after taking it, and a thief may run one of those tasks
//!    first.) When nothing new came and jobs are in flight, wait up to 5 ms for a
//!    completion.
//!
//! # Why nothing is lost
//!
//! A job leaves the stream only in the same `MULTI` that records its result or its dead
//! letter. Until then it is either waiting in the stream or in the group's pending list
//! under some consumer; if that consumer dies, the job goes idle and step 4 of another
//! worker takes it. So every job is finished at least once, or dead-lettered after
//! `max-attempts` deliveries. A job may run more than once: when its worker died after
//! taking it, or when it took longer than the claim timeout (then another worker takes it
//! over while it still runs). Jobs must be idempotent; results carry the job's key and the
//! delivery count so repeats are visible.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use corepool::{BuildError, Pool, Sizing, TrySubmitError};
use redis::streams::{
    StreamClaimReply, StreamPendingCountReply, StreamReadOptions, StreamReadReply,
};
use redis::{Commands, Connection, RedisError, Value};

use crate::job::Job;
use crate::queue::{GROUP, Queue, connect};

/// How a worker process runs.
///
/// ```
/// let config = corepool_fleet::WorkerConfig::new("redis://127.0.0.1:6379/", "jobs", "node-1");
/// assert_eq!(config.max_attempts, 5);
/// ```
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The broker, e.g. `redis://127.0.0.1:6379/`.
    pub url: String,
    /// The queue's keys.
    pub queue: Queue,
    /// This process's name in the consumer group; unique per process.
    pub consumer: String,
    /// Deliveries a job gets before it is dead-lettered (at least 1).
    pub max_attempts: u64,
    /// How long a job may sit unacknowledged under a consumer before another worker takes
    /// it over (the longest a job may run without being run twice). Default 30 s.
    pub claim_idle: Duration,
    /// The pool's queue bound, which is also the most jobs this process holds unsettled;
    /// default 8 × the pool's CPU workers.
    pub capacity: Option<usize>,
    /// The results stream is trimmed to about this many entries (`MAXLEN ~`).
    pub results_cap: usize,
}

impl WorkerConfig {
    /// The defaults: 5 attempts, 30 s claim timeout, capacity 8 × workers, 1M results kept.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = corepool_fleet::WorkerConfig::new("redis://127.0.0.1:6379/", "jobs", "w");
    /// assert_eq!((c.claim_idle, c.capacity), (Duration::from_secs(30), None));
    /// ```
    pub fn new(url: &str, queue: &str, consumer: &str) -> WorkerConfig {
        WorkerConfig {
            url: url.to_string(),
            queue: Queue::named(queue),
            consumer: consumer.to_string(),
            max_attempts: 5,
            claim_idle: Duration::from_secs(30),
            capacity: None,
            results_cap: 1_000_000,
        }
    }
}

/// What a worker did, returned when it stops.
///
/// ```
/// let s = corepool_fleet::Summary::default();
/// assert_eq!(s.processed + s.dead_lettered, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The pool's CPU workers.
    pub workers: usize,
    /// The pool's queue bound (= the most jobs held unsettled).
    pub capacity: usize,
    /// Jobs finished and acknowledged with a result.
    pub processed: u64,
    /// Failures negative-acknowledged for another attempt.
    pub retried: u64,
    /// Jobs moved to the dead-letter stream.
    pub dead_lettered: u64,
    /// Jobs taken over from the pending list (a dead worker's, or negative-acknowledged).
    pub reclaimed: u64,
    /// The most jobs held unsettled at once (never above `capacity`).
    pub max_in_flight: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} workers, capacity {}: processed {}, retried {}, dead-lettered {}, reclaimed {}, max in flight {}",
            self.workers,
            self.capacity,
            self.processed,
            self.retried,
            self.dead_lettered,
            self.reclaimed,
            self.max_in_flight
        )
    }
}

/// Why a worker stopped early.
///
/// ```
/// let e = corepool_fleet::WorkerError::from(redis::RedisError::from((redis::ErrorKind::Io, "gone")));
/// assert!(e.to_string().starts_with("broker: "));
/// ```
#[derive(Debug)]
pub enum WorkerError {
    /// The pool could not be built (bad sizing, e.g. from `COREPOOL_*`).
    Build(BuildError),
    /// The broker refused or went away. Jobs in flight stay pending and are reclaimed by
    /// other workers after the claim timeout.
    Broker(RedisError),
    /// The configuration makes no sense.
    Config(&'static str),
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Build(e) => write!(f, "pool: {e}"),
            WorkerError::Broker(e) => write!(f, "broker: {e}"),
            WorkerError::Config(what) => write!(f, "config: {what}"),
        }
    }
}

impl std::error::Error for WorkerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WorkerError::Build(e) => Some(e),
            WorkerError::Broker(e) => Some(e),
            WorkerError::Config(_) => None,
        }
    }
}

impl From<BuildError> for WorkerError {
    fn from(e: BuildError) -> Self {
        WorkerError::Build(e)
    }
}

impl From<RedisError> for WorkerError {
    fn from(e: RedisError) -> Self {
        WorkerError::Broker(e)
    }
}

/// A job back from the pool (or refused before it ran), waiting to be settled.
struct Done {
    id: String,
    deliveries: u64,
    /// The job, when it could be read (a malformed entry has none).
    job: Option<Job>,
    outcome: Result<String, String>,
}

/// A job taken from the broker, not yet submitted.
struct Pulled {
    id: String,
    deliveries: u64,
    map: std::collections::HashMap<String, Value>,
}

/// Runs a worker until `stop` is set (then drains: see the module docs) or the broker
/// fails. Blocks the calling thread, which becomes the puller.
///
/// ```no_run
/// use std::sync::atomic::AtomicBool;
/// use corepool_fleet::{run_worker, WorkerConfig};
///
/// static STOP: AtomicBool = AtomicBool::new(false); // set from a SIGTERM handler
/// let config = WorkerConfig::new("redis://127.0.0.1:6379/", "jobs", "node-1");
/// let summary = run_worker(&config, &STOP)?;
/// eprintln!("{summary}");
/// # Ok::<(), corepool_fleet::WorkerError>(())
/// ```
pub fn run_worker(config: &WorkerConfig, stop: &AtomicBool) -> Result<Summary, WorkerError> {
    if config.max_attempts == 0 {
        return Err(WorkerError::Config("max attempts must be at least 1"));
    }
    let sizing = Sizing::cpu_bound();
    let workers = sizing.plan(true)?.cpu_workers();
    let capacity = config.capacity.unwrap_or(8 * workers);
    if capacity == 0 {
        return Err(WorkerError::Config("capacity must be at least 1"));
    }
    let pool = Pool::builder()
        .sizing(sizing)
        .queue_capacity(capacity)
        .build()?;
    let mut puller = Puller {
        config,
        con: connect(&config.url)?,
        pool: &pool,
        capacity,
        in_flight: HashSet::new(),
        held: VecDeque::new(),
        refused_since: None,
        warned: false,
        summary: Summary {
            workers,
            capacity,
            ..Summary::default()
        },
    };
    config.queue.ensure_group(&mut puller.con)?;
    let outcome = puller.run(stop);
    // On a broker error the jobs in flight still finish here; unacknowledged, they are
    // reclaimed by other workers after the claim timeout.
    pool.shutdown();
    outcome?;
    let summary = puller.summary;
    forget_consumer_if_idle(&mut puller.con, config)?;
    Ok(summary)
}

/// Removes this consumer from the group if it holds no pending job. `DELCONSUMER` drops
/// the consumer's pending entries with it — they would never be delivered again — and a
/// drained worker can still own some: jobs it negatively acknowledged, which wait under its
/// name until a reclaim pass (another worker's, now) takes them. Only this process reads
/// as this consumer and other workers' claims only take entries away from it, so nothing
/// can become pending under it between the check and the delete.
fn forget_consumer_if_idle(con: &mut Connection, config: &WorkerConfig) -> Result<(), WorkerError> {
    let mine: StreamPendingCountReply =
        con.xpending_consumer_count(&config.queue.stream, GROUP, "-", "+", 1, &config.consumer)?;
    if mine.ids.is_empty() {
        let _: i64 = redis::cmd("XGROUP")
            .arg("DELCONSUMER")
            .arg(&config.queue.stream)
            .arg(GROUP)
            .arg(&config.consumer)
            .query(con)?;
    }
    Ok(())
}

struct Puller<'a> {
    config: &'a WorkerConfig,
    con: Connection,
    pool: &'a Pool,
    capacity: usize,
    /// Ids of the jobs pulled and not yet settled.
    in_flight: HashSet<String>,
    /// Tasks the pool handed back as full, oldest first; their jobs are in `in_flight`.
    held: VecDeque<Task>,
    /// Since when the pool has refused every offer, if it does.
    refused_since: Option<Instant>,
    /// Whether the "refused while idle" warning has been printed.
    warned: bool,
    summary: Summary,
}

/// A job wrapped for the pool: runs it and reports the outcome.
type Task = Box<dyn FnOnce() + Send + 'static>;

impl Puller<'_> {
    fn run(&mut self, stop: &AtomicBool) -> Result<(), WorkerError> {
        let (tx, rx) = mpsc::channel::<Done>();
        let reclaim_every = (self.config.claim_idle / 4).min(Duration::from_millis(250));
        let mut last_reclaim: Option<Instant> = None;
        let mut done = Vec::new();
        loop {
            // Step 1.
            done.extend(rx.try_iter());
            if !done.is_empty() {
                self.settle(&mut done)?;
            }
            // Step 2. ORDERING: Relaxed: a flag read every round; the handler's store
            // needs no other memory to be visible.
            if stop.load(Ordering::Relaxed) {
                if self.in_flight.is_empty() {
                    return Ok(());
                }
                let wait = if self.offer_held() { 100 } else { 1 };
                if let Ok(d) = rx.recv_timeout(Duration::from_millis(wait)) {
                    done.push(d);
                }
                continue;
            }
            // Step 6, for jobs the pool refused last round.
            if !self.offer_held() {
                if let Ok(d) = rx.recv_timeout(Duration::from_millis(1)) {
                    done.push(d);
                }
                continue;
            }
            // Step 3.
            let free = self.capacity - self.in_flight.len();
            if free == 0 {
                if let Ok(d) = rx.recv_timeout(Duration::from_millis(100)) {
                    done.push(d);
                }
                continue;
            }
            // Step 4.
            let mut pulled = Vec::new();
            if last_reclaim.is_none_or(|t| t.elapsed() >= reclaim_every) {
                last_reclaim = Some(Instant::now());
                self.reclaim(free, &mut pulled, &mut done)?;
            }
            // Step 5.
            let want = free - pulled.len();
            if want > 0 {
                let idle = self.in_flight.is_empty() && pulled.is_empty() && done.is_empty();
                self.read_new(want, idle, &mut pulled)?;
            }
            // Step 6.
            if pulled.is_empty()
                && done.is_empty()
                && !self.in_flight.is_empty()
                && let Ok(d) = rx.recv_timeout(Duration::from_millis(5))
            {
                done.push(d);
            }
            for p in pulled {
                self.submit(p, &tx, &mut done);
            }
            self.offer_held();
            self.summary.max_in_flight = self.summary.max_in_flight.max(self.in_flight.len());
            debug_assert!(
                self.in_flight.len() <= self.capacity,
                "pulled beyond capacity"
            );
        }
    }

    fn submit(&mut self, p: Pulled, tx: &mpsc::Sender<Done>, done: &mut Vec<Done>) {
        let job = match Job::from_fields(&p.map) {
            Ok(job) => job,
            Err(e) => {
                done.push(Done {
                    id: p.id,
                    deliveries: p.deliveries,
                    job: None,
                    outcome: Err(e.to_string()),
                });
                return;
            }
        };
        let (id, deliveries, tx) = (p.id, p.deliveries, tx.clone());
        let task_id = id.clone();
        let task: Task = Box::new(move || {
            let outcome = match catch_unwind(AssertUnwindSafe(|| job.run())) {
                Ok(Ok(digest)) => Ok(digest),
                Ok(Err(e)) => Err(e.to_string()),
                Err(payload) => Err(format!("panicked: {}", corepool::panic_message(&*payload))),
            };
            // The puller outlives the pool's tasks (it shuts the pool down before it goes),
            // so the receiver is there.
            let _ = tx.send(Done {
                id: task_id,
                deliveries,
                job: Some(job),
                outcome,
            });
        });
        self.in_flight.insert(id);
        self.held.push_back(task);
    }

    /// Offers the held tasks to the pool in order; true when none is left held.
    fn offer_held(&mut self) -> bool {
        while let Some(task) = self.held.pop_front() {
            match self.pool.try_spawn(task) {
                Ok(()) => self.refused_since = None,
                Err(TrySubmitError::Full(task)) => {
                    self.held.push_front(task);
                    self.check_refusals();
                    return false;
                }
                // The pool is ours and shut down only after this loop ends.
                Err(e) => unreachable!("the worker's pool refused a job: {e}"),
            }
        }
        true
    }

    /// A pool that refuses for a whole second while it has nothing queued or running has
    /// lost track of its bound: say so once (the jobs stay pending and, if this worker
    /// never gets going again, are taken over by the others after the claim timeout).
    #[cold]
    fn check_refusals(&mut self) {
        let since = *self.refused_since.get_or_insert_with(Instant::now);
        if self.warned || since.elapsed() < Duration::from_secs(1) {
            return;
        }
        let m = self.pool.metrics();
        if m.running == 0 && m.injector_queue == 0 {
            self.warned = true;
            eprintln!(
                "{}: warning: the pool has refused every job for {:?} with none queued or \
                 running (queue capacity {}): its bound is miscounted",
                self.config.consumer,
                since.elapsed(),
                self.capacity
            );
        }
    }

    /// Step 1: one `MULTI` settles every finished job.
    fn settle(&mut self, done: &mut Vec<Done>) -> Result<(), WorkerError> {
        let q = &self.config.queue;
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut finished: Vec<&str> = Vec::new();
        let mut retry: Vec<&str> = Vec::new();
        for d in done.iter() {
            match &d.outcome {
                Ok(digest) => {
                    let key = d.job.as_ref().map_or("", |j| j.key.as_str());
                    pipe.cmd("XADD")
                        .arg(&q.results)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(self.config.results_cap)
                        .arg("*")
                        .arg(&[("id", d.id.as_str()), ("key", key), ("digest", digest)])
                        .arg("worker")
                        .arg(&self.config.consumer)
                        .arg("deliveries")
                        .arg(d.deliveries)
                        .ignore();
                    finished.push(&d.id);
                    self.summary.processed += 1;
                }
                Err(error) if d.deliveries >= self.config.max_attempts => {
                    let mut fields: Vec<(&str, Vec<u8>)> = vec![
                        ("id", d.id.clone().into_bytes()),
                        ("error", error.clone().into_bytes()),
                        ("attempts", d.deliveries.to_string().into_bytes()),
                    ];
                    if let Some(job) = &d.job {
                        fields.extend(job.to_fields());
                    }
                    pipe.xadd(&q.dead, "*", &fields).ignore();
                    finished.push(&d.id);
                    self.summary.dead_lettered += 1;
                }
                Err(error) => {
                    eprintln!(
                        "{}: job {} failed on delivery {} of {}: {error}",
                        self.config.consumer, d.id, d.deliveries, self.config.max_attempts
                    );
                    retry.push(&d.id);
                    self.summary.retried += 1;
                }
            }
        }
        if !finished.is_empty() {
            pipe.xack(&q.stream, GROUP, &finished).ignore();
            pipe.xdel(&q.stream, &finished).ignore();
        }
        if !retry.is_empty() {
            // The negative ack: idle for the whole claim timeout now, so reclaimable at once.
            pipe.cmd("XCLAIM")
                .arg(&q.stream)
                .arg(GROUP)
                .arg(&self.config.consumer)
                .arg(0)
                .arg(&retry)
                .arg("IDLE")
                .arg(self.config.claim_idle.as_millis() as u64)
                .arg("JUSTID")
                .ignore();
        }
        let () = pipe.query(&mut self.con)?;
        for d in done.drain(..) {
            self.in_flight.remove(&d.id);
        }
        Ok(())
    }

    /// Step 4.
    fn reclaim(
        &mut self,
        free: usize,
        pulled: &mut Vec<Pulled>,
        done: &mut Vec<Done>,
    ) -> Result<(), WorkerError> {
        let q = &self.config.queue;
        let idle_ms = self.config.claim_idle.as_millis() as u64;
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&q.stream)
            .arg(GROUP)
            .arg("IDLE")
            .arg(idle_ms)
            .arg("-")
            .arg("+")
            .arg(free)
            .query(&mut self.con)?;
        // Jobs of our own still running stay ours; the rest are up for grabs.
        let candidates: Vec<_> = pending
            .ids
            .iter()
            .filter(|p| !self.in_flight.contains(&p.id))
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = candidates.iter().map(|p| p.id.as_str()).collect();
        let claimed: StreamClaimReply =
            self.con
                .xclaim(&q.stream, GROUP, &self.config.consumer, idle_ms, &ids)?;
        for entry in claimed.ids {
            let before = candidates
                .iter()
                .find(|p| p.id == entry.id)
                .map_or(0, |p| p.times_delivered as u64);
            self.summary.reclaimed += 1;
            if before >= self.config.max_attempts {
                let job = Job::from_fields(&entry.map).ok();
                done.push(Done {
                    id: entry.id,
                    deliveries: before,
                    job,
                    outcome: Err(format!(
                        "delivered {before} times without an acknowledgement"
                    )),
                });
            } else {
                pulled.push(Pulled {
                    id: entry.id,
                    deliveries: before + 1,
                    map: entry.map,
                });
            }
        }
        Ok(())
    }

    /// Step 5.
    fn read_new(
        &mut self,
        want: usize,
        idle: bool,
        pulled: &mut Vec<Pulled>,
    ) -> Result<(), WorkerError> {
        let mut options = StreamReadOptions::default()
            .group(GROUP, &self.config.consumer)
            .count(want);
        if idle {
            options = options.block(100);
        }
        let reply: Option<StreamReadReply> =
            self.con
                .xread_options(&[&self.config.queue.stream], &[">"], &options)?;
        for key in reply.into_iter().flat_map(|r| r.keys) {
            for entry in key.ids {
                pulled.push(Pulled {
                    id: entry.id,
                    deliveries: 1,
                    map: entry.map,
                });
            }
        }
        Ok(())
    }
}
