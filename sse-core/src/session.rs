//! The client's connection logic as a state machine: no sockets, no timers,
//! no runtime.
//!
//! A [`Session`] is told what happened ([`Session::handle`] with an
//! [`Input`] and the current time) and asked what to do next
//! ([`Session::poll`], which returns an [`Action`]). The caller owns the
//! clock, the socket and the HTTP stack. Time is a [`Duration`] since any
//! fixed point the caller chooses (for example, when the program started);
//! it must not go backwards.
//!
//! # The table
//!
//! Each row is tested (`session::tests`, named after the row). "Transient"
//! statuses are 429, 502, 503 and 504.
//!
//! | state | input or time | action(s) | next state |
//! | --- | --- | --- | --- |
//! | new | `poll` | `Connect` (attempt 1, with `Last-Event-ID` if any) | connecting |
//! | connecting | `Response` 200, `text/event-stream` (any case, parameters allowed), no content coding | `Opened` | open |
//! | connecting | `Response` 204 | `Stop(NoContent)` | stopped |
//! | connecting | `Response` 200, other or no content type | `Stop(ContentType)` | stopped |
//! | connecting | `Response` 200, a `Content-Encoding` other than `identity` | `Stop(ContentEncoding)` | stopped |
//! | connecting | `Response` transient status | `Disconnected(Status)` | waiting `max(backoff, Retry-After)` |
//! | connecting | `Response` other status | `Stop(Status(code))` | stopped |
//! | connecting | `Response` other 5xx, or 200 with another content type, with [`Config::retry_server_errors`] | `Disconnected(Status)` or `Disconnected(ContentType)` | waiting |
//! | connecting or open | `Error` (network) | `Disconnected(Network)` | waiting (backoff) |
//! | connecting or open | `Fatal` | `Stop(Fatal)` | stopped |
//! | open | `Body` | `Event`s in order, one per `poll` (decoded as polled, not queued); a `retry` field changes the reconnection time | open |
//! | open | `End` | the events of the bytes received before it, then `Disconnected(Ended)` (a partial event is dropped) | waiting (backoff) |
//! | open | no bytes for [`Config::idle_timeout`] | `Disconnected(Idle)`: drop the connection | waiting (backoff) |
//! | connecting | no response for [`Config::connect_timeout`] after the attempt | `Disconnected(ConnectTimeout)`: drop the request | waiting (backoff) |
//! | connecting or open | [`Session::reconnect`] | `Disconnected(Requested)`, no delay | waiting |
//! | waiting | `poll` before the deadline | `Wait(deadline)` | waiting |
//! | waiting | `poll` at the deadline, or [`Session::reconnect`] | `Connect` (next attempt) | connecting |
//! | waiting | `poll` at the deadline, [`Config::max_attempts`] reached | `Stop(MaxAttempts)` | stopped |
//! | any | [`Session::close`] | `Stop(Closed)` | stopped |
//! | stopped | anything | `Stop(reason)` again (sticky) | stopped |
//! | open or connecting, nothing to report | `poll` | `Wait(timeout deadline)` or `Wait(None)` | unchanged |
//!
//! # Policies and their defaults
//!
//! Each default is chosen so that a fleet of clients survives a server's
//! restart, a deploy's 502s and a hostile server; each can be changed on
//! [`Config`].
//!
//! - **Reconnection time**: the server's last valid `retry`, else
//!   [`Config::initial_retry`] (3 s), never below [`Config::min_retry`]
//!   (500 ms), so `retry: 0` cannot make a tight reconnect loop, and never
//!   above [`Config::max_retry`] (10 min), so `retry: 18446744073709551615`
//!   cannot park a client for ages.
//! - **Backoff with jitter**: every reconnect waits the reconnection time
//!   plus a uniformly random part of a window, from the first reconnect on:
//!   the window is half the reconnection time after a healthy connection
//!   (one that opened and received bytes), and doubles with each further
//!   consecutive failure, up to [`Config::max_backoff`] (60 s). So after a
//!   server restart a fleet spreads its reconnects over the window instead
//!   of arriving at the same instant. [`Config::jitter`] turns the random
//!   part off: the delay is then the reconnection time, doubled with each
//!   consecutive failure, up to [`Config::max_backoff`] above it.
//! - **Randomness**: each session draws its own seed from the process's
//!   randomness (with feature `std`; without it, set [`Config::seed`], or
//!   every session jitters alike). [`Config::seed`] makes the delays
//!   repeatable, for tests.
//! - **Statuses**: the standard stops on any status but 200. By default the
//!   transient ones, 429, 502, 503 and 504 (what a proxy answers during a
//!   deploy), are retried with backoff, waiting at least `Retry-After` (in
//!   seconds or as an HTTP-date, capped by [`Config::max_retry`]; with
//!   jitter, plus a random part of up to half of it, so that a fleet told
//!   to come back in a minute does not come back in the same second).
//!   [`Config::retry_transient`] turns that off; [`Config::retry_server_errors`]
//!   also retries every other 5xx and a 200 with another content type
//!   (typically a proxy's error page). Other statuses stop, 204 ("do not
//!   reconnect") among them.
//! - **Timeouts**: a request whose response head has not come after
//!   [`Config::connect_timeout`] (30 s) is dropped and retried; an open
//!   connection that sends no bytes, not even a keep-alive comment, for
//!   [`Config::idle_timeout`] (5 min: long enough for a model thinking in
//!   silence, short enough to notice a dead connection) is too.
//! - **Attempts**: unlimited by default, like a browser;
//!   [`Config::max_attempts`] stops after that many attempts without a
//!   healthy connection.
//! - **`Last-Event-ID`**: the last event ID (also from `id`-only blocks) is
//!   sent when it is not empty. It is sent as its UTF-8 text, with invalid
//!   sequences replaced by U+FFFD (as a browser does). An ID that holds a
//!   control character cannot be a header value, and one longer than
//!   [`Config::max_id_header`] (4 KiB) would make servers answer 431: such an
//!   ID is not sent at all ([`Connect::last_event_id`] is `None`), never sent
//!   in part, never a header injection. The client then starts the stream
//!   afresh, as a browser would after an ID reset.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::decoder::{DecodeError, Decoder, Event, Frame};

/// How a [`Session`] reconnects. See the [module docs](self) for the
/// policies and why each default is what it is.
///
/// Start from [`Config::default`] and change what you need with the
/// setters, each named after the setting:
///
/// ```
/// use std::time::Duration;
/// use sse_proto::session::Config;
///
/// let config = Config::default()
///     .max_attempts(5)
///     .idle_timeout(Duration::from_secs(45))
///     .retry_server_errors(true);
/// # let _ = config;
/// ```
///
/// Any value is safe: durations up to [`Duration::MAX`] saturate instead
/// of overflowing, and no setting makes the session panic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a config does nothing until a session is made with it"]
pub struct Config {
    initial_retry: Duration,
    min_retry: Duration,
    max_retry: Duration,
    max_backoff: Duration,
    jitter: bool,
    seed: Option<u64>,
    max_attempts: Option<u32>,
    connect_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    retry_transient: bool,
    retry_server_errors: bool,
    max_event_size: usize,
    max_id_header: usize,
    comments: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            initial_retry: Duration::from_secs(3),
            min_retry: Duration::from_millis(500),
            max_retry: Duration::from_secs(600),
            max_backoff: Duration::from_secs(60),
            jitter: true,
            seed: None,
            max_attempts: None,
            connect_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(300)),
            retry_transient: true,
            retry_server_errors: false,
            max_event_size: crate::decoder::DEFAULT_MAX_EVENT_SIZE,
            max_id_header: 4096,
            comments: false,
        }
    }
}

impl Config {
    /// The reconnection time until the server sends `retry` (default 3 s).
    pub fn initial_retry(mut self, delay: Duration) -> Self {
        self.initial_retry = delay;
        self
    }

    /// The least time between attempts, whatever `retry` says (default
    /// 500 ms), so that `retry: 0` cannot make a tight reconnect loop.
    pub fn min_retry(mut self, delay: Duration) -> Self {
        self.min_retry = delay;
        self
    }

    /// The most the server's `retry` and `Retry-After` are honoured
    /// (default 10 min), so that a server cannot park a client for ages.
    pub fn max_retry(mut self, delay: Duration) -> Self {
        self.max_retry = delay;
        self
    }

    /// The cap of the backoff window above the reconnection time (default
    /// 60 s).
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// Whether a random part of the backoff window is added to each delay
    /// (default `true`). Without it every client that lost the same server
    /// reconnects at the same instant.
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// Seeds the jitter, to make the delays repeatable (by default each
    /// session draws a seed of its own with feature `std`, and uses a fixed
    /// one without it).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Stop after this many attempts without a healthy connection; `None`
    /// (the default) never stops for that.
    pub fn max_attempts(mut self, attempts: impl Into<Option<u32>>) -> Self {
        self.max_attempts = attempts.into();
        self
    }

    /// Drop and retry a request whose response head has not come after this
    /// long (default 30 s); `None` waits for ever.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = timeout.into();
        self
    }

    /// Treat an open connection that sends no bytes for this long as dead
    /// (default 5 min); `None` never does.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into();
        self
    }

    /// Retry the transient statuses 429, 502, 503 and 504 with backoff
    /// (default `true`), waiting at least their `Retry-After`.
    pub fn retry_transient(mut self, retry: bool) -> Self {
        self.retry_transient = retry;
        self
    }

    /// Also retry every other 5xx, and 200 responses that are not
    /// `text/event-stream`, instead of stopping (default `false`).
    pub fn retry_server_errors(mut self, retry: bool) -> Self {
        self.retry_server_errors = retry;
        self
    }

    /// The bound on one event (default [`DEFAULT_MAX_EVENT_SIZE`]); see
    /// [`Decoder::max_event_size`].
    ///
    /// [`DEFAULT_MAX_EVENT_SIZE`]: crate::DEFAULT_MAX_EVENT_SIZE
    pub fn max_event_size(mut self, limit: usize) -> Self {
        self.max_event_size = limit;
        self
    }

    /// The longest last event ID sent as `Last-Event-ID` (default 4096
    /// bytes); a longer one is not sent.
    pub fn max_id_header(mut self, len: usize) -> Self {
        self.max_id_header = len;
        self
    }

    /// A decoder with this config's limit and comment setting.
    fn decoder(&self) -> Decoder {
        Decoder::new()
            .max_event_size(self.max_event_size)
            .comments(self.comments)
    }

    /// Hand out comment lines as [`Action::Comment`] (default `false`):
    /// keep-alives, and what proxies and gateways write to say they are
    /// alive.
    pub fn comments(mut self, on: bool) -> Self {
        self.comments = on;
        self
    }
}

/// A response head, as the session needs it: the status and the headers
/// that decide what happens next.
///
/// Build it with [`Head::new`] and the setters, or with
/// [`Head::from_headers`] from any header map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Head<'a> {
    /// The status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<&'a [u8]>,
    /// `Content-Encoding` of the body bytes the caller hands over: leave it
    /// out when the HTTP stack decoded the body.
    pub content_encoding: Option<&'a [u8]>,
    /// `Retry-After`: delay-seconds or an HTTP-date.
    pub retry_after: Option<&'a [u8]>,
    /// `Date`: the server's clock, against which an HTTP-date `Retry-After`
    /// is read.
    pub date: Option<&'a [u8]>,
    /// The caller's wall clock at the response, in seconds since the Unix
    /// epoch: used for an HTTP-date `Retry-After` when there is no `Date`.
    pub unix_time: Option<u64>,
}

impl<'a> Head<'a> {
    /// The head of a response with this status and no headers.
    pub fn new(status: u16) -> Self {
        Head {
            status,
            content_type: None,
            content_encoding: None,
            retry_after: None,
            date: None,
            unix_time: None,
        }
    }

    /// The head of a response with this status, reading the headers the
    /// session needs with `header` (given lower-case names).
    pub fn from_headers(status: u16, header: impl Fn(&str) -> Option<&'a [u8]>) -> Self {
        Head {
            status,
            content_type: header("content-type"),
            content_encoding: header("content-encoding"),
            retry_after: header("retry-after"),
            date: header("date"),
            unix_time: None,
        }
    }

    /// Sets `Content-Type`.
    pub fn content_type(mut self, value: &'a [u8]) -> Self {
        self.content_type = Some(value);
        self
    }

    /// Sets `Content-Encoding`.
    pub fn content_encoding(mut self, value: &'a [u8]) -> Self {
        self.content_encoding = Some(value);
        self
    }

    /// Sets `Retry-After`.
    pub fn retry_after(mut self, value: &'a [u8]) -> Self {
        self.retry_after = Some(value);
        self
    }

    /// Sets `Date`.
    pub fn date(mut self, value: &'a [u8]) -> Self {
        self.date = Some(value);
        self
    }

    /// Sets the caller's wall clock, in seconds since the Unix epoch.
    pub fn unix_time(mut self, secs: u64) -> Self {
        self.unix_time = Some(secs);
        self
    }

    /// `Retry-After` as a delay: its seconds, or its HTTP-date less the
    /// server's `Date` (or the caller's clock). `None` when absent or
    /// unreadable; zero when the date is past.
    fn retry_after_delay(&self) -> Option<Duration> {
        let value = self.retry_after?.trim_ascii();
        if let Some(secs) = delta_seconds(value) {
            return Some(secs);
        }
        let at = crate::http_date::parse(value)?;
        let now = match self.date.and_then(crate::http_date::parse) {
            Some(date) => date,
            None => self.unix_time?,
        };
        Some(Duration::from_secs(at.saturating_sub(now)))
    }
}

/// What happened, as the caller tells the [`Session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// The response head arrived.
    Response(Head<'a>),
    /// Body bytes arrived.
    Body(Bytes),
    /// The body ended.
    End,
    /// The request or the connection failed in a way worth retrying (DNS,
    /// a refused connection, TLS, a reset...).
    Error,
    /// The request cannot succeed as it is made: an invalid URL, an
    /// unsupported scheme, a redirect loop. The session stops.
    Fatal,
}

/// What the caller should do next, from [`Session::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Open a new request with these headers (built afresh for each attempt,
    /// so the caller may refresh its own, such as authorization, too).
    Connect(Connect),
    /// The stream is open.
    Opened,
    /// Deliver this event.
    Event(Event),
    /// A comment line (without its colon), with [`Config::comments`].
    Comment(Bytes),
    /// An event was too large and was skipped; the stream goes on.
    Skipped(DecodeError),
    /// The connection is over: drop it if still open. A new attempt follows
    /// after `retry_in`.
    Disconnected {
        /// Why.
        reason: Disconnect,
        /// How long until the next attempt.
        retry_in: Duration,
    },
    /// Nothing to do until this time (then poll again), or until an input
    /// arrives (`None`: only an input).
    Wait(Option<Duration>),
    /// The session is over for good. Sticky: every later poll says it again.
    Stop(StopReason),
}

/// A request to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// 1 for the first attempt since the last healthy connection, and so on.
    pub attempt: u32,
    /// The `Last-Event-ID` header's value, if one is to be sent.
    pub last_event_id: Option<Bytes>,
}

impl Connect {
    /// The request headers: `Accept: text/event-stream`, `Cache-Control:
    /// no-cache`, and `Last-Event-ID` when there is one.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        [
            Some(("accept", &b"text/event-stream"[..])),
            Some(("cache-control", &b"no-cache"[..])),
            self.last_event_id
                .as_deref()
                .map(|id| ("last-event-id", id)),
        ]
        .into_iter()
        .flatten()
    }
}

/// Why a connection ended (a new attempt follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disconnect {
    /// The server ended the body.
    Ended,
    /// The connection failed.
    Network,
    /// No response head for [`Config::connect_timeout`].
    ConnectTimeout,
    /// No bytes for [`Config::idle_timeout`].
    Idle,
    /// A retried status: transient, or any 5xx with
    /// [`Config::retry_server_errors`].
    Status(u16),
    /// A 200 response that is not `text/event-stream`, retried by
    /// [`Config::retry_server_errors`].
    ContentType,
    /// [`Session::reconnect`] was called.
    Requested,
}

/// Why the session stopped for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// 204 No Content: the server's way to say "do not reconnect".
    NoContent,
    /// A status other than 200 (and not retried).
    Status(u16),
    /// A 200 response whose content type is not `text/event-stream`.
    ContentType,
    /// A 200 response whose body is compressed (`Content-Encoding` other
    /// than `identity`): read as it is, it would be garbage.
    ContentEncoding,
    /// [`Config::max_attempts`] attempts without a healthy connection.
    MaxAttempts,
    /// The caller said the request cannot succeed ([`Input::Fatal`]).
    Fatal,
    /// [`Session::close`] was called.
    Closed,
}

impl StopReason {
    /// Whether the stop is the server's or the caller's wish rather than a
    /// failure: 204, or [`Session::close`].
    pub fn is_normal(self) -> bool {
        matches!(self, StopReason::NoContent | StopReason::Closed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Ready to connect now.
    New,
    /// A request is out, no response head yet.
    Connecting,
    /// The stream is open.
    Open,
    /// The connection is over (at `since`); its events still in the decoder
    /// are handed out first, then `Disconnected`.
    Ending {
        reason: Disconnect,
        at_least: Duration,
        since: Duration,
    },
    /// Waiting to reconnect until the deadline.
    Waiting(Duration),
    Stopped(StopReason),
}

/// The client side of one `EventSource`. See the [module docs](self).
///
/// # Example
///
/// ```
/// use core::time::Duration;
/// use bytes::Bytes;
/// use sse_proto::session::{Action, Config, Disconnect, Head, Input, Session};
///
/// let mut session = Session::new(Config::default().jitter(false));
/// let t0 = Duration::ZERO;
/// let Action::Connect(connect) = session.poll(t0) else { panic!() };
/// assert_eq!(connect.last_event_id, None);
///
/// session.handle(t0, Input::Response(Head::new(200).content_type(b"text/event-stream")));
/// assert_eq!(session.poll(t0), Action::Opened);
/// session.handle(t0, Input::Body(Bytes::from("retry: 1000\nid: 7\ndata: hi\n\n")));
/// let Action::Event(event) = session.poll(t0) else { panic!() };
/// assert_eq!(event.data(), "hi");
///
/// // The server closes: reconnect after its `retry`, resuming from id 7.
/// session.handle(t0, Input::End);
/// assert_eq!(session.poll(t0), Action::Disconnected { reason: Disconnect::Ended, retry_in: Duration::from_secs(1) });
/// assert_eq!(session.poll(t0), Action::Wait(Some(Duration::from_secs(1))));
/// let Action::Connect(connect) = session.poll(Duration::from_secs(1)) else { panic!() };
/// assert_eq!(connect.last_event_id.as_deref(), Some(&b"7"[..]));
/// ```
///
/// # Memory
///
/// Body bytes are kept undecoded in the session's [`Decoder`] until
/// [`Session::poll`] hands out their events, one per call: a chunk of
/// thousands of events costs no queue of thousands of actions.
#[derive(Debug)]
#[must_use = "a session does nothing until it is polled"]
pub struct Session {
    config: Config,
    state: State,
    decoder: Decoder,
    /// The stream opened and `poll` has not said so yet.
    owe_opened: bool,
    /// Attempts since the last healthy connection.
    attempts: u32,
    /// The open connection has received bytes.
    healthy: bool,
    /// When the request was made, or the open connection last received
    /// bytes.
    last_activity: Duration,
    rng: SplitMix64,
}

impl Session {
    /// A session that will connect on the first [`Session::poll`].
    pub fn new(config: Config) -> Self {
        let decoder = config.decoder();
        Session {
            rng: SplitMix64::new(config.seed.unwrap_or_else(entropy)),
            config,
            state: State::New,
            decoder,
            owe_opened: false,
            attempts: 0,
            healthy: false,
            last_activity: Duration::ZERO,
        }
    }

    /// Starts from a last event ID, as a client that resumes a stream it
    /// read before.
    pub fn with_last_event_id(mut self, id: impl Into<Bytes>) -> Self {
        self.decoder = self.config.decoder().with_last_event_id(id);
        self
    }

    /// The last event ID: what the next `Last-Event-ID` is made from.
    pub fn last_event_id(&self) -> alloc::borrow::Cow<'_, str> {
        self.decoder.last_event_id()
    }

    /// The reconnection time now in force: the server's `retry` or the
    /// initial one, raised to [`Config::min_retry`] and capped by
    /// [`Config::max_retry`].
    pub fn reconnection_time(&self) -> Duration {
        let retry = self.decoder.retry().unwrap_or(self.config.initial_retry);
        retry.min(self.config.max_retry).max(self.config.min_retry)
    }

    /// Whether the session has stopped for good.
    pub fn is_stopped(&self) -> bool {
        matches!(self.state, State::Stopped(_))
    }

    /// Stops the session: the next poll says [`StopReason::Closed`] (unless
    /// it had stopped already). Events not yet handed out are dropped.
    pub fn close(&mut self) {
        if !self.is_stopped() {
            self.owe_opened = false;
            // Frees the undecoded input; what it held is not wanted now.
            let _ = self.decoder.finish();
            self.state = State::Stopped(StopReason::Closed);
        }
    }

    /// Asks for a new connection now, at time `now`: an open one (or a
    /// request under way) ends with [`Disconnect::Requested`] and the next
    /// attempt follows at once, as does a wait for a reconnect. For when the
    /// caller knows better than the session, such as after refreshing a
    /// token. The events already received are handed out first.
    pub fn reconnect(&mut self, now: Duration) {
        match self.state {
            State::Connecting | State::Open => {
                self.owe_opened = false;
                self.state = State::Ending {
                    reason: Disconnect::Requested,
                    at_least: Duration::ZERO,
                    since: now,
                };
            }
            State::Waiting(_) => self.state = State::Waiting(now),
            State::New | State::Ending { .. } | State::Stopped(_) => {}
        }
    }

    /// Tells the session what happened at time `now`.
    ///
    /// Inputs that do not fit the state (body bytes while not connected, a
    /// second response head) are ignored: they can only come from a
    /// connection the session has already given up.
    pub fn handle(&mut self, now: Duration, input: Input<'_>) {
        match (self.state, input) {
            (State::Connecting, Input::Response(head)) => self.response(now, &head),
            (State::Connecting | State::Open, Input::Fatal) => {
                self.owe_opened = false;
                self.stop(StopReason::Fatal);
            }
            // A body that ends before its head is a failed request.
            (State::Connecting | State::Open, Input::Error) | (State::Connecting, Input::End) => {
                self.end(now, Disconnect::Network, Duration::ZERO);
            }
            (State::Open, Input::Body(chunk)) => self.body(now, chunk),
            (State::Open, Input::End) => self.end(now, Disconnect::Ended, Duration::ZERO),
            _ => {}
        }
    }

    /// What to do next at time `now`. Call it until it returns
    /// [`Action::Wait`], [`Action::Connect`] or [`Action::Stop`].
    #[must_use = "the action says what to do next: connect, deliver an event, wait or stop"]
    pub fn poll(&mut self, now: Duration) -> Action {
        if core::mem::take(&mut self.owe_opened) {
            return Action::Opened;
        }
        if matches!(self.state, State::Open | State::Ending { .. }) {
            while let Some(frame) = self.decoder.next_frame() {
                match frame {
                    Ok(Frame::Event(event)) => return Action::Event(event),
                    Ok(Frame::Comment(text)) => return Action::Comment(text),
                    Err(e) => return Action::Skipped(e),
                    // The decoder keeps `retry`; `reconnection_time` reads it.
                    Ok(_) => {}
                }
            }
        }
        match self.state {
            State::Stopped(reason) => Action::Stop(reason),
            State::New => self.connect(now),
            State::Ending {
                reason,
                at_least,
                since,
            } => self.disconnect(since, reason, at_least),
            State::Waiting(deadline) if now < deadline => Action::Wait(Some(deadline)),
            State::Waiting(_) => match self.config.max_attempts {
                Some(max) if self.attempts >= max => {
                    self.state = State::Stopped(StopReason::MaxAttempts);
                    Action::Stop(StopReason::MaxAttempts)
                }
                _ => self.connect(now),
            },
            State::Open | State::Connecting => match self.timeout_deadline() {
                Some(deadline) if now >= deadline => {
                    let reason = if self.state == State::Open {
                        Disconnect::Idle
                    } else {
                        Disconnect::ConnectTimeout
                    };
                    self.disconnect(now, reason, Duration::ZERO)
                }
                deadline => Action::Wait(deadline),
            },
        }
    }

    /// When the session next needs a [`Session::poll`] without any input:
    /// the reconnect time, or the timeout deadline. `Some(Duration::ZERO)`
    /// means "poll now": an action is ready (or may be, when body bytes are
    /// still undecoded). `None` when only an input can move it on.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.owe_opened || self.decoder.pending_input() > 0 {
            return Some(Duration::ZERO);
        }
        match self.state {
            State::Waiting(deadline) => Some(deadline),
            State::Open | State::Connecting => self.timeout_deadline(),
            State::New | State::Ending { .. } => Some(Duration::ZERO),
            State::Stopped(_) => None,
        }
    }

    /// The connect timeout's deadline while connecting, the idle timeout's
    /// while open.
    fn timeout_deadline(&self) -> Option<Duration> {
        let timeout = match self.state {
            State::Connecting => self.config.connect_timeout,
            _ => self.config.idle_timeout,
        }?;
        Some(self.last_activity.saturating_add(timeout))
    }

    fn connect(&mut self, now: Duration) -> Action {
        self.attempts = self.attempts.saturating_add(1);
        self.state = State::Connecting;
        self.healthy = false;
        // The timeouts count from the attempt, not from the last bytes of
        // the previous connection.
        self.last_activity = now;
        Action::Connect(Connect {
            attempt: self.attempts,
            last_event_id: header_value(
                self.decoder.last_event_id_bytes(),
                self.config.max_id_header,
            ),
        })
    }

    fn response(&mut self, now: Duration, head: &Head<'_>) {
        self.last_activity = now;
        let status = head.status;
        let transient = matches!(status, 429 | 502..=504) && self.config.retry_transient;
        let server_error = matches!(status, 500..=599) && self.config.retry_server_errors;
        match status {
            200 if !head.content_type.is_some_and(is_event_stream) => {
                if self.config.retry_server_errors {
                    self.end(now, Disconnect::ContentType, Duration::ZERO);
                } else {
                    self.stop(StopReason::ContentType);
                }
            }
            200 if head.content_encoding.is_some_and(|e| !is_identity(e)) => {
                self.stop(StopReason::ContentEncoding);
            }
            200 => {
                self.state = State::Open;
                self.owe_opened = true;
            }
            204 => self.stop(StopReason::NoContent),
            _ if transient || server_error => {
                let at_least = head
                    .retry_after_delay()
                    .unwrap_or(Duration::ZERO)
                    .min(self.config.max_retry);
                self.end(now, Disconnect::Status(status), at_least);
            }
            _ => self.stop(StopReason::Status(status)),
        }
    }

    fn body(&mut self, now: Duration, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.last_activity = now;
        if !self.healthy {
            // A healthy connection: the backoff starts over.
            self.healthy = true;
            self.attempts = 0;
        }
        self.decoder.push(chunk);
    }

    fn stop(&mut self, reason: StopReason) {
        self.state = State::Stopped(reason);
    }

    /// The connection is over at `now`: `poll` hands out the events still
    /// in the decoder, then disconnects.
    fn end(&mut self, now: Duration, reason: Disconnect, at_least: Duration) {
        self.state = State::Ending {
            reason,
            at_least,
            since: now,
        };
    }

    /// Ends the connection and schedules the next attempt, at least
    /// `at_least` after `since`.
    fn disconnect(&mut self, since: Duration, reason: Disconnect, at_least: Duration) -> Action {
        // An event whose blank line never came is dropped, as the standard
        // says; the last event ID and `retry` carry over.
        let _ = self.decoder.finish();
        let retry_in = if reason == Disconnect::Requested {
            Duration::ZERO
        } else {
            self.backoff(at_least)
        };
        self.state = State::Waiting(since.saturating_add(retry_in));
        Action::Disconnected { reason, retry_in }
    }

    /// The delay before the next attempt: the reconnection time (or
    /// `at_least`, if longer) plus a random part of the backoff window; see
    /// the module docs.
    fn backoff(&mut self, at_least: Duration) -> Duration {
        let base = self.reconnection_time();
        // Consecutive failures before this one: 0 after a healthy connection.
        let failures = self.attempts.saturating_sub(1).min(31);
        let max_backoff = self.config.max_backoff;
        if !self.config.jitter {
            let delay = base
                .saturating_mul(1 << failures)
                .min(base.saturating_add(max_backoff));
            return delay.max(at_least);
        }
        let window = (base / 2).saturating_mul(1 << failures).min(max_backoff);
        let delay = base.saturating_add(self.random_up_to(window));
        if delay >= at_least {
            return delay;
        }
        // A server's `Retry-After`: spread the fleet over half of it again.
        let spread = (at_least / 2).min(max_backoff);
        at_least.saturating_add(self.random_up_to(spread))
    }

    /// A uniformly random delay from zero to `top`, in whole milliseconds.
    fn random_up_to(&mut self, top: Duration) -> Duration {
        let top_ms = u64::try_from(top.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(self.rng.below(top_ms.saturating_add(1)))
    }
}

/// SplitMix64 (Steele, Lea and Flood): a 64-bit state stepped by a constant
/// and mixed. Every seed, however alike (2 and 3), starts a sequence of its
/// own; enough for jitter, and repeatable from the seed.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0), by the multiply-shift method (Lemire):
    /// no division, and a bias below 2^-64 relative, nothing for jitter.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// A seed of this session's own. With `std`: the process's random SipHash
/// keys (different in every process, and for every call in a process), so
/// that no two clients of a fleet share a sequence. Without it: a fixed one.
fn entropy() -> u64 {
    #[cfg(feature = "std")]
    {
        use core::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x5EED);
        hasher.finish()
    }
    #[cfg(not(feature = "std"))]
    {
        0x5EED_5EED_5EED_5EED
    }
}

/// Whether a `Content-Type` value is `text/event-stream`: its essence,
/// before any `;` parameters, compared without case and with the
/// surrounding spaces removed.
fn is_event_stream(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"text/event-stream")
}

/// Whether a `Content-Encoding` value leaves the body as it is: empty, or
/// only `identity` codings.
fn is_identity(content_encoding: &[u8]) -> bool {
    content_encoding
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case(b"identity"))
}

/// `Retry-After` in its delay-seconds form (a number too large for `u64`
/// saturates; the session caps it anyway).
fn delta_seconds(value: &[u8]) -> Option<Duration> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs = value
        .iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs))
}

/// The `Last-Event-ID` header value a client sends for the last event ID
/// `id`, or `None` when none is to be sent: when `id` is empty, longer than
/// `max` bytes, or cannot travel in a header exactly.
///
/// The ID is sent as its UTF-8 text, invalid sequences replaced by U+FFFD,
/// as a browser does. Control characters (CR, LF and NUL among them) cannot
/// be in a header value, and HTTP strips spaces and tabs at either end of
/// one: such an ID is not sent at all, never sent in part or changed.
///
/// The server's side of this rule is `adapter::body::last_event_id` (feature
/// `body`); a property test checks that what one sends, the other reads.
///
/// ```
/// use sse_proto::session::last_event_id_header;
///
/// assert_eq!(last_event_id_header("café-7".as_bytes(), 4096).as_deref(), Some("café-7".as_bytes()));
/// assert_eq!(last_event_id_header(b"a\nb", 4096), None);
/// assert_eq!(last_event_id_header(b" padded", 4096), None);
/// ```
pub fn last_event_id_header(id: &[u8], max: usize) -> Option<Bytes> {
    header_value(id, max)
}

fn header_value(id: &[u8], max: usize) -> Option<Bytes> {
    if id.is_empty() {
        return None;
    }
    // As a browser does: the ID is text, sent as UTF-8.
    let id = match core::str::from_utf8(id) {
        Ok(_) => Bytes::copy_from_slice(id),
        Err(_) => Bytes::from(Vec::from(
            alloc::string::String::from_utf8_lossy(id).as_bytes(),
        )),
    };
    // Control characters (CR, LF, NUL among them) cannot be in a header
    // value; tab can.
    let sendable = id.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7F));
    let untrimmed = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    let exact = !untrimmed(id.first()) && !untrimmed(id.last());
    (sendable && exact && id.len() <= max).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const T0: Duration = Duration::ZERO;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn ms(m: u64) -> Duration {
        Duration::from_millis(m)
    }

    /// The table's config: no jitter and no timeouts, so that every delay
    /// is exact. The defaults have tests of their own.
    fn cfg() -> Config {
        Config::default()
            .jitter(false)
            .connect_timeout(None)
            .idle_timeout(None)
    }

    fn ok() -> Input<'static> {
        status(200)
    }

    fn status(code: u16) -> Input<'static> {
        Input::Response(Head::new(code).content_type(b"text/event-stream"))
    }

    fn body(s: &'static str) -> Input<'static> {
        Input::Body(Bytes::from_static(s.as_bytes()))
    }

    /// Polls until `Wait` or `Stop`, collecting everything.
    fn drain(s: &mut Session, now: Duration) -> Vec<Action> {
        let mut out = vec![];
        for _ in 0..100 {
            let a = s.poll(now);
            let last = matches!(a, Action::Wait(_) | Action::Stop(_) | Action::Connect(_));
            out.push(a);
            if last {
                return out;
            }
        }
        panic!("poll never settled: {out:?}");
    }

    fn open(config: Config) -> Session {
        let mut s = Session::new(config);
        assert!(matches!(s.poll(T0), Action::Connect(_)));
        s.handle(T0, ok());
        assert_eq!(s.poll(T0), Action::Opened);
        s
    }

    fn event(d: &str, id: &str) -> Action {
        Action::Event(Event::new(
            "message",
            Bytes::copy_from_slice(d.as_bytes()),
            Bytes::copy_from_slice(id.as_bytes()),
        ))
    }

    #[test]
    fn new_polls_connect_with_headers() {
        let mut s = Session::new(cfg());
        let Action::Connect(c) = s.poll(T0) else {
            panic!()
        };
        assert_eq!(c.attempt, 1);
        let headers: Vec<_> = c.headers().collect();
        assert_eq!(
            headers,
            [
                ("accept", &b"text/event-stream"[..]),
                ("cache-control", &b"no-cache"[..])
            ]
        );
        // An empty last event ID sends no header at all.
        assert_eq!(c.last_event_id, None);
    }

    #[test]
    fn connecting_200_event_stream_opens_any_case_and_params() {
        for ct in [
            &b"text/event-stream"[..],
            b"Text/Event-Stream; charset=utf-8",
            b" text/event-stream ;x=y",
        ] {
            let mut s = Session::new(cfg());
            let _ = s.poll(T0);
            s.handle(
                T0,
                Input::Response(Head {
                    content_type: Some(ct),
                    retry_after: None,
                    ..Head::new(200)
                }),
            );
            assert_eq!(s.poll(T0), Action::Opened, "{ct:?}");
        }
    }

    #[test]
    fn connecting_204_stops() {
        let mut s = Session::new(cfg());
        let _ = s.poll(T0);
        s.handle(T0, status(204));
        assert_eq!(s.poll(T0), Action::Stop(StopReason::NoContent));
    }

    #[test]
    fn connecting_200_wrong_or_no_content_type_stops() {
        for ct in [Some(&b"text/plain"[..]), Some(b"text/event-streams"), None] {
            let mut s = Session::new(cfg());
            let _ = s.poll(T0);
            s.handle(
                T0,
                Input::Response(Head {
                    content_type: ct,
                    retry_after: None,
                    ..Head::new(200)
                }),
            );
            assert_eq!(s.poll(T0), Action::Stop(StopReason::ContentType), "{ct:?}");
        }
    }

    #[test]
    fn connecting_other_status_stops_by_default() {
        for code in [201, 301, 304, 400, 401, 404, 431, 500, 501, 505] {
            let mut s = Session::new(cfg());
            let _ = s.poll(T0);
            s.handle(T0, status(code));
            assert_eq!(s.poll(T0), Action::Stop(StopReason::Status(code)));
        }
    }

    #[test]
    fn connecting_transient_status_is_retried_by_default_with_backoff() {
        for code in [429, 502, 503, 504] {
            let mut s = Session::new(cfg());
            let _ = s.poll(T0);
            s.handle(T0, status(code));
            assert_eq!(
                s.poll(T0),
                Action::Disconnected {
                    reason: Disconnect::Status(code),
                    retry_in: secs(3)
                },
                "{code}"
            );
            // The next failure backs off.
            assert!(matches!(s.poll(secs(3)), Action::Connect(_)));
            s.handle(secs(3), status(code));
            assert_eq!(
                s.poll(secs(3)),
                Action::Disconnected {
                    reason: Disconnect::Status(code),
                    retry_in: secs(6)
                },
                "{code}"
            );
        }
        // Unless turned off: then they stop, as the standard says.
        let mut s = Session::new(cfg().retry_transient(false));
        let _ = s.poll(T0);
        s.handle(T0, status(503));
        assert_eq!(s.poll(T0), Action::Stop(StopReason::Status(503)));
    }

    #[test]
    fn connecting_transient_status_waits_its_retry_after_in_seconds_or_as_a_date_capped() {
        let retried = |head: Head<'_>| {
            let mut s = Session::new(cfg());
            let _ = s.poll(T0);
            s.handle(T0, Input::Response(head));
            match s.poll(T0) {
                Action::Disconnected { retry_in, .. } => retry_in,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(retried(Head::new(503).retry_after(b" 120 ")), secs(120));
        // A date, against the server's Date header.
        let date = b"Sun, 29 Nov 2026 01:27:26 GMT";
        let later = b"Sun, 29 Nov 2026 01:28:36 GMT";
        assert_eq!(
            retried(Head::new(429).retry_after(later).date(date)),
            secs(70)
        );
        // Against the caller's clock when there is no Date.
        assert_eq!(
            retried(Head::new(503).retry_after(later).unix_time(1_795_915_646)),
            secs(70)
        );
        // A date in the past, or no clock to read it against: the backoff.
        assert_eq!(
            retried(Head::new(503).retry_after(date).date(later)),
            secs(3)
        );
        assert_eq!(retried(Head::new(503).retry_after(later)), secs(3));
        // Huge values are capped, never an overflow.
        assert_eq!(
            retried(Head::new(503).retry_after(b"99999999999999999999")),
            Duration::from_secs(600)
        );
        let far = b"Fri, 31 Dec 9999 23:59:59 GMT";
        assert_eq!(
            retried(Head::new(503).retry_after(far).unix_time(0)),
            Duration::from_secs(600)
        );
        let mut s = Session::new(cfg().max_retry(secs(30)));
        let _ = s.poll(T0);
        s.handle(T0, Input::Response(Head::new(503).retry_after(b"120")));
        assert_eq!(
            s.poll(T0),
            Action::Disconnected {
                reason: Disconnect::Status(503),
                retry_in: secs(30)
            }
        );
    }

    #[test]
    fn connecting_200_compressed_body_stops() {
        for (coding, opens) in [
            (&b"gzip"[..], false),
            (b"br", false),
            (b"identity, gzip", false),
            (b"identity", true),
            (b" Identity ", true),
            (b"", true),
        ] {
            let mut s = Session::new(cfg());
            let _ = s.poll(T0);
            let head = Head::new(200)
                .content_type(b"text/event-stream")
                .content_encoding(coding);
            s.handle(T0, Input::Response(head));
            let want = if opens {
                Action::Opened
            } else {
                Action::Stop(StopReason::ContentEncoding)
            };
            assert_eq!(s.poll(T0), want, "{:?}", core::str::from_utf8(coding));
        }
    }

    #[test]
    fn connecting_or_open_fatal_stops() {
        let mut s = Session::new(cfg());
        let _ = s.poll(T0);
        s.handle(T0, Input::Fatal);
        assert_eq!(s.poll(T0), Action::Stop(StopReason::Fatal));
        let mut s = open(cfg());
        s.handle(T0, Input::Fatal);
        assert_eq!(s.poll(T0), Action::Stop(StopReason::Fatal));
        assert!(!StopReason::Fatal.is_normal());
        assert!(StopReason::NoContent.is_normal() && StopReason::Closed.is_normal());
    }

    #[test]
    fn connecting_5xx_or_429_retried_by_policy_honours_retry_after() {
        let config = cfg().retry_server_errors(true);
        let mut s = Session::new(config.clone());
        let _ = s.poll(T0);
        s.handle(
            T0,
            Input::Response(Head {
                content_type: None,
                retry_after: Some(b"10"),
                ..Head::new(503)
            }),
        );
        assert_eq!(
            s.poll(T0),
            Action::Disconnected {
                reason: Disconnect::Status(503),
                retry_in: secs(10)
            }
        );
        assert_eq!(s.poll(secs(9)), Action::Wait(Some(secs(10))));
        assert!(matches!(
            s.poll(secs(10)),
            Action::Connect(Connect { attempt: 2, .. })
        ));
        // Without Retry-After (or with a date), the backoff decides; 404 still stops.
        s.handle(
            secs(10),
            Input::Response(Head {
                content_type: None,
                retry_after: Some(b"Wed, 21 Oct 2015 07:28:00 GMT"),
                ..Head::new(429)
            }),
        );
        let Action::Disconnected {
            reason: Disconnect::Status(429),
            retry_in,
        } = s.poll(secs(10))
        else {
            panic!()
        };
        assert!(retry_in >= secs(3) && retry_in <= secs(6), "{retry_in:?}");
        let mut s = Session::new(config.clone());
        let _ = s.poll(T0);
        s.handle(T0, status(404));
        assert_eq!(s.poll(T0), Action::Stop(StopReason::Status(404)));
    }

    #[test]
    fn connecting_200_wrong_content_type_retried_by_policy() {
        let mut s = Session::new(cfg().retry_server_errors(true));
        let _ = s.poll(T0);
        s.handle(
            T0,
            Input::Response(Head {
                content_type: Some(b"text/html"),
                retry_after: None,
                ..Head::new(200)
            }),
        );
        assert_eq!(
            s.poll(T0),
            Action::Disconnected {
                reason: Disconnect::ContentType,
                retry_in: secs(3)
            }
        );
        assert_eq!(s.poll(T0), Action::Wait(Some(secs(3))));
    }

    #[test]
    fn network_error_while_connecting_or_open_reconnects() {
        let mut s = Session::new(cfg());
        let _ = s.poll(T0);
        s.handle(T0, Input::Error);
        assert_eq!(
            s.poll(T0),
            Action::Disconnected {
                reason: Disconnect::Network,
                retry_in: secs(3)
            }
        );
        let mut s = open(cfg());
        s.handle(T0, body("data: x\n\n"));
        s.handle(T0, Input::Error);
        assert_eq!(
            drain(&mut s, T0),
            [
                event("x", ""),
                Action::Disconnected {
                    reason: Disconnect::Network,
                    retry_in: secs(3)
                },
                Action::Wait(Some(secs(3)))
            ]
        );
    }

    #[test]
    fn open_body_gives_events_in_order_and_retry_changes_the_delay() {
        let mut s = open(cfg());
        s.handle(T0, body("id: 1\ndata: a\n\nretry: 1500\ndata: b\n"));
        s.handle(T0, body("\n"));
        assert_eq!(
            drain(&mut s, T0),
            [event("a", "1"), event("b", "1"), Action::Wait(None)]
        );
        assert_eq!(s.reconnection_time(), ms(1500));
    }

    #[test]
    fn open_end_reconnects_dropping_a_partial_event_keeping_the_id() {
        let mut s = open(cfg());
        s.handle(T0, body("id: 5\ndata: whole\n\nid: 6\ndata: partial\n"));
        s.handle(T0, Input::End);
        assert_eq!(
            drain(&mut s, T0),
            [
                event("whole", "5"),
                Action::Disconnected {
                    reason: Disconnect::Ended,
                    retry_in: secs(3)
                },
                Action::Wait(Some(secs(3)))
            ]
        );
        let Action::Connect(c) = s.poll(secs(3)) else {
            panic!()
        };
        assert_eq!(c.last_event_id.as_deref(), Some(&b"5"[..]));
        // The next stream's events without an id carry 5, not "".
        s.handle(secs(3), ok());
        s.handle(secs(3), body("data: next\n\n"));
        assert_eq!(
            drain(&mut s, secs(3)),
            [Action::Opened, event("next", "5"), Action::Wait(None)]
        );
    }

    #[test]
    fn open_idle_timeout_disconnects_and_keep_alives_keep_it_open() {
        let mut s = open(cfg().idle_timeout(secs(10)));
        assert_eq!(s.poll(secs(5)), Action::Wait(Some(secs(10))));
        s.handle(secs(8), body(":\n"));
        assert_eq!(s.poll(secs(12)), Action::Wait(Some(secs(18))));
        assert_eq!(s.poll_timeout(), Some(secs(18)));
        assert_eq!(
            s.poll(secs(18)),
            Action::Disconnected {
                reason: Disconnect::Idle,
                retry_in: secs(3)
            }
        );
        assert_eq!(s.poll(secs(18)), Action::Wait(Some(secs(21))));
    }

    #[test]
    fn connecting_timeout_counts_from_the_attempt() {
        let mut s = open(cfg().connect_timeout(secs(10)).idle_timeout(secs(100)));
        s.handle(secs(1), body("data: x\n\n"));
        s.handle(secs(2), Input::End);
        let _ = drain(&mut s, secs(2));
        // Reconnecting at 20 s, long after the last bytes at 1 s: the new
        // attempt gets its own 10 s, the connect timeout (not the idle one).
        assert!(matches!(s.poll(secs(20)), Action::Connect(_)));
        assert_eq!(s.poll(secs(25)), Action::Wait(Some(secs(30))));
        assert_eq!(
            s.poll(secs(30)),
            Action::Disconnected {
                reason: Disconnect::ConnectTimeout,
                retry_in: secs(3)
            }
        );
        assert_eq!(s.poll(secs(30)), Action::Wait(Some(secs(33))));
    }

    #[test]
    fn connecting_or_open_reconnect_disconnects_at_once_and_waiting_connects_now() {
        // Open, with an event received: it comes first.
        let mut s = open(cfg());
        s.handle(secs(1), body("id: 4\ndata: x\n\n"));
        s.reconnect(secs(2));
        assert_eq!(s.poll(secs(2)), event("x", "4"));
        assert_eq!(
            s.poll(secs(2)),
            Action::Disconnected {
                reason: Disconnect::Requested,
                retry_in: Duration::ZERO
            }
        );
        let Action::Connect(c) = s.poll(secs(2)) else {
            panic!()
        };
        assert_eq!(c.last_event_id.as_deref(), Some(&b"4"[..]));
        // Connecting: the request is dropped.
        s.reconnect(secs(3));
        assert!(matches!(
            s.poll(secs(3)),
            Action::Disconnected {
                reason: Disconnect::Requested,
                ..
            }
        ));
        assert!(matches!(s.poll(secs(3)), Action::Connect(_)));
        // Waiting: the wait is cut short.
        s.handle(secs(4), Input::Error);
        let _ = s.poll(secs(4));
        assert!(matches!(s.poll(secs(4)), Action::Wait(Some(_))));
        s.reconnect(secs(5));
        assert!(matches!(s.poll(secs(5)), Action::Connect(_)));
        // Stopped: nothing.
        s.close();
        s.reconnect(secs(6));
        assert_eq!(s.poll(secs(6)), Action::Stop(StopReason::Closed));
    }

    #[test]
    fn waiting_polls_wait_until_the_deadline_then_connect() {
        let mut s = open(cfg());
        s.handle(T0, Input::End);
        let _ = s.poll(T0);
        assert_eq!(s.poll(secs(1)), Action::Wait(Some(secs(3))));
        assert_eq!(s.poll_timeout(), Some(secs(3)));
        assert!(matches!(s.poll(secs(3)), Action::Connect(_)));
    }

    #[test]
    fn waiting_max_attempts_is_honoured() {
        let mut s = Session::new(cfg().max_attempts(3));
        let mut now = T0;
        let mut connects = 0;
        for _ in 0..10 {
            match s.poll(now) {
                Action::Connect(_) => {
                    connects += 1;
                    s.handle(now, Input::Error);
                }
                Action::Wait(Some(t)) => now = t,
                Action::Stop(r) => {
                    assert_eq!(r, StopReason::MaxAttempts);
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(connects, 3);
        assert_eq!(s.poll(now), Action::Stop(StopReason::MaxAttempts));
    }

    #[test]
    fn any_close_stops_and_stopped_is_sticky() {
        let mut s = open(cfg());
        s.handle(T0, body("data: x\n\n"));
        s.close();
        assert_eq!(s.poll(T0), Action::Stop(StopReason::Closed));
        s.handle(T0, ok());
        s.handle(T0, body("data: y\n\n"));
        assert_eq!(s.poll(secs(100)), Action::Stop(StopReason::Closed));
        assert_eq!(s.poll_timeout(), None);
        // A stop for another reason stays that reason.
        let mut s = Session::new(cfg());
        let _ = s.poll(T0);
        s.handle(T0, status(204));
        s.close();
        assert_eq!(s.poll(T0), Action::Stop(StopReason::NoContent));
    }

    #[test]
    fn retry_zero_is_raised_to_the_floor() {
        let mut s = open(cfg());
        s.handle(T0, body("retry: 0\n\n"));
        s.handle(T0, Input::End);
        assert_eq!(
            drain(&mut s, T0)[0],
            Action::Disconnected {
                reason: Disconnect::Ended,
                retry_in: ms(500)
            }
        );
    }

    #[test]
    fn initial_and_min_retry_set_the_reconnection_time() {
        // The initial reconnection time holds until the server sends `retry`.
        let mut s = Session::new(cfg().initial_retry(secs(7)));
        assert_eq!(s.reconnection_time(), secs(7));
        let _ = s.poll(T0);
        s.handle(T0, Input::Error);
        assert_eq!(
            s.poll(T0),
            Action::Disconnected {
                reason: Disconnect::Network,
                retry_in: secs(7)
            }
        );
        // The floor raises a `retry` below it, and an initial time too.
        let mut s = open(cfg().min_retry(secs(2)));
        s.handle(T0, body("retry: 100\n\n"));
        assert_eq!(drain(&mut s, T0), [Action::Wait(None)]);
        assert_eq!(s.reconnection_time(), secs(2));
        let s = Session::new(cfg().initial_retry(ms(100)).min_retry(secs(1)));
        assert_eq!(s.reconnection_time(), secs(1));
    }

    #[test]
    fn backoff_doubles_without_jitter_up_to_the_cap_above_the_retry() {
        let mut s = Session::new(cfg().max_backoff(secs(20)));
        let mut now = T0;
        let mut delays = vec![];
        for _ in 0..6 {
            assert!(matches!(s.poll(now), Action::Connect(_)));
            s.handle(now, Input::Error);
            let Action::Disconnected { retry_in, .. } = s.poll(now) else {
                panic!()
            };
            delays.push(retry_in.as_secs());
            now += retry_in;
        }
        assert_eq!(delays, [3, 6, 12, 23, 23, 23]);
    }

    #[test]
    fn backoff_grows_with_jitter_up_to_the_cap_and_resets_after_health() {
        let config = Config::default()
            .connect_timeout(None)
            .idle_timeout(None)
            .max_backoff(secs(20))
            .seed(7);
        let mut s = Session::new(config.clone());
        let mut now = T0;
        let delays = fail(&mut s, &mut now, 8);
        // The window above the 3 s reconnection time: 1.5 s on the first
        // failure, doubling, capped at 20 s.
        for (n, d) in delays.iter().enumerate() {
            let window = ms(1500).saturating_mul(1 << n).min(secs(20));
            assert!(
                *d >= secs(3) && *d <= secs(3) + window,
                "failure {n}: {d:?}"
            );
        }
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "jitter varies: {delays:?}"
        );
        // The same seed gives the same delays.
        let mut again = Session::new(config);
        let mut now = T0;
        for d in &delays {
            let _ = again.poll(now);
            again.handle(now, Input::Error);
            assert_eq!(
                again.poll(now),
                Action::Disconnected {
                    reason: Disconnect::Network,
                    retry_in: *d
                }
            );
            now += *d;
        }
        // A healthy connection (bytes received) resets it.
        let Action::Connect(c) = s.poll(now) else {
            panic!()
        };
        assert_eq!(c.attempt, 9);
        s.handle(now, ok());
        s.handle(now, body(": hi\n"));
        s.handle(now, Input::End);
        let actions = drain(&mut s, now);
        let Action::Disconnected {
            reason: Disconnect::Ended,
            retry_in,
        } = actions[1]
        else {
            panic!("{actions:?}")
        };
        assert!(retry_in >= secs(3) && retry_in <= ms(4500), "{retry_in:?}");
        let Action::Connect(c) = s.poll(now + retry_in) else {
            panic!()
        };
        assert_eq!(c.attempt, 1);
    }

    #[test]
    fn last_event_id_from_id_only_blocks_and_seeds() {
        let mut s = open(cfg());
        s.handle(T0, body("id: 42\n\n"));
        s.handle(T0, Input::End);
        let _ = drain(&mut s, T0);
        let Action::Connect(c) = s.poll(secs(3)) else {
            panic!()
        };
        assert_eq!(c.last_event_id.as_deref(), Some(&b"42"[..]));
        assert!(c.headers().any(|h| h == ("last-event-id", &b"42"[..])));

        let mut s = Session::new(cfg()).with_last_event_id("seed");
        let Action::Connect(c) = s.poll(T0) else {
            panic!()
        };
        assert_eq!(c.last_event_id.as_deref(), Some(&b"seed"[..]));
    }

    #[test]
    fn unsendable_ids_are_not_sent_and_invalid_utf8_is_replaced() {
        assert_eq!(header_value(b"a\x01b", 4096), None);
        assert_eq!(header_value(b"a\x7F", 4096), None);
        assert_eq!(header_value(b"", 4096), None);
        assert_eq!(header_value(b"a\tb", 4096).as_deref(), Some(&b"a\tb"[..]));
        // HTTP strips spaces and tabs at either end: such an id would come
        // back changed.
        assert_eq!(header_value(b" a", 4096), None);
        assert_eq!(header_value(b"a\t", 4096), None);
        assert_eq!(header_value(b"a b", 4096).as_deref(), Some(&b"a b"[..]));
        assert_eq!(
            header_value(b"\xFF", 4096).as_deref(),
            Some("\u{FFFD}".as_bytes())
        );
        // Through the session: an id with a control character is kept (the
        // standard says so) but not sent.
        let mut s = open(cfg());
        s.handle(T0, body("id: x\x1by\ndata: d\n\n"));
        s.handle(T0, Input::End);
        let _ = drain(&mut s, T0);
        let Action::Connect(c) = s.poll(secs(3)) else {
            panic!()
        };
        assert_eq!(c.last_event_id, None);
        assert_eq!(s.last_event_id(), "x\x1by");
    }

    #[test]
    fn oversized_events_are_reported_and_skipped() {
        let mut s = open(cfg().max_event_size(4));
        s.handle(T0, body("data: too long\n\ndata: ok\n\n"));
        let actions = drain(&mut s, T0);
        assert!(
            matches!(
                actions[0],
                Action::Skipped(DecodeError::TooLarge { limit: 4, .. })
            ),
            "{actions:?}"
        );
        assert_eq!(actions[1], event("ok", ""));
    }

    #[test]
    fn poll_timeout_is_zero_while_an_action_is_ready() {
        let mut s = Session::new(cfg().idle_timeout(secs(10)).connect_timeout(secs(10)));
        assert_eq!(s.poll_timeout(), Some(Duration::ZERO), "new: connect now");
        let _ = s.poll(T0);
        assert_eq!(s.poll_timeout(), Some(secs(10)), "connecting: its deadline");
        s.handle(secs(1), ok());
        assert_eq!(s.poll_timeout(), Some(Duration::ZERO), "Opened is owed");
        assert_eq!(s.poll(secs(1)), Action::Opened);
        assert_eq!(s.poll_timeout(), Some(secs(11)));
        s.handle(secs(2), body("data: x\n\n"));
        assert_eq!(s.poll_timeout(), Some(Duration::ZERO), "an event is ready");
        assert_eq!(s.poll(secs(2)), event("x", ""));
        assert_eq!(s.poll_timeout(), Some(secs(12)));
        s.handle(secs(3), Input::End);
        assert_eq!(
            s.poll_timeout(),
            Some(Duration::ZERO),
            "Disconnected is owed"
        );
        assert!(matches!(s.poll(secs(3)), Action::Disconnected { .. }));
        assert_eq!(
            s.poll_timeout(),
            Some(secs(6)),
            "waiting: the reconnect time"
        );
    }

    #[test]
    fn a_chunk_of_many_events_is_decoded_one_poll_at_a_time() {
        let mut s = open(cfg());
        let chunk = "data:\n\n".repeat(64 * 1024 / 7);
        let len = chunk.len();
        s.handle(T0, Input::Body(Bytes::from(chunk)));
        // Nothing is decoded, nor queued, until polled.
        assert_eq!(s.decoder.pending_input(), len);
        assert_eq!(s.poll(T0), event("", ""));
        assert_eq!(s.decoder.pending_input(), len - 7);
        // The end of the connection comes after every event of the chunk.
        s.handle(T0, Input::End);
        let mut events = 1;
        loop {
            match s.poll(T0) {
                Action::Event(_) => events += 1,
                Action::Disconnected { reason, .. } => {
                    assert_eq!(reason, Disconnect::Ended);
                    break;
                }
                other => panic!("{other:?} after {events} events"),
            }
        }
        assert_eq!(events, len / 7);
    }

    #[test]
    fn many_retry_fields_in_one_chunk_need_one_poll() {
        let mut s = open(cfg());
        s.handle(
            T0,
            Input::Body(Bytes::from("retry: 1000\n".repeat(100_000))),
        );
        assert_eq!(s.poll(T0), Action::Wait(None));
        assert_eq!(s.reconnection_time(), secs(1));
    }

    // Without `std` there is no randomness to draw on: the seed is fixed and
    // the docs tell such users to set one per client.
    #[cfg(feature = "std")]
    #[test]
    fn default_clients_do_not_reconnect_in_lockstep() {
        // 100 clients with the default config lose the same server at the
        // same instant, as after a restart.
        let mut delays = vec![];
        for _ in 0..100 {
            let mut s = open(Config::default());
            s.handle(T0, body("data: x\n\n"));
            s.handle(T0, Input::End);
            let actions = drain(&mut s, T0);
            let Action::Disconnected { retry_in, .. } = actions[1] else {
                panic!("{actions:?}")
            };
            assert!(retry_in >= secs(3) && retry_in <= ms(4500), "{retry_in:?}");
            delays.push(retry_in);
        }
        delays.sort();
        delays.dedup();
        // Uniform over 1,501 ms: about 3 repeats are expected; 80 distinct
        // instants is far below what any entropy gives, far above lockstep.
        assert!(delays.len() > 80, "{} distinct delays", delays.len());
    }

    #[test]
    fn alike_seeds_give_different_sequences() {
        let draws = |seed| {
            let mut rng = SplitMix64::new(seed);
            [rng.next(), rng.next(), rng.next()]
        };
        assert_ne!(draws(2), draws(3));
        assert_ne!(draws(0), draws(1));
        assert_eq!(draws(2), draws(2));
        let mut rng = SplitMix64::new(9);
        for n in [1, 2, 7, 1000, u64::MAX] {
            for _ in 0..100 {
                assert!(rng.below(n) < n);
            }
        }
        // Every value of a small range comes up.
        let mut seen = [false; 5];
        for _ in 0..200 {
            seen[rng.below(5) as usize] = true;
        }
        assert_eq!(seen, [true; 5]);
    }

    #[test]
    fn the_generator_is_splitmix64_and_gives_its_published_sequence() {
        // The first outputs of SplitMix64 from seed 0, as in Vigna's
        // reference `splitmix64.c` (and Java's `SplittableRandom`): the
        // jitter is this generator's, repeatable from the seed.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next(), 0x06C4_5D18_8009_454F);
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next(), 0x599E_D017_FB08_FC85);
        assert_eq!(rng.next(), 0x2C73_F084_5854_0FA5);
        assert_eq!(rng.next(), 0x883E_BCE5_A3F2_7C77);
    }

    /// The delays of `failures` consecutive network errors, from `seed`.
    fn failure_delays(config: Config, seed: u64, failures: usize) -> Vec<Duration> {
        let mut now = T0;
        fail(&mut Session::new(config.seed(seed)), &mut now, failures)
    }

    /// Makes `s` connect and fail `failures` times from `now`, waiting out
    /// each delay (`now` ends after the last); returns the delays.
    fn fail(s: &mut Session, now: &mut Duration, failures: usize) -> Vec<Duration> {
        let mut delays = vec![];
        for _ in 0..failures {
            let Action::Connect(_) = s.poll(*now) else {
                panic!()
            };
            s.handle(*now, Input::Error);
            let Action::Disconnected { retry_in, .. } = s.poll(*now) else {
                panic!()
            };
            delays.push(retry_in);
            *now += retry_in;
        }
        delays
    }

    #[test]
    fn jittered_delays_spread_over_the_whole_doubling_window() {
        let config = Config::default()
            .connect_timeout(None)
            .idle_timeout(None)
            .max_backoff(secs(20));
        // 50 clients that fail 6 times in a row: the nth failure waits the
        // 3 s reconnection time plus a uniform part of a window of 1.5 s
        // doubled n times, capped at 20 s.
        let runs: Vec<_> = (0..50)
            .map(|seed| failure_delays(config.clone(), seed, 6))
            .collect();
        for n in 0..6 {
            let window = ms(1500).saturating_mul(1 << n).min(secs(20));
            let above: Vec<_> = runs.iter().map(|delays| delays[n] - secs(3)).collect();
            let (low, high) = (above.iter().min().unwrap(), above.iter().max().unwrap());
            assert!(
                *high <= window,
                "failure {n}: {high:?} above a {window:?} window"
            );
            // 50 uniform draws leave neither end quarter empty (each is
            // missed with a chance of 0.75^50, below 1e-6).
            assert!(
                *low < window / 4 && *high > window * 3 / 4,
                "failure {n}: {low:?} to {high:?} in a {window:?} window"
            );
        }
    }

    #[test]
    fn a_retry_after_longer_than_the_backoff_is_spread_over_half_of_it_again() {
        // Retry-After: 30 is above the 3 s reconnection time and its 1.5 s
        // window: each client waits 30 s plus a uniform part of 15 s.
        let delays: Vec<_> = (0..50)
            .map(|seed| {
                let mut s = Session::new(Config::default().connect_timeout(None).seed(seed));
                let _ = s.poll(T0);
                s.handle(T0, Input::Response(Head::new(503).retry_after(b"30")));
                let Action::Disconnected { retry_in, .. } = s.poll(T0) else {
                    panic!()
                };
                retry_in
            })
            .collect();
        for d in &delays {
            assert!(*d >= secs(30) && *d <= secs(45), "{d:?}");
        }
        let (low, high) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        assert!(
            *low < ms(33_750) && *high > ms(41_250),
            "{low:?} to {high:?}: not spread over 30 s to 45 s"
        );
        // The spread is capped by `max_backoff`, as the window is.
        let mut s = Session::new(Config::default().max_backoff(secs(2)).seed(3));
        let _ = s.poll(T0);
        s.handle(T0, Input::Response(Head::new(503).retry_after(b"30")));
        let Action::Disconnected { retry_in, .. } = s.poll(T0) else {
            panic!()
        };
        assert!(retry_in >= secs(30) && retry_in <= secs(32), "{retry_in:?}");
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let d = Config::default();
        assert_eq!(d.initial_retry, secs(3));
        assert_eq!(d.min_retry, ms(500));
        assert_eq!(d.max_retry, secs(600));
        assert_eq!(d.max_backoff, secs(60));
        assert!(d.jitter && d.retry_transient && !d.retry_server_errors && !d.comments);
        assert_eq!(d.seed, None);
        assert_eq!(d.max_attempts, None);
        assert_eq!(d.connect_timeout, Some(secs(30)));
        assert_eq!(d.idle_timeout, Some(secs(300)));
        assert_eq!(d.max_id_header, 4096);
        assert_eq!(d.max_event_size, crate::DEFAULT_MAX_EVENT_SIZE);
    }

    #[test]
    fn a_huge_server_retry_is_capped() {
        let mut s = open(cfg());
        s.handle(T0, body("retry: 18446744073709551615\n\n"));
        s.handle(T0, Input::End);
        assert_eq!(
            drain(&mut s, T0)[0],
            Action::Disconnected {
                reason: Disconnect::Ended,
                retry_in: secs(600)
            }
        );
        assert_eq!(s.reconnection_time(), secs(600));
    }

    #[test]
    fn no_config_and_no_input_overflows_time() {
        let max = Duration::MAX;
        let configs = [
            Config::default()
                .initial_retry(max)
                .min_retry(max)
                .max_retry(max)
                .max_backoff(max)
                .connect_timeout(max)
                .idle_timeout(max),
            Config::default().max_retry(max).max_backoff(max).seed(1),
            cfg().max_retry(max).max_backoff(max),
        ];
        for config in configs {
            let mut s = Session::new(config);
            let mut now = T0;
            for round in 0..40u64 {
                match s.poll(now) {
                    Action::Connect(_) => match round % 4 {
                        0 => s.handle(now, Input::Error),
                        1 => s.handle(
                            now,
                            Input::Response(Head::new(503).retry_after(b"99999999999999999999")),
                        ),
                        _ => {
                            s.handle(now, ok());
                            s.handle(now, body("retry: 18446744073709551615\n\n"));
                            s.handle(now, Input::End);
                        }
                    },
                    Action::Wait(Some(t)) => now = t,
                    Action::Stop(r) => panic!("{r:?}"),
                    _ => {}
                }
            }
            let _ = s.poll_timeout();
        }
    }

    #[test]
    fn an_id_too_long_for_a_header_is_not_sent() {
        let long = "x".repeat(5000);
        let mut s = open(cfg());
        s.handle(
            T0,
            Input::Body(Bytes::from(alloc::format!("id: {long}\ndata: d\n\n"))),
        );
        s.handle(T0, Input::End);
        let _ = drain(&mut s, T0);
        let Action::Connect(c) = s.poll(secs(3)) else {
            panic!()
        };
        assert_eq!(c.last_event_id, None);
        assert_eq!(s.last_event_id(), long.as_str());
        // The limit is a setting; at it the id is sent.
        let mut s = Session::new(cfg().max_id_header(5000)).with_last_event_id(long.clone());
        let Action::Connect(c) = s.poll(T0) else {
            panic!()
        };
        assert_eq!(c.last_event_id.as_deref(), Some(long.as_bytes()));
    }

    #[test]
    fn open_comments_are_actions_when_asked_for() {
        let mut s = open(cfg().comments(true));
        s.handle(T0, body(": keep-alive\ndata: x\n\n:\n"));
        assert_eq!(
            drain(&mut s, T0),
            [
                Action::Comment(Bytes::from_static(b" keep-alive")),
                event("x", ""),
                Action::Comment(Bytes::new()),
                Action::Wait(None)
            ]
        );
        // Off by default.
        let mut s = open(cfg());
        s.handle(T0, body(": keep-alive\ndata: x\n\n"));
        assert_eq!(drain(&mut s, T0), [event("x", ""), Action::Wait(None)]);
    }

    #[test]
    fn stray_inputs_are_ignored() {
        let mut s = Session::new(cfg());
        s.handle(T0, body("data: x\n\n"));
        s.handle(T0, Input::End);
        assert!(matches!(s.poll(T0), Action::Connect(_)));
        s.handle(T0, ok());
        s.handle(T0, ok());
        assert_eq!(drain(&mut s, T0), [Action::Opened, Action::Wait(None)]);
    }
}
