//! Strata's query service: SQL over the tiers, read-only, over HTTP.
//!
//! A [`QueryEngine`] is a DataFusion session in which every tier is a table
//! backed by the commit log of the store (for `metrics_1m` and `metrics_1h`
//! a view merging the partial aggregates of the stored files into one row
//! per series and window, see [`merge`]): each scan reads the newest
//! snapshot of the log, so files committed by the ingest pipeline are
//! visible to the next query without a restart. Files are pruned by the
//! time range and metric names the query's filters imply before any of them
//! is opened; Parquet statistics then prune row groups and pages inside the
//! survivors.
//!
//! ```text
//! POST /api/v1/sql ─▶ http::sql ─▶ guard::check ─▶ QueryEngine::sql ─▶ format::encode
//!                                                     │
//!                                   TierTable::scan ◀─┘ (snapshot → prune → Parquet scan)
//! ```
//!
//! # Layout
//! - [`engine`]: the [`QueryEngine`], a DataFusion session over the store.
//! - [`table`]: [`TierTable`], one tier's stored files as a DataFusion table.
//! - [`merge`]: the views `metrics_1m` and `metrics_1h`, merging partial
//!   aggregates with the `agg_merge` aggregate function.
//! - [`prune`]: what a query's filters imply about which files can match.
//! - [`guard`]: refusing everything but reads, before and during planning.
//! - [`format`](mod@format): results as JSON, JSON lines, CSV or Arrow IPC.
//! - [`http`]: the axum router and server (`POST /api/v1/sql`,
//!   `GET /health`).
//! - [`error`]: the crate's [`Error`] and its HTTP status.
#![warn(missing_docs)]

pub mod alerts;
pub mod cache;
pub mod engine;
pub mod error;
pub mod format;
pub mod guard;
pub mod http;
pub mod limits;
pub mod merge;
pub mod pg;
pub mod prune;
pub mod series;
pub mod table;

pub use cache::CacheStats;
pub use engine::QueryEngine;
pub use error::{Error, Result};
pub use format::Format;
pub use limits::QueryOptions;
pub use table::TierTable;
