//! The dead letter of one rejected point: a message of the encoding it came
//! in, holding that point alone with its resource, scope and metric, so that
//! it can be fixed and produced again.

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, Gauge, Histogram, Metric, MetricsData, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, exponential_histogram_data_point, metric, number_data_point,
};
use prost::Message as _;
use serde_json::{Value, json};

use super::{Context, Encoding, Point};

/// A message of `encoding` holding `p` alone, with its resource, scope and
/// metric.
pub(super) fn message(cx: &Context<'_>, p: Point<'_>, encoding: Encoding) -> Vec<u8> {
    let data = match p {
        Point::Number(p) => match &cx.metric.data {
            Some(metric::Data::Sum(s)) => metric::Data::Sum(Sum {
                data_points: vec![p.clone()],
                aggregation_temporality: s.aggregation_temporality,
                is_monotonic: s.is_monotonic,
            }),
            _ => metric::Data::Gauge(Gauge {
                data_points: vec![p.clone()],
            }),
        },
        Point::Histogram(p) => metric::Data::Histogram(Histogram {
            data_points: vec![p.clone()],
            aggregation_temporality: match &cx.metric.data {
                Some(metric::Data::Histogram(h)) => h.aggregation_temporality,
                _ => 0,
            },
        }),
        Point::Exponential(p) => metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![p.clone()],
            aggregation_temporality: match &cx.metric.data {
                Some(metric::Data::ExponentialHistogram(h)) => h.aggregation_temporality,
                _ => 0,
            },
        }),
        Point::Summary(p) => metric::Data::Summary(Summary {
            data_points: vec![p.clone()],
        }),
    };
    let message = MetricsData {
        resource_metrics: vec![ResourceMetrics {
            resource: cx.resource.resource.clone(),
            schema_url: cx.resource.schema_url.clone(),
            scope_metrics: vec![ScopeMetrics {
                scope: cx.scope.scope.clone(),
                schema_url: cx.scope.schema_url.clone(),
                metrics: vec![Metric {
                    name: cx.metric.name.clone(),
                    description: cx.metric.description.clone(),
                    unit: cx.metric.unit.clone(),
                    metadata: cx.metric.metadata.clone(),
                    data: Some(data),
                }],
            }],
        }],
    };
    match encoding {
        Encoding::Proto => message.encode_to_vec(),
        Encoding::Json => json(&message),
    }
}

/// Writes a message as OTLP/JSON (for dead letters): 64-bit integers as
/// strings, non-finite doubles as their names, exemplars left out.
fn json(data: &MetricsData) -> Vec<u8> {
    let resource_metrics: Vec<Value> = data
        .resource_metrics
        .iter()
        .map(|rm| {
            let scope_metrics: Vec<Value> = rm
                .scope_metrics
                .iter()
                .map(|sm| {
                    let mut o = json!({
                        "metrics": sm.metrics.iter().map(metric_json).collect::<Vec<_>>(),
                        "schemaUrl": sm.schema_url,
                    });
                    if let Some(s) = &sm.scope {
                        o["scope"] = json!({
                            "name": s.name,
                            "version": s.version,
                            "attributes": attributes(&s.attributes),
                            "droppedAttributesCount": s.dropped_attributes_count,
                        });
                    }
                    o
                })
                .collect();
            let mut o = json!({"scopeMetrics": scope_metrics, "schemaUrl": rm.schema_url});
            if let Some(r) = &rm.resource {
                o["resource"] = json!({
                    "attributes": attributes(&r.attributes),
                    "droppedAttributesCount": r.dropped_attributes_count,
                });
            }
            o
        })
        .collect();
    serde_json::to_vec(&json!({ "resourceMetrics": resource_metrics }))
        .expect("a JSON value serializes")
}

fn metric_json(m: &Metric) -> Value {
    let mut o = json!({
        "name": m.name,
        "description": m.description,
        "unit": m.unit,
        "metadata": attributes(&m.metadata),
    });
    let common = |attrs: &[KeyValue], start: u64, time: u64, flags: u32| {
        json!({
            "attributes": attributes(attrs),
            "startTimeUnixNano": start.to_string(),
            "timeUnixNano": time.to_string(),
            "flags": flags,
        })
    };
    let numbers = |points: &[NumberDataPoint]| -> Vec<Value> {
        points
            .iter()
            .map(|p| {
                let mut o = common(
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    p.flags,
                );
                match p.value {
                    Some(number_data_point::Value::AsDouble(d)) => o["asDouble"] = double(d),
                    Some(number_data_point::Value::AsInt(i)) => o["asInt"] = i.to_string().into(),
                    None => {}
                }
                o
            })
            .collect()
    };
    match &m.data {
        Some(metric::Data::Gauge(g)) => {
            o["gauge"] = json!({ "dataPoints": numbers(&g.data_points) });
        }
        Some(metric::Data::Sum(s)) => {
            o["sum"] = json!({
                "dataPoints": numbers(&s.data_points),
                "aggregationTemporality": s.aggregation_temporality,
                "isMonotonic": s.is_monotonic,
            });
        }
        Some(metric::Data::Histogram(h)) => {
            let points: Vec<Value> = h
                .data_points
                .iter()
                .map(|p| {
                    let mut o = common(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        p.flags,
                    );
                    o["count"] = p.count.to_string().into();
                    o["bucketCounts"] = p.bucket_counts.iter().map(u64::to_string).collect();
                    o["explicitBounds"] = p.explicit_bounds.iter().map(|b| double(*b)).collect();
                    optional(&mut o, "sum", p.sum);
                    optional(&mut o, "min", p.min);
                    optional(&mut o, "max", p.max);
                    o
                })
                .collect();
            o["histogram"] = json!({
                "dataPoints": points,
                "aggregationTemporality": h.aggregation_temporality,
            });
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            let buckets = |b: &exponential_histogram_data_point::Buckets| {
                json!({
                    "offset": b.offset,
                    "bucketCounts": b.bucket_counts.iter().map(u64::to_string).collect::<Vec<_>>(),
                })
            };
            let points: Vec<Value> = h
                .data_points
                .iter()
                .map(|p| {
                    let mut o = common(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        p.flags,
                    );
                    o["count"] = p.count.to_string().into();
                    o["scale"] = p.scale.into();
                    o["zeroCount"] = p.zero_count.to_string().into();
                    o["zeroThreshold"] = double(p.zero_threshold);
                    if let Some(b) = &p.positive {
                        o["positive"] = buckets(b);
                    }
                    if let Some(b) = &p.negative {
                        o["negative"] = buckets(b);
                    }
                    optional(&mut o, "sum", p.sum);
                    optional(&mut o, "min", p.min);
                    optional(&mut o, "max", p.max);
                    o
                })
                .collect();
            o["exponentialHistogram"] = json!({
                "dataPoints": points,
                "aggregationTemporality": h.aggregation_temporality,
            });
        }
        Some(metric::Data::Summary(s)) => {
            let points: Vec<Value> = s
                .data_points
                .iter()
                .map(|p| {
                    let mut o = common(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        p.flags,
                    );
                    o["count"] = p.count.to_string().into();
                    o["sum"] = double(p.sum);
                    o["quantileValues"] = p
                        .quantile_values
                        .iter()
                        .map(|q| json!({"quantile": double(q.quantile), "value": double(q.value)}))
                        .collect();
                    o
                })
                .collect();
            o["summary"] = json!({ "dataPoints": points });
        }
        None => {}
    }
    o
}

fn optional(o: &mut Value, key: &str, v: Option<f64>) {
    if let Some(v) = v {
        o[key] = double(v);
    }
}

fn double(d: f64) -> Value {
    if d.is_nan() {
        "NaN".into()
    } else if d == f64::INFINITY {
        "Infinity".into()
    } else if d == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        d.into()
    }
}

fn attributes(kvs: &[KeyValue]) -> Value {
    kvs.iter()
        .map(|kv| {
            let mut o = json!({ "key": kv.key });
            if let Some(v) = &kv.value {
                o["value"] = any(v);
            }
            o
        })
        .collect()
}

fn any(v: &AnyValue) -> Value {
    use any_value::Value as V;
    match &v.value {
        None => json!({}),
        Some(V::StringValue(s)) => json!({ "stringValue": s }),
        Some(V::BoolValue(b)) => json!({ "boolValue": b }),
        Some(V::IntValue(i)) => json!({ "intValue": i.to_string() }),
        Some(V::DoubleValue(d)) => json!({ "doubleValue": double(*d) }),
        Some(V::BytesValue(b)) => {
            json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        Some(V::ArrayValue(a)) => {
            json!({ "arrayValue": { "values": a.values.iter().map(any).collect::<Vec<_>>() } })
        }
        Some(V::KvlistValue(l)) => json!({ "kvlistValue": { "values": attributes(&l.values) } }),
    }
}
