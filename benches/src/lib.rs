//! Benchmarks of sse-core (placeholder until the benchmark suite lands).
