//! Dashboard series: `GET /api/v1/series` ([`crate::http::series`])
//! answered from the tier that fits the step.
//!
//! # Points
//! A request names a metric, label matchers, a range `[start, end)`, a
//! `step` and an aggregate. Points sit at multiples of `step` since the
//! Unix epoch (as Grafana aligns Prometheus queries), from the one at or
//! before `start` to the last one before `end`; the point at `t` aggregates
//! the samples in `[t, t + step)` of every series in its group (`by`
//! labels; without `by` each series is its own group). A group has a point
//! where one of its series has a sample. At most [`MAX_POINTS`] points per
//! series (Prometheus's limit of 11,000): a request for more is refused.
//!
//! Aggregates (`sum` and `count` are over samples, not over series):
//! - `avg` = Σ values / number of samples; `sum` = Σ values; `count` =
//!   number of samples; `min`, `max`; `last` = the value of the latest
//!   sample (ties in time: the larger value, the order of
//!   [`strata_schemas::agg::sample_cmp`]).
//! - `increase` of a series at `t`: the reset-corrected growth
//!   ([`strata_schemas::agg::counter_delta`]: a drop is a reset to zero)
//!   over every pair of consecutive samples `(a, b)` of the series with `b`
//!   in `[t, t + step)` and `a` at or after `t − step`. That is the growth
//!   from the last sample before the bucket, if it is less than a step old,
//!   to the last sample in the bucket: consecutive buckets add up to the
//!   counter's whole growth, every pair counted once, in the bucket of its
//!   later sample. Prometheus's `increase(c[step])` evaluated at `t + step`
//!   sees only the pairs inside `(t, t + step]` and extrapolates the result
//!   to the window's edges; Strata never extrapolates, and counts the pair
//!   straddling the bucket's start instead, so a counter scraped every 15 s
//!   shows, per 1-minute step, the growth of 4 intervals rather than an
//!   extrapolation of 3. A point depends only on samples in
//!   `[t − step, t + step)`, so it does not change with `start`. A group's
//!   increase is the sum over its series.
//! - `rate` = `increase` / step in seconds (the average per-second growth
//!   over the bucket, not over the span between its samples).
//!
//! # Tiers
//! The answer reads the coarsest tier whose windows tile every step
//! ([`choose_tier`]: `1h` for whole hours, `1m` for whole minutes, else raw;
//! points on multiples of the step then start on the tier's windows, so a
//! bucket is a union of whole windows). Where that tier is not complete
//! yet the range is read from finer ones ([`segments`], [`Coverage`]):
//! `1h` up to the last hour whose rollup is current, `1m` for hours whose
//! rollup lags and for the newest hour, raw for the minutes whose windows
//! are still open. Segments are disjoint and cover the range, so no sample
//! is lost or counted twice at tier boundaries, and the newest points are
//! present. Each segment is one SQL statement through
//! [`QueryEngine::sql`], with the metric name, time range and matchers as
//! predicates (so files and row groups prune), grouped by step bucket:
//! - `avg` … `last` per group from the tiers' mergeable columns (`Σsum`,
//!   `Σcount`, `min`, `max`, latest `last`), merged across segments;
//! - `rate`, `increase` per series (the seams of a reset-corrected counter
//!   need each series' own samples): per bucket the first and last sample
//!   and the increase inside, from `first_ts, first, last_ts, last,
//!   increase` of the windows in order (adding the seam between
//!   consecutive windows) or from the raw values in order; then the seams
//!   between buckets in Rust (`series/counter.rs`). The statements read
//!   one step before the first point, where a bucket's first sample may
//!   find its predecessor.
//!
//! Thanos reads a tier only when its resolution is at most step/5, since
//! its range functions need several points per window; here a point is
//! the aggregate of its bucket, computed exactly from whole windows, so a
//! window as long as the step suffices. A step that is not a whole number
//! of hours over a range older than the `1m` retention (30 days) finds
//! nothing there: only `1h` is kept that long.
//!
//! The aggregated tiers reproduce raw exactly but for the order of
//! floating-point additions, with one documented exception: a `1m` window
//! whose parts interleave in time (late samples) carries an estimated
//! increase until compaction recomputes it from raw (see
//! [`strata_schemas::agg`]).

mod counter;
mod coverage;

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use datafusion::arrow::array::{Array, AsArray, MapArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampNanosecondType};
use strata_schemas::Tier;
use strata_schemas::agg::sample_cmp;
use strata_storage::Snapshot;

pub use coverage::{Coverage, Segment, coverage, resolution_ns, rollup_digest, segments};

use crate::engine::QueryEngine;
use crate::error::{Error, Result};

/// Most points one series of an answer may have, as in Prometheus.
pub const MAX_POINTS: i64 = 11_000;

/// The aggregate a dashboard asks for per step (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesAgg {
    /// Σ values / number of samples.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Σ values.
    Sum,
    /// Number of samples.
    Count,
    /// The latest value.
    Last,
    /// Counter increase per second of step.
    Rate,
    /// Counter increase.
    Increase,
}

impl SeriesAgg {
    /// Every aggregate, for tests and help texts.
    pub const ALL: [SeriesAgg; 8] = [
        Self::Avg,
        Self::Min,
        Self::Max,
        Self::Sum,
        Self::Count,
        Self::Last,
        Self::Rate,
        Self::Increase,
    ];

    /// The name used in requests.
    pub fn name(self) -> &'static str {
        match self {
            Self::Avg => "avg",
            Self::Min => "min",
            Self::Max => "max",
            Self::Sum => "sum",
            Self::Count => "count",
            Self::Last => "last",
            Self::Rate => "rate",
            Self::Increase => "increase",
        }
    }
}

impl std::str::FromStr for SeriesAgg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                format!("unknown agg {s:?}: one of avg, min, max, sum, count, last, rate, increase")
            })
    }
}

/// The coarsest tier whose windows tile `step_ns`: a 1-minute step reads
/// `1m`, a 1-hour step `1h`, anything finer than a minute, or not a whole
/// number of minutes, raw.
pub fn choose_tier(step_ns: i64) -> Tier {
    [Tier::Hour, Tier::Minute]
        .into_iter()
        .find(|t| resolution_ns(*t) <= step_ns && step_ns % resolution_ns(*t) == 0)
        .unwrap_or(Tier::Raw)
}

/// One label matcher of the `match` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatch {
    /// Label name.
    pub name: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// Value or (anchored) regular expression.
    pub value: String,
}

/// A dashboard series request.
#[derive(Debug, Clone)]
pub struct SeriesRequest {
    /// Metric name.
    pub metric: String,
    /// Label matchers (a missing label matches as empty, as in Prometheus).
    pub matchers: Vec<LabelMatch>,
    /// Start, Unix ns: the first point is the multiple of `step_ns` at or
    /// before it.
    pub start_ns: i64,
    /// End, exclusive, Unix ns.
    pub end_ns: i64,
    /// Step, ns.
    pub step_ns: i64,
    /// Aggregate per step.
    pub agg: SeriesAgg,
    /// Group by these labels (`None`: one series per label set; empty: all
    /// series in one group).
    pub by: Option<Vec<String>>,
}

/// The points a request answers: `first_ns + k · step_ns` for
/// `k < points`, each aggregating `[t, t + step_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// The first point, a multiple of `step_ns`.
    pub first_ns: i64,
    /// Step, ns.
    pub step_ns: i64,
    /// Number of points.
    pub points: i64,
}

impl Grid {
    /// The points of `req`, or why the request is refused: a step that is
    /// not positive, an end before the start, more than [`MAX_POINTS`].
    pub fn of(req: &SeriesRequest) -> Result<Grid> {
        let step = req.step_ns;
        if step <= 0 {
            return Err(Error::BadRequest(format!(
                "step must be positive, got {}",
                seconds(step)
            )));
        }
        if req.end_ns < req.start_ns {
            return Err(Error::BadRequest(format!(
                "end ({}) is before start ({})",
                seconds(req.end_ns),
                seconds(req.start_ns)
            )));
        }
        let first_ns = req.start_ns.div_euclid(step) * step;
        let points = (i128::from(req.end_ns) - i128::from(first_ns) + i128::from(step) - 1)
            / i128::from(step);
        if points > i128::from(MAX_POINTS) {
            return Err(Error::BadRequest(format!(
                "{points} points per series exceed the maximum of 11,000 \
                 (Prometheus's limit): increase step or narrow the range"
            )));
        }
        Ok(Grid {
            first_ns,
            step_ns: step,
            points: points as i64,
        })
    }

    /// The end of the last point's bucket: the range read.
    pub fn end_ns(&self) -> i64 {
        self.first_ns + self.points * self.step_ns
    }
}

/// Unix ns as seconds, for messages and answers: whole seconds when exact.
pub fn seconds(ns: i64) -> serde_json::Value {
    if ns % 1_000_000_000 == 0 {
        (ns / 1_000_000_000).into()
    } else {
        (ns as f64 / 1e9).into()
    }
}

/// A series' (or group's) label pairs.
pub type LabelPairs = Vec<(String, String)>;

/// One answered series: its (group) labels and points `(unix ns, value)`,
/// in time order.
pub type SeriesPoints = (LabelPairs, Vec<(i64, f64)>);

/// Answers `req` over `snapshot`: the tier that fits the step, and the
/// series sorted by labels.
pub async fn query(
    engine: &QueryEngine,
    snapshot: &Snapshot,
    req: &SeriesRequest,
) -> Result<(Tier, Vec<SeriesPoints>)> {
    let grid = Grid::of(req)?;
    let mut req = req.clone();
    if let Some(by) = &mut req.by {
        let mut seen = std::collections::HashSet::new();
        by.retain(|l| seen.insert(l.clone()));
    }
    let tier = choose_tier(req.step_ns);
    let cov = coverage(snapshot);
    let series = match req.agg {
        SeriesAgg::Rate | SeriesAgg::Increase => {
            counter::query(engine, &req, grid, tier, &cov).await?
        }
        _ => gauges(engine, &req, grid, tier, &cov).await?,
    };
    Ok((tier, series))
}

/// Partial aggregate of one group and step bucket.
#[derive(Debug, Clone, Copy)]
struct Partial {
    count: i64,
    sum: f64,
    min: f64,
    max: f64,
    last_ts: i64,
    last: f64,
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

/// `avg` … `last`: partial aggregates per group and bucket from each
/// segment, merged.
async fn gauges(
    engine: &QueryEngine,
    req: &SeriesRequest,
    grid: Grid,
    tier: Tier,
    cov: &Coverage,
) -> Result<Vec<SeriesPoints>> {
    let mut groups = Interner::default();
    let mut merged: Vec<BTreeMap<i64, Partial>> = Vec::new();
    for seg in segments(tier, grid.first_ns, grid.end_ns(), cov) {
        let (_, batches) = engine.sql(&gauge_sql(req, grid, seg)).await?;
        for b in &batches {
            let t = b.column(1).as_primitive::<TimestampNanosecondType>();
            let count = b.column(2).as_primitive::<Int64Type>();
            let [sum, min, max, last] =
                [3, 4, 5, 7].map(|i| b.column(i).as_primitive::<Float64Type>());
            let last_ts = b.column(6).as_primitive::<TimestampNanosecondType>();
            for r in 0..b.num_rows() {
                let id = groups.id_of_group(b, r);
                if id == merged.len() {
                    merged.push(BTreeMap::new());
                }
                let p = Partial {
                    count: count.value(r),
                    sum: sum.value(r),
                    min: min.value(r),
                    max: max.value(r),
                    last_ts: last_ts.value(r),
                    last: last.value(r),
                };
                merged[id]
                    .entry(t.value(r))
                    .and_modify(|m| m.merge(p))
                    .or_insert(p);
            }
        }
    }
    let mut out: Vec<SeriesPoints> = groups
        .keys
        .into_iter()
        .zip(merged)
        .map(|(labels, points)| {
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

/// SQL string literal.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `date_bin` of `time` into the steps of `grid` (multiples of the step
/// since the epoch).
fn bin(grid: Grid, time: &str) -> String {
    format!(
        "date_bin(INTERVAL '{} nanoseconds', {time}, to_timestamp_nanos(0))",
        grid.step_ns
    )
}

/// The predicates on metric name, time and labels of `req` over `seg`.
fn predicates(req: &SeriesRequest, seg: Segment) -> String {
    let time = seg.tier.time_column();
    let mut preds = vec![
        format!("metric_name = {}", lit(&req.metric)),
        format!("{time} >= to_timestamp_nanos({})", seg.from_ns),
        format!("{time} < to_timestamp_nanos({})", seg.to_ns),
    ];
    preds.extend(matcher_predicates(&req.matchers));
    preds.join(" AND ")
}

/// SQL predicates for label matchers: a missing label matches as empty,
/// regular expressions are anchored, as in Prometheus.
pub(crate) fn matcher_predicates(matchers: &[LabelMatch]) -> Vec<String> {
    matchers
        .iter()
        .map(|m| {
            let v = format!("coalesce(labels[{}], '')", lit(&m.name));
            let re = || lit(&format!("^(?:{})$", m.value));
            match m.op.as_str() {
                "=" => format!("{v} = {}", lit(&m.value)),
                "!=" => format!("{v} <> {}", lit(&m.value)),
                "=~" => format!("regexp_like({v}, {})", re()),
                _ => format!("NOT regexp_like({v}, {})", re()),
            }
        })
        .collect()
}

/// The group column of a statement: the labels named by `by` (as a map),
/// all labels, or none at all (one group: `by` is empty).
fn group_column(by: &Option<Vec<String>>) -> Option<String> {
    match by {
        None => Some("labels".into()),
        Some(by) if by.is_empty() => None,
        Some(by) => {
            let names: Vec<String> = by.iter().map(|l| lit(l)).collect();
            let values: Vec<String> = by.iter().map(|l| format!("labels[{}]", lit(l))).collect();
            Some(format!(
                "map([{}], [{}])",
                names.join(", "),
                values.join(", ")
            ))
        }
    }
}

/// The partial aggregates of `seg`, per group and step bucket: columns
/// g (map), t, count, sum, min, max, last_ts, last; without g when all
/// series form one group, the others shifted by one.
fn gauge_sql(req: &SeriesRequest, grid: Grid, seg: Segment) -> String {
    let (time, count, sum, min, max, last_ts, last) = match seg.tier {
        Tier::Raw => (
            "ts",
            "count(value)",
            "sum(value)",
            "min(value)",
            "max(value)",
            "max(ts)",
            "last_value(value ORDER BY ts, value)",
        ),
        _ => (
            "bucket",
            "sum(count)",
            "sum(sum)",
            "min(min)",
            "max(max)",
            "max(last_ts)",
            "last_value(last ORDER BY last_ts, last)",
        ),
    };
    let group = group_column(&req.by).unwrap_or_else(|| "NULL".into());
    format!(
        "SELECT {group} AS g, {t} AS t, {count} AS count, {sum} AS sum, {min} AS min, \
         {max} AS max, {last_ts} AS last_ts, {last} AS last \
         FROM {table} WHERE {preds} GROUP BY 1, 2",
        t = bin(grid, time),
        table = seg.tier.table_name(),
        preds = predicates(req, seg),
    )
}

/// Numbers the distinct label sets of column 0 of result batches (a map,
/// or null for the one group of an empty `by`), reading the strings in
/// place: a label set is copied once, when first seen.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<u64, Vec<usize>>,
    keys: Vec<LabelPairs>,
}

impl Interner {
    /// The id of row `r`'s group in column 0 of `b`.
    fn id_of_group(&mut self, b: &RecordBatch, r: usize) -> usize {
        match b.column(0).as_any().downcast_ref::<MapArray>() {
            Some(map) => self.id(map, r),
            None => self.intern(std::iter::empty()),
        }
    }

    /// The id of the label set in row `r` of `map` (null values dropped).
    fn id(&mut self, map: &MapArray, r: usize) -> usize {
        let offsets = map.value_offsets();
        let keys: &StringArray = map.keys().as_string();
        let values: &StringArray = map.values().as_string();
        let pairs = (offsets[r] as usize..offsets[r + 1] as usize)
            .filter(|&i| values.is_valid(i))
            .map(|i| (keys.value(i), values.value(i)));
        self.intern(pairs)
    }

    /// The id of the label set `pairs`.
    fn intern<'a>(&mut self, pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        pairs.clone().for_each(|p| p.hash(&mut h));
        let candidates = self.ids.entry(h.finish()).or_default();
        for &id in candidates.iter() {
            let key = &self.keys[id];
            if key.len() == pairs.clone().count()
                && key
                    .iter()
                    .zip(pairs.clone())
                    .all(|((k, v), (a, b))| k == a && v == b)
            {
                return id;
            }
        }
        let id = self.keys.len();
        candidates.push(id);
        self.keys
            .push(pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect());
        id
    }
}

#[cfg(test)]
mod tests {
    use strata_schemas::tier::{HOUR_NS, MINUTE_NS};

    use super::*;

    #[test]
    fn tiers_fit_the_step() {
        assert_eq!(choose_tier(15_000_000_000), Tier::Raw);
        assert_eq!(choose_tier(MINUTE_NS), Tier::Minute);
        assert_eq!(choose_tier(5 * MINUTE_NS), Tier::Minute);
        assert_eq!(choose_tier(90_000_000_000), Tier::Raw, "not whole minutes");
        assert_eq!(choose_tier(HOUR_NS), Tier::Hour);
        assert_eq!(choose_tier(24 * HOUR_NS), Tier::Hour);
    }

    fn request(start_ns: i64, end_ns: i64, step_ns: i64) -> SeriesRequest {
        SeriesRequest {
            metric: "m".into(),
            matchers: vec![],
            start_ns,
            end_ns,
            step_ns,
            agg: SeriesAgg::Avg,
            by: None,
        }
    }

    #[test]
    fn points_sit_on_multiples_of_the_step() {
        let g = Grid::of(&request(HOUR_NS + 1, 3 * HOUR_NS, HOUR_NS)).unwrap();
        assert_eq!(
            (g.first_ns, g.points, g.end_ns()),
            (HOUR_NS, 2, 3 * HOUR_NS)
        );
        let g = Grid::of(&request(HOUR_NS, 3 * HOUR_NS + 1, HOUR_NS)).unwrap();
        assert_eq!((g.first_ns, g.points), (HOUR_NS, 3));
        let g = Grid::of(&request(HOUR_NS, HOUR_NS, MINUTE_NS)).unwrap();
        assert_eq!(g.points, 0);
        let day = 24 * HOUR_NS;
        assert_eq!(
            Grid::of(&request(0, 11_000 * MINUTE_NS, MINUTE_NS))
                .unwrap()
                .points,
            11_000
        );
        for (req, needle) in [
            (request(0, day, 0), "step must be positive"),
            (request(0, day, -MINUTE_NS), "step must be positive"),
            (request(day, 0, MINUTE_NS), "before start"),
            (request(0, day, 1_000_000_000), "86400 points"),
            (
                request(i64::MIN, i64::MAX, 1),
                "exceed the maximum of 11,000",
            ),
        ] {
            let err = Grid::of(&req).unwrap_err();
            assert!(
                err.is_user_error() && err.to_string().contains(needle),
                "{err}"
            );
        }
    }
}
