//! The HTTP ingest: accepted jobs reach the stream and a worker; past the bound the answer
//! is 503 with Retry-After; bad input is 400.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{read_all, spawn_worker, start_redis, wait_until, watchdog, xlen};
use corepool_fleet::local::KillOnDrop;
use corepool_fleet::{Queue, connect, digest};

const BOUND: usize = 5;

/// One HTTP/1.1 request on a fresh connection; answers the status and the whole response.
fn post(port: u16, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to ingest");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let status = response[9..12].parse().expect("status code");
    (status, response)
}

#[test]
fn ingest_publishes_and_refuses_past_its_bound() {
    watchdog("ingest", Duration::from_secs(120), run);
}

fn run() {
    let redis = start_redis();
    let url = redis.url();
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_fleet-ingest"));
    command
        .args(["--redis", &url, "--bound", &BOUND.to_string()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null());
    let _ingest = KillOnDrop::spawn(&mut command).expect("start fleet-ingest");
    wait_until("the ingest to listen", Duration::from_secs(30), || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
    });

    let mut statuses = Vec::new();
    for n in 0..BOUND + 2 {
        let (status, response) = post(
            port,
            &format!("/submit?rounds=3&key=k{n}"),
            &format!("body {n}"),
        );
        if status == 503 {
            assert!(
                response.to_ascii_lowercase().contains("retry-after: 1"),
                "{response}"
            );
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [202, 202, 202, 202, 202, 503, 503]);
    assert_eq!(post(port, "/submit?rounds=0", "x").0, 400);

    let q = Queue::named("jobs");
    let mut con = connect(&url).expect("connect");
    assert_eq!(xlen(&mut con, &q.stream), BOUND);
    let mut worker = spawn_worker(&url, "w", &[]);
    wait_until(
        "the accepted jobs to finish",
        Duration::from_secs(60),
        || xlen(&mut con, &q.results) == BOUND,
    );
    let mut results = read_all(&mut con, &q.results);
    results.sort_by(|a, b| a["key"].cmp(&b["key"]));
    for (n, r) in results.iter().enumerate() {
        assert_eq!(r["key"], format!("k{n}"));
        assert_eq!(r["digest"], digest(3, format!("body {n}").as_bytes()));
    }
    // Room again once the jobs are done.
    assert_eq!(post(port, "/submit", "again").0, 202);
    worker.signal(libc::SIGTERM).expect("SIGTERM");
    let status = worker
        .wait_timeout(Duration::from_secs(30))
        .unwrap()
        .expect("worker exits");
    assert!(status.success());
}
