//! `roundtrip`: arbitrary events through the encoder and back through the
//! decoder (at arbitrary chunking, input format: `src/lib.rs`). Each event
//! is written or refused; a refusal must be one the rules demand (a line
//! break in the comment, type or id; NUL in the id) and write nothing; what
//! is written must decode to exactly the events given
//! (`sse_codec_tests::expected_outcome`), never a different, extra or
//! missing one, and the reference model must agree.
//!
//! The stream bytes are read as text (lossily) and cut into events at
//! U+0001, and each event into its parts at U+0002: data, type, id, comment,
//! retry (digits). A part is present when the event has that many parts; the
//! knob's bits drop the type (1), id (2) and comment (4) even then.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sse_codec_tests::reference::interpret;
use sse_codec_tests::{decode_chunks, expected_outcome, EventSpec};
use sse_proto::{encode, encode_to, Decoder};
use sse_proto_fuzz::{on_panic_describe, Input};

fuzz_target!(|data: &[u8]| {
    on_panic_describe(data);
    let input = Input::new(data);
    let text = String::from_utf8_lossy(input.stream);
    let mut stream = Vec::new();
    let mut accepted = Vec::new();
    for event in text.split('\u{1}') {
        let mut parts = event.split('\u{2}').map(str::to_owned);
        let mut next = |drop: bool| parts.next().filter(|_| !drop);
        let spec = EventSpec {
            data: next(false),
            event: next(input.knob & 1 != 0),
            id: next(input.knob & 2 != 0),
            comment: next(input.knob & 4 != 0),
            retry: next(false).and_then(|r| r.parse().ok()),
        };
        let before = stream.len();
        match encode_to(&spec.event_ref(), &mut stream) {
            Ok(n) => {
                assert!(!spec.must_refuse(), "accepted {spec:?}");
                assert_eq!(n, stream.len() - before);
                // The slice sink writes the same bytes.
                let mut buf = vec![0; n];
                assert_eq!(encode(&spec.event_ref(), &mut buf), Ok(n));
                assert_eq!(buf, stream[before..]);
                accepted.push(spec);
            }
            Err(e) => {
                assert!(spec.must_refuse(), "refused {spec:?}: {e}");
                assert_eq!(stream.len(), before, "wrote part of a refused event");
            }
        }
    }
    let want = expected_outcome(&accepted);
    assert_eq!(
        decode_chunks(&stream, &input.lens(), Decoder::new()),
        want,
        "decoded"
    );
    assert_eq!(interpret(&stream), want, "reference model");
});
