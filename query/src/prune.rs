//! What a query's filters imply about which files can hold matching rows.
//!
//! The commit log records, for every data file, the range of its sample
//! times and of its metric names. [`FilePredicate::from_filters`] reads the
//! filters DataFusion pushes into a scan and derives
//! - the time range the rows must fall in, from comparisons of the tier's
//!   time column (`ts` for raw, `bucket` for the aggregated tiers, see
//!   [`strata_schemas::Tier::time_column`]) with constants (`>`, `>=`, `<`,
//!   `<=`, `=`, `BETWEEN`, `IN`), and
//! - the set of metric names the rows must have, from `metric_name = 'x'`
//!   and `metric_name IN (...)`,
//!
//! combined through `AND` (intersection) and `OR` (union). Filters are first
//! simplified with DataFusion's expression simplifier, so constants written
//! as casts, in other units or time zones, or as `now() - INTERVAL '1 hour'`
//! become plain literals. Anything not understood constrains nothing: the
//! predicate may keep files that turn out to hold no match (DataFusion still
//! applies every filter to the rows), but it never drops a file that holds
//! one.
//!
//! A file's `min_ts_ns`/`max_ts_ns` in the log bound the same column the
//! predicate does: sample times for raw files, window starts (buckets) for
//! aggregated ones. So `bucket >= X` keeps every file whose largest bucket
//! is at least `X`; a window that starts before `X` is not selected even
//! though it ends after `X`, for the files exactly as for the rows.

use std::collections::BTreeSet;
use std::ops::Bound;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DFSchemaRef, ScalarValue};
use datafusion::execution::context::ExecutionProps;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use strata_schemas::tier::{col, ts_type};
use strata_storage::DataFile;

/// The time range and metric names a file must overlap to be scanned.
///
/// `None` means unconstrained. `time` bounds the table's time column (the
/// one given to [`FilePredicate::from_filters`]). Bounds are inclusive, in nanoseconds since
/// the epoch, held as `i128` so that converting coarser units and stepping
/// past a strict bound can never overflow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePredicate {
    /// Inclusive `[min, max]` of the time column, ns; empty when
    /// `min > max`.
    pub time: Option<(i128, i128)>,
    /// The metric names rows may have; empty means none can match.
    pub metrics: Option<BTreeSet<String>>,
}

impl FilePredicate {
    /// Derives the predicate implied by `filters` (a conjunction, as passed
    /// to `TableProvider::scan`) over a table of schema `schema` whose
    /// files' time statistics are those of column `time_column`.
    ///
    /// `props` supplies the query's start time, so that `now()` folds to the
    /// same constant the query itself uses.
    pub fn from_filters(
        filters: &[Expr],
        time_column: &str,
        schema: &DFSchemaRef,
        props: &ExecutionProps,
    ) -> Self {
        let context = SimplifyContext::builder()
            .with_schema(DFSchemaRef::clone(schema))
            .with_query_execution_start_time(props.query_execution_start_time)
            .build();
        let simplifier = ExprSimplifier::new(context);
        filters
            .iter()
            .map(|f| {
                // Pushed filters name columns with the table's qualifier; the
                // schema here has none.
                let expr = unnormalize_col(f.clone());
                let expr = simplifier.simplify(expr.clone()).unwrap_or(expr);
                analyze(&expr, time_column)
            })
            .fold(Self::default(), and)
    }

    /// True unless the file provably holds no row the filters accept.
    pub fn may_match(&self, file: &DataFile) -> bool {
        let time = self.time.is_none_or(|(min, max)| {
            min <= max && i128::from(file.max_ts_ns) >= min && i128::from(file.min_ts_ns) <= max
        });
        let metric = self.metrics.as_ref().is_none_or(|names| {
            let (lo, hi) = (file.min_metric.as_str(), file.max_metric.as_str());
            // Inconsistent statistics prove nothing (and would make `range`
            // panic).
            lo > hi
                || names
                    .range::<str, _>((Bound::Included(lo), Bound::Included(hi)))
                    .next()
                    .is_some()
        });
        time && metric
    }
}

/// Both constraints hold.
fn and(a: FilePredicate, b: FilePredicate) -> FilePredicate {
    FilePredicate {
        time: match (a.time, b.time) {
            (Some((a0, a1)), Some((b0, b1))) => Some((a0.max(b0), a1.min(b1))),
            (t, None) | (None, t) => t,
        },
        metrics: match (a.metrics, b.metrics) {
            (Some(x), Some(y)) => Some(x.intersection(&y).cloned().collect()),
            (m, None) | (None, m) => m,
        },
    }
}

/// At least one of the constraints holds: only what both sides constrain
/// survives, widened to cover either.
fn or(a: FilePredicate, b: FilePredicate) -> FilePredicate {
    FilePredicate {
        time: match (a.time, b.time) {
            (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
            _ => None,
        },
        metrics: match (a.metrics, b.metrics) {
            (Some(mut x), Some(y)) => {
                x.extend(y);
                Some(x)
            }
            _ => None,
        },
    }
}

fn analyze(expr: &Expr, time: &str) -> FilePredicate {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => and(analyze(left, time), analyze(right, time)),
            Operator::Or => or(analyze(left, time), analyze(right, time)),
            _ => compare(left, *op, right, time)
                .or_else(|| compare(right, op.swap()?, left, time))
                .unwrap_or_default(),
        },
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => and(
            compare(expr, Operator::GtEq, low, time).unwrap_or_default(),
            compare(expr, Operator::LtEq, high, time).unwrap_or_default(),
        ),
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            let mut items = list
                .iter()
                .map(|item| compare(expr, Operator::Eq, item, time));
            match items.next().flatten() {
                Some(first) => items
                    .try_fold(first, |acc, next| Some(or(acc, next?)))
                    .unwrap_or_default(),
                None => FilePredicate::default(),
            }
        }
        _ => FilePredicate::default(),
    }
}

/// The constraint of `column op literal`, if it is one we understand;
/// `time` names the table's time column.
fn compare(column: &Expr, op: Operator, literal: &Expr, time: &str) -> Option<FilePredicate> {
    let Expr::Literal(value, _) = literal else {
        return None;
    };
    let (name, cast_to) = column_of(column)?;
    if name == time {
        // A cast of the time column to a coarser unit truncates: widen by one unit of
        // that unit on each side, whatever the rounding direction.
        let slack = match cast_to {
            None => 0,
            Some(DataType::Timestamp(unit, _)) => unit_ns(unit),
            Some(_) => return None,
        };
        let v = literal_ns(value)?;
        let (min, max) = match op {
            Operator::Eq => (v, v),
            Operator::Gt => (v + 1, i128::MAX),
            Operator::GtEq => (v, i128::MAX),
            Operator::Lt => (i128::MIN, v - 1),
            Operator::LtEq => (i128::MIN, v),
            _ => return None,
        };
        let min = if min == i128::MIN { min } else { min - slack };
        let max = if max == i128::MAX { max } else { max + slack };
        return Some(FilePredicate {
            time: Some((min, max)),
            metrics: None,
        });
    }
    if name == col::METRIC_NAME && op == Operator::Eq {
        let string_cast = matches!(
            cast_to,
            None | Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        );
        let metric = value.try_as_str().flatten()?;
        return string_cast.then(|| FilePredicate {
            time: None,
            metrics: Some(BTreeSet::from([metric.to_string()])),
        });
    }
    None
}

/// The column `expr` reads, and the type it is cast to, if any.
fn column_of(expr: &Expr) -> Option<(&str, Option<&DataType>)> {
    match expr {
        Expr::Column(c) => Some((c.name.as_str(), None)),
        Expr::Cast(cast) => match cast.expr.as_ref() {
            Expr::Column(c) => Some((c.name.as_str(), Some(cast.field.data_type()))),
            _ => None,
        },
        Expr::TryCast(cast) => match cast.expr.as_ref() {
            Expr::Column(c) => Some((c.name.as_str(), Some(cast.field.data_type()))),
            _ => None,
        },
        _ => None,
    }
}

fn unit_ns(unit: &TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// A time constant in nanoseconds since the epoch. Time zones do not
/// matter: Arrow timestamps count from the epoch in UTC whatever their zone.
fn literal_ns(value: &ScalarValue) -> Option<i128> {
    const DAY_NS: i128 = 86_400 * 1_000_000_000;
    let ns = match value {
        ScalarValue::TimestampSecond(Some(v), _) => i128::from(*v) * 1_000_000_000,
        ScalarValue::TimestampMillisecond(Some(v), _) => i128::from(*v) * 1_000_000,
        ScalarValue::TimestampMicrosecond(Some(v), _) => i128::from(*v) * 1_000,
        ScalarValue::TimestampNanosecond(Some(v), _) => i128::from(*v),
        ScalarValue::Date32(Some(d)) => i128::from(*d) * DAY_NS,
        ScalarValue::Date64(Some(ms)) => i128::from(*ms) * 1_000_000,
        // A string compared with a time column means what casting it to the
        // column's type means, which is how DataFusion coerces it.
        ScalarValue::Utf8(Some(_))
        | ScalarValue::LargeUtf8(Some(_))
        | ScalarValue::Utf8View(Some(_)) => match value.cast_to(&ts_type()).ok()? {
            ScalarValue::TimestampNanosecond(Some(v), _) => i128::from(v),
            _ => return None,
        },
        _ => return None,
    };
    Some(ns)
}

#[cfg(test)]
mod tests;
