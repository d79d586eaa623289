//! The HTTP side of an instance: `GET /events` (SSE) and `POST /publish`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use sse_proto::adapter::body::{response, SseBody};
use sse_proto::server::{last_event_id, Encoded, EndAfter, WriteTimeout};
use sse_proto::ServerEvent;
use tokio::net::TcpListener;

use crate::fanout::{Fanout, Subscription};

/// Streaming or polling, chosen by the server for each connection.
///
/// The standard lets a server end a stream whenever it likes: the client
/// comes back after its reconnection time with `Last-Event-ID`, and the
/// fan-out resumes just after it. Polling trades a little latency (up to
/// the `retry` of the [`EndAfter`]) for fewer open connections.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Every connection stays open.
    Streaming,
    /// Every connection ends as the [`EndAfter`] says.
    Polling(EndAfter),
    /// Connections stream while fewer than `max_streaming` are streaming;
    /// the ones over that poll: the choice for a server near its limit.
    Auto {
        /// The most connections that stream at once.
        max_streaming: usize,
        /// How the others end.
        polling: EndAfter,
    },
}

/// How an instance serves.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// Streaming or polling.
    pub mode: Mode,
    /// A keep-alive comment after this long without an event.
    pub keep_alive: Option<Duration>,
    /// A connection that has not sent a whole request head this long after
    /// it opened (or after its last response) is closed.
    pub header_timeout: Duration,
    /// A connection whose writes have waited this long (its client stopped
    /// reading) is closed; see `sse_proto::server::WriteTimeout`.
    pub write_timeout: Duration,
}

impl Default for ServerConfig {
    /// Streaming, with keep-alives every 15 s, a 10 s request-head timeout
    /// and a 30 s write timeout.
    fn default() -> Self {
        ServerConfig {
            mode: Mode::Streaming,
            keep_alive: Some(Duration::from_secs(15)),
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
        }
    }
}

type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The largest `POST /publish` body.
const MAX_PUBLISH: usize = 1 << 20;

/// The largest request head read: a longer one (a huge `Last-Event-ID`)
/// gets 431 and is not held.
const MAX_HEAD: usize = 16 * 1024;

/// Serves HTTP/1.1 on `listener` until the task is dropped or aborted:
///
/// - `GET /events`: the stream, resumed after the `Last-Event-ID` header
///   (see [`Fanout::subscribe`]);
/// - `POST /publish?event=TYPE`: adds the body (UTF-8, up to 1 MiB) as an
///   entry; answers its ID.
pub async fn serve(listener: TcpListener, fanout: Fanout, config: ServerConfig) {
    let streaming = Arc::new(AtomicUsize::new(0));
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("redis-fanout: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let fanout = fanout.clone();
        let streaming = streaming.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let fanout = fanout.clone();
                let streaming = streaming.clone();
                async move { Ok::<_, Infallible>(handle(req, &fanout, config, &streaming).await) }
            });
            let io = WriteTimeout::new(tcp, config.write_timeout);
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(config.header_timeout)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(io), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    fanout: &Fanout,
    config: ServerConfig,
    streaming: &Arc<AtomicUsize>,
) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/events") => {
            let events = fanout.subscribe(last_event_id(req.headers()));
            let (end, guard) = match config.mode {
                Mode::Streaming => (None, None),
                Mode::Polling(end) => (Some(end), None),
                Mode::Auto {
                    max_streaming,
                    polling,
                } => {
                    let guard = Streaming::enter(streaming, max_streaming);
                    match guard {
                        Some(g) => (None, Some(g)),
                        None => (Some(polling), None),
                    }
                }
            };
            let events = Counted {
                events,
                _guard: guard,
            };
            let mut body = SseBody::with_keep_alive(events, config.keep_alive);
            if let Some(end) = end {
                body = body.end_after(end);
            }
            response(body.map_err(Into::into).boxed_unsync())
        }
        (&Method::POST, "/publish") => {
            let event = req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("event="))
                    .map(str::to_owned)
            });
            let data = match Limited::new(req.into_body(), MAX_PUBLISH).collect().await {
                Ok(body) => body.to_bytes(),
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            };
            let Ok(data) = std::str::from_utf8(&data) else {
                return text(StatusCode::BAD_REQUEST, "the data must be UTF-8\n".into());
            };
            // Checked here so that a bad type is refused at once rather
            // than ending every client's stream later.
            if let Some(t) = &event {
                if let Err(e) = ServerEvent::new().event(t.as_str()).to_bytes() {
                    return text(StatusCode::BAD_REQUEST, format!("{e}\n"));
                }
            }
            match fanout.publish(event.as_deref(), data).await {
                Ok(id) => text(StatusCode::OK, format!("{id}\n")),
                Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "GET /events or POST /publish\n".into(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut res = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *res.status_mut() = status;
    res
}

/// One streaming connection of [`Mode::Auto`], counted while it lives.
struct Streaming(Arc<AtomicUsize>);

impl Streaming {
    /// A place among the `max` streaming connections, if one is free.
    fn enter(count: &Arc<AtomicUsize>, max: usize) -> Option<Streaming> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Streaming(count.clone()))
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A subscription that holds its place among the streaming connections.
struct Counted {
    events: Subscription,
    _guard: Option<Streaming>,
}

impl Stream for Counted {
    type Item = Encoded;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Encoded>> {
        std::pin::Pin::new(&mut self.events).poll_next(cx)
    }
}
