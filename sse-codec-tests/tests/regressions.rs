//! The failures found in today's SSE crates, one test each (the long line
//! over many chunks is in `alloc.rs`, where its work can be counted).

use std::time::Duration;

use bytes::Bytes;
use sse_proto::{Decoder, Event, Frame};

fn event(t: &str, d: &str, id: &str) -> Frame {
    Frame::Event(Event::new(t.to_owned(), d.to_owned(), id.to_owned()))
}

#[test]
fn blank_line_as_cr_at_chunk_end_dispatches_without_more_bytes() {
    for chunk in [&b"data: x\n\r"[..], b"data: x\r\r", b"data: x\r\n\r"] {
        let mut d = Decoder::new();
        d.push(Bytes::copy_from_slice(chunk));
        assert_eq!(
            d.next_frame(),
            Some(Ok(event("message", "x", ""))),
            "{chunk:?}"
        );
        // And the LF that may follow in the next chunk is not a second blank line.
        d.push(Bytes::from_static(b"\ndata: y\n\n"));
        assert_eq!(d.next_frame(), Some(Ok(event("message", "y", ""))));
    }
}

#[test]
fn bom_whole_or_split_never_panics_and_is_stripped_once() {
    let stream: &[u8] = b"\xEF\xBB\xBFdata: a\n\n";
    for cut1 in 0..=3 {
        for cut2 in cut1..=4 {
            let mut d = Decoder::new();
            let mut frames = Vec::new();
            for (a, b) in [(0, cut1), (cut1, cut2), (cut2, stream.len())] {
                frames.extend(d.frames(Bytes::copy_from_slice(&stream[a..b])));
            }
            assert_eq!(
                frames,
                [Ok(event("message", "a", ""))],
                "cuts {cut1} {cut2}"
            );
        }
    }
}

#[test]
fn invalid_utf8_neither_stalls_nor_ends_the_stream() {
    let mut d = Decoder::new();
    let mut frames = Vec::new();
    for chunk in [
        &b"data: \xF0\x9F"[..],
        b"\n\n",
        b"id: \xC0\xAF\nevent: \xFFx\ndata: ok\n\n",
        b"data: after\n\n",
    ] {
        frames.extend(d.frames(Bytes::copy_from_slice(chunk)));
    }
    assert_eq!(
        frames,
        [
            Ok(Frame::Event(Event::new("message", &b"\xF0\x9F"[..], ""))),
            Ok(Frame::Event(Event::new(
                &b"\xFFx"[..],
                "ok",
                &b"\xC0\xAF"[..]
            ))),
            Ok(Frame::Event(Event::new(
                "message",
                "after",
                &b"\xC0\xAF"[..]
            ))),
        ]
    );
    let Ok(Frame::Event(e)) = &frames[1] else {
        unreachable!()
    };
    assert_eq!(
        (&*e.event_type(), &*e.last_event_id()),
        ("\u{FFFD}x", "\u{FFFD}\u{FFFD}")
    );
    let Ok(Frame::Event(e)) = &frames[0] else {
        unreachable!()
    };
    assert_eq!(e.data(), "\u{FFFD}");
}

#[test]
fn seeded_last_event_id_survives_events_without_id() {
    let mut d = Decoder::new().with_last_event_id("42");
    let frames: Vec<_> = d
        .frames(Bytes::from_static(
            b"data: a\n\n: comment\n\nevent: x\ndata: b\n\n",
        ))
        .collect();
    assert_eq!(
        frames,
        [Ok(event("message", "a", "42")), Ok(event("x", "b", "42"))]
    );
    assert_eq!(d.last_event_id(), "42");
}

#[test]
fn retry_in_a_block_without_data_is_not_lost() {
    let mut d = Decoder::new();
    let frames: Vec<_> = d.frames(Bytes::from_static(b"retry: 3000\n\n")).collect();
    assert_eq!(frames, [Ok(Frame::Retry(Duration::from_secs(3)))]);
    assert_eq!(d.retry(), Some(Duration::from_secs(3)));
}

/// Found by the `parse` fuzz target: for a line without a colon the parser
/// handed out a static empty slice, not a piece of the chunk as `Sink`
/// promises (the decoder coped; a sink relying on the promise would not).
#[test]
fn every_piece_lies_inside_its_chunk_even_when_empty() {
    use sse_proto::{Field, Parser, Sink};
    use std::ops::ControlFlow;

    struct Inside<'c> {
        chunk: &'c [u8],
        pieces: usize,
    }
    impl<'a> Sink<'a> for Inside<'a> {
        type Break = std::convert::Infallible;
        fn value(&mut self, _: Field, part: &'a [u8], _: bool) -> ControlFlow<Self::Break> {
            let range = self.chunk.as_ptr_range();
            let inside = range.start <= part.as_ptr() && part.as_ptr_range().end <= range.end;
            assert!(inside, "a {}-byte piece outside its chunk", part.len());
            self.pieces += 1;
            ControlFlow::Continue(())
        }
        fn comment(&mut self, part: &'a [u8], last: bool) -> ControlFlow<Self::Break> {
            self.value(Field::Data, part, last)
        }
        fn dispatch(&mut self) -> ControlFlow<Self::Break> {
            ControlFlow::Continue(())
        }
    }

    for input in [
        &b"data\ndata\ndata\n\n"[..],
        b"id\r\n",
        b"data:\n",
        b"retry\r",
        b":\n",
        b"data: x\n",
    ] {
        for size in 1..=input.len() {
            let mut parser = Parser::new();
            let mut pieces = 0;
            for chunk in input.chunks(size) {
                let mut sink = Inside { chunk, pieces: 0 };
                let _ = parser.feed(chunk, &mut sink);
                pieces += sink.pieces;
            }
            assert!(pieces > 0, "{input:?}");
        }
    }
}
