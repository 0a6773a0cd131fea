//! Tests of the promtool runner.

use super::*;

/// The repository's `tests/rules` directory.
fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/rules")
}

/// Runs `file` and fails with the report unless every group passed.
fn assert_passes(file: &Path) -> Report {
    let report = run_file(file).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.passed(), "{report}");
    report
}

#[test]
fn the_repository_rule_tests_pass() {
    let node = assert_passes(&rules_dir().join("unit/node.test.yml"));
    assert_eq!(node.groups.len(), 4);
    let service = assert_passes(&rules_dir().join("unit/service.test.yml"));
    assert_eq!(service.groups.len(), 3);
    let seed = assert_passes(&rules_dir().join("unit/seed_dotted.strata-test.yml"));
    assert_eq!(seed.groups.len(), 2);
    assert!(
        seed.to_string()
            .contains("  dotted memory average in prod only: ok\n")
    );
}

#[test]
fn run_files_reports_each_file() {
    let dir = rules_dir();
    let out = run_files(&[
        dir.join("unit/node.test.yml"),
        dir.join("unit/missing.test.yml"),
    ]);
    assert!(out[0].1.as_ref().is_ok_and(Report::passed));
    assert!(out[1].1.as_ref().is_err());
}

#[test]
fn expanding_notation() {
    let some = |v: &[f64]| v.iter().map(|&x| Some(x)).collect::<Vec<_>>();
    assert_eq!(
        parse_values("-2+4x3").unwrap(),
        some(&[-2.0, 2.0, 6.0, 10.0])
    );
    assert_eq!(
        parse_values(" 1-2x4").unwrap(),
        some(&[1.0, -1.0, -3.0, -5.0, -7.0])
    );
    assert_eq!(parse_values(" 1x4").unwrap(), some(&[1.0; 5]));
    assert_eq!(
        parse_values("1e3 2.5e-1+1e-1x1").unwrap(),
        some(&[1000.0, 0.25, 0.35])
    );
    let v = parse_values(" 1 _x3 stale _ 5").unwrap();
    assert_eq!(v.len(), 7);
    assert_eq!(
        (v[0], v[1], v[3], v[5], v[6]),
        (Some(1.0), None, None, None, Some(5.0))
    );
    assert!(v[4].is_some_and(promql::is_stale));
    let v = parse_values("Inf -Inf NaN").unwrap();
    assert!(v[0] == Some(f64::INFINITY) && v[1] == Some(f64::NEG_INFINITY));
    assert!(v[2].is_some_and(f64::is_nan));
    assert!(parse_values("1+2").is_err());
    assert!(parse_values("1xz").is_err());
    assert!(parse_values("abc").is_err());
}

#[test]
fn series_descriptions() {
    let ls = |pairs: &[(&str, &str)]| -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        parse_series(r#"up{job="a", instance="h.example:9100"}"#).unwrap(),
        ls(&[
            ("__name__", "up"),
            ("job", "a"),
            ("instance", "h.example:9100")
        ])
    );
    assert_eq!(
        parse_series(r#"cpu.load{host="web1"}"#).unwrap(),
        ls(&[("__name__", "cpu.load"), ("host", "web1")])
    );
    assert_eq!(parse_series("{}").unwrap(), LabelSet::new());
    assert!(parse_series(r#"up{job=~"a"}"#).is_err());
    assert!(parse_series("up +").is_err());
}

#[test]
fn helpers() {
    assert!(wildcard("*.rules.yml", "node.rules.yml"));
    assert!(wildcard("n?de*", "node.rules.yml"));
    assert!(!wildcard("*.rules.yml", "node.test.yml"));
    assert_eq!(format_duration(0), "0s");
    assert_eq!(format_duration(3_900_000), "1h5m");
    assert_eq!(format_duration(90_500), "1m30s500ms");
    assert_eq!(duration_ms("0").unwrap(), 0);
    assert_eq!(duration_ms("0s").unwrap(), 0);
    assert_eq!(duration_ms("1h30m").unwrap(), 5_400_000);
    assert!(duration_ms("soon").is_err());
}

/// A scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-promtool-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn mismatches_are_reported_as_promtool_does() {
    let dir = scratch("mismatch");
    std::fs::write(
        dir.join("r.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        \
         annotations:\n          summary: '{{ $labels.host }} down'\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("t.yml"),
        r#"
rule_files: [r.yml]
tests:
  - name: wrong expectation
    input_series:
      - series: 'up{host="a"}'
        values: '0x5'
    alert_rule_test:
      - eval_time: 2m
        alertname: Down
        exp_alerts:
          - exp_labels: {host: b}
  - input_series:
      - series: 'up{host="a"}'
        values: '0 0'
    alert_rule_test:
      - eval_time: 1m
        alertname: Down
        exp_alerts:
          - exp_labels: {host: a}
            exp_annotations: {summary: a down}
    promql_expr_test:
      - expr: up
        eval_time: 1m
        exp_samples:
          - labels: 'up{host="a"}'
            value: 1
"#,
    )
    .unwrap();
    let report = run_file(&dir.join("t.yml")).unwrap();
    assert!(!report.passed());
    let first = &report.groups[0];
    assert_eq!(first.name, "wrong expectation");
    assert_eq!(first.failures.len(), 1, "{report}");
    let f = &first.failures[0];
    assert!(f.contains("alertname: Down, time: 2m"), "{f}");
    assert!(f.contains(r#"Labels:{alertname="Down", host="b"}"#), "{f}");
    assert!(f.contains(r#"Annotations:{summary="a down"}"#), "{f}");
    // The default interval is evaluation_interval (1m); the second group
    // only fails its expression test.
    let second = &report.groups[1];
    assert_eq!(second.name, "unnamed#1");
    assert_eq!(second.failures.len(), 1, "{report}");
    assert!(
        second.failures[0].contains(r#"got: {__name__="up", host="a"} 0"#),
        "{report}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn evaluation_errors_stop_the_group() {
    let dir = scratch("errors");
    std::fs::write(
        dir.join("r.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: Joined\n        \
         expr: a * on(job) b\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("t.yml"),
        r#"
rule_files: ['*.yml']
evaluation_interval: 30s
tests:
  - input_series:
      - series: 'a{job="x"}'
        values: '1'
    alert_rule_test:
      - eval_time: 1m
        alertname: Joined
      - eval_time: 1m
        alertname: ''
"#,
    )
    .unwrap();
    // The glob also matches t.yml itself, which is not a rule file.
    let err = run_file(&dir.join("t.yml")).unwrap_err();
    assert!(err.contains("t.yml"), "{err}");
    std::fs::rename(dir.join("t.yml"), dir.join("t.test")).unwrap();
    let report = run_file(&dir.join("t.test")).unwrap();
    let f = &report.groups[0].failures;
    assert_eq!(f.len(), 1, "{report}");
    assert!(
        f[0].contains("misses required attribute alertname"),
        "{report}"
    );
    std::fs::write(
        dir.join("t.test"),
        r#"
rule_files: ['*.yml']
tests:
  - input_series:
      - series: 'a{job="x"}'
        values: '1'
      - series: 'b{job="x", i="1"}'
        values: '1'
      - series: 'b{job="x", i="2"}'
        values: '1'
    alert_rule_test:
      - eval_time: 1m
        alertname: Joined
"#,
    )
    .unwrap();
    let report = run_file(&dir.join("t.test")).unwrap();
    let f = &report.groups[0].failures;
    assert!(
        f.len() == 1
            && f[0].contains("rule: Joined, time: 0s, err:")
            && f[0].contains("many-to-many"),
        "{report}"
    );
    assert!(run_file(&dir.join("missing.yml")).is_err());
    std::fs::write(dir.join("bad.test"), "tests:\n  - unknown_field: 1\n").unwrap();
    assert!(run_file(&dir.join("bad.test")).is_err());
    std::fs::remove_dir_all(dir).ok();
}
