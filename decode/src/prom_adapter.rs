//! prometheus-kafka-adapter's JSON (and its Avro-JSON, the same shape), one
//! sample per message:
//!
//! ```json
//! {"timestamp": "2026-01-01T00:00:00Z", "value": "9876543210", "name": "up", "labels": {"__name__": "up", "job": "node"}}
//! ```
//!
//! - `value` is a string (Go's `FormatFloat(v, 'f', -1, 64)`); a JSON
//!   number is accepted too.
//! - `NaN` is skipped and counted ([`Decoded::skipped_fields`]), neither
//!   stored nor dead-lettered. From Prometheus it is most often a staleness
//!   marker, written once for every series that ends (the adapter's string
//!   cannot tell it from another NaN): the end of a series, not a
//!   measurement, and a dead letter for each would bury the real ones. The
//!   collector's remote write skips staleness markers likewise.
//! - `+Inf` and `-Inf` are refused, as the seed's JSON samples refuse them
//!   (JSON cannot express them, and serde_json rejects a number that
//!   overflows a float) and as OTLP does: one of them would spoil every
//!   aggregate of its window.
//! - `timestamp` is RFC 3339 with whole seconds (the adapter drops the
//!   milliseconds); a Unix number is accepted too, its unit told from its
//!   magnitude.
//! - The metric name is `name`, else the `__name__` label; `__name__` is
//!   never a label.

use serde::Deserialize;
use serde_json::Value;
use strata_schemas::{Labels, Sample};

use super::json::{LabelPairs, kind, present};
use super::timestamp;
use super::{DecodeLimits, Decoded, Rejected};

/// Decodes one message of prometheus-kafka-adapter JSON; `now_ns` is the wall clock used to refuse
/// samples from the far future.
pub fn decode(payload: &[u8], limits: DecodeLimits, now_ns: i64) -> Decoded {
    let mut out = Decoded::default();
    let first = payload.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let result = match first {
        Some(b'{') => serde_json::from_slice::<Wire>(payload)
            .map_err(|e| format!("invalid JSON: {e}"))
            .and_then(|w| w.into_sample(limits, now_ns)),
        Some(_) => Err("not prometheus-kafka-adapter JSON: expected one sample object".into()),
        None => Err("empty message".into()),
    };
    match result {
        Ok(Some(s)) => out.samples.push(s),
        Ok(None) => out.skipped_fields += 1,
        Err(reason) => out.rejected.push(Rejected {
            reason,
            index: None,
            bytes: payload.to_vec(),
        }),
    }
    out
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default, deserialize_with = "present")]
    timestamp: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Value>,
    #[serde(default)]
    labels: LabelPairs<true>,
}

impl Wire {
    /// The sample, or `None` for a NaN value (see the module docs).
    fn into_sample(self, limits: DecodeLimits, now_ns: i64) -> Result<Option<Sample>, String> {
        let labels = self.labels;
        if let Some(reason) = labels.error {
            return Err(reason);
        }
        let metric_name = match (self.name, labels.name) {
            (Some(Value::String(n)), _) if !n.is_empty() => n,
            (None | Some(Value::Null), Some(n)) if !n.is_empty() => n,
            (Some(Value::String(_)), _) => return Err("\"name\" is empty".into()),
            (None | Some(Value::Null), _) => {
                return Err("missing field \"name\" (and no \"__name__\" label)".into());
            }
            (Some(other), _) => {
                return Err(format!("\"name\" must be a string, found {}", kind(&other)));
            }
        };
        let ts_ns = timestamp::from_json(self.timestamp, now_ns, limits.max_future_ns)?;
        let value = match self.value {
            Some(Value::String(s)) => match s.parse::<f64>() {
                Ok(v) if v.is_nan() => return Ok(None),
                Ok(v) if v.is_infinite() => {
                    return Err(format!(
                        "\"value\" {s:?} is not a finite number: refused, as by the JSON and \
                         OTLP decoders, since one infinity would spoil every aggregate of its \
                         window"
                    ));
                }
                Ok(v) => v,
                Err(_) => return Err(format!("\"value\" {s:?} is not a number")),
            },
            Some(Value::Number(n)) => n
                .as_f64()
                .ok_or_else(|| format!("\"value\" {n} is not representable as a float"))?,
            Some(other) => {
                return Err(format!(
                    "\"value\" must be a number in a string, found {}",
                    kind(&other)
                ));
            }
            None => return Err("missing field \"value\"".into()),
        };
        Ok(Some(Sample {
            metric_name,
            labels: Labels::from_pairs(labels.pairs),
            ts_ns,
            value,
        }))
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
    fn the_name_comes_from_the_name_label_when_missing() {
        let d = dec(
            r#"{"timestamp":"2026-01-01T00:00:00Z","value":"1","labels":{"__name__":"up","job":"node"}}"#,
        );
        assert!(d.rejected.is_empty(), "{:?}", d.rejected);
        assert_eq!(d.samples[0].metric_name, "up");
        assert_eq!(d.samples[0].labels, Labels::from_pairs([("job", "node")]));
    }

    #[test]
    fn numbers_are_accepted_for_value_and_timestamp() {
        let d = dec(r#"{"timestamp":1767225600,"value":0.5,"name":"x","labels":{}}"#);
        assert!(d.rejected.is_empty(), "{:?}", d.rejected);
        assert_eq!(
            (d.samples[0].ts_ns, d.samples[0].value),
            (1_767_225_600_000_000_000, 0.5)
        );
    }

    #[test]
    fn reasons_for_bad_messages() {
        let cases = [
            ("", "empty message"),
            ("[]", "expected one sample object"),
            (r#"{"value":"1","name":"x"}"#, "missing field \"timestamp\""),
            (
                r#"{"timestamp":"2026-01-01T00:00:00Z","name":"x"}"#,
                "missing field \"value\"",
            ),
            (
                r#"{"timestamp":"2026-01-01T00:00:00Z","value":"1"}"#,
                "missing field \"name\"",
            ),
            (
                r#"{"timestamp":"2026-01-01T00:00:00Z","value":"high","name":"x"}"#,
                "\"value\" \"high\" is not a number",
            ),
            (
                r#"{"timestamp":"2026-01-01T00:00:00Z","value":"1","name":"x","labels":{"a":1}}"#,
                "label \"a\" must be a string",
            ),
            (
                r#"{"timestamp":"yesterday","value":"1","name":"x"}"#,
                "is not RFC 3339",
            ),
        ];
        for (input, want) in cases {
            let d = dec(input);
            assert!(d.samples.is_empty(), "{input}");
            assert!(
                d.rejected[0].reason.contains(want),
                "{input}: {}",
                d.rejected[0].reason
            );
        }
    }
}
