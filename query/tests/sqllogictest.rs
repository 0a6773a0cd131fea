//! Strata's SQL pinned in sqllogictest files: every `query/tests/slt/*.slt`
//! runs against a store with deterministic data in all three tiers,
//! through [`QueryEngine::sql`] (so the read-only guard applies, exactly as
//! for the HTTP API).
//!
//! ```text
//! cargo test -p strata-query --test sqllogictest              # every file
//! cargo test -p strata-query --test sqllogictest -- explain   # files whose name contains `explain`
//! STRATA_SLT_COMPLETE=1 cargo test -p strata-query --test sqllogictest -- explain
//!                                   # rewrite the expected output of those files from what runs now
//! ```
//!
//! Review the diff after a completion run: it records what the engine
//! does, right or wrong.
//!
//! # The store
//! Times start at 2026-01-01T00:00:00Z. Four hours hold data: 00:00, 01:00
//! and 02:00 on 2026-01-01 and 00:00 on 2026-01-02, each with a sample
//! every 20 s over its first 6 minutes (18 per series) of six series:
//!
//! | metric          | labels                                  | value at sample `i` of hour `h` (0..4) |
//! |-----------------|-----------------------------------------|------------------------------------------|
//! | `cpu.load`      | host web01 / web02 / db01, region eu / eu / us | `b + h + (i % 4) / 4`, `b` = 1 / 2 / 4 |
//! | `mem.used`      | host web01 / db01, region eu / us       | `1000 b + 10 i`                          |
//! | `http.requests` | host web01, method GET, region eu       | a counter, +5 per sample, reset to 0 at `h = 2, i = 9` |
//!
//! Files, named so that `EXPLAIN` shows which ones a query reads:
//! - `raw/<day>/<hour>/cpu.parquet` (`cpu.load`) and `other.parquet`
//!   (`http.requests`, `mem.used`) per hour: 8 files;
//! - `1m/<day>/<hour>/…` the same split, computed from raw, except that
//!   hour 01:00's `cpu.load` windows are cut into two disjoint parts,
//!   `cpu-a.parquet` (each window's first sample) and `cpu-b.parquet` (the
//!   rest), which the `metrics_1m` view must merge: 9 files;
//! - `1h/<day>/<hour>.parquet` per hour: 4 files.
//!
//! # Results
//! Values are printed as DataFusion's own sqllogictest runner does: `NULL`,
//! `(empty)` for an empty string, floats rounded to 12 decimals without
//! trailing zeros, everything else with Arrow's display (timestamps as
//! `2026-01-01T00:00:00Z`, labels as `{host: web01, region: eu}`). A value
//! with several lines (`EXPLAIN`'s plans) becomes one row per line,
//! numbered, its indentation written as `-`.
//!
//! Plans are normalized so that they do not depend on the machine: the
//! store's temporary directory reads `STORE`, and because the number of
//! partitions follows the number of cores, `RoundRobinBatch(n)`,
//! `Hash([…], n)` and `input_partitions=n` read `P`, and a scan's
//! `file_groups={n groups: [[a, c], [b]]}` reads `files=[a, b, c]`:
//! every file the scan opens, in path order.
//!
//! Besides the files, one Rust test counts the files scans open
//! ([`strata_query::TierTable::files_scanned`]) for narrow and wide
//! queries.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use common::Fixture;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use sqllogictest::harness::{Arguments, Failed, Trial};
use sqllogictest::{ColumnType, DBOutput};
use strata_query::QueryEngine;
use strata_schemas::tier::HOUR_NS;
use strata_schemas::{Agg, AggBatchBuilder, Labels, Sample, SampleBatchBuilder, Tier};
use strata_storage::{Commit, CommitOutcome, DataFile, layout};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000_000_000;
/// The hours holding data, as offsets from [`T0`].
const HOURS: [i64; 4] = [0, 1, 2, 24];
/// Samples per series and hour, 20 s apart.
const PER_HOUR: i64 = 18;
const STEP_NS: i64 = 20_000_000_000;

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    let complete = std::env::var_os("STRATA_SLT_COMPLETE").is_some();
    let mut trials: Vec<Trial> = files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || run_file(&path, complete))
        })
        .collect();
    trials.push(Trial::test("files_scanned_narrow_vs_wide", || {
        runtime().block_on(files_scanned_narrow_vs_wide());
        Ok(())
    }));
    sqllogictest::harness::run(&args, trials).exit();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs (or, with `complete`, rewrites) one `.slt` file against a fresh
/// store.
fn run_file(path: &Path, complete: bool) -> Result<(), Failed> {
    runtime().block_on(async {
        let fixture = store().await;
        let root = fixture.dir.path().to_string_lossy().into_owned();
        let engine = Arc::new(fixture.engine());
        let mut runner = sqllogictest::Runner::new(move || {
            let db = Strata {
                engine: Arc::clone(&engine),
                root: root.clone(),
            };
            async move { Ok::<_, SltError>(db) }
        });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        if complete {
            runner
                .update_test_file(
                    path,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::strict_column_validator,
                )
                .await
                .map_err(|e| Failed::from(format!("completing {}: {e}", path.display())))?;
        } else {
            runner
                .run_file_async(path)
                .await
                .map_err(|e| Failed::from(e.display(false).to_string()))?;
        }
        drop(fixture);
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The database under test.

/// Strata's engine as sqllogictest sees it.
struct Strata {
    engine: Arc<QueryEngine>,
    /// The store's directory, replaced by `STORE` in results.
    root: String,
}

/// An error as the user sees it: [`strata_query::Error::message`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SltError(String);

#[async_trait]
impl sqllogictest::AsyncDB for Strata {
    type Error = SltError;
    type ColumnType = Column;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Column>, SltError> {
        let (schema, batches) = self
            .engine
            .sql(sql)
            .await
            .map_err(|e| SltError(e.message()))?;
        let types: Vec<Column> = schema
            .fields()
            .iter()
            .map(|f| Column::of(f.data_type()))
            .collect();
        let mut rows = Vec::new();
        for batch in &batches {
            for row in rows_of(batch).map_err(SltError)? {
                rows.extend(expand(row).into_iter().map(|r| self.normalize(r)));
            }
        }
        if rows.is_empty() && types.is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "strata"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

impl Strata {
    fn normalize(&self, row: Vec<String>) -> Vec<String> {
        row.into_iter()
            .map(|cell| normalize_plan(&cell.replace(&self.root, "STORE")))
            .collect()
    }
}

/// Column types as DataFusion's runner names them: `B`oolean, `D`ate or
/// time, `I`nteger, `P` timestamp, `R`eal, `T`ext, `?` anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Boolean,
    DateTime,
    Integer,
    Timestamp,
    Float,
    Text,
    Other,
}

impl Column {
    fn of(t: &DataType) -> Self {
        match t {
            DataType::Boolean => Column::Boolean,
            t if t.is_integer() => Column::Integer,
            t if t.is_floating() => Column::Float,
            DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => Column::Float,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Column::Text,
            DataType::Dictionary(_, v) => match Column::of(v) {
                Column::Text => Column::Text,
                _ => Column::Other,
            },
            DataType::Date32 | DataType::Date64 | DataType::Time32(_) | DataType::Time64(_) => {
                Column::DateTime
            }
            DataType::Timestamp(..) => Column::Timestamp,
            _ => Column::Other,
        }
    }
}

impl ColumnType for Column {
    fn from_char(c: char) -> Option<Self> {
        Some(match c {
            'B' => Column::Boolean,
            'D' => Column::DateTime,
            'I' => Column::Integer,
            'P' => Column::Timestamp,
            'R' => Column::Float,
            'T' => Column::Text,
            _ => Column::Other,
        })
    }

    fn to_char(&self) -> char {
        match self {
            Column::Boolean => 'B',
            Column::DateTime => 'D',
            Column::Integer => 'I',
            Column::Timestamp => 'P',
            Column::Float => 'R',
            Column::Text => 'T',
            Column::Other => '?',
        }
    }
}

/// The cells of every row of `batch`, as text.
fn rows_of(batch: &RecordBatch) -> Result<Vec<Vec<String>>, String> {
    let options = FormatOptions::default().with_null("NULL");
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(column, f)| cell(column, f, row))
                .collect()
        })
        .collect())
}

fn cell(column: &ArrayRef, formatter: &ArrayFormatter, row: usize) -> String {
    if column.is_null(row) {
        return "NULL".into();
    }
    match column.data_type() {
        DataType::Float64 => float(column.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 | DataType::Float16 => {
            float(formatter.value(row).to_string().parse().unwrap_or(f64::NAN))
        }
        _ => {
            let text = formatter.value(row).to_string();
            match text.is_empty() {
                true => "(empty)".into(),
                false => text.trim_end_matches('\n').to_string(),
            }
        }
    }
}

/// `v` rounded to 12 decimals, without trailing zeros.
fn float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let text = format!("{v:.12}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".into(),
        t => t.into(),
    }
}

/// A row whose last cell has several lines becomes that row without it,
/// followed by one row per line, numbered, leading spaces written as `-`
/// (sqllogictest ignores whitespace differences).
fn expand(mut row: Vec<String>) -> Vec<Vec<String>> {
    let Some(last) = row.last() else {
        return vec![row];
    };
    if !last.contains('\n') {
        return vec![row];
    }
    let last = row.pop().unwrap();
    let mut out = vec![row];
    for (i, line) in last.split('\n').enumerate() {
        let content = line.trim_start();
        let indent = "-".repeat(line.len() - content.len());
        out.push(vec![format!("{:02}){indent}{content}", i + 1)]);
    }
    out
}

/// Removes what depends on the number of cores from one line of a plan.
fn normalize_plan(line: &str) -> String {
    let mut line = file_groups(line);
    for (prefix, close) in [("RoundRobinBatch(", ")"), ("input_partitions=", "")] {
        line = replace_numbers_after(&line, prefix, close);
    }
    hash_partitions(&line)
}

/// `file_groups={2 groups: [[a, c], [b]]}` → `files=[a, b, c]`.
fn file_groups(line: &str) -> String {
    const KEY: &str = "file_groups={";
    let Some(start) = line.find(KEY) else {
        return line.to_string();
    };
    let rest = &line[start + KEY.len()..];
    let Some(end) = rest.find("]]}") else {
        return line.to_string();
    };
    let Some(open) = rest.find("[[") else {
        return line.to_string();
    };
    let mut files: Vec<&str> = rest[open + 2..end]
        .split(", ")
        .map(|f| f.trim_matches(|c| c == '[' || c == ']'))
        .collect();
    files.sort_unstable();
    format!(
        "{}files=[{}]{}",
        &line[..start],
        files.join(", "),
        &rest[end + 3..]
    )
}

/// Replaces the number right after each `prefix` (and before `close`) by `P`.
fn replace_numbers_after(line: &str, prefix: &str, close: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        out.push_str(&rest[..i + prefix.len()]);
        if digits > 0 && after[digits..].starts_with(close) {
            out.push('P');
        } else {
            out.push_str(&after[..digits]);
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// `Hash([a@0, b@1], 2)` → `Hash([a@0, b@1], P)`.
fn hash_partitions(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("Hash([") {
        let after = &rest[i..];
        let Some(close) = after.find("], ") else {
            break;
        };
        let tail = &after[close + 3..];
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        out.push_str(&rest[..i + close + 3]);
        if digits > 0 && tail[digits..].starts_with(')') {
            out.push('P');
        } else {
            out.push_str(&tail[..digits]);
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------
// The store.

/// A series: metric name and labels.
type Series = (&'static str, Labels);

fn series() -> Vec<(Series, f64)> {
    let labels =
        |host: &str, region: &str| Labels::from_pairs([("host", host), ("region", region)]);
    vec![
        (("cpu.load", labels("web01", "eu")), 1.0),
        (("cpu.load", labels("web02", "eu")), 2.0),
        (("cpu.load", labels("db01", "us")), 4.0),
        (("mem.used", labels("web01", "eu")), 1.0),
        (("mem.used", labels("db01", "us")), 4.0),
        (
            (
                "http.requests",
                Labels::from_pairs([("host", "web01"), ("method", "GET"), ("region", "eu")]),
            ),
            1.0,
        ),
    ]
}

/// Every sample of the store (see the module docs).
fn samples() -> Vec<Sample> {
    let mut out = Vec::new();
    for ((metric, labels), base) in series() {
        let mut counter = 0.0;
        for (h, offset) in HOURS.into_iter().enumerate() {
            for i in 0..PER_HOUR {
                let ts_ns = T0 + offset * HOUR_NS + i * STEP_NS;
                let value = match metric {
                    "cpu.load" => base + h as f64 + (i % 4) as f64 / 4.0,
                    "mem.used" => 1000.0 * base + 10.0 * i as f64,
                    _ => {
                        counter = if h == 2 && i == 9 { 0.0 } else { counter + 5.0 };
                        counter
                    }
                };
                out.push(Sample {
                    metric_name: metric.into(),
                    labels: labels.clone(),
                    ts_ns,
                    value,
                });
            }
        }
    }
    out
}

/// The file a sample or window of `metric` goes to in its partition.
fn family(metric: &str) -> &'static str {
    match metric {
        "cpu.load" => "cpu",
        _ => "other",
    }
}

/// Series and window: metric name, label pairs, bucket.
type Key = (String, Vec<(String, String)>, i64);

/// The store of the module docs, in a temporary directory.
async fn store() -> Fixture {
    let f = Fixture::empty().await;
    let samples = samples();

    let mut raw: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for s in &samples {
        let dir = layout::partition_dir(Tier::Raw, Tier::Raw.partition_start(s.ts_ns));
        let name = format!("{dir}/{}.parquet", family(&s.metric_name));
        raw.entry(name).or_default().push(s.clone());
    }
    for (path, samples) in raw {
        write_raw(&f, &path, samples).await;
    }

    for tier in Tier::AGGREGATED {
        let width = tier.resolution_ns().unwrap();
        let mut windows: BTreeMap<Key, Vec<(i64, f64)>> = BTreeMap::new();
        for s in &samples {
            let bucket = s.ts_ns.div_euclid(width) * width;
            let key = (s.metric_name.clone(), s.labels.pairs().to_vec(), bucket);
            windows.entry(key).or_default().push((s.ts_ns, s.value));
        }
        let mut files: BTreeMap<String, BTreeMap<Key, Agg>> = BTreeMap::new();
        for (key, points) in windows {
            let (metric, _, bucket) = &key;
            let hour = bucket.div_euclid(HOUR_NS) * HOUR_NS;
            let dir = layout::partition_dir(tier, tier.partition_start(*bucket));
            let parts: Vec<(String, &[(i64, f64)])> = match tier {
                Tier::Hour => {
                    let hh = (hour - T0).rem_euclid(24 * HOUR_NS) / HOUR_NS;
                    vec![(format!("{dir}/{hh:02}.parquet"), &points[..])]
                }
                _ if family(metric) == "cpu" && hour == T0 + HOUR_NS => vec![
                    (format!("{dir}/cpu-a.parquet"), &points[..1]),
                    (format!("{dir}/cpu-b.parquet"), &points[1..]),
                ],
                _ => vec![(format!("{dir}/{}.parquet", family(metric)), &points[..])],
            };
            for (path, points) in parts {
                let agg = Agg::of_sorted(points).expect("a window has samples");
                files.entry(path).or_default().insert(key.clone(), agg);
            }
        }
        for (path, rows) in files {
            write_agg(&f, tier, &path, &rows).await;
        }
    }
    f
}

async fn write_raw(f: &Fixture, path: &str, samples: Vec<Sample>) {
    let file = DataFile {
        path: path.into(),
        tier: Tier::Raw.dir().into(),
        partition_start_ns: Tier::Raw.partition_start(samples[0].ts_ns),
        min_ts_ns: samples.iter().map(|s| s.ts_ns).min().unwrap(),
        max_ts_ns: samples.iter().map(|s| s.ts_ns).max().unwrap(),
        min_metric: samples
            .iter()
            .map(|s| &s.metric_name)
            .min()
            .unwrap()
            .clone(),
        max_metric: samples
            .iter()
            .map(|s| &s.metric_name)
            .max()
            .unwrap()
            .clone(),
        rows: samples.len() as u64,
        bytes: 0,
        derived_from: None,
    };
    let mut builder = SampleBatchBuilder::new();
    samples.into_iter().for_each(|s| builder.push(s));
    let bytes = strata_storage::parquet::encode_raw(&builder.finish().unwrap()).unwrap();
    publish(f, file, bytes).await;
}

/// Writes `rows` (their keys in storage order) as the file `path` of the
/// aggregated `tier`.
async fn write_agg(f: &Fixture, tier: Tier, path: &str, rows: &BTreeMap<Key, Agg>) {
    let mut builder = AggBatchBuilder::default();
    for ((metric, labels, bucket), agg) in rows {
        let labels = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        builder.push(metric, labels, *bucket, agg);
    }
    let buckets = || rows.keys().map(|k| k.2);
    let metrics = || rows.keys().map(|k| &k.0);
    let file = DataFile {
        path: path.into(),
        tier: tier.dir().into(),
        partition_start_ns: tier.partition_start(buckets().min().unwrap()),
        min_ts_ns: buckets().min().unwrap(),
        max_ts_ns: buckets().max().unwrap(),
        min_metric: metrics().min().unwrap().clone(),
        max_metric: metrics().max().unwrap().clone(),
        rows: rows.len() as u64,
        bytes: 0,
        derived_from: None,
    };
    let bytes = strata_storage::parquet::encode(tier, &builder.finish().unwrap()).unwrap();
    publish(f, file, bytes).await;
}

/// Stores `bytes` as `file` and commits it, as a writer would.
async fn publish(f: &Fixture, mut file: DataFile, bytes: bytes::Bytes) {
    file.bytes = bytes.len() as u64;
    let path = object_store::path::Path::from(file.path.as_str());
    f.log.store().put_durable(&path, bytes, true).await.unwrap();
    let outcome = f
        .log
        .commit(Commit {
            add: vec![file],
            writer: "sqllogictest".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        matches!(outcome, CommitOutcome::Committed { .. }),
        "{outcome:?}"
    );
}

// ---------------------------------------------------------------------------
// Files opened.

/// Files the scans of `tier` open for `sql`, and the rows it returns.
async fn opened(engine: &QueryEngine, tier: Tier, sql: &str) -> (u64, usize) {
    let table = engine.table(tier);
    let before = table.files_scanned();
    let (_, batches) = engine
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    (table.files_scanned() - before, rows)
}

/// A query of one metric over one hour opens one file per tier; the same
/// query over everything opens every file of the tier.
async fn files_scanned_narrow_vs_wide() {
    let f = store().await;
    let engine = f.engine();
    let cases = [
        // (tier, query, files opened, rows)
        (
            Tier::Raw,
            "SELECT * FROM metrics_raw WHERE metric_name = 'mem.used' \
             AND ts >= '2026-01-01T01:00:00Z' AND ts < '2026-01-01T02:00:00Z'",
            1,
            2 * PER_HOUR as usize,
        ),
        (
            Tier::Raw,
            "SELECT * FROM metrics_raw WHERE metric_name = 'disk.free'",
            0,
            0,
        ),
        (Tier::Raw, "SELECT * FROM metrics_raw", 8, 6 * 4 * 18),
        (
            Tier::Raw,
            "SELECT * FROM metrics_raw WHERE ts >= '2026-01-02T00:00:00Z'",
            2,
            6 * 18,
        ),
        (
            Tier::Minute,
            "SELECT * FROM metrics_1m WHERE metric_name = 'cpu.load' \
             AND bucket >= '2026-01-01T01:00:00Z' AND bucket < '2026-01-01T02:00:00Z'",
            2,
            3 * 6,
        ),
        (Tier::Minute, "SELECT * FROM metrics_1m", 9, 6 * 4 * 6),
        (
            Tier::Hour,
            "SELECT * FROM metrics_1h WHERE bucket = '2026-01-02T00:00:00Z'",
            1,
            6,
        ),
        (Tier::Hour, "SELECT * FROM metrics_1h", 4, 6 * 4),
    ];
    for (tier, sql, files, rows) in cases {
        assert_eq!(opened(&engine, tier, sql).await, (files, rows), "{sql}");
    }
}
