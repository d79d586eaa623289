//! Runs one contender over one case, many times, and nothing else: a target
//! for profilers.
//!
//! ```sh
//! cargo build --release -p sse-benches --bin profile
//! valgrind --tool=callgrind --toggle-collect='*Contender::run*' \
//!     target/release/profile 'sse-proto decoder' small/4k 20
//! perf record -g target/release/profile 'sse-proto parser' multiline/4k 2000
//! ```
//!
//! An encoder row of the report runs the same way over an encode case
//! (`profile 'sse-proto SseBody' small 200`).
//!
//! With no arguments it lists the contenders and cases. (For line numbers in
//! the profile, build with `CARGO_PROFILE_RELEASE_DEBUG=line-tables-only`.)

use std::hint::black_box;
use std::process::ExitCode;

use sse_benches::corpus::case_list;
use sse_benches::{Case, Contender};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = case_list();
    let name = |(corpus, chunking): &(sse_benches::Corpus, sse_benches::Chunking)| {
        format!("{}/{}", corpus.name(), chunking.label())
    };
    // An encoder over an encode case: `profile 'sse-proto SseBody' small 200`.
    if let Some(encoder) = args.first().and_then(|a| {
        sse_benches::Encoder::ALL
            .into_iter()
            .find(|e| e.name() == a)
    }) {
        let Some(case) = args.get(1).and_then(|a| {
            sse_benches::encode_cases()
                .into_iter()
                .find(|c| c.name() == a)
        }) else {
            eprintln!("usage: profile ENCODER small|large|multiline|llm [PASSES]");
            return ExitCode::FAILURE;
        };
        let passes: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
        let mut scratch = sse_benches::Scratch::for_items(&case.items);
        let mut total = 0;
        for _ in 0..passes {
            total += encoder.run(black_box(&case.items), &mut scratch);
        }
        println!(
            "{} on {}: {passes} passes, {total} bytes",
            encoder.name(),
            case.name()
        );
        return ExitCode::SUCCESS;
    }
    let contender = args
        .first()
        .and_then(|a| Contender::ALL.into_iter().find(|c| c.name() == a));
    let spec = args
        .get(1)
        .and_then(|a| list.iter().find(|s| &name(s) == a));
    let (Some(contender), Some(&(corpus, chunking))) = (contender, spec) else {
        eprintln!("usage: profile CONTENDER CASE [PASSES]");
        eprintln!("contenders:");
        for c in Contender::ALL {
            eprintln!("  {:?}", c.name());
        }
        eprintln!("cases:");
        for s in &list {
            eprintln!("  {}", name(s));
        }
        return ExitCode::FAILURE;
    };
    let case = Case::new(corpus, chunking);
    let passes: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
    let mut total = 0;
    for _ in 0..passes {
        total += contender.run(black_box(&case.chunks));
    }
    println!(
        "{} on {}: {passes} passes, {total} items",
        contender.name(),
        case.name()
    );
    ExitCode::SUCCESS
}
