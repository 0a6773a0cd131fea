//! Strata's shared data model.
//!
//! Every other crate speaks these types; this crate depends on nothing of
//! ours.
//!
//! # Layout
//! - [`sample`]: a [`Sample`] (metric name, [`Labels`], timestamp, value) and
//!   its [`SeriesKey`].
//! - [`tier`]: the storage tiers and the Arrow schema of each (feature
//!   `arrow`, on by default, as are `batch` and `alerts`).
//! - [`agg`]: the mergeable window aggregate of the `1m` and `1h` tiers.
//! - [`batch`]: turning samples into Arrow record batches sorted by series,
//!   then time.
#![warn(missing_docs)]

pub mod agg;
#[cfg(feature = "arrow")]
pub mod alerts;
#[cfg(feature = "arrow")]
pub mod batch;
pub mod sample;
#[cfg(feature = "arrow")]
pub mod tier;

pub use agg::Agg;
#[cfg(feature = "arrow")]
pub use batch::{AggBatchBuilder, SampleBatchBuilder};
pub use sample::{Labels, Sample, SeriesKey};
#[cfg(feature = "arrow")]
pub use tier::Tier;
