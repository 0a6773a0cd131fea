//! OTLP/JSON, read into `opentelemetry-proto`'s messages.
//!
//! As the OTLP spec defines it (the protobuf JSON mapping with
//! lowerCamelCase keys and hex trace ids): 64-bit integers as decimal
//! strings or numbers (`"timeUnixNano":"1544712660300000000"`,
//! `"asInt":"17"`, `"count":"2"`, `"bucketCounts":["1","1"]`), doubles as
//! numbers or `"NaN"`, `"Infinity"`, `"-Infinity"`, enums as integers (names
//! accepted too), unknown keys ignored, bytes as base64. Exemplars are
//! skipped unread: nothing of theirs becomes a sample. Several members of
//! one oneof (a metric with both `gauge` and `sum`, a point with both
//! `asInt` and `asDouble`) make the message invalid.
//!
//! The `opentelemetry-proto` crate's own serde support (`with-serde`,
//! 0.31.0) is not used: on the spec's example it loses the histogram and the
//! exponential histogram (their `count` is a string), and it drops
//! `"asInt":"17"`, numeric times and `"NaN"` without an error.

use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, MetricsData, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint, exponential_histogram_data_point, metric, number_data_point,
    summary_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

/// Reads one OTLP/JSON message; the error says what is wrong and where.
pub(super) fn read(payload: &[u8]) -> Result<MetricsData, String> {
    match serde_json::from_slice::<JMetricsData>(payload) {
        Ok(wire) => MetricsData::try_from(wire),
        // Rare: read again, tracking the path, to say where.
        Err(e) => {
            let mut de = serde_json::Deserializer::from_slice(payload);
            match serde_path_to_error::deserialize::<_, JMetricsData>(&mut de) {
                Err(at) if at.path().to_string() != "." => Err(format!(
                    "invalid OTLP JSON at {}: {}",
                    at.path(),
                    at.inner()
                )),
                _ => Err(format!("invalid OTLP JSON: {e}")),
            }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename = "MetricsData", rename_all = "camelCase", default)]
struct JMetricsData {
    resource_metrics: Vec<JResourceMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(rename = "ResourceMetrics", rename_all = "camelCase", default)]
struct JResourceMetrics {
    resource: Option<JResource>,
    scope_metrics: Vec<JScopeMetrics>,
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(rename = "Resource", rename_all = "camelCase", default)]
struct JResource {
    attributes: Vec<JKeyValue>,
    dropped_attributes_count: Int<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename = "ScopeMetrics", rename_all = "camelCase", default)]
struct JScopeMetrics {
    scope: Option<JScope>,
    metrics: Vec<JMetric>,
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(rename = "InstrumentationScope", rename_all = "camelCase", default)]
struct JScope {
    name: String,
    version: String,
    attributes: Vec<JKeyValue>,
    dropped_attributes_count: Int<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename = "Metric", rename_all = "camelCase", default)]
struct JMetric {
    name: String,
    description: String,
    unit: String,
    metadata: Vec<JKeyValue>,
    gauge: Option<JPoints<JNumberPoint>>,
    sum: Option<JPoints<JNumberPoint>>,
    histogram: Option<JPoints<JHistogramPoint>>,
    exponential_histogram: Option<JPoints<JExponentialPoint>>,
    summary: Option<JPoints<JSummaryPoint>>,
}

/// The body of any of the five metric kinds: its points and, for the kinds
/// that have them, temporality and monotonicity.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct JPoints<P> {
    data_points: Vec<P>,
    aggregation_temporality: Temporality,
    is_monotonic: bool,
}

impl<P> Default for JPoints<P> {
    fn default() -> Self {
        Self {
            data_points: Vec::new(),
            aggregation_temporality: Temporality(0),
            is_monotonic: false,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename = "NumberDataPoint", rename_all = "camelCase", default)]
struct JNumberPoint {
    attributes: Vec<JKeyValue>,
    start_time_unix_nano: Int<u64>,
    time_unix_nano: Int<u64>,
    as_double: Option<F64>,
    as_int: Option<Int<i64>>,
    flags: Int<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename = "HistogramDataPoint", rename_all = "camelCase", default)]
struct JHistogramPoint {
    attributes: Vec<JKeyValue>,
    start_time_unix_nano: Int<u64>,
    time_unix_nano: Int<u64>,
    count: Int<u64>,
    sum: Option<F64>,
    bucket_counts: Vec<Int<u64>>,
    explicit_bounds: Vec<F64>,
    flags: Int<u32>,
    min: Option<F64>,
    max: Option<F64>,
}

#[derive(Deserialize, Default)]
#[serde(
    rename = "ExponentialHistogramDataPoint",
    rename_all = "camelCase",
    default
)]
struct JExponentialPoint {
    attributes: Vec<JKeyValue>,
    start_time_unix_nano: Int<u64>,
    time_unix_nano: Int<u64>,
    count: Int<u64>,
    sum: Option<F64>,
    scale: Int<i32>,
    zero_count: Int<u64>,
    positive: Option<JBuckets>,
    negative: Option<JBuckets>,
    flags: Int<u32>,
    min: Option<F64>,
    max: Option<F64>,
    zero_threshold: F64,
}

#[derive(Deserialize, Default)]
#[serde(rename = "Buckets", rename_all = "camelCase", default)]
struct JBuckets {
    offset: Int<i32>,
    bucket_counts: Vec<Int<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(rename = "SummaryDataPoint", rename_all = "camelCase", default)]
struct JSummaryPoint {
    attributes: Vec<JKeyValue>,
    start_time_unix_nano: Int<u64>,
    time_unix_nano: Int<u64>,
    count: Int<u64>,
    sum: F64,
    quantile_values: Vec<JQuantile>,
    flags: Int<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename = "ValueAtQuantile", rename_all = "camelCase", default)]
struct JQuantile {
    quantile: F64,
    value: F64,
}

#[derive(Deserialize, Default)]
#[serde(rename = "KeyValue", rename_all = "camelCase", default)]
struct JKeyValue {
    key: String,
    value: Option<JAnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename = "ArrayValue", default)]
struct JArray {
    values: Vec<JAnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename = "KeyValueList", default)]
struct JKvList {
    values: Vec<JKeyValue>,
}

/// An `AnyValue`: an object with at most one of its value keys.
struct JAnyValue(Option<any_value::Value>);

impl<'de> Deserialize<'de> for JAnyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Key {
            StringValue,
            BoolValue,
            IntValue,
            DoubleValue,
            ArrayValue,
            KvlistValue,
            BytesValue,
            #[serde(other)]
            Other,
        }

        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = JAnyValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an AnyValue object such as {\"stringValue\": \"x\"}")
            }

            fn visit_unit<E: de::Error>(self) -> Result<JAnyValue, E> {
                Ok(JAnyValue(None))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JAnyValue, A::Error> {
                use any_value::Value as V;
                let mut out = None;
                while let Some(key) = map.next_key::<Key>()? {
                    let v = match key {
                        Key::StringValue => V::StringValue(map.next_value()?),
                        Key::BoolValue => V::BoolValue(map.next_value()?),
                        Key::IntValue => V::IntValue(map.next_value::<Int<i64>>()?.0),
                        Key::DoubleValue => V::DoubleValue(map.next_value::<F64>()?.0),
                        Key::ArrayValue => V::ArrayValue(map.next_value::<JArray>()?.into()),
                        Key::KvlistValue => V::KvlistValue(map.next_value::<JKvList>()?.into()),
                        Key::BytesValue => {
                            let b64: String = map.next_value()?;
                            V::BytesValue(
                                base64::engine::general_purpose::STANDARD
                                    .decode(&b64)
                                    .map_err(|e| {
                                        de::Error::custom(format!("bytesValue is not base64: {e}"))
                                    })?,
                            )
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if out.replace(v).is_some() {
                        return Err(de::Error::custom("an AnyValue holds more than one value"));
                    }
                }
                Ok(JAnyValue(out))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// An integer field: a JSON number or a decimal string, `null` as 0.
#[derive(Default, Clone, Copy)]
struct Int<T>(T);

impl<'de, T> Deserialize<'de> for Int<T>
where
    T: TryFrom<i128> + Default,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(PhantomData<T>);
        impl<T: TryFrom<i128> + Default> Visit<T> {
            fn fit<E: de::Error>(i: i128) -> Result<Int<T>, E> {
                T::try_from(i).map(Int).map_err(|_| {
                    E::custom(format!(
                        "integer {i} is out of range for {}",
                        std::any::type_name::<T>()
                    ))
                })
            }
        }
        impl<T: TryFrom<i128> + Default> Visitor<'_> for Visit<T> {
            type Value = Int<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer, as a number or a decimal string")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int<T>, E> {
                Self::fit(v.into())
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int<T>, E> {
                Self::fit(v.into())
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int<T>, E> {
                if v.fract() == 0.0 && v.abs() < 1.9e19 {
                    Self::fit(v as i128)
                } else {
                    Err(E::custom(format!("{v} is not an integer")))
                }
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int<T>, E> {
                match v.parse::<i128>() {
                    Ok(i) => Self::fit(i),
                    Err(_) => Err(E::custom(format!("{v:?} is not an integer"))),
                }
            }

            fn visit_unit<E: de::Error>(self) -> Result<Int<T>, E> {
                Ok(Int(T::default()))
            }
        }
        d.deserialize_any(Visit(PhantomData))
    }
}

/// A double field: a JSON number, `"NaN"`, `"Infinity"`, `"-Infinity"` or
/// a decimal string, `null` as 0.
#[derive(Default, Clone, Copy)]
struct F64(f64);

impl<'de> Deserialize<'de> for F64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl Visitor<'_> for Visit {
            type Value = F64;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<F64, E> {
                Ok(F64(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<F64, E> {
                Ok(F64(v as f64))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<F64, E> {
                Ok(F64(v as f64))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<F64, E> {
                match v {
                    "NaN" => Ok(F64(f64::NAN)),
                    "Infinity" => Ok(F64(f64::INFINITY)),
                    "-Infinity" => Ok(F64(f64::NEG_INFINITY)),
                    _ => v
                        .parse()
                        .map(F64)
                        .map_err(|_| E::custom(format!("{v:?} is not a number"))),
                }
            }

            fn visit_unit<E: de::Error>(self) -> Result<F64, E> {
                Ok(F64(0.0))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// An `AggregationTemporality`: its number, or its name.
#[derive(Default, Clone, Copy)]
struct Temporality(i32);

impl<'de> Deserialize<'de> for Temporality {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Name(String),
            Number(Int<i32>),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(Temporality(n.0)),
            Either::Name(s) => match s.parse::<i32>() {
                Ok(n) => Ok(Temporality(n)),
                Err(_) => AggregationTemporality::from_str_name(&s)
                    .map(|t| Temporality(t as i32))
                    .ok_or_else(|| {
                        de::Error::custom(format!("{s:?} is not an AggregationTemporality"))
                    }),
            },
        }
    }
}

fn collect<A, B: From<A>>(v: Vec<A>) -> Vec<B> {
    v.into_iter().map(B::from).collect()
}

fn ints<T>(v: Vec<Int<T>>) -> Vec<T> {
    v.into_iter().map(|i| i.0).collect()
}

impl TryFrom<JMetricsData> for MetricsData {
    type Error = String;

    fn try_from(w: JMetricsData) -> Result<Self, String> {
        let mut resource_metrics = Vec::with_capacity(w.resource_metrics.len());
        for rm in w.resource_metrics {
            let mut scope_metrics = Vec::with_capacity(rm.scope_metrics.len());
            for sm in rm.scope_metrics {
                let metrics = sm
                    .metrics
                    .into_iter()
                    .map(Metric::try_from)
                    .collect::<Result<_, _>>()?;
                scope_metrics.push(ScopeMetrics {
                    scope: sm.scope.map(|s| InstrumentationScope {
                        name: s.name,
                        version: s.version,
                        attributes: collect(s.attributes),
                        dropped_attributes_count: s.dropped_attributes_count.0,
                    }),
                    metrics,
                    schema_url: sm.schema_url,
                });
            }
            resource_metrics.push(ResourceMetrics {
                resource: rm.resource.map(|r| Resource {
                    attributes: collect(r.attributes),
                    dropped_attributes_count: r.dropped_attributes_count.0,
                    entity_refs: Vec::new(),
                }),
                scope_metrics,
                schema_url: rm.schema_url,
            });
        }
        Ok(MetricsData { resource_metrics })
    }
}

impl TryFrom<JMetric> for Metric {
    type Error = String;

    fn try_from(w: JMetric) -> Result<Self, String> {
        let kinds = [
            w.gauge.is_some(),
            w.sum.is_some(),
            w.histogram.is_some(),
            w.exponential_histogram.is_some(),
            w.summary.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return Err(format!(
                "invalid OTLP JSON: metric {:?} has more than one of gauge, sum, histogram, \
                 exponentialHistogram and summary",
                w.name
            ));
        }
        let numbers = |points: Vec<JNumberPoint>| {
            points
                .into_iter()
                .map(|p| number_point(p, &w.name))
                .collect::<Result<Vec<_>, _>>()
        };
        let data = if let Some(g) = w.gauge {
            Some(metric::Data::Gauge(Gauge {
                data_points: numbers(g.data_points)?,
            }))
        } else if let Some(s) = w.sum {
            Some(metric::Data::Sum(Sum {
                data_points: numbers(s.data_points)?,
                aggregation_temporality: s.aggregation_temporality.0,
                is_monotonic: s.is_monotonic,
            }))
        } else if let Some(h) = w.histogram {
            Some(metric::Data::Histogram(Histogram {
                data_points: collect(h.data_points),
                aggregation_temporality: h.aggregation_temporality.0,
            }))
        } else if let Some(h) = w.exponential_histogram {
            Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: collect(h.data_points),
                aggregation_temporality: h.aggregation_temporality.0,
            }))
        } else {
            w.summary.map(|s| {
                metric::Data::Summary(Summary {
                    data_points: collect(s.data_points),
                })
            })
        };
        Ok(Metric {
            name: w.name,
            description: w.description,
            unit: w.unit,
            metadata: collect(w.metadata),
            data,
        })
    }
}

fn number_point(p: JNumberPoint, metric: &str) -> Result<NumberDataPoint, String> {
    let value = match (p.as_double, p.as_int) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "invalid OTLP JSON: a point of metric {metric:?} has both asInt and asDouble"
            ));
        }
        (Some(d), None) => Some(number_data_point::Value::AsDouble(d.0)),
        (None, Some(i)) => Some(number_data_point::Value::AsInt(i.0)),
        (None, None) => None,
    };
    Ok(NumberDataPoint {
        attributes: collect(p.attributes),
        start_time_unix_nano: p.start_time_unix_nano.0,
        time_unix_nano: p.time_unix_nano.0,
        exemplars: Vec::new(),
        flags: p.flags.0,
        value,
    })
}

impl From<JHistogramPoint> for HistogramDataPoint {
    fn from(p: JHistogramPoint) -> Self {
        HistogramDataPoint {
            attributes: collect(p.attributes),
            start_time_unix_nano: p.start_time_unix_nano.0,
            time_unix_nano: p.time_unix_nano.0,
            count: p.count.0,
            sum: p.sum.map(|s| s.0),
            bucket_counts: ints(p.bucket_counts),
            explicit_bounds: p.explicit_bounds.into_iter().map(|b| b.0).collect(),
            exemplars: Vec::new(),
            flags: p.flags.0,
            min: p.min.map(|m| m.0),
            max: p.max.map(|m| m.0),
        }
    }
}

impl From<JExponentialPoint> for ExponentialHistogramDataPoint {
    fn from(p: JExponentialPoint) -> Self {
        let buckets = |b: JBuckets| exponential_histogram_data_point::Buckets {
            offset: b.offset.0,
            bucket_counts: ints(b.bucket_counts),
        };
        ExponentialHistogramDataPoint {
            attributes: collect(p.attributes),
            start_time_unix_nano: p.start_time_unix_nano.0,
            time_unix_nano: p.time_unix_nano.0,
            count: p.count.0,
            sum: p.sum.map(|s| s.0),
            scale: p.scale.0,
            zero_count: p.zero_count.0,
            positive: p.positive.map(buckets),
            negative: p.negative.map(buckets),
            flags: p.flags.0,
            exemplars: Vec::new(),
            min: p.min.map(|m| m.0),
            max: p.max.map(|m| m.0),
            zero_threshold: p.zero_threshold.0,
        }
    }
}

impl From<JSummaryPoint> for SummaryDataPoint {
    fn from(p: JSummaryPoint) -> Self {
        SummaryDataPoint {
            attributes: collect(p.attributes),
            start_time_unix_nano: p.start_time_unix_nano.0,
            time_unix_nano: p.time_unix_nano.0,
            count: p.count.0,
            sum: p.sum.0,
            quantile_values: p
                .quantile_values
                .into_iter()
                .map(|q| summary_data_point::ValueAtQuantile {
                    quantile: q.quantile.0,
                    value: q.value.0,
                })
                .collect(),
            flags: p.flags.0,
        }
    }
}

impl From<JKeyValue> for KeyValue {
    fn from(kv: JKeyValue) -> Self {
        KeyValue {
            key: kv.key,
            value: kv.value.map(AnyValue::from),
        }
    }
}

impl From<JAnyValue> for AnyValue {
    fn from(v: JAnyValue) -> Self {
        AnyValue { value: v.0 }
    }
}

impl From<JArray> for ArrayValue {
    fn from(a: JArray) -> Self {
        ArrayValue {
            values: collect(a.values),
        }
    }
}

impl From<JKvList> for KeyValueList {
    fn from(l: JKvList) -> Self {
        KeyValueList {
            values: collect(l.values),
        }
    }
}
