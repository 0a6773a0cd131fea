//! Samples → Arrow record batches in storage order (series, then time).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Builder, MapBuilder, MapFieldNames, StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::sample::Sample;
use crate::tier::Tier;

/// Accumulates samples and turns them into one raw-tier [`RecordBatch`]
/// sorted by series (metric name, then labels) and then time.
///
/// Sorting by metric name first gives each Parquet row group tight
/// `metric_name` statistics, which is what lets a query for one metric skip
/// the rest.
#[derive(Debug, Default)]
pub struct SampleBatchBuilder {
    samples: Vec<Sample>,
}

impl SampleBatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample.
    pub fn push(&mut self, sample: Sample) {
        self.samples.push(sample);
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when no sample is held.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Sorts the samples into storage order and builds the batch.
    pub fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        self.samples.sort_by(|a, b| {
            a.metric_name
                .cmp(&b.metric_name)
                .then_with(|| a.labels.cmp(&b.labels))
                .then_with(|| a.ts_ns.cmp(&b.ts_ns))
        });
        let n = self.samples.len();
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
        for s in &self.samples {
            names.append_value(&s.metric_name);
            for (k, v) in s.labels.pairs() {
                labels.keys().append_value(k);
                labels.values().append_value(v);
            }
            labels.append(true)?;
            ts.append_value(s.ts_ns);
            values.append_value(s.value);
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
    use crate::Labels;
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
