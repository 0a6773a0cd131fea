//! The HTTP API of the query service.
//!
//! | Route              | Answer                                              |
//! |--------------------|-----------------------------------------------------|
//! | `POST /api/v1/sql` | the result of one read-only statement ([`sql`])     |
//! | `GET /api/v1/sql?q=…&format=…` | the same, for curl and browsers         |
//! | `GET /api/v1/series` | dashboard series from the tier fitting the step ([`series`]) |
//! | `GET /api/v1/metrics`, `/api/v1/labels`, `/api/v1/label/NAME/values` | metric names, label names, label values for pickers ([`meta`]) |
//! | `GET /api/v1/alerts` | active alerts, in Prometheus's shape              |
//! | `GET /api/v1/rules`  | alerting rules with health and last evaluation    |
//! | `GET /health`      | `200 ok` while the server runs                      |
//!
//! Errors are JSON objects `{"error": "..."}` with the status
//! [`Error::to_http`] decides: `400` and the message for user errors,
//! `422` or `503` (with `Retry-After` when busy) for the limits of
//! [`crate::limits`], `500` and a generic message otherwise.

pub mod meta;
pub mod series;
pub mod sql;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::engine::QueryEngine;
use crate::error::Error;

/// The routes of the query service, answering with `engine`.
pub fn router(engine: Arc<QueryEngine>) -> Router {
    Router::new()
        .route("/api/v1/sql", post(sql::handle).get(sql::handle_get))
        .route("/api/v1/series", get(series::handle))
        .route("/api/v1/metrics", get(meta::metrics))
        .route("/api/v1/labels", get(meta::labels))
        .route("/api/v1/label/{name}/values", get(meta::label_values))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/rules", get(rules))
        .route("/health", get(health))
        .with_state(engine)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then stops
/// accepting connections and waits for requests in flight to finish.
///
/// The listener and the shutdown signal come from the caller, so that tests
/// can bind `127.0.0.1:0` and stop the server at will.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<QueryEngine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown)
        .await
}

/// `GET /api/v1/alerts`: the evaluator's pending and firing alerts, as
/// Prometheus answers it (empty when no evaluator writes to this store).
async fn alerts(State(engine): State<Arc<QueryEngine>>) -> Result<Response, Error> {
    evaluator_status(&engine, "alerts").await
}

/// `GET /api/v1/rules`: rule groups with each rule's health, last
/// evaluation, error and active alerts, as Prometheus answers it.
async fn rules(State(engine): State<Arc<QueryEngine>>) -> Result<Response, Error> {
    evaluator_status(&engine, "groups").await
}

async fn evaluator_status(engine: &QueryEngine, key: &str) -> Result<Response, Error> {
    let doc = engine.alert_status().await?;
    let part = doc
        .as_ref()
        .and_then(|d| d.get(key))
        .cloned()
        .unwrap_or_else(|| serde_json::json!([]));
    let body = serde_json::json!({"status": "success", "data": {key: part}}).to_string();
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

async fn health() -> &'static str {
    "ok"
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, message) = self.to_http();
        let mut response = error_response(status, &message);
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The JSON error body `{"error": message}` with `status`.
fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}
