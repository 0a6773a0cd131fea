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
//! present. Each segment is one SQL statement with the metric name, time
//! range and matchers as predicates (so files and row groups prune), run
//! under the engine's limits and result cache ([`QueryEngine::run`]). The
//! aggregated tiers are read as their stored parts, not through the
//! merging views: every aggregate here merges parts itself, and the views'
//! merge per window would cost more than the rest of the answer.
//!
//! Gauge aggregates over an aggregated tier skip SQL where they can: files
//! whose series have several rows carry a series index in their footer
//! ([`strata_storage::series_index`]), and [`indexed`] reads only the rows
//! of the matching series, never decoding the `labels` column (most of a
//! SQL statement's cost: every row of the metric, to keep the few that
//! match). A segment with a file without an index, or whose selected rows
//! exceed the memory limit, is read with SQL; counters always are.
//! - `avg` … `last`: per group and step bucket from the mergeable columns
//!   (`Σsum`, `Σcount`, `min`, `max`, latest `last`; raw values for raw),
//!   merged across segments (`series/gauge.rs`);
//! - `rate`, `increase`: per series (the seams of a reset-corrected
//!   counter need each series' own samples in order), the rows as stored
//!   (`first_ts, first, last_ts, last, increase` of each part; raw
//!   samples), a window's parts folded as the views fold them, windows
//!   chained and the seams added in Rust (`series/counter.rs`). The
//!   statements read one step before the first point, where a bucket's
//!   first sample may find its predecessor.
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
mod gauge;
pub(crate) mod indexed;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, MapArray, RecordBatch, StringArray};
use datafusion::catalog::TableProvider;
use datafusion::prelude::SessionContext;
use strata_schemas::Tier;
use strata_storage::Snapshot;

pub use coverage::{Coverage, Segment, coverage, resolution_ns, rollup_digest, segments};

use crate::engine::QueryEngine;
use crate::error::{Error, Result};
use crate::guard;

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
    let reader = Reader::new(engine)?;
    let series = match req.agg {
        SeriesAgg::Rate | SeriesAgg::Increase => {
            counter::query(&reader, snapshot, &req, grid, tier, &cov).await?
        }
        _ => gauge::query(&reader, snapshot, &req, grid, tier, &cov).await?,
    };
    Ok((tier, series))
}

/// Runs the statements of the series and metadata APIs.
///
/// A session of the engine's ([`QueryEngine::new_session`]) in which the
/// stored parts of `1m` and `1h` have names of their own
/// ([`table_of`]): these APIs merge parts themselves (every aggregate
/// here is associative over parts; counters fold a window's parts with
/// [`crate::merge::merge_parts`], as the views do), and skipping the
/// views' merge per window is most of their speed. Statements pass the
/// read-only guard and run through [`QueryEngine::run`], under the
/// engine's limits and with its result cache.
pub(crate) struct Reader<'a> {
    engine: &'a QueryEngine,
    ctx: SessionContext,
}

impl<'a> Reader<'a> {
    /// A reader over `engine`'s tables.
    pub(crate) fn new(engine: &'a QueryEngine) -> Result<Self> {
        let ctx = engine.new_session()?;
        for tier in Tier::AGGREGATED {
            let parts: Arc<dyn TableProvider> = Arc::clone(engine.table(tier)) as _;
            ctx.register_table(table_of(tier), parts)?;
        }
        Ok(Self { engine, ctx })
    }

    /// The rows of `req`'s series in `seg` through the files' series
    /// indexes, as a statement under the engine's limits; `None` when the
    /// segment must be read with SQL ([`indexed`]).
    pub(crate) async fn indexed(
        &self,
        snapshot: &Snapshot,
        req: &SeriesRequest,
        seg: Segment,
        columns: &[(&'static str, indexed::Kind)],
    ) -> Result<Option<Vec<indexed::SeriesRows>>> {
        let options = self.engine.options();
        if seg.tier == Tier::Raw || !options.series_index {
            return Ok(None);
        }
        let read = indexed::read(
            self.engine.objects(),
            self.engine.footers(),
            snapshot,
            req,
            seg,
            columns,
            options.memory_limit,
        );
        self.engine.guarded(None, read).await
    }

    /// The result of one read-only statement.
    pub(crate) async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        guard::check(sql)?;
        let frame = self.ctx.sql_with_options(sql, guard::sql_options()).await?;
        Ok(self.engine.run(frame, None).await?.1)
    }
}

/// The table a [`Reader`] reads `tier` from: raw samples, or the stored
/// parts of an aggregated tier (the stored schema, [`Tier::schema`]).
pub(crate) fn table_of(tier: Tier) -> &'static str {
    match tier {
        Tier::Raw => "metrics_raw",
        Tier::Minute => "metrics_1m_parts",
        Tier::Hour => "metrics_1h_parts",
    }
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

/// Numbers the distinct label sets of result rows, reading the strings in
/// place: a label set is copied once, when first seen. Rows of one series
/// usually follow each other (files are sorted by series), so the previous
/// row's set is tried first.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<u64, Vec<usize>>,
    keys: Vec<LabelPairs>,
    last: Option<usize>,
}

impl Interner {
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

    /// The id of the group in row `r` of `b`, whose first columns are the
    /// values of the labels `names` (null: absent).
    fn id_of_values(&mut self, b: &RecordBatch, r: usize, names: &[String]) -> usize {
        let pairs = names.iter().enumerate().filter_map(|(i, name)| {
            let values = b.column(i).as_string::<i32>();
            values.is_valid(r).then(|| (name.as_str(), values.value(r)))
        });
        self.intern(pairs)
    }

    /// The id of the label set `pairs`.
    fn intern<'a>(&mut self, pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> usize {
        let same = |key: &LabelPairs| {
            key.len() == pairs.clone().count()
                && key
                    .iter()
                    .zip(pairs.clone())
                    .all(|((k, v), (a, b))| k == a && v == b)
        };
        if let Some(id) = self.last
            && same(&self.keys[id])
        {
            return id;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        pairs.clone().for_each(|p| p.hash(&mut h));
        let candidates = self.ids.entry(h.finish()).or_default();
        let id = match candidates.iter().find(|&&id| same(&self.keys[id])) {
            Some(&id) => id,
            None => {
                let id = self.keys.len();
                candidates.push(id);
                self.keys
                    .push(pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect());
                id
            }
        };
        self.last = Some(id);
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
