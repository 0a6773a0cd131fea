//! Tier writers: turning buffered samples into committed Parquet files.

pub mod minute;
pub mod raw;
pub mod window;

pub use raw::RawBuffer;
pub use window::Windows;
