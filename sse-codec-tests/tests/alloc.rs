//! Heap allocations, counted by a global allocator: none in the parser, few
//! in the decoder, and growth (not re-scanning) for one long line.

// A global allocator cannot be written without `unsafe`; it is confined to the
// counting wrapper below, which defers every call to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ops::ControlFlow;

use bytes::Bytes;
use sse_proto::{Decoder, Field, Frame, Parser, Sink};

/// Counts the allocations made by the current thread (tests run on several
/// threads; each counts only its own).
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every call to `System`, only counting; the thread-local is
// const-initialised, so reading it never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCS.with(Cell::get);
    let out = f();
    (out, ALLOCS.with(Cell::get) - before)
}

/// A typical API stream: small JSON events with ids and types, a comment now
/// and then, CRLF and LF mixed.
fn small_events(n: usize) -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..n {
        let end: &[u8] = if i % 3 == 0 { b"\r\n" } else { b"\n" };
        s.extend_from_slice(format!("id: {i}").as_bytes());
        s.extend_from_slice(end);
        s.extend_from_slice(b"event: update");
        s.extend_from_slice(end);
        s.extend_from_slice(
            format!("data: {{\"seq\":{i},\"text\":\"caf\u{e9} \u{1F600}\"}}").as_bytes(),
        );
        s.extend_from_slice(end);
        if i % 10 == 0 {
            s.extend_from_slice(b": keep-alive\n");
        }
        s.extend_from_slice(end);
    }
    s
}

/// Counts what the parser hands out, without keeping any of it.
#[derive(Default)]
struct Tally {
    value_bytes: usize,
    pieces: usize,
    events: usize,
}

impl<'a> Sink<'a> for Tally {
    type Break = std::convert::Infallible;
    fn value(&mut self, _: Field, part: &'a [u8], _: bool) -> ControlFlow<Self::Break> {
        self.value_bytes += part.len();
        self.pieces += 1;
        ControlFlow::Continue(())
    }
    fn dispatch(&mut self) -> ControlFlow<Self::Break> {
        self.events += 1;
        ControlFlow::Continue(())
    }
}

#[test]
fn parser_makes_no_allocation() {
    let stream = small_events(20_000);
    assert!(stream.len() > 1_000_000);
    for chunk in [1, 7, 64, 4096] {
        let (tally, allocs) = allocations(|| {
            let mut parser = Parser::new();
            let mut tally = Tally::default();
            for c in stream.chunks(chunk) {
                let _ = parser.feed(c, &mut tally);
            }
            parser.finish();
            tally
        });
        assert_eq!(tally.events, 20_000, "chunks of {chunk}");
        assert_eq!(
            allocs, 0,
            "the parser allocated {allocs} times in chunks of {chunk}"
        );
    }
}

#[test]
fn decoder_allocates_less_than_one_in_ten_events_in_4k_chunks() {
    let n = 20_000;
    let stream = small_events(n);
    // The chunks are made before counting: reading is the caller's business.
    let chunks: Vec<Bytes> = stream.chunks(4096).map(Bytes::copy_from_slice).collect();
    let (events, allocs) = allocations(|| {
        let mut decoder = Decoder::new();
        let mut events = 0;
        for c in chunks {
            for frame in decoder.frames(c) {
                if let Ok(Frame::Event(e)) = frame {
                    assert!(!e.data().is_empty());
                    events += 1;
                }
            }
        }
        events
    });
    assert_eq!(events, n);
    let per_event = allocs as f64 / n as f64;
    assert!(
        per_event <= 0.1,
        "{allocs} allocations for {n} events ({per_event:.3} per event)"
    );
}

#[test]
fn one_long_line_in_tiny_chunks_is_handed_out_once_and_grown_not_rescanned() {
    // 4 MiB of data in one line, fed 16 bytes at a time: 262,144 chunks.
    let len = 4 << 20;
    let mut stream = b"data: ".to_vec();
    stream.resize(6 + len, b'x');
    stream.extend_from_slice(b"\n\n");

    // The parser hands out each byte of the value exactly once: no re-scan
    // of what came before, so the work is linear in the input.
    let mut parser = Parser::new();
    let mut tally = Tally::default();
    for c in stream.chunks(16) {
        let _ = parser.feed(c, &mut tally);
    }
    assert_eq!(tally.value_bytes, len);
    assert_eq!(tally.events, 1);

    // The decoder gathers the pieces into a buffer that grows geometrically:
    // a handful of allocations, not one per chunk.
    let chunks: Vec<Bytes> = stream.chunks(16).map(Bytes::copy_from_slice).collect();
    let (data, allocs) = allocations(|| {
        let mut decoder = Decoder::new();
        let mut data = None;
        for c in chunks {
            for frame in decoder.frames(c) {
                if let Ok(Frame::Event(e)) = frame {
                    data = Some(e.into_data());
                }
            }
        }
        data
    });
    assert_eq!(data.map(|d| d.len()), Some(len));
    assert!(allocs < 64, "{allocs} allocations to gather one 4 MiB line");
}
