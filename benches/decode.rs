//! Decode throughput, in samples per second on one core, of each Kafka
//! message format: the seed's JSON, line protocol, Telegraf JSON and
//! prometheus-kafka-adapter JSON. The line protocol and Telegraf messages
//! hold what Telegraf's cpu (per core), mem, disk and system inputs write
//! for a few hosts, many lines (or metrics) per message.
//!
//! `cargo bench --bench decode`
//!
//! Measured (2 cores, load ~0.5, `--warm-up-time 1 --measurement-time 3`,
//! medians of 2 runs alternating with the previous commit's build, samples/s
//! on one core): seed JSON 2.27 M one per message, 1.54 M in arrays of 100;
//! line protocol 2.20 M at 104 lines per message (2.21 M detected), 2.67 M
//! at one line per message; Telegraf JSON 2.92 M in batches of 104 metrics,
//! 4.31 M one metric per message; prometheus-kafka-adapter 1.50 M. Runs
//! differ by up to ±5%.

use criterion::{Criterion, Throughput, criterion_main};
use strata_pipeline::decode::{DecodeLimits, Format, decode, json};

const NOW: i64 = 1_800_000_000_000_000_000;

fn sample(i: usize) -> String {
    format!(
        r#"{{"metric_name":"cpu.load","labels":{{"host":"web{:03}","region":"us-west","env":"prod"}},"timestamp":{},"value":{}}}"#,
        i % 500,
        1_700_000_000 + i,
        (i as f64) * 0.25
    )
}

/// One Telegraf metric: measurement, tags and fields (integers with `i`).
struct Metric {
    name: &'static str,
    tags: Vec<(&'static str, String)>,
    fields: Vec<(&'static str, String)>,
    ts_s: i64,
}

/// What Telegraf's cpu (8 cores and the total), mem, disk (2 mounts) and
/// system inputs report for `hosts` hosts at one time: 13 metrics, 121
/// numeric fields and 1 string field per host.
fn telegraf_metrics(hosts: usize) -> Vec<Metric> {
    let ts_s = 1_767_225_600;
    let mut out = Vec::new();
    for h in 0..hosts {
        let host = format!("web{h:03}.prod.example.com");
        for c in 0..9 {
            let cpu = if c == 8 {
                "cpu-total".into()
            } else {
                format!("cpu{c}")
            };
            let f = |base: f64| format!("{:.12}", base + (h * 9 + c) as f64 * 0.013);
            out.push(Metric {
                name: "cpu",
                tags: vec![("cpu", cpu), ("host", host.clone())],
                fields: vec![
                    ("usage_guest", "0".into()),
                    ("usage_guest_nice", "0".into()),
                    ("usage_idle", f(91.4)),
                    ("usage_iowait", f(0.2)),
                    ("usage_irq", "0".into()),
                    ("usage_nice", "0".into()),
                    ("usage_softirq", f(0.1)),
                    ("usage_steal", "0".into()),
                    ("usage_system", f(2.3)),
                    ("usage_user", f(5.9)),
                ],
                ts_s,
            });
        }
        let n = |v: u64| format!("{}i", v + h as u64 * 4096);
        out.push(Metric {
            name: "mem",
            tags: vec![("host", host.clone())],
            fields: vec![
                ("active", n(9_299_595_264)),
                ("available", n(16_818_249_728)),
                ("available_percent", "80.41654254645131".into()),
                ("buffered", n(2_383_761_408)),
                ("cached", n(13_316_689_920)),
                ("free", n(1_877_688_320)),
                ("inactive", n(7_549_939_712)),
                ("slab", n(2_081_071_104)),
                ("total", n(20_913_917_952)),
                ("used", n(3_335_778_304)),
                ("used_percent", "15.95004011996231".into()),
            ],
            ts_s,
        });
        for (device, path) in [("sda1", "/"), ("sdb1", "/var/lib/data")] {
            out.push(Metric {
                name: "disk",
                tags: vec![
                    ("device", device.into()),
                    ("fstype", "ext4".into()),
                    ("host", host.clone()),
                    ("mode", "rw".into()),
                    ("path", path.into()),
                ],
                fields: vec![
                    ("free", n(50_457_329_664)),
                    ("inodes_free", n(3_188_451)),
                    ("inodes_total", n(3_276_800)),
                    ("inodes_used", n(88_349)),
                    ("total", n(67_370_528_768)),
                    ("used", n(13_456_007_168)),
                    ("used_percent", "21.052498925476835".into()),
                ],
                ts_s,
            });
        }
        out.push(Metric {
            name: "system",
            tags: vec![("host", host.clone())],
            fields: vec![
                ("load1", "0.48".into()),
                ("load15", "0.38".into()),
                ("load5", "0.43".into()),
                ("n_cpus", "8i".into()),
                ("n_users", "2i".into()),
                ("uptime", n(1_249_632)),
                ("uptime_format", "\"14 days, 11:07\"".into()),
            ],
            ts_s,
        });
    }
    out
}

/// The metrics as one message of line protocol, one line each.
fn line_protocol(metrics: &[Metric]) -> String {
    let mut s = String::new();
    for m in metrics {
        s.push_str(m.name);
        for (k, v) in &m.tags {
            s.push_str(&format!(",{k}={}", v.replace(' ', "\\ ")));
        }
        let fields: Vec<String> = m.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!(" {} {}000000000\n", fields.join(","), m.ts_s));
    }
    s
}

/// The metrics as Telegraf's JSON serializer writes them: one object, or a
/// `{"metrics": [...]}` batch.
fn telegraf_json(m: &Metric) -> String {
    let tags: Vec<String> = m
        .tags
        .iter()
        .map(|(k, v)| format!("\"{k}\":\"{v}\""))
        .collect();
    let fields: Vec<String> = m
        .fields
        .iter()
        .map(|(k, v)| format!("\"{k}\":{}", v.trim_end_matches('i')))
        .collect();
    format!(
        r#"{{"fields":{{{}}},"name":"{}","tags":{{{}}},"timestamp":{}}}"#,
        fields.join(","),
        m.name,
        tags.join(","),
        m.ts_s
    )
}

/// One prometheus-kafka-adapter message: a node_exporter counter.
fn prom_adapter(i: usize) -> String {
    format!(
        r#"{{"labels":{{"__name__":"node_cpu_seconds_total","cpu":"{}","instance":"web{:03}.prod.example.com:9100","job":"node","mode":"idle"}},"name":"node_cpu_seconds_total","timestamp":"2026-01-01T00:00:{:02}Z","value":"{}.37"}}"#,
        i % 8,
        i % 500,
        i % 60,
        987_654 + i
    )
}

/// Benchmarks `format` on `payloads`, one decode per message, in samples.
fn group(c: &mut Criterion, group: &str, cases: &[(&str, Format, Vec<String>)]) {
    let mut g = c.benchmark_group(group);
    for (name, format, payloads) in cases {
        let samples: usize = payloads
            .iter()
            .map(|p| {
                let d = decode(*format, p.as_bytes(), DecodeLimits::default(), NOW);
                assert!(d.rejected.is_empty(), "{name}: {:?}", d.rejected);
                d.samples.len()
            })
            .sum();
        g.throughput(Throughput::Elements(samples as u64));
        g.bench_function(*name, |b| {
            b.iter(|| {
                for p in payloads {
                    std::hint::black_box(decode(
                        *format,
                        p.as_bytes(),
                        DecodeLimits::default(),
                        NOW,
                    ));
                }
            })
        });
    }
    g.finish();
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

    // 8 hosts: 104 lines and 968 samples per message.
    let metrics = telegraf_metrics(8);
    group(
        c,
        "decode_line_protocol",
        &[
            (
                "telegraf_104_lines_per_message",
                Format::Influx,
                vec![line_protocol(&metrics)],
            ),
            (
                "telegraf_one_line_per_message",
                Format::Influx,
                metrics
                    .iter()
                    .map(|m| line_protocol(std::slice::from_ref(m)))
                    .collect(),
            ),
            (
                "telegraf_104_lines_detected",
                Format::Auto,
                vec![line_protocol(&metrics)],
            ),
        ],
    );
    let batch = format!(
        r#"{{"metrics":[{}]}}"#,
        metrics
            .iter()
            .map(telegraf_json)
            .collect::<Vec<_>>()
            .join(",")
    );
    group(
        c,
        "decode_telegraf_json",
        &[
            ("batch_of_104_metrics", Format::TelegrafJson, vec![batch]),
            (
                "one_metric_per_message",
                Format::TelegrafJson,
                metrics.iter().map(telegraf_json).collect(),
            ),
        ],
    );
    group(
        c,
        "decode_prom_adapter",
        &[(
            "one_sample_per_message_x100",
            Format::PromAdapter,
            (0..100).map(prom_adapter).collect(),
        )],
    );
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
