//! The seed's JSON sample:
//! `{"metric_name": "cpu.load", "labels": {"host": "web01"}, "timestamp": 1613707265, "value": 0.75}`,
//! one object or a JSON array of them per message.
//!
//! In an array, each element stands alone: good elements are accepted and
//! each bad one is rejected with its index.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use strata_schemas::{Labels, Sample};

use super::timestamp;
use super::{DecodeLimits, Decoded, Rejected};

/// A sample as the seed's JSON object, as Strata's own producers write it
/// (`strata produce`, the agent, the collector): serialize it with serde.
/// `timestamp` is `ts_ns` in units of `unit_ns` (1: nanoseconds,
/// 1,000,000: milliseconds), which [`decode`] tells apart by magnitude.
#[derive(Debug, Clone, Copy)]
pub struct Encode<'a> {
    /// The metric name.
    pub metric_name: &'a str,
    /// The labels, written as one JSON object.
    pub labels: &'a Labels,
    /// The time, in nanoseconds.
    pub ts_ns: i64,
    /// The value.
    pub value: f64,
    /// Nanoseconds per unit of the written `timestamp`.
    pub unit_ns: i64,
}

impl<'a> Encode<'a> {
    /// `sample` with its timestamp in nanoseconds.
    pub fn ns(sample: &'a Sample) -> Self {
        Self::with_unit(sample, 1)
    }

    /// `sample` with its timestamp in whole milliseconds (rounded down).
    pub fn ms(sample: &'a Sample) -> Self {
        Self::with_unit(sample, 1_000_000)
    }

    fn with_unit(sample: &'a Sample, unit_ns: i64) -> Self {
        Self {
            metric_name: &sample.metric_name,
            labels: &sample.labels,
            ts_ns: sample.ts_ns,
            value: sample.value,
            unit_ns,
        }
    }
}

impl Serialize for Encode<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct LabelsObject<'a>(&'a Labels);
        impl Serialize for LabelsObject<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.pairs().iter().map(|(k, v)| (k, v)))
            }
        }
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("metric_name", self.metric_name)?;
        map.serialize_entry("labels", &LabelsObject(self.labels))?;
        map.serialize_entry("timestamp", &self.ts_ns.div_euclid(self.unit_ns))?;
        map.serialize_entry("value", &self.value)?;
        map.end()
    }
}

/// Decodes one message; `now_ns` is the wall clock used to refuse samples
/// from the far future.
pub fn decode(payload: &[u8], limits: DecodeLimits, now_ns: i64) -> Decoded {
    let mut out = Decoded::default();
    let first = payload.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        // Fast path: one pass over the array. It fails as a whole only when
        // an element is not an object or the JSON is broken; then the slow
        // path below tells which element and why.
        Some(b'[') => match serde_json::from_slice::<Vec<Wire>>(payload) {
            Ok(wires) => {
                out.samples.reserve(wires.len());
                let mut raw: Option<Vec<&RawValue>> = None;
                for (i, wire) in wires.into_iter().enumerate() {
                    match wire.into_sample(limits, now_ns) {
                        Ok(s) => out.samples.push(s),
                        Err(reason) => {
                            // Rare: find the element's bytes for its dead letter.
                            let raw = raw.get_or_insert_with(|| {
                                serde_json::from_slice(payload).unwrap_or_default()
                            });
                            let bytes = raw
                                .get(i)
                                .map_or_else(Vec::new, |r| r.get().as_bytes().to_vec());
                            out.rejected.push(element(i, reason, bytes));
                        }
                    }
                }
            }
            Err(_) => decode_elements(payload, limits, now_ns, &mut out),
        },
        Some(b'{') => match decode_one(payload, limits, now_ns) {
            Ok(s) => out.samples.push(s),
            Err(reason) => out.rejected.push(whole(reason, payload)),
        },
        Some(_) => out.rejected.push(whole(
            "not a JSON sample: expected an object or an array of objects".into(),
            payload,
        )),
        None => out.rejected.push(whole("empty message".into(), payload)),
    }
    out
}

/// Decodes an array element by element, so that elements that are not
/// sample objects are rejected one by one.
fn decode_elements(payload: &[u8], limits: DecodeLimits, now_ns: i64, out: &mut Decoded) {
    match serde_json::from_slice::<Vec<&RawValue>>(payload) {
        Ok(elements) => {
            out.samples.reserve(elements.len());
            for (i, el) in elements.iter().enumerate() {
                match decode_one(el.get().as_bytes(), limits, now_ns) {
                    Ok(s) => out.samples.push(s),
                    Err(reason) => {
                        out.rejected
                            .push(element(i, reason, el.get().as_bytes().to_vec()))
                    }
                }
            }
        }
        Err(e) => out
            .rejected
            .push(whole(format!("invalid JSON: {e}"), payload)),
    }
}

fn element(i: usize, reason: String, bytes: Vec<u8>) -> Rejected {
    Rejected {
        reason: format!("element {i}: {reason}"),
        index: Some(i),
        bytes,
    }
}

fn whole(reason: String, payload: &[u8]) -> Rejected {
    Rejected {
        reason,
        index: None,
        bytes: payload.to_vec(),
    }
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default, deserialize_with = "present")]
    metric_name: Option<Value>,
    #[serde(default)]
    labels: LabelPairs,
    #[serde(default, deserialize_with = "present")]
    timestamp: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
}

/// The `labels` object read straight into pairs (no intermediate map), with
/// the first problem kept as a reason rather than a serde error, so that the
/// dead letter says what was wrong in the producer's terms. With
/// `NAME_ASIDE` (prometheus-kafka-adapter), a `__name__` label is kept in
/// `name` instead of the pairs, the last one winning.
#[derive(Default)]
pub(super) struct LabelPairs<const NAME_ASIDE: bool = false> {
    pub(super) pairs: Vec<(String, String)>,
    pub(super) name: Option<String>,
    pub(super) error: Option<String>,
}

impl<const NAME_ASIDE: bool> LabelPairs<NAME_ASIDE> {
    fn wrong(found: String) -> Self {
        Self {
            pairs: Vec::new(),
            name: None,
            error: Some(format!(
                "\"labels\" must be an object of strings, found {found}"
            )),
        }
    }
}

impl<'de, const NAME_ASIDE: bool> Deserialize<'de> for LabelPairs<NAME_ASIDE> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<const NAME_ASIDE: bool>;
        impl<'de, const NAME_ASIDE: bool> Visitor<'de> for Visit<NAME_ASIDE> {
            type Value = LabelPairs<NAME_ASIDE>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of string labels")
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(LabelPairs::default())
            }

            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(LabelPairs::wrong(format!("boolean {v}")))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LabelPairs::wrong(format!("number {v}")))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LabelPairs::wrong(format!("number {v}")))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(LabelPairs::wrong(format!("number {v}")))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LabelPairs::wrong(format!("string {v:?}")))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(LabelPairs::wrong("an array".into()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = LabelPairs {
                    pairs: Vec::with_capacity(map.size_hint().unwrap_or(8)),
                    name: None,
                    error: None,
                };
                while let Some(k) = map.next_key::<String>()? {
                    let v: Value = map.next_value()?;
                    if out.error.is_some() {
                        continue;
                    }
                    match v {
                        _ if k.is_empty() => {
                            out.error = Some("label names must not be empty".into())
                        }
                        Value::String(s) if NAME_ASIDE && k == "__name__" => out.name = Some(s),
                        Value::String(s) => out.pairs.push((k, s)),
                        other => {
                            out.error = Some(format!(
                                "label {k:?} must be a string, found {}",
                                kind(&other)
                            ))
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(Visit::<NAME_ASIDE>)
    }
}

/// Tells a field given as `null` (`Some(Null)`) from a missing one (`None`).
pub(super) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn decode_one(bytes: &[u8], limits: DecodeLimits, now_ns: i64) -> Result<Sample, String> {
    let wire: Wire = serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    wire.into_sample(limits, now_ns)
}

impl Wire {
    fn into_sample(self, limits: DecodeLimits, now_ns: i64) -> Result<Sample, String> {
        let wire = self;
        let metric_name = match wire.metric_name {
            Some(Value::String(n)) if !n.is_empty() => n,
            Some(Value::String(_)) => return Err("\"metric_name\" is empty".into()),
            Some(other) => {
                return Err(format!(
                    "\"metric_name\" must be a string, found {}",
                    kind(&other)
                ));
            }
            None => return Err("missing field \"metric_name\"".into()),
        };
        if let Some(reason) = wire.labels.error {
            return Err(reason);
        }
        let pairs = wire.labels.pairs;
        let ts_ns = timestamp::from_json(wire.timestamp, now_ns, limits.max_future_ns)?;
        let value = match wire.value {
            Some(Value::Number(n)) => n
                .as_f64()
                .ok_or_else(|| format!("\"value\" {n} is not representable as a float"))?,
            Some(other) => {
                return Err(format!(
                    "\"value\" must be a number, found {}",
                    kind(&other)
                ));
            }
            None => return Err("missing field \"value\"".into()),
        };
        Ok(Sample {
            metric_name,
            labels: Labels::from_pairs(pairs),
            ts_ns,
            value,
        })
    }
}

/// What a JSON value is, for messages: `number 3`, `string "x"`, `an array`.
pub(super) fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000_000_000;

    fn dec(s: &str) -> Decoded {
        decode(s.as_bytes(), DecodeLimits::default(), NOW)
    }

    #[test]
    fn the_seed_sample() {
        let d = dec(
            r#"{"metric_name": "cpu.load", "labels": {"host": "webserver01", "region": "us-west"}, "timestamp": 1613707265, "value": 0.75}"#,
        );
        assert!(d.rejected.is_empty(), "{:?}", d.rejected);
        let s = &d.samples[0];
        assert_eq!(s.metric_name, "cpu.load");
        assert_eq!(s.labels.get("host"), Some("webserver01"));
        assert_eq!(s.ts_ns, 1_613_707_265_000_000_000);
        assert_eq!(s.value, 0.75);
    }

    #[test]
    fn arrays_keep_good_elements() {
        let d = dec(r#"[
            {"metric_name": "a", "timestamp": "2021-02-19T04:01:05Z", "value": 1},
            {"metric_name": "b", "timestamp": 1613707265000, "value": "high"},
            {"metric_name": "c", "labels": {}, "timestamp": 1613707265.25, "value": -2.5e3}
        ]"#);
        assert_eq!(d.samples.len(), 2);
        assert_eq!(d.samples[1].ts_ns, 1_613_707_265_250_000_000);
        assert_eq!(d.rejected.len(), 1);
        assert_eq!(d.rejected[0].index, Some(1));
        assert!(
            d.rejected[0].reason.contains("\"value\" must be a number"),
            "{}",
            d.rejected[0].reason
        );
        assert!(String::from_utf8_lossy(&d.rejected[0].bytes).contains("high"));
    }

    #[test]
    fn arrays_with_elements_that_are_not_samples() {
        let d = dec(
            r#"[1, {"metric_name": "a", "timestamp": 1613707265, "value": 1}, {"metric_name": 5, "timestamp": 1613707265, "value": 1}]"#,
        );
        assert_eq!(d.samples.len(), 1);
        assert_eq!(d.rejected.len(), 2);
        assert_eq!(
            (d.rejected[0].index, d.rejected[0].bytes.as_slice()),
            (Some(0), &b"1"[..])
        );
        assert!(
            d.rejected[1]
                .reason
                .contains("\"metric_name\" must be a string"),
            "{:?}",
            d.rejected[1]
        );
        // The fast path still finds the bytes of a bad element.
        let d = dec(
            r#"[{"metric_name": "a", "timestamp": 1613707265, "value": 1}, {"metric_name": "b", "labels": [1], "timestamp": 1613707265, "value": 1}]"#,
        );
        assert_eq!(d.samples.len(), 1);
        assert!(
            d.rejected[0].reason.contains("found an array"),
            "{:?}",
            d.rejected[0]
        );
        assert!(
            String::from_utf8_lossy(&d.rejected[0].bytes).starts_with(r#"{"metric_name": "b""#)
        );
    }

    #[test]
    fn reasons_for_bad_messages() {
        let cases = [
            ("{not json", "invalid JSON"),
            ("", "empty message"),
            ("42", "not a JSON sample"),
            (
                r#"{"labels": {}, "timestamp": 1613707265, "value": 1}"#,
                "missing field \"metric_name\"",
            ),
            (
                r#"{"metric_name": "m", "value": 1}"#,
                "missing field \"timestamp\"",
            ),
            (
                r#"{"metric_name": "m", "timestamp": 1613707265}"#,
                "missing field \"value\"",
            ),
            (
                r#"{"metric_name": "m", "timestamp": 1613707265, "value": null}"#,
                "must be a number, found null",
            ),
            (
                r#"{"metric_name": "m", "timestamp": 12, "value": 1}"#,
                "before 1990",
            ),
            (
                r#"{"metric_name": "m", "timestamp": 4102444800, "value": 1}"#,
                "ahead of this server's clock",
            ),
            (
                r#"{"metric_name": "m", "timestamp": true, "value": 1}"#,
                "must be a number or an RFC 3339 string",
            ),
            (
                r#"{"metric_name": "m", "labels": {"a": 1}, "timestamp": 1613707265, "value": 1}"#,
                "label \"a\" must be a string",
            ),
            ("[1, 2", "invalid JSON"),
            (
                r#"{"metric_name": "m", "labels": "x", "timestamp": 1613707265, "value": 1}"#,
                "must be an object of strings, found string",
            ),
            (
                r#"{"metric_name": "m", "labels": {"": "x"}, "timestamp": 1613707265, "value": 1}"#,
                "label names must not be empty",
            ),
        ];
        for (input, want) in cases {
            let d = dec(input);
            assert!(d.samples.is_empty(), "{input}");
            assert_eq!(d.rejected.len(), 1, "{input}");
            assert!(
                d.rejected[0].reason.contains(want),
                "{input}: {}",
                d.rejected[0].reason
            );
        }
    }
}
