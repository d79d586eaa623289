//! Every vector through the reference model and through the decoder at
//! several chunk sizes. All failures are reported together, by name.

use sse_codec_tests::reference::{interpret, Outcome};
use sse_codec_tests::{decode, decode_lending, vectors, Vector};

const CHUNK_SIZES: [usize; 6] = [1, 2, 3, 7, 4096, usize::MAX];

fn check_expected(v: &Vector, what: &str, got: &Outcome, failures: &mut Vec<String>) {
    if got.events() != v.expected_events() {
        failures.push(format!(
            "{} ({}): {what}: events differ\n  expected {:?}\n  got      {:?}",
            v.name,
            v.origin,
            v.expected_events(),
            got.events()
        ));
    }
    if got.retry_ms != v.retry_ms {
        failures.push(format!(
            "{}: {what}: retry_ms expected {:?}, got {:?}",
            v.name, v.retry_ms, got.retry_ms
        ));
    }
}

/// The kinds of origin, by how `origin` starts, with the fewest vectors each
/// must keep: its count when this was written (43, 51 and 137), rounded down
/// to a ten.
const ORIGIN_KINDS: [(&str, usize); 3] = [
    ("WHATWG HTML spec", 40),
    ("WPT eventsource/", 50),
    ("own", 130),
];

#[test]
fn at_least_40_vectors_from_the_standard_50_from_wpt_130_of_our_own_and_none_from_elsewhere() {
    let all = vectors();
    let kind_of = |v: &Vector| {
        ORIGIN_KINDS
            .iter()
            .position(|(prefix, _)| v.origin.starts_with(prefix))
    };
    let mut counts = [0; ORIGIN_KINDS.len()];
    let mut elsewhere = Vec::new();
    for v in &all {
        match kind_of(v) {
            Some(kind) => counts[kind] += 1,
            None => elsewhere.push(format!("{} ({})", v.name, v.origin)),
        }
    }
    assert!(
        elsewhere.is_empty(),
        "vectors of no known origin kind: {elsewhere:?}"
    );
    for ((origin, floor), count) in ORIGIN_KINDS.iter().zip(counts) {
        assert!(
            count >= *floor,
            "{count} vectors from {origin:?}, fewer than {floor}: {counts:?}"
        );
    }
}

#[test]
fn reference_model_gives_the_expected_events() {
    let mut failures = Vec::new();
    for v in vectors() {
        check_expected(&v, "reference", &interpret(&v.input()), &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn decoder_gives_the_expected_events_at_every_chunk_size() {
    let mut failures = Vec::new();
    for v in vectors() {
        let input = v.input();
        let reference = interpret(&input);
        for size in CHUNK_SIZES {
            let lent = decode_lending(&input, size);
            if lent != reference {
                failures.push(format!(
                    "{}: decode_with, chunks of {size}, differs from the reference model\n  reference {reference:?}\n  decode_with {lent:?}",
                    v.name
                ));
            }
            let got = decode(&input, size);
            check_expected(
                &v,
                &format!("decoder, chunks of {size}"),
                &got,
                &mut failures,
            );
            // Beyond the vector: the same retries in the same order, and the
            // same last event ID at the end, as the reference model.
            if got != reference {
                failures.push(format!(
                    "{}: decoder, chunks of {size}, differs from the reference model\n  reference {reference:?}\n  decoder   {got:?}",
                    v.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
