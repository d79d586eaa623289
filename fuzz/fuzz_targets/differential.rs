//! `differential`: the `Decoder`, fed arbitrary bytes in arbitrary chunks
//! (input format: `src/lib.rs`), against the reference model of the standard
//! (`sse_codec_tests::reference`) on the same bytes: the same `Outcome`, that
//! is the same events (type, data, last event ID) and `retry` changes in the
//! same order, and the same last event ID and reconnection time at the end.
//!
//! The same bytes and chunks through `Decoder::decode_with` (events lent to
//! a callback) must give the same `Outcome` too.
//!
//! The header's knob, when odd, starts both from a last event ID (as after a
//! reconnect): `Decoder::with_last_event_id` against
//! `interpret_with_last_event_id`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sse_codec_tests::{decode_chunks, decode_chunks_lending};
use sse_codec_tests::reference::interpret_with_last_event_id;
use sse_proto::Decoder;
use sse_proto_fuzz::{on_panic_describe, Input};

/// The last event ID to start from when the knob is odd.
const SEED: &str = "seed-\u{e9}";

fuzz_target!(|data: &[u8]| {
    on_panic_describe(data);
    let input = Input::new(data);
    let seed = if input.knob & 1 == 1 { SEED } else { "" };
    let decoder = || Decoder::new().with_last_event_id(seed.to_owned());
    let got = decode_chunks(input.stream, &input.lens(), decoder());
    let lent = decode_chunks_lending(input.stream, &input.lens(), decoder());
    let want = interpret_with_last_event_id(input.stream, seed);
    assert_eq!(
        got, want,
        "decoder (left) != reference (right), last event ID seed {seed:?}"
    );
    assert_eq!(
        lent, want,
        "decode_with (left) != reference (right), last event ID seed {seed:?}"
    );
});
