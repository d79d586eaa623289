//! A reconnecting client for any HTTP stack (feature `client`).
//!
//! [`Client`] drives a [`Session`] with real time (tokio's clock) and real
//! requests, made by a [`Connector`] you provide: a few lines over hyper,
//! reqwest or anything else that gives a status, headers and a stream of
//! body bytes. The result is a [`Stream`] of [`Update`]s: events, and the
//! connection's ups and downs for those who want to show them.
//!
//! All the protocol logic (what to resend, when to reconnect, when to stop)
//! is the session's; this module only waits and moves bytes.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use futures_util::{stream, StreamExt};
//! use sse_proto::client::{Client, Connector, Response, Update};
//! use sse_proto::session::{Config, Connect, StopReason};
//!
//! /// A connector that serves one canned stream, then says 204 (stop).
//! struct Canned;
//!
//! impl Connector for Canned {
//!     type Body = stream::Iter<std::vec::IntoIter<Result<Bytes, std::io::Error>>>;
//!     type Error = std::io::Error;
//!     async fn connect(&self, request: &Connect) -> Result<Response<Self::Body>, Self::Error> {
//!         let (status, body) = match request.last_event_id.as_deref() {
//!             None => (200, vec![Ok(Bytes::from("id: 1\ndata: hello\n\n"))]),
//!             Some(_) => (204, vec![]),
//!         };
//!         Ok(Response { status, content_type: Some("text/event-stream".into()), retry_after: None, body: stream::iter(body) })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let updates: Vec<Update> = Client::new(Canned, Config::default()).updates().collect().await;
//! let events: Vec<_> = updates.iter().filter_map(Update::event).collect();
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].data(), "hello");
//! assert!(matches!(updates.last(), Some(Update::Stopped(StopReason::NoContent))));
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::string::{String, ToString};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::decoder::{DecodeError, Event};
use crate::session::{Action, Config, Connect, Disconnect, Input, Session, StopReason};

/// A response head and its body, as a [`Connector`] returns it.
#[derive(Debug)]
pub struct Response<B> {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header's value, if any.
    pub content_type: Option<Bytes>,
    /// The `Retry-After` header's value, if any.
    pub retry_after: Option<Bytes>,
    /// The body, as a stream of chunks.
    pub body: B,
}

/// Opens requests for a [`Client`]: the one piece that knows the HTTP stack.
///
/// `connect` is called once per attempt, with the headers the session wants
/// sent ([`Connect::headers`]: `Accept`, `Cache-Control` and, when there is
/// one, `Last-Event-ID`). Build the request afresh each time: this is where
/// an authorization header can be refreshed before a reconnect.
pub trait Connector {
    /// The body stream.
    type Body: Stream<Item = Result<Bytes, Self::Error>> + Unpin;
    /// The stack's error (connection refused, reset, TLS...).
    type Error: fmt::Display;

    /// Sends a GET request with `request`'s headers and returns the response
    /// head and body.
    fn connect(
        &self,
        request: &Connect,
    ) -> impl Future<Output = Result<Response<Self::Body>, Self::Error>>;
}

/// What a [`Client`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Update {
    /// An event.
    Event(Event),
    /// A request is being made (attempt 1 after a healthy connection, ...).
    Connecting {
        /// The attempt number.
        attempt: u32,
        /// The `Last-Event-ID` sent, as text.
        last_event_id: Option<String>,
    },
    /// The stream is open.
    Opened,
    /// The connection ended; the client reconnects after `retry_in`.
    Disconnected {
        /// Why.
        reason: Disconnect,
        /// The delay before the next attempt.
        retry_in: Duration,
        /// The HTTP stack's error, when it reported one.
        error: Option<String>,
    },
    /// An event over the size limit was skipped.
    Skipped(DecodeError),
    /// The client stopped for good; this is the last update.
    Stopped(StopReason),
}

impl Update {
    /// The event, if this is one.
    pub fn event(&self) -> Option<&Event> {
        match self {
            Update::Event(e) => Some(e),
            _ => None,
        }
    }
}

/// A reconnecting SSE client over a [`Connector`].
///
/// It needs a tokio runtime with time enabled (it sleeps between attempts
/// and for the idle timeout).
#[must_use = "a client does nothing until its updates() or events() are polled"]
pub struct Client<C: Connector> {
    connector: C,
    session: Session,
}

impl<C: Connector> fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<C: Connector> Client<C> {
    /// A client with the session's [`Config`].
    pub fn new(connector: C, config: Config) -> Self {
        Client {
            connector,
            session: Session::new(config),
        }
    }

    /// Resumes from a last event ID.
    pub fn with_last_event_id(mut self, id: impl Into<Bytes>) -> Self {
        self.session = self.session.with_last_event_id(id);
        self
    }

    /// The stream of updates. It ends after [`Update::Stopped`]; dropping it
    /// drops the connection.
    pub fn updates(self) -> impl Stream<Item = Update> {
        let driver = Driver {
            connector: self.connector,
            session: self.session,
            body: None,
            start: Instant::now(),
            error: None,
            done: false,
        };
        futures_util::stream::unfold(driver, |mut d| async move {
            let update = d.next_update().await?;
            Some((update, d))
        })
    }

    /// Only the events: the updates without the connection reports.
    pub fn events(self) -> impl Stream<Item = Event> {
        self.updates().filter_map(|u| async move {
            match u {
                Update::Event(e) => Some(e),
                _ => None,
            }
        })
    }
}

/// About 30 years: the deadline of a wait too long to be an instant.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The loop behind [`Client::updates`].
struct Driver<C: Connector> {
    connector: C,
    session: Session,
    body: Option<C::Body>,
    start: Instant,
    /// The stack's last error, reported with the next disconnect.
    error: Option<String>,
    done: bool,
}

impl<C: Connector> Driver<C> {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The instant of the session's time `at`. A time too far to be an
    /// instant (a server's `retry: 18446744073709551615`) is taken as about
    /// 30 years from now, as tokio's own timeouts do: never a panic.
    fn instant(&self, at: Duration) -> Instant {
        self.start
            .checked_add(at)
            .unwrap_or_else(|| Instant::now() + FAR_FUTURE)
    }

    async fn next_update(&mut self) -> Option<Update> {
        if self.done {
            return None;
        }
        loop {
            match self.session.poll(self.now()) {
                Action::Event(e) => return Some(Update::Event(e)),
                Action::Opened => return Some(Update::Opened),
                Action::Skipped(e) => return Some(Update::Skipped(e)),
                Action::Disconnected { reason, retry_in } => {
                    self.body = None;
                    let error = self.error.take();
                    return Some(Update::Disconnected {
                        reason,
                        retry_in,
                        error,
                    });
                }
                Action::Stop(reason) => {
                    self.body = None;
                    self.done = true;
                    return Some(Update::Stopped(reason));
                }
                Action::Connect(request) => {
                    let update = Update::Connecting {
                        attempt: request.attempt,
                        last_event_id: request
                            .last_event_id
                            .as_deref()
                            .map(|id| String::from_utf8_lossy(id).into_owned()),
                    };
                    self.connect(request).await;
                    return Some(update);
                }
                Action::Wait(deadline) => self.wait(deadline).await,
            }
        }
    }

    /// Makes the request and tells the session how it went. Bounded by the
    /// idle timeout, if there is one.
    async fn connect(&mut self, request: Connect) {
        let deadline = self.session.poll_timeout();
        let attempt = self.connector.connect(&request);
        let result = match deadline {
            Some(at) => tokio::time::timeout_at(self.instant(at), attempt)
                .await
                .ok(),
            None => Some(attempt.await),
        };
        let now = self.now();
        match result {
            Some(Ok(response)) => {
                self.session.handle(
                    now,
                    Input::Response {
                        status: response.status,
                        content_type: response.content_type.as_deref(),
                        retry_after: response.retry_after.as_deref(),
                    },
                );
                self.body = Some(response.body);
            }
            Some(Err(e)) => {
                self.error = Some(e.to_string());
                self.session.handle(now, Input::Error);
            }
            // Timed out: the session sees the idle deadline pass on its next poll.
            None => {}
        }
    }

    /// Waits for body bytes, or the deadline, whichever comes first.
    async fn wait(&mut self, deadline: Option<Duration>) {
        let deadline = deadline.map(|at| self.instant(at));
        let Some(body) = self.body.as_mut() else {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                // Nothing can happen: no connection and no deadline. The
                // session never asks for this, but do not spin if it did.
                None => std::future::pending::<()>().await,
            }
            return;
        };
        let chunk = match deadline {
            Some(at) => match tokio::time::timeout_at(at, body.next()).await {
                Ok(chunk) => chunk,
                Err(_) => return,
            },
            None => body.next().await,
        };
        let now = self.now();
        match chunk {
            Some(Ok(bytes)) => self.session.handle(now, Input::Body(bytes)),
            Some(Err(e)) => {
                self.error = Some(e.to_string());
                self.body = None;
                self.session.handle(now, Input::Error);
            }
            None => {
                self.body = None;
                self.session.handle(now, Input::End);
            }
        }
    }
}
