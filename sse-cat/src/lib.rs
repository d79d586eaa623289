//! The pieces of `sse-cat` that other programs and its tests use: a ready
//! [`Connector`](sse_proto::client::Connector) over hyper 1.x, with https
//! through rustls (no OpenSSL), and the demo ticker server ([`demo`]).

pub mod connector;
pub mod demo;
