//! `strata serve --pg-addr`: the real `psql` against the real binary on an
//! empty store. Needs no broker.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{Strata, free_port};

/// Runs `psql -c sql` (unaligned, tuples only) against `port`.
fn psql(port: u16, sql: &str) -> Output {
    Command::new("psql")
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
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGSSLMODE", "disable")
        .output()
        .expect("run psql (is the PostgreSQL client installed?)")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

#[test]
fn psql_queries_an_empty_store_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let pg_port = free_port();
    let strata = Strata::spawn(&[
        "serve".to_string(),
        "--store".into(),
        format!("file://{}", dir.path().display()),
        "--http-addr".into(),
        format!("127.0.0.1:{}", free_port()),
        "--pg-addr".into(),
        format!("127.0.0.1:{pg_port}"),
    ]);
    strata.wait_for_line("PostgreSQL wire protocol", Duration::from_secs(30));

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
    let pg_port = free_port();
    let strata = Strata::spawn(&[
        "serve".to_string(),
        "--store".into(),
        format!("file://{}", dir.path().display()),
        "--http-addr".into(),
        format!("127.0.0.1:{}", free_port()),
        "--pg-addr".into(),
        format!("127.0.0.1:{pg_port}"),
    ]);
    strata.wait_for_line("PostgreSQL wire protocol", Duration::from_secs(30));

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
