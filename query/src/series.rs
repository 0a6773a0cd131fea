//! WIP (issue 5): dashboard series, `GET /api/v1/series`.
//!
//! Done: the request, the choice of tier, the split of the time range
//! into segments read from different tiers (coarse where the coarse tier
//! is complete, finer after it, so the newest points, whose windows are
//! still open, are never missing), one SQL query per segment into partial
//! aggregates per group and step bucket (metric name, time and label
//! matchers as predicates, so files prune), merged in Rust across
//! segments; avg, min, max, sum, count, last; `GET /api/v1/series`
//! (`http/series.rs`). Tested over raw data only (`query/tests/series.rs`).
//!
//! To do (next session):
//! - rate/increase: needs per-series rows, not group partials. Suggested
//!   shape: fetch per series ordered *pieces* (`first_ts, first, last_ts,
//!   last, increase`; a raw point is a piece with first = last and
//!   increase 0) from every segment; a step bucket's increase is the sum
//!   of its pieces' `increase` plus each seam from the previous piece's
//!   `last` to this piece's `first` (the difference, or `first` itself
//!   after a reset), the seam counted in the bucket of the later piece;
//!   then summed per `by` group; rate = increase / step seconds;
//! - metadata endpoints (`/api/v1/metrics`, `labels`, `label/NAME/values`);
//! - tests: 1m/1h points equal the same aggregation from raw on random
//!   data, and the newest minute present at the open-window edge;
//! - `coverage` trusts the newest `1h` file and the smallest window mark;
//!   check it against a rollup that lags.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, MapArray};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampNanosecondType};
use strata_schemas::Tier;
use strata_schemas::tier::{HOUR_NS, MINUTE_NS};
use strata_storage::Snapshot;

use crate::engine::QueryEngine;
use crate::error::{Error, Result};

/// The aggregate a dashboard asks for per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesAgg {
    /// Σsum / Σcount.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Σsum.
    Sum,
    /// Σcount.
    Count,
    /// The latest value.
    Last,
    /// Counter increase per second.
    Rate,
    /// Counter increase.
    Increase,
}

impl std::str::FromStr for SeriesAgg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "avg" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "sum" => Self::Sum,
            "count" => Self::Count,
            "last" => Self::Last,
            "rate" => Self::Rate,
            "increase" => Self::Increase,
            other => {
                return Err(format!(
                    "unknown agg {other:?}: one of avg, min, max, sum, count, last, rate, increase"
                ));
            }
        })
    }
}

/// Resolution of a tier's rows in nanoseconds (0: raw samples).
pub fn resolution_ns(tier: Tier) -> i64 {
    match tier {
        Tier::Raw => 0,
        Tier::Minute => MINUTE_NS,
        Tier::Hour => HOUR_NS,
    }
}

/// The coarsest tier whose resolution fits `step_ns`: a 1-minute step reads
/// `1m`, a 1-hour step `1h`, anything finer than a minute raw.
pub fn choose_tier(step_ns: i64) -> Tier {
    [Tier::Hour, Tier::Minute]
        .into_iter()
        .find(|t| resolution_ns(*t) <= step_ns && step_ns % resolution_ns(*t) == 0)
        .unwrap_or(Tier::Raw)
}

/// A part of the asked range read from one tier: `[from_ns, to_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The tier read.
    pub tier: Tier,
    /// Start, inclusive.
    pub from_ns: i64,
    /// End, exclusive.
    pub to_ns: i64,
}

/// How far each aggregated tier is complete: every window before
/// `minute_ns` is final in `1m` (the smallest window mark of the log), and
/// every hour before `hour_ns` in `1h` (rolled up from final minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Coverage {
    /// `1m` is complete before this time.
    pub minute_ns: Option<i64>,
    /// `1h` is complete before this time.
    pub hour_ns: Option<i64>,
}

/// Splits `[from_ns, to_ns)` into segments: `tier` where it is complete,
/// then each finer tier up to where it is complete, raw for the rest.
/// Boundaries fall on the coarser tier's windows.
pub fn segments(tier: Tier, from_ns: i64, to_ns: i64, cov: Coverage) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut at = from_ns;
    let chain: &[(Tier, Option<i64>)] = match tier {
        Tier::Hour => &[(Tier::Hour, cov.hour_ns), (Tier::Minute, cov.minute_ns)],
        Tier::Minute => &[(Tier::Minute, cov.minute_ns)],
        Tier::Raw => &[],
    };
    for &(t, complete) in chain {
        let res = resolution_ns(t);
        let Some(complete) = complete else { continue };
        // Whole windows only.
        let end = complete.div_euclid(res) * res;
        let end = end.min(to_ns);
        if end > at {
            out.push(Segment {
                tier: t,
                from_ns: at,
                to_ns: end,
            });
            at = end;
        }
    }
    if at < to_ns {
        out.push(Segment {
            tier: Tier::Raw,
            from_ns: at,
            to_ns,
        });
    }
    out
}

/// How far the aggregated tiers are complete in `snapshot`.
pub fn coverage(snapshot: &Snapshot) -> Coverage {
    let minute_ns = snapshot
        .windows
        .values()
        .flat_map(|p| p.values())
        .map(|m| m.closed_before_ns)
        .min();
    let newest_hour = snapshot
        .files_of(Tier::Hour.dir())
        .map(|f| f.max_ts_ns.div_euclid(HOUR_NS) * HOUR_NS + HOUR_NS)
        .max();
    let hour_ns = match (minute_ns, newest_hour) {
        (Some(m), Some(h)) => Some((m.div_euclid(HOUR_NS) * HOUR_NS).min(h)),
        _ => None,
    };
    Coverage { minute_ns, hour_ns }
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
    /// Start, inclusive, Unix ns.
    pub start_ns: i64,
    /// End, exclusive, Unix ns.
    pub end_ns: i64,
    /// Step, ns.
    pub step_ns: i64,
    /// Aggregate per step.
    pub agg: SeriesAgg,
    /// Group by these labels (`None`: one series per label set).
    pub by: Option<Vec<String>>,
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
        if o.last_ts >= self.last_ts {
            self.last_ts = o.last_ts;
            self.last = o.last;
        }
    }

    fn value(&self, agg: SeriesAgg) -> Result<f64> {
        Ok(match agg {
            SeriesAgg::Avg => self.sum / self.count as f64,
            SeriesAgg::Min => self.min,
            SeriesAgg::Max => self.max,
            SeriesAgg::Sum => self.sum,
            SeriesAgg::Count => self.count as f64,
            SeriesAgg::Last => self.last,
            SeriesAgg::Rate | SeriesAgg::Increase => {
                return Err(Error::BadRequest(
                    "rate and increase: not built yet (WIP)".into(),
                ));
            }
        })
    }
}

/// A series' (or group's) label pairs.
pub type LabelPairs = Vec<(String, String)>;

/// One answered series: its (group) labels and points `(unix seconds, value)`.
pub type SeriesPoints = (LabelPairs, Vec<(i64, f64)>);

/// Answers `req`: the tier read and the series.
pub async fn query(
    engine: &QueryEngine,
    snapshot: &Snapshot,
    req: &SeriesRequest,
) -> Result<(Tier, Vec<SeriesPoints>)> {
    if req.step_ns <= 0 || req.end_ns <= req.start_ns {
        return Err(Error::BadRequest("need step > 0 and end > start".into()));
    }
    let tier = choose_tier(req.step_ns);
    let mut merged: BTreeMap<(LabelPairs, i64), Partial> = BTreeMap::new();
    for seg in segments(tier, req.start_ns, req.end_ns, coverage(snapshot)) {
        let sql = segment_sql(req, seg);
        let (_, batches) = engine.sql(&sql).await?;
        for b in &batches {
            let labels = b
                .column(0)
                .as_any()
                .downcast_ref::<MapArray>()
                .expect("labels map");
            let t = b.column(1).as_primitive::<TimestampNanosecondType>();
            let count = b.column(2).as_primitive::<Int64Type>();
            let [sum, min, max, last] =
                [3, 4, 5, 7].map(|i| b.column(i).as_primitive::<Float64Type>());
            let last_ts = b.column(6).as_primitive::<TimestampNanosecondType>();
            for r in 0..b.num_rows() {
                let entry = labels.value(r);
                let (k, v) = (
                    entry.column(0).as_string::<i32>(),
                    entry.column(1).as_string::<i32>(),
                );
                let key: LabelPairs = (0..k.len())
                    .filter(|&i| !v.is_null(i))
                    .map(|i| (k.value(i).to_string(), v.value(i).to_string()))
                    .collect();
                let p = Partial {
                    count: count.value(r),
                    sum: sum.value(r),
                    min: min.value(r),
                    max: max.value(r),
                    last_ts: last_ts.value(r),
                    last: last.value(r),
                };
                merged
                    .entry((key, t.value(r)))
                    .and_modify(|m| m.merge(p))
                    .or_insert(p);
            }
        }
    }
    let mut out: BTreeMap<LabelPairs, Vec<(i64, f64)>> = BTreeMap::new();
    for ((labels, t), p) in merged {
        out.entry(labels)
            .or_default()
            .push((t.div_euclid(1_000_000_000), p.value(req.agg)?));
    }
    Ok((tier, out.into_iter().collect()))
}

/// SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The partial aggregates of `seg`, per group and step bucket: columns
/// labels (map), t, count, sum, min, max, last_ts, last.
fn segment_sql(req: &SeriesRequest, seg: Segment) -> String {
    let (time, count, sum, min, max, last_ts, last) = match seg.tier {
        Tier::Raw => (
            "ts",
            "count(value)",
            "sum(value)",
            "min(value)",
            "max(value)",
            "max(ts)",
            "last_value(value ORDER BY ts)",
        ),
        _ => (
            "bucket",
            "sum(count)",
            "sum(sum)",
            "min(min)",
            "max(max)",
            "max(last_ts)",
            "last_value(last ORDER BY last_ts)",
        ),
    };
    let group = match &req.by {
        None => "labels".to_string(),
        Some(by) => {
            let names: Vec<String> = by.iter().map(|l| lit(l)).collect();
            let values: Vec<String> = by.iter().map(|l| format!("labels[{}]", lit(l))).collect();
            format!("map([{}], [{}])", names.join(", "), values.join(", "))
        }
    };
    let mut preds = vec![
        format!("metric_name = {}", lit(&req.metric)),
        format!("{time} >= to_timestamp_nanos({})", seg.from_ns),
        format!("{time} < to_timestamp_nanos({})", seg.to_ns),
    ];
    for m in &req.matchers {
        let v = format!("coalesce(labels[{}], '')", lit(&m.name));
        preds.push(match m.op.as_str() {
            "=" => format!("{v} = {}", lit(&m.value)),
            "!=" => format!("{v} <> {}", lit(&m.value)),
            "=~" => format!("regexp_like({v}, {})", lit(&format!("^(?:{})$", m.value))),
            _ => format!(
                "NOT regexp_like({v}, {})",
                lit(&format!("^(?:{})$", m.value))
            ),
        });
    }
    format!(
        "SELECT {group} AS g, date_bin(INTERVAL '{step} nanoseconds', {time}, to_timestamp_nanos({start})) AS t, \
         {count} AS count, {sum} AS sum, {min} AS min, {max} AS max, {last_ts} AS last_ts, {last} AS last \
         FROM {table} WHERE {preds} GROUP BY 1, 2",
        step = req.step_ns,
        start = req.start_ns,
        table = seg.tier.table_name(),
        preds = preds.join(" AND "),
    )
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn the_newest_part_comes_from_finer_tiers() {
        let day = 24 * HOUR_NS;
        let cov = Coverage {
            minute_ns: Some(day - 90_000_000_000),
            hour_ns: Some(day - 2 * HOUR_NS),
        };
        let s = segments(Tier::Hour, 0, day, cov);
        assert_eq!(
            s,
            [
                Segment {
                    tier: Tier::Hour,
                    from_ns: 0,
                    to_ns: day - 2 * HOUR_NS
                },
                Segment {
                    tier: Tier::Minute,
                    from_ns: day - 2 * HOUR_NS,
                    to_ns: day - 2 * MINUTE_NS
                },
                Segment {
                    tier: Tier::Raw,
                    from_ns: day - 2 * MINUTE_NS,
                    to_ns: day
                },
            ]
        );
        // Nothing aggregated yet: all raw.
        assert_eq!(
            segments(Tier::Minute, 0, day, Coverage::default()),
            [Segment {
                tier: Tier::Raw,
                from_ns: 0,
                to_ns: day
            }]
        );
    }
}
