//! Strata's ingest pipeline: Kafka → decode → tiers on object storage.
//!
//! # Layout
//! - [`kafka`]: client configuration, topic creation, the group consumer
//!   whose start offsets come from the store, and the dead-letter producer.
//! - [`decode`] (the `strata-decode` crate, re-exported): payload formats →
//!   [`strata_schemas::Sample`]s, with a reason for everything refused.
//! - [`tier`]: buffering samples and writing tier files.
//! - [`ingest`]: the loop that ties them together, and its exactly-once
//!   protocol.
//! - [`produce`]: synthetic samples for demos and benchmarks.
//! - [`collect`]: the HTTP push collector (line protocol, JSON, Prometheus
//!   remote write → Kafka).
//! - [`agent`]: this machine's metrics as samples, and their delivery to
//!   Kafka (`strata agent`).
//! - [`stats`] holds the ingest counters.
#![warn(missing_docs)]

pub mod agent;
pub mod collect;
pub mod error;
pub mod ingest;
pub mod kafka;
pub mod produce;
pub mod stats;
pub mod tier;

pub use error::{Error, Result};
pub use ingest::{IngestOptions, run as run_ingest};
pub use kafka::KafkaConfig;
pub use stats::IngestStats;
pub use strata_decode as decode;
