//! Rollup: the `1h` tier, derived from the `1m` tier.
//!
//! Ingest writes only the `1m` tier. For every hour `H` holding a closed
//! minute (`H < closed_before`), [`rollup`] merges the `1m` files of `H`
//! into one row per series and window
//! ([`strata_query::QueryEngine::merge_files`]): each minute's parts are
//! folded, then the minutes are chained in time order with
//! [`strata_schemas::Agg::merge`]. Minutes never overlap, so an hour is
//! exact when its minutes are, and carries `exact = false` otherwise.
//!
//! The hour is written as one file of the `1h` tier's daily partition with
//! `min_ts_ns = max_ts_ns = H` and `derived_from` = a digest of the sorted
//! paths of the `1m` files it was computed from, and published by one
//! commit that also removes the hour's previous `1h` file(s). An hour whose
//! `1h` file has the digest of the current `1m` files is skipped: nothing
//! changed. Late corrections, and compaction, change the `1m` files of an
//! hour, so the next run rolls that hour up again. The hour still being
//! written is rolled up too, from the minutes closed so far, and again as
//! each rollup finds new minutes: the `1h` tier always equals the rollup of
//! the `1m` tier, and a stream that went quiet has its last hour in `1h`.
//!
//! `closed_before` defaults to the smallest `closed_before_ns` of every
//! partition of every source in the log's window marks: every ingest
//! process has written every window ending before it. With no marks at all
//! nothing is closed; [`RollupOptions::closed_before_ns`] overrides (tests,
//! forced runs).
//!
//! Run [`crate::compact`] first: it folds the hour's parts and repairs
//! estimated minutes from raw, so the hours rolled up are exact.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use strata_query::QueryEngine;
use strata_schemas::Tier;
use strata_storage::{Commit, CommitOutcome, DataFile, Snapshot, TableLog, layout};

use crate::Result;
use crate::compact::{agg_rows, delete_uncommitted, write_agg_rows, writer};

/// Which hours [`rollup`] derives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupOptions {
    /// Roll up hours ending at or before this time, ns; `None`: the
    /// smallest `closed_before_ns` of the log's window marks.
    pub closed_before_ns: Option<i64>,
}

/// What [`rollup`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupReport {
    /// The bound used: hours ending at or before it were considered.
    pub closed_before_ns: Option<i64>,
    /// Hours (re)written.
    pub hours: usize,
    /// Closed hours whose `1h` file was already derived from the current
    /// `1m` files.
    pub unchanged: usize,
    /// `1m` rows read for the hours written.
    pub rows_in: u64,
    /// `1h` rows written.
    pub rows_out: u64,
    /// `1h` rows written with an estimated increase.
    pub estimated: u64,
    /// Hours skipped because another writer changed their files meanwhile;
    /// the next run retries them.
    pub conflicts: Vec<String>,
}

impl RollupReport {
    /// Whether the log changed.
    pub fn changed(&self) -> bool {
        self.hours > 0
    }
}

impl fmt::Display for RollupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} hours rolled up ({} → {} rows), {} unchanged",
            self.hours, self.rows_in, self.rows_out, self.unchanged
        )?;
        if self.estimated > 0 {
            write!(f, ", {} rows estimated", self.estimated)?;
        }
        if !self.conflicts.is_empty() {
            write!(f, ", skipped {} changed meanwhile", self.conflicts.len())?;
        }
        Ok(())
    }
}

/// Derives the `1h` file of every closed hour whose `1m` files changed
/// since its last rollup, one commit per hour.
pub async fn rollup(log: &Arc<TableLog>, opts: &RollupOptions) -> Result<RollupReport> {
    let snapshot = log.snapshot().await?;
    let closed_before = opts.closed_before_ns.or_else(|| closed_before(&snapshot));
    let mut report = RollupReport {
        closed_before_ns: closed_before,
        ..Default::default()
    };
    let Some(closed_before) = closed_before else {
        return Ok(report);
    };
    let mut minutes: BTreeMap<i64, Vec<DataFile>> = BTreeMap::new();
    for f in snapshot.files_of(Tier::Minute.dir()) {
        let hour = f.partition_start_ns;
        if hour < closed_before {
            minutes.entry(hour).or_default().push(f.clone());
        }
    }
    let mut hours: BTreeMap<i64, Vec<DataFile>> = BTreeMap::new();
    for f in snapshot.files_of(Tier::Hour.dir()) {
        hours.entry(f.min_ts_ns).or_default().push(f.clone());
    }
    let engine = QueryEngine::new(Arc::clone(log))?;
    for (hour, files) in minutes {
        let digest = digest(&files);
        let previous = hours.remove(&hour).unwrap_or_default();
        if let [only] = previous.as_slice()
            && only.derived_from.as_deref() == Some(digest.as_str())
        {
            report.unchanged += 1;
            continue;
        }
        roll_hour(log, &engine, hour, files, previous, digest, &mut report).await?;
    }
    Ok(report)
}

/// The default bound: the smallest `closed_before_ns` of all window marks.
fn closed_before(snapshot: &Snapshot) -> Option<i64> {
    snapshot
        .windows
        .values()
        .flat_map(|partitions| partitions.values())
        .map(|mark| mark.closed_before_ns)
        .min()
}

/// A digest of the sorted paths of `files`: what a `1h` file was derived
/// from. Defined by [`strata_query::series::rollup_digest`], which the
/// series API compares to tell a current rollup from a lagging one.
pub fn digest(files: &[DataFile]) -> String {
    strata_query::series::rollup_digest(files)
}

/// Writes and commits the `1h` file of `hour` from its `1m` `files`.
async fn roll_hour(
    log: &TableLog,
    engine: &QueryEngine,
    hour: i64,
    files: Vec<DataFile>,
    previous: Vec<DataFile>,
    digest: String,
    report: &mut RollupReport,
) -> Result<()> {
    let rows_in: u64 = files.iter().map(|f| f.rows).sum();
    let frame = engine.merge_files(Tier::Minute, files, Tier::Hour)?;
    let batches: Vec<_> = futures::TryStreamExt::try_collect(frame.execute_stream().await?).await?;
    let rows = agg_rows(&batches)?;
    if rows.is_empty() {
        return Ok(());
    }
    let estimated = rows.iter().filter(|(_, a)| !a.exact).count() as u64;
    let start = Tier::Hour.partition_start(hour);
    let dir = layout::partition_dir(Tier::Hour, start);
    // One file per hour, however many rows.
    let written = write_agg_rows(
        log,
        Tier::Hour,
        start,
        dir.clone(),
        &rows,
        usize::MAX,
        Some(digest),
    )
    .await?;
    let commit = Commit {
        add: written.clone(),
        remove: previous.iter().map(|f| f.path.clone()).collect(),
        offsets: vec![],
        writer: writer("rollup"),
        retire: Vec::new(),
    };
    let label = chrono::DateTime::from_timestamp_nanos(hour).format("%Y-%m-%dT%H:00Z");
    match log.commit(commit).await? {
        CommitOutcome::Committed { seq } => {
            tracing::info!(hour = %label, seq, rows_in, rows_out = rows.len(), estimated, replaced = previous.len(), "rolled up hour");
            report.hours += 1;
            report.rows_in += rows_in;
            report.rows_out += rows.len() as u64;
            report.estimated += estimated;
        }
        CommitOutcome::Conflict { reason } => {
            tracing::info!(hour = %label, %reason, "hour changed while rolling up; retried next run");
            delete_uncommitted(log, &written).await;
            report.conflicts.push(format!("{dir} {label}"));
        }
    }
    Ok(())
}
