//! The encoders measured: ours and the peers that write SSE, each turning the
//! same events into bytes.
//!
//! The events of an [`EncodeCase`] are those of a corpus, decoded once by our
//! decoder before any timing, and held as plain strings, the way a server has
//! them before it writes them. Each [`Encoder`] writes every event of the case
//! in one pass ([`Encoder::run`]), starting from those strings: building its
//! own event type is part of what is measured, since a user of that crate has
//! to do it for every event.
//!
//! Two kinds of rows:
//! - *direct*: one call per event, into a buffer or to a `Bytes`;
//! - *body*: the crate's `http_body::Body` over a stream of its events, polled
//!   to the end with a no-op waker (the stream is always ready, no keep-alive),
//!   which is how a server hands events to hyper. Axum has no public call that
//!   encodes one event, so its only row is this one.
//!
//! Throughput is counted in bytes of our encoding of the case, the same number
//! for every encoder, so that the rates compare work done, not output length.

use std::convert::Infallible;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use http_body::Body;
use sse_proto::{encode, encode_to, Decoder, EventRef, Frame, ServerEvent};

use crate::corpus::Corpus;

/// One event as a server holds it before writing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The event type, if not `message`.
    pub event: Option<String>,
    /// The event ID, if any.
    pub id: Option<String>,
    /// The data; lines separated by LF.
    pub data: String,
}

/// The events of one corpus, ready to encode.
#[derive(Debug, Clone)]
pub struct EncodeCase {
    /// The corpus the events come from.
    pub corpus: Corpus,
    /// The events (shared: axum's body needs a `'static` stream).
    pub items: Arc<[Item]>,
    /// The length of our encoding of all of them: the unit of throughput.
    pub bytes: usize,
}

impl EncodeCase {
    /// Decodes `corpus` into its events.
    pub fn new(corpus: Corpus) -> Self {
        let mut decoder = Decoder::new();
        let mut items = Vec::new();
        for frame in decoder.frames(corpus.generate()) {
            if let Ok(Frame::Event(e)) = frame {
                let event_type = e.event_type();
                items.push(Item {
                    event: (event_type != "message").then(|| event_type.into_owned()),
                    id: Some(e.last_event_id().into_owned()).filter(|id| !id.is_empty()),
                    data: e.data().into_owned(),
                });
            }
        }
        let items: Arc<[Item]> = items.into();
        let bytes = Encoder::EncodeTo
            .output(&items)
            .expect("our encoder writes every decoded event")
            .len();
        EncodeCase {
            corpus,
            items,
            bytes,
        }
    }

    /// The corpus's name, as in the parse cases (`small`, `large`, ...).
    pub fn name(&self) -> &'static str {
        self.corpus.name()
    }
}

/// The encoded cases: the small events, the large ones, the multi-line ones
/// and the LLM stream (the CRLF and CR corpora decode to the same events as
/// the small one and the LLM one).
pub fn encode_cases() -> Vec<EncodeCase> {
    [
        Corpus::SmallEvents,
        Corpus::LargeData,
        Corpus::MultiLine,
        Corpus::Llm,
    ]
    .into_iter()
    .map(EncodeCase::new)
    .collect()
}

/// Something that writes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoder {
    /// `sse_proto::encode` of an `EventRef` borrowing the strings, into a
    /// reused `[u8]` (the `no_std` API: no allocation at all).
    EncodeSlice,
    /// `sse_proto::encode_to` of an `EventRef`, into a reused `BytesMut`.
    EncodeTo,
    /// `ServerEvent::new().event(..).id(..).data(..)` (owned strings), then
    /// `encode_to` into a reused `BytesMut`.
    ServerEvent,
    /// `sse_proto::adapter::body::SseBody` over a stream of `ServerEvent`s.
    SseCoreBody,
    /// `sse_stream::Sse::default().event(..).id(..).data(..).encode()`, a
    /// new `Bytes` for each event.
    SseStream,
    /// `sse_stream::SseBody` over a stream of `Sse`s.
    SseStreamBody,
    /// `axum::response::sse::Sse` over a stream of `Event`s, as a response
    /// body (axum builds the bytes as the `Event` is built).
    AxumBody,
}

impl Encoder {
    /// Every encoder, in report order.
    pub const ALL: [Encoder; 7] = [
        Encoder::EncodeSlice,
        Encoder::EncodeTo,
        Encoder::ServerEvent,
        Encoder::SseCoreBody,
        Encoder::SseStream,
        Encoder::SseStreamBody,
        Encoder::AxumBody,
    ];

    /// The name in tables and benchmark ids.
    pub const fn name(self) -> &'static str {
        match self {
            Encoder::EncodeSlice => "sse-proto encode (slice)",
            Encoder::EncodeTo => "sse-proto encode_to (BytesMut)",
            Encoder::ServerEvent => "sse-proto ServerEvent + encode_to",
            Encoder::SseCoreBody => "sse-proto SseBody",
            Encoder::SseStream => "sse-stream 0.3.0 Sse::encode",
            Encoder::SseStreamBody => "sse-stream 0.3.0 SseBody",
            Encoder::AxumBody => "axum 0.8.9 Sse body",
        }
    }

    /// Whether this encoder is ours.
    pub const fn is_ours(self) -> bool {
        matches!(
            self,
            Encoder::EncodeSlice | Encoder::EncodeTo | Encoder::ServerEvent | Encoder::SseCoreBody
        )
    }

    /// Whether this row goes through an `http_body::Body`.
    pub const fn is_body(self) -> bool {
        matches!(
            self,
            Encoder::SseCoreBody | Encoder::SseStreamBody | Encoder::AxumBody
        )
    }

    /// Writes every event once, handing each piece of output to `out`, and
    /// returns the number of bytes written. The buffers that a direct row
    /// reuses are in `scratch` (cleared, never shrunk), so that a pass
    /// allocates only what the encoder itself does.
    fn pass(self, items: &Arc<[Item]>, scratch: &mut Scratch, mut out: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        match self {
            Encoder::EncodeSlice => {
                let buf = &mut scratch.slice;
                for item in items.iter() {
                    let written =
                        encode(&event_ref(item), buf).expect("the scratch buffer is large enough");
                    out(&buf[..written]);
                    n += written;
                }
            }
            Encoder::EncodeTo => {
                let buf = &mut scratch.bytes;
                for item in items.iter() {
                    buf.clear();
                    n += encode_to(&event_ref(item), buf).expect("a valid event");
                    out(buf);
                }
            }
            Encoder::ServerEvent => {
                let buf = &mut scratch.bytes;
                for item in items.iter() {
                    buf.clear();
                    n += server_event(item).encode_to(buf).expect("a valid event");
                    out(buf);
                }
            }
            Encoder::SseStream => {
                for item in items.iter() {
                    let bytes = sse_stream_event(item).encode().expect("a valid event");
                    out(&bytes);
                    n += bytes.len();
                }
            }
            Encoder::SseCoreBody => {
                let events = futures::stream::iter(items.iter().map(server_event));
                let body = sse_proto::adapter::body::SseBody::with_keep_alive(events, None);
                n = drain_body(body, &mut out);
            }
            Encoder::SseStreamBody => {
                let events = futures::stream::iter(
                    items
                        .iter()
                        .map(|item| Ok::<_, Infallible>(sse_stream_event(item))),
                );
                n = drain_body(sse_stream::SseBody::new(events), &mut out);
            }
            Encoder::AxumBody => {
                use axum::response::IntoResponse;
                // The response needs a `'static` stream, as a real handler's
                // is: it holds the shared list and builds each event from it.
                let items = Arc::clone(items);
                let events = futures::stream::iter(
                    (0..items.len()).map(move |i| Ok::<_, Infallible>(axum_event(&items[i]))),
                );
                let response = axum::response::sse::Sse::new(events).into_response();
                n = drain_body(response.into_body(), &mut out);
            }
        }
        n
    }

    /// Runs one pass, consuming the output, and returns the bytes written.
    pub fn run(self, items: &Arc<[Item]>, scratch: &mut Scratch) -> usize {
        self.pass(items, scratch, |bytes| {
            black_box(bytes);
        })
    }

    /// The whole output of one pass, for the correctness gate.
    ///
    /// # Errors
    ///
    /// When the output does not decode to the events given, saying where.
    pub fn output(self, items: &Arc<[Item]>) -> Result<Vec<u8>, String> {
        let mut scratch = Scratch::for_items(items);
        let mut all = Vec::new();
        self.pass(items, &mut scratch, |bytes| all.extend_from_slice(bytes));
        let mut decoder = Decoder::new();
        let mut i = 0;
        for frame in decoder.frames(all.clone()) {
            let Ok(Frame::Event(e)) = frame else {
                return Err(format!("a frame that is not an event: {frame:?}"));
            };
            let Some(want) = items.get(i) else {
                return Err(format!("extra events from #{i}"));
            };
            let got_type = e.event_type();
            if got_type != want.event.as_deref().unwrap_or("message")
                || e.data() != want.data
                || e.last_event_id() != want.id.as_deref().unwrap_or("")
            {
                return Err(format!("event #{i} differs"));
            }
            i += 1;
        }
        if i != items.len() {
            return Err(format!("{i} events instead of {}", items.len()));
        }
        Ok(all)
    }
}

/// Buffers that the direct rows write into, made once outside the timing.
#[derive(Debug)]
pub struct Scratch {
    slice: Vec<u8>,
    bytes: BytesMut,
}

impl Scratch {
    /// Buffers large enough for any one of `items` encoded.
    pub fn for_items(items: &[Item]) -> Self {
        let most = items
            .iter()
            .map(|item| sse_proto::encoded_len(&event_ref(item)).expect("a valid event"))
            .max()
            .unwrap_or(0);
        Scratch {
            slice: vec![0; most],
            bytes: BytesMut::with_capacity(most),
        }
    }
}

fn event_ref(item: &Item) -> EventRef<'_> {
    EventRef {
        event: item.event.as_deref(),
        id: item.id.as_deref(),
        data: Some(&item.data),
        ..EventRef::default()
    }
}

fn server_event(item: &Item) -> ServerEvent {
    let mut event = ServerEvent::new().data(item.data.as_str());
    if let Some(t) = &item.event {
        event = event.event(t.as_str());
    }
    if let Some(id) = &item.id {
        event = event.id(id.as_str());
    }
    event
}

fn sse_stream_event(item: &Item) -> sse_stream::Sse {
    let mut event = sse_stream::Sse::default().data(item.data.as_str());
    if let Some(t) = &item.event {
        event = event.event(t.as_str());
    }
    if let Some(id) = &item.id {
        event = event.id(id.as_str());
    }
    event
}

fn axum_event(item: &Item) -> axum::response::sse::Event {
    let mut event = axum::response::sse::Event::default();
    if let Some(t) = &item.event {
        event = event.event(t);
    }
    if let Some(id) = &item.id {
        event = event.id(id);
    }
    event.data(&item.data)
}

/// Polls a body to its end with a no-op waker, handing each data frame to
/// `out`; returns the bytes seen.
///
/// # Panics
///
/// On `Pending` or an error: every body here reads from memory, and every
/// event is valid.
fn drain_body<B>(body: B, out: &mut impl FnMut(&[u8])) -> usize
where
    B: Body,
    B::Data: AsRef<[u8]>,
    B::Error: std::fmt::Debug,
{
    let mut body = pin!(body);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut n = 0;
    loop {
        match body.as_mut().poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    out(data.as_ref());
                    n += data.as_ref().len();
                }
            }
            Poll::Ready(Some(Err(e))) => panic!("a body over valid events failed: {e:?}"),
            Poll::Ready(None) => return n,
            Poll::Pending => panic!("a body over an in-memory stream returned Pending"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoder_writes_the_events_it_was_given() {
        for case in encode_cases() {
            assert!(case.items.len() > 10, "{}", case.name());
            for encoder in Encoder::ALL {
                let out = encoder
                    .output(&case.items)
                    .unwrap_or_else(|e| panic!("{} on {}: {e}", encoder.name(), case.name()));
                if encoder.is_ours() {
                    assert_eq!(out.len(), case.bytes, "{}", encoder.name());
                }
            }
        }
    }
}
