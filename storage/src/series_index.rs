//! A file's series index: where each series' rows are, kept in the
//! Parquet footer of the aggregated tiers' files.
//!
//! Files are sorted by `metric_name, labels`, then time, so the rows of a
//! series are one run. The index lists the runs: the row each starts at,
//! its metric and its label pairs. A reader that knows which series it
//! wants (the series API, by metric and label matchers) selects their rows
//! with a Parquet row selection and never decodes the `labels` column,
//! which is most of the cost of reading an aggregated tier by label.
//!
//! The index is a footer key-value entry ([`KEY`]): JSON, zstd-compressed
//! and base64-encoded, since footer values are strings. It is written only
//! where series have several rows on average ([`MIN_ROWS_PER_SERIES`]): a
//! file of one row per series (an ingest flush) would carry an index as
//! large as its label column. Readers treat a file without an index as
//! before, reading its labels.
//!
//! ```text
//! rows   metric_name  labels               bucket
//!    0   cpu          {host=a}             00:00   ─┐ run 0: start 0
//!    1   cpu          {host=a}             00:01   ─┘
//!    2   cpu          {host=b}             00:00   ── run 1: start 2
//!    3   mem          {host=a}             00:00   ── run 2: start 3
//! ```

use std::io::Read;
use std::ops::Range;

use base64::Engine as _;
use datafusion::arrow::array::{Array, AsArray, MapArray, RecordBatch, StringArray};
use datafusion::parquet::file::metadata::KeyValue;
use serde::{Deserialize, Serialize};
use strata_schemas::tier::col;

use crate::error::{Error, Result};

/// The footer key of the index.
pub const KEY: &str = "strata.series_index";

/// A file gets an index only when its series have at least this many rows
/// on average.
pub const MIN_ROWS_PER_SERIES: usize = 4;

/// The format version written; readers ignore other versions.
const VERSION: u32 = 1;

/// The runs of one file, in row order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesIndex {
    v: u32,
    /// Rows in the file.
    pub rows: u64,
    /// Distinct metric names, referenced by [`Run::metric`].
    pub metrics: Vec<String>,
    /// Runs in row order; run `i` holds rows `[start_i, start_{i+1})`.
    pub runs: Vec<Run>,
}

/// The rows of one series in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// First row.
    #[serde(rename = "s")]
    pub start: u64,
    /// Index into [`SeriesIndex::metrics`].
    #[serde(rename = "m")]
    pub metric: u32,
    /// Label pairs as stored (null values left out).
    #[serde(rename = "l")]
    pub labels: Vec<(String, String)>,
}

impl SeriesIndex {
    /// The index of `batch` (the whole content of a file, sorted), or
    /// `None` when its series have fewer than [`MIN_ROWS_PER_SERIES`] rows
    /// on average or it has no label column.
    pub fn of(batch: &RecordBatch) -> Option<SeriesIndex> {
        let schema = batch.schema();
        let names = batch
            .column(schema.index_of(col::METRIC_NAME).ok()?)
            .as_string_opt::<i32>()?;
        let labels = batch
            .column(schema.index_of(col::LABELS).ok()?)
            .as_map_opt()?;
        let rows = batch.num_rows();
        let mut starts = Vec::new();
        for r in 0..rows {
            if r == 0 || names.value(r) != names.value(r - 1) || !same_labels(labels, r, r - 1) {
                starts.push(r);
                if starts.len() * MIN_ROWS_PER_SERIES > rows {
                    return None;
                }
            }
        }
        let mut index = SeriesIndex {
            v: VERSION,
            rows: rows as u64,
            metrics: Vec::new(),
            runs: Vec::with_capacity(starts.len()),
        };
        for r in starts {
            let name = names.value(r);
            if index.metrics.last().is_none_or(|m| m != name) {
                index.metrics.push(name.to_string());
            }
            index.runs.push(Run {
                start: r as u64,
                metric: (index.metrics.len() - 1) as u32,
                labels: pairs(labels, r)
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            });
        }
        Some(index)
    }

    /// The footer entry holding the index.
    pub fn to_key_value(&self) -> Result<KeyValue> {
        let json = serde_json::to_vec(self).map_err(|e| Error::SeriesIndex(e.to_string()))?;
        let packed = zstd::bulk::compress(&json, 3)
            .map_err(|e| Error::SeriesIndex(format!("compressing: {e}")))?;
        Ok(KeyValue::new(
            KEY.to_string(),
            base64::engine::general_purpose::STANDARD.encode(packed),
        ))
    }

    /// The index in a file's footer entries: `None` without one (or of an
    /// unknown version), an error when it is there but unreadable.
    pub fn from_key_values(kv: Option<&Vec<KeyValue>>) -> Result<Option<SeriesIndex>> {
        let Some(value) = kv
            .into_iter()
            .flatten()
            .find(|kv| kv.key == KEY)
            .and_then(|kv| kv.value.as_deref())
        else {
            return Ok(None);
        };
        let bad = |e: String| Error::SeriesIndex(format!("in the footer: {e}"));
        let packed = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|e| bad(e.to_string()))?;
        let mut json = Vec::new();
        zstd::Decoder::new(packed.as_slice())
            .and_then(|mut d| d.read_to_end(&mut json))
            .map_err(|e| bad(e.to_string()))?;
        let index: SeriesIndex = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
        if index.v != VERSION {
            return Ok(None);
        }
        Ok(Some(index))
    }

    /// The rows of run `i`.
    pub fn rows_of(&self, i: usize) -> Range<u64> {
        let end = self.runs.get(i + 1).map_or(self.rows, |r| r.start);
        self.runs[i].start..end
    }

    /// The metric of run `i`.
    pub fn metric_of(&self, i: usize) -> &str {
        &self.metrics[self.runs[i].metric as usize]
    }

    /// Approximate heap size, for caches bounded in bytes.
    pub fn heap_size(&self) -> usize {
        let strings = |l: &[(String, String)]| -> usize {
            l.iter().map(|(k, v)| 48 + k.len() + v.len()).sum()
        };
        self.metrics.iter().map(|m| 24 + m.len()).sum::<usize>()
            + self
                .runs
                .iter()
                .map(|r| 40 + strings(&r.labels))
                .sum::<usize>()
    }
}

/// The non-null label pairs of row `r`.
fn pairs(map: &MapArray, r: usize) -> impl Iterator<Item = (&str, &str)> + Clone {
    let offsets = map.value_offsets();
    let keys: &StringArray = map.keys().as_string();
    let values: &StringArray = map.values().as_string();
    (offsets[r] as usize..offsets[r + 1] as usize)
        .filter(|&i| values.is_valid(i))
        .map(|i| (keys.value(i), values.value(i)))
}

fn same_labels(map: &MapArray, a: usize, b: usize) -> bool {
    pairs(map, a).eq(pairs(map, b))
}

#[cfg(test)]
mod tests {
    use strata_schemas::{Labels, Sample, SampleBatchBuilder};

    use super::*;

    fn batch(series: &[(&str, &str, usize)]) -> RecordBatch {
        let mut b = SampleBatchBuilder::new();
        for &(metric, host, n) in series {
            for i in 0..n {
                b.push(Sample {
                    metric_name: metric.into(),
                    labels: Labels::from_pairs([("host", host)]),
                    ts_ns: i as i64,
                    value: 1.0,
                });
            }
        }
        b.finish().unwrap()
    }

    #[test]
    fn runs_round_trip_through_the_footer_entry() {
        let b = batch(&[("cpu", "a", 5), ("cpu", "b", 4), ("mem", "a", 7)]);
        let index = SeriesIndex::of(&b).expect("4+ rows per series");
        assert_eq!(index.metrics, ["cpu", "mem"]);
        assert_eq!(index.runs.len(), 3);
        assert_eq!(index.rows_of(0), 0..5);
        assert_eq!(index.rows_of(1), 5..9);
        assert_eq!(index.rows_of(2), 9..16);
        assert_eq!(index.metric_of(2), "mem");
        assert_eq!(index.runs[1].labels, [("host".into(), "b".into())]);
        let kv = index.to_key_value().unwrap();
        let back = SeriesIndex::from_key_values(Some(&vec![kv])).unwrap();
        assert_eq!(back, Some(index));
    }

    #[test]
    fn few_rows_per_series_get_no_index() {
        assert_eq!(
            SeriesIndex::of(&batch(&[("cpu", "a", 1), ("cpu", "b", 1)])),
            None
        );
        assert_eq!(SeriesIndex::from_key_values(None).unwrap(), None);
    }

    #[test]
    fn a_damaged_index_is_an_error() {
        let kv = KeyValue::new(KEY.to_string(), "not base64!".to_string());
        assert!(SeriesIndex::from_key_values(Some(&vec![kv])).is_err());
    }
}
