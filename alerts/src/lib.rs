//! Strata's streaming alert evaluator.
//!
//! `strata alerts` consumes the live `metrics` topic in its own consumer
//! group (`strata-alerts`), evaluates Prometheus-format rules on event time
//! as the watermark advances, keeps per-series state bounded by the longest
//! range a rule needs, moves alerts through inactive → pending → firing →
//! resolved with Prometheus's semantics (`rules/alerting.go`), and delivers
//! notifications with Alertmanager's routing and grouping.
//!
//! # Layout
//! - [`rule`]: rule files (Prometheus `groups:` and the seed's list) and the
//!   supported PromQL subset, parsed with `promql-parser`.
//! - [`promql`]: evaluation of those expressions at an instant.
//! - [`series`]: the per-series points the rules can still read.
//! - [`engine`]: rule groups evaluated on event time, without I/O.
//! - [`state`]: the per-rule alert state machine.
//! - [`template`]: annotation templates.
//! - [`promtool`]: rule unit tests in promtool's test-file format.
//! - [`notify`]: Alertmanager-format routing, grouping and receivers.
//! - [`service`]: `strata alerts`: Kafka in, checkpoints and the `alerts`
//!   table in the store, notifications out.
//!
//! The evaluation core depends only on `strata-schemas`; [`service`] also
//! uses `strata-pipeline` (Kafka settings, decoding) and `strata-storage`.
#![warn(missing_docs)]

use std::collections::BTreeMap;

pub mod engine;
pub mod notify;
pub mod promql;
pub mod promtool;
pub mod rule;
pub mod series;
pub mod service;
pub mod state;
pub mod template;

/// A series' or an alert's labels, sorted by name. Series labels carry the
/// metric name as `__name__`, as in Prometheus.
pub type LabelSet = BTreeMap<String, String>;

/// A label set from `(name, value)` pairs, for tests.
#[cfg(test)]
pub(crate) fn label_set(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// The states of an alert, as in the seed's state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition does not hold.
    Inactive,
    /// The condition holds, for less than the rule's `for`.
    Pending,
    /// The condition has held for the rule's `for`.
    Firing,
    /// The condition stopped holding after the alert fired.
    Resolved,
}
