//! `GET /api/v1/series`: dashboard series from the tier that fits the step
//! (semantics in [`crate::series`]).
//!
//! ```text
//! curl -s 'localhost:8080/api/v1/series?metric=cpu.load&match=host%3D~%22web.*%22&start=2026-11-26T00:00:00Z&end=2026-11-27T00:00:00Z&step=5m&agg=avg&by=host'
//! {"tier":"1m","step":300,"series":[{"labels":{"host":"web01"},"points":[[1795651200,0.42],…]}]}
//! ```
//!
//! Parameters: `metric` (required); `match`, label matchers as inside
//! PromQL's braces; `start`, `end`, RFC 3339 or Unix seconds (required);
//! `step`, seconds or a duration such as `5m` (required); `agg`, default
//! `avg`; `by`, comma-separated labels (present but empty: one group of
//! every series). Times in the answer are Unix seconds. A malformed or
//! refused request (unknown `agg`, `step` ≤ 0, `end` before `start`, more
//! than 11,000 points per series) is a `400` naming the problem.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

use bytes::Bytes;
use datafusion::error::DataFusionError;
use strata_storage::Snapshot;

use crate::engine::QueryEngine;
use crate::error::{Error, Result};
use crate::series::{self, LabelMatch, SeriesRequest};

/// The query parameters; all optional here so that a missing one gets a
/// clear message rather than the extractor's.
#[derive(Debug, Deserialize)]
pub(crate) struct Params {
    metric: Option<String>,
    #[serde(rename = "match")]
    matchers: Option<String>,
    start: Option<String>,
    end: Option<String>,
    step: Option<String>,
    agg: Option<String>,
    by: Option<String>,
}

/// Handles `GET /api/v1/series`.
pub(crate) async fn handle(
    State(engine): State<Arc<QueryEngine>>,
    Query(p): Query<Params>,
) -> Result<Response> {
    let req = request(p)?;
    let snapshot = engine.snapshot().await?;
    let key = engine.key_per_snapshot(snapshot.seq, format!("{req:?}"), || {
        cache_key(&req, &snapshot)
    });
    let body = engine
        .cached_body(key, answer(&engine, &snapshot, &req))
        .await?;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// What the answer to `req` depends on: the request, how far the tiers are
/// complete, and every file any tier holds for the metric in the range
/// (with a step of margin for counters' lookback). A late sample, a
/// compaction or a rollup in the range changes it (see [`crate::cache`]).
fn cache_key(req: &SeriesRequest, snapshot: &Snapshot) -> String {
    let from = req.start_ns.saturating_sub(2 * req.step_ns);
    let to = req.end_ns.saturating_add(req.step_ns);
    let mut key = format!("series {req:?}\n{:?}\n", series::coverage(snapshot));
    let files = snapshot.files.values().filter(|f| {
        f.max_ts_ns >= from
            && f.min_ts_ns <= to
            && f.min_metric.as_str() <= req.metric.as_str()
            && req.metric.as_str() <= f.max_metric.as_str()
    });
    for f in files {
        key.push_str(&format!("{} {}\n", f.path, f.bytes));
    }
    key
}

/// The JSON answer to `req` over `snapshot`.
async fn answer(engine: &QueryEngine, snapshot: &Snapshot, req: &SeriesRequest) -> Result<Bytes> {
    let (tier, found) = series::query(engine, snapshot, req).await?;
    let answer = Answer {
        tier: tier.dir(),
        step: Seconds(req.step_ns),
        series: found
            .iter()
            .map(|(labels, points)| SeriesJson {
                labels: Labels(labels),
                points: Points(points),
            })
            .collect(),
    };
    let body = serde_json::to_vec(&answer)
        .map_err(|e| Error::DataFusion(DataFusionError::External(Box::new(e))))?;
    Ok(Bytes::from(body))
}

/// The answer's JSON, serialized straight from the points (an answer holds
/// up to millions of them: no `serde_json::Value` per point).
#[derive(Serialize)]
struct Answer<'a> {
    tier: &'a str,
    step: Seconds,
    series: Vec<SeriesJson<'a>>,
}

#[derive(Serialize)]
struct SeriesJson<'a> {
    labels: Labels<'a>,
    points: Points<'a>,
}

/// Label pairs as a JSON object.
struct Labels<'a>(&'a [(String, String)]);

impl Serialize for Labels<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Points as `[[unix_seconds, value], …]`; a value that is not finite is
/// `null`, as JSON has no NaN.
struct Points<'a>(&'a [(i64, f64)]);

impl Serialize for Points<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for &(t, v) in self.0 {
            seq.serialize_element(&(Seconds(t), v.is_finite().then_some(v)))?;
        }
        seq.end()
    }
}

/// Unix ns as seconds: whole seconds when exact (as [`series::seconds`]).
struct Seconds(i64);

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0 % 1_000_000_000 == 0 {
            s.serialize_i64(self.0 / 1_000_000_000)
        } else {
            s.serialize_f64(self.0 as f64 / 1e9)
        }
    }
}

/// The request `p` describes, or a `400` naming what is wrong.
fn request(p: Params) -> Result<SeriesRequest> {
    let required = |v: Option<String>, name: &str| {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| Error::BadRequest(format!("missing parameter {name}")))
    };
    Ok(SeriesRequest {
        matchers: matchers(p.matchers.as_deref().unwrap_or_default())?,
        start_ns: time(&required(p.start, "start")?)?,
        end_ns: time(&required(p.end, "end")?)?,
        step_ns: step(&required(p.step, "step")?)?,
        agg: p
            .agg
            .as_deref()
            .unwrap_or("avg")
            .parse()
            .map_err(Error::BadRequest)?,
        by: p.by.map(|b| {
            b.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }),
        metric: required(p.metric, "metric")?,
    })
}

/// `host=~"web.*",env="prod"`, read as the matchers of `{…}` in PromQL.
pub(crate) fn matchers(text: &str) -> Result<Vec<LabelMatch>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let bad = |e: String| Error::BadRequest(format!("match {text:?}: {e}"));
    let Expr::VectorSelector(vs) =
        promql_parser::parser::parse(&format!("{{{text}}}")).map_err(bad)?
    else {
        return Err(bad("not a list of label matchers".into()));
    };
    Ok(vs
        .matchers
        .matchers
        .into_iter()
        .map(|m| LabelMatch {
            op: match m.op {
                MatchOp::Equal => "=",
                MatchOp::NotEqual => "!=",
                MatchOp::Re(_) => "=~",
                MatchOp::NotRe(_) => "!~",
            }
            .into(),
            name: m.name,
            value: m.value,
        })
        .collect())
}

/// RFC 3339 or Unix seconds (fractions allowed) → Unix ns.
pub(crate) fn time(text: &str) -> Result<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        if !secs.is_finite() || secs.abs() > 9.2e9 {
            return Err(Error::BadRequest(format!(
                "time {text:?}: out of range (Unix seconds)"
            )));
        }
        return Ok((secs * 1e9).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| Error::BadRequest(format!("time {text:?}: RFC 3339 or Unix seconds")))
}

/// Seconds, or a duration such as `5m` → ns.
fn step(text: &str) -> Result<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        if !secs.is_finite() || secs.abs() > 9.2e9 {
            return Err(Error::BadRequest(format!("step {text:?}: out of range")));
        }
        return Ok((secs * 1e9).round() as i64);
    }
    humantime::parse_duration(text)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .map_err(|e| Error::BadRequest(format!("step {text:?}: {e}")))
}
