//! Line protocol, Telegraf JSON and prometheus-kafka-adapter JSON: golden
//! messages (`golden/<format>/`, see the README there) decoded detected and
//! with the format given, and detection of every golden message.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use strata_decode::{self as decode, DecodeLimits, Decoded, Format};

/// The wall clock of these tests, 2027-01-15T08:00:00Z: the time of lines
/// without a timestamp.
const NOW: i64 = 1_800_000_000_000_000_000;

fn dir(format: Format) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format.name())
}

/// The golden messages of `format`: every file but the `.expected` ones and
/// the README, each with its `.expected` path. Panics when a message has no
/// expectation or an expectation no message, or when there is none.
fn messages(format: Format) -> Vec<(PathBuf, PathBuf)> {
    let dir = dir(format);
    let mut inputs = Vec::new();
    let mut expected = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("expected") => expected.push(path),
            Some("md") => {}
            _ => inputs.push(path),
        }
    }
    inputs.sort();
    expected.sort();
    let pairs: Vec<(PathBuf, PathBuf)> = inputs
        .into_iter()
        .map(|i| {
            let e = i.with_extension("expected");
            (i, e)
        })
        .collect();
    let paired: Vec<&PathBuf> = pairs.iter().map(|(_, e)| e).collect();
    assert_eq!(
        paired,
        expected.iter().collect::<Vec<_>>(),
        "in {}: every message needs NAME.expected and every NAME.expected a message",
        dir.display()
    );
    assert!(!pairs.is_empty(), "no golden message in {}", dir.display());
    pairs
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a decoder made of `payload`, in the `.expected` notation (see the
/// README): samples, then rejections, then skipped fields.
fn render(d: &Decoded, payload: &[u8]) -> String {
    let mut out = String::new();
    for s in &d.samples {
        writeln!(out, "{}{} {} {}", s.metric_name, s.labels, s.ts_ns, s.value).unwrap();
    }
    for r in &d.rejected {
        let index = r.index.map_or("-".to_string(), |i| i.to_string());
        writeln!(out, "rejected {index}: {}", r.reason).unwrap();
        if r.bytes == payload {
            writeln!(out, "  bytes: the message").unwrap();
        } else {
            writeln!(out, "  bytes: {:?}", String::from_utf8_lossy(&r.bytes)).unwrap();
        }
    }
    if d.skipped_fields > 0 {
        writeln!(out, "skipped {}", d.skipped_fields).unwrap();
    }
    out
}

/// Decodes every golden message of `format`, detected and with the format
/// given, and compares each with its `.expected`; reports every mismatch.
fn golden(format: Format) {
    let mut failures = Vec::new();
    let cases = messages(format);
    for (input, expected) in &cases {
        let payload = read(input);
        let want: String = String::from_utf8(read(expected))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(!want.is_empty(), "{} expects nothing", expected.display());
        for given in [Format::Auto, format] {
            let got = render(
                &decode::decode(given, &payload, DecodeLimits::default(), NOW),
                &payload,
            );
            if got != want {
                failures.push(format!(
                    "{} decoded as {given}:\n--- got\n{got}--- want ({})\n{want}",
                    input.display(),
                    expected.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} messages differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every golden message of `format` is detected as `format`.
fn detects(format: Format) {
    for (input, _) in messages(format) {
        assert_eq!(
            decode::detect(&read(&input)),
            format,
            "detection of {}",
            input.display()
        );
    }
}

#[test]
fn golden_line_protocol() {
    golden(Format::Influx);
}

#[test]
fn golden_telegraf_json() {
    golden(Format::TelegrafJson);
}

#[test]
fn golden_prometheus_kafka_adapter() {
    golden(Format::PromAdapter);
}

#[test]
fn detects_line_protocol() {
    detects(Format::Influx);
}

#[test]
fn detects_telegraf_json() {
    detects(Format::TelegrafJson);
}

#[test]
fn detects_prometheus_kafka_adapter() {
    detects(Format::PromAdapter);
}

#[test]
fn the_name_separator_is_configurable() {
    let limits = DecodeLimits {
        separator: '_',
        ..DecodeLimits::default()
    };
    let line = decode::decode(
        Format::Influx,
        b"cpu,host=a usage_idle=99.5 1767225600000000000",
        limits,
        NOW,
    );
    let telegraf = decode::decode(
        Format::TelegrafJson,
        br#"{"fields":{"usage_idle":99.5},"name":"cpu","tags":{"host":"a"},"timestamp":1767225600}"#,
        limits,
        NOW,
    );
    for d in [line, telegraf] {
        assert!(d.rejected.is_empty(), "{:?}", d.rejected);
        assert_eq!(d.samples.len(), 1);
        assert_eq!(d.samples[0].metric_name, "cpu_usage_idle");
    }
}

#[test]
fn the_future_limit_is_configurable() {
    let limits = DecodeLimits {
        max_future_ns: 0,
        ..DecodeLimits::default()
    };
    let ahead = NOW + 1_000_000_000;
    let line = format!("cpu,host=a usage_idle=99.5 {NOW}\ncpu,host=a usage_idle=99.5 {ahead}\n");
    let d = decode::decode(Format::Influx, line.as_bytes(), limits, NOW);
    assert_eq!(d.samples.len(), 1);
    assert_eq!(d.rejected.len(), 1);
    assert_eq!(d.rejected[0].index, Some(2));
    assert!(
        d.rejected[0]
            .reason
            .starts_with("line 2: timestamp 2027-01-15T08:00:01+00:00 is more than 0s ahead"),
        "{}",
        d.rejected[0].reason
    );
}
