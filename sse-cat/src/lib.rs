//! The pieces of `sse-cat` that other programs and its tests use: a ready
//! [`Connector`](sse_core::client::Connector) over hyper 1.x, with https
//! through rustls (no OpenSSL).

pub mod connector;
