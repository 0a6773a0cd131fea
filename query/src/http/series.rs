//! WIP (issue 5): `GET /api/v1/series`, dashboard series from the tier that
//! fits the step (see [`crate::series`]).
//!
//! ```text
//! curl -s 'localhost:8080/api/v1/series?metric=cpu.load&match=host%3D~%22web.*%22&start=2026-11-26T00:00:00Z&end=2026-11-27T00:00:00Z&step=5m&agg=avg&by=host'
//! ```

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;
use serde::Deserialize;

use crate::engine::QueryEngine;
use crate::error::{Error, Result};
use crate::series::{self, LabelMatch, SeriesRequest};

/// The query parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct Params {
    metric: String,
    #[serde(rename = "match")]
    matchers: Option<String>,
    start: String,
    end: String,
    step: String,
    agg: Option<String>,
    by: Option<String>,
}

/// Handles `GET /api/v1/series`.
pub(crate) async fn handle(
    State(engine): State<Arc<QueryEngine>>,
    Query(p): Query<Params>,
) -> Result<Response> {
    let req = SeriesRequest {
        matchers: matchers(p.matchers.as_deref().unwrap_or_default())?,
        start_ns: time(&p.start)?,
        end_ns: time(&p.end)?,
        step_ns: step(&p.step)?,
        agg: p
            .agg
            .as_deref()
            .unwrap_or("avg")
            .parse()
            .map_err(Error::BadRequest)?,
        by: p
            .by
            .map(|b| b.split(',').map(|s| s.trim().to_string()).collect()),
        metric: p.metric,
    };
    let snapshot = engine.snapshot().await?;
    let (tier, found) = series::query(&engine, &snapshot, &req).await?;
    let series: Vec<serde_json::Value> = found
        .into_iter()
        .map(|(labels, points)| {
            let labels: serde_json::Map<String, serde_json::Value> = labels
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            serde_json::json!({"labels": labels, "points": points})
        })
        .collect();
    let body = serde_json::json!({
        "tier": tier.dir(),
        "step": req.step_ns / 1_000_000_000,
        "series": series,
    });
    Ok(([(CONTENT_TYPE, "application/json")], body.to_string()).into_response())
}

/// `host=~"web.*",env="prod"`, read as the matchers of `{…}` in PromQL.
fn matchers(text: &str) -> Result<Vec<LabelMatch>> {
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
fn time(text: &str) -> Result<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| Error::BadRequest(format!("time {text:?}: RFC 3339 or Unix seconds")))
}

/// Seconds, or a duration such as `5m` → ns.
fn step(text: &str) -> Result<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    humantime::parse_duration(text)
        .map(|d| d.as_nanos() as i64)
        .map_err(|e| Error::BadRequest(format!("step {text:?}: {e}")))
}
