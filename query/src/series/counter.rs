//! `increase` and `rate`: reset-corrected counter growth per step bucket
//! (semantics in the parent module's docs).
//!
//! Each segment's statement answers, per series and bucket, one *piece*:
//! the bucket's first and last sample of the segment and the increase
//! between them. From raw, the values in sample order; from `1m` or `1h`,
//! each window's `first`, `last` and `increase` in bucket order, the seam
//! between consecutive windows added here. A series' pieces, sorted by
//! first sample, are then chained: a piece's increase goes to its bucket,
//! and so does the seam from the previous piece's last sample when that
//! sample is at most a step before the bucket. Pieces of the lookback
//! bucket (one step before the first point) only serve as predecessors.

use std::collections::BTreeMap;

use datafusion::arrow::array::{AsArray, Float64Array, ListArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, TimestampNanosecondType};
use strata_schemas::Tier;
use strata_schemas::agg::{counter_delta, sample_cmp};

use super::{
    Coverage, Grid, Interner, LabelPairs, SeriesAgg, SeriesPoints, SeriesRequest, bin, predicates,
    segments,
};
use crate::engine::QueryEngine;
use crate::error::Result;

/// A series' samples in one bucket of one segment.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// The bucket.
    t: i64,
    first_ts: i64,
    first: f64,
    last_ts: i64,
    last: f64,
    /// Reset-corrected growth from `first` to `last`.
    increase: f64,
}

/// Answers a `rate` or `increase` request.
pub(super) async fn query(
    engine: &QueryEngine,
    req: &SeriesRequest,
    grid: Grid,
    tier: Tier,
    cov: &Coverage,
) -> Result<Vec<SeriesPoints>> {
    let mut series = Interner::default();
    let mut pieces: Vec<Vec<Piece>> = Vec::new();
    let from = grid.first_ns - grid.step_ns;
    for seg in segments(tier, from, grid.end_ns(), cov) {
        let (_, batches) = engine.sql(&statement(req, grid, seg)).await?;
        for b in &batches {
            read_pieces(b, seg.tier, &mut series, &mut pieces);
        }
    }
    let mut groups: BTreeMap<LabelPairs, BTreeMap<i64, f64>> = BTreeMap::new();
    for (labels, mut pieces) in series.keys.iter().zip(pieces) {
        pieces.sort_by(|a, b| sample_cmp((a.first_ts, a.first), (b.first_ts, b.first)));
        let points = groups.entry(group_of(labels, &req.by)).or_default();
        let mut prev: Option<Piece> = None;
        for p in pieces {
            if p.t >= grid.first_ns {
                let mut increase = p.increase;
                if let Some(q) = prev
                    && q.last_ts >= p.t - grid.step_ns
                {
                    increase += counter_delta(q.last, p.first);
                }
                *points.entry(p.t).or_insert(0.0) += increase;
            }
            prev = Some(p);
        }
    }
    let per_second = |v: f64| match req.agg {
        SeriesAgg::Rate => v / (grid.step_ns as f64 / 1e9),
        _ => v,
    };
    Ok(groups
        .into_iter()
        .filter(|(_, points)| !points.is_empty())
        .map(|(labels, points)| {
            let points = points
                .into_iter()
                .map(|(t, v)| (t, per_second(v)))
                .collect();
            (labels, points)
        })
        .collect())
}

/// The labels of the group of a series with `labels`.
fn group_of(labels: &LabelPairs, by: &Option<Vec<String>>) -> LabelPairs {
    match by {
        None => labels.clone(),
        Some(by) => by
            .iter()
            .filter_map(|name| labels.iter().find(|(k, _)| k == name).cloned())
            .collect(),
    }
}

/// The pieces of `seg`, per series and bucket. Columns: s (labels), t,
/// first_ts, last_ts, then for raw the values in sample order; for the
/// aggregated tiers the windows' `first` and `last` in time order and the
/// sum of their increases.
fn statement(req: &SeriesRequest, grid: Grid, seg: super::Segment) -> String {
    let preds = predicates(req, seg);
    let table = seg.tier.table_name();
    match seg.tier {
        Tier::Raw => format!(
            "SELECT labels AS s, {t} AS t, min(ts) AS first_ts, max(ts) AS last_ts, \
             array_agg(value ORDER BY ts, value) AS firsts \
             FROM {table} WHERE {preds} GROUP BY 1, 2",
            t = bin(grid, "ts"),
        ),
        Tier::Minute | Tier::Hour => format!(
            "SELECT labels AS s, {t} AS t, min(first_ts) AS first_ts, max(last_ts) AS last_ts, \
             array_agg(first ORDER BY bucket) AS firsts, array_agg(last ORDER BY bucket) AS lasts, \
             sum(increase) AS increase \
             FROM {table} WHERE {preds} GROUP BY 1, 2",
            t = bin(grid, "bucket"),
        ),
    }
}

/// Adds the pieces of batch `b` of a [`statement`] over `tier`.
fn read_pieces(b: &RecordBatch, tier: Tier, series: &mut Interner, pieces: &mut Vec<Vec<Piece>>) {
    let labels = b.column(0).as_map();
    let [t, first_ts, last_ts] =
        [1, 2, 3].map(|i| b.column(i).as_primitive::<TimestampNanosecondType>());
    let firsts: &ListArray = b.column(4).as_list();
    let windows = (tier != Tier::Raw).then(|| {
        (
            b.column(5).as_list::<i32>(),
            b.column(6).as_primitive::<Float64Type>(),
        )
    });
    for r in 0..b.num_rows() {
        let id = series.id(labels, r);
        if id == pieces.len() {
            pieces.push(Vec::new());
        }
        let f = firsts.value(r);
        let f: &Float64Array = f.as_primitive();
        let (first, last, increase) = match windows {
            // Raw values in sample order.
            None => (
                f.value(0),
                f.value(f.len() - 1),
                chain(f.values().iter().map(|&v| (v, v, 0.0))),
            ),
            Some((lasts, increase)) => {
                let l = lasts.value(r);
                let l: &Float64Array = l.as_primitive();
                let inner = f
                    .values()
                    .iter()
                    .zip(l.values())
                    .map(|(&f, &l)| (f, l, 0.0));
                (
                    f.value(0),
                    l.value(l.len() - 1),
                    increase.value(r) + chain(inner),
                )
            }
        };
        pieces[id].push(Piece {
            t: t.value(r),
            first_ts: first_ts.value(r),
            first,
            last_ts: last_ts.value(r),
            last,
            increase,
        });
    }
}

/// The growth across the seams of consecutive `(first, last, increase)`
/// parts, plus their own increases.
fn chain(parts: impl Iterator<Item = (f64, f64, f64)>) -> f64 {
    let mut total = 0.0;
    let mut prev: Option<f64> = None;
    for (first, last, increase) in parts {
        if let Some(p) = prev {
            total += counter_delta(p, first);
        }
        total += increase;
        prev = Some(last);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_add_seams_and_resets() {
        // 10 → 15 → (reset) 3 → 7
        let raw = [10.0, 15.0, 3.0, 7.0].map(|v| (v, v, 0.0));
        assert_eq!(chain(raw.into_iter()), 5.0 + 3.0 + 4.0);
        // Windows [10..15], [3..7] with their own increases.
        assert_eq!(
            chain([(10.0, 15.0, 5.0), (3.0, 7.0, 4.0)].into_iter()),
            12.0
        );
        assert_eq!(chain(std::iter::empty()), 0.0);
    }

    #[test]
    fn groups_keep_the_by_labels_in_order() {
        let labels: LabelPairs = vec![("code".into(), "200".into()), ("host".into(), "a".into())];
        assert_eq!(group_of(&labels, &None), labels);
        assert_eq!(
            group_of(
                &labels,
                &Some(vec!["host".into(), "dc".into(), "code".into()])
            ),
            vec![
                ("host".to_string(), "a".to_string()),
                ("code".into(), "200".into())
            ]
        );
        assert!(group_of(&labels, &Some(vec![])).is_empty());
    }
}
