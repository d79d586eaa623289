//! Benchmarks of sse-proto: throughput and allocations of our parser and
//! decoder and encoder, of the crates a user would otherwise pick, and of a `memchr` scan
//! of the same bytes, the ceiling no parser can pass.
//!
//! The criterion benchmarks (`cargo bench -p sse-benches`) and the report
//! binary (`cargo run --release -p sse-benches --bin report`) share this
//! library: [`corpus`] generates the inputs and cuts them into chunks,
//! [`contenders`] drives each parser over them. See `benches/README.md`.

pub mod contenders;
pub mod corpus;
pub mod encoders;

pub use contenders::{Contender, Ev, Outcome, Role};
pub use corpus::{cases, Case, Chunking, Corpus};
pub use encoders::{encode_cases, EncodeCase, Encoder, Scratch};
