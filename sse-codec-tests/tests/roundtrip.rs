//! Encode then decode is the identity (with line breaks in data normalised to
//! LF), or the encoder refused; never a different, extra or missing event.

use bytes::BytesMut;
use proptest::prelude::*;
use sse_codec_tests::reference::{interpret, Output};
use sse_codec_tests::{decode_chunks, expected_outcome, EventSpec};
use sse_proto::Decoder;
use sse_proto::{encode, encode_to, EncodeError, Line, ServerEvent};

/// Text with the characters that matter to the format, and any Unicode.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(vec![
            "\r", "\n", "\r\n", "\n\r", " ", "  ", "", ":", "\0", "data: x", "id: 9", "\u{FEFF}",
            "\u{1F600}", "é", "retry: 1", "\t", "event:",
        ])
        .prop_map(str::to_owned),
        2 => any::<String>(),
        2 => "[a-z0-9 ]{0,8}",
    ];
    proptest::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

type Spec = EventSpec;

fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::option::weighted(0.2, text()),
        proptest::option::weighted(0.4, text()),
        proptest::option::weighted(0.4, text()),
        proptest::option::weighted(0.2, any::<u64>()),
        proptest::option::weighted(0.8, text()),
    )
        .prop_map(|(comment, event, id, retry, data)| Spec {
            comment,
            event,
            id,
            retry,
            data,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn encode_then_decode_is_the_identity_or_a_refusal(
        specs in proptest::collection::vec(spec(), 0..8),
        lens in proptest::collection::vec(0usize..16, 0..30),
    ) {
        let mut stream = BytesMut::new();
        let mut accepted = Vec::new();
        for s in &specs {
            let before = stream.len();
            match encode_to(&s.event_ref(), &mut stream) {
                Ok(n) => {
                    prop_assert!(!s.must_refuse(), "accepted {s:?}");
                    prop_assert_eq!(n, stream.len() - before);
                    accepted.push(s.clone());
                }
                Err(e) => {
                    prop_assert!(s.must_refuse(), "refused {s:?}: {e}");
                    prop_assert_eq!(stream.len(), before, "wrote despite refusing");
                }
            }
        }
        let want = expected_outcome(&accepted);
        prop_assert_eq!(&decode_chunks(&stream, &lens, Decoder::new()), &want);
        prop_assert_eq!(&interpret(&stream), &want);
    }

    #[test]
    fn slice_sink_and_bufmut_sink_agree(s in spec()) {
        let mut buf = vec![0u8; 4096];
        match (encode(&s.event_ref(), &mut buf), to_server_event(&s).to_bytes()) {
            (Ok(n), Ok(bytes)) => prop_assert_eq!(&buf[..n], &bytes[..]),
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "slice {a:?} but bytes {b:?}"),
        }
    }
}

/// The same event through the builder.
fn to_server_event(s: &Spec) -> ServerEvent {
    let mut e = ServerEvent::new();
    if let Some(c) = &s.comment {
        e = e.comment(c.clone());
    }
    if let Some(t) = &s.event {
        e = e.event(t.clone());
    }
    if let Some(i) = &s.id {
        e = e.id(i.clone());
    }
    if let Some(ms) = s.retry {
        e = e.retry(std::time::Duration::from_millis(ms));
    }
    if let Some(d) = &s.data {
        e = e.data(d.clone());
    }
    e
}

#[test]
fn each_refusal_names_the_part_and_position() {
    let cases: [(ServerEvent, EncodeError); 6] = [
        (
            ServerEvent::new().event("a\nb"),
            EncodeError::LineBreak {
                part: Line::Event,
                at: 1,
            },
        ),
        (
            ServerEvent::new().event("\r"),
            EncodeError::LineBreak {
                part: Line::Event,
                at: 0,
            },
        ),
        (
            ServerEvent::new().id("7\r\n"),
            EncodeError::LineBreak {
                part: Line::Id,
                at: 1,
            },
        ),
        (ServerEvent::new().id("a\0"), EncodeError::NulInId { at: 1 }),
        (
            ServerEvent::new().comment("one\ntwo"),
            EncodeError::LineBreak {
                part: Line::Comment,
                at: 3,
            },
        ),
        (
            ServerEvent::new().comment("x\r"),
            EncodeError::LineBreak {
                part: Line::Comment,
                at: 1,
            },
        ),
    ];
    for (event, err) in cases {
        assert_eq!(event.to_bytes(), Err(err), "{event:?}");
        let mut buf = BytesMut::new();
        assert_eq!(event.encode_to(&mut buf), Err(err));
        assert!(buf.is_empty());
    }
    assert_eq!(
        EncodeError::LineBreak {
            part: Line::Id,
            at: 1
        }
        .to_string(),
        "the id has a line break at byte 1; it must be one line"
    );
}

#[test]
fn a_full_fixed_size_bufmut_is_too_small_not_a_panic() {
    let mut storage = [0u8; 4];
    let mut sink: &mut [u8] = &mut storage;
    let event = ServerEvent::new().data("hello");
    assert_eq!(
        event.encode_to(&mut sink),
        Err(EncodeError::TooSmall {
            required: 13,
            available: 4
        })
    );
    assert_eq!(storage, [0; 4]);
}

#[test]
fn json_data_round_trips_as_one_line() {
    let value = serde_json_value();
    let bytes = ServerEvent::new()
        .json_data(&value)
        .expect("serialises")
        .to_bytes()
        .expect("encodes");
    assert_eq!(
        bytes.iter().filter(|&&b| b == b'\n').count(),
        2,
        "one data line and the blank line"
    );
    let out = interpret(&bytes);
    let [Output::Event { data, .. }] = &out.outputs[..] else {
        panic!("{out:?}")
    };
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(data).expect("JSON"),
        value
    );
}

fn serde_json_value() -> serde_json::Value {
    serde_json::json!({"text": "two\nlines\r\nand a CR\r", "n": [1, 2, 3]})
}

#[test]
fn a_keep_alive_is_no_event_and_an_empty_id_resets_the_last_event_id() {
    let mut stream = ServerEvent::new()
        .id("5")
        .data("a")
        .to_bytes()
        .expect("encodes")
        .to_vec();
    stream.extend_from_slice(sse_proto::KEEP_ALIVE);
    stream.extend_from_slice(&ServerEvent::new().id("").to_bytes().expect("encodes"));
    stream.extend_from_slice(&ServerEvent::new().data("b").to_bytes().expect("encodes"));
    let out = interpret(&stream);
    assert_eq!(
        out.events(),
        [
            ("message".into(), "a".into(), "5".into()),
            ("message".into(), "b".into(), String::new())
        ]
    );
}
