//! The Server-Sent Events (`text/event-stream`) protocol, with no I/O.
//!
//! ```
//! # #[cfg(feature = "alloc")] {
//! use bytes::Bytes;
//! use sse_proto::{Decoder, Frame};
//!
//! let mut decoder = Decoder::new();
//! // Bytes arrive in any chunking: here a CRLF is split over two chunks.
//! let mut events = Vec::new();
//! for chunk in ["event: greeting\r", "\nid: 1\ndata: hello\ndata: world\n\n"] {
//!     for frame in decoder.frames(Bytes::from(chunk)) {
//!         if let Frame::Event(event) = frame? {
//!             events.push(event);
//!         }
//!     }
//! }
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].event_type(), "greeting");
//! assert_eq!(events[0].data(), "hello\nworld");
//! assert_eq!(events[0].last_event_id(), "1");
//! assert_eq!(decoder.last_event_id(), "1");
//! # }
//! # Ok::<(), sse_proto::DecodeError>(())
//! ```
//!
//! # What is here
//!
//! - [`Parser`]: the incremental, push-based parser. `no_std`, no allocation,
//!   O(1) state. Feed it chunks of any size; it calls a [`Sink`] with borrowed
//!   pieces of each chunk and with the blank lines that dispatch events.
//! - [`Decoder`] (feature `alloc`): builds owned [`Event`]s on the parser,
//!   sharing the input [`bytes::Bytes`] instead of copying where a value lies
//!   whole in one chunk, with a bound on the size of one event.
//! - [`encode`] and [`EventRef`]: write events into a `&mut [u8]` with no
//!   allocation, refusing what would change their meaning; with `alloc`,
//!   [`encode_to`] any `BufMut` and the [`ServerEvent`] builder.
//! - [`session`] (feature `alloc`): the client's reconnection logic (last
//!   event ID, `retry`, backoff, which responses stop it) as a state machine
//!   without sockets or timers.
//! - [`client`] (feature `client`): a reconnecting client, a `Stream` of
//!   events driven by the session, over any HTTP stack.
//! - [`replay`] (feature `alloc`): a bounded log of the last events, to
//!   resume a client from its `Last-Event-ID`, or tell it clearly that its
//!   id is too old.
//! - `adapter` (features `codec`, `stream`, `body`): a tokio-util codec, a
//!   `Stream` adapter, and an `http_body::Body` with keep-alives.
//!
//! Both follow the WHATWG HTML standard, section "Server-sent events",
//! "Interpreting an event stream", to the letter, including the points many
//! implementations get wrong: a CR at the end of one chunk and an LF at the
//! start of the next are one line end; a lone CR is a line end; one BOM is
//! stripped, even when split; invalid UTF-8 becomes U+FFFD and never stops the
//! stream; an `id` with NUL is ignored; `retry` needs all ASCII digits; an
//! unterminated event at the end of the stream is dropped.
//!
//! # Crate features
//!
//! - `std` (default): implies `alloc`; `std::error::Error` comes from
//!   `core::error::Error` either way.
//! - `alloc`: the [`Decoder`] and [`Event`], the [`ServerEvent`] builder and
//!   the [`session`], using the `bytes` crate. Without it the crate needs no
//!   allocator at all.
//! - `serde`: `ServerEvent::json_data`, data serialised as JSON.
//! - `client`: the [`client`] module, with `tokio` (time only) and
//!   `futures-util`.
//! - `codec`: `adapter::codec`, with `tokio-util`.
//! - `stream`: `adapter::stream`, with `futures-core`.
//! - `body`: `adapter::body`, with `http`, `http-body` and `tokio` (time).
//!
//! # Panics
//!
//! Nothing in this crate panics on any input bytes, in any chunking.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// `alloc` is linked only with the feature: linking it demands a global
// allocator, which a bare-metal user of the parser may not have.
#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod encoder;
mod parser;

pub use encoder::{encode, encoded_len, EncodeError, EventRef, Line, KEEP_ALIVE};
#[cfg(feature = "alloc")]
pub use encoder::{encode_to, ServerEvent};
pub use parser::{Field, Parser, Sink, Stopped};

#[cfg(any(feature = "codec", feature = "stream", feature = "body"))]
pub mod adapter;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "alloc")]
mod decoder;
#[cfg(feature = "alloc")]
pub mod replay;
#[cfg(feature = "alloc")]
pub mod session;
#[cfg(feature = "alloc")]
pub use decoder::{DecodeError, Decoder, Event, Frame, Frames, DEFAULT_MAX_EVENT_SIZE};
