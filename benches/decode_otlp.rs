//! OTLP decode throughput, in samples per second on one core, of one
//! record of the OpenTelemetry Collector's Kafka exporter as `otlp_json` and
//! as `otlp_proto`.
//!
//! The record is one batch as the Collector's hostmetrics receiver and an
//! instrumented HTTP service send it: 6 hosts, each a resource with 7
//! attributes and 7 metrics (CPU time and utilization per core and state,
//! memory, network and disk I/O, filesystem usage, HTTP request counts by
//! method, route and status), 3,198 gauge and sum points with 1 to 5
//! attributes each, a sample apiece. Both encodings hold the same batch and
//! decode to the same samples.
//!
//! `cargo bench --bench decode_otlp`
//!
//! Measured (release, 2 cores, load ~0.5, criterion `--warm-up-time 1
//! --measurement-time 3`, medians of 2 runs): otlp_proto (313 KB) 3.36 ms a
//! batch, 951 k samples/s; otlp_json (825 KB) 5.93 ms, 539 k samples/s.
//! In a full run the `_detected` variants come out slower (740 k/s proto),
//! not because of detection, which reads a few bytes: run alone
//! (`-- otlp_proto_detected`) they match the others (953 vs 947 k/s). It is
//! the heap the earlier benchmarks left; their profile is glibc's malloc
//! and free (`malloc_consolidate`, `unlink_chunk`) above the decoder.

use criterion::{Criterion, Throughput, criterion_main};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, MetricsData, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric,
    number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use serde_json::{Value, json};
use strata_pipeline::decode::{self, DecodeLimits, Format, otlp};

const NOW: i64 = 1_800_000_000_000_000_000;
const TIME: u64 = 1_767_225_600_000_000_000;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn point(attributes: Vec<KeyValue>, value: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: TIME - 3_600_000_000_000,
        time_unix_nano: TIME,
        value: Some(value),
        ..Default::default()
    }
}

fn sum(name: &str, unit: &str, monotonic: bool, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: 2,
            is_monotonic: monotonic,
        })),
        ..Default::default()
    }
}

fn gauge(name: &str, unit: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

/// The batch: 6 hosts × 533 points.
fn batch() -> MetricsData {
    use number_data_point::Value::{AsDouble, AsInt};
    let states = [
        "user",
        "system",
        "idle",
        "interrupt",
        "nice",
        "softirq",
        "steal",
        "wait",
    ];
    let resource_metrics = (0..6)
        .map(|h| {
            let host = format!("web{h:02}.prod.example.com");
            let x = |i: usize| (h * 1000 + i) as f64;
            let cpu = |value: &dyn Fn(usize) -> number_data_point::Value| {
                (0..16)
                    .flat_map(|c| states.iter().map(move |st| (c, *st)))
                    .enumerate()
                    .map(|(i, (c, st))| {
                        point(vec![s("cpu", &format!("cpu{c}")), s("state", st)], value(i))
                    })
                    .collect()
            };
            let memory = [
                "used",
                "free",
                "buffered",
                "cached",
                "slab_reclaimable",
                "slab_unreclaimable",
            ]
            .iter()
            .enumerate()
            .map(|(i, st)| point(vec![s("state", st)], AsInt(1 << 30 | i as i64)))
            .collect();
            let io = |devices: &[&str]| {
                devices
                    .iter()
                    .flat_map(|d| ["receive", "transmit"].map(|dir| (*d, dir)))
                    .enumerate()
                    .map(|(i, (d, dir))| {
                        point(
                            vec![s("device", d), s("direction", dir)],
                            AsInt(123_456_789 * (i as i64 + 1)),
                        )
                    })
                    .collect()
            };
            let filesystem = ["/", "/boot", "/var/lib/data", "/home", "/tmp"]
                .iter()
                .flat_map(|m| ["used", "free", "reserved"].map(|st| (*m, st)))
                .enumerate()
                .map(|(i, (m, st))| {
                    point(
                        vec![
                            s("device", &format!("/dev/sda{i}")),
                            s("mode", "rw"),
                            s("mountpoint", m),
                            s("type", "ext4"),
                            s("state", st),
                        ],
                        AsInt(50_457_329_664 + i as i64),
                    )
                })
                .collect();
            let requests = ["GET", "POST", "PUT"]
                .iter()
                .flat_map(|m| (0..20).map(move |r| (*m, r)))
                .flat_map(|(m, r)| [200, 301, 404, 500].map(|st| (m, r, st)))
                .enumerate()
                .map(|(i, (m, r, st))| {
                    point(
                        vec![
                            s("http.request.method", m),
                            s("http.route", &format!("/api/v1/resource{r}/{{id}}")),
                            kv("http.response.status_code", any_value::Value::IntValue(st)),
                        ],
                        AsInt(1000 + i as i64),
                    )
                })
                .collect();
            ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        s("service.name", "checkout"),
                        s("service.version", "1.42.0"),
                        s("host.name", &host),
                        s("host.arch", "amd64"),
                        s("os.type", "linux"),
                        s("cloud.region", "eu-west-1"),
                        kv("host.cpu.count", any_value::Value::IntValue(16)),
                    ],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        sum(
                            "system.cpu.time",
                            "s",
                            true,
                            cpu(&|i| AsDouble(x(i) * 0.37)),
                        ),
                        gauge(
                            "system.cpu.utilization",
                            "1",
                            cpu(&|i| AsDouble(i as f64 / 1000.0)),
                        ),
                        sum("system.memory.usage", "By", false, memory),
                        sum(
                            "system.network.io",
                            "By",
                            true,
                            io(&["eth0", "eth1", "lo", "docker0"]),
                        ),
                        sum(
                            "system.disk.io",
                            "By",
                            true,
                            io(&["sda", "sdb", "nvme0n1", "nvme1n1"]),
                        ),
                        sum("system.filesystem.usage", "By", false, filesystem),
                        sum("http.server.request.count", "{request}", true, requests),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    MetricsData { resource_metrics }
}

/// The batch as OTLP/JSON, as the exporter's `otlp_json` writes it: 64-bit
/// integers as strings.
fn to_json(data: &MetricsData) -> Vec<u8> {
    let attrs = |kvs: &[KeyValue]| -> Value {
        kvs.iter()
            .map(|kv| {
                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => json!({ "stringValue": s }),
                    Some(any_value::Value::IntValue(i)) => json!({ "intValue": i.to_string() }),
                    other => panic!("not in the batch: {other:?}"),
                };
                json!({ "key": kv.key, "value": v })
            })
            .collect()
    };
    let points = |points: &[NumberDataPoint]| -> Value {
        points
            .iter()
            .map(|p| {
                let mut o = json!({
                    "attributes": attrs(&p.attributes),
                    "startTimeUnixNano": p.start_time_unix_nano.to_string(),
                    "timeUnixNano": p.time_unix_nano.to_string(),
                });
                match p.value {
                    Some(number_data_point::Value::AsInt(i)) => o["asInt"] = i.to_string().into(),
                    Some(number_data_point::Value::AsDouble(d)) => o["asDouble"] = d.into(),
                    None => {}
                }
                o
            })
            .collect()
    };
    let resource_metrics: Vec<Value> = data
        .resource_metrics
        .iter()
        .map(|rm| {
            let metrics: Vec<Value> = rm.scope_metrics[0]
                .metrics
                .iter()
                .map(|m| match &m.data {
                    Some(metric::Data::Sum(s)) => json!({
                        "name": m.name, "unit": m.unit,
                        "sum": {
                            "aggregationTemporality": s.aggregation_temporality,
                            "isMonotonic": s.is_monotonic,
                            "dataPoints": points(&s.data_points),
                        },
                    }),
                    Some(metric::Data::Gauge(g)) => json!({
                        "name": m.name, "unit": m.unit,
                        "gauge": { "dataPoints": points(&g.data_points) },
                    }),
                    other => panic!("not in the batch: {other:?}"),
                })
                .collect();
            json!({
                "resource": { "attributes": attrs(&rm.resource.as_ref().unwrap().attributes) },
                "scopeMetrics": [{ "scope": { "name": "otelcol/hostmetricsreceiver" }, "metrics": metrics }],
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "resourceMetrics": resource_metrics })).unwrap()
}

fn bench(c: &mut Criterion) {
    let data = batch();
    let proto = data.encode_to_vec();
    let json = to_json(&data);
    let from_proto = otlp::decode_proto(&proto, DecodeLimits::default(), NOW);
    let from_json = otlp::decode_json(&json, DecodeLimits::default(), NOW);
    assert!(from_proto.rejected.is_empty() && from_json.rejected.is_empty());
    assert_eq!(from_proto.samples, from_json.samples);
    assert_eq!(decode::detect(&proto), Format::OtlpProto);
    assert_eq!(decode::detect(&json), Format::OtlpJson);
    let samples = from_proto.samples.len() as u64;
    assert_eq!(samples, 3_198);
    eprintln!(
        "one batch: {samples} samples; otlp_proto {} bytes, otlp_json {} bytes",
        proto.len(),
        json.len()
    );

    let mut g = c.benchmark_group("decode_otlp");
    g.throughput(Throughput::Elements(samples));
    g.bench_function("otlp_proto_batch_of_3198_points", |b| {
        b.iter(|| otlp::decode_proto(&proto, DecodeLimits::default(), NOW))
    });
    g.bench_function("otlp_json_batch_of_3198_points", |b| {
        b.iter(|| otlp::decode_json(&json, DecodeLimits::default(), NOW))
    });
    g.bench_function("otlp_proto_detected", |b| {
        b.iter(|| decode::decode(Format::Auto, &proto, DecodeLimits::default(), NOW))
    });
    g.bench_function("otlp_json_detected", |b| {
        b.iter(|| decode::decode(Format::Auto, &json, DecodeLimits::default(), NOW))
    });
    g.finish();
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
