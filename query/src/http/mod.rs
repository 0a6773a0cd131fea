//! The HTTP API of the query service.
//!
//! | Route              | Answer                                              |
//! |--------------------|-----------------------------------------------------|
//! | `POST /api/v1/sql` | the result of one read-only statement ([`sql`])     |
//! | `GET /health`      | `200 ok` while the server runs                      |
//!
//! Errors are JSON objects `{"error": "..."}` with the status
//! [`Error::to_http`] decides: `400` and the message for user errors,
//! `500` and a generic message otherwise.

pub mod sql;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::engine::QueryEngine;
use crate::error::Error;

/// The routes of the query service, answering with `engine`.
pub fn router(engine: Arc<QueryEngine>) -> Router {
    Router::new()
        .route("/api/v1/sql", post(sql::handle))
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

async fn health() -> &'static str {
    "ok"
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, message) = self.to_http();
        error_response(status, &message)
    }
}

/// The JSON error body `{"error": message}` with `status`.
fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}
