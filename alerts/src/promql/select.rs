//! Which series a selector picks, and how far back an expression reads.

use promql_parser::label::Matcher;
use promql_parser::parser::{Expr, VectorSelector};

use crate::{LabelSet, METRIC_NAME};

/// How far back an instant selector looks for a series' latest point
/// (Prometheus's default `--query.lookback-delta`).
pub const LOOKBACK_DELTA_MS: i64 = 300_000;

/// The value of label `name` in `labels`; a missing label reads as the
/// empty string, as in Prometheus.
fn label<'a>(labels: &'a LabelSet, name: &str) -> &'a str {
    labels.get(name).map_or("", String::as_str)
}

/// Whether every matcher of `group` accepts `labels`.
fn all_match(group: &[Matcher], labels: &LabelSet) -> bool {
    group.iter().all(|m| m.is_match(label(labels, &m.name)))
}

/// Whether the series with `labels` is one `selector` picks: its metric
/// name (written as the selector's name or as a `__name__` matcher) and
/// every matcher (`=`, `!=`, anchored `=~`, `!~`) agree. When the selector
/// uses `or` between matcher groups, one group must accept the series.
pub fn matches(selector: &VectorSelector, labels: &LabelSet) -> bool {
    if let Some(name) = &selector.name
        && label(labels, METRIC_NAME) != name
    {
        return false;
    }
    let m = &selector.matchers;
    all_match(&m.matchers, labels)
        && (m.or_matchers.is_empty() || m.or_matchers.iter().any(|g| all_match(g, labels)))
}

/// How far back evaluating an expression at `t` reads a selector's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// An instant selector: the newest point within [`LOOKBACK_DELTA_MS`].
    Instant,
    /// A range selector (plus enclosing subqueries): every point in the
    /// last this many milliseconds.
    Range(i64),
}

impl Reach {
    /// The milliseconds before `t` whose points can be read.
    pub fn ms(self) -> i64 {
        match self {
            Reach::Instant => LOOKBACK_DELTA_MS,
            Reach::Range(r) => r,
        }
    }
}

/// Every selector in `expr` with how far back evaluating `expr` reads it.
pub fn selectors(expr: &Expr) -> Vec<(&VectorSelector, Reach)> {
    let mut out = Vec::new();
    collect(expr, 0, &mut out);
    out
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Adds the selectors of `expr` to `out`; `extra` is the range of
/// enclosing subqueries.
fn collect<'a>(expr: &'a Expr, extra: i64, out: &mut Vec<(&'a VectorSelector, Reach)>) {
    match expr {
        Expr::VectorSelector(vs) if extra == 0 => out.push((vs, Reach::Instant)),
        Expr::VectorSelector(vs) => {
            out.push((vs, Reach::Range(extra.saturating_add(LOOKBACK_DELTA_MS))))
        }
        Expr::MatrixSelector(ms) => {
            out.push((&ms.vs, Reach::Range(extra.saturating_add(millis(ms.range)))))
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                collect(p, extra, out);
            }
            collect(&a.expr, extra, out);
        }
        Expr::Unary(u) => collect(&u.expr, extra, out),
        Expr::Binary(b) => {
            collect(&b.lhs, extra, out);
            collect(&b.rhs, extra, out);
        }
        Expr::Paren(p) => collect(&p.expr, extra, out),
        Expr::Subquery(s) => collect(&s.expr, extra.saturating_add(millis(s.range)), out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect(a, extra, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}
