use super::*;
use crate::rule;

const S: i64 = 1000;

fn groups(yaml: &str) -> Vec<(String, Group)> {
    rule::parse("t.yml", yaml)
        .unwrap()
        .into_iter()
        .map(|g| ("t.yml".to_string(), g))
        .collect()
}

const RULES: &str = "groups:\n  - name: g\n    interval: 10s\n    rules:\n      - alert: High\n        expr: load > 1\n        for: 20s\n";

fn sample(host: &str, t_ms: i64, v: f64) -> Sample {
    Sample {
        metric_name: "load".into(),
        labels: strata_schemas::Labels::from_pairs([("host", host)]),
        ts_ns: t_ms * 1_000_000,
        value: v,
    }
}

fn moves(r: &Round) -> Vec<(String, AlertState, i64)> {
    r.transitions
        .iter()
        .map(|t| {
            (
                t.transition.labels["host"].clone(),
                t.transition.to,
                t.transition.at_ms,
            )
        })
        .collect()
}

#[test]
fn groups_run_at_each_interval_on_event_time_and_read_only_the_past() {
    let mut e = Engine::new(groups(RULES), EngineOptions::default());
    e.push(&sample("a", 0, 2.0));
    // A point after the evaluation time must not count at 0.
    e.push(&sample("b", 5 * S, 2.0));
    let r = e.advance(0);
    assert_eq!(moves(&r), [("a".into(), AlertState::Pending, 0)]);
    assert_eq!(e.advance(9 * S).evaluations, 0, "the next time is 10 s");
    for t in [10, 20] {
        e.push(&sample("a", t * S, 2.0));
        e.push(&sample("b", t * S, 2.0));
    }
    // The watermark jumps: 10 s and 20 s are both evaluated, in order.
    let r = e.advance(25 * S);
    assert_eq!(r.evaluations, 2);
    assert_eq!(
        moves(&r),
        [
            ("b".into(), AlertState::Pending, 10 * S),
            ("a".into(), AlertState::Firing, 20 * S)
        ]
    );
    assert_eq!(r.to_send.len(), 1, "only the firing alert is sent");
}

#[test]
fn a_restored_engine_neither_refires_nor_resends_early() {
    let mut e = Engine::new(groups(RULES), EngineOptions::default());
    let mut sent = 0;
    for t in 0..=3 {
        e.push(&sample("a", t * 10 * S, 2.0));
        sent += e.advance(t * 10 * S).to_send.len();
    }
    assert_eq!(sent, 1, "fired at 20 s, sent once");
    let saved = serde_json::to_string(&e.checkpoint()).unwrap();

    let mut back = Engine::new(groups(RULES), EngineOptions::default());
    back.restore(serde_json::from_str(&saved).unwrap());
    assert_eq!(back.next_eval_ms(), Some(40 * S));
    for t in 0..=4 {
        back.push(&sample("a", t * 10 * S, 2.0));
    }
    let r = back.advance(40 * S);
    assert!(r.transitions.is_empty(), "{:?}", moves(&r));
    assert!(
        r.to_send.is_empty(),
        "sent 20 s ago; the resend delay is 1 min"
    );
}

#[test]
fn reload_keeps_unchanged_rules_and_resolves_the_alerts_of_removed_ones() {
    let two = format!("{RULES}      - alert: Low\n        expr: load < 5\n");
    let mut e = Engine::new(groups(&two), EngineOptions::default());
    for t in 0..=2 {
        e.push(&sample("a", t * 10 * S, 2.0));
        e.advance(t * 10 * S);
    }
    // `High` is firing (for 20s), `Low` too (no for).
    let gone = e.reload(groups(RULES));
    assert_eq!(moves(&gone), [("a".into(), AlertState::Resolved, 20 * S)]);
    assert_eq!(gone.to_send.len(), 1, "only Low's alert");
    assert_eq!(gone.transitions[0].rule, "Low");
    assert_eq!(gone.to_send[0].resolved_at, Some(20 * S));
    let status = e.status();
    assert_eq!(status.alerts.len(), 1);
    assert_eq!(status.alerts[0].labels["alertname"], "High");
    assert_eq!(status.alerts[0].state, AlertState::Firing);
}
