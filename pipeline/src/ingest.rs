//! The ingest loop: consume, decode, dead-letter, buffer, flush, commit.
//!
//! # Exactly once
//! The store's commit log is the source of truth for what is persisted.
//! Each flush writes the buffered samples as Parquet files, then publishes
//! one commit naming those files *and* the Kafka offset ranges they came
//! from. On start (and on every partition assignment) consumption resumes
//! at the log's offsets; Kafka's group offsets are written after each
//! commit for lag monitoring only. So:
//! - a crash before the commit leaves invisible files and re-consumes the
//!   same messages: nothing lost, nothing doubled;
//! - a crash after the commit re-reads nothing the log holds: messages below
//!   the log's offsets are skipped even if Kafka delivers them again;
//! - two processes that both consumed a partition across a rebalance cannot
//!   both commit it: the log refuses the second (see
//!   [`strata_storage::log`]), which drops its batch and resumes from the
//!   log.
//!
//! Offsets are only meaningful for one incarnation of a topic, so they are
//! kept per *source*: the Kafka cluster id plus the topic name (a fresh
//! embedded broker gets a fresh id). When the broker resets a partition to
//! an offset below the one it was started at (the topic was recreated or
//! truncated), its messages are read as new, never skipped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use strata_schemas::tier::MINUTE_NS;
use strata_storage::{Commit, CommitOutcome, OffsetRange, TableLog, WindowMark};
use tokio::sync::mpsc;

use crate::decode::{self, DecodeLimits};
use crate::error::{Error, Result};
use crate::kafka::dlq::{DeadLetters, Origin};
use crate::kafka::source::{IngestConsumer, IngestContext, Positions, Rebalance};
use crate::kafka::{KafkaConfig, admin};
use crate::stats::IngestStats;
use crate::tier::{RawBuffer, Windows, minute};

/// What to do with a message at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// New: decode and buffer it.
    Take,
    /// Already in the batch or in the store: skip it.
    Replay,
    /// Below where the partition was started: the broker reset our position
    /// (`auto.offset.reset` after the topic was recreated or truncated), so
    /// its offsets start over and the message is new.
    Reset,
}

/// Decides whether a message is new. `batch_next`: next offset after the
/// batch's range of this partition; `stored`: the log's next offset;
/// `started_at`: where the partition was assigned or sought.
///
/// A partition is started at the log's offset as known then; by the time
/// messages arrive the log may have moved further (this process flushed
/// the batch that held them), so "below the log" alone does not mean a
/// reset: only "below where we started" does.
fn classify(
    offset: i64,
    batch_next: Option<i64>,
    stored: Option<i64>,
    started_at: Option<i64>,
) -> Arrival {
    if batch_next.is_some_and(|n| offset < n) {
        return Arrival::Replay;
    }
    match (stored, started_at) {
        (_, Some(start)) if offset < start => Arrival::Reset,
        (Some(n), _) if offset < n => Arrival::Replay,
        _ => Arrival::Take,
    }
}

/// Retries `op` while the store fails, with exponential backoff (100 ms
/// up to 30 s). A store outage pauses ingest; it does not end it, and
/// nothing is committed until the store answers again.
async fn retry<T, F, Fut>(what: &str, op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, Error>>,
{
    op.retry(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(30))
            .without_max_times(),
    )
    .when(|e| {
        matches!(
            e,
            Error::Storage(
                strata_storage::Error::ObjectStore(_) | strata_storage::Error::Io { .. }
            )
        )
    })
    .notify(|e, after| tracing::warn!(error = %e, retry_in = ?after, "store failed while {what}"))
    .await
}

/// How `strata ingest` runs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Kafka connection, topics and group.
    pub kafka: KafkaConfig,
    /// A batch is flushed at the latest this long after its first message.
    pub flush_interval: Duration,
    /// A batch is flushed as soon as it holds this many samples.
    pub flush_rows: usize,
    /// Identity of the topic incarnation; `None`: `<cluster id>/<topic>`.
    pub source_id: Option<String>,
    /// The topic's message format (detected per message by default).
    pub format: decode::Format,
    /// What the decoder accepts.
    pub limits: DecodeLimits,
    /// How far behind the watermark a sample may arrive and still join its
    /// open window; later samples become corrections.
    pub allowed_lateness: Duration,
    /// A partition without messages for this long stops holding the
    /// watermark back; when every partition is idle, all windows close.
    pub idle_timeout: Duration,
    /// Write the `1m` tier from the stream (default). Off: raw only, e.g.
    /// to measure what aggregation costs.
    pub aggregate: bool,
}

impl IngestOptions {
    /// Defaults for `kafka`.
    pub fn new(kafka: KafkaConfig) -> Self {
        Self {
            kafka,
            flush_interval: Duration::from_secs(5),
            flush_rows: 500_000,
            source_id: None,
            format: decode::Format::Auto,
            limits: DecodeLimits::default(),
            allowed_lateness: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            aggregate: true,
        }
    }
}

/// Consumes `opts.kafka.topic` into the store behind `log` until `shutdown`
/// completes, then flushes what it holds and returns.
pub async fn run(
    opts: IngestOptions,
    log: Arc<TableLog>,
    stats: Arc<IngestStats>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let k = &opts.kafka;
    admin::ensure_topics(k, &[&k.topic, &k.dlq_topic]).await?;

    let positions: Positions = Arc::default();
    let (events_tx, events) = mpsc::unbounded_channel();
    let consumer: IngestConsumer = k
        .consumer()
        .create_with_context(IngestContext::new(Arc::clone(&positions), events_tx))?;
    let source = match &opts.source_id {
        Some(s) => s.clone(),
        None => {
            let cluster = consumer
                .client()
                .fetch_cluster_id(Duration::from_secs(10))
                .ok_or_else(|| Error::Setup("the broker did not report a cluster id".into()))?;
            format!("{cluster}/{}", k.topic)
        }
    };
    let dlq = DeadLetters::new(k)?;
    let mut ingest = Ingest {
        consumer,
        dlq,
        log,
        stats,
        positions,
        source,
        batch: Batch::default(),
        assigned: BTreeSet::new(),
        windows: Windows::new(MINUTE_NS, opts.allowed_lateness, opts.idle_timeout),
        closing: false,
        writer: format!(
            "{}/{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()),
            std::process::id()
        ),
        opts,
    };
    ingest.load_positions().await?;
    ingest.consumer.subscribe(&[&ingest.opts.kafka.topic])?;
    tracing::info!(
        topic = %ingest.opts.kafka.topic,
        group = %ingest.opts.kafka.group,
        source = %ingest.source,
        store = %ingest.log.store().url(),
        "ingest started"
    );
    ingest.run(events, shutdown).await
}

/// Offsets and samples consumed since the last commit.
#[derive(Debug, Default)]
struct Batch {
    buffer: RawBuffer,
    /// Per partition: the log's next offset when the range began, and the
    /// next offset after the last message taken.
    ranges: BTreeMap<i32, (Option<i64>, i64)>,
    started: Option<Instant>,
    /// Dead letters sent for this batch, and the first one's reason and
    /// origin, logged once per batch so that a flood of bad input cannot
    /// flood the log.
    dead_letters: u64,
    first_dead_letter: Option<String>,
}

struct Ingest {
    consumer: IngestConsumer,
    dlq: DeadLetters,
    log: Arc<TableLog>,
    stats: Arc<IngestStats>,
    positions: Positions,
    source: String,
    batch: Batch,
    assigned: BTreeSet<i32>,
    /// Open 1-minute windows of the owned partitions.
    windows: Windows,
    /// Shutting down: the next flush closes every window.
    closing: bool,
    writer: String,
    opts: IngestOptions,
}

impl Ingest {
    async fn run(
        &mut self,
        mut events: mpsc::UnboundedReceiver<Rebalance>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let tick = (self.opts.flush_interval / 4).max(Duration::from_millis(20));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(event) = events.recv() => self.on_rebalance(event).await?,
                _ = ticker.tick() => {
                    let due = self.batch.started.is_some_and(|t| t.elapsed() >= self.opts.flush_interval);
                    // Windows close at every flush; only when nothing else
                    // would flush (a quiet stream) do they flush by themselves.
                    let windows_wait = self.batch.ranges.is_empty()
                        && self.opts.aggregate
                        && self.windows.has_work(Instant::now());
                    if due || windows_wait {
                        self.flush().await?;
                    }
                }
                msg = self.consumer.recv() => {
                    let msg = match msg {
                        Ok(m) => m,
                        Err(e @ KafkaError::MessageConsumptionFatal(_)) => return Err(e.into()),
                        Err(e) => {
                            // Transient (broker down, rebalance in flight):
                            // librdkafka retries by itself.
                            tracing::warn!(error = %e, "kafka consumer error");
                            continue;
                        }
                    };
                    let (partition, offset) = (msg.partition(), msg.offset());
                    IngestStats::add(&self.stats.messages, 1);
                    let seek_back = self
                        .positions
                        .lock()
                        .expect("positions lock")
                        .check_first(partition, offset);
                    if let Some(back) = seek_back {
                        drop(msg);
                        tracing::debug!(partition, offset, back, "first message past the start: seeking back");
                        self.consumer.seek(
                            &self.opts.kafka.topic,
                            partition,
                            Offset::Offset(back),
                            Duration::from_secs(10),
                        )?;
                        continue;
                    }
                    Self::sync_windows(&self.positions, &mut self.windows, partition);
                    let (take, reset) = self.arrival(partition, offset);
                    if reset {
                        self.windows.reset(partition, offset);
                    }
                    let rebuild = self.opts.aggregate && self.windows.wants(partition, offset);
                    if take.is_none() && !rebuild {
                        continue;
                    }
                    // Decoded straight from librdkafka's buffer; only the key
                    // of a message with dead letters is copied.
                    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
                    let payload = msg.payload().unwrap_or_default();
                    let decoded = decode::decode(self.opts.format, payload, self.opts.limits, now);
                    let key = match decoded.rejected.is_empty() || take.is_none() {
                        true => None,
                        false => msg.key().map(<[u8]>::to_vec),
                    };
                    drop(msg);
                    if rebuild {
                        self.windows.feed(partition, offset, &decoded.samples, Instant::now());
                    }
                    // A replayed message only rebuilds windows: its raw rows
                    // and dead letters were stored when it was first read.
                    if let Some(stored) = take {
                        self.take(partition, offset, stored, decoded, key.as_deref()).await?;
                    }
                    if self.batch.buffer.rows() >= self.opts.flush_rows {
                        self.flush().await?;
                    }
                }
            }
        }
        // Stopping for good (or for a restart): close every window, so that
        // nothing waits on this process to be resumed.
        self.closing = true;
        self.flush().await?;
        tracing::info!("ingest stopped");
        Ok(())
    }

    /// Reads the log's offsets for this source, and makes them the
    /// positions partitions are assigned at.
    async fn load_positions(&mut self) -> Result<HashMap<i32, i64>> {
        let snap = self.log.snapshot().await?;
        let stored: HashMap<i32, i64> = snap
            .offsets
            .get(&self.source)
            .map(|m| m.iter().map(|(p, o)| (*p, *o)).collect())
            .unwrap_or_default();
        let marks: HashMap<i32, WindowMark> = snap
            .windows
            .get(&self.source)
            .map(|m| m.iter().map(|(p, w)| (*p, *w)).collect())
            .unwrap_or_default();
        let mut positions = self.positions.lock().expect("positions lock");
        positions.stored.clone_from(&stored);
        positions.marks = marks;
        Ok(stored)
    }

    async fn on_rebalance(&mut self, event: Rebalance) -> Result<()> {
        match event {
            Rebalance::Assigned(ps) => {
                for p in ps {
                    Self::sync_windows(&self.positions, &mut self.windows, p);
                    self.assigned.insert(p);
                }
            }
            Rebalance::Revoked(ps) => {
                // Publish what we hold before the new owner gets far; if it
                // already committed, the log refuses ours and we resync.
                self.flush().await?;
                let owned = self.positions.lock().expect("positions lock").owned.clone();
                for p in ps {
                    // Unless it came back already, the new owner rebuilds
                    // the partition's windows from the log.
                    if !owned.contains(&p) {
                        self.assigned.remove(&p);
                        self.windows.drop_partition(p);
                    }
                }
            }
        }
        Ok(())
    }

    /// Rebuilds `partition`'s windows from the log state the consumer last
    /// started it from, unless they already are. Called for every message:
    /// the rebalance callback may have restarted the partition before its
    /// event reaches this loop.
    fn sync_windows(positions: &Positions, windows: &mut Windows, partition: i32) {
        let start = positions
            .lock()
            .expect("positions lock")
            .started_from
            .get(&partition)
            .copied();
        if let Some(start) = start
            && windows.epoch(partition) != Some(start.epoch)
        {
            tracing::debug!(partition, ?start, "rebuilding windows");
            windows.assign(partition, start.mark, start.stored, start.epoch);
        }
    }

    /// Decides whether the message at `offset` is new. `None`: a replay,
    /// skip it. `Some(stored)`: take it; `stored` is the log's next offset
    /// for the partition, the precondition of the batch's range. The flag
    /// says the broker reset the partition.
    fn arrival(&self, partition: i32, offset: i64) -> (Option<Option<i64>>, bool) {
        let (stored, started_at) = {
            let o = self.positions.lock().expect("positions lock");
            (
                o.stored.get(&partition).copied(),
                o.started_at.get(&partition).copied(),
            )
        };
        let batch_next = self.batch.ranges.get(&partition).map(|r| r.1);
        match classify(offset, batch_next, stored, started_at) {
            Arrival::Take => {}
            Arrival::Replay => {
                IngestStats::add(&self.stats.skipped_replays, 1);
                return (None, false);
            }
            Arrival::Reset => {
                tracing::warn!(
                    partition,
                    offset,
                    stored_next = stored,
                    "the broker moved this partition before where it was started: \
                     topic recreated or truncated; reading it as new"
                );
                // The partition restarts here. The old stored offset stays
                // the commit's precondition (`from`) but no longer decides
                // what is a replay.
                let mut o = self.positions.lock().expect("positions lock");
                o.stored.remove(&partition);
                o.marks.remove(&partition);
                o.started_at.insert(partition, offset);
                return (Some(stored), true);
            }
        }
        (Some(stored), false)
    }

    /// Dead-letters what `decoded` rejected and buffers its samples.
    async fn take(
        &mut self,
        partition: i32,
        offset: i64,
        stored: Option<i64>,
        decoded: decode::Decoded,
        key: Option<&[u8]>,
    ) -> Result<()> {
        for rejected in &decoded.rejected {
            tracing::debug!(partition, offset, reason = %rejected.reason, "dead-lettering");
            let origin = Origin {
                topic: &self.opts.kafka.topic,
                partition,
                offset,
                key,
            };
            self.dlq.send(origin, rejected).await?;
        }
        if let Some(first) = decoded.rejected.first() {
            self.batch.first_dead_letter.get_or_insert_with(|| {
                format!("partition {partition} offset {offset}: {}", first.reason)
            });
        }
        self.batch.dead_letters += decoded.rejected.len() as u64;
        IngestStats::add(&self.stats.dead_letters, decoded.rejected.len() as u64);
        IngestStats::add(&self.stats.accepted_samples, decoded.samples.len() as u64);
        IngestStats::add(&self.stats.skipped_fields, decoded.skipped_fields as u64);
        for s in decoded.samples {
            self.batch.buffer.push(s);
        }
        self.batch
            .ranges
            .entry(partition)
            .and_modify(|r| r.1 = offset + 1)
            .or_insert((stored, offset + 1));
        self.batch.started.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Makes the batch durable and visible with its offsets in one commit,
    /// together with the windows the watermark closed.
    async fn flush(&mut self) -> Result<()> {
        let now = match self.closing {
            true => Instant::now() + self.opts.idle_timeout + Duration::from_secs(1),
            false => Instant::now(),
        };
        if self.batch.ranges.is_empty() && !(self.opts.aggregate && self.windows.has_work(now)) {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let (closed, marks) = {
            let positions = self.positions.lock().expect("positions lock");
            self.windows
                .close(now, |p| positions.stored.get(&p).copied())
        };
        if batch.ranges.is_empty() && closed.is_empty() {
            return Ok(());
        }
        self.dlq.flush().await?;
        if let Some(first) = &batch.first_dead_letter {
            tracing::warn!(
                count = batch.dead_letters,
                topic = %self.opts.kafka.dlq_topic,
                first = %first,
                "dead-lettered undecodable input"
            );
        }
        let rows = batch.buffer.rows() as u64;
        let windows = closed.len() as u64;
        let offsets = self.ranges(&batch, &marks);
        // Both encoders run on blocking threads: side by side, the 1m files
        // cost little wall time next to the raw ones.
        let (mut encoded, minute) =
            tokio::try_join!(batch.buffer.encode(), minute::encode(closed))?;
        encoded.extend(minute);
        let commit = Commit {
            add: encoded.iter().map(|e| e.file.clone()).collect(),
            remove: Vec::new(),
            offsets,
            writer: self.writer.clone(),
            retire: Vec::new(),
        };
        let nfiles = commit.add.len() as u64;
        let store = self.log.store();
        // Files are put again before every commit attempt: a commit retried
        // through a long outage must not name files a garbage collector
        // removed meanwhile (puts of present files are no-ops). A commit
        // retried after an ambiguous failure (it did land) comes back as a
        // conflict with itself; resync then resumes after it.
        let outcome = retry("committing", || async {
            // Written side by side: each put waits for its own fsync.
            futures::future::try_join_all(encoded.iter().map(|e| e.put(store))).await?;
            Ok(self.log.commit(commit.clone()).await?)
        })
        .await?;
        match outcome {
            CommitOutcome::Committed { seq } => {
                let mut tpl = TopicPartitionList::new();
                {
                    let mut positions = self.positions.lock().expect("positions lock");
                    for r in &commit.offsets {
                        positions.stored.insert(r.partition, r.to);
                        if let Some(m) = r.window {
                            positions.marks.insert(r.partition, m);
                        }
                    }
                    for (p, (_, to)) in &batch.ranges {
                        tpl.add_partition_offset(&self.opts.kafka.topic, *p, Offset::Offset(*to))?;
                    }
                }
                // Informational: lets Kafka tooling show the group's lag.
                if !batch.ranges.is_empty()
                    && let Err(e) = self.consumer.commit(&tpl, CommitMode::Async)
                {
                    tracing::debug!(error = %e, "group offset commit failed");
                }
                IngestStats::add(&self.stats.stored_samples, rows);
                IngestStats::add(&self.stats.aggregate_rows, windows);
                IngestStats::add(&self.stats.commits, 1);
                IngestStats::add(&self.stats.files, nfiles);
                tracing::debug!(seq, rows, windows, files = nfiles, offsets = ?commit.offsets, "committed");
            }
            CommitOutcome::Conflict { reason } => {
                IngestStats::add(&self.stats.conflicts, 1);
                tracing::warn!(%reason, rows, "another writer committed these offsets first; \
                    dropping this batch and resuming from the store");
                self.resync().await?;
            }
        }
        Ok(())
    }

    /// The offset ranges of a commit: every partition the batch read, and
    /// every partition whose window mark moved, each with its mark.
    fn ranges(&self, batch: &Batch, marks: &BTreeMap<i32, WindowMark>) -> Vec<OffsetRange> {
        let positions = self.positions.lock().expect("positions lock");
        let mut ranges: BTreeMap<i32, OffsetRange> = batch
            .ranges
            .iter()
            .map(|(p, (from, to))| {
                let range = OffsetRange {
                    source: self.source.clone(),
                    partition: *p,
                    from: *from,
                    to: *to,
                    window: None,
                };
                (*p, range)
            })
            .collect();
        for (p, mark) in marks {
            if let Some(r) = ranges.get_mut(p) {
                r.window = Some(*mark);
                continue;
            }
            // Nothing new read from it: an empty range at the stored offset.
            let Some(stored) = positions.stored.get(p).copied() else {
                continue;
            };
            if positions.marks.get(p) != Some(mark) {
                ranges.insert(
                    *p,
                    OffsetRange {
                        source: self.source.clone(),
                        partition: *p,
                        from: Some(stored),
                        to: stored,
                        window: Some(*mark),
                    },
                );
            }
        }
        ranges.into_values().collect()
    }

    /// Re-reads the log's offsets and moves every owned partition there.
    async fn resync(&mut self) -> Result<()> {
        self.load_positions().await?;
        self.windows.clear();
        for p in &self.assigned {
            let (offset, start) = {
                let mut positions = self.positions.lock().expect("positions lock");
                let offset = positions.start(*p);
                (offset, positions.started_from[p])
            };
            self.windows
                .assign(*p, start.mark, start.stored, start.epoch);
            self.consumer
                .seek(&self.opts.kafka.topic, *p, offset, Duration::from_secs(10))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Arrival, classify};

    #[test]
    fn arrivals() {
        // Fresh partition, nothing stored.
        assert_eq!(classify(0, None, None, None), Arrival::Take);
        // Started at the stored offset 100.
        assert_eq!(classify(100, None, Some(100), Some(100)), Arrival::Take);
        // Redelivered inside the unflushed batch [100, 150).
        assert_eq!(
            classify(120, Some(150), Some(100), Some(100)),
            Arrival::Replay
        );
        // The same process was re-assigned the partition at the stale 100,
        // then flushed its batch up to 150: 120 is a replay, not a reset.
        assert_eq!(classify(120, None, Some(150), Some(100)), Arrival::Replay);
        assert_eq!(classify(150, None, Some(150), Some(100)), Arrival::Take);
        // Started at 2400, the broker resets to 0: the topic is new.
        assert_eq!(classify(0, None, Some(2400), Some(2400)), Arrival::Reset);
        // After a reset ingest forgets 2400 and restarts the partition at 0.
        assert_eq!(classify(1, Some(1), None, Some(0)), Arrival::Take);
        assert_eq!(classify(0, Some(1), None, Some(0)), Arrival::Replay);
    }
}
