//! The query engine over a real store: results, visibility of new commits,
//! file pruning, and what it refuses.

mod common;

use common::{Fixture, HOUR, T0, hour_samples, sample};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use datafusion::arrow::util::pretty::pretty_format_batches;
use strata_query::{Error, QueryEngine};
use strata_schemas::Tier;

async fn batches(engine: &QueryEngine, sql: &str) -> Vec<RecordBatch> {
    engine
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .1
}

/// The single `BIGINT` a query returns.
async fn int(engine: &QueryEngine, sql: &str) -> i64 {
    let b = batches(engine, sql).await;
    let b: Vec<_> = b.iter().filter(|b| b.num_rows() > 0).collect();
    assert_eq!(b.len(), 1, "{sql}");
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// Files the scans of `sql` open.
async fn files_opened(engine: &QueryEngine, sql: &str) -> u64 {
    let before = engine.table(Tier::Raw).files_scanned();
    batches(engine, sql).await;
    engine.table(Tier::Raw).files_scanned() - before
}

fn ts(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    format!("to_timestamp_seconds({secs})")
}

#[tokio::test]
async fn answers_counts_sums_and_labels() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    assert_eq!(int(&engine, "SELECT count(*) FROM metrics_raw").await, 65);

    let b = batches(
        &engine,
        "SELECT sum(value) FROM metrics_raw WHERE metric_name = 'cpu.load'",
    )
    .await;
    // Hosts × Σ_h Σ_i (10 h + i) = 2 × (45 + 145 + 245).
    assert_eq!(b[0].column(0).as_primitive::<Float64Type>().value(0), 870.0);

    let b = batches(
        &engine,
        "SELECT labels['host'] AS host, count(*) AS n FROM metrics_raw GROUP BY 1 ORDER BY 1",
    )
    .await;
    let table = pretty_format_batches(&b).unwrap().to_string();
    let want = "\
+-------+----+
| host  | n  |
+-------+----+
| web01 | 35 |
| web02 | 30 |
+-------+----+";
    assert_eq!(table, want);
}

#[tokio::test]
async fn sees_files_committed_after_it_started() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    assert_eq!(int(&engine, "SELECT count(*) FROM metrics_raw").await, 65);
    f.add_file(vec![sample("cpu.load", "web03", T0 + 3 * HOUR, 7.0)])
        .await;
    assert_eq!(int(&engine, "SELECT count(*) FROM metrics_raw").await, 66);
    let n = int(
        &engine,
        "SELECT count(*) FROM metrics_raw WHERE labels['host'] = 'web03'",
    )
    .await;
    assert_eq!(n, 1);
}

#[tokio::test]
async fn an_empty_store_is_an_empty_table() {
    let f = Fixture::empty().await;
    let engine = f.engine();
    assert_eq!(int(&engine, "SELECT count(*) FROM metrics_raw").await, 0);
    let (schema, b) = engine.sql("SELECT * FROM metrics_raw").await.unwrap();
    assert_eq!(schema, Tier::Raw.schema());
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
}

#[tokio::test]
async fn time_filters_prune_files() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    let hour1 = (ts(T0 + HOUR), ts(T0 + 2 * HOUR));

    assert_eq!(
        files_opened(&engine, "SELECT count(*) FROM metrics_raw").await,
        3
    );

    let sql = format!(
        "SELECT count(*) FROM metrics_raw WHERE ts >= {} AND ts < {}",
        hour1.0, hour1.1
    );
    assert_eq!(files_opened(&engine, &sql).await, 1);
    assert_eq!(int(&engine, &sql).await, 20);

    // String literals, other zones, BETWEEN, reversed comparisons.
    for sql in [
        "SELECT count(*) FROM metrics_raw WHERE ts >= '2023-11-14T23:00:00Z' AND ts < '2023-11-15T00:00:00Z'",
        "SELECT count(*) FROM metrics_raw WHERE ts BETWEEN '2023-11-15T00:00:00+01:00' AND '2023-11-15T00:59:59+01:00'",
        "SELECT count(*) FROM metrics_raw WHERE '2023-11-14T23:00:00Z' <= ts AND ts <= CAST('2023-11-14T23:30:00Z' AS TIMESTAMP)",
        "SELECT count(*) FROM metrics_raw WHERE ts >= TIMESTAMP '2023-11-14 23:00:00' AND ts < TIMESTAMP '2023-11-14 23:00:00' + INTERVAL '1 hour'",
    ] {
        assert_eq!(files_opened(&engine, sql).await, 1, "{sql}");
        assert_eq!(int(&engine, sql).await, 20, "{sql}");
    }

    // Two disjoint hours through OR: their hull spans all three files.
    let sql = "SELECT count(*) FROM metrics_raw WHERE \
               (ts < '2023-11-14T23:00:00Z') OR (ts >= '2023-11-15T00:00:00Z')";
    assert_eq!(files_opened(&engine, sql).await, 3);
    assert_eq!(int(&engine, sql).await, 45);

    // Nothing stored in the last hour of now.
    let sql = "SELECT count(*) FROM metrics_raw WHERE ts > now() - INTERVAL '1 hour'";
    assert_eq!(files_opened(&engine, sql).await, 0);
    assert_eq!(int(&engine, sql).await, 0);

    // A filter on the value prunes no file.
    let sql = "SELECT count(*) FROM metrics_raw WHERE value > 1000";
    assert_eq!(files_opened(&engine, sql).await, 3);
}

#[tokio::test]
async fn metric_filters_prune_files() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    let sql = "SELECT count(*) FROM metrics_raw WHERE metric_name = 'mem.used'";
    assert_eq!(files_opened(&engine, sql).await, 1);
    assert_eq!(int(&engine, sql).await, 5);
    let sql = "SELECT count(*) FROM metrics_raw WHERE metric_name IN ('nope', 'zzz')";
    assert_eq!(files_opened(&engine, sql).await, 0);
    let sql = "SELECT count(*) FROM metrics_raw WHERE metric_name = 'cpu.load' \
               AND ts >= '2023-11-15T00:00:00Z'";
    assert_eq!(files_opened(&engine, sql).await, 1);
    assert_eq!(int(&engine, sql).await, 20);
}

#[tokio::test]
async fn filters_reach_the_parquet_scan() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    let b = batches(
        &engine,
        "EXPLAIN SELECT value FROM metrics_raw WHERE metric_name = 'mem.used' AND ts >= '2023-11-15T00:00:00Z'",
    )
    .await;
    let plan = pretty_format_batches(&b).unwrap().to_string();
    let scan = plan
        .lines()
        .find(|l| l.contains("DataSourceExec"))
        .unwrap_or_else(|| panic!("no scan in\n{plan}"));
    assert!(scan.contains("file_groups={1 group"), "{plan}");
    assert!(
        scan.contains("predicate=") && scan.contains("metric_name@0 = mem.used"),
        "{plan}"
    );
    assert!(scan.contains("pruning_predicate="), "{plan}");
}

#[tokio::test]
async fn limits_and_projections_work() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    let (schema, b) = engine
        .sql("SELECT ts, value FROM metrics_raw ORDER BY ts DESC, value DESC LIMIT 3")
        .await
        .unwrap();
    assert_eq!(schema.fields().len(), 2);
    let values: Vec<f64> = b
        .iter()
        .flat_map(|b| b.column(1).as_primitive::<Float64Type>().values().to_vec())
        .collect();
    assert_eq!(values, vec![29.0, 29.0, 28.0]);
    let b = batches(&engine, "SELECT * FROM metrics_raw LIMIT 2").await;
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    assert_eq!(b[0].column(1).null_count(), 0);
}

#[tokio::test]
async fn bad_sql_is_a_user_error_with_datafusion_message() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    for (sql, needle) in [
        ("SELECT nope FROM metrics_raw", "nope"),
        ("SELECT * FROM metrics_cooked", "metrics_cooked"),
        ("SELEC 1", "SELEC"),
        ("SELECT * FROM 'file:///etc/passwd'", "file:///etc/passwd"),
        ("SELECT * FROM read_parquet('/etc/x')", "read_parquet"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ] {
        let err = engine.sql(sql).await.unwrap_err();
        assert!(err.is_user_error(), "{sql}: {err:?}");
        assert!(err.message().contains(needle), "{sql}: {}", err.message());
    }
}

#[tokio::test]
async fn refuses_writes_before_planning() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    for sql in [
        "CREATE TABLE t AS SELECT * FROM metrics_raw",
        "INSERT INTO metrics_raw SELECT * FROM metrics_raw",
        "DROP TABLE metrics_raw",
        "SET datafusion.execution.target_partitions = 1",
    ] {
        let err = engine.sql(sql).await.unwrap_err();
        assert!(matches!(err, Error::Refused { .. }), "{sql}: {err:?}");
    }
    // Still there, unchanged.
    assert_eq!(int(&engine, "SELECT count(*) FROM metrics_raw").await, 65);
}

#[tokio::test]
async fn show_and_describe_list_the_tier() {
    let f = Fixture::empty().await;
    let engine = f.engine();
    let b = batches(&engine, "SHOW TABLES").await;
    let text = pretty_format_batches(&b).unwrap().to_string();
    assert!(text.contains("metrics_raw"), "{text}");
    let b = batches(&engine, "DESCRIBE metrics_raw").await;
    let text = pretty_format_batches(&b).unwrap().to_string();
    for column in ["metric_name", "labels", "ts", "value"] {
        assert!(text.contains(column), "{text}");
    }
    // A read of hour 0 with the samples of `hour_samples` is what it says.
    assert_eq!(hour_samples(0).len(), 20);
}
