//! Retention: drops the time partitions of a tier that are older than the
//! tier's retention, never before the next coarser tier covers them.
//!
//! # Rules
//! A partition is *past retention* when its end is at or before
//! `now − retention(tier)`. It then [expires](Verdict::Expire) when:
//! - **raw** hour H: the `1m` tier holds files for H and none of them holds
//!   an estimated row (`exact = false`, a counter increase that compaction
//!   has yet to recompute from this very raw partition). The flag is read
//!   from the `exact` column's Parquet statistics of those files (one footer
//!   read per file; a file without statistics counts as estimated).
//! - **1m** hour H: the `1h` tier holds the rollup of H (a file with
//!   `derived_from` set and `min_ts_ns == H`), derived from the 1m files
//!   H holds now ([`crate::rollup::digest`]): a late correction not yet
//!   rolled up is not dropped.
//! - **1h**: always; it is the coarsest tier.
//!
//! Otherwise it is [held back](Verdict::HeldBack) and reported, so an
//! operator sees data the policy would drop but the coarser tier does not
//! yet replace. A policy keeping a finer tier longer than a coarser one is
//! refused by [`RetentionPolicy::validate`]: its finer partitions would be
//! held back forever.
//!
//! [`apply`] publishes one commit per expired partition, removing its files
//! from the log. Objects are not deleted here: [`crate::gc`] deletes them
//! after its grace period, so that queries planned on an older snapshot
//! can still read them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use datafusion::error::DataFusionError;
use datafusion::parquet::arrow::async_reader::MetadataFetch;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use datafusion::parquet::file::statistics::Statistics;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use strata_schemas::Tier;
use strata_schemas::tier::col;
use strata_storage::{Commit, CommitOutcome, DataFile, Snapshot, Store, TableLog, layout};

use crate::Result;
use crate::rollup;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// How long each tier keeps its data. The default is the seed's policy:
/// raw samples for 7 days, 1-minute aggregates for 30 days, 1-hour
/// aggregates for a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Retention of the raw tier.
    pub raw: Duration,
    /// Retention of the `1m` tier.
    pub minute: Duration,
    /// Retention of the `1h` tier.
    pub hour: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            raw: 7 * DAY,
            minute: 30 * DAY,
            hour: 365 * DAY,
        }
    }
}

impl RetentionPolicy {
    /// The retention of `tier`.
    pub fn of(&self, tier: Tier) -> Duration {
        match tier {
            Tier::Raw => self.raw,
            Tier::Minute => self.minute,
            Tier::Hour => self.hour,
        }
    }

    /// Refuses a policy that keeps a finer tier longer than a coarser one:
    /// the finer tier's old partitions could never expire (the coarser
    /// data that must cover them would be gone first).
    pub fn validate(&self) -> Result<(), InvalidPolicy> {
        for pair in Tier::ALL.windows(2) {
            let (fine, coarse) = (pair[0], pair[1]);
            if self.of(fine) > self.of(coarse) {
                return Err(InvalidPolicy {
                    finer: fine,
                    finer_retention: self.of(fine),
                    coarser: coarse,
                    coarser_retention: self.of(coarse),
                });
            }
        }
        Ok(())
    }

    /// The end (ns) a partition of `tier` must not exceed to be past
    /// retention at `now_ns`.
    fn cutoff_ns(&self, tier: Tier, now_ns: i64) -> i64 {
        now_ns.saturating_sub(duration_ns(self.of(tier)))
    }
}

/// A [`RetentionPolicy`] keeping a finer tier longer than a coarser one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the retention of {} exceeds that of {}: a tier cannot outlive the coarser tier that replaces it",
    finer.dir(),
    coarser.dir()
)]
pub struct InvalidPolicy {
    /// The finer tier.
    pub finer: Tier,
    /// Its retention.
    pub finer_retention: Duration,
    /// The next coarser tier.
    pub coarser: Tier,
    /// Its (shorter) retention.
    pub coarser_retention: Duration,
}

/// One time partition past its tier's retention, and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The partition's tier.
    pub tier: Tier,
    /// Start of the partition, ns since the epoch.
    pub partition_start_ns: i64,
    /// Paths of the partition's visible files.
    pub files: Vec<String>,
    /// Rows in those files.
    pub rows: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Whether the partition goes now.
    pub verdict: Verdict,
}

impl Expired {
    /// The partition's folder, e.g. `raw/2026-11-19/13`: how operators
    /// name it.
    pub fn partition_dir(&self) -> String {
        layout::partition_dir(self.tier, self.partition_start_ns)
    }

    /// Whether [`apply`] removes this partition.
    pub fn expires(&self) -> bool {
        self.verdict == Verdict::Expire
    }
}

/// What retention does with a partition past its retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Removed from the log by [`apply`].
    Expire,
    /// Kept for now, because its data is not yet in the coarser tier.
    HeldBack(HoldReason),
}

/// Why a partition past its retention is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReason {
    /// The coarser tier has no data for this time range (a raw hour
    /// without 1m files, a 1m hour without its 1h rollup). Persisting, it
    /// means compaction or rollup is not running or fails.
    CoarserTierMissing,
    /// Some 1m rows of this hour are estimates that compaction has yet to
    /// recompute from this raw partition. Persisting, compaction could not
    /// repair them (its report counts them as left estimated).
    AwaitingRepair,
    /// The hour's 1h file was derived from other 1m files than the hour
    /// holds now (a late correction, or compaction, since the rollup).
    RollupOutdated,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Expire => f.write_str("expired"),
            Verdict::HeldBack(HoldReason::CoarserTierMissing) => {
                f.write_str("held back (coarser tier missing)")
            }
            Verdict::HeldBack(HoldReason::AwaitingRepair) => {
                f.write_str("held back (1m rows await repair from raw)")
            }
            Verdict::HeldBack(HoldReason::RollupOutdated) => {
                f.write_str("held back (1h rollup out of date)")
            }
        }
    }
}

/// Decides the fate of every partition of `snapshot` past its retention
/// at `now`, finest tier first, oldest partition first.
///
/// `estimated` holds the paths of 1m files known to hold estimated rows
/// (see [`estimated_minute_files`]); a raw hour whose 1m files include one
/// is held back. Pure: reads nothing, so [`plan_for`] is what jobs call.
pub fn plan(
    snapshot: &Snapshot,
    policy: &RetentionPolicy,
    now: SystemTime,
    estimated: &BTreeSet<String>,
) -> Vec<Expired> {
    let now_ns = system_time_ns(now);
    let partitions = partitions(snapshot);
    let minute_hours: BTreeMap<i64, &Vec<&DataFile>> = partitions
        .iter()
        .filter(|((t, _), _)| *t == Tier::Minute)
        .map(|((_, start), files)| (*start, files))
        .collect();
    // The digest each hour's 1h file was derived from.
    let rollups: BTreeMap<i64, &str> = snapshot
        .files_of(Tier::Hour.dir())
        .filter_map(|f| Some((f.min_ts_ns, f.derived_from.as_deref()?)))
        .collect();

    let mut out = Vec::new();
    for ((tier, start), files) in &partitions {
        let end = start.saturating_add(tier.partition_ns());
        if end > policy.cutoff_ns(*tier, now_ns) {
            continue;
        }
        let verdict = match tier {
            Tier::Raw => match minute_hours.get(start) {
                None => Verdict::HeldBack(HoldReason::CoarserTierMissing),
                Some(m) if m.iter().any(|f| estimated.contains(&f.path)) => {
                    Verdict::HeldBack(HoldReason::AwaitingRepair)
                }
                Some(_) => Verdict::Expire,
            },
            Tier::Minute => match rollups.get(start) {
                None => Verdict::HeldBack(HoldReason::CoarserTierMissing),
                Some(d) if *d != digest(files) => Verdict::HeldBack(HoldReason::RollupOutdated),
                Some(_) => Verdict::Expire,
            },
            Tier::Hour => Verdict::Expire,
        };
        out.push(Expired {
            tier: *tier,
            partition_start_ns: *start,
            files: files.iter().map(|f| f.path.clone()).collect(),
            rows: files.iter().map(|f| f.rows).sum(),
            bytes: files.iter().map(|f| f.bytes).sum(),
            verdict,
        });
    }
    out
}

/// Plans retention on the newest snapshot of `log`: reads the footers of
/// the 1m files that decide whether raw partitions past retention may go,
/// then calls [`plan`].
pub async fn plan_for(
    log: &TableLog,
    policy: &RetentionPolicy,
    now: SystemTime,
) -> Result<Vec<Expired>> {
    let snapshot = log.snapshot().await?;
    let estimated = estimated_minute_files(log.store(), &snapshot, policy, now).await?;
    Ok(plan(&snapshot, policy, now, &estimated))
}

/// The 1m files covering a raw hour past retention that hold at least one
/// estimated row (`exact = false`), from their Parquet statistics.
pub async fn estimated_minute_files(
    store: &Store,
    snapshot: &Snapshot,
    policy: &RetentionPolicy,
    now: SystemTime,
) -> Result<BTreeSet<String>> {
    let cutoff = policy.cutoff_ns(Tier::Raw, system_time_ns(now));
    let expiring_raw_hours: BTreeSet<i64> = snapshot
        .files_of(Tier::Raw.dir())
        .map(|f| f.partition_start_ns)
        .filter(|start| start.saturating_add(Tier::Raw.partition_ns()) <= cutoff)
        .collect();
    let to_check: Vec<(String, u64)> = snapshot
        .files_of(Tier::Minute.dir())
        .filter(|f| expiring_raw_hours.contains(&f.partition_start_ns))
        .map(|f| (f.path.clone(), f.bytes))
        .collect();
    let objects = store.objects();
    futures::stream::iter(to_check)
        .map(|(path, size)| async move {
            let meta = read_footer(Arc::clone(objects), &path, size).await?;
            Ok::<_, crate::Error>(holds_estimates(&meta).then_some(path))
        })
        .buffer_unordered(8)
        .try_filter_map(|p| async move { Ok(p) })
        .try_collect()
        .await
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Partitions removed from the log.
    pub expired_partitions: usize,
    /// Files removed from the log (their objects are left to GC).
    pub removed_files: usize,
    /// Bytes of those files.
    pub removed_bytes: u64,
    /// Partitions past retention kept because the coarser tier does not
    /// cover them yet.
    pub held_back: usize,
    /// Partitions skipped because another writer changed them since the
    /// plan (e.g. compaction replaced a file); the next run retries them.
    pub conflicts: Vec<String>,
}

impl RetentionReport {
    /// Whether the log changed.
    pub fn changed(&self) -> bool {
        self.expired_partitions > 0
    }
}

impl fmt::Display for RetentionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expired {} partitions ({} files, {} bytes), held back {}",
            self.expired_partitions, self.removed_files, self.removed_bytes, self.held_back
        )?;
        if !self.conflicts.is_empty() {
            write!(f, ", skipped {} changed meanwhile", self.conflicts.len())?;
        }
        Ok(())
    }
}

/// Removes every expiring partition of `plan` from the log, one commit
/// per partition so that a conflict on one does not hold back the others.
pub async fn apply(log: &TableLog, plan: &[Expired]) -> Result<RetentionReport> {
    let mut report = RetentionReport {
        held_back: plan.iter().filter(|e| !e.expires()).count(),
        ..Default::default()
    };
    for e in plan.iter().filter(|e| e.expires()) {
        let commit = Commit {
            remove: e.files.clone(),
            writer: crate::compact::writer("retention"),
            retire: Vec::new(),
            ..Default::default()
        };
        match log.commit(commit).await? {
            CommitOutcome::Committed { seq } => {
                tracing::debug!(partition = %e.partition_dir(), files = e.files.len(), seq, "partition expired");
                report.expired_partitions += 1;
                report.removed_files += e.files.len();
                report.removed_bytes += e.bytes;
            }
            CommitOutcome::Conflict { reason } => {
                tracing::debug!(partition = %e.partition_dir(), %reason, "partition changed since planned; retried next run");
                report.conflicts.push(e.partition_dir());
            }
        }
    }
    Ok(report)
}

/// The visible files of `snapshot` by tier and partition start, in that
/// order. Files of unknown tiers are ignored.
fn partitions(snapshot: &Snapshot) -> BTreeMap<(Tier, i64), Vec<&DataFile>> {
    let mut out: BTreeMap<(Tier, i64), Vec<&DataFile>> = BTreeMap::new();
    for f in snapshot.files.values() {
        if let Some(tier) = Tier::from_dir(&f.tier) {
            out.entry((tier, f.partition_start_ns)).or_default().push(f);
        }
    }
    out
}

/// [`rollup::digest`] of borrowed files.
fn digest(files: &[&DataFile]) -> String {
    let owned: Vec<DataFile> = files.iter().map(|f| (*f).clone()).collect();
    rollup::digest(&owned)
}

/// Whether any row group of a file may hold `exact = false`. Missing
/// statistics count as yes.
fn holds_estimates(meta: &ParquetMetaData) -> bool {
    meta.row_groups().iter().any(|rg| {
        let exact = rg
            .columns()
            .iter()
            .find(|c| c.column_path().string() == col::EXACT);
        match exact.and_then(|c| c.statistics()) {
            Some(Statistics::Boolean(s)) => s.min_opt() != Some(&true) && rg.num_rows() > 0,
            _ => rg.num_rows() > 0,
        }
    })
}

/// Reads a Parquet footer with (usually) one ranged GET.
async fn read_footer(
    objects: Arc<dyn ObjectStore>,
    path: &str,
    size: u64,
) -> Result<ParquetMetaData> {
    let fetch = RangeFetch {
        objects,
        path: Path::from(path),
    };
    let meta = ParquetMetaDataReader::new()
        .with_prefetch_hint(Some(64 * 1024))
        .load_and_finish(fetch, size)
        .await
        .map_err(DataFusionError::from)?;
    Ok(meta)
}

struct RangeFetch {
    objects: Arc<dyn ObjectStore>,
    path: Path,
}

impl MetadataFetch for RangeFetch {
    fn fetch(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes, ParquetError>> {
        async move {
            self.objects
                .get_range(&self.path, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }
}

fn duration_ns(d: Duration) -> i64 {
    d.as_nanos().min(i64::MAX as u128) as i64
}

fn system_time_ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => duration_ns(d),
        Err(e) => -duration_ns(e.duration()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_schemas::tier::HOUR_NS;
    use strata_schemas::{Agg, AggBatchBuilder};

    /// Hour number (since the epoch) of "now" in these tests.
    const NOW_H: i64 = 500_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos((NOW_H * HOUR_NS + HOUR_NS / 2) as u64)
    }

    fn file(tier: Tier, start_h: i64, name: &str) -> DataFile {
        let start = tier.partition_start(start_h * HOUR_NS);
        let dir = layout::partition_dir(tier, start);
        DataFile {
            path: format!("{dir}/{name}.parquet"),
            tier: tier.dir().to_string(),
            partition_start_ns: start,
            min_ts_ns: start_h * HOUR_NS,
            max_ts_ns: start_h * HOUR_NS + 1,
            min_metric: "a".into(),
            max_metric: "z".into(),
            rows: 10,
            bytes: 100,
            derived_from: None,
        }
    }

    /// The 1h file of hour `hour_h`, rolled up from `minutes`.
    fn rollup_of(hour_h: i64, minutes: &[&DataFile]) -> DataFile {
        DataFile {
            derived_from: Some(digest(minutes)),
            ..file(Tier::Hour, hour_h, &format!("rollup-{hour_h}"))
        }
    }

    fn snapshot(files: impl IntoIterator<Item = DataFile>) -> Snapshot {
        Snapshot {
            files: files.into_iter().map(|f| (f.path.clone(), f)).collect(),
            ..Default::default()
        }
    }

    fn verdicts(plan: &[Expired]) -> Vec<(String, Verdict)> {
        plan.iter()
            .map(|e| (e.partition_dir(), e.verdict))
            .collect()
    }

    #[test]
    fn default_policy_is_the_seeds_and_inverted_policies_are_refused() {
        let p = RetentionPolicy::default();
        assert_eq!(p.raw, Duration::from_secs(7 * 86_400));
        assert_eq!(p.minute, Duration::from_secs(30 * 86_400));
        assert_eq!(p.hour, Duration::from_secs(365 * 86_400));
        assert!(p.validate().is_ok());
        let bad = RetentionPolicy { raw: 40 * DAY, ..p };
        let err = bad.validate().unwrap_err();
        assert_eq!((err.finer, err.coarser), (Tier::Raw, Tier::Minute));
        assert!(
            err.to_string()
                .contains("retention of raw exceeds that of 1m"),
            "{err}"
        );
    }

    #[test]
    fn raw_hours_go_once_past_retention_and_covered_by_1m() {
        let raw_h = 7 * 24; // hours of raw retention
        // The partition ending exactly at now − 7d (rounded down to the
        // hour) is past retention; the one after it is not.
        let last = NOW_H - raw_h - 1;
        let snap = snapshot([
            file(Tier::Raw, last, "covered"),
            file(Tier::Minute, last, "m1"),
            file(Tier::Minute, last, "m2"),
            file(Tier::Raw, last + 1, "too-young"),
            file(Tier::Minute, last + 1, "m"),
            file(Tier::Raw, last - 1, "uncovered"),
            file(Tier::Raw, last - 2, "estimated"),
            file(Tier::Raw, last - 2, "estimated-2"),
            file(Tier::Minute, last - 2, "m-est"),
            file(Tier::Minute, last - 2, "m-ok"),
        ]);
        let estimated = BTreeSet::from([file(Tier::Minute, last - 2, "m-est").path]);
        let plan = plan(&snap, &RetentionPolicy::default(), now(), &estimated);
        let dir = |h| layout::partition_dir(Tier::Raw, h * HOUR_NS);
        assert_eq!(
            verdicts(&plan),
            vec![
                (dir(last - 2), Verdict::HeldBack(HoldReason::AwaitingRepair)),
                (
                    dir(last - 1),
                    Verdict::HeldBack(HoldReason::CoarserTierMissing)
                ),
                (dir(last), Verdict::Expire),
            ]
        );
        assert_eq!(plan[0].files.len(), 2);
        assert_eq!((plan[0].rows, plan[0].bytes), (20, 200));
    }

    #[test]
    fn minute_hours_need_their_current_rollup_and_hour_days_just_expire() {
        let old = NOW_H - 31 * 24;
        let rolled = file(Tier::Minute, old, "rolled");
        let hand_written = file(Tier::Minute, old + 1, "1h file not derived");
        let corrected = file(Tier::Minute, old + 2, "before");
        let correction = file(Tier::Minute, old + 2, "late correction");
        let snap = snapshot([
            rollup_of(old, &[&rolled]),
            rolled,
            DataFile {
                derived_from: None,
                ..rollup_of(old + 1, &[&hand_written])
            },
            hand_written,
            rollup_of(old + 2, &[&corrected]),
            corrected,
            correction,
            file(Tier::Minute, old + 3, "no rollup"),
            file(Tier::Hour, NOW_H - 367 * 24, "a year old"),
            file(Tier::Hour, NOW_H - 364 * 24, "kept"),
        ]);
        let plan = plan(&snap, &RetentionPolicy::default(), now(), &BTreeSet::new());
        let m = |h| layout::partition_dir(Tier::Minute, h * HOUR_NS);
        let missing = Verdict::HeldBack(HoldReason::CoarserTierMissing);
        let outdated = Verdict::HeldBack(HoldReason::RollupOutdated);
        let year_old = Tier::Hour.partition_start((NOW_H - 367 * 24) * HOUR_NS);
        assert_eq!(
            verdicts(&plan),
            vec![
                (m(old), Verdict::Expire),
                (m(old + 1), missing),
                (m(old + 2), outdated),
                (m(old + 3), missing),
                (layout::partition_dir(Tier::Hour, year_old), Verdict::Expire),
            ]
        );
        assert_eq!(missing.to_string(), "held back (coarser tier missing)");
        assert_eq!(outdated.to_string(), "held back (1h rollup out of date)");
    }

    /// Writes a real 1m file of hour `h` to the store; `exact` sets the flag
    /// of its one row.
    async fn put_minute_file(store: &Store, h: i64, name: &str, exact: bool) -> DataFile {
        let mut b = AggBatchBuilder::default();
        let agg = Agg {
            exact,
            ..Agg::of(h * HOUR_NS, 1.0)
        };
        b.push("cpu", [("host", "a")], h * HOUR_NS, &agg);
        let bytes = strata_storage::parquet::encode(Tier::Minute, &b.finish().unwrap()).unwrap();
        let f = DataFile {
            bytes: bytes.len() as u64,
            rows: 1,
            ..file(Tier::Minute, h, name)
        };
        store
            .put_durable(&Path::from(f.path.as_str()), bytes, true)
            .await
            .unwrap();
        f
    }

    async fn commit(log: &TableLog, add: Vec<DataFile>) {
        let c = Commit {
            add,
            ..Default::default()
        };
        assert!(matches!(
            log.commit(c).await.unwrap(),
            CommitOutcome::Committed { .. }
        ));
    }

    #[tokio::test]
    async fn estimated_rows_are_read_from_parquet_statistics() {
        let log = TableLog::open(Store::open("memory://").unwrap())
            .await
            .unwrap();
        let old = NOW_H - 8 * 24;
        let exact = put_minute_file(log.store(), old, "exact", true).await;
        let estimate = put_minute_file(log.store(), old + 1, "estimate", false).await;
        // A young hour's 1m file is not even read (it does not exist).
        let young = file(Tier::Minute, NOW_H - 1, "young");
        commit(
            &log,
            vec![
                file(Tier::Raw, old, "r0"),
                file(Tier::Raw, old + 1, "r1"),
                file(Tier::Raw, NOW_H - 1, "r2"),
                exact,
                estimate.clone(),
                young,
            ],
        )
        .await;
        let policy = RetentionPolicy::default();
        let snap = log.snapshot().await.unwrap();
        let found = estimated_minute_files(log.store(), &snap, &policy, now())
            .await
            .unwrap();
        assert_eq!(found, BTreeSet::from([estimate.path]));
        let plan = plan_for(&log, &policy, now()).await.unwrap();
        assert_eq!(
            plan.iter().map(|e| e.verdict).collect::<Vec<_>>(),
            vec![
                Verdict::Expire,
                Verdict::HeldBack(HoldReason::AwaitingRepair)
            ]
        );
    }

    #[tokio::test]
    async fn apply_removes_each_partition_in_its_own_commit() {
        let log = TableLog::open(Store::open("memory://").unwrap())
            .await
            .unwrap();
        let old = NOW_H - 400 * 24;
        let (a, b, c) = (
            file(Tier::Hour, old, "a"),
            file(Tier::Hour, old + 24, "b"),
            file(Tier::Hour, old + 48, "c"),
        );
        commit(&log, vec![a.clone(), b.clone(), c.clone()]).await;
        let plan = plan_for(&log, &RetentionPolicy::default(), now())
            .await
            .unwrap();
        assert_eq!(plan.len(), 3);
        // Another writer replaces `b` between planning and applying.
        let replace = Commit {
            remove: vec![b.path.clone()],
            add: vec![file(Tier::Hour, old + 24, "b2")],
            ..Default::default()
        };
        log.commit(replace).await.unwrap();
        let before = log.snapshot().await.unwrap().seq;
        let report = apply(&log, &plan).await.unwrap();
        assert_eq!(report.expired_partitions, 2);
        assert_eq!((report.removed_files, report.removed_bytes), (2, 200));
        assert_eq!(
            report.conflicts,
            vec![layout::partition_dir(Tier::Hour, b.partition_start_ns)]
        );
        assert!(report.changed());
        let snap = log.snapshot().await.unwrap();
        assert_eq!(snap.seq, before + 2);
        assert_eq!(
            snap.files.keys().collect::<Vec<_>>(),
            vec![&file(Tier::Hour, old + 24, "b2").path]
        );
        // The next run picks up the replaced partition.
        let again = plan_for(&log, &RetentionPolicy::default(), now())
            .await
            .unwrap();
        let report = apply(&log, &again).await.unwrap();
        assert_eq!(report.expired_partitions, 1);
        assert!(log.snapshot().await.unwrap().files.is_empty());
        assert_eq!(
            report.to_string(),
            "expired 1 partitions (1 files, 100 bytes), held back 0"
        );
    }
}
