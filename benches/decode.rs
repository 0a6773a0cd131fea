//! Decode throughput of the seed's JSON sample format.
//!
//! `cargo bench --bench decode`

use criterion::{Criterion, Throughput, criterion_main};
use strata_pipeline::decode::{DecodeLimits, json};

const NOW: i64 = 1_800_000_000_000_000_000;

fn sample(i: usize) -> String {
    format!(
        r#"{{"metric_name":"cpu.load","labels":{{"host":"web{:03}","region":"us-west","env":"prod"}},"timestamp":{},"value":{}}}"#,
        i % 500,
        1_700_000_000 + i,
        (i as f64) * 0.25
    )
}

fn bench(c: &mut Criterion) {
    let one = sample(7);
    let array = format!("[{}]", (0..100).map(sample).collect::<Vec<_>>().join(","));
    let mut g = c.benchmark_group("decode_json");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_sample_per_message", |b| {
        b.iter(|| json::decode(one.as_bytes(), DecodeLimits::default(), NOW))
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("array_of_100", |b| {
        b.iter(|| json::decode(array.as_bytes(), DecodeLimits::default(), NOW))
    });
    g.finish();
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
