//! Thin adapters to the shapes other crates use. All the protocol logic
//! stays in the parser, decoder, encoder and session; these only move bytes.
//!
//! - [`codec`] (feature `codec`): a tokio-util `Decoder` and `Encoder`.
//! - [`stream`] (feature `stream`): a `Stream` of byte chunks (a hyper body,
//!   reqwest's `bytes_stream`) to a `Stream` of frames.
//! - [`body`] (feature `server`): an `http_body::Body` that writes a `Stream`
//!   of events, with keep-alive comments, and the response head a browser
//!   and proxies need.

#[cfg(feature = "server")]
pub mod body;
#[cfg(feature = "codec")]
pub mod codec;
#[cfg(feature = "stream")]
pub mod stream;
