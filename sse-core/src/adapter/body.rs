//! An `http_body::Body` (http-body 1.x) that writes a `Stream` of events,
//! with keep-alive comments, and the response head SSE needs.
//!
//! # Example
//!
//! ```
//! use futures_util::stream;
//! use http_body_util::BodyExt;
//! use sse_proto::adapter::body::{response, SseBody};
//! use sse_proto::ServerEvent;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let events = stream::iter([ServerEvent::new().id("1").data("hello")]);
//! let res = response(SseBody::new(events));
//! assert_eq!(res.headers()["content-type"], "text/event-stream");
//! assert_eq!(res.headers()["x-accel-buffering"], "no");
//! let bytes = res.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(bytes, "id: 1\ndata: hello\n\n");
//! # });
//! ```

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http_body::Frame;
use tokio::time::{Instant, Sleep};

use crate::encoder::{EncodeError, ServerEvent, KEEP_ALIVE};
use crate::server::{Encoded, EndAfter};

/// The default keep-alive interval: a comment after 15 s without an event,
/// well inside the 30 to 60 s idle timeouts of common proxies.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A response body that writes each event of `S` as it comes, and a
/// keep-alive comment when none has come for the keep-alive interval.
///
/// `S` is any `Stream` (`Unpin` or not: one made with `unfold` or
/// `async-stream` will do) of [`ServerEvent`]s, or of
/// `Result<ServerEvent, E>` for an error type `E`.
///
/// It ends when `S` ends, and with an error ([`BodyError`]) when `S` yields
/// one, or when the encoder refuses an event (a line break in its type, id
/// or comment, a NUL in its id): a server must not send a different event
/// than it was given, nor go on after one its client never got. Needs a
/// tokio runtime with time enabled when keep-alives are on.
///
/// ```
/// use futures_util::stream;
/// use http_body_util::BodyExt;
/// use sse_proto::adapter::body::SseBody;
/// use sse_proto::ServerEvent;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// // A stream that is not Unpin, of results.
/// let events = stream::unfold(1, |n| async move {
///     (n <= 2).then(|| (Ok::<_, std::io::Error>(ServerEvent::new().data(n.to_string())), n + 1))
/// });
/// let bytes = SseBody::new(events).collect().await.unwrap().to_bytes();
/// assert_eq!(bytes, "data: 1\n\ndata: 2\n\n");
/// # });
/// ```
#[must_use = "a body does nothing until it is sent in a response"]
pub struct SseBody<S> {
    /// Boxed, so that a stream that is not `Unpin` will do.
    events: Pin<Box<S>>,
    keep_alive: Option<(Duration, Pin<Box<Sleep>>)>,
    /// Events are written here and split off as frames: one allocation
    /// serves many small events, and is reused once hyper has sent them.
    block: Block,
    ending: Option<Ending>,
    /// The error to end with, once the events before it are sent.
    failed: Option<BodyError>,
    /// An event taken from the stream, for the next frame.
    carry: Option<Item>,
    /// A long data line to send as it is after the frame that ends with
    /// its `data: `; then `line_end`.
    shared: Option<Bytes>,
    /// The `\n\n` after a shared data line is the next frame.
    line_end: bool,
    /// The stream has ended; the body ends once the events before are sent.
    finished: bool,
    ended: bool,
}

/// The state of a body with an [`EndAfter`].
struct Ending {
    events_left: Option<u64>,
    deadline: Option<Pin<Box<Sleep>>>,
    retry: Option<Duration>,
}

/// Why an [`SseBody`] ended with an error.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// The encoder refused an event; nothing of it was written.
    Encode(EncodeError),
    /// The event stream yielded this error.
    Stream(Box<dyn std::error::Error + Send + Sync>),
}

impl core::fmt::Display for BodyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BodyError::Encode(e) => write!(f, "cannot encode the event: {e}"),
            BodyError::Stream(_) => f.write_str("the event stream failed"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Encode(e) => Some(e),
            BodyError::Stream(e) => Some(&**e),
        }
    }
}

/// What an [`SseBody`]'s stream may yield: a [`ServerEvent`], an
/// [`Encoded`] event (what a [`crate::server::Hub`] subscription yields), or
/// a `Result` of either whose error ends the body.
///
/// Sealed: these four are the kinds a body can write.
pub trait IntoEvent {
    #[doc(hidden)]
    fn into_item(self) -> Result<private::Item, BodyError>;
}

mod private {
    /// An item of the stream, ready to write.
    pub enum Item {
        Event(super::ServerEvent),
        Encoded(super::Encoded),
    }
}
use private::Item;

impl IntoEvent for ServerEvent {
    fn into_item(self) -> Result<Item, BodyError> {
        Ok(Item::Event(self))
    }
}

impl IntoEvent for Encoded {
    fn into_item(self) -> Result<Item, BodyError> {
        Ok(Item::Encoded(self))
    }
}

impl<T, E> IntoEvent for Result<T, E>
where
    T: IntoEvent,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn into_item(self) -> Result<Item, BodyError> {
        self.map_err(|e| BodyError::Stream(e.into()))?.into_item()
    }
}

/// The size of the blocks [`SseBody`] writes frames into, and the most it
/// gathers into one frame from events that are ready together.
const BLOCK: usize = 8 * 1024;

/// An [`Encoded`] event this large is always sent as its own frame,
/// shared; a smaller one too when no other event is ready with it, and is
/// copied into the block when one is.
const SHARE: usize = 1024;

/// A [`ServerEvent`] whose data is one line this long has the line sent as
/// its own frame, not copied into the block.
const SHARE_DATA: usize = BLOCK / 2;

impl<S> core::fmt::Debug for SseBody<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let interval = self.keep_alive.as_ref().map(|(d, _)| *d);
        f.debug_struct("SseBody")
            .field("keep_alive", &interval)
            .finish_non_exhaustive()
    }
}

impl<S> SseBody<S> {
    /// A body with keep-alives every [`DEFAULT_KEEP_ALIVE`].
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime with time enabled, as any tokio
    /// timer does (the keep-alive timer starts here).
    pub fn new(events: S) -> Self {
        Self::with_keep_alive(events, Some(DEFAULT_KEEP_ALIVE))
    }

    /// A body with keep-alives every `interval`, or none for `None`.
    ///
    /// # Panics
    ///
    /// With an `interval`, when called outside a tokio runtime with time
    /// enabled, as any tokio timer does.
    pub fn with_keep_alive(events: S, interval: Option<Duration>) -> Self {
        SseBody {
            events: Box::pin(events),
            keep_alive: interval.map(|d| (d, Box::pin(tokio::time::sleep(d)))),
            block: Block::default(),
            ending: None,
            failed: None,
            carry: None,
            shared: None,
            line_end: false,
            finished: false,
            ended: false,
        }
    }

    /// Ends the body after some events or some time; see [`EndAfter`].
    ///
    /// # Panics
    ///
    /// With a time set, when called outside a tokio runtime with time
    /// enabled, as any tokio timer does.
    pub fn end_after(mut self, end: EndAfter) -> Self {
        self.ending = Some(Ending {
            events_left: end.events,
            deadline: end.time.map(|t| Box::pin(tokio::time::sleep(t))),
            retry: end.retry,
        });
        self
    }

    /// Counts an event towards an [`EndAfter`]'s limit.
    fn count(&mut self, has_data: bool) {
        if let Some(Ending {
            events_left: Some(n),
            ..
        }) = &mut self.ending
        {
            if has_data {
                *n = n.saturating_sub(1);
            }
        }
    }

    fn reset_keep_alive(&mut self) {
        if let Some((interval, sleep)) = &mut self.keep_alive {
            sleep.as_mut().reset(after(*interval));
        }
    }

    /// Writes `event` into the block, or its fields when its data is a
    /// long line, which is then sent as it is (`shared`). Returns whether
    /// the frame ends here: after a long line, or at a refused event.
    fn write(&mut self, event: ServerEvent) -> bool {
        if event.is_long_line(SHARE_DATA) {
            // Its fields end this frame; the line is the next, not copied.
            self.block.room(SHARE);
            match self.block.append(|buf| event.write_fields_to(buf)) {
                Ok(()) => self.shared = Some(event.into_data()),
                Err(e) => self.failed = Some(BodyError::Encode(e)),
            }
            return true;
        }
        self.block.room(event.size_hint());
        // The encoder writes nothing of an event it refuses.
        let written = match event.write_into(self.block.spare()) {
            Ok(Some(n)) => {
                self.block.advance(n);
                Ok(())
            }
            // More data lines than the room guessed: written again.
            Ok(None) => self.block.append(|buf| event.encode_to(buf).map(drop)),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            self.failed = Some(BodyError::Encode(e));
            return true;
        }
        false
    }

    /// Ends the body after its stream ended or failed, or an event was
    /// refused: with the error if there is one. A refused event or a failed
    /// stream ends the body: what follows would be read by a client that
    /// missed it.
    fn poll_end(&mut self) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.ended = true;
        Poll::Ready(self.failed.take().map(Err))
    }

    /// Ends the body: the `retry` block if one is set, then the end.
    fn end(&mut self) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.ended = true;
        let retry = self.ending.as_ref().and_then(|e| e.retry);
        match retry {
            Some(retry) => Poll::Ready(Some(Ok(Frame::data(
                ServerEvent::new()
                    .retry(retry)
                    .to_bytes()
                    .unwrap_or_else(|_| Bytes::new()),
            )))),
            None => Poll::Ready(None),
        }
    }
}

impl<S> http_body::Body for SseBody<S>
where
    S: Stream,
    S::Item: IntoEvent,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        // The rest of an event whose long data line is sent as it is.
        if let Some(line) = this.shared.take() {
            this.line_end = true;
            return Poll::Ready(Some(Ok(Frame::data(line))));
        }
        if core::mem::take(&mut this.line_end) {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"\n\n")))));
        }
        if this.failed.is_some() || this.finished {
            return this.poll_end();
        }
        if let Some(ending) = &mut this.ending {
            if ending.events_left == Some(0) {
                return this.end();
            }
            if let Some(deadline) = &mut ending.deadline {
                if deadline.as_mut().poll(cx).is_ready() {
                    return this.end();
                }
            }
        }
        // Every event that is ready now goes into one frame, up to a block:
        // a burst costs the server one write, not one per event. An encoded
        // event that comes alone is sent as it is, shared, not copied.
        let mut gathered = false;
        let mut held: Option<Encoded> = None;
        loop {
            let counted_out = matches!(
                &this.ending,
                Some(Ending {
                    events_left: Some(0),
                    ..
                })
            );
            if this.block.written() >= BLOCK || counted_out {
                break;
            }
            let item = match this.carry.take() {
                Some(item) => item,
                None => match this.events.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => match item.into_item() {
                        // The common case, written where it is.
                        Ok(Item::Event(event)) if held.is_none() => {
                            this.count(event.has_data());
                            gathered = true;
                            if this.write(event) {
                                break;
                            }
                            continue;
                        }
                        Ok(item) => item,
                        Err(e) => {
                            this.failed = Some(e);
                            break;
                        }
                    },
                    Poll::Ready(None) => {
                        this.finished = true;
                        break;
                    }
                    Poll::Pending => break,
                },
            };
            let large = |e: &Encoded| e.as_bytes().len() >= SHARE;
            let alone = !gathered && held.is_none();
            let goes_alone = match &item {
                Item::Encoded(e) => !alone && large(e),
                Item::Event(_) => false,
            };
            if goes_alone || held.as_ref().is_some_and(large) {
                // A large event is not copied: it goes in a frame of its
                // own, after this one, or this one is the large one.
                this.carry = Some(item);
                break;
            }
            let has_data = match &item {
                Item::Event(event) => event.has_data(),
                Item::Encoded(event) => event.has_data(),
            };
            this.count(has_data);
            match item {
                Item::Encoded(event) if alone => held = Some(event),
                Item::Encoded(event) => {
                    if let Some(first) = held.take() {
                        this.block.put(first.as_bytes());
                    }
                    this.block.put(event.as_bytes());
                    gathered = true;
                }
                Item::Event(event) => {
                    if let Some(first) = held.take() {
                        this.block.put(first.as_bytes());
                    }
                    gathered = true;
                    if this.write(event) {
                        break;
                    }
                }
            }
        }
        if gathered && this.block.written() != 0 {
            this.reset_keep_alive();
            return Poll::Ready(Some(Ok(Frame::data(this.block.cut()))));
        }
        if let Some(event) = held {
            this.reset_keep_alive();
            return Poll::Ready(Some(Ok(Frame::data(event.into()))));
        }
        if this.failed.is_some() || this.finished {
            return this.poll_end();
        }
        // Waiting: an idle body holds no block.
        this.block.release();
        if let Some((interval, sleep)) = &mut this.keep_alive {
            if sleep.as_mut().poll(cx).is_ready() {
                sleep.as_mut().reset(after(*interval));
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(KEEP_ALIVE)))));
            }
        }
        Poll::Pending
    }
}

/// With feature `axum`: a handler returns the body as it is, and the
/// response gets [`headers`].
#[cfg(feature = "axum")]
impl<S> axum_core::response::IntoResponse for SseBody<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoEvent,
{
    fn into_response(self) -> axum_core::response::Response {
        response(axum_core::body::Body::new(self))
    }
}

/// Where a body writes events: `buf[..pos]` is written, the rest of `buf`
/// zeroed room. The room is made (and zeroed) once per block, not once per
/// event, and an event is written into it as a plain slice.
#[derive(Default)]
struct Block {
    buf: BytesMut,
    pos: usize,
}

impl Block {
    /// The bytes written since the last frame was cut.
    fn written(&self) -> usize {
        self.pos
    }

    /// Makes room for `n` more bytes, at least a block's: in the block
    /// itself if every frame cut from it is gone, else in a new one.
    fn room(&mut self, n: usize) {
        if self.buf.len() - self.pos < n {
            self.buf.truncate(self.pos);
            let more = n.max(BLOCK);
            self.buf.reserve(more);
            self.buf.resize(self.pos + more, 0);
        }
    }

    /// The room after what is written.
    fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.pos..]
    }

    /// Counts `n` bytes written into [`spare`](Self::spare).
    fn advance(&mut self, n: usize) {
        self.pos += n;
    }

    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) {
        self.room(bytes.len());
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    /// Runs `f` to append to what is written, as a `BytesMut` that grows.
    fn append<R>(&mut self, f: impl FnOnce(&mut BytesMut) -> R) -> R {
        self.buf.truncate(self.pos);
        let r = f(&mut self.buf);
        self.pos = self.buf.len();
        r
    }

    /// What is written, as a frame; the room after it stays.
    fn cut(&mut self) -> Bytes {
        let frame = self.buf.split_to(self.pos).freeze();
        self.pos = 0;
        frame
    }

    /// Gives the block back (an idle body holds none).
    fn release(&mut self) {
        if self.buf.capacity() != 0 {
            *self = Block::default();
        }
    }
}

/// The instant `delay` from now, never a panic.
fn after(delay: Duration) -> Instant {
    crate::time::instant_after(Instant::now(), delay)
}

/// The headers of an SSE response: `content-type: text/event-stream`,
/// `cache-control: no-cache`, and `x-accel-buffering: no` so that buffering
/// proxies (nginx) pass each event on at once. No `content-encoding`: a
/// compressed stream would be held back by the compressor; compress only if
/// the application flushes the compressor after each event.
pub fn headers() -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    headers
}

/// A 200 response with [`headers`] and `body`.
pub fn response<B>(body: B) -> http::Response<B> {
    let mut response = http::Response::new(body);
    *response.headers_mut() = headers();
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::format;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// Polls `body` to its end (its stream is always ready), keeping every
    /// frame alive so that a block reused too early would show.
    fn frames<S>(body: SseBody<S>) -> Vec<Result<Bytes, EncodeError>>
    where
        S: Stream,
        S::Item: IntoEvent,
    {
        let mut body = core::pin::pin!(body);
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        let mut out = Vec::new();
        for _ in 0..10_000 {
            match http_body::Body::poll_frame(body.as_mut(), &mut cx) {
                Poll::Ready(Some(frame)) => {
                    out.push(frame.map(|f| f.into_data().expect("a data frame")).map_err(
                        |e| match e {
                            BodyError::Encode(e) => e,
                            other => panic!("{other}"),
                        },
                    ))
                }
                Poll::Ready(None) => return out,
                Poll::Pending => panic!("an always-ready stream made the body wait"),
            }
        }
        panic!("the body did not end");
    }

    #[test]
    fn a_stream_that_is_not_unpin_and_yields_an_error_ends_the_body_with_it() {
        // `unfold` over an async block: not Unpin.
        let events = futures_util::stream::unfold(0, |n| async move {
            let item = match n {
                0 | 1 => Ok(ServerEvent::new().id(n.to_string()).data("x")),
                2 => Err(std::io::Error::other("the database went away")),
                _ => Ok(ServerEvent::new().data("never sent")),
            };
            Some((item, n + 1))
        });
        let mut body = core::pin::pin!(SseBody::with_keep_alive(events, None));
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        let mut got = Vec::new();
        for _ in 0..10 {
            match http_body::Body::poll_frame(body.as_mut(), &mut cx) {
                Poll::Ready(Some(Ok(frame))) => got.push(Ok(frame.into_data().expect("data"))),
                Poll::Ready(Some(Err(e))) => got.push(Err(e)),
                Poll::Ready(None) => break,
                Poll::Pending => panic!("an always-ready stream made the body wait"),
            }
        }
        // The two events that were ready together, in one frame; then the
        // error, then the end: the stream's later items are not read.
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0].as_ref().expect("frame"),
            "id: 0\ndata: x\n\nid: 1\ndata: x\n\n"
        );
        let Err(BodyError::Stream(e)) = &got[1] else {
            panic!("{got:?}")
        };
        assert_eq!(e.to_string(), "the database went away");
    }

    /// The events encoded one by one, end to end.
    fn encoded(events: &[ServerEvent]) -> Vec<u8> {
        events
            .iter()
            .flat_map(|e| e.to_bytes().expect("valid").to_vec())
            .collect()
    }

    /// The frames of a body over `events`, with no keep-alives.
    fn frames_of(events: Vec<ServerEvent>) -> Vec<Result<Bytes, EncodeError>> {
        frames(SseBody::with_keep_alive(
            futures_util::stream::iter(events),
            None,
        ))
    }

    #[test]
    fn frames_hold_whole_events_up_to_a_block_and_the_body_ends_at_a_refused_one() {
        // Sizes around and above the block, so that frames are cut from a
        // block, cross into a new one, and exceed it; a refused event
        // writes nothing and ends the body. Every frame is kept alive, so a
        // block reused too early would show.
        let mut events = Vec::new();
        for i in 0..200usize {
            let data: String = "x".repeat((i * 97) % (3 * BLOCK));
            events.push(ServerEvent::new().id(i.to_string()).data(data));
            if i == 100 {
                events.push(ServerEvent::new().event("bad\n").data("refused"));
            }
        }
        let want = encoded(&events[..101]);
        let got = frames_of(events);
        let (last, sent) = got.split_last().expect("frames");
        assert!(last.is_err(), "the body ends with the refusal");
        let sent: Vec<&Bytes> = sent.iter().map(|f| f.as_ref().expect("a frame")).collect();
        assert_eq!(
            sent.iter().flat_map(|f| f.to_vec()).collect::<Vec<u8>>(),
            want
        );
        // Not counting the long lines sent as they are and their ends.
        let gathered = sent
            .iter()
            .filter(|f| f.ends_with(b"data: ") || (f.ends_with(b"\n\n") && f.len() > 2))
            .count();
        assert!(gathered < 101, "events ready together share frames");
        for f in &sent {
            // A frame ends with its last event, or with the `data: ` of a
            // long line that is the next frame, shared.
            let shared_line = f.len() >= SHARE_DATA && f.iter().all(|&b| b == b'x');
            assert!(
                f.ends_with(b"\n\n") || f.ends_with(b"data: ") || shared_line,
                "a frame ends with its last event"
            );
            // Gathering stops once a block is full: a frame is at most a
            // block plus the event that filled it.
            assert!(f.len() < BLOCK + 3 * BLOCK + 64, "{}", f.len());
        }
    }

    #[test]
    fn the_body_sends_the_encoders_bytes_whatever_the_sizes_and_line_counts() {
        // Data of many short lines encodes to far more than its length
        // (`data: ` each): more than the room a block guesses for it.
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut events = Vec::new();
        for i in 0..600 {
            let mut data = String::new();
            let lines = match next(4) {
                0 => 0,
                1 => next(4),
                2 => next(200),
                _ => next(3000),
            };
            for _ in 0..=lines {
                data.push_str(&"x".repeat(next(3) as usize * next(40) as usize));
                data.push_str(["\n", "\r\n", "\r"][next(3) as usize]);
            }
            if next(8) == 0 {
                data.push_str(&"y".repeat(next(3 * BLOCK as u64) as usize));
            }
            events.push(ServerEvent::new().id(i.to_string()).data(data));
        }
        let want = encoded(&events);
        let got: Vec<u8> = frames_of(events)
            .iter()
            .flat_map(|f| f.as_ref().expect("a frame").to_vec())
            .collect();
        assert!(got == want, "the body's bytes differ from the encoder's");
    }

    #[test]
    fn encoded_events_ready_together_fill_block_after_block_and_lose_no_byte() {
        // Each just under the size that is sent shared, so every one is
        // copied, and a frame's block fills and the next one is made.
        let events: Vec<Encoded> = (0..200)
            .map(|i| {
                let data = format!("{i:04}").repeat((SHARE - 40) / 4);
                Encoded::new(&ServerEvent::new().id(i.to_string()).data(data)).expect("valid")
            })
            .collect();
        assert!(events.iter().all(|e| e.as_bytes().len() < SHARE));
        let want: Vec<u8> = events.iter().flat_map(|e| e.as_bytes().to_vec()).collect();
        let got = frames(SseBody::with_keep_alive(
            futures_util::stream::iter(events),
            None,
        ));
        let got: Vec<Bytes> = got.into_iter().map(|f| f.expect("a frame")).collect();
        assert!(got.len() > 2, "{} frames", got.len());
        assert!(
            got.iter().all(|f| f.len() < BLOCK + SHARE),
            "at most a block each"
        );
        assert!(got.concat() == want, "the frames are the events, in order");
    }

    #[test]
    fn large_encoded_events_and_lone_ones_are_shared_and_small_ones_ready_together_gathered() {
        let large = Encoded::new(&ServerEvent::new().data("x".repeat(SHARE))).expect("valid");
        let small = Encoded::new(&ServerEvent::new().data("small")).expect("valid");
        let items = [
            large.clone(),
            small.clone(),
            small.clone(),
            large.clone(),
            small.clone(),
        ];
        let got = frames(SseBody::with_keep_alive(
            futures_util::stream::iter(items),
            None,
        ));
        let got: Vec<Bytes> = got.into_iter().map(|f| f.expect("valid")).collect();
        assert_eq!(got.len(), 4, "{got:?}");
        // The large ones are their own bytes, not copies.
        assert_eq!(got[0].as_ptr(), large.as_bytes().as_ptr());
        assert_eq!(got[2].as_ptr(), large.as_bytes().as_ptr());
        // The small ones ready together are gathered; the last, alone, is
        // shared too.
        assert_eq!(got[1], "data: small\n\ndata: small\n\n");
        assert_eq!(got[3].as_ptr(), small.as_bytes().as_ptr());
    }

    #[test]
    fn a_data_line_is_sent_shared_from_4_kib_and_copied_below() {
        for (len, shared) in [(4095, false), (4096, true)] {
            let line = "x".repeat(len);
            let at = line.as_ptr();
            let event = ServerEvent::new().data(line);
            let got = frames(SseBody::with_keep_alive(
                futures_util::stream::iter([event]),
                None,
            ));
            let got: Vec<Bytes> = got.into_iter().map(|f| f.expect("valid")).collect();
            let whole: Vec<u8> = got.iter().flat_map(|f| f.to_vec()).collect();
            assert_eq!(whole.len(), len + 8, "data: LINE\n\n");
            assert_eq!(got.iter().any(|f| f.as_ptr() == at), shared, "{len} bytes");
            assert_eq!(got.len(), if shared { 3 } else { 1 });
        }
    }

    #[test]
    fn a_long_data_line_is_sent_as_it_is_between_its_fields_and_its_end() {
        let line = "x".repeat(SHARE_DATA);
        let at = line.as_ptr();
        let lines = std::format!("{line}\n{line}");
        let items = [
            ServerEvent::new().data("small"),
            ServerEvent::new().event("big").id("1").data(line),
            ServerEvent::new().data("after"),
            // Two lines: copied, written as any event.
            ServerEvent::new().data(lines.as_str()),
            // Refused: nothing of it is written, and the body ends.
            ServerEvent::new().id("a\0b").data("y".repeat(SHARE_DATA)),
        ];
        let got = frames(SseBody::with_keep_alive(
            futures_util::stream::iter(items),
            None,
        ));
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(
            got[0],
            Ok(Bytes::from("data: small\n\nevent: big\nid: 1\ndata: "))
        );
        let shared = got[1].as_ref().expect("the line");
        assert_eq!(shared.as_ptr(), at, "the line is the event's own bytes");
        assert_eq!(shared.len(), SHARE_DATA);
        assert_eq!(got[2], Ok(Bytes::from("\n\n")));
        let mut want = b"data: after\n\n".to_vec();
        want.extend_from_slice(&ServerEvent::new().data(lines).to_bytes().expect("valid"));
        assert_eq!(got[3], Ok(Bytes::from(want)));
        assert_eq!(got[4], Err(EncodeError::NulInId { at: 1 }));
    }

    #[test]
    fn only_events_ready_together_share_a_frame() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<ServerEvent>();
        let events =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|e| (e, rx)) },
            );
        let mut body = core::pin::pin!(SseBody::with_keep_alive(events, None));
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        let mut poll = || match http_body::Body::poll_frame(body.as_mut(), &mut cx) {
            Poll::Ready(Some(Ok(f))) => Some(f.into_data().expect("data")),
            Poll::Pending => None,
            other => panic!("{other:?}"),
        };
        assert_eq!(poll(), None);
        tx.send(ServerEvent::new().data("1")).expect("open");
        assert_eq!(poll().expect("a frame"), "data: 1\n\n");
        assert_eq!(poll(), None, "nothing more is ready");
        tx.send(ServerEvent::new().data("2")).expect("open");
        tx.send(ServerEvent::new().data("3")).expect("open");
        assert_eq!(poll().expect("a frame"), "data: 2\n\ndata: 3\n\n");
    }

    #[test]
    fn end_after_events_sends_the_retry_block_then_ends() {
        let events =
            futures_util::stream::iter((0..10).map(|i| ServerEvent::new().data(i.to_string())));
        let end = EndAfter::events(3).retry(Duration::from_millis(250));
        let got = frames(SseBody::with_keep_alive(events, None).end_after(end));
        let got: Vec<_> = got.into_iter().map(|f| f.expect("valid")).collect();
        assert_eq!(got, ["data: 0\n\ndata: 1\n\ndata: 2\n\n", "retry: 250\n\n"]);
        // Without a retry, it just ends; zero events means one. Blocks
        // without data do not count.
        let events = futures_util::stream::iter(
            [ServerEvent::new().id("a"), ServerEvent::new().comment("c")]
                .into_iter()
                .chain((0..10).map(|i| ServerEvent::new().data(i.to_string()))),
        );
        let got = frames(SseBody::with_keep_alive(events, None).end_after(EndAfter::events(0)));
        assert_eq!(got, [Ok(Bytes::from("id: a\n\n: c\n\ndata: 0\n\n"))]);
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alives_come_every_interval_while_no_event_does_and_an_event_moves_them() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<ServerEvent>();
        let events =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|e| (e, rx)) },
            );
        let mut body = core::pin::pin!(SseBody::with_keep_alive(
            events,
            Some(Duration::from_secs(15))
        ));
        let start = Instant::now();
        async fn next<B: http_body::Body<Data = Bytes> + Unpin>(body: &mut B) -> Bytes
        where
            B::Error: core::fmt::Debug,
        {
            use http_body_util::BodyExt;
            let frame = tokio::time::timeout(Duration::from_secs(100), body.frame()).await;
            let frame = frame.expect("a frame within 100 s").expect("not the end");
            frame.expect("no error").into_data().expect("data")
        }
        for k in 1..=3 {
            assert_eq!(next(&mut body).await, KEEP_ALIVE);
            assert_eq!(start.elapsed(), Duration::from_secs(15 * k));
        }
        // An event at 50 s: the next keep-alive is 15 s after it.
        tokio::time::sleep(Duration::from_secs(5)).await;
        tx.send(ServerEvent::new().data("e")).expect("open");
        assert_eq!(next(&mut body).await, "data: e\n\n");
        assert_eq!(next(&mut body).await, KEEP_ALIVE);
        assert_eq!(start.elapsed(), Duration::from_secs(65));
    }

    #[tokio::test(start_paused = true)]
    async fn end_after_time_ends_a_waiting_body() {
        use http_body_util::BodyExt;
        // One event, then a stream that never yields again: the body must
        // still end at the deadline, with keep-alives on the way.
        let events = futures_util::stream::iter([ServerEvent::new().data("a")])
            .chain(futures_util::stream::pending());
        let end = EndAfter::time(Duration::from_secs(20))
            .or_events(100)
            .retry(Duration::from_secs(2));
        let body = SseBody::with_keep_alive(Box::pin(events), Some(Duration::from_secs(15)))
            .end_after(end);
        let started = Instant::now();
        let bytes = tokio::time::timeout(Duration::from_secs(60), body.collect())
            .await
            .expect("the body ends at its deadline")
            .expect("no error")
            .to_bytes();
        assert_eq!(bytes, "data: a\n\n:\n\nretry: 2000\n\n");
        assert_eq!(started.elapsed(), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn end_after_events_or_time_ends_at_whichever_comes_first() {
        // One event, then none: the time comes first.
        let events = futures_util::stream::iter([ServerEvent::new().data("a")])
            .chain(futures_util::stream::pending());
        let end = EndAfter::events(2).or_time(Duration::from_secs(20));
        let (bytes, took) =
            collect_timed(SseBody::with_keep_alive(Box::pin(events), None).end_after(end)).await;
        assert_eq!(bytes, "data: a\n\n");
        assert_eq!(took, Duration::from_secs(20));
        // Events every second: the count comes first.
        let events = futures_util::stream::unfold(0, |n| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((ServerEvent::new().data(n.to_string()), n + 1))
        });
        let end = EndAfter::events(2).or_time(Duration::from_secs(20));
        let (bytes, took) =
            collect_timed(SseBody::with_keep_alive(Box::pin(events), None).end_after(end)).await;
        assert_eq!(bytes, "data: 0\n\ndata: 1\n\n");
        assert_eq!(took, Duration::from_secs(2));
    }

    /// The whole body and the (simulated) time it took, at most 60 s.
    async fn collect_timed<S>(body: SseBody<S>) -> (Bytes, Duration)
    where
        S: Stream,
        S::Item: IntoEvent,
    {
        use http_body_util::BodyExt;
        let started = Instant::now();
        let bytes = tokio::time::timeout(Duration::from_secs(60), body.collect())
            .await
            .expect("the body ends within 60 s")
            .expect("no error")
            .to_bytes();
        (bytes, started.elapsed())
    }

    #[test]
    fn a_burst_of_small_events_goes_out_in_frames_of_a_block() {
        // 1,000 events of 100 bytes, all ready: 8 KiB frames (the last
        // event may cross the line), not one frame per event.
        let event = ServerEvent::new().data("x".repeat(92));
        assert_eq!(event.to_bytes().expect("valid").len(), 100);
        let events = futures_util::stream::iter(core::iter::repeat(event).take(1000));
        let got = frames(SseBody::with_keep_alive(events, None));
        let got: Vec<Bytes> = got.into_iter().map(|f| f.expect("valid")).collect();
        assert_eq!(got.iter().map(Bytes::len).sum::<usize>(), 100_000);
        let (last, full) = got.split_last().expect("frames");
        for f in full {
            assert!((8 * 1024..8 * 1024 + 100).contains(&f.len()), "{}", f.len());
        }
        assert!(last.len() <= 8 * 1024 + 100);
        assert_eq!(got.len(), 100_000usize.div_ceil(8 * 1024 + 8));
    }

    #[test]
    fn body_errors_say_what_failed_and_give_its_cause() {
        use std::error::Error;
        let refused = ServerEvent::new()
            .id("a\nb")
            .to_bytes()
            .expect_err("refused");
        let e = BodyError::Encode(refused);
        assert_eq!(e.to_string(), format!("cannot encode the event: {refused}"));
        let source = e.source().expect("a cause");
        assert_eq!(source.to_string(), refused.to_string());
        let e = BodyError::Stream(std::io::Error::other("the database went away").into());
        assert_eq!(e.to_string(), "the event stream failed");
        let source = e.source().expect("a cause");
        assert_eq!(source.to_string(), "the database went away");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_shows_its_keep_alive_interval() {
        let events = futures_util::stream::empty::<ServerEvent>();
        let body = SseBody::with_keep_alive(events, Some(Duration::from_secs(15)));
        assert_eq!(format!("{body:?}"), "SseBody { keep_alive: Some(15s), .. }");
        let body = SseBody::with_keep_alive(futures_util::stream::empty::<ServerEvent>(), None);
        assert_eq!(format!("{body:?}"), "SseBody { keep_alive: None, .. }");
    }

    #[test]
    fn frames_are_cut_from_a_block_and_a_waiting_body_holds_none() {
        // One allocation serves many small events; and what 10,000 idle
        // connections cost: no block each.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<ServerEvent>();
        let events =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|e| (e, rx)) },
            );
        let mut body = SseBody::with_keep_alive(Box::pin(events), None);
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        tx.send(ServerEvent::new().data("1")).expect("open");
        let frame = http_body::Body::poll_frame(Pin::new(&mut body), &mut cx);
        assert!(matches!(frame, Poll::Ready(Some(Ok(_)))), "{frame:?}");
        let Poll::Ready(Some(Ok(frame))) = frame else {
            panic!("{frame:?}")
        };
        let frame = frame.into_data().expect("data");
        assert_eq!(frame, "data: 1\n\n");
        assert!(
            body.block.buf.capacity() >= BLOCK - frame.len(),
            "the frame was cut from a block: {} left",
            body.block.buf.capacity()
        );
        let frame = http_body::Body::poll_frame(Pin::new(&mut body), &mut cx);
        assert!(frame.is_pending());
        assert_eq!(body.block.buf.capacity(), 0);
        // Encoded events ready together are copied into a block too.
        let small = Encoded::new(&ServerEvent::new().data("s")).expect("valid");
        let events = futures_util::stream::iter([small.clone(), small])
            .chain(futures_util::stream::pending());
        let mut body = SseBody::with_keep_alive(events, None);
        let frame = http_body::Body::poll_frame(Pin::new(&mut body), &mut cx);
        let Poll::Ready(Some(Ok(frame))) = frame else {
            panic!("{frame:?}")
        };
        let frame = frame.into_data().expect("data");
        assert_eq!(frame, "data: s\n\ndata: s\n\n");
        assert!(
            body.block.buf.capacity() >= BLOCK - frame.len(),
            "the frame was cut from a block: {} left",
            body.block.buf.capacity()
        );
    }
}

#[cfg(all(test, feature = "axum"))]
mod axum_tests {
    use super::*;

    fn is_response<T: axum_core::response::IntoResponse>() {}
    fn is_send<T: Send>() {}

    #[test]
    fn a_hub_subscription_body_is_an_axum_response_with_the_sse_headers() {
        use axum_core::response::IntoResponse;
        is_send::<SseBody<crate::server::Subscription>>();
        is_response::<SseBody<crate::server::Subscription>>();
        let events = futures_util::stream::iter([ServerEvent::new().data("x")]);
        let res = SseBody::with_keep_alive(events, None).into_response();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers(), &headers());
    }
}
