//! Reading a segment of an aggregated tier through the files' series
//! indexes ([`strata_storage::series_index`]), without SQL.
//!
//! For each file of the segment: its footer (cached by path, files never
//! change) gives the runs of rows of each series; the runs of the
//! requested metric whose labels pass the matchers become a Parquet row
//! selection, and only the selected rows of the value columns are decoded.
//! The `labels` column, whose decoding and matching is most of the SQL
//! path's cost (every row of the metric, to keep a tenth), is never read:
//! each run's labels come from the index.
//!
//! [`read`] answers `None` when any file of the segment has no index
//! (written before indexes, or an ingest flush of one row per series), or
//! when the selection is larger than a statement's memory limit: the
//! caller then reads the segment with SQL, under DataFusion's memory pool.

use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::parquet::arrow::ParquetRecordBatchStreamBuilder;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector,
};
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::PageIndexPolicy;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::TryStreamExt;
use object_store::ObjectStore;
use regex::Regex;
use strata_schemas::tier::col;
use strata_storage::series_index::SeriesIndex;
use strata_storage::{DataFile, Snapshot};

use super::{LabelMatch, LabelPairs, Segment, SeriesRequest};
use crate::error::{Error, Result};

/// Bytes a selected row is assumed to take in memory, for the check
/// against the memory limit.
const ROW_BYTES: usize = 96;

/// What counters read.
pub(crate) const COUNTER_COLUMNS: &[(&str, Kind)] = &[
    (col::BUCKET, Kind::Int),
    (col::FIRST_TS, Kind::Int),
    (col::FIRST, Kind::Float),
    (col::LAST_TS, Kind::Int),
    (col::LAST, Kind::Float),
    (col::INCREASE, Kind::Float),
    (col::EXACT, Kind::Bool),
];

/// The schema of [`SeriesRows::rows`] for `columns`.
fn schema(columns: &[(&str, Kind)]) -> SchemaRef {
    let fields = columns
        .iter()
        .map(|(name, kind)| Field::new(*name, kind.data_type(), true));
    Arc::new(Schema::new(fields.collect::<Vec<_>>()))
}

/// A Parquet failure as a DataFusion one, as the SQL path reports it.
fn pq(e: ParquetError) -> Error {
    Error::DataFusion(DataFusionError::from(e))
}

/// How a column read is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Int64` (times in Unix ns).
    Int,
    /// `Float64`, whatever exact representation the file stored.
    Float,
    /// `Boolean`.
    Bool,
}

impl Kind {
    fn data_type(self) -> DataType {
        match self {
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::Bool => DataType::Boolean,
        }
    }
}

/// The rows of one series in one file within the segment, the columns
/// asked for in that order (the first is always `bucket`).
pub(crate) struct SeriesRows {
    /// The series' label pairs.
    pub labels: Arc<LabelPairs>,
    /// Its rows.
    pub rows: RecordBatch,
}

/// A file's footer as read once: the metadata to read it with, and its
/// series index.
pub(crate) struct Footer {
    meta: ArrowReaderMetadata,
    index: Option<SeriesIndex>,
    /// Label pairs of each run, shared by every answer.
    labels: Vec<Arc<LabelPairs>>,
}

/// Footers of the files read so far, by path, bounded in bytes.
pub(crate) type FooterCache = moka::sync::Cache<String, Arc<Footer>>;

/// A [`FooterCache`] of at most `bytes`.
pub(crate) fn footer_cache(bytes: u64) -> FooterCache {
    moka::sync::Cache::builder()
        .max_capacity(bytes)
        .weigher(|path: &String, f: &Arc<Footer>| {
            let size = path.len()
                + f.meta.metadata().memory_size()
                + f.index.as_ref().map_or(0, SeriesIndex::heap_size);
            u32::try_from(size).unwrap_or(u32::MAX)
        })
        .build()
}

/// The rows of `req`'s series in `seg` (an aggregated tier), read through
/// the series indexes of `snapshot`'s files: `columns` (the first must be
/// `bucket`), or `None` when a file has no index or the rows would exceed
/// `memory_limit` (see the module docs).
pub(crate) async fn read(
    objects: &Arc<dyn ObjectStore>,
    footers: &FooterCache,
    snapshot: &Snapshot,
    req: &SeriesRequest,
    seg: Segment,
    columns: &[(&'static str, Kind)],
    memory_limit: usize,
) -> Result<Option<Vec<SeriesRows>>> {
    debug_assert_eq!(columns[0].0, col::BUCKET);
    let files: Vec<&DataFile> = snapshot
        .files_of(seg.tier.dir())
        .filter(|f| {
            f.max_ts_ns >= seg.from_ns
                && f.min_ts_ns < seg.to_ns
                && f.min_metric.as_str() <= req.metric.as_str()
                && req.metric.as_str() <= f.max_metric.as_str()
        })
        .collect();
    let matchers = Matchers::new(&req.matchers)?;
    let mut plans = Vec::with_capacity(files.len());
    let mut selected = 0u64;
    for f in files {
        let footer = footer(objects, footers, f).await?;
        let Some(index) = &footer.index else {
            return Ok(None);
        };
        let runs: Vec<usize> = (0..index.runs.len())
            .filter(|&i| {
                index.metric_of(i) == req.metric && matchers.matches(&index.runs[i].labels)
            })
            .collect();
        selected += runs
            .iter()
            .map(|&i| index.rows_of(i).count() as u64)
            .sum::<u64>();
        if selected.saturating_mul(ROW_BYTES as u64) > memory_limit as u64 {
            return Ok(None);
        }
        if !runs.is_empty() {
            plans.push((f, footer, runs));
        }
    }
    // Files are read in parallel (decoding is most of the work), and their
    // rows kept in the files' order, so that the answer does not depend
    // on which finished first. Dropping the set (a timeout) aborts them.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (f, footer, runs)) in plans.into_iter().enumerate() {
        let (objects, f, columns) = (Arc::clone(objects), f.clone(), columns.to_vec());
        tasks.spawn(async move {
            let mut out = Vec::new();
            read_runs(&objects, &f, &footer, &runs, seg, &columns, &mut out).await?;
            Ok::<_, Error>((i, out))
        });
    }
    let mut done = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        let read = joined.map_err(|e| Error::DataFusion(DataFusionError::External(Box::new(e))))?;
        done.push(read?);
    }
    done.sort_by_key(|(i, _)| *i);
    Ok(Some(done.into_iter().flat_map(|(_, rows)| rows).collect()))
}

/// The footer of `f`, from the cache or the store.
async fn footer(
    objects: &Arc<dyn ObjectStore>,
    footers: &FooterCache,
    f: &DataFile,
) -> Result<Arc<Footer>> {
    if let Some(found) = footers.get(&f.path) {
        return Ok(found);
    }
    let mut reader = reader(objects, f)?;
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let meta = ArrowReaderMetadata::load_async(&mut reader, options)
        .await
        .map_err(pq)?;
    let index =
        match SeriesIndex::from_key_values(meta.metadata().file_metadata().key_value_metadata()) {
            Ok(index) => index,
            Err(e) => {
                tracing::warn!(path = %f.path, error = %e, "ignoring a damaged series index");
                None
            }
        };
    let labels = index
        .iter()
        .flat_map(|i| &i.runs)
        .map(|r| Arc::new(r.labels.clone()));
    let footer = Arc::new(Footer {
        labels: labels.collect(),
        meta,
        index,
    });
    footers.insert(f.path.clone(), Arc::clone(&footer));
    Ok(footer)
}

/// A reader of `f`, as DataFusion's scans make them.
fn reader(objects: &Arc<dyn ObjectStore>, f: &DataFile) -> Result<Box<dyn AsyncFileReader>> {
    let file = PartitionedFile::new(f.path.clone(), f.bytes);
    let metrics = ExecutionPlanMetricsSet::new();
    let reader = DefaultParquetFileReaderFactory::new(Arc::clone(objects))
        .create_reader(0, file, None, &metrics)?;
    Ok(reader)
}

/// Reads the rows of `runs` (indexes into the footer's runs, ascending)
/// of file `f` within `seg`, one [`SeriesRows`] per run with rows.
async fn read_runs(
    objects: &Arc<dyn ObjectStore>,
    f: &DataFile,
    footer: &Footer,
    runs: &[usize],
    seg: Segment,
    columns: &[(&str, Kind)],
    out: &mut Vec<SeriesRows>,
) -> Result<()> {
    let index = footer.index.as_ref().expect("only indexed files are read");
    let ranges: Vec<Range<u64>> = runs.iter().map(|&i| index.rows_of(i)).collect();
    let group_rows = footer
        .meta
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows() as u64);
    let (row_groups, selection) = selection(group_rows, &ranges);
    let file_schema = footer.meta.schema();
    let roots = columns
        .iter()
        .map(|(name, _)| file_schema.index_of(name))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(DataFusionError::from)?;
    let mask = ProjectionMask::roots(footer.meta.parquet_schema(), roots.iter().copied());
    let stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
        reader(objects, f)?,
        footer.meta.clone(),
    )
    .with_projection(mask)
    .with_row_groups(row_groups)
    .with_row_selection(selection)
    .with_batch_size(64 * 1024)
    .build()
    .map_err(pq)?;
    let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(pq)?;
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let all = concat_batches(&first.schema(), &batches)?;
    // Projected columns come in file order: put them in the order asked,
    // as the types asked.
    let arrays = columns
        .iter()
        .map(|(name, kind)| {
            let column = all.column(all.schema().index_of(name).map_err(DataFusionError::from)?);
            Ok(cast(column, &kind.data_type())?)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let all = RecordBatch::try_new(schema(columns), arrays)?;
    let expected: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    if all.num_rows() as u64 != expected {
        return Err(Error::DataFusion(DataFusionError::Internal(format!(
            "{}: read {} rows through the series index, expected {expected}",
            f.path,
            all.num_rows()
        ))));
    }
    let buckets: &Int64Array = datafusion::arrow::array::AsArray::as_primitive(all.column(0));
    let mut at = 0usize;
    for (&run, range) in runs.iter().zip(&ranges) {
        let n = (range.end - range.start) as usize;
        // Rows of a run are in time order: keep those inside the segment.
        let rows = &buckets.values()[at..at + n];
        let from = rows.partition_point(|&t| t < seg.from_ns);
        let to = rows.partition_point(|&t| t < seg.to_ns);
        if to > from {
            out.push(SeriesRows {
                labels: Arc::clone(&footer.labels[run]),
                rows: all.slice(at + from, to - from),
            });
        }
        at += n;
    }
    Ok(())
}

/// The row groups (of `group_rows` rows each) holding `ranges` (ascending,
/// disjoint file rows) and the selection of those rows within them.
fn selection(
    group_rows: impl Iterator<Item = u64>,
    ranges: &[Range<u64>],
) -> (Vec<usize>, RowSelection) {
    let mut groups = Vec::new();
    let mut selectors = Vec::new();
    let mut start = 0u64;
    let mut next = ranges.iter().peekable();
    for (g, rows) in group_rows.enumerate() {
        let end = start + rows;
        let mut at = start;
        let mut any = false;
        let mut group = Vec::new();
        while let Some(r) = next.peek() {
            if r.start >= end {
                break;
            }
            let (from, to) = (r.start.max(start), r.end.min(end));
            if from > at {
                group.push(RowSelector::skip((from - at) as usize));
            }
            group.push(RowSelector::select((to - from) as usize));
            any = true;
            at = to;
            if r.end <= end {
                next.next();
            } else {
                break;
            }
        }
        if any {
            if end > at {
                group.push(RowSelector::skip((end - at) as usize));
            }
            groups.push(g);
            selectors.extend(group);
        }
        start = end;
    }
    (groups, RowSelection::from(selectors))
}

/// Label matchers compiled once, with the semantics of the SQL path
/// ([`super::matcher_predicates`]): a missing label matches as empty,
/// regular expressions are anchored.
struct Matchers(Vec<(LabelMatch, Option<Regex>)>);

impl Matchers {
    fn new(matchers: &[LabelMatch]) -> Result<Self> {
        let compiled = matchers
            .iter()
            .map(|m| {
                let re = match m.op.as_str() {
                    "=~" | "!~" => {
                        Some(Regex::new(&format!("^(?:{})$", m.value)).map_err(|e| {
                            Error::BadRequest(format!("match {}{}{:?}: {e}", m.name, m.op, m.value))
                        })?)
                    }
                    _ => None,
                };
                Ok((m.clone(), re))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self(compiled))
    }

    fn matches(&self, labels: &[(String, String)]) -> bool {
        self.0.iter().all(|(m, re)| {
            let v = labels
                .iter()
                .find(|(k, _)| *k == m.name)
                .map_or("", |(_, v)| v.as_str());
            match (m.op.as_str(), re) {
                ("=", _) => v == m.value,
                ("!=", _) => v != m.value,
                ("=~", Some(re)) => re.is_match(v),
                (_, Some(re)) => !re.is_match(v),
                _ => unreachable!("regular expressions are compiled"),
            }
        })
    }
}

/// Label pairs of a group: all of them, or the values of `by`'s names
/// (absent ones left out), as the SQL path's groups.
pub(crate) fn group_of<'a>(
    labels: &'a LabelPairs,
    by: &'a Option<Vec<String>>,
) -> Vec<(&'a str, &'a str)> {
    match by {
        None => labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        Some(names) => names
            .iter()
            .filter_map(|n| {
                labels
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| (n.as_str(), v.as_str()))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selected(group_rows: &[u64], ranges: &[Range<u64>]) -> (Vec<usize>, Vec<RowSelector>) {
        let (groups, selection) = selection(group_rows.iter().copied(), ranges);
        (groups, selection.into())
    }

    #[test]
    fn selections_skip_row_groups_without_selected_rows() {
        let (s, k) = (RowSelector::select, RowSelector::skip);
        // One group: skip, select, skip to its end.
        let one = 2..4;
        assert_eq!(
            selected(&[10], std::slice::from_ref(&one)),
            (vec![0], vec![k(2), s(2), k(6)])
        );
        // A range across a group boundary; the middle group is left out.
        let (groups, sel) = selected(&[5, 5, 5, 5], &[3..7, 16..20]);
        assert_eq!(groups, [0, 1, 3]);
        // (adjacent selectors of the same kind merged)
        assert_eq!(sel, [k(3), s(4), k(4), s(4)]);
        // Nothing selected: no group.
        assert_eq!(selected(&[5, 5], &[]), (vec![], vec![]));
    }

    #[test]
    fn matchers_treat_a_missing_label_as_empty_and_anchor_expressions() {
        let m = |name: &str, op: &str, value: &str| LabelMatch {
            name: name.into(),
            op: op.into(),
            value: value.into(),
        };
        let labels = vec![("host".to_string(), "web01".to_string())];
        let matches = |ms: Vec<LabelMatch>| Matchers::new(&ms).unwrap().matches(&labels);
        assert!(matches(vec![m("host", "=~", "web.*")]));
        assert!(!matches(vec![m("host", "=~", "web")]), "anchored");
        assert!(matches(vec![m("dc", "=", "")]), "missing is empty");
        assert!(!matches(vec![m("dc", "!=", "")]));
        assert!(matches(vec![
            m("host", "!~", "db.*"),
            m("host", "!=", "web02")
        ]));
        assert!(Matchers::new(&[m("host", "=~", "(")]).is_err());
    }

    #[test]
    fn groups_keep_the_by_labels_in_order() {
        let labels: LabelPairs = vec![("code".into(), "200".into()), ("host".into(), "a".into())];
        assert_eq!(group_of(&labels, &None), [("code", "200"), ("host", "a")]);
        let by = Some(vec!["host".into(), "dc".into(), "code".into()]);
        assert_eq!(group_of(&labels, &by), [("host", "a"), ("code", "200")]);
        assert!(group_of(&labels, &Some(vec![])).is_empty());
    }
}
