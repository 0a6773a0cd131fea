//! Counters of the ingest pipeline, shared with whoever reports them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters since process start.
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Kafka messages received (including replays skipped).
    pub messages: AtomicU64,
    /// Messages skipped because the store already holds them.
    pub skipped_replays: AtomicU64,
    /// Samples decoded and accepted into the buffer.
    pub accepted_samples: AtomicU64,
    /// Samples made durable and visible by a commit.
    pub stored_samples: AtomicU64,
    /// Rows written to the 1m tier: closed windows and corrections.
    pub aggregate_rows: AtomicU64,
    /// Messages or array elements sent to the dead-letter topic.
    pub dead_letters: AtomicU64,
    /// Fields of accepted records that held no number (line protocol and
    /// Telegraf string fields, OTLP no-recorded-value points,
    /// prometheus-kafka-adapter NaN values), skipped rather than stored.
    pub skipped_fields: AtomicU64,
    /// Commits published.
    pub commits: AtomicU64,
    /// Commits refused because another writer got there first.
    pub conflicts: AtomicU64,
    /// Parquet files written.
    pub files: AtomicU64,
}

impl IngestStats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
