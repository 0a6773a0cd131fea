//! How tier files are encoded.
//!
//! Choices, measured on metrics data (see `../shared/REFERENCES.md` and
//! `benches/storage.rs`, a node-exporter-like mix):
//! - rows sorted by series (metric name, labels) then time, so `metric_name`
//!   and `ts` statistics prune; only `metric_name` is declared in the
//!   file's `sorting_columns` (a map column cannot be, and the rows are not
//!   sorted by time across series);
//! - names and labels dictionary-encoded (few distinct values, long runs):
//!   together about 0.05 bytes/sample;
//! - timestamps `DELTA_BINARY_PACKED`: 0.03 bytes/sample on a regular
//!   15 s grid, but about 1.2 when scrapes jitter by a few ms, since every
//!   delta then varies by millions of ns (storing milliseconds would save
//!   only 0.2: a 256-value delta block spans a series boundary's backward
//!   jump in time, so it is wide anyway);
//! - values, most of the file, in the smallest exact [`ValueRepr`]: a
//!   file whose values are all integers (counters, bytes) stores `Int64`,
//!   one whose values are all short decimals (CPU seconds, load averages,
//!   temperatures) `Decimal128(18, scale)`, anything else `Float64`. The
//!   table stays `Float64`: readers cast, and the cast gives back every
//!   value bit-identical or the representation is not chosen. Integers
//!   compress far better than the same numbers as floats: a decimal's
//!   float bits look random below the exponent (4.3 bytes/sample for
//!   3-decimal counters as `Float64`, 1.0 as integers);
//! - of each representation's two encodings, the one that compresses the
//!   column smaller, found by encoding it both ways: integers
//!   `DELTA_BINARY_PACKED` or `BYTE_STREAM_SPLIT`, floats
//!   `BYTE_STREAM_SPLIT` or `PLAIN`. Deltas win on long steady counters;
//!   byte streams usually win in whole files, because series of 240
//!   points (an hour at 15 s) put a backward jump into almost every delta
//!   block;
//! - zstd level 3 and row groups of up to 1,048,576 rows, as InfluxDB 3.
//!
//! One file has one value type, so a single series of floats makes its
//! whole file `Float64`, and a series with 3 decimals scales every counter
//! of its file by 1000. [`split_by_value_repr`] splits a batch so that each
//! part can be its own file: on the benchmark's mix the value column then
//! costs 0.68 bytes/sample, against 1.03 in one file and 1.11 before value
//! representations (`Float64` byte-stream-split).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array, UInt32Array,
};
use datafusion::arrow::compute::kernels::partition::partition;
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use strata_schemas::Tier;
use strata_schemas::tier::col;

use crate::error::Result;
use crate::series_index::SeriesIndex;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 1_048_576;

/// The most fractional digits a raw file's values may be scaled by to be
/// stored as integers.
pub const MAX_VALUE_SCALE: i8 = 9;

/// Integers up to this magnitude convert to `f64` and back exactly.
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53

/// Precision of the decimal type of scaled values: the largest whose
/// Parquet physical type is INT64, like `Int64`'s.
const DECIMAL_PRECISION: u8 = 18;

/// How one raw file stores its `value` column.
///
/// The tier's type is always `Float64`; a file may store the same values
/// as integers, which compress to a fraction of a float's bytes (see the
/// module docs). Readers get `Float64` back by Arrow's cast (DataFusion's schema adapter
/// inserts it when the file's type differs from the table's), and every
/// representation is chosen only when that cast returns each value
/// bit-identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValueRepr {
    /// `Int64`: every value is an integer of magnitude at most 2^53
    /// (counters, byte gauges, states).
    Int,
    /// `Decimal128(18, scale)`, INT64 in Parquet: every value is the
    /// double nearest to an integer of magnitude at most 2^53 divided by
    /// `10^scale` (CPU seconds, load averages, temperatures).
    Decimal {
        /// Fractional digits, 1 to [`MAX_VALUE_SCALE`].
        scale: i8,
    },
    /// `Float64`: anything else (NaN, infinities, `-0.0`, values without a
    /// short decimal form, integers beyond 2^53).
    Float,
}

impl ValueRepr {
    /// The smallest representation that holds every one of `values`
    /// exactly, judged value by value (see [`compact_values`] for the
    /// check of the whole column).
    pub fn of(values: &Float64Array) -> ValueRepr {
        if values.null_count() > 0 {
            return ValueRepr::Float;
        }
        Self::of_slice(values.values())
    }

    /// [`ValueRepr::of`] on plain values.
    pub fn of_slice(values: &[f64]) -> ValueRepr {
        // The scale is the largest any value needs. A value exact at a
        // smaller scale usually is at this one too, but not always (its
        // scaled integer may pass 2^53), hence the second pass.
        let mut scale = 0;
        'values: for &v in values {
            while scale <= MAX_VALUE_SCALE {
                if scaled(v, scale).is_some() {
                    continue 'values;
                }
                scale += 1;
            }
            return ValueRepr::Float;
        }
        if !values.iter().all(|&v| scaled(v, scale).is_some()) {
            return ValueRepr::Float;
        }
        match scale {
            0 => ValueRepr::Int,
            scale => ValueRepr::Decimal { scale },
        }
    }

    /// The Arrow type a file of this representation stores.
    pub fn data_type(self) -> DataType {
        match self {
            ValueRepr::Int => DataType::Int64,
            ValueRepr::Decimal { scale } => DataType::Decimal128(DECIMAL_PRECISION, scale),
            ValueRepr::Float => DataType::Float64,
        }
    }
}

/// `v` as an integer number of `10^-scale` units, if reading it back as
/// Arrow's cast of `Decimal128(_, scale)` (or `Int64`) to `Float64` does,
/// `m as f64 / 10^scale`, gives `v` bit for bit. Both operands of that
/// division are exact, so it rounds correctly: any double that is the
/// nearest to a decimal of at most `scale` digits round-trips. NaN,
/// infinities and `-0.0` (which would come back as `0.0`) never do.
fn scaled(v: f64, scale: i8) -> Option<i64> {
    let p = 10f64.powi(i32::from(scale));
    let m = (v * p).round();
    if m.is_nan() || m.abs() > MAX_EXACT_INT {
        return None;
    }
    let m = m as i64;
    ((m as f64 / p).to_bits() == v.to_bits()).then_some(m)
}

/// `values` in the smallest [`ValueRepr`] that reads back bit-identical,
/// with that representation.
///
/// The choice is checked on the whole column with the reader's own
/// conversion (Arrow's cast to `Float64`) before it is taken: should that
/// cast ever round differently, files fall back to `Float64` instead of
/// changing a value.
pub fn compact_values(values: &Float64Array) -> (ValueRepr, ArrayRef) {
    let repr = ValueRepr::of(values);
    let stored: ArrayRef = match repr {
        ValueRepr::Float => return (repr, Arc::new(values.clone())),
        ValueRepr::Int => Arc::new(Int64Array::from_iter_values(
            values
                .values()
                .iter()
                .map(|&v| scaled(v, 0).unwrap_or_default()),
        )),
        ValueRepr::Decimal { scale } => Arc::new(
            Decimal128Array::from_iter_values(
                values
                    .values()
                    .iter()
                    .map(|&v| i128::from(scaled(v, scale).unwrap_or_default())),
            )
            .with_precision_and_scale(DECIMAL_PRECISION, scale)
            .expect("scale <= precision"),
        ),
    };
    let exact = values_as_f64(&stored).is_ok_and(|back| {
        back.values()
            .iter()
            .zip(values.values())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    });
    if exact {
        (repr, stored)
    } else {
        tracing::warn!(
            ?repr,
            "stored values would not read back exactly; keeping Float64"
        );
        (ValueRepr::Float, Arc::new(values.clone()))
    }
}

/// A raw file's `value` column as the tier's `Float64`, whatever
/// [`ValueRepr`] the file chose: what a reader that does not go through
/// DataFusion's schema adapter must apply.
pub fn values_as_f64(column: &dyn Array) -> Result<Float64Array> {
    Ok(cast(column, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .clone())
}

/// Writer properties of raw-tier files whose `value` column is encoded with
/// `value_encoding` (see [`encode_raw`] for how it is chosen).
pub fn raw_writer_properties(value_encoding: Encoding) -> WriterProperties {
    let ts = ColumnPath::from(col::TS);
    let value = ColumnPath::from(col::VALUE);
    WriterProperties::builder()
        .set_compression(zstd())
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true)
        .set_column_dictionary_enabled(ts.clone(), false)
        .set_column_encoding(ts, Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(value.clone(), false)
        .set_column_encoding(value, value_encoding)
        // Rows are sorted by metric_name (0), labels (1, 2), ts (3); only the
        // leading column can be declared truthfully.
        .set_sorting_columns(Some(vec![sorted(0)]))
        .build()
}

fn zstd() -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level"))
}

/// The encodings worth trying for values stored as `repr`.
fn value_encodings(repr: ValueRepr) -> [Encoding; 2] {
    match repr {
        ValueRepr::Int | ValueRepr::Decimal { .. } => {
            [Encoding::DELTA_BINARY_PACKED, Encoding::BYTE_STREAM_SPLIT]
        }
        ValueRepr::Float => [Encoding::BYTE_STREAM_SPLIT, Encoding::PLAIN],
    }
}

/// Of `candidates`, the encoding that makes `values` smallest once
/// compressed, found by encoding the column alone with each.
fn smallest_encoding(values: &ArrayRef, candidates: [Encoding; 2]) -> Result<Encoding> {
    let field = Field::new(col::VALUE, values.data_type().clone(), values.is_nullable());
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![field])),
        vec![ArrayRef::clone(values)],
    )?;
    let mut best = (usize::MAX, candidates[0]);
    for encoding in candidates {
        let props = WriterProperties::builder()
            .set_compression(zstd())
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_statistics_enabled(EnabledStatistics::None)
            .set_dictionary_enabled(false)
            .set_encoding(encoding)
            .build();
        let size = encode_with(&batch, props)?.len();
        if size < best.0 {
            best = (size, encoding);
        }
    }
    Ok(best.1)
}

fn sorted(column_idx: i32) -> SortingColumn {
    SortingColumn {
        column_idx,
        descending: false,
        nulls_first: false,
    }
}

/// The float columns of the aggregated tiers, each stored in the smallest
/// exact [`ValueRepr`] of its file, like raw values: `min`, `max`, `first`
/// and `last` are sample values, and sums of decimals stay decimals.
const AGG_FLOATS: [&str; 6] = [
    col::SUM,
    col::MIN,
    col::MAX,
    col::FIRST,
    col::LAST,
    col::INCREASE,
];

/// Writer properties of the aggregated tiers' files: as raw, with every
/// time column delta-encoded, and each column of [`AGG_FLOATS`]
/// byte-stream-split whatever its representation: measured smaller than
/// delta for the aggregates (`benches/storage.rs`: 1m at 1.92× raw instead
/// of 2.25×), since consecutive rows jump between series.
pub fn agg_writer_properties() -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(zstd())
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true);
    for c in [col::BUCKET, col::FIRST_TS, col::LAST_TS, col::COUNT] {
        let c = ColumnPath::from(c);
        b = b
            .set_column_dictionary_enabled(c.clone(), false)
            .set_column_encoding(c, Encoding::DELTA_BINARY_PACKED);
    }
    for c in AGG_FLOATS {
        let c = ColumnPath::from(c);
        b = b
            .set_column_dictionary_enabled(c.clone(), false)
            .set_column_encoding(c, Encoding::BYTE_STREAM_SPLIT);
    }
    // Sorted by metric_name (0), labels (1, 2), bucket (3): see above.
    b.set_sorting_columns(Some(vec![sorted(0)])).build()
}

/// Encodes one sorted raw-tier batch as a Parquet file, its values in the
/// smallest exact [`ValueRepr`] and the smaller of that representation's
/// two encodings.
pub fn encode_raw(batch: &RecordBatch) -> Result<Bytes> {
    let (repr, batch) = with_compact_values(batch)?;
    let encoding = match batch.schema().index_of(col::VALUE) {
        Ok(i) => smallest_encoding(batch.column(i), value_encodings(repr))?,
        Err(_) => value_encodings(repr)[0],
    };
    encode_with(&batch, raw_writer_properties(encoding))
}

/// Splits a raw batch sorted by series into batches, each sorted, whose
/// series need the same [`ValueRepr`], in the order of [`ValueRepr`].
///
/// A file stores one type of values, so a single series of floats makes a
/// whole file `Float64`, and one with three decimals scales every counter
/// of its file by 1000. Encoding each part as its own file avoids both.
pub fn split_by_value_repr(batch: &RecordBatch) -> Result<Vec<RecordBatch>> {
    let schema = batch.schema();
    let (Ok(names), Ok(labels), Ok(value)) = (
        schema.index_of(col::METRIC_NAME),
        schema.index_of(col::LABELS),
        schema.index_of(col::VALUE),
    ) else {
        return Ok(vec![batch.clone()]);
    };
    let Some(values) = batch.column(value).as_primitive_opt::<Float64Type>() else {
        return Ok(vec![batch.clone()]);
    };
    let series = partition(&[
        ArrayRef::clone(batch.column(names)),
        ArrayRef::clone(batch.column(labels)),
    ])?;
    let mut parts: BTreeMap<ValueRepr, Vec<u32>> = BTreeMap::new();
    for range in series.ranges() {
        let repr = ValueRepr::of(&values.slice(range.start, range.len()));
        parts
            .entry(repr)
            .or_default()
            .extend(range.start as u32..range.end as u32);
    }
    if parts.len() <= 1 {
        return Ok(vec![batch.clone()]);
    }
    parts
        .into_values()
        .map(|rows| Ok(take_record_batch(batch, &UInt32Array::from(rows))?))
        .collect()
}

/// `batch` with its `value` column replaced by [`compact_values`].
fn with_compact_values(batch: &RecordBatch) -> Result<(ValueRepr, RecordBatch)> {
    let (batch, reprs) = with_compact_columns(batch, &[col::VALUE])?;
    Ok((reprs[0], batch))
}

/// `batch` with each Float64 column of `names` in its smallest exact
/// [`ValueRepr`], and the representations chosen, in `names` order.
fn with_compact_columns(
    batch: &RecordBatch,
    names: &[&str],
) -> Result<(RecordBatch, Vec<ValueRepr>)> {
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = batch.columns().to_vec();
    let mut reprs = Vec::with_capacity(names.len());
    for name in names {
        let Ok(idx) = schema.index_of(name) else {
            reprs.push(ValueRepr::Float);
            continue;
        };
        let Some(values) = batch.column(idx).as_primitive_opt::<Float64Type>() else {
            reprs.push(ValueRepr::Float);
            continue;
        };
        let (repr, stored) = compact_values(values);
        reprs.push(repr);
        if repr != ValueRepr::Float {
            fields[idx] = fields[idx].clone().with_data_type(repr.data_type());
            columns[idx] = stored;
        }
    }
    if reprs.iter().all(|r| *r == ValueRepr::Float) {
        return Ok((batch.clone(), reprs));
    }
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    Ok((RecordBatch::try_new(Arc::new(schema), columns)?, reprs))
}

/// Encodes one batch of `tier`, sorted by series then time.
pub fn encode(tier: Tier, batch: &RecordBatch) -> Result<Bytes> {
    match tier {
        Tier::Raw => encode_raw(batch),
        Tier::Minute | Tier::Hour => {
            let (batch, _) = with_compact_columns(batch, &AGG_FLOATS)?;
            encode_with(&batch, with_series_index(&batch, agg_writer_properties())?)
        }
    }
}

/// Encodes one batch of an aggregated tier with its floats as they are,
/// zstd level 1 and chunk statistics: cheaper to write than [`encode`],
/// for the small files ingest writes at every flush, which compaction
/// rewrites with [`encode`] soon after.
pub fn encode_agg_fast(batch: &RecordBatch) -> Result<Bytes> {
    let props = agg_writer_properties()
        .into_builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .build();
    encode_with(batch, with_series_index(batch, props)?)
}

/// `props` with the [`SeriesIndex`] of `batch` in the footer, where its
/// series have several rows each.
fn with_series_index(batch: &RecordBatch, props: WriterProperties) -> Result<WriterProperties> {
    let Some(index) = SeriesIndex::of(batch) else {
        return Ok(props);
    };
    let mut kv = props.key_value_metadata().cloned().unwrap_or_default();
    kv.push(index.to_key_value()?);
    Ok(props
        .into_builder()
        .set_key_value_metadata(Some(kv))
        .build())
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

    /// A sorted raw batch of one series holding `values` in this order.
    fn batch_of(values: &[f64]) -> RecordBatch {
        let mut b = SampleBatchBuilder::new();
        for (i, &value) in values.iter().enumerate() {
            b.push(Sample {
                metric_name: "m".into(),
                labels: Labels::from_pairs([("host", "a")]),
                ts_ns: i as i64,
                value,
            });
        }
        b.finish().unwrap()
    }

    /// Encodes `batch`, reads the file back, and returns its value column's
    /// stored type and encodings, and the values as `Float64`.
    fn round_trip(batch: &RecordBatch) -> (DataType, Vec<Encoding>, Vec<f64>) {
        let bytes = encode_raw(batch).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let meta = reader.metadata().clone();
        let encodings = meta
            .row_groups()
            .iter()
            .flat_map(|rg| rg.columns().iter())
            .filter(|c| c.column_path().string() == col::VALUE)
            .flat_map(|c| c.encodings().collect::<Vec<_>>())
            .collect();
        let stored = reader
            .schema()
            .field_with_name(col::VALUE)
            .unwrap()
            .data_type()
            .clone();
        let mut values = Vec::new();
        for b in reader.build().unwrap() {
            let b = b.unwrap();
            values.extend(values_as_f64(b.column(3)).unwrap().values());
        }
        (stored, encodings, values)
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

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
        // A steady counter of tenths: decimals, and deltas beat byte
        // streams.
        assert!(enc("value").contains(&Encoding::DELTA_BINARY_PACKED));
        assert!(enc("metric_name").contains(&Encoding::RLE_DICTIONARY));
        let back: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(back.iter().map(|b| b.num_rows()).sum::<usize>(), 1000);
        // The file stores tenths as a decimal; all else is the tier's schema.
        let (want, got) = (batch.schema(), back[0].schema());
        assert_eq!(got.fields().len(), want.fields().len());
        for (g, w) in got.fields().iter().zip(want.fields()) {
            if g.name() == col::VALUE {
                assert_eq!(g.data_type(), &DataType::Decimal128(18, 1));
            } else {
                assert_eq!(g, w);
            }
        }
    }

    #[test]
    fn chooses_the_smallest_exact_representation() {
        use ValueRepr::{Decimal, Float, Int};
        let two53 = MAX_EXACT_INT;
        let cases: &[(&[f64], ValueRepr)] = &[
            (&[], Int),
            (&[0.0, 1.0, -3.0, 1e15, two53, -two53], Int),
            (&[two53 + 2.0], Float),
            (&[0.1, 0.2, 0.3, -7.5], Decimal { scale: 1 }),
            (&[123456.78, 0.5, 1.25], Decimal { scale: 2 }),
            (&[1e12, 0.001], Decimal { scale: 3 }),
            (&[1e-9], Decimal { scale: 9 }),
            (&[1e-10], Float),
            (&[1e12, 1e-9], Float),
            (&[0.1 + 0.2], Float),
            (&[1.0 / 3.0], Float),
            (&[-0.0], Float),
            (&[1.0, -0.0], Float),
            (&[f64::NAN], Float),
            (&[1.5, f64::INFINITY], Float),
            (&[f64::NEG_INFINITY], Float),
            (&[f64::MAX], Float),
            (&[f64::MIN_POSITIVE], Float),
            (&[5e-324], Float),
            (&[1e300], Float),
        ];
        for (values, want) in cases {
            let arr = Float64Array::from(values.to_vec());
            assert_eq!(ValueRepr::of(&arr), *want, "{values:?}");
            let (repr, stored) = compact_values(&arr);
            assert_eq!(repr, *want, "{values:?}");
            assert_eq!(stored.data_type(), &want.data_type());
            let back = values_as_f64(&stored).unwrap();
            assert_eq!(bits(back.values()), bits(values), "{values:?}");
            if !values.is_empty() {
                let (stored, encodings, back) = round_trip(&batch_of(values));
                assert_eq!(stored, want.data_type(), "{values:?}");
                assert!(
                    value_encodings(*want).iter().any(|e| encodings.contains(e)),
                    "{values:?}: {encodings:?}"
                );
                assert_eq!(bits(&back), bits(values), "{values:?}");
            }
        }
    }

    #[test]
    fn splits_series_by_the_representation_they_need() {
        let mut b = SampleBatchBuilder::new();
        type Values = fn(i64) -> f64;
        let series: [(&str, Values); 4] = [
            ("a", |i| (i * 1000) as f64),
            ("b", |i| i as f64 / 100.0),
            ("c", |i| (i as f64).sqrt()),
            ("d", |i| -i as f64),
        ];
        for (name, value) in series {
            for i in 0..50 {
                b.push(Sample {
                    metric_name: name.into(),
                    labels: Labels::from_pairs([("host", "x")]),
                    ts_ns: i,
                    value: value(i),
                });
            }
        }
        let batch = b.finish().unwrap();
        let parts = split_by_value_repr(&batch).unwrap();
        let names = |b: &RecordBatch| {
            let n = b.column(0).as_string::<i32>();
            let mut v: Vec<String> = n.iter().map(|s| s.unwrap().to_string()).collect();
            v.dedup();
            v
        };
        let got: Vec<(Vec<String>, DataType)> =
            parts.iter().map(|p| (names(p), round_trip(p).0)).collect();
        assert_eq!(
            got,
            vec![
                (vec!["a".into(), "d".into()], DataType::Int64),
                (vec!["b".into()], DataType::Decimal128(18, 2)),
                (vec!["c".into()], DataType::Float64),
            ]
        );
        // Every part keeps its rows in storage order, and nothing is lost.
        let part_a = &parts[0];
        let ts = part_a
            .column(2)
            .as_primitive::<datafusion::arrow::datatypes::TimestampNanosecondType>();
        assert_eq!(ts.value(0), 0);
        assert_eq!(ts.value(49), 49);
        assert_eq!(ts.value(50), 0);
        assert_eq!(parts.iter().map(|p| p.num_rows()).sum::<usize>(), 200);
        for p in &parts {
            assert_eq!(p.schema(), batch.schema());
        }

        // A batch of one representation stays whole.
        let one = batch_of(&[1.0, 2.0, 3.0]);
        assert_eq!(split_by_value_repr(&one).unwrap(), vec![one]);
    }

    /// SplitMix64: a seeded generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// An integer of up to `bits` bits, either sign.
        fn int(&mut self, bits: u32) -> i64 {
            let m = (self.next() >> (64 - bits)) as i64;
            if self.next() & 1 == 0 { m } else { -m }
        }

        /// One value of kind `kind`.
        fn value(&mut self, kind: u64) -> f64 {
            const SPECIAL: [f64; 16] = [
                0.0,
                -0.0,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MAX,
                f64::MIN,
                f64::MIN_POSITIVE,
                5e-324,
                0.1 + 0.2,
                9_007_199_254_740_992.0,
                9_007_199_254_740_994.0,
                -9_007_199_254_740_992.0,
                1e-9,
                1e-10,
                1e300,
            ];
            match kind {
                // Integers of up to 53 bits.
                0 => {
                    let bits = 1 + self.below(53) as u32;
                    self.int(bits) as f64
                }
                // Decimals of up to 9 digits, as a parser makes them.
                1 => {
                    let (k, bits) = (self.below(10) as i32, 1 + self.below(20) as u32);
                    self.int(bits) as f64 / 10f64.powi(k)
                }
                // Integers and decimals near and past the limits.
                6 => {
                    let (k, bits) = (self.below(13) as i32, 50 + self.below(7) as u32);
                    self.int(bits) as f64 / 10f64.powi(k)
                }
                // Decimals computed, not parsed: a product rounds apart.
                2 => self.int(20) as f64 * 0.001,
                // Any bit pattern: NaN payloads, subnormals, infinities.
                3 => f64::from_bits(self.next()),
                4 => SPECIAL[self.below(SPECIAL.len() as u64) as usize],
                // Arithmetic results, e.g. rates.
                _ => self.int(30) as f64 / (1 + self.below(1000)) as f64,
            }
        }
    }

    #[test]
    fn every_value_reads_back_bit_identical() {
        let mut rng = Rng(0x5EED);
        let mut reprs = std::collections::BTreeMap::<String, usize>::new();
        for trial in 0..400 {
            // Most trials draw from one or two kinds, so that all
            // representations are exercised, not only Float64.
            let kinds: Vec<u64> = (0..1 + rng.below(2)).map(|_| rng.below(7)).collect();
            let len = 1 + rng.below(600) as usize;
            let values: Vec<f64> = (0..len)
                .map(|_| {
                    let kind = kinds[rng.below(kinds.len() as u64) as usize];
                    rng.value(kind)
                })
                .collect();
            let (stored, _, back) = round_trip(&batch_of(&values));
            assert_eq!(bits(&back), bits(&values), "trial {trial}: {values:?}");
            *reprs.entry(format!("{stored}")).or_default() += 1;
        }
        // Each representation was chosen by some trials.
        assert!(reprs.contains_key("Int64"), "{reprs:?}");
        assert!(reprs.contains_key("Float64"), "{reprs:?}");
        assert!(
            reprs.keys().any(|k| k.starts_with("Decimal128")),
            "{reprs:?}"
        );
    }
}
