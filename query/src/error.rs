//! Errors of the query service, and the one place that decides which of
//! them are the user's to fix.
//!
//! A user error (bad SQL, a refused statement, a malformed request) is
//! answered with `400 Bad Request` and its full message, because the message
//! is what the user needs to fix the request. Anything else (the object
//! store, I/O, a bug) is answered with `500` and a generic message; the
//! detail is logged, not sent, since it may name paths, buckets or
//! internals.
//!
//! DataFusion wraps errors in layers (`Context`, `Diagnostic`, `Shared`,
//! `ArrowError(ExternalError(..))`, …), so a DataFusion error is classified
//! by its root cause ([`DataFusionError::find_root`]), never by its outer
//! variant.

use axum::http::StatusCode;
use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message sent instead of the detail of an internal error.
pub const INTERNAL_MESSAGE: &str = "internal error while running the query; see the server log";

/// What can go wrong answering a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQL is well formed but is not a read (DDL, DML, `COPY`, `SET`,
    /// several statements, …). The user must send a single query instead.
    #[error(
        "{statement} is not allowed: Strata's SQL endpoint is read-only \
         (send one SELECT, WITH, VALUES, EXPLAIN, SHOW TABLES, SHOW COLUMNS or DESCRIBE statement)"
    )]
    Refused {
        /// The kind of statement refused, e.g. `CREATE TABLE`.
        statement: String,
    },
    /// The request itself is malformed: unparsable body, unknown output
    /// format, empty SQL. The user must fix the request.
    #[error("{0}")]
    BadRequest(String),
    /// DataFusion failed parsing, planning or running the query. Whether
    /// that is the user's fault depends on the root cause: see
    /// [`Error::is_user_error`].
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// Reading the commit log failed: the store is unreachable or damaged.
    /// Transient failures go away on retry; corruption needs an operator.
    #[error("storage: {0}")]
    Storage(#[from] strata_storage::Error),
    /// Turning result batches into the response body failed. A bug.
    #[error("encoding the result: {0}")]
    Encode(#[from] ArrowError),
    /// Every query slot stayed taken until the statement's timeout: the
    /// server is saturated. Retrying later may succeed.
    #[error(
        "the server is busy: {running} queries were running until this one timed out \
         waiting for a slot (--query-concurrency); retry later"
    )]
    Busy {
        /// The concurrency limit.
        running: usize,
    },
    /// The statement ran past its timeout and was cancelled.
    #[error(
        "query cancelled after {}: it exceeded the query timeout (--query-timeout); \
         narrow the time range, filter on metric_name, or read an aggregated tier",
        humantime::format_duration(*limit)
    )]
    Timeout {
        /// The timeout.
        limit: std::time::Duration,
    },
    /// The statement needed more operator memory than its limit and could
    /// not spill.
    #[error(
        "query exceeded its memory limit of {} (--query-memory-limit); narrow the time \
         range, filter on metric_name, or aggregate before sorting or joining. {detail}",
        bytesize::ByteSize::b(*limit as u64).display().iec()
    )]
    MemoryLimit {
        /// The per-statement limit in bytes.
        limit: usize,
        /// DataFusion's account of the allocation that failed and the
        /// largest consumers.
        detail: String,
    },
    /// The result grew past the largest result the server returns.
    #[error(
        "the result exceeds {} (--query-max-result-bytes); add a LIMIT, aggregate, or \
         narrow the time range",
        bytesize::ByteSize::b(*limit as u64).display().iec()
    )]
    ResultTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

impl Error {
    /// True when the request, not the server, is at fault: the user can fix
    /// it by changing the request, and retrying it unchanged is pointless.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Refused { .. }
            | Error::BadRequest(_)
            | Error::Timeout { .. }
            | Error::MemoryLimit { .. }
            | Error::ResultTooLarge { .. } => true,
            Error::DataFusion(e) => is_user_datafusion_error(e),
            Error::Storage(_) | Error::Encode(_) | Error::Busy { .. } => false,
        }
    }

    /// Seconds a client should wait before retrying, for errors that say
    /// "later" (the `Retry-After` header).
    pub fn retry_after(&self) -> Option<u64> {
        matches!(self, Error::Busy { .. }).then_some(1)
    }

    /// `error` with a DataFusion failure caused by an exhausted memory pool
    /// turned into [`Error::MemoryLimit`], which names the limit.
    pub(crate) fn with_memory_limit(self, limit: usize) -> Self {
        match self {
            Error::DataFusion(e) => match e.find_root() {
                DataFusionError::ResourcesExhausted(detail) => Error::MemoryLimit {
                    limit,
                    detail: detail.clone(),
                },
                _ => Error::DataFusion(e),
            },
            other => other,
        }
    }

    /// The HTTP status and the message to send for this error.
    ///
    /// Limits are `503` (busy, timed out: try again later or ask for
    /// less) or `422` (memory, result size: ask for less) with their
    /// message. Other user errors are `400` with their message. Everything
    /// else is `500`
    /// with [`INTERNAL_MESSAGE`]; the detail is logged here with
    /// `tracing::error!` so that it is never lost and never leaked.
    pub fn to_http(&self) -> (StatusCode, String) {
        match self {
            // Prometheus answers a timed-out query with 503 as well.
            Error::Busy { .. } | Error::Timeout { .. } => {
                return (StatusCode::SERVICE_UNAVAILABLE, self.message());
            }
            Error::MemoryLimit { .. } | Error::ResultTooLarge { .. } => {
                return (StatusCode::UNPROCESSABLE_ENTITY, self.message());
            }
            _ => {}
        }
        if self.is_user_error() {
            (StatusCode::BAD_REQUEST, self.message())
        } else {
            tracing::error!(error = %self.message(), "query failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                INTERNAL_MESSAGE.to_string(),
            )
        }
    }

    /// The full message, without the backtrace DataFusion may append.
    pub fn message(&self) -> String {
        match self {
            Error::DataFusion(e) => e.strip_backtrace(),
            other => other.to_string(),
        }
    }
}

/// Classifies a DataFusion error by its root cause.
///
/// SQL syntax, planning (unknown table or function, type mismatch, a
/// statement refused by the session's `SQLOptions`), schema (unknown or
/// ambiguous column), unsupported features and bad settings are the user's.
/// So are the Arrow compute errors a query's own expressions cause on valid
/// data: impossible casts, unparsable strings (`to_timestamp('x')`; tiers
/// are Parquet, so no stored data is ever parsed from text), division by
/// zero, overflow. Everything else
/// (I/O, object store, Parquet decoding, exhausted resources, internal
/// errors, panics in tasks) is the server's.
fn is_user_datafusion_error(e: &DataFusionError) -> bool {
    match e.find_root() {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_) => true,
        DataFusionError::ArrowError(arrow, _) => matches!(
            **arrow,
            ArrowError::CastError(_)
                | ArrowError::ParseError(_)
                | ArrowError::DivideByZero
                | ArrowError::ArithmeticOverflow(_)
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::{Column, SchemaError};

    fn status(e: Error) -> StatusCode {
        e.to_http().0
    }

    #[test]
    fn classifies_datafusion_errors_by_root_cause() {
        let plan = DataFusionError::Plan("table 'x' not found".into());
        assert_eq!(status(plan.into()), StatusCode::BAD_REQUEST);

        // Wrapped in context, shared and inside an Arrow external error: still
        // a user error.
        let schema = DataFusionError::SchemaError(
            Box::new(SchemaError::FieldNotFound {
                field: Box::new(Column::from_name("nope")),
                valid_fields: vec![],
            }),
            Box::new(None),
        );
        let wrapped = DataFusionError::ArrowError(
            Box::new(ArrowError::ExternalError(Box::new(
                DataFusionError::Shared(std::sync::Arc::new(schema)).context("planning"),
            ))),
            None,
        );
        let (code, msg) = Error::from(wrapped).to_http();
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert!(msg.contains("nope"), "{msg}");

        let div = DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None);
        assert_eq!(status(div.into()), StatusCode::BAD_REQUEST);
        let parse = ArrowError::ParseError("Error parsing timestamp from 'x'".into());
        let parse = DataFusionError::ArrowError(Box::new(parse), None);
        assert_eq!(status(parse.into()), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let io = DataFusionError::IoError(std::io::Error::other("/secret/path unreadable"))
            .context("reading file");
        let (code, msg) = Error::from(io).to_http();
        assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(msg, INTERNAL_MESSAGE);

        // The commit log failing inside a scan reaches us as an External
        // error: internal.
        let store = DataFusionError::External(Box::new(strata_storage::Error::CorruptLog {
            path: "_log/1.json".into(),
            reason: "bad".into(),
        }));
        assert_eq!(status(store.into()), StatusCode::INTERNAL_SERVER_ERROR);
        let internal = DataFusionError::Internal("bug".into());
        assert_eq!(status(internal.into()), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn refusals_and_bad_requests_are_400_with_their_message() {
        let (code, msg) = Error::Refused {
            statement: "DROP TABLE".into(),
        }
        .to_http();
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert!(
            msg.contains("DROP TABLE") && msg.contains("read-only"),
            "{msg}"
        );
        let (code, msg) = Error::BadRequest("unknown format".into()).to_http();
        assert_eq!(
            (code, msg.as_str()),
            (StatusCode::BAD_REQUEST, "unknown format")
        );
    }
}
