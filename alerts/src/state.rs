//! The alert state machine of one rule, with Prometheus's semantics
//! (`rules/alerting.go`, `AlertingRule.Eval` and `sendAlerts`).
//!
//! Time is injected: every call takes the evaluation time in Unix
//! milliseconds (event time in the streaming evaluator), so the machine is
//! deterministic and its whole state can be checkpointed.
//!
//! - An element of the expression's result whose alert is not active
//!   becomes *pending* with `active_at` = the evaluation time.
//! - A pending alert *fires* once `t - active_at >= for` (at once without
//!   `for`).
//! - When its element disappears, a pending alert is dropped; a firing one
//!   keeps firing for `keep_firing_for` after the first evaluation that
//!   missed it, then is *resolved*. Resolved alerts are kept 15 minutes so
//!   that receivers are told, then forgotten.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::promql::Element;
use crate::rule::Rule;
use crate::template::{self, External};
use crate::{AlertState, LabelSet, METRIC_NAME};

/// How long resolved alerts are kept (and re-sent), as in Prometheus.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The label carrying the rule name.
pub const ALERT_NAME: &str = "alertname";

/// One alert of a rule: a label set for which the condition holds or held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Series labels without `__name__`, then the rule's labels, then
    /// `alertname`.
    pub labels: LabelSet,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// Pending, firing or resolved.
    pub state: AlertState,
    /// The expression's value at the last evaluation that returned it.
    pub value: f64,
    /// When the condition started to hold.
    pub active_at: i64,
    /// When the alert fired.
    pub fired_at: Option<i64>,
    /// When a firing alert was resolved.
    pub resolved_at: Option<i64>,
    /// When the alert was last handed to notifiers.
    pub last_sent_at: Option<i64>,
    /// The first evaluation after the condition stopped holding while
    /// `keep_firing_for` keeps the alert firing.
    pub keep_firing_since: Option<i64>,
    /// Until when a notifier may consider a firing alert current without
    /// hearing about it again.
    pub valid_until: Option<i64>,
}

/// A change of an alert's state, appended to the `alerts` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The alert's labels (with `alertname`).
    pub labels: LabelSet,
    /// The state before.
    pub from: AlertState,
    /// The state after.
    pub to: AlertState,
    /// The expression's value (for a resolution: the last value seen).
    pub value: f64,
    /// Evaluation time, Unix milliseconds.
    pub at_ms: i64,
}

/// The active alerts of one rule, keyed by their label set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    #[serde(with = "active_as_list")]
    active: HashMap<LabelSet, Alert>,
}

impl RuleState {
    /// A rule with no active alerts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one evaluation of `rule` at `ts_ms` whose expression gave
    /// `result`, and returns the state changes it caused, ordered by
    /// label set. An error (two elements with the same alert labels) leaves
    /// the state as it was, as in Prometheus.
    pub fn apply(
        &mut self,
        rule: &Rule,
        ts_ms: i64,
        result: Vec<Element>,
        external: &External,
    ) -> Result<Vec<Transition>, String> {
        let mut current: HashMap<LabelSet, Alert> = HashMap::with_capacity(result.len());
        for element in result {
            let alert = new_alert(rule, ts_ms, element, external);
            if current.contains_key(&alert.labels) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            current.insert(alert.labels.clone(), alert);
        }
        let mut transitions = Vec::new();
        let mut seen = std::collections::HashSet::with_capacity(current.len());
        for (labels, fresh) in current {
            seen.insert(labels.clone());
            match self.active.get_mut(&labels) {
                Some(a) if a.state != AlertState::Resolved => {
                    a.value = fresh.value;
                    a.annotations = fresh.annotations;
                    a.keep_firing_since = None;
                }
                _ => {
                    let from = self
                        .active
                        .get(&labels)
                        .map_or(AlertState::Inactive, |a| a.state);
                    transitions.push(Transition {
                        labels: labels.clone(),
                        from,
                        to: AlertState::Pending,
                        value: fresh.value,
                        at_ms: ts_ms,
                    });
                    self.active.insert(labels, fresh);
                }
            }
        }
        let for_ms = millis(rule.for_);
        let keep_ms = millis(rule.keep_firing_for);
        self.active.retain(|labels, a| {
            if !seen.contains(labels) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts_ms);
                    keep_firing = ts_ms - since < keep_ms;
                }
                let expired = a
                    .resolved_at
                    .is_some_and(|r| ts_ms - r > RESOLVED_RETENTION_MS);
                if a.state == AlertState::Pending || expired {
                    if a.state == AlertState::Pending {
                        transitions.push(Transition {
                            labels: labels.clone(),
                            from: AlertState::Pending,
                            to: AlertState::Inactive,
                            value: a.value,
                            at_ms: ts_ms,
                        });
                    }
                    return false;
                }
                if a.state == AlertState::Firing && !keep_firing {
                    a.state = AlertState::Resolved;
                    a.resolved_at = Some(ts_ms);
                    transitions.push(Transition {
                        labels: labels.clone(),
                        from: AlertState::Firing,
                        to: AlertState::Resolved,
                        value: a.value,
                        at_ms: ts_ms,
                    });
                }
                if !keep_firing {
                    return true;
                }
            }
            if a.state == AlertState::Pending && ts_ms - a.active_at >= for_ms {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts_ms);
                transitions.push(Transition {
                    labels: labels.clone(),
                    from: AlertState::Pending,
                    to: AlertState::Firing,
                    value: a.value,
                    at_ms: ts_ms,
                });
            }
            true
        });
        transitions.sort_by(|a, b| a.labels.cmp(&b.labels).then(a.to.cmp_order(b.to)));
        Ok(transitions)
    }

    /// The alerts currently pending or firing, and resolved ones kept for
    /// re-sending.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// Number of alerts in each state: (pending, firing).
    pub fn counts(&self) -> (usize, usize) {
        self.active
            .values()
            .fold((0, 0), |(p, f), a| match a.state {
                AlertState::Pending => (p + 1, f),
                AlertState::Firing => (p, f + 1),
                _ => (p, f),
            })
    }

    /// The alerts notifiers must hear about at `ts_ms`: firing and resolved
    /// ones not sent within `resend_delay_ms`, and ones resolved since they
    /// were last sent (Prometheus's `needsSending`). Marks them sent, valid
    /// for four times the larger of `interval_ms` and `resend_delay_ms`.
    pub fn to_send(&mut self, ts_ms: i64, resend_delay_ms: i64, interval_ms: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.state == AlertState::Pending {
                continue;
            }
            let resolved_since_sent = match (a.resolved_at, a.last_sent_at) {
                (Some(r), Some(s)) => r > s,
                (Some(_), None) => true,
                _ => false,
            };
            let due = a.last_sent_at.is_none_or(|s| s + resend_delay_ms < ts_ms);
            if resolved_since_sent || due {
                a.last_sent_at = Some(ts_ms);
                a.valid_until = Some(ts_ms + 4 * resend_delay_ms.max(interval_ms));
                out.push(a.clone());
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }
}

impl AlertState {
    /// Orders the transitions one evaluation causes for one alert.
    fn cmp_order(self, other: AlertState) -> std::cmp::Ordering {
        let rank = |s: AlertState| match s {
            AlertState::Inactive => 0,
            AlertState::Pending => 1,
            AlertState::Firing => 2,
            AlertState::Resolved => 3,
        };
        rank(self).cmp(&rank(other))
    }
}

/// The pending alert an element of the result stands for.
fn new_alert(rule: &Rule, ts_ms: i64, element: Element, external: &External) -> Alert {
    let mut series = element.labels;
    series.remove(METRIC_NAME);
    let expand = |text: &str| template::expand(text, &series, element.value, external);
    let mut labels = series.clone();
    for (k, v) in &rule.labels {
        labels.insert(k.clone(), expand(v));
    }
    labels.insert(ALERT_NAME.into(), rule.alert.clone());
    let annotations = rule
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), expand(v)))
        .collect();
    Alert {
        labels,
        annotations,
        state: AlertState::Pending,
        value: element.value,
        active_at: ts_ms,
        fired_at: None,
        resolved_at: None,
        last_sent_at: None,
        keep_firing_since: None,
        valid_until: None,
    }
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// JSON maps need string keys: the active alerts are stored as a list.
mod active_as_list {
    use std::collections::HashMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Alert;
    use crate::LabelSet;

    pub(super) fn serialize<S: Serializer>(
        m: &HashMap<LabelSet, Alert>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut v: Vec<&Alert> = m.values().collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<LabelSet, Alert>, D::Error> {
        let v = Vec::<Alert>::deserialize(d)?;
        Ok(v.into_iter().map(|a| (a.labels.clone(), a)).collect())
    }
}

#[cfg(test)]
mod tests;
