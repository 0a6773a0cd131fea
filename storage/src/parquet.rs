//! How tier files are encoded.
//!
//! Choices, measured on metrics data (see `../shared/REFERENCES.md`):
//! - rows sorted by series (metric name, labels) then time, declared in the
//!   file's `sorting_columns`, so `metric_name` and `ts` statistics prune;
//! - names and labels dictionary-encoded (few distinct values, long runs);
//! - timestamps `DELTA_BINARY_PACKED` (regular intervals delta to ~0 bits);
//! - values `BYTE_STREAM_SPLIT`, which lets zstd see the similar exponent
//!   and high mantissa bytes of neighbouring floats;
//! - zstd level 3 and row groups of up to 1,048,576 rows, as InfluxDB 3.

use bytes::Bytes;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use strata_schemas::Tier;
use strata_schemas::tier::col;

use crate::error::Result;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 1_048_576;

/// Writer properties of raw-tier files.
pub fn raw_writer_properties() -> WriterProperties {
    let ts = ColumnPath::from(col::TS);
    let value = ColumnPath::from(col::VALUE);
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true)
        .set_column_dictionary_enabled(ts.clone(), false)
        .set_column_encoding(ts, Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(value.clone(), false)
        .set_column_encoding(value, Encoding::BYTE_STREAM_SPLIT)
        // metric_name (0), labels keys+values (1, 2), ts (3): the sort order
        // of the rows, so readers may rely on it.
        .set_sorting_columns(Some(vec![sorted(0), sorted(3)]))
        .build()
}

fn sorted(column_idx: i32) -> SortingColumn {
    SortingColumn {
        column_idx,
        descending: false,
        nulls_first: false,
    }
}

/// Writer properties of the aggregated tiers' files: as raw, with every
/// time column delta-encoded and every float byte-stream-split.
pub fn agg_writer_properties() -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true);
    for c in [col::BUCKET, col::FIRST_TS, col::LAST_TS, col::COUNT] {
        let c = ColumnPath::from(c);
        b = b
            .set_column_dictionary_enabled(c.clone(), false)
            .set_column_encoding(c, Encoding::DELTA_BINARY_PACKED);
    }
    for c in [col::SUM, col::MIN, col::MAX, col::FIRST, col::LAST, col::INCREASE] {
        let c = ColumnPath::from(c);
        b = b
            .set_column_dictionary_enabled(c.clone(), false)
            .set_column_encoding(c, Encoding::BYTE_STREAM_SPLIT);
    }
    // metric_name (0), labels keys+values (1, 2), bucket (3).
    b.set_sorting_columns(Some(vec![sorted(0), sorted(3)])).build()
}

/// Encodes one sorted raw-tier batch as a Parquet file.
pub fn encode_raw(batch: &RecordBatch) -> Result<Bytes> {
    encode_with(batch, raw_writer_properties())
}

/// Encodes one batch of `tier`, sorted by series then time.
pub fn encode(tier: Tier, batch: &RecordBatch) -> Result<Bytes> {
    match tier {
        Tier::Raw => encode_raw(batch),
        Tier::Minute | Tier::Hour => encode_with(batch, agg_writer_properties()),
    }
}

fn encode_with(batch: &RecordBatch, props: WriterProperties) -> Result<Bytes> {
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 4 + 1024);
    let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use strata_schemas::{Labels, Sample, SampleBatchBuilder};

    #[test]
    fn round_trips_and_uses_metric_encodings() {
        let mut b = SampleBatchBuilder::new();
        for i in 0..1000 {
            b.push(Sample {
                metric_name: format!("m{}", i % 3),
                labels: Labels::from_pairs([("host", format!("h{}", i % 7))]),
                ts_ns: 1_700_000_000_000_000_000 + i * 1_000_000_000,
                value: i as f64 / 10.0,
            });
        }
        let batch = b.finish().unwrap();
        let bytes = encode_raw(&batch).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let meta = reader.metadata().clone();
        let rg = meta.row_group(0);
        let enc = |name: &str| {
            let c = rg
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap();
            c.encodings().collect::<Vec<_>>()
        };
        assert!(enc("ts").contains(&Encoding::DELTA_BINARY_PACKED));
        assert!(enc("value").contains(&Encoding::BYTE_STREAM_SPLIT));
        assert!(enc("metric_name").contains(&Encoding::RLE_DICTIONARY));
        let back: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(back.iter().map(|b| b.num_rows()).sum::<usize>(), 1000);
        assert_eq!(back[0].schema(), batch.schema());
    }
}
