//! The HTTP ingest: `POST /submit` publishes a job to the stream and answers at once.
//!
//! ```text
//! fleet-ingest --redis redis://127.0.0.1:6379/ --queue jobs --bound 100000 --listen 127.0.0.1:8080
//! curl -s --data-binary @Cargo.toml 'http://127.0.0.1:8080/submit?rounds=64&key=order-17'
//! ```
//!
//! - `202 Accepted` with the job's stream id: the job is on the stream (a worker will run it
//!   at least once; its result goes to `<queue>:results` under its key).
//! - `503 Service Unavailable` with `Retry-After: 1` when the stream already holds `--bound`
//!   unfinished jobs (checked and added in one script on the server: the bound holds across
//!   any number of ingest processes).
//! - `400` for a bad `rounds`, `413` for a body over 1 MiB, `502` when the broker fails or
//!   does not answer within 5 s — in which case the job may or may not be on the stream: a
//!   client that retries should send the same `key`, and the job must tolerate running twice.
//!
//! `GET /health` answers `200` once the broker answered `PING`. SIGTERM or Ctrl-C stops
//! accepting, answers the requests in flight and prints the counters.

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use corepool_fleet::{Job, MAX_ROUNDS, Queue};
use redis::aio::MultiplexedConnection;

const USAGE: &str = "\
usage: fleet-ingest [--redis URL] [--queue NAME] [--bound N] [--listen ADDR]

  --redis URL     the broker (else $REDIS_URL, else redis://127.0.0.1:6379/)
  --queue NAME    the job stream (default jobs)
  --bound N       most unfinished jobs on the stream; beyond it 503 (default 100000)
  --listen ADDR   address to listen on (default 127.0.0.1:8080; 0.0.0.0:8080 in a container)";

/// Largest accepted body.
const MAX_BODY: usize = 1 << 20;

struct Args {
    url: String,
    queue: String,
    bound: usize,
    listen: SocketAddr,
}

struct Ingest {
    con: MultiplexedConnection,
    queue: Queue,
    bound: usize,
    next_key: AtomicU64,
    accepted: AtomicU64,
    full: AtomicU64,
    failed: AtomicU64,
}

fn parse_args() -> Result<Args, String> {
    fn value(flag: &str, v: Option<String>) -> Result<String, String> {
        v.ok_or_else(|| format!("{flag} needs a value"))
    }
    let mut args = Args {
        url: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into()),
        queue: "jobs".into(),
        bound: 100_000,
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--redis" => args.url = value("--redis", it.next())?,
            "--queue" => args.queue = value("--queue", it.next())?,
            "--bound" => {
                let v = value("--bound", it.next())?;
                args.bound = v
                    .parse()
                    .map_err(|_| format!("--bound: not a number: {v}"))?;
            }
            "--listen" => {
                let v = value("--listen", it.next())?;
                args.listen = v
                    .parse()
                    .map_err(|_| format!("--listen: not an address: {v}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet-ingest: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = redis::Client::open(args.url.as_str())?;
        let mut con = client.get_multiplexed_async_connection().await?;
        // The client's default gives up after 500 ms, which a busy machine exceeds; the
        // workers' connections use 5 s too.
        con.set_response_timeout(std::time::Duration::from_secs(5));
        let ingest = Arc::new(Ingest {
            con,
            queue: Queue::named(&args.queue),
            bound: args.bound,
            next_key: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            full: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/submit", post(submit))
            .route("/health", get(health))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(ingest.clone());
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        eprintln!(
            "fleet-ingest: listening on http://{}, queue {} on {}, bound {}",
            listener.local_addr()?,
            args.queue,
            args.url,
            args.bound
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(stop_signal())
            .await?;
        eprintln!(
            "fleet-ingest: accepted {}, refused full {}, failed {}",
            ingest.accepted.load(Ordering::Relaxed),
            ingest.full.load(Ordering::Relaxed),
            ingest.failed.load(Ordering::Relaxed)
        );
        Ok(())
    })
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The value of `name` in a query string (no percent-decoding: keys and numbers only).
fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn submit(State(ingest): State<Arc<Ingest>>, uri: Uri, body: Bytes) -> Response {
    let rounds = match query_param(&uri, "rounds").map(str::parse::<u32>) {
        None => 1,
        Some(Ok(n)) if (1..=MAX_ROUNDS).contains(&n) => n,
        Some(_) => {
            let msg = format!("rounds must be 1..={MAX_ROUNDS}\n");
            return (StatusCode::BAD_REQUEST, msg).into_response();
        }
    };
    let key = match query_param(&uri, "key") {
        Some(key) if !key.is_empty() => key.to_string(),
        // ORDERING: Relaxed: a counter for unique keys, nothing else depends on it.
        _ => format!(
            "ingest-{}-{}",
            std::process::id(),
            ingest.next_key.fetch_add(1, Ordering::Relaxed)
        ),
    };
    let job = Job::new(key, rounds, body.to_vec());
    let mut con = ingest.con.clone();
    let added: redis::RedisResult<Option<String>> = ingest
        .queue
        .bounded_invocation(&job, ingest.bound)
        .invoke_async(&mut con)
        .await;
    // ORDERING (all three): Relaxed: statistics printed at exit.
    match added {
        Ok(Some(id)) => {
            ingest.accepted.fetch_add(1, Ordering::Relaxed);
            (StatusCode::ACCEPTED, format!("{id}\n")).into_response()
        }
        Ok(None) => {
            ingest.full.fetch_add(1, Ordering::Relaxed);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "queue full, retry later\n",
            )
                .into_response()
        }
        Err(e) => {
            ingest.failed.fetch_add(1, Ordering::Relaxed);
            (StatusCode::BAD_GATEWAY, format!("broker: {e}\n")).into_response()
        }
    }
}

async fn health(State(ingest): State<Arc<Ingest>>) -> Response {
    let mut con = ingest.con.clone();
    match redis::cmd("PING").query_async::<String>(&mut con).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("broker: {e}\n")).into_response(),
    }
}
