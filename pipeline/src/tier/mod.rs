//! Tier writers: turning buffered samples into committed Parquet files.

pub mod raw;

pub use raw::RawBuffer;
