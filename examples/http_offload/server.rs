//! The ingest server's router and handlers, shared by `main.rs` and `tests/example_http.rs`.
//!
//! - `POST /submit[?rounds=N]`: the body is hashed `N` times (see [`digest`]) and the answer
//!   is the hex SHA-256. In [`Mode::Offload`] the work goes to the corepool pool with
//!   `try_submit` and the handler awaits the `JoinHandle`; a full queue answers `503` with
//!   `Retry-After` at once. In [`Mode::Inline`] the same work runs on the tokio thread that
//!   polls the handler (the comparison point).
//! - `GET /metrics`: the pool's metrics and the server's own counters, as JSON.
//!
//! Every refusal is an answer: a full queue or a shut-down pool is `503`, a task cancelled by
//! `shutdown_now` before it started is `503`, a panicking task is `500`. No request waits for
//! room in the queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use corepool::{PinStatus, Pool, TaskError, TrySubmitError};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Rounds of hashing when the request does not say: ~50–500 µs for bodies of 1–4 KiB.
pub const DEFAULT_ROUNDS: u32 = 64;
/// The most rounds one request may ask for.
pub const MAX_ROUNDS: u32 = 100_000;
/// Seconds a shed client is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 1;

/// Where `POST /submit` does its hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// On the corepool pool, through `try_submit`.
    Offload,
    /// On the tokio worker thread that runs the handler.
    Inline,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Offload => "offload",
            Mode::Inline => "inline",
        }
    }
}

/// What the server answered, counted per outcome.
#[derive(Debug, Default)]
pub struct Counters {
    /// `200` from `/submit`.
    pub ok: AtomicU64,
    /// `503` because the queue was full.
    pub shed: AtomicU64,
    /// `503` because the pool was shut down or the task was cancelled.
    pub unavailable: AtomicU64,
    /// `500`: the task panicked.
    pub failed: AtomicU64,
    /// `400`: a bad `rounds`.
    pub bad_request: AtomicU64,
}

struct App {
    pool: Pool,
    mode: Mode,
    counters: Arc<Counters>,
}

/// The router: `POST /submit`, `GET /metrics`. `counters` is shared so a caller can read it.
pub fn router(pool: Pool, mode: Mode, counters: Arc<Counters>) -> Router {
    let app = Arc::new(App {
        pool,
        mode,
        counters,
    });
    Router::new()
        .route("/submit", post(submit))
        .route("/metrics", get(metrics))
        .with_state(app)
}

/// The work: `d₀ = SHA-256(body)`, `dᵢ = SHA-256(dᵢ₋₁ ‖ body)` for `i < rounds`; returns the
/// last digest in lower-case hex. Cost grows with `rounds × body.len()`.
pub fn digest(body: &[u8], rounds: u32) -> String {
    let mut d = Sha256::digest(body);
    for _ in 1..rounds {
        let mut h = Sha256::new();
        h.update(d);
        h.update(body);
        d = h.finalize();
    }
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `rounds=N` from a query string; the default when absent, `None` when invalid.
fn parse_rounds(query: Option<&str>) -> Option<u32> {
    let Some(query) = query else {
        return Some(DEFAULT_ROUNDS);
    };
    let mut rounds = DEFAULT_ROUNDS;
    for pair in query.split('&') {
        if let Some(v) = pair.strip_prefix("rounds=") {
            rounds = v.parse().ok().filter(|n| (1..=MAX_ROUNDS).contains(n))?;
        }
    }
    Some(rounds)
}

fn text(status: StatusCode, body: String) -> Response {
    (status, body).into_response()
}

fn unavailable(why: &str) -> Response {
    let mut resp = text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"));
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    resp
}

async fn submit(State(app): State<Arc<App>>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let c = &app.counters;
    let Some(rounds) = parse_rounds(query.as_deref()) else {
        c.bad_request.fetch_add(1, Ordering::Relaxed);
        return text(
            StatusCode::BAD_REQUEST,
            format!("rounds must be 1..={MAX_ROUNDS}\n"),
        );
    };
    let result = match app.mode {
        Mode::Inline => Ok(digest(&body, rounds)),
        Mode::Offload => match app.pool.try_submit(move || digest(&body, rounds)) {
            Ok(handle) => handle.await,
            Err(TrySubmitError::ShutDown(_)) => Err(TaskError::Rejected),
            Err(_full) => {
                c.shed.fetch_add(1, Ordering::Relaxed);
                return unavailable("queue full");
            }
        },
    };
    match result {
        Ok(hex) => {
            c.ok.fetch_add(1, Ordering::Relaxed);
            text(StatusCode::OK, hex + "\n")
        }
        Err(TaskError::Panicked(_)) => {
            c.failed.fetch_add(1, Ordering::Relaxed);
            text(StatusCode::INTERNAL_SERVER_ERROR, "task panicked\n".into())
        }
        Err(e) => {
            c.unavailable.fetch_add(1, Ordering::Relaxed);
            unavailable(&e.to_string())
        }
    }
}

fn pin_name(pin: PinStatus) -> &'static str {
    match pin {
        PinStatus::Pending => "pending",
        PinStatus::Pinned => "pinned",
        PinStatus::Failed => "failed",
        PinStatus::Disabled => "disabled",
        PinStatus::NoSuchCore => "no_such_core",
        PinStatus::CallerThread => "caller_thread",
    }
}

/// The pool's metrics and the server's counters as one JSON object.
pub fn metrics_json(pool: &Pool, mode: Mode, c: &Counters) -> Value {
    let m = pool.metrics();
    let workers: Vec<Value> = m
        .workers
        .iter()
        .map(|w| {
            json!({
                "index": w.index,
                "cpu": w.cpu,
                "pin": pin_name(w.pin),
                "active": w.active,
                "executed": w.executed,
                "panicked": w.panicked,
                "cancelled": w.cancelled,
                "stolen": w.stolen,
                "steal_attempts": w.steal_attempts,
                "parks": w.parks,
                "local_queue": w.local_queue,
                "busy_us": u64::try_from(w.busy.as_micros()).unwrap_or(u64::MAX),
            })
        })
        .collect();
    let b = &m.blocking;
    json!({
        "mode": mode.name(),
        "http": {
            "ok": c.ok.load(Ordering::Relaxed),
            "shed": c.shed.load(Ordering::Relaxed),
            "unavailable": c.unavailable.load(Ordering::Relaxed),
            "failed": c.failed.load(Ordering::Relaxed),
            "bad_request": c.bad_request.load(Ordering::Relaxed),
        },
        "pool": {
            "active_workers": m.active_workers,
            "submitted": m.submitted,
            "completed": m.completed,
            "panicked": m.panicked,
            "cancelled": m.cancelled,
            "refused": m.refused,
            "rejected": m.rejected,
            "running": m.running,
            "executed": m.executed(),
            "injector_queue": m.injector_queue,
            "queue_capacity": m.queue_capacity,
            "workers": workers,
            "blocking": {
                "max_threads": b.max_threads,
                "threads": b.threads,
                "busy": b.busy,
                "queued": b.queued,
                "queue_capacity": b.queue_capacity,
                "submitted": b.submitted,
                "completed": b.completed,
                "panicked": b.panicked,
                "cancelled": b.cancelled,
                "refused": b.refused,
                "rejected": b.rejected,
            },
        },
    })
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let body = metrics_json(&app.pool, app.mode, &app.counters).to_string();
    ([(header::CONTENT_TYPE, "application/json")], body + "\n").into_response()
}
