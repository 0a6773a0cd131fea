//! The raw tier writer: buffers samples per hour partition and writes one
//! sorted Parquet file per partition at each flush.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, StringArray, TimestampNanosecondArray};
use datafusion::arrow::compute::{max, min};
use datafusion::arrow::record_batch::RecordBatch;
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

    /// Writes one file per partition and returns their descriptions, ready
    /// to be committed. The files stay invisible until then.
    pub async fn write(self, store: &Store) -> Result<Vec<DataFile>> {
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
            let size = bytes.len() as u64;
            store.put_durable(&path, bytes, true).await?;
            files.push(describe(&batch, path.to_string(), start, size));
        }
        Ok(files)
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
        let files = buf.write(&store).await.unwrap();
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
