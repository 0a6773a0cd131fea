//! The HTTP push collector (`strata collect`): producers push samples over
//! HTTP, the collector checks them and produces them to the Kafka topic
//! that ingest reads.
//!
//! | Route | Body |
//! |-------|------|
//! | `POST /api/v1/write` (and InfluxDB 1.x's `/write`) | InfluxDB line protocol (`?precision=ns\|us\|ms\|s`, default `ns`), or the seed's JSON samples when `Content-Type: application/json` or the body starts with `{` or `[`; optionally `Content-Encoding: gzip` |
//! | `POST /api/v1/prom/write` | Prometheus remote write 1.0 ([`remote_write`]) |
//! | `GET /health` | `200 ok` |
//!
//! A write is answered only after Kafka acknowledged every message of it
//! (idempotent producer, `acks=all`): 204 when all was stored. Parts that
//! cannot be stored (a line that does not parse, a series over a limit)
//! are refused and the rest is stored, as InfluxDB 1.x does a partial
//! write and as Prometheus receivers refuse bad series: the answer is then
//! 400 naming each refused line, element or series and why ([`answer`]).
//! Request limits (body size, samples per request) refuse the whole
//! request with 413. When Kafka does not acknowledge in time the answer
//! is 503 with `Retry-After`; part of the request may then be stored, and
//! a retry stores it again (at least once, as remote write is).
//!
//! Collectors keep no state but the cardinality limit's set of series
//! seen ([`limits`]), so several can run behind a load balancer.
//!
//! # Layout
//! - [`body`]: the size limit, gzip and snappy;
//! - [`remote_write`]: the protobuf messages of remote write 1.0;
//! - [`limits`]: label and cardinality limits;
//! - [`sink`]: producing to Kafka and waiting for the acknowledgements;
//! - [`answer`]: the answers and their HTTP statuses.

pub mod answer;
pub mod body;
pub mod limits;
pub mod remote_write;
pub mod sink;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, post};
use serde::Deserialize;
use strata_schemas::Sample;
use tokio::net::TcpListener;

use crate::decode::line::Precision;
use crate::decode::{DecodeLimits, Decoded, json, line};
use crate::error::Result;
use crate::kafka::{KafkaConfig, admin};
use answer::{Answer, Refused};
use body::Encoding;
pub use limits::Limits;
use limits::SeriesLimiter;
use sink::Sink;

/// How a collector checks and forwards what it receives.
#[derive(Debug, Clone, Copy)]
pub struct CollectOptions {
    /// Request and series limits.
    pub limits: Limits,
    /// Far-future refusal and the measurement/field separator of line
    /// protocol, as ingest applies them.
    pub decode: DecodeLimits,
    /// How long Kafka may take to acknowledge a request's messages
    /// (`message.timeout.ms`) before the client gets a 503.
    pub produce_timeout: Duration,
}

impl Default for CollectOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            decode: DecodeLimits::default(),
            produce_timeout: Duration::from_secs(10),
        }
    }
}

/// One collector: its producer, its limits and the series it has seen.
pub struct Collector {
    sink: Sink,
    opts: CollectOptions,
    series: SeriesLimiter,
}

impl Collector {
    /// Creates the topic if it is missing (failing when Kafka cannot be
    /// reached) and the producer.
    pub async fn start(kafka: &KafkaConfig, opts: CollectOptions) -> Result<Arc<Self>> {
        admin::ensure_topics(kafka, &[&kafka.topic]).await?;
        Ok(Arc::new(Self {
            sink: Sink::new(kafka, opts.produce_timeout)?,
            opts,
            series: SeriesLimiter::default(),
        }))
    }

    /// Waits up to `timeout` for anything still queued for Kafka.
    pub fn flush(&self, timeout: Duration) {
        self.sink.flush(timeout);
    }

    /// Checks decoded samples against the limits and stores those that
    /// pass; `refused` are the parts that did not decode.
    async fn store(&self, samples: Vec<Sample>, mut refused: Vec<Refused>) -> Answer {
        let limits = &self.opts.limits;
        if limits.max_samples != 0 && samples.len() > limits.max_samples {
            return Answer::TooLarge(format!(
                "{} samples in one request, more than the {} allowed \
                 (--max-samples-per-request); send smaller batches",
                samples.len(),
                limits.max_samples
            ));
        }
        let (ok, over) = limits::admit(samples, limits, &self.series);
        refused.extend(over);
        if !ok.is_empty() {
            match self.sink.send(&ok).await {
                Ok(messages) => {
                    tracing::debug!(samples = ok.len(), messages, "stored");
                }
                Err(e) => {
                    tracing::warn!(samples = ok.len(), error = %e.0, "answering 503");
                    return Answer::Unavailable(format!(
                        "{}; the samples may be partly stored, retry later",
                        e.0
                    ));
                }
            }
        }
        if refused.is_empty() {
            Answer::Stored { samples: ok.len() }
        } else {
            tracing::debug!(stored = ok.len(), refused = refused.len(), "refused parts");
            Answer::Refused {
                stored: ok.len(),
                refused,
            }
        }
    }
}

/// The collector's routes.
pub fn router(collector: Arc<Collector>) -> Router {
    Router::new()
        .route("/api/v1/write", post(influx_write))
        .route("/write", post(influx_write))
        .route("/api/v1/prom/write", post(prom_write))
        .route("/health", get(|| async { "ok" }))
        // Bodies are read under --max-body-size by `body::read`.
        .layer(DefaultBodyLimit::disable())
        .with_state(collector)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then waits
/// for writes in flight and for Kafka to acknowledge what they queued.
pub async fn serve(
    listener: TcpListener,
    collector: Arc<Collector>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let result = axum::serve(listener, router(Arc::clone(&collector)))
        .with_graceful_shutdown(shutdown)
        .await;
    let c = Arc::clone(&collector);
    let _ = tokio::task::spawn_blocking(move || c.flush(Duration::from_secs(10))).await;
    result
}

/// The query of `POST /api/v1/write`; InfluxDB's other parameters (`db`,
/// `rp`, `bucket`, `org`) are accepted and ignored.
#[derive(Debug, Deserialize)]
struct WriteParams {
    precision: Option<String>,
}

async fn influx_write(
    State(c): State<Arc<Collector>>,
    Query(params): Query<WriteParams>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let precision = match params.precision.as_deref().map(parse_precision) {
        None => Precision::Ns,
        Some(Ok(p)) => p,
        Some(Err(answer)) => return answer,
    };
    let run = async {
        let encoding = Encoding::of(
            &headers,
            &[Encoding::Identity, Encoding::Gzip],
            Encoding::Identity,
        )?;
        let max = c.opts.limits.max_body_bytes;
        let raw = body::read(body, &headers, max).await?;
        let json = is_json(&headers);
        let decode = c.opts.decode;
        let (samples, refused) = blocking(move || {
            let bytes = body::decompress(raw, encoding, max)?;
            let now = now_ns();
            Ok(if json || starts_like_json(&bytes) {
                from_json(json::decode(&bytes, decode, now))
            } else {
                from_lines(line::decode_with(&bytes, precision, decode, now))
            })
        })
        .await?;
        Ok::<_, Answer>(c.store(samples, refused).await)
    };
    run.await.unwrap_or_else(|a| a)
}

async fn prom_write(State(c): State<Arc<Collector>>, headers: HeaderMap, body: Body) -> Answer {
    let run = async {
        if let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
            && ct.contains("io.prometheus.write.v2")
        {
            return Err(Answer::Unsupported(
                "remote write 2.0 is not supported; send 1.0 \
                 (protobuf_message: prometheus.WriteRequest)"
                    .into(),
            ));
        }
        let encoding = Encoding::of(&headers, &[Encoding::Snappy], Encoding::Snappy)?;
        let max = c.opts.limits.max_body_bytes;
        let raw = body::read(body, &headers, max).await?;
        let decode = c.opts.decode;
        let (samples, refused) = blocking(move || {
            let proto = body::decompress(raw, encoding, max)?;
            remote_write::decode(&proto, decode, now_ns()).map_err(Answer::BadRequest)
        })
        .await?;
        Ok(c.store(samples, refused).await)
    };
    run.await.unwrap_or_else(|a| a)
}

/// Runs CPU-bound decoding off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Answer> + Send + 'static,
) -> Result<T, Answer> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "decoding a write panicked");
        Err(Answer::Internal(e.to_string()))
    })
}

fn parse_precision(s: &str) -> Result<Precision, Answer> {
    match s {
        "ns" | "n" => Ok(Precision::Ns),
        "us" | "u" | "µ" => Ok(Precision::Us),
        "ms" => Ok(Precision::Ms),
        "s" => Ok(Precision::S),
        _ => Err(Answer::BadRequest(format!(
            "precision {s:?} is not supported: use ns, us, ms or s"
        ))),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"))
}

fn starts_like_json(bytes: &[u8]) -> bool {
    matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

/// JSON's refusals: bad elements by index (from 0).
fn from_json(d: Decoded) -> (Vec<Sample>, Vec<Refused>) {
    let refused = d
        .rejected
        .into_iter()
        .map(|r| refusal(r.index.map(|i| format!("element {i}")), r.reason))
        .collect();
    (d.samples, refused)
}

/// A refusal at `at`, without the decoder's own `at: ` prefix of `reason`.
fn refusal(at: Option<String>, reason: String) -> Refused {
    let reason = match &at {
        Some(at) => reason
            .strip_prefix(at.as_str())
            .and_then(|r| r.strip_prefix(": "))
            .map_or(reason.clone(), str::to_string),
        None => reason,
    };
    Refused::at(at, reason)
}

/// Line protocol's refusals: bad lines by number (the decoder's `index`,
/// from 1), and the fields that hold no number, which are not stored.
fn from_lines(d: Decoded) -> (Vec<Sample>, Vec<Refused>) {
    let mut refused: Vec<Refused> = d
        .rejected
        .into_iter()
        .map(|r| refusal(r.index.map(|n| format!("line {n}")), r.reason))
        .collect();
    if d.skipped_fields > 0 {
        let what = match d.skipped_fields {
            1 => "1 field holds no number (a string field) and is".to_string(),
            n => format!("{n} fields hold no number (string fields) and are"),
        };
        refused.push(Refused::at(
            None,
            format!(
                "{what} not stored: Strata stores numeric fields only; drop them at the \
                 source (Telegraf: fieldexclude)"
            ),
        ));
    }
    (d.samples, refused)
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Rejected;

    #[test]
    fn refusals_name_lines_and_elements_once() {
        let rejected = |index, reason: &str| Rejected {
            reason: reason.into(),
            index,
            bytes: Vec::new(),
        };
        let (_, r) = from_lines(Decoded {
            rejected: vec![rejected(Some(3), "line 3: no fields"), rejected(None, "x")],
            skipped_fields: 2,
            ..Decoded::default()
        });
        assert_eq!(r[0].at.as_deref(), Some("line 3"));
        assert_eq!(r[0].reason, "no fields");
        assert_eq!(r[1].at, None);
        assert!(r[2].reason.starts_with("2 fields hold no number"), "{r:?}");
        let (_, r) = from_json(Decoded {
            rejected: vec![rejected(Some(0), "element 0: bad")],
            ..Decoded::default()
        });
        assert_eq!(
            (r[0].at.as_deref(), r[0].reason.as_str()),
            (Some("element 0"), "bad")
        );
        assert!(matches!(parse_precision("us"), Ok(Precision::Us)));
        assert!(parse_precision("h").is_err());
    }
}
