//! Object paths: where data files and log entries live under the store root.
//!
//! ```text
//! raw/2026-11-26/13/<uuid>.parquet        data file of tier `raw`, hour partition 13:00 UTC
//! 1m/2026-11-26/13/<uuid>.parquet         tier `1m`, also hourly partitions
//! 1h/2026-11-26/<uuid>.parquet            tier `1h`, daily partitions
//! _log/00000000000000000042.json           commit 42
//! _log/00000000000000000040.checkpoint.json  full snapshot as of commit 40
//! _log/_last_checkpoint                    pointer to the newest checkpoint
//! ```

use chrono::{DateTime, Utc};
use object_store::path::Path;
use strata_schemas::Tier;

/// Folder of the commit log.
pub const LOG_DIR: &str = "_log";

/// Length of one time partition of the raw tier, in nanoseconds (one hour).
pub const RAW_PARTITION_NS: i64 = 3_600 * 1_000_000_000;

/// The start (ns) of the raw tier's time partition holding `ts_ns`.
pub fn partition_start(ts_ns: i64) -> i64 {
    Tier::Raw.partition_start(ts_ns)
}

/// The folder of `tier`'s time partition starting at `start_ns`, e.g.
/// `raw/2026-11-26/13` or `1h/2026-11-26`.
pub fn partition_dir(tier: Tier, start_ns: i64) -> String {
    let t: DateTime<Utc> = DateTime::from_timestamp_nanos(start_ns);
    match tier.partition_ns() >= strata_schemas::tier::DAY_NS {
        true => format!("{}/{}", tier.dir(), t.format("%Y-%m-%d")),
        false => format!("{}/{}", tier.dir(), t.format("%Y-%m-%d/%H")),
    }
}

/// A fresh, unique data file path in a partition folder.
pub fn new_data_file(partition_dir: &str) -> Path {
    Path::from(format!("{partition_dir}/{}.parquet", uuid::Uuid::new_v4()))
}

/// Path of commit `seq`.
pub fn commit_path(seq: u64) -> Path {
    Path::from(format!("{LOG_DIR}/{seq:020}.json"))
}

/// Path of the checkpoint taken at commit `seq`.
pub fn checkpoint_path(seq: u64) -> Path {
    Path::from(format!("{LOG_DIR}/{seq:020}.checkpoint.json"))
}

/// Path of the pointer to the newest checkpoint.
pub fn last_checkpoint_path() -> Path {
    Path::from(format!("{LOG_DIR}/_last_checkpoint"))
}

/// Parses a log object's file name into `(seq, is_checkpoint)`.
pub fn parse_log_name(name: &str) -> Option<(u64, bool)> {
    if let Some(stem) = name.strip_suffix(".checkpoint.json") {
        return stem.parse().ok().map(|s| (s, true));
    }
    name.strip_suffix(".json")?.parse().ok().map(|s| (s, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_hours() {
        let ts = 1_613_707_265_000_000_000; // 2021-02-19T04:01:05Z
        assert_eq!(
            partition_dir(Tier::Raw, partition_start(ts)),
            "raw/2021-02-19/04"
        );
        assert_eq!(partition_start(ts) % RAW_PARTITION_NS, 0);
        assert!(partition_start(-1) < 0);
        assert_eq!(
            partition_dir(Tier::Hour, Tier::Hour.partition_start(ts)),
            "1h/2021-02-19"
        );
    }

    #[test]
    fn log_names_round_trip() {
        let c = commit_path(42);
        assert_eq!(parse_log_name(c.filename().unwrap()), Some((42, false)));
        let k = checkpoint_path(40);
        assert_eq!(parse_log_name(k.filename().unwrap()), Some((40, true)));
        assert_eq!(parse_log_name("_last_checkpoint"), None);
    }
}
