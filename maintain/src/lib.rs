//! Background maintenance of a Strata store.
//!
//! # Layout
//! - [`compact`]: merges the small files of a time partition into one and
//!   folds partial aggregates, repairing estimated counter increases from
//!   the raw tier.
//! - [`rollup`]: derives the `1h` tier from closed hours of the `1m` tier.
//! - [`retention`]: deletes expired time partitions, never before the
//!   coarser tier covers them.
//! - [`gc`]: deletes data files no commit references, after a grace period.
//! - [`schedule`]: runs the four, in that order, every interval.
#![warn(missing_docs)]

pub mod compact;
mod error;
pub mod gc;
pub mod retention;
pub mod rollup;
pub mod schedule;

pub use error::{Error, Result};
