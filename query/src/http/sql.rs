//! `POST /api/v1/sql`: run one read-only statement, answer in the format
//! asked for.
//!
//! ```text
//! curl -s localhost:8080/api/v1/sql -d '{"sql": "SELECT count(*) FROM metrics_raw", "format": "csv"}'
//! ```
//!
//! The body is parsed as JSON whatever its `Content-Type`, so that
//! `curl -d` works as is. Each request is logged with its SQL, the number of
//! rows and the time taken.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::engine::QueryEngine;
use crate::error::{Error, Result};
use crate::format::{self, Format};

/// The body of a SQL request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One read-only statement.
    pub sql: String,
    /// Output format name (`json`, `jsonl`, `csv`, `arrow`); `json` when
    /// absent.
    #[serde(default)]
    pub format: Option<String>,
}

/// Handles `POST /api/v1/sql`.
pub(crate) async fn handle(State(engine): State<Arc<QueryEngine>>, body: Bytes) -> Response {
    let started = Instant::now();
    let request = match parse(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(error = %e, "refused malformed SQL request");
            return e.into_response();
        }
    };
    match run(&engine, &request).await {
        Ok((content_type, body, rows)) => {
            tracing::info!(
                sql = %request.sql,
                rows,
                bytes = body.len(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                "sql"
            );
            (StatusCode::OK, [(CONTENT_TYPE, content_type)], body).into_response()
        }
        Err(e) => {
            // Internal details are logged by `to_http`; `message` is what
            // the client sees.
            let (status, message) = e.to_http();
            tracing::info!(
                sql = %request.sql,
                status = status.as_u16(),
                error = %message,
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                "sql failed"
            );
            super::error_response(status, &message)
        }
    }
}

fn parse(body: &[u8]) -> Result<SqlRequest> {
    serde_json::from_slice(body).map_err(|e| {
        Error::BadRequest(format!(
            "invalid request body: {e}; expected JSON like {{\"sql\": \"SELECT 1\", \"format\": \"json\"}}"
        ))
    })
}

/// Runs the request: content type, body and number of rows.
async fn run(engine: &QueryEngine, request: &SqlRequest) -> Result<(&'static str, Bytes, usize)> {
    // Checked before running the query, so a typo costs nothing.
    let format: Format = match &request.format {
        Some(name) => name.parse()?,
        None => Format::default(),
    };
    let (schema, batches) = engine.sql(&request.sql).await?;
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    let (content_type, body) = format::encode(format, &schema, &batches)?;
    Ok((content_type, body, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests_and_explains_malformed_ones() {
        let r = parse(br#"{"sql": "SELECT 1"}"#).unwrap();
        assert_eq!((r.sql.as_str(), r.format), ("SELECT 1", None));
        let r = parse(br#"{"sql": "SELECT 1", "format": "csv"}"#).unwrap();
        assert_eq!(r.format.as_deref(), Some("csv"));
        for bad in [
            &b"SELECT 1"[..],
            br#"{"query": "SELECT 1"}"#,
            br#"{"sql": 1}"#,
            b"",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.is_user_error());
            assert!(err.to_string().contains("invalid request body"), "{err}");
        }
    }
}
