//! The evaluator: walks an expression tree at one instant, as Prometheus 3's
//! engine does for an instant query (`promql/engine.go`).
//!
//! Operators live in [`super::binary`], aggregations in
//! [`super::aggregate`], functions in [`super::functions`].

use std::sync::Arc;

use promql_parser::parser::{Expr, MatrixSelector, VectorSelector};

use super::select::millis;
use super::{Element, LOOKBACK_DELTA_MS, Point, Source, Value, aggregate, binary, functions};
use super::{format_labels, is_stale};
use crate::{LabelSet, METRIC_NAME};

/// Why an expression could not be evaluated. The messages follow
/// Prometheus's where Prometheus has one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// A construct the evaluator does not implement.
    #[error("{0} is not supported")]
    Unsupported(String),
    /// An operand of the wrong type (a range vector where an instant vector
    /// or a scalar is needed, for instance).
    #[error("{0}")]
    Type(String),
    /// Two elements of a result have the same labels (e.g. `rate(a[1m] or
    /// b[1m])`-like results that differ only in `__name__`).
    #[error("vector cannot contain metrics with the same labelset: {0}")]
    DuplicateLabelset(String),
    /// Vector matching found two series for one match group on the side
    /// that must be unique.
    #[error(
        "found duplicate series for the match group {group} on the {side} hand-side of the \
         operation: [{first}, {second}];many-to-many matching not allowed: matching labels \
         must be unique on one side"
    )]
    ManyToMany {
        /// The labels the series matched on.
        group: String,
        /// `left` or `right`.
        side: &'static str,
        /// One of the series.
        first: String,
        /// The other.
        second: String,
    },
    /// One-to-one matching paired two left-hand elements with one
    /// right-hand element.
    #[error(
        "multiple matches for labels: many-to-one matching must be explicit \
         (group_left/group_right)"
    )]
    ManyToOne,
}

/// Evaluates `expr` at `at_ms` (Unix milliseconds), reading series from
/// `src`. A vector result is sorted by labels.
pub fn eval(expr: &Expr, at_ms: i64, src: &dyn Source) -> Result<Value, EvalError> {
    let mut value = Evaluator { at_ms, src }.eval(expr)?;
    if let Value::Vector(v) = &mut value {
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    Ok(value)
}

/// Evaluates `expr` as a rule does: a scalar result becomes a one-element
/// vector without labels (Prometheus's `EngineQueryFunc`).
pub fn eval_vector(expr: &Expr, at_ms: i64, src: &dyn Source) -> Result<Vec<Element>, EvalError> {
    Ok(match eval(expr, at_ms, src)? {
        Value::Scalar(value) => vec![Element {
            labels: LabelSet::new(),
            value,
        }],
        Value::Vector(v) => v,
    })
}

/// One series of a range selector: its labels and its points in the range,
/// staleness markers left out.
pub(crate) struct RangeSeries {
    /// The series' labels, `__name__` included.
    pub(crate) labels: Arc<LabelSet>,
    /// At least one point, ascending.
    pub(crate) points: Vec<Point>,
}

/// Evaluation at one instant.
pub(crate) struct Evaluator<'a> {
    /// The evaluation time, Unix milliseconds.
    pub(crate) at_ms: i64,
    /// Where series are read.
    pub(crate) src: &'a dyn Source,
}

impl Evaluator<'_> {
    /// Evaluates any instant-typed expression.
    pub(crate) fn eval(&self, expr: &Expr) -> Result<Value, EvalError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => self.negate(&u.expr),
            Expr::VectorSelector(vs) => self.instant(vs).map(Value::Vector),
            Expr::MatrixSelector(_) => Err(EvalError::Type(
                "a range vector is only allowed as a function argument".into(),
            )),
            Expr::Aggregate(a) => aggregate::eval(self, a),
            Expr::Binary(b) => binary::eval(self, b),
            Expr::Call(c) => functions::eval(self, c),
            Expr::StringLiteral(_) => Err(EvalError::Unsupported("string literals".into())),
            Expr::Subquery(_) => Err(EvalError::Unsupported("subqueries".into())),
            Expr::Extension(_) => Err(EvalError::Unsupported("extension expressions".into())),
        }
    }

    /// Evaluates an expression that must give an instant vector (the
    /// argument of an aggregation or of `absent`); `context` names it.
    pub(crate) fn vector(&self, expr: &Expr, context: &str) -> Result<Vec<Element>, EvalError> {
        match self.eval(expr)? {
            Value::Vector(v) => Ok(v),
            Value::Scalar(_) => Err(EvalError::Type(format!(
                "expected an instant vector in {context}, got a scalar"
            ))),
        }
    }

    /// Unary minus: negates a scalar, or every element of a vector, which
    /// then loses its metric name.
    fn negate(&self, expr: &Expr) -> Result<Value, EvalError> {
        match self.eval(expr)? {
            Value::Scalar(v) => Ok(Value::Scalar(-v)),
            Value::Vector(mut v) => {
                for e in &mut v {
                    e.labels.remove(METRIC_NAME);
                    e.value = -e.value;
                }
                check_unique(&v)?;
                Ok(Value::Vector(v))
            }
        }
    }

    /// An instant selector: per series, the latest point in
    /// `(t - 5m, t]`, unless that point is a staleness marker. In the
    /// source's order: results are sorted at the end ([`eval`]) and
    /// aggregation inputs before they are added, not every selection
    /// (sorting a million series per evaluation cost more than the rest).
    pub(crate) fn instant(&self, vs: &VectorSelector) -> Result<Vec<Element>, EvalError> {
        self.instant_where(vs, |_| true)
    }

    /// [`Evaluator::instant`], keeping only elements whose value `keep`
    /// accepts (their labels are copied, the others' are not).
    pub(crate) fn instant_where(
        &self,
        vs: &VectorSelector,
        keep: impl Fn(f64) -> bool,
    ) -> Result<Vec<Element>, EvalError> {
        check_modifiers(vs)?;
        let from = self.at_ms - LOOKBACK_DELTA_MS;
        let selected = self.src.select(vs, from, self.at_ms);
        Ok(selected
            .into_iter()
            .filter_map(|s| {
                let last = s.points.iter().rev().find(|p| p.t <= self.at_ms)?;
                (last.t > from && !is_stale(last.v) && keep(last.v)).then(|| Element {
                    labels: Arc::unwrap_or_clone(s.labels),
                    value: last.v,
                })
            })
            .collect())
    }

    /// A range selector `[r]`: per series, the points in `(t - r, t]`
    /// without staleness markers; series left with none are left out. In
    /// the source's order, as [`Evaluator::instant`].
    pub(crate) fn range(&self, ms: &MatrixSelector) -> Result<Vec<RangeSeries>, EvalError> {
        check_modifiers(&ms.vs)?;
        let from = self.at_ms - millis(ms.range);
        let selected = self.src.select(&ms.vs, from, self.at_ms);
        Ok(selected
            .into_iter()
            .filter_map(|s| {
                let points: Vec<Point> = s
                    .points
                    .into_iter()
                    .filter(|p| p.t > from && p.t <= self.at_ms && !is_stale(p.v))
                    .collect();
                (!points.is_empty()).then_some(RangeSeries {
                    labels: s.labels,
                    points,
                })
            })
            .collect())
    }
}

/// Rejects `offset` and `@`, which the evaluator does not implement.
fn check_modifiers(vs: &VectorSelector) -> Result<(), EvalError> {
    match vs.offset.is_some() || vs.at.is_some() {
        true => Err(EvalError::Unsupported("`offset` and `@` modifiers".into())),
        false => Ok(()),
    }
}

/// Fails when two elements of `v` have the same labels, as Prometheus does
/// after every operation.
pub(crate) fn check_unique(v: &[Element]) -> Result<(), EvalError> {
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    for e in v {
        if !seen.insert(&e.labels) {
            return Err(EvalError::DuplicateLabelset(format_labels(&e.labels)));
        }
    }
    Ok(())
}
