//! A demo server: a live ticker over SSE, with ids, multi-line data and
//! custom event types, resumption from `Last-Event-ID`, and a page that
//! shows the events in a browser.
//!
//! Run it with `cargo run -p sse-cat --example ticker_server`, then open
//! the address it prints, or follow it with `sse-cat http://ADDR/events`.
//!
//! - `GET /`: the page; its `EventSource` shows every event. With `?n=N` it
//!   posts the first N events it received to `/report` as JSON, then closes.
//! - `GET /events`: the stream. A client without `Last-Event-ID` gets the
//!   events still in the replay log, then live ones; a client with one gets
//!   the events after it, or a `reset` event when the log cannot resume it
//!   (its id is too old or unknown), never a silent gap.
//! - `POST /report`: kept for [`Demo::reports`].

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sse_proto::adapter::body::{last_event_id, response, SseBody};
use sse_proto::replay::ReplayLog;
use sse_proto::ServerEvent;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

/// How the demo behaves.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Stop the ticker after this many events (`None`: never).
    pub events: Option<u64>,
    /// The time between events.
    pub interval: Duration,
    /// End each connection after this many events, to show clients
    /// resuming (`None`: never).
    pub drop_after: Option<usize>,
    /// The reconnection time sent to each client.
    pub retry: Duration,
    /// The keep-alive interval (`None`: no keep-alives).
    pub keep_alive: Option<Duration>,
    /// How many events the replay log keeps.
    pub replay: usize,
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
    log: Mutex<ReplayLog>,
    live: broadcast::Sender<ServerEvent>,
    reports: Mutex<Vec<String>>,
    last_event_ids: Mutex<Vec<Option<String>>>,
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

    /// The `Last-Event-ID` of each `/events` request, in order.
    pub fn last_event_ids(&self) -> Vec<Option<String>> {
        lock(&self.state.last_event_ids).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere does not make the data wrong here.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the ticker and serves `listener` until the runtime stops.
pub fn serve(listener: TcpListener, config: DemoConfig) -> Demo {
    let state = Arc::new(State {
        log: Mutex::new(ReplayLog::new(config.replay, 64 << 20)),
        live: broadcast::channel(1024).0,
        reports: Mutex::new(Vec::new()),
        last_event_ids: Mutex::new(Vec::new()),
        config,
    });
    tokio::spawn(ticker(state.clone()));
    let accepting = state.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let state = accepting.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(state.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Demo { state }
}

async fn ticker(state: Arc<State>) {
    let mut every = tokio::time::interval(state.config.interval);
    every.tick().await;
    for n in 1.. {
        if state.config.events.is_some_and(|max| n > max) {
            return;
        }
        every.tick().await;
        // Log and broadcast under one lock, so that a client subscribing
        // under it sees each event once: from the log or live.
        let mut log = lock(&state.log);
        if let Ok((_, event)) = log.push(ticker_event(n)) {
            let _ = state.live.send(event);
        }
    }
}

type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => page(),
        (&Method::GET, "/events") => events(&state, &req),
        (&Method::POST, "/report") => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            lock(&state.reports).push(String::from_utf8_lossy(&body).into_owned());
            plain(StatusCode::NO_CONTENT, "")
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
    let last = last_event_id(req.headers()).map(str::to_owned);
    lock(&state.last_event_ids).push(last.clone());
    let (backlog, live) = {
        let log = lock(&state.log);
        let backlog: Vec<ServerEvent> = match last.as_deref().map(|id| log.since(id)) {
            None => log.events().collect(),
            Some(Ok(events)) => events.collect(),
            Some(Err(why)) => vec![ServerEvent::new().event("reset").data(format!(
                "cannot resume after id {}: {why}; start over",
                last.as_deref().unwrap_or("")
            ))],
        };
        (backlog, state.live.subscribe())
    };
    let live = stream::unfold(live, |mut rx| async move {
        match rx.recv().await {
            Ok(event) => Some((event, rx)),
            // Fell behind or shut down: end the connection; the client
            // resumes from the log.
            Err(_) => None,
        }
    });
    let mut events: BoxStream<'static, ServerEvent> = stream::iter(backlog).chain(live).boxed();
    if let Some(k) = state.config.drop_after {
        events = events.take(k).boxed();
    }
    let prelude = stream::iter([ServerEvent::new().retry(state.config.retry)]);
    let body = SseBody::with_keep_alive(prelude.chain(events), state.config.keep_alive);
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
