//! The evaluator without I/O: rule groups evaluated on event time as the
//! watermark advances.
//!
//! Samples go in with [`Engine::push`]; [`Engine::advance`] then evaluates
//! every group at each multiple of its interval up to the watermark, in
//! time order, and returns the state transitions and the alerts notifiers
//! must hear about. An evaluation at `t` reads only points at or before
//! `t`, so its result does not depend on when later samples arrived. The
//! state that must survive a restart (alert states, evaluation clocks) is
//! [`Checkpoint`]; the series buffers are rebuilt by re-reading the stream.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use strata_schemas::Sample;

use crate::promql;
use crate::rule::{Group, Rule};
use crate::series::SeriesStore;
use crate::state::{self, RuleState, Transition};
use crate::template::External;
use crate::{AlertState, LabelSet};

/// Settings of the evaluator.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Interval of groups that set none.
    pub default_interval: Duration,
    /// How often firing alerts are re-sent to notifiers (Prometheus's
    /// `--rules.alert.resend-delay`, 1m).
    pub resend_delay: Duration,
    /// `$externalLabels` / `$externalURL` of templates.
    pub external: External,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            default_interval: Duration::from_millis(500),
            resend_delay: Duration::from_secs(60),
            external: External::default(),
        }
    }
}

/// A transition, with the rule and group it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleTransition {
    /// Group name.
    pub group: String,
    /// Rule (alert) name.
    pub rule: String,
    /// The change.
    pub transition: Transition,
}

/// What one call to [`Engine::advance`] produced.
#[derive(Debug, Default)]
pub struct Round {
    /// Evaluations run.
    pub evaluations: usize,
    /// State changes, in evaluation order.
    pub transitions: Vec<RuleTransition>,
    /// Alerts to hand to notifiers (firing and resolved ones that are due).
    pub to_send: Vec<state::Alert>,
}

#[cfg(test)]
mod tests;

#[derive(Debug)]
struct RuleRuntime {
    rule: Rule,
    state: RuleState,
    health: Health,
}

/// How a rule's last evaluation went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Event time of the last evaluation (Unix ms).
    pub last_eval_ms: Option<i64>,
    /// Its error, if it failed.
    pub last_error: Option<String>,
    /// How long it took, in seconds.
    pub eval_seconds: f64,
}

#[derive(Debug)]
struct GroupRuntime {
    name: String,
    file: String,
    interval_ms: i64,
    next_eval_ms: Option<i64>,
    rules: Vec<RuleRuntime>,
}

/// The state that must survive a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Per group: the next evaluation time, and per rule its state and
    /// health, keyed by [`rule_key`].
    pub groups: BTreeMap<String, GroupCheckpoint>,
}

/// One group's part of a [`Checkpoint`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupCheckpoint {
    /// The next evaluation time (Unix ms).
    pub next_eval_ms: Option<i64>,
    /// Rule states by [`rule_key`].
    pub rules: BTreeMap<String, (RuleState, Health)>,
}

/// What identifies a rule across reloads and restarts: its name and
/// expression. A rule whose expression changed starts afresh.
pub fn rule_key(rule: &Rule) -> String {
    format!("{}\u{0}{}", rule.alert, rule.expr_text)
}

/// The evaluator.
#[derive(Debug)]
pub struct Engine {
    groups: Vec<GroupRuntime>,
    series: SeriesStore,
    opts: EngineOptions,
}

impl Engine {
    /// An evaluator of `groups` (from `file`, for the rules API).
    pub fn new(groups: Vec<(String, Group)>, opts: EngineOptions) -> Self {
        let mut engine = Self {
            groups: Vec::new(),
            series: SeriesStore::default(),
            opts,
        };
        // Nothing to resolve: there were no rules before.
        let _ = engine.reload(groups);
        engine
    }

    /// Replaces the rules. Rules that are the same (same group, name and
    /// expression) keep their alerts and `for` clocks. The firing alerts of
    /// rules that are gone are resolved at their rule's last evaluation and
    /// returned for the notifiers, with their transitions, so that no
    /// receiver is left with an alert that can never resolve.
    pub fn reload(&mut self, groups: Vec<(String, Group)>) -> Round {
        let mut old = self.checkpoint();
        self.groups = groups
            .into_iter()
            .map(|(file, g)| GroupRuntime {
                interval_ms: millis(g.interval.unwrap_or(self.opts.default_interval)).max(1),
                next_eval_ms: None,
                rules: g
                    .rules
                    .into_iter()
                    .map(|rule| RuleRuntime {
                        rule,
                        state: RuleState::new(),
                        health: Health::default(),
                    })
                    .collect(),
                name: g.name,
                file,
            })
            .collect();
        self.restore_from(&mut old);
        let exprs: Vec<_> = self
            .groups
            .iter()
            .flat_map(|g| g.rules.iter().map(|r| &r.rule.expr))
            .collect();
        self.series
            .set_selectors(exprs.into_iter().flat_map(promql::selectors));
        let mut round = Round::default();
        for (group, saved) in old.groups {
            for (key, (state, health)) in saved.rules {
                let rule = key.split('\u{0}').next().unwrap_or_default().to_string();
                let at_ms = health.last_eval_ms.unwrap_or_default();
                for mut a in state
                    .alerts()
                    .filter(|a| a.state == AlertState::Firing)
                    .cloned()
                {
                    round.transitions.push(RuleTransition {
                        group: group.clone(),
                        rule: rule.clone(),
                        transition: Transition {
                            labels: a.labels.clone(),
                            from: AlertState::Firing,
                            to: AlertState::Resolved,
                            value: a.value,
                            at_ms,
                        },
                    });
                    a.state = AlertState::Resolved;
                    a.resolved_at = Some(at_ms);
                    round.to_send.push(a);
                }
            }
        }
        round
    }

    /// Adds a sample of the stream.
    pub fn push(&mut self, sample: &Sample) {
        self.series.push(sample);
    }

    /// Evaluates every group at each of its times up to `watermark_ms`.
    pub fn advance(&mut self, watermark_ms: i64) -> Round {
        let mut round = Round::default();
        loop {
            // The group due first; a group never evaluated starts at the
            // last multiple of its interval at or before the watermark.
            let mut due: Option<(usize, i64)> = None;
            for (i, g) in self.groups.iter_mut().enumerate() {
                if g.rules.is_empty() {
                    continue;
                }
                let t = *g
                    .next_eval_ms
                    .get_or_insert(watermark_ms.div_euclid(g.interval_ms) * g.interval_ms);
                if t <= watermark_ms && due.is_none_or(|(_, d)| t < d) {
                    due = Some((i, t));
                }
            }
            let Some((gi, t)) = due else { break };
            self.evaluate(gi, t, &mut round);
            let g = &mut self.groups[gi];
            g.next_eval_ms = Some(t + g.interval_ms);
        }
        if round.evaluations > 0
            && let Some(next) = self.groups.iter().filter_map(|g| g.next_eval_ms).min()
        {
            self.series.trim(next);
        }
        round
    }

    fn evaluate(&mut self, gi: usize, t: i64, round: &mut Round) {
        let resend_ms = millis(self.opts.resend_delay);
        let g = &mut self.groups[gi];
        for r in &mut g.rules {
            let started = Instant::now();
            let result = promql::eval_vector(&r.rule.expr, t, &self.series)
                .map_err(|e| e.to_string())
                .and_then(|v| r.state.apply(&r.rule, t, v, &self.opts.external));
            r.health = Health {
                last_eval_ms: Some(t),
                last_error: result.as_ref().err().cloned(),
                eval_seconds: started.elapsed().as_secs_f64(),
            };
            match result {
                Ok(transitions) => {
                    round
                        .transitions
                        .extend(transitions.into_iter().map(|transition| RuleTransition {
                            group: g.name.clone(),
                            rule: r.rule.alert.clone(),
                            transition,
                        }));
                }
                Err(e) => {
                    tracing::warn!(group = %g.name, rule = %r.rule.alert, error = %e, "rule evaluation failed");
                }
            }
            round
                .to_send
                .extend(r.state.to_send(t, resend_ms, g.interval_ms));
            round.evaluations += 1;
        }
    }

    /// The state to save.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            groups: self
                .groups
                .iter()
                .map(|g| {
                    let rules = g
                        .rules
                        .iter()
                        .map(|r| (rule_key(&r.rule), (r.state.clone(), r.health.clone())))
                        .collect();
                    (
                        g.name.clone(),
                        GroupCheckpoint {
                            next_eval_ms: g.next_eval_ms,
                            rules,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Takes over the saved state of the rules and groups that still
    /// exist.
    pub fn restore(&mut self, mut checkpoint: Checkpoint) {
        self.restore_from(&mut checkpoint);
    }

    fn restore_from(&mut self, cp: &mut Checkpoint) {
        for g in &mut self.groups {
            let Some(saved) = cp.groups.get_mut(&g.name) else {
                continue;
            };
            g.next_eval_ms = saved.next_eval_ms;
            for r in &mut g.rules {
                if let Some((state, health)) = saved.rules.remove(&rule_key(&r.rule)) {
                    r.state = state;
                    r.health = health;
                }
            }
        }
    }

    /// The earliest evaluation time not yet run (`None` before the first).
    pub fn next_eval_ms(&self) -> Option<i64> {
        self.groups.iter().filter_map(|g| g.next_eval_ms).min()
    }

    /// How far before an evaluation the rules read: the longest range, at
    /// least the 5-minute lookback of instant selectors.
    pub fn reach_ms(&self) -> i64 {
        self.groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .flat_map(|r| promql::selectors(&r.rule.expr))
            .map(|(_, reach)| reach.ms().max(promql::LOOKBACK_DELTA_MS))
            .max()
            .unwrap_or(promql::LOOKBACK_DELTA_MS)
    }

    /// Series and points kept, and samples ignored.
    pub fn series_stats(&self) -> (usize, usize, u64) {
        (
            self.series.live(),
            self.series.points(),
            self.series.ignored,
        )
    }

    /// `GET /api/v1/rules` and `/api/v1/alerts`, in Prometheus's shape.
    pub fn status(&self) -> Status {
        let mut alerts = Vec::new();
        let groups = self
            .groups
            .iter()
            .map(|g| StatusGroup {
                name: g.name.clone(),
                file: g.file.clone(),
                interval: g.interval_ms as f64 / 1000.0,
                rules: g
                    .rules
                    .iter()
                    .map(|r| {
                        let mut active: Vec<StatusAlert> = r
                            .state
                            .alerts()
                            .filter(|a| matches!(a.state, AlertState::Pending | AlertState::Firing))
                            .map(StatusAlert::of)
                            .collect();
                        active.sort_by(|a, b| a.labels.cmp(&b.labels));
                        alerts.extend(active.iter().cloned());
                        let state = if active.iter().any(|a| a.state == AlertState::Firing) {
                            "firing"
                        } else if active.is_empty() {
                            "inactive"
                        } else {
                            "pending"
                        };
                        StatusRule {
                            name: r.rule.alert.clone(),
                            query: r.rule.expr_text.clone(),
                            duration: r.rule.for_.as_secs_f64(),
                            keep_firing_for: r.rule.keep_firing_for.as_secs_f64(),
                            labels: r.rule.labels.clone().into_iter().collect(),
                            annotations: r.rule.annotations.clone(),
                            alerts: active,
                            health: match (&r.health.last_eval_ms, &r.health.last_error) {
                                (None, _) => "unknown",
                                (Some(_), None) => "ok",
                                (Some(_), Some(_)) => "err",
                            }
                            .into(),
                            last_error: r.health.last_error.clone().unwrap_or_default(),
                            last_evaluation: r.health.last_eval_ms.map(rfc3339),
                            evaluation_time: r.health.eval_seconds,
                            state: state.into(),
                            kind: "alerting".into(),
                        }
                    })
                    .collect(),
            })
            .collect();
        Status { groups, alerts }
    }
}

/// The evaluator's rules and active alerts, as Prometheus's API shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `data.groups` of `/api/v1/rules`.
    pub groups: Vec<StatusGroup>,
    /// `data.alerts` of `/api/v1/alerts`.
    pub alerts: Vec<StatusAlert>,
}

/// A rule group in `/api/v1/rules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusGroup {
    /// Group name.
    pub name: String,
    /// The file it was loaded from.
    pub file: String,
    /// Evaluation interval in seconds.
    pub interval: f64,
    /// Its rules.
    pub rules: Vec<StatusRule>,
}

/// A rule in `/api/v1/rules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRule {
    /// Alert name.
    pub name: String,
    /// The expression.
    pub query: String,
    /// `for`, in seconds.
    pub duration: f64,
    /// `keep_firing_for`, in seconds.
    pub keep_firing_for: f64,
    /// Rule labels.
    pub labels: LabelSet,
    /// Annotation templates.
    pub annotations: BTreeMap<String, String>,
    /// Pending and firing alerts.
    pub alerts: Vec<StatusAlert>,
    /// `ok`, `err` or `unknown` (not evaluated yet).
    pub health: String,
    /// The last evaluation's error.
    pub last_error: String,
    /// Event time of the last evaluation.
    pub last_evaluation: Option<String>,
    /// Seconds the last evaluation took.
    pub evaluation_time: f64,
    /// `inactive`, `pending` or `firing`.
    pub state: String,
    /// Always `alerting`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// An active alert in `/api/v1/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusAlert {
    /// Alert labels.
    pub labels: LabelSet,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: AlertState,
    /// When the condition started to hold.
    pub active_at: String,
    /// The expression's last value, as Prometheus prints it.
    pub value: String,
}

impl StatusAlert {
    fn of(a: &state::Alert) -> Self {
        Self {
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            state: a.state,
            active_at: rfc3339(a.active_at),
            value: crate::template::go_float(a.value),
        }
    }
}

/// Unix milliseconds as RFC 3339.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
