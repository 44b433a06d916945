//! A worker process: one corepool pool, fed from the queue's consumer group.
//!
//! ```text
//! fleet-worker --redis redis://127.0.0.1:6379/ --queue jobs
//! ```
//!
//! SIGTERM or SIGINT drains it: it stops pulling, finishes and acknowledges every job it
//! accepted, prints its summary and exits 0. The protocol is in `src/worker.rs`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use corepool_fleet::{WorkerConfig, run_worker};

const USAGE: &str = "\
usage: fleet-worker [--redis URL] [--queue NAME] [--name NAME] [--max-attempts N]
                    [--claim-idle-ms MS] [--capacity N] [--results-cap N]

  --redis URL         the broker (else $REDIS_URL, else redis://127.0.0.1:6379/)
  --queue NAME        the job stream (default jobs)
  --name NAME         this consumer's name, unique per process (default <hostname>-<pid>)
  --max-attempts N    deliveries before a job is dead-lettered (default 5)
  --claim-idle-ms MS  unacknowledged this long, a job is taken over by another worker
                      (default 30000: the longest a job may run without running twice)
  --capacity N        the pool's queue bound = most jobs held at once (default 8 x workers)
  --results-cap N     keep about N entries in <queue>:results (default 1000000)

The pool is sized by corepool's rule (affinity mask, cgroup CPU quota, COREPOOL_* variables).";

/// Set when SIGTERM or SIGINT arrives; read by the puller every round.
static STOP: AtomicBool = AtomicBool::new(false);

/// Blocks SIGTERM and SIGINT in this thread — and so in every thread started after, the
/// pool's included — and takes them on a thread of their own with `sigwait`. No system call
/// of the puller is ever interrupted (a socket read with a timeout is not restarted after a
/// handler, and a half-read reply would desynchronise the connection).
fn take_stop_signals() -> std::io::Result<()> {
    // SAFETY: a zeroed sigset_t is valid storage; sigemptyset/sigaddset initialise it, and
    // pthread_sigmask changes only this thread's mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        set
    };
    std::thread::Builder::new()
        .name("stop-signals".into())
        .spawn(move || {
            loop {
                let mut signal = 0;
                // SAFETY: `set` is an initialised signal set owned by this closure; `signal` is
                // a valid out-pointer.
                if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                    // ORDERING: Relaxed: a lone flag, read with Relaxed by the puller.
                    STOP.store(true, Ordering::Relaxed);
                }
            }
        })?;
    Ok(())
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "worker".to_string());
    format!("{host}-{}", std::process::id())
}

fn parse_args() -> Result<WorkerConfig, String> {
    fn value(flag: &str, v: Option<String>) -> Result<String, String> {
        v.ok_or_else(|| format!("{flag} needs a value"))
    }
    fn number<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        let v = value(flag, v)?;
        v.parse()
            .map_err(|_| format!("{flag}: not a valid number: {v}"))
    }
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let mut config = WorkerConfig::new(&url, "jobs", &default_name());
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--redis" => config.url = value("--redis", it.next())?,
            "--queue" => config.queue = corepool_fleet::Queue::named(&value("--queue", it.next())?),
            "--name" => config.consumer = value("--name", it.next())?,
            "--max-attempts" => config.max_attempts = number("--max-attempts", it.next())?,
            "--claim-idle-ms" => {
                config.claim_idle = Duration::from_millis(number("--claim-idle-ms", it.next())?)
            }
            "--capacity" => config.capacity = Some(number("--capacity", it.next())?),
            "--results-cap" => config.results_cap = number("--results-cap", it.next())?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = take_stop_signals() {
        eprintln!("error: cannot handle SIGTERM: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "fleet-worker {}: queue {} on {}",
        config.consumer, config.queue.stream, config.url
    );
    match run_worker(&config, &STOP) {
        Ok(summary) => {
            eprintln!("fleet-worker {}: drained; {summary}", config.consumer);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fleet-worker {}: error: {e}", config.consumer);
            ExitCode::FAILURE
        }
    }
}
