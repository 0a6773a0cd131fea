//! End to end on the real broker, `strata ingest --format auto`: OTLP
//! metrics as the OpenTelemetry Collector's Kafka exporter writes them, one
//! record per batch, `otlp_json` and `otlp_proto` on one topic, land in the
//! raw tier with their names, labels, times and values. A point too far
//! ahead is dead-lettered alone as a one-point message of its encoding; a
//! broken message whole.
//!
//! The messages and their samples are the decoder's golden files
//! (`decode/tests/golden/otlp/`).

mod common;

use common::*;
use strata_pipeline::decode::{self, DecodeLimits, Format};

fn golden(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/decode/tests/golden/otlp/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The sample lines of `NAME.expected`.
fn expected(name: &str) -> Vec<String> {
    String::from_utf8(golden(&format!("{name}.expected")))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("skipped "))
        .map(str::to_string)
        .collect()
}

/// A gauge batch whose second point is in 2100: that point alone is
/// dead-lettered.
const FAR_POINT: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"clock"}}]},"scopeMetrics":[{"metrics":[{"name":"skewed","gauge":{"dataPoints":[{"timeUnixNano":"1767225600000000000","asInt":"1"},{"timeUnixNano":"4102444800000000000","asInt":"2"}]}}]}]}]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn otlp_json_and_proto_land_in_the_raw_tier() {
    let bed = Bed::new("otlp");
    // As the exporter writes them: `otlp_json` and `otlp_proto` records.
    let messages: Vec<(String, Vec<u8>)> = vec![
        ("json-example".into(), golden("metrics.json")),
        ("json-sum".into(), golden("sum.json")),
        ("proto-gauge".into(), golden("gauge.pb")),
        ("proto-histogram".into(), golden("histogram.pb")),
        ("proto-summary".into(), golden("summary.pb")),
        ("json-far".into(), FAR_POINT.as_bytes().to_vec()),
        (
            "json-broken".into(),
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"x"}]}}]}]}]}"#.to_vec(),
        ),
    ];
    for (key, payload) in &messages {
        let want = if key.starts_with("json") {
            Format::OtlpJson
        } else {
            Format::OtlpProto
        };
        assert_eq!(decode::detect(payload), want, "{key}");
    }
    let mut want: Vec<String> = ["metrics", "sum", "gauge", "histogram", "summary"]
        .into_iter()
        .flat_map(expected)
        .collect();
    want.push(r#"skewed{service.name="clock"} 1767225600000000000 1"#.into());
    want.sort();

    let ingest = bed
        .ingest(&["--format", "auto"], &messages, want.len() as u64)
        .await;
    assert_eq!(raw_rows(bed.dir.path()).await, want);

    let mut letters = dead_letters(&bed.brokers, &bed.topic, 2);
    assert_eq!(letters.len(), 2, "dead letters; log:\n{}", ingest.dump());
    letters.sort_by_key(|l| !l.headers.contains_key("strata.source.index"));
    let point = &letters[0];
    assert_eq!(
        point.headers.get("strata.source.index").map(String::as_str),
        Some("1")
    );
    assert!(
        point.headers["strata.reason"].contains("point 1 of metric \"skewed\"")
            && point.headers["strata.reason"].contains("ahead of this server's clock"),
        "{:?}",
        point.headers
    );
    // The point alone, still OTLP/JSON, with its resource: accepted once
    // the clock has caught up.
    let later = 4_102_444_800_000_000_000;
    let again = decode::decode(Format::Auto, &point.payload, DecodeLimits::default(), later);
    assert!(again.rejected.is_empty(), "{:?}", again.rejected);
    assert_eq!(again.samples.len(), 1);
    assert_eq!(again.samples[0].ts_ns, later);
    assert_eq!(again.samples[0].labels.get("service.name"), Some("clock"));
    let whole = &letters[1];
    assert!(
        whole.headers["strata.reason"]
            .contains("invalid OTLP JSON at resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asInt"),
        "{:?}",
        whole.headers
    );
    assert_eq!(whole.payload, messages[6].1);
}
