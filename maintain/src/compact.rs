//! Compaction: one file per time partition, one row per window.
//!
//! Ingest adds a file per partition at every flush, and the `1m` tier's
//! files hold *partial* aggregates: the same (series, bucket) may sit in
//! several files, and a window whose parts interleaved in time carries an
//! estimated counter increase (`exact = false`). [`compact`] rewrites a
//! partition of the `raw` or `1m` tier as one file (several past
//! [`CompactOptions::max_rows_per_file`] rows) when
//! - it holds more than [`CompactOptions::min_files`] files, and more than
//!   its rows need (raw: more than that many *small* files, under half of
//!   `max_rows_per_file` rows; only those are merged, so the large files of
//!   an hour still being written are not copied again at every pass), or
//! - (`1m`) two of its files hold parts of the same window (checked by
//!   reading the key columns, when the files' bucket ranges overlap), or
//! - (`1m`) a file holds an estimated row, found through the `exact`
//!   column's Parquet statistics.
//!
//! Raw rows are kept as they are, duplicates included, sorted by series
//! and time; they are read through DataFusion (so in the stored schema's
//! types, whatever the file's physical encoding) and written with
//! [`strata_storage::parquet::encode_raw`]. `1m` parts are merged into one
//! row per window ([`strata_query::QueryEngine::merge_files`]), and every
//! row still estimated is recomputed from the raw samples of its series and
//! minute, which ingest committed together with the parts. A row is
//! replaced only when raw holds exactly as many samples as the row counts;
//! otherwise (raw expired, or parts committed after the files read) it is
//! kept as an estimate and counted in [`CompactReport::unrepaired`].
//!
//! Each partition is published by one commit that adds the new files and
//! removes the old ones: readers see either, never a mix. A commit that
//! conflicts (a file read was removed meanwhile) skips the partition, which
//! the next run retries. Old objects are not deleted: [`crate::gc`] does
//! that after its grace period, so queries planned on them still finish.
//!
//! The `1h` tier is written whole, one file per hour, by [`crate::rollup`],
//! and is never compacted. Run compaction before rollup, so that rollup
//! reads repaired minutes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, MapArray, RecordBatch, StringArray, TimestampNanosecondArray,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampNanosecondType};
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{col, lit};
use futures::TryStreamExt;
use strata_query::QueryEngine;
use strata_schemas::agg::sample_cmp;
use strata_schemas::tier::{MINUTE_NS, col as c};
use strata_schemas::{Agg, AggBatchBuilder, Tier};
use strata_storage::parquet::ROW_GROUP_ROWS;
use strata_storage::{Commit, CommitOutcome, DataFile, TableLog, layout};

use crate::Result;

/// What [`compact`] rewrites, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactOptions {
    /// A partition with more files than this is compacted (as is a `1m`
    /// partition that may hold parts of one window in two files, or
    /// estimated rows, whatever its number of files).
    pub min_files: usize,
    /// Rows per written file at most; a larger partition is written as
    /// several files.
    pub max_rows_per_file: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        Self {
            min_files: 4,
            max_rows_per_file: ROW_GROUP_ROWS,
        }
    }
}

/// What [`compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Partitions rewritten.
    pub partitions: usize,
    /// Files those partitions held.
    pub files_in: usize,
    /// Files written in their place.
    pub files_out: usize,
    /// Rows read.
    pub rows_in: u64,
    /// Rows written (fewer for `1m`: parts merged into windows).
    pub rows_out: u64,
    /// `1m` rows whose estimated increase was recomputed from raw.
    pub repaired: u64,
    /// `1m` rows left estimated: raw did not hold their samples.
    pub unrepaired: u64,
    /// Partitions (folders) skipped because another writer changed them
    /// meanwhile; the next run retries them.
    pub conflicts: Vec<String>,
}

impl CompactReport {
    /// Whether the log changed.
    pub fn changed(&self) -> bool {
        self.partitions > 0
    }
}

impl fmt::Display for CompactReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} partitions, {} → {} files, {} → {} rows, {} rows repaired",
            self.partitions,
            self.files_in,
            self.files_out,
            self.rows_in,
            self.rows_out,
            self.repaired
        )?;
        if self.unrepaired > 0 {
            write!(f, ", {} left estimated", self.unrepaired)?;
        }
        if !self.conflicts.is_empty() {
            write!(f, ", skipped {} changed meanwhile", self.conflicts.len())?;
        }
        Ok(())
    }
}

/// Compacts every partition of the `raw` and `1m` tiers that needs it (see
/// the module docs), one commit per partition.
pub async fn compact(log: &Arc<TableLog>, opts: &CompactOptions) -> Result<CompactReport> {
    let snapshot = log.snapshot().await?;
    let engine = QueryEngine::new(Arc::clone(log))?;
    let mut report = CompactReport::default();
    let raw = partitions(snapshot.files_of(Tier::Raw.dir()));
    let minute = partitions(snapshot.files_of(Tier::Minute.dir()));
    let estimated = estimated_partitions(&engine, &minute).await?;

    for (start, files) in &raw {
        // Only small files are merged: a raw partition still being written
        // gains a file per flush, and rewriting its large files at every
        // pass would copy the hour over and over.
        let small: Vec<DataFile> = files
            .iter()
            .filter(|f| f.rows < (opts.max_rows_per_file / 2) as u64)
            .cloned()
            .collect();
        if small.len() > opts.min_files.max(1) {
            let rewrite = compact_raw(&engine, log, *start, &small, opts).await?;
            publish(log, Tier::Raw, *start, &small, rewrite, &mut report).await?;
        }
    }
    for (start, files) in &minute {
        let needed = too_many(files, opts)
            || estimated.contains(start)
            || (buckets_overlap(files) && holds_parts_of_one_window(&engine, files).await?);
        if !needed {
            continue;
        }
        let raw_files = raw.get(start).map(Vec::as_slice).unwrap_or_default();
        let rewrite = compact_minute(&engine, log, *start, files, raw_files, opts).await?;
        publish(log, Tier::Minute, *start, files, rewrite, &mut report).await?;
    }
    Ok(report)
}

/// New files for a partition, written but not yet committed.
struct Rewrite {
    files: Vec<DataFile>,
    rows_in: u64,
    rows_out: u64,
    repaired: u64,
    unrepaired: u64,
}

/// Commits `rewrite` (if any) in place of `old`; when the partition changed
/// meanwhile, deletes the new objects instead and reports the conflict.
async fn publish(
    log: &TableLog,
    tier: Tier,
    start: i64,
    old: &[DataFile],
    rewrite: Option<Rewrite>,
    report: &mut CompactReport,
) -> Result<()> {
    let Some(rewrite) = rewrite else {
        return Ok(());
    };
    let dir = layout::partition_dir(tier, start);
    let commit = Commit {
        add: rewrite.files.clone(),
        remove: old.iter().map(|f| f.path.clone()).collect(),
        offsets: vec![],
        writer: writer("compact"),
        retire: Vec::new(),
    };
    match log.commit(commit).await? {
        CommitOutcome::Committed { seq } => {
            tracing::info!(
                partition = %dir,
                seq,
                files_in = old.len(),
                files_out = rewrite.files.len(),
                rows_in = rewrite.rows_in,
                rows_out = rewrite.rows_out,
                repaired = rewrite.repaired,
                unrepaired = rewrite.unrepaired,
                "compacted partition"
            );
            report.partitions += 1;
            report.files_in += old.len();
            report.files_out += rewrite.files.len();
            report.rows_in += rewrite.rows_in;
            report.rows_out += rewrite.rows_out;
            report.repaired += rewrite.repaired;
            report.unrepaired += rewrite.unrepaired;
        }
        CommitOutcome::Conflict { reason } => {
            tracing::info!(partition = %dir, %reason, "partition changed while compacting; retried next run");
            delete_uncommitted(log, &rewrite.files).await;
            report.conflicts.push(dir);
        }
    }
    Ok(())
}

/// Deletes files no commit names (nobody can be reading them); failures
/// are left to GC.
pub(crate) async fn delete_uncommitted(log: &TableLog, files: &[DataFile]) {
    use object_store::ObjectStoreExt;
    for f in files {
        let path = object_store::path::Path::from(f.path.as_str());
        if let Err(e) = log.store().objects().delete(&path).await {
            tracing::debug!(path = %f.path, error = %e, "could not delete uncommitted file; GC will");
        }
    }
}

/// Files by partition start, in time order.
fn partitions<'a>(files: impl Iterator<Item = &'a DataFile>) -> BTreeMap<i64, Vec<DataFile>> {
    let mut out: BTreeMap<i64, Vec<DataFile>> = BTreeMap::new();
    for f in files {
        out.entry(f.partition_start_ns).or_default().push(f.clone());
    }
    out
}

/// Whether a partition holds more files than [`CompactOptions::min_files`]
/// and than its rows need.
fn too_many(files: &[DataFile], opts: &CompactOptions) -> bool {
    let rows: u64 = files.iter().map(|f| f.rows).sum();
    files.len() > opts.min_files.max(files_needed(rows, opts))
}

/// The number of files compaction writes for `rows` rows.
fn files_needed(rows: u64, opts: &CompactOptions) -> usize {
    rows.div_ceil(opts.max_rows_per_file.max(1) as u64) as usize
}

/// Whether two rows of `files` are parts of the same window. Reads the
/// key columns.
async fn holds_parts_of_one_window(engine: &QueryEngine, files: &[DataFile]) -> Result<bool> {
    let keys = [c::METRIC_NAME, c::LABELS, c::BUCKET].map(col).to_vec();
    let parts = engine
        .read_files(Tier::Minute, files.to_vec())?
        .aggregate(keys, vec![count(lit(1)).alias("parts")])?
        .filter(col("parts").gt(lit(1i64)))?
        .limit(0, Some(1))?;
    Ok(collect(parts).await?.iter().any(|b| b.num_rows() > 0))
}

/// Whether two of `files` overlap in buckets, so that they may hold parts
/// of one window.
fn buckets_overlap(files: &[DataFile]) -> bool {
    let mut ranges: Vec<(i64, i64)> = files.iter().map(|f| (f.min_ts_ns, f.max_ts_ns)).collect();
    ranges.sort_unstable();
    ranges.windows(2).any(|w| w[1].0 <= w[0].1)
}

/// The `1m` partitions holding an estimated row. Row groups whose `exact`
/// statistics say "all exact" are skipped unread, so this costs about one
/// footer read per file.
async fn estimated_partitions(
    engine: &QueryEngine,
    minute: &BTreeMap<i64, Vec<DataFile>>,
) -> Result<BTreeSet<i64>> {
    let files: Vec<DataFile> = minute.values().flatten().cloned().collect();
    if files.is_empty() {
        return Ok(BTreeSet::new());
    }
    let estimated = engine
        .read_files(Tier::Minute, files)?
        .filter(col(c::EXACT).eq(lit(false)))?
        .select(vec![col(c::BUCKET)])?;
    let mut out = BTreeSet::new();
    for batch in collect(estimated).await? {
        let buckets = timestamps(batch.column(0))?;
        out.extend(
            buckets
                .values()
                .iter()
                .map(|b| Tier::Minute.partition_start(*b)),
        );
    }
    Ok(out)
}

async fn collect(frame: DataFrame) -> Result<Vec<RecordBatch>> {
    Ok(frame.execute_stream().await?.try_collect().await?)
}

/// Rewrites a raw partition: every row, sorted by series then time.
async fn compact_raw(
    engine: &QueryEngine,
    log: &TableLog,
    start: i64,
    files: &[DataFile],
    opts: &CompactOptions,
) -> Result<Option<Rewrite>> {
    let order = [c::METRIC_NAME, c::LABELS, c::TS, c::VALUE].map(|n| col(n).sort(true, false));
    let sorted = engine
        .read_files(Tier::Raw, files.to_vec())?
        .sort(order.to_vec())?;
    let mut stream = sorted.execute_stream().await?;
    let dir = layout::partition_dir(Tier::Raw, start);
    let mut writer = FileWriter::new(Tier::Raw, start, dir, opts.max_rows_per_file);
    while let Some(batch) = stream.try_next().await? {
        let batch = RecordBatch::try_new(Tier::Raw.schema(), batch.columns().to_vec())?;
        writer.push(log, batch).await?;
    }
    let written = writer.finish(log).await?;
    let rows_in = files.iter().map(|f| f.rows).sum();
    let rows_out = written.iter().map(|f| f.rows).sum();
    if rows_out != rows_in {
        // The log's row counts disagree with the files: better not replace
        // them.
        tracing::warn!(partition = %layout::partition_dir(Tier::Raw, start), rows_in, rows_out, "row count mismatch; partition left as is");
        delete_uncommitted(log, &written).await;
        return Ok(None);
    }
    Ok(Some(Rewrite {
        files: written,
        rows_in,
        rows_out,
        repaired: 0,
        unrepaired: 0,
    }))
}

/// A series and window: metric name, label pairs, bucket.
pub(crate) type WindowKey = (String, Vec<(String, String)>, i64);

/// Rewrites a `1m` partition: one row per window, estimates repaired from
/// `raw_files` (the raw partition of the same hour).
async fn compact_minute(
    engine: &QueryEngine,
    log: &TableLog,
    start: i64,
    files: &[DataFile],
    raw_files: &[DataFile],
    opts: &CompactOptions,
) -> Result<Option<Rewrite>> {
    let merged = engine.merge_files(Tier::Minute, files.to_vec(), Tier::Minute)?;
    let mut rows = agg_rows(&collect(merged).await?)?;
    let estimated: Vec<usize> = (0..rows.len()).filter(|i| !rows[*i].1.exact).collect();
    let (mut repaired, mut unrepaired) = (0, 0);
    if !estimated.is_empty() {
        let keys = estimated.iter().map(|i| &rows[*i].0);
        let mut exact = recompute(engine, raw_files, keys).await?;
        for i in estimated {
            match exact.remove(&rows[i].0) {
                Some(agg) if agg.count == rows[i].1.count => {
                    rows[i].1 = agg;
                    repaired += 1;
                }
                found => {
                    tracing::warn!(
                        metric = %rows[i].0.0,
                        bucket = rows[i].0.2,
                        count = rows[i].1.count,
                        raw_count = found.map_or(0, |a| a.count),
                        "raw samples do not match an estimated window; left estimated"
                    );
                    unrepaired += 1;
                }
            }
        }
    }
    let rows_in: u64 = files.iter().map(|f| f.rows).sum();
    if rows.len() as u64 == rows_in && repaired == 0 && files.len() <= files_needed(rows_in, opts) {
        // Nothing merged, nothing repaired, no file to spare: rewriting
        // would change nothing (e.g. estimates raw cannot repair).
        return Ok(None);
    }
    let dir = layout::partition_dir(Tier::Minute, start);
    let written = write_agg_rows(
        log,
        Tier::Minute,
        start,
        dir,
        &rows,
        opts.max_rows_per_file,
        None,
    )
    .await?;
    Ok(Some(Rewrite {
        rows_in,
        rows_out: rows.len() as u64,
        files: written,
        repaired,
        unrepaired,
    }))
}

/// The exact aggregates of the windows `keys` (minutes), computed from the
/// samples `raw_files` hold.
async fn recompute<'a>(
    engine: &QueryEngine,
    raw_files: &[DataFile],
    keys: impl Iterator<Item = &'a WindowKey>,
) -> Result<HashMap<WindowKey, Agg>> {
    let wanted: BTreeSet<&WindowKey> = keys.collect();
    let (Some(first), Some(last)) = (
        wanted.iter().map(|k| k.2).min(),
        wanted.iter().map(|k| k.2).max(),
    ) else {
        return Ok(HashMap::new());
    };
    if raw_files.is_empty() {
        return Ok(HashMap::new());
    }
    let names: BTreeSet<&str> = wanted.iter().map(|k| k.0.as_str()).collect();
    let ts = |ns: i64| {
        lit(ScalarValue::TimestampNanosecond(
            Some(ns),
            Some("UTC".into()),
        ))
    };
    let filter = col(c::METRIC_NAME)
        .in_list(names.into_iter().map(lit).collect(), false)
        .and(col(c::TS).gt_eq(ts(first)))
        .and(col(c::TS).lt(ts(last + MINUTE_NS)));
    let frame = engine
        .read_files(Tier::Raw, raw_files.to_vec())?
        .filter(filter)?;
    let mut points: HashMap<WindowKey, Vec<(i64, f64)>> = HashMap::new();
    let mut key: WindowKey = Default::default();
    for batch in collect(frame).await? {
        let names = strings(batch.column(0))?;
        let labels = map(batch.column(1))?;
        let times = timestamps(batch.column(2))?;
        let values = batch
            .column(3)
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| type_error(c::VALUE))?;
        for r in 0..batch.num_rows() {
            key.0.clear();
            key.0.push_str(names.value(r));
            key.1 = label_pairs(labels, r)?;
            key.2 = times.value(r).div_euclid(MINUTE_NS) * MINUTE_NS;
            if wanted.contains(&key) {
                points
                    .entry(key.clone())
                    .or_default()
                    .push((times.value(r), values.value(r)));
            }
        }
    }
    Ok(points
        .into_iter()
        .filter_map(|(k, mut p)| {
            p.sort_by(|a, b| sample_cmp(*a, *b));
            Agg::of_sorted(&p).map(|agg| (k, agg))
        })
        .collect())
}

/// The rows of batches in an aggregated tier's stored schema.
pub(crate) fn agg_rows(batches: &[RecordBatch]) -> Result<Vec<(WindowKey, Agg)>> {
    let mut out = Vec::new();
    for b in batches {
        if b.num_columns() != Tier::Minute.schema().fields().len() {
            return Err(type_error("the aggregate columns"));
        }
        let names = strings(b.column(0))?;
        let labels = map(b.column(1))?;
        let ts = |i: usize| timestamps(b.column(i));
        let (bucket, first_ts, last_ts) = (ts(2)?, ts(7)?, ts(9)?);
        let count = b
            .column(3)
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| type_error(c::COUNT))?;
        let f = |i: usize| {
            b.column(i)
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| type_error(b.schema().field(i).name()))
        };
        let [sum, min, max, first, last, increase] = [f(4)?, f(5)?, f(6)?, f(8)?, f(10)?, f(11)?];
        let exact = b
            .column(12)
            .as_boolean_opt()
            .ok_or_else(|| type_error(c::EXACT))?;
        for r in 0..b.num_rows() {
            let key = (
                names.value(r).to_string(),
                label_pairs(labels, r)?,
                bucket.value(r),
            );
            let agg = Agg {
                count: count.value(r).max(0) as u64,
                sum: sum.value(r),
                min: min.value(r),
                max: max.value(r),
                first_ts: first_ts.value(r),
                first: first.value(r),
                last_ts: last_ts.value(r),
                last: last.value(r),
                increase: increase.value(r),
                exact: exact.value(r),
            };
            out.push((key, agg));
        }
    }
    Ok(out)
}

/// Writes `rows` (in storage order) as files of the aggregated `tier` in
/// partition `start` (folder `dir`), at most `max_rows` rows each.
pub(crate) async fn write_agg_rows(
    log: &TableLog,
    tier: Tier,
    start: i64,
    dir: String,
    rows: &[(WindowKey, Agg)],
    max_rows: usize,
    derived_from: Option<String>,
) -> Result<Vec<DataFile>> {
    let mut writer = FileWriter::new(tier, start, dir, max_rows);
    writer.derived_from = derived_from;
    for chunk in rows.chunks(max_rows.max(1)) {
        let mut builder = AggBatchBuilder::default();
        for ((metric, labels, bucket), agg) in chunk {
            let labels = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            builder.push(metric, labels, *bucket, agg);
        }
        writer.push(log, builder.finish()?).await?;
    }
    writer.finish(log).await
}

/// Cuts a sorted stream of batches into files of at most `max_rows` rows,
/// writing each as soon as it is full.
struct FileWriter {
    tier: Tier,
    start: i64,
    dir: String,
    max_rows: usize,
    derived_from: Option<String>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    written: Vec<DataFile>,
}

impl FileWriter {
    fn new(tier: Tier, start: i64, dir: String, max_rows: usize) -> Self {
        Self {
            tier,
            start,
            dir,
            max_rows: max_rows.max(1),
            derived_from: None,
            pending: Vec::new(),
            pending_rows: 0,
            written: Vec::new(),
        }
    }

    async fn push(&mut self, log: &TableLog, batch: RecordBatch) -> Result<()> {
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        while self.pending_rows >= self.max_rows {
            let all = concat_batches(&self.tier.schema(), &self.pending)?;
            let rest = all.slice(self.max_rows, all.num_rows() - self.max_rows);
            self.write(log, &all.slice(0, self.max_rows)).await?;
            self.pending_rows = rest.num_rows();
            self.pending = vec![rest];
        }
        Ok(())
    }

    async fn finish(mut self, log: &TableLog) -> Result<Vec<DataFile>> {
        if self.pending_rows > 0 {
            let all = concat_batches(&self.tier.schema(), &self.pending)?;
            self.write(log, &all).await?;
        }
        Ok(self.written)
    }

    async fn write(&mut self, log: &TableLog, batch: &RecordBatch) -> Result<()> {
        let result = self.write_file(log, batch).await;
        if result.is_err() {
            delete_uncommitted(log, &self.written).await;
        }
        result
    }

    async fn write_file(&mut self, log: &TableLog, batch: &RecordBatch) -> Result<()> {
        let bytes = match self.tier {
            Tier::Raw => strata_storage::parquet::encode_raw(batch)?,
            tier => strata_storage::parquet::encode(tier, batch)?,
        };
        let names = strings(batch.column(0))?;
        let times =
            timestamps(batch.column(self.tier.schema().index_of(self.tier.time_column())?))?;
        let path = layout::new_data_file(&self.dir);
        let file = DataFile {
            path: path.to_string(),
            tier: self.tier.dir().to_string(),
            partition_start_ns: self.start,
            min_ts_ns: times.values().iter().copied().min().unwrap_or(self.start),
            max_ts_ns: times.values().iter().copied().max().unwrap_or(self.start),
            min_metric: names.iter().flatten().min().unwrap_or_default().to_string(),
            max_metric: names.iter().flatten().max().unwrap_or_default().to_string(),
            rows: batch.num_rows() as u64,
            bytes: bytes.len() as u64,
            derived_from: self.derived_from.clone(),
        };
        log.store().put_durable(&path, bytes, true).await?;
        self.written.push(file);
        Ok(())
    }
}

fn strings(array: &dyn Array) -> Result<&StringArray> {
    array
        .as_string_opt::<i32>()
        .ok_or_else(|| type_error(c::METRIC_NAME))
}

fn timestamps(array: &dyn Array) -> Result<&TimestampNanosecondArray> {
    array
        .as_primitive_opt::<TimestampNanosecondType>()
        .ok_or_else(|| type_error("a time column"))
}

fn map(array: &dyn Array) -> Result<&MapArray> {
    array.as_map_opt().ok_or_else(|| type_error(c::LABELS))
}

/// The label pairs of row `r`.
fn label_pairs(labels: &MapArray, r: usize) -> Result<Vec<(String, String)>> {
    let entries = labels.value(r);
    let keys = strings(entries.column(0))?;
    let values = strings(entries.column(1))?;
    Ok((0..entries.len())
        .map(|i| (keys.value(i).to_string(), values.value(i).to_string()))
        .collect())
}

fn type_error(what: &str) -> crate::Error {
    DataFusionError::Internal(format!("unexpected type of {what} in a tier file")).into()
}

/// The `writer` of maintenance commits: host, pid and job.
pub(crate) fn writer(job: &str) -> String {
    format!(
        "{}/{} {job}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()),
        std::process::id()
    )
}
