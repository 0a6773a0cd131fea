//! Aggregations `sum`, `avg`, `min`, `max`, `count` with `by`/`without`,
//! as Prometheus's `evaluator.aggregation`.

use std::collections::HashMap;

use promql_parser::parser::token::{T_AVG, T_COUNT, T_MAX, T_MIN, T_SUM};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::eval::Evaluator;
use super::functions::kahan_sum_inc;
use super::{Element, EvalError, Value};
use crate::{LabelSet, METRIC_NAME};

/// The supported aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

/// The running state of one group.
#[derive(Debug, Clone)]
struct Group {
    /// Output labels.
    labels: LabelSet,
    /// Sum (sum, avg), extreme (min, max).
    value: f64,
    /// Kahan compensation.
    c: f64,
    /// Incremental mean, once the sum would overflow (avg).
    mean: f64,
    /// Whether avg switched to the incremental mean.
    incremental: bool,
    /// Number of elements.
    count: f64,
}

impl Group {
    /// A group whose first element has value `v`.
    fn new(labels: LabelSet, v: f64) -> Self {
        Group {
            labels,
            value: v,
            c: 0.0,
            mean: v,
            incremental: false,
            count: 1.0,
        }
    }

    /// Adds one more element of value `v`.
    fn add(&mut self, op: Op, v: f64) {
        match op {
            Op::Sum => (self.value, self.c) = kahan_sum_inc(v, self.value, self.c),
            Op::Avg => self.add_to_mean(v),
            Op::Max => {
                if self.value < v || self.value.is_nan() {
                    self.value = v;
                }
            }
            Op::Min => {
                if self.value > v || self.value.is_nan() {
                    self.value = v;
                }
            }
            Op::Count => self.count += 1.0,
        }
    }

    /// avg: sums with compensation while the sum does not overflow, then
    /// continues with an incremental mean.
    fn add_to_mean(&mut self, v: f64) {
        self.count += 1.0;
        if !self.incremental {
            let (s, c) = kahan_sum_inc(v, self.value, self.c);
            if !s.is_infinite() {
                (self.value, self.c) = (s, c);
                return;
            }
            self.incremental = true;
            self.mean = self.value / (self.count - 1.0);
            self.c /= self.count - 1.0;
        }
        let q = (self.count - 1.0) / self.count;
        (self.mean, self.c) = kahan_sum_inc(v / self.count, q * self.mean, q * self.c);
    }

    /// The group's result.
    fn result(&self, op: Op) -> f64 {
        match op {
            Op::Sum => self.value + self.c,
            Op::Avg if self.incremental => self.mean + self.c,
            Op::Avg => self.value / self.count + self.c / self.count,
            Op::Min | Op::Max => self.value,
            Op::Count => self.count,
        }
    }
}

/// The labels of the group an element with `labels` falls into: the `by`
/// labels it has, or all but the `without` labels and `__name__`.
fn group_labels(labels: &LabelSet, modifier: Option<&LabelModifier>) -> LabelSet {
    match modifier {
        Some(LabelModifier::Include(by)) => labels
            .iter()
            .filter(|(k, v)| !v.is_empty() && by.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(LabelModifier::Exclude(without)) => labels
            .iter()
            .filter(|(k, v)| {
                !v.is_empty() && k.as_str() != METRIC_NAME && !without.labels.contains(k)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => LabelSet::new(),
    }
}

/// Evaluates an aggregation.
pub(crate) fn eval(ev: &Evaluator<'_>, agg: &AggregateExpr) -> Result<Value, EvalError> {
    let op = match agg.op.id() {
        T_SUM => Op::Sum,
        T_AVG => Op::Avg,
        T_MIN => Op::Min,
        T_MAX => Op::Max,
        T_COUNT => Op::Count,
        _ => return Err(EvalError::Unsupported(format!("aggregation `{}`", agg.op))),
    };
    let mut input = ev.vector(&agg.expr, &format!("aggregation `{}`", agg.op))?;
    // Prometheus adds in storage order (by labels); so do we, so that sums
    // round the same way.
    input.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut index: HashMap<LabelSet, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for e in input {
        let labels = group_labels(&e.labels, agg.modifier.as_ref());
        match index.get(&labels) {
            Some(&i) => groups[i].add(op, e.value),
            None => {
                index.insert(labels.clone(), groups.len());
                groups.push(Group::new(labels, e.value));
            }
        }
    }
    Ok(Value::Vector(
        groups
            .into_iter()
            .map(|g| Element {
                value: g.result(op),
                labels: g.labels,
            })
            .collect(),
    ))
}
