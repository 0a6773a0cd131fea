//! What the collector answers a write, and the one place that maps it to
//! an HTTP status.
//!
//! | Answer | Status | Stored |
//! |--------|--------|--------|
//! | [`Answer::Stored`] | 204 | everything |
//! | [`Answer::Refused`] | 400, naming each refused line, element or series | the rest (InfluxDB's partial write) |
//! | [`Answer::BadRequest`] | 400 | nothing: the body cannot be read at all |
//! | [`Answer::TooLarge`] | 413 | nothing |
//! | [`Answer::Unsupported`] | 415 | nothing |
//! | [`Answer::Unavailable`] | 503 with `Retry-After` | possibly a part: Kafka did not acknowledge all |
//! | [`Answer::Internal`] | 500 | nothing |
//!
//! Bodies of errors are JSON: `{"error": "..."}`, plus `stored` and
//! `refused` (a list of `{"at", "series", "reason", "samples"}`) for
//! [`Answer::Refused`].

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use strata_schemas::Sample;

/// Seconds a client is asked to wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

/// Refusals listed in full in a 400's `refused`; the rest are counted.
const MAX_LISTED: usize = 1_000;

/// Refusals spelled out in a 400's `error` message.
const MAX_IN_MESSAGE: usize = 10;

/// A part of a request that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refused {
    /// Where in the body: `line 3` (1-based), `element 2` (0-based, as
    /// JSON arrays are indexed), or `None` for the whole body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The series, `name{label="value",…}`, when the refusal is about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Why, in words the client's author can act on.
    pub reason: String,
    /// Samples of the series refused for this reason (0 when the part
    /// could not be decoded into samples).
    pub samples: usize,
}

impl Refused {
    /// A refusal of `sample`'s series (its samples counted by the caller).
    pub(crate) fn series(sample: &Sample, reason: String) -> Self {
        Self {
            at: None,
            series: Some(format!("{}{}", sample.metric_name, sample.labels)),
            reason,
            samples: 0,
        }
    }

    /// A refusal of a part of the body that did not decode.
    pub(crate) fn at(at: Option<String>, reason: String) -> Self {
        Self {
            at,
            series: None,
            reason,
            samples: 0,
        }
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(at) = &self.at {
            s.push_str(at);
        }
        if let Some(series) = &self.series {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str("series ");
            s.push_str(series);
            if self.samples > 0 {
                s.push_str(&format!(
                    " ({} sample{})",
                    self.samples,
                    if self.samples == 1 { "" } else { "s" }
                ));
            }
        }
        if s.is_empty() {
            self.reason.clone()
        } else {
            format!("{s}: {}", self.reason)
        }
    }
}

/// The outcome of one write request.
#[derive(Debug)]
pub enum Answer {
    /// Kafka acknowledged every sample of the request.
    Stored {
        /// Samples acknowledged.
        samples: usize,
    },
    /// Some or all parts of the request were refused; Kafka acknowledged
    /// every other sample.
    Refused {
        /// Samples acknowledged.
        stored: usize,
        /// What was refused, and why.
        refused: Vec<Refused>,
    },
    /// The request could not be read at all (bad gzip, snappy or protobuf,
    /// a bad `precision`); nothing was stored.
    BadRequest(String),
    /// A request limit was exceeded; nothing was stored.
    TooLarge(String),
    /// An encoding or protocol version the collector does not speak;
    /// nothing was stored.
    Unsupported(String),
    /// Kafka did not acknowledge every message in time: retry later. Part
    /// of the request may have been stored.
    Unavailable(String),
    /// A bug; nothing was stored.
    Internal(String),
}

impl Answer {
    /// The HTTP status of this answer; the only mapping there is.
    pub fn status(&self) -> StatusCode {
        match self {
            Answer::Stored { .. } => StatusCode::NO_CONTENT,
            Answer::Refused { .. } | Answer::BadRequest(_) => StatusCode::BAD_REQUEST,
            Answer::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Answer::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Answer::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Answer::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error` message of the body (`None` for 204).
    pub fn message(&self) -> Option<String> {
        match self {
            Answer::Stored { .. } => None,
            Answer::Refused { stored, refused } => {
                let head = if *stored == 0 {
                    "nothing stored".to_string()
                } else {
                    format!(
                        "partial write: {stored} sample{} stored",
                        if *stored == 1 { "" } else { "s" }
                    )
                };
                let mut parts: Vec<String> = refused
                    .iter()
                    .take(MAX_IN_MESSAGE)
                    .map(Refused::describe)
                    .collect();
                if refused.len() > MAX_IN_MESSAGE {
                    parts.push(format!("and {} more", refused.len() - MAX_IN_MESSAGE));
                }
                Some(format!("{head}; refused: {}", parts.join("; ")))
            }
            Answer::BadRequest(m)
            | Answer::TooLarge(m)
            | Answer::Unsupported(m)
            | Answer::Unavailable(m) => Some(m.clone()),
            Answer::Internal(_) => Some("internal error; see the collector's log".into()),
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let status = self.status();
        let Some(message) = self.message() else {
            return status.into_response();
        };
        let body = match &self {
            Answer::Refused { stored, refused } => {
                let mut body = serde_json::json!({
                    "error": message,
                    "stored": stored,
                    "refused": &refused[..refused.len().min(MAX_LISTED)],
                });
                if refused.len() > MAX_LISTED {
                    body["refused_not_listed"] = (refused.len() - MAX_LISTED).into();
                }
                body
            }
            _ => serde_json::json!({ "error": message }),
        };
        let mut response = (
            status,
            [(CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Answer::Unavailable(_) = self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_name_what_was_refused() {
        let a = Answer::Refused {
            stored: 3,
            refused: vec![
                Refused::at(Some("line 2".into()), "no fields".into()),
                Refused {
                    samples: 4,
                    ..Refused::at(None, "too many labels".into())
                },
            ],
        };
        assert_eq!(a.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            a.message().unwrap(),
            "partial write: 3 samples stored; refused: line 2: no fields; too many labels"
        );
        let r = Answer::Unavailable("down".into()).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[RETRY_AFTER], "5");
        assert_eq!(Answer::Stored { samples: 1 }.message(), None);
    }
}
