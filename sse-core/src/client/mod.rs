//! A reconnecting client for any HTTP stack (feature `client`), with ready
//! connectors over reqwest (feature `reqwest`) and hyper (feature `hyper`).
//!
//! [`Client`] drives a [`Session`] with real time (tokio's clock) and real
//! requests, made by a [`Connector`]: the ready ones, or a few lines over any
//! stack that gives a status, headers and a stream of body bytes. The result
//! is a [`Stream`] of events ([`Client::events`]), or of [`Update`]s that
//! also report the connection's ups and downs ([`Client::updates`]).
//!
//! All the protocol logic (what to resend, when to reconnect, when to stop)
//! is the session's; this module only waits and moves bytes. The policies
//! and their defaults, chosen to survive production, are in the
//! [`session`](crate::session) docs.
//!
//! # Example
//!
//! With feature `reqwest` (or `hyper`), a complete program:
//!
//! ```no_run
//! # #[cfg(any(feature = "reqwest", feature = "hyper"))]
//! # mod example {
//! use futures_util::StreamExt;
//! use sse_proto::client::Client;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), sse_proto::client::Error> {
//!     let mut events = Client::get("http://127.0.0.1:8080/events")?.events();
//!     while let Some(event) = events.next().await {
//!         let event = event?;
//!         println!("{}: {}", event.event_type(), event.data());
//!     }
//!     Ok(())
//! }
//! # }
//! ```
//!
//! A POST with a JSON body, as LLM APIs take, re-sent on every attempt:
//!
//! ```no_run
//! # #[cfg(any(feature = "reqwest", feature = "hyper"))]
//! # async fn example() -> Result<(), sse_proto::client::Error> {
//! use sse_proto::client::{Client, Method};
//!
//! let events = Client::get("https://api.example.com/v1/chat")?
//!     .method(Method::POST)
//!     .header("authorization", "Bearer TOKEN")?
//!     .header("content-type", "application/json")?
//!     .body(r#"{"stream": true}"#)
//!     .events();
//! # let _ = events;
//! # Ok(()) }
//! ```
//!
//! # A connector of your own
//!
//! ```
//! use bytes::Bytes;
//! use futures_util::{stream, StreamExt};
//! use sse_proto::client::{Client, Connector, Error, Request, Response, Update};
//! use sse_proto::session::{Config, StopReason};
//!
//! /// A connector that serves one canned stream, then says 204 (stop).
//! struct Canned;
//!
//! impl Connector for Canned {
//!     type Body = stream::Iter<std::vec::IntoIter<Result<Bytes, Error>>>;
//!     async fn connect(&self, request: &Request) -> Result<Response<Self::Body>, Error> {
//!         let resumed = request.headers.contains_key("last-event-id");
//!         let (status, body) = if resumed { (204, vec![]) } else { (200, vec![Ok(Bytes::from("id: 1\ndata: hello\n\n"))]) };
//!         let mut response = Response::new(status, stream::iter(body));
//!         response.headers.insert("content-type", "text/event-stream".parse().unwrap());
//!         Ok(response)
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let updates: Vec<Update> = Client::new(Canned, Config::default()).updates().collect().await;
//! let events: Vec<_> = updates.iter().filter_map(Update::event).collect();
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].data(), "hello");
//! assert!(matches!(updates.last(), Some(Update::Stopped { reason: StopReason::NoContent, .. })));
//! # });
//! ```

use std::boxed::Box;
use std::fmt;
use std::future::Future;
use std::string::String;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
pub use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::decoder::{DecodeError, Event};
use crate::session::{Action, Config, Connect, Disconnect, Head, Input, Session, StopReason};

#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(any(feature = "reqwest", feature = "hyper"))]
mod redirect;
#[cfg(feature = "reqwest")]
pub mod reqwest;

/// The connector [`Client::get`] uses: reqwest's with feature `reqwest`,
/// else hyper's.
#[cfg(feature = "reqwest")]
pub type DefaultConnector = reqwest::ReqwestConnector;
/// The connector [`Client::get`] uses: reqwest's with feature `reqwest`,
/// else hyper's.
#[cfg(all(feature = "hyper", not(feature = "reqwest")))]
pub type DefaultConnector = hyper::HyperConnector;

/// A request to make, as the client hands it to a [`Connector`]: built
/// afresh for each attempt.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// The method (`GET` unless [`Client::method`] said otherwise).
    pub method: Method,
    /// The headers: the caller's, then the client's `Accept:
    /// text/event-stream`, `Cache-Control: no-cache` and `Accept-Encoding:
    /// identity` where the caller set none of the same name, then
    /// `Last-Event-ID` when the session has one.
    pub headers: HeaderMap,
    /// The body, the same on every attempt (empty for none).
    pub body: Bytes,
    /// 1 for the first attempt since the last healthy connection, and so on.
    pub attempt: u32,
}

/// A response head and its body, as a [`Connector`] returns it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Response<B> {
    /// The status code.
    pub status: u16,
    /// The headers. The client reads `Content-Type`, `Content-Encoding`,
    /// `Retry-After` and `Date`; leave out `Content-Encoding` if the stack
    /// decoded the body.
    pub headers: HeaderMap,
    /// The body, as a stream of chunks.
    pub body: B,
}

impl<B> Response<B> {
    /// A response with this status and body, and no headers.
    pub fn new(status: u16, body: B) -> Self {
        Response {
            status,
            headers: HeaderMap::new(),
            body,
        }
    }
}

/// Opens requests for a [`Client`]: the one piece that knows the HTTP stack.
///
/// `connect` is called once per attempt with the [`Request`] to send.
/// Following redirects is the connector's job, as it is the HTTP stack's:
/// the ready ones follow up to 10, re-send `Last-Event-ID` and the caller's
/// headers (less `Authorization` and `Cookie` to another origin, as browsers
/// do), turn a 303 (and a 301 or 302 after a POST) into a GET, and report a
/// loop as a fatal [`Error`]. A connector that does not follow them hands
/// the 3xx over, and the session stops on it.
pub trait Connector {
    /// The body stream.
    type Body: Stream<Item = Result<Bytes, Error>> + Send + Unpin;

    /// Sends `request` and returns the response head and body. Return a
    /// fatal error ([`Error::invalid_request`], [`Error::redirect`]) when
    /// trying again cannot help; any other error is retried.
    fn connect(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Response<Self::Body>, Error>> + Send;
}

/// What went wrong with a request or a connection.
///
/// It keeps the HTTP stack's error as its [`source`](std::error::Error::source)
/// ("connection refused" under "cannot connect"), and says whether trying
/// again can help ([`Error::is_fatal`]). [`Error::report`] shows the whole
/// chain on one line.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request could not be made or answered: DNS, TCP, TLS, the
    /// server hung up. Retried.
    Connect,
    /// The body failed part way. Retried.
    Body,
    /// No response head within the connect timeout. Retried.
    ConnectTimeout,
    /// No bytes within the idle timeout. Retried.
    Idle,
    /// The server answered this status. Retried when transient.
    Status(u16),
    /// A 200 that is not `text/event-stream`.
    ContentType,
    /// A compressed body the client did not ask for.
    ContentEncoding,
    /// Too many attempts without a healthy connection.
    MaxAttempts,
    /// Too many redirects, or a loop. Fatal.
    Redirect,
    /// The request cannot be made as it is: a bad URL, an unsupported
    /// scheme, an invalid header. Fatal.
    InvalidRequest,
}

impl Error {
    /// An error of `kind`, caused by `source`.
    pub fn new(
        kind: ErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error {
            kind,
            source: Some(source.into()),
        }
    }

    fn bare(kind: ErrorKind) -> Self {
        Error { kind, source: None }
    }

    /// A request that failed ([`ErrorKind::Connect`], retried).
    pub fn connect(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(ErrorKind::Connect, source)
    }

    /// A body that failed part way ([`ErrorKind::Body`], retried).
    pub fn body(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(ErrorKind::Body, source)
    }

    /// A request that cannot be made as it is ([`ErrorKind::InvalidRequest`],
    /// fatal).
    pub fn invalid_request(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(ErrorKind::InvalidRequest, source)
    }

    /// Too many redirects, or a loop ([`ErrorKind::Redirect`], fatal).
    pub fn redirect(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(ErrorKind::Redirect, source)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether trying again cannot help: the client stops on such an error.
    pub fn is_fatal(&self) -> bool {
        match self.kind {
            ErrorKind::Connect | ErrorKind::Body | ErrorKind::ConnectTimeout | ErrorKind::Idle => {
                false
            }
            ErrorKind::Status(code) => !matches!(code, 429 | 502..=504),
            ErrorKind::ContentType
            | ErrorKind::ContentEncoding
            | ErrorKind::MaxAttempts
            | ErrorKind::Redirect
            | ErrorKind::InvalidRequest => true,
        }
    }

    /// The error and its sources on one line: "cannot connect: error
    /// trying to connect: tcp connect error: Connection refused".
    pub fn report(&self) -> impl fmt::Display + '_ {
        struct Report<'e>(&'e Error);
        impl fmt::Display for Report<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)?;
                let mut source = std::error::Error::source(self.0);
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
        }
        Report(self)
    }

    fn from_disconnect(reason: Disconnect) -> Option<Self> {
        let kind = match reason {
            Disconnect::ConnectTimeout => ErrorKind::ConnectTimeout,
            Disconnect::Idle => ErrorKind::Idle,
            Disconnect::Status(code) => ErrorKind::Status(code),
            Disconnect::ContentType => ErrorKind::ContentType,
            _ => return None,
        };
        Some(Self::bare(kind))
    }

    fn from_stop(reason: StopReason) -> Option<Self> {
        let kind = match reason {
            StopReason::Status(code) => ErrorKind::Status(code),
            StopReason::ContentType => ErrorKind::ContentType,
            StopReason::ContentEncoding => ErrorKind::ContentEncoding,
            StopReason::MaxAttempts => ErrorKind::MaxAttempts,
            _ => return None,
        };
        Some(Self::bare(kind))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::Connect => f.write_str("cannot connect"),
            ErrorKind::Body => f.write_str("the response body failed"),
            ErrorKind::ConnectTimeout => f.write_str("no response within the connect timeout"),
            ErrorKind::Idle => f.write_str("no bytes within the idle timeout"),
            ErrorKind::Status(code) => write!(f, "the server answered {code}"),
            ErrorKind::ContentType => f.write_str("the response is not text/event-stream"),
            ErrorKind::ContentEncoding => f.write_str("the response body is compressed"),
            ErrorKind::MaxAttempts => f.write_str("too many attempts without a healthy connection"),
            ErrorKind::Redirect => f.write_str("too many redirects"),
            ErrorKind::InvalidRequest => f.write_str("invalid request"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What a [`Client`] reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum Update {
    /// An event.
    Event(Event),
    /// A request is about to be made (attempt 1 after a healthy connection,
    /// ...). It comes before the request, so a server that never answers
    /// still shows.
    Connecting {
        /// The attempt number.
        attempt: u32,
        /// The `Last-Event-ID` sent, as text.
        last_event_id: Option<String>,
    },
    /// The stream is open.
    Opened,
    /// A comment line, with [`Config::comments`]: keep-alives, and what
    /// proxies and gateways send.
    Comment(Bytes),
    /// The connection ended; the client reconnects after `retry_in`.
    Disconnected {
        /// Why.
        reason: Disconnect,
        /// The delay before the next attempt.
        retry_in: Duration,
        /// What went wrong, when something did (not for a normal end).
        error: Option<Error>,
    },
    /// An event over the size limit was skipped.
    Skipped(DecodeError),
    /// The client stopped for good; this is the last update.
    Stopped {
        /// Why.
        reason: StopReason,
        /// What went wrong, when the stop is a failure (not for 204 or
        /// [`Handle::close`]).
        error: Option<Error>,
    },
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

/// Asks a running [`Client`] to reconnect now or to close, from any task.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

/// A command for the client from a [`Handle`], and the wake-up for it.
#[derive(Debug, Default)]
struct Shared {
    command: AtomicU8,
    notify: Notify,
}

const NOTHING: u8 = 0;
const RECONNECT: u8 = 1;
const CLOSE: u8 = 2;

impl Handle {
    /// Drops the connection (or the request under way, or the wait) and
    /// connects again at once, as after a token refresh. The events already
    /// received are delivered first.
    pub fn reconnect(&self) {
        // A close asked for before stays asked for.
        let _ = self.shared.command.compare_exchange(
            NOTHING,
            RECONNECT,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.shared.notify.notify_one();
    }

    /// Stops the client: its stream ends with [`Update::Stopped`] with
    /// [`StopReason::Closed`].
    pub fn close(&self) {
        self.shared.command.store(CLOSE, Ordering::Release);
        self.shared.notify.notify_one();
    }
}

/// Rebuilds a request's headers before each attempt.
type Hook = Box<dyn FnMut(&mut Request) + Send>;

/// A reconnecting SSE client over a [`Connector`].
///
/// It needs a tokio runtime with time enabled (it sleeps between attempts
/// and for the timeouts).
#[must_use = "a client does nothing until its updates() or events() are polled"]
pub struct Client<C: Connector> {
    connector: C,
    session: Session,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
    hook: Option<Hook>,
    shared: Arc<Shared>,
}

impl<C: Connector> fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

#[cfg(any(feature = "reqwest", feature = "hyper"))]
impl Client<DefaultConnector> {
    /// A client for `url` (`http://` or `https://`) over the ready connector
    /// (reqwest's with feature `reqwest`, else hyper's), with the default
    /// [`Config`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidRequest`] for a URL that is not an `http` or
    /// `https` URL.
    pub fn get(url: &str) -> Result<Self, Error> {
        Ok(Client::new(DefaultConnector::new(url)?, Config::default()))
    }
}

impl<C: Connector> Client<C> {
    /// A client with the session's [`Config`].
    pub fn new(connector: C, config: Config) -> Self {
        Client {
            connector,
            session: Session::new(config),
            method: Method::GET,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            hook: None,
            shared: Arc::default(),
        }
    }

    /// Uses this [`Config`] (the last event ID set so far is kept).
    pub fn config(mut self, config: Config) -> Self {
        let id = Bytes::copy_from_slice(self.session.last_event_id().as_bytes());
        self.session = Session::new(config).with_last_event_id(id);
        self
    }

    /// Resumes from a last event ID: sent as `Last-Event-ID` until the
    /// stream sets another.
    pub fn with_last_event_id(mut self, id: impl Into<Bytes>) -> Self {
        self.session = self.session.with_last_event_id(id);
        self
    }

    /// Sends requests with this method (default `GET`).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Sends this header with every request, replacing the client's own of
    /// the same name (`Accept`, say) rather than adding a second one.
    ///
    /// A `Last-Event-ID` given here is where the stream resumes from: it is
    /// sent until the stream sets an id of its own, which then wins.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidRequest`] for a name or value that is not valid
    /// in HTTP (a line break, say).
    pub fn header<N, V>(mut self, name: N, value: V) -> Result<Self, Error>
    where
        N: TryInto<HeaderName>,
        N::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        V: TryInto<HeaderValue>,
        V::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let name = name.try_into().map_err(Error::invalid_request)?;
        let value = value.try_into().map_err(Error::invalid_request)?;
        if name == "last-event-id" {
            return Ok(self.with_last_event_id(Bytes::copy_from_slice(value.as_bytes())));
        }
        self.headers.insert(name, value);
        Ok(self)
    }

    /// Sends this body with every request (and so on every reconnect).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Calls `hook` with each request before it is sent, to change its
    /// headers: a fresh `Authorization` token for each reconnect, say.
    pub fn on_request(mut self, hook: impl FnMut(&mut Request) + Send + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// A handle to make the running client reconnect now or close, from any
    /// task.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The stream of updates. It ends after [`Update::Stopped`]; dropping it
    /// drops the connection. (Boxed, so that it is `Unpin` and has a name.)
    pub fn updates(self) -> BoxStream<'static, Update>
    where
        C: Send + 'static,
    {
        let driver = Driver {
            client: self,
            response: None,
            pending: None,
            start: Instant::now(),
            error: None,
            done: false,
        };
        futures_util::stream::unfold(driver, |mut d| async move {
            let update = d.next_update().await?;
            Some((update, d))
        })
        .boxed()
    }

    /// Only the events: the updates without the connection reports. It ends
    /// when the client stops: with the error last when the stop is a
    /// failure, with nothing when the server said 204 or the client was
    /// closed.
    pub fn events(self) -> BoxStream<'static, Result<Event, Error>>
    where
        C: Send + 'static,
    {
        self.updates()
            .filter_map(|u| async move {
                match u {
                    Update::Event(e) => Some(Ok(e)),
                    Update::Stopped {
                        error: Some(error), ..
                    } => Some(Err(error)),
                    _ => None,
                }
            })
            .boxed()
    }
}

/// The loop behind [`Client::updates`].
struct Driver<C: Connector> {
    /// What the caller set up: the connector, the session, the request.
    client: Client<C>,
    /// The open response's body.
    response: Option<C::Body>,
    /// A request announced by `Update::Connecting`, to make next.
    pending: Option<Connect>,
    start: Instant,
    /// The stack's last error, reported with the next disconnect or stop.
    error: Option<Error>,
    done: bool,
}

impl<C: Connector> Driver<C> {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The instant of the session's time `at`, never a panic.
    fn instant(&self, at: Duration) -> Instant {
        crate::time::instant_after(self.start, at)
    }

    /// Carries out a command from a [`Handle`], if there is one.
    fn take_command(&mut self) {
        match self.client.shared.command.swap(NOTHING, Ordering::AcqRel) {
            RECONNECT => {
                let now = self.now();
                self.client.session.reconnect(now);
            }
            CLOSE => {
                self.response = None;
                self.pending = None;
                self.client.session.close();
            }
            _ => {}
        }
    }

    async fn next_update(&mut self) -> Option<Update> {
        if self.done {
            return None;
        }
        loop {
            self.take_command();
            if let Some(connect) = self.pending.take() {
                self.connect(connect).await;
                continue;
            }
            match self.client.session.poll(self.now()) {
                Action::Event(e) => return Some(Update::Event(e)),
                Action::Comment(text) => return Some(Update::Comment(text)),
                Action::Opened => return Some(Update::Opened),
                Action::Skipped(e) => return Some(Update::Skipped(e)),
                Action::Disconnected { reason, retry_in } => {
                    self.response = None;
                    let error = self.error.take().or_else(|| Error::from_disconnect(reason));
                    return Some(Update::Disconnected {
                        reason,
                        retry_in,
                        error,
                    });
                }
                Action::Stop(reason) => {
                    self.response = None;
                    self.done = true;
                    let error = self.error.take().or_else(|| Error::from_stop(reason));
                    return Some(Update::Stopped { reason, error });
                }
                Action::Connect(connect) => {
                    let update = Update::Connecting {
                        attempt: connect.attempt,
                        last_event_id: connect
                            .last_event_id
                            .as_deref()
                            .map(|id| String::from_utf8_lossy(id).into_owned()),
                    };
                    self.pending = Some(connect);
                    return Some(update);
                }
                Action::Wait(deadline) => self.wait(deadline).await,
            }
        }
    }

    /// The request for an attempt: the caller's headers, the client's own
    /// where the caller set none, the session's `Last-Event-ID`.
    fn request(&mut self, connect: &Connect) -> Request {
        let mut headers = self.client.headers.clone();
        for (name, value) in [
            ("accept", "text/event-stream"),
            ("cache-control", "no-cache"),
            ("accept-encoding", "identity"),
        ] {
            headers
                .entry(name)
                .or_insert(HeaderValue::from_static(value));
        }
        if let Some(id) = connect
            .last_event_id
            .as_deref()
            .and_then(|id| HeaderValue::from_bytes(id).ok())
        {
            headers.insert("last-event-id", id);
        }
        let mut request = Request {
            method: self.client.method.clone(),
            headers,
            body: self.client.body.clone(),
            attempt: connect.attempt,
        };
        if let Some(hook) = &mut self.client.hook {
            hook(&mut request);
        }
        request
    }

    /// Makes the request and tells the session how it went. Bounded by the
    /// connect timeout, and cut short by a command from a handle.
    async fn connect(&mut self, connect: Connect) {
        let request = self.request(&connect);
        let deadline = self
            .client
            .session
            .poll_timeout()
            .map(|at| self.instant(at));
        let shared = Arc::clone(&self.client.shared);
        let mut attempt = std::pin::pin!(self.client.connector.connect(&request));
        let mut timeout = std::pin::pin!(sleep_until(deadline));
        let result = loop {
            tokio::select! {
                result = &mut attempt => break Some(result),
                () = &mut timeout => break None,
                // A wake-up can be stale: the permit of a command that
                // `take_command` has already carried out. Giving up the
                // request for it would drop a response on the way and
                // leave the session waiting for the connect timeout.
                () = shared.notify.notified() => {
                    if shared.command.load(Ordering::Acquire) != NOTHING {
                        break None;
                    }
                }
            }
        };
        let now = self.now();
        match result {
            Some(Ok(response)) => {
                let unix_time = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let headers = &response.headers;
                let head = Head::from_headers(response.status, |name| {
                    headers.get(name).map(HeaderValue::as_bytes)
                })
                .unix_time(unix_time);
                self.client.session.handle(now, Input::Response(head));
                self.response = Some(response.body);
            }
            Some(Err(e)) => {
                let input = if e.is_fatal() {
                    Input::Fatal
                } else {
                    Input::Error
                };
                self.error = Some(e);
                self.client.session.handle(now, input);
            }
            // Timed out (the session sees the deadline pass on its next
            // poll), or a command came (taken on the next turn).
            None => {}
        }
    }

    /// Waits for body bytes, the deadline or a command, whichever comes
    /// first.
    async fn wait(&mut self, deadline: Option<Duration>) {
        let deadline = deadline.map(|at| self.instant(at));
        let shared = Arc::clone(&self.client.shared);
        let Some(body) = self.response.as_mut() else {
            tokio::select! {
                () = sleep_until(deadline) => {}
                () = shared.notify.notified() => {}
            }
            return;
        };
        let chunk = tokio::select! {
            chunk = body.next() => chunk,
            () = sleep_until(deadline) => return,
            () = shared.notify.notified() => return,
        };
        let now = self.now();
        match chunk {
            Some(Ok(bytes)) => self.client.session.handle(now, Input::Body(bytes)),
            Some(Err(e)) => {
                self.error = Some(e);
                self.response = None;
                self.client.session.handle(now, Input::Error);
            }
            None => {
                self.response = None;
                self.client.session.handle(now, Input::End);
            }
        }
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::format;
    use std::string::ToString;
    use std::sync::Mutex;
    use std::vec;
    use std::vec::Vec;

    use futures_util::stream;

    /// What the scripted connector answers to one attempt.
    enum Reply {
        /// A response: status, headers, body chunks each after its delay,
        /// then the end of the body, or a body that stays open.
        Answer {
            status: u16,
            headers: Vec<(&'static str, &'static str)>,
            chunks: Vec<(Duration, Result<Bytes, Error>)>,
            open: bool,
        },
        /// The connector fails.
        Fail(Error),
        /// The connector never answers.
        Never,
    }

    /// A 200 `text/event-stream` with these chunks at once, then left open.
    fn stream_of(chunks: &[&'static str]) -> Reply {
        Reply::Answer {
            status: 200,
            headers: vec![("content-type", "text/event-stream")],
            chunks: chunks
                .iter()
                .map(|c| (Duration::ZERO, Ok(Bytes::from_static(c.as_bytes()))))
                .collect(),
            open: true,
        }
    }

    fn status(code: u16, headers: Vec<(&'static str, &'static str)>) -> Reply {
        Reply::Answer {
            status: code,
            headers,
            chunks: vec![],
            open: false,
        }
    }

    /// Answers each attempt with the next reply of its script (a 204 once
    /// the script is used up), and keeps the requests, with the time each
    /// was made.
    #[derive(Clone, Default)]
    struct Scripted {
        replies: Arc<Mutex<VecDeque<Reply>>>,
        requests: Arc<Mutex<Vec<(Duration, Request)>>>,
        start: Option<Instant>,
    }

    fn scripted(replies: Vec<Reply>) -> Scripted {
        Scripted {
            replies: Arc::new(Mutex::new(replies.into())),
            requests: Arc::default(),
            start: Some(Instant::now()),
        }
    }

    impl Scripted {
        fn requests(&self) -> Vec<(Duration, Request)> {
            self.requests.lock().unwrap().clone()
        }
    }

    impl Connector for Scripted {
        type Body = BoxStream<'static, Result<Bytes, Error>>;

        fn connect(
            &self,
            request: &Request,
        ) -> impl Future<Output = Result<Response<Self::Body>, Error>> + Send {
            let at = self.start.map_or(Duration::ZERO, |s| s.elapsed());
            self.requests.lock().unwrap().push((at, request.clone()));
            let reply = self
                .replies
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| status(204, vec![]));
            async move {
                match reply {
                    Reply::Answer {
                        status,
                        headers,
                        chunks,
                        open,
                    } => {
                        let body = stream::iter(chunks).then(|(delay, chunk)| async move {
                            tokio::time::sleep(delay).await;
                            chunk
                        });
                        let body = if open {
                            body.chain(stream::pending()).boxed()
                        } else {
                            body.boxed()
                        };
                        let mut response = Response::new(status, body);
                        for (name, value) in headers {
                            response
                                .headers
                                .insert(name, HeaderValue::from_static(value));
                        }
                        Ok(response)
                    }
                    Reply::Fail(e) => Err(e),
                    Reply::Never => std::future::pending().await,
                }
            }
        }
    }

    /// No jitter, 1 s between attempts, one attempt after a failure.
    fn one_try() -> Config {
        Config::default()
            .jitter(false)
            .initial_retry(Duration::from_secs(1))
            .min_retry(Duration::ZERO)
            .max_attempts(1)
    }

    /// The updates of a client, each with the time it came, until it stops.
    async fn run(client: Client<Scripted>) -> Vec<(Duration, Update)> {
        let start = Instant::now();
        let mut updates = client.updates();
        let mut all = Vec::new();
        while let Some(update) = updates.next().await {
            all.push((start.elapsed(), update));
            assert!(all.len() < 100, "the client goes on for ever: {all:?}");
        }
        all
    }

    /// The updates without their times, in a short form.
    fn shapes(updates: &[(Duration, Update)]) -> Vec<String> {
        updates
            .iter()
            .map(|(_, u)| match u {
                Update::Event(e) => format!("event {}", e.data()),
                Update::Connecting {
                    attempt,
                    last_event_id,
                } => format!("connecting {attempt} {last_event_id:?}"),
                Update::Opened => "opened".to_string(),
                Update::Comment(c) => format!("comment {c:?}"),
                Update::Disconnected {
                    reason,
                    retry_in,
                    error,
                } => format!(
                    "disconnected {reason:?} {retry_in:?} {:?}",
                    error.as_ref().map(Error::kind)
                ),
                Update::Skipped(_) => "skipped".to_string(),
                Update::Stopped { reason, error } => {
                    format!("stopped {reason:?} {:?}", error.as_ref().map(Error::kind))
                }
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn events_come_after_connecting_and_opened_and_a_204_stops_the_client_without_error() {
        let ends = |chunks: &[&'static str]| Reply::Answer {
            status: 200,
            headers: vec![("content-type", "text/event-stream")],
            chunks: chunks
                .iter()
                .map(|c| (Duration::ZERO, Ok(Bytes::from_static(c.as_bytes()))))
                .collect(),
            open: false,
        };
        let connector = scripted(vec![
            ends(&["data: c\n\n"]),
            ends(&["id: 1\ndata: a\n\ndata: b\n", "\n"]),
        ]);
        let updates = run(Client::new(connector.clone(), one_try())).await;
        assert_eq!(
            shapes(&updates),
            [
                "connecting 1 None",
                "opened",
                "event c",
                "disconnected Ended 1s None",
                "connecting 1 None",
                "opened",
                "event a",
                "event b",
                "disconnected Ended 1s None",
                "connecting 1 Some(\"1\")",
                "stopped NoContent None",
            ]
            .map(String::from)
        );
        // The body is read as it comes, and the wait between attempts is
        // the reconnection time.
        let times: Vec<Duration> = connector.requests().iter().map(|(at, _)| *at).collect();
        assert_eq!(times, [0, 1, 2].map(Duration::from_secs));
        assert_eq!(updates[2].1.event().unwrap().data(), "c");
        assert!(updates[3].1.event().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_never_answers_is_given_up_on_after_the_connect_timeout() {
        let connector = scripted(vec![Reply::Never]);
        let config = one_try().connect_timeout(Duration::from_secs(5));
        let updates = run(Client::new(connector, config)).await;
        assert_eq!(
            shapes(&updates),
            [
                "connecting 1 None",
                "disconnected ConnectTimeout 1s Some(ConnectTimeout)",
                "stopped MaxAttempts Some(MaxAttempts)",
            ]
            .map(String::from)
        );
        assert_eq!(updates[1].0, Duration::from_secs(5));
        assert_eq!(updates[2].0, Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_restart_the_idle_timeout_and_a_silent_stream_is_dropped_after_it() {
        let ms = Duration::from_millis;
        let connector = scripted(vec![Reply::Answer {
            status: 200,
            headers: vec![("content-type", "text/event-stream")],
            chunks: vec![
                (ms(0), Ok(Bytes::from_static(b"data: a\n\n"))),
                (ms(6000), Ok(Bytes::from_static(b":keep-alive\n"))),
                (ms(6000), Ok(Bytes::from_static(b"data: b\n\n"))),
            ],
            open: true,
        }]);
        let config = one_try().idle_timeout(Duration::from_secs(10));
        let updates = run(Client::new(connector, config)).await;
        assert_eq!(
            shapes(&updates),
            [
                "connecting 1 None",
                "opened",
                "event a",
                "event b",
                "disconnected Idle 1s Some(Idle)",
                "connecting 1 None",
                "stopped NoContent None",
            ]
            .map(String::from)
        );
        assert_eq!(updates[3].0, ms(12_000));
        assert_eq!(updates[4].0, ms(22_000));
    }

    #[tokio::test(start_paused = true)]
    async fn each_stop_and_each_disconnect_after_a_failure_carries_its_error() {
        let cases: Vec<(Reply, Config, &str)> = vec![
            (
                status(503, vec![]),
                one_try(),
                "disconnected Status(503) 1s Some(Status(503))",
            ),
            (
                status(200, vec![("content-type", "text/html")]),
                one_try().retry_server_errors(true),
                "disconnected ContentType 1s Some(ContentType)",
            ),
            (
                status(500, vec![]),
                one_try(),
                "stopped Status(500) Some(Status(500))",
            ),
            (
                status(200, vec![("content-type", "text/html")]),
                one_try(),
                "stopped ContentType Some(ContentType)",
            ),
            (
                status(
                    200,
                    vec![
                        ("content-type", "text/event-stream"),
                        ("content-encoding", "gzip"),
                    ],
                ),
                one_try(),
                "stopped ContentEncoding Some(ContentEncoding)",
            ),
            (
                Reply::Fail(Error::connect("refused")),
                one_try(),
                "disconnected Network 1s Some(Connect)",
            ),
            (
                Reply::Fail(Error::invalid_request("no such scheme")),
                one_try(),
                "stopped Fatal Some(InvalidRequest)",
            ),
            (
                Reply::Fail(Error::redirect("a loop")),
                one_try(),
                "stopped Fatal Some(Redirect)",
            ),
            (
                Reply::Answer {
                    status: 200,
                    headers: vec![("content-type", "text/event-stream")],
                    chunks: vec![
                        (Duration::ZERO, Ok(Bytes::from_static(b"data: a\n\n"))),
                        (Duration::ZERO, Err(Error::body("reset"))),
                    ],
                    open: true,
                },
                one_try(),
                "disconnected Network 1s Some(Body)",
            ),
        ];
        for (reply, config, expected) in cases {
            let updates = run(Client::new(scripted(vec![reply]), config)).await;
            let shapes = shapes(&updates);
            assert!(
                shapes.iter().any(|s| s == expected),
                "{expected}: {shapes:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_connectors_error_is_reported_with_its_source() {
        let connector = scripted(vec![Reply::Fail(Error::connect("connection refused"))]);
        let updates = run(Client::new(connector, one_try())).await;
        let Some((
            _,
            Update::Disconnected {
                error: Some(error), ..
            },
        )) = updates
            .iter()
            .find(|(_, u)| matches!(u, Update::Disconnected { .. }))
        else {
            panic!("no disconnect with an error: {updates:?}");
        };
        assert_eq!(
            error.report().to_string(),
            "cannot connect: connection refused"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn events_gives_the_events_then_the_error_of_a_failed_stop_and_nothing_after_a_204() {
        let connector = scripted(vec![stream_of(&["data: a\n\n"]), status(404, vec![])]);
        // The first stream stays open: the idle timeout ends it.
        let config = one_try().idle_timeout(Duration::from_secs(1));
        let events: Vec<Result<Event, Error>> =
            Client::new(connector, config).events().collect().await;
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].as_ref().unwrap().data(), "a");
        assert_eq!(
            events[1].as_ref().unwrap_err().kind(),
            ErrorKind::Status(404)
        );

        let connector = scripted(vec![stream_of(&["data: a\n\n"])]);
        let config = one_try().idle_timeout(Duration::from_secs(1));
        let events: Vec<Result<Event, Error>> =
            Client::new(connector, config).events().collect().await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].as_ref().unwrap().data(), "a");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_carry_the_callers_method_body_and_headers_over_the_clients_defaults() {
        let connector = scripted(vec![status(503, vec![])]);
        let mut seen = 0;
        let client = Client::new(connector.clone(), one_try().max_attempts(2))
            .method(Method::POST)
            .body(r#"{"stream":true}"#)
            .header("accept", "application/x-ndjson")
            .unwrap()
            .header("x-token", "t")
            .unwrap()
            .on_request(move |request| {
                seen += 1;
                let value = HeaderValue::from_str(&seen.to_string()).unwrap();
                request.headers.insert("x-call", value);
            });
        let debug = format!("{client:?}");
        assert!(debug.starts_with("Client {"), "{debug}");
        assert!(
            debug.contains("POST") && debug.contains("x-token"),
            "{debug}"
        );
        let updates = run(client).await;
        assert_eq!(
            shapes(&updates).last().unwrap(),
            "stopped NoContent None",
            "{updates:?}"
        );
        let requests = connector.requests();
        assert_eq!(requests.len(), 2);
        for (n, (_, request)) in requests.iter().enumerate() {
            assert_eq!(request.method, Method::POST);
            assert_eq!(request.body, r#"{"stream":true}"#);
            assert_eq!(request.attempt, 1 + n as u32);
            let headers = &request.headers;
            let all = |name| headers.get_all(name).iter().collect::<Vec<_>>();
            assert_eq!(all("accept"), ["application/x-ndjson"]);
            assert_eq!(all("cache-control"), ["no-cache"]);
            assert_eq!(all("accept-encoding"), ["identity"]);
            assert_eq!(all("x-token"), ["t"]);
            assert_eq!(all("x-call"), [(1 + n).to_string().as_str()]);
            assert!(!headers.contains_key("last-event-id"));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_last_event_id_header_is_where_the_stream_resumes_until_the_stream_sets_one() {
        let connector = scripted(vec![stream_of(&["id: 9\ndata: a\n\n"])]);
        let client = Client::new(connector.clone(), Config::default())
            .header("Last-Event-ID", "5")
            .unwrap()
            // A new config keeps the ID.
            .config(one_try().idle_timeout(Duration::from_secs(1)));
        let updates = run(client).await;
        assert_eq!(
            shapes(&updates),
            [
                "connecting 1 Some(\"5\")",
                "opened",
                "event a",
                "disconnected Idle 1s Some(Idle)",
                "connecting 1 Some(\"9\")",
                "stopped NoContent None",
            ]
            .map(String::from)
        );
        let ids: Vec<Vec<Vec<u8>>> = connector
            .requests()
            .iter()
            .map(|(_, r)| {
                let all = r.headers.get_all("last-event-id").iter();
                all.map(|h| h.as_bytes().to_vec()).collect()
            })
            .collect();
        assert_eq!(ids, [vec![b"5".to_vec()], vec![b"9".to_vec()]]);
    }

    #[tokio::test(start_paused = true)]
    async fn with_last_event_id_is_sent_on_the_first_request() {
        let connector = scripted(vec![]);
        let client = Client::new(connector.clone(), one_try()).with_last_event_id("41");
        let updates = run(client).await;
        assert_eq!(shapes(&updates)[0], "connecting 1 Some(\"41\")");
        assert_eq!(connector.requests()[0].1.headers["last-event-id"], "41");
    }

    #[tokio::test(start_paused = true)]
    async fn the_handle_reconnects_an_open_stream_at_once_resuming_from_its_last_event_id() {
        let connector = scripted(vec![stream_of(&["id: 3\ndata: a\n\n"])]);
        let client = Client::new(connector.clone(), one_try());
        let handle = client.handle();
        let start = Instant::now();
        let mut updates = client.updates();
        let mut got = Vec::new();
        while let Some(update) = updates.next().await {
            let event = update.event().is_some();
            got.push((start.elapsed(), update));
            if event {
                // The stream stays open and quiet meanwhile.
                tokio::time::sleep(Duration::from_secs(7)).await;
                handle.reconnect();
            }
        }
        assert_eq!(
            shapes(&got),
            [
                "connecting 1 None",
                "opened",
                "event a",
                "disconnected Requested 0ns None",
                "connecting 1 Some(\"3\")",
                "stopped NoContent None",
            ]
            .map(String::from)
        );
        let times: Vec<Duration> = connector.requests().iter().map(|(at, _)| *at).collect();
        assert_eq!(times, [0, 7].map(Duration::from_secs));
    }

    #[tokio::test(start_paused = true)]
    async fn a_command_carried_out_between_polls_leaves_the_next_request_alone() {
        // The reconnect comes while the stream is not polled: the driver
        // carries it out on the next poll, and the request after it must
        // get its answer, not be dropped for the wake-up the command left.
        // `select!` picks at random among ready branches, so try often.
        for _ in 0..32 {
            let connector = scripted(vec![stream_of(&["data: a\n\n"])]);
            let client = Client::new(connector.clone(), one_try());
            let handle = client.handle();
            let start = Instant::now();
            let mut updates = client.updates();
            let mut got = Vec::new();
            while let Some(update) = updates.next().await {
                if update.event().is_some() {
                    handle.reconnect();
                }
                got.push((start.elapsed(), update));
            }
            assert_eq!(
                shapes(&got)[3..],
                [
                    "disconnected Requested 0ns None",
                    "connecting 1 None",
                    "stopped NoContent None",
                ]
                .map(String::from)
            );
            assert_eq!(got.last().unwrap().0, Duration::ZERO);
        }
    }

    /// Which update a command follows.
    type When = fn(&Update) -> bool;

    /// Runs a client whose handle gets `command` 3 s after the update for
    /// which `when` is true.
    async fn command_after(
        client: Client<Scripted>,
        when: impl Fn(&Update) -> bool,
        command: impl Fn(&Handle),
    ) -> Vec<(Duration, Update)> {
        let handle = client.handle();
        let start = Instant::now();
        let mut updates = client.updates();
        let mut got = Vec::new();
        let mut sent = false;
        while let Some(update) = updates.next().await {
            let now = !sent && when(&update);
            got.push((start.elapsed(), update));
            if now {
                sent = true;
                tokio::time::sleep(Duration::from_secs(3)).await;
                command(&handle);
            }
            assert!(got.len() < 100, "the client goes on for ever: {got:?}");
        }
        got
    }

    #[tokio::test(start_paused = true)]
    async fn the_handle_cuts_short_a_request_that_hangs_and_a_wait_to_reconnect() {
        // Each case: the reply, the config, the update after which the
        // handle asks for a reconnect (3 s later), the updates, and which
        // of them comes at those 3 s.
        let cases: [(Reply, Config, When, [&str; 4], usize); 2] = [
            // A request that never answers, with a long connect timeout
            // (long, not none: were the command lost, the test would fail,
            // not hang).
            (
                Reply::Never,
                one_try()
                    .connect_timeout(Duration::from_secs(100))
                    .max_attempts(2),
                |u| matches!(u, Update::Connecting { .. }),
                [
                    "connecting 1 None",
                    "disconnected Requested 0ns None",
                    "connecting 2 None",
                    "stopped NoContent None",
                ],
                1,
            ),
            // A wait of 60 s before the next attempt.
            (
                status(503, vec![]),
                one_try()
                    .initial_retry(Duration::from_secs(60))
                    .max_attempts(2),
                |u| matches!(u, Update::Disconnected { .. }),
                [
                    "connecting 1 None",
                    "disconnected Status(503) 60s Some(Status(503))",
                    "connecting 2 None",
                    "stopped NoContent None",
                ],
                2,
            ),
        ];
        for (reply, config, when, want, at) in cases {
            let connector = scripted(vec![reply]);
            let updates =
                command_after(Client::new(connector, config), when, Handle::reconnect).await;
            assert_eq!(shapes(&updates), want.map(String::from));
            assert_eq!(updates[at].0, Duration::from_secs(3), "{want:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_handle_closes_the_client_whatever_it_is_doing_without_an_error() {
        let open = || stream_of(&["data: a\n\n"]);
        let cases: Vec<(Reply, When)> = vec![
            // While the request hangs.
            (Reply::Never, |u| matches!(u, Update::Connecting { .. })),
            // While the stream is open.
            (open(), |u| matches!(u, Update::Event(_))),
            // While waiting to reconnect.
            (status(503, vec![]), |u| {
                matches!(u, Update::Disconnected { .. })
            }),
        ];
        for (reply, when) in cases {
            // Long timeouts: were the close lost, the client would go on to
            // the end of its script, and the test would fail, not hang.
            let long = Duration::from_secs(100);
            let config = one_try().connect_timeout(long).idle_timeout(long);
            let config = config
                .initial_retry(Duration::from_secs(60))
                .max_attempts(None);
            let updates = command_after(
                Client::new(scripted(vec![reply]), config),
                when,
                Handle::close,
            )
            .await;
            let (at, last) = updates.last().unwrap();
            assert!(
                matches!(
                    last,
                    Update::Stopped {
                        reason: StopReason::Closed,
                        error: None
                    }
                ),
                "{updates:?}"
            );
            assert_eq!(*at, Duration::from_secs(3));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_close_asked_for_before_a_reconnect_wins() {
        let client = Client::new(
            scripted(vec![Reply::Never]),
            one_try().connect_timeout(Duration::from_secs(100)),
        );
        let updates = command_after(
            client,
            |u| matches!(u, Update::Connecting { .. }),
            |handle| {
                handle.close();
                handle.reconnect();
            },
        )
        .await;
        assert_eq!(
            shapes(&updates),
            ["connecting 1 None", "stopped Closed None"].map(String::from)
        );
    }

    #[test]
    fn connection_errors_are_retried_and_refusals_and_bad_requests_are_fatal() {
        let retried = [
            ErrorKind::Connect,
            ErrorKind::Body,
            ErrorKind::ConnectTimeout,
            ErrorKind::Idle,
            ErrorKind::Status(429),
            ErrorKind::Status(502),
            ErrorKind::Status(503),
            ErrorKind::Status(504),
        ];
        let fatal = [
            ErrorKind::Status(400),
            ErrorKind::Status(404),
            ErrorKind::Status(500),
            ErrorKind::Status(501),
            ErrorKind::Status(505),
            ErrorKind::ContentType,
            ErrorKind::ContentEncoding,
            ErrorKind::MaxAttempts,
            ErrorKind::Redirect,
            ErrorKind::InvalidRequest,
        ];
        for kind in retried {
            assert!(!Error::bare(kind).is_fatal(), "{kind:?}");
        }
        for kind in fatal {
            assert!(Error::bare(kind).is_fatal(), "{kind:?}");
        }
    }

    #[test]
    fn errors_say_what_went_wrong_and_keep_their_cause() {
        let texts = [
            (ErrorKind::Connect, "cannot connect"),
            (ErrorKind::Body, "the response body failed"),
            (
                ErrorKind::ConnectTimeout,
                "no response within the connect timeout",
            ),
            (ErrorKind::Idle, "no bytes within the idle timeout"),
            (ErrorKind::Status(418), "the server answered 418"),
            (
                ErrorKind::ContentType,
                "the response is not text/event-stream",
            ),
            (
                ErrorKind::ContentEncoding,
                "the response body is compressed",
            ),
            (
                ErrorKind::MaxAttempts,
                "too many attempts without a healthy connection",
            ),
            (ErrorKind::Redirect, "too many redirects"),
            (ErrorKind::InvalidRequest, "invalid request"),
        ];
        for (kind, text) in texts {
            let error = Error::bare(kind);
            assert_eq!(error.kind(), kind);
            assert_eq!(error.to_string(), text);
            assert_eq!(error.report().to_string(), text);
            assert!(std::error::Error::source(&error).is_none());
        }
        let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = Error::connect(Error::new(ErrorKind::Body, cause));
        let source = std::error::Error::source(&error).unwrap();
        assert_eq!(source.to_string(), "the response body failed");
        assert_eq!(source.source().unwrap().to_string(), "refused");
        assert_eq!(
            error.report().to_string(),
            "cannot connect: the response body failed: refused"
        );
        assert_eq!(Error::body("x").kind(), ErrorKind::Body);
        assert_eq!(
            Error::invalid_request("x").kind(),
            ErrorKind::InvalidRequest
        );
        assert_eq!(Error::redirect("x").kind(), ErrorKind::Redirect);
    }

    #[test]
    fn update_event_is_the_event_of_an_event_update_only() {
        let event = Event::new("", "hi", "");
        assert_eq!(Update::Event(event).event().unwrap().data(), "hi");
        assert!(Update::Opened.event().is_none());
    }
}
