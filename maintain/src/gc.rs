//! Garbage collection: deletes the data objects no reader can still need.
//!
//! Compaction, rollup and retention only remove files from the commit log,
//! and a writer that crashes between writing a file and committing it
//! leaves the file behind. An object under a tier folder (`raw/`, `1m/`,
//! `1h/`) is deleted when
//! 1. the newest snapshot does not name it,
//! 2. it was written more than the grace period ago: a writer may be about
//!    to commit a file it has just written, and
//! 3. no commit published within the grace period removed it: a query
//!    planned on the snapshot before that commit may still be reading it.
//!
//! The grace period must therefore exceed both the longest query and the
//! longest time a writer spends between writing a data file and committing
//! it (ingest retries a failed commit with backoff).
//!
//! The snapshot is read *after* listing the objects, so a file committed
//! while the listing ran counts as referenced. Removal times come from the
//! commit log: listing `_log/` gives each commit's publication time, and the
//! commits of the grace period are read for the paths they removed. The log
//! keeps a bounded number of commits; when those do not reach back a whole
//! grace period, an unreferenced object may have been removed by a commit
//! that is gone, and it is kept ("removal time unknown"). A long-lived
//! [`Gc`] (the maintenance schedule's) remembers the commits it has read, so
//! after one grace period it sees the whole window at any commit rate.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt};
use strata_schemas::Tier;
use strata_storage::{Commit, Store, TableLog, layout};

use crate::Result;

/// How GC decides and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcOptions {
    /// Minimum age of a deleted object, and minimum time since a commit
    /// removed it from the log. See the module docs for how long it must be.
    pub grace: Duration,
    /// Report what would be deleted, delete nothing.
    pub dry_run: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(3600),
            dry_run: false,
        }
    }
}

/// What one GC run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Nothing was deleted: `deleted` counts what would have been.
    pub dry_run: bool,
    /// Objects listed under the tier folders.
    pub scanned: u64,
    /// Of those, objects the newest snapshot names.
    pub referenced: u64,
    /// Unreferenced objects deleted (or deletable, in a dry run).
    pub deleted: u64,
    /// Their bytes.
    pub deleted_bytes: u64,
    /// Unreferenced objects kept because they were written within the
    /// grace period (perhaps not yet committed).
    pub kept_young: u64,
    /// Unreferenced objects kept because a commit of the grace period
    /// removed them (queries may still read them).
    pub kept_recently_removed: u64,
    /// Unreferenced objects kept because the commit log does not reach back
    /// a whole grace period, so when they were removed is unknown.
    pub kept_unknown: u64,
    /// Bytes of all kept unreferenced objects.
    pub kept_bytes: u64,
    /// Deletions that failed (retried next run).
    pub failed: u64,
}

impl GcReport {
    /// Whether the run deleted anything.
    pub fn changed(&self) -> bool {
        !self.dry_run && self.deleted > 0
    }
}

impl fmt::Display for GcReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        write!(
            f,
            "{verb} {} unreferenced objects ({} bytes) of {} scanned",
            self.deleted, self.deleted_bytes, self.scanned
        )?;
        let kept = self.kept_young + self.kept_recently_removed + self.kept_unknown;
        if kept > 0 {
            write!(
                f,
                "; kept {kept} ({} bytes) within the grace period: {} written, {} removed from the log",
                self.kept_bytes, self.kept_young, self.kept_recently_removed
            )?;
            if self.kept_unknown > 0 {
                write!(
                    f,
                    ", {} of unknown removal time (the log's history is shorter than the grace period)",
                    self.kept_unknown
                )?;
            }
        }
        if self.failed > 0 {
            write!(f, "; {} deletions failed", self.failed)?;
        }
        Ok(())
    }
}

/// A garbage collector that remembers the commits it has read, so that
/// running it periodically reads each commit once.
#[derive(Debug)]
pub struct Gc {
    opts: GcOptions,
    /// Commits seen, by sequence number: when each was published and what
    /// it removed (only read for commits within the grace period).
    commits: BTreeMap<u64, SeenCommit>,
}

#[derive(Debug)]
struct SeenCommit {
    published: DateTime<Utc>,
    removed: Vec<String>,
}

/// Runs GC once with a fresh [`Gc`].
pub async fn gc(log: &TableLog, opts: GcOptions) -> Result<GcReport> {
    Gc::new(opts).run(log).await
}

impl Gc {
    /// A collector with no memory of the log yet.
    pub fn new(opts: GcOptions) -> Self {
        Self {
            opts,
            commits: BTreeMap::new(),
        }
    }

    /// Lists the tier folders and deletes the garbage found.
    pub async fn run(&mut self, log: &TableLog) -> Result<GcReport> {
        self.run_at(log, Utc::now()).await
    }

    async fn run_at(&mut self, log: &TableLog, now: DateTime<Utc>) -> Result<GcReport> {
        let store = log.store();
        let cutoff =
            now - chrono::Duration::from_std(self.opts.grace).unwrap_or(chrono::TimeDelta::MAX);
        let objects = list_tier_objects(store).await?;
        // After listing: a file committed meanwhile is referenced here.
        let snapshot = log.snapshot().await?;
        let (removed, complete) = self.removed_since(store, cutoff).await?;

        let mut report = GcReport {
            dry_run: self.opts.dry_run,
            scanned: objects.len() as u64,
            ..Default::default()
        };
        let mut garbage = Vec::new();
        for o in objects {
            let path = o.location.as_ref();
            if snapshot.files.contains_key(path) {
                report.referenced += 1;
                continue;
            }
            let kept = if o.last_modified > cutoff {
                &mut report.kept_young
            } else if removed.contains(path) {
                &mut report.kept_recently_removed
            } else if !complete {
                &mut report.kept_unknown
            } else {
                report.deleted += 1;
                report.deleted_bytes += o.size;
                garbage.push(o.location);
                continue;
            };
            *kept += 1;
            report.kept_bytes += o.size;
        }
        if !self.opts.dry_run {
            report.failed = delete(store, garbage).await;
            report.deleted -= report.failed;
        }
        Ok(report)
    }

    /// The paths removed by commits published after `cutoff`, and whether
    /// the commits known reach back to `cutoff` (or to the log's start).
    async fn removed_since(
        &mut self,
        store: &Store,
        cutoff: DateTime<Utc>,
    ) -> Result<(BTreeSet<String>, bool)> {
        let listed: Vec<(u64, DateTime<Utc>)> = store
            .objects()
            .list(Some(&Path::from(layout::LOG_DIR)))
            .try_filter_map(|m| async move {
                Ok(m.location
                    .filename()
                    .and_then(layout::parse_log_name)
                    .filter(|(_, checkpoint)| !checkpoint)
                    .map(|(seq, _)| (seq, m.last_modified)))
            })
            .try_collect()
            .await?;
        let mut to_read = Vec::new();
        for (seq, published) in listed {
            if self.commits.contains_key(&seq) {
                continue;
            }
            if published > cutoff {
                to_read.push((seq, published));
            } else {
                // Outside the window: only its time matters.
                let removed = Vec::new();
                self.commits.insert(seq, SeenCommit { published, removed });
            }
        }
        let read: Vec<Option<(u64, SeenCommit)>> = futures::stream::iter(to_read)
            .map(|(seq, published)| async move {
                let removed = match read_removed(store, seq).await? {
                    Some(r) => r,
                    // Deleted since listed: leaves a gap, which is safe.
                    None => return Ok(None),
                };
                Ok::<_, crate::Error>(Some((seq, SeenCommit { published, removed })))
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        self.commits.extend(read.into_iter().flatten());

        // Forget commits older than the newest one at or before the cutoff:
        // that one anchors the window.
        if let Some(anchor) = self
            .commits
            .iter()
            .rev()
            .find(|(_, c)| c.published <= cutoff)
            .map(|(seq, _)| *seq)
        {
            self.commits = self.commits.split_off(&anchor);
        }

        // The unbroken run of known commits ending at the newest.
        let mut low = None;
        for seq in self.commits.keys().rev() {
            match low {
                Some(l) if *seq + 1 != l => break,
                _ => low = Some(*seq),
            }
        }
        let complete = match low {
            None => true, // no commit: nothing was ever removed
            Some(1) => true,
            Some(l) => self.commits[&l].published <= cutoff,
        };
        let removed = self
            .commits
            .values()
            .filter(|c| c.published > cutoff)
            .flat_map(|c| c.removed.iter().cloned())
            .collect();
        Ok((removed, complete))
    }
}

/// Every object under the tier folders.
async fn list_tier_objects(store: &Store) -> Result<Vec<ObjectMeta>> {
    let mut out = Vec::new();
    for tier in Tier::ALL {
        let prefix = Path::from(tier.dir());
        let mut listed: Vec<ObjectMeta> = store.objects().list(Some(&prefix)).try_collect().await?;
        out.append(&mut listed);
    }
    Ok(out)
}

/// The paths commit `seq` removed; `None` if the commit is gone.
async fn read_removed(store: &Store, seq: u64) -> Result<Option<Vec<String>>> {
    let path = layout::commit_path(seq);
    let bytes = match store.objects().get(&path).await {
        Ok(r) => r.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // A commit record is a `Commit` plus its sequence number and time.
    let commit: Commit =
        serde_json::from_slice(&bytes).map_err(|e| strata_storage::Error::CorruptLog {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
    Ok(Some(commit.remove))
}

/// Deletes `paths`, returning how many deletions failed. An object
/// already gone counts as deleted.
async fn delete(store: &Store, paths: Vec<Path>) -> u64 {
    let results: Vec<std::result::Result<(), (Path, object_store::Error)>> =
        futures::stream::iter(paths)
            .map(|p| async move {
                match store.objects().delete(&p).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err((p, e)),
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
    let failed: Vec<_> = results.into_iter().filter_map(|r| r.err()).collect();
    if let Some((path, e)) = failed.first() {
        tracing::warn!(%path, error = %e, failed = failed.len(), "gc could not delete objects; retried next run");
    }
    failed.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use strata_storage::{CommitOutcome, DataFile};

    fn data_file(path: &str) -> DataFile {
        DataFile {
            path: path.into(),
            tier: path.split('/').next().unwrap().into(),
            partition_start_ns: 0,
            min_ts_ns: 0,
            max_ts_ns: 0,
            min_metric: String::new(),
            max_metric: String::new(),
            rows: 1,
            bytes: 3,
            derived_from: None,
        }
    }

    async fn put(store: &Store, path: &str) {
        store
            .put_durable(&Path::from(path), Bytes::from_static(b"abc"), false)
            .await
            .unwrap();
    }

    async fn commit(log: &TableLog, add: &[&str], remove: &[&str]) {
        let c = Commit {
            add: add.iter().map(|p| data_file(p)).collect(),
            remove: remove.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        };
        assert!(matches!(
            log.commit(c).await.unwrap(),
            CommitOutcome::Committed { .. }
        ));
    }

    async fn exists(store: &Store, path: &str) -> bool {
        store.objects().head(&Path::from(path)).await.is_ok()
    }

    const HOUR: chrono::TimeDelta = chrono::TimeDelta::hours(1);

    /// Backdates a local object's modification time by `age`.
    fn age(dir: &std::path::Path, path: &str, age: Duration) {
        std::fs::File::options()
            .write(true)
            .open(dir.join(path))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - age)
            .unwrap();
    }

    #[tokio::test]
    async fn deletes_only_old_unreferenced_objects_long_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).unwrap();
        let log = TableLog::open(store.clone()).await.unwrap();
        let live = "raw/2026-01-01/00/live.parquet";
        let orphan = "raw/2026-01-01/00/orphan.parquet";
        let compacted = "1m/2026-01-01/00/compacted-away.parquet";
        let young = "1h/2026-01-01/young-orphan.parquet";
        for p in [live, orphan, compacted, young] {
            put(&store, p).await;
        }
        for p in [live, orphan, compacted] {
            age(dir.path(), p, Duration::from_secs(3 * 3600));
        }
        commit(&log, &[live, compacted], &[]).await;
        commit(&log, &[], &[compacted]).await;

        let mut gc = Gc::new(GcOptions::default());
        let r = gc.run(&log).await.unwrap();
        assert_eq!(
            (
                r.scanned,
                r.referenced,
                r.deleted,
                r.kept_young,
                r.kept_recently_removed
            ),
            (4, 1, 1, 1, 1),
            "{r}"
        );
        assert!(r.changed());
        assert!(!exists(&store, orphan).await);
        assert!(exists(&store, young).await);
        assert!(exists(&store, compacted).await);
        assert!(exists(&store, live).await);

        // A grace period later, both go; the referenced file never does.
        let r = gc.run_at(&log, Utc::now() + HOUR * 2).await.unwrap();
        assert_eq!((r.deleted, r.deleted_bytes, r.referenced), (2, 6, 1), "{r}");
        assert!(!exists(&store, compacted).await);
        assert!(!exists(&store, young).await);
        assert!(exists(&store, live).await);
    }

    #[tokio::test]
    async fn dry_run_deletes_nothing_and_the_log_is_never_touched() {
        let log = TableLog::open(Store::open("memory://").unwrap())
            .await
            .unwrap();
        let store = log.store().clone();
        put(&store, "raw/2026-01-01/00/orphan.parquet").await;
        commit(&log, &[], &[]).await;
        let opts = GcOptions {
            dry_run: true,
            ..Default::default()
        };
        let r = gc_at(&log, opts, Utc::now() + HOUR * 2).await;
        assert_eq!((r.deleted, r.deleted_bytes), (1, 3));
        assert!(!r.changed());
        assert!(
            r.to_string()
                .starts_with("would delete 1 unreferenced objects (3 bytes)"),
            "{r}"
        );
        assert!(exists(&store, "raw/2026-01-01/00/orphan.parquet").await);
        let r = gc_at(&log, GcOptions::default(), Utc::now() + HOUR * 2).await;
        assert_eq!(r.deleted, 1);
        assert!(!exists(&store, "raw/2026-01-01/00/orphan.parquet").await);
        assert!(exists(&store, "_log/00000000000000000001.json").await);
    }

    #[tokio::test]
    async fn unknown_removal_times_keep_objects_until_the_history_covers_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).unwrap();
        let log = TableLog::open(store.clone()).await.unwrap();
        let (a, b) = ("raw/2026-01-01/00/a.parquet", "raw/2026-01-01/00/b.parquet");
        for p in [a, b] {
            put(&store, p).await;
            age(dir.path(), p, Duration::from_secs(3 * 3600));
        }
        commit(&log, &[a], &[]).await;
        commit(&log, &[], &[a]).await;
        // The log lost commit 1 (as after checkpoint cleanup): whether `b`
        // was removed by it, and when, is unknown.
        store
            .objects()
            .delete(&layout::commit_path(1))
            .await
            .unwrap();

        let mut gc = Gc::new(GcOptions::default());
        let r = gc.run(&log).await.unwrap();
        assert_eq!(
            (r.kept_recently_removed, r.kept_unknown, r.deleted),
            (1, 1, 0),
            "{r}"
        );
        assert!(r.to_string().contains("1 of unknown removal time"), "{r}");

        // A grace period later the collector's memory covers the window.
        let r = gc.run_at(&log, Utc::now() + HOUR * 2).await.unwrap();
        assert_eq!((r.kept_unknown, r.deleted), (0, 2), "{r}");
    }

    async fn gc_at(log: &TableLog, opts: GcOptions, now: DateTime<Utc>) -> GcReport {
        Gc::new(opts).run_at(log, now).await.unwrap()
    }
}
