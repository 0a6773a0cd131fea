//! Rule files: Prometheus's format (`groups:` → `name`, `interval`,
//! `rules:` → `alert`, `expr`, `for`, `keep_firing_for`, `labels`,
//! `annotations`), or the seed's (a top-level list of groups).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use promql_parser::parser::Expr;
use serde::Deserialize;

use super::expr;

/// A loaded, checked rule group.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// Evaluation interval (`None`: the evaluator's default).
    pub interval: Option<Duration>,
    /// The alerting rules, in file order.
    pub rules: Vec<Rule>,
}

/// A loaded, checked alerting rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `alertname`.
    pub alert: String,
    /// The expression as written.
    pub expr_text: String,
    /// The parsed expression.
    pub expr: Expr,
    /// How long the condition must hold before firing.
    pub for_: Duration,
    /// How long a firing alert keeps firing after the condition stops.
    pub keep_firing_for: Duration,
    /// Labels added to the alert.
    pub labels: BTreeMap<String, String>,
    /// Annotation templates.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FileShape {
    Prometheus { groups: Vec<RawGroup> },
    Seed(Vec<RawGroup>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
struct RawRule {
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    record: Option<String>,
    expr: serde_yaml::Value,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Parses and checks the rule file text `yaml` (named `origin` in errors).
/// Every error names the group and rule it is about.
pub fn parse(origin: &str, yaml: &str) -> Result<Vec<Group>, String> {
    let shape: FileShape =
        serde_yaml::from_str(yaml).map_err(|e| format!("{origin}: not a rule file: {e}"))?;
    let raw = match shape {
        FileShape::Prometheus { groups } | FileShape::Seed(groups) => groups,
    };
    let mut names = std::collections::BTreeSet::new();
    let mut groups = Vec::with_capacity(raw.len());
    for g in raw {
        if !names.insert(g.name.clone()) {
            return Err(format!("{origin}: group {:?} is defined twice", g.name));
        }
        let at = |what: &str| format!("{origin}: group {:?}: {what}", g.name);
        let interval = g
            .interval
            .as_deref()
            .map(duration)
            .transpose()
            .map_err(|e| at(&format!("interval: {e}")))?;
        let mut rules = Vec::with_capacity(g.rules.len());
        for (i, r) in g.rules.into_iter().enumerate() {
            let name = r.alert.clone().unwrap_or_else(|| format!("#{}", i + 1));
            let at = |what: &str| at(&format!("rule {name:?}: {what}"));
            if r.record.is_some() {
                return Err(at("recording rules are not supported"));
            }
            let alert = r.alert.ok_or_else(|| at("`alert` is missing"))?;
            let expr_text = match r.expr {
                serde_yaml::Value::String(s) => s,
                serde_yaml::Value::Number(n) => n.to_string(),
                _ => return Err(at("`expr` must be a string")),
            };
            let expr =
                expr::parse(&expr_text).map_err(|e| at(&format!("expr {expr_text:?}: {e}")))?;
            let dur = |v: Option<String>, field: &str| {
                v.as_deref()
                    .map(duration)
                    .transpose()
                    .map(Option::unwrap_or_default)
                    .map_err(|e| at(&format!("{field}: {e}")))
            };
            rules.push(Rule {
                alert,
                expr_text,
                expr,
                for_: dur(r.for_, "for")?,
                keep_firing_for: dur(r.keep_firing_for, "keep_firing_for")?,
                labels: r.labels,
                annotations: r.annotations,
            });
        }
        groups.push(Group {
            name: g.name,
            interval,
            rules,
        });
    }
    Ok(groups)
}

/// Loads every `.yml`/`.yaml` rule file at `path` (a file or a directory).
pub fn load(path: &Path) -> Result<Vec<Group>, String> {
    let mut files = Vec::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for entry in entries {
            let p = entry
                .map_err(|e| format!("{}: {e}", path.display()))?
                .path();
            if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut groups = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        groups.extend(parse(&f.display().to_string(), &text)?);
    }
    Ok(groups)
}

/// A Prometheus duration (`5m`, `1h30m`, `90s`).
fn duration(text: &str) -> Result<Duration, String> {
    promql_parser::util::parse_duration(text).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_prometheus_format() {
        let g = parse(
            "t.yml",
            r#"
groups:
  - name: node
    interval: 30s
    rules:
      - alert: HighLoad
        expr: avg_over_time(cpu.load[5m]) > 0.8
        for: 5m
        keep_firing_for: 1m
        labels: {severity: page}
        annotations: {summary: "High load on {{ $labels.host }}: {{ $value }}"}
"#,
        )
        .unwrap();
        assert_eq!(g[0].interval, Some(Duration::from_secs(30)));
        let r = &g[0].rules[0];
        assert_eq!(
            (r.for_, r.keep_firing_for),
            (Duration::from_secs(300), Duration::from_secs(60))
        );
        assert_eq!(r.labels["severity"], "page");
    }

    #[test]
    fn reads_the_seed_format() {
        let g = parse(
            "seed.yml",
            r#"
- name: high_cpu_usage
  rules:
    - alert: cpu_over_threshold
      expr: "cpu.load > 0.8"
      for: 5m
      labels:
        severity: critical
      annotations:
        summary: "High CPU on {{ host }}"
"#,
        )
        .unwrap();
        assert_eq!(g[0].rules[0].alert, "cpu_over_threshold");
        assert_eq!(g[0].interval, None);
    }

    #[test]
    fn errors_name_the_group_and_rule() {
        let err = parse(
            "bad.yml",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: topk(3, up)\n",
        )
        .unwrap_err();
        assert!(
            err.contains("group \"g\"") && err.contains("rule \"A\"") && err.contains("topk"),
            "{err}"
        );
        let err = parse(
            "bad.yml",
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n",
        )
        .unwrap_err();
        assert!(err.contains("recording rules"), "{err}");
        let err = parse("bad.yml", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: soon\n")
            .unwrap_err();
        assert!(err.contains("for: invalid duration"), "{err}");
        assert!(parse("bad.yml", "just text").is_err());
    }
}
