//! Samples → Arrow record batches in storage order (series, then time).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, MapBuilder, MapFieldNames,
    StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::agg::Agg;
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
        let mut labels = labels_builder();
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

pub(crate) fn labels_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    MapBuilder::new(
        Some(MapFieldNames {
            entry: "entries".into(),
            key: "keys".into(),
            value: "values".into(),
        }),
        StringBuilder::new(),
        StringBuilder::new(),
    )
}

/// Builds a batch of an aggregated tier ([`Tier::Minute`] or
/// [`Tier::Hour`]) from rows the caller pushes in storage order: by metric
/// name, then labels, then bucket.
#[derive(Debug)]
pub struct AggBatchBuilder {
    names: StringBuilder,
    labels: MapBuilder<StringBuilder, StringBuilder>,
    bucket: TimestampNanosecondBuilder,
    count: Int64Builder,
    f64s: [Float64Builder; 6],
    first_ts: TimestampNanosecondBuilder,
    last_ts: TimestampNanosecondBuilder,
    exact: BooleanBuilder,
    rows: usize,
}

impl Default for AggBatchBuilder {
    fn default() -> Self {
        Self {
            names: StringBuilder::new(),
            labels: labels_builder(),
            bucket: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            count: Int64Builder::new(),
            f64s: Default::default(),
            first_ts: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            last_ts: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            exact: BooleanBuilder::new(),
            rows: 0,
        }
    }
}

impl AggBatchBuilder {
    /// Appends one row.
    pub fn push<'a>(
        &mut self,
        metric_name: &str,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        bucket_ns: i64,
        agg: &Agg,
    ) {
        self.names.append_value(metric_name);
        for (k, v) in labels {
            self.labels.keys().append_value(k);
            self.labels.values().append_value(v);
        }
        self.labels
            .append(true)
            .expect("keys and values have equal length");
        self.bucket.append_value(bucket_ns);
        self.count.append_value(agg.count as i64);
        let [sum, min, max, first, last, increase] = &mut self.f64s;
        sum.append_value(agg.sum);
        min.append_value(agg.min);
        max.append_value(agg.max);
        self.first_ts.append_value(agg.first_ts);
        first.append_value(agg.first);
        self.last_ts.append_value(agg.last_ts);
        last.append_value(agg.last);
        increase.append_value(agg.increase);
        self.exact.append_value(agg.exact);
        self.rows += 1;
    }

    /// Number of rows appended.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row was appended.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The batch, in the stored schema of the aggregated tiers.
    pub fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let [sum, min, max, first, last, increase] = &mut self.f64s;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.names.finish()),
            Arc::new(self.labels.finish()),
            Arc::new(self.bucket.finish()),
            Arc::new(self.count.finish()),
            Arc::new(sum.finish()),
            Arc::new(min.finish()),
            Arc::new(max.finish()),
            Arc::new(self.first_ts.finish()),
            Arc::new(first.finish()),
            Arc::new(self.last_ts.finish()),
            Arc::new(last.finish()),
            Arc::new(increase.finish()),
            Arc::new(self.exact.finish()),
        ];
        RecordBatch::try_new(Tier::Minute.schema(), columns)
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

    #[test]
    fn builds_aggregate_rows() {
        let mut b = AggBatchBuilder::default();
        let agg = Agg::of_sorted(&[(1, 2.0), (2, 1.0)]).unwrap();
        b.push("m", [("host", "a")], 0, &agg);
        b.push("m", [], 60, &agg);
        let batch = b.finish().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), Tier::Hour.schema());
    }
}
