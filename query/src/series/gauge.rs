//! `avg`, `min`, `max`, `sum`, `count`, `last`: one statement per segment
//! aggregates per group and step bucket (from raw values, or from the
//! stored parts' `count`, `sum`, `min`, `max`, `last_ts`, `last`, which
//! merge in any order), and the segments' partials are merged here.
//!
//! A statement computes only what the aggregate needs (`last_value` with
//! its ordering only for `last`), and groups by the `by` labels' values as
//! plain strings, or by the whole label map when there is no `by`; but
//! without `by`, over a tier whose windows are the steps, it reads the
//! stored rows as they are (each is a partial already, and grouping by a
//! label map costs more than reading them).

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampNanosecondType};
use strata_schemas::Tier;
use strata_schemas::agg::sample_cmp;

use strata_storage::Snapshot;

use super::indexed::{Kind, SeriesRows, group_of};
use super::{
    Coverage, Grid, Interner, Reader, SeriesAgg, SeriesPoints, SeriesRequest, bin, lit, predicates,
    resolution_ns, segments, table_of,
};
use crate::error::Result;
use strata_schemas::tier::col;

/// Partial aggregate of one group and step bucket; fields the aggregate
/// does not need keep their neutral value.
#[derive(Debug, Clone, Copy)]
struct Partial {
    count: i64,
    sum: f64,
    min: f64,
    max: f64,
    last_ts: i64,
    last: f64,
}

impl Default for Partial {
    fn default() -> Self {
        Self {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last_ts: i64::MIN,
            last: f64::NAN,
        }
    }
}

impl Partial {
    fn merge(&mut self, o: Partial) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        if sample_cmp((o.last_ts, o.last), (self.last_ts, self.last)).is_gt() {
            self.last_ts = o.last_ts;
            self.last = o.last;
        }
    }

    fn value(&self, agg: SeriesAgg) -> f64 {
        match agg {
            SeriesAgg::Avg => self.sum / self.count as f64,
            SeriesAgg::Min => self.min,
            SeriesAgg::Max => self.max,
            SeriesAgg::Sum => self.sum,
            SeriesAgg::Count => self.count as f64,
            SeriesAgg::Last => self.last,
            SeriesAgg::Rate | SeriesAgg::Increase => unreachable!("counters have their own path"),
        }
    }
}

/// Answers an `avg` … `last` request.
pub(super) async fn query(
    reader: &Reader<'_>,
    snapshot: &Snapshot,
    req: &SeriesRequest,
    grid: Grid,
    tier: Tier,
    cov: &Coverage,
) -> Result<Vec<SeriesPoints>> {
    let mut groups = Interner::default();
    let mut partials: Vec<Vec<(i64, Partial)>> = Vec::new();
    for seg in segments(tier, grid.first_ns, grid.end_ns(), cov) {
        if let Some(found) = reader
            .indexed(snapshot, req, seg, &indexed_columns(req.agg))
            .await?
        {
            for series in &found {
                indexed_partials(series, req, grid, &mut groups, &mut partials);
            }
            continue;
        }
        for b in &reader.sql(&statement(req, grid, seg)).await? {
            read_partials(b, req, &mut groups, &mut partials);
        }
    }
    let mut out: Vec<SeriesPoints> = groups
        .keys
        .into_iter()
        .zip(partials)
        .map(|(labels, mut partials)| {
            partials.sort_by_key(|p| p.0);
            let mut points: Vec<(i64, Partial)> = Vec::with_capacity(partials.len());
            for (t, p) in partials {
                match points.last_mut() {
                    Some(last) if last.0 == t => last.1.merge(p),
                    _ => points.push((t, p)),
                }
            }
            let points = points
                .into_iter()
                .map(|(t, p)| (t, p.value(req.agg)))
                .collect();
            (labels, points)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The group columns of a statement (named `g0`, `g1`, …).
fn group_columns(by: &Option<Vec<String>>) -> Vec<String> {
    match by {
        None => vec!["labels".into()],
        Some(by) => by
            .iter()
            .map(|name| format!("labels[{}]", lit(name)))
            .collect(),
    }
}

/// The partials of `seg` per group and step bucket: the group columns,
/// `t`, then the columns the aggregate needs among `count`, `sum`, `min`,
/// `max`, `last_ts`, `last`.
fn statement(req: &SeriesRequest, grid: Grid, seg: super::Segment) -> String {
    let raw = seg.tier == Tier::Raw;
    let pick = |of_raw: &str, of_parts: &str| if raw { of_raw } else { of_parts }.to_string();
    let values: Vec<(String, &str)> = match req.agg {
        SeriesAgg::Avg => vec![
            (pick("sum(value)", "sum(sum)"), "sum"),
            (pick("count(value)", "sum(count)"), "count"),
        ],
        SeriesAgg::Sum => vec![(pick("sum(value)", "sum(sum)"), "sum")],
        SeriesAgg::Count => vec![(pick("count(value)", "sum(count)"), "count")],
        SeriesAgg::Min => vec![(pick("min(value)", "min(min)"), "min")],
        SeriesAgg::Max => vec![(pick("max(value)", "max(max)"), "max")],
        SeriesAgg::Last => vec![
            (pick("max(ts)", "max(last_ts)"), "last_ts"),
            (
                pick(
                    "last_value(value ORDER BY ts, value)",
                    "last_value(last ORDER BY last_ts, last)",
                ),
                "last",
            ),
        ],
        SeriesAgg::Rate | SeriesAgg::Increase => unreachable!("counters have their own path"),
    };
    let mut columns: Vec<String> = group_columns(&req.by)
        .into_iter()
        .enumerate()
        .map(|(i, g)| format!("{g} AS g{i}"))
        .collect();
    let groups = columns.len();
    columns.push(format!("{} AS t", bin(grid, seg.tier.time_column())));
    columns.extend(
        values
            .iter()
            .map(|(expr, name)| format!("{expr} AS {name}")),
    );
    let group_by: Vec<String> = (1..=groups + 1).map(|i| i.to_string()).collect();
    let (table, preds) = (table_of(seg.tier), predicates(req, seg));
    if req.by.is_none() && resolution_ns(seg.tier) == grid.step_ns {
        // One window per point: the stored rows are the partials, and
        // reading them is cheaper than grouping them by their label map.
        let values = values.iter().map(|(_, name)| *name).collect::<Vec<_>>();
        return format!(
            "SELECT labels AS g0, bucket AS t, {} FROM {table} WHERE {preds}",
            values.join(", ")
        );
    }
    format!(
        "SELECT {} FROM {table} WHERE {preds} GROUP BY {}",
        columns.join(", "),
        group_by.join(", "),
    )
}

/// Adds the stored rows of one series read through a series index as
/// partials of its group, in the steps of `grid`.
fn indexed_partials(
    series: &SeriesRows,
    req: &SeriesRequest,
    grid: Grid,
    groups: &mut Interner,
    partials: &mut Vec<Vec<(i64, Partial)>>,
) {
    let id = groups.intern(group_of(&series.labels, &req.by).into_iter());
    if id == partials.len() {
        partials.push(Vec::new());
    }
    let b = &series.rows;
    let int = |name: &str| {
        b.column_by_name(name)
            .map(|c| c.as_primitive::<Int64Type>())
    };
    let float = |name: &str| {
        b.column_by_name(name)
            .map(|c| c.as_primitive::<Float64Type>())
    };
    let bucket = int(col::BUCKET).expect("bucket is always read");
    let (count, last_ts) = (int(col::COUNT), int(col::LAST_TS));
    let [sum, min, max, last] = [col::SUM, col::MIN, col::MAX, col::LAST].map(float);
    let out = &mut partials[id];
    out.reserve(b.num_rows());
    for r in 0..b.num_rows() {
        let t = bucket.value(r);
        let mut p = Partial::default();
        if let Some(c) = count {
            p.count = c.value(r);
        }
        for (field, c) in [(&mut p.sum, sum), (&mut p.min, min), (&mut p.max, max)] {
            if let Some(c) = c {
                *field = c.value(r);
            }
        }
        if let (Some(ts), Some(v)) = (last_ts, last) {
            p.last_ts = ts.value(r);
            p.last = v.value(r);
        }
        out.push((t - t.rem_euclid(grid.step_ns), p));
    }
}

/// The stored columns `agg` needs, `bucket` first.
fn indexed_columns(agg: SeriesAgg) -> Vec<(&'static str, Kind)> {
    let mut columns = vec![(col::BUCKET, Kind::Int)];
    columns.extend_from_slice(match agg {
        SeriesAgg::Avg => &[(col::SUM, Kind::Float), (col::COUNT, Kind::Int)][..],
        SeriesAgg::Sum => &[(col::SUM, Kind::Float)],
        SeriesAgg::Count => &[(col::COUNT, Kind::Int)],
        SeriesAgg::Min => &[(col::MIN, Kind::Float)],
        SeriesAgg::Max => &[(col::MAX, Kind::Float)],
        SeriesAgg::Last => &[(col::LAST_TS, Kind::Int), (col::LAST, Kind::Float)],
        SeriesAgg::Rate | SeriesAgg::Increase => unreachable!("counters have their own path"),
    });
    columns
}

/// Merges the partials of batch `b` of a [`statement`].
fn read_partials(
    b: &RecordBatch,
    req: &SeriesRequest,
    groups: &mut Interner,
    partials: &mut Vec<Vec<(i64, Partial)>>,
) {
    let schema = b.schema();
    let column = |name: &str| schema.index_of(name).ok().map(|i| b.column(i));
    let t = column("t")
        .expect("t")
        .as_primitive::<TimestampNanosecondType>();
    let count = column("count").map(|c| c.as_primitive::<Int64Type>());
    let [sum, min, max, last] =
        ["sum", "min", "max", "last"].map(|n| column(n).map(|c| c.as_primitive::<Float64Type>()));
    let last_ts = column("last_ts").map(|c| c.as_primitive::<TimestampNanosecondType>());
    for r in 0..b.num_rows() {
        let id = match &req.by {
            None => groups.id(b.column(0).as_map(), r),
            Some(names) => groups.id_of_values(b, r, names),
        };
        if id == partials.len() {
            partials.push(Vec::new());
        }
        let mut p = Partial::default();
        if let Some(c) = count {
            p.count = c.value(r);
        }
        for (field, c) in [(&mut p.sum, sum), (&mut p.min, min), (&mut p.max, max)] {
            if let Some(c) = c {
                *field = c.value(r);
            }
        }
        if let (Some(ts), Some(v)) = (last_ts, last) {
            p.last_ts = ts.value(r);
            p.last = v.value(r);
        }
        partials[id].push((t.value(r), p));
    }
}
