//! Events to bytes that always mean what they were given; the guarantees
//! are on [`EventRef`].

use core::fmt;
use core::time::Duration;

/// A delay as the whole milliseconds a `retry` field carries: rounded down,
/// and at most `u64::MAX`.
fn whole_millis(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}

/// An event to write, borrowed. Every part is optional; the event is
/// written as one block ended by a blank line, by [`encode`] (into a
/// `&mut [u8]`, no allocation) or, with feature `alloc`, by `encode_to`
/// (into any `BufMut`) and the owned `ServerEvent`.
///
/// # Guarantees
///
/// What the encoder writes is always parsed back to the event it was given
/// (checked by a property test against an independent model and by a fuzz
/// target):
///
/// - Data is split on CR, LF and CRLF into one `data:` line each, so
///   multi-line data survives. The protocol itself turns every CR and CRLF
///   in data into LF: a client receives `"a\r\nb"` as `"a\nb"`. Empty data,
///   data that starts with a space and data that ends in a line break
///   round-trip exactly.
/// - A value that would change the stream's meaning is refused with an
///   [`EncodeError`], and nothing is written: a CR or LF in the event type,
///   the id or the comment (it would end the line, and the rest would be read
///   as other fields), and a NUL in the id (the client would ignore the id).
/// - The encoder never panics and never writes part of an event.
///
/// | part | written as | a client then |
/// | --- | --- | --- |
/// | `comment: Some(c)` | `: c` | ignores it (keep-alives) |
/// | `event: Some(t)` | `event: t` | dispatches the event as type `t` |
/// | `id: Some(i)` | `id: i` (`id:` when empty) | sets its last event ID; `""` resets it |
/// | `retry: Some(d)` | `retry: ms` (whole milliseconds of `d`) | waits that long before reconnecting |
/// | `data: Some(d)` | one `data: line` per line of `d` | dispatches an event |
///
/// Without `data`, no event is dispatched, but the `id` and `retry` still
/// take effect: `EventRef { id: Some(""), ..Default::default() }` is the
/// event that resets the client's last event ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EventRef<'a> {
    /// A comment line.
    pub comment: Option<&'a str>,
    /// The event type (`message` when absent).
    pub event: Option<&'a str>,
    /// The event ID: the client's last event ID from this event on.
    pub id: Option<&'a str>,
    /// The reconnection time, written in whole milliseconds (rounded down,
    /// and at most `u64::MAX` of them).
    pub retry: Option<Duration>,
    /// The data.
    pub data: Option<&'a str>,
}

/// A part of an event that must be a single line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Line {
    /// The event type.
    Event,
    /// The event ID.
    Id,
    /// The comment.
    Comment,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Line::Event => "event type",
            Line::Id => "id",
            Line::Comment => "comment",
        })
    }
}

/// Why an event was not written. Nothing was written when this is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// A CR or LF in a part that must be one line. Written, it would end the
    /// line there and the rest would be read as another field: a newline in
    /// an event type could inject a `data:` line.
    LineBreak {
        /// Which part.
        part: Line,
        /// The byte index of the CR or LF in it.
        at: usize,
    },
    /// A NUL in the id: a client ignores an `id` field that contains NUL, so
    /// the event would not set the id it was given.
    NulInId {
        /// The byte index of the NUL.
        at: usize,
    },
    /// The output buffer is too small. Nothing was written; retry with at
    /// least `required` bytes.
    TooSmall {
        /// The bytes the event needs.
        required: usize,
        /// The bytes the buffer had.
        available: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::LineBreak { part, at } => write!(
                f,
                "the {part} has a line break at byte {at}; it must be one line"
            ),
            EncodeError::NulInId { at } => write!(
                f,
                "the id has a NUL at byte {at}; clients ignore such an id"
            ),
            EncodeError::TooSmall {
                required,
                available,
            } => write!(
                f,
                "the event needs {required} bytes but the buffer has {available}"
            ),
        }
    }
}

impl core::error::Error for EncodeError {}

/// A comment line and blank line to send on a quiet stream so that proxies
/// and clients with idle timeouts keep the connection open.
pub const KEEP_ALIVE: &[u8] = b":\n\n";

/// The parts of an event as bytes: what [`check`] and [`write`] read, from
/// an [`EventRef`] or a `ServerEvent` alike.
#[derive(Clone, Copy, Default)]
struct Parts<'a> {
    comment: Option<&'a [u8]>,
    event: Option<&'a [u8]>,
    id: Option<&'a [u8]>,
    retry: Option<Duration>,
    data: Option<&'a [u8]>,
}

impl<'a> From<&EventRef<'a>> for Parts<'a> {
    fn from(e: &EventRef<'a>) -> Self {
        Parts {
            comment: e.comment.map(str::as_bytes),
            event: e.event.map(str::as_bytes),
            id: e.id.map(str::as_bytes),
            retry: e.retry,
            data: e.data.map(str::as_bytes),
        }
    }
}

/// Below this length a byte loop finds a CR or LF faster than a call to
/// `memchr2` (event types and ids are nearly always this short).
const SHORT: usize = 24;

/// Whether `value` may hold a byte below 14, which every CR (13), LF (10)
/// and NUL is: `false` proves it holds none. Eight bytes at a time, then
/// the last few one by one; bytes 1 to 9, 11 and 12 (a tab) may give a
/// `true` that the exact search then clears.
#[inline]
fn may_break(value: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte below 14 is one whose high bit the subtraction sets while it
    // was clear in the byte (the classic has-less-than test).
    let below = |w: u64| w.wrapping_sub(ONES * 14) & !w & HIGH != 0;
    let mut words = value.chunks_exact(8);
    let hit = words
        .by_ref()
        .any(|w| <[u8; 8]>::try_from(w).map_or(true, |w| below(u64::from_ne_bytes(w))));
    hit || words.remainder().iter().any(|&b| b < 14)
}

/// The index of the first CR or LF in `value`.
#[inline]
fn find_break(value: &[u8]) -> Option<usize> {
    if value.len() < SHORT {
        if !may_break(value) {
            return None;
        }
        value.iter().position(|&b| b == b'\r' || b == b'\n')
    } else {
        memchr::memchr2(b'\r', b'\n', value)
    }
}

#[inline]
fn single_line(part: Line, value: &[u8]) -> Result<(), EncodeError> {
    match find_break(value) {
        Some(at) => Err(EncodeError::LineBreak { part, at }),
        None => Ok(()),
    }
}

/// Checks an id: one line, and no NUL.
#[inline]
fn check_id(id: &[u8]) -> Result<(), EncodeError> {
    if !may_break(id) {
        return Ok(());
    }
    single_line(Line::Id, id)?;
    match memchr::memchr(0, id) {
        Some(at) => Err(EncodeError::NulInId { at }),
        None => Ok(()),
    }
}

/// The number of decimal digits of `n`.
fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Calls `f` with each line of `data`, split at CRLF, LF and CR.
fn for_each_line<'d>(data: &'d [u8], mut f: impl FnMut(&'d [u8])) {
    let mut rest = data;
    loop {
        match memchr::memchr2(b'\r', b'\n', rest) {
            Some(i) => {
                f(&rest[..i]);
                let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = &rest[i + skip..];
            }
            None => {
                f(rest);
                return;
            }
        }
    }
}

/// The length of a field line: `name: value`, or `name:` for an empty value
/// (no trailing space; both mean the same). `prefix` is `name: `.
fn field_len(prefix: &[u8], value: usize) -> usize {
    prefix.len() + value + 1 - usize::from(value == 0)
}

/// Checks the parts that must be one line and returns the length of
/// everything but the data lines.
fn check(event: &Parts<'_>) -> Result<usize, EncodeError> {
    let mut len = 1; // the blank line
    if let Some(c) = event.comment {
        single_line(Line::Comment, c)?;
        len += field_len(b": ", c.len());
    }
    if let Some(t) = event.event {
        single_line(Line::Event, t)?;
        len += field_len(b"event: ", t.len());
    }
    if let Some(id) = event.id {
        check_id(id)?;
        len += field_len(b"id: ", id.len());
    }
    if let Some(delay) = event.retry {
        len += field_len(b"retry: ", digits(whole_millis(delay)));
    }
    Ok(len)
}

/// The exact length of the data lines.
fn data_len(data: Option<&[u8]>) -> usize {
    let mut len = 0;
    if let Some(data) = data {
        for_each_line(data, |line| len += field_len(b"data: ", line.len()));
    }
    len
}

/// A bound on the length of the data lines that needs no scan: each of at
/// most `n + 1` lines adds at most `data: ` and a line end to its bytes.
fn data_len_bound(data: Option<&[u8]>) -> usize {
    data.map_or(0, |d| d.len().saturating_mul(8).saturating_add(7))
}

/// The bytes [`encode`] would write for `event`.
///
/// # Errors
///
/// [`EncodeError::LineBreak`] or [`EncodeError::NulInId`] when the event
/// cannot be written without changing its meaning.
pub fn encoded_len(event: &EventRef<'_>) -> Result<usize, EncodeError> {
    let event = Parts::from(event);
    Ok(check(&event)? + data_len(event.data))
}

/// Checks `event` and makes sure that `room` bytes are enough for it: at
/// once when they are enough for any data of its length (one pass over the
/// data, when writing it), or by measuring the data lines (a second pass).
fn fits(event: &Parts<'_>, room: usize) -> Result<(), EncodeError> {
    let fixed = check(event)?;
    if room >= fixed.saturating_add(data_len_bound(event.data)) {
        return Ok(());
    }
    let required = fixed + data_len(event.data);
    if room < required {
        return Err(EncodeError::TooSmall {
            required,
            available: room,
        });
    }
    Ok(())
}

/// Where encoded bytes go. Callers check the room first, and read how
/// much was written from the concrete type.
trait Out {
    fn put(&mut self, bytes: &[u8]);
}

/// A slice with a write position. Writing past its end is impossible by the
/// length check in [`encode`]; were it to happen, a debug build panics (the
/// tests and fuzz targets would show it) and a release build drops the
/// bytes rather than panicking.
struct SliceOut<'o> {
    buf: &'o mut [u8],
    pos: usize,
}

impl Out for SliceOut<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        let dst = self.buf.get_mut(self.pos..end);
        debug_assert!(dst.is_some(), "encode wrote past its checked length");
        if let Some(dst) = dst {
            dst.copy_from_slice(bytes);
            self.pos = end;
        }
    }
}

/// A slice with a write position that notes, rather than writes, what
/// does not fit: for writing into room guessed, not measured, and starting
/// over when it was not enough.
#[cfg(feature = "server")]
struct TryOut<'o> {
    buf: &'o mut [u8],
    pos: usize,
    full: bool,
}

#[cfg(feature = "server")]
impl Out for TryOut<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos += bytes.len();
            }
            None => self.full = true,
        }
    }
}

/// Writes `prefix` (`name: `) and `value` as one line; an empty value as
/// `name:`.
fn put_field(out: &mut impl Out, prefix: &[u8], value: &[u8]) {
    if value.is_empty() {
        out.put(&prefix[..prefix.len() - 1]);
    } else {
        out.put(prefix);
        out.put(value);
    }
    out.put(b"\n");
}

/// Writes a checked event.
fn write(event: &Parts<'_>, out: &mut impl Out) {
    write_fields(event, out);
    if let Some(data) = event.data {
        // `data: ` then the line: the one space the parser removes is ours,
        // so a line's own leading space survives.
        for_each_line(data, |line| put_field(out, b"data: ", line));
    }
    out.put(b"\n");
}

/// Writes the fields of a checked event before its data.
fn write_fields(event: &Parts<'_>, out: &mut impl Out) {
    if let Some(c) = event.comment {
        put_field(out, b": ", c);
    }
    if let Some(t) = event.event {
        put_field(out, b"event: ", t);
    }
    if let Some(id) = event.id {
        put_field(out, b"id: ", id);
    }
    if let Some(delay) = event.retry {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = whole_millis(delay);
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        put_field(out, b"retry: ", &digits[at..]);
    }
}

/// Writes `event` at the start of `out` and returns the bytes written.
///
/// # Errors
///
/// [`EncodeError::LineBreak`] or [`EncodeError::NulInId`] when the event
/// cannot be written without changing its meaning, and
/// [`EncodeError::TooSmall`] when `out` is shorter than
/// [`encoded_len`]. On error, `out` is untouched.
///
/// # Example
///
/// ```
/// use sse_proto::{encode, EncodeError, EventRef, Line};
///
/// let mut buf = [0u8; 64];
/// let event = EventRef { event: Some("update"), id: Some("7"), data: Some("a\nb"), ..Default::default() };
/// let n = encode(&event, &mut buf)?;
/// assert_eq!(&buf[..n], b"event: update\nid: 7\ndata: a\ndata: b\n\n");
///
/// // A line break in the event type would inject a field: refused.
/// let bad = EventRef { event: Some("x\ndata: injected"), ..Default::default() };
/// assert_eq!(encode(&bad, &mut buf), Err(EncodeError::LineBreak { part: Line::Event, at: 1 }));
///
/// // Too small a buffer says how much is needed.
/// assert_eq!(encode(&event, &mut buf[..8]), Err(EncodeError::TooSmall { required: n, available: 8 }));
/// # Ok::<(), EncodeError>(())
/// ```
pub fn encode(event: &EventRef<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    let event = Parts::from(event);
    fits(&event, out.len())?;
    let mut out = SliceOut { buf: out, pos: 0 };
    write(&event, &mut out);
    Ok(out.pos)
}

#[cfg(feature = "alloc")]
pub use owned::{encode_to, ServerEvent};

#[cfg(feature = "alloc")]
mod owned {
    use super::{fits, write, EncodeError, EventRef, Out, Parts};
    use alloc::boxed::Box;
    use alloc::string::String;
    use bytes::{BufMut, Bytes, BytesMut};
    use core::fmt;
    use core::time::Duration;

    struct BufOut<'b, B: BufMut> {
        buf: &'b mut B,
        written: usize,
    }

    impl<B: BufMut> Out for BufOut<'_, B> {
        fn put(&mut self, bytes: &[u8]) {
            self.buf.put_slice(bytes);
            self.written += bytes.len();
        }
    }

    /// Writes `event` into `buf` (a `BytesMut`, a `Vec<u8>`, ...) and
    /// returns the bytes written.
    ///
    /// # Errors
    ///
    /// As [`encode`](super::encode); [`EncodeError::TooSmall`] when `buf`
    /// cannot grow enough (a fixed-size `BufMut`). On error, nothing is
    /// written.
    pub fn encode_to<B: BufMut>(event: &EventRef<'_>, buf: &mut B) -> Result<usize, EncodeError> {
        write_to(&Parts::from(event), buf)
    }

    fn write_to<B: BufMut>(event: &Parts<'_>, buf: &mut B) -> Result<usize, EncodeError> {
        // A growable buffer (`BytesMut`, `Vec`) has room for any event, so
        // the data is read once, as it is written.
        fits(event, buf.remaining_mut())?;
        let mut out = BufOut { buf, written: 0 };
        write(event, &mut out);
        Ok(out.written)
    }

    /// The longest event type, id or comment a [`ServerEvent`] keeps inline.
    const INLINE: usize = 22;

    /// An event type, id or comment: inline when short (no allocation, as
    /// nearly all are), on the heap otherwise. Canonical, so that the
    /// derived `Eq` and `Hash` compare the text: a text of at most
    /// [`INLINE`] bytes is always inline, zero-padded.
    #[derive(Clone, PartialEq, Eq, Hash)]
    enum Short {
        Inline(u8, [u8; INLINE]),
        Heap(Box<str>),
    }

    impl Short {
        #[inline]
        fn new(text: &str) -> Short {
            let bytes = text.as_bytes();
            match bytes.len() {
                len @ 0..=INLINE => {
                    let mut buf = [0; INLINE];
                    buf[..len].copy_from_slice(bytes);
                    Short::Inline(len as u8, buf)
                }
                _ => Short::Heap(Box::from(text)),
            }
        }

        #[inline]
        fn as_bytes(&self) -> &[u8] {
            match self {
                Short::Inline(len, buf) => &buf[..usize::from(*len)],
                Short::Heap(text) => text.as_bytes(),
            }
        }

        #[inline]
        fn len(&self) -> usize {
            match self {
                Short::Inline(len, _) => usize::from(*len),
                Short::Heap(text) => text.len(),
            }
        }

        fn as_str(&self) -> &str {
            match self {
                // Always valid: the bytes of a whole `str`.
                Short::Inline(len, buf) => {
                    core::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or_default()
                }
                Short::Heap(text) => text,
            }
        }
    }

    impl fmt::Debug for Short {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(self.as_str(), f)
        }
    }

    /// An event for a server to send, built in the shape axum and actix
    /// users know.
    ///
    /// Each setter replaces what an earlier call set. Validation happens when
    /// the event is written: [`ServerEvent::encode_to`] and
    /// [`ServerEvent::to_bytes`] refuse an event whose type, id or comment
    /// has a line break, or whose id has a NUL.
    ///
    /// Building one costs at most one allocation, for the data (none when
    /// the data is given as a `String`): an event type, id or comment of up
    /// to 22 bytes is kept inline.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use sse_proto::ServerEvent;
    ///
    /// let event = ServerEvent::default()
    ///     .event("tick")
    ///     .id("17")
    ///     .retry(Duration::from_secs(3))
    ///     .data("line one\nline two");
    /// assert_eq!(
    ///     event.to_bytes()?,
    ///     "event: tick\nid: 17\nretry: 3000\ndata: line one\ndata: line two\n\n"
    /// );
    ///
    /// // A keep-alive comment, and the event that resets the last event ID.
    /// assert_eq!(ServerEvent::default().comment("ping").to_bytes()?, ": ping\n\n");
    /// assert_eq!(ServerEvent::default().id("").to_bytes()?, "id:\n\n");
    /// # Ok::<(), sse_proto::EncodeError>(())
    /// ```
    #[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
    #[must_use = "an event does nothing until it is encoded or sent"]
    pub struct ServerEvent {
        comment: Option<Short>,
        event: Option<Short>,
        id: Option<Short>,
        retry: Option<Duration>,
        data: Option<String>,
    }

    impl ServerEvent {
        /// An empty event (written as a lone blank line).
        #[inline]
        pub fn new() -> Self {
            Self::default()
        }

        /// Sets the data. Line breaks of any kind become separate `data:`
        /// lines, which the client joins with LF. A `String` is kept as it
        /// is, not copied.
        #[inline]
        pub fn data(mut self, data: impl Into<String>) -> Self {
            self.data = Some(data.into());
            self
        }

        /// Sets the data to `value` serialised as JSON (one line: JSON
        /// escapes line breaks inside strings).
        ///
        /// # Errors
        ///
        /// When `value` cannot be serialised.
        #[cfg(feature = "serde")]
        pub fn json_data<T: serde::Serialize + ?Sized>(
            mut self,
            value: &T,
        ) -> Result<Self, serde_json::Error> {
            self.data = Some(serde_json::to_string(value)?);
            Ok(self)
        }

        /// Sets the event type: any text (`&str`, `String`, `Cow<str>`, ...),
        /// copied, inline when it is at most 22 bytes.
        ///
        /// ```
        /// use sse_proto::ServerEvent;
        ///
        /// let kind = String::from("update");
        /// let a = ServerEvent::new().event(&kind).data("x");
        /// let b = ServerEvent::new().event("update").data("x");
        /// assert_eq!(a, b);
        /// assert_eq!(a.to_bytes()?, "event: update\ndata: x\n\n");
        /// # Ok::<(), sse_proto::EncodeError>(())
        /// ```
        #[inline]
        pub fn event(mut self, event_type: impl AsRef<str>) -> Self {
            self.event = Some(Short::new(event_type.as_ref()));
            self
        }

        /// Sets the event ID; `""` resets the client's last event ID. Any
        /// text, copied as [`event`](Self::event) copies the type.
        ///
        /// ```
        /// use sse_proto::ServerEvent;
        ///
        /// let event = ServerEvent::new().id(42.to_string()).data("x");
        /// assert_eq!(event.to_bytes()?, "id: 42\ndata: x\n\n");
        /// # Ok::<(), sse_proto::EncodeError>(())
        /// ```
        #[inline]
        pub fn id(mut self, id: impl AsRef<str>) -> Self {
            self.id = Some(Short::new(id.as_ref()));
            self
        }

        /// Sets the reconnection time (sent in whole milliseconds, rounded
        /// down, saturating at `u64::MAX`).
        #[inline]
        pub fn retry(mut self, delay: Duration) -> Self {
            self.retry = Some(delay);
            self
        }

        /// Sets a comment, sent before the fields. Any text, copied as
        /// [`event`](Self::event) copies the type.
        ///
        /// ```
        /// use sse_proto::ServerEvent;
        ///
        /// assert_eq!(ServerEvent::new().comment(format!("{} left", 3)).to_bytes()?, ": 3 left\n\n");
        /// # Ok::<(), sse_proto::EncodeError>(())
        /// ```
        #[inline]
        pub fn comment(mut self, comment: impl AsRef<str>) -> Self {
            self.comment = Some(Short::new(comment.as_ref()));
            self
        }

        /// The event as an [`EventRef`], for [`encode`](super::encode).
        pub fn as_event_ref(&self) -> EventRef<'_> {
            EventRef {
                comment: self.comment.as_ref().map(Short::as_str),
                event: self.event.as_ref().map(Short::as_str),
                id: self.id.as_ref().map(Short::as_str),
                retry: self.retry,
                data: self.data.as_deref(),
            }
        }

        /// The parts as bytes, for the encoder (no UTF-8 check of the
        /// inline ones, unlike [`as_event_ref`](Self::as_event_ref)).
        #[inline]
        fn parts(&self) -> Parts<'_> {
            Parts {
                comment: self.comment.as_ref().map(Short::as_bytes),
                event: self.event.as_ref().map(Short::as_bytes),
                id: self.id.as_ref().map(Short::as_bytes),
                retry: self.retry,
                data: self.data.as_deref().map(str::as_bytes),
            }
        }

        /// Writes the event into `buf`; see [`encode_to`].
        ///
        /// # Errors
        ///
        /// As [`encode_to`].
        #[inline]
        pub fn encode_to<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
            write_to(&self.parts(), buf)
        }

        /// Whether the event has data, that is, whether a client dispatches
        /// it (a block of only `retry`, `id` or a comment is not an event).
        ///
        /// ```
        /// use sse_proto::ServerEvent;
        ///
        /// assert!(ServerEvent::new().data("").has_data());
        /// assert!(!ServerEvent::new().id("7").comment("no data").has_data());
        /// ```
        #[inline]
        pub fn has_data(&self) -> bool {
            self.data.is_some()
        }

        /// The bytes the event takes when its data is one line, found
        /// without reading the data: room to reserve before writing it.
        #[inline]
        pub(crate) fn size_hint(&self) -> usize {
            let part = |p: &Option<Short>| p.as_ref().map_or(0, |s| s.len() + 8);
            part(&self.comment)
                + part(&self.event)
                + part(&self.id)
                + self.data.as_ref().map_or(0, |d| d.len() + 8)
                + self.retry.map_or(0, |_| 28)
                + 1
        }

        /// Whether the data is one line of at least `min` bytes (read to
        /// the end to know): what a body sends as it is, not copied, with
        /// [`write_fields_to`](Self::write_fields_to) before it and
        /// [`into_data`](Self::into_data).
        #[cfg(feature = "server")]
        #[inline]
        pub(crate) fn is_long_line(&self, min: usize) -> bool {
            self.data
                .as_deref()
                .is_some_and(|d| d.len() >= min && super::find_break(d.as_bytes()).is_none())
        }

        /// Checks the event and writes everything before its data's one
        /// line: the fields and `data: `. The line itself and `\n\n` (its
        /// end and the blank line) complete it.
        #[cfg(feature = "server")]
        pub(crate) fn write_fields_to(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
            let parts = self.parts();
            super::check(&parts)?;
            let mut out = BufOut { buf, written: 0 };
            super::write_fields(&parts, &mut out);
            out.put(b"data: ");
            Ok(())
        }

        /// Checks the event and writes it at the start of `dst`, as
        /// [`encode_to`] would, when it fits: the bytes written, or `None`
        /// when `dst` is too short (its bytes are then of no use). The body
        /// writes into room it zeroed once per block, guessed from
        /// [`size_hint`](Self::size_hint), with the position in a register.
        #[cfg(feature = "server")]
        pub(crate) fn write_into(&self, dst: &mut [u8]) -> Result<Option<usize>, EncodeError> {
            let parts = self.parts();
            super::check(&parts)?;
            let mut out = super::TryOut {
                buf: dst,
                pos: 0,
                full: false,
            };
            write(&parts, &mut out);
            Ok((!out.full).then_some(out.pos))
        }

        /// The data, as it is: a `String` becomes `Bytes` without a copy.
        #[cfg(feature = "server")]
        pub(crate) fn into_data(self) -> Bytes {
            Bytes::from(self.data.unwrap_or_default())
        }

        /// The event's bytes.
        ///
        /// # Errors
        ///
        /// [`EncodeError::LineBreak`] or [`EncodeError::NulInId`].
        pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
            // Room for data of one line: enough for most events, and the
            // buffer grows for the others.
            let mut buf = BytesMut::with_capacity(self.size_hint());
            self.encode_to(&mut buf)?;
            Ok(buf.freeze())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::string::String;

    #[test]
    fn may_break_is_false_only_without_a_byte_below_14() {
        for len in 0..SHORT + 8 {
            let plain = [b'a'; 40];
            assert!(!may_break(&plain[..len]), "{len}");
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut v = plain;
                    v[at] = b;
                    assert_eq!(may_break(&v[..len]), b < 14, "len {len}, byte {b} at {at}");
                }
            }
        }
    }

    fn text(event: EventRef<'_>) -> String {
        let mut buf = [0u8; 256];
        let n = encode(&event, &mut buf).expect("encodes");
        assert_eq!(encoded_len(&event), Ok(n));
        String::from_utf8(buf[..n].to_vec()).expect("UTF-8")
    }

    #[test]
    fn data_lines_split_on_every_line_break() {
        let data = |d| EventRef {
            data: Some(d),
            ..Default::default()
        };
        assert_eq!(
            text(data("a\r\nb\rc\nd")),
            "data: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(text(data("")), "data:\n\n");
        assert_eq!(text(data("x\n")), "data: x\ndata:\n\n");
        assert_eq!(text(data(" lead")), "data:  lead\n\n");
        assert_eq!(text(data("\r\n\r\n")), "data:\ndata:\ndata:\n\n");
    }

    #[test]
    fn refusals_leave_the_buffer_untouched() {
        let cases = [
            (
                EventRef {
                    event: Some("a\rb"),
                    ..Default::default()
                },
                EncodeError::LineBreak {
                    part: Line::Event,
                    at: 1,
                },
            ),
            (
                EventRef {
                    id: Some("\n"),
                    ..Default::default()
                },
                EncodeError::LineBreak {
                    part: Line::Id,
                    at: 0,
                },
            ),
            (
                EventRef {
                    comment: Some("x\r\ny"),
                    ..Default::default()
                },
                EncodeError::LineBreak {
                    part: Line::Comment,
                    at: 1,
                },
            ),
            (
                EventRef {
                    id: Some("1\x002"),
                    ..Default::default()
                },
                EncodeError::NulInId { at: 1 },
            ),
        ];
        for (event, err) in cases {
            let mut buf = [0xAAu8; 64];
            assert_eq!(encode(&event, &mut buf), Err(err));
            assert_eq!(encoded_len(&event), Err(err));
            assert!(buf.iter().all(|&b| b == 0xAA));
        }
        let event = EventRef {
            data: Some("hello"),
            ..Default::default()
        };
        let mut small = [0xAAu8; 5];
        assert_eq!(
            encode(&event, &mut small),
            Err(EncodeError::TooSmall {
                required: 13,
                available: 5
            })
        );
        assert!(small.iter().all(|&b| b == 0xAA));
    }

    #[test]
    fn every_part_in_order() {
        let event = EventRef {
            comment: Some("hi"),
            event: Some("e"),
            id: Some("1"),
            retry: Some(Duration::ZERO),
            data: Some("d"),
        };
        assert_eq!(text(event), ": hi\nevent: e\nid: 1\nretry: 0\ndata: d\n\n");
        let max = EventRef {
            retry: Some(Duration::MAX),
            comment: Some(""),
            id: Some(""),
            ..Default::default()
        };
        assert_eq!(text(max), ":\nid:\nretry: 18446744073709551615\n\n");
    }

    #[test]
    fn the_one_pass_and_the_measured_path_write_the_same_bytes() {
        // A buffer of at least 8 bytes per data byte is written at once; a
        // smaller one is measured first. Both must agree, down to the exact
        // fit, and one byte less must be refused.
        let events = [
            EventRef {
                comment: Some("c"),
                event: Some("t"),
                id: Some(""),
                retry: Some(Duration::from_millis(1500)),
                data: Some("a\r\nb\rc\n"),
            },
            EventRef {
                data: Some("\n\n\n"),
                ..Default::default()
            },
            EventRef {
                data: Some(""),
                ..Default::default()
            },
            EventRef {
                id: Some("42"),
                ..Default::default()
            },
        ];
        for event in events {
            let n = encoded_len(&event).expect("valid");
            let mut big = [0u8; 256];
            let wrote = encode(&event, &mut big).expect("fits");
            assert_eq!(wrote, n, "{event:?}");
            let mut exact = std::vec![0u8; n];
            assert_eq!(encode(&event, &mut exact), Ok(n), "{event:?}");
            assert_eq!(exact[..], big[..n], "{event:?}");
            assert_eq!(
                encode(&event, &mut exact[..n - 1]),
                Err(EncodeError::TooSmall {
                    required: n,
                    available: n - 1
                })
            );
        }
        // The bound holds for the worst case: every byte a line break.
        let worst = "\r".repeat(50);
        let event = EventRef {
            data: Some(&worst),
            ..Default::default()
        };
        let n = encoded_len(&event).expect("valid");
        assert!(n <= 1 + data_len_bound(Some(worst.as_bytes())), "{n}");
    }

    #[test]
    fn digits_counts_decimal_digits() {
        for (n, d) in [(0, 1), (9, 1), (10, 2), (99, 2), (100, 3), (u64::MAX, 20)] {
            assert_eq!(digits(n), d, "{n}");
        }
    }

    /// Short parts are kept inline, long ones on the heap: either way the
    /// event reads back, compares, shows and is checked as the text it was
    /// given.
    #[cfg(feature = "alloc")]
    #[test]
    fn server_event_parts_read_back_at_either_side_of_the_inline_length() {
        let texts = [
            "",
            "a",
            &"x".repeat(22),
            &"x".repeat(23),
            &"é".repeat(11),
            &"é".repeat(12),
        ];
        for text in texts {
            let event = ServerEvent::new().comment(text).event(text).id(text);
            let r = event.as_event_ref();
            assert_eq!(
                (r.comment, r.event, r.id),
                (Some(text), Some(text), Some(text))
            );
            assert_eq!(event, ServerEvent::new().comment(text).event(text).id(text));
            assert_ne!(event, ServerEvent::new().comment(text).event(text).id("-"));
            // Debug shows each part as the text it was given, inline or not.
            let shown = std::format!(
                "ServerEvent {{ comment: Some({text:?}), event: Some({text:?}), id: Some({text:?}), retry: None, data: None }}"
            );
            assert_eq!(std::format!("{event:?}"), shown);
            let mut buf = [0u8; 256];
            let n = encode(&r, &mut buf).expect("valid");
            assert_eq!(event.to_bytes().expect("valid"), &buf[..n]);
            for (i, bad) in ["\r", "\n", "\0"].into_iter().enumerate() {
                let bad = std::format!("{text}{bad}{text}");
                let want = match i {
                    2 => EncodeError::NulInId { at: text.len() },
                    _ => EncodeError::LineBreak {
                        part: Line::Id,
                        at: text.len(),
                    },
                };
                let event = ServerEvent::new().id(&bad);
                assert_eq!(event.to_bytes(), Err(want), "{bad:?}");
                assert_eq!(encode(&event.as_event_ref(), &mut buf), Err(want));
            }
        }
    }

    /// The body's `write_into` writes what `to_bytes` does when it fits,
    /// says so when it does not (the body then uses `encode_to`), and
    /// writes nothing at a refusal.
    #[cfg(feature = "server")]
    #[test]
    fn write_into_writes_what_to_bytes_writes_or_says_it_did_not_fit() {
        let many = "\r\n".repeat(100);
        let datas = ["", "one line", "a\nb\r\nc\rd", &many, &"x\n".repeat(40)];
        for data in datas {
            let event = ServerEvent::new().event("t").id("7").data(data);
            let want = event.to_bytes().expect("valid");
            // Room to spare, exactly enough, one byte short.
            let mut room = std::vec![b'?'; want.len() + 10];
            let n = event.write_into(&mut room).expect("valid");
            assert_eq!(n, Some(want.len()), "{data:?}");
            assert_eq!(&room[..want.len()], &want[..], "{data:?}");
            assert!(room[want.len()..].iter().all(|&b| b == b'?'), "{data:?}");
            let n = event.write_into(&mut room[..want.len()]).expect("valid");
            assert_eq!(n, Some(want.len()), "{data:?}");
            let short = event.write_into(&mut room[..want.len() - 1]);
            assert_eq!(short, Ok(None), "{data:?}");
        }
        let bad = ServerEvent::new().id("a\nb").data(many.as_str());
        let mut room = std::vec![b'?'; 1024];
        assert_eq!(
            bad.write_into(&mut room),
            Err(EncodeError::LineBreak {
                part: Line::Id,
                at: 1
            })
        );
        assert!(room.iter().all(|&b| b == b'?'), "nothing written");
    }

    /// `ServerEvent::to_bytes` and the body adapter reserve `size_hint`
    /// bytes: enough for an event whose data is one line, and not much more.
    #[cfg(feature = "alloc")]
    #[test]
    fn size_hint_covers_an_event_with_one_line_of_data_and_little_more() {
        let text = "x".repeat(100);
        let text = text.as_str();
        let events = [
            ServerEvent::new(),
            ServerEvent::new().comment(text),
            ServerEvent::new().event(text),
            ServerEvent::new().id(text),
            ServerEvent::new().data(text),
            ServerEvent::new().data(""),
            ServerEvent::new().retry(Duration::MAX),
            ServerEvent::new()
                .comment("c")
                .event("e")
                .id("")
                .retry(Duration::from_millis(1500))
                .data(text),
            ServerEvent::new()
                .comment(text)
                .event(text)
                .id(text)
                .retry(Duration::MAX)
                .data(text),
        ];
        for event in events {
            let (hint, len) = (event.size_hint(), event.to_bytes().expect("valid").len());
            // A few bytes per part at most: `: ` is shorter than `event: `,
            // and a `retry` has room for 20 digits.
            assert!(len <= hint && hint <= len + 32, "{len} {hint} {event:?}");
        }
    }
}
