//! Telegraf's JSON serializer (`data_format = "json"`):
//!
//! ```json
//! {"fields": {"field_1": 30, "n_images": 660}, "name": "docker", "tags": {"host": "raynor"}, "timestamp": 1458229140}
//! ```
//!
//! and its batch form `{"metrics": [ … ]}` (a bare JSON array of metrics is
//! read the same way). In a batch each metric stands alone: good ones are
//! kept and each bad one is rejected with its index.
//!
//! Each numeric or boolean field is a sample named
//! `<name><separator><field>` (booleans 1 and 0) with the tags as labels;
//! other fields (strings, and the objects or arrays of
//! `json_nested_fields_include`) are skipped and counted in
//! [`Decoded::skipped_fields`].
//!
//! `timestamp` is Unix time in `json_timestamp_units` (seconds by default),
//! whose unit is told from the magnitude as for the seed's JSON samples
//! ([`timestamp::from_number`]): `1s`, `1ms`, `1us` and `1ns` are read
//! right. Other units (`10ms`, `100us`, …) cannot be told apart from these;
//! their timestamps land before 1990 or far in the future and are
//! rejected, never stored at a wrong time. With `json_timestamp_format`
//! set to an RFC 3339 layout (`2006-01-02T15:04:05Z07:00`), the string is
//! read as such; other layouts are rejected.

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use strata_schemas::{Labels, Sample};

use super::json::kind;
use super::timestamp;
use super::{DecodeLimits, Decoded, Rejected};

/// Decodes one message of Telegraf JSON; `now_ns` is the wall clock used to refuse
/// samples from the far future.
pub fn decode(payload: &[u8], limits: DecodeLimits, now_ns: i64) -> Decoded {
    let mut out = Decoded::default();
    let first = payload.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'{') => match serde_json::from_slice::<Top<'_>>(payload) {
            Ok(Top {
                metrics: Some(elements),
                ..
            }) => batch(&elements, limits, now_ns, &mut out),
            Ok(top) => {
                if let Err(reason) = top.metric().decode(limits, now_ns, &mut out) {
                    out.rejected.push(whole(reason, payload));
                }
            }
            Err(e) => out
                .rejected
                .push(whole(format!("invalid JSON: {e}"), payload)),
        },
        Some(b'[') => match serde_json::from_slice::<Vec<&RawValue>>(payload) {
            Ok(elements) => batch(&elements, limits, now_ns, &mut out),
            Err(e) => out
                .rejected
                .push(whole(format!("invalid JSON: {e}"), payload)),
        },
        Some(_) => out.rejected.push(whole(
            "not Telegraf JSON: expected an object (a metric or {\"metrics\": [...]})".into(),
            payload,
        )),
        None => out.rejected.push(whole("empty message".into(), payload)),
    }
    out
}

/// Decodes the metrics of a batch one by one.
fn batch(elements: &[&RawValue], limits: DecodeLimits, now_ns: i64, out: &mut Decoded) {
    for (i, el) in elements.iter().enumerate() {
        let bytes = el.get().as_bytes();
        // serde would read a struct from an array too: refuse it plainly.
        let result = if bytes.first() != Some(&b'{') {
            Err("expected a metric object".into())
        } else {
            match serde_json::from_slice::<Metric>(bytes) {
                Ok(metric) => metric.decode(limits, now_ns, out),
                Err(e) => Err(format!("invalid metric: {e}")),
            }
        };
        if let Err(reason) = result {
            out.rejected.push(Rejected {
                reason: format!("metric {i}: {reason}"),
                index: Some(i),
                bytes: bytes.to_vec(),
            });
        }
    }
}

fn whole(reason: String, payload: &[u8]) -> Rejected {
    Rejected {
        reason,
        index: None,
        bytes: payload.to_vec(),
    }
}

/// A message: one metric, or a batch under `"metrics"` (the metric's keys
/// repeated here rather than flattened: serde's `flatten` buffers every
/// value first).
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow, default)]
    metrics: Option<Vec<&'a RawValue>>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Value>,
    #[serde(default)]
    fields: Option<Entries>,
    #[serde(default)]
    tags: Option<Entries>,
    #[serde(default, deserialize_with = "present")]
    timestamp: Option<Value>,
}

impl Top<'_> {
    fn metric(self) -> Metric {
        Metric {
            name: self.name,
            fields: self.fields,
            tags: self.tags,
            timestamp: self.timestamp,
        }
    }
}

#[derive(Deserialize)]
struct Metric {
    #[serde(default, deserialize_with = "present")]
    name: Option<Value>,
    #[serde(default)]
    fields: Option<Entries>,
    #[serde(default)]
    tags: Option<Entries>,
    #[serde(default, deserialize_with = "present")]
    timestamp: Option<Value>,
}

/// Tells a field given as `null` (`Some(Null)`) from a missing one (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A JSON object read straight into pairs (no intermediate map), or what
/// was found instead, for the reason.
enum Entries {
    Object(Vec<(String, Value)>),
    Not(String),
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Entries;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Entries, E> {
                Ok(Entries::Not("null".into()))
            }

            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Entries, E> {
                Ok(Entries::Not(format!("boolean {v}")))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Entries, E> {
                Ok(Entries::Not(format!("number {v}")))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Entries, E> {
                Ok(Entries::Not(format!("number {v}")))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Entries, E> {
                Ok(Entries::Not(format!("number {v}")))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Entries, E> {
                Ok(Entries::Not(format!("string {v:?}")))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Entries, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Entries::Not("an array".into()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(k) = map.next_key::<String>()? {
                    pairs.push((k, map.next_value()?));
                }
                Ok(Entries::Object(pairs))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Metric {
    /// Appends the metric's samples to `out`, or says why it has none.
    fn decode(self, limits: DecodeLimits, now_ns: i64, out: &mut Decoded) -> Result<(), String> {
        let name = match self.name {
            Some(Value::String(n)) if !n.is_empty() => n,
            Some(Value::String(_)) => return Err("\"name\" is empty".into()),
            Some(other) => {
                return Err(format!("\"name\" must be a string, found {}", kind(&other)));
            }
            None => return Err("missing field \"name\"".into()),
        };
        let fields = match self.fields {
            Some(Entries::Object(f)) if !f.is_empty() => f,
            Some(Entries::Object(_)) => return Err("\"fields\" is empty".into()),
            Some(Entries::Not(found)) => {
                return Err(format!("\"fields\" must be an object, found {found}"));
            }
            None => return Err("missing field \"fields\"".into()),
        };
        let tags = match self.tags {
            Some(Entries::Object(t)) => t,
            Some(Entries::Not(found)) => {
                return Err(format!(
                    "\"tags\" must be an object of strings, found {found}"
                ));
            }
            None => Vec::new(),
        };
        let mut pairs = Vec::with_capacity(tags.len());
        for (k, v) in tags {
            match v {
                _ if k.is_empty() => return Err("tag names must not be empty".into()),
                Value::String(s) => pairs.push((k, s)),
                other => {
                    return Err(format!(
                        "tag {k:?} must be a string, found {}",
                        kind(&other)
                    ));
                }
            }
        }
        let ts_ns = timestamp::from_json(self.timestamp, now_ns, limits.max_future_ns)?;
        let labels = Labels::from_pairs(pairs);
        let mut skipped = 0;
        out.samples.reserve(fields.len());
        for (field, v) in fields {
            let value = match v {
                Value::Number(n) => n.as_f64().ok_or_else(|| {
                    format!("field {field:?}: {n} is not representable as a float")
                })?,
                Value::Bool(b) => f64::from(u8::from(b)),
                _ => {
                    skipped += 1;
                    continue;
                }
            };
            let mut metric_name =
                String::with_capacity(name.len() + limits.separator.len_utf8() + field.len());
            metric_name.push_str(&name);
            metric_name.push(limits.separator);
            metric_name.push_str(&field);
            out.samples.push(Sample {
                metric_name,
                labels: labels.clone(),
                ts_ns,
                value,
            });
        }
        out.skipped_fields += skipped;
        Ok(())
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
    fn timestamp_units_by_magnitude_and_rfc3339() {
        let want = 1_458_229_140_000_000_000;
        for ts in [
            "1458229140",
            "1458229140000",
            "1458229140000000",
            "1458229140000000000",
            "\"2016-03-17T15:39:00Z\"",
        ] {
            let d = dec(&format!(
                r#"{{"fields":{{"a":1}},"name":"m","tags":{{}},"timestamp":{ts}}}"#
            ));
            assert!(d.rejected.is_empty(), "{ts}: {:?}", d.rejected);
            assert_eq!(d.samples[0].ts_ns, want, "{ts}");
        }
        // `json_timestamp_units = "10ms"`: refused, not stored 10x too early.
        let d = dec(r#"{"fields":{"a":1},"name":"m","tags":{},"timestamp":145822914000}"#);
        assert!(d.samples.is_empty());
        assert!(
            d.rejected[0].reason.contains("before 1990"),
            "{:?}",
            d.rejected
        );
    }

    #[test]
    fn a_metric_of_strings_only_is_not_an_error() {
        let d = dec(
            r#"{"fields":{"uptime_format":"1 day, 20:10","nested":{"a":1}},"name":"system","tags":{"host":"raynor"},"timestamp":1458229140}"#,
        );
        assert_eq!(
            (d.samples.len(), d.rejected.len(), d.skipped_fields),
            (0, 0, 2)
        );
    }

    #[test]
    fn a_bare_array_is_a_batch() {
        let d = dec(
            r#"[{"fields":{"a":1},"name":"m","tags":{},"timestamp":1458229140}, {"name":"m"}]"#,
        );
        assert_eq!(d.samples.len(), 1);
        assert_eq!(d.rejected[0].index, Some(1));
        assert_eq!(d.rejected[0].reason, "metric 1: missing field \"fields\"");
    }
}
