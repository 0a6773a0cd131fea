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
/// - not UTF-8: OTLP protobuf (a protobuf `MetricsData` starts with field
///   1, byte `0x0A`; line protocol is text);
/// - JSON (first non-blank byte `{` or `[`): OTLP when it has
///   `"resourceMetrics"`, the seed's when it has `"metric_name"`, Telegraf's
///   when it has `"fields"`, prometheus-kafka-adapter's when it has
///   `"labels"` and `"name"`; otherwise the seed's, whose decoder then says
///   what is missing;
/// - any other text: line protocol, unless it starts with byte `0x0A` and
///   no line parses (a protobuf message that happens to be UTF-8).
pub fn detect(payload: &[u8]) -> Format {
    let first = payload.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let text = std::str::from_utf8(payload).is_ok();
    if !text {
        return Format::OtlpProto;
    }
    match first {
        Some(b'{' | b'[') => {
            let has = |key: &[u8]| memchr::memmem::find(payload, key).is_some();
            if has(b"\"resourceMetrics\"") {
                Format::OtlpJson
            } else if has(b"\"metric_name\"") {
                Format::Json
            } else if has(b"\"fields\"") {
                Format::TelegrafJson
            } else if has(b"\"labels\"") && has(b"\"name\"") {
                Format::PromAdapter
            } else {
                Format::Json
            }
        }
        _ if payload.first() == Some(&0x0A) && !line::any_line_parses(payload) => Format::OtlpProto,
        _ => Format::Influx,
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
    /// and Telegraf string fields, OTLP points flagged no-recorded-value):
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
