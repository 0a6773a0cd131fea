//! Errors of the storage layer.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `--store` URL could not be understood. The user must fix it.
    #[error("invalid store URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The object store failed. Usually transient: retry with backoff.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// A local file operation failed (fsync of a `file://` store).
    #[error("local I/O on {path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Encoding a Parquet file failed. A bug: stop.
    #[error("parquet: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    /// Building an Arrow batch failed. A bug: stop.
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A file's series index could not be encoded, or is damaged
    /// ([`crate::series_index`]). Readers fall back to the labels column.
    #[error("series index: {0}")]
    SeriesIndex(String),
    /// A log entry could not be parsed: the log is damaged or was written by
    /// an incompatible version. Stop and investigate.
    #[error("commit log entry {path}: {reason}")]
    CorruptLog {
        /// The log object.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
}
