//! The Server-Sent Events (`text/event-stream`) protocol, with no I/O: the
//! parser, the decoder to owned events, the encoder, the client's reconnection
//! logic, and the server's response body, for any HTTP stack.
//!
//! It follows the WHATWG HTML standard, section "Server-sent events", to the
//! letter, including the points many implementations get wrong: a CR at the
//! end of one chunk and an LF at the start of the next are one line end; a
//! lone CR is a line end; one BOM is stripped, even when split; invalid UTF-8
//! becomes U+FFFD and never stops the stream; an `id` with NUL is ignored;
//! `retry` needs all ASCII digits; an unterminated event at the end of the
//! stream is dropped.
//!
//! Three ways in:
//!
//! # Read a stream
//!
//! ```toml
//! sse-proto = { version = "0.1", features = ["reqwest"] }  # or "hyper"
//! ```
//!
//! [`client::Client`] connects, reconnects with backoff and jitter, resumes
//! with `Last-Event-ID`, follows redirects, and says what went wrong with a
//! typed error; a complete program:
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")] mod example {
//! use futures_util::StreamExt;
//! use sse_proto::client::Client;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), sse_proto::client::Error> {
//!     let mut events = Client::get("http://127.0.0.1:8080/events")?.events();
//!     while let Some(event) = events.next().await {
//!         let event = event?;
//!         println!("{}: {}", event.event_type(), event.data());
//!     }
//!     Ok(())
//! }
//! # }
//! ```
//!
//! Over another HTTP stack, implement [`client::Connector`] (one method), or
//! decode any `Stream` of byte chunks with
//! [`adapter::stream::EventStream`] (feature `stream`).
//!
//! # Serve a stream
//!
//! ```toml
//! sse-proto = { version = "0.1", features = ["axum"] }  # or "server" for any http-body stack
//! ```
//!
//! [`server::Hub`] fans events out to every subscriber, encoded once, and
//! resumes a reconnecting client from `Last-Event-ID` with exactly the
//! events it missed, or says it cannot ([`server::Resume`]).
//! [`adapter::body::SseBody`] is the response body: any `Stream` of events,
//! with keep-alive comments; with `axum` it is an `IntoResponse` with the
//! headers browsers and proxies need. A complete axum handler:
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{extract::State, http::HeaderMap};
//! use sse_proto::adapter::body::SseBody;
//! use sse_proto::server::{last_event_id, Hub, Subscription};
//!
//! async fn events(State(hub): State<Hub>, headers: HeaderMap) -> SseBody<Subscription> {
//!     SseBody::new(hub.subscribe("news", last_event_id(&headers)))
//! }
//! let hub = Hub::new();
//! let app = axum::Router::new().route("/events", axum::routing::get(events)).with_state(hub.clone());
//! hub.publish("news", sse_proto::ServerEvent::new().data("hello")).unwrap();
//! # let _: axum::Router = app;
//! // Then: axum::serve(sse_proto::server::TimeoutListener::new(listener), app),
//! // which closes clients that send no request or stop reading.
//! # }
//! ```
//!
//! # Embed the parser
//!
//! ```toml
//! sse-proto = { version = "0.1", default-features = false }
//! ```
//!
//! With no features the crate is `no_std` and needs no allocator: the
//! [`Parser`] calls a [`Sink`] of yours with borrowed pieces of each chunk,
//! and [`encode`] writes an [`EventRef`] into a `&mut [u8]`. With `alloc`,
//! the [`Decoder`] builds owned [`Event`]s, sharing the input instead of
//! copying where a value lies whole in one chunk:
//!
//! ```
//! # #[cfg(feature = "alloc")] {
//! use bytes::Bytes;
//! use sse_proto::{Decoder, Frame};
//!
//! let mut decoder = Decoder::new();
//! let mut events = Vec::new();
//! // Bytes arrive in any chunking: here a CRLF is split over two chunks.
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
//! # }
//! # Ok::<(), sse_proto::DecodeError>(())
//! ```
//!
//! To read each event where it stands (parse its JSON, forward its text)
//! rather than keep it, [`Decoder::decode_with`] lends it to a callback as an
//! [`EventView`], without building an owned event: the faster path.
//!
//! # What is here
//!
//! | item | what it does | feature |
//! | --- | --- | --- |
//! | [`Parser`], [`Sink`] | the incremental parser: O(1) state, no allocation, borrowed pieces | none |
//! | [`encode`], [`EventRef`] | events into a `&mut [u8]`, refusing what would change their meaning | none |
//! | [`Decoder`], [`Event`], [`Frame`] | owned events, bounded in size | `alloc` |
//! | [`encode_to`], [`ServerEvent`] | events into any `BufMut`, an owned event builder | `alloc` |
//! | [`session`] | the client's reconnection logic, without sockets or timers | `alloc` |
//! | [`client`] | a reconnecting client over any HTTP stack | `client` |
//! | `client::reqwest`, `client::hyper` | ready connectors, and `Client::get` | `reqwest`, `hyper` |
//! | `adapter::codec` | a tokio-util `Decoder` and `Encoder` | `codec` |
//! | `adapter::stream` | a `Stream` of byte chunks to a `Stream` of frames | `stream` |
//! | [`server`] | `Last-Event-ID`, a broadcast [`server::Hub`] with a resumable log, [`server::EndAfter`], connection timeouts, and `server::serve`, a lean HTTP/1.1 server for fan-out | `server` |
//! | `adapter::body` | an `http_body::Body` with keep-alives, and the response head | `server` |
//!
//! # Crate features
//!
//! | feature | adds | pulls in |
//! | --- | --- | --- |
//! | `std` (default) | `alloc`, and `std` for `memchr`, `bytes` and `simdutf8` (which then picks its SIMD code at run time) | `alloc` |
//! | `alloc` | the decoder, `ServerEvent`, `encode_to`, `session` | `bytes`, `simdutf8` (the UTF-8 check of the text accessors) |
//! | `serde` | `ServerEvent::json_data` | `alloc`, `serde`, `serde_json` |
//! | `client` | the `client` module | `std`, `http`, `tokio` (time, sync, macros), `futures-core`, `futures-util` |
//! | `reqwest` | `client::reqwest::ReqwestConnector`, `Client::get` | `client`, `reqwest` (rustls with webpki roots, no OpenSSL, no decompression) |
//! | `hyper` | `client::hyper::HyperConnector`, `Client::get` without `reqwest` | `client`, `hyper`, `hyper-util`, `hyper-rustls` and `rustls` (ring, webpki roots), `http-body-util`, `url` |
//! | `codec` | `adapter::codec` | `std`, `tokio-util` (codec) |
//! | `stream` | `adapter::stream` | `std`, `futures-core` |
//! | `server` | `server`, `adapter::body` | `std`, `http`, `http-body`, `http-body-util`, `httparse`, `futures-core`, `tokio` (time, net, io-util, rt, macros) |
//! | `axum` | `SseBody` as an axum 0.8 `IntoResponse`, `server::TimeoutListener` | `server`, `axum-core`, `axum` (tokio, http1) |
//!
//! Without `alloc` the crate depends on `memchr` alone and links no
//! allocator (checked by a build for `thumbv7em-none-eabihf`). The minimum
//! supported Rust version is 1.81, checked with every feature.
//!
//! # Panics
//!
//! The parser, the decoder, the encoder and the session do not panic on any
//! input bytes, in any chunking, or on any response a server sends (the fuzz
//! targets check this). Where a function can panic on a value from the
//! caller, its docs say so under `# Panics`.
// The crate docs link to items behind features: to the items when they are
// built, else to their page on docs.rs (built with every feature). The
// empty line ends the docs' last paragraph, so that these are definitions.
#![doc = ""]
#![cfg_attr(feature = "alloc", doc = "[`Decoder`]: crate::Decoder")]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`Decoder`]: https://docs.rs/sse-proto/latest/sse_proto/struct.Decoder.html"
)]
#![cfg_attr(
    feature = "alloc",
    doc = "[`Decoder::decode_with`]: crate::Decoder::decode_with"
)]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`Decoder::decode_with`]: https://docs.rs/sse-proto/latest/sse_proto/struct.Decoder.html#method.decode_with"
)]
#![cfg_attr(feature = "alloc", doc = "[`EventView`]: crate::EventView")]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`EventView`]: https://docs.rs/sse-proto/latest/sse_proto/struct.EventView.html"
)]
#![cfg_attr(feature = "alloc", doc = "[`Event`]: crate::Event")]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`Event`]: https://docs.rs/sse-proto/latest/sse_proto/struct.Event.html"
)]
#![cfg_attr(feature = "alloc", doc = "[`Frame`]: crate::Frame")]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`Frame`]: https://docs.rs/sse-proto/latest/sse_proto/enum.Frame.html"
)]
#![cfg_attr(feature = "alloc", doc = "[`encode_to`]: crate::encode_to")]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`encode_to`]: https://docs.rs/sse-proto/latest/sse_proto/fn.encode_to.html"
)]
#![cfg_attr(feature = "alloc", doc = "[`ServerEvent`]: crate::ServerEvent")]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`ServerEvent`]: https://docs.rs/sse-proto/latest/sse_proto/struct.ServerEvent.html"
)]
#![cfg_attr(feature = "alloc", doc = "[`session`]: crate::session")]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`session`]: https://docs.rs/sse-proto/latest/sse_proto/session/index.html"
)]
#![cfg_attr(feature = "client", doc = "[`client::Client`]: crate::client::Client")]
#![cfg_attr(
    not(feature = "client"),
    doc = "[`client::Client`]: https://docs.rs/sse-proto/latest/sse_proto/client/struct.Client.html"
)]
#![cfg_attr(
    feature = "client",
    doc = "[`client::Connector`]: crate::client::Connector"
)]
#![cfg_attr(
    not(feature = "client"),
    doc = "[`client::Connector`]: https://docs.rs/sse-proto/latest/sse_proto/client/trait.Connector.html"
)]
#![cfg_attr(feature = "client", doc = "[`client`]: crate::client")]
#![cfg_attr(
    not(feature = "client"),
    doc = "[`client`]: https://docs.rs/sse-proto/latest/sse_proto/client/index.html"
)]
#![cfg_attr(
    feature = "stream",
    doc = "[`adapter::stream::EventStream`]: crate::adapter::stream::EventStream"
)]
#![cfg_attr(
    not(feature = "stream"),
    doc = "[`adapter::stream::EventStream`]: https://docs.rs/sse-proto/latest/sse_proto/adapter/stream/struct.EventStream.html"
)]
#![cfg_attr(
    feature = "server",
    doc = "[`adapter::body::SseBody`]: crate::adapter::body::SseBody"
)]
#![cfg_attr(
    not(feature = "server"),
    doc = "[`adapter::body::SseBody`]: https://docs.rs/sse-proto/latest/sse_proto/adapter/body/struct.SseBody.html"
)]
#![cfg_attr(feature = "server", doc = "[`server`]: crate::server")]
#![cfg_attr(
    not(feature = "server"),
    doc = "[`server`]: https://docs.rs/sse-proto/latest/sse_proto/server/index.html"
)]
#![cfg_attr(feature = "server", doc = "[`server::Hub`]: crate::server::Hub")]
#![cfg_attr(
    not(feature = "server"),
    doc = "[`server::Hub`]: https://docs.rs/sse-proto/latest/sse_proto/server/struct.Hub.html"
)]
#![cfg_attr(feature = "server", doc = "[`server::Resume`]: crate::server::Resume")]
#![cfg_attr(
    not(feature = "server"),
    doc = "[`server::Resume`]: https://docs.rs/sse-proto/latest/sse_proto/server/enum.Resume.html"
)]
#![cfg_attr(
    feature = "server",
    doc = "[`server::EndAfter`]: crate::server::EndAfter"
)]
#![cfg_attr(
    not(feature = "server"),
    doc = "[`server::EndAfter`]: https://docs.rs/sse-proto/latest/sse_proto/server/struct.EndAfter.html"
)]
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
#[cfg(feature = "alloc")]
mod http_date;
mod parser;
#[cfg(any(feature = "client", feature = "server"))]
mod time;

pub use encoder::{encode, encoded_len, EncodeError, EventRef, Line, KEEP_ALIVE};
#[cfg(feature = "alloc")]
pub use encoder::{encode_to, ServerEvent};
pub use parser::{Field, Parser, Sink, Stopped};

#[cfg(any(feature = "codec", feature = "stream", feature = "server"))]
pub mod adapter;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "alloc")]
mod decoder;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "alloc")]
pub mod session;
#[cfg(feature = "alloc")]
pub use decoder::{
    DecodeError, Decoder, Event, EventView, Frame, FrameView, Frames, DEFAULT_MAX_EVENT_SIZE,
};
