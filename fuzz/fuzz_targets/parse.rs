//! `parse`: arbitrary bytes in arbitrary chunks (input format: `src/lib.rs`).
//!
//! - Nothing panics.
//! - The `Parser`'s pieces, reassembled, are the same for the chunked feed as
//!   for the whole stream in one chunk, also when the sink stops `feed` after
//!   every call and the rest of the chunk is fed again; the sink contract holds
//!   (pieces lie in the chunk, only the last piece of a line may be empty, a
//!   line's pieces are not interleaved with anything else).
//! - The `Decoder` gives the same frames, last event ID, retry and `finish`
//!   result for the chunks as for the whole stream, with a 64 KiB limit (and
//!   then never errors on an input smaller than that) and with a small limit
//!   taken from the header's knob (`knob² × 4` bytes): then no event or last
//!   event ID is over the limit, and the `retry` frames are the same as
//!   without it.
#![no_main]

use std::ops::ControlFlow;
use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sse_proto::{DecodeError, Decoder, Field, Frame, Parser, Sink};
use sse_proto_fuzz::{on_panic_describe, Input};

fuzz_target!(|data: &[u8]| {
    on_panic_describe(data);
    let input = Input::new(data);
    let chunks = input.chunks();

    // The parser.
    let whole = parse(&[input.stream], false);
    assert_eq!(parse(&chunks, false), whole, "parser: chunked != whole");
    assert_eq!(
        parse(&chunks, true),
        whole,
        "parser: chunked, stopping after every call != whole"
    );

    // The decoder, with a limit no input reaches.
    const BIG: usize = 64 * 1024;
    let whole = decode(&[input.stream], BIG);
    let chunked = decode(&chunks, BIG);
    assert_eq!(chunked, whole, "decoder (limit {BIG}): chunked != whole");
    if input.stream.len() < BIG {
        assert!(
            whole.frames.iter().all(Result::is_ok),
            "decoder error under the limit: {:?}",
            whole.frames
        );
    }

    // The decoder, with a small limit.
    let limit = usize::from(input.knob).pow(2) * 4;
    let small_whole = decode(&[input.stream], limit);
    let small_chunked = decode(&chunks, limit);
    small_chunked.same_as(&small_whole, limit);
    for run in [&small_whole, &small_chunked] {
        run.within(limit);
        run.offsets_in(input.stream.len());
        // `retry` is never counted nor skipped.
        assert_eq!(
            run.retries(),
            whole.retries(),
            "retry frames depend on the limit"
        );
        assert_eq!(run.retry, whole.retry);
    }
});

/// What the parser handed out, reassembled: one entry per line or blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Value(Field, Vec<u8>),
    Comment(Vec<u8>),
    Dispatch,
}

#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    pieces: Vec<Piece>,
    /// The last line, unterminated: what of it reached the sink.
    open: Option<Piece>,
    at_line_start: bool,
}

/// A sink that records, checks the sink contract and, with `pause`, stops
/// `feed` after every call.
struct Record {
    pieces: Vec<Piece>,
    open: Option<Piece>,
    /// The chunk being fed, as an address range.
    chunk: (usize, usize),
    pause: bool,
}

impl Record {
    fn part(&mut self, piece: Piece, part: &[u8], last: bool) -> ControlFlow<()> {
        // Every piece is a slice of the chunk, an empty one too: the decoder
        // finds where a piece is in the stream from its address.
        let start = part.as_ptr() as usize;
        assert!(
            start >= self.chunk.0 && start + part.len() <= self.chunk.1,
            "a piece outside the chunk ({} bytes)",
            part.len()
        );
        assert!(last || !part.is_empty(), "an empty piece before the last");
        let mut open = match self.open.take() {
            None => piece,
            Some(open) => {
                assert!(
                    same_kind(&open, &piece),
                    "{piece:?} interrupts the unfinished {open:?}"
                );
                open
            }
        };
        match &mut open {
            Piece::Value(_, buf) | Piece::Comment(buf) => buf.extend_from_slice(part),
            Piece::Dispatch => unreachable!(),
        }
        if last {
            self.pieces.push(open);
        } else {
            self.open = Some(open);
        }
        self.next()
    }

    fn next(&self) -> ControlFlow<()> {
        if self.pause {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn same_kind(a: &Piece, b: &Piece) -> bool {
    match (a, b) {
        (Piece::Value(f, _), Piece::Value(g, _)) => f == g,
        (Piece::Comment(_), Piece::Comment(_)) => true,
        _ => false,
    }
}

impl<'a> Sink<'a> for Record {
    type Break = ();

    fn value(&mut self, field: Field, part: &'a [u8], last: bool) -> ControlFlow<()> {
        self.part(Piece::Value(field, Vec::new()), part, last)
    }

    fn comment(&mut self, part: &'a [u8], last: bool) -> ControlFlow<()> {
        self.part(Piece::Comment(Vec::new()), part, last)
    }

    fn dispatch(&mut self) -> ControlFlow<()> {
        assert!(
            self.open.is_none(),
            "a blank line interrupts the unfinished {:?}",
            self.open
        );
        self.pieces.push(Piece::Dispatch);
        self.next()
    }
}

fn parse(chunks: &[&[u8]], pause: bool) -> Parsed {
    let mut parser = Parser::new();
    let mut sink = Record {
        pieces: Vec::new(),
        open: None,
        chunk: (0, 0),
        pause,
    };
    // Each feed hands out at most one piece per line and one blank line per
    // byte: more feeds than this means `feed` stopped without progress.
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let mut feeds_left = 3 * (total + chunks.len()) + 16;
    for &chunk in chunks {
        let mut rest = chunk;
        loop {
            sink.chunk = (rest.as_ptr() as usize, rest.as_ptr() as usize + rest.len());
            feeds_left = feeds_left.checked_sub(1).expect("feed makes no progress");
            match parser.feed(rest, &mut sink) {
                ControlFlow::Continue(()) => break,
                ControlFlow::Break(stopped) => {
                    assert!(pause, "feed stopped, but the sink never breaks");
                    assert!(stopped.consumed <= rest.len(), "consumed past the chunk");
                    rest = &rest[stopped.consumed..];
                }
            }
        }
    }
    Parsed {
        pieces: sink.pieces,
        open: sink.open,
        at_line_start: parser.at_line_start(),
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    frames: Vec<Result<Frame, DecodeError>>,
    last_event_id: Vec<u8>,
    retry: Option<Duration>,
    dropped: bool,
    /// The same after `finish` (which must keep them).
    last_event_id_after: Vec<u8>,
    retry_after: Option<Duration>,
}

fn decode(chunks: &[&[u8]], limit: usize) -> Decoded {
    let mut decoder = Decoder::new().max_event_size(limit);
    let mut frames = Vec::new();
    for &chunk in chunks {
        decoder.push(Bytes::copy_from_slice(chunk));
        loop {
            let before = decoder.pending_input();
            match decoder.next_frame() {
                Some(frame) => {
                    // A frame comes from a line end, or from a value over the limit.
                    assert!(
                        decoder.pending_input() < before
                            || matches!(frame, Err(DecodeError::TooLarge { .. })),
                        "a frame from no input: {frame:?}"
                    );
                    frames.push(frame);
                }
                None => {
                    assert_eq!(
                        decoder.pending_input(),
                        0,
                        "next_frame returned None with input left"
                    );
                    break;
                }
            }
        }
    }
    let last_event_id = decoder.last_event_id_bytes().to_vec();
    let retry = decoder.retry();
    let dropped = decoder.finish();
    Decoded {
        frames,
        last_event_id,
        retry,
        dropped,
        last_event_id_after: decoder.last_event_id_bytes().to_vec(),
        retry_after: decoder.retry(),
    }
}

impl Decoded {
    fn retries(&self) -> Vec<Duration> {
        self.frames
            .iter()
            .filter_map(|f| match f {
                Ok(Frame::Retry(delay)) => Some(*delay),
                _ => None,
            })
            .collect()
    }

    /// Equal to `whole`, the same stream decoded in one chunk, except for
    /// error offsets: the piece that crosses the limit may start later when
    /// its line is split, but not earlier.
    fn same_as(&self, whole: &Decoded, limit: usize) {
        let strip = |d: &Decoded| {
            d.frames
                .iter()
                .map(|f| match f {
                    Err(DecodeError::TooLarge { limit, .. }) => Err(*limit),
                    Ok(frame) => Ok(frame.clone()),
                    Err(e) => panic!("unexpected error {e:?}"),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(self),
            strip(whole),
            "decoder (limit {limit}): chunked != whole"
        );
        for (c, w) in self.frames.iter().zip(&whole.frames) {
            if let (
                Err(DecodeError::TooLarge { offset: c, .. }),
                Err(DecodeError::TooLarge { offset: w, .. }),
            ) = (c, w)
            {
                assert!(c >= w, "error offset {c} chunked is before {w} whole");
            }
        }
        let rest = |d: &Decoded| {
            (
                d.last_event_id.clone(),
                d.retry,
                d.dropped,
                d.last_event_id_after.clone(),
                d.retry_after,
            )
        };
        assert_eq!(
            rest(self),
            rest(whole),
            "decoder (limit {limit}): chunked != whole"
        );
    }

    /// Error offsets are in the stream, in order.
    fn offsets_in(&self, len: usize) {
        let mut previous = 0;
        for frame in &self.frames {
            if let Err(DecodeError::TooLarge { offset, .. }) = frame {
                assert!(*offset <= len as u64, "error offset {offset} past the end");
                assert!(
                    *offset >= previous,
                    "error offset {offset} before {previous}"
                );
                previous = *offset;
            }
        }
    }

    /// Nothing held is over the limit.
    fn within(&self, limit: usize) {
        for frame in &self.frames {
            if let Ok(Frame::Event(e)) = frame {
                let data = e.data_bytes().len();
                assert!(data <= limit, "{data} bytes of data over the limit {limit}");
                let id = e.last_event_id_bytes().len();
                assert!(
                    id <= limit,
                    "a {id}-byte last event ID over the limit {limit}"
                );
                // An empty type reads `message`: only a set type is counted.
                let ty = e.event_type_bytes();
                if &ty[..] != b"message" {
                    assert!(
                        data + ty.len() <= limit,
                        "{data} bytes of data and {} of type over the limit {limit}",
                        ty.len()
                    );
                }
            }
        }
        assert!(self.last_event_id.len() <= limit);
    }
}
