//! `POST /api/v1/sql`: run one read-only statement, answer in the format
//! asked for.
//!
//! ```text
//! curl -s localhost:8080/api/v1/sql -d '{"sql": "SELECT count(*) FROM metrics_raw", "format": "csv"}'
//! ```
//!
//! The body is parsed as JSON whatever its `Content-Type`, so that
//! `curl -d` works as is. `GET /api/v1/sql?q=SELECT+1&format=csv` does the
//! same with the statement in the query string:
//!
//! ```text
//! curl -sG localhost:8080/api/v1/sql --data-urlencode 'q=SELECT count(*) FROM metrics_raw'
//! ```
//! Each request is logged with its SQL, the number of
//! rows and the time taken.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
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
    /// Output format name (`json`, `jsonl`, `csv`, `arrow`, `parquet`);
    /// `json` when absent.
    #[serde(default)]
    pub format: Option<String>,
    /// The client's timeout (`"5s"`, `"500ms"`), if shorter than the
    /// server's `--query-timeout`.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// The query string of `GET /api/v1/sql`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlQuery {
    /// One read-only statement.
    pub q: String,
    /// Output format name; `json` when absent.
    #[serde(default)]
    pub format: Option<String>,
    /// The client's timeout, if shorter than the server's.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// Handles `GET /api/v1/sql?q=…&format=…`.
pub(crate) async fn handle_get(
    State(engine): State<Arc<QueryEngine>>,
    query: Result<Query<SqlQuery>, QueryRejection>,
) -> Response {
    match query {
        Ok(Query(SqlQuery { q, format, timeout })) => {
            let request = SqlRequest {
                sql: q,
                format,
                timeout,
            };
            answer(&engine, request).await
        }
        Err(e) => {
            let e = Error::BadRequest(format!(
                "invalid query string: {}; expected ?q=SELECT+1&format=json",
                e.body_text()
            ));
            tracing::info!(error = %e, "refused malformed SQL request");
            e.into_response()
        }
    }
}

/// Handles `POST /api/v1/sql`.
pub(crate) async fn handle(State(engine): State<Arc<QueryEngine>>, body: Bytes) -> Response {
    match parse(&body) {
        Ok(request) => answer(&engine, request).await,
        Err(e) => {
            tracing::info!(error = %e, "refused malformed SQL request");
            e.into_response()
        }
    }
}

async fn answer(engine: &QueryEngine, request: SqlRequest) -> Response {
    let started = Instant::now();
    match run(engine, &request).await {
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
            let message = e.message();
            let response = e.into_response();
            tracing::info!(
                sql = %request.sql,
                status = response.status().as_u16(),
                error = %message,
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                "sql failed"
            );
            response
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
    let timeout = match &request.timeout {
        Some(t) => Some(humantime::parse_duration(t).map_err(|e| {
            Error::BadRequest(format!("invalid timeout {t:?}: {e}; expected e.g. \"5s\""))
        })?),
        None => None,
    };
    let (schema, batches) = engine.sql_within(&request.sql, timeout).await?;
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
