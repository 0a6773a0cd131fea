//! Notifications with Alertmanager's semantics.
//!
//! The evaluator hands alerts over the way Prometheus sends them to
//! Alertmanager; this module routes, groups, deduplicates and delivers
//! them the way Alertmanager does:
//!
//! - [`config`]: Alertmanager's configuration file (the supported subset)
//!   and the compiled routing tree.
//! - [`matchers`]: label matchers in Alertmanager's syntax.
//! - [`dispatch`]: the dispatcher — routing, aggregation groups, timers and
//!   the notification log — with injected time and a serializable state.
//! - [`webhook`], [`email`]: the receivers' payloads and one send attempt.
//! - [`mod@deliver`]: one [`dispatch::Notification`] to all integrations of its
//!   receiver, with retries.
//! - [`alertmanager`]: posting alerts to an external Alertmanager instead,
//!   as Prometheus does.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::LabelSet;

pub mod alertmanager;
pub mod config;
pub mod deliver;
pub mod dispatch;
pub mod email;
pub mod matchers;
pub mod webhook;

pub use config::Config;
pub use deliver::{DeliverOptions, Deliverer, DeliveryError, SendError, deliver};
pub use dispatch::{Dispatcher, DispatcherState, Notification};

/// The label holding an alert's name.
pub const ALERT_NAME_LABEL: &str = "alertname";

/// An alert as Prometheus sends it to Alertmanager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Identifying labels, including `alertname`.
    pub labels: LabelSet,
    /// Non-identifying annotations (summary, description, …).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing, Unix milliseconds.
    pub starts_at_ms: i64,
    /// `Some(t)`: the alert was resolved at `t` (Unix milliseconds);
    /// `None`: it is firing.
    #[serde(default)]
    pub ends_at_ms: Option<i64>,
    /// Link back to the source of the alert (an expression browser URL).
    #[serde(default)]
    pub generator_url: String,
}

/// Whether an alert is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The condition holds.
    Firing,
    /// The condition stopped holding.
    Resolved,
}

impl AlertStatus {
    /// `"firing"` or `"resolved"`, as in Alertmanager's payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Alert {
    /// Alertmanager's fingerprint of the alert: that of its label set
    /// (see [`label_set_fingerprint`]).
    pub fn fingerprint(&self) -> u64 {
        label_set_fingerprint(&self.labels)
    }

    /// The fingerprint as Alertmanager prints it: 16 lowercase hex digits.
    pub fn fingerprint_hex(&self) -> String {
        fingerprint_hex(self.fingerprint())
    }

    /// Resolved when it carries an end time, firing otherwise.
    pub fn status(&self) -> AlertStatus {
        if self.ends_at_ms.is_some() {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }

    /// The `alertname` label, empty when missing.
    pub fn name(&self) -> &str {
        self.labels
            .get(ALERT_NAME_LABEL)
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// FNV-1a 64 constants, as in `prometheus/common/model/fnv.go`.
const FNV_OFFSET: u64 = 14_695_981_039_346_656_037;
const FNV_PRIME: u64 = 1_099_511_628_211;
/// The byte separating names and values in a fingerprint; it cannot occur
/// in UTF-8.
const SEPARATOR: u8 = 0xff;

/// Folds `bytes` into an FNV-1a 64 hash.
fn fnv_add(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The fingerprint of a label set, as `model.LabelSet.Fingerprint` in
/// `prometheus/common`: FNV-1a 64 over the names in sorted order, each
/// name and value followed by the byte `0xff`.
pub fn label_set_fingerprint(labels: &LabelSet) -> u64 {
    labels.iter().fold(FNV_OFFSET, |h, (name, value)| {
        let h = fnv_add(fnv_add(h, name.as_bytes()), &[SEPARATOR]);
        fnv_add(fnv_add(h, value.as_bytes()), &[SEPARATOR])
    })
}

/// A fingerprint as 16 lowercase hex digits (`model.Fingerprint.String`).
pub fn fingerprint_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

/// A label set as `model.LabelSet.String` prints it:
/// `{a="x", b="y"}`, names sorted, values quoted like Go's `%q`.
pub fn format_label_set(labels: &LabelSet) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&go_quote(value));
    }
    out.push('}');
    out
}

/// Quotes a string like Go's `strconv.Quote`: `"` and `\` escaped, the
/// usual C escapes for control characters, `\xNN` for other ASCII
/// controls and `\uNNNN` for other non-printable characters (control and
/// non-space whitespace characters; Go's notion of printable is wider than
/// that only for rare characters).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's zero time as RFC 3339: the `endsAt` of firing alerts.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A Unix millisecond timestamp in RFC 3339, UTC, as Go's `time.Time`
/// marshals to JSON (RFC 3339 with nanoseconds, trailing zeros of the
/// fraction dropped): `2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.25Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return ZERO_TIME.to_string();
    };
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = ms.rem_euclid(1000);
    if frac != 0 {
        let digits = format!("{frac:03}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Orders alerts as Alertmanager's `AlertSlice` does for notifications:
/// by the `job` label, then `instance` (alerts with the label first), then
/// by label set (`model.LabelSet.Before`: fewer labels first, then the
/// first differing value over the union of names).
pub fn alert_order(a: &Alert, b: &Alert) -> Ordering {
    for key in ["job", "instance"] {
        match (a.labels.get(key), b.labels.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    label_set_order(&a.labels, &b.labels)
}

/// `model.LabelSet.Before` as an ordering.
fn label_set_order(a: &LabelSet, b: &LabelSet) -> Ordering {
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        match (a.get(name), b.get(name)) {
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::label_set as labels;

    #[test]
    fn fingerprint_matches_prometheus_common() {
        // Vectors of prometheus/common's signature tests.
        assert_eq!(
            label_set_fingerprint(&LabelSet::new()),
            14_695_981_039_346_656_037
        );
        let ls = labels(&[("name", "garland, briggs"), ("fear", "love is not enough")]);
        assert_eq!(label_set_fingerprint(&ls), 5_799_056_148_416_392_346);
        let alert = Alert {
            labels: ls,
            annotations: BTreeMap::new(),
            starts_at_ms: 0,
            ends_at_ms: None,
            generator_url: String::new(),
        };
        assert_eq!(
            alert.fingerprint_hex(),
            format!("{:016x}", 5_799_056_148_416_392_346u64)
        );
        assert_eq!(fingerprint_hex(1), "0000000000000001");
    }

    #[test]
    fn label_sets_print_like_go() {
        assert_eq!(format_label_set(&LabelSet::new()), "{}");
        let ls = labels(&[("b", "x"), ("a", "say \"hi\"\n\\")]);
        assert_eq!(format_label_set(&ls), r#"{a="say \"hi\"\n\\", b="x"}"#);
        assert_eq!(go_quote("é\u{1}\u{7f}\u{2028}"), r#""é\x01\x7f\u2028""#);
    }

    #[test]
    fn times_print_like_go_json() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_ms(1_714_564_800_000), "2024-05-01T12:00:00Z");
        assert_eq!(rfc3339_ms(1_714_564_800_250), "2024-05-01T12:00:00.25Z");
        assert_eq!(rfc3339_ms(1_714_564_800_007), "2024-05-01T12:00:00.007Z");
    }

    #[test]
    fn alerts_sort_by_job_instance_then_labels() {
        let mk = |pairs: &[(&str, &str)]| Alert {
            labels: labels(pairs),
            annotations: BTreeMap::new(),
            starts_at_ms: 0,
            ends_at_ms: None,
            generator_url: String::new(),
        };
        let mut v = [
            mk(&[("alertname", "A")]),
            mk(&[("alertname", "A"), ("job", "b")]),
            mk(&[("alertname", "A"), ("job", "a"), ("instance", "2")]),
            mk(&[("alertname", "A"), ("job", "a"), ("instance", "1")]),
            mk(&[("alertname", "A"), ("job", "a")]),
            mk(&[("alertname", "B"), ("x", "1")]),
            mk(&[("alertname", "C")]),
        ];
        v.sort_by(alert_order);
        let order: Vec<String> = v.iter().map(|a| format_label_set(&a.labels)).collect();
        assert_eq!(
            order,
            [
                r#"{alertname="A", instance="1", job="a"}"#,
                r#"{alertname="A", instance="2", job="a"}"#,
                r#"{alertname="A", job="a"}"#,
                r#"{alertname="A", job="b"}"#,
                r#"{alertname="A"}"#,
                r#"{alertname="C"}"#,
                r#"{alertname="B", x="1"}"#,
            ]
        );
    }
}
