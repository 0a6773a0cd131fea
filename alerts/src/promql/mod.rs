//! Evaluation of rule expressions at an instant, with Prometheus's
//! semantics (`promql/engine.go`, `promql/functions.go`).
//!
//! The evaluator reads series through a [`Source`]: the streaming
//! evaluator's per-series buffers, or [`MemorySource`] in tests and in
//! `strata rules test`.

use std::sync::Arc;

use crate::LabelSet;

mod aggregate;
mod binary;
mod eval;
mod functions;
mod memory;
mod select;
#[cfg(test)]
mod tests;

pub use eval::{EvalError, eval, eval_vector};
pub use memory::MemorySource;
pub use select::{LOOKBACK_DELTA_MS, Reach, matches, selectors};

/// The bit pattern of Prometheus's staleness marker, a NaN written when a
/// series disappears (`model/value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Prometheus's staleness marker as a value.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is the staleness marker (and not just any NaN).
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Formats labels as Prometheus prints them: `{a="1", b="2"}`.
pub fn format_labels(labels: &LabelSet) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// A sample: time in Unix milliseconds, and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix milliseconds.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// The element's labels (with `__name__` where Prometheus keeps it).
    pub labels: LabelSet,
    /// The element's value.
    pub value: f64,
}

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar.
    Scalar(f64),
    /// An instant vector.
    Vector(Vec<Element>),
}

/// A series selected by a [`Source`].
#[derive(Debug, Clone)]
pub struct Selected {
    /// The series' labels, `__name__` included.
    pub labels: Arc<LabelSet>,
    /// Its points in the asked interval, ascending by time.
    pub points: Vec<Point>,
}

/// Where the evaluator reads series from.
pub trait Source {
    /// Every series `selector` matches (see [`matches`]) with its points
    /// whose time is in `(from_ms, to_ms]`, ascending. Series without a
    /// point there may be left out.
    fn select(
        &self,
        selector: &promql_parser::parser::VectorSelector,
        from_ms: i64,
        to_ms: i64,
    ) -> Vec<Selected>;
}
