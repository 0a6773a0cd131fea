//! Errors of the ingest pipeline, classified by what the caller should do.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop the pipeline. Undecodable input is *not* an error: it is
/// dead-lettered and ingest goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kafka client failed (broker unreachable, misconfiguration).
    /// Retry with backoff, or fix the configuration.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The store failed; the batch was not committed and will be consumed
    /// again after a restart. Retry with backoff.
    #[error("store: {0}")]
    Storage(#[from] strata_storage::Error),
    /// A dead letter could not be delivered; the batch was not committed.
    #[error("dead-letter delivery failed: {0}")]
    DeadLetter(String),
    /// Startup could not prepare Kafka (topics, cluster identity).
    #[error("kafka setup: {0}")]
    Setup(String),
    /// Building Arrow data failed. A bug: stop.
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}
