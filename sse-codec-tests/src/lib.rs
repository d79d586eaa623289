//! Conformance suite for `sse-proto`.
//!
//! - [`reference`](mod@reference): a model of the standard written step by step from its
//!   text, over the whole stream at once: the oracle.
//! - [`vectors()`]: the test vectors in `vectors/*.json` (format:
//!   `shared/VECTORS-FORMAT.md`), from the standard's examples, the
//!   web-platform-tests `eventsource/` cases and our own edge cases.
//! - [`decode()`]: runs `sse-proto`'s decoder over a stream cut into chunks and
//!   reports what it saw in the reference model's terms, so that the two can
//!   be compared directly.

pub mod reference;

use bytes::Bytes;
use reference::{Outcome, Output};
use serde::Deserialize;
use sse_proto::{Decoder, EventRef, Frame, FrameView};

/// One test vector, as stored in `vectors/*.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Vector {
    /// Unique name.
    pub name: String,
    /// Where the case comes from.
    pub origin: String,
    /// The stream's exact bytes, in base64.
    pub input_b64: String,
    /// The events a conforming `EventSource` dispatches.
    pub events: Vec<VectorEvent>,
    /// The reconnection time after the last valid `retry`, if any.
    pub retry_ms: Option<u64>,
}

/// An expected event of a [`Vector`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VectorEvent {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The data.
    pub data: String,
    /// The last event ID at dispatch.
    pub last_event_id: String,
}

impl Vector {
    /// The stream's bytes.
    ///
    /// # Panics
    ///
    /// If `input_b64` is not valid base64 (a broken vector file).
    pub fn input(&self) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&self.input_b64)
            .unwrap_or_else(|e| panic!("vector {}: bad input_b64: {e}", self.name))
    }

    /// The expected events as (type, data, last_event_id) triples, the shape
    /// of [`Outcome::events`].
    pub fn expected_events(&self) -> Vec<(String, String, String)> {
        self.events
            .iter()
            .map(|e| {
                (
                    e.event_type.clone(),
                    e.data.clone(),
                    e.last_event_id.clone(),
                )
            })
            .collect()
    }
}

/// The vector files, embedded so that every test binary sees the same data.
pub const VECTOR_FILES: [(&str, &str); 3] = [
    ("spec.json", include_str!("../vectors/spec.json")),
    ("wpt.json", include_str!("../vectors/wpt.json")),
    ("own.json", include_str!("../vectors/own.json")),
];

/// All the vectors of all files.
///
/// # Panics
///
/// If a file is not valid JSON of the vector format, or two vectors share a
/// name.
pub fn vectors() -> Vec<Vector> {
    let mut all: Vec<Vector> = Vec::new();
    for (file, text) in VECTOR_FILES {
        let parsed: Vec<Vector> =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        all.extend(parsed);
    }
    let mut names: Vec<&str> = all.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("two vectors are named {}", w[0]);
    }
    all
}

/// Runs `sse-proto`'s [`Decoder`] over `input` cut into chunks of
/// `chunk_size` bytes (the whole input at once for `usize::MAX`), then ends
/// the stream, and reports it as the reference model would.
///
/// # Panics
///
/// If the decoder reports an error: with its default limit, none of the
/// suite's inputs may produce one.
pub fn decode(input: &[u8], chunk_size: usize) -> Outcome {
    decode_chunks(input, &chunk_lens(input.len(), chunk_size), Decoder::new())
}

/// Like [`decode`], with a seeded last event ID (as after a reconnect).
pub fn decode_with_last_event_id(input: &[u8], chunk_size: usize, seed: &str) -> Outcome {
    let decoder = Decoder::new().with_last_event_id(seed.to_owned());
    decode_chunks(input, &chunk_lens(input.len(), chunk_size), decoder)
}

fn chunk_lens(len: usize, chunk_size: usize) -> Vec<usize> {
    let size = chunk_size.max(1);
    let mut lens = vec![size; len / size];
    if len % size != 0 {
        lens.push(len % size);
    }
    lens
}

/// Runs `decoder` over `input` cut into consecutive chunks of the given
/// lengths (which must add up to at most `input.len()`; the rest is one last
/// chunk), then ends the stream.
///
/// # Panics
///
/// If the decoder reports an error.
pub fn decode_chunks(input: &[u8], lens: &[usize], mut decoder: Decoder) -> Outcome {
    let input = Bytes::copy_from_slice(input);
    let mut outputs = Vec::new();
    let mut start = 0;
    for end in chunk_ends(input.len(), lens) {
        for frame in decoder.frames(input.slice(start..end)) {
            match frame {
                Ok(Frame::Event(e)) => outputs.push(Output::Event {
                    event_type: e.event_type().into_owned(),
                    data: e.data().into_owned(),
                    last_event_id: e.last_event_id().into_owned(),
                }),
                Ok(Frame::Retry(delay)) => outputs.push(Output::Retry(whole_millis(delay))),
                Ok(other) => panic!("unexpected frame {other:?}"),
                Err(e) => panic!("decoder error: {e}"),
            }
        }
        start = end;
    }
    end_of_stream(outputs, decoder)
}

/// Where each chunk of an input of `total` bytes cut at `lens` ends, then
/// the end of the input (the rest is one last chunk).
fn chunk_ends(total: usize, lens: &[usize]) -> impl Iterator<Item = usize> + '_ {
    lens.iter()
        .scan(0, move |at, len| {
            *at = (*at + len).min(total);
            Some(*at)
        })
        .chain([total])
}

/// Ends the stream and gives the outcome: `outputs`, then what the decoder
/// keeps.
fn end_of_stream(outputs: Vec<Output>, mut decoder: Decoder) -> Outcome {
    let _ = decoder.finish();
    Outcome {
        outputs,
        last_event_id: decoder.last_event_id().into_owned(),
        retry_ms: decoder.retry().map(whole_millis),
    }
}

/// Like [`decode`], through [`Decoder::decode_with`] (events lent to a
/// callback) instead of owned frames.
pub fn decode_lending(input: &[u8], chunk_size: usize) -> Outcome {
    decode_chunks_lending(input, &chunk_lens(input.len(), chunk_size), Decoder::new())
}

/// Like [`decode_chunks`], through [`Decoder::decode_with`]; the chunks are
/// borrowed slices of `input`.
///
/// # Panics
///
/// If the decoder reports an error.
pub fn decode_chunks_lending(input: &[u8], lens: &[usize], mut decoder: Decoder) -> Outcome {
    let mut outputs = Vec::new();
    let mut start = 0;
    for end in chunk_ends(input.len(), lens) {
        decoder.decode_with(&input[start..end], |frame| match frame {
            Ok(FrameView::Event(e)) => outputs.push(Output::Event {
                event_type: e.event_type().into_owned(),
                data: e.data().into_owned(),
                last_event_id: e.last_event_id().into_owned(),
            }),
            Ok(FrameView::Retry(delay)) => outputs.push(Output::Retry(whole_millis(delay))),
            Ok(other) => panic!("unexpected frame {other:?}"),
            Err(e) => panic!("decoder error: {e}"),
        });
        start = end;
    }
    end_of_stream(outputs, decoder)
}

/// A `retry` delay in the milliseconds the vectors use. The decoder makes
/// each delay from whole milliseconds of a `u64`, so this is exact.
pub fn whole_millis(delay: std::time::Duration) -> u64 {
    u64::try_from(delay.as_millis()).expect("a retry delay is at most u64::MAX ms")
}

/// An event to encode, with owned parts: the encoder's [`EventRef`] for
/// generated inputs (property tests, fuzzing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSpec {
    /// A comment line.
    pub comment: Option<String>,
    /// The event type.
    pub event: Option<String>,
    /// The id.
    pub id: Option<String>,
    /// The reconnection time, in milliseconds.
    pub retry: Option<u64>,
    /// The data.
    pub data: Option<String>,
}

impl EventSpec {
    /// The borrowed form the encoder takes.
    pub fn event_ref(&self) -> EventRef<'_> {
        EventRef {
            comment: self.comment.as_deref(),
            event: self.event.as_deref(),
            id: self.id.as_deref(),
            retry: self.retry.map(std::time::Duration::from_millis),
            data: self.data.as_deref(),
        }
    }

    /// Whether the encoder must refuse it, by the rules rather than by the
    /// encoder: a line break in the comment, type or id, or a NUL in the id.
    pub fn must_refuse(&self) -> bool {
        let breaks = |s: &Option<String>| s.as_deref().is_some_and(|s| s.contains(['\r', '\n']));
        breaks(&self.comment)
            || breaks(&self.event)
            || breaks(&self.id)
            || self.id.as_deref().is_some_and(|s| s.contains('\0'))
    }
}

/// What a client must see from a stream of these events, written
/// independently of the encoder: each event's `retry` first, then the event
/// (only with data; type `message` when unset or empty; data with CR and CRLF
/// as LF), the last event ID carried along from event to event.
pub fn expected_outcome(accepted: &[EventSpec]) -> Outcome {
    let mut out = Outcome::default();
    for s in accepted {
        if let Some(ms) = s.retry {
            out.outputs.push(Output::Retry(ms));
            out.retry_ms = Some(ms);
        }
        if let Some(id) = &s.id {
            out.last_event_id = id.clone();
        }
        if let Some(data) = &s.data {
            let event_type = match s.event.as_deref() {
                None | Some("") => "message".to_owned(),
                Some(t) => t.to_owned(),
            };
            out.outputs.push(Output::Event {
                event_type,
                data: data.replace("\r\n", "\n").replace('\r', "\n"),
                last_event_id: out.last_event_id.clone(),
            });
        }
    }
    out
}

/// The README's Rust examples, compiled and run as doctests so that they
/// stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
