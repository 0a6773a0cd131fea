//! Binary operators: arithmetic, comparisons (filtering or with `bool`) and
//! the set operators `and`, `or`, `unless`, between scalars and vectors,
//! with one-to-one vector matching (`on`/`ignoring`), as Prometheus's
//! `VectorBinop`, `VectorscalarBinop`, `VectorAnd`/`Or`/`Unless`.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB,
};
use promql_parser::parser::{BinModifier, BinaryExpr, Expr, LabelModifier, VectorMatchCardinality};

use super::eval::{Evaluator, check_unique};
use super::{Element, EvalError, Value, format_labels};
use crate::{LabelSet, METRIC_NAME};

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    /// The operator of token `id`.
    fn from_token(id: u16) -> Option<Op> {
        Some(match id {
            T_ADD => Op::Add,
            T_SUB => Op::Sub,
            T_MUL => Op::Mul,
            T_DIV => Op::Div,
            T_MOD => Op::Mod,
            T_POW => Op::Pow,
            T_ATAN2 => Op::Atan2,
            T_EQLC => Op::Eq,
            T_NEQ => Op::Ne,
            T_GTR => Op::Gt,
            T_LSS => Op::Lt,
            T_GTE => Op::Ge,
            T_LTE => Op::Le,
            T_LAND => Op::And,
            T_LOR => Op::Or,
            T_LUNLESS => Op::Unless,
            _ => return None,
        })
    }

    /// Whether the operator compares.
    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    /// Whether the operator is a set operator.
    fn is_set(self) -> bool {
        matches!(self, Op::And | Op::Or | Op::Unless)
    }

    /// Applies the operator to two values: the result, and whether a
    /// comparison holds (always true for arithmetic). A comparison's
    /// result is its left operand.
    fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            Op::Add => (l + r, true),
            Op::Sub => (l - r, true),
            Op::Mul => (l * r, true),
            Op::Div => (l / r, true),
            Op::Mod => (l % r, true),
            Op::Pow => (l.powf(r), true),
            Op::Atan2 => (l.atan2(r), true),
            Op::Eq => (l, l == r),
            Op::Ne => (l, l != r),
            Op::Gt => (l, l > r),
            Op::Lt => (l, l < r),
            Op::Ge => (l, l >= r),
            Op::Le => (l, l <= r),
            Op::And | Op::Or | Op::Unless => (f64::NAN, false),
        }
    }
}

/// 1 for true, 0 for false.
fn btos(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Evaluates a binary expression.
pub(crate) fn eval(ev: &Evaluator<'_>, b: &BinaryExpr) -> Result<Value, EvalError> {
    let op = Op::from_token(b.op.id())
        .ok_or_else(|| EvalError::Unsupported(format!("operator `{}`", b.op)))?;
    let m = b.modifier.clone().unwrap_or_default();
    if matches!(
        m.card,
        VectorMatchCardinality::ManyToOne(_) | VectorMatchCardinality::OneToMany(_)
    ) {
        return Err(EvalError::Unsupported(
            "many-to-one matching (`group_left`/`group_right`)".into(),
        ));
    }
    if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
        return Err(EvalError::Unsupported("`fill` modifiers".into()));
    }
    if let (true, false, Expr::VectorSelector(vs), Expr::NumberLiteral(n)) = (
        op.is_comparison(),
        m.return_bool,
        unparen(&b.lhs),
        unparen(&b.rhs),
    ) {
        // The most common alert, `selector > number`: filter before the
        // labels of every series are copied. Same result as below.
        let out = ev.instant_where(vs, |v| op.apply(v, n.val).1)?;
        return Ok(Value::Vector(out));
    }
    let lhs = ev.eval(&b.lhs)?;
    let rhs = ev.eval(&b.rhs)?;
    let out = match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = op.apply(l, r);
            return match op {
                _ if op.is_set() => Err(set_on_scalar(b)),
                _ if op.is_comparison() => Ok(Value::Scalar(btos(keep))),
                _ => Ok(Value::Scalar(v)),
            };
        }
        (Value::Vector(l), Value::Scalar(r)) if !op.is_set() => {
            vector_scalar(op, l, r, false, m.return_bool)
        }
        (Value::Scalar(l), Value::Vector(r)) if !op.is_set() => {
            vector_scalar(op, r, l, true, m.return_bool)
        }
        (Value::Vector(l), Value::Vector(r)) => match op {
            Op::And => and_unless(l, &r, &m, true),
            Op::Unless => and_unless(l, &r, &m, false),
            Op::Or => or(l, r, &m),
            _ => vector_vector(op, l, &r, &m)?,
        },
        _ => return Err(set_on_scalar(b)),
    };
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// The error for a set operator with a scalar operand.
fn set_on_scalar(b: &BinaryExpr) -> EvalError {
    EvalError::Type(format!(
        "set operator `{}` not allowed in binary scalar expression",
        b.op
    ))
}

/// Vector–scalar operation; `swap` when the scalar is the left operand.
/// Comparisons keep the vector's value; arithmetic and `bool` drop the
/// metric name.
fn vector_scalar(op: Op, v: Vec<Element>, s: f64, swap: bool, bool_: bool) -> Vec<Element> {
    v.into_iter()
        .filter_map(|mut e| {
            let (l, r) = if swap { (s, e.value) } else { (e.value, s) };
            let (mut value, mut keep) = op.apply(l, r);
            if op.is_comparison() {
                value = e.value;
            }
            if bool_ {
                value = btos(keep);
                keep = true;
            }
            if !keep {
                return None;
            }
            if !op.is_comparison() || bool_ {
                e.labels.remove(METRIC_NAME);
            }
            e.value = value;
            Some(e)
        })
        .collect()
}

/// `expr` without enclosing parentheses.
fn unparen(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(p) => unparen(&p.expr),
        e => e,
    }
}

/// The match signature of `labels`: the `on` labels, or all labels but
/// `__name__` and the `ignoring` ones. Empty values count as missing.
fn signature<'a>(
    labels: &'a LabelSet,
    matching: Option<&LabelModifier>,
) -> Vec<(&'a str, &'a str)> {
    labels
        .iter()
        .filter(|(k, v)| {
            !v.is_empty()
                && match matching {
                    Some(LabelModifier::Include(on)) => on.labels.contains(k),
                    Some(LabelModifier::Exclude(ign)) => {
                        k.as_str() != METRIC_NAME && !ign.labels.contains(k)
                    }
                    None => k.as_str() != METRIC_NAME,
                }
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Formats a signature as labels.
fn format_signature(sig: &[(&str, &str)]) -> String {
    format_labels(
        &sig.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// The labels of the result of `lhs op rhs` in one-to-one matching: the
/// left labels, without `__name__` for arithmetic and `bool`, reduced to
/// the `on` labels or without the `ignoring` ones.
fn result_labels(lhs: &LabelSet, op: Op, m: &BinModifier) -> LabelSet {
    let mut labels = lhs.clone();
    if !op.is_comparison() || m.return_bool {
        labels.remove(METRIC_NAME);
    }
    match &m.matching {
        Some(LabelModifier::Include(on)) => labels.retain(|k, _| on.labels.contains(k)),
        Some(LabelModifier::Exclude(ign)) => labels.retain(|k, _| !ign.labels.contains(k)),
        None => {}
    }
    labels
}

/// Vector–vector arithmetic or comparison with one-to-one matching.
fn vector_vector(
    op: Op,
    lhs: Vec<Element>,
    rhs: &[Element],
    m: &BinModifier,
) -> Result<Vec<Element>, EvalError> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let matching = m.matching.as_ref();
    let mut right: HashMap<Vec<(&str, &str)>, &Element> = HashMap::with_capacity(rhs.len());
    for r in rhs {
        let sig = signature(&r.labels, matching);
        if let Some(dup) = right.get(&sig) {
            return Err(EvalError::ManyToMany {
                group: format_signature(&sig),
                side: "right",
                first: format_labels(&r.labels),
                second: format_labels(&dup.labels),
            });
        }
        right.insert(sig, r);
    }
    let mut matched = HashSet::new();
    let mut out = Vec::new();
    for l in &lhs {
        let sig = signature(&l.labels, matching);
        let Some(r) = right.get(&sig) else {
            continue;
        };
        let (mut value, keep) = op.apply(l.value, r.value);
        if m.return_bool {
            value = btos(keep);
        } else if !keep {
            continue;
        }
        if !matched.insert(sig) {
            return Err(EvalError::ManyToOne);
        }
        out.push(Element {
            labels: result_labels(&l.labels, op, m),
            value,
        });
    }
    Ok(out)
}

/// `and` (`keep_matched`) keeps the left elements with a match on the
/// right; `unless` those without.
fn and_unless(
    lhs: Vec<Element>,
    rhs: &[Element],
    m: &BinModifier,
    keep_matched: bool,
) -> Vec<Element> {
    if rhs.is_empty() {
        return if keep_matched { Vec::new() } else { lhs };
    }
    let matching = m.matching.as_ref();
    let right: HashSet<_> = rhs.iter().map(|r| signature(&r.labels, matching)).collect();
    lhs.into_iter()
        .filter(|l| right.contains(&signature(&l.labels, matching)) == keep_matched)
        .collect()
}

/// `or`: every left element, and the right ones without a match on the
/// left.
fn or(lhs: Vec<Element>, rhs: Vec<Element>, m: &BinModifier) -> Vec<Element> {
    let matching = m.matching.as_ref();
    let left: HashSet<Vec<(String, String)>> = lhs
        .iter()
        .map(|l| owned(signature(&l.labels, matching)))
        .collect();
    let extra: Vec<Element> = rhs
        .into_iter()
        .filter(|r| !left.contains(&owned(signature(&r.labels, matching))))
        .collect();
    lhs.into_iter().chain(extra).collect()
}

/// A signature that outlives its labels.
fn owned(sig: Vec<(&str, &str)>) -> Vec<(String, String)> {
    sig.into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
