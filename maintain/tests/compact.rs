//! Compaction and rollup over a store written by hand: raw files and
//! partial `1m` files of the same samples, some parts interleaved in time
//! (estimated increases), checked against the aggregates computed directly
//! from the samples.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, TimestampNanosecondType};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use object_store::ObjectStoreExt;
use strata_maintain::compact::{self, CompactOptions};
use strata_maintain::rollup::{self, RollupOptions};
use strata_query::QueryEngine;
use strata_schemas::agg::sample_cmp;
use strata_schemas::tier::{HOUR_NS, MINUTE_NS};
use strata_schemas::{Agg, AggBatchBuilder, Labels, Sample, SampleBatchBuilder, Tier};
use strata_storage::{
    Commit, CommitOutcome, DataFile, OffsetRange, Store, TableLog, WindowMark, layout,
};

/// 2023-11-14T22:00:00Z.
const T0: i64 = 1_699_999_200_000_000_000;

/// A series and window: metric name, label pairs, bucket.
type Key = (String, Vec<(String, String)>, i64);

/// A small deterministic generator (splitmix64), so failures replay.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    log: Arc<TableLog>,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
        let log = Arc::new(TableLog::open(store).await.unwrap());
        Self { _dir: dir, log }
    }

    async fn commit(&self, commit: Commit) {
        let outcome = self.log.commit(commit).await.unwrap();
        assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    }

    /// Writes `samples` (of one hour) as one raw file and commits it.
    async fn raw_file(&self, samples: &[Sample]) -> DataFile {
        let mut b = SampleBatchBuilder::new();
        samples.iter().for_each(|s| b.push(s.clone()));
        let bytes = strata_storage::parquet::encode_raw(&b.finish().unwrap()).unwrap();
        let ts = samples.iter().map(|s| s.ts_ns);
        let (min, max) = (ts.clone().min().unwrap(), ts.max().unwrap());
        let names = samples.iter().map(|s| s.metric_name.clone());
        let file = self
            .put(
                Tier::Raw,
                min,
                max,
                names.clone().min(),
                names.max(),
                samples.len(),
                bytes,
            )
            .await;
        self.commit(Commit {
            add: vec![file.clone()],
            ..Default::default()
        })
        .await;
        file
    }

    /// Writes `rows` (storage order, one partition) as one `1m` file and
    /// commits it.
    async fn minute_file(&self, rows: &[(&Key, &Agg)]) -> DataFile {
        let mut b = AggBatchBuilder::default();
        for ((metric, labels, bucket), agg) in rows {
            b.push(
                metric,
                labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                *bucket,
                agg,
            );
        }
        let bytes = strata_storage::parquet::encode(Tier::Minute, &b.finish().unwrap()).unwrap();
        let buckets = rows.iter().map(|(k, _)| k.2);
        let (min, max) = (buckets.clone().min().unwrap(), buckets.max().unwrap());
        let names = rows.iter().map(|(k, _)| k.0.clone());
        let file = self
            .put(
                Tier::Minute,
                min,
                max,
                names.clone().min(),
                names.max(),
                rows.len(),
                bytes,
            )
            .await;
        self.commit(Commit {
            add: vec![file.clone()],
            ..Default::default()
        })
        .await;
        file
    }

    #[allow(clippy::too_many_arguments)]
    async fn put(
        &self,
        tier: Tier,
        min_ts: i64,
        max_ts: i64,
        min_metric: Option<String>,
        max_metric: Option<String>,
        rows: usize,
        bytes: bytes::Bytes,
    ) -> DataFile {
        let start = tier.partition_start(min_ts);
        let path = layout::new_data_file(&layout::partition_dir(tier, start));
        let file = DataFile {
            path: path.to_string(),
            tier: tier.dir().into(),
            partition_start_ns: start,
            min_ts_ns: min_ts,
            max_ts_ns: max_ts,
            min_metric: min_metric.unwrap(),
            max_metric: max_metric.unwrap(),
            rows: rows as u64,
            bytes: bytes.len() as u64,
            derived_from: None,
        };
        self.log
            .store()
            .put_durable(&path, bytes, true)
            .await
            .unwrap();
        file
    }

    async fn files(&self, tier: Tier) -> Vec<DataFile> {
        let snapshot = self.log.snapshot().await.unwrap();
        snapshot.files_of(tier.dir()).cloned().collect()
    }

    fn engine(&self) -> QueryEngine {
        QueryEngine::new(Arc::clone(&self.log)).unwrap()
    }
}

/// Samples of a few counters over hours 0 and 1 after [`T0`], stored as
/// raw files and partial `1m` files.
struct Workload {
    samples: Vec<Sample>,
}

const SERIES: [(&str, &str); 4] = [
    ("cpu.load", "web01"),
    ("cpu.load", "web02"),
    ("net.bytes", "web01"),
    ("net.bytes", "web03"),
];

impl Workload {
    /// Integer values below 2^53: every sum is exact in any order, so
    /// merged aggregates compare bit for bit.
    fn new(seed: u64, per_series: usize) -> Self {
        let mut rng = Rng(seed);
        let mut samples = Vec::new();
        for (metric, host) in SERIES {
            let mut value = 0.0;
            for _ in 0..per_series {
                let minute = rng.below(2 * 60 / 5) as i64 * 5; // every 5th minute
                let ts = T0 + minute * MINUTE_NS + rng.below(MINUTE_NS as u64) as i64;
                value = match rng.below(25) {
                    0 => rng.below(3) as f64, // reset
                    _ => value + rng.below(100) as f64,
                };
                samples.push(Sample {
                    metric_name: metric.into(),
                    labels: Labels::from_pairs([("host", host)]),
                    ts_ns: ts,
                    value,
                });
            }
        }
        Self { samples }
    }

    /// The samples of each window of `window_ns`, sorted.
    fn windows(&self, window_ns: i64) -> BTreeMap<Key, Vec<(i64, f64)>> {
        let mut out: BTreeMap<Key, Vec<(i64, f64)>> = BTreeMap::new();
        for s in &self.samples {
            let bucket = s.ts_ns.div_euclid(window_ns) * window_ns;
            out.entry((s.metric_name.clone(), s.labels.pairs().to_vec(), bucket))
                .or_default()
                .push((s.ts_ns, s.value));
        }
        out.values_mut()
            .for_each(|p| p.sort_by(|a, b| sample_cmp(*a, *b)));
        out
    }

    /// The aggregates of the windows of `window_ns`.
    fn expected(&self, window_ns: i64) -> BTreeMap<Key, Agg> {
        self.windows(window_ns)
            .into_iter()
            .map(|(k, p)| (k, Agg::of_sorted(&p).unwrap()))
            .collect()
    }

    /// Writes the samples as `raw_files` raw files per hour, dealt at
    /// random, and their minutes as parts in three `1m` files per hour:
    /// each window whole, cut into runs, or dealt at random (interleaved).
    async fn write(&self, f: &Fixture, seed: u64, raw_files: usize) {
        let mut rng = Rng(seed);
        let mut raw: BTreeMap<(i64, usize), Vec<Sample>> = BTreeMap::new();
        for s in &self.samples {
            let hour = Tier::Raw.partition_start(s.ts_ns);
            let k = rng.below(raw_files as u64) as usize;
            raw.entry((hour, k)).or_default().push(s.clone());
        }
        for samples in raw.values() {
            f.raw_file(samples).await;
        }
        let mut parts: BTreeMap<(i64, usize), Vec<(Key, Agg)>> = BTreeMap::new();
        for (key, points) in self.windows(MINUTE_NS) {
            let mut split = vec![Vec::new(); 3];
            match rng.below(3) {
                0 => split[0] = points,
                1 => {
                    let cut = rng.below(points.len() as u64 + 1) as usize;
                    split[1] = points[..cut].to_vec();
                    split[0] = points[cut..].to_vec();
                }
                _ => points
                    .iter()
                    .for_each(|p| split[rng.below(3) as usize].push(*p)),
            }
            let hour = Tier::Minute.partition_start(key.2);
            for (k, run) in split.iter().enumerate() {
                if let Some(agg) = Agg::of_sorted(run) {
                    parts.entry((hour, k)).or_default().push((key.clone(), agg));
                }
            }
        }
        for rows in parts.values() {
            let rows: Vec<(&Key, &Agg)> = rows.iter().map(|(k, a)| (k, a)).collect();
            f.minute_file(&rows).await;
        }
    }
}

/// Rows of an aggregated tier's batches, `exact` included when present.
fn agg_rows(batches: &[RecordBatch]) -> Vec<(Key, Agg)> {
    let mut out = Vec::new();
    for b in batches {
        let names = b.column(0).as_string::<i32>();
        let labels = b.column(1).as_map();
        let ts = |i: usize| b.column(i).as_primitive::<TimestampNanosecondType>();
        // Files may store float columns as integers or decimals.
        let f = |i: usize| strata_storage::parquet::values_as_f64(b.column(i).as_ref()).unwrap();
        let count = b
            .column(3)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let exact = (b.num_columns() > 12).then(|| b.column(12).as_boolean());
        for r in 0..b.num_rows() {
            let entries = labels.value(r);
            let (k, v) = (
                entries.column(0).as_string::<i32>(),
                entries.column(1).as_string::<i32>(),
            );
            let pairs = (0..entries.len())
                .map(|i| (k.value(i).to_string(), v.value(i).to_string()))
                .collect();
            out.push((
                (names.value(r).to_string(), pairs, ts(2).value(r)),
                Agg {
                    count: count.value(r) as u64,
                    sum: f(4).value(r),
                    min: f(5).value(r),
                    max: f(6).value(r),
                    first_ts: ts(7).value(r),
                    first: f(8).value(r),
                    last_ts: ts(9).value(r),
                    last: f(10).value(r),
                    increase: f(11).value(r),
                    exact: exact.is_none_or(|e| e.value(r)),
                },
            ));
        }
    }
    out
}

/// The rows of one stored file, in file order.
async fn file_rows(f: &Fixture, file: &DataFile) -> Vec<RecordBatch> {
    let path = object_store::path::Path::from(file.path.as_str());
    let bytes = f.log.store().objects().get(&path).await.unwrap();
    let bytes = bytes.bytes().await.unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    reader.build().unwrap().map(|b| b.unwrap()).collect()
}

/// The stored `1m` (or `1h`) rows, every file, parts unmerged.
async fn stored(f: &Fixture, tier: Tier) -> Vec<(Key, Agg)> {
    let mut out = Vec::new();
    for file in f.files(tier).await {
        out.extend(agg_rows(&file_rows(f, &file).await));
    }
    out
}

/// Asserts each window of `want` appears once in `got`, exact and equal.
fn assert_exact(got: Vec<(Key, Agg)>, want: &BTreeMap<Key, Agg>) {
    let mut seen = BTreeMap::new();
    for (k, a) in got {
        assert!(seen.insert(k.clone(), a).is_none(), "{k:?} twice");
    }
    assert_eq!(seen.len(), want.len());
    for (k, w) in want {
        assert_eq!(seen.get(k), Some(w), "{k:?}");
    }
}

async fn sql(engine: &QueryEngine, sql: &str) -> Vec<RecordBatch> {
    engine
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .1
}

/// Every raw sample as (metric, labels, ts, value), sorted.
async fn raw_samples(engine: &QueryEngine) -> Vec<(String, String, i64, f64)> {
    let b = sql(
        engine,
        "SELECT metric_name, labels['host'], ts, value FROM metrics_raw",
    )
    .await;
    let mut out = Vec::new();
    for b in &b {
        let (n, h) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_string::<i32>(),
        );
        let ts = b.column(2).as_primitive::<TimestampNanosecondType>();
        let v = b.column(3).as_primitive::<Float64Type>();
        for r in 0..b.num_rows() {
            out.push((
                n.value(r).into(),
                h.value(r).into(),
                ts.value(r),
                v.value(r),
            ));
        }
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

fn workload_samples(w: &Workload) -> Vec<(String, String, i64, f64)> {
    let mut out: Vec<_> = w
        .samples
        .iter()
        .map(|s| {
            let host = s.labels.get("host").unwrap().to_string();
            (s.metric_name.clone(), host, s.ts_ns, s.value)
        })
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

fn every_partition() -> CompactOptions {
    CompactOptions {
        min_files: 1,
        ..Default::default()
    }
}

#[tokio::test]
async fn compaction_folds_parts_and_repairs_estimates() {
    let f = Fixture::new().await;
    let w = Workload::new(1, 300);
    w.write(&f, 2, 3).await;
    let old_files: Vec<DataFile> = f
        .files(Tier::Raw)
        .await
        .into_iter()
        .chain(f.files(Tier::Minute).await)
        .collect();
    let engine = f.engine();
    // Before: the merge of the parts says some windows are estimates.
    let merged = engine
        .merge_files(Tier::Minute, f.files(Tier::Minute).await, Tier::Minute)
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(agg_rows(&merged).iter().any(|(_, a)| !a.exact));

    let report = compact::compact(&f.log, &every_partition()).await.unwrap();
    eprintln!("{report}");
    assert_eq!(report.partitions, 4, "{report:?}");
    assert!(report.repaired > 0 && report.unrepaired == 0, "{report:?}");
    assert!(report.conflicts.is_empty());
    assert_eq!(report.files_in, old_files.len());
    assert_eq!(report.files_out, 4);

    // One file per partition and tier.
    for tier in [Tier::Raw, Tier::Minute] {
        let files = f.files(tier).await;
        let starts: Vec<i64> = files.iter().map(|f| f.partition_start_ns).collect();
        assert_eq!(starts.len(), 2, "{tier:?}");
        assert_ne!(starts[0], starts[1]);
    }
    // Every 1m row exact and equal to the direct aggregate.
    assert_exact(stored(&f, Tier::Minute).await, &w.expected(MINUTE_NS));
    // Every raw sample kept, each file sorted by series and time.
    assert_eq!(raw_samples(&engine).await, workload_samples(&w));
    for file in f.files(Tier::Raw).await {
        let batches = file_rows(&f, &file).await;
        let mut keys = Vec::new();
        for b in &batches {
            let n = b.column(0).as_string::<i32>();
            let ts = b.column(2).as_primitive::<TimestampNanosecondType>();
            let labels = b.column(1).as_map();
            for r in 0..b.num_rows() {
                let host = labels
                    .value(r)
                    .column(1)
                    .as_string::<i32>()
                    .value(0)
                    .to_string();
                keys.push((n.value(r).to_string(), host, ts.value(r)));
            }
        }
        assert!(
            keys.windows(2).all(|k| k[0] <= k[1]),
            "{} not sorted",
            file.path
        );
        assert_eq!(keys.len() as u64, file.rows);
        assert_eq!(keys.iter().map(|k| k.2).min(), Some(file.min_ts_ns));
        assert_eq!(keys.iter().map(|k| k.2).max(), Some(file.max_ts_ns));
    }
    // The replaced objects are still there for queries planned on them.
    for old in &old_files {
        let path = object_store::path::Path::from(old.path.as_str());
        f.log.store().objects().head(&path).await.unwrap();
    }

    // Nothing left to do.
    let again = compact::compact(&f.log, &every_partition()).await.unwrap();
    assert!(!again.changed(), "{again:?}");
    let default = compact::compact(&f.log, &CompactOptions::default())
        .await
        .unwrap();
    assert!(!default.changed(), "{default:?}");
}

#[tokio::test]
async fn large_partitions_are_cut_into_sorted_files() {
    let f = Fixture::new().await;
    let w = Workload::new(3, 200);
    // About 400 samples an hour: 7 files of 64 rows, written from 20
    // small ones (under half of 64 rows: raw merges only small files).
    w.write(&f, 4, 20).await;
    let opts = CompactOptions {
        min_files: 1,
        max_rows_per_file: 64,
    };
    let report = compact::compact(&f.log, &opts).await.unwrap();
    assert!(report.files_out > 4, "{report:?}");
    for tier in [Tier::Raw, Tier::Minute] {
        let files = f.files(tier).await;
        assert!(files.iter().all(|f| f.rows <= 64 && f.rows > 0));
        let rows: u64 = files.iter().map(|f| f.rows).sum();
        let want = match tier {
            Tier::Raw => w.samples.len(),
            _ => w.expected(MINUTE_NS).len(),
        };
        assert_eq!(rows as usize, want, "{tier:?}");
    }
    assert_exact(stored(&f, Tier::Minute).await, &w.expected(MINUTE_NS));
    assert_eq!(raw_samples(&f.engine()).await, workload_samples(&w));
    let again = compact::compact(&f.log, &opts).await.unwrap();
    assert!(!again.changed(), "{again:?}");
}

fn closed_before(ns: i64) -> RollupOptions {
    RollupOptions {
        closed_before_ns: Some(ns),
    }
}

/// Adds `samples` as a late correction: one raw file and one `1m` file of
/// their windows.
async fn late_correction(f: &Fixture, samples: &[Sample]) {
    f.raw_file(samples).await;
    let mut windows: BTreeMap<Key, Vec<(i64, f64)>> = BTreeMap::new();
    for s in samples {
        let bucket = s.ts_ns.div_euclid(MINUTE_NS) * MINUTE_NS;
        windows
            .entry((s.metric_name.clone(), s.labels.pairs().to_vec(), bucket))
            .or_default()
            .push((s.ts_ns, s.value));
    }
    let rows: Vec<(Key, Agg)> = windows
        .into_iter()
        .map(|(k, mut p)| {
            p.sort_by(|a, b| sample_cmp(*a, *b));
            (k, Agg::of_sorted(&p).unwrap())
        })
        .collect();
    let rows: Vec<(&Key, &Agg)> = rows.iter().map(|(k, a)| (k, a)).collect();
    f.minute_file(&rows).await;
}

#[tokio::test]
async fn rollup_derives_closed_hours_and_redoes_changed_ones() {
    let f = Fixture::new().await;
    let mut w = Workload::new(5, 300);
    w.write(&f, 6, 2).await;
    compact::compact(&f.log, &every_partition()).await.unwrap();

    // No window marks: nothing is closed.
    let r = rollup::rollup(&f.log, &RollupOptions::default())
        .await
        .unwrap();
    assert_eq!((r.closed_before_ns, r.hours), (None, 0));

    // Ingest says windows before 23:30 are closed (the smallest mark
    // counts): hour 22, and hour 23 as far as it is closed.
    for (partition, closed) in [(0, T0 + 3 * HOUR_NS / 2), (1, T0 + 2 * HOUR_NS)] {
        let window = WindowMark {
            replay_from: 0,
            closed_before_ns: closed,
        };
        f.commit(Commit {
            offsets: vec![OffsetRange {
                source: "cluster/metrics".into(),
                partition,
                from: None,
                to: 1,
                window: Some(window),
            }],
            ..Default::default()
        })
        .await;
    }
    let r = rollup::rollup(&f.log, &RollupOptions::default())
        .await
        .unwrap();
    assert_eq!((r.hours, r.unchanged), (2, 0), "{r:?}");
    // Hour 23 closes; its 1m files did not change: nothing to redo.
    let r = rollup::rollup(&f.log, &closed_before(T0 + 2 * HOUR_NS))
        .await
        .unwrap();
    assert_eq!((r.hours, r.unchanged, r.estimated), (0, 2, 0), "{r:?}");

    // metrics_1h is the direct hourly aggregate, one file per hour.
    let engine = f.engine();
    let hours = agg_rows(&sql(&engine, "SELECT * FROM metrics_1h").await);
    assert_exact(hours, &w.expected(HOUR_NS));
    let files = f.files(Tier::Hour).await;
    assert_eq!(files.len(), 2);
    for file in &files {
        assert!(file.derived_from.is_some());
        assert_eq!(file.min_ts_ns, file.max_ts_ns);
        assert_eq!(
            file.partition_start_ns,
            Tier::Hour.partition_start(file.min_ts_ns)
        );
    }
    assert!(stored(&f, Tier::Hour).await.iter().all(|(_, a)| a.exact));

    // Nothing changed: nothing to do.
    let c = compact::compact(&f.log, &every_partition()).await.unwrap();
    let r = rollup::rollup(&f.log, &closed_before(T0 + 2 * HOUR_NS))
        .await
        .unwrap();
    assert!(!c.changed() && !r.changed(), "{c:?} {r:?}");
    assert_eq!(r.unchanged, 2);

    // A late sample lands inside the span of a window of hour 22, and
    // one after the hour's last sample of another series: that hour is
    // rolled up again, first as an estimate...
    let windows = w.windows(MINUTE_NS);
    let (key, points) = windows
        .iter()
        .find(|(k, p)| k.2 < T0 + HOUR_NS && p.len() >= 2 && p[0].0 + 1 < p[p.len() - 1].0)
        .expect("a window of two samples");
    let sample = |(metric, labels, _): &Key, ts_ns: i64, value: f64| Sample {
        metric_name: metric.clone(),
        labels: Labels::from_pairs(labels.iter().cloned()),
        ts_ns,
        value,
    };
    let inside = sample(key, (points[0].0 + points[points.len() - 1].0) / 2, 5.0);
    let (other, _) = windows
        .iter()
        .rfind(|(k, _)| k.2 < T0 + HOUR_NS && (&k.0, &k.1) != (&key.0, &key.1))
        .unwrap();
    let after = sample(other, other.2 + MINUTE_NS - 1, 1e6);
    let late = vec![inside, after];
    late_correction(&f, &late).await;
    w.samples.extend(late);
    let r = rollup::rollup(&f.log, &closed_before(T0 + 2 * HOUR_NS))
        .await
        .unwrap();
    assert_eq!((r.hours, r.unchanged, r.estimated), (1, 1, 1), "{r:?}");
    let hours = agg_rows(&sql(&engine, "SELECT * FROM metrics_1h").await);
    let count: u64 = hours.iter().map(|(_, a)| a.count).sum();
    assert_eq!(count as usize, w.samples.len());
    assert_eq!(f.files(Tier::Hour).await.len(), 2);
    // ...then, once compaction repaired the minute, exactly.
    let c = compact::compact(&f.log, &every_partition()).await.unwrap();
    assert_eq!((c.partitions, c.repaired, c.unrepaired), (2, 1, 0), "{c:?}");
    let r = rollup::rollup(&f.log, &closed_before(T0 + 2 * HOUR_NS))
        .await
        .unwrap();
    assert_eq!((r.hours, r.estimated), (1, 0), "{r:?}");
    assert_exact(stored(&f, Tier::Minute).await, &w.expected(MINUTE_NS));
    assert_exact(stored(&f, Tier::Hour).await, &w.expected(HOUR_NS));
}

/// Queries whose answers compaction must not change, at any moment.
const QUERIES: [&str; 4] = [
    "SELECT count(*), sum(value) FROM metrics_raw",
    "SELECT labels['host'] AS host, count(*), sum(value) FROM metrics_raw GROUP BY 1 ORDER BY 1",
    "SELECT count(*), sum(count), sum(sum) FROM metrics_1m",
    "SELECT metric_name, labels['host'] AS host, sum(count), sum(sum), min(min), max(max) \
     FROM metrics_1m GROUP BY 1, 2 ORDER BY 1, 2",
];

async fn answers(engine: &QueryEngine) -> Vec<String> {
    let mut out = Vec::new();
    for q in QUERIES {
        out.push(
            pretty_format_batches(&sql(engine, q).await)
                .unwrap()
                .to_string(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_under_concurrent_queries() {
    let f = Fixture::new().await;
    let w = Workload::new(7, 400);
    w.write(&f, 8, 6).await;
    let engine = Arc::new(f.engine());
    let before = answers(&engine).await;

    let done = Arc::new(AtomicBool::new(false));
    let during = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (engine, done, during, before) = (
            Arc::clone(&engine),
            Arc::clone(&done),
            Arc::clone(&during),
            before.clone(),
        );
        tokio::spawn(async move {
            let mut rounds = 0;
            while !done.load(Ordering::Acquire) || rounds == 0 {
                assert_eq!(
                    answers(&engine).await,
                    before,
                    "answer changed mid-compaction"
                );
                rounds += 1;
                if !done.load(Ordering::Acquire) {
                    during.fetch_add(1, Ordering::Relaxed);
                }
            }
            rounds
        })
    };
    let report = compact::compact(&f.log, &every_partition()).await.unwrap();
    done.store(true, Ordering::Release);
    let rounds = reader.await.unwrap();
    assert!(report.partitions == 4, "{report:?}");
    eprintln!(
        "{rounds} rounds of queries, {} during compaction",
        during.load(Ordering::Relaxed)
    );
    assert!(rounds > 0);
    assert_eq!(answers(&engine).await, before);
    assert_eq!(f.files(Tier::Raw).await.len(), 2);
}
