//! The pieces of `sse-cat` that its tests and the examples use: the demo
//! ticker server ([`demo`]). The client's connectors live in `sse-proto`
//! (`sse_proto::client::hyper`, `sse_proto::client::reqwest`).

pub mod demo;
