//! Raw files store `value` as Int64, Decimal128 or Float64, whichever holds
//! the file's values exactly (`strata_storage::parquet::ValueRepr`); SQL
//! sees `Float64` whatever the file chose, bit for bit, in projections,
//! filters (including the ones pushed into the Parquet scan) and
//! aggregates, also when one scan reads files of every representation.

mod common;

use common::{Fixture, HOUR, Rng, T0, sample};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_query::QueryEngine;
use strata_schemas::Sample;
use strata_storage::DataFile;

/// Points per series: several Parquet pages (20,000 rows each), so that
/// page statistics take part in filtering.
const POINTS: i64 = 25_000;

/// One data set: a metric of three series in hour `hour` after [`T0`],
/// valued by `value(series, point, rng)`.
fn series(
    metric: &str,
    hour: i64,
    rng: &mut Rng,
    mut value: impl FnMut(usize, i64, &mut Rng) -> f64,
) -> Vec<Sample> {
    let mut out = Vec::new();
    for (s, host) in ["a", "b", "c"].into_iter().enumerate() {
        for i in 0..POINTS {
            let ts = T0 + hour * HOUR + i * 100_000_000;
            out.push(sample(metric, host, ts, value(s, i, rng)));
        }
    }
    out
}

/// Counters (one with a reset) and a negative integer gauge: `Int64`.
fn ints(rng: &mut Rng) -> Vec<Sample> {
    let mut acc = [1e10, 0.0, 0.0];
    series("ints", 0, rng, |s, i, rng| match s {
        2 => -((rng.below(1 << 20) + 1) as f64 * 4096.0),
        _ => {
            if s == 1 && i == POINTS / 2 {
                acc[s] = 0.0;
            }
            acc[s] += rng.below(100_000) as f64;
            acc[s]
        }
    })
}

/// CPU seconds with 2 decimals, a temperature around 0 with 1 decimal:
/// `Decimal128(18, 2)`.
fn decimals(rng: &mut Rng) -> Vec<Sample> {
    let mut hundredths = [123_456_789.0, 10.0, 0.0];
    series("decimals", 1, rng, |s, _, rng| match s {
        2 => (rng.below(600) as f64 - 300.0) / 10.0,
        _ => {
            hundredths[s] += rng.below(1500) as f64;
            hundredths[s] / 100.0
        }
    })
}

/// Values without a short decimal form: `Float64`.
fn floats(rng: &mut Rng) -> Vec<Sample> {
    series("floats", 2, rng, |s, i, rng| match s {
        0 => (i as f64 + 1.0).sqrt(),
        1 => rng.below(1 << 30) as f64 / 3.0 - 1e8,
        _ => f64::from_bits(0x3FF0_0000_0000_0000 | (rng.next() >> 12)),
    })
}

/// NaN, infinities, `-0.0`, subnormals and other edges: `Float64`.
fn specials(rng: &mut Rng) -> Vec<Sample> {
    const EDGES: [f64; 11] = [
        f64::NAN,
        -0.0,
        0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        5e-324,
        f64::MAX,
        f64::MIN,
        0.1 + 0.2,
        9_007_199_254_740_994.0,
        1.5,
    ];
    series("specials", 3, rng, |_, _, rng| {
        EDGES[rng.below(EDGES.len() as u64) as usize]
    })
}

/// The Arrow type of `value` in the stored file.
fn stored_type(f: &Fixture, file: &DataFile) -> DataType {
    let path = f.dir.path().join(&file.path);
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    reader
        .schema()
        .field_with_name("value")
        .unwrap()
        .data_type()
        .clone()
}

async fn batches(engine: &QueryEngine, sql: &str) -> Vec<RecordBatch> {
    engine
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .1
}

/// The `Float64` column `i` of `sql`'s result, in order.
async fn floats_of(engine: &QueryEngine, sql: &str, i: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for b in batches(engine, sql).await {
        assert_eq!(b.schema().field(i).data_type(), &DataType::Float64, "{sql}");
        out.extend(b.column(i).as_primitive::<Float64Type>().values());
    }
    out
}

async fn count(engine: &QueryEngine, sql: &str) -> i64 {
    let b: Vec<_> = batches(engine, sql)
        .await
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .collect();
    assert_eq!(b.len(), 1, "{sql}");
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The values of `metric` in storage order (host, then time).
fn values_of(sets: &[(&str, Vec<Sample>)], metric: &str) -> Vec<f64> {
    let set = &sets.iter().find(|(m, _)| *m == metric).unwrap().1;
    let mut v: Vec<_> = set
        .iter()
        .map(|s| (s.labels.clone(), s.ts_ns, s.value))
        .collect();
    v.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    v.into_iter().map(|x| x.2).collect()
}

#[tokio::test]
async fn every_representation_reads_back_as_the_same_float64() {
    let f = Fixture::empty().await;
    let mut rng = Rng(7);
    let sets = vec![
        ("ints", ints(&mut rng)),
        ("decimals", decimals(&mut rng)),
        ("floats", floats(&mut rng)),
        ("specials", specials(&mut rng)),
    ];
    let want_types = [
        DataType::Int64,
        DataType::Decimal128(18, 2),
        DataType::Float64,
        DataType::Float64,
    ];
    for ((_, samples), want) in sets.iter().zip(&want_types) {
        let file = f.add_file(samples.clone()).await;
        assert_eq!(&stored_type(&f, &file), want, "{}", file.path);
    }
    let engine = f.engine();

    // Projection: every value bit-identical, NaN payload and -0.0
    // included, all four files in one scan.
    let all = floats_of(
        &engine,
        "SELECT value FROM metrics_raw ORDER BY metric_name, labels['host'], ts",
        0,
    )
    .await;
    let mut want = Vec::new();
    for metric in ["decimals", "floats", "ints", "specials"] {
        want.extend(values_of(&sets, metric));
    }
    assert_eq!(bits(&all), bits(&want));

    for metric in ["ints", "decimals", "floats"] {
        let values = values_of(&sets, metric);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);

        // Thresholds from the data itself, so that some pages match and
        // others can be skipped by their statistics, and just above them,
        // where the file's type could not hold the literal.
        let thresholds = [0, 1, 10, 50, 90, 99]
            .into_iter()
            .map(|q| sorted[(sorted.len() - 1) * q / 100])
            .flat_map(|x| [x, x + 0.004]);
        for x in thresholds {
            for (op, keep) in [
                (">", (|v: f64, x: f64| v > x) as fn(f64, f64) -> bool),
                ("<=", |v, x| v <= x),
                ("=", |v, x| v == x),
            ] {
                let sql = format!(
                    "SELECT value FROM metrics_raw WHERE metric_name = '{metric}' \
                     AND value {op} {x:?} ORDER BY labels['host'], ts"
                );
                let got = floats_of(&engine, &sql, 0).await;
                let want: Vec<f64> = values.iter().copied().filter(|&v| keep(v, x)).collect();
                assert_eq!(bits(&got), bits(&want), "{sql}");
            }
        }
        let sql = format!(
            "SELECT count(*) FROM metrics_raw WHERE metric_name = '{metric}' AND value > {:?}",
            sorted[sorted.len() - 1]
        );
        assert_eq!(count(&engine, &sql).await, 0, "{sql}");

        // Aggregates.
        let sql = format!(
            "SELECT min(value), max(value), sum(value) FROM metrics_raw \
             WHERE metric_name = '{metric}'"
        );
        let (min, max, sum) = (
            floats_of(&engine, &sql, 0).await,
            floats_of(&engine, &sql, 1).await,
            floats_of(&engine, &sql, 2).await,
        );
        assert_eq!(min[0].to_bits(), sorted[0].to_bits(), "{sql}");
        assert_eq!(
            max[0].to_bits(),
            sorted[sorted.len() - 1].to_bits(),
            "{sql}"
        );
        let want_sum: f64 = values.iter().sum();
        let tolerance = 1e-12 * values.iter().map(|v| v.abs()).sum::<f64>();
        assert!(
            (sum[0] - want_sum).abs() <= tolerance,
            "{sql}: {} vs {want_sum}",
            sum[0]
        );
    }

    // Integers sum exactly in any order (the sum stays below 2^53).
    let sum = floats_of(
        &engine,
        "SELECT sum(value) FROM metrics_raw WHERE metric_name = 'ints'",
        0,
    )
    .await;
    assert_eq!(sum[0], values_of(&sets, "ints").iter().sum::<f64>());

    // A filter over files of every representation at once.
    let n = count(
        &engine,
        "SELECT count(*) FROM metrics_raw WHERE value > 1.5",
    )
    .await;
    let want = sets
        .iter()
        .flat_map(|(_, s)| s.iter())
        .filter(|s| s.value > 1.5 || (s.value.is_nan()))
        .count() as i64;
    assert_eq!(n, want);
}
