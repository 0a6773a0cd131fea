//! The raw tier writer: buffers samples per hour partition and writes one
//! sorted Parquet file per partition at each flush.

use std::collections::BTreeMap;

use bytes::Bytes;
use datafusion::arrow::array::{Array, StringArray, TimestampNanosecondArray};
use datafusion::arrow::compute::{max, min};
use datafusion::arrow::record_batch::RecordBatch;
use object_store::path::Path;
use strata_schemas::{Sample, SampleBatchBuilder, Tier};
use strata_storage::{DataFile, Store, layout, parquet};

use crate::error::Result;

/// Samples waiting for the next flush, grouped by time partition.
#[derive(Debug, Default)]
pub struct RawBuffer {
    partitions: BTreeMap<i64, SampleBatchBuilder>,
    rows: usize,
}

impl RawBuffer {
    /// Adds one sample to its partition.
    pub fn push(&mut self, sample: Sample) {
        let start = layout::partition_start(sample.ts_ns);
        self.partitions.entry(start).or_default().push(sample);
        self.rows += 1;
    }

    /// Number of samples buffered.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Encodes one Parquet file per partition, in memory, ready to be put.
    pub async fn encode(self) -> Result<Vec<EncodedFile>> {
        let mut files = Vec::with_capacity(self.partitions.len());
        for (start, builder) in self.partitions {
            let (batch, bytes) = tokio::task::spawn_blocking(move || -> Result<_> {
                let batch = builder.finish()?;
                let bytes = parquet::encode_raw(&batch)?;
                Ok((batch, bytes))
            })
            .await
            .expect("encode task panicked")?;
            let path = layout::new_data_file(&layout::partition_dir(Tier::Raw, start));
            let file = describe(&batch, path.to_string(), start, bytes.len() as u64);
            files.push(EncodedFile { path, bytes, file });
        }
        Ok(files)
    }
}

/// A data file encoded in memory, not yet in the store.
#[derive(Debug, Clone)]
pub struct EncodedFile {
    path: Path,
    bytes: Bytes,
    /// What the commit will say about it.
    pub file: DataFile,
}

impl EncodedFile {
    /// A file to be written at `path`, described by `file`.
    pub(crate) fn new(path: Path, bytes: Bytes, file: DataFile) -> Self {
        Self { path, bytes, file }
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True for an empty file (never produced).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Puts the file in the store, where it stays invisible until a commit
    /// names it. Idempotent: a retry after an ambiguous failure finds its
    /// own earlier write (the path is unique to this file).
    pub async fn put(&self, store: &Store) -> Result<()> {
        match store
            .put_durable(&self.path, self.bytes.clone(), true)
            .await
        {
            Ok(())
            | Err(strata_storage::Error::ObjectStore(object_store::Error::AlreadyExists {
                ..
            })) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Describes a sorted raw batch written at `path`.
fn describe(batch: &RecordBatch, path: String, partition_start_ns: i64, bytes: u64) -> DataFile {
    let names = batch
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("metric_name is Utf8");
    let ts = batch
        .column(2)
        .as_any()
        .downcast_ref::<TimestampNanosecondArray>()
        .expect("ts is Timestamp(ns)");
    let last = names.len().saturating_sub(1);
    DataFile {
        path,
        tier: Tier::Raw.dir().to_string(),
        partition_start_ns,
        min_ts_ns: min(ts).unwrap_or_default(),
        max_ts_ns: max(ts).unwrap_or_default(),
        min_metric: names.value(0).to_string(),
        max_metric: names.value(last).to_string(),
        rows: batch.num_rows() as u64,
        bytes,
        derived_from: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_schemas::Labels;

    #[tokio::test]
    async fn one_file_per_hour_partition() {
        let store = Store::open("memory://").unwrap();
        let mut buf = RawBuffer::default();
        let hour = 3_600_000_000_000i64;
        let base = 1_700_000_000_000_000_000 / hour * hour;
        for (i, ts) in [base + 5, base + hour + 1, base + 2, base + hour + 9]
            .into_iter()
            .enumerate()
        {
            buf.push(Sample {
                metric_name: if i % 2 == 0 { "b".into() } else { "a".into() },
                labels: Labels::default(),
                ts_ns: ts,
                value: i as f64,
            });
        }
        assert_eq!(buf.rows(), 4);
        let encoded = buf.encode().await.unwrap();
        for e in &encoded {
            e.put(&store).await.unwrap();
            e.put(&store).await.unwrap(); // a retry is harmless
        }
        let files: Vec<DataFile> = encoded.into_iter().map(|e| e.file).collect();
        assert_eq!(files.len(), 2);
        assert_eq!(
            (files[0].min_ts_ns, files[0].max_ts_ns),
            (base + 2, base + 5)
        );
        assert_eq!(files[1].partition_start_ns, base + hour);
        assert_eq!(
            (files[1].min_metric.as_str(), files[1].max_metric.as_str()),
            ("a", "a")
        );
        assert!(files[0].path.starts_with("raw/"));
        assert!(files.iter().all(|f| f.rows == 2 && f.bytes > 0));
    }
}
