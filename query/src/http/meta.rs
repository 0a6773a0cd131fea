//! Metadata for dashboard pickers, answered as Prometheus answers its own
//! (`{"status": "success", "data": [...]}`, sorted, without duplicates):
//!
//! | Route                                      | `data`                      |
//! |--------------------------------------------|-----------------------------|
//! | `GET /api/v1/metrics`                      | metric names                |
//! | `GET /api/v1/labels?metric=…`              | label names                 |
//! | `GET /api/v1/label/NAME/values?metric=…`   | values of label `NAME`      |
//!
//! ```text
//! curl -s 'localhost:8080/api/v1/label/host/values?metric=cpu.load&match=env%3D%22prod%22'
//! {"status":"success","data":["web01","web02"]}
//! ```
//!
//! Optional parameters: `metric` (labels and values; names of all metrics
//! otherwise), `match` (label matchers as in `/api/v1/series`, for
//! pickers that depend on each other), `start` and `end` (RFC 3339 or Unix
//! seconds). `label/__name__/values` lists metric names, as in Prometheus.
//! Label names do not include a `__name__`: the metric name is its own
//! column.
//!
//! **Time range.** Without `start`/`end` the answer covers the last 24
//! hours before now (a dashboard's usual range; series that stopped
//! reporting earlier do not clutter the picker). The range is widened to
//! whole hours and read as [`crate::series`] reads a `1h` step: the `1h`
//! tier (a row per series and hour, the cheapest) where its rollup is
//! current, `1m` for the newest hour and hours whose rollup lags, raw for
//! the minutes whose windows are still open, so a series that appeared a
//! minute ago is listed. Every statement has the time range, and the
//! metric name when given, as predicates: files and row groups prune as
//! for any query. The aggregated tiers are read as stored parts, without
//! the views' merge: a distinct list needs none.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use serde::Deserialize;
use strata_schemas::Tier;
use strata_schemas::tier::HOUR_NS;

use super::series::{matchers, time};
use crate::engine::QueryEngine;
use crate::error::{Error, Result};
use crate::series::{self, Reader, Segment, lit, matcher_predicates, table_of};

/// The window read when the request names no `start`.
pub const DEFAULT_WINDOW_NS: i64 = 24 * HOUR_NS;

/// The query parameters shared by the three routes.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    metric: Option<String>,
    #[serde(rename = "match")]
    matchers: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

/// `GET /api/v1/metrics`: metric names.
pub(crate) async fn metrics(
    State(engine): State<Arc<QueryEngine>>,
    Query(p): Query<Params>,
) -> Result<Response> {
    answer(distinct(&engine, &p, Lookup::Metrics).await?)
}

/// `GET /api/v1/labels`: label names.
pub(crate) async fn labels(
    State(engine): State<Arc<QueryEngine>>,
    Query(p): Query<Params>,
) -> Result<Response> {
    answer(distinct(&engine, &p, Lookup::Labels).await?)
}

/// `GET /api/v1/label/{name}/values`: values of one label.
pub(crate) async fn label_values(
    State(engine): State<Arc<QueryEngine>>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Result<Response> {
    let lookup = match name.as_str() {
        "__name__" => Lookup::Metrics,
        _ => Lookup::Values(name),
    };
    answer(distinct(&engine, &p, lookup).await?)
}

/// What to list.
#[derive(Debug)]
enum Lookup {
    Metrics,
    Labels,
    Values(String),
}

fn answer(data: BTreeSet<String>) -> Result<Response> {
    let body = serde_json::json!({"status": "success", "data": data});
    Ok(([(CONTENT_TYPE, "application/json")], body.to_string()).into_response())
}

/// The range `p` asks for, widened to whole hours.
fn range(p: &Params) -> Result<(i64, i64)> {
    let end = match &p.end {
        Some(t) => time(t)?,
        None => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            i64::try_from(now.as_nanos()).unwrap_or(i64::MAX)
        }
    };
    let start = match &p.start {
        Some(t) => time(t)?,
        None => end.saturating_sub(DEFAULT_WINDOW_NS),
    };
    if end < start {
        return Err(Error::BadRequest(format!(
            "end ({}) is before start ({})",
            series::seconds(end),
            series::seconds(start)
        )));
    }
    let from = start.div_euclid(HOUR_NS) * HOUR_NS;
    let to = end
        .div_euclid(HOUR_NS)
        .saturating_add(1)
        .saturating_mul(HOUR_NS);
    Ok((from, to))
}

/// The distinct strings `lookup` names over the range of `p`, read segment
/// by segment.
async fn distinct(engine: &QueryEngine, p: &Params, lookup: Lookup) -> Result<BTreeSet<String>> {
    let (from, to) = range(p)?;
    let matchers = matchers(p.matchers.as_deref().unwrap_or_default())?;
    let mut filters = matcher_predicates(&matchers);
    if let Some(metric) = &p.metric {
        filters.push(format!("metric_name = {}", lit(metric)));
    }
    let snapshot = engine.snapshot().await?;
    let cov = series::coverage(&snapshot);
    let reader = Reader::new(engine)?;
    let mut out = BTreeSet::new();
    for seg in series::segments(Tier::Hour, from, to, &cov) {
        for b in &reader.sql(&statement(&lookup, seg, &filters)).await? {
            let column = cast(b.column(0), &DataType::Utf8)?;
            let strings = column.as_string::<i32>();
            out.extend(strings.iter().flatten().map(str::to_string));
        }
    }
    Ok(out)
}

/// One statement listing `lookup` over `seg`, with `filters`.
fn statement(lookup: &Lookup, seg: Segment, filters: &[String]) -> String {
    let time = seg.tier.time_column();
    let mut preds = vec![
        format!("{time} >= to_timestamp_nanos({})", seg.from_ns),
        format!("{time} < to_timestamp_nanos({})", seg.to_ns),
    ];
    preds.extend(filters.iter().cloned());
    let table = table_of(seg.tier);
    match lookup {
        Lookup::Metrics => format!(
            "SELECT DISTINCT metric_name AS v FROM {table} WHERE {}",
            preds.join(" AND ")
        ),
        Lookup::Labels => format!(
            "SELECT DISTINCT v FROM (SELECT unnest(map_keys(labels)) AS v FROM {table} WHERE {})",
            preds.join(" AND ")
        ),
        Lookup::Values(name) => {
            let value = format!("labels[{}]", lit(name));
            preds.push(format!("{value} IS NOT NULL"));
            format!(
                "SELECT DISTINCT {value} AS v FROM {table} WHERE {}",
                preds.join(" AND ")
            )
        }
    }
}
