//! Every vector through the reference model and through the decoder at
//! several chunk sizes. All failures are reported together, by name.

use sse_codec_tests::reference::{interpret, Outcome};
use sse_codec_tests::{decode, vectors, Vector};

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

#[test]
fn there_are_at_least_100_vectors_from_each_origin_kind() {
    let all = vectors();
    assert!(all.len() >= 100, "only {} vectors", all.len());
    for origin in ["WHATWG HTML spec", "WPT eventsource/", "own"] {
        assert!(
            all.iter().any(|v| v.origin.starts_with(origin)),
            "no vector from {origin}"
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
