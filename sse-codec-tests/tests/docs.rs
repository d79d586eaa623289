//! What the READMEs and the crate docs tell a user to write in their
//! `Cargo.toml` must name features that sse-proto has: Cargo refuses any
//! other, and a user's first build then fails on the docs' own line.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The keys of sse-proto's `[features]` table.
fn features() -> BTreeSet<String> {
    let manifest = read("sse-core/Cargo.toml");
    let table = manifest
        .split_once("[features]\n")
        .expect("sse-core/Cargo.toml has a [features] table")
        .1;
    table
        .lines()
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, _)| key.trim().to_owned())
        .filter(|key| !key.starts_with('#'))
        .collect()
}

/// Every feature named in a `sse-proto = { .. features = [..] .. }` line of
/// `text`, with the line it is on.
fn named_features(text: &str) -> Vec<(String, String)> {
    let mut named = Vec::new();
    for line in text.lines().filter(|l| l.contains("sse-proto = {")) {
        let Some((_, rest)) = line.split_once("features = [") else {
            continue;
        };
        let list = rest.split_once(']').expect("a closed feature list").0;
        for name in list.split(',') {
            let name = name.trim().trim_matches('"');
            if !name.is_empty() {
                named.push((name.to_owned(), line.trim().to_owned()));
            }
        }
    }
    named
}

#[test]
fn every_feature_the_docs_name_is_one_sse_proto_has() {
    let have = features();
    assert!(
        ["std", "alloc", "server", "axum", "client"]
            .iter()
            .all(|f| have.contains(*f)),
        "the [features] table was not read: {have:?}"
    );
    let mut checked = 0;
    for doc in ["README.md", "sse-core/README.md", "sse-core/src/lib.rs"] {
        for (name, line) in named_features(&read(doc)) {
            assert!(
                have.contains(&name),
                "{doc}: `{line}` names feature `{name}`, which sse-proto lacks (it has {have:?})"
            );
            checked += 1;
        }
    }
    // The crate README's three lines and the crate docs' two at least.
    assert!(
        checked >= 4,
        "only {checked} feature names found in the docs"
    );
}

#[test]
fn a_feature_list_is_read_name_by_name() {
    let named = named_features(
        "x\nsse-proto = { version = \"0.1\", features = [\"server\", \"serde\"] }  # or \"hyper\"\n",
    );
    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["server", "serde"]);
    assert!(
        named_features("sse-proto = { version = \"0.1\", default-features = false }").is_empty()
    );
}
