use super::*;
use crate::rule;

const MIN: i64 = 60_000;

fn rule(extra: &str) -> Rule {
    let yaml = format!(
        "groups:\n  - name: g\n    rules:\n      - alert: HighLoad\n        expr: load > 1\n{extra}"
    );
    rule::parse("t.yml", &yaml)
        .unwrap()
        .remove(0)
        .rules
        .remove(0)
}

fn el(host: &str, value: f64) -> Element {
    let labels = [("__name__", "load"), ("host", host)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Element { labels, value }
}

fn states(s: &RuleState) -> Vec<(String, AlertState)> {
    let mut v: Vec<_> = s
        .alerts()
        .map(|a| (a.labels["host"].clone(), a.state))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn moves(t: &[Transition]) -> Vec<(AlertState, AlertState)> {
    t.iter().map(|t| (t.from, t.to)).collect()
}

#[test]
fn without_for_fires_at_the_first_evaluation() {
    let r = rule("");
    let mut s = RuleState::new();
    let t = s
        .apply(&r, 0, vec![el("a", 2.0)], &External::default())
        .unwrap();
    use AlertState::*;
    assert_eq!(moves(&t), [(Inactive, Pending), (Pending, Firing)]);
    let a = s.alerts().next().unwrap();
    assert_eq!((a.active_at, a.fired_at), (0, Some(0)));
    assert!(!a.labels.contains_key("__name__"));
    assert_eq!(a.labels["alertname"], "HighLoad");
}

#[test]
fn for_holds_pending_and_a_gap_restarts_the_clock() {
    use AlertState::*;
    let r = rule("        for: 5m\n");
    let ext = External::default();
    let mut s = RuleState::new();
    s.apply(&r, 0, vec![el("a", 2.0)], &ext).unwrap();
    let t = s.apply(&r, 4 * MIN, vec![el("a", 2.0)], &ext).unwrap();
    assert!(t.is_empty());
    assert_eq!(states(&s), [("a".into(), Pending)]);
    // The condition stops for one evaluation: the pending alert is dropped.
    let t = s.apply(&r, 5 * MIN, vec![], &ext).unwrap();
    assert_eq!(moves(&t), [(Pending, Inactive)]);
    assert_eq!(s.alerts().count(), 0);
    s.apply(&r, 6 * MIN, vec![el("a", 2.0)], &ext).unwrap();
    assert!(
        s.apply(&r, 10 * MIN, vec![el("a", 3.0)], &ext)
            .unwrap()
            .is_empty()
    );
    let t = s.apply(&r, 11 * MIN, vec![el("a", 4.0)], &ext).unwrap();
    assert_eq!(moves(&t), [(Pending, Firing)]);
    let a = s.alerts().next().unwrap();
    assert_eq!(
        (a.active_at, a.fired_at, a.value),
        (6 * MIN, Some(11 * MIN), 4.0)
    );
}

#[test]
fn keep_firing_for_delays_resolution() {
    use AlertState::*;
    let r = rule("        keep_firing_for: 2m\n");
    let ext = External::default();
    let mut s = RuleState::new();
    s.apply(&r, 0, vec![el("a", 2.0)], &ext).unwrap();
    for t in [MIN, 2 * MIN] {
        assert!(s.apply(&r, t, vec![], &ext).unwrap().is_empty(), "at {t}");
        assert_eq!(states(&s), [("a".into(), Firing)]);
    }
    // Back for one evaluation: the keep_firing_for clock restarts.
    s.apply(&r, 3 * MIN, vec![el("a", 2.0)], &ext).unwrap();
    assert!(s.apply(&r, 4 * MIN, vec![], &ext).unwrap().is_empty());
    assert!(s.apply(&r, 5 * MIN, vec![], &ext).unwrap().is_empty());
    let t = s.apply(&r, 6 * MIN, vec![], &ext).unwrap();
    assert_eq!(moves(&t), [(Firing, Resolved)]);
    assert_eq!(s.alerts().next().unwrap().resolved_at, Some(6 * MIN));
}

#[test]
fn resolved_alerts_are_kept_fifteen_minutes_and_refire_as_new() {
    use AlertState::*;
    let r = rule("");
    let ext = External::default();
    let mut s = RuleState::new();
    s.apply(&r, 0, vec![el("a", 2.0), el("b", 2.0)], &ext)
        .unwrap();
    s.apply(&r, MIN, vec![el("b", 2.0)], &ext).unwrap();
    assert_eq!(states(&s), [("a".into(), Resolved), ("b".into(), Firing)]);
    // `a` comes back: a new alert, with a new active time.
    let t = s
        .apply(&r, 2 * MIN, vec![el("a", 5.0), el("b", 2.0)], &ext)
        .unwrap();
    assert_eq!(moves(&t), [(Resolved, Pending), (Pending, Firing)]);
    assert_eq!(
        s.alerts()
            .find(|a| a.labels["host"] == "a")
            .unwrap()
            .active_at,
        2 * MIN
    );
    s.apply(&r, 3 * MIN, vec![], &ext).unwrap();
    assert_eq!(states(&s), [("a".into(), Resolved), ("b".into(), Resolved)]);
    s.apply(&r, 18 * MIN, vec![], &ext).unwrap();
    assert_eq!(s.alerts().count(), 2, "kept while within 15 minutes");
    s.apply(&r, 18 * MIN + 1, vec![], &ext).unwrap();
    assert_eq!(s.alerts().count(), 0);
}

#[test]
fn sending_follows_prometheus_needs_sending() {
    let r = rule("        for: 1m\n");
    let ext = External::default();
    let mut s = RuleState::new();
    let resend = MIN;
    s.apply(&r, 0, vec![el("a", 2.0)], &ext).unwrap();
    assert!(
        s.to_send(0, resend, 15_000).is_empty(),
        "pending is never sent"
    );
    s.apply(&r, MIN, vec![el("a", 2.0)], &ext).unwrap();
    let sent = s.to_send(MIN, resend, 15_000);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].valid_until, Some(MIN + 4 * MIN));
    assert!(s.to_send(MIN + 30_000, resend, 15_000).is_empty());
    assert!(
        s.to_send(2 * MIN, resend, 15_000).is_empty(),
        "not before the delay has passed"
    );
    assert_eq!(s.to_send(2 * MIN + 1, resend, 15_000).len(), 1);
    // Resolved: sent at once, whatever the delay.
    s.apply(&r, 2 * MIN + 2, vec![], &ext).unwrap();
    let sent = s.to_send(2 * MIN + 2, resend, 15_000);
    assert_eq!(sent[0].resolved_at, Some(2 * MIN + 2));
    assert!(s.to_send(2 * MIN + 3, resend, 15_000).is_empty());
}

#[test]
fn labels_and_annotations_are_expanded() {
    let r = rule(
        "        labels: {severity: page, host: overridden, team: \"{{ $labels.host }}-ops\"}\n        annotations: {summary: \"{{ host }} at {{ $value }}\"}\n",
    );
    let mut s = RuleState::new();
    s.apply(&r, 0, vec![el("a", 2.5)], &External::default())
        .unwrap();
    let a = s.alerts().next().unwrap();
    assert_eq!(a.labels["severity"], "page");
    assert_eq!(a.labels["host"], "overridden");
    assert_eq!(a.labels["team"], "a-ops");
    assert_eq!(a.annotations["summary"], "a at 2.5");
}

#[test]
fn duplicate_alert_labels_fail_the_evaluation_and_keep_the_state() {
    let r = rule("        labels: {host: same}\n");
    let mut s = RuleState::new();
    s.apply(&r, 0, vec![el("a", 2.0)], &External::default())
        .unwrap();
    let before = s.clone();
    let err = s
        .apply(
            &r,
            MIN,
            vec![el("a", 2.0), el("b", 2.0)],
            &External::default(),
        )
        .unwrap_err();
    assert!(err.contains("same labelset"), "{err}");
    assert_eq!(s, before);
}

#[test]
fn state_round_trips_through_json() {
    let r = rule("        for: 5m\n");
    let mut s = RuleState::new();
    s.apply(
        &r,
        0,
        vec![el("a", 2.0), el("b", 1.5)],
        &External::default(),
    )
    .unwrap();
    let json = serde_json::to_string(&s).unwrap();
    let back: RuleState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
}
