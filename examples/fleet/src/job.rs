//! The job: what travels on the stream, and the CPU work a worker does for it.
//!
//! A job is one stream entry with the fields `key` (the caller's idempotence key), `rounds`
//! and `body`, and optionally `fault` (a drill: `panic` or `error`, for exercising the
//! negative-ack and dead-letter paths on a live fleet). The work is SHA-256 of the body,
//! then of the digest, `rounds` times in all: enough CPU to be worth a pool, and a result
//! anyone can check by recomputing it ([`digest`]).

use std::collections::HashMap;
use std::fmt;

use redis::Value;
use sha2::{Digest, Sha256};

/// The most rounds a job may ask for (about 0.1 s of CPU); more is refused as bad input.
pub const MAX_ROUNDS: u32 = 100_000;

/// A deliberate failure carried by a job, to drill the failure paths of a running fleet.
///
/// ```
/// use corepool_fleet::Fault;
/// assert_eq!("panic".parse::<Fault>(), Ok(Fault::Panic));
/// assert!("other".parse::<Fault>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The task panics (the worker catches it and negative-acknowledges).
    Panic,
    /// The task returns an error.
    Error,
}

impl Fault {
    /// The field value on the stream.
    ///
    /// ```
    /// assert_eq!(corepool_fleet::Fault::Error.as_str(), "error");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Panic => "panic",
            Fault::Error => "error",
        }
    }
}

impl std::str::FromStr for Fault {
    type Err = JobError;

    fn from_str(s: &str) -> Result<Self, JobError> {
        match s {
            "panic" => Ok(Fault::Panic),
            "error" => Ok(Fault::Error),
            _ => Err(JobError::Malformed("fault is neither `panic` nor `error`")),
        }
    }
}

/// One job as published on the stream.
///
/// ```
/// use corepool_fleet::Job;
/// let job = Job::new("order-17", 3, b"payload".to_vec());
/// let back = Job::from_fields(&job.to_fields().into_iter()
///     .map(|(k, v)| (k.to_string(), redis::Value::BulkString(v)))
///     .collect())?;
/// assert_eq!(back, job);
/// # Ok::<(), corepool_fleet::JobError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The caller's key for this job: results are recorded under it, so a repeat is
    /// recognisable (idempotence belongs to the job).
    pub key: String,
    /// How many times to hash (1..=[`MAX_ROUNDS`]).
    pub rounds: u32,
    /// The bytes hashed first.
    pub body: Vec<u8>,
    /// A drill, if any.
    pub fault: Option<Fault>,
}

impl Job {
    /// A job without a fault.
    ///
    /// ```
    /// let job = corepool_fleet::Job::new("k", 1, vec![]);
    /// assert!(job.fault.is_none());
    /// ```
    pub fn new(key: impl Into<String>, rounds: u32, body: Vec<u8>) -> Job {
        Job {
            key: key.into(),
            rounds,
            body,
            fault: None,
        }
    }

    /// The same job carrying a drill.
    ///
    /// ```
    /// use corepool_fleet::{Fault, Job};
    /// assert_eq!(Job::new("k", 1, vec![]).with_fault(Fault::Panic).fault, Some(Fault::Panic));
    /// ```
    pub fn with_fault(mut self, fault: Fault) -> Job {
        self.fault = Some(fault);
        self
    }

    /// The stream entry's fields, in order.
    ///
    /// ```
    /// let fields = corepool_fleet::Job::new("k", 2, b"x".to_vec()).to_fields();
    /// assert_eq!(fields[1], ("rounds", b"2".to_vec()));
    /// ```
    pub fn to_fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut fields = vec![
            ("key", self.key.clone().into_bytes()),
            ("rounds", self.rounds.to_string().into_bytes()),
            ("body", self.body.clone()),
        ];
        if let Some(fault) = self.fault {
            fields.push(("fault", fault.as_str().as_bytes().to_vec()));
        }
        fields
    }

    /// Reads a stream entry's fields back; a missing or unreadable field is
    /// [`JobError::Malformed`]. `rounds` is checked when the job runs, not here.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let empty: HashMap<String, redis::Value> = HashMap::new();
    /// assert!(corepool_fleet::Job::from_fields(&empty).is_err());
    /// ```
    pub fn from_fields(map: &HashMap<String, Value>) -> Result<Job, JobError> {
        fn bytes<'a>(map: &'a HashMap<String, Value>, field: &'static str) -> Option<&'a [u8]> {
            match map.get(field)? {
                Value::BulkString(b) => Some(b),
                _ => None,
            }
        }
        let text = |field: &'static str, what: &'static str| {
            bytes(map, field)
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or(JobError::Malformed(what))
        };
        let key = text("key", "no `key` field")?.to_string();
        let rounds = text("rounds", "no `rounds` field")?
            .parse()
            .map_err(|_| JobError::Malformed("`rounds` is not a number"))?;
        let body = bytes(map, "body")
            .ok_or(JobError::Malformed("no `body` field"))?
            .to_vec();
        let fault = match bytes(map, "fault") {
            None => None,
            Some(b) => Some(
                std::str::from_utf8(b)
                    .map_err(|_| JobError::Malformed("`fault` is not text"))?
                    .parse()?,
            ),
        };
        Ok(Job {
            key,
            rounds,
            body,
            fault,
        })
    }

    /// Does the work: [`digest`] of the body, after checking `rounds` and acting out a
    /// drill. Panics only for [`Fault::Panic`].
    ///
    /// ```
    /// use corepool_fleet::{digest, Job, JobError};
    /// assert_eq!(Job::new("k", 2, b"ab".to_vec()).run(), Ok(digest(2, b"ab")));
    /// assert_eq!(Job::new("k", 0, vec![]).run(), Err(JobError::BadRounds(0)));
    /// ```
    pub fn run(&self) -> Result<String, JobError> {
        match self.fault {
            Some(Fault::Panic) => panic!("job {}: drill: panic", self.key),
            Some(Fault::Error) => return Err(JobError::Drill),
            None => {}
        }
        if self.rounds == 0 || self.rounds > MAX_ROUNDS {
            return Err(JobError::BadRounds(self.rounds));
        }
        Ok(digest(self.rounds, &self.body))
    }
}

/// SHA-256 of `body`, then of that digest, `rounds` times in all, in lower-case hex; what a
/// job's result must be (`rounds` 0 hashes once, like 1: [`Job::run`] refuses it first).
///
/// ```
/// let d = corepool_fleet::digest(1, b"abc");
/// assert_eq!(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// ```
pub fn digest(rounds: u32, body: &[u8]) -> String {
    let mut d = Sha256::digest(body);
    for _ in 1..rounds {
        d = Sha256::digest(d);
    }
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a job failed.
///
/// ```
/// let e = corepool_fleet::JobError::BadRounds(0);
/// assert_eq!(e.to_string(), "rounds must be 1..=100000, not 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// A field is missing or unreadable.
    Malformed(&'static str),
    /// `rounds` is out of range.
    BadRounds(u32),
    /// The job carried [`Fault::Error`].
    Drill,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Malformed(what) => write!(f, "malformed job: {what}"),
            JobError::BadRounds(n) => write!(f, "rounds must be 1..={MAX_ROUNDS}, not {n}"),
            JobError::Drill => f.write_str("drill: error"),
        }
    }
}

impl std::error::Error for JobError {}
