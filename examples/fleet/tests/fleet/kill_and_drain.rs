//! The fleet test: three worker processes share one job stream on a real Redis; one is
//! SIGKILLed mid-run, another drained with SIGTERM; every job must be finished and
//! verified, and only the jobs in flight on the killed worker may run twice.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::{pending_of, read_all, spawn_worker, start_redis, wait_until, watchdog, xlen};
use corepool_fleet::{Job, Queue, connect, digest};

const JOBS: usize = 100_000;
/// How long a dead worker's jobs sit before another takes them; long enough that a live
/// worker on a busy machine never looks dead, short enough to keep the test quick.
const CLAIM_IDLE_MS: &str = "3000";

fn job(n: usize) -> Job {
    Job::new(
        format!("job-{n}"),
        1 + (n % 3) as u32,
        format!("payload {n}").into_bytes(),
    )
}

#[test]
fn a_killed_worker_loses_nothing_and_a_drained_one_finishes_its_jobs() {
    watchdog("fleet test", Duration::from_secs(240), run_fleet);
}

fn run_fleet() {
    let started = Instant::now();
    let redis = start_redis();
    let url = redis.url();
    let q = Queue::named("jobs");
    let mut con = connect(&url).expect("connect");
    q.ensure_group(&mut con).expect("create the group");
    let all: Vec<Job> = (0..JOBS).map(job).collect();
    for batch in all.chunks(5_000) {
        q.publish(&mut con, batch).expect("publish");
    }
    assert_eq!(xlen(&mut con, &q.stream), JOBS);

    let extra = ["--claim-idle-ms", CLAIM_IDLE_MS];
    let mut workers: Vec<_> = (0..3)
        .map(|i| spawn_worker(&url, &format!("w{i}"), &extra))
        .collect();

    // SIGKILL w0 a quarter of the way in; what it held then is what may repeat.
    let limit = Duration::from_secs(120);
    wait_until("a quarter of the results", limit, || {
        xlen(&mut con, &q.results) >= JOBS / 4
    });
    // Kill w0 while it holds jobs, and read what it holds while it is stopped: a stopped
    // worker acknowledges nothing, so that set is exactly what the kill leaves behind. (Read
    // just before a kill of a running worker, it could be emptied by an acknowledgement in
    // between.) A stop that finds w0 between batches, or not yet started on a loaded
    // machine, lets it run again and tries a little later.
    let deadline = Instant::now() + limit;
    let killed_in_flight: HashSet<String> = loop {
        workers[0].stop().expect("SIGSTOP w0");
        let held: HashSet<String> = pending_of(&mut con, &q, "w0").into_iter().collect();
        if !held.is_empty() {
            workers[0].signal(libc::SIGKILL).expect("SIGKILL w0");
            break held;
        }
        workers[0].resume().expect("SIGCONT w0");
        assert!(
            Instant::now() < deadline,
            "w0 held no job at any stop: the kill would test nothing"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let status = workers[0].wait().expect("reap w0");
    assert_eq!(
        status.code(),
        None,
        "w0 should have died of SIGKILL: {status}"
    );

    // SIGTERM w1 halfway: it must finish and acknowledge what it took, and exit 0.
    wait_until("half of the results", limit, || {
        xlen(&mut con, &q.results) >= JOBS / 2
    });
    workers[1].signal(libc::SIGTERM).expect("SIGTERM w1");
    let status = workers[1]
        .wait_timeout(Duration::from_secs(30))
        .expect("wait for w1")
        .expect("w1 should drain and exit within 30 s");
    assert!(
        status.success(),
        "the drained worker should exit 0: {status}"
    );
    assert_eq!(
        pending_of(&mut con, &q, "w1"),
        Vec::<String>::new(),
        "w1 left jobs unacknowledged"
    );

    // w2 finishes the rest, w0's orphans included (after the claim timeout).
    wait_until("an empty job stream", limit, || {
        xlen(&mut con, &q.stream) == 0
    });
    workers[2].signal(libc::SIGTERM).expect("SIGTERM w2");
    let status = workers[2]
        .wait_timeout(Duration::from_secs(30))
        .expect("wait for w2")
        .expect("w2 should drain and exit within 30 s");
    assert!(status.success(), "w2 should exit 0: {status}");

    // Every job has a verified result; only w0's in-flight jobs were delivered twice.
    let results = read_all(&mut con, &q.results);
    let mut seen = vec![0u32; JOBS];
    let mut redelivered = HashSet::new();
    for r in &results {
        let n: usize = r["key"]
            .strip_prefix("job-")
            .and_then(|n| n.parse().ok())
            .expect("job key");
        let expected = digest(all[n].rounds, &all[n].body);
        assert_eq!(r["digest"], expected, "wrong result for {}", r["key"]);
        seen[n] += 1;
        if r["deliveries"] != "1" {
            redelivered.insert(r["id"].clone());
        }
    }
    let processed = seen.iter().filter(|&&c| c > 0).count();
    let recorded_twice: usize = seen.iter().map(|&c| c.saturating_sub(1) as usize).sum();
    let lost = JOBS - processed;
    let dead = xlen(&mut con, &q.dead);
    let duplicates = redelivered.len() + recorded_twice;
    println!(
        "fleet: jobs {JOBS}, processed {processed}, lost {lost}, duplicates {duplicates}, workers killed 1"
    );
    println!(
        "fleet detail: {} in flight on the killed worker, {} delivered twice, {} results recorded twice, {} dead-lettered, {:.1} s",
        killed_in_flight.len(),
        redelivered.len(),
        recorded_twice,
        dead,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0, "jobs without a result");
    assert_eq!(dead, 0, "no job here should have been dead-lettered");
    let unexpected: Vec<_> = redelivered.difference(&killed_in_flight).take(5).collect();
    let not_redelivered: Vec<_> = killed_in_flight.difference(&redelivered).take(5).collect();
    assert!(
        unexpected.is_empty() && not_redelivered.is_empty(),
        "the jobs delivered twice should be exactly those in flight on the killed worker; \
         delivered twice but not on w0 (first 5): {unexpected:?}; on w0 but not delivered \
         again (first 5): {not_redelivered:?}"
    );
    assert_eq!(
        recorded_twice, 0,
        "a result recorded twice: a live worker looked dead"
    );
}
