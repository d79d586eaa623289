//! The server's side of the protocol, in one place: reading the client's
//! `Last-Event-ID`, the events that prime and reset a client, when a
//! response ends on its own ([`EndAfter`]), pre-encoded events
//! ([`Encoded`]), and a broadcast [`Hub`] that resumes clients from its log
//! ([`KeyedHub`] when the ids come from a durable log of the application's).
//!
//! The response body itself is [`crate::adapter::body::SseBody`]; with the
//! `axum` feature it is an `IntoResponse`, and `TimeoutListener` gives
//! `axum::serve` a head timeout ([`HeadTimeout`]) and a write timeout
//! ([`WriteTimeout`]). For a process that only fans events out, [`serve`]
//! is a lean HTTP/1.1 server around a [`Hub`], where an idle subscriber
//! costs a few KiB.
//!
//! # Example: a resumable stream with axum
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{extract::State, http::HeaderMap, routing::get, Router};
//! use sse_proto::adapter::body::SseBody;
//! use sse_proto::server::{last_event_id, Hub, Subscription};
//!
//! async fn events(State(hub): State<Hub>, headers: HeaderMap) -> SseBody<Subscription> {
//!     SseBody::new(hub.subscribe("news", last_event_id(&headers)))
//! }
//! let hub = Hub::new();
//! let app: Router = Router::new().route("/events", get(events)).with_state(hub.clone());
//! // Anywhere else: encoded once, sent to every subscriber, kept for resumes.
//! hub.publish("news", sse_proto::ServerEvent::new().data("hello"))?;
//! # let _ = app;
//! # }
//! # Ok::<(), sse_proto::EncodeError>(())
//! ```

use std::string::String;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use crate::encoder::{EncodeError, ServerEvent};

mod head;
mod hub;
mod io;
mod serve;

pub use head::HeadTimeout;
#[cfg(feature = "axum")]
pub use head::TimeoutListener;
pub use hub::{Hub, HubConfig, KeyedHub, ResetReason, Resume, Subscription};
pub use io::WriteTimeout;
pub use serve::{serve, Route, ServeConfig};

/// The request's `Last-Event-ID`, when it has one that is UTF-8 text (as
/// browsers and this crate's client send it: `id: café-7` comes back as
/// `café-7`). An empty value counts as none (browsers do not send one; some
/// clients do); spaces and tabs at either end are not part of the value, as
/// HTTP says.
///
/// This is the server's side of the rule whose client side is
/// [`crate::session::last_event_id_header`]; a property test checks that
/// every id a client sends comes back here unchanged.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use sse_proto::server::last_event_id;
///
/// let mut headers = HeaderMap::new();
/// assert_eq!(last_event_id(&headers), None);
/// headers.insert("last-event-id", HeaderValue::from_str(" 42\t").unwrap());
/// assert_eq!(last_event_id(&headers), Some("42"));
/// ```
pub fn last_event_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("last-event-id")
        .and_then(|v| core::str::from_utf8(v.as_bytes()).ok())
        .map(|id| id.trim_matches([' ', '\t']))
        .filter(|id| !id.is_empty())
}

/// The priming event of the MCP Streamable HTTP transport: an `id` and an
/// empty `data` field, sent first so that a client that loses the
/// connection before the first real event can still resume from `id`.
///
/// Browsers dispatch it as a `message` with empty data, as the standard
/// says for an empty `data` field. An event of only an id
/// (`ServerEvent::new().id(id)`) sets the client's last event ID without
/// dispatching anything; [`Hub`] primes its subscribers that way.
///
/// ```
/// use sse_proto::server::priming_event;
///
/// assert_eq!(priming_event("7").to_bytes()?, "id: 7\ndata:\n\n");
/// # Ok::<(), sse_proto::EncodeError>(())
/// ```
pub fn priming_event(id: impl Into<String>) -> ServerEvent {
    ServerEvent::new().id(id.into()).data("")
}

/// An event encoded once, to be sent many times: cloning it shares the
/// bytes. [`crate::adapter::body::SseBody`] writes it as it is.
///
/// ```
/// use sse_proto::server::Encoded;
/// use sse_proto::ServerEvent;
///
/// let event = Encoded::new(&ServerEvent::new().event("tick").data("1"))?;
/// assert_eq!(event.as_bytes(), "event: tick\ndata: 1\n\n");
/// assert!(event.has_data());
/// // The encoder's refusals are found here, once.
/// assert!(Encoded::new(&ServerEvent::new().id("a\nb")).is_err());
/// # Ok::<(), sse_proto::EncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    bytes: Bytes,
    has_data: bool,
}

impl Encoded {
    /// Encodes `event`.
    ///
    /// # Errors
    ///
    /// The encoder's refusal: see [`EncodeError`].
    pub fn new(event: &ServerEvent) -> Result<Self, EncodeError> {
        Ok(Encoded {
            bytes: event.to_bytes()?,
            has_data: event.has_data(),
        })
    }

    /// The event's bytes: whole lines, ending with the blank line.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Whether the event has data, that is, whether a client dispatches it.
    pub fn has_data(&self) -> bool {
        self.has_data
    }
}

impl From<Encoded> for Bytes {
    fn from(e: Encoded) -> Bytes {
        e.bytes
    }
}

/// When a response ends on its own, for a server that prefers polling to
/// streaming on some connections (near its connection limit, say).
///
/// The standard lets a server close a stream at any time: the client
/// reconnects after its reconnection time and sends `Last-Event-ID`, so a
/// server that resumes from that ID loses nothing. A body with an
/// `EndAfter` ([`crate::adapter::body::SseBody::end_after`]) ends after
/// `events` events or after `time`, whichever comes first, and then sends
/// `retry`, so that the client comes back after that delay. (A body whose
/// stream ends or fails first ends without it.)
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use futures_util::stream;
/// use http_body_util::BodyExt;
/// use sse_proto::adapter::body::SseBody;
/// use sse_proto::server::EndAfter;
/// use sse_proto::ServerEvent;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let events = stream::iter((1..=5).map(|i| ServerEvent::new().id(i.to_string()).data("x")));
/// let end = EndAfter::events(2).retry(Duration::from_secs(1));
/// let body = SseBody::with_keep_alive(events, None).end_after(end);
/// let bytes = body.collect().await.unwrap().to_bytes();
/// assert_eq!(bytes, "id: 1\ndata: x\n\nid: 2\ndata: x\n\nretry: 1000\n\n");
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndAfter {
    pub(crate) events: Option<u64>,
    pub(crate) time: Option<Duration>,
    pub(crate) retry: Option<Duration>,
}

impl EndAfter {
    /// End after `n` events (at least one: a poll must make progress).
    /// Only events with data count: a block of only `retry` or `id`, or a
    /// comment, is not dispatched by the client.
    pub fn events(n: u64) -> Self {
        EndAfter {
            events: Some(n.max(1)),
            ..EndAfter::default()
        }
    }

    /// End after `time`, counted from the
    /// [`end_after`](crate::adapter::body::SseBody::end_after) call; waiting
    /// for an event or not.
    pub fn time(time: Duration) -> Self {
        EndAfter {
            time: Some(time),
            ..EndAfter::default()
        }
    }

    /// Also end after `n` events, if that comes first.
    pub fn or_events(mut self, n: u64) -> Self {
        self.events = Some(n.max(1));
        self
    }

    /// Also end after `time`, if that comes first.
    pub fn or_time(mut self, time: Duration) -> Self {
        self.time = Some(time);
        self
    }

    /// Send `retry` (the client's reconnection time) as the last block.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_event_knows_whether_a_client_dispatches_it_and_gives_its_bytes_back() {
        for (event, dispatched) in [
            (ServerEvent::new().data("x"), true),
            (ServerEvent::new().data(""), true),
            (ServerEvent::new().id("7"), false),
            (ServerEvent::new().comment("ping"), false),
            (ServerEvent::new().retry(Duration::from_secs(1)), false),
        ] {
            let encoded = Encoded::new(&event).expect("valid");
            assert_eq!(encoded.has_data(), dispatched, "{event:?}");
            let bytes = event.to_bytes().expect("valid");
            assert_eq!(encoded.as_bytes(), &bytes);
            let ptr = encoded.as_bytes().as_ptr();
            let back = Bytes::from(encoded);
            assert_eq!(back, bytes);
            assert_eq!(back.as_ptr(), ptr, "the same bytes, not a copy");
        }
    }
}
