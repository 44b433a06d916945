//! What the fleet's tests share: the watchdog, starting the broker and workers, reading the
//! results and dead-letter streams back.

#![allow(dead_code)]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use corepool_fleet::local::{KillOnDrop, LocalRedis};
use corepool_fleet::{GROUP, Queue};
use redis::streams::{StreamPendingCountReply, StreamRangeReply};
use redis::{Commands, Connection, Value};

#[path = "../../../../tests/common/mod.rs"]
mod common;
pub use common::watchdog;

/// The broker for one test; a missing `redis-server` fails the test with how to install it.
pub fn start_redis() -> LocalRedis {
    LocalRedis::start().unwrap_or_else(|e| panic!("the fleet tests need a Redis server: {e}"))
}

/// A `fleet-worker` process named `name`; its stderr goes to the test's.
pub fn spawn_worker(url: &str, name: &str, extra: &[&str]) -> KillOnDrop {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fleet-worker"));
    command
        .args(["--redis", url, "--name", name])
        .args(extra)
        .stdin(Stdio::null());
    KillOnDrop::spawn(&mut command).expect("start fleet-worker")
}

/// Polls `check` every 20 ms until it holds; fails the test naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "still waiting after {limit:?} for {what}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// `XLEN key`.
pub fn xlen(con: &mut Connection, key: &str) -> usize {
    con.xlen(key).expect("XLEN")
}

/// The stream ids pending under `consumer` (in flight on it).
pub fn pending_of(con: &mut Connection, q: &Queue, consumer: &str) -> Vec<String> {
    let reply: StreamPendingCountReply = con
        .xpending_consumer_count(&q.stream, GROUP, "-", "+", 1_000_000, consumer)
        .expect("XPENDING");
    reply.ids.into_iter().map(|p| p.id).collect()
}

/// Every entry of a stream, oldest first, as field maps of text.
pub fn read_all(con: &mut Connection, key: &str) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    let mut start = "-".to_string();
    loop {
        let page: StreamRangeReply = con.xrange_count(key, &start, "+", 10_000).expect("XRANGE");
        let Some(last) = page.ids.last() else { break };
        start = format!("({}", last.id);
        for entry in page.ids {
            let fields = entry
                .map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::BulkString(b) => (k, String::from_utf8_lossy(&b).into_owned()),
                    other => panic!("field {k}: unexpected {other:?}"),
                })
                .collect();
            out.push(fields);
        }
    }
    out
}
