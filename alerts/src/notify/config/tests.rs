use super::*;

const FULL: &str = r#"
global:
  smtp_smarthost: 'mail.example.com:587'
  smtp_from: 'strata@example.com'
  smtp_auth_username: 'strata'
  smtp_auth_password: 'hunter2'
  resolve_timeout: 10m
route:
  receiver: default
  group_by: ['alertname', 'cluster']
  group_wait: 10s
  routes:
    - matchers:
        - severity=~"page|crit"
        - team!="db"
      receiver: pager
      group_interval: 1m
      continue: true
      routes:
        - match:
            env: prod
          repeat_interval: 1h
    - match_re:
        service: ^(api|web)$
      receiver: web
      group_by: ['...']
    - matchers: ['team="db", env!~"dev|test"']
      receiver: db
      group_by: []
receivers:
  - name: default
    webhook_configs:
      - url: http://hooks.example.com/default
  - name: pager
    webhook_configs:
      - url: https://pager.example.com/hook
        send_resolved: false
        max_alerts: 10
        timeout: 5s
  - name: web
    email_configs:
      - to: 'web@example.com, ops@example.com'
        headers:
          subject: 'Web alert'
  - name: db
    email_configs:
      - to: db@example.com
        from: db-alerts@example.com
        smarthost: '[::1]:2525'
        require_tls: false
        send_resolved: true
        auth_username: dbuser
        auth_password: dbpass
  - name: blackhole
"#;

use crate::label_set as ls;

fn receivers_of(config: &Config, labels: &[(&str, &str)]) -> Vec<String> {
    config
        .route
        .matching(&ls(labels))
        .iter()
        .map(|r| r.receiver.clone())
        .collect()
}

#[test]
fn parses_alertmanager_config_with_defaults_and_inheritance() {
    let c = Config::from_yaml(FULL).unwrap();
    assert_eq!(c.global.resolve_timeout, Duration::from_secs(600));
    assert!(c.global.smtp_require_tls);
    let root = &c.route;
    assert_eq!(root.receiver, "default");
    assert_eq!(root.group_wait, Duration::from_secs(10));
    assert_eq!(root.group_interval, Duration::from_secs(300));
    assert_eq!(root.repeat_interval, Duration::from_secs(4 * 3600));
    assert_eq!(root.id(), "{}");
    assert_eq!(root.key(), "{}");

    let pager = &root.routes[0];
    assert_eq!(pager.receiver, "pager");
    assert_eq!(pager.group_wait, Duration::from_secs(10), "inherited");
    assert_eq!(pager.group_interval, Duration::from_secs(60));
    assert!(pager.continue_matching);
    assert_eq!(
        pager.group_by,
        GroupBy::Labels(["alertname".to_string(), "cluster".to_string()].into())
    );
    // Matchers sorted by name, printed as Alertmanager does.
    assert_eq!(pager.key(), r#"{}/{severity=~"page|crit",team!="db"}"#);
    assert_eq!(pager.id(), r#"{}/{severity=~"page|crit",team!="db"}/0"#);

    let prod = &pager.routes[0];
    assert_eq!(prod.receiver, "pager", "receiver inherited");
    assert_eq!(
        prod.group_interval,
        Duration::from_secs(60),
        "inherited from parent"
    );
    assert_eq!(prod.repeat_interval, Duration::from_secs(3600));
    assert_eq!(
        prod.key(),
        r#"{}/{severity=~"page|crit",team!="db"}/{env="prod"}"#
    );

    assert_eq!(root.routes[1].group_by, GroupBy::All);
    assert_eq!(root.routes[2].group_by, GroupBy::Labels(BTreeSet::new()));
    assert_eq!(root.routes[2].matchers.len(), 2);

    let pager_rcv = c.receiver("pager").unwrap();
    let hook = &pager_rcv.webhook_configs[0];
    assert!(!hook.send_resolved);
    assert_eq!(hook.max_alerts, 10);
    assert_eq!(hook.timeout, Some(Duration::from_secs(5)));
    assert!(
        c.receiver("default").unwrap().webhook_configs[0].send_resolved,
        "webhook default"
    );

    let web = &c.receiver("web").unwrap().email_configs[0];
    assert_eq!(web.from, "strata@example.com", "global default");
    assert_eq!(
        web.smarthost,
        SmartHost {
            host: "mail.example.com".into(),
            port: 587
        }
    );
    assert_eq!(web.auth_username.as_deref(), Some("strata"));
    assert_eq!(
        web.auth_password.as_ref().map(Secret::expose),
        Some("hunter2")
    );
    assert!(web.require_tls);
    assert!(!web.send_resolved, "email default");
    assert_eq!(web.subject.as_deref(), Some("Web alert"));

    let db = &c.receiver("db").unwrap().email_configs[0];
    assert_eq!(
        db.smarthost,
        SmartHost {
            host: "::1".into(),
            port: 2525
        }
    );
    assert_eq!(db.smarthost.to_string(), "[::1]:2525");
    assert!(!db.require_tls);
    assert!(db.send_resolved);
    assert_eq!(db.auth_username.as_deref(), Some("dbuser"));
    assert!(
        !format!("{db:?}").contains("dbpass"),
        "secrets are not printed"
    );

    let blackhole = c.receiver("blackhole").unwrap();
    assert!(blackhole.integrations().is_empty());
}

#[test]
fn routing_is_depth_first_with_continue() {
    let c = Config::from_yaml(FULL).unwrap();
    // Matches pager (continue) and then web.
    assert_eq!(
        receivers_of(&c, &[("severity", "page"), ("service", "api")]),
        ["pager", "web"]
    );
    // The nested prod route is the match inside pager.
    let routes = c
        .route
        .matching(&ls(&[("severity", "crit"), ("env", "prod")]));
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].repeat_interval, Duration::from_secs(3600));
    // team="db" excluded from pager by team!="db"; db route matches.
    assert_eq!(
        receivers_of(&c, &[("severity", "page"), ("team", "db")]),
        ["db"]
    );
    // env=dev is excluded by env!~"dev|test": falls back to the root.
    assert_eq!(
        receivers_of(&c, &[("team", "db"), ("env", "dev")]),
        ["default"]
    );
    // match_re is anchored.
    assert_eq!(receivers_of(&c, &[("service", "apis")]), ["default"]);
    assert_eq!(receivers_of(&c, &[]), ["default"]);
}

#[test]
fn first_match_stops_without_continue() {
    let c = Config::from_yaml(
        r#"
route:
  receiver: a
  routes:
    - matchers: [x="1"]
      receiver: b
    - matchers: [x=~".+"]
      receiver: c
receivers: [{name: a}, {name: b}, {name: c}]
"#,
    )
    .unwrap();
    assert_eq!(receivers_of(&c, &[("x", "1")]), ["b"]);
    assert_eq!(receivers_of(&c, &[("x", "2")]), ["c"]);
}

fn err(yaml: &str) -> String {
    Config::from_yaml(yaml).unwrap_err().to_string()
}

#[test]
fn undefined_receivers_are_rejected() {
    let e = Config::from_yaml(
        r#"
route:
  receiver: a
  routes:
    - receiver: missing
receivers: [{name: a}]
"#,
    )
    .unwrap_err();
    assert!(
        matches!(&e, ConfigError::UndefinedReceiver { path, receiver } if path == "route.routes[0]" && receiver == "missing"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        r#"route.routes[0]: undefined receiver "missing" used in route"#
    );
}

#[test]
fn unsupported_keys_are_named() {
    let e =
        err("route: {receiver: a}\nreceivers:\n  - name: a\n    slack_configs: [{channel: x}]\n");
    assert!(
        e.starts_with("receivers[0]: unsupported key `slack_configs`"),
        "{e}"
    );
    assert!(e.contains("webhook_configs"), "{e}");
    let e = err("route: {receiver: a}\nreceivers: [{name: a}]\ninhibit_rules: []\n");
    assert!(
        e.starts_with("top level: unsupported key `inhibit_rules`"),
        "{e}"
    );
    let e = err("route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals: []\n");
    assert!(e.contains("`time_intervals`"), "{e}");
    let e = err(
        "route:\n  receiver: a\n  routes:\n    - mute_time_intervals: [night]\nreceivers: [{name: a}]\n",
    );
    assert!(
        e.starts_with("route.routes[0]: unsupported key `mute_time_intervals`"),
        "{e}"
    );
    let e = err(
        "route: {receiver: a}\nreceivers:\n  - name: a\n    webhook_configs: [{url: 'http://x', http_config: {}}]\n",
    );
    assert!(
        e.starts_with("receivers[0].webhook_configs[0]: unsupported key `http_config`"),
        "{e}"
    );
    let e =
        err("global: {slack_api_url: 'http://x'}\nroute: {receiver: a}\nreceivers: [{name: a}]\n");
    assert!(
        e.starts_with("global: unsupported key `slack_api_url`"),
        "{e}"
    );
    let e = err(
        "route: {receiver: a}\nreceivers:\n  - name: a\n    email_configs: [{to: a@b.c, from: x@y.z, smarthost: 'h:25', headers: {X-Foo: bar}}]\n",
    );
    assert!(e.contains("unsupported key `X-Foo`"), "{e}");
    let e = err(
        "route: {receiver: a}\nreceivers:\n  - name: a\n    email_configs: [{to: a@b.c, from: x@y.z, smarthost: 'h:25', html: '<b/>'}]\n",
    );
    assert!(e.contains("unsupported key `html`"), "{e}");
}

#[test]
fn invalid_values_are_rejected() {
    let cases = [
        ("receivers: [{name: a}]\n", "no route provided"),
        (
            "route: {group_by: [x]}\nreceivers: [{name: a}]\n",
            "root route must specify a default receiver",
        ),
        (
            "route: {receiver: a, matchers: ['x=\"1\"']}\nreceivers: [{name: a}]\n",
            "root route must not have any matchers",
        ),
        (
            "route: {receiver: a, continue: true}\nreceivers: [{name: a}]\n",
            "cannot have continue in root route",
        ),
        (
            "route: {receiver: a, group_by: ['...', x]}\nreceivers: [{name: a}]\n",
            "wildcard group_by",
        ),
        (
            "route: {receiver: a, group_by: [x, x]}\nreceivers: [{name: a}]\n",
            "duplicated label",
        ),
        (
            "route: {receiver: a, group_by: ['0x']}\nreceivers: [{name: a}]\n",
            "invalid label name",
        ),
        (
            "route: {receiver: a, group_interval: 0s}\nreceivers: [{name: a}]\n",
            "group_interval cannot be zero",
        ),
        (
            "route: {receiver: a, repeat_interval: 0}\nreceivers: [{name: a}]\n",
            "repeat_interval cannot be zero",
        ),
        (
            "route: {receiver: a, group_wait: 5 minutes}\nreceivers: [{name: a}]\n",
            "not a valid duration",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a}, {name: a}]\n",
            "not unique",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: ''}]\n",
            "missing name",
        ),
        (
            "route:\n  receiver: a\n  routes: [{matchers: ['sev=~\"(\"']}]\nreceivers: [{name: a}]\n",
            "route.routes[0].matchers[0]",
        ),
        (
            "route:\n  receiver: a\n  routes: [{matchers: ['bad matcher']}]\nreceivers: [{name: a}]\n",
            "bad matcher format",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'not a url'}]}]\n",
            "invalid URL",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'ftp://x/y'}]}]\n",
            "unsupported scheme",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'http://x/{{ .GroupKey }}'}]}]\n",
            "templates are not supported",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{to: a@b.c}]}]\n",
            "no global SMTP from set",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{to: a@b.c, from: x@y.z}]}]\n",
            "no global SMTP smarthost set",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{to: a@b.c, from: x@y.z, smarthost: nohost}]}]\n",
            "missing port",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{from: x@y.z, smarthost: 'h:25'}]}]\n",
            "missing to address",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a, email_configs: [{to: 'not an address', from: x@y.z, smarthost: 'h:25'}]}]\n",
            "invalid address list",
        ),
        (
            "route: {receiver: a}\nreceivers: [{name: a, webhook_configs: [{url: 'http://x', send_resolved: maybe}]}]\n",
            "invalid notifier configuration",
        ),
    ];
    for (yaml, expected) in cases {
        let e = err(yaml);
        assert!(
            e.contains(expected),
            "{yaml}\n→ {e}\n(expected {expected:?})"
        );
    }
}

#[test]
fn durations_in_prometheus_syntax() {
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
    assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
    assert_eq!(parse_duration("1y"), Ok(Duration::from_secs(365 * 86_400)));
    assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
    assert!(parse_duration("").is_err());
    assert!(parse_duration("1m1h").is_err(), "units out of order");
    assert!(parse_duration("1.5h").is_err());
    assert!(parse_duration("-1s").is_err());
}

#[test]
fn shortcuts() {
    let c = Config::single_webhook("http://127.0.0.1:9000/hook").unwrap();
    assert_eq!(c.route.receiver, "webhook");
    assert_eq!(c.route.group_by, GroupBy::All);
    assert_eq!(c.route.group_wait, Duration::ZERO);
    assert_eq!(c.route.group_interval, Duration::from_secs(2));
    assert_eq!(c.route.repeat_interval, Duration::from_secs(4 * 3600));
    let hook = &c.receiver("webhook").unwrap().webhook_configs[0];
    assert_eq!(hook.url, "http://127.0.0.1:9000/hook");
    assert!(hook.send_resolved);
    assert!(Config::single_webhook("nope").is_err());

    let c =
        Config::single_email("a@example.com", "strata@example.com", "127.0.0.1:25", false).unwrap();
    let email = &c.receiver("email").unwrap().email_configs[0];
    assert_eq!(email.smarthost.port, 25);
    assert!(!email.require_tls);
    assert_eq!(c.route.group_by, GroupBy::All);
}

#[test]
fn group_labels_take_present_labels_only() {
    let by = GroupBy::Labels(["alertname".to_string(), "cluster".to_string()].into());
    assert_eq!(
        by.group_labels(&ls(&[("alertname", "X"), ("instance", "i")])),
        ls(&[("alertname", "X")])
    );
    assert_eq!(
        GroupBy::All.group_labels(&ls(&[("a", "1")])),
        ls(&[("a", "1")])
    );
}
