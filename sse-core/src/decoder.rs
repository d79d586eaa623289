//! Owned events, assembled from the parser's pieces.

use alloc::borrow::Cow;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::ControlFlow;
use core::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::parser::{Field, Parser, Sink};

/// The default bound on one event: 16 MiB of field values.
///
/// Generous enough for the multi-megabyte JSON documents that real APIs
/// stream as one event, small enough that a broken or hostile server cannot
/// exhaust memory. Change it with [`Decoder::max_event_size`].
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

/// The most memory the decoder keeps unused between events (a buffer to
/// gather the next event into), and the most a gathered event's data holds
/// beyond its length: after a large event, the buffer it grew is given back.
const SPARE_MAX: usize = 64 * 1024;

/// The largest buffer [`Decoder::decode_with`] keeps between events, for
/// events of that order.
const LENT_SPARE_MAX: usize = 1024 * 1024;

/// Values up to this long are kept inline: no allocation, no reference count.
const INLINE: usize = 30;

/// A short value (an event type, an id) kept inline, or a longer one as
/// shared bytes. Event types and ids are nearly always short; keeping them
/// inline saves an atomic reference count on every event.
#[derive(Clone)]
enum Text {
    Inline(u8, [u8; INLINE]),
    Shared(Bytes),
}

impl Text {
    const EMPTY: Text = Text::Inline(0, [0; INLINE]);

    /// A copy of `bytes` (inline when short).
    fn copy(bytes: &[u8]) -> Text {
        match bytes.len() {
            len @ 0..=INLINE => {
                let mut buf = [0; INLINE];
                buf[..len].copy_from_slice(bytes);
                Text::Inline(len as u8, buf)
            }
            _ => Text::Shared(Bytes::copy_from_slice(bytes)),
        }
    }

    /// `bytes`, copied inline when short, kept shared otherwise.
    fn from_bytes(bytes: Bytes) -> Text {
        if bytes.len() <= INLINE {
            Text::copy(&bytes)
        } else {
            Text::Shared(bytes)
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Inline(len, buf) => &buf[..usize::from(*len)],
            Text::Shared(bytes) => bytes,
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Text {}

impl core::hash::Hash for Text {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

/// An event as `EventSource` dispatches it: type, data and last event ID.
///
/// The fields are the raw bytes of the stream: the data is shared with the
/// input where it lay whole in one chunk; the type and ID are kept inline
/// when short (as they nearly always are). The text accessors decode them as UTF-8,
/// replacing invalid sequences with U+FFFD as the standard requires; this
/// borrows (no copy) whenever the bytes are valid UTF-8. Equality compares
/// the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    event_type: Text,
    data: Bytes,
    last_event_id: Text,
}

const MESSAGE: &[u8] = b"message";

/// `bytes` as text, U+FFFD for each invalid sequence.
///
/// Valid input (nearly all input) is checked by `simdutf8`, which takes 32 or
/// 64 bytes a step where the CPU has the instructions (it falls back to
/// `core::str::from_utf8` without `std`, which cannot detect them at run
/// time); `String::from_utf8_lossy` walks every byte, several times slower on
/// long values, so it is kept for input that needs replacing.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

impl Event {
    /// An event with the given type, data and last event ID. An empty type is
    /// `message`, as the standard makes it on dispatch.
    pub fn new(
        event_type: impl Into<Bytes>,
        data: impl Into<Bytes>,
        last_event_id: impl Into<Bytes>,
    ) -> Self {
        Event::from_parts(
            Text::from_bytes(event_type.into()),
            data.into(),
            Text::from_bytes(last_event_id.into()),
        )
    }

    fn from_parts(event_type: Text, data: Bytes, last_event_id: Text) -> Self {
        let event_type = if event_type.as_bytes().is_empty() {
            Text::copy(MESSAGE)
        } else {
            event_type
        };
        Event {
            event_type,
            data,
            last_event_id,
        }
    }

    /// The event type: the last `event` field of the block, or `message`.
    pub fn event_type(&self) -> Cow<'_, str> {
        text(self.event_type.as_bytes())
    }

    /// The data: the block's `data` values joined with LF (no trailing LF).
    pub fn data(&self) -> Cow<'_, str> {
        text(&self.data)
    }

    /// The last event ID string when the event was dispatched (`lastEventId`
    /// in the browser). It persists across events until an `id` changes it.
    pub fn last_event_id(&self) -> Cow<'_, str> {
        text(self.last_event_id.as_bytes())
    }

    /// The event type's raw bytes.
    pub fn event_type_bytes(&self) -> &[u8] {
        self.event_type.as_bytes()
    }

    /// The data's raw bytes.
    pub fn data_bytes(&self) -> &Bytes {
        &self.data
    }

    /// The last event ID's raw bytes.
    pub fn last_event_id_bytes(&self) -> &[u8] {
        self.last_event_id.as_bytes()
    }

    /// Takes the data's raw bytes.
    pub fn into_data(self) -> Bytes {
        self.data
    }
}

/// What the decoder hands out, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// A dispatched event.
    Event(Event),
    /// A valid `retry` field set the reconnection time (the field's whole
    /// milliseconds).
    ///
    /// It is reported when the field is read, not with an event: a `retry`
    /// in a block without data still counts, as the standard says.
    Retry(Duration),
    /// A comment line: the bytes after its colon (no space removed). Only
    /// with [`Decoder::comments`]; comments carry no meaning for the
    /// standard, but keep-alives and gateways' notes are worth seeing.
    Comment(Bytes),
}

/// An event lent by [`Decoder::decode_with`]: its type, data and last event
/// ID borrowed from the chunk being decoded or from the decoder's buffers,
/// for the length of one call of the callback.
///
/// The same event as [`Event`], without building one: no reference count,
/// no copy of a value that lay whole in the chunk. The text accessors decode
/// as [`Event`]'s do; [`EventView::to_event`] makes an owned copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventView<'a> {
    event_type: &'a [u8],
    data: &'a [u8],
    last_event_id: &'a [u8],
    /// The data and the input after it, for a faster UTF-8 check.
    after: Lookahead<'a>,
}

/// Bytes that start with an event's data and go on with the input that
/// follows it in the same buffer (or just the data, when none is known).
///
/// A SIMD UTF-8 check takes 64 bytes a step and copies a shorter tail into a
/// padded block, byte by byte: checking the data together with the bytes
/// after it up to a whole step skips that copy, and when the data is
/// followed by its line end (ASCII), valid bytes up to there mean valid
/// data. Not part of the event: equal, hashed and printed as nothing.
#[derive(Clone, Copy)]
struct Lookahead<'a>(&'a [u8]);

impl PartialEq for Lookahead<'_> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Lookahead<'_> {}

impl core::hash::Hash for Lookahead<'_> {
    fn hash<H: core::hash::Hasher>(&self, _: &mut H) {}
}

impl fmt::Debug for Lookahead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("..")
    }
}

/// `data` as text, checked together with the bytes after it in `after` (which
/// starts with `data`) up to a multiple of 64 bytes when it has them; else,
/// or when that check fails, as [`text`] does.
fn text_ahead<'a>(data: &'a [u8], after: &'a [u8]) -> Cow<'a, str> {
    let step = data.len().next_multiple_of(64);
    if step > data.len() && after.len() >= step {
        // Valid up to `step`, and `data.len()` on a character boundary
        // (`get` checks it): `data` is valid, and this is it.
        if let Some(text) = simdutf8::basic::from_utf8(&after[..step])
            .ok()
            .and_then(|text| text.get(..data.len()))
        {
            return Cow::Borrowed(text);
        }
    }
    text(data)
}

impl<'a> EventView<'a> {
    /// The event type: the last `event` field of the block, or `message`.
    pub fn event_type(&self) -> Cow<'a, str> {
        text(self.event_type)
    }

    /// The data: the block's `data` values joined with LF (no trailing LF).
    /// Borrowed (no copy) when it is valid UTF-8.
    pub fn data(&self) -> Cow<'a, str> {
        text_ahead(self.data, self.after.0)
    }

    /// The last event ID string when the event was dispatched.
    pub fn last_event_id(&self) -> Cow<'a, str> {
        text(self.last_event_id)
    }

    /// The event type's raw bytes.
    pub fn event_type_bytes(&self) -> &'a [u8] {
        self.event_type
    }

    /// The data's raw bytes.
    pub fn data_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The last event ID's raw bytes.
    pub fn last_event_id_bytes(&self) -> &'a [u8] {
        self.last_event_id
    }

    /// An owned copy of the event.
    pub fn to_event(&self) -> Event {
        Event::from_parts(
            Text::copy(self.event_type),
            Bytes::copy_from_slice(self.data),
            Text::copy(self.last_event_id),
        )
    }
}

/// What [`Decoder::decode_with`] lends its callback, in stream order: the
/// borrowed counterpart of [`Frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameView<'a> {
    /// A dispatched event.
    Event(EventView<'a>),
    /// A valid `retry` field set the reconnection time; see [`Frame::Retry`].
    Retry(Duration),
    /// A comment line, with [`Decoder::comments`]; see [`Frame::Comment`].
    Comment(&'a [u8]),
}

/// Why the decoder could not hand out an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// An event's field values grew past the decoder's limit.
    ///
    /// The event is dropped, and the decoder ignores the rest of its block
    /// (except `retry`) up to the next blank line, then goes on with the next
    /// event. The last event ID is still updated at that blank line from the
    /// `id` fields read before the limit was reached.
    ///
    /// With [`Decoder::comments`], a comment line longer than the limit is
    /// reported the same way, and only that line is dropped.
    TooLarge {
        /// The limit, in bytes ([`Decoder::max_event_size`]).
        limit: usize,
        /// Where in the stream (bytes since the decoder was created) the
        /// piece of a value that crossed the limit starts.
        offset: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge { limit, offset } => write!(
                f,
                "event larger than the limit of {limit} bytes at stream offset {offset}; \
                 it is skipped up to the next blank line"
            ),
        }
    }
}

impl core::error::Error for DecodeError {}

/// The data buffer: nothing yet, one line shared with the input, or lines
/// gathered into an owned buffer.
#[derive(Debug, Default)]
enum Value {
    #[default]
    Empty,
    Shared(Bytes),
    Owned(BytesMut),
}

/// An `event` or `id` value being read: nothing yet, whole in one piece, or
/// pieces gathered from several chunks.
#[derive(Debug, Default)]
enum LineValue {
    #[default]
    Empty,
    Whole(Text),
    Gathered(BytesMut),
}

/// Everything the decoder keeps between chunks, apart from the parser.
#[derive(Debug)]
struct State {
    max: usize,
    /// The data buffer, without the trailing LF the standard adds to each
    /// line and removes from the last.
    data: Value,
    /// The event type buffer.
    event_type: LineValue,
    /// The last event ID buffer.
    id_buf: Text,
    /// The `id` line being read, and whether it held a NUL so far.
    id_line: LineValue,
    id_nul: bool,
    /// The last event ID string: the buffer as of the last blank line.
    last_event_id: Text,
    /// The reconnection time from the last valid `retry`.
    retry: Option<Duration>,
    /// The `retry` line being read: its value so far (`None` once invalid)
    /// and whether it had any digit.
    retry_value: Option<u64>,
    retry_digits: bool,
    /// Pieces of the current line have arrived, but not its last piece.
    in_line: bool,
    /// A `data` line (whole or in part) arrived since the last blank line.
    data_seen: bool,
    /// Bytes of field values in the current block, for the limit.
    size: usize,
    /// The block went over the limit; ignore it up to the blank line.
    discarding: bool,
    /// Bytes consumed before the chunk being decoded.
    offset: u64,
    /// A gathering buffer kept between events, so that its memory is reused.
    spare: BytesMut,
    /// Hand out comments ([`Decoder::comments`]).
    comments: bool,
    /// The comment line being read, when comments are handed out; its size,
    /// and whether it went over the limit.
    comment: LineValue,
    comment_size: usize,
    comment_over: bool,
}

/// The decoder's reason to stop the parser.
enum Out {
    Frame(Frame),
    Error(DecodeError),
}

/// Turns a byte stream into [`Frame`]s: events and reconnection times.
///
/// Give it [`Bytes`] chunks as they arrive with [`Decoder::push`] and take
/// the frames with [`Decoder::next_frame`] (or both at once with
/// [`Decoder::frames`]); at the end of the stream call [`Decoder::finish`].
/// The decoder owns the input it has not decoded yet: stopping to read
/// frames early never loses any. Between connections of one `EventSource` keep the
/// decoder: [`Decoder::finish`] readies it for the next stream and keeps the
/// last event ID and the reconnection time, as a browser does.
///
/// To read each event where it stands rather than keep it,
/// [`Decoder::decode_with`] lends the same frames to a callback, without
/// building owned events: the faster path.
///
/// # Memory
///
/// A value that lies whole in one chunk is shared with it
/// ([`Bytes::slice`]), not copied; values spread over chunks, and data of
/// several lines, are gathered into a buffer that is reused from event to
/// event. At most [`Decoder::max_event_size`] bytes of one event's values are
/// held; past that the event is dropped with [`DecodeError::TooLarge`].
/// Between events the decoder keeps at most 64 KiB of buffer for the next
/// one: the buffer a large event grew is given back once the event is
/// handed out, and the event's data holds no more than its length. (After
/// [`Decoder::decode_with`] lent an event, whose buffer is then free whole,
/// it keeps up to twice that event's data, at most 1 MiB.)
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use sse_proto::{Decoder, Event, Frame};
///
/// let mut decoder = Decoder::new().with_last_event_id("41");
/// let mut frames = Vec::new();
/// for chunk in ["retry: 2000\ndata: {\"n\":", "1}\n\n", "data: incomplete\n"] {
///     frames.extend(decoder.frames(Bytes::from(chunk)));
/// }
/// // The stream ends before the last event's blank line: it is dropped.
/// assert!(decoder.finish());
/// assert_eq!(frames, [
///     Ok(Frame::Retry(Duration::from_millis(2000))),
///     Ok(Frame::Event(Event::new("message", "{\"n\":1}", "41"))),
/// ]);
/// assert_eq!(decoder.retry(), Some(Duration::from_secs(2)));
/// ```
#[derive(Debug)]
#[must_use = "a decoder does nothing until input is pushed and its frames are read"]
pub struct Decoder {
    parser: Parser,
    st: State,
    /// Pushed input not yet decoded: the chunk being decoded, and the chunks
    /// pushed after it.
    input: Bytes,
    queued: VecDeque<Bytes>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder at the start of a stream, with no last event ID and the
    /// [default limit](DEFAULT_MAX_EVENT_SIZE).
    pub fn new() -> Self {
        Decoder {
            parser: Parser::new(),
            st: State {
                max: DEFAULT_MAX_EVENT_SIZE,
                data: Value::Empty,
                event_type: LineValue::Empty,
                id_buf: Text::EMPTY,
                id_line: LineValue::Empty,
                id_nul: false,
                last_event_id: Text::EMPTY,
                retry: None,
                retry_value: None,
                retry_digits: false,
                in_line: false,
                data_seen: false,
                size: 0,
                discarding: false,
                offset: 0,
                spare: BytesMut::new(),
                comments: false,
                comment: LineValue::Empty,
                comment_size: 0,
                comment_over: false,
            },
            input: Bytes::new(),
            queued: VecDeque::new(),
        }
    }

    /// Starts from a last event ID, as after a reconnect: events without an
    /// `id` field carry it until the stream changes it.
    pub fn with_last_event_id(mut self, id: impl Into<Bytes>) -> Self {
        let id = Text::from_bytes(id.into());
        self.st.id_buf = id.clone();
        self.st.last_event_id = id;
        self
    }

    /// Sets the bound on one event: the bytes of its `data` values (plus one
    /// per line), `event` and `id` values. Comments and unknown fields are
    /// never buffered and do not count. See [`DecodeError::TooLarge`].
    pub fn max_event_size(mut self, limit: usize) -> Self {
        self.st.max = limit;
        self
    }

    /// Whether to hand out comment lines as [`Frame::Comment`] (default
    /// `false`). Each is bounded by [`Decoder::max_event_size`] too.
    pub fn comments(mut self, on: bool) -> Self {
        self.st.comments = on;
        self
    }

    /// The last event ID string: what a reconnecting client sends as
    /// `Last-Event-ID`. It changes at blank lines only, so an `id` whose block
    /// never ended does not count. Decoded as UTF-8 with replacement.
    pub fn last_event_id(&self) -> Cow<'_, str> {
        text(self.st.last_event_id.as_bytes())
    }

    /// The last event ID string's raw bytes.
    pub fn last_event_id_bytes(&self) -> &[u8] {
        self.st.last_event_id.as_bytes()
    }

    /// The reconnection time from the last valid `retry` field, if any.
    ///
    /// It is the server's word, unbounded (up to `u64::MAX` milliseconds):
    /// a client should cap it, as [`crate::session`] does.
    pub fn retry(&self) -> Option<Duration> {
        self.st.retry
    }

    /// Queues a chunk of the stream, to be decoded by
    /// [`Decoder::next_frame`]. Chunks are decoded in the order they were
    /// pushed; nothing is decoded, copied or lost here.
    ///
    /// A value that lies whole in one chunk is shared with it, not copied,
    /// so push chunks as they come off the wire rather than joining them.
    pub fn push(&mut self, chunk: impl Into<Bytes>) {
        let chunk = chunk.into();
        if chunk.is_empty() {
            return;
        }
        if self.input.is_empty() {
            self.input = chunk;
        } else {
            self.queued.push_back(chunk);
        }
    }

    /// The bytes pushed and not yet decoded.
    pub fn pending_input(&self) -> usize {
        self.input.len() + self.queued.iter().map(Bytes::len).sum::<usize>()
    }

    /// Decodes the pushed input up to the next frame.
    ///
    /// Returns `None` once all pushed input is decoded: bytes of a partial
    /// line or a partial event are then kept in the decoder's state until
    /// later chunks complete them. Call it until it returns `None` after each
    /// [`Decoder::push`]; input it has not reached stays in the decoder, so
    /// stopping early loses nothing.
    ///
    /// # Errors
    ///
    /// [`DecodeError::TooLarge`] when an event grows past the limit. Decoding
    /// goes on: the next call carries on after the oversized event.
    #[must_use = "a frame carries an event or a reconnection time; dropping it loses it"]
    pub fn next_frame(&mut self) -> Option<Result<Frame, DecodeError>> {
        loop {
            if self.input.is_empty() {
                self.input = self.queued.pop_front()?;
            }
            let mut sink = Collect {
                st: &mut self.st,
                chunk: &self.input,
            };
            let (consumed, out) = match self.parser.feed(&self.input, &mut sink) {
                ControlFlow::Continue(()) => (self.input.len(), None),
                ControlFlow::Break(stop) => (stop.consumed, Some(stop.value)),
            };
            self.st.offset += consumed as u64;
            self.input.advance(consumed);
            if let Some(out) = out {
                return Some(match out {
                    Out::Frame(frame) => Ok(frame),
                    Out::Error(e) => Err(e),
                });
            }
        }
    }

    /// Pushes `chunk` and iterates over the frames of all the pushed input:
    /// [`Decoder::push`] then [`Decoder::next_frame`] until `None`.
    ///
    /// The iterator is lazy. If it is dropped early, the input it did not
    /// reach stays in the decoder and the next call to `frames` or
    /// [`Decoder::next_frame`] goes on from there: nothing is lost.
    #[must_use = "the iterator is lazy: nothing is decoded until it is iterated"]
    pub fn frames(&mut self, chunk: impl Into<Bytes>) -> Frames<'_> {
        self.push(chunk);
        Frames { decoder: self }
    }

    /// Decodes `chunk`, lending each frame to `f` instead of handing out
    /// owned ones: the fast path for a caller that reads each event where it
    /// stands (parses its JSON, forwards its text) rather than keeping it.
    ///
    /// Input pushed earlier and not yet decoded is decoded first. Every
    /// frame of the input goes to `f`, in stream order, before this returns;
    /// what is left of a partial line or event is kept in the decoder (copied:
    /// the chunk is only borrowed) until the next call, as with
    /// [`Decoder::frames`], and the two may be mixed on one stream. The
    /// frames are those [`Decoder::next_frame`] would give, errors included:
    /// after [`DecodeError::TooLarge`] decoding goes on.
    ///
    /// A value that lies whole in `chunk` is lent from it; values spread over
    /// chunks, and data of several lines, from a buffer reused from event to
    /// event. Nothing is allocated for an event that lies whole in its chunk.
    /// At the chunk's end the last id read, and the type of an event the end
    /// cuts, are copied to be kept: an allocation when longer than 30 bytes.
    ///
    /// # Example
    ///
    /// ```
    /// use sse_proto::{Decoder, FrameView};
    ///
    /// let mut decoder = Decoder::new();
    /// let mut texts = Vec::new();
    /// for chunk in [&b"event: delta\ndata: {\"t\":\"Hel"[..], b"lo\"}\n\ndata: [DONE]\n\n"] {
    ///     decoder.decode_with(chunk, |frame| {
    ///         if let Ok(FrameView::Event(event)) = frame {
    ///             texts.push((event.event_type().into_owned(), event.data().into_owned()));
    ///         }
    ///     });
    /// }
    /// assert_eq!(texts, [
    ///     ("delta".to_owned(), "{\"t\":\"Hello\"}".to_owned()),
    ///     ("message".to_owned(), "[DONE]".to_owned()),
    /// ]);
    /// ```
    pub fn decode_with<F>(&mut self, chunk: &[u8], mut f: F)
    where
        F: FnMut(Result<FrameView<'_>, DecodeError>),
    {
        while !self.input.is_empty() || !self.queued.is_empty() {
            let pending = match self.queued.pop_front() {
                Some(next) => core::mem::replace(&mut self.input, next),
                None => core::mem::take(&mut self.input),
            };
            lend(&mut self.parser, &mut self.st, &pending, &mut f);
        }
        lend(&mut self.parser, &mut self.st, chunk, &mut f);
    }

    /// Ends the stream, readying the decoder for the next stream of the same
    /// `EventSource`: it keeps the last event ID and the reconnection time,
    /// and strips a BOM again.
    ///
    /// An event whose blank line never came is discarded, as the standard
    /// says, and so is a last line without a line end. Input pushed and not
    /// yet decoded is decoded first: its `retry` and `id` take effect, but
    /// its events cannot be handed out any more and count as discarded; call
    /// [`Decoder::next_frame`] until `None` before `finish` to get them.
    ///
    /// Returns whether an event was discarded: whether the unterminated block
    /// had a `data` line (whole, or part of its value), or undecoded
    /// input held an event. A block of only `id`, `event` or `retry` lines or comments
    /// would dispatch nothing and loses no event (an unterminated `id` does
    /// not change the last event ID, as the standard says); neither does an
    /// oversized event, already reported by [`DecodeError::TooLarge`].
    pub fn finish(&mut self) -> bool {
        let mut lost = false;
        while let Some(frame) = self.next_frame() {
            lost |= matches!(frame, Ok(Frame::Event(_)) | Err(_));
        }
        let st = &mut self.st;
        lost |= st.data_seen && !st.discarding;
        self.parser.finish();
        st.clear_block();
        st.id_buf = st.last_event_id.clone();
        st.in_line = false;
        st.comment = LineValue::Empty;
        st.data_seen = false;
        st.discarding = false;
        st.size = 0;
        lost
    }
}

/// The frames of the decoder's pending input; see [`Decoder::frames`].
#[derive(Debug)]
#[must_use = "the iterator is lazy: nothing is decoded until it is iterated"]
pub struct Frames<'d> {
    decoder: &'d mut Decoder,
}

impl Iterator for Frames<'_> {
    type Item = Result<Frame, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.decoder.next_frame()
    }
}

impl State {
    /// Forgets the block's event type, data and `id` line (not the last
    /// event ID buffer, which outlives blocks).
    fn clear_block(&mut self) {
        if let Value::Owned(buf) = core::mem::take(&mut self.data) {
            self.keep_spare(buf);
        }
        self.event_type = LineValue::Empty;
        self.id_line = LineValue::Empty;
    }

    /// Keeps an emptied buffer for reuse, unless a larger one is kept
    /// already, or it is larger than [`SPARE_MAX`]: after one large event the
    /// decoder goes back to holding little.
    fn keep_spare(&mut self, mut buf: BytesMut) {
        buf.clear();
        if buf.capacity() > self.spare.capacity() && buf.capacity() <= SPARE_MAX {
            self.spare = buf;
        }
    }

    /// Keeps the buffer of data that was lent (and so is free again whole)
    /// for the next event: up to [`SPARE_MAX`], or up to twice the data's
    /// length while that is at most [`LENT_SPARE_MAX`], so that a stream of
    /// events of a few hundred KiB does not grow a buffer anew for each.
    fn keep_lent(&mut self, mut buf: BytesMut) {
        let limit = SPARE_MAX.max(buf.len().saturating_mul(2).min(LENT_SPARE_MAX));
        buf.clear();
        if buf.capacity() > self.spare.capacity() && buf.capacity() <= limit {
            self.spare = buf;
        }
    }

    /// An empty buffer to gather into, reusing memory where there is some.
    fn take_spare(&mut self) -> BytesMut {
        core::mem::take(&mut self.spare)
    }

    /// Appends a piece of a `data` line. `first` says it starts the line;
    /// `shared` is the piece as shared bytes, when it is a whole line.
    fn push_data(&mut self, part: &[u8], shared: Option<Bytes>, first: bool) {
        // Gathering already: append in place (the common case in small
        // chunks), without moving the buffer out and back.
        if let Value::Owned(buf) = &mut self.data {
            if first {
                buf.put_u8(b'\n');
            }
            buf.put_slice(part);
            return;
        }
        match (core::mem::take(&mut self.data), shared) {
            // The block's first line, whole in one piece: keep it shared.
            (Value::Empty, Some(line)) => self.data = Value::Shared(line),
            (Value::Empty, None) => {
                let mut buf = self.take_spare();
                buf.put_slice(part);
                self.data = Value::Owned(buf);
            }
            (Value::Shared(line), _) => {
                let mut buf = self.take_spare();
                buf.reserve(line.len() + 1 + part.len());
                buf.put_slice(&line);
                buf.put_u8(b'\n');
                buf.put_slice(part);
                self.data = Value::Owned(buf);
            }
            (Value::Owned(mut buf), _) => {
                if first {
                    buf.put_u8(b'\n');
                }
                buf.put_slice(part);
                self.data = Value::Owned(buf);
            }
        }
    }

    /// Takes the data buffer for an event, or `None` when it is empty (no
    /// `data` line in the block: nothing is dispatched).
    fn take_data(&mut self) -> Option<Bytes> {
        match core::mem::take(&mut self.data) {
            Value::Empty => None,
            Value::Shared(line) => Some(line),
            Value::Owned(buf) if buf.capacity() - buf.len() > SPARE_MAX => {
                // The buffer grew (geometrically) far past the data: a large
                // event. Give the rest back instead of keeping it, with the
                // event or as a spare. Shrinking a large allocation is done
                // in place by the allocator, without a copy.
                let mut data = Vec::from(buf);
                data.shrink_to_fit();
                Some(Bytes::from(data))
            }
            Value::Owned(mut buf) => {
                let data = buf.split().freeze();
                self.keep_spare(buf);
                Some(data)
            }
        }
    }
}

/// Sets a value with "set" semantics (`event`, `id`): its first piece
/// starts over. `whole` is the piece as a [`Text`], when it is the whole
/// value.
///
/// Pieces of a short value are gathered inline, without an allocation (a
/// type or an id cut by a chunk's end is the common case in small chunks).
fn set_piece(value: &mut LineValue, part: &[u8], whole: Option<Text>, first: bool) {
    match (whole, value) {
        (Some(text), value) => *value = LineValue::Whole(text),
        (None, LineValue::Gathered(buf)) if !first => buf.put_slice(part),
        (None, LineValue::Whole(Text::Inline(len, buf)))
            if !first && usize::from(*len) + part.len() <= INLINE =>
        {
            let at = usize::from(*len);
            buf[at..at + part.len()].copy_from_slice(part);
            *len += part.len() as u8;
        }
        (None, value) if !first => {
            let mut buf = BytesMut::from(value_bytes(value));
            buf.put_slice(part);
            *value = LineValue::Gathered(buf);
        }
        (None, value) if part.len() <= INLINE => *value = LineValue::Whole(Text::copy(part)),
        (None, value) => *value = LineValue::Gathered(BytesMut::from(part)),
    }
}

/// The bytes of a value being read.
fn value_bytes(value: &LineValue) -> &[u8] {
    match value {
        LineValue::Empty => &[],
        LineValue::Whole(text) => text.as_bytes(),
        LineValue::Gathered(buf) => buf,
    }
}

/// A finished `event` or `id` value as a [`Text`]. A gathered value is
/// always longer than [`INLINE`] ([`set_piece`] keeps shorter ones inline),
/// so its buffer is shared as it is.
fn into_text(value: LineValue) -> Text {
    match value {
        LineValue::Empty => Text::EMPTY,
        LineValue::Whole(text) => text,
        LineValue::Gathered(buf) => Text::Shared(buf.freeze()),
    }
}

/// Where `part` starts in `chunk`, if it lies inside it.
fn offset_in(chunk: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(chunk.as_ptr() as usize)?;
    (start <= chunk.len() && part.len() <= chunk.len() - start).then_some(start)
}

/// The parser's sink while decoding one chunk.
struct Collect<'a, 's> {
    st: &'s mut State,
    chunk: &'a Bytes,
}

/// A whole short value: inline when short, else a slice of the chunk.
fn text_of(chunk: &Bytes, part: &[u8]) -> Text {
    if part.len() <= INLINE {
        Text::copy(part)
    } else {
        Text::Shared(share(chunk, part))
    }
}

/// `part` as shared bytes: a slice of the chunk, never a copy.
fn share(chunk: &Bytes, part: &[u8]) -> Bytes {
    match offset_in(chunk, part) {
        Some(_) if part.is_empty() => Bytes::new(),
        Some(start) => chunk.slice(start..start + part.len()),
        // Unreachable (the parser only hands out pieces of the chunk), but a
        // copy is still the right answer; a debug build says so.
        None => {
            debug_assert!(false, "the parser handed out bytes outside the chunk");
            Bytes::copy_from_slice(part)
        }
    }
}

impl State {
    /// What every piece of a line does first: whether it starts its line,
    /// and the line's state updated.
    #[inline]
    fn start_piece(&mut self, last: bool) -> bool {
        let first = !self.in_line;
        self.in_line = !last;
        first
    }

    /// A piece of a `retry` line; at its end, the reconnection time it sets,
    /// if its value is all ASCII digits.
    fn retry_piece(&mut self, part: &[u8], first: bool, last: bool) -> Option<Duration> {
        if first {
            self.retry_value = Some(0);
            self.retry_digits = false;
        }
        if let Some(mut n) = self.retry_value {
            for &b in part {
                n = match (b.is_ascii_digit(), n.checked_mul(10)) {
                    (true, Some(n)) => match n.checked_add(u64::from(b - b'0')) {
                        Some(n) => n,
                        None => {
                            self.retry_value = None;
                            break;
                        }
                    },
                    // Not a digit, or too large for u64 (ignored, as
                    // Chromium does; the standard sets no bound).
                    _ => {
                        self.retry_value = None;
                        break;
                    }
                };
                self.retry_digits = true;
                self.retry_value = Some(n);
            }
        }
        if last {
            if let (Some(ms), true) = (self.retry_value.take(), self.retry_digits) {
                let delay = Duration::from_millis(ms);
                self.retry = Some(delay);
                return Some(delay);
            }
        }
        None
    }

    /// Counts a piece of an `event`, `data` or `id` value against the limit.
    /// Crossing it drops the block (the caller drops what it holds of it
    /// too) and is reported once; `part` lies in `chunk`, for the offset.
    #[inline]
    fn count(
        &mut self,
        field: Field,
        part: &[u8],
        first: bool,
        chunk: &[u8],
    ) -> Result<(), DecodeError> {
        // Each data line adds its value and a LF to the data buffer.
        let added = part.len() + usize::from(field == Field::Data && first);
        self.size = self.size.saturating_add(added);
        if self.size <= self.max {
            return Ok(());
        }
        self.discarding = true;
        self.clear_block();
        let at = offset_in(chunk, part).unwrap_or(0) as u64;
        Err(DecodeError::TooLarge {
            limit: self.max,
            offset: self.offset + at,
        })
    }

    /// A piece of an `id` line; `whole` makes the piece a [`Text`], for a
    /// piece that is the whole value.
    #[inline]
    fn id_piece(&mut self, part: &[u8], whole: impl FnOnce() -> Text, first: bool, last: bool) {
        // Short ids are searched inline: memchr's call costs more than
        // they take.
        let nul = if part.len() < 32 {
            part.contains(&0)
        } else {
            memchr::memchr(0, part).is_some()
        };
        if first && last {
            // "If the field value does not contain U+0000 NULL, then set the
            // last event ID buffer to the field value."
            if !nul {
                self.id_buf = whole();
            }
            return;
        }
        if first {
            self.id_nul = false;
        }
        self.id_nul |= nul;
        set_piece(&mut self.id_line, part, None, first);
        if last {
            let line = into_text(core::mem::take(&mut self.id_line));
            // "If the field value does not contain U+0000 NULL, then
            // set the last event ID buffer to the field value."
            if !self.id_nul {
                self.id_buf = line;
            }
        }
    }

    /// A piece of a comment line, when comments are handed out: `Err` once
    /// the line crosses the limit (the rest of it is then ignored), `Ok(false)`
    /// for a piece to ignore, `Ok(true)` for one to keep.
    fn comment_piece(
        &mut self,
        part: &[u8],
        first: bool,
        chunk: &[u8],
    ) -> Result<bool, DecodeError> {
        if first {
            self.comment_size = 0;
            self.comment_over = false;
        }
        if self.comment_over {
            return Ok(false);
        }
        self.comment_size = self.comment_size.saturating_add(part.len());
        if self.comment_size > self.max {
            self.comment_over = true;
            self.comment = LineValue::Empty;
            let at = offset_in(chunk, part).unwrap_or(0) as u64;
            return Err(DecodeError::TooLarge {
                limit: self.max,
                offset: self.offset + at,
            });
        }
        Ok(true)
    }

    /// Appends a piece of a comment line that spans pieces; at its last
    /// piece, the whole line's buffer.
    fn gather_comment(&mut self, part: &[u8], first: bool, last: bool) -> Option<BytesMut> {
        match &mut self.comment {
            LineValue::Gathered(buf) if !first => buf.put_slice(part),
            value => *value = LineValue::Gathered(BytesMut::from(part)),
        }
        if !last {
            return None;
        }
        match core::mem::take(&mut self.comment) {
            LineValue::Gathered(buf) => Some(buf),
            _ => None,
        }
    }

    /// The blank line's first steps, the same whether anything is
    /// dispatched: the last event ID string takes the buffer's value (step
    /// 1; unless `id_lent`: the buffer is then a slice the lending sink
    /// holds), and the block's counters restart. Returns whether the block
    /// was being discarded (its values are then cleared).
    #[inline]
    fn blank_line(&mut self, id_lent: bool) -> bool {
        // A lent id buffer is the lending sink's to commit.
        if !id_lent {
            self.last_event_id = self.id_buf.clone();
        }
        self.data_seen = false;
        self.size = 0;
        if core::mem::take(&mut self.discarding) {
            self.clear_block();
            return true;
        }
        false
    }
}

impl<'a> Sink<'a> for Collect<'a, '_> {
    type Break = Out;

    #[inline(always)]
    fn value(&mut self, field: Field, part: &'a [u8], last: bool) -> ControlFlow<Out> {
        let st = &mut *self.st;
        let first = st.start_piece(last);
        st.data_seen |= field == Field::Data;
        if field == Field::Retry {
            return match st.retry_piece(part, first, last) {
                Some(delay) => ControlFlow::Break(Out::Frame(Frame::Retry(delay))),
                None => ControlFlow::Continue(()),
            };
        }
        if st.discarding {
            return ControlFlow::Continue(());
        }
        if let Err(e) = st.count(field, part, first, self.chunk) {
            return ControlFlow::Break(Out::Error(e));
        }

        // A value whole in one piece is kept as a slice of the chunk. Other
        // pieces are copied into a buffer, and not sliced first: slicing
        // costs an allocation the first time for some `Bytes`.
        let whole = first && last;
        match field {
            Field::Data => {
                let shared =
                    (whole && matches!(st.data, Value::Empty)).then(|| share(self.chunk, part));
                st.push_data(part, shared, first);
            }
            Field::Event => {
                let text = whole.then(|| text_of(self.chunk, part));
                set_piece(&mut st.event_type, part, text, first);
            }
            Field::Id => st.id_piece(part, || text_of(self.chunk, part), first, last),
            Field::Retry => {}
        }
        ControlFlow::Continue(())
    }

    fn comment(&mut self, part: &'a [u8], last: bool) -> ControlFlow<Out> {
        let st = &mut *self.st;
        // Kept even when comments are off: were they switched off within a
        // comment line, the next line's first piece would not be first.
        let first = st.start_piece(last);
        if !st.comments {
            return ControlFlow::Continue(());
        }
        match st.comment_piece(part, first, self.chunk) {
            Err(e) => return ControlFlow::Break(Out::Error(e)),
            Ok(false) => return ControlFlow::Continue(()),
            Ok(true) => {}
        }
        if first && last {
            return ControlFlow::Break(Out::Frame(Frame::Comment(share(self.chunk, part))));
        }
        match st.gather_comment(part, first, last) {
            Some(buf) => ControlFlow::Break(Out::Frame(Frame::Comment(buf.freeze()))),
            None => ControlFlow::Continue(()),
        }
    }

    fn dispatch(&mut self) -> ControlFlow<Out> {
        let st = &mut *self.st;
        if st.blank_line(false) {
            return ControlFlow::Continue(());
        }
        let event_type = into_text(core::mem::take(&mut st.event_type));
        // Step 2: with an empty data buffer, reset and dispatch nothing.
        let Some(data) = st.take_data() else {
            return ControlFlow::Continue(());
        };
        let event = Event::from_parts(event_type, data, st.last_event_id.clone());
        ControlFlow::Break(Out::Frame(Frame::Event(event)))
    }
}

/// Feeds `chunk` to `parser` with a [`Lend`] sink, then keeps in `st` what
/// the sink still borrows from the chunk.
#[inline(always)]
fn lend<F>(parser: &mut Parser, st: &mut State, chunk: &[u8], f: &mut F)
where
    F: FnMut(Result<FrameView<'_>, DecodeError>),
{
    let mut sink = Lend {
        st,
        chunk,
        data: None,
        event_type: None,
        id: None,
        last_id: None,
        f,
    };
    match parser.feed(chunk, &mut sink) {
        ControlFlow::Continue(()) => {}
        ControlFlow::Break(stop) => match stop.value {},
    }
    let Lend {
        st,
        data,
        event_type,
        id,
        last_id,
        ..
    } = sink;
    if let Some(id) = id {
        st.id_buf = Text::copy(id);
    }
    if let Some(id) = last_id {
        st.last_event_id = Text::copy(id);
    }
    // The block goes on in the next chunk: keep what it borrowed.
    if let Some(line) = data {
        let mut buf = st.take_spare();
        buf.put_slice(line);
        st.data = Value::Owned(buf);
    }
    if let Some(value) = event_type {
        st.event_type = LineValue::Whole(Text::copy(value));
    }
    st.offset += chunk.len() as u64;
}

/// The parser's sink for [`Decoder::decode_with`]: like [`Collect`], but a
/// block's first data line and its event type are borrowed from the chunk
/// while they lie whole in it, and events are lent to a callback as they
/// end, with no [`Event`] built and no stop per event.
struct Lend<'a, 's, F> {
    st: &'s mut State,
    chunk: &'a [u8],
    /// The block's data, while it is one line whole in this chunk (then
    /// `st.data` is empty).
    data: Option<&'a [u8]>,
    /// The block's event type, when it was last set by a line whole in this
    /// chunk (then `st.event_type` is empty).
    event_type: Option<&'a [u8]>,
    /// The last event ID buffer, when it was last set by an `id` line whole
    /// in this chunk (then `st.id_buf` is stale).
    id: Option<&'a [u8]>,
    /// The last event ID string, when a blank line in this chunk set it
    /// from [`Lend::id`] (then `st.last_event_id` is stale).
    last_id: Option<&'a [u8]>,
    f: &'s mut F,
}

impl<'a, F> Sink<'a> for Lend<'a, '_, F>
where
    F: FnMut(Result<FrameView<'_>, DecodeError>),
{
    type Break = core::convert::Infallible;

    #[inline(always)]
    fn value(&mut self, field: Field, part: &'a [u8], last: bool) -> ControlFlow<Self::Break> {
        let st = &mut *self.st;
        let first = st.start_piece(last);
        st.data_seen |= field == Field::Data;
        if field == Field::Retry {
            if let Some(delay) = st.retry_piece(part, first, last) {
                (self.f)(Ok(FrameView::Retry(delay)));
            }
            return ControlFlow::Continue(());
        }
        if st.discarding {
            return ControlFlow::Continue(());
        }
        if let Err(e) = st.count(field, part, first, self.chunk) {
            self.data = None;
            self.event_type = None;
            (self.f)(Err(e));
            return ControlFlow::Continue(());
        }
        let whole = first && last;
        match field {
            Field::Data => {
                if whole && self.data.is_none() && matches!(st.data, Value::Empty) {
                    self.data = Some(part);
                } else {
                    if let Some(line) = self.data.take() {
                        let mut buf = st.take_spare();
                        buf.put_slice(line);
                        st.data = Value::Owned(buf);
                    }
                    st.push_data(part, None, first);
                }
            }
            Field::Event if whole => {
                self.event_type = Some(part);
                if !matches!(st.event_type, LineValue::Empty) {
                    st.event_type = LineValue::Empty;
                }
            }
            Field::Event => {
                self.event_type = None;
                set_piece(&mut st.event_type, part, None, first);
            }
            // A whole id is held as a slice until the chunk ends: copying
            // it, and then the last event ID, for every event costs more.
            Field::Id if whole => {
                if !part.contains(&0) {
                    self.id = Some(part);
                }
            }
            Field::Id => {
                if let Some(id) = self.id.take() {
                    st.id_buf = Text::copy(id);
                }
                st.id_piece(part, || Text::copy(part), first, last);
            }
            Field::Retry => {}
        }
        ControlFlow::Continue(())
    }

    fn comment(&mut self, part: &'a [u8], last: bool) -> ControlFlow<Self::Break> {
        let st = &mut *self.st;
        let first = st.start_piece(last);
        if !st.comments {
            return ControlFlow::Continue(());
        }
        match st.comment_piece(part, first, self.chunk) {
            Err(e) => (self.f)(Err(e)),
            Ok(false) => {}
            Ok(true) if first && last => (self.f)(Ok(FrameView::Comment(part))),
            Ok(true) => {
                if let Some(buf) = st.gather_comment(part, first, last) {
                    (self.f)(Ok(FrameView::Comment(&buf)));
                }
            }
        }
        ControlFlow::Continue(())
    }

    #[inline]
    fn dispatch(&mut self) -> ControlFlow<Self::Break> {
        let Lend {
            st,
            chunk,
            data,
            event_type,
            id,
            last_id,
            f,
        } = self;
        let chunk: &'a [u8] = chunk;
        let (data, event_type) = (data.take(), event_type.take());
        // Step 1, for an id buffer held as a slice.
        *last_id = *id;
        if st.blank_line(id.is_some()) {
            return ControlFlow::Continue(());
        }
        // Gathered data is padded with LFs to a whole 64-byte step where the
        // buffer has the room, so that its UTF-8 check has no tail to copy
        // (see `Lookahead`); the padding goes when the buffer is cleared.
        let mut gathered = 0;
        if let (None, Value::Owned(buf)) = (data, &mut st.data) {
            gathered = buf.len();
            let pad = gathered.next_multiple_of(64) - gathered;
            if buf.capacity() - gathered >= pad {
                buf.put_bytes(b'\n', pad);
            }
        }
        {
            let st = &**st;
            // Step 2: with an empty data buffer, dispatch nothing.
            let data = match (data, &st.data) {
                // Lent from the chunk: the bytes after it are known.
                (Some(line), _) => {
                    Some((line, offset_in(chunk, line).map_or(line, |at| &chunk[at..])))
                }
                (None, Value::Empty) => None,
                (None, Value::Shared(line)) => Some((&line[..], &line[..])),
                (None, Value::Owned(buf)) => Some((&buf[..gathered], &buf[..])),
            };
            if let Some((data, after)) = data {
                let event_type = event_type.unwrap_or_else(|| value_bytes(&st.event_type));
                (f)(Ok(FrameView::Event(EventView {
                    event_type: if event_type.is_empty() {
                        MESSAGE
                    } else {
                        event_type
                    },
                    data,
                    last_event_id: last_id.unwrap_or_else(|| st.last_event_id.as_bytes()),
                    after: Lookahead(after),
                })));
            }
        }
        // The data was lent, not handed out: its whole buffer is free again.
        // (The common block, whole in the chunk, left nothing in `st`.)
        if let Value::Owned(buf) = core::mem::take(&mut st.data) {
            st.keep_lent(buf);
        }
        if !matches!(st.event_type, LineValue::Empty) {
            st.event_type = LineValue::Empty;
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    fn decode_chunks(chunks: &[&'static [u8]]) -> (Vec<Result<Frame, DecodeError>>, Decoder) {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(d.frames(Bytes::from_static(c)));
        }
        (out, d)
    }

    fn ev(t: &'static str, d: &'static str, id: &'static str) -> Result<Frame, DecodeError> {
        Ok(Frame::Event(Event::new(t, d, id)))
    }

    /// The frames `decode_with` lends, made owned for comparison.
    fn lent(d: &mut Decoder, chunk: &[u8]) -> Vec<Result<Frame, DecodeError>> {
        let mut out = Vec::new();
        d.decode_with(chunk, |frame| {
            out.push(match frame {
                Ok(FrameView::Event(e)) => Ok(Frame::Event(e.to_event())),
                Ok(FrameView::Retry(delay)) => Ok(Frame::Retry(delay)),
                Ok(FrameView::Comment(c)) => Ok(Frame::Comment(Bytes::copy_from_slice(c))),
                Err(e) => Err(e),
            })
        });
        out
    }

    #[test]
    fn decode_with_lends_what_frames_hands_out_at_every_split() {
        let long = "l".repeat(INLINE + 5);
        let inputs: Vec<Vec<u8>> = <[String; 5]>::into_iter([
            "id: 1\nevent: up\ndata: a\ndata: b\n\ndata: c\n\n".into(),
            alloc::format!("event: {long}\nid: {long}\ndata: {long}\n\nevent: x\n\ndata\n\n"),
            "retry: 7\ndata: r\nretry: x\n\n: note\ndata:  sp\r\n\r\nid: a\0b\ndata: n\n\n".into(),
            "event: e\nevent:\ndata: d\n\nid\ndata: z\n\ndata: tail".into(),
            "data: 0123456789\ndata: 0123456789\n\ndata: ok\n\n: 0123456789abc\n".into(),
        ])
        .map(String::into_bytes)
        .collect();
        let decoders = || {
            [
                Decoder::new(),
                Decoder::new().comments(true).with_last_event_id("s"),
                Decoder::new().comments(true).max_event_size(12),
            ]
        };
        for input in &inputs {
            for cut in 0..=input.len() {
                for (mut owned, mut lending) in decoders().into_iter().zip(decoders()) {
                    let mut want: Vec<_> = owned
                        .frames(Bytes::copy_from_slice(&input[..cut]))
                        .collect();
                    want.extend(owned.frames(Bytes::copy_from_slice(&input[cut..])));
                    let mut got = lent(&mut lending, &input[..cut]);
                    got.extend(lent(&mut lending, &input[cut..]));
                    let at = alloc::format!("{:?} cut at {cut}", String::from_utf8_lossy(input));
                    assert_eq!(got, want, "{at}");
                    assert_eq!(lending.last_event_id(), owned.last_event_id(), "{at}");
                    assert_eq!(lending.retry(), owned.retry(), "{at}");
                    assert_eq!(lending.finish(), owned.finish(), "{at}");
                }
            }
        }
    }

    #[test]
    fn decode_with_decodes_pushed_input_first_and_lends_from_the_chunk() {
        let mut d = Decoder::new();
        d.push(Bytes::from_static(b"data: a\n\ndata: b"));
        let _ = d.next_frame();
        // "data: b" is pending; the chunk ends its event.
        let chunk = b"\n\ndata: whole line\n\n";
        let mut seen = Vec::new();
        d.decode_with(chunk, |frame| {
            let Ok(FrameView::Event(e)) = frame else {
                panic!("{frame:?}")
            };
            // The second event's data is borrowed from the chunk.
            if e.data_bytes().as_ptr() == chunk[8..].as_ptr() {
                seen.push("lent");
            }
            seen.push(if e.data() == "b" { "b" } else { "w" });
        });
        assert_eq!(seen, ["b", "lent", "w"]);
        assert_eq!(d.pending_input(), 0);
        let view = EventView {
            event_type: b"t",
            data: b"\xFFd",
            last_event_id: b"7",
            after: Lookahead(b"\xFFd"),
        };
        assert_eq!(view.to_event(), Event::new("t", &b"\xFFd"[..], "7"));
        assert_eq!(
            (&*view.event_type(), &*view.data(), &*view.last_event_id()),
            ("t", "\u{FFFD}d", "7")
        );
        assert_eq!(
            (view.event_type_bytes(), view.last_event_id_bytes()),
            (&b"t"[..], &b"7"[..])
        );
    }

    #[test]
    fn decode_with_lends_a_whole_comment_type_id_and_data_from_the_chunk_without_copying() {
        // As documented: a value that lies whole in the chunk is lent from
        // it. " hi" starts at 1, "up" at 12, "42" at 19, "x" at 28.
        let chunk = b": hi\nevent: up\nid: 42\ndata: x\n\n";
        let mut d = Decoder::new().comments(true);
        let mut frames = 0;
        d.decode_with(chunk, |frame| {
            match frame {
                Ok(FrameView::Comment(c)) => {
                    assert_eq!((c, offset_in(chunk, c)), (&b" hi"[..], Some(1)));
                }
                Ok(FrameView::Event(e)) => {
                    assert_eq!(
                        (&*e.event_type(), &*e.data(), &*e.last_event_id()),
                        ("up", "x", "42")
                    );
                    assert_eq!(offset_in(chunk, e.event_type_bytes()), Some(12));
                    assert_eq!(offset_in(chunk, e.last_event_id_bytes()), Some(19));
                    assert_eq!(offset_in(chunk, e.data_bytes()), Some(28));
                }
                _ => panic!("{frame:?}"),
            }
            frames += 1;
        });
        assert_eq!(frames, 2);
        assert_eq!(d.last_event_id(), "42");
    }

    #[test]
    fn event_views_compare_and_print_as_the_event_alone_not_the_input_after_it() {
        // The same event, lent from a chunk that goes on after its data and
        // from a buffer that holds just the data.
        let in_chunk = EventView {
            event_type: b"t",
            data: b"d",
            last_event_id: b"7",
            after: Lookahead(b"d\n\ndata: next\n\n"),
        };
        let alone = EventView {
            after: Lookahead(b"d"),
            ..in_chunk
        };
        assert_eq!(in_chunk, alone);
        assert_ne!(
            in_chunk,
            EventView {
                data: b"e",
                ..alone
            }
        );
        assert_eq!(
            alloc::format!("{in_chunk:?}"),
            "EventView { event_type: [116], data: [100], last_event_id: [55], after: .. }"
        );
    }

    #[test]
    fn single_line_data_is_shared_with_the_input() {
        let input = Bytes::from_static(b"data: hello\n\n");
        let mut d = Decoder::new();
        d.push(input.clone());
        let Some(Ok(Frame::Event(e))) = d.next_frame() else {
            panic!("no event");
        };
        assert_eq!(e.data(), "hello");
        assert_eq!(e.data_bytes().as_ptr(), input[6..].as_ptr());
        assert_eq!(d.pending_input(), 0);
    }

    #[test]
    fn comments_are_frames_when_asked_for_whole_split_or_too_long() {
        let input: &[u8] = b": one\ndata: x\n:\n: two parts\n\n";
        let want = [
            Ok(Frame::Comment(Bytes::from_static(b" one"))),
            Ok(Frame::Comment(Bytes::new())),
            Ok(Frame::Comment(Bytes::from_static(b" two parts"))),
            ev("message", "x", ""),
        ];
        for cut in 0..=input.len() {
            let mut d = Decoder::new().comments(true);
            let mut out: Vec<_> = d.frames(Bytes::copy_from_slice(&input[..cut])).collect();
            out.extend(d.frames(Bytes::copy_from_slice(&input[cut..])));
            assert_eq!(out, want, "cut at {cut}");
        }
        // Off by default.
        let (out, _) = decode_chunks(&[input]);
        assert_eq!(out, [ev("message", "x", "")]);
        // A comment over the limit is reported once and dropped; the event
        // around it is not.
        let mut d = Decoder::new().comments(true).max_event_size(4);
        let out: Vec<_> = d
            .frames(Bytes::from_static(b"data: x\n: too long\n: ok\n\n"))
            .collect();
        assert_eq!(
            out,
            [
                Err(DecodeError::TooLarge {
                    limit: 4,
                    offset: 9
                }),
                Ok(Frame::Comment(Bytes::from_static(b" ok"))),
                ev("message", "x", ""),
            ]
        );
    }

    #[test]
    fn switching_comments_off_in_a_comment_line_loses_no_later_line_break_retry_or_comment() {
        let mut d = Decoder::new().comments(true);
        let mut out: Vec<_> = d
            .frames(Bytes::from_static(b"data: a\ndata: b\n: no"))
            .collect();
        // Off for the rest of that comment line: the lines after it are
        // still new lines.
        let mut d = d.comments(false);
        out.extend(d.frames(Bytes::from_static(b"te\ndata: c\nretry: 7\n\n")));
        // On again: the next comment starts afresh.
        let mut d = d.comments(true);
        out.extend(d.frames(Bytes::from_static(b": la")));
        out.extend(d.frames(Bytes::from_static(b"ter\n")));
        assert_eq!(
            out,
            [
                Ok(Frame::Retry(Duration::from_millis(7))),
                ev("message", "a\nb\nc", ""),
                Ok(Frame::Comment(Bytes::from_static(b" later"))),
            ]
        );
    }

    #[test]
    fn multi_line_and_split_data_are_gathered() {
        let (out, _) = decode_chunks(&[b"data: a\ndata", b": b", b"c\ndata\n", b"\n"]);
        assert_eq!(out, [ev("message", "a\nbc\n", "")]);
    }

    #[test]
    fn empty_data_line_dispatches_empty_data() {
        let (out, _) = decode_chunks(&[b"data\n\ndata:\n\n"]);
        assert_eq!(out, [ev("message", "", ""), ev("message", "", "")]);
    }

    #[test]
    fn type_resets_after_each_block_even_without_data() {
        let (out, _) = decode_chunks(&[b"event: a\n\ndata: x\n\nevent: b\nevent:\ndata: y\n\n"]);
        assert_eq!(out, [ev("message", "x", ""), ev("message", "y", "")]);
    }

    #[test]
    fn id_rules() {
        let (out, d) = decode_chunks(&[
            b"id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\nid: 9\n\n",
        ]);
        assert_eq!(
            out,
            [
                ev("message", "a", "1"),
                ev("message", "b", "1"),
                ev("message", "c", "1"),
                ev("message", "d", "")
            ]
        );
        // An id-only block updates the last event ID without an event.
        assert_eq!(d.last_event_id(), "9");
    }

    #[test]
    fn id_without_blank_line_is_not_committed() {
        let (_, mut d) = decode_chunks(&[b"id: 1\n\nid: 2\n"]);
        assert_eq!(d.last_event_id(), "1");
        // No event is lost: the block had no data.
        assert!(!d.finish());
        assert_eq!(d.last_event_id(), "1");
    }

    #[test]
    fn long_and_split_types_and_ids_are_kept_whole() {
        let long = "x".repeat(INLINE + 1);
        let at_limit = "y".repeat(INLINE);
        let input =
            alloc::format!("event: {long}\nid: {at_limit}\ndata: a\n\nid: {long}\ndata: b\n\n");
        let input = Bytes::from(input);
        for cut in [0, 7, 20, 40, input.len() / 2, input.len() - 3] {
            let mut d = Decoder::new();
            let mut out: Vec<_> = d.frames(input.slice(..cut)).collect();
            out.extend(d.frames(input.slice(cut..)));
            assert_eq!(
                out,
                [
                    Ok(Frame::Event(Event::new(
                        long.clone(),
                        "a",
                        at_limit.clone()
                    ))),
                    Ok(Frame::Event(Event::new("message", "b", long.clone()))),
                ],
                "cut at {cut}"
            );
            assert_eq!(d.last_event_id(), long.as_str());
        }
    }

    #[test]
    fn seeded_id_survives_events_without_id() {
        let mut d = Decoder::new().with_last_event_id("seed");
        let out: Vec<_> = d
            .frames(Bytes::from_static(b"data: a\n\ndata: b\n\n"))
            .collect();
        assert_eq!(
            out,
            [ev("message", "a", "seed"), ev("message", "b", "seed")]
        );
        // And across a reconnect.
        assert!(!d.finish());
        let out: Vec<_> = d.frames(Bytes::from_static(b"data: c\n\n")).collect();
        assert_eq!(out, [ev("message", "c", "seed")]);
    }

    #[test]
    fn retry_rules() {
        let (out, d) = decode_chunks(&[
            b"retry: 10\nretry: x\nretry:\nretry: 1 \nretry: 18446744073709551616\n",
        ]);
        assert_eq!(out, [Ok(Frame::Retry(Duration::from_millis(10)))]);
        assert_eq!(d.retry(), Some(Duration::from_millis(10)));
        let (out, _) = decode_chunks(&[b"retry:1", b"8446744073709551615\n"]);
        assert_eq!(out, [Ok(Frame::Retry(Duration::from_millis(u64::MAX)))]);
        // A retry in a block without data is not lost.
        let (out, _) = decode_chunks(&[b"retry: 5\n\n"]);
        assert_eq!(out, [Ok(Frame::Retry(Duration::from_millis(5)))]);
    }

    #[test]
    fn cr_at_chunk_end_dispatches_without_waiting() {
        let mut d = Decoder::new();
        d.push(Bytes::from_static(b"data: x\r\r"));
        assert_eq!(d.next_frame(), Some(ev("message", "x", "")));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let (out, _) = decode_chunks(&[b"event: \xFFa\ndata: \xC3\n", b"data: ok\n\n"]);
        let [Ok(Frame::Event(e))] = &out[..] else {
            panic!("{out:?}");
        };
        assert_eq!(e.event_type(), "\u{FFFD}a");
        assert_eq!(e.data(), "\u{FFFD}\nok");
    }

    #[test]
    fn text_borrows_valid_utf8_and_replaces_invalid_like_the_lossy_decoder() {
        // Short and long (the validator takes blocks of 32 and 64 bytes),
        // with the invalid byte before, on and after a block's edge, and
        // multi-byte characters cut at the end.
        let mut inputs: Vec<Vec<u8>> = [
            &b""[..],
            b"ascii",
            "caf\u{e9} \u{1F642} \u{4E16}".as_bytes(),
            b"\xFF",
            b"\xC3",
            b"a\xE2\x82",
            b"\xED\xA0\x80", // a surrogate
            b"\xC0\xAF",     // overlong
            b"\xF4\x90\x80\x80",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        for at in [0, 31, 32, 63, 64, 65, 127, 200] {
            let mut long = "\u{e9}x".repeat(120).into_bytes();
            long[at] = 0xFF;
            inputs.push(long);
        }
        inputs.push("\u{1F642}".repeat(40).into_bytes()[..159].to_vec());
        for input in &inputs {
            let got = text(input);
            assert_eq!(got, String::from_utf8_lossy(input), "{input:?}");
            // No copy when nothing is replaced.
            let valid = core::str::from_utf8(input).is_ok();
            assert_eq!(matches!(got, Cow::Borrowed(_)), valid, "{input:?}");
        }
        let e = Event::new("t", Bytes::from("x".repeat(100)), "");
        assert!(matches!(e.data(), Cow::Borrowed(s) if s.as_ptr() == e.data_bytes().as_ptr()));
    }

    #[test]
    fn text_checked_with_the_bytes_after_it_is_the_text_of_the_data_alone() {
        // Input whose characters take 1 to 4 bytes, then invalid bytes: data
        // cut at every length, inside characters too, followed by the rest.
        let mut input = "ab\u{e9}c\u{4E16}d\u{1F642}".repeat(12).into_bytes();
        input.extend_from_slice(b"\xFF\xC3x");
        input.extend_from_slice(&"z".repeat(70).into_bytes());
        for start in [0, 1, 3] {
            for end in start..input.len() {
                let (data, after) = (&input[start..end], &input[start..]);
                let got = text_ahead(data, after);
                assert_eq!(got, String::from_utf8_lossy(data), "{start}..{end}");
                if let Cow::Borrowed(text) = got {
                    assert_eq!(text.as_bytes(), data);
                }
            }
        }
    }

    #[test]
    fn too_large_errors_once_then_recovers() {
        let mut d = Decoder::new().max_event_size(8);
        let mut out = Vec::new();
        for c in [
            &b"id: 1\ndata: 0123"[..],
            b"456789\ndata: more\nid: 2\n\ndata: ok\n\n",
        ] {
            out.extend(d.frames(Bytes::copy_from_slice(c)));
        }
        assert_eq!(
            out,
            [
                Err(DecodeError::TooLarge {
                    limit: 8,
                    offset: 16
                }),
                ev("message", "ok", "1")
            ]
        );
        assert!(out[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("limit of 8 bytes"));
    }

    #[test]
    fn finish_drops_unterminated_event() {
        let (out, mut d) = decode_chunks(&[b"data: a\n\ndata: b\n"]);
        assert_eq!(out, [ev("message", "a", "")]);
        assert!(d.finish());
        assert!(!d.finish());
        let (_, mut d) = decode_chunks(&[b"data: a\n\ndata: b"]);
        assert!(d.finish());
    }

    #[test]
    fn finish_reports_a_loss_only_when_an_event_was_lost() {
        // Blocks that would dispatch nothing lose no event.
        for tail in [
            &b"retry: 5\n"[..],
            b"retry: 5",
            b"id: 2\n",
            b"event: e\n",
            b": comment",
            b": comment\n",
            b"",
        ] {
            let (_, mut d) = decode_chunks(&[b"data: a\n\n", tail]);
            assert!(
                !d.finish(),
                "{:?}",
                alloc::string::String::from_utf8_lossy(tail)
            );
        }
        // A data line, whole or in part, is an event lost.
        for tail in [&b"data: b\n"[..], b"data: b", b"event: e\ndata:\n"] {
            let (_, mut d) = decode_chunks(&[b"data: a\n\n", tail]);
            assert!(
                d.finish(),
                "{:?}",
                alloc::string::String::from_utf8_lossy(tail)
            );
        }
        // An oversized event was reported already.
        let mut d = Decoder::new().max_event_size(2);
        let out: Vec<_> = d.frames(Bytes::from_static(b"data: long\n")).collect();
        assert!(matches!(out[..], [Err(DecodeError::TooLarge { .. })]));
        assert!(!d.finish());
    }

    #[test]
    fn input_not_reached_stays_in_the_decoder() {
        let mut d = Decoder::new();
        let first = d
            .frames(Bytes::from_static(b"data: a\n\ndata: b\n\ndata: c"))
            .next();
        assert_eq!(first, Some(ev("message", "a", "")));
        // The iterator was dropped after one frame; the rest is kept, and a
        // later chunk is decoded after it.
        assert_eq!(d.pending_input(), 16);
        let rest: Vec<_> = d.frames(Bytes::from_static(b"\n\n")).collect();
        assert_eq!(rest, [ev("message", "b", ""), ev("message", "c", "")]);
        assert_eq!(d.pending_input(), 0);
        // Undecoded input at the end: its events are lost and counted, its
        // id and retry still count.
        d.push(Bytes::from_static(b"id: 7\nretry: 9\ndata: d\n\n"));
        assert!(d.finish());
        assert_eq!(d.last_event_id(), "7");
        assert_eq!(d.pending_input(), 0);
    }

    /// Whether `bytes` lie inside `event` itself: kept inline, not on the heap.
    fn is_inline(event: &Event, bytes: &[u8]) -> bool {
        let start = event as *const Event as usize;
        (start..start + core::mem::size_of::<Event>()).contains(&(bytes.as_ptr() as usize))
    }

    /// Whether `bytes` lie inside `input`: shared with it, not copied.
    fn is_in(input: &Bytes, bytes: &[u8]) -> bool {
        let start = input.as_ptr() as usize;
        (start..start + input.len()).contains(&(bytes.as_ptr() as usize))
    }

    #[test]
    fn short_types_and_ids_are_kept_inline_and_long_ones_shared_with_the_input() {
        let long = "t".repeat(INLINE + 1);
        let input = Bytes::from(alloc::format!(
            "event: {long}\nid: 7\ndata: x\n\nevent: up\nid: {long}\ndata: y\n\n"
        ));
        let mut d = Decoder::new();
        let out: Vec<_> = d.frames(input.clone()).collect();
        let [Ok(Frame::Event(a)), Ok(Frame::Event(b))] = &out[..] else {
            panic!("{out:?}");
        };
        assert!(is_in(&input, a.event_type_bytes()), "{a:?}");
        assert!(is_inline(a, a.last_event_id_bytes()), "{a:?}");
        assert!(is_inline(b, b.event_type_bytes()), "{b:?}");
        assert!(is_in(&input, b.last_event_id_bytes()), "{b:?}");

        // Split over chunks, a short value is gathered, then kept inline.
        let mut d = Decoder::new();
        let mut out: Vec<_> = d.frames(Bytes::from_static(b"event: u")).collect();
        out.extend(d.frames(Bytes::from_static(b"p\nid: 4")));
        out.extend(d.frames(Bytes::from_static(b"2\ndata: z\n\n")));
        let [Ok(Frame::Event(c))] = &out[..] else {
            panic!("{out:?}");
        };
        assert_eq!((&*c.event_type(), &*c.last_event_id()), ("up", "42"));
        assert!(is_inline(c, c.event_type_bytes()), "{c:?}");
        assert!(is_inline(c, c.last_event_id_bytes()), "{c:?}");
    }

    #[test]
    fn event_new_keeps_a_short_type_and_id_inline_and_shares_long_ones() {
        let long = Bytes::from("l".repeat(INLINE + 1));
        let e = Event::new(long.clone(), "d", Bytes::from_static(b"7"));
        assert_eq!(e.event_type_bytes().as_ptr(), long.as_ptr());
        assert!(is_inline(&e, e.last_event_id_bytes()));
        let e = Event::new(Bytes::from_static(b"up"), "d", long.clone());
        assert!(is_inline(&e, e.event_type_bytes()));
        assert_eq!(e.last_event_id_bytes().as_ptr(), long.as_ptr());
    }

    /// A hasher that keeps what it is fed, to see what a hash covers.
    #[derive(Default)]
    struct Fed(Vec<u8>);

    impl core::hash::Hasher for Fed {
        fn write(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
        fn finish(&self) -> u64 {
            0
        }
    }

    fn fed(e: &Event) -> Vec<u8> {
        let mut h = Fed::default();
        core::hash::Hash::hash(e, &mut h);
        h.0
    }

    #[test]
    fn equality_hash_and_debug_cover_the_type_and_the_id() {
        let e = Event::new("a", "d", "1");
        let other_type = Event::new("b", "d", "1");
        let other_id = Event::new("a", "d", "2");
        assert_ne!(e, other_type);
        assert_ne!(e, other_id);
        // Inline or shared, the same bytes are the same event.
        let long = "x".repeat(INLINE + 1);
        let gathered = decode_chunks(&[b"event: a\nid: 1\ndata: d\n\n"]).0;
        assert_eq!(gathered, [Ok(Frame::Event(e.clone()))]);
        assert_eq!(
            Event::new(long.clone(), "d", ""),
            Event::new(Bytes::from(long), "d", "")
        );

        assert_eq!(fed(&e), fed(&e.clone()));
        assert_ne!(fed(&e), fed(&other_type));
        assert_ne!(fed(&e), fed(&other_id));

        let debug = alloc::format!("{e:?}");
        assert!(debug.contains(r#"event_type: "a""#), "{debug}");
        assert!(debug.contains(r#"last_event_id: "1""#), "{debug}");
    }

    #[test]
    fn pending_input_counts_every_queued_chunk() {
        let mut d = Decoder::new();
        d.push(Bytes::from_static(b"data: a\n"));
        d.push(Bytes::new());
        d.push(Bytes::from_static(b"\n"));
        d.push(Bytes::from_static(b"data: b\n\n"));
        assert_eq!(d.pending_input(), 8 + 1 + 9);
        assert_eq!(d.next_frame(), Some(ev("message", "a", "")));
        assert_eq!(d.pending_input(), 9);
    }

    #[test]
    fn finish_counts_undecoded_events_but_not_undecoded_retries_or_comments() {
        for (undecoded, lost) in [
            (&b"retry: 5\n"[..], false),
            (b": note\n", false),
            (b"id: 3\n\n", false),
            (b"data: x\n\n", true),
            (b"retry: 5\ndata: x\n\n", true),
        ] {
            let mut d = Decoder::new().comments(true);
            d.push(Bytes::from_static(undecoded));
            assert_eq!(
                d.finish(),
                lost,
                "{:?}",
                alloc::string::String::from_utf8_lossy(undecoded)
            );
        }
        // An oversized event in undecoded input was never reported: lost.
        let mut d = Decoder::new().max_event_size(2);
        d.push(Bytes::from_static(b"data: long\n\n"));
        assert!(d.finish());
    }

    #[test]
    fn the_gathering_buffer_is_reused_by_the_next_event() {
        let mut d = Decoder::new();
        // Data in two pieces is gathered into a buffer; the second piece
        // makes it grow (geometrically), which leaves room after the data.
        let mut out: Vec<_> = d.frames(Bytes::from_static(b"data: 0123456789")).collect();
        out.extend(d.frames(Bytes::from_static(b"a\n\n")));
        let [Ok(Frame::Event(first))] = &out[..] else {
            panic!("{out:?}");
        };
        // While the first event is alive, the next gathered data is written
        // in that room, right after it, not in a new allocation.
        let mut next: Vec<_> = d.frames(Bytes::from_static(b"data: x")).collect();
        next.extend(d.frames(Bytes::from_static(b"y\n\n")));
        let [Ok(Frame::Event(second))] = &next[..] else {
            panic!("{next:?}");
        };
        assert_eq!((&*first.data(), &*second.data()), ("0123456789a", "xy"));
        assert_eq!(
            second.data_bytes().as_ptr() as usize,
            first.data_bytes().as_ptr() as usize + first.data_bytes().len()
        );
    }

    #[test]
    fn a_gathering_buffer_with_up_to_64_kib_of_room_left_is_kept_for_the_next_event() {
        // A piece of `n` bytes and one byte more grow the buffer to `2 * n`
        // (`Vec`'s doubling): the event leaves `n - 1` bytes of room. Up to
        // 64 KiB of room is kept as the spare, and the next gathered event
        // is written there, right after the first one's data.
        for n in [4096, 64 * 1024 + 1] {
            let mut d = Decoder::new();
            let mut piece = b"data: ".to_vec();
            piece.resize(6 + n, b'a');
            let mut out: Vec<_> = d.frames(Bytes::from(piece)).collect();
            out.extend(d.frames(Bytes::from_static(b"b\n\n")));
            let [Ok(Frame::Event(first))] = &out[..] else {
                panic!("{out:?}");
            };
            assert_eq!(first.data_bytes().len(), n + 1);
            let mut next: Vec<_> = d.frames(Bytes::from_static(b"data: x")).collect();
            next.extend(d.frames(Bytes::from_static(b"y\n\n")));
            let [Ok(Frame::Event(second))] = &next[..] else {
                panic!("{next:?}");
            };
            assert_eq!(&*second.data(), "xy");
            assert_eq!(
                second.data_bytes().as_ptr() as usize,
                first.data_bytes().as_ptr() as usize + first.data_bytes().len(),
                "a piece of {n} bytes"
            );
        }
    }

    #[test]
    fn an_event_line_cut_by_a_chunk_end_replaces_a_long_type_gathered_before_it() {
        // The first type is gathered from two pieces (longer than inline);
        // the second `event` line of the block, cut too, starts over.
        let long = "t".repeat(INLINE + 10);
        let chunks = [
            alloc::format!("event: {}", &long[..20]),
            alloc::format!("{}\nevent: b", &long[20..]),
            "c\ndata: d\n\n".to_string(),
        ];
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for c in &chunks {
            out.extend(d.frames(Bytes::from(c.clone())));
        }
        assert_eq!(out, [ev("bc", "d", "")]);
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for c in &chunks {
            out.extend(lent(&mut d, c.as_bytes()));
        }
        assert_eq!(out, [ev("bc", "d", "")]);
    }

    #[test]
    fn offset_in_finds_only_parts_inside_the_chunk() {
        let buf = [0u8; 8];
        let chunk = &buf[..4];
        assert_eq!(offset_in(chunk, &buf[1..3]), Some(1));
        assert_eq!(offset_in(chunk, &buf[..4]), Some(0));
        assert_eq!(offset_in(chunk, &buf[4..4]), Some(4));
        // Running past its end, starting after it, or starting before it.
        assert_eq!(offset_in(chunk, &buf[2..6]), None);
        assert_eq!(offset_in(chunk, &buf[5..7]), None);
        assert_eq!(offset_in(&buf[4..], &buf[..2]), None);
    }

    #[test]
    fn the_limit_counts_data_bytes_plus_one_per_data_line_and_type_id_and_comment_bytes() {
        let decode = |input: &'static [u8]| {
            let mut d = Decoder::new().max_event_size(8);
            d.frames(Bytes::from_static(input)).collect::<Vec<_>>()
        };
        let too_large = |offset| Err(DecodeError::TooLarge { limit: 8, offset });
        // Exactly at the limit is allowed; one byte more is not.
        assert_eq!(decode(b"data: 1234567\n\n"), [ev("message", "1234567", "")]);
        assert_eq!(decode(b"data: 12345678\n\n"), [too_large(6)]);
        assert_eq!(
            decode(b"data: 123\ndata\ndata: 12\n\n"),
            [ev("message", "123\n\n12", "")]
        );
        // An event type or id counts its bytes alone.
        assert_eq!(decode(b"event: 1234567\ndata\n\n"), [ev("1234567", "", "")]);
        assert_eq!(
            decode(b"id: 1234567\ndata\n\n"),
            [ev("message", "", "1234567")]
        );
        assert_eq!(decode(b"event: 123456789\n\n"), [too_large(7)]);
        // A comment line, when comments are handed out, counts its bytes
        // after the colon.
        let comments = |input: &'static [u8]| {
            let mut d = Decoder::new().comments(true).max_event_size(8);
            d.frames(Bytes::from_static(input)).collect::<Vec<_>>()
        };
        assert_eq!(
            comments(b": 1234567\n"),
            [Ok(Frame::Comment(Bytes::from_static(b" 1234567")))]
        );
        assert_eq!(comments(b": 12345678\n"), [too_large(1)]);
    }
}
