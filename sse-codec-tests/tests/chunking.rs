//! Chunking never changes the result, and the decoder equals the reference
//! model, on the vectors and on arbitrary bytes.

use proptest::prelude::*;
use sse_codec_tests::reference::{interpret, interpret_with_last_event_id};
use sse_codec_tests::{
    decode, decode_chunks, decode_chunks_lending, decode_lending, decode_with_last_event_id,
    vectors,
};
use sse_proto::Decoder;

/// Vectors up to this long are split at every byte.
const SPLIT_EVERYWHERE: usize = 4096;

/// Where a vector longer than [`SPLIT_EVERYWHERE`] is split: at every byte of
/// its first and last 64 (its first line, the start of its repeats, its last
/// event and the end), and at cuts spread evenly between, as many as keep the
/// input decoded near 8 MiB (at least 16): each decode of a split reads the
/// whole vector, so splitting 100 KiB everywhere would decode 10 GB.
fn sampled_cuts(len: usize) -> Vec<usize> {
    const EDGE: usize = 64;
    let between = ((8 << 20) / len).max(16);
    let mut cuts: Vec<usize> = (0..=EDGE).chain(len - EDGE..=len).collect();
    // Evenly spread, with a step that is rarely a whole number of bytes, so
    // that the cuts fall at varied places in a repeating structure.
    cuts.extend((1..=between).map(|k| EDGE + k * (len - 2 * EDGE) / (between + 1)));
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[test]
fn every_two_way_split_of_vectors_up_to_4_kib_and_sampled_splits_of_longer_ones() {
    let (mut everywhere, mut sampled) = (Vec::new(), Vec::new());
    for v in vectors() {
        let input = v.input();
        let whole = interpret(&input);
        let cuts = if input.len() <= SPLIT_EVERYWHERE {
            everywhere.push(v.name.clone());
            (0..=input.len()).collect()
        } else {
            let cuts = sampled_cuts(input.len());
            sampled.push(format!(
                "{} ({} bytes, {} cuts)",
                v.name,
                input.len(),
                cuts.len()
            ));
            cuts
        };
        for cut in cuts {
            let got = decode_chunks(&input, &[cut], Decoder::new());
            assert_eq!(got, whole, "{} split at {cut}", v.name);
        }
    }
    // The suite's 5 long vectors (two of 100 KiB, two of 8 to 17 KiB, one
    // just over 4 KiB) are still there, and were split; so were the 226
    // others, everywhere.
    assert!(sampled.len() >= 5, "the vectors over 4 KiB: {sampled:?}");
    assert!(
        everywhere.len() >= 220,
        "{} vectors up to 4 KiB",
        everywhere.len()
    );
}

#[test]
fn every_three_way_split_of_the_vectors_up_to_64_bytes() {
    let mut checked = 0;
    for v in vectors() {
        let input = v.input();
        if input.len() > 64 {
            continue;
        }
        let whole = interpret(&input);
        for a in 0..=input.len() {
            for b in 0..=input.len() - a {
                let got = decode_chunks(&input, &[a, b], Decoder::new());
                assert_eq!(got, whole, "{} split at {a}, {}", v.name, a + b);
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "only {checked} splits checked");
}

/// Pieces of SSE syntax and of the bytes that trip parsers up.
const TOKENS: &[&[u8]] = &[
    b"data",
    b"event",
    b"id",
    b"retry",
    b"data:",
    b"id:",
    b"retry:",
    b"event:",
    b":",
    b": ",
    b" ",
    b"  ",
    b"\r",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"\r\r",
    b"\xEF\xBB\xBF",
    b"\xEF\xBB",
    b"\0",
    b"\xFF",
    b"\xC3",
    b"\xE2\x82",
    b"\xED\xA0\x80",
    b"\xF0\x9F\x98\x80",
    b"x",
    b"0",
    b"12",
    b"18446744073709551616",
    b"message",
    b"Data",
    b"\t",
];

/// A stream biased towards SSE syntax, with some arbitrary bytes mixed in.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => proptest::sample::select(TOKENS).prop_map(<[u8]>::to_vec),
        1 => proptest::collection::vec(any::<u8>(), 1..4),
    ];
    proptest::collection::vec(token, 0..60).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoder_equals_reference_on_arbitrary_streams(input in stream()) {
        prop_assert_eq!(decode(&input, usize::MAX), interpret(&input));
    }

    #[test]
    fn any_chunking_gives_the_same_result(
        input in stream(),
        lens in proptest::collection::vec(0usize..12, 0..40),
    ) {
        let whole = decode(&input, usize::MAX);
        prop_assert_eq!(decode_chunks(&input, &lens, Decoder::new()), whole);
    }

    #[test]
    fn decode_with_equals_the_reference_model_at_any_chunking(
        input in stream(),
        lens in proptest::collection::vec(0usize..12, 0..40),
    ) {
        let whole = interpret(&input);
        prop_assert_eq!(decode_lending(&input, usize::MAX), whole.clone());
        prop_assert_eq!(decode_chunks_lending(&input, &lens, Decoder::new()), whole);
    }

    #[test]
    fn decode_with_never_panics_and_equals_the_reference_model_on_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..300), size in 1usize..5) {
        prop_assert_eq!(decode_lending(&input, size), interpret(&input));
    }

    #[test]
    fn decoder_seeded_with_a_last_event_id_equals_the_reference_model(input in stream(), size in 1usize..9) {
        prop_assert_eq!(
            decode_with_last_event_id(&input, size, "seed"),
            interpret_with_last_event_id(&input, "seed")
        );
    }

    #[test]
    fn decoder_never_panics_and_equals_the_reference_model_on_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..300), size in 1usize..5) {
        prop_assert_eq!(decode(&input, size), interpret(&input));
    }
}
