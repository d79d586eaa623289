//! The failures found in today's SSE crates, one test each (the long line
//! over many chunks is in `alloc.rs`, where its work can be counted).

use bytes::Bytes;
use sse_core::{Decoder, Event, Frame};

fn event(t: &str, d: &str, id: &str) -> Frame {
    Frame::Event(Event::new(t.to_owned(), d.to_owned(), id.to_owned()))
}

#[test]
fn blank_line_as_cr_at_chunk_end_dispatches_without_more_bytes() {
    for chunk in [&b"data: x\n\r"[..], b"data: x\r\r", b"data: x\r\n\r"] {
        let mut d = Decoder::new();
        let mut input = Bytes::copy_from_slice(chunk);
        assert_eq!(
            d.decode(&mut input),
            Some(Ok(event("message", "x", ""))),
            "{chunk:?}"
        );
        // And the LF that may follow in the next chunk is not a second blank line.
        let mut next = Bytes::from_static(b"\ndata: y\n\n");
        assert_eq!(d.decode(&mut next), Some(Ok(event("message", "y", ""))));
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
    assert_eq!(frames, [Ok(Frame::Retry(3000))]);
    assert_eq!(d.retry(), Some(3000));
}
