//! The HTTP offload example's server (`examples/http_offload/`), started on a loopback port
//! and driven with an HTTP client: a burst of requests all answer 200 with the right digest;
//! a full queue answers 503 with `Retry-After` at once while the accepted requests still
//! finish; `shutdown_now` with requests queued answers every one of them; `/metrics` adds up.
//!
//! The queue is filled deterministically: a task that waits on a gate holds the pool's only
//! worker, so nothing leaves the queue until the test opens the gate. Every request runs
//! under a client timeout, so a hung request fails the test instead of hanging it.

#[allow(dead_code)]
#[path = "../examples/http_offload/server.rs"]
mod server;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use corepool::{Pool, Sizing};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use server::{Counters, Mode};

/// No single request may take longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn pool(workers: usize, queue: usize) -> Pool {
    Pool::builder()
        .sizing(
            Sizing::cpu_bound()
                .cores(workers)
                .oversubscribe(true)
                .per_core(1),
        )
        .queue_capacity(queue)
        .build()
        .unwrap()
}

/// Serves the example's router on 127.0.0.1, on a port the OS picks.
async fn start(pool: &Pool, mode: Mode) -> (SocketAddr, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let app = server::router(pool.clone(), mode, counters.clone());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, counters)
}

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

async fn send(client: &HttpClient, req: axum::http::Request<Full<Bytes>>) -> Answer {
    let exchange = async {
        let resp = client.request(req).await.expect("request failed");
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            retry_after,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .expect("a request hung past the client timeout")
}

async fn submit(client: &HttpClient, addr: SocketAddr, rounds: u32, body: Vec<u8>) -> Answer {
    let req = axum::http::Request::post(format!("http://{addr}/submit?rounds={rounds}"))
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    send(client, req).await
}

async fn metrics(client: &HttpClient, addr: SocketAddr) -> Value {
    let req = axum::http::Request::get(format!("http://{addr}/metrics"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = send(client, req).await;
    assert_eq!(answer.status, 200);
    serde_json::from_str(&answer.body).unwrap()
}

/// `/metrics` once nothing runs or waits and every accepted task is accounted for (the
/// counters are bumped just after the handle is completed, so allow a moment).
async fn idle_metrics(client: &HttpClient, addr: SocketAddr) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = metrics(client, addr).await;
        let p = &m["pool"];
        let n = |k: &str| p[k].as_u64().unwrap();
        let settled = n("running") == 0
            && n("injector_queue") == 0
            && n("submitted") == n("completed") + n("panicked") + n("cancelled");
        if settled || Instant::now() > deadline {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The digest the server must answer, computed here independently of `server::digest`.
fn expected(body: &[u8], rounds: u32) -> String {
    let mut d: Vec<u8> = Sha256::digest(body).to_vec();
    for _ in 1..rounds {
        d = Sha256::digest([d.as_slice(), body].concat()).to_vec();
    }
    d.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n"
}

fn body_for(i: usize, len: usize) -> Vec<u8> {
    format!("request {i};").bytes().cycle().take(len).collect()
}

/// Takes the pool's only worker until `gate` gets a message (or is dropped).
async fn hold_worker(pool: &Pool) -> mpsc::Sender<()> {
    let (gate, wait) = mpsc::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let _detached = pool
        .try_submit(move || {
            started_tx.send(()).unwrap();
            let _ = wait.recv();
        })
        .unwrap_or_else(|_| panic!("the blocker was refused"));
    started.await.unwrap();
    gate
}

/// Polls `cond` on the pool's metrics until it holds (bounded).
async fn wait_for(pool: &Pool, what: &str, cond: impl Fn(&corepool::Metrics) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond(&pool.metrics()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn burst(mode: Mode, requests: usize, concurrency: usize) -> (Pool, Value) {
    let pool = pool(2, 1024);
    let (addr, _) = start(&pool, mode).await;
    let client = client();
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut set = JoinSet::new();
    for i in 0..requests {
        let (client, permits) = (client.clone(), permits.clone());
        let (len, rounds) = (256 + 64 * (i % 16), 1 + (i % 8) as u32 * 10);
        set.spawn(async move {
            let _permit = permits.acquire().await.unwrap();
            let body = body_for(i, len);
            let answer = submit(&client, addr, rounds, body.clone()).await;
            assert_eq!(answer.status, 200, "request {i}: {}", answer.body);
            assert_eq!(answer.body, expected(&body, rounds), "request {i}");
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    let m = idle_metrics(&client, addr).await;
    assert_eq!(m["http"]["ok"], requests as u64);
    assert_eq!(m["http"]["shed"], 0);
    (pool, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offloaded_burst_all_ok_and_metrics_add_up() {
    let (_pool, m) = burst(Mode::Offload, 200, 16).await;
    assert_eq!(m["mode"], "offload");
    let p = &m["pool"];
    assert_eq!(p["submitted"], 200, "{m}");
    assert_eq!(p["completed"], 200, "{m}");
    assert_eq!(p["executed"], 200, "{m}");
    assert_eq!(p["panicked"], 0);
    assert_eq!(p["cancelled"], 0);
    assert_eq!(p["queue_capacity"], 1024);
    let per_worker: u64 = p["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["executed"].as_u64().unwrap())
        .sum();
    assert_eq!(per_worker, 200, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_burst_all_ok_and_pool_untouched() {
    let (_pool, m) = burst(Mode::Inline, 50, 8).await;
    assert_eq!(m["mode"], "inline");
    assert_eq!(m["pool"]["submitted"], 0, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_503_with_retry_after_and_accepted_requests_finish() {
    const CAPACITY: usize = 4;
    const REQUESTS: usize = 12;
    let pool = pool(1, CAPACITY);
    let (addr, counters) = start(&pool, Mode::Offload).await;
    let client = client();
    let gate = hold_worker(&pool).await;

    let mut set = JoinSet::new();
    for i in 0..REQUESTS {
        let client = client.clone();
        set.spawn(async move {
            let body = body_for(i, 512);
            (submit(&client, addr, 3, body.clone()).await, body)
        });
    }
    // The worker is held, so exactly CAPACITY requests get in and the rest are shed at once,
    // while the accepted ones are still waiting.
    let mut shed = 0;
    while shed < REQUESTS - CAPACITY {
        let (answer, _) = set.join_next().await.unwrap().unwrap();
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert_eq!(answer.retry_after.as_deref(), Some("1"));
        shed += 1;
    }
    let m = metrics(&client, addr).await;
    assert_eq!(m["pool"]["injector_queue"], CAPACITY as u64, "{m}");
    assert_eq!(m["pool"]["running"], 1, "{m}");
    assert_eq!(m["http"]["shed"], (REQUESTS - CAPACITY) as u64, "{m}");
    assert_eq!(m["http"]["ok"], 0, "{m}");

    gate.send(()).unwrap();
    while let Some(done) = set.join_next().await {
        let (answer, body) = done.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body, expected(&body, 3));
    }
    let m = idle_metrics(&client, addr).await;
    let p = &m["pool"];
    // The blocker plus the accepted requests; shed requests never reached the pool.
    assert_eq!(p["submitted"], 1 + CAPACITY as u64, "{m}");
    assert_eq!(p["completed"], 1 + CAPACITY as u64, "{m}");
    assert_eq!(p["rejected"], 0, "{m}");
    assert_eq!(m["http"]["ok"], CAPACITY as u64, "{m}");
    assert_eq!(m["http"]["shed"], (REQUESTS - CAPACITY) as u64, "{m}");
    assert_eq!(
        counters.ok.load(std::sync::atomic::Ordering::Relaxed),
        CAPACITY as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_now_answers_queued_and_new_requests() {
    const QUEUED: usize = 3;
    let pool = pool(1, 8);
    let (addr, _) = start(&pool, Mode::Offload).await;
    let client = client();
    let gate = hold_worker(&pool).await;

    let mut set = JoinSet::new();
    for i in 0..QUEUED {
        let client = client.clone();
        set.spawn(async move { submit(&client, addr, 1, body_for(i, 64)).await });
    }
    wait_for(&pool, "the requests to queue", |m| {
        m.injector_queue == QUEUED
    })
    .await;

    let stopper = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.shutdown_now())
    };
    wait_for(&pool, "the shutdown to start", |_| pool.is_shut_down()).await;
    // A new request is refused at once, even though the held worker keeps the pool alive.
    let late = submit(&client, addr, 1, b"late".to_vec()).await;
    assert_eq!(late.status, 503, "{}", late.body);
    assert_eq!(late.retry_after.as_deref(), Some("1"));

    // The queued requests are cancelled when the worker gets to them: each gets an answer.
    gate.send(()).unwrap();
    while let Some(done) = set.join_next().await {
        let answer = done.unwrap();
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert_eq!(answer.retry_after.as_deref(), Some("1"));
    }
    let report = stopper.join().unwrap();
    assert_eq!(report.cancelled, QUEUED as u64);
    assert_eq!(report.submitted, 1 + QUEUED as u64);
    assert_eq!(report.submitted, report.ran() + report.cancelled);

    let m = metrics(&client, addr).await;
    assert_eq!(m["http"]["unavailable"], 1 + QUEUED as u64, "{m}");
    assert_eq!(m["http"]["ok"], 0, "{m}");
}
