//! Heap allocations, counted by a global allocator: none in the parser, few
//! in the decoder; and for one long line in tiny chunks, each byte handed out
//! once, no input kept back to go over again, and a buffer grown
//! geometrically.

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
    /// The bytes asked for by those allocations (the new size, for a
    /// reallocation).
    static ALLOC_BYTES: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every call to `System`, only counting; the thread-locals are
// const-initialised, so reading them never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        ALLOC_BYTES.with(|n| n.set(n.get() + layout.size() as u64));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        ALLOC_BYTES.with(|n| n.set(n.get() + new_size as u64));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let (out, allocs, _) = allocations_and_bytes(f);
    (out, allocs)
}

/// What `f` returns, how many allocations it made, and how many bytes they
/// asked for.
fn allocations_and_bytes<T>(f: impl FnOnce() -> T) -> (T, u64, u64) {
    let (allocs, bytes) = (ALLOCS.with(Cell::get), ALLOC_BYTES.with(Cell::get));
    let out = f();
    (
        out,
        ALLOCS.with(Cell::get) - allocs,
        ALLOC_BYTES.with(Cell::get) - bytes,
    )
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

/// 4 MiB of data in one line, `data: xxx…x\n\n`, and its length in bytes.
fn one_long_line() -> (Vec<u8>, usize) {
    let len = 4 << 20;
    let mut stream = b"data: ".to_vec();
    stream.resize(6 + len, b'x');
    stream.extend_from_slice(b"\n\n");
    (stream, len)
}

/// The size of the tiny chunks: 262,145 of them for the long line.
const TINY: usize = 16;

#[test]
fn parser_hands_out_each_byte_of_a_4_mib_line_in_16_byte_chunks_once_in_one_piece_per_chunk() {
    // The parser keeps no input (its pieces borrow the chunk it is fed), so
    // it cannot go back over an earlier chunk; what it could do wrong is hand
    // a byte out twice, or split a chunk's bytes into more than one piece.
    let (stream, len) = one_long_line();
    let mut parser = Parser::new();
    let mut tally = Tally::default();
    for c in stream.chunks(TINY) {
        let _ = parser.feed(c, &mut tally);
    }
    assert_eq!(tally.value_bytes, len, "each byte of the value once");
    // The value is bytes 6 to 6 + len: every chunk from the first to the one
    // holding its last byte holds some of it.
    let chunks_with_value = (6 + len - 1) / TINY + 1;
    assert_eq!(tally.pieces, chunks_with_value, "one piece per chunk");
    assert_eq!(tally.events, 1);
}

#[test]
fn decoder_keeps_no_input_of_a_4_mib_line_in_16_byte_chunks_and_grows_its_buffer_geometrically() {
    // The decoder copies each piece into its data buffer. Going back over
    // what it has would need input kept back (it keeps none: all of every
    // chunk is decoded before the next comes) or a buffer copied anew per
    // chunk (one allocation per chunk, 262,145 in all); growing it
    // geometrically takes a handful of allocations, of a few times the line
    // in all (21 of 3.25 times today).
    let (stream, len) = one_long_line();
    let chunks: Vec<Bytes> = stream.chunks(TINY).map(Bytes::copy_from_slice).collect();
    let ((data, kept), allocs, bytes) = allocations_and_bytes(|| {
        let mut decoder = Decoder::new();
        let mut data = None;
        let mut kept = 0;
        for c in chunks {
            for frame in decoder.frames(c) {
                if let Ok(Frame::Event(e)) = frame {
                    data = Some(e.into_data());
                }
            }
            kept = kept.max(decoder.pending_input());
        }
        (data, kept)
    });
    let data = data.expect("the event");
    assert_eq!(data.len(), len);
    assert!(
        data.iter().all(|&b| b == b'x'),
        "the line's bytes, once each"
    );
    assert_eq!(kept, 0, "input kept back after a chunk was decoded");
    assert!(allocs < 64, "{allocs} allocations to gather one 4 MiB line");
    assert!(
        bytes <= 8 * len as u64,
        "{bytes} bytes allocated to gather one line of {len}"
    );
}
