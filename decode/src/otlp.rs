//! OTLP metrics as the OpenTelemetry Collector's Kafka exporter writes them:
//! one record per whole batch, a `MetricsData` (the same bytes as an
//! `ExportMetricsServiceRequest`), as protobuf (`otlp_proto`, the exporter's
//! default) or as OTLP/JSON (`otlp_json`).
//!
//! Protobuf is decoded with the `opentelemetry-proto` crate's prost messages.
//! OTLP/JSON is read into the same messages by our own serde types
//! (`otlp/json.rs`), because that crate's serde support does not accept
//! OTLP/JSON as the spec defines it (it silently drops histograms whose
//! `count` is a string, as in the spec's own example, and `"asInt":"17"`).
//! Both then take one path to samples (this file); `otlp/dead_letter.rs`
//! writes the dead letter of a rejected point.
//!
//! # From points to samples
//! Labels are the resource's attributes and the point's, the point's winning
//! on a conflict; values that are not strings are written as the Collector's
//! `AsString` does (`true`, `17`, `0.5`, JSON for arrays and maps, base64 for
//! bytes). The scope's name, version and attributes are not labels. Metric
//! names are kept as given, suffixes appended with `_`:
//! - gauge and sum points: one sample of `asInt` or `asDouble` (a sum's
//!   temporality is not converted: a delta sum is stored as its deltas);
//! - histogram points, as Prometheus exposes them: `<name>_count`,
//!   `<name>_sum` (when the point has a sum) and cumulative `<name>_bucket`
//!   series with label `le`, one per explicit bound and `le="+Inf"` (the
//!   count);
//! - summary points: `<name>{quantile="0.99"}` per quantile, `<name>_count`,
//!   `<name>_sum`;
//! - exponential histogram points: `<name>_count` and `<name>_sum` only,
//!   their buckets are not stored.
//!
//! The sample time is the point's `timeUnixNano`. Points flagged
//! `FLAG_NO_RECORDED_VALUE` (a Prometheus staleness marker, for one) are
//! skipped, neither stored nor dead-lettered, and counted in
//! [`Decoded::skipped_fields`].
//!
//! # Rejections
//! A message that does not decode is rejected whole ([`Rejected::index`]
//! `None`), with the decoder's error (and, for JSON, where it is). A point
//! that cannot become samples (time before 1990, too far ahead, out of
//! range; a value that is not finite; no value; buckets that do not match
//! the bounds; an attribute with an empty key; a metric without a name) is
//! rejected alone and all of its samples with it. Its index is its position
//! among all the message's data points, from 0, in message order
//! (resourceMetrics, then scopeMetrics, then metrics, then dataPoints, of
//! every kind, skipped points included). Its bytes are a message of the
//! same encoding holding that point alone with its resource, scope and
//! metric, so that it can be fixed and produced again (from JSON,
//! exemplars are left out).

mod dead_letter;
mod json;

use std::fmt::Write as _;

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, MetricsData, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, SummaryDataPoint, metric, number_data_point,
};
use prost::Message as _;
use strata_schemas::{Labels, Sample};

use super::timestamp;
use super::{DecodeLimits, Decoded, Rejected};

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the point holds no value.
const NO_RECORDED_VALUE: u32 = 1;

/// Decodes one message of OTLP/JSON; `now_ns` is the wall clock used to
/// refuse samples from the far future.
pub fn decode_json(payload: &[u8], limits: DecodeLimits, now_ns: i64) -> Decoded {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return whole("empty message".into(), payload);
    }
    match json::read(payload) {
        Ok(data) => map(&data, limits, now_ns, Encoding::Json),
        Err(reason) => whole(reason, payload),
    }
}

/// Decodes one message of OTLP protobuf; `now_ns` is the wall clock used to
/// refuse samples from the far future.
pub fn decode_proto(payload: &[u8], limits: DecodeLimits, now_ns: i64) -> Decoded {
    if payload.is_empty() {
        return whole("empty message".into(), payload);
    }
    match MetricsData::decode(payload) {
        Ok(data) => map(&data, limits, now_ns, Encoding::Proto),
        Err(e) => whole(
            format!(
                "invalid OTLP protobuf (expected a MetricsData or ExportMetricsServiceRequest): {e}"
            ),
            payload,
        ),
    }
}

fn whole(reason: String, payload: &[u8]) -> Decoded {
    Decoded {
        rejected: vec![Rejected {
            reason,
            index: None,
            bytes: payload.to_vec(),
        }],
        ..Decoded::default()
    }
}

/// The encoding of the message, and so of its dead letters.
#[derive(Clone, Copy)]
enum Encoding {
    Json,
    Proto,
}

/// One data point of any kind.
#[derive(Clone, Copy)]
enum Point<'a> {
    Number(&'a NumberDataPoint),
    Histogram(&'a HistogramDataPoint),
    Exponential(&'a ExponentialHistogramDataPoint),
    Summary(&'a SummaryDataPoint),
}

impl<'a> Point<'a> {
    fn flags(self) -> u32 {
        match self {
            Point::Number(p) => p.flags,
            Point::Histogram(p) => p.flags,
            Point::Exponential(p) => p.flags,
            Point::Summary(p) => p.flags,
        }
    }

    fn time_unix_nano(self) -> u64 {
        match self {
            Point::Number(p) => p.time_unix_nano,
            Point::Histogram(p) => p.time_unix_nano,
            Point::Exponential(p) => p.time_unix_nano,
            Point::Summary(p) => p.time_unix_nano,
        }
    }

    fn attributes(self) -> &'a [KeyValue] {
        match self {
            Point::Number(p) => &p.attributes,
            Point::Histogram(p) => &p.attributes,
            Point::Exponential(p) => &p.attributes,
            Point::Summary(p) => &p.attributes,
        }
    }
}

/// Where a point sits in the message, for its samples and its dead letter.
struct Context<'a> {
    resource: &'a ResourceMetrics,
    scope: &'a ScopeMetrics,
    metric: &'a Metric,
    /// The resource's attributes as labels, or why they cannot be.
    resource_labels: &'a Result<Vec<(String, String)>, String>,
}

/// Walks a decoded message point by point.
struct Mapper {
    limits: DecodeLimits,
    now_ns: i64,
    encoding: Encoding,
    out: Decoded,
    /// Position of the next point in the message's flattened order.
    index: usize,
}

fn map(data: &MetricsData, limits: DecodeLimits, now_ns: i64, encoding: Encoding) -> Decoded {
    let mut m = Mapper {
        limits,
        now_ns,
        encoding,
        out: Decoded::default(),
        index: 0,
    };
    for resource in &data.resource_metrics {
        let attributes = resource
            .resource
            .as_ref()
            .map_or(&[][..], |r| &r.attributes);
        let resource_labels = labels_of(attributes).map_err(|e| format!("resource {e}"));
        for scope in &resource.scope_metrics {
            for metric in &scope.metrics {
                let cx = Context {
                    resource,
                    scope,
                    metric,
                    resource_labels: &resource_labels,
                };
                match &metric.data {
                    Some(metric::Data::Gauge(g)) => {
                        for p in &g.data_points {
                            m.point(&cx, Point::Number(p));
                        }
                    }
                    Some(metric::Data::Sum(s)) => {
                        for p in &s.data_points {
                            m.point(&cx, Point::Number(p));
                        }
                    }
                    Some(metric::Data::Histogram(h)) => {
                        for p in &h.data_points {
                            m.point(&cx, Point::Histogram(p));
                        }
                    }
                    Some(metric::Data::ExponentialHistogram(h)) => {
                        for p in &h.data_points {
                            m.point(&cx, Point::Exponential(p));
                        }
                    }
                    Some(metric::Data::Summary(s)) => {
                        for p in &s.data_points {
                            m.point(&cx, Point::Summary(p));
                        }
                    }
                    None => {}
                }
            }
        }
    }
    m.out
}

impl Mapper {
    /// Turns one point into its samples, or rejects it alone.
    fn point(&mut self, cx: &Context<'_>, p: Point<'_>) {
        let index = self.index;
        self.index += 1;
        if p.flags() & NO_RECORDED_VALUE != 0 {
            self.out.skipped_fields += 1;
            return;
        }
        let start = self.out.samples.len();
        if let Err(reason) = self.samples(cx, p) {
            self.out.samples.truncate(start);
            self.out.rejected.push(Rejected {
                reason: format!("point {index} of metric {:?}: {reason}", cx.metric.name),
                index: Some(index),
                bytes: dead_letter::message(cx, p, self.encoding),
            });
        }
    }

    /// Pushes the samples of one point; on an error the caller drops the
    /// ones already pushed.
    fn samples(&mut self, cx: &Context<'_>, p: Point<'_>) -> Result<(), String> {
        let name = cx.metric.name.as_str();
        if name.is_empty() {
            return Err("the metric has no name".into());
        }
        let ts_ns = i64::try_from(p.time_unix_nano())
            .map_err(|_| format!("timeUnixNano {} is out of range", p.time_unix_nano()))
            .and_then(|t| timestamp::check_range(t, self.now_ns, self.limits.max_future_ns))
            .map_err(|e| format!("timeUnixNano: {e}"))?;
        let mut pairs = cx.resource_labels.clone()?;
        pairs.extend(labels_of(p.attributes())?);
        let mut push = |metric_name: String, labels: Labels, value: f64| {
            self.out.samples.push(Sample {
                metric_name,
                labels,
                ts_ns,
                value,
            });
        };
        match p {
            Point::Number(p) => {
                let value = match p.value {
                    Some(number_data_point::Value::AsDouble(v)) => finite("asDouble", v)?,
                    Some(number_data_point::Value::AsInt(v)) => v as f64,
                    None => return Err("the point has neither asInt nor asDouble".into()),
                };
                push(name.to_owned(), Labels::from_pairs(pairs), value);
            }
            Point::Histogram(p) => {
                let sum = p.sum.map(|s| finite("sum", s)).transpose()?;
                check_buckets(p)?;
                let labels = Labels::from_pairs(pairs.iter().cloned());
                push(format!("{name}_count"), labels.clone(), p.count as f64);
                if let Some(sum) = sum {
                    push(format!("{name}_sum"), labels, sum);
                }
                let bucket = format!("{name}_bucket");
                let mut cumulative = 0u64;
                for (bound, count) in p.explicit_bounds.iter().zip(&p.bucket_counts) {
                    cumulative = cumulative.saturating_add(*count);
                    push(
                        bucket.clone(),
                        with_label(&pairs, "le", float(*bound)),
                        cumulative as f64,
                    );
                }
                push(
                    bucket,
                    with_label(&pairs, "le", "+Inf".into()),
                    p.count as f64,
                );
            }
            Point::Exponential(p) => {
                let sum = p.sum.map(|s| finite("sum", s)).transpose()?;
                let labels = Labels::from_pairs(pairs);
                push(format!("{name}_count"), labels.clone(), p.count as f64);
                if let Some(sum) = sum {
                    push(format!("{name}_sum"), labels, sum);
                }
            }
            Point::Summary(p) => {
                let sum = finite("sum", p.sum)?;
                for q in &p.quantile_values {
                    let quantile = finite("quantile", q.quantile)?;
                    let value = finite("quantile value", q.value)?;
                    push(
                        name.to_owned(),
                        with_label(&pairs, "quantile", float(quantile)),
                        value,
                    );
                }
                let labels = Labels::from_pairs(pairs);
                push(format!("{name}_count"), labels.clone(), p.count as f64);
                push(format!("{name}_sum"), labels, sum);
            }
        }
        Ok(())
    }
}

/// Refuses NaN and infinities: Strata's tiers aggregate values, and one NaN
/// would spoil every aggregate of its window.
fn finite(field: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{field} {} is not a finite number", float(v)))
    }
}

/// Bucket counts must be one more than the bounds (or absent), and the
/// bounds finite and increasing, for the `le` series to mean anything.
fn check_buckets(p: &HistogramDataPoint) -> Result<(), String> {
    let (buckets, bounds) = (p.bucket_counts.len(), p.explicit_bounds.len());
    if buckets == 0 && bounds == 0 {
        return Ok(());
    }
    if buckets != bounds + 1 {
        return Err(format!(
            "{buckets} bucketCounts for {bounds} explicitBounds: expected {}",
            bounds + 1
        ));
    }
    for b in &p.explicit_bounds {
        finite("explicitBounds", *b)?;
    }
    if p.explicit_bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err("explicitBounds must be strictly increasing".into());
    }
    Ok(())
}

/// Labels `pairs` plus `name=value`, which wins over an attribute of that
/// name.
fn with_label(pairs: &[(String, String)], name: &str, value: String) -> Labels {
    Labels::from_pairs(
        pairs
            .iter()
            .cloned()
            .chain(std::iter::once((name.to_owned(), value))),
    )
}

/// Attributes as label pairs, in order (a later duplicate key wins).
fn labels_of(attributes: &[KeyValue]) -> Result<Vec<(String, String)>, String> {
    attributes
        .iter()
        .map(|kv| {
            if kv.key.is_empty() {
                return Err("attribute with an empty key: label names must not be empty".into());
            }
            Ok((kv.key.clone(), any_string(kv.value.as_ref())))
        })
        .collect()
}

/// An attribute value as a label value, as the Collector's
/// `pcommon.Value.AsString` writes it.
fn any_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => float(*d),
        Some(any_value::Value::BytesValue(b)) => {
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_)) => {
            let mut s = String::new();
            any_json(v.and_then(|v| v.value.as_ref()), &mut s);
            s
        }
    }
}

/// A value as JSON, maps with their keys sorted (as Go's `json.Marshal`
/// writes the Collector's maps).
fn any_json(v: Option<&any_value::Value>, out: &mut String) {
    let quote = |s: &str, out: &mut String| {
        out.push_str(&serde_json::Value::from(s).to_string());
    };
    match v {
        None => out.push_str("null"),
        Some(any_value::Value::StringValue(s)) => quote(s, out),
        Some(any_value::Value::BoolValue(b)) => {
            let _ = write!(out, "{b}");
        }
        Some(any_value::Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(any_value::Value::DoubleValue(d)) if d.is_finite() => {
            let _ = write!(out, "{d}");
        }
        Some(any_value::Value::DoubleValue(d)) => quote(&float(*d), out),
        Some(any_value::Value::BytesValue(b)) => {
            quote(&base64::engine::general_purpose::STANDARD.encode(b), out)
        }
        Some(any_value::Value::ArrayValue(a)) => {
            out.push('[');
            for (i, e) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                any_json(e.value.as_ref(), out);
            }
            out.push(']');
        }
        Some(any_value::Value::KvlistValue(l)) => {
            let mut kvs: Vec<&KeyValue> = l.values.iter().collect();
            kvs.sort_by(|a, b| a.key.cmp(&b.key));
            out.push('{');
            for (i, kv) in kvs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(&kv.key, out);
                out.push(':');
                any_json(kv.value.as_ref().and_then(|v| v.value.as_ref()), out);
            }
            out.push('}');
        }
    }
}

/// A float as Prometheus writes `le` and `quantile` (Go's
/// `FormatFloat(f, 'f', -1, 64)`): shortest exact decimal, no exponent.
fn float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn kv(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
        }
    }

    #[test]
    fn attribute_values_as_the_collector_writes_them() {
        use any_value::Value as V;
        let s = |v: V| any_string(Some(&AnyValue { value: Some(v) }));
        assert_eq!(s(V::StringValue("a b".into())), "a b");
        assert_eq!(s(V::BoolValue(true)), "true");
        assert_eq!(s(V::IntValue(-17)), "-17");
        assert_eq!(s(V::DoubleValue(0.25)), "0.25");
        assert_eq!(s(V::DoubleValue(1e21)), "1000000000000000000000");
        assert_eq!(s(V::BytesValue(vec![1, 2, 255])), "AQL/");
        let array = V::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(V::StringValue("x\"".into())),
                },
                AnyValue {
                    value: Some(V::IntValue(2)),
                },
                AnyValue { value: None },
            ],
        });
        assert_eq!(s(array), r#"["x\"",2,null]"#);
        let map = V::KvlistValue(KeyValueList {
            values: vec![kv("b", V::BoolValue(false)), kv("a", V::DoubleValue(1.5))],
        });
        assert_eq!(s(map), r#"{"a":1.5,"b":false}"#);
        assert_eq!(any_string(None), "");
    }

    #[test]
    fn floats_as_prometheus_writes_them() {
        assert_eq!(float(0.005), "0.005");
        assert_eq!(float(1.0), "1");
        assert_eq!(float(1e6), "1000000");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(f64::NAN), "NaN");
    }
}
