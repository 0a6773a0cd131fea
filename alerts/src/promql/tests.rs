//! Tests of the evaluator against results computed by hand with
//! Prometheus's algorithms.

use super::*;
use crate::rule::expr::parse;

const S: i64 = 1000;
const MIN: i64 = 60 * S;

/// A label set from pairs.
use crate::label_set as ls;

/// Test series: labels, and (seconds, value) points.
type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

/// A source with one series per `(labels, [(seconds, value)])`.
fn source(series: &[SeriesSpec<'_>]) -> MemorySource {
    let mut src = MemorySource::new();
    for (labels, points) in series {
        let points = points.iter().map(|&(t, v)| Point { t: t * S, v }).collect();
        src.add(ls(labels), points);
    }
    src
}

/// Evaluates `text` at `at_ms`.
fn run(src: &MemorySource, text: &str, at_ms: i64) -> Result<Value, EvalError> {
    let expr = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    eval(&expr, at_ms, src)
}

/// Evaluates `text` at `at_ms` to a vector of (labels, value).
fn vector(src: &MemorySource, text: &str, at_ms: i64) -> Vec<(LabelSet, f64)> {
    match run(src, text, at_ms).unwrap_or_else(|e| panic!("{text}: {e}")) {
        Value::Vector(v) => v.into_iter().map(|e| (e.labels, e.value)).collect(),
        Value::Scalar(s) => panic!("{text}: scalar {s}"),
    }
}

/// The value of the only element of `text`'s result.
fn single(src: &MemorySource, text: &str, at_ms: i64) -> f64 {
    let v = vector(src, text, at_ms);
    assert_eq!(v.len(), 1, "{text}: {v:?}");
    v[0].1
}

/// Whether `a` and `b` agree to 12 significant digits.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn instant_selector_reads_the_latest_point_within_five_minutes() {
    let src = source(&[(&[("__name__", "x"), ("a", "1")], &[(0, 1.0), (60, 2.0)])]);
    assert_eq!(
        vector(&src, "x", 30 * S),
        [(ls(&[("__name__", "x"), ("a", "1")]), 1.0)]
    );
    assert_eq!(single(&src, "x", 60 * S), 2.0);
    // (t - 5m, t] is open on the left: the point at 60s is seen until
    // 360s exclusive.
    assert_eq!(single(&src, "x", 360 * S - 1), 2.0);
    assert!(vector(&src, "x", 360 * S).is_empty());
    // Nothing before the first point.
    assert!(vector(&src, "x", -1).is_empty());
}

#[test]
fn staleness_markers_end_a_series() {
    let src = source(&[(
        &[("__name__", "x")],
        &[(0, 1.0), (60, 2.0), (120, STALE_NAN), (180, 3.0)],
    )]);
    assert_eq!(single(&src, "x", 119 * S), 2.0);
    assert!(vector(&src, "x", 120 * S).is_empty());
    assert!(vector(&src, "x", 179 * S).is_empty());
    assert_eq!(single(&src, "x", 180 * S), 3.0);
    // Range functions skip the marker.
    assert_eq!(single(&src, "count_over_time(x[5m])", 180 * S), 3.0);
    assert_eq!(single(&src, "avg_over_time(x[5m])", 180 * S), 2.0);
    assert!(is_stale(STALE_NAN) && !is_stale(f64::NAN));
}

#[test]
fn range_selector_is_open_on_the_left() {
    let src = source(&[(&[("__name__", "x")], &[(0, 1.0), (30, 2.0), (60, 3.0)])]);
    assert_eq!(single(&src, "count_over_time(x[1m])", 60 * S), 2.0);
    assert_eq!(single(&src, "sum_over_time(x[1m])", 60 * S), 5.0);
    assert_eq!(single(&src, "count_over_time(x[1m])", 59 * S), 2.0);
    assert!(vector(&src, "count_over_time(x[1m])", 200 * S).is_empty());
}

#[test]
fn over_time_functions() {
    let src = source(&[(
        &[("__name__", "x"), ("host", "a")],
        &[(0, 4.0), (60, 1.0), (120, 7.0), (180, 2.0)],
    )]);
    let host = ls(&[("host", "a")]);
    let at = 180 * S;
    assert_eq!(
        vector(&src, "avg_over_time(x[5m])", at),
        [(host.clone(), 3.5)]
    );
    assert_eq!(single(&src, "min_over_time(x[5m])", at), 1.0);
    assert_eq!(single(&src, "max_over_time(x[5m])", at), 7.0);
    assert_eq!(single(&src, "sum_over_time(x[5m])", at), 14.0);
    assert_eq!(single(&src, "count_over_time(x[5m])", at), 4.0);
    // last_over_time keeps the metric name.
    assert_eq!(
        vector(&src, "last_over_time(x[5m])", at),
        [(ls(&[("__name__", "x"), ("host", "a")]), 2.0)]
    );
    assert_eq!(single(&src, "avg_over_time(x[2m])", at), 4.5);
}

#[test]
fn over_time_functions_and_nan() {
    let src = source(&[(
        &[("__name__", "x")],
        &[(0, f64::NAN), (60, 1.0), (120, 3.0)],
    )]);
    assert_eq!(single(&src, "max_over_time(x[5m])", 120 * S), 3.0);
    assert_eq!(single(&src, "min_over_time(x[5m])", 120 * S), 1.0);
    assert!(single(&src, "avg_over_time(x[5m])", 120 * S).is_nan());
    assert!(single(&src, "min_over_time(x[1m])", 0).is_nan());
}

/// rate over a window the points cover evenly: extrapolated to both ends.
#[test]
fn rate_extrapolates_to_the_window() {
    // Points at 15, 30, 45, 60 s; window (0, 60]. Increase 30 over 45 s;
    // 15 s to the start is below 1.1 × the 15 s interval, so extrapolate
    // fully: 30 × 60/45 = 40; the zero point (45 × 10/30 = 15 s) is not
    // closer. rate = 40 / 60.
    let src = source(&[(
        &[("__name__", "c_total")],
        &[(15, 10.0), (30, 20.0), (45, 30.0), (60, 40.0)],
    )]);
    assert!(close(single(&src, "increase(c_total[1m])", 60 * S), 40.0));
    assert!(close(
        single(&src, "rate(c_total[1m])", 60 * S),
        40.0 / 60.0
    ));
}

/// A gap to the window's start beyond 1.1 × the average interval:
/// extrapolate half an interval only.
#[test]
fn rate_extrapolates_half_an_interval_past_a_gap() {
    // Points at 40, 50, 60 s; window (0, 60]. 40 s to the start ≥ 11 s:
    // extrapolate 5 s. Increase 2 × (20 + 5) / 20 = 2.5.
    let src = source(&[(
        &[("__name__", "c_total")],
        &[(40, 5.0), (50, 6.0), (60, 7.0)],
    )]);
    assert_eq!(single(&src, "increase(c_total[1m])", 60 * S), 2.5);
    assert!(close(single(&src, "rate(c_total[1m])", 60 * S), 2.5 / 60.0));
    // At the end too: points at 10, 20, 30 s, window (0, 60]: 10 s to the
    // start (kept; zero point 20 × 1/2 = 10 s is not closer), 30 s to the
    // end → 5 s. 2 × (20 + 10 + 5) / 20 = 3.5.
    let src = source(&[(
        &[("__name__", "c_total")],
        &[(10, 1.0), (20, 2.0), (30, 3.0)],
    )]);
    assert_eq!(single(&src, "increase(c_total[1m])", 60 * S), 3.5);
}

/// A counter is not extrapolated below zero.
#[test]
fn rate_stops_at_the_counters_zero_point() {
    // Points at 30, 45, 60 s: 1, 4, 7. 30 s to the start ≥ 16.5 s → 7.5 s,
    // but the counter was 0 at 30 × 1/6 = 5 s before its first point:
    // 6 × (30 + 5) / 30 = 7.
    let src = source(&[(
        &[("__name__", "c_total")],
        &[(30, 1.0), (45, 4.0), (60, 7.0)],
    )]);
    assert!(close(single(&src, "increase(c_total[1m])", 60 * S), 7.0));
}

/// Prometheus 3 limits the extrapolation to the start by the half-interval
/// rule first and by the zero point second (Prometheus 2 did the reverse).
#[test]
fn rate_applies_the_zero_point_after_the_threshold_rule() {
    // A staleness marker at 34m (ignored), then 5..30 at 35..40m; window
    // (33m30s, 40m30s]. 90 s to the start ≥ 1.1 × 60 s → 30 s; the zero
    // point (300 × 5/25 = 60 s) is not closer; 30 s to the end is kept:
    // 25 × (300 + 30 + 30) / 300 = 30 (Prometheus 2: 32.5).
    let src = source(&[(
        &[("__name__", "c_total")],
        &[
            (34 * 60, STALE_NAN),
            (35 * 60, 5.0),
            (36 * 60, 10.0),
            (37 * 60, 15.0),
            (38 * 60, 20.0),
            (39 * 60, 25.0),
            (40 * 60, 30.0),
        ],
    )]);
    let at = 40 * MIN + 30 * S;
    assert!(close(single(&src, "increase(c_total[7m])", at), 30.0));
    assert!(close(single(&src, "rate(c_total[7m])", at), 30.0 / 420.0));
}

#[test]
fn rate_handles_counter_resets() {
    // 10, 20, 5, 15 at 15..60 s: increase 5 + 20 (reset) = 25; zero point
    // 45 × 10/25 = 18 s is beyond the 15 s to the start: 25 × 60/45.
    let src = source(&[(
        &[("__name__", "c_total"), ("job", "j")],
        &[(15, 10.0), (30, 20.0), (45, 5.0), (60, 15.0)],
    )]);
    let v = vector(&src, "increase(c_total[1m])", 60 * S);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, ls(&[("job", "j")]));
    assert!(close(v[0].1, 25.0 * 60.0 / 45.0), "{v:?}");
    assert!(close(
        single(&src, "rate(c_total[1m])", 60 * S),
        25.0 / 45.0
    ));
}

#[test]
fn rate_needs_two_points() {
    let src = source(&[(&[("__name__", "c_total")], &[(0, 1.0), (120, 2.0)])]);
    assert!(vector(&src, "rate(c_total[1m])", 120 * S).is_empty());
    assert_eq!(
        single(&src, "increase(c_total[3m])", 120 * S),
        1.0 * (120.0 + 60.0) / 120.0
    );
}

#[test]
fn absent_and_absent_over_time() {
    let src = source(&[(&[("__name__", "up"), ("job", "api")], &[(0, 1.0)])]);
    assert!(vector(&src, r#"absent(up{job="api"})"#, 0).is_empty());
    assert_eq!(
        vector(&src, r#"absent(up{job="web", instance=~".*"})"#, 0),
        [(ls(&[("job", "web")]), 1.0)]
    );
    assert_eq!(vector(&src, "absent(nothing)", 0), [(LabelSet::new(), 1.0)]);
    // A label matched twice is left out.
    assert_eq!(
        vector(&src, r#"absent(up{job="a", job="b", env="prod"})"#, 0),
        [(ls(&[("env", "prod")]), 1.0)]
    );
    // Stale after 5 minutes.
    assert_eq!(
        vector(&src, r#"absent(up{job="api"})"#, 300 * S),
        [(ls(&[("job", "api")]), 1.0)]
    );
    assert!(vector(&src, r#"absent_over_time(up{job="api"}[10m])"#, 500 * S).is_empty());
    assert_eq!(
        vector(&src, r#"absent_over_time(up{job="api"}[5m])"#, 300 * S),
        [(ls(&[("job", "api")]), 1.0)]
    );
    assert_eq!(
        vector(&src, r#"absent(sum(nothing))"#, 0),
        [(LabelSet::new(), 1.0)]
    );
}

/// Three hosts' CPU series for aggregation and matching tests.
fn cpu_source() -> MemorySource {
    source(&[
        (
            &[("__name__", "cpu"), ("host", "a"), ("cpu", "0")],
            &[(0, 1.0)],
        ),
        (
            &[("__name__", "cpu"), ("host", "a"), ("cpu", "1")],
            &[(0, 3.0)],
        ),
        (
            &[("__name__", "cpu"), ("host", "b"), ("cpu", "0")],
            &[(0, 5.0)],
        ),
        (&[("__name__", "mem"), ("host", "a")], &[(0, 10.0)]),
        (&[("__name__", "mem"), ("host", "b")], &[(0, 20.0)]),
        (&[("__name__", "mem"), ("host", "c")], &[(0, 30.0)]),
    ])
}

#[test]
fn aggregations_by_and_without() {
    let src = cpu_source();
    let a = ls(&[("host", "a")]);
    let b = ls(&[("host", "b")]);
    assert_eq!(
        vector(&src, "sum by (host) (cpu)", 0),
        [(a.clone(), 4.0), (b.clone(), 5.0)]
    );
    assert_eq!(
        vector(&src, "avg by (host) (cpu)", 0),
        [(a.clone(), 2.0), (b.clone(), 5.0)]
    );
    assert_eq!(
        vector(&src, "count without (cpu) (cpu)", 0),
        [(a.clone(), 2.0), (b.clone(), 1.0)]
    );
    assert_eq!(vector(&src, "max(cpu)", 0), [(LabelSet::new(), 5.0)]);
    assert_eq!(
        vector(&src, "min by (cpu) (cpu)", 0),
        [(ls(&[("cpu", "0")]), 1.0), (ls(&[("cpu", "1")]), 3.0)]
    );
    // `by` a missing label groups the series without it together.
    assert_eq!(
        vector(&src, "sum by (zone) (cpu)", 0),
        [(LabelSet::new(), 9.0)]
    );
    // `without` drops the name even when not listed.
    assert_eq!(
        vector(&src, "sum without (host) (mem)", 0),
        [(LabelSet::new(), 60.0)]
    );
    // Aggregating nothing gives nothing.
    assert!(vector(&src, "sum(nothing)", 0).is_empty());
    let src = source(&[
        (&[("__name__", "x"), ("i", "1")], &[(0, f64::NAN)]),
        (&[("__name__", "x"), ("i", "2")], &[(0, 1.0)]),
    ]);
    assert_eq!(single(&src, "max(x)", 0), 1.0);
    assert!(single(&src, "sum(x)", 0).is_nan());
}

#[test]
fn comparisons_filter_or_give_bool() {
    let src = cpu_source();
    assert_eq!(
        vector(&src, "mem > 15", 0),
        [
            (ls(&[("__name__", "mem"), ("host", "b")]), 20.0),
            (ls(&[("__name__", "mem"), ("host", "c")]), 30.0)
        ]
    );
    assert_eq!(
        vector(&src, "mem > bool 15", 0),
        [
            (ls(&[("host", "a")]), 0.0),
            (ls(&[("host", "b")]), 1.0),
            (ls(&[("host", "c")]), 1.0)
        ]
    );
    // The scalar on the left: the vector's value is kept.
    assert_eq!(
        vector(&src, "25 > mem", 0),
        [
            (ls(&[("__name__", "mem"), ("host", "a")]), 10.0),
            (ls(&[("__name__", "mem"), ("host", "b")]), 20.0)
        ]
    );
    // Vector against vector: the left labels, name included.
    assert_eq!(
        vector(&src, "mem >= on(host) sum by (host) (cpu) * 4", 0),
        [(ls(&[("host", "b")]), 20.0)]
    );
    assert_eq!(
        vector(&src, r#"mem < ignoring(cpu) cpu{cpu="0"} * 10"#, 0),
        [(ls(&[("__name__", "mem"), ("host", "b")]), 20.0)]
    );
    assert_eq!(
        vector(&src, r#"mem == bool ignoring(cpu) cpu{cpu="0"} * 2"#, 0),
        [(ls(&[("host", "a")]), 0.0), (ls(&[("host", "b")]), 0.0)]
    );
    // NaN compares false, except !=.
    assert!(vector(&src, "mem == NaN", 0).is_empty());
    assert_eq!(vector(&src, "mem != NaN", 0).len(), 3);
    // Scalars need bool.
    assert_eq!(run(&src, "1 < bool 2", 0), Ok(Value::Scalar(1.0)));
}

#[test]
fn arithmetic() {
    let src = cpu_source();
    assert_eq!(run(&src, "1 + 2 * 3", 0), Ok(Value::Scalar(7.0)));
    assert_eq!(run(&src, "2 ^ 3 ^ 2", 0), Ok(Value::Scalar(512.0)));
    assert_eq!(run(&src, "-5 % 3", 0), Ok(Value::Scalar(-2.0)));
    assert_eq!(run(&src, "(1 - 4) / 2", 0), Ok(Value::Scalar(-1.5)));
    assert_eq!(
        vector(&src, "mem / 10", 0),
        [
            (ls(&[("host", "a")]), 1.0),
            (ls(&[("host", "b")]), 2.0),
            (ls(&[("host", "c")]), 3.0)
        ]
    );
    assert_eq!(vector(&src, "-mem", 0)[0], (ls(&[("host", "a")]), -10.0));
    assert_eq!(
        vector(&src, "100 - mem", 0)[2],
        (ls(&[("host", "c")]), 70.0)
    );
    // One-to-one matching on all labels but the name; unmatched series
    // drop out.
    assert_eq!(
        vector(&src, "mem + on(host) sum by (host) (cpu)", 0),
        [(ls(&[("host", "a")]), 14.0), (ls(&[("host", "b")]), 25.0)]
    );
    assert_eq!(
        vector(&src, r#"mem - ignoring(cpu) cpu{cpu="0"}"#, 0),
        [(ls(&[("host", "a")]), 9.0), (ls(&[("host", "b")]), 15.0)]
    );
    assert!(vector(&src, "mem * cpu", 0).is_empty());
    let v = vector(&src, "(mem - mem) / (mem - mem)", 0);
    assert!(v.iter().all(|(_, x)| x.is_nan()) && v.len() == 3);
}

#[test]
fn set_operators() {
    let src = cpu_source();
    let names = |v: Vec<(LabelSet, f64)>| -> Vec<String> {
        v.into_iter().map(|(l, _)| format_labels(&l)).collect()
    };
    assert_eq!(
        names(vector(&src, "mem and on(host) cpu", 0)),
        [
            r#"{__name__="mem", host="a"}"#,
            r#"{__name__="mem", host="b"}"#
        ]
    );
    assert_eq!(
        names(vector(&src, "mem unless on(host) cpu", 0)),
        [r#"{__name__="mem", host="c"}"#]
    );
    // Without on(), the labels but the name must agree: cpu has `cpu`.
    assert!(vector(&src, "mem and cpu", 0).is_empty());
    assert_eq!(vector(&src, "mem unless cpu", 0).len(), 3);
    assert_eq!(
        names(vector(&src, r#"mem{host="a"} or mem{host="c"} or mem"#, 0)),
        [
            r#"{__name__="mem", host="a"}"#,
            r#"{__name__="mem", host="b"}"#,
            r#"{__name__="mem", host="c"}"#
        ]
    );
    // `or` keeps the left element for a shared signature.
    assert_eq!(
        vector(&src, r#"mem{host="a"} or ignoring(cpu) cpu"#, 0),
        [
            (ls(&[("__name__", "cpu"), ("cpu", "0"), ("host", "b")]), 5.0),
            (ls(&[("__name__", "mem"), ("host", "a")]), 10.0)
        ]
    );
    assert!(vector(&src, "nothing and mem", 0).is_empty());
    assert_eq!(vector(&src, "nothing or mem", 0).len(), 3);
    assert_eq!(
        vector(&src, r#"mem > 15 and mem < 25"#, 0),
        [(ls(&[("__name__", "mem"), ("host", "b")]), 20.0)]
    );
}

#[test]
fn dotted_names() {
    let src = source(&[
        (
            &[("__name__", "cpu.load"), ("host", "a")],
            &[(0, 0.5), (60, 1.0)],
        ),
        (
            &[("__name__", "cpu.load"), ("host", "b")],
            &[(0, 0.95), (60, 0.97)],
        ),
        (&[("__name__", "cpu_load"), ("host", "a")], &[(0, 5.0)]),
    ]);
    assert_eq!(
        vector(&src, "cpu.load > 0.8", 60 * S),
        [
            (ls(&[("__name__", "cpu.load"), ("host", "a")]), 1.0),
            (ls(&[("__name__", "cpu.load"), ("host", "b")]), 0.97)
        ]
    );
    assert_eq!(
        vector(
            &src,
            r#"avg_over_time(cpu.load{host="a"}[5m]) > 0.6"#,
            60 * S
        ),
        [(ls(&[("host", "a")]), 0.75)]
    );
    assert_eq!(
        vector(&src, r#"absent(cpu.load{host="c"})"#, 60 * S),
        [(ls(&[("host", "c")]), 1.0)]
    );
    assert!(vector(&src, r#"absent({"cpu.load"})"#, 60 * S).is_empty());
}

#[test]
fn errors_are_named() {
    let src = source(&[
        (
            &[("__name__", "a_total"), ("job", "x")],
            &[(0, 1.0), (30, 2.0)],
        ),
        (
            &[("__name__", "b_total"), ("job", "x")],
            &[(0, 1.0), (30, 2.0)],
        ),
        (&[("__name__", "c"), ("job", "x"), ("i", "1")], &[(0, 1.0)]),
        (&[("__name__", "c"), ("job", "x"), ("i", "2")], &[(0, 1.0)]),
    ]);
    let err = |text: &str| run(&src, text, 30 * S).unwrap_err();
    assert!(matches!(
        err(r#"rate({__name__=~"a_total|b_total"}[1m])"#),
        EvalError::DuplicateLabelset(_)
    ));
    let e = err("a_total + on(job) c");
    assert!(
        matches!(e, EvalError::ManyToMany { side: "right", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("many-to-many matching not allowed"));
    assert_eq!(err("c + on(job) a_total"), EvalError::ManyToOne);
    // Refused when a rule file loads; the evaluator refuses it too.
    let expr = promql_parser::parser::parse("c * on(job) group_left a_total").unwrap();
    let e = eval(&expr, 0, &src).unwrap_err();
    assert!(e.to_string().contains("group_left"), "{e}");
    // Functions and constructs outside the subset.
    let expr = promql_parser::parser::parse("topk(1, c)").unwrap();
    assert!(
        eval(&expr, 0, &src)
            .unwrap_err()
            .to_string()
            .contains("topk")
    );
    let expr = promql_parser::parser::parse("c offset 1m").unwrap();
    assert!(
        eval(&expr, 0, &src)
            .unwrap_err()
            .to_string()
            .contains("offset")
    );
    let expr = promql_parser::parser::parse("c[1m]").unwrap();
    assert!(matches!(eval(&expr, 0, &src), Err(EvalError::Type(_))));
}

#[test]
fn matchers_follow_prometheus() {
    let sel = |text: &str| match parse(text).unwrap() {
        promql_parser::parser::Expr::VectorSelector(vs) => vs,
        e => panic!("{e:?}"),
    };
    let l = ls(&[("__name__", "up"), ("job", "api"), ("env", "")]);
    assert!(matches(&sel("up"), &l));
    assert!(!matches(&sel("down"), &l));
    assert!(matches(&sel(r#"{__name__="up"}"#), &l));
    assert!(matches(&sel(r#"up{job=~"a.*"}"#), &l));
    // Regular expressions are anchored.
    assert!(!matches(&sel(r#"up{job=~"ap"}"#), &l));
    assert!(matches(&sel(r#"up{job!~"ap"}"#), &l));
    assert!(!matches(&sel(r#"up{job!="api"}"#), &l));
    // A missing label is the empty string.
    assert!(matches(&sel(r#"up{zone=""}"#), &l));
    assert!(!matches(&sel(r#"up{zone!=""}"#), &l));
    assert!(matches(&sel(r#"up{zone=~"|x"}"#), &l));
    assert!(matches(&sel(r#"{"up", job="api"}"#), &l));
    let dotted = ls(&[("__name__", "cpu.load"), ("host", "a")]);
    assert!(matches(&sel(r#"cpu.load{host="a"}"#), &dotted));
    assert!(!matches(&sel("cpu_load"), &dotted));
    // `or` between matcher groups.
    assert!(matches(&sel(r#"{job="web" or job="api"}"#), &l));
    assert!(!matches(&sel(r#"{job="web" or env="x"}"#), &l));
}

#[test]
fn selectors_report_how_far_back_they_read() {
    let expr =
        parse(r#"rate(req_total[2m]) > on(host) avg_over_time(lat{a="b"}[10m]) or up"#).unwrap();
    let got: Vec<(String, i64)> = selectors(&expr)
        .into_iter()
        .map(|(vs, back)| (vs.to_string(), back.ms()))
        .collect();
    assert_eq!(
        got,
        [
            ("req_total".to_string(), 2 * MIN),
            (r#"lat{a="b"}"#.to_string(), 10 * MIN),
            ("up".to_string(), LOOKBACK_DELTA_MS)
        ]
    );
    assert_eq!(selectors(&expr)[2].1, Reach::Instant);
    assert!(selectors(&parse("1 + 2").unwrap()).is_empty());
}

#[test]
fn rule_results_turn_scalars_into_vectors() {
    let src = MemorySource::new();
    let expr = parse("1 + 1").unwrap();
    assert_eq!(
        eval_vector(&expr, 0, &src).unwrap(),
        [Element {
            labels: LabelSet::new(),
            value: 2.0
        }]
    );
}

#[test]
fn memory_source_merges_points_in_time_order() {
    let mut src = MemorySource::new();
    let l = ls(&[("__name__", "x")]);
    src.push(l.clone(), Point { t: 20, v: 2.0 });
    src.push(l.clone(), Point { t: 10, v: 1.0 });
    src.add(
        l.clone(),
        vec![Point { t: 20, v: 3.0 }, Point { t: 30, v: 4.0 }],
    );
    assert_eq!(src.len(), 1);
    let sel = match parse("x").unwrap() {
        promql_parser::parser::Expr::VectorSelector(vs) => vs,
        _ => unreachable!(),
    };
    let got = src.select(&sel, 10, 30);
    assert_eq!(
        got[0].points,
        [Point { t: 20, v: 3.0 }, Point { t: 30, v: 4.0 }]
    );
    assert!(src.select(&sel, 30, 40).is_empty());
}
