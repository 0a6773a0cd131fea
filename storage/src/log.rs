//! The commit log: the single source of truth for stored files and
//! persisted Kafka offsets.
//!
//! A commit is one JSON object at `_log/<seq>.json`, created with an atomic
//! create-if-absent write. It lists the data files it adds (and, for
//! compaction, removes) and the Kafka offset ranges whose samples those
//! files hold. Because files and offsets are published by the same atomic
//! write, "these samples are stored" and "these offsets are consumed" can
//! never disagree: after a crash, ingest resumes from the offsets of the
//! last commit, and data files written by the crashed run but never
//! committed are invisible (and garbage-collected later).
//!
//! Writers use optimistic concurrency. Each offset range carries the offset
//! the writer believed was the partition's next (`from`); a commit is
//! refused with [`CommitOutcome::Conflict`] when the log says otherwise, so
//! a zombie writer that lost its partition to another process in a
//! rebalance can never store the same messages twice.
//!
//! Every [`CHECKPOINT_EVERY`] commits the whole snapshot is written as a
//! checkpoint so that opening the log reads a bounded number of objects.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::layout;
use crate::store::Store;

/// Commits between two checkpoints.
pub const CHECKPOINT_EVERY: u64 = 100;

/// Commits kept behind the newest checkpoint (for readers that lag).
const KEEP_BEHIND_CHECKPOINT: u64 = 1_000;

/// One committed data file and what a reader needs to prune it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// Object path relative to the store root.
    pub path: String,
    /// Folder name of the tier the file belongs to (`raw`, …).
    pub tier: String,
    /// Start of the file's time partition, ns since the epoch.
    pub partition_start_ns: i64,
    /// Smallest sample time in the file, ns.
    pub min_ts_ns: i64,
    /// Largest sample time in the file, ns.
    pub max_ts_ns: i64,
    /// Smallest metric name in the file.
    pub min_metric: String,
    /// Largest metric name in the file.
    pub max_metric: String,
    /// Number of rows.
    pub rows: u64,
    /// Size of the object in bytes.
    pub bytes: u64,
    /// For a file derived from other files (the 1h tier rolled up from
    /// 1m): a digest of the inputs it was computed from, so a rollup can
    /// tell when its inputs changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_from: Option<String>,
}

/// Kafka messages `[first, to)` of one partition whose samples a commit
/// stores, with the precondition on the log's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetRange {
    /// Identity of the topic incarnation, e.g. `<cluster-id>/metrics`.
    pub source: String,
    /// Kafka partition.
    pub partition: i32,
    /// The partition's next offset according to the log when the writer
    /// started this range (`None`: the log had no position). The commit is
    /// refused unless the log still says exactly this.
    pub from: Option<i64>,
    /// The next offset after the last message covered.
    pub to: i64,
    /// Where the partition's open aggregation windows stand after this
    /// commit (absent: the writer keeps no windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowMark>,
}

/// What a restarted (or newly assigned) ingest needs to rebuild a
/// partition's open aggregation windows by re-reading Kafka.
///
/// Invariant after the commit: every sample of the partition below `to`
/// whose window ends at or before `closed_before_ns` is in the aggregated
/// tiers; every other sample below `to` sits in an open window and was
/// read at or after offset `replay_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowMark {
    /// The first offset whose samples may still sit in an open window.
    pub replay_from: i64,
    /// Windows ending at or before this time (ns) are closed and written.
    pub closed_before_ns: i64,
}

/// What a writer asks the log to publish.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    /// Data files made visible.
    #[serde(default)]
    pub add: Vec<DataFile>,
    /// Paths of data files made invisible (compaction).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Offset ranges persisted by this commit.
    #[serde(default)]
    pub offsets: Vec<OffsetRange>,
    /// Sources that will never be read again (an embedded broker that is
    /// gone): their offsets and window marks are forgotten, so that their
    /// marks no longer hold back what depends on "every window closed".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retire: Vec<String>,
    /// Who wrote it (host, pid), for debugging.
    #[serde(default)]
    pub writer: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CommitRecord {
    seq: u64,
    time: String,
    #[serde(flatten)]
    commit: Commit,
}

/// The state of the store as of one commit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Sequence number of the last commit applied (0: empty log).
    pub seq: u64,
    /// Visible data files by path.
    pub files: BTreeMap<String, DataFile>,
    /// Next offset to consume, by source and partition.
    pub offsets: BTreeMap<String, BTreeMap<i32, i64>>,
    /// Open-window marks, by source and partition.
    #[serde(default)]
    pub windows: BTreeMap<String, BTreeMap<i32, WindowMark>>,
}

impl Snapshot {
    /// The next offset of `partition` of `source` that is not yet stored.
    pub fn next_offset(&self, source: &str, partition: i32) -> Option<i64> {
        self.offsets.get(source)?.get(&partition).copied()
    }

    /// The window mark of `partition` of `source`.
    pub fn window(&self, source: &str, partition: i32) -> Option<WindowMark> {
        self.windows.get(source)?.get(&partition).copied()
    }

    /// The visible files of the tier stored under folder `tier_dir`.
    pub fn files_of<'a>(&'a self, tier_dir: &'a str) -> impl Iterator<Item = &'a DataFile> + 'a {
        self.files.values().filter(move |f| f.tier == tier_dir)
    }

    /// Checks the preconditions of `commit` against this snapshot.
    fn check(&self, commit: &Commit) -> Option<CommitOutcome> {
        for r in &commit.offsets {
            let found = self.next_offset(&r.source, r.partition);
            if found != r.from {
                return Some(CommitOutcome::Conflict {
                    reason: format!(
                        "partition {} of {}: writer expected next offset {:?}, log has {:?}",
                        r.partition, r.source, r.from, found
                    ),
                });
            }
        }
        for path in &commit.remove {
            if !self.files.contains_key(path) {
                return Some(CommitOutcome::Conflict {
                    reason: format!("file {path} to remove is no longer visible"),
                });
            }
        }
        None
    }

    fn apply(&mut self, seq: u64, commit: &Commit) {
        for path in &commit.remove {
            self.files.remove(path);
        }
        for f in &commit.add {
            self.files.insert(f.path.clone(), f.clone());
        }
        for source in &commit.retire {
            self.offsets.remove(source);
            self.windows.remove(source);
        }
        for r in &commit.offsets {
            self.offsets
                .entry(r.source.clone())
                .or_default()
                .insert(r.partition, r.to);
            if let Some(w) = r.window {
                self.windows
                    .entry(r.source.clone())
                    .or_default()
                    .insert(r.partition, w);
            }
        }
        self.seq = seq;
    }
}

/// The result of [`TableLog::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Published as commit `seq`.
    Committed {
        /// The commit's sequence number.
        seq: u64,
    },
    /// Refused: another writer changed what this commit depends on. Nothing
    /// was published; the writer must drop its batch and resume from the
    /// log's offsets.
    Conflict {
        /// What differed.
        reason: String,
    },
}

/// A handle on the commit log of a store, caching the latest snapshot.
#[derive(Debug)]
pub struct TableLog {
    store: Store,
    state: Mutex<Arc<Snapshot>>,
}

impl TableLog {
    /// Opens the log of `store` and reads it up to its newest commit.
    pub async fn open(store: Store) -> Result<Self> {
        let log = Self {
            store,
            state: Mutex::new(Arc::new(Snapshot::default())),
        };
        log.snapshot().await?;
        Ok(log)
    }

    /// The store this log lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Reads commits published since the last call and returns the newest
    /// snapshot. Costs two small GETs when nothing changed.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>> {
        let mut state = self.state.lock().await;
        self.refresh(&mut state).await?;
        Ok(Arc::clone(&state))
    }

    /// The snapshot as of the last refresh, without touching the store.
    pub async fn cached(&self) -> Arc<Snapshot> {
        Arc::clone(&*self.state.lock().await)
    }

    /// Publishes `commit` atomically if its preconditions hold against the
    /// newest state of the log.
    pub async fn commit(&self, commit: Commit) -> Result<CommitOutcome> {
        let mut state = self.state.lock().await;
        loop {
            self.refresh(&mut state).await?;
            if let Some(conflict) = state.check(&commit) {
                return Ok(conflict);
            }
            let seq = state.seq + 1;
            let record = CommitRecord {
                seq,
                time: chrono::Utc::now().to_rfc3339(),
                commit: commit.clone(),
            };
            let body = serde_json::to_vec(&record).expect("commit serializes");
            match self
                .store
                .put_durable(&layout::commit_path(seq), Bytes::from(body), true)
                .await
            {
                Ok(()) => {
                    Arc::make_mut(&mut state).apply(seq, &commit);
                    if seq % CHECKPOINT_EVERY == 0 {
                        self.checkpoint(&state).await?;
                    }
                    return Ok(CommitOutcome::Committed { seq });
                }
                // Another writer took this sequence number: read it and
                // check our preconditions again.
                Err(Error::ObjectStore(object_store::Error::AlreadyExists { .. })) => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn refresh(&self, state: &mut Arc<Snapshot>) -> Result<()> {
        if let Some(cp) = self.read_last_checkpoint().await?
            && cp > state.seq
        {
            let path = layout::checkpoint_path(cp);
            let bytes = self.store.objects().get(&path).await?.bytes().await?;
            let snap: Snapshot = parse(&path, &bytes)?;
            *state = Arc::new(snap);
        }
        loop {
            let path = layout::commit_path(state.seq + 1);
            let bytes = match self.store.objects().get(&path).await {
                Ok(r) => r.bytes().await?,
                Err(object_store::Error::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let record: CommitRecord = parse(&path, &bytes)?;
            if record.seq != state.seq + 1 {
                return Err(Error::CorruptLog {
                    path: path.to_string(),
                    reason: format!("holds seq {}", record.seq),
                });
            }
            Arc::make_mut(state).apply(record.seq, &record.commit);
        }
    }

    async fn read_last_checkpoint(&self) -> Result<Option<u64>> {
        let path = layout::last_checkpoint_path();
        match self.store.objects().get(&path).await {
            Ok(r) => {
                let bytes = r.bytes().await?;
                let text = String::from_utf8_lossy(&bytes);
                text.trim()
                    .parse()
                    .map(Some)
                    .map_err(|e| Error::CorruptLog {
                        path: path.to_string(),
                        reason: format!("{e}"),
                    })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a checkpoint of `snap`, points `_last_checkpoint` at it, then
    /// deletes log entries no reader needs any more.
    async fn checkpoint(&self, snap: &Snapshot) -> Result<()> {
        let body = serde_json::to_vec(snap).expect("snapshot serializes");
        self.store
            .put_durable(&layout::checkpoint_path(snap.seq), Bytes::from(body), false)
            .await?;
        self.store
            .put_durable(
                &layout::last_checkpoint_path(),
                Bytes::from(snap.seq.to_string()),
                false,
            )
            .await?;
        let old = snap.seq.saturating_sub(KEEP_BEHIND_CHECKPOINT);
        let stale = (old.saturating_sub(CHECKPOINT_EVERY)..old)
            .filter(|s| *s > 0)
            .map(layout::commit_path)
            .chain(
                Some(old)
                    .filter(|s| *s > 0 && s % CHECKPOINT_EVERY == 0)
                    .map(layout::checkpoint_path),
            );
        for path in stale {
            match self.store.objects().delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!(%path, error = %e, "could not delete old log entry"),
            }
        }
        Ok(())
    }
}

fn parse<T: for<'de> Deserialize<'de>>(path: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::CorruptLog {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
