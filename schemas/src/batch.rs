//! Samples → Arrow record batches in storage order (series, then time).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Builder, MapBuilder, MapFieldNames, StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::sample::{Labels, Sample};
use crate::tier::Tier;

/// Accumulates samples and turns them into one raw-tier [`RecordBatch`]
/// sorted by series (metric name, then labels) and then time.
///
/// Samples are grouped by series as they arrive, so the final sort orders
/// series (few, string keys) and then each series' points (integers),
/// instead of comparing names and labels for every pair of samples.
/// Sorting by metric name first gives each Parquet row group tight
/// `metric_name` statistics, which is what lets a query for one metric skip
/// the rest.
#[derive(Debug, Default)]
pub struct SampleBatchBuilder {
    series: HashMap<(String, Labels), Vec<(i64, f64)>>,
    rows: usize,
}

impl SampleBatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample.
    pub fn push(&mut self, sample: Sample) {
        self.series
            .entry((sample.metric_name, sample.labels))
            .or_default()
            .push((sample.ts_ns, sample.value));
        self.rows += 1;
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no sample is held.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Sorts the samples into storage order and builds the batch.
    pub fn finish(self) -> Result<RecordBatch, ArrowError> {
        let n = self.rows;
        let mut series: Vec<_> = self.series.into_iter().collect();
        series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut names = StringBuilder::with_capacity(n, n * 16);
        let mut labels = MapBuilder::new(
            Some(MapFieldNames {
                entry: "entries".into(),
                key: "keys".into(),
                value: "values".into(),
            }),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let mut ts = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut values = Float64Builder::with_capacity(n);
        for ((name, series_labels), mut points) in series {
            // Stable: equal timestamps keep their arrival order.
            points.sort_by_key(|p| p.0);
            for (t, v) in points {
                names.append_value(&name);
                for (k, val) in series_labels.pairs() {
                    labels.keys().append_value(k);
                    labels.values().append_value(val);
                }
                labels.append(true)?;
                ts.append_value(t);
                values.append_value(v);
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(names.finish()),
            Arc::new(labels.finish()),
            Arc::new(ts.finish()),
            Arc::new(values.finish()),
        ];
        RecordBatch::try_new(Tier::Raw.schema(), columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Float64Array, StringArray};

    fn s(name: &str, host: &str, ts: i64, v: f64) -> Sample {
        Sample {
            metric_name: name.into(),
            labels: Labels::from_pairs([("host", host)]),
            ts_ns: ts,
            value: v,
        }
    }

    #[test]
    fn sorts_by_series_then_time() {
        let mut b = SampleBatchBuilder::new();
        b.push(s("b", "x", 2, 1.0));
        b.push(s("a", "y", 1, 2.0));
        b.push(s("a", "x", 5, 3.0));
        b.push(s("a", "x", 4, 4.0));
        let batch = b.finish().unwrap();
        assert_eq!(batch.num_rows(), 4);
        let names = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let vals = batch
            .column(3)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(names.value(0), "a");
        assert_eq!(names.value(3), "b");
        assert_eq!(
            (0..4).map(|i| vals.value(i)).collect::<Vec<_>>(),
            vec![4.0, 3.0, 2.0, 1.0]
        );
        assert_eq!(batch.column(1).null_count(), 0);
    }
}
