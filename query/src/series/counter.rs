//! `increase` and `rate`: reset-corrected counter growth per step bucket
//! (semantics in the parent module's docs).
//!
//! The seams of a reset-corrected counter need each series' samples in
//! order, which SQL aggregates do not give cheaply (`array_agg` with an
//! ordering costs far more than reading the rows). So each segment's
//! statement reads rows as they are stored, and the chain is built here
//! per series: from raw, one piece per sample; from `1m` or `1h`, one
//! piece per stored part (`first_ts, first, last_ts, last, increase,
//! exact`), the parts of a window folded into one as the views fold them
//! ([`merge_parts`]). The series' windows, in time order, are then
//! chained: a window's increase goes to its step bucket, and so does the
//! seam from the previous window's last sample when that sample is at most
//! a step before the bucket. Windows of the lookback bucket (one step
//! before the first point) only serve as predecessors.

use std::collections::BTreeMap;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampNanosecondType};
use strata_schemas::Tier;
use strata_schemas::agg::{Agg, counter_delta, sample_cmp};
use strata_storage::Snapshot;

use super::indexed::{COUNTER_COLUMNS, SeriesRows, group_of};
use super::{
    Coverage, Grid, Interner, LabelPairs, Reader, SeriesAgg, SeriesPoints, SeriesRequest,
    predicates, segments, table_of,
};
use crate::error::Result;
use crate::merge::merge_parts;

/// Answers a `rate` or `increase` request.
pub(super) async fn query(
    reader: &Reader<'_>,
    snapshot: &Snapshot,
    req: &SeriesRequest,
    grid: Grid,
    tier: Tier,
    cov: &Coverage,
) -> Result<Vec<SeriesPoints>> {
    let mut series = Interner::default();
    // Per series: (window start, part); a raw sample is its own window.
    let mut parts: Vec<Vec<(i64, Agg)>> = Vec::new();
    let from = grid.first_ns - grid.step_ns;
    for seg in segments(tier, from, grid.end_ns(), cov) {
        if let Some(found) = reader.indexed(snapshot, req, seg, COUNTER_COLUMNS).await? {
            for rows in &found {
                indexed_parts(rows, &mut series, &mut parts);
            }
            continue;
        }
        for b in &reader.sql(&statement(req, seg)).await? {
            read_parts(b, seg.tier, &mut series, &mut parts);
        }
    }
    // Per group, each series' points in time order, one after the other.
    let mut groups: BTreeMap<LabelPairs, (usize, Vec<(i64, f64)>)> = BTreeMap::new();
    for (labels, parts) in series.keys.iter().zip(parts) {
        let group = group_of(labels, &req.by)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (members, points) = groups.entry(group).or_default();
        *members += 1;
        chain(parts, grid, points);
    }
    let per_second = |v: f64| match req.agg {
        SeriesAgg::Rate => v / (grid.step_ns as f64 / 1e9),
        _ => v,
    };
    Ok(groups
        .into_iter()
        .filter(|(_, (_, points))| !points.is_empty())
        .map(|(labels, (members, mut points))| {
            if members > 1 {
                points = sum_by_time(points);
            }
            let points = points
                .into_iter()
                .map(|(t, v)| (t, per_second(v)))
                .collect();
            (labels, points)
        })
        .collect())
}

/// The points of several series summed per time.
fn sum_by_time(mut points: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    points.sort_by_key(|p| p.0);
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(points.len());
    for (t, v) in points {
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += v,
            _ => out.push((t, v)),
        }
    }
    out
}

/// Appends to `points` the increase per step bucket of one series, in
/// time order, whose `parts` are (window start, part) in any order.
fn chain(mut parts: Vec<(i64, Agg)>, grid: Grid, points: &mut Vec<(i64, f64)>) {
    parts.sort_by(|a, b| {
        a.0.cmp(&b.0).then(sample_cmp(
            (a.1.first_ts, a.1.first),
            (b.1.first_ts, b.1.first),
        ))
    });
    let mut prev: Option<Agg> = None;
    let mut i = 0;
    while i < parts.len() {
        let window = parts[i].0;
        let n = parts[i..].iter().take_while(|p| p.0 == window).count();
        let agg = match n {
            1 => parts[i].1,
            _ => {
                let mut folded: Vec<Agg> = parts[i..i + n].iter().map(|p| p.1).collect();
                merge_parts(&mut folded).expect("n > 1 parts")
            }
        };
        i += n;
        let t = window.div_euclid(grid.step_ns) * grid.step_ns;
        if t >= grid.first_ns {
            let mut increase = agg.increase;
            if let Some(q) = prev
                && q.last_ts >= t - grid.step_ns
            {
                increase += counter_delta(q.last, agg.first);
            }
            match points.last_mut() {
                Some(last) if last.0 == t => last.1 += increase,
                _ => points.push((t, increase)),
            }
        }
        prev = Some(agg);
    }
}

/// The rows of `seg`: `labels, ts, value` from raw; `labels, bucket,
/// first_ts, first, last_ts, last, increase, exact` from the parts of an
/// aggregated tier.
fn statement(req: &SeriesRequest, seg: super::Segment) -> String {
    let columns = match seg.tier {
        Tier::Raw => "labels, ts, value",
        Tier::Minute | Tier::Hour => {
            "labels, bucket, first_ts, first, last_ts, last, increase, exact"
        }
    };
    format!(
        "SELECT {columns} FROM {} WHERE {}",
        table_of(seg.tier),
        predicates(req, seg)
    )
}

/// Adds the stored parts of one series read through a series index.
fn indexed_parts(rows: &SeriesRows, series: &mut Interner, parts: &mut Vec<Vec<(i64, Agg)>>) {
    let id = series.intern(rows.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if id == parts.len() {
        parts.push(Vec::new());
    }
    let b = &rows.rows;
    let int = |i: usize| b.column(i).as_primitive::<Int64Type>();
    let float = |i: usize| b.column(i).as_primitive::<Float64Type>();
    // The columns of COUNTER_COLUMNS.
    let (bucket, first_ts, first, last_ts, last, increase) =
        (int(0), int(1), float(2), int(3), float(4), float(5));
    let exact = b.column(6).as_boolean();
    let out = &mut parts[id];
    out.reserve(b.num_rows());
    for r in 0..b.num_rows() {
        let (f, l) = (first.value(r), last.value(r));
        out.push((
            bucket.value(r),
            part(
                first_ts.value(r),
                f,
                last_ts.value(r),
                l,
                increase.value(r),
                exact.value(r),
            ),
        ));
    }
}

/// A stored part as far as the increase needs it.
fn part(first_ts: i64, first: f64, last_ts: i64, last: f64, increase: f64, exact: bool) -> Agg {
    Agg {
        // Not needed for the increase.
        count: 1,
        sum: 0.0,
        min: first,
        max: last,
        first_ts,
        first,
        last_ts,
        last,
        increase,
        exact,
    }
}

/// Adds the parts in batch `b` of a [`statement`] over `tier`.
fn read_parts(
    b: &RecordBatch,
    tier: Tier,
    series: &mut Interner,
    parts: &mut Vec<Vec<(i64, Agg)>>,
) {
    let labels = b.column(0).as_map();
    let ts = |i: usize| b.column(i).as_primitive::<TimestampNanosecondType>();
    let f64s = |i: usize| b.column(i).as_primitive::<Float64Type>();
    let mut push = |r: usize, part: (i64, Agg)| {
        let id = series.id(labels, r);
        if id == parts.len() {
            parts.push(Vec::new());
        }
        parts[id].push(part);
    };
    match tier {
        Tier::Raw => {
            let (ts, values) = (ts(1), f64s(2));
            for r in 0..b.num_rows() {
                let t = ts.value(r);
                push(r, (t, Agg::of(t, values.value(r))));
            }
        }
        Tier::Minute | Tier::Hour => {
            let [bucket, first_ts, last_ts] = [1, 2, 4].map(ts);
            let [first, last, increase] = [3, 5, 6].map(f64s);
            let exact = b.column(7).as_boolean();
            for r in 0..b.num_rows() {
                let (f, l) = (first.value(r), last.value(r));
                let agg = part(
                    first_ts.value(r),
                    f,
                    last_ts.value(r),
                    l,
                    increase.value(r),
                    exact.value(r),
                );
                push(r, (bucket.value(r), agg));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(first_ns: i64, step_ns: i64) -> Grid {
        Grid {
            first_ns,
            step_ns,
            points: 10,
        }
    }

    #[test]
    fn windows_chain_with_seams_and_resets() {
        // Samples 10, 15 | 3, 7 | (gap) 20 in windows of 10 ns, steps of 10.
        let w = |t: i64, points: &[(i64, f64)]| (t, Agg::of_sorted(points).unwrap());
        let parts = vec![
            w(20, &[(20, 3.0), (25, 7.0)]),
            w(10, &[(11, 10.0), (12, 15.0)]),
            w(50, &[(50, 20.0)]),
        ];
        let mut points = Vec::new();
        chain(parts.clone(), grid(10, 10), &mut points);
        // 5; reset to 3 then 4; the last window's predecessor is too old.
        assert_eq!(points, [(10, 5.0), (20, 7.0), (50, 0.0)]);
        // Steps of 20: the seam 25 → 50 is within a step of bucket 40.
        let mut points = Vec::new();
        chain(parts.clone(), grid(0, 20), &mut points);
        assert_eq!(points, [(0, 5.0), (20, 4.0 + 3.0), (40, 13.0)]);
        // The lookback bucket only provides the predecessor.
        let mut points = Vec::new();
        chain(parts, grid(20, 10), &mut points);
        assert_eq!(points, [(20, 7.0), (50, 0.0)]);
        // Series of a group add up per time.
        assert_eq!(
            sum_by_time(vec![(20, 1.0), (10, 2.0), (20, 3.0)]),
            [(10, 2.0), (20, 4.0)]
        );
    }

    #[test]
    fn parts_of_a_window_fold_as_the_views_fold_them() {
        let a = Agg::of_sorted(&[(1, 1.0), (2, 2.0)]).unwrap();
        let b = Agg::of_sorted(&[(3, 5.0), (4, 6.0)]).unwrap();
        let mut points = Vec::new();
        chain(vec![(0, b), (0, a)], grid(0, 10), &mut points);
        assert_eq!(points, [(0, 5.0)]);
    }
}
