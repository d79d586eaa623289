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
//! Each row is tested (`session::tests`, named after the row).
//!
//! | state | input or time | action(s) | next state |
//! | --- | --- | --- | --- |
//! | new | `poll` | `Connect` (attempt 1, with `Last-Event-ID` if any) | connecting |
//! | connecting | `Response` 200, `text/event-stream` (any case, parameters allowed) | `Opened` | open |
//! | connecting | `Response` 204 | `Stop(NoContent)` | stopped |
//! | connecting | `Response` 200, other or no content type | `Stop(ContentType)` | stopped |
//! | connecting | `Response` other status | `Stop(Status(code))` | stopped |
//! | connecting | `Response` 5xx or 429, with [`Config::retry_server_errors`] | `Disconnected(Status)` | waiting `max(backoff, Retry-After)` |
//! | connecting | `Response` 200, other content type, with [`Config::retry_server_errors`] | `Disconnected(ContentType)` | waiting (backoff) |
//! | connecting or open | `Error` (network) | `Disconnected(Network)` | waiting (backoff) |
//! | open | `Body` | `Event`s in order, one per `poll` (decoded as polled, not queued); a `retry` field changes the reconnection time | open |
//! | open | `End` | the events of the bytes received before it, then `Disconnected(Ended)` (a partial event is dropped) | waiting (backoff) |
//! | open | no bytes for [`Config::idle_timeout`] | `Disconnected(Idle)`: drop the connection | waiting (backoff) |
//! | connecting | no response for [`Config::idle_timeout`] after the attempt | `Disconnected(Idle)`: drop the request | waiting (backoff) |
//! | waiting | `poll` before the deadline | `Wait(deadline)` | waiting |
//! | waiting | `poll` at the deadline | `Connect` (next attempt) | connecting |
//! | waiting | `poll` at the deadline, [`Config::max_attempts`] reached | `Stop(MaxAttempts)` | stopped |
//! | any | [`Session::close`] | `Stop(Closed)` | stopped |
//! | stopped | anything | `Stop(reason)` again (sticky) | stopped |
//! | open or connecting, nothing to report | `poll` | `Wait(idle deadline)` or `Wait(None)` | unchanged |
//!
//! # Policies and their defaults
//!
//! - **Reconnection time**: the server's last valid `retry`, else
//!   [`Config::initial_retry`] (3 s), never below [`Config::min_retry`]
//!   (500 ms), so `retry: 0` cannot make a tight reconnect loop.
//! - **Backoff**: the first reconnect after a healthy connection (one that
//!   opened and received bytes) waits exactly the reconnection time. Each
//!   further consecutive failure doubles a window above it, up to
//!   [`Config::max_backoff`] (60 s): the delay is the reconnection time plus
//!   a uniformly random part of the window ("full jitter"). The cap never
//!   shortens the server's own `retry`.
//! - **Server errors**: by default, as the standard says, any status but
//!   200 (and 204, which means "stop") and any content type but
//!   `text/event-stream` fail the connection for good. With
//!   [`Config::retry_server_errors`], 5xx and 429 are retried, waiting at
//!   least `Retry-After` (seconds form), and so is a 200 with another content
//!   type (typically a proxy's or load balancer's error page); 4xx still stop.
//! - **Attempts**: unlimited by default, like a browser;
//!   [`Config::max_attempts`] stops after that many attempts without a
//!   healthy connection.
//! - **Idle timeout**: off by default; with [`Config::idle_timeout`], a
//!   connection that sends no bytes (not even a keep-alive comment) for that
//!   long is treated as dead.
//! - **`Last-Event-ID`**: the last event ID (also from `id`-only blocks) is
//!   sent when it is not empty. It is sent as its UTF-8 text, with invalid
//!   sequences replaced by U+FFFD (as a browser does). An ID that holds a
//!   control character cannot be a header value: it is not sent at all
//!   ([`Connect::last_event_id`] is `None`), never sent in part, never a
//!   header injection.
//! - **Randomness**: from [`Config::seed`], so runs are repeatable.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::decoder::{DecodeError, Decoder, Event, Frame};

/// How a [`Session`] reconnects. See the [module docs](self) for the
/// policies.
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
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a config does nothing until a session is made with it"]
pub struct Config {
    initial_retry: Duration,
    min_retry: Duration,
    max_backoff: Duration,
    max_attempts: Option<u32>,
    idle_timeout: Option<Duration>,
    retry_server_errors: bool,
    max_event_size: usize,
    seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            initial_retry: Duration::from_secs(3),
            min_retry: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_attempts: None,
            idle_timeout: None,
            retry_server_errors: false,
            max_event_size: crate::decoder::DEFAULT_MAX_EVENT_SIZE,
            seed: 0x5EED_5EED_5EED_5EED,
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

    /// The cap of the backoff window (default 60 s).
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// Stop after this many attempts without a healthy connection; `None`
    /// (the default) never stops for that.
    pub fn max_attempts(mut self, attempts: impl Into<Option<u32>>) -> Self {
        self.max_attempts = attempts.into();
        self
    }

    /// Treat a connection that sends no bytes for this long as dead; `None`
    /// (the default) never does.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into();
        self
    }

    /// Retry 5xx and 429 responses, and 200 responses that are not
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

    /// Seeds the jitter, to make the delays repeatable.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// What happened, as the caller tells the [`Session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// The response head arrived.
    Response {
        /// The status code.
        status: u16,
        /// The `Content-Type` header's value, if any.
        content_type: Option<&'a [u8]>,
        /// The `Retry-After` header's value, if any.
        retry_after: Option<&'a [u8]>,
    },
    /// Body bytes arrived.
    Body(Bytes),
    /// The body ended.
    End,
    /// The request or the connection failed (DNS, TCP, TLS, a reset...).
    Error,
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
    /// No bytes for the idle timeout.
    Idle,
    /// A 5xx or 429 response, retried by [`Config::retry_server_errors`].
    Status(u16),
    /// A 200 response that is not `text/event-stream`, retried by
    /// [`Config::retry_server_errors`].
    ContentType,
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
    /// [`Config::max_attempts`] attempts without a healthy connection.
    MaxAttempts,
    /// [`Session::close`] was called.
    Closed,
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
/// use sse_proto::session::{Action, Config, Disconnect, Input, Session};
///
/// let mut session = Session::new(Config::default());
/// let t0 = Duration::ZERO;
/// let Action::Connect(connect) = session.poll(t0) else { panic!() };
/// assert_eq!(connect.last_event_id, None);
///
/// session.handle(t0, Input::Response { status: 200, content_type: Some(b"text/event-stream"), retry_after: None });
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
    /// When the open connection last received bytes.
    last_activity: Duration,
    rng: u64,
}

impl Session {
    /// A session that will connect on the first [`Session::poll`].
    pub fn new(config: Config) -> Self {
        let decoder = Decoder::new().max_event_size(config.max_event_size);
        Session {
            rng: config.seed | 1,
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
        let max = self.config.max_event_size;
        self.decoder = Decoder::new().max_event_size(max).with_last_event_id(id);
        self
    }

    /// The last event ID: what the next `Last-Event-ID` is made from.
    pub fn last_event_id(&self) -> alloc::borrow::Cow<'_, str> {
        self.decoder.last_event_id()
    }

    /// The reconnection time now in force: the server's `retry` or the
    /// initial one, raised to the floor.
    pub fn reconnection_time(&self) -> Duration {
        let retry = self.decoder.retry().unwrap_or(self.config.initial_retry);
        retry.max(self.config.min_retry)
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

    /// Tells the session what happened at time `now`.
    ///
    /// Inputs that do not fit the state (body bytes while not connected, a
    /// second response head) are ignored: they can only come from a
    /// connection the session has already given up.
    pub fn handle(&mut self, now: Duration, input: Input<'_>) {
        match (self.state, input) {
            (
                State::Connecting,
                Input::Response {
                    status,
                    content_type,
                    retry_after,
                },
            ) => self.response(now, status, content_type, retry_after),
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
            // No response head, or no body bytes, for the idle timeout.
            State::Open | State::Connecting => match self.idle_deadline() {
                Some(deadline) if now >= deadline => {
                    self.disconnect(now, Disconnect::Idle, Duration::ZERO)
                }
                deadline => Action::Wait(deadline),
            },
        }
    }

    /// When the session next needs a [`Session::poll`] without any input:
    /// the reconnect time, or the idle deadline. `Some(Duration::ZERO)`
    /// means "poll now": an action is ready (or may be, when body bytes are
    /// still undecoded). `None` when only an input can move it on.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.owe_opened || self.decoder.pending_input() > 0 {
            return Some(Duration::ZERO);
        }
        match self.state {
            State::Waiting(deadline) => Some(deadline),
            State::Open | State::Connecting => self.idle_deadline(),
            State::New | State::Ending { .. } => Some(Duration::ZERO),
            State::Stopped(_) => None,
        }
    }

    fn idle_deadline(&self) -> Option<Duration> {
        let idle = self.config.idle_timeout?;
        Some(self.last_activity.saturating_add(idle))
    }

    fn connect(&mut self, now: Duration) -> Action {
        self.attempts = self.attempts.saturating_add(1);
        self.state = State::Connecting;
        self.healthy = false;
        // The idle timeout counts from the attempt, not from the last bytes
        // of the previous connection.
        self.last_activity = now;
        Action::Connect(Connect {
            attempt: self.attempts,
            last_event_id: header_value(self.decoder.last_event_id_bytes()),
        })
    }

    fn response(
        &mut self,
        now: Duration,
        status: u16,
        content_type: Option<&[u8]>,
        retry_after: Option<&[u8]>,
    ) {
        self.last_activity = now;
        match status {
            200 if content_type.is_some_and(is_event_stream) => {
                self.state = State::Open;
                self.owe_opened = true;
            }
            200 if self.config.retry_server_errors => {
                self.end(now, Disconnect::ContentType, Duration::ZERO);
            }
            200 => self.stop(StopReason::ContentType),
            204 => self.stop(StopReason::NoContent),
            429 | 500..=599 if self.config.retry_server_errors => {
                let at_least = retry_after
                    .and_then(delta_seconds)
                    .unwrap_or(Duration::ZERO);
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
        let retry_in = self.backoff().max(at_least);
        self.state = State::Waiting(since.saturating_add(retry_in));
        Action::Disconnected { reason, retry_in }
    }

    /// The delay before the next attempt; see the module docs.
    fn backoff(&mut self) -> Duration {
        let base = self.reconnection_time();
        let failures = self.attempts.saturating_sub(1);
        if failures == 0 {
            return base;
        }
        let window_top = base
            .saturating_mul(1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX))
            .min(self.config.max_backoff);
        if window_top <= base {
            return base;
        }
        let span = u64::try_from((window_top - base).as_millis()).unwrap_or(u64::MAX);
        let jitter = self.next_random() % span.saturating_add(1);
        base.saturating_add(Duration::from_millis(jitter))
    }

    /// xorshift64*: enough for jitter, and repeatable from the seed.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
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

/// `Retry-After` in its delay-seconds form; the HTTP-date form needs a wall
/// clock the session does not have, and is ignored.
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

/// The `Last-Event-ID` value for a last event ID: `None` when it is empty
/// or cannot be a header value.
fn header_value(id: &[u8]) -> Option<Bytes> {
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
    sendable.then_some(id)
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

    fn ok() -> Input<'static> {
        Input::Response {
            status: 200,
            content_type: Some(b"text/event-stream"),
            retry_after: None,
        }
    }

    fn status(code: u16) -> Input<'static> {
        Input::Response {
            status: code,
            content_type: Some(b"text/event-stream"),
            retry_after: None,
        }
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
        let mut s = Session::new(Config::default());
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
            let mut s = Session::new(Config::default());
            let _ = s.poll(T0);
            s.handle(
                T0,
                Input::Response {
                    status: 200,
                    content_type: Some(ct),
                    retry_after: None,
                },
            );
            assert_eq!(s.poll(T0), Action::Opened, "{ct:?}");
        }
    }

    #[test]
    fn connecting_204_stops() {
        let mut s = Session::new(Config::default());
        let _ = s.poll(T0);
        s.handle(T0, status(204));
        assert_eq!(s.poll(T0), Action::Stop(StopReason::NoContent));
    }

    #[test]
    fn connecting_200_wrong_or_no_content_type_stops() {
        for ct in [Some(&b"text/plain"[..]), Some(b"text/event-streams"), None] {
            let mut s = Session::new(Config::default());
            let _ = s.poll(T0);
            s.handle(
                T0,
                Input::Response {
                    status: 200,
                    content_type: ct,
                    retry_after: None,
                },
            );
            assert_eq!(s.poll(T0), Action::Stop(StopReason::ContentType), "{ct:?}");
        }
    }

    #[test]
    fn connecting_other_status_stops_by_default() {
        for code in [301, 404, 429, 500, 503] {
            let mut s = Session::new(Config::default());
            let _ = s.poll(T0);
            s.handle(T0, status(code));
            assert_eq!(s.poll(T0), Action::Stop(StopReason::Status(code)));
        }
    }

    #[test]
    fn connecting_5xx_or_429_retried_by_policy_honours_retry_after() {
        let config = Config::default().retry_server_errors(true);
        let mut s = Session::new(config.clone());
        let _ = s.poll(T0);
        s.handle(
            T0,
            Input::Response {
                status: 503,
                content_type: None,
                retry_after: Some(b"10"),
            },
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
            Input::Response {
                status: 429,
                content_type: None,
                retry_after: Some(b"Wed, 21 Oct 2015 07:28:00 GMT"),
            },
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
        let mut s = Session::new(Config::default().retry_server_errors(true));
        let _ = s.poll(T0);
        s.handle(
            T0,
            Input::Response {
                status: 200,
                content_type: Some(b"text/html"),
                retry_after: None,
            },
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
        let mut s = Session::new(Config::default());
        let _ = s.poll(T0);
        s.handle(T0, Input::Error);
        assert_eq!(
            s.poll(T0),
            Action::Disconnected {
                reason: Disconnect::Network,
                retry_in: secs(3)
            }
        );
        let mut s = open(Config::default());
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
        let mut s = open(Config::default());
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
        let mut s = open(Config::default());
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
        let mut s = open(Config::default().idle_timeout(secs(10)));
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
    fn connecting_idle_timeout_counts_from_the_attempt() {
        let mut s = open(Config::default().idle_timeout(secs(10)));
        s.handle(secs(1), body("data: x\n\n"));
        s.handle(secs(2), Input::End);
        let _ = drain(&mut s, secs(2));
        // Reconnecting at 20 s, long after the last bytes at 1 s: the new
        // attempt gets its own 10 s.
        assert!(matches!(s.poll(secs(20)), Action::Connect(_)));
        assert_eq!(s.poll(secs(25)), Action::Wait(Some(secs(30))));
        assert_eq!(
            s.poll(secs(30)),
            Action::Disconnected {
                reason: Disconnect::Idle,
                retry_in: secs(3)
            }
        );
        assert_eq!(s.poll(secs(30)), Action::Wait(Some(secs(33))));
    }

    #[test]
    fn waiting_polls_wait_until_the_deadline_then_connect() {
        let mut s = open(Config::default());
        s.handle(T0, Input::End);
        let _ = s.poll(T0);
        assert_eq!(s.poll(secs(1)), Action::Wait(Some(secs(3))));
        assert_eq!(s.poll_timeout(), Some(secs(3)));
        assert!(matches!(s.poll(secs(3)), Action::Connect(_)));
    }

    #[test]
    fn waiting_max_attempts_is_honoured() {
        let mut s = Session::new(Config::default().max_attempts(3));
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
        let mut s = open(Config::default());
        s.handle(T0, body("data: x\n\n"));
        s.close();
        assert_eq!(s.poll(T0), Action::Stop(StopReason::Closed));
        s.handle(T0, ok());
        s.handle(T0, body("data: y\n\n"));
        assert_eq!(s.poll(secs(100)), Action::Stop(StopReason::Closed));
        assert_eq!(s.poll_timeout(), None);
        // A stop for another reason stays that reason.
        let mut s = Session::new(Config::default());
        let _ = s.poll(T0);
        s.handle(T0, status(204));
        s.close();
        assert_eq!(s.poll(T0), Action::Stop(StopReason::NoContent));
    }

    #[test]
    fn retry_zero_is_raised_to_the_floor() {
        let mut s = open(Config::default());
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
    fn backoff_grows_with_jitter_up_to_the_cap_and_resets_after_health() {
        let config = Config::default().max_backoff(secs(20));
        let mut s = Session::new(config.clone());
        let mut now = T0;
        let mut delays = vec![];
        for _ in 0..8 {
            let Action::Connect(_) = s.poll(now) else {
                panic!()
            };
            s.handle(now, Input::Error);
            let Action::Disconnected { retry_in, .. } = s.poll(now) else {
                panic!()
            };
            delays.push(retry_in);
            now += retry_in;
        }
        assert_eq!(
            delays[0],
            secs(3),
            "first failure waits the reconnection time"
        );
        for (n, d) in delays.iter().enumerate().skip(1) {
            let top = secs(3).saturating_mul(1 << n).min(secs(20));
            assert!(
                *d >= secs(3) && *d <= top.max(secs(3)),
                "attempt {n}: {d:?}"
            );
        }
        assert!(
            delays[1..].iter().any(|d| *d != delays[1]),
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
        assert_eq!(
            actions[1],
            Action::Disconnected {
                reason: Disconnect::Ended,
                retry_in: secs(3)
            }
        );
        let Action::Connect(c) = s.poll(now + secs(3)) else {
            panic!()
        };
        assert_eq!(c.attempt, 1);
    }

    #[test]
    fn last_event_id_from_id_only_blocks_and_seeds() {
        let mut s = open(Config::default());
        s.handle(T0, body("id: 42\n\n"));
        s.handle(T0, Input::End);
        let _ = drain(&mut s, T0);
        let Action::Connect(c) = s.poll(secs(3)) else {
            panic!()
        };
        assert_eq!(c.last_event_id.as_deref(), Some(&b"42"[..]));
        assert!(c.headers().any(|h| h == ("last-event-id", &b"42"[..])));

        let mut s = Session::new(Config::default()).with_last_event_id("seed");
        let Action::Connect(c) = s.poll(T0) else {
            panic!()
        };
        assert_eq!(c.last_event_id.as_deref(), Some(&b"seed"[..]));
    }

    #[test]
    fn unsendable_ids_are_not_sent_and_invalid_utf8_is_replaced() {
        assert_eq!(header_value(b"a\x01b"), None);
        assert_eq!(header_value(b"a\x7F"), None);
        assert_eq!(header_value(b""), None);
        assert_eq!(header_value(b"a\tb").as_deref(), Some(&b"a\tb"[..]));
        assert_eq!(
            header_value(b"\xFF").as_deref(),
            Some("\u{FFFD}".as_bytes())
        );
        // Through the session: an id with a control character is kept (the
        // standard says so) but not sent.
        let mut s = open(Config::default());
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
        let mut s = open(Config::default().max_event_size(4));
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
        let mut s = Session::new(Config::default().idle_timeout(secs(10)));
        assert_eq!(s.poll_timeout(), Some(Duration::ZERO), "new: connect now");
        let _ = s.poll(T0);
        assert_eq!(
            s.poll_timeout(),
            Some(secs(10)),
            "connecting: idle deadline"
        );
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
        let mut s = open(Config::default());
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
        let mut s = open(Config::default());
        s.handle(
            T0,
            Input::Body(Bytes::from("retry: 1000\n".repeat(100_000))),
        );
        assert_eq!(s.poll(T0), Action::Wait(None));
        assert_eq!(s.reconnection_time(), secs(1));
    }

    #[test]
    fn stray_inputs_are_ignored() {
        let mut s = Session::new(Config::default());
        s.handle(T0, body("data: x\n\n"));
        s.handle(T0, Input::End);
        assert!(matches!(s.poll(T0), Action::Connect(_)));
        s.handle(T0, ok());
        s.handle(T0, ok());
        assert_eq!(drain(&mut s, T0), [Action::Opened, Action::Wait(None)]);
    }
}
