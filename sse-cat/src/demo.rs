//! A demo server: a live ticker over SSE, with ids, multi-line data and
//! custom event types, resumption from `Last-Event-ID`, and a page that
//! shows the events in a browser. It is the example to copy, so it is
//! hardened against hostile clients (see [`DemoConfig`]).
//!
//! Run it with `cargo run -p sse-cat --example ticker_server`, then open
//! the address it prints, or follow it with `sse-cat http://ADDR/events`.
//!
//! - `GET /`: the page; its `EventSource` shows every event. With `?n=N` it
//!   posts the first N events it received to `/report` as JSON, then closes.
//! - `GET /events`: the stream, from a [`Hub`]. A client without
//!   `Last-Event-ID` gets the events still in the hub's log, then live ones;
//!   a client with one gets the events after it, or a `reset` event when
//!   the hub cannot resume it (its id is too old, of another run of the
//!   server, or not the hub's), never a silent gap.
//! - `POST /report`: kept for [`Demo::reports`] (at most 64 KiB, else 413).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use futures_util::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use sse_proto::adapter::body::{response, SseBody};
use sse_proto::server::{last_event_id, Encoded, EndAfter, Hub, HubConfig, WriteTimeout};
use sse_proto::ServerEvent;
use tokio::net::TcpListener;

/// The stream's name in the hub.
pub const STREAM: &str = "ticker";

/// The largest `POST /report` body kept.
pub const MAX_REPORT: usize = 64 * 1024;

/// The largest request head (request line and headers) read: a longer one,
/// such as a 1 MiB `Last-Event-ID`, gets 431 and is not held.
pub const MAX_HEAD: usize = 16 * 1024;

/// How many `Last-Event-ID`s [`Demo::last_event_ids`] keeps (the latest).
pub const KEPT_IDS: usize = 64;

/// How the demo behaves.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Stop the ticker after this many events (`None`: never).
    pub events: Option<u64>,
    /// The time between events.
    pub interval: Duration,
    /// End each connection after this many events, to show clients
    /// resuming (`None`: never).
    pub drop_after: Option<u64>,
    /// The reconnection time sent to each client.
    pub retry: Duration,
    /// The keep-alive interval (`None`: no keep-alives).
    pub keep_alive: Option<Duration>,
    /// How many events the hub's log keeps.
    pub replay: usize,
    /// A connection that has not sent its whole request head this long
    /// after it opened (or after its previous response) is closed.
    pub header_timeout: Duration,
    /// A connection whose writes have waited this long (its client stopped
    /// reading) is closed; see [`WriteTimeout`].
    pub write_timeout: Duration,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            events: None,
            interval: Duration::from_secs(1),
            drop_after: None,
            retry: Duration::from_secs(2),
            keep_alive: Some(Duration::from_secs(15)),
            replay: 1000,
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// The `n`th event of the ticker (from 1), without its id: the type and
/// data cycle through a `tick`, a multi-line `quote`, and a plain `message`
/// whose data is JSON.
pub fn ticker_event(n: u64) -> ServerEvent {
    let (event_type, data) = ticker_parts(n);
    let event = ServerEvent::new().data(data);
    match event_type {
        "message" => event,
        other => event.event(other),
    }
}

/// The type and data of [`ticker_event`]`(n)`, as a client sees them.
pub fn ticker_parts(n: u64) -> (&'static str, String) {
    let price = 40.0 + (n % 17) as f64 * 0.25;
    match n % 3 {
        1 => ("tick", format!("tick {n}")),
        2 => (
            "quote",
            format!("symbol: YHOO\nprice: {price:.2}\n change: {:+}", n % 5),
        ),
        _ => ("message", format!("{{\"n\":{n},\"price\":{price:.2}}}")),
    }
}

/// What a running demo has seen.
#[derive(Debug)]
struct State {
    config: DemoConfig,
    hub: Hub,
    published: AtomicU64,
    accept_errors: AtomicU64,
    streams_opened: AtomicU64,
    reports: Mutex<Vec<String>>,
    last_event_ids: Mutex<VecDeque<Option<String>>>,
}

/// A handle on a running demo server.
#[derive(Debug, Clone)]
pub struct Demo {
    state: Arc<State>,
}

impl Demo {
    /// The bodies posted to `/report`, in order.
    pub fn reports(&self) -> Vec<String> {
        lock(&self.state.reports).clone()
    }

    /// The `Last-Event-ID` of each of the last [`KEPT_IDS`] `/events`
    /// requests, in order.
    pub fn last_event_ids(&self) -> Vec<Option<String>> {
        lock(&self.state.last_event_ids).iter().cloned().collect()
    }

    /// How many events the ticker has published.
    pub fn published(&self) -> u64 {
        self.state.published.load(Ordering::SeqCst)
    }

    /// How many times accepting a connection failed.
    pub fn accept_errors(&self) -> u64 {
        self.state.accept_errors.load(Ordering::SeqCst)
    }

    /// How many `/events` responses the demo has begun.
    pub fn streams_opened(&self) -> u64 {
        self.state.streams_opened.load(Ordering::SeqCst)
    }

    /// The hub the ticker publishes to (stream `ticker`).
    pub fn hub(&self) -> &Hub {
        &self.state.hub
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere does not make the data wrong here.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the ticker and serves `listener` until the runtime stops.
pub fn serve(listener: TcpListener, config: DemoConfig) -> Demo {
    let state = Arc::new(State {
        hub: Hub::with_config(HubConfig::default().max_events(config.replay)),
        published: AtomicU64::new(0),
        accept_errors: AtomicU64::new(0),
        streams_opened: AtomicU64::new(0),
        reports: Mutex::new(Vec::new()),
        last_event_ids: Mutex::new(VecDeque::new()),
        config,
    });
    tokio::spawn(ticker(state.clone()));
    tokio::spawn(accept(listener, state.clone()));
    Demo { state }
}

/// Accepts connections for as long as the runtime runs. An accept error
/// (out of file descriptors, say) is not the end: it waits, from 10 ms
/// doubling up to 1 s while the errors go on, and tries again.
async fn accept(listener: TcpListener, state: Arc<State>) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => {
                backoff = Duration::from_millis(10);
                tcp
            }
            Err(e) => {
                state.accept_errors.fetch_add(1, Ordering::SeqCst);
                eprintln!("demo: accept failed ({e}); trying again in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let io = WriteTimeout::new(tcp, state.config.write_timeout);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(state.config.header_timeout)
                .max_buf_size(MAX_HEAD);
            let service = service_fn(move |req| handle(state.clone(), req));
            let _ = http.serve_connection(TokioIo::new(io), service).await;
        });
    }
}

async fn ticker(state: Arc<State>) {
    let mut every = tokio::time::interval(state.config.interval);
    every.tick().await;
    for n in 1.. {
        if state.config.events.is_some_and(|max| n > max) {
            return;
        }
        every.tick().await;
        if state.hub.publish(STREAM, ticker_event(n)).is_ok() {
            state.published.store(n, Ordering::SeqCst);
        }
    }
}

type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => page(),
        (&Method::GET, "/events") => events(&state, &req),
        (&Method::POST, "/report") => {
            match Limited::new(req.into_body(), MAX_REPORT).collect().await {
                Ok(body) => {
                    let body = body.to_bytes();
                    lock(&state.reports).push(String::from_utf8_lossy(&body).into_owned());
                    plain(StatusCode::NO_CONTENT, "")
                }
                Err(_) => plain(StatusCode::PAYLOAD_TOO_LARGE, "too large\n"),
            }
        }
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    })
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

fn page() -> Response<Body> {
    let mut r = plain(StatusCode::OK, PAGE);
    r.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn events(state: &State, req: &Request<Incoming>) -> Response<Body> {
    let last = last_event_id(req.headers());
    {
        let mut ids = lock(&state.last_event_ids);
        if ids.len() == KEPT_IDS {
            ids.pop_front();
        }
        ids.push_back(last.map(str::to_owned));
    }
    let events = state.hub.subscribe_with_backlog(STREAM, last);
    state.streams_opened.fetch_add(1, Ordering::SeqCst);
    let retry = Encoded::new(&ServerEvent::new().retry(state.config.retry))
        .expect("a retry block is always valid");
    let mut body =
        SseBody::with_keep_alive(stream::iter([retry]).chain(events), state.config.keep_alive);
    if let Some(k) = state.config.drop_after {
        body = body.end_after(EndAfter::events(k));
    }
    response(body.map_err(Into::into).boxed_unsync())
}

/// The page: an `EventSource` that lists every event, and with `?n=N` posts
/// the first N to `/report`.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>sse-proto ticker</title>
<style>body { font: 14px/1.4 monospace; margin: 2em } .state { color: #888 }</style>
<h1>sse-proto ticker</h1>
<p class="state" id="state">connecting…</p>
<pre id="log"></pre>
<script>
const want = Number(new URLSearchParams(location.search).get("n") || 0);
const got = [];
const log = document.getElementById("log");
const state = document.getElementById("state");
const source = new EventSource("/events");
function show(e) {
  got.push({ type: e.type, data: e.data, id: e.lastEventId });
  log.textContent += `#${e.lastEventId} ${e.type}: ${e.data.replaceAll("\n", " | ")}\n`;
  if (want && got.length === want) {
    source.close();
    state.textContent = `received ${want} events; reported`;
    fetch("/report", { method: "POST", body: JSON.stringify(got) });
  }
}
for (const type of ["message", "tick", "quote", "reset"]) source.addEventListener(type, show);
source.onopen = () => { state.textContent = "connected"; };
source.onerror = () => { state.textContent = "reconnecting…"; };
</script>
</html>
"#;
