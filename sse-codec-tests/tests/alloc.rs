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
use sse_proto::{Decoder, Field, Frame, FrameView, Parser, Sink};

/// Counts the allocations made by the current thread (tests run on several
/// threads; each counts only its own).
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    /// The bytes asked for by those allocations (the new size, for a
    /// reallocation).
    static ALLOC_BYTES: Cell<u64> = const { Cell::new(0) };
    /// Bytes allocated and not yet freed by this thread.
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn add_live(delta: i64) {
    LIVE.with(|n| n.set(n.get() + delta));
}

// SAFETY: defers every call to `System`, only counting; the thread-locals are
// const-initialised, so reading them never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        ALLOC_BYTES.with(|n| n.set(n.get() + layout.size() as u64));
        add_live(layout.size() as i64);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add_live(-(layout.size() as i64));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        ALLOC_BYTES.with(|n| n.set(n.get() + new_size as u64));
        add_live(new_size as i64 - layout.size() as i64);
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

/// Bytes allocated and not freed by the current thread since `before`.
fn live_since(before: i64) -> i64 {
    LIVE.with(Cell::get) - before
}

#[test]
fn after_an_8_mib_event_the_decoder_holds_at_most_64_kib_beyond_the_live_event() {
    // One 8 MiB data line in 4 KiB chunks, then small events gathered from
    // split chunks (they reuse a small buffer, not the large one).
    let len = 8 << 20;
    let mut stream = b"data: ".to_vec();
    stream.resize(6 + len, b'x');
    stream.extend_from_slice(b"\n\n");
    for i in 0..100 {
        stream.extend_from_slice(format!("data: small {i}\ndata: two lines\n\n").as_bytes());
    }
    // Slices of one buffer, made before counting: handing them to the
    // decoder and dropping them frees nothing.
    let all = Bytes::from(stream);
    let chunks: Vec<Bytes> = (0..all.len())
        .step_by(4096)
        .map(|at| all.slice(at..all.len().min(at + 4096)))
        .collect();
    const LIMIT: i64 = 64 * 1024;

    let before = LIVE.with(Cell::get);
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    // Clones, not the chunks themselves: freeing the vector would count.
    for c in chunks.iter().cloned() {
        for frame in decoder.frames(c) {
            if let Ok(Frame::Event(e)) = frame {
                events.push(e);
            }
        }
    }
    assert_eq!(events.len(), 101);
    assert_eq!(events[0].data_bytes().len(), len);
    let held: i64 = events.iter().map(|e| e.data_bytes().len() as i64).sum();
    let live = live_since(before);
    assert!(
        live - held <= LIMIT,
        "{live} bytes live for {held} bytes of events: {} beyond them",
        live - held
    );
    // With the events gone, the decoder alone holds at most the limit.
    drop(events);
    let live = live_since(before);
    assert!(live <= LIMIT, "the decoder holds {live} bytes");
    drop(decoder);
    assert_eq!(live_since(before), 0, "all freed");
}

#[test]
fn decode_with_allocates_next_to_nothing_and_gives_back_a_large_buffer() {
    let n = 20_000;
    let stream = small_events(n);
    let chunks: Vec<Bytes> = stream.chunks(4096).map(Bytes::copy_from_slice).collect();
    let (events, allocs) = allocations(|| {
        let mut decoder = Decoder::new();
        let mut events = 0;
        for c in &chunks {
            decoder.decode_with(c, |frame| {
                if let Ok(FrameView::Event(e)) = frame {
                    assert!(!e.data().is_empty());
                    events += 1;
                }
            });
        }
        events
    });
    assert_eq!(events, n);
    // The gathering buffer for events cut by a chunk's end, once.
    assert!(allocs <= 4, "{allocs} allocations for {n} events");

    // After an 8 MiB event, lent and gone, the decoder keeps little.
    let mut big = b"data: ".to_vec();
    big.resize(6 + (8 << 20), b'x');
    big.extend_from_slice(b"\n\ndata: a\ndata: b\n\n");
    let before = LIVE.with(Cell::get);
    let mut decoder = Decoder::new();
    let mut lens = Vec::new();
    for c in big.chunks(4096) {
        decoder.decode_with(c, |frame| {
            if let Ok(FrameView::Event(e)) = frame {
                lens.push(e.data_bytes().len());
            }
        });
    }
    assert_eq!(lens, [8 << 20, 3]);
    let live = live_since(before) - (lens.capacity() * std::mem::size_of::<usize>()) as i64;
    assert!(live <= 64 * 1024, "the decoder holds {live} bytes");
}

#[test]
fn decode_with_reuses_the_buffer_of_a_lent_event_of_hundreds_of_kib_for_the_next() {
    // Events of 200 KiB, each cut in two by a chunk's end, so that its data
    // is gathered. The buffer the first grew (more than 64 KiB, less than
    // twice its data and than 1 MiB) is kept for the next: no allocation.
    let half = 100 * 1024;
    let mut head = b"data: ".to_vec();
    head.resize(6 + half, b'x');
    let mut tail = vec![b'y'; half];
    tail.extend_from_slice(b"\n\n");
    let mut decoder = Decoder::new();
    let mut lens = Vec::with_capacity(4);
    let mut decode = |decoder: &mut Decoder| {
        for c in [&head, &tail] {
            decoder.decode_with(c, |frame| {
                if let Ok(FrameView::Event(e)) = frame {
                    lens.push(e.data_bytes().len());
                }
            });
        }
    };
    decode(&mut decoder);
    let ((), allocs) = allocations(|| decode(&mut decoder));
    assert_eq!(lens, [2 * half, 2 * half]);
    assert_eq!(allocs, 0, "allocations for the second event");
}

#[test]
fn a_large_event_cut_by_finish_or_dropped_as_too_large_leaves_at_most_64_kib_in_the_decoder() {
    // 1 MiB of data in 4 KiB chunks, gathered into a buffer that grows past
    // 1 MiB; the block never ends. Whether `finish` discards it or the limit
    // drops it halfway, the decoder must not keep that buffer for reuse.
    let mut stream = b"data: ".to_vec();
    stream.resize(6 + (1 << 20), b'x');
    let all = Bytes::from(stream);
    let chunks: Vec<Bytes> = (0..all.len())
        .step_by(4096)
        .map(|at| all.slice(at..all.len().min(at + 4096)))
        .collect();
    for (limit, errors_expected, lost_expected) in [(16 << 20, 0, true), (512 << 10, 1, false)] {
        let before = LIVE.with(Cell::get);
        let mut decoder = Decoder::new().max_event_size(limit);
        let mut errors = 0;
        for c in chunks.iter().cloned() {
            for frame in decoder.frames(c) {
                assert!(!matches!(frame, Ok(Frame::Event(_))), "{frame:?}");
                errors += usize::from(frame.is_err());
            }
        }
        assert_eq!(errors, errors_expected, "errors with a limit of {limit}");
        assert_eq!(
            decoder.finish(),
            lost_expected,
            "lost, with a limit of {limit}"
        );
        let live = live_since(before);
        assert!(
            live <= 64 * 1024,
            "the decoder holds {live} bytes (limit {limit})"
        );
    }
}

#[test]
fn a_4_kib_event_type_and_id_in_16_byte_chunks_are_gathered_with_a_handful_of_allocations() {
    // Each value is gathered in one buffer that grows geometrically, not
    // copied anew for each piece (256 pieces each).
    let len = 4096;
    for field in ["event", "id"] {
        let mut stream = format!("{field}: ").into_bytes();
        let start = stream.len();
        stream.resize(start + len, b'v');
        stream.extend_from_slice(b"\ndata\n\n");
        let chunks: Vec<Bytes> = stream.chunks(TINY).map(Bytes::copy_from_slice).collect();
        let (events, allocs) = allocations(|| {
            let mut decoder = Decoder::new();
            let mut events = Vec::new();
            for c in chunks {
                for frame in decoder.frames(c) {
                    if let Ok(Frame::Event(e)) = frame {
                        events.push(e);
                    }
                }
            }
            events
        });
        assert_eq!(events.len(), 1);
        let value = if field == "event" {
            events[0].event_type_bytes()
        } else {
            events[0].last_event_id_bytes()
        };
        assert_eq!(value, &stream[start..start + len]);
        assert!(
            allocs < 32,
            "{allocs} allocations to gather a {len}-byte {field}"
        );
    }
}
