//! Parse throughput: the memchr ceiling, our parser, decoder and stream
//! adapter, and the peers, side by side on the same chunks of the same
//! corpora; then encode throughput, ours and the peers'.
//!
//! One criterion group per case (`small/4k`, `small/1-64`, `large/4k`,
//! `multiline/4k`, `crlf/4k`, `cr/4k`), one function per contender, all in
//! bytes per second. Filter as usual: `cargo bench -p sse-benches --
//! 'small/4k'` or `-- 'sse-proto decoder'`. The correctness of each peer on
//! each case is checked by the report binary, not here.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sse_benches::{cases, encode_cases, Contender, Encoder, Scratch};

fn parse(c: &mut Criterion) {
    for case in cases() {
        let mut group = c.benchmark_group(case.name());
        group.throughput(Throughput::Bytes(case.len() as u64));
        // A pass over a case takes from 0.02 ms (the ceiling) to tens of ms
        // (the slowest peer on large lines): few samples suffice.
        group.sample_size(20);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        for contender in Contender::ALL {
            group.bench_function(contender.name(), |b| b.iter(|| contender.run(&case.chunks)));
        }
        group.finish();
    }
}

/// Encode throughput: our encoder and the peers' on the events of three
/// corpora (decoded once, outside the timing), in bytes of our encoding.
/// Groups `encode/small`, `encode/large`, `encode/multiline`; one function
/// per encoder (see `sse_benches::encoders`).
fn encode(c: &mut Criterion) {
    for case in encode_cases() {
        let mut group = c.benchmark_group(format!("encode/{}", case.name()));
        group.throughput(Throughput::Bytes(case.bytes as u64));
        group.sample_size(20);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        let mut scratch = Scratch::for_items(&case.items);
        for encoder in Encoder::ALL {
            group.bench_function(encoder.name(), |b| {
                b.iter(|| encoder.run(&case.items, &mut scratch))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, parse, encode);
criterion_main!(benches);
