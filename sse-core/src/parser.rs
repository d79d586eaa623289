//! The incremental, push-based, zero-allocation parser; its docs are on
//! [`Parser`].

use core::ops::ControlFlow;

/// A field the standard gives meaning to.
///
/// Lines naming any other field are ignored by the parser and never reach
/// the [`Sink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `event`: sets the event type buffer.
    Event,
    /// `data`: appends the value and a LF to the data buffer.
    Data,
    /// `id`: sets the last event ID buffer, unless the value contains NUL.
    Id,
    /// `retry`: sets the reconnection time, if the value is all ASCII digits.
    Retry,
}

impl Field {
    /// The field's name as it appears on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Event => "event",
            Field::Data => "data",
            Field::Id => "id",
            Field::Retry => "retry",
        }
    }

    /// The field a name stands for; `None` for any name the standard ignores.
    /// Names are case-sensitive: `Data` is not `data`.
    pub fn from_name(name: &[u8]) -> Option<Field> {
        match name {
            b"data" => Some(Field::Data),
            b"event" => Some(Field::Event),
            b"id" => Some(Field::Id),
            b"retry" => Some(Field::Retry),
            _ => None,
        }
    }
}

/// Receives what the [`Parser`] finds in a chunk.
///
/// `'a` is the lifetime of the chunk: every piece is borrowed from it, so a
/// sink that holds the chunk as reference-counted bytes can keep a piece
/// without copying it.
///
/// Each method may return [`ControlFlow::Break`] to stop
/// [`Parser::feed`] right after the piece or blank line it was given; `feed`
/// then reports how many bytes it consumed, and the caller resumes by feeding
/// the rest of the chunk. This is how a decoder hands out one event at a time
/// without a queue, and how a sink reports an error.
pub trait Sink<'a> {
    /// What the sink returns to stop [`Parser::feed`] early: an error, or just
    /// a pause (use [`core::convert::Infallible`] for a sink that never stops).
    type Break;

    /// A piece of the value of a `field` line.
    ///
    /// A value arrives in one or more pieces; `last` is `true` on the final
    /// piece, at the line's end. Pieces before the last are never empty; the
    /// last may be empty (for `data:` or a `data` line without a colon, the
    /// only call is an empty last piece). The leading space has already been
    /// removed.
    fn value(&mut self, field: Field, part: &'a [u8], last: bool) -> ControlFlow<Self::Break>;

    /// A piece of a comment: the text after the leading `:` (no space is
    /// removed). Pieces arrive as for [`Sink::value`]. Comments carry no
    /// meaning; the default implementation ignores them.
    fn comment(&mut self, part: &'a [u8], last: bool) -> ControlFlow<Self::Break> {
        let _ = (part, last);
        ControlFlow::Continue(())
    }

    /// A blank line: the standard's "dispatch the event" step.
    fn dispatch(&mut self) -> ControlFlow<Self::Break>;
}

/// Where [`Parser::feed`] stopped because the sink returned
/// [`ControlFlow::Break`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped<B> {
    /// Bytes of the chunk consumed, up to and including what was handed to
    /// the sink when it stopped. Feed the rest (`&chunk[consumed..]`) to go on.
    pub consumed: usize,
    /// What the sink returned.
    pub value: B,
}

/// The field a line starts with and the length of its name, when the line
/// starts with a known name and its colon (`rest` starts at the line).
/// Names are case-sensitive and end at the first colon, so a prefix match is
/// the whole test.
#[inline]
fn known_field(rest: &[u8]) -> Option<(Field, usize)> {
    match rest {
        [b'd', b'a', b't', b'a', b':', ..] => Some((Field::Data, 4)),
        [b'i', b'd', b':', ..] => Some((Field::Id, 2)),
        [b'e', b'v', b'e', b'n', b't', b':', ..] => Some((Field::Event, 5)),
        [b'r', b'e', b't', b'r', b'y', b':', ..] => Some((Field::Retry, 5)),
        _ => None,
    }
}

/// The byte order mark, stripped once at the start of a stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The longest field name the parser must recognise (`event`, `retry`).
const MAX_NAME: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of the stream, `n` bytes of a BOM seen so far.
    Bom(u8),
    /// At the start of a line.
    LineStart,
    /// Inside a field name; `Parser::name[..name_len]` holds it so far.
    Name,
    /// Right after a field's colon, where one space is skipped.
    ValueStart(Field),
    /// Inside a field's value.
    Value(Field),
    /// Inside a comment.
    Comment,
    /// Inside a line that is ignored (unknown field name).
    SkipLine,
}

/// The incremental parser.
///
/// [`Parser::feed`] takes chunks of any size, split anywhere, and calls a
/// [`Sink`] with borrowed pieces of the chunk: field values (in several pieces
/// when a line spans chunks), comments, and dispatch points (blank lines). It
/// keeps O(1) state between chunks (a few bytes: the field name so far, a
/// pending CR, the BOM matcher), never copies or allocates, and hands out
/// each byte of a long line once, however many chunks it spans.
///
/// The rules are those of the WHATWG HTML standard, section "Server-sent
/// events", "Interpreting an event stream":
///
/// - A line ends at CRLF, LF or CR. A CR ending one chunk and an LF starting
///   the next are one line end, and a CR ends its line at once: the parser
///   never waits for the next chunk to learn whether an LF follows.
/// - One UTF-8 byte order mark at the very start of the stream is skipped,
///   even when it arrives split over chunks.
/// - A line starting with `:` is a comment. Otherwise the field name runs to
///   the first `:`, and one leading space of the value is removed. A line
///   without a colon is a field name with an empty value. Names are
///   case-sensitive; names other than `event`, `data`, `id` and `retry` are
///   ignored.
///
/// The parser hands out bytes, not text. Every delimiter of the format is
/// ASCII, so splitting the raw bytes and decoding each value as UTF-8 with
/// replacement afterwards gives the same result as decoding the whole stream
/// first, which is what the standard describes.
///
/// It holds a few bytes of state: where it is in a line, a field name of at
/// most five bytes split across chunks, whether the previous chunk ended in a
/// CR, and how much of a BOM it has seen.
///
/// # Example
///
/// ```
/// use core::ops::ControlFlow;
/// use sse_proto::{Field, Parser, Sink};
///
/// /// Counts the data lines and events of a stream.
/// #[derive(Default)]
/// struct Count { data_lines: usize, blank_lines: usize }
///
/// impl<'a> Sink<'a> for Count {
///     type Break = core::convert::Infallible;
///     fn value(&mut self, f: Field, _part: &'a [u8], last: bool) -> ControlFlow<Self::Break> {
///         if f == Field::Data && last { self.data_lines += 1 }
///         ControlFlow::Continue(())
///     }
///     fn dispatch(&mut self) -> ControlFlow<Self::Break> {
///         self.blank_lines += 1;
///         ControlFlow::Continue(())
///     }
/// }
///
/// let mut parser = Parser::new();
/// let mut count = Count::default();
/// // A CRLF split over two chunks is one line end.
/// for chunk in [&b"data: a\r"[..], b"\ndata: b\n", b"\n"] {
///     let _ = parser.feed(chunk, &mut count);
/// }
/// assert_eq!((count.data_lines, count.blank_lines), (2, 1));
/// ```
#[derive(Debug, Clone)]
pub struct Parser {
    state: State,
    /// The previous chunk ended in a CR: an LF starting this one belongs to it.
    after_cr: bool,
    name_len: u8,
    name: [u8; MAX_NAME],
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser at the start of a stream.
    pub const fn new() -> Self {
        Parser {
            state: State::Bom(0),
            after_cr: false,
            name_len: 0,
            name: [0; MAX_NAME],
        }
    }

    /// Whether the parser is at the start of a line, with no partial line
    /// pending. At the end of a stream, `false` means its last line had no
    /// line end (and so was never processed, as the standard says).
    pub fn at_line_start(&self) -> bool {
        matches!(self.state, State::Bom(0) | State::LineStart)
    }

    /// Ends the stream: a partial line is dropped, and the parser is ready
    /// for a new stream (whose BOM is stripped again).
    ///
    /// An event whose blank line never came is not dispatched, as the
    /// standard says; the sink, which holds the event's fields, must drop
    /// them too.
    pub fn finish(&mut self) {
        *self = Parser::new();
    }

    /// Feeds a chunk, calling `sink` for each piece and blank line in it.
    ///
    /// Returns [`ControlFlow::Continue`] once the whole chunk is consumed, or
    /// [`ControlFlow::Break`] with [`Stopped`] when the sink stopped early.
    /// The parser cannot fail: any bytes are a valid stream.
    pub fn feed<'a, S: Sink<'a>>(
        &mut self,
        chunk: &'a [u8],
        sink: &mut S,
    ) -> ControlFlow<Stopped<S::Break>> {
        // Each arm moves `pos` forward, updates `self.state` first and only
        // then calls the sink, so that a break leaves the parser ready to go
        // on at `consumed`.
        macro_rules! call {
            ($call:expr, $consumed:expr) => {
                if let ControlFlow::Break(value) = $call {
                    return ControlFlow::Break(Stopped {
                        consumed: $consumed,
                        value,
                    });
                }
            };
        }

        let len = chunk.len();
        let mut pos = 0;
        while pos < len {
            match self.state {
                State::Bom(seen) => {
                    let seen = usize::from(seen);
                    if chunk[pos] == BOM[seen] {
                        pos += 1;
                        self.state = if seen + 1 == BOM.len() {
                            State::LineStart
                        } else {
                            State::Bom(seen as u8 + 1)
                        };
                    } else if seen == 0 {
                        self.state = State::LineStart;
                    } else {
                        // A partial BOM: those bytes decode to U+FFFD and start
                        // the first line's field name, which is then no name
                        // the standard knows. The line is ignored.
                        self.state = State::SkipLine;
                    }
                }
                State::LineStart => {
                    let byte = chunk[pos];
                    if self.after_cr {
                        self.after_cr = false;
                        if byte == b'\n' {
                            pos += 1;
                            continue;
                        }
                    }
                    match byte {
                        b'\r' | b'\n' => {
                            pos = self.line_end(chunk, pos);
                            call!(sink.dispatch(), pos);
                        }
                        b':' => {
                            pos += 1;
                            self.state = State::Comment;
                        }
                        _ => match known_field(&chunk[pos..]) {
                            // The common case, a known name and its colon
                            // whole in the chunk, without the name state.
                            Some((field, name_len)) => {
                                pos += name_len + 1;
                                match chunk.get(pos) {
                                    Some(b' ') => {
                                        pos += 1;
                                        self.state = State::Value(field);
                                    }
                                    Some(_) => self.state = State::Value(field),
                                    None => self.state = State::ValueStart(field),
                                }
                            }
                            None => {
                                self.name_len = 0;
                                self.state = State::Name;
                            }
                        },
                    }
                }
                State::Name => {
                    let have = usize::from(self.name_len);
                    // A known name is at most MAX_NAME bytes, so its
                    // delimiter is within the next MAX_NAME + 1 - have bytes.
                    let room = MAX_NAME + 1 - have;
                    let window = &chunk[pos..len.min(pos + room)];
                    match window
                        .iter()
                        .position(|&b| matches!(b, b':' | b'\r' | b'\n'))
                    {
                        Some(i) => {
                            let field = if have == 0 {
                                Field::from_name(&window[..i])
                            } else {
                                self.name[have..have + i].copy_from_slice(&window[..i]);
                                Field::from_name(&self.name[..have + i])
                            };
                            pos += i;
                            if chunk[pos] == b':' {
                                pos += 1;
                                self.state = match field {
                                    Some(f) => State::ValueStart(f),
                                    None => State::SkipLine,
                                };
                            } else {
                                // No colon: the whole line is the name and the
                                // value is empty. The empty piece is still a
                                // piece of the chunk, as `Sink` promises.
                                let end = pos;
                                pos = self.line_end(chunk, pos);
                                if let Some(f) = field {
                                    call!(sink.value(f, &chunk[end..end], true), pos);
                                }
                            }
                        }
                        None if window.len() == room => {
                            // Longer than any known name.
                            pos += room;
                            self.state = State::SkipLine;
                        }
                        None => {
                            // The chunk ends inside a short name: keep it.
                            self.name[have..have + window.len()].copy_from_slice(window);
                            self.name_len = (have + window.len()) as u8;
                            pos = len;
                        }
                    }
                }
                State::ValueStart(field) => {
                    if chunk[pos] == b' ' {
                        pos += 1;
                    }
                    self.state = State::Value(field);
                }
                State::Value(field) => {
                    let rest = &chunk[pos..];
                    match memchr::memchr2(b'\r', b'\n', rest) {
                        Some(i) => {
                            pos = self.line_end(chunk, pos + i);
                            call!(sink.value(field, &rest[..i], true), pos);
                        }
                        None => {
                            pos = len;
                            call!(sink.value(field, rest, false), pos);
                        }
                    }
                }
                State::Comment => {
                    let rest = &chunk[pos..];
                    match memchr::memchr2(b'\r', b'\n', rest) {
                        Some(i) => {
                            pos = self.line_end(chunk, pos + i);
                            call!(sink.comment(&rest[..i], true), pos);
                        }
                        None => {
                            pos = len;
                            call!(sink.comment(rest, false), pos);
                        }
                    }
                }
                State::SkipLine => match memchr::memchr2(b'\r', b'\n', &chunk[pos..]) {
                    Some(i) => pos = self.line_end(chunk, pos + i),
                    None => pos = len,
                },
            }
        }
        ControlFlow::Continue(())
    }

    /// Consumes the line end at `chunk[at]` (a CR or LF) and returns the
    /// position after it. A CRLF whose LF is in the same chunk is consumed
    /// whole; a CR at the end of the chunk is remembered so that an LF
    /// starting the next chunk is skipped.
    #[inline]
    fn line_end(&mut self, chunk: &[u8], at: usize) -> usize {
        self.state = State::LineStart;
        if chunk[at] == b'\r' {
            match chunk.get(at + 1) {
                Some(b'\n') => return at + 2,
                Some(_) => {}
                None => self.after_cr = true,
            }
        }
        at + 1
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// Records everything as text, one entry per call, for assertions.
    #[derive(Default)]
    struct Record(Vec<String>);

    impl<'a> Sink<'a> for Record {
        type Break = core::convert::Infallible;
        fn value(&mut self, f: Field, part: &'a [u8], last: bool) -> ControlFlow<Self::Break> {
            let part = String::from_utf8_lossy(part);
            let end = if last { "$" } else { "" };
            self.0.push(std::format!("{}={part}{end}", f.name()));
            ControlFlow::Continue(())
        }
        fn comment(&mut self, part: &'a [u8], last: bool) -> ControlFlow<Self::Break> {
            let part = String::from_utf8_lossy(part);
            let end = if last { "$" } else { "" };
            self.0.push(std::format!(":{part}{end}"));
            ControlFlow::Continue(())
        }
        fn dispatch(&mut self) -> ControlFlow<Self::Break> {
            self.0.push(String::from("!"));
            ControlFlow::Continue(())
        }
    }

    fn parse(chunks: &[&[u8]]) -> Vec<String> {
        let mut p = Parser::new();
        let mut r = Record::default();
        for c in chunks {
            assert!(p.feed(c, &mut r).is_continue());
        }
        r.0
    }

    #[test]
    fn fields_comments_and_blank_lines() {
        let got = parse(&[b"event: e\ndata:x\nid: 1\nretry: 5\n: hi\n\n"]);
        assert_eq!(
            got,
            ["event=e$", "data=x$", "id=1$", "retry=5$", ": hi$", "!"]
        );
    }

    #[test]
    fn one_leading_space_only() {
        assert_eq!(parse(&[b"data:  x\n"]), ["data= x$"]);
        assert_eq!(parse(&[b"data:\tx\n"]), ["data=\tx$"]);
        // The space is skipped even when it starts the next chunk.
        assert_eq!(parse(&[b"data:", b" x\n"]), ["data=x$"]);
    }

    #[test]
    fn line_without_colon_is_a_name_with_empty_value() {
        assert_eq!(parse(&[b"data\nid\n\n"]), ["data=$", "id=$", "!"]);
        assert_eq!(parse(&[b"da", b"ta\r"]), ["data=$"]);
    }

    #[test]
    fn unknown_and_case_sensitive_names_are_ignored() {
        let got = parse(&[b"Data: x\nDATA\nfoo: bar\ndata : x\nretryy: 1\nevents:\n"]);
        assert!(got.is_empty(), "{got:?}");
    }

    /// Joins the pieces of each value into one entry.
    fn joined(entries: Vec<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in entries {
            match out.last_mut() {
                Some(prev) if !prev.ends_with('$') && !prev.ends_with('!') => {
                    let (_, piece) = e.split_once('=').unwrap_or(("", &e));
                    prev.push_str(piece);
                }
                _ => out.push(e),
            }
        }
        out
    }

    #[test]
    fn unknown_names_whole_or_split_are_skipped_and_the_next_line_is_kept() {
        let whole = b"data: x\nretryy: 1\nidentity\ndata: y\n";
        assert_eq!(parse(&[whole]), ["data=x$", "data=y$"]);
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            assert_eq!(
                joined(parse(&[a, b])),
                ["data=x$", "data=y$"],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn name_and_value_split_anywhere() {
        let whole = b"retry: 10\nevent: a\n";
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            assert_eq!(
                joined(parse(&[a, b])),
                ["retry=10$", "event=a$"],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn cr_lf_and_crlf_line_ends() {
        assert_eq!(
            parse(&[b"data:a\rdata:b\r\ndata:c\n\r"]),
            ["data=a$", "data=b$", "data=c$", "!"]
        );
        // CR LF split over chunks is one line end, not a line end and a blank line.
        assert_eq!(parse(&[b"data:a\r", b"\n"]), ["data=a$"]);
        assert_eq!(parse(&[b"data:a\r", b"\r"]), ["data=a$", "!"]);
        // LF CR is two line ends.
        assert_eq!(parse(&[b"data:a\n\r"]), ["data=a$", "!"]);
    }

    #[test]
    fn cr_at_chunk_end_dispatches_at_once() {
        let mut p = Parser::new();
        let mut r = Record::default();
        let _ = p.feed(b"data: x\r\r", &mut r);
        assert_eq!(r.0, ["data=x$", "!"]);
    }

    #[test]
    fn value_split_over_chunks() {
        assert_eq!(
            parse(&[b"data: ab", b"cd", b"ef\n"]),
            ["data=ab", "data=cd", "data=ef$"]
        );
        assert_eq!(parse(&[b"data: ab", b"\n"]), ["data=ab", "data=$"]);
    }

    #[test]
    fn bom_stripped_once_even_split() {
        assert_eq!(parse(&[b"\xEF\xBB\xBFdata:x\n"]), ["data=x$"]);
        assert_eq!(parse(&[b"\xEF", b"\xBB", b"\xBFdata:x\n"]), ["data=x$"]);
        // A second BOM is part of the first name, which is then unknown.
        assert!(parse(&[b"\xEF\xBB\xBF\xEF\xBB\xBFdata:x\n"]).is_empty());
        // A partial BOM too.
        assert!(parse(&[b"\xEF\xBBdata:x\n"]).is_empty());
        assert_eq!(parse(&[b"\xEF\xBB", b"\n", b"data:x\n"]), ["data=x$"]);
        // Not at the start: part of a value.
        assert_eq!(parse(&[b"data:\xEF\xBB\xBF\n"]), ["data=\u{FEFF}$"]);
    }

    #[test]
    fn finish_starts_a_new_stream() {
        let mut p = Parser::new();
        let mut r = Record::default();
        let _ = p.feed(b"\xEF\xBB\xBFdata:x", &mut r);
        assert!(!p.at_line_start());
        p.finish();
        assert!(p.at_line_start());
        let _ = p.feed(b"\xEF\xBB\xBFid:1\n", &mut r);
        assert_eq!(r.0, ["data=x", "id=1$"]);
    }

    /// Stops after every call, to check that resuming loses nothing.
    struct Pause(Record);
    impl<'a> Sink<'a> for Pause {
        type Break = ();
        fn value(&mut self, f: Field, part: &'a [u8], last: bool) -> ControlFlow<()> {
            let _ = self.0.value(f, part, last);
            ControlFlow::Break(())
        }
        fn comment(&mut self, part: &'a [u8], last: bool) -> ControlFlow<()> {
            let _ = self.0.comment(part, last);
            ControlFlow::Break(())
        }
        fn dispatch(&mut self) -> ControlFlow<()> {
            let _ = self.0.dispatch();
            ControlFlow::Break(())
        }
    }

    #[test]
    fn resuming_after_a_break_loses_nothing() {
        let input: &[u8] = b"data: a\r\n:c\r\ndata\r\n\r\nid: 7\rretry\n\n";
        let mut p = Parser::new();
        let mut s = Pause(Record::default());
        let mut rest = input;
        let mut rounds = 0;
        while let ControlFlow::Break(stop) = p.feed(rest, &mut s) {
            rest = &rest[stop.consumed..];
            rounds += 1;
            assert!(rounds < 100);
        }
        assert_eq!(s.0 .0, parse(&[input]));
        assert_eq!(rounds, 7);
    }
}
