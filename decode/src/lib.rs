//! Decoding Kafka message payloads into samples.
//!
//! A decoder never fails a whole batch for one bad record: it returns the
//! samples it could decode and, for each part it could not, a
//! [`Rejected`] with the reason and the bytes, which ingest dead-letters.
//!
//! Formats ([`Format`]), detected per message ([`Format::Auto`], the
//! default) or fixed per topic (`--format`):
//! - [`json`]: the seed's JSON sample, one object or an array;
//! - [`line`]: InfluxDB line protocol, as Telegraf's Kafka output writes it;
//! - [`telegraf`]: Telegraf's JSON serializer;
//! - [`prom_adapter`]: prometheus-kafka-adapter's JSON;
//! - [`otlp`]: the OpenTelemetry Collector's Kafka exporter, `otlp_json`
//!   and `otlp_proto`.
//!
//! Detection ([`detect`]) looks at the first byte and, for JSON, at which
//! keys the message holds; see its docs.

pub mod json;
pub mod line;
pub mod otlp;
pub mod prom_adapter;
pub mod telegraf;
pub mod timestamp;

use std::fmt;
use std::str::FromStr;

use strata_schemas::Sample;

/// The message formats ingest decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Detected per message ([`detect`]).
    #[default]
    Auto,
    /// The seed's JSON sample ([`json`]).
    Json,
    /// InfluxDB line protocol ([`line`]).
    Influx,
    /// Telegraf's JSON serializer ([`telegraf`]).
    TelegrafJson,
    /// prometheus-kafka-adapter's JSON ([`prom_adapter`]).
    PromAdapter,
    /// OTLP metrics as JSON ([`otlp`]).
    OtlpJson,
    /// OTLP metrics as protobuf ([`otlp`]).
    OtlpProto,
}

impl Format {
    /// Every format, with the name `--format` takes.
    pub const NAMES: [(Format, &'static str); 7] = [
        (Format::Auto, "auto"),
        (Format::Json, "json"),
        (Format::Influx, "influx"),
        (Format::TelegrafJson, "telegraf-json"),
        (Format::PromAdapter, "prometheus-kafka-adapter"),
        (Format::OtlpJson, "otlp-json"),
        (Format::OtlpProto, "otlp-proto"),
    ];

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, n)| *n)
            .expect("every format is named")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(f, _)| *f)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::NAMES.iter().map(|(_, n)| *n).collect();
                format!("unknown format {s:?}: one of {}", names.join(", "))
            })
    }
}

/// Decodes one message of `format` (detected when [`Format::Auto`]);
/// `now_ns` is the wall clock used to refuse samples from the far future.
pub fn decode(format: Format, payload: &[u8], limits: DecodeLimits, now_ns: i64) -> Decoded {
    match format {
        Format::Auto => decode(detect(payload), payload, limits, now_ns),
        Format::Json => json::decode(payload, limits, now_ns),
        Format::Influx => line::decode(payload, limits, now_ns),
        Format::TelegrafJson => telegraf::decode(payload, limits, now_ns),
        Format::PromAdapter => prom_adapter::decode(payload, limits, now_ns),
        Format::OtlpJson => otlp::decode_json(payload, limits, now_ns),
        Format::OtlpProto => otlp::decode_proto(payload, limits, now_ns),
    }
}

/// The format of one message, never [`Format::Auto`]:
/// - not UTF-8 in its first [`TEXT_PROBE`] bytes: OTLP protobuf (a
///   protobuf `MetricsData` starts with field 1, byte `0x0A`, and carries
///   binary timestamps early; line protocol is text). Only a prefix is
///   checked, so that a text message with bad UTF-8 further on goes to its
///   own decoder, which refuses just the bad line (line protocol) or says
///   where the JSON breaks, rather than to the protobuf decoder;
/// - JSON (first non-blank byte `{` or `[`), by the keys of its first
///   object (the message, or the first element of an array), never by
///   what its values hold: OTLP when one is `resourceMetrics`, the seed's
///   for `metric_name`, Telegraf's for `fields` (or a `metrics` batch),
///   prometheus-kafka-adapter's for `labels` and `name`; otherwise the
///   seed's, whose decoder then says what is missing;
/// - any other text: line protocol, unless it starts with byte `0x0A` and
///   no line parses (a protobuf message that happens to be UTF-8).
pub fn detect(payload: &[u8]) -> Format {
    let first = payload.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if !starts_as_text(payload) {
        return Format::OtlpProto;
    }
    match first {
        Some(b'{' | b'[') => {
            let (mut labels, mut name) = (false, false);
            let mut format = Format::Json;
            first_object_keys(payload, |key| {
                format = match key {
                    b"resourceMetrics" => Format::OtlpJson,
                    b"metric_name" => Format::Json,
                    b"fields" | b"metrics" => Format::TelegrafJson,
                    b"labels" | b"name" => {
                        labels |= key == b"labels";
                        name |= key == b"name";
                        if !(labels && name) {
                            return false;
                        }
                        Format::PromAdapter
                    }
                    _ => return false,
                };
                true
            });
            format
        }
        _ if payload.first() == Some(&0x0A) && !line::any_line_parses(payload) => Format::OtlpProto,
        _ => Format::Influx,
    }
}

/// How many bytes of a message [`detect`] checks for UTF-8.
pub const TEXT_PROBE: usize = 4096;

/// Whether the first [`TEXT_PROBE`] bytes are UTF-8; a character cut by the
/// probe's end (not the message's) counts as text.
fn starts_as_text(payload: &[u8]) -> bool {
    let probe = &payload[..payload.len().min(TEXT_PROBE)];
    match std::str::from_utf8(probe) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && probe.len() < payload.len(),
    }
}

/// Calls `visit` with each key of the first JSON object in `payload` (the
/// message itself, or the first element of a top-level array), raw as
/// written, until `visit` returns true or the object ends. Nested values
/// are skipped without being parsed: detection costs one pass over the
/// first object at most, and a label named `fields` is not a key.
fn first_object_keys(payload: &[u8], mut visit: impl FnMut(&[u8]) -> bool) {
    let mut depth = 0usize;
    let mut object_depth = None;
    let mut i = 0;
    while i < payload.len() {
        match payload[i] {
            b'"' => {
                let start = i + 1;
                let mut end = start;
                while end < payload.len() && payload[end] != b'"' {
                    end += if payload[end] == b'\\' { 2 } else { 1 };
                }
                if end >= payload.len() {
                    return;
                }
                i = end + 1;
                let is_key = object_depth == Some(depth)
                    && payload[i..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b':');
                if is_key && visit(&payload[start..end]) {
                    return;
                }
                continue;
            }
            b'{' => {
                depth += 1;
                object_depth.get_or_insert(depth);
            }
            b'[' => depth += 1,
            b'}' if object_depth == Some(depth) => return,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
}

/// A part of a message that could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Why, in words a producer's author can act on.
    pub reason: String,
    /// Which part of the message: the index of the element in a JSON array
    /// (from 0), the line number in line protocol (from 1, counting
    /// blank and comment lines), or the data point's position in an OTLP
    /// message (from 0, see [`otlp`]); `None`: the whole message.
    pub index: Option<usize>,
    /// The rejected bytes: the element, the line or a one-point OTLP
    /// message, else the message.
    pub bytes: Vec<u8>,
}

/// The outcome of decoding one message.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decoded {
    /// Samples accepted from the message.
    pub samples: Vec<Sample>,
    /// Parts of the message that must be dead-lettered.
    pub rejected: Vec<Rejected>,
    /// Fields of a well-formed record that hold no number (line protocol
    /// and Telegraf string fields, OTLP points flagged no-recorded-value,
    /// prometheus-kafka-adapter `NaN` values, staleness markers mostly):
    /// skipped, neither stored nor dead-lettered, and counted so that their
    /// loss is visible.
    pub skipped_fields: usize,
}

/// Limits a decoder enforces on what it accepts, and how names are made.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Samples later than this many nanoseconds ahead of the wall clock are
    /// refused as absurd.
    pub max_future_ns: i64,
    /// Joins a measurement and a field into a metric name
    /// (`<measurement><separator><field>`), for line protocol and
    /// Telegraf's JSON.
    pub separator: char,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_future_ns: 24 * 3_600 * 1_000_000_000,
            separator: '.',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_reads_keys_not_values() {
        let cases: &[(&str, Format)] = &[
            // A label named `fields`, valued `resourceMetrics`: still the adapter.
            (
                r#"{"timestamp":"2026-01-01T00:00:00Z","value":"1","name":"up","labels":{"__name__":"up","fields":"resourceMetrics"}}"#,
                Format::PromAdapter,
            ),
            // The seed's sample with labels that look like other formats' keys.
            (
                r#"{"labels":{"fields":"a","name":"b"},"metric_name":"up","value":1,"timestamp":1}"#,
                Format::Json,
            ),
            (
                r#"[{"metric_name":"up","labels":{"fields":"x"},"value":1,"timestamp":1}]"#,
                Format::Json,
            ),
            // Telegraf single and batch; a tag named `metric_name` is not a key.
            (
                r#"{"fields":{"x":1},"name":"cpu","tags":{"metric_name":"m"},"timestamp":1}"#,
                Format::TelegrafJson,
            ),
            (
                r#"{"metrics":[{"fields":{"x":1},"name":"cpu","tags":{},"timestamp":1}]}"#,
                Format::TelegrafJson,
            ),
            (r#" {"resourceMetrics":[]}"#, Format::OtlpJson),
            // Escaped quotes inside a value do not start a key.
            (
                r#"{"labels":{"a":"x\"metric_name\":"},"name":"up","value":"1","timestamp":"2026-01-01T00:00:00Z"}"#,
                Format::PromAdapter,
            ),
            // Nothing recognisable, or cut short: the seed's decoder says why.
            (r#"{"name":"up"}"#, Format::Json),
            (r#"{"labels":{"name":"#, Format::Json),
            ("[]", Format::Json),
        ];
        for (message, format) in cases {
            assert_eq!(detect(message.as_bytes()), *format, "{message}");
        }
    }

    #[test]
    fn detect_checks_utf8_of_a_prefix_only() {
        // Good lines past the probe, then a line that is not UTF-8: still
        // line protocol, and only the bad line is refused.
        let good = "cpu,host=a usage=1 1767225600000000000\n";
        let mut message = good.repeat(TEXT_PROBE / good.len() + 2).into_bytes();
        let lines = message.len() / good.len();
        message.extend_from_slice(b"cpu,host=\xff usage=2 1767225600000000000\n");
        assert_eq!(detect(&message), Format::Influx);
        let d = decode(
            Format::Auto,
            &message,
            DecodeLimits::default(),
            1_767_225_600_000_000_000,
        );
        assert_eq!(d.samples.len(), lines);
        assert_eq!(d.rejected.len(), 1);
        assert_eq!(d.rejected[0].index, Some(lines + 1));
        // A multi-byte character cut by the probe's end is text...
        let mut cut = vec![b'#'; TEXT_PROBE - 1];
        cut.extend_from_slice("é\n".as_bytes());
        assert!(starts_as_text(&cut));
        // ...but one cut by the message's end is not.
        assert!(!starts_as_text(&"é".as_bytes()[..1]));
        assert!(!starts_as_text(b"\x0a\x05\xff\xfe"));
    }
}
