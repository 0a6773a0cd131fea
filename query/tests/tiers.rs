//! The aggregated tiers as SQL users see them: files of partial aggregates
//! (the same series and window in several files, parts disjoint or
//! interleaved in time) read as one exact row per series and window, with
//! filters still pruning files; and the maintenance reads over chosen
//! files.

mod common;

use std::collections::BTreeMap;

use common::{Fixture, HOUR, Rng, T0};
use datafusion::arrow::array::{Array, AsArray, MapArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampNanosecondType};
use datafusion::arrow::util::pretty::pretty_format_batches;
use futures::TryStreamExt;
use strata_query::QueryEngine;
use strata_schemas::agg::sample_cmp;
use strata_schemas::tier::MINUTE_NS;
use strata_schemas::{Agg, AggBatchBuilder, Tier};
use strata_storage::{Commit, CommitOutcome, DataFile, TableLog, layout};

/// A series: metric name and label pairs.
type Series = (String, Vec<(String, String)>);

/// Series and window: (metric name, label pairs, bucket).
type Key = (String, Vec<(String, String)>, i64);

/// How a window's samples were cut into parts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cut {
    /// One part.
    Whole,
    /// Parts of consecutive samples: they merge exactly.
    Disjoint,
    /// Samples dealt to parts at random: parts may interleave.
    Interleaved,
}

/// Samples of a few counters over three hours, and their windows cut into
/// parts.
struct Workload {
    /// Every window's samples, sorted by [`sample_cmp`].
    windows: BTreeMap<Key, Vec<(i64, f64)>>,
    /// How each window was cut.
    cuts: BTreeMap<Key, Cut>,
    /// The parts: `parts[k]` holds at most one part per window.
    parts: Vec<BTreeMap<Key, Agg>>,
}

const SERIES: [(&str, &str); 3] = [
    ("cpu.load", "web01"),
    ("cpu.load", "web02"),
    ("net.bytes", "web01"),
];
const PARTS: usize = 3;

impl Workload {
    /// Samples of [`SERIES`] over hours `0..3` after [`T0`], windows of
    /// `window_ns`.
    fn new(seed: u64, window_ns: i64) -> Self {
        let mut rng = Rng(seed);
        let mut samples: BTreeMap<Series, Vec<(i64, f64)>> = BTreeMap::new();
        for (metric, host) in SERIES {
            let labels = vec![("host".to_string(), host.to_string())];
            let points = samples.entry((metric.into(), labels)).or_default();
            let mut value = 0.0;
            for _ in 0..600 {
                // Bursts inside a few minutes of each hour, so that minutes
                // hold several samples.
                let hour = rng.below(3) as i64;
                let minute = rng.below(6) as i64 * 7;
                let ts = T0 + hour * HOUR + minute * MINUTE_NS + rng.below(MINUTE_NS as u64) as i64;
                // Duplicate times and values now and then.
                let ts = match points.last() {
                    Some(&(last, _)) if rng.below(10) == 0 => last,
                    _ => ts,
                };
                // Multiples of 1/8 well below 2^53: every sum is exact in
                // any order, so merged increases compare bit for bit.
                value = match rng.below(20) {
                    0 => rng.below(5) as f64, // a reset
                    1 => value,
                    _ => value + rng.below(1000) as f64 / 8.0,
                };
                points.push((ts, value));
            }
        }
        let mut windows: BTreeMap<Key, Vec<(i64, f64)>> = BTreeMap::new();
        for ((metric, labels), points) in samples {
            for (ts, v) in points {
                let bucket = ts.div_euclid(window_ns) * window_ns;
                windows
                    .entry((metric.clone(), labels.clone(), bucket))
                    .or_default()
                    .push((ts, v));
            }
        }
        let mut cuts = BTreeMap::new();
        let mut parts = vec![BTreeMap::new(); PARTS];
        for (key, points) in windows.iter_mut() {
            points.sort_by(|a, b| sample_cmp(*a, *b));
            let cut = match rng.below(3) {
                0 => Cut::Whole,
                1 => Cut::Disjoint,
                _ => Cut::Interleaved,
            };
            let mut split: Vec<Vec<(i64, f64)>> = vec![Vec::new(); PARTS];
            match cut {
                Cut::Whole => split[0] = points.clone(),
                Cut::Disjoint => {
                    // Consecutive runs, dealt to the parts in a random order.
                    let a = rng.below(points.len() as u64 + 1) as usize;
                    let b = a + rng.below((points.len() - a) as u64 + 1) as usize;
                    let offset = rng.below(PARTS as u64) as usize;
                    for (i, run) in [&points[..a], &points[a..b], &points[b..]]
                        .into_iter()
                        .enumerate()
                    {
                        split[(i + offset) % PARTS] = run.to_vec();
                    }
                }
                Cut::Interleaved => {
                    for p in points.iter() {
                        split[rng.below(PARTS as u64) as usize].push(*p);
                    }
                }
            }
            for (k, run) in split.iter().enumerate() {
                if let Some(agg) = Agg::of_sorted(run) {
                    parts[k].insert(key.clone(), agg);
                }
            }
            cuts.insert(key.clone(), cut);
        }
        Self {
            windows,
            cuts,
            parts,
        }
    }

    /// The aggregate of every window, computed from its samples.
    fn expected(&self) -> BTreeMap<Key, Agg> {
        self.windows
            .iter()
            .map(|(k, p)| (k.clone(), Agg::of_sorted(p).unwrap()))
            .collect()
    }

    /// Writes the parts as files of `tier`: one file per part index and
    /// time partition. Returns the files written.
    async fn write(&self, log: &TableLog, tier: Tier) -> Vec<DataFile> {
        let mut files = Vec::new();
        for part in &self.parts {
            let mut by_partition: BTreeMap<i64, Vec<(&Key, &Agg)>> = BTreeMap::new();
            for (key, agg) in part {
                by_partition
                    .entry(tier.partition_start(key.2))
                    .or_default()
                    .push((key, agg));
            }
            for rows in by_partition.into_values() {
                files.push(write_agg_file(log, tier, &rows).await);
            }
        }
        files
    }
}

/// Writes `rows` (in storage order) as one file of `tier` and commits it.
async fn write_agg_file(log: &TableLog, tier: Tier, rows: &[(&Key, &Agg)]) -> DataFile {
    let mut builder = AggBatchBuilder::default();
    for ((metric, labels, bucket), agg) in rows {
        let labels = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        builder.push(metric, labels, *bucket, agg);
    }
    let bytes = strata_storage::parquet::encode(tier, &builder.finish().unwrap()).unwrap();
    let buckets = rows.iter().map(|(k, _)| k.2);
    let (min_ts, max_ts) = (buckets.clone().min().unwrap(), buckets.max().unwrap());
    let start = tier.partition_start(min_ts);
    let path = layout::new_data_file(&layout::partition_dir(tier, start));
    let file = DataFile {
        path: path.to_string(),
        tier: tier.dir().to_string(),
        partition_start_ns: start,
        min_ts_ns: min_ts,
        max_ts_ns: max_ts,
        min_metric: rows.iter().map(|(k, _)| k.0.clone()).min().unwrap(),
        max_metric: rows.iter().map(|(k, _)| k.0.clone()).max().unwrap(),
        rows: rows.len() as u64,
        bytes: bytes.len() as u64,
        derived_from: None,
    };
    log.store().put_durable(&path, bytes, true).await.unwrap();
    let outcome = log
        .commit(Commit {
            add: vec![file.clone()],
            writer: "tier tests".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    file
}

/// The rows of an aggregated tier as read back; `exact` is false where
/// the batches have no such column (the views), since nothing says so.
fn rows_of(batches: &[RecordBatch]) -> Vec<(Key, Agg)> {
    let mut out = Vec::new();
    for b in batches {
        let names = b.column(0).as_string::<i32>();
        let labels = b.column(1).as_any().downcast_ref::<MapArray>().unwrap();
        let ts = |i: usize| b.column(i).as_primitive::<TimestampNanosecondType>();
        let f = |i: usize| b.column(i).as_primitive::<Float64Type>();
        let count = b.column(3).as_primitive::<Int64Type>();
        let exact = (b.num_columns() > 12).then(|| b.column(12).as_boolean());
        for r in 0..b.num_rows() {
            let entries = labels.value(r);
            let keys = entries.column(0).as_string::<i32>();
            let values = entries.column(1).as_string::<i32>();
            let pairs = (0..entries.len())
                .map(|i| (keys.value(i).to_string(), values.value(i).to_string()))
                .collect();
            let key = (names.value(r).to_string(), pairs, ts(2).value(r));
            let agg = Agg {
                count: count.value(r) as u64,
                sum: f(4).value(r),
                min: f(5).value(r),
                max: f(6).value(r),
                first_ts: ts(7).value(r),
                first: f(8).value(r),
                last_ts: ts(9).value(r),
                last: f(10).value(r),
                increase: f(11).value(r),
                exact: exact.is_some_and(|e| e.value(r)),
            };
            out.push((key, agg));
        }
    }
    out
}

async fn query(engine: &QueryEngine, sql: &str) -> Vec<RecordBatch> {
    engine
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .1
}

/// Asserts that `got` holds each window of `want` once, with the same
/// aggregate: exactly but for the sum (floating-point sums depend on the
/// order of the additions) and for the increase of windows whose parts
/// interleaved (`inexact`): an estimate, unless the merge says it is
/// exact. `flagged`: the rows carry the `exact` flag.
fn assert_aggregates(
    got: Vec<(Key, Agg)>,
    want: &BTreeMap<Key, Agg>,
    inexact: &dyn Fn(&Key) -> bool,
    flagged: bool,
) {
    let mut seen = BTreeMap::new();
    for (key, agg) in got {
        assert!(seen.insert(key.clone(), agg).is_none(), "{key:?} twice");
    }
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    let mut estimates = 0;
    for (key, got) in &seen {
        let want = &want[key];
        let fields = |a: &Agg| {
            (
                a.count, a.min, a.max, a.first_ts, a.first, a.last_ts, a.last,
            )
        };
        assert_eq!(fields(got), fields(want), "{key:?}");
        let tolerance = 1e-9 * want.sum.abs().max(1.0);
        assert!(
            (got.sum - want.sum).abs() <= tolerance,
            "{key:?}: {got:?} vs {want:?}"
        );
        if !inexact(key) || got.exact {
            assert_eq!(got.increase, want.increase, "{key:?}: {got:?}");
            assert!(got.exact || !flagged, "{key:?}");
        } else {
            estimates += 1;
        }
    }
    assert!(estimates < seen.len());
    // The workload does interleave parts.
    assert!(!flagged || estimates > 0);
}

#[tokio::test]
async fn minute_view_merges_parts_into_one_exact_row_per_window() {
    let f = Fixture::empty().await;
    let w = Workload::new(1, MINUTE_NS);
    let files = w.write(&f.log, Tier::Minute).await;
    assert!(files.len() >= 6, "{}", files.len());
    // Parts of one window do sit in several files.
    assert!(w.parts[1].keys().any(|k| w.parts[0].contains_key(k)));
    let engine = f.engine();

    let got = rows_of(&query(&engine, "SELECT * FROM metrics_1m").await);
    let interleaved = |k: &Key| w.cuts[k] == Cut::Interleaved;
    assert_aggregates(got, &w.expected(), &interleaved, false);

    // Aggregates over the view see one row per window.
    let n = query(&engine, "SELECT count(*) FROM metrics_1m").await;
    let n = n[0].column(0).as_primitive::<Int64Type>().value(0);
    assert_eq!(n as usize, w.windows.len());
    let b = query(
        &engine,
        "SELECT sum(count) FROM metrics_1m WHERE metric_name = 'cpu.load'",
    )
    .await;
    assert_eq!(b[0].column(0).as_primitive::<Int64Type>().value(0), 1200);
}

#[tokio::test]
async fn hour_view_merges_parts_of_hours() {
    let f = Fixture::empty().await;
    let w = Workload::new(2, HOUR);
    w.write(&f.log, Tier::Hour).await;
    let engine = f.engine();
    let got = rows_of(&query(&engine, "SELECT * FROM metrics_1h").await);
    let interleaved = |k: &Key| w.cuts[k] == Cut::Interleaved;
    assert_aggregates(got, &w.expected(), &interleaved, false);
}

#[tokio::test]
async fn views_have_the_table_schema() {
    let f = Fixture::empty().await;
    Workload::new(3, MINUTE_NS)
        .write(&f.log, Tier::Minute)
        .await;
    let engine = f.engine();
    for tier in Tier::AGGREGATED {
        let sql = format!("SELECT * FROM {}", tier.table_name());
        let (schema, _) = engine.sql(&sql).await.unwrap();
        assert_eq!(schema, tier.table_schema(), "{sql}");
        let b = query(&engine, &format!("DESCRIBE {}", tier.table_name())).await;
        let text = pretty_format_batches(&b).unwrap().to_string();
        assert!(
            text.contains("increase") && !text.contains("exact"),
            "{text}"
        );
        let err = engine
            .sql(&format!("SELECT exact FROM {}", tier.table_name()))
            .await
            .unwrap_err();
        assert!(err.is_user_error(), "{err}");
    }
    // The parts table has no name.
    let b = query(&engine, "SHOW TABLES").await;
    let text = pretty_format_batches(&b).unwrap().to_string();
    assert!(
        text.contains("metrics_1m") && !text.contains("parts"),
        "{text}"
    );
}

#[tokio::test]
async fn filters_on_series_and_bucket_reach_the_parts_scan() {
    let f = Fixture::empty().await;
    let w = Workload::new(4, MINUTE_NS);
    let files = w.write(&f.log, Tier::Minute).await;
    let engine = f.engine();
    let parts = engine.table(Tier::Minute);
    let hour1 = |file: &DataFile| file.partition_start_ns == T0 + HOUR;

    // One hour of windows: only that hour's files are opened.
    let sql = "SELECT * FROM metrics_1m \
               WHERE bucket >= '2023-11-14T23:00:00Z' AND bucket < '2023-11-15T00:00:00Z'";
    let before = parts.files_scanned();
    let got = rows_of(&query(&engine, sql).await);
    assert_eq!(
        parts.files_scanned() - before,
        files.iter().filter(|f| hour1(f)).count() as u64
    );
    let want: BTreeMap<Key, Agg> = w
        .expected()
        .into_iter()
        .filter(|(k, _)| (T0 + HOUR..T0 + 2 * HOUR).contains(&k.2))
        .collect();
    assert_aggregates(got, &want, &|k| w.cuts[k] == Cut::Interleaved, false);

    // A window is selected by its start: from the middle of hour 1 on,
    // hour 1's files are still needed, hour 0's are not.
    let sql = "SELECT count(*) FROM metrics_1m WHERE bucket >= '2023-11-14T23:30:00Z'";
    let before = parts.files_scanned();
    query(&engine, sql).await;
    let later = files.iter().filter(|f| f.partition_start_ns >= T0 + HOUR);
    assert_eq!(parts.files_scanned() - before, later.count() as u64);

    // Metric, labels and bucket filters all reach the scan of the parts,
    // below the merge; metric and bucket prune inside the Parquet files.
    let sql = "EXPLAIN SELECT bucket, increase FROM metrics_1m \
               WHERE metric_name = 'net.bytes' AND labels['host'] = 'web01' \
               AND bucket >= '2023-11-15T00:00:00Z'";
    let plan = pretty_format_batches(&query(&engine, sql).await)
        .unwrap()
        .to_string();
    let line = |needle: &str| {
        plan.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in\n{plan}"))
    };
    let scan = line("TableScan: metrics_1m_parts");
    for needle in ["partial_filters=", "net.bytes", "web01", "bucket >="] {
        assert!(scan.contains(needle), "{needle} not in\n{plan}");
    }
    let scan = line("DataSourceExec");
    for needle in [
        "predicate=",
        "metric_name@0 = net.bytes",
        "bucket@2 >=",
        "pruning_predicate=",
    ] {
        assert!(scan.contains(needle), "{needle} not in\n{plan}");
    }
    assert!(scan.contains("1m/2023-11-15/00/") && !scan.contains("1m/2023-11-14/"));
    let metric = "SELECT count(*) FROM metrics_1m WHERE metric_name = 'net.bytes'";
    let b = query(&engine, metric).await;
    let n = w.windows.keys().filter(|k| k.0 == "net.bytes").count();
    assert_eq!(
        b[0].column(0).as_primitive::<Int64Type>().value(0) as usize,
        n
    );
}

#[tokio::test]
async fn maintenance_reads_merge_chosen_files_with_exact_flags() {
    let f = Fixture::empty().await;
    let w = Workload::new(5, MINUTE_NS);
    let files = w.write(&f.log, Tier::Minute).await;
    let engine = f.engine();
    let hour0: Vec<DataFile> = files
        .iter()
        .filter(|f| f.partition_start_ns == T0)
        .cloned()
        .collect();
    let in_hour0 = |k: &Key| (T0..T0 + HOUR).contains(&k.2);

    // The stored parts of the chosen files, as they are.
    let parts: Vec<RecordBatch> = engine
        .read_files(Tier::Minute, hour0.clone())
        .unwrap()
        .collect()
        .await
        .unwrap();
    let stored = hour0.iter().map(|f| f.rows).sum::<u64>() as usize;
    assert_eq!(parts.iter().map(|b| b.num_rows()).sum::<usize>(), stored);
    assert_eq!(parts[0].schema(), Tier::Minute.schema());

    // Merged: one row per window, sorted, with the exact flag.
    let stream = engine
        .merge_files(Tier::Minute, hour0.clone(), Tier::Minute)
        .unwrap()
        .execute_stream()
        .await
        .unwrap();
    let merged: Vec<RecordBatch> = stream.try_collect().await.unwrap();
    let rows = rows_of(&merged);
    let keys: Vec<&Key> = rows.iter().map(|(k, _)| k).collect();
    assert!(keys.windows(2).all(|p| p[0] < p[1]), "not in storage order");
    // Interleaved parts are flagged; the rest are exact.
    assert!(rows.iter().any(|(_, a)| !a.exact));
    let want = w
        .expected()
        .into_iter()
        .filter(|(k, _)| in_hour0(k))
        .collect();
    assert_aggregates(rows, &want, &|k| w.cuts[k] == Cut::Interleaved, true);

    // Rolled up into hours: the windows of the hour chained in order.
    let hours = engine
        .merge_files(Tier::Minute, hour0, Tier::Hour)
        .unwrap()
        .collect()
        .await
        .unwrap();
    let hours = rows_of(&hours);
    assert_eq!(hours.len(), SERIES.len());
    for ((metric, labels, bucket), agg) in hours {
        assert_eq!(bucket, T0);
        let mut points: Vec<(i64, f64)> = w
            .windows
            .iter()
            .filter(|(k, _)| k.0 == metric && k.1 == labels && in_hour0(k))
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        points.sort_by(|a, b| sample_cmp(*a, *b));
        let want = Agg::of_sorted(&points).unwrap();
        assert_eq!(
            (agg.count, agg.first, agg.last),
            (want.count, want.first, want.last)
        );
        assert_eq!((agg.min, agg.max), (want.min, want.max));
        let any_interleaved = w
            .cuts
            .iter()
            .any(|(k, c)| k.0 == metric && k.1 == labels && in_hour0(k) && *c == Cut::Interleaved);
        if agg.exact {
            assert_eq!(agg.increase, want.increase);
        } else {
            assert!(any_interleaved);
        }
    }

    // Raw files are not aggregates.
    assert!(engine.merge_files(Tier::Raw, vec![], Tier::Minute).is_err());
}
