//! The 1m tier writer: closed windows and corrections → one sorted Parquet
//! file per hour partition of the `1m` tier.

use std::collections::BTreeMap;

use strata_schemas::{AggBatchBuilder, Tier};
use strata_storage::{DataFile, layout, parquet};

use super::raw::EncodedFile;
use super::window::{ClosedWindow, decode_key};
use crate::error::Result;

/// Encodes `closed` (sorted by series, then window, as
/// [`super::Windows::close`] returns them) into one file per partition.
pub async fn encode(closed: Vec<ClosedWindow>) -> Result<Vec<EncodedFile>> {
    if closed.is_empty() {
        return Ok(Vec::new());
    }
    tokio::task::spawn_blocking(move || encode_blocking(closed))
        .await
        .expect("encode task panicked")
}

fn encode_blocking(closed: Vec<ClosedWindow>) -> Result<Vec<EncodedFile>> {
    let tier = Tier::Minute;
    let mut partitions: BTreeMap<i64, Vec<ClosedWindow>> = BTreeMap::new();
    for c in closed {
        partitions
            .entry(tier.partition_start(c.bucket_ns))
            .or_default()
            .push(c);
    }
    let mut files = Vec::with_capacity(partitions.len());
    for (start, rows) in partitions {
        let mut b = AggBatchBuilder::default();
        let (mut min_b, mut max_b) = (i64::MAX, i64::MIN);
        let mut metrics: Option<(String, String)> = None;
        for row in &rows {
            let (name, labels) = decode_key(&row.key);
            b.push(
                &name,
                labels.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
                row.bucket_ns,
                &row.agg,
            );
            min_b = min_b.min(row.bucket_ns);
            max_b = max_b.max(row.bucket_ns);
            match &mut metrics {
                None => metrics = Some((name.to_string(), name.to_string())),
                // Rows are sorted by name: the last one is the largest.
                Some((_, hi)) => {
                    if name.as_ref() != hi.as_str() {
                        *hi = name.into_owned();
                    }
                }
            }
        }
        let (min_metric, max_metric) = metrics.unwrap_or_default();
        let batch = b.finish()?;
        // Compaction folds these files soon and stores them compactly.
        let bytes = parquet::encode_agg_fast(&batch)?;
        let path = layout::new_data_file(&layout::partition_dir(tier, start));
        let file = DataFile {
            path: path.to_string(),
            tier: tier.dir().to_string(),
            partition_start_ns: start,
            min_ts_ns: min_b,
            max_ts_ns: max_b,
            min_metric,
            max_metric,
            rows: batch.num_rows() as u64,
            bytes: bytes.len() as u64,
            derived_from: None,
        };
        files.push(EncodedFile::new(path, bytes, file));
    }
    Ok(files)
}
