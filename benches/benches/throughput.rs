//! Parse throughput: the memchr ceiling, our parser and decoder, and the
//! peers, side by side on the same chunks of the same corpora.
//!
//! One criterion group per case (`small/4k`, `small/1-64`, `large/4k`,
//! `multiline/4k`, `crlf/4k`, `cr/4k`), one function per contender, all in
//! bytes per second. Filter as usual: `cargo bench -p sse-benches --
//! 'small/4k'` or `-- 'sse-core decoder'`. The correctness of each peer on
//! each case is checked by the report binary, not here.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sse_benches::{cases, Contender};

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

// ENCODER (to do): the sse-core encoder (`sse_core::encode` into a slice,
// `encode_to` into a `BufMut`) is not benchmarked yet. Its benchmark goes here as a
// second function (`fn encode(c: &mut Criterion)`, added to the group
// below): encode the events of each corpus (decoded once, outside the
// timing) into a reused buffer, with `Throughput::Bytes` of the encoded
// output, next to the peers that encode (`sse-stream`'s `Sse::encode`).
// The `stream` adapter is a `Contender` (see `sse_benches::contenders`) and
// is picked up by `parse` above.

criterion_group!(benches, parse);
criterion_main!(benches);
