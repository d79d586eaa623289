//! Everything measured, driven the same way over the same chunks.
//!
//! Each [`Contender`] runs one pass over a case's chunks with
//! [`Contender::run`], consuming what it produces (the length of each event's
//! data goes through [`black_box`]), and can list the events it produced with
//! [`Contender::events`] for the correctness gate.
//!
//! Peers with a sans-IO core (`sse-parse`, the published `sse-core`) are fed
//! chunk by chunk and drained after each chunk. Peers that only offer a
//! `Stream` adapter (`eventsource-stream`, `sse-stream`, `sseer`,
//! `eventsource-client`) are given `futures::stream::iter` over the chunks
//! and polled to the end by [`drain`], a loop with a no-op waker: the input
//! stream is always ready, so no executor machinery is measured.

use std::convert::Infallible;
use std::hint::black_box;
use std::ops::ControlFlow;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use sse_proto::{Decoder, Field, Frame, FrameView, Parser, Sink};

/// What a contender is, for the report's columns and ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The `memchr` scan: no parser can be faster.
    Ceiling,
    /// Part of this workspace.
    Ours,
    /// A crate a user would otherwise pick.
    Peer,
}

/// One event as a user sees it: type, data and last event ID, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ev {
    /// The event type (`message` unless the block set one).
    pub event_type: String,
    /// The data, lines joined with LF.
    pub data: String,
    /// The last event ID when the event was dispatched.
    pub id: String,
}

impl Ev {
    fn new(event_type: &str, data: &str, id: &str) -> Self {
        Ev {
            event_type: event_type.to_owned(),
            data: data.to_owned(),
            id: id.to_owned(),
        }
    }
}

/// The events of one pass, and the first error if there was one (the events
/// after an error are not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The events, in order.
    pub events: Vec<Ev>,
    /// The first error the contender reported, as text.
    pub error: Option<String>,
}

/// Something measured: the ceiling, one of our layers, or a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contender {
    /// `memchr::memchr2_iter(b'\r', b'\n', chunk)` counting line ends.
    Memchr,
    /// Our [`Parser`] with a sink that only counts pieces and bytes.
    Parser,
    /// Our [`Decoder`], reading each event's data length.
    Decoder,
    /// Our [`Decoder`], reading each event's data as text
    /// ([`sse_proto::Event::data`], which checks UTF-8), as the peers that
    /// hand out `String`s do before the caller sees the event.
    DecoderText,
    /// Our [`Decoder::decode_with`], lending each event to a callback that
    /// reads its data as text ([`sse_proto::EventView::data`], UTF-8 checked):
    /// the same text, without an owned event.
    DecoderLendText,
    /// Our `stream` adapter (`sse_proto::adapter::stream::EventStream`), driven
    /// like the peers' streams.
    Stream,
    /// `eventsource-stream` 0.2: `EventStream` over a byte stream.
    EventsourceStream,
    /// `sse-stream` 0.3: `SseByteStream` over a byte stream.
    SseStream,
    /// `sseer` 0.3: `EventStream` over a byte stream.
    Sseer,
    /// `sse-parse` 0.1: the sans-IO `SseParser`.
    SseParse,
    /// The published `sse-core` 0.2 (another project): `SseDecoder`.
    SseCorePeer,
    /// `eventsource-client` 0.18 (LaunchDarkly): its client over an in-memory
    /// transport, since its parser is private.
    EventsourceClient,
}

impl Contender {
    /// Every contender, in report order.
    pub const ALL: [Contender; 12] = [
        Contender::Memchr,
        Contender::Parser,
        Contender::Decoder,
        Contender::DecoderText,
        Contender::DecoderLendText,
        Contender::Stream,
        Contender::EventsourceStream,
        Contender::SseStream,
        Contender::Sseer,
        Contender::SseParse,
        Contender::SseCorePeer,
        Contender::EventsourceClient,
    ];

    /// The name in tables and benchmark ids.
    pub const fn name(self) -> &'static str {
        match self {
            Contender::Memchr => "memchr ceiling",
            Contender::Parser => "sse-proto parser",
            Contender::Decoder => "sse-proto decoder",
            Contender::DecoderText => "sse-proto decoder + str",
            Contender::DecoderLendText => "sse-proto decode_with + str",
            Contender::Stream => "sse-proto stream adapter",
            Contender::EventsourceStream => "eventsource-stream 0.2.3",
            Contender::SseStream => "sse-stream 0.3.0",
            Contender::Sseer => "sseer 0.3.1",
            Contender::SseParse => "sse-parse 0.1.0",
            Contender::SseCorePeer => "sse-core 0.2.3 (crates.io)",
            Contender::EventsourceClient => "eventsource-client 0.18.0",
        }
    }

    /// Whether this is the ceiling, ours or a peer.
    pub const fn role(self) -> Role {
        match self {
            Contender::Memchr => Role::Ceiling,
            Contender::Parser
            | Contender::Decoder
            | Contender::DecoderText
            | Contender::DecoderLendText
            | Contender::Stream => Role::Ours,
            _ => Role::Peer,
        }
    }

    /// How the contender is driven, in a few words.
    pub const fn driven(self) -> &'static str {
        match self {
            Contender::Memchr => "memchr2_iter per chunk, counting",
            Contender::Parser => "Parser::feed per chunk, counting sink",
            Contender::Decoder => "Decoder::frames per chunk",
            Contender::DecoderText => "Decoder::frames per chunk, Event::data()",
            Contender::DecoderLendText => "Decoder::decode_with per chunk, EventView::data()",
            Contender::Stream
            | Contender::EventsourceStream
            | Contender::SseStream
            | Contender::Sseer
            | Contender::EventsourceClient => "Stream over stream::iter(chunks), no-op waker",
            Contender::SseParse => "SseParser::feed + next_event per chunk",
            Contender::SseCorePeer => "SseDecoder::next on each chunk",
        }
    }

    /// Runs one pass over `chunks`, consuming every event, and returns how
    /// many events it saw (line ends for the ceiling).
    pub fn run(self, chunks: &Arc<[Bytes]>) -> u64 {
        let mut n = 0u64;
        match self {
            Contender::Memchr => {
                for c in chunks.iter() {
                    n += memchr::memchr2_iter(b'\r', b'\n', black_box(c)).count() as u64;
                }
            }
            Contender::Parser => {
                let mut parser = Parser::new();
                let mut count = Count::default();
                for c in chunks.iter() {
                    let _ = parser.feed(black_box(c), &mut count);
                }
                parser.finish();
                black_box((count.pieces, count.bytes));
                n = count.dispatches;
            }
            Contender::Decoder => n = decode_events(chunks, |e| e.data_bytes().len()),
            Contender::DecoderText => n = decode_events(chunks, |e| e.data().len()),
            Contender::DecoderLendText => {
                let mut decoder = Decoder::new();
                for c in chunks.iter() {
                    decoder.decode_with(black_box(c), |frame| {
                        if let Ok(FrameView::Event(event)) = frame {
                            black_box(event.data().len());
                            n += 1;
                        }
                    });
                }
                decoder.finish();
            }
            Contender::Stream => {
                drain(
                    sse_proto::adapter::stream::EventStream::new(byte_stream(chunks)),
                    |item| {
                        if let Ok(Frame::Event(event)) = item {
                            black_box(event.data_bytes().len());
                            n += 1;
                        }
                    },
                );
            }
            Contender::EventsourceStream => {
                use eventsource_stream::Eventsource;
                drain(byte_stream(chunks).eventsource(), |item| {
                    if let Ok(event) = item {
                        black_box(event.data.len());
                        n += 1;
                    }
                });
            }
            Contender::SseStream => {
                drain(
                    sse_stream::SseByteStream::new(byte_stream(chunks)),
                    |item| {
                        if let Ok(sse) = item {
                            if let Some(data) = sse.data {
                                black_box(data.len());
                                n += 1;
                            }
                        }
                    },
                );
            }
            Contender::Sseer => {
                drain(sseer::EventStream::new(byte_stream(chunks)), |item| {
                    if let Ok(event) = item {
                        black_box(event.data.len());
                        n += 1;
                    }
                });
            }
            Contender::SseParse => {
                let mut parser = sse_parse::SseParser::new();
                for c in chunks.iter() {
                    parser.feed(black_box(c));
                    while let Some(event) = parser.next_event() {
                        black_box(event.data.len());
                        n += 1;
                    }
                }
                parser.finish();
            }
            Contender::SseCorePeer => {
                let mut decoder = sse_core_peer::SseDecoder::new();
                for c in chunks.iter() {
                    let mut c = c.clone();
                    while let Some(item) = decoder.next(&mut c) {
                        if let Ok(sse_core_peer::SseEvent::Message(event)) = item {
                            black_box(event.data.len());
                            n += 1;
                        }
                    }
                }
            }
            Contender::EventsourceClient => {
                drain(eventsource_client_stream(chunks), |item| {
                    if let Ok(eventsource_client::SSE::Event(event)) = item {
                        black_box(event.data.len());
                        n += 1;
                    }
                });
            }
        }
        n
    }

    /// The events one pass produces, or `None` for contenders that do not
    /// produce events (the ceiling and the bare parser).
    pub fn events(self, chunks: &Arc<[Bytes]>) -> Option<Outcome> {
        let mut out = Vec::new();
        let mut error = None;
        match self {
            Contender::Memchr | Contender::Parser => return None,
            Contender::Decoder | Contender::DecoderText => {
                let mut decoder = Decoder::new();
                'chunks: for c in chunks.iter() {
                    for frame in decoder.frames(c.clone()) {
                        match frame {
                            Ok(Frame::Event(e)) => {
                                out.push(Ev::new(&e.event_type(), &e.data(), &e.last_event_id()))
                            }
                            Ok(_) => {}
                            Err(e) => {
                                error = Some(e.to_string());
                                break 'chunks;
                            }
                        }
                    }
                }
            }
            Contender::DecoderLendText => {
                let mut decoder = Decoder::new();
                for c in chunks.iter() {
                    decoder.decode_with(c, |frame| match frame {
                        Ok(FrameView::Event(e)) if error.is_none() => {
                            out.push(Ev::new(&e.event_type(), &e.data(), &e.last_event_id()))
                        }
                        Ok(_) => {}
                        Err(e) => {
                            error.get_or_insert(e.to_string());
                        }
                    });
                }
            }
            Contender::Stream => {
                drain(
                    sse_proto::adapter::stream::EventStream::new(byte_stream(chunks)),
                    |item| match item {
                        Ok(Frame::Event(e)) if error.is_none() => {
                            out.push(Ev::new(&e.event_type(), &e.data(), &e.last_event_id()))
                        }
                        Ok(_) => {}
                        Err(e) => {
                            error.get_or_insert(e.to_string());
                        }
                    },
                );
            }
            Contender::EventsourceStream => {
                use eventsource_stream::Eventsource;
                drain(byte_stream(chunks).eventsource(), |item| match item {
                    Ok(e) if error.is_none() => out.push(Ev::new(&e.event, &e.data, &e.id)),
                    Ok(_) => {}
                    Err(e) => {
                        error.get_or_insert(e.to_string());
                    }
                });
            }
            Contender::SseStream => {
                // Raw blocks: the user applies the defaults and keeps the
                // last event ID, as its docs say.
                let mut last_id = String::new();
                drain(
                    sse_stream::SseByteStream::new(byte_stream(chunks)),
                    |item| match item {
                        Ok(sse) if error.is_none() => {
                            if let Some(id) = sse.id {
                                last_id = id;
                            }
                            if let Some(data) = sse.data {
                                let ty = sse.event.unwrap_or_default();
                                let ty = if ty.is_empty() { "message" } else { &ty };
                                out.push(Ev::new(ty, &data, &last_id));
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            error.get_or_insert(e.to_string());
                        }
                    },
                );
            }
            Contender::Sseer => {
                drain(
                    sseer::EventStream::new(byte_stream(chunks)),
                    |item| match item {
                        Ok(e) if error.is_none() => out.push(Ev::new(&e.event, &e.data, &e.id)),
                        Ok(_) => {}
                        Err(e) => {
                            error.get_or_insert(format!("{e:?}"));
                        }
                    },
                );
            }
            Contender::SseParse => {
                let mut parser = sse_parse::SseParser::new();
                for c in chunks.iter() {
                    parser.feed(c);
                    while let Some(e) = parser.next_event() {
                        out.push(Ev::new(&e.event, &e.data, &e.id));
                    }
                }
                parser.finish();
            }
            Contender::SseCorePeer => {
                let mut decoder = sse_core_peer::SseDecoder::new();
                'chunks: for c in chunks.iter() {
                    let mut c = c.clone();
                    while let Some(item) = decoder.next(&mut c) {
                        match item {
                            Ok(sse_core_peer::SseEvent::Message(e)) => out.push(Ev::new(
                                &e.event,
                                &e.data,
                                e.last_event_id.as_deref().unwrap_or(""),
                            )),
                            Ok(_) => {}
                            Err(e) => {
                                error = Some(e.to_string());
                                break 'chunks;
                            }
                        }
                    }
                }
            }
            Contender::EventsourceClient => {
                drain(eventsource_client_stream(chunks), |item| match item {
                    Ok(eventsource_client::SSE::Event(e)) if error.is_none() => out.push(Ev::new(
                        &e.event_type,
                        &e.data,
                        e.id.as_deref().unwrap_or(""),
                    )),
                    Ok(_) => {}
                    // How the client says the body ended after a whole event.
                    Err(eventsource_client::Error::Eof) => {}
                    Err(e) => {
                        error.get_or_insert(e.to_string());
                    }
                });
            }
        }
        Some(Outcome { events: out, error })
    }
}

/// Counts what the parser hands out, keeping nothing.
#[derive(Debug, Default)]
pub struct Count {
    /// Value and comment pieces.
    pub pieces: u64,
    /// Bytes in those pieces.
    pub bytes: u64,
    /// Blank lines.
    pub dispatches: u64,
}

impl<'a> Sink<'a> for Count {
    type Break = Infallible;

    fn value(&mut self, _field: Field, part: &'a [u8], _last: bool) -> ControlFlow<Infallible> {
        self.pieces += 1;
        self.bytes += part.len() as u64;
        ControlFlow::Continue(())
    }

    fn comment(&mut self, part: &'a [u8], _last: bool) -> ControlFlow<Infallible> {
        self.pieces += 1;
        self.bytes += part.len() as u64;
        ControlFlow::Continue(())
    }

    fn dispatch(&mut self) -> ControlFlow<Infallible> {
        self.dispatches += 1;
        ControlFlow::Continue(())
    }
}

/// Our decoder over the chunks, one `frames` call per chunk, reading each
/// event through `read` (generic, so each caller gets its own loop). Returns
/// the number of events.
fn decode_events(chunks: &Arc<[Bytes]>, read: impl Fn(&sse_proto::Event) -> usize) -> u64 {
    let mut decoder = Decoder::new();
    let mut n = 0;
    for c in chunks.iter() {
        for frame in decoder.frames(c.clone()) {
            if let Ok(Frame::Event(event)) = frame {
                black_box(read(&event));
                n += 1;
            }
        }
    }
    decoder.finish();
    n
}

/// The chunks as the byte stream an HTTP client hands out: always ready,
/// each item a reference-counted `Bytes` (no copy).
fn byte_stream(chunks: &Arc<[Bytes]>) -> impl Stream<Item = Result<Bytes, Infallible>> + '_ {
    futures::stream::iter(chunks.iter().map(|c| Ok(black_box(c).clone())))
}

/// Polls a stream to its end with a no-op waker, calling `f` on each item.
///
/// # Panics
///
/// If the stream returns `Pending`: every stream here reads from memory and
/// never waits.
pub fn drain<S: Stream>(stream: S, mut f: impl FnMut(S::Item)) {
    let mut stream = pin!(stream);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => f(item),
            Poll::Ready(None) => return,
            Poll::Pending => panic!("a stream over in-memory chunks returned Pending"),
        }
    }
}

/// An in-memory HTTP transport for `eventsource-client`: every request gets
/// a 200 `text/event-stream` response whose body is the chunks.
#[derive(Clone)]
struct MemoryTransport(Arc<[Bytes]>);

impl launchdarkly_sdk_transport::HttpTransport for MemoryTransport {
    fn request(
        &self,
        _request: http::Request<Option<Bytes>>,
    ) -> launchdarkly_sdk_transport::ResponseFuture {
        let chunks = Arc::clone(&self.0);
        Box::pin(async move {
            let body: launchdarkly_sdk_transport::ByteStream = Box::pin(futures::stream::iter(
                (0..chunks.len()).map(move |i| Ok(black_box(&chunks[i]).clone())),
            ));
            let response = http::Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(body)
                .expect("a valid response");
            Ok(response)
        })
    }
}

/// `eventsource-client`'s event stream over the chunks, without reconnects.
fn eventsource_client_stream(
    chunks: &Arc<[Bytes]>,
) -> impl Stream<Item = eventsource_client::Result<eventsource_client::SSE>> {
    use eventsource_client::{Client, ClientBuilder, ReconnectOptions};
    let client = ClientBuilder::for_url("http://localhost/events")
        .expect("a valid URL")
        .reconnect(ReconnectOptions::reconnect(false).build())
        .build_with_transport(MemoryTransport(Arc::clone(chunks)));
    client.stream()
}
