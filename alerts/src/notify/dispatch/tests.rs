use super::*;

const S: i64 = 1_000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;
/// A start time (2024-05-01T12:00:00Z).
const T0: i64 = 1_714_564_800_000;

const BASIC: &str = r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:1/hook'}]
"#;

fn config(yaml: &str) -> Config {
    Config::from_yaml(yaml).unwrap()
}

use crate::label_set as labels;

fn firing(name: &str, instance: &str, starts_at_ms: i64) -> Alert {
    Alert {
        labels: labels(&[("alertname", name), ("instance", instance)]),
        annotations: labels(&[("summary", "something broke")]),
        starts_at_ms,
        ends_at_ms: None,
        generator_url: "http://strata/graph".into(),
    }
}

fn resolved(alert: &Alert, at: i64) -> Alert {
    Alert {
        ends_at_ms: Some(at),
        ..alert.clone()
    }
}

fn instances(n: &Notification) -> Vec<(String, AlertStatus)> {
    n.alerts
        .iter()
        .map(|a| (a.labels["instance"].clone(), a.status()))
        .collect()
}

/// Ticks at every deadline up to `until` and returns what was produced,
/// acknowledging each notification at once.
fn run_until(d: &mut Dispatcher, until: i64) -> Vec<(i64, Notification)> {
    let mut out = Vec::new();
    while let Some(t) = d.next_deadline().filter(|t| *t <= until) {
        for n in d.tick(t) {
            assert!(d.delivered(&n.id, t));
            out.push((t, n));
        }
    }
    out
}

#[test]
fn group_wait_then_group_interval() {
    let mut d = Dispatcher::new(config(BASIC));
    let a = firing("HighCPU", "a", T0);
    d.insert(vec![a], T0);
    assert_eq!(d.next_deadline(), Some(T0 + 30 * S));
    assert!(d.tick(T0 + 29 * S).is_empty(), "group_wait not over");
    d.insert(vec![firing("HighCPU", "b", T0 + 10 * S)], T0 + 10 * S);
    assert_eq!(d.group_count(), 1);

    let sent = d.tick(T0 + 30 * S);
    assert_eq!(sent.len(), 1);
    let n = &sent[0];
    assert_eq!(n.group_key, r#"{}:{alertname="HighCPU"}"#);
    assert_eq!(n.group_labels, labels(&[("alertname", "HighCPU")]));
    assert_eq!(n.receiver, "hook");
    assert_eq!(n.flushed_at_ms, T0 + 30 * S);
    assert_eq!(n.group_interval_ms, 5 * M);
    assert_eq!(
        instances(n),
        [
            ("a".into(), AlertStatus::Firing),
            ("b".into(), AlertStatus::Firing)
        ]
    );
    assert_eq!(n.id.len(), 32);
    assert!(d.delivered(&n.id, T0 + 31 * S));
    assert_eq!(d.next_deadline(), Some(T0 + 30 * S + 5 * M));

    // A new alert waits for the group's next flush, not group_wait.
    d.insert(vec![firing("HighCPU", "c", T0 + M)], T0 + M);
    assert!(d.tick(T0 + 30 * S + 5 * M - 1).is_empty());
    let sent = d.tick(T0 + 30 * S + 5 * M);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].alerts.len(), 3);
    assert!(d.delivered(&sent[0].id, T0 + 6 * M));
    // Nothing changed: nothing at the next flush.
    assert!(d.tick(T0 + 30 * S + 10 * M).is_empty());
}

#[test]
fn separate_groups_per_group_by_value() {
    let mut d = Dispatcher::new(config(BASIC));
    d.insert(
        vec![
            firing("A", "x", T0),
            firing("B", "x", T0),
            firing("A", "y", T0),
        ],
        T0,
    );
    assert_eq!(d.group_count(), 2);
    let sent = d.tick(T0 + 30 * S);
    let keys: Vec<&str> = sent.iter().map(|n| n.group_key.as_str()).collect();
    assert_eq!(keys, [r#"{}:{alertname="A"}"#, r#"{}:{alertname="B"}"#]);
    assert_eq!(sent[0].alerts.len(), 2);
}

#[test]
fn repeat_interval_for_unchanged_groups() {
    let mut d = Dispatcher::new(config(BASIC));
    d.insert(vec![firing("HighCPU", "a", T0)], T0);
    let times: Vec<i64> = run_until(&mut d, T0 + 9 * H)
        .iter()
        .map(|(t, _)| *t)
        .collect();
    // First at group_wait; acknowledged then. Flushes every 5m; a repeat
    // needs the last notification to be more than 4h old at a flush.
    let first = T0 + 30 * S;
    assert_eq!(
        times,
        [first, first + 4 * H + 5 * M, first + 8 * H + 10 * M]
    );
}

#[test]
fn alert_resolved_before_group_wait_is_never_notified() {
    let mut d = Dispatcher::new(config(BASIC));
    let a = firing("Flappy", "a", T0);
    d.insert(vec![a.clone()], T0);
    d.insert(vec![resolved(&a, T0 + 10 * S)], T0 + 10 * S);
    assert!(d.tick(T0 + 30 * S).is_empty());
    assert_eq!(d.group_count(), 0, "the emptied group is deleted");
    assert_eq!(d.next_deadline(), None);
    assert!(d.pending().is_empty());
}

#[test]
fn resolution_is_sent_once() {
    let mut d = Dispatcher::new(config(BASIC));
    let a = firing("HighCPU", "a", T0);
    d.insert(vec![a.clone()], T0);
    let sent = run_until(&mut d, T0 + M);
    assert_eq!(sent.len(), 1);

    d.insert(vec![resolved(&a, T0 + 2 * M)], T0 + 2 * M);
    let sent = run_until(&mut d, T0 + 6 * M);
    assert_eq!(sent.len(), 1);
    let (t, n) = &sent[0];
    assert_eq!(*t, T0 + 30 * S + 5 * M);
    assert_eq!(n.status(), AlertStatus::Resolved);
    assert_eq!(n.alerts[0].ends_at_ms, Some(T0 + 2 * M));
    assert_eq!(
        d.group_count(),
        0,
        "resolved alerts leave after the notification"
    );

    // The evaluator re-sends the resolved alert for a while: nothing more.
    for k in 3..10 {
        d.insert(vec![resolved(&a, T0 + 2 * M)], T0 + k * M);
        assert!(run_until(&mut d, T0 + k * M + 31 * S).is_empty());
    }
    assert_eq!(d.group_count(), 0);
}

#[test]
fn partial_resolution_follows_send_resolved() {
    let yaml = |send_resolved: bool| {
        format!(
            "route: {{receiver: r, group_by: [alertname], group_wait: 30s, group_interval: 5m}}\n\
             receivers: [{{name: r, webhook_configs: [{{url: 'http://x/', send_resolved: {send_resolved}}}]}}]\n"
        )
    };
    for send_resolved in [true, false] {
        let mut d = Dispatcher::new(config(&yaml(send_resolved)));
        let (a, b) = (firing("X", "a", T0), firing("X", "b", T0));
        d.insert(vec![a.clone(), b.clone()], T0);
        assert_eq!(run_until(&mut d, T0 + M).len(), 1);
        d.insert(vec![resolved(&a, T0 + 2 * M)], T0 + 2 * M);
        let sent = run_until(&mut d, T0 + 6 * M);
        if send_resolved {
            assert_eq!(sent.len(), 1);
            assert_eq!(
                instances(&sent[0].1),
                [
                    ("a".into(), AlertStatus::Resolved),
                    ("b".into(), AlertStatus::Firing)
                ]
            );
        } else {
            assert!(
                sent.is_empty(),
                "resolved alone does not notify without send_resolved"
            );
        }
        assert_eq!(
            d.alert_count(),
            1,
            "the resolved alert left the group either way"
        );
        // Resolving the last one: a message with send_resolved; without
        // it, only the log forgets the firing alerts.
        d.insert(vec![resolved(&b, T0 + 7 * M)], T0 + 7 * M);
        let sent = run_until(&mut d, T0 + 11 * M);
        assert_eq!(sent.len(), usize::from(send_resolved));
        assert_eq!(d.group_count(), 0);
        // And if b fires again later, that is a first notification.
        d.insert(vec![firing("X", "b", T0 + 20 * M)], T0 + 20 * M);
        assert_eq!(run_until(&mut d, T0 + 21 * M).len(), 1);
    }
}

#[test]
fn unacknowledged_notifications_come_back_with_the_same_id() {
    let mut d = Dispatcher::new(config(BASIC));
    d.insert(vec![firing("HighCPU", "a", T0)], T0);
    let first = d.tick(T0 + 30 * S).remove(0);
    assert_eq!(d.pending(), vec![&first]);
    // Delivery failed: no acknowledgement. The next flush resends.
    let second = d.tick(T0 + 30 * S + 5 * M).remove(0);
    assert_eq!(second.id, first.id, "same content, same idempotency key");
    assert_eq!(second.flushed_at_ms, T0 + 30 * S + 5 * M);
    assert!(d.delivered(&second.id, T0 + 6 * M));
    assert!(!d.delivered(&first.id, T0 + 6 * M), "already acknowledged");
    assert!(d.tick(T0 + 30 * S + 10 * M).is_empty());
    // A later repeat is a different notification.
    let repeat = run_until(&mut d, T0 + 5 * H);
    assert_eq!(repeat.len(), 1);
    assert_ne!(repeat[0].1.id, first.id);
}

#[test]
fn a_newer_flush_supersedes_an_unacknowledged_one() {
    let mut d = Dispatcher::new(config(BASIC));
    d.insert(vec![firing("HighCPU", "a", T0)], T0);
    let first = d.tick(T0 + 30 * S).remove(0);
    d.insert(vec![firing("HighCPU", "b", T0 + M)], T0 + M);
    let second = d.tick(T0 + 30 * S + 5 * M).remove(0);
    assert_ne!(second.id, first.id);
    assert_eq!(second.alerts.len(), 2);
    assert!(!d.delivered(&first.id, T0 + 6 * M), "superseded");
    assert!(d.delivered(&second.id, T0 + 6 * M));
    assert!(d.pending().is_empty());
}

#[test]
fn resolved_alert_changed_after_flush_stays() {
    let mut d = Dispatcher::new(config(BASIC));
    let a = firing("HighCPU", "a", T0);
    d.insert(vec![a.clone()], T0);
    run_until(&mut d, T0 + M);
    d.insert(vec![resolved(&a, T0 + 2 * M)], T0 + 2 * M);
    let n = d.tick(T0 + 30 * S + 5 * M).remove(0);
    assert_eq!(n.status(), AlertStatus::Resolved);
    // It fires again (a new activity) before the acknowledgement.
    d.insert(vec![firing("HighCPU", "a", T0 + 6 * M)], T0 + 6 * M);
    assert!(d.delivered(&n.id, T0 + 6 * M));
    assert_eq!(d.alert_count(), 1, "the new activity is not deleted");
    let sent = d.tick(T0 + 30 * S + 10 * M);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), AlertStatus::Firing);
}

#[test]
fn child_routes_matchers_and_continue() {
    let yaml = r#"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['severity=~"page|critical"']
      receiver: pager
      continue: true
    - matchers: [team="db"]
      receiver: db
      group_by: [alertname, instance]
    - matchers: [team!=""]
      receiver: teams
receivers:
  - {name: default, webhook_configs: [{url: 'http://x/default'}]}
  - {name: pager, webhook_configs: [{url: 'http://x/pager'}]}
  - {name: db, webhook_configs: [{url: 'http://x/db'}]}
  - {name: teams, webhook_configs: [{url: 'http://x/teams'}]}
"#;
    let mut d = Dispatcher::new(config(yaml));
    let with = |extra: &[(&str, &str)]| {
        let mut a = firing("DiskFull", "h1", T0);
        a.labels.extend(labels(extra));
        a
    };
    d.insert(
        vec![
            with(&[("severity", "page"), ("team", "db")]),
            with(&[("severity", "warning"), ("team", "web")]),
            with(&[("severity", "critical")]),
            with(&[]),
        ],
        T0,
    );
    let sent = d.tick(T0 + 10 * S);
    let mut got: Vec<(String, String, usize)> = sent
        .iter()
        .map(|n| (n.receiver.clone(), n.group_key.clone(), n.alerts.len()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "db".into(),
                r#"{}/{team="db"}:{alertname="DiskFull", instance="h1"}"#.into(),
                1
            ),
            ("default".into(), r#"{}:{alertname="DiskFull"}"#.into(), 1),
            (
                "pager".into(),
                r#"{}/{severity=~"page|critical"}:{alertname="DiskFull"}"#.into(),
                2
            ),
            (
                "teams".into(),
                r#"{}/{team!=""}:{alertname="DiskFull"}"#.into(),
                1
            ),
        ]
    );
}

#[test]
fn without_continue_the_first_matching_route_wins() {
    let yaml = r#"
route:
  receiver: default
  group_wait: 0s
  routes:
    - {matchers: [team="db"], receiver: first}
    - {matchers: [team=~"d.*"], receiver: second}
receivers:
  - {name: default, webhook_configs: [{url: 'http://x/'}]}
  - {name: first, webhook_configs: [{url: 'http://x/'}]}
  - {name: second, webhook_configs: [{url: 'http://x/'}]}
"#;
    let mut d = Dispatcher::new(config(yaml));
    let mut a = firing("X", "a", T0);
    a.labels.insert("team".into(), "db".into());
    let mut b = firing("X", "b", T0);
    b.labels.insert("team".into(), "dev".into());
    d.insert(vec![a, b], T0);
    let mut receivers: Vec<String> = d.tick(T0).into_iter().map(|n| n.receiver).collect();
    receivers.sort();
    assert_eq!(receivers, ["first", "second"]);
}

#[test]
fn duplicate_updates_are_merged() {
    let mut d = Dispatcher::new(config(BASIC));
    let a = firing("HighCPU", "a", T0);
    d.insert(vec![a.clone()], T0);
    // Re-sent with a later start and new annotations: one alert, earliest
    // start, latest annotations.
    let mut again = firing("HighCPU", "a", T0 + M);
    again.annotations.insert("summary".into(), "worse".into());
    d.insert(vec![again.clone(), again], T0 + M);
    assert_eq!(d.alert_count(), 1);
    let n = d.tick(T0 + 30 * S).remove(0);
    assert_eq!(n.alerts.len(), 1);
    assert_eq!(n.alerts[0].starts_at_ms, T0);
    assert_eq!(n.alerts[0].annotations["summary"], "worse");
    assert!(d.delivered(&n.id, T0 + 31 * S));

    // Resolved, then a stale firing update of the same activity: stays
    // resolved.
    d.insert(vec![resolved(&a, T0 + 2 * M)], T0 + 2 * M);
    d.insert(vec![firing("HighCPU", "a", T0)], T0 + 2 * M + S);
    let n = d.tick(T0 + 30 * S + 5 * M).remove(0);
    assert_eq!(n.status(), AlertStatus::Resolved);

    // A resolution older than the current activity is ignored too.
    let mut d = Dispatcher::new(config(BASIC));
    d.insert(vec![firing("HighCPU", "a", T0 + 10 * M)], T0 + 10 * M);
    d.insert(
        vec![resolved(&firing("HighCPU", "a", T0), T0 + 5 * M)],
        T0 + 10 * M,
    );
    let n = d.tick(T0 + 10 * M + 30 * S).remove(0);
    assert_eq!(n.status(), AlertStatus::Firing);
}

#[test]
fn old_alerts_flush_at_once() {
    let mut d = Dispatcher::new(config(BASIC));
    d.insert(vec![firing("HighCPU", "a", T0 - H)], T0);
    assert_eq!(d.next_deadline(), Some(T0));
    assert_eq!(d.tick(T0).len(), 1);
}

#[test]
fn single_webhook_sends_each_alert_on_its_own() {
    let mut d = Dispatcher::new(Config::single_webhook("http://127.0.0.1:1/").unwrap());
    d.insert(vec![firing("A", "x", T0), firing("A", "y", T0)], T0);
    assert_eq!(d.next_deadline(), Some(T0), "group_wait 0s");
    let sent = d.tick(T0);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].group_key, r#"{}:{alertname="A", instance="x"}"#,
        "group_by ['...'] groups by every label"
    );
    assert_eq!(sent[0].group_interval_ms, 2 * S);
}

#[test]
fn partial_acknowledgement_resends_only_to_the_failed_integration() {
    let yaml = r#"
route: {receiver: both, group_wait: 0s, group_interval: 1m}
receivers:
  - name: both
    webhook_configs: [{url: 'http://x/'}]
    email_configs: [{to: a@example.com, from: s@example.com, smarthost: 'localhost:25'}]
"#;
    let mut d = Dispatcher::new(config(yaml));
    d.insert(vec![firing("X", "a", T0)], T0);
    let n = d.tick(T0).remove(0);
    let webhook = IntegrationId {
        kind: IntegrationKind::Webhook,
        index: 0,
    };
    let email = IntegrationId {
        kind: IntegrationKind::Email,
        index: 0,
    };
    assert_eq!(n.integrations, [webhook, email]);
    assert!(d.delivered_to(&n.id, &[webhook], T0 + S));
    let again = d.tick(T0 + M).remove(0);
    assert_eq!(again.integrations, [email]);
    assert_ne!(again.id, n.id);
    assert!(d.delivered(&again.id, T0 + M + S));
    assert!(d.tick(T0 + 2 * M).is_empty());
}

#[test]
fn receivers_without_integrations_drop_alerts_quietly() {
    let yaml = "route: {receiver: 'null', group_wait: 0s}\nreceivers: [{name: 'null'}]\n";
    let mut d = Dispatcher::new(config(yaml));
    let a = firing("X", "a", T0);
    d.insert(vec![a.clone()], T0);
    assert!(d.tick(T0).is_empty());
    d.insert(vec![resolved(&a, T0 + M)], T0 + M);
    assert!(d.tick(T0 + 5 * M).is_empty());
    assert_eq!(d.group_count(), 0);
}

#[test]
fn checkpoint_and_restart_neither_renotify_nor_forget() {
    let mut d = Dispatcher::new(config(BASIC));
    let (a, b) = (firing("HighCPU", "a", T0), firing("HighCPU", "b", T0));
    d.insert(vec![a.clone()], T0);
    let n = d.tick(T0 + 30 * S).remove(0);
    assert!(d.delivered(&n.id, T0 + 31 * S));
    d.insert(vec![b], T0 + M);
    let pending = d.tick(T0 + 30 * S + 5 * M).remove(0);

    // Checkpoint with a notification in flight, then "restart".
    let json = serde_json::to_string(&d).unwrap();
    let mut restored: Dispatcher = serde_json::from_str(&json).unwrap();
    assert!(
        restored.tick(T0 + H).is_empty(),
        "inert without a configuration"
    );
    assert_eq!(restored.next_deadline(), None);
    restored.set_config(config(BASIC));
    assert_eq!(restored.state(), d.state(), "nothing lost");
    assert_eq!(restored.next_deadline(), d.next_deadline(), "timers kept");
    assert_eq!(restored.pending(), vec![&pending]);

    // The in-flight notification was delivered after all: acknowledged
    // after the restart, nothing is sent again.
    assert!(restored.delivered(&pending.id, T0 + 6 * M));
    assert!(run_until(&mut restored, T0 + 4 * H).is_empty());

    // A restart before acknowledging resends the same notification at
    // the next flush, under the same key.
    let mut d2 = Dispatcher::restore(config(BASIC), d.state().clone());
    let resent = d2.tick(T0 + 30 * S + 10 * M).remove(0);
    assert_eq!(resent.id, pending.id);
}

#[test]
fn inserts_before_configuration_are_kept() {
    let mut d: Dispatcher =
        serde_json::from_str(&serde_json::to_string(&DispatcherState::default()).unwrap()).unwrap();
    d.insert(vec![firing("X", "a", T0)], T0);
    assert!(d.tick(T0 + H).is_empty());
    d.set_config(config(BASIC));
    assert_eq!(d.next_deadline(), Some(T0 + 30 * S));
    assert_eq!(d.tick(T0 + 30 * S).len(), 1);
}

#[test]
fn reload_reroutes_only_changed_groups() {
    let mut d = Dispatcher::new(config(BASIC));
    d.insert(vec![firing("A", "x", T0), firing("B", "x", T0)], T0);
    run_until(&mut d, T0 + M);
    let deadline = d.next_deadline();
    // Same routing: nothing changes, nothing is re-sent.
    d.set_config(config(BASIC));
    assert_eq!(d.next_deadline(), deadline);
    assert!(run_until(&mut d, T0 + 2 * H).is_empty());
    // Alerts named B now go to a child route: B's group is rebuilt there
    // (a new group key, so a first notification), A's is untouched.
    let moved = BASIC.replace(
        "  repeat_interval: 4h\n",
        "  repeat_interval: 4h\n  routes: [{matchers: [alertname=B], receiver: hook}]\n",
    );
    d.set_config(config(&moved));
    assert_eq!(d.group_count(), 2);
    let sent = run_until(&mut d, T0 + 3 * H);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.group_key, r#"{}/{alertname="B"}:{alertname="B"}"#);
}

#[test]
fn needs_update_is_alertmanagers() {
    let set = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
    let entry = |firing: &[u64], resolved: &[u64], at: i64| NflogEntry {
        firing: set(firing),
        resolved: set(resolved),
        logged_at_ms: at,
        flushed_at_ms: at,
        expires_at_ms: i64::MAX,
    };
    let now = 10 * H;
    let rep = 4 * H;
    // First notification only with firing alerts.
    assert!(needs_update(None, &set(&[1]), &set(&[]), true, rep, now));
    assert!(!needs_update(None, &set(&[]), &set(&[1]), true, rep, now));
    // New firing alert.
    let e = entry(&[1], &[], now - M);
    assert!(needs_update(
        Some(&e),
        &set(&[1, 2]),
        &set(&[]),
        false,
        rep,
        now
    ));
    // Subset, nothing new: only after the repeat interval.
    assert!(!needs_update(
        Some(&e),
        &set(&[1]),
        &set(&[]),
        true,
        rep,
        now
    ));
    let old = entry(&[1], &[], now - rep - 1);
    assert!(needs_update(
        Some(&old),
        &set(&[1]),
        &set(&[]),
        true,
        rep,
        now
    ));
    let exact = entry(&[1], &[], now - rep);
    assert!(!needs_update(
        Some(&exact),
        &set(&[1]),
        &set(&[]),
        true,
        rep,
        now
    ));
    // All resolved: notify if the last notification had firing alerts.
    assert!(needs_update(
        Some(&e),
        &set(&[]),
        &set(&[1]),
        false,
        rep,
        now
    ));
    let cleared = entry(&[], &[1], now - M);
    assert!(!needs_update(
        Some(&cleared),
        &set(&[]),
        &set(&[1, 2]),
        true,
        rep,
        now
    ));
    // New resolved alerts only with send_resolved.
    let two = entry(&[1, 2], &[], now - M);
    assert!(needs_update(
        Some(&two),
        &set(&[2]),
        &set(&[1]),
        true,
        rep,
        now
    ));
    assert!(!needs_update(
        Some(&two),
        &set(&[2]),
        &set(&[1]),
        false,
        rep,
        now
    ));
    // After a resolution, a firing alert is a first notification again.
    assert!(needs_update(
        Some(&cleared),
        &set(&[1]),
        &set(&[]),
        false,
        rep,
        now
    ));
}

#[test]
fn stale_pending_notifications_are_dropped() {
    let mut d = Dispatcher::new(config(BASIC));
    let a = firing("HighCPU", "a", T0);
    d.insert(vec![a.clone()], T0);
    let n = d.tick(T0 + 30 * S).remove(0);
    // Resolved before anyone acknowledged: the group goes away quietly
    // (the integration never heard of it as far as the log knows).
    d.insert(vec![resolved(&a, T0 + M)], T0 + M);
    assert!(d.tick(T0 + 30 * S + 5 * M).is_empty());
    assert_eq!(d.group_count(), 0);
    // A late acknowledgement is still recorded...
    assert_eq!(d.pending(), vec![&n]);
    // ...until the notification is a repeat interval old.
    d.insert(vec![firing("Other", "b", T0 + 5 * H)], T0 + 5 * H);
    d.tick(T0 + 5 * H + 30 * S);
    assert_eq!(d.pending().len(), 1);
    assert_ne!(d.pending()[0].id, n.id);
    assert!(!d.delivered(&n.id, T0 + 5 * H + 31 * S));
}
