//! An in-memory [`Source`]: unit tests and `strata rules test`.

use std::collections::BTreeMap;
use std::sync::Arc;

use promql_parser::parser::VectorSelector;

use super::{Point, Selected, Source, matches};
use crate::LabelSet;

/// Series kept in memory, each with its points sorted by time. A point
/// added at the time of an existing one replaces it.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    series: BTreeMap<Arc<LabelSet>, Vec<Point>>,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `points` (in any order) to the series `labels`.
    pub fn add(&mut self, labels: LabelSet, points: Vec<Point>) {
        for p in points {
            self.push(labels.clone(), p);
        }
    }

    /// Adds one point to the series `labels`.
    pub fn push(&mut self, labels: LabelSet, point: Point) {
        let points = match self.series.get_mut(&labels) {
            Some(p) => p,
            None => self.series.entry(Arc::new(labels)).or_default(),
        };
        match points.last() {
            Some(last) if last.t >= point.t => {
                let i = points.partition_point(|p| p.t < point.t);
                match points.get(i) {
                    Some(p) if p.t == point.t => points[i] = point,
                    _ => points.insert(i, point),
                }
            }
            _ => points.push(point),
        }
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether the source has no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

impl Source for MemorySource {
    fn select(&self, selector: &VectorSelector, from_ms: i64, to_ms: i64) -> Vec<Selected> {
        self.series
            .iter()
            .filter(|(labels, _)| matches(selector, labels))
            .filter_map(|(labels, points)| {
                let start = points.partition_point(|p| p.t <= from_ms);
                let end = points.partition_point(|p| p.t <= to_ms);
                (start < end).then(|| Selected {
                    labels: Arc::clone(labels),
                    points: points[start..end].to_vec(),
                })
            })
            .collect()
    }
}
