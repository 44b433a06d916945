//! An ingest server on axum/tokio that offloads its CPU work to a corepool pool.
//!
//! ```text
//! cargo run --release --example http_offload -- --port 8080            # offload (default)
//! cargo run --release --example http_offload -- --port 8080 --inline   # work on the tokio threads
//! curl -s --data-binary @Cargo.toml 'http://127.0.0.1:8080/submit?rounds=64'
//! curl -s http://127.0.0.1:8080/metrics
//! ```
//!
//! `POST /submit` hashes the body `rounds` times (default 64: ~50–500 µs for a 1–4 KiB body)
//! and answers the hex SHA-256. In the default mode the hashing is handed to the pool with
//! `try_submit` and the handler awaits the `JoinHandle`, so the tokio threads only do I/O;
//! when the pool's queue (`--queue`) is full the answer is `503` with `Retry-After` at once,
//! never a request left waiting. `--inline` does the same hashing on the tokio threads, for
//! comparison. `GET /metrics` returns the pool's metrics and the server's counters as JSON.
//!
//! Listens on 127.0.0.1 only. The port comes from `--port`, else `COREPOOL_HTTP_PORT`, else
//! `PORT`, else 8080. Ctrl-C stops accepting, finishes the requests in flight, shuts the pool
//! down and prints its metrics. See BENCHMARKS.md ("HTTP offload") for a load test.

mod server;

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use corepool::{Pool, Sizing};

use server::{Counters, Mode};

const USAGE: &str = "\
usage: http_offload [--port N] [--inline] [--queue N] [--workers N]

  --port N      port on 127.0.0.1 (else $COREPOOL_HTTP_PORT, else $PORT, else 8080; 0 = any)
  --inline      hash on the tokio threads instead of offloading to corepool
  --queue N     corepool's queue capacity; beyond it /submit answers 503 (default 256)
  --workers N   corepool CPU workers (default: one per core)";

struct Args {
    port: u16,
    mode: Mode,
    queue: usize,
    workers: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    fn number<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        v.parse()
            .map_err(|_| format!("{flag}: not a valid number: {v}"))
    }
    let mut port = None;
    let mut args = Args {
        port: 8080,
        mode: Mode::Offload,
        queue: 256,
        workers: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" => port = Some(number("--port", it.next())?),
            "--inline" => args.mode = Mode::Inline,
            "--queue" => args.queue = number("--queue", it.next())?,
            "--workers" => args.workers = Some(number("--workers", it.next())?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if port.is_none() {
        for var in ["COREPOOL_HTTP_PORT", "PORT"] {
            if let Ok(v) = std::env::var(var) {
                port = Some(v.parse().map_err(|_| format!("${var}: not a port: {v}"))?);
                break;
            }
        }
    }
    args.port = port.unwrap_or(args.port);
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
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let mut sizing = Sizing::cpu_bound();
    if let Some(n) = args.workers {
        sizing = sizing.cores(n).per_core(1);
    }
    let pool = Pool::builder()
        .sizing(sizing)
        .queue_capacity(args.queue)
        .build()?;
    let counters = Arc::new(Counters::default());
    let app = server::router(pool.clone(), args.mode, counters.clone());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        eprintln!(
            "listening on http://{addr} ({:?}; {} corepool workers, queue {})",
            args.mode,
            pool.metrics().workers.len(),
            args.queue
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok::<(), Box<dyn Error>>(())
    })?;

    pool.shutdown();
    eprintln!(
        "{:#}",
        server::metrics_json(&pool, args.mode, &counters)["http"]
    );
    eprint!("{}", pool.metrics());
    Ok(())
}
