//! Strata's table format on object storage.
//!
//! Every tier is a set of Parquet files, one folder per time partition, made
//! visible only through an append-only commit log. The log is the single
//! source of truth for "what is stored" *and* for "which Kafka offsets have
//! been persisted": a commit names the files it adds and the offset ranges
//! whose samples those files hold, and it is published with one atomic
//! create-if-absent write. A data file that no commit names does not exist
//! for readers.
//!
//! # Layout
//! - [`store`]: opening `file://` and `s3://` stores, durable writes.
//! - [`parquet`]: how tier files are encoded (sort order, encodings, zstd).
//! - [`log`]: the commit log, snapshots, and optimistic concurrency between
//!   writers.
//! - [`layout`]: object paths of data files and log entries.
#![warn(missing_docs)]

pub mod error;
pub mod layout;
pub mod log;
pub mod parquet;
pub mod series_index;
pub mod store;

pub use error::{Error, Result};
pub use log::{Commit, CommitOutcome, DataFile, OffsetRange, Snapshot, TableLog, WindowMark};
pub use store::Store;
