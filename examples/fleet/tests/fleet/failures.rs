//! Failure paths on a real broker: failing and panicking jobs are retried and then
//! dead-lettered after N deliveries; a job that never got acknowledged N times is
//! dead-lettered without running again; good jobs around them are unaffected.

use std::time::Duration;

use crate::support::{read_all, spawn_worker, start_redis, wait_until, watchdog, xlen};
use corepool_fleet::{Fault, GROUP, Job, Queue, connect, digest};
use redis::Commands;
use redis::streams::{StreamClaimReply, StreamReadOptions, StreamReadReply};

const GOOD: usize = 200;
const MAX_ATTEMPTS: &str = "3";

#[test]
fn poison_jobs_are_dead_lettered_after_max_attempts_and_good_ones_finish() {
    watchdog("failure paths", Duration::from_secs(120), run);
}

fn run() {
    let redis = start_redis();
    let url = redis.url();
    let q = Queue::named("jobs");
    let mut con = connect(&url).expect("connect");
    q.ensure_group(&mut con).expect("create the group");

    // A job some consumer ("ghost") took three times and never acknowledged: as if it
    // killed every worker that ran it.
    let ghost = Job::new("ghost", 1, b"ghost".to_vec());
    q.publish(&mut con, std::slice::from_ref(&ghost))
        .expect("publish");
    let options = StreamReadOptions::default().group(GROUP, "ghost").count(1);
    let read: StreamReadReply = con
        .xread_options(&[&q.stream], &[">"], &options)
        .expect("XREADGROUP");
    let ghost_id = read.keys[0].ids[0].id.clone();
    for _ in 0..2 {
        let _: StreamClaimReply = con
            .xclaim(&q.stream, GROUP, "ghost", 0, &[&ghost_id])
            .expect("XCLAIM");
    }

    let mut jobs: Vec<Job> = (0..GOOD)
        .map(|n| Job::new(format!("good-{n}"), 2, format!("good {n}").into_bytes()))
        .collect();
    jobs.push(Job::new("panics-0", 1, vec![]).with_fault(Fault::Panic));
    jobs.push(Job::new("panics-1", 1, vec![]).with_fault(Fault::Panic));
    jobs.push(Job::new("errors-0", 1, vec![]).with_fault(Fault::Error));
    jobs.push(Job::new("zero-rounds", 0, vec![]));
    q.publish(&mut con, &jobs).expect("publish");

    let mut worker = spawn_worker(
        &url,
        "w",
        &["--max-attempts", MAX_ATTEMPTS, "--claim-idle-ms", "300"],
    );
    wait_until("an empty job stream", Duration::from_secs(60), || {
        xlen(&mut con, &q.stream) == 0
    });
    worker.signal(libc::SIGTERM).expect("SIGTERM");
    let status = worker
        .wait_timeout(Duration::from_secs(30))
        .expect("wait")
        .expect("the worker should drain and exit within 30 s");
    assert!(status.success(), "exit status {status}");

    let results = read_all(&mut con, &q.results);
    assert_eq!(results.len(), GOOD, "one result per good job");
    for r in &results {
        let n: usize = r["key"]
            .strip_prefix("good-")
            .and_then(|n| n.parse().ok())
            .expect("key");
        assert_eq!(r["digest"], digest(2, format!("good {n}").as_bytes()));
        assert_eq!(r["deliveries"], "1", "a good job was retried: {r:?}");
    }

    let mut dead = read_all(&mut con, &q.dead);
    dead.sort_by(|a, b| a["key"].cmp(&b["key"]));
    let summary: Vec<(&str, &str)> = dead
        .iter()
        .map(|d| (d["key"].as_str(), d["attempts"].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("errors-0", MAX_ATTEMPTS),
            ("ghost", MAX_ATTEMPTS),
            ("panics-0", MAX_ATTEMPTS),
            ("panics-1", MAX_ATTEMPTS),
            ("zero-rounds", MAX_ATTEMPTS),
        ]
    );
    let error = |key: &str| dead.iter().find(|d| d["key"] == key).unwrap()["error"].clone();
    assert_eq!(error("errors-0"), "drill: error");
    assert!(
        error("panics-0").starts_with("panicked: job panics-0"),
        "{}",
        error("panics-0")
    );
    assert!(
        error("zero-rounds").starts_with("rounds must be"),
        "{}",
        error("zero-rounds")
    );
    assert_eq!(
        error("ghost"),
        "delivered 3 times without an acknowledgement"
    );
    assert_eq!(
        dead.iter().find(|d| d["key"] == "ghost").unwrap()["id"],
        ghost_id
    );
}

#[test]
fn a_job_negatively_acknowledged_by_a_drained_worker_is_not_lost() {
    watchdog("nak then drain", Duration::from_secs(120), || {
        let redis = start_redis();
        let url = redis.url();
        let q = Queue::named("jobs");
        let mut con = connect(&url).expect("connect");
        q.ensure_group(&mut con).expect("create the group");
        let failing = Job::new("always-fails", 1, vec![]).with_fault(Fault::Error);
        q.publish(&mut con, &[failing]).expect("publish");

        // A retries it without end; drained between two attempts, it leaves the job pending
        // under its name (a negative ack), and must not take it out of the group on exit.
        let mut a = spawn_worker(
            &url,
            "a",
            &["--max-attempts", "1000", "--claim-idle-ms", "100"],
        );
        wait_until("a few attempts", Duration::from_secs(60), || {
            let pending: redis::streams::StreamPendingCountReply = con
                .xpending_count(&q.stream, GROUP, "-", "+", 1)
                .expect("XPENDING");
            pending.ids.first().is_some_and(|p| p.times_delivered >= 3)
        });
        a.signal(libc::SIGTERM).expect("SIGTERM");
        let status = a
            .wait_timeout(Duration::from_secs(30))
            .unwrap()
            .expect("a exits");
        assert!(status.success(), "{status}");

        // B takes it over and, past its own attempt limit, dead-letters it.
        let mut b = spawn_worker(
            &url,
            "b",
            &["--max-attempts", "3", "--claim-idle-ms", "100"],
        );
        wait_until("the dead letter", Duration::from_secs(60), || {
            xlen(&mut con, &q.dead) == 1
        });
        b.signal(libc::SIGTERM).expect("SIGTERM");
        assert!(
            b.wait_timeout(Duration::from_secs(30))
                .unwrap()
                .expect("b exits")
                .success()
        );
        let dead = read_all(&mut con, &q.dead);
        assert_eq!(dead[0]["key"], "always-fails");
        assert_eq!(xlen(&mut con, &q.stream), 0);
    });
}
