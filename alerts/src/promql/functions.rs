//! Functions: `*_over_time`, `rate`, `increase`, `absent` and
//! `absent_over_time`, as in Prometheus's `promql/functions.go`.

use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr, MatrixSelector, VectorSelector};

use super::eval::{Evaluator, check_unique};
use super::select::millis;
use super::{Element, EvalError, Point, Value};
use crate::{LabelSet, METRIC_NAME};

/// The range a range function looks at: `(start, end]`, Unix ms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// Exclusive start.
    pub(crate) start: i64,
    /// Inclusive end (the evaluation time).
    pub(crate) end: i64,
}

impl Window {
    /// The range in seconds, computed as Go's `Duration.Seconds`.
    fn seconds(self) -> f64 {
        let ms = self.end - self.start;
        (ms / 1000) as f64 + ((ms % 1000) * 1_000_000) as f64 / 1e9
    }
}

/// A function of the points of one series in a window; `None` drops the
/// series from the result.
type RangeFn = fn(&[Point], Window) -> Option<f64>;

/// Evaluates a function call.
pub(crate) fn eval(ev: &Evaluator<'_>, call: &Call) -> Result<Value, EvalError> {
    let name = call.func.name;
    let f: RangeFn = match name {
        "absent" => return absent(ev, call),
        "absent_over_time" => return absent_over_time(ev, call),
        "rate" => |p, w| extrapolated_rate(p, w, true, true),
        "increase" => |p, w| extrapolated_rate(p, w, true, false),
        "avg_over_time" => |p, _| Some(avg(p)),
        "sum_over_time" => |p, _| Some(sum(p)),
        "min_over_time" => |p, _| Some(extreme(p, |cur, best| cur < best)),
        "max_over_time" => |p, _| Some(extreme(p, |cur, best| cur > best)),
        "count_over_time" => |p, _| Some(p.len() as f64),
        "last_over_time" => |p, _| p.last().map(|p| p.v),
        _ => return Err(EvalError::Unsupported(format!("function `{name}`"))),
    };
    // last_over_time acts like a selector and keeps the metric name.
    over_range(ev, call, f, name != "last_over_time")
}

/// `expr` without enclosing parentheses.
fn unwrap_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

/// The single argument of `call`.
fn only_arg(call: &Call) -> Result<&Expr, EvalError> {
    match call.args.args.as_slice() {
        [a] => Ok(unwrap_parens(a)),
        args => Err(EvalError::Type(format!(
            "expected 1 argument in call to `{}`, got {}",
            call.func.name,
            args.len()
        ))),
    }
}

/// The range selector argument of `call`.
fn range_arg(call: &Call) -> Result<&MatrixSelector, EvalError> {
    match only_arg(call)? {
        Expr::MatrixSelector(ms) => Ok(ms),
        _ => Err(EvalError::Type(format!(
            "expected a range vector selector in call to `{}`",
            call.func.name
        ))),
    }
}

/// Applies `f` to the points of every series the range argument selects.
fn over_range(
    ev: &Evaluator<'_>,
    call: &Call,
    f: RangeFn,
    drop_name: bool,
) -> Result<Value, EvalError> {
    let ms = range_arg(call)?;
    let window = Window {
        start: ev.at_ms - millis(ms.range),
        end: ev.at_ms,
    };
    let mut out = Vec::new();
    for s in ev.range(ms)? {
        let Some(value) = f(&s.points, window) else {
            continue;
        };
        let mut labels = std::sync::Arc::unwrap_or_clone(s.labels);
        if drop_name {
            labels.remove(METRIC_NAME);
        }
        out.push(Element { labels, value });
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// `absent(v)`: nothing when `v` has elements, else one element of value 1
/// labelled by the selector's equality matchers.
fn absent(ev: &Evaluator<'_>, call: &Call) -> Result<Value, EvalError> {
    let arg = only_arg(call)?;
    if !ev.vector(arg, "call to `absent`")?.is_empty() {
        return Ok(Value::Vector(Vec::new()));
    }
    let labels = match arg {
        Expr::VectorSelector(vs) => absent_labels(vs),
        _ => LabelSet::new(),
    };
    Ok(Value::Vector(vec![Element { labels, value: 1.0 }]))
}

/// `absent_over_time(v[r])`: nothing when a selected series has a point in
/// the range, else one element of value 1 labelled like `absent`'s.
fn absent_over_time(ev: &Evaluator<'_>, call: &Call) -> Result<Value, EvalError> {
    let ms = range_arg(call)?;
    if !ev.range(ms)?.is_empty() {
        return Ok(Value::Vector(Vec::new()));
    }
    Ok(Value::Vector(vec![Element {
        labels: absent_labels(&ms.vs),
        value: 1.0,
    }]))
}

/// The labels `absent` gives: those an `=` matcher sets to a non-empty
/// value, except `__name__`; a label matched more than once, or by another
/// kind of matcher after an `=`, is left out (Prometheus's
/// `createLabelsForAbsentFunction`).
fn absent_labels(vs: &VectorSelector) -> LabelSet {
    let mut labels = LabelSet::new();
    let mut has = std::collections::BTreeSet::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && !has.contains(&m.name) {
            has.insert(m.name.clone());
            if m.value.is_empty() {
                labels.remove(&m.name);
            } else {
                labels.insert(m.name.clone(), m.value.clone());
            }
        } else {
            labels.remove(&m.name);
        }
    }
    labels
}

/// Kahan-Neumaier summation step: adds `inc` to `sum` with compensation
/// `c` (Prometheus's `kahanSumInc`).
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, mut c: f64) -> (f64, f64) {
    let t = sum + inc;
    if t.is_infinite() {
        c = 0.0;
    } else if sum.abs() >= inc.abs() {
        c += (sum - t) + inc;
    } else {
        c += (inc - t) + sum;
    }
    (t, c)
}

/// `sum_over_time`.
fn sum(points: &[Point]) -> f64 {
    let (s, c) = points
        .iter()
        .fold((0.0, 0.0), |(s, c), p| kahan_sum_inc(p.v, s, c));
    if s.is_infinite() { s } else { s + c }
}

/// `avg_over_time`: the compensated sum divided by the count, switching to
/// an incremental mean if the sum would overflow.
fn avg(points: &[Point]) -> f64 {
    let (mut sum, mut count, mut mean, mut c) = (points[0].v, 1.0, 0.0, 0.0);
    let mut incremental = false;
    for (i, p) in points.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (s, nc) = kahan_sum_inc(p.v, sum, c);
            if !s.is_infinite() {
                (sum, c) = (s, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_sum_inc(p.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// `min_over_time` / `max_over_time`: the value `better` prefers; NaN only
/// when every value is NaN.
fn extreme(points: &[Point], better: fn(f64, f64) -> bool) -> f64 {
    points.iter().skip(1).fold(points[0].v, |best, p| {
        if better(p.v, best) || best.is_nan() {
            p.v
        } else {
            best
        }
    })
}

/// `rate` / `increase` (and `delta` without `is_counter`): the change over
/// the window, corrected for counter resets and extrapolated towards the
/// window's edges (Prometheus's `extrapolatedRate`). Needs two points.
pub(crate) fn extrapolated_rate(
    points: &[Point],
    window: Window,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let (first, last) = match points {
        [first, .., last] => (*first, *last),
        _ => return None,
    };
    let mut result = last.v - first.v;
    if is_counter {
        for pair in points.windows(2) {
            if pair[1].v < pair[0].v {
                result += pair[0].v;
            }
        }
    }
    let mut to_start = (first.t - window.start) as f64 / 1000.0;
    let mut to_end = (window.end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let average = sampled / (points.len() - 1) as f64;
    let threshold = average * 1.1;
    if to_start >= threshold {
        to_start = average / 2.0;
    }
    if is_counter && result > 0.0 && first.v >= 0.0 {
        // Do not extrapolate below zero: the counter started at most
        // this long before its first point.
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= window.seconds();
    }
    Some(result * factor)
}
