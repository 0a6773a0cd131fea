//! The PostgreSQL wire protocol of `strata serve` and `strata up`
//! (`--pg-addr`): the real `psql` (Debian's `postgresql-client`) and
//! `tokio-postgres` (the extended protocol, as Grafana's pgx driver speaks
//! it) against the real binary, on an empty store and on a store with
//! samples. Needs no broker.

mod common;

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Strata, free_port};
use strata_schemas::{Labels, Sample, SampleBatchBuilder, Tier};
use strata_storage::{Commit, CommitOutcome, DataFile, Store, TableLog, layout};

/// 2026-01-01T00:00:00Z in seconds.
const T0: i64 = 1_767_225_600;

/// Panics with instructions unless `psql` runs.
fn require_psql() {
    let found = Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "psql not found: these tests need the PostgreSQL client \
         (`apt-get install postgresql-client`; `scripts/test` installs it)"
    );
}

fn psql_command(port: u16) -> Command {
    require_psql();
    let mut command = Command::new("psql");
    command
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "strata",
            "-d",
            "strata",
            "-X",
            "-A",
            "-t",
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGSSLMODE", "disable");
    command
}

/// Runs `psql -c sql` (unaligned, tuples only, stop at the first error)
/// against `port`.
fn psql(port: u16, sql: &str) -> Output {
    psql_command(port)
        .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("run psql")
}

/// Runs `script` in one psql session, going on after errors, as a user
/// typing statements one after another would.
fn psql_session(port: u16, script: &str) -> Output {
    use std::io::Write;
    let mut child = psql_command(port)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run psql");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// Asserts that psql succeeded and returns what it printed.
fn ok(out: Output, strata: &Strata) -> String {
    assert!(
        out.status.success(),
        "{}; log:\n{}",
        stderr(&out),
        strata.dump()
    );
    stdout(&out)
}

/// A store on disk holding, from [`T0`] on, every 15 s for 10 minutes,
/// `cpu.load` of hosts web01 (valued `i`, the sample's index 0..40) and
/// web02 (`100 + 2 i`), region eu, and `mem.used` of web01 (`1000 + i`).
async fn store_with_samples() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
    let log = Arc::new(TableLog::open(store).await.unwrap());
    let mut samples = Vec::new();
    for i in 0..40 {
        let ts_ns = (T0 + 15 * i) * 1_000_000_000;
        let labels = |host: &str| Labels::from_pairs([("host", host), ("region", "eu")]);
        for (metric, host, value) in [
            ("cpu.load", "web01", i as f64),
            ("cpu.load", "web02", 100.0 + 2.0 * i as f64),
            ("mem.used", "web01", 1000.0 + i as f64),
        ] {
            samples.push(Sample {
                metric_name: metric.into(),
                labels: labels(host),
                ts_ns,
                value,
            });
        }
    }
    let start = Tier::Raw.partition_start(samples[0].ts_ns);
    let path = layout::new_data_file(&layout::partition_dir(Tier::Raw, start));
    let file = DataFile {
        path: path.to_string(),
        tier: Tier::Raw.dir().into(),
        partition_start_ns: start,
        min_ts_ns: samples.iter().map(|s| s.ts_ns).min().unwrap(),
        max_ts_ns: samples.iter().map(|s| s.ts_ns).max().unwrap(),
        min_metric: "cpu.load".into(),
        max_metric: "mem.used".into(),
        rows: samples.len() as u64,
        bytes: 0,
        derived_from: None,
    };
    let mut builder = SampleBatchBuilder::new();
    samples.into_iter().for_each(|s| builder.push(s));
    let bytes = strata_storage::parquet::encode_raw(&builder.finish().unwrap()).unwrap();
    let file = DataFile {
        bytes: bytes.len() as u64,
        ..file
    };
    log.store().put_durable(&path, bytes, true).await.unwrap();
    let outcome = log
        .commit(Commit {
            add: vec![file],
            writer: "pgwire tests".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    dir
}

/// `strata serve` over the store in `dir`, with the PostgreSQL wire
/// protocol on the returned port.
fn serve(dir: &std::path::Path) -> (Strata, u16) {
    let pg_port = free_port();
    let strata = Strata::spawn(&[
        "serve".to_string(),
        "--store".into(),
        format!("file://{}", dir.display()),
        "--http-addr".into(),
        format!("127.0.0.1:{}", free_port()),
        "--pg-addr".into(),
        format!("127.0.0.1:{pg_port}"),
    ]);
    strata.wait_for_line("PostgreSQL wire protocol", Duration::from_secs(30));
    (strata, pg_port)
}

/// What Grafana's PostgreSQL data source sends for a time series panel
/// written as
///
/// ```sql
/// SELECT $__timeGroupAlias(ts, '1m'), labels['host'] AS metric, avg(value) AS value
/// FROM metrics_raw WHERE $__timeFilter(ts) AND metric_name = 'cpu.load'
/// GROUP BY 1, 2 ORDER BY 1
/// ```
///
/// over 00:02:00 to 00:05:59 (its macros expanded as Grafana's
/// `macros.go` does).
const GRAFANA_TIME_SERIES: &str = "SELECT floor(extract(epoch from ts)/60)*60 AS \"time\", \
    labels['host'] AS metric, avg(value) AS value \
    FROM metrics_raw \
    WHERE ts BETWEEN '2026-01-01T00:02:00Z' AND '2026-01-01T00:05:59Z' AND metric_name = 'cpu.load' \
    GROUP BY 1,2 \
    ORDER BY 1";

/// The rows [`GRAFANA_TIME_SERIES`] must return, sorted by time and host:
/// minute `m` holds samples `4m..4m+3`, so web01 averages `4m + 1.5` and
/// web02 `100 + 2 (4m + 1.5)`.
fn grafana_expected() -> Vec<(f64, String, f64)> {
    let mut rows = Vec::new();
    for m in 2..6 {
        let time = (T0 + 60 * m) as f64;
        let avg = 4.0 * m as f64 + 1.5;
        rows.push((time, "web01".to_string(), avg));
        rows.push((time, "web02".to_string(), 100.0 + 2.0 * avg));
    }
    rows
}

/// Grafana's queries for its data source's configuration page and query
/// editor: the server version, TimescaleDB, the table list.
const GRAFANA_VERSION: &str = "SELECT current_setting('server_version_num')::int/100 as version";
const GRAFANA_TIMESCALEDB: &str =
    "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'";
const GRAFANA_TABLES: &str = r#"SELECT
    CASE WHEN
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          ) THEN 0 ELSE 1 END, 1"#;

#[test]
fn psql_queries_an_empty_store_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let (strata, pg_port) = serve(dir.path());

    let out = psql(pg_port, "SELECT 1");
    assert!(
        out.status.success(),
        "{}; log:\n{}",
        stderr(&out),
        strata.dump()
    );
    assert_eq!(stdout(&out), "1");

    // What Grafana's `$__timeGroup(ts, '1m')` and `$__timeFilter(ts)`
    // expand to, over an empty tier: no rows, no error.
    let grafana = "SELECT floor(extract(epoch from ts)/60)*60 AS time, avg(value) \
                   FROM metrics_raw \
                   WHERE ts BETWEEN '2026-01-01T00:00:00Z' AND '2026-01-02T00:00:00Z' \
                   GROUP BY 1 ORDER BY 1";
    let out = psql(pg_port, grafana);
    assert!(
        out.status.success(),
        "{}; log:\n{}",
        stderr(&out),
        strata.dump()
    );
    assert_eq!(stdout(&out), "");

    // Values, types and several rows come through.
    let out = psql(
        pg_port,
        "SELECT x, x * 1.5 AS y, 'a' || CAST(x AS VARCHAR) AS s FROM (VALUES (1), (2)) AS t(x) ORDER BY x",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1|1.5|a1\n2|3.0|a2");

    // Per-connection session statements clients send are accepted.
    let out = psql(
        pg_port,
        "SET application_name = 'grafana'; BEGIN; SELECT 2; COMMIT",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "SET\nBEGIN\n2\nCOMMIT");

    for (sql, kind) in [
        ("CREATE TABLE t (a INT)", "CREATE TABLE"),
        (
            "INSERT INTO metrics_raw SELECT * FROM metrics_raw",
            "INSERT",
        ),
        ("DROP TABLE metrics_raw", "DROP TABLE"),
        ("SET datafusion.execution.batch_size = 1", "SET"),
    ] {
        let out = psql(pg_port, sql);
        assert!(!out.status.success(), "{sql} was accepted");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{kind} is not allowed")) && err.contains("read-only"),
            "{sql}: {err}"
        );
    }

    // DataFusion's own DDL does not even parse in the PostgreSQL dialect.
    let out = psql(
        pg_port,
        "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
    );
    assert!(!out.status.success(), "CREATE EXTERNAL TABLE was accepted");

    // The refused statements changed nothing.
    let out = psql(pg_port, "SELECT count(*) FROM metrics_raw");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "0");

    strata.terminate();
}

/// The extended query protocol (Parse/Describe/Bind/Execute), which
/// Grafana's driver (pgx) uses for every query, with and without
/// parameters.
#[tokio::test]
async fn extended_protocol_queries_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (strata, pg_port) = serve(dir.path());

    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={pg_port} user=grafana dbname=strata"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap_or_else(|e| panic!("connect: {e}; log:\n{}", strata.dump()));
    tokio::spawn(connection);

    let rows = client.query("SELECT 1 AS one", &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i64>("one"), 1);

    let rows = client
        .query("SELECT $1::BIGINT + 1 AS n", &[&41_i64])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>("n"), 42);

    let rows = client
        .query(
            "SELECT floor(extract(epoch from ts)/60)*60 AS time, avg(value) AS value \
             FROM metrics_raw \
             WHERE ts BETWEEN '2026-01-01T00:00:00Z' AND '2026-01-02T00:00:00Z' \
             GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    assert!(rows.is_empty());

    let err = client
        .query("CREATE TABLE t (a INT)", &[])
        .await
        .unwrap_err();
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "25006", "{db}");
    assert!(db.message().contains("CREATE TABLE is not allowed"), "{db}");

    drop(client);
    strata.terminate();
}

/// psql over real samples: rows with labels and timestamps, Grafana's
/// time series query and its startup queries, and a refused write that
/// leaves the session working.
#[tokio::test]
async fn psql_reads_samples_and_grafana_queries() {
    let dir = store_with_samples().await;
    let (strata, port) = serve(dir.path());

    let out = psql(
        port,
        "SELECT metric_name, labels['host'] AS host, ts, value FROM metrics_raw \
         WHERE metric_name = 'cpu.load' AND labels['host'] = 'web02' ORDER BY ts LIMIT 2",
    );
    assert_eq!(
        ok(out, &strata),
        "cpu.load|web02|2026-01-01 00:00:00.000000+00|100.0\n\
         cpu.load|web02|2026-01-01 00:00:15.000000+00|102.0"
    );

    // The whole row: the labels map comes as JSON text.
    let out = psql(
        port,
        "SELECT * FROM metrics_raw WHERE metric_name = 'mem.used' ORDER BY ts DESC LIMIT 1",
    );
    assert_eq!(
        ok(out, &strata),
        r#"mem.used|{"host": "web01", "region": "eu"}|2026-01-01 00:09:45.000000+00|1039.0"#
    );

    let out = psql(port, GRAFANA_TIME_SERIES);
    let mut rows: Vec<(f64, String, f64)> = ok(out, &strata)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (
                f[0].parse().unwrap(),
                f[1].to_string(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(rows, grafana_expected());

    assert_eq!(ok(psql(port, GRAFANA_VERSION), &strata), "1600");
    assert_eq!(ok(psql(port, GRAFANA_TIMESCALEDB), &strata), "");
    assert_eq!(
        ok(psql(port, GRAFANA_TABLES), &strata),
        "public.alerts\npublic.metrics_1h\npublic.metrics_1m\npublic.metrics_raw"
    );
    let version = ok(psql(port, "SELECT version()"), &strata);
    assert!(version.starts_with("PostgreSQL 16.6 (Strata"), "{version}");
    // pgx's ping.
    assert_eq!(ok(psql(port, "-- ping"), &strata), "");

    // A refused write is an error on the same session, which goes on.
    let out = psql_session(
        port,
        "INSERT INTO metrics_raw SELECT * FROM metrics_raw;\n\
         SELECT count(*) FROM metrics_raw;\n\
         DROP TABLE metrics_raw;\n\
         SELECT count(*) FROM metrics_raw WHERE metric_name = 'cpu.load';\n",
    );
    let err = stderr(&out);
    assert_eq!(stdout(&out), "120\n80", "{err}");
    assert!(
        err.contains("INSERT is not allowed") && err.contains("DROP TABLE is not allowed"),
        "{err}"
    );
    assert!(!err.contains("connection"), "{err}");

    strata.terminate();
}

/// tokio-postgres over real samples: the extended protocol with binary
/// results, as Grafana's driver uses it.
#[tokio::test]
async fn extended_protocol_reads_samples_and_survives_refusals() {
    let dir = store_with_samples().await;
    let (strata, port) = serve(dir.path());
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=grafana dbname=strata"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap_or_else(|e| panic!("connect: {e}; log:\n{}", strata.dump()));
    let connection = tokio::spawn(connection);

    // pgx's ping, then Grafana's startup queries.
    client.batch_execute("-- ping").await.unwrap();
    let rows = client.query(GRAFANA_VERSION, &[]).await.unwrap();
    // DataFusion divides in BIGINT.
    assert_eq!(rows[0].get::<_, i64>("version"), 1600);
    assert!(
        client
            .query(GRAFANA_TIMESCALEDB, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let tables: Vec<String> = client
        .query(GRAFANA_TABLES, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        tables.contains(&"public.metrics_raw".to_string()),
        "{tables:?}"
    );

    let mut rows: Vec<(f64, String, f64)> = client
        .query(GRAFANA_TIME_SERIES, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}; log:\n{}", strata.dump()))
        .iter()
        .map(|r| (r.get("time"), r.get("metric"), r.get("value")))
        .collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(rows, grafana_expected());

    // Parameters, labels and timestamps.
    let rows = client
        .query(
            "SELECT labels, ts, value FROM metrics_raw \
             WHERE metric_name = $1 AND labels['host'] = $2 AND ts >= $3 \
             ORDER BY ts LIMIT 2",
            &[
                &"cpu.load",
                &"web01",
                &(UNIX_EPOCH + Duration::from_secs((T0 + 60) as u64)),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}; log:\n{}", strata.dump()));
    let got: Vec<(String, SystemTime, f64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let at = |s: i64| UNIX_EPOCH + Duration::from_secs(s as u64);
    let labels = r#"{"host": "web01", "region": "eu"}"#.to_string();
    assert_eq!(
        got,
        vec![
            (labels.clone(), at(T0 + 60), 4.0),
            (labels, at(T0 + 75), 5.0)
        ]
    );

    // Refused writes answer 25006 and the connection keeps working.
    for sql in [
        "INSERT INTO metrics_raw SELECT * FROM metrics_raw",
        "DELETE FROM metrics_raw",
        "COPY (SELECT 1) TO '/tmp/strata-pgwire.csv'",
    ] {
        let err = client.query(sql, &[]).await.unwrap_err();
        let db = err
            .as_db_error()
            .unwrap_or_else(|| panic!("{sql}: not a server error: {err}"));
        assert_eq!(db.code().code(), "25006", "{sql}: {db}");
        let rows = client
            .query("SELECT count(*) AS n FROM metrics_raw", &[])
            .await
            .unwrap_or_else(|e| panic!("after {sql}: {e}"));
        assert_eq!(rows[0].get::<_, i64>("n"), 120);
    }
    // The connection's statement_timeout bounds a query, as the server's
    // --query-timeout does, and cancels it.
    client
        .batch_execute("SET statement_timeout = 300")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = client
        .query("SELECT sum(value) FROM range(100000000000)", &[])
        .await
        .unwrap_err();
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "57014", "{db}");
    assert!(db.message().contains("300ms"), "{db}");
    assert!(started.elapsed() < Duration::from_secs(20));
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();

    let err = client
        .batch_execute("SELECT 1; DROP TABLE metrics_raw")
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "25006");
    assert!(!client.is_closed());
    client.batch_execute("SELECT 1").await.unwrap();

    drop(client);
    connection.await.unwrap().unwrap();
    strata.terminate();
}

/// `strata up --pg-addr` serves the same protocol next to ingest.
#[test]
fn up_serves_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = runtime.block_on(store_with_samples());
    let pg_port = free_port();
    let up = Strata::spawn(&[
        "up".to_string(),
        "--store".into(),
        format!("file://{}", dir.path().display()),
        "--http-addr".into(),
        format!("127.0.0.1:{}", free_port()),
        "--pg-addr".into(),
        format!("127.0.0.1:{pg_port}"),
    ]);
    up.wait_for_line("PostgreSQL wire protocol", Duration::from_secs(60));
    let out = psql(
        pg_port,
        "SELECT labels['host'] AS host, count(*) FROM metrics_raw GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(ok(out, &up), "web01|80\nweb02|40");
    let out = psql(pg_port, "CREATE TABLE t (a INT)");
    assert!(
        stderr(&out).contains("CREATE TABLE is not allowed"),
        "{}",
        stderr(&out)
    );
    up.terminate();
}
