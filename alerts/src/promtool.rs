//! Rule unit tests in promtool's test-file format (`promtool test rules`,
//! Prometheus's `docs/configuration/unit_testing_rules.md` and
//! `cmd/promtool/unittest.go`).
//!
//! For each test group the input series are loaded into a
//! [`MemorySource`], every rule group is evaluated from t = 0 at each
//! `evaluation_interval` up to the largest `eval_time`, results go through
//! the alert state machine ([`crate::state`]), and at each `eval_time` the
//! *firing* alerts of the tested alertname are compared with `exp_alerts`:
//! labels (with `alertname` added to the expected ones) and expanded
//! annotations, as a multiset. As in Prometheus, alerting rules also write
//! `ALERTS` and `ALERTS_FOR_STATE` series, which `promql_expr_test` (and
//! rules) can read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::promql::{self, Element, MemorySource, Point, STALE_NAN};
use crate::rule::{Group, expr};
use crate::state::RuleState;
use crate::template::External;
use crate::{AlertState, LabelSet, METRIC_NAME};

/// The outcome of one test file.
#[derive(Debug, Clone)]
pub struct Report {
    /// The test file.
    pub file: PathBuf,
    /// One entry per test group, in file order.
    pub groups: Vec<GroupReport>,
}

/// The outcome of one test group.
#[derive(Debug, Clone)]
pub struct GroupReport {
    /// The group's `name`, or `unnamed#<index>` as promtool calls it.
    pub name: String,
    /// What failed, in promtool's words (expected vs got); empty when the
    /// group passed.
    pub failures: Vec<String>,
    /// Remarks that are not failures (parts of the group not checked).
    pub notes: Vec<String>,
}

impl GroupReport {
    /// Whether the group passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Report {
    /// Whether every test group passed.
    pub fn passed(&self) -> bool {
        self.groups.iter().all(GroupReport::passed)
    }
}

/// One line per test group (`  <name>: ok` or `FAILED`), each failure in
/// promtool's words and each note after its group.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for g in &self.groups {
            let verdict = if g.passed() { "ok" } else { "FAILED" };
            writeln!(f, "  {}: {verdict}", g.name)?;
            for e in &g.failures {
                writeln!(f, "{e}")?;
            }
            for n in &g.notes {
                writeln!(f, "    note: {n}")?;
            }
        }
        Ok(())
    }
}

/// A YAML scalar read as text, as Go's `yaml.v2` reads any scalar into a
/// string (`code: 500` is `"500"`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "serde_yaml::Value")]
struct Text(String);

impl From<serde_yaml::Value> for Text {
    fn from(v: serde_yaml::Value) -> Self {
        Text(match v {
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            serde_yaml::Value::Null => String::new(),
            other => serde_yaml::to_string(&other).unwrap_or_default(),
        })
    }
}

/// The test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<Text>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    tests: Vec<TestGroup>,
    #[serde(default)]
    fuzzy_compare: bool,
}

/// `tests:` → one test group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    interval: Option<Text>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
    #[serde(default)]
    external_labels: BTreeMap<String, Text>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
}

/// `input_series:` → one series.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    #[serde(default)]
    values: Text,
}

/// `alert_rule_test:` → one case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    #[serde(default)]
    eval_time: Option<Text>,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

/// `exp_alerts:` → one alert.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, Text>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, Text>,
}

/// `promql_expr_test:` → one case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    #[serde(default)]
    eval_time: Option<Text>,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

/// `exp_samples:` → one sample.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    #[serde(default)]
    value: f64,
    #[serde(default)]
    histogram: String,
}

/// Runs every test file in `paths`, each with its outcome.
pub fn run_files<P: AsRef<Path>>(paths: &[P]) -> Vec<(PathBuf, Result<Report, String>)> {
    paths
        .iter()
        .map(|p| (p.as_ref().to_path_buf(), run_file(p.as_ref())))
        .collect()
}

/// Runs the test file at `path`. An error means the file could not be run
/// at all (unreadable, not a test file, rule files that do not load); a
/// failed test is reported in the [`Report`].
pub fn run_file(path: &Path) -> Result<Report, String> {
    let at = |e: String| format!("{}: {e}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
    let file: TestFile = serde_yaml::from_str(&text).map_err(|e| at(e.to_string()))?;
    let eval_interval = match &file.evaluation_interval {
        Some(t) => duration_ms(&t.0).map_err(|e| at(format!("evaluation_interval: {e}")))?,
        None => 60_000,
    };
    if eval_interval <= 0 {
        return Err(at("evaluation_interval must be positive".into()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut groups = Vec::new();
    for pattern in &file.rule_files {
        for f in glob(&base.join(pattern)).map_err(at)? {
            groups.extend(crate::rule::load(&f).map_err(at)?);
        }
    }
    order_groups(&mut groups, &file.group_eval_order).map_err(at)?;
    let ctx = FileContext {
        groups: &groups,
        eval_interval,
        fuzzy: file.fuzzy_compare,
    };
    let groups = file
        .tests
        .iter()
        .enumerate()
        .map(|(i, tg)| ctx.run_group(i, tg))
        .collect();
    Ok(Report {
        file: path.to_path_buf(),
        groups,
    })
}

/// Orders rule groups by `group_eval_order` (groups not listed rank with
/// the first listed one, as in promtool), keeping file order otherwise.
fn order_groups(groups: &mut [Group], order: &[String]) -> Result<(), String> {
    let mut rank = BTreeMap::new();
    for (i, name) in order.iter().enumerate() {
        if rank.insert(name.as_str(), i).is_some() {
            return Err(format!("group name repeated in evaluation order: {name}"));
        }
    }
    groups.sort_by_key(|g| rank.get(g.name.as_str()).copied().unwrap_or(0));
    Ok(())
}

/// The files `pattern` names: itself, or the matches of `*` and `?` in its
/// last component, sorted.
fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return Ok(vec![pattern.to_path_buf()]);
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| wildcard(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// Whether `text` matches the shell pattern `pattern` (`*`, `?`).
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // match_from[j]: whether pattern[i..] matches text[j..], row by row.
    let mut next = vec![false; t.len() + 1];
    next[t.len()] = true;
    for pc in p.iter().rev() {
        let mut cur = vec![false; t.len() + 1];
        for j in (0..=t.len()).rev() {
            cur[j] = match pc {
                '*' => next[j] || (j < t.len() && cur[j + 1]),
                '?' => j < t.len() && next[j + 1],
                c => j < t.len() && t[j] == *c && next[j + 1],
            };
        }
        next = cur;
    }
    next[0]
}

/// A duration in promtool's notation (`1m`, `1h30m`, `0`), in ms.
fn duration_ms(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.starts_with('0') && text.chars().all(|c| c == '0' || c.is_ascii_alphabetic()) {
        return Ok(0);
    }
    promql_parser::util::parse_duration(text)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// A duration in ms as Prometheus prints one (`1h5m`, `30s`, `0s`).
fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let units = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = ms.abs();
    let mut out = if ms < 0 {
        "-".to_string()
    } else {
        String::new()
    };
    for (unit, size) in units {
        if rest >= size {
            out += &format!("{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

/// Labels from a series description `name{l="v", ...}` (dotted names
/// allowed): the name and the `=` matchers.
fn parse_series(text: &str) -> Result<LabelSet, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "{}" {
        return Ok(LabelSet::new());
    }
    let parsed = promql_parser::parser::parse(&expr::quote_dotted_names(trimmed))
        .map_err(|e| format!("series {text:?}: {e}"))?;
    let promql_parser::parser::Expr::VectorSelector(vs) = parsed else {
        return Err(format!("series {text:?}: not a series description"));
    };
    if !vs.matchers.or_matchers.is_empty() {
        return Err(format!("series {text:?}: `or` is not allowed"));
    }
    let mut labels = LabelSet::new();
    if let Some(name) = vs.name {
        labels.insert(METRIC_NAME.into(), name);
    }
    for m in vs.matchers.matchers {
        if !matches!(m.op, promql_parser::label::MatchOp::Equal) {
            return Err(format!(
                "series {text:?}: only `=` may set label {}",
                m.name
            ));
        }
        if !m.value.is_empty() {
            labels.insert(m.name, m.value);
        }
    }
    Ok(labels)
}

/// A number in a values sequence: a float (`1.5`, `-2e3`, `Inf`, `NaN`),
/// or a duration, read as seconds, as the series-description lexer does.
fn parse_number(text: &str) -> Result<f64, String> {
    let clean = text.replace('_', "");
    clean
        .parse::<f64>()
        .or_else(|_| {
            let (sign, rest) = match clean.strip_prefix('-') {
                Some(r) => (-1.0, r),
                None => (1.0, clean.strip_prefix('+').unwrap_or(&clean)),
            };
            duration_ms(rest).map(|ms| sign * ms as f64 / 1000.0)
        })
        .map_err(|_| format!("invalid number {text:?}"))
}

/// Parses promtool's expanding notation into one value per interval
/// (`None`: no sample). `a+bxn` and `a-bxn` give n + 1 values, each
/// adding `b` to the previous; `axn` is `a+0xn`; `_` is a missing sample
/// and `_xn` n of them; `stale` is a staleness marker.
pub fn parse_values(text: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for item in text.split_whitespace() {
        let bad = |why: String| format!("values {text:?}: {item:?}: {why}");
        let (value, times) = match item.split_once('x') {
            Some((v, n)) => (v, Some(n.parse::<usize>().map_err(|e| bad(e.to_string()))?)),
            None => (item, None),
        };
        if value == "_" {
            out.extend(std::iter::repeat_n(None, times.unwrap_or(1)));
            continue;
        }
        let (start, step) = split_step(value);
        let mut v = match start {
            "stale" => STALE_NAN,
            s => parse_number(s).map_err(bad)?,
        };
        let step = step.map(parse_number).transpose().map_err(bad)?;
        match (times, step) {
            (None, None) => out.push(Some(v)),
            (None, Some(_)) => return Err(bad("an increment needs a repetition (`xN`)".into())),
            (Some(n), step) => {
                for _ in 0..=n {
                    out.push(Some(v));
                    v += step.unwrap_or(0.0);
                }
            }
        }
    }
    Ok(out)
}

/// Splits `a+b` / `a-b` into `a` and the signed `b`; a sign at the start
/// or after an exponent's `e` belongs to the number.
fn split_step(value: &str) -> (&str, Option<&str>) {
    let bytes = value.as_bytes();
    let at = (1..bytes.len())
        .find(|&i| matches!(bytes[i], b'+' | b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
    match at {
        Some(i) => (&value[..i], Some(&value[i..])),
        None => (value, None),
    }
}

/// What every test group of a file shares.
struct FileContext<'a> {
    /// The rule groups, in evaluation order.
    groups: &'a [Group],
    /// `evaluation_interval`, ms.
    eval_interval: i64,
    /// `fuzzy_compare`.
    fuzzy: bool,
}

/// A firing alert as compared: labels and annotations.
type Compared = (LabelSet, BTreeMap<String, String>);

/// The state of one test group's run.
struct Run<'a> {
    /// Input series, plus the `ALERTS` series rules write.
    src: MemorySource,
    /// One state per rule, per group.
    states: Vec<Vec<RuleState>>,
    /// The `ALERTS`/`ALERTS_FOR_STATE` series each rule wrote last time.
    written: Vec<Vec<BTreeSet<LabelSet>>>,
    /// External labels and URL for templates.
    external: External,
    /// The rule groups.
    groups: &'a [Group],
}

impl FileContext<'_> {
    /// Runs test group `tg` (the `index`th of the file).
    fn run_group(&self, index: usize, tg: &TestGroup) -> GroupReport {
        let name = match tg.name.is_empty() {
            true => format!("unnamed#{index}"),
            false => tg.name.clone(),
        };
        let mut report = GroupReport {
            name,
            failures: Vec::new(),
            notes: Vec::new(),
        };
        if let Err(e) = self.check_group(tg, &mut report) {
            report.failures.push(e);
        }
        report
    }

    /// Loads the input, evaluates the rules and compares; an error stops
    /// the group (bad input, evaluation errors).
    fn check_group(&self, tg: &TestGroup, report: &mut GroupReport) -> Result<(), String> {
        let interval = match &tg.interval {
            Some(t) => duration_ms(&t.0).map_err(|e| format!("    interval: {e}"))?,
            None => self.eval_interval,
        };
        let mut run = Run {
            src: load_series(&tg.input_series, interval)?,
            states: self
                .groups
                .iter()
                .map(|g| vec![RuleState::new(); g.rules.len()])
                .collect(),
            written: self
                .groups
                .iter()
                .map(|g| vec![BTreeSet::new(); g.rules.len()])
                .collect(),
            external: External {
                labels: tg
                    .external_labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.0.clone()))
                    .collect(),
                url: tg.external_url.clone(),
            },
            groups: self.groups,
        };
        let mut alert_tests: BTreeMap<i64, Vec<&AlertTest>> = BTreeMap::new();
        for t in &tg.alert_rule_test {
            let at = eval_time(t.eval_time.as_ref())?;
            if t.alertname.is_empty() {
                return Err(format!(
                    "    an item under alert_rule_test misses required attribute alertname at \
                     eval_time {}",
                    format_duration(at)
                ));
            }
            alert_tests.entry(at).or_default().push(t);
        }
        let mut expr_tests = Vec::new();
        for t in &tg.promql_expr_test {
            expr_tests.push((eval_time(t.eval_time.as_ref())?, t));
        }
        let max_t = alert_tests
            .keys()
            .copied()
            .chain(expr_tests.iter().map(|(t, _)| *t))
            .max()
            .unwrap_or(0);
        let mut pending = alert_tests.iter().peekable();
        let mut ts = 0;
        while ts <= max_t {
            run.evaluate(ts)?;
            while let Some((&t, cases)) = pending.next_if(|(t, _)| **t < ts + self.eval_interval) {
                for case in cases {
                    if let Some(f) = compare_alerts(&run, case, t, &tg.name) {
                        report.failures.push(f);
                    }
                }
            }
            ts += self.eval_interval;
        }
        for (t, case) in expr_tests {
            if let Some(f) = self.compare_expr(&run.src, case, t, report) {
                report.failures.push(f);
            }
        }
        Ok(())
    }

    /// Checks one `promql_expr_test` case; `Some` describes a failure.
    fn compare_expr(
        &self,
        src: &MemorySource,
        case: &ExprTest,
        t: i64,
        report: &mut GroupReport,
    ) -> Option<String> {
        let fail = |e: String| {
            Some(format!(
                "    expr: {:?}, time: {}, err: {e}",
                case.expr,
                format_duration(t)
            ))
        };
        let mut got = match expr::parse(&case.expr)
            .and_then(|e| promql::eval_vector(&e, t, src).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        let mut exp = Vec::new();
        for s in &case.exp_samples {
            if !s.histogram.is_empty() {
                report
                    .notes
                    .push("native histogram samples are not supported".into());
                return fail(format!(
                    "labels {:?}: histograms are not supported",
                    s.labels
                ));
            }
            match parse_series(&s.labels) {
                Ok(labels) => exp.push(Element {
                    labels,
                    value: s.value,
                }),
                Err(e) => return fail(e),
            }
        }
        got.sort_by(|a, b| a.labels.cmp(&b.labels));
        exp.sort_by(|a, b| a.labels.cmp(&b.labels));
        let same = got.len() == exp.len()
            && got
                .iter()
                .zip(&exp)
                .all(|(g, e)| g.labels == e.labels && self.same_value(g.value, e.value));
        (!same).then(|| {
            format!(
                "    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
                case.expr,
                format_duration(t),
                format_samples(&exp),
                format_samples(&got)
            )
        })
    }

    /// Float equality, or within one step of the last bit with
    /// `fuzzy_compare`.
    fn same_value(&self, a: f64, b: f64) -> bool {
        a == b || (self.fuzzy && (a.next_up() == b || a.next_down() == b))
    }
}

/// The `eval_time` of a case (0 when missing).
fn eval_time(t: Option<&Text>) -> Result<i64, String> {
    t.map_or(Ok(0), |t| duration_ms(&t.0))
        .map_err(|e| format!("    eval_time: {e}"))
}

/// Loads `input_series`, the `i`th value at `i × interval`.
fn load_series(series: &[InputSeries], interval: i64) -> Result<MemorySource, String> {
    let mut src = MemorySource::new();
    for s in series {
        let labels = parse_series(&s.series).map_err(|e| format!("    {e}"))?;
        let values = parse_values(&s.values.0).map_err(|e| format!("    {e}"))?;
        let points = (0..)
            .zip(values)
            .filter_map(|(i, v)| v.map(|v| Point { t: i * interval, v }))
            .collect();
        src.add(labels, points);
    }
    Ok(src)
}

impl Run<'_> {
    /// Evaluates every rule of every group at `ts`, as a rule group does,
    /// writing `ALERTS` after each rule so later rules see it.
    fn evaluate(&mut self, ts: i64) -> Result<(), String> {
        for (gi, group) in self.groups.iter().enumerate() {
            for (ri, rule) in group.rules.iter().enumerate() {
                let err = |e: String| {
                    format!(
                        "    rule: {}, time: {}, err: {e}",
                        rule.alert,
                        format_duration(ts)
                    )
                };
                let result = promql::eval_vector(&rule.expr, ts, &self.src)
                    .map_err(|e| err(e.to_string()))?;
                let state = &mut self.states[gi][ri];
                state.apply(rule, ts, result, &self.external).map_err(err)?;
                let series = alert_series(state);
                for labels in self.written[gi][ri].difference(&series.keys().cloned().collect()) {
                    self.src.push(
                        labels.clone(),
                        Point {
                            t: ts,
                            v: STALE_NAN,
                        },
                    );
                }
                self.written[gi][ri] = series.keys().cloned().collect();
                for (labels, v) in series {
                    self.src.push(labels, Point { t: ts, v });
                }
            }
        }
        Ok(())
    }
}

/// The `ALERTS` (value 1) and `ALERTS_FOR_STATE` (value: when the alert
/// became active, in seconds) series of a rule's pending and firing alerts.
fn alert_series(state: &RuleState) -> BTreeMap<LabelSet, f64> {
    let mut out = BTreeMap::new();
    for a in state.alerts() {
        let alertstate = match a.state {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            _ => continue,
        };
        let mut labels = a.labels.clone();
        labels.insert(METRIC_NAME.into(), "ALERTS_FOR_STATE".into());
        out.insert(labels.clone(), (a.active_at / 1000) as f64);
        labels.insert(METRIC_NAME.into(), "ALERTS".into());
        labels.insert("alertstate".into(), alertstate.into());
        out.insert(labels, 1.0);
    }
    out
}

/// Compares the firing alerts of `case.alertname` at `t` with the expected
/// ones; `Some` describes a mismatch as promtool does.
fn compare_alerts(run: &Run<'_>, case: &AlertTest, t: i64, group: &str) -> Option<String> {
    let mut got: Vec<Compared> = Vec::new();
    for (gi, g) in run.groups.iter().enumerate() {
        for (ri, rule) in g.rules.iter().enumerate() {
            if rule.alert != case.alertname {
                continue;
            }
            got.extend(
                run.states[gi][ri]
                    .alerts()
                    .filter(|a| a.state == AlertState::Firing)
                    .map(|a| (a.labels.clone(), a.annotations.clone())),
            );
        }
    }
    let mut exp: Vec<Compared> = case
        .exp_alerts
        .iter()
        .map(|a| {
            let mut labels: LabelSet = a
                .exp_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect();
            labels.insert(crate::state::ALERT_NAME.into(), case.alertname.clone());
            let annotations = a
                .exp_annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect();
            (labels, annotations)
        })
        .collect();
    got.sort();
    exp.sort();
    if got == exp {
        return None;
    }
    let name = match group.is_empty() {
        true => String::new(),
        false => format!("    name: {group},\n"),
    };
    Some(format!(
        "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
        case.alertname,
        format_duration(t),
        indent(&format_alerts(&exp), "            "),
        indent(&format_alerts(&got), "            ")
    ))
}

/// Alerts as promtool lists them.
fn format_alerts(alerts: &[Compared]) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let items: Vec<String> = alerts
        .iter()
        .enumerate()
        .map(|(i, (l, a))| {
            let body = format!(
                "\nLabels:{}\nAnnotations:{}",
                promql::format_labels(l),
                promql::format_labels(a)
            );
            format!("{i}:{}", indent(&body, "  "))
        })
        .collect();
    format!("[\n{}\n]", items.join(",\n"))
}

/// Samples as `labels value, ...` (`nil` when none).
fn format_samples(samples: &[Element]) -> String {
    if samples.is_empty() {
        return "nil".into();
    }
    samples
        .iter()
        .map(|s| format!("{} {}", promql::format_labels(&s.labels), s.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prefixes every line but the first with `prefix`.
fn indent(text: &str, prefix: &str) -> String {
    text.replace('\n', &format!("\n{prefix}"))
}

#[cfg(test)]
mod tests;
