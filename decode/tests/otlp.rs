//! OTLP decoding: golden messages (`golden/otlp/`, see its README) decoded
//! from JSON and from protobuf, detection, and what is rejected and how.

use std::path::PathBuf;

use opentelemetry_proto::tonic::metrics::v1::MetricsData;
use prost::Message as _;
use strata_decode::{self as decode, DecodeLimits, Decoded, Format, otlp};

/// The wall clock of these tests: 2027-01-15.
const NOW: i64 = 1_800_000_000_000_000_000;

fn golden_file(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/otlp")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Samples one per line, then the count of skipped points, as in the
/// `.expected` files.
fn render(d: &Decoded) -> String {
    let mut out: String = d
        .samples
        .iter()
        .map(|s| format!("{}{} {} {}\n", s.metric_name, s.labels, s.ts_ns, s.value))
        .collect();
    if d.skipped_fields > 0 {
        out.push_str(&format!("skipped {}\n", d.skipped_fields));
    }
    out
}

/// Decodes `NAME.json` and `NAME.pb`, detected and with the format given,
/// and compares both with `NAME.expected`.
fn golden(name: &str) {
    let expected: String = String::from_utf8(golden_file(&format!("{name}.expected")))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!expected.is_empty(), "{name}.expected holds no sample");
    for (ext, format) in [("json", Format::OtlpJson), ("pb", Format::OtlpProto)] {
        let payload = golden_file(&format!("{name}.{ext}"));
        assert_eq!(
            decode::detect(&payload),
            format,
            "detection of {name}.{ext}"
        );
        for given in [Format::Auto, format] {
            let d = decode::decode(given, &payload, DecodeLimits::default(), NOW);
            assert!(d.rejected.is_empty(), "{name}.{ext}: {:?}", d.rejected);
            assert_eq!(
                render(&d),
                expected,
                "{name}.{ext} decoded as {given}: got (left) vs {name}.expected (right)"
            );
        }
    }
}

#[test]
fn golden_upstream_example() {
    golden("metrics");
}

#[test]
fn golden_gauge() {
    golden("gauge");
}

#[test]
fn golden_sum() {
    golden("sum");
}

#[test]
fn golden_histogram() {
    golden("histogram");
}

#[test]
fn golden_summary() {
    golden("summary");
}

fn json(s: &str) -> Decoded {
    otlp::decode_json(s.as_bytes(), DecodeLimits::default(), NOW)
}

/// A one-gauge message with the given data points.
fn gauge(points: &str) -> String {
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"api"}}}}]}},
            "scopeMetrics":[{{"metrics":[{{"name":"g","gauge":{{"dataPoints":[{points}]}}}}]}}]}}]}}"#
    )
}

#[test]
fn malformed_messages_are_rejected_whole() {
    let cases = [
        ("", "empty message"),
        ("{\"resourceMetrics\": [", "invalid OTLP JSON"),
        ("[1, 2]", "invalid OTLP JSON"),
        (
            &gauge(r#"{"timeUnixNano":"soon","asInt":"1"}"#),
            "at resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].timeUnixNano: \"soon\" is not an integer",
        ),
        (
            &gauge(r#"{"timeUnixNano":"1700000000000000000","asInt":"1.5"}"#),
            "dataPoints[0].asInt: \"1.5\" is not an integer",
        ),
        (
            &gauge(r#"{"timeUnixNano":"-1","asInt":"1"}"#),
            "integer -1 is out of range for u64",
        ),
        (
            &gauge(r#"{"timeUnixNano":"1700000000000000000","asInt":"1","asDouble":1}"#),
            "a point of metric \"g\" has both asInt and asDouble",
        ),
        (
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{},"sum":{}}]}]}]}"#,
            "metric \"m\" has more than one of gauge, sum",
        ),
        (
            &gauge(
                r#"{"timeUnixNano":"1700000000000000000","asInt":"1","attributes":[{"key":"k","value":{"stringValue":"a","intValue":"1"}}]}"#,
            ),
            "an AnyValue holds more than one value",
        ),
        (
            &gauge(
                r#"{"timeUnixNano":"1700000000000000000","asInt":"1","attributes":[{"key":"k","value":{"bytesValue":"%%"}}]}"#,
            ),
            "bytesValue is not base64",
        ),
    ];
    for (input, want) in cases {
        let d = json(input);
        assert!(d.samples.is_empty(), "{input}");
        assert_eq!(d.rejected.len(), 1, "{input}: {:?}", d.rejected);
        let r = &d.rejected[0];
        assert_eq!(r.index, None, "{input}");
        assert_eq!(r.bytes, input.as_bytes());
        assert!(r.reason.contains(want), "{input}: {}", r.reason);
    }
    for (input, want) in [
        (&b""[..], "empty message"),
        (&[0x0A, 0x05, 0x01][..], "invalid OTLP protobuf"),
        (&[0xFF, 0xFF, 0xFF][..], "invalid OTLP protobuf"),
    ] {
        let d = otlp::decode_proto(input, DecodeLimits::default(), NOW);
        assert!(d.samples.is_empty());
        assert_eq!(d.rejected.len(), 1, "{:?}", d.rejected);
        assert_eq!(d.rejected[0].index, None);
        assert!(
            d.rejected[0].reason.contains(want),
            "{}",
            d.rejected[0].reason
        );
    }
}

#[test]
fn what_the_spec_allows_is_accepted() {
    // Numbers for 64-bit integers, enum names, special doubles inside
    // attributes, unknown keys, exemplars, null.
    let d = json(
        r#"{"resourceMetrics":[{"unknown":1,"scopeMetrics":[{"metrics":[
            {"name":"s","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,
             "dataPoints":[{"timeUnixNano":1700000000000000000,"asInt":17,"future":{"x":[1]},
               "attributes":[{"key":"d","value":{"doubleValue":"Infinity"}},{"key":"n","value":null}],
               "exemplars":[{"asDouble":1,"timeUnixNano":"1","spanId":"0102030405060708"}]}]}}]}]}]}"#,
    );
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    assert_eq!(render(&d), "s{d=\"+Inf\",n=\"\"} 1700000000000000000 17\n");
}

/// Every way a point can fail, each next to a good point; indexes count all
/// points in message order, the skipped one included.
#[test]
fn bad_points_are_rejected_alone() {
    let t = "\"timeUnixNano\":\"1700000000000000000\"";
    let points = [
        format!(r#"{{{t},"asDouble":1}}"#),
        format!(r#"{{{t},"flags":1}}"#),
        r#"{"asDouble":2}"#.to_string(),
        r#"{"timeUnixNano":"4102444800000000000","asDouble":3}"#.to_string(),
        r#"{"timeUnixNano":"18446744073709551615","asDouble":4}"#.to_string(),
        format!(r#"{{{t},"asDouble":"NaN"}}"#),
        format!(r#"{{{t},"asDouble":"-Infinity"}}"#),
        format!(r#"{{{t}}}"#),
        format!(
            r#"{{{t},"asDouble":5,"attributes":[{{"key":"","value":{{"stringValue":"x"}}}}]}}"#
        ),
        format!(r#"{{{t},"asInt":"6"}}"#),
    ];
    let d = json(&gauge(&points.join(",")));
    assert_eq!(
        render(&d),
        "g{service.name=\"api\"} 1700000000000000000 1\n\
         g{service.name=\"api\"} 1700000000000000000 6\n\
         skipped 1\n"
    );
    let got: Vec<(Option<usize>, &str)> = d
        .rejected
        .iter()
        .map(|r| (r.index, r.reason.as_str()))
        .collect();
    let want = [
        (2, "before 1990-01-01: wrong unit or unset clock"),
        (3, "ahead of this server's clock"),
        (4, "timeUnixNano 18446744073709551615 is out of range"),
        (5, "asDouble NaN is not a finite number"),
        (6, "asDouble -Inf is not a finite number"),
        (7, "the point has neither asInt nor asDouble"),
        (8, "attribute with an empty key"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((index, reason), (want_index, want_reason)) in got.iter().zip(want) {
        assert_eq!(*index, Some(want_index), "{reason}");
        assert!(
            reason.starts_with(&format!("point {want_index} of metric \"g\": ")),
            "{reason}"
        );
        assert!(reason.contains(want_reason), "{reason}");
    }
}

#[test]
fn bad_histograms_summaries_and_names() {
    let t = "\"timeUnixNano\":\"1700000000000000000\"";
    let message = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[
            {{"name":"h","histogram":{{"dataPoints":[
                {{{t},"count":"3","bucketCounts":["1","2"],"explicitBounds":[1,2]}},
                {{{t},"count":"3","bucketCounts":["1","1","1"],"explicitBounds":[2,1]}},
                {{{t},"count":"3","sum":"NaN"}},
                {{{t},"count":"3","bucketCounts":["1","2"],"explicitBounds":[1],"attributes":[{{"key":"le","value":{{"stringValue":"x"}}}}]}}
            ]}}}},
            {{"name":"q","summary":{{"dataPoints":[
                {{{t},"count":"1","sum":1,"quantileValues":[{{"quantile":0.5,"value":"NaN"}}]}}
            ]}}}},
            {{"name":"","gauge":{{"dataPoints":[{{{t},"asDouble":1}}]}}}}
        ]}}]}}]}}"#
    );
    let d = json(&message);
    // The last histogram point is good, its `le` attribute overridden.
    assert_eq!(
        render(&d),
        "h_count{le=\"x\"} 1700000000000000000 3\n\
         h_bucket{le=\"1\"} 1700000000000000000 1\n\
         h_bucket{le=\"+Inf\"} 1700000000000000000 3\n"
    );
    let got: Vec<(Option<usize>, &str)> = d
        .rejected
        .iter()
        .map(|r| (r.index, r.reason.as_str()))
        .collect();
    let want = [
        (0, "2 bucketCounts for 2 explicitBounds: expected 3"),
        (1, "explicitBounds must be strictly increasing"),
        (2, "sum NaN is not a finite number"),
        (4, "quantile value NaN is not a finite number"),
        (5, "point 5 of metric \"\": the metric has no name"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((index, reason), (want_index, want_reason)) in got.iter().zip(want) {
        assert_eq!(*index, Some(want_index), "{reason}");
        assert!(reason.contains(want_reason), "{reason}");
    }
}

/// A point's dead letter is a message of the same encoding holding that
/// point alone, with its resource and metric: once the cause is gone (here
/// a later clock), it decodes to the point's samples.
#[test]
fn dead_letters_hold_the_point_alone() {
    let far = r#"{"timeUnixNano":"1900000000000000000","count":"2","sum":0.5,"bucketCounts":["1","1"],"explicitBounds":[0.25],"attributes":[{"key":"route","value":{"stringValue":"/a"}}]}"#;
    let good = r#"{"timeUnixNano":"1700000000000000000","count":"1","sum":1}"#;
    let message = format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"api"}}}}]}},
            "scopeMetrics":[{{"scope":{{"name":"lib"}},"metrics":[{{"name":"h","unit":"s","histogram":{{"aggregationTemporality":2,"dataPoints":[{good},{far}]}}}}]}}]}}]}}"#
    );
    let later = 1_900_000_000_000_000_000;
    let want = otlp::decode_json(
        message.replace(&format!("{good},"), "").as_bytes(),
        DecodeLimits::default(),
        later,
    );
    assert!(want.rejected.is_empty(), "{want:?}");
    assert_eq!(
        want.samples.len(),
        4,
        "_count, _sum and 2 buckets: {want:?}"
    );

    let from_json = json(&message);
    assert_eq!(
        from_json.samples.len(),
        3,
        "the good point: _count, _sum, le=\"+Inf\""
    );
    assert_eq!(from_json.rejected.len(), 1);
    let letter = &from_json.rejected[0];
    assert_eq!(letter.index, Some(1));
    assert_eq!(decode::detect(&letter.bytes), Format::OtlpJson);
    let again = otlp::decode_json(&letter.bytes, DecodeLimits::default(), later);
    assert_eq!(again, want, "{}", String::from_utf8_lossy(&letter.bytes));

    let from_proto = otlp::decode_proto(&histogram_pb(), DecodeLimits::default(), NOW);
    assert_eq!(from_proto.samples, from_json.samples);
    assert_eq!(from_proto.rejected.len(), 1);
    let letter = &from_proto.rejected[0];
    assert_eq!(letter.index, Some(1));
    assert_eq!(decode::detect(&letter.bytes), Format::OtlpProto);
    let again = otlp::decode_proto(&letter.bytes, DecodeLimits::default(), later);
    assert_eq!(again, want);
}

/// The message of `dead_letters_hold_the_point_alone` as protobuf, built
/// from the prost messages.
fn histogram_pb() -> Vec<u8> {
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, InstrumentationScope, KeyValue, any_value,
    };
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics, metric,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
    };
    let good = HistogramDataPoint {
        time_unix_nano: 1_700_000_000_000_000_000,
        count: 1,
        sum: Some(1.0),
        ..Default::default()
    };
    let far = HistogramDataPoint {
        attributes: vec![kv("route", "/a")],
        time_unix_nano: 1_900_000_000_000_000_000,
        count: 2,
        sum: Some(0.5),
        bucket_counts: vec![1, 1],
        explicit_bounds: vec![0.25],
        ..Default::default()
    };
    MetricsData {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "api")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    ..Default::default()
                }),
                metrics: vec![Metric {
                    name: "h".into(),
                    unit: "s".into(),
                    data: Some(metric::Data::Histogram(Histogram {
                        data_points: vec![good, far],
                        aggregation_temporality: 2,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// Doubles parse to themselves: Go writes the shortest text that reads back
/// exactly, and 1.1099999999999999 is not 1.11.
#[test]
fn doubles_parse_exactly() {
    let t = "\"timeUnixNano\":\"1700000000000000000\"";
    for v in [
        1.1099999999999999_f64,
        1.11,
        0.1 + 0.2,
        5e-324,
        1.7976931348623157e308,
    ] {
        let d = json(&gauge(&format!(r#"{{{t},"asDouble":{v:?}}}"#)));
        assert!(d.rejected.is_empty(), "{v:?}: {:?}", d.rejected);
        assert_eq!(d.samples[0].value.to_bits(), v.to_bits(), "{v:?}");
    }
}
