//! Strata's streaming alert evaluator (in progress).
//!
//! Built so far: rule files and expression checking ([`rule`]). The rest is
//! the plan. `strata alerts` will consume the live `metrics` topic in its
//! own consumer group (`strata-alerts`), evaluate Prometheus-format rules on
//! event time as the watermark advances, keep per-series state bounded by
//! the longest range a rule needs, move alerts through
//! inactive → pending → firing → resolved with Prometheus's semantics
//! (`rules/alerting.go`), and deliver notifications to webhooks and
//! Alertmanager.
//!
//! # Layout
//! - [`rule::file`]: rule files (Prometheus `groups:` and the seed's list).
//! - [`rule::expr`]: the supported PromQL subset, parsed with `promql-parser`.
//!
//! Planned:
//! - `eval/`: per-series windows and the state machine.
//! - `notify/webhook.rs`, `notify/alertmanager.rs`: delivery with retries.
//!
//! Like `pipeline` and `query`, this crate depends on `strata-schemas` and on
//! no other crate of ours.
#![warn(missing_docs)]

pub mod rule;

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
