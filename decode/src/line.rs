//! InfluxDB line protocol, as Telegraf's Kafka output writes it
//! (`data_format = "influx"`): one or many lines per message,
//!
//! ```text
//! cpu,cpu=cpu0,host=raynor usage_idle=99.1,usage_user=0.5 1458229140000000000
//! ```
//!
//! Lines are parsed by InfluxDB's own parser (the `influxdb-line-protocol`
//! crate, from InfluxDB IOx), which handles the escaping rules, the `i`
//! and `u` integer suffixes, booleans, quoted strings (which may hold
//! newlines) and `#` comments. Around it, this module numbers the lines,
//! accepts `\r\n` endings and trailing spaces, and turns each line into
//! samples:
//!
//! - each numeric field is a sample named `<measurement><separator><field>`
//!   with the line's tags as labels (a later duplicate tag or field wins, as
//!   in InfluxDB); integers and unsigned integers become floats (exact up to
//!   2^53), booleans 1 and 0;
//! - string fields are skipped and counted in [`Decoded::skipped_fields`];
//! - a line without a timestamp takes `now_ns`.
//!
//! Each line stands alone: a bad line is one [`Rejected`] whose `index` is
//! its line number (1-based, counting blank and comment lines) and whose
//! reason starts with `line N:`; the good lines of the message are kept.
//! A line is bad when it does not parse, when its timestamp is out of range
//! (before 1990, or more than the configured limit ahead of the clock, as
//! for JSON samples), when a float does not fit in 64 bits, or when its
//! bytes are not UTF-8.

use influxdb_line_protocol::{Error as ParseError, FieldValue, ParsedLine};
use strata_schemas::{Labels, Sample};

use super::timestamp;
use super::{DecodeLimits, Decoded, Rejected};

/// The unit of line protocol timestamps (InfluxDB's `?precision=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Nanoseconds (Telegraf's Kafka output, the default).
    #[default]
    Ns,
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
}

impl Precision {
    /// Nanoseconds per unit.
    fn ns(self) -> i64 {
        match self {
            Precision::Ns => 1,
            Precision::Us => 1_000,
            Precision::Ms => 1_000_000,
            Precision::S => 1_000_000_000,
        }
    }
}

/// Decodes one message of line protocol with nanosecond timestamps; `now_ns`
/// is the wall clock used to refuse samples from the far future (and the
/// time of lines without a timestamp).
pub fn decode(payload: &[u8], limits: DecodeLimits, now_ns: i64) -> Decoded {
    decode_with(payload, Precision::Ns, limits, now_ns)
}

/// As [`decode`], with timestamps in `precision`.
pub fn decode_with(
    payload: &[u8],
    precision: Precision,
    limits: DecodeLimits,
    now_ns: i64,
) -> Decoded {
    let mut out = Decoded::default();
    // At most one sample per `=`, and per 4 bytes (`f=1,`): reserving it
    // saves growing a vector of hundreds of samples.
    let bound = memchr::memchr_iter(b'=', payload)
        .count()
        .min(payload.len() / 4);
    out.samples.reserve(bound);
    let mut lines = Lines {
        precision,
        limits,
        now_ns,
        out: &mut out,
    };
    // Valid UTF-8 is the rule; when a line is not, it alone is rejected and
    // the text around it is decoded.
    let mut rest = payload;
    let mut first_line = 1;
    loop {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                lines.text(text, first_line);
                break;
            }
            Err(e) => {
                let bad = e.valid_up_to();
                let start = memchr::memrchr(b'\n', &rest[..bad]).map_or(0, |i| i + 1);
                let end = memchr::memchr(b'\n', &rest[bad..]).map_or(rest.len(), |i| bad + i);
                let before = std::str::from_utf8(&rest[..start]).expect("valid up to `bad`");
                lines.text(before, first_line);
                let line_no = first_line + newlines(before.as_bytes());
                lines.reject(
                    line_no,
                    format!("not UTF-8 text (byte {})", bad - start + 1),
                    &rest[start..end],
                );
                if end == rest.len() {
                    break;
                }
                rest = &rest[end + 1..];
                first_line = line_no + 1;
            }
        }
    }
    out
}

/// Whether any line of `payload` parses as line protocol.
pub fn any_line_parses(payload: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(payload) else {
        return false;
    };
    split_lines(text)
        .filter_map(content)
        .any(|line| matches!(parse(line), Some(Ok(_))))
}

/// The decoder's state over one message.
struct Lines<'o> {
    precision: Precision,
    limits: DecodeLimits,
    now_ns: i64,
    out: &'o mut Decoded,
}

impl Lines<'_> {
    /// Decodes every line of `text`, whose first line is numbered
    /// `first_line`.
    fn text(&mut self, text: &str, first_line: usize) {
        let mut line_no = first_line;
        // A line may span several newlines (in a quoted string): count
        // them for the next number.
        for raw in split_lines(text) {
            if let Some(line) = content(raw) {
                match parse(line) {
                    Some(Ok(parsed)) => {
                        if let Err(reason) = self.line(parsed) {
                            self.reject(line_no, reason, raw.as_bytes());
                        }
                    }
                    Some(Err(e)) => self.reject(line_no, parse_reason(&e), raw.as_bytes()),
                    None => {}
                }
            }
            line_no += 1 + newlines(raw.as_bytes());
        }
    }

    /// Turns one parsed line into samples, or says why it cannot be.
    fn line(&mut self, parsed: ParsedLine<'_>) -> Result<(), String> {
        let ts_ns = match parsed.timestamp {
            Some(t) => {
                let ns = t.checked_mul(self.precision.ns()).ok_or_else(|| {
                    format!(
                        "timestamp {t} is out of range for precision {:?}",
                        self.precision
                    )
                })?;
                timestamp::check_range(ns, self.now_ns, self.limits.max_future_ns)?
            }
            None => self.now_ns,
        };
        let fields = &parsed.field_set;
        // Check every value before emitting any, so that a bad line yields
        // nothing.
        for (key, value) in fields {
            if let FieldValue::F64(f) = value
                && !f.is_finite()
            {
                return Err(format!(
                    "field {:?}: value does not fit in a 64-bit float",
                    key.as_str()
                ));
            }
        }
        let labels = match &parsed.series.tag_set {
            Some(tags) => Labels::from_pairs(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            None => Labels::default(),
        };
        let measurement = parsed.series.measurement.as_str();
        let separator = self.limits.separator;
        for (i, (key, value)) in fields.iter().enumerate() {
            let value = match *value {
                FieldValue::F64(f) => f,
                FieldValue::I64(v) => v as f64,
                FieldValue::U64(v) => v as f64,
                FieldValue::Boolean(b) => f64::from(u8::from(b)),
                FieldValue::String(_) => {
                    self.out.skipped_fields += 1;
                    continue;
                }
            };
            // A field repeated in the line: the last one wins.
            if fields[i + 1..].iter().any(|(k, _)| k == key) {
                continue;
            }
            let mut metric_name =
                String::with_capacity(measurement.len() + separator.len_utf8() + key.len());
            metric_name.push_str(measurement);
            metric_name.push(separator);
            metric_name.push_str(key);
            self.out.samples.push(Sample {
                metric_name,
                labels: labels.clone(),
                ts_ns,
                value,
            });
        }
        Ok(())
    }

    fn reject(&mut self, line_no: usize, reason: String, bytes: &[u8]) {
        self.out.rejected.push(Rejected {
            reason: format!("line {line_no}: {reason}"),
            index: Some(line_no),
            bytes: bytes.to_vec(),
        });
    }
}

/// Splits `text` into lines as the parser's own `split_lines` does (a
/// newline in a quoted string field, or after a backslash, does not end a
/// line), but finds the newline with `memchr` when the line holds no quote
/// and does not end in a backslash, as Telegraf's lines mostly do, instead
/// of walking every character.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        let bytes = r.as_bytes();
        let end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
        let line = &bytes[..end];
        let plain = memchr::memchr(b'"', line).is_none() && line.last() != Some(&b'\\');
        let line = if plain {
            &r[..end]
        } else {
            influxdb_line_protocol::split_lines(r)
                .next()
                .expect("a split yields at least one part")
        };
        rest = r.get(line.len() + 1..);
        Some(line)
    })
}

/// The part of a raw line to parse: without a `\r` ending and trailing
/// spaces; `None` for blank and comment lines.
fn content(raw: &str) -> Option<&str> {
    let line = raw.trim_end_matches(['\r', ' ']);
    let first = line.trim_start_matches([' ', '\t']);
    (!first.is_empty() && !first.starts_with('#')).then_some(line)
}

/// Parses one line (never blank nor a comment, so always `Some`).
fn parse(line: &str) -> Option<Result<ParsedLine<'_>, ParseError>> {
    influxdb_line_protocol::parse_lines(line).next()
}

fn newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// The parser's error in words a producer's author can act on.
fn parse_reason(e: &ParseError) -> String {
    match e {
        ParseError::MeasurementValueInvalid => {
            "no measurement: a line starts with `<measurement>[,<tag>=<value>…] `".into()
        }
        ParseError::TagSetMalformed => {
            "malformed tag set: expected `,<key>=<value>` pairs (non-empty, with `,` `=` and \
             space escaped by `\\`) after the measurement"
                .into()
        }
        ParseError::FieldSetMissing => {
            "no valid field set: expected ` <key>=<value>[,…]` after the measurement and tags, \
             each value a float, an integer (`12i`), an unsigned integer (`12u`), a quoted \
             string or a boolean"
                .into()
        }
        ParseError::IntegerValueInvalid { value, .. } => {
            format!("integer field value {value}i does not fit in 64 bits")
        }
        ParseError::UIntegerValueInvalid { value, .. } => {
            format!("unsigned field value {value}u does not fit in 64 bits")
        }
        ParseError::FloatValueInvalid { value, .. } => {
            format!("float field value {value} is not a number")
        }
        ParseError::TimestampValueInvalid { value, .. } => {
            format!("timestamp {value} does not fit in 64 bits")
        }
        ParseError::CannotParseEntireLine { trailing_content } => {
            let shown: String = trailing_content.chars().take(60).collect();
            format!(
                "cannot parse {shown:?}: expected an optional integer timestamp after the field \
                 set (are a space, comma or `=` left unescaped, or a field value malformed?)"
            )
        }
        other => format!("not line protocol: {other}"),
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
    fn precision_scales_timestamps() {
        let cases = [
            (Precision::Ns, "1458229140000000000"),
            (Precision::Us, "1458229140000000"),
            (Precision::Ms, "1458229140000"),
            (Precision::S, "1458229140"),
        ];
        for (p, ts) in cases {
            let line = format!("cpu value=1 {ts}");
            let d = decode_with(line.as_bytes(), p, DecodeLimits::default(), NOW);
            assert!(d.rejected.is_empty(), "{p:?}: {:?}", d.rejected);
            assert_eq!(d.samples[0].ts_ns, 1_458_229_140_000_000_000, "{p:?}");
        }
        let d = decode_with(
            b"cpu value=1 9223372036854775",
            Precision::S,
            DecodeLimits::default(),
            NOW,
        );
        assert!(
            d.rejected[0]
                .reason
                .contains("out of range for precision S"),
            "{:?}",
            d.rejected
        );
    }

    #[test]
    fn separator_and_lines_without_timestamp() {
        let limits = DecodeLimits {
            separator: '_',
            ..DecodeLimits::default()
        };
        let d = decode(b"mem,host=a used=5i\r\n", limits, NOW);
        assert!(d.rejected.is_empty(), "{:?}", d.rejected);
        assert_eq!(d.samples[0].metric_name, "mem_used");
        assert_eq!(d.samples[0].ts_ns, NOW);
        assert_eq!(d.samples[0].value, 5.0);
    }

    #[test]
    fn a_repeated_field_keeps_the_last_value() {
        let d = dec("m a=1,b=2,a=3 1458229140000000000");
        let got: Vec<(&str, f64)> = d
            .samples
            .iter()
            .map(|s| (s.metric_name.as_str(), s.value))
            .collect();
        assert_eq!(got, [("m.b", 2.0), ("m.a", 3.0)]);
    }

    #[test]
    fn invalid_utf8_rejects_only_its_line() {
        let mut payload =
            b"m a=1 1458229140000000000\nm,host=\xff a=2\nm a=3 1458229140000000000\n".to_vec();
        payload.extend_from_slice(b"m,h=\xc3 a=4\nm a=5 1458229140000000000");
        let d = decode(&payload, DecodeLimits::default(), NOW);
        let values: Vec<f64> = d.samples.iter().map(|s| s.value).collect();
        assert_eq!(values, [1.0, 3.0, 5.0]);
        let rejected: Vec<(Option<usize>, &str, &[u8])> = d
            .rejected
            .iter()
            .map(|r| (r.index, r.reason.as_str(), r.bytes.as_slice()))
            .collect();
        assert_eq!(
            rejected,
            [
                (
                    Some(2),
                    "line 2: not UTF-8 text (byte 8)",
                    &b"m,host=\xff a=2"[..]
                ),
                (
                    Some(4),
                    "line 4: not UTF-8 text (byte 5)",
                    &b"m,h=\xc3 a=4"[..]
                ),
            ]
        );
    }

    #[test]
    fn lines_split_as_the_parser_splits_them() {
        for text in [
            "",
            "\n",
            "a f=1\nb f=2",
            "a f=1\nb f=2\n",
            "a f=\"x\ny\",g=1 1\nb f=2\n\n",
            "a f=\"x\\\"\ny\" 1\nb f=2",
            "a\\\nb f=1\nc f=2",
            "a\\\\\nb f=1",
            "a,t=\"q f=1\nb f=2",
            "# c \"\nb f=2\r\n",
        ] {
            let ours: Vec<&str> = split_lines(text).collect();
            let theirs: Vec<&str> = influxdb_line_protocol::split_lines(text).collect();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }

    #[test]
    fn any_line_parses_finds_one_good_line() {
        assert!(any_line_parses(b"\n# comment\nbad\ncpu value=1\n"));
        assert!(!any_line_parses(b"\n# comment\nbad line\n"));
        assert!(!any_line_parses(b"\n\x08\x96\x01"));
    }
}
