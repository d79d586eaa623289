//! Conformance suite for `sse-core`: a reference model written from the
//! standard, the test vectors, and helpers shared by the tests.

pub mod reference;
