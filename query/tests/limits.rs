//! Guard rails and the result cache, through the engine and a real HTTP
//! server: a runaway query hits its timeout, memory or result limit with a
//! clear error while small queries keep being answered, and a cached
//! result is never served once the files it read have changed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Fixture, HOUR, T0, hour_samples, sample};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use strata_query::{Error, QueryEngine, QueryOptions};
use strata_storage::{Commit, CommitOutcome};

/// Runs for minutes unless stopped: a count over 10^11 generated rows.
const RUNAWAY: &str = "SELECT count(*) FROM generate_series(1, 100000000000)";
/// A hash join whose build side needs tens of MiB: it cannot spill.
const HUNGRY: &str = "SELECT count(*) FROM generate_series(1, 3000000) a \
                      JOIN generate_series(1, 3000000) b ON a.value = b.value";
const SMALL: &str = "SELECT count(*) AS n FROM metrics_raw WHERE metric_name = 'cpu.load'";

fn engine(fixture: &Fixture, options: QueryOptions) -> Arc<QueryEngine> {
    Arc::new(QueryEngine::with_options(Arc::clone(&fixture.log), options).unwrap())
}

fn options() -> QueryOptions {
    QueryOptions {
        timeout: Duration::from_secs(30),
        memory_limit: 64 << 20,
        max_result_bytes: 1 << 20,
        max_concurrent: 4,
        cache_bytes: 16 << 20,
        series_index: true,
    }
}

fn single_i64(batches: &[RecordBatch]) -> i64 {
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    let b = batches.iter().find(|b| b.num_rows() == 1).unwrap();
    b.column(0).as_primitive::<Int64Type>().value(0)
}

fn single_f64(batches: &[RecordBatch]) -> f64 {
    let b = batches.iter().find(|b| b.num_rows() == 1).unwrap();
    b.column(0).as_primitive::<Float64Type>().value(0)
}

/// Runs `SMALL` every 50 ms until `done` resolves; every run must succeed
/// within `bound`. Returns how many ran.
async fn small_queries_meanwhile(
    engine: &QueryEngine,
    bound: Duration,
    done: impl std::future::Future<Output = ()>,
) -> usize {
    tokio::pin!(done);
    let mut ran = 0;
    loop {
        tokio::select! {
            _ = &mut done => return ran,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                let started = Instant::now();
                let (_, batches) = engine.sql(SMALL).await.expect("small query");
                assert_eq!(single_i64(&batches), 60);
                let took = started.elapsed();
                assert!(took < bound, "a small query took {took:?} beside the heavy one");
                ran += 1;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_query_times_out_while_small_queries_succeed() {
    let fixture = Fixture::with_hours().await;
    let engine = engine(
        &fixture,
        QueryOptions {
            timeout: Duration::from_secs(2),
            ..options()
        },
    );
    let heavy = {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move {
            let started = Instant::now();
            (engine.sql(RUNAWAY).await, started.elapsed())
        })
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(async move {
        let out = heavy.await.unwrap();
        let _ = tx.send(());
        out
    });
    let ran = small_queries_meanwhile(&engine, Duration::from_secs(1), async {
        let _ = rx.await;
    })
    .await;
    let (result, took) = watcher.await.unwrap();
    let err = result.expect_err("the runaway query must not finish");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("2s") && message.contains("--query-timeout"),
        "{message}"
    );
    assert!(
        took < Duration::from_secs(4),
        "cancelled only after {took:?}"
    );
    assert!(ran >= 10, "only {ran} small queries ran in {took:?}");
    // The slot is free again.
    assert_eq!(single_i64(&engine.sql(SMALL).await.unwrap().1), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hungry_query_fails_clearly_while_small_queries_succeed() {
    let fixture = Fixture::with_hours().await;
    let engine = engine(
        &fixture,
        QueryOptions {
            memory_limit: 8 << 20,
            ..options()
        },
    );
    let heavy = {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move { engine.sql(HUNGRY).await })
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(async move {
        let out = heavy.await.unwrap();
        let _ = tx.send(());
        out
    });
    small_queries_meanwhile(&engine, Duration::from_secs(2), async {
        let _ = rx.await;
    })
    .await;
    let err = watcher.await.unwrap().expect_err("over the memory limit");
    assert!(matches!(err, Error::MemoryLimit { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("8.0 MiB") && message.contains("--query-memory-limit"),
        "{message}"
    );
    assert!(err.is_user_error());
    // The same query passes with a larger budget: the limit, not the
    // query, failed it.
    let roomy = self::engine(&fixture, options());
    assert_eq!(single_i64(&roomy.sql(HUNGRY).await.unwrap().1), 3_000_000);
}

#[tokio::test]
async fn oversized_result_is_refused() {
    let fixture = Fixture::empty().await;
    let engine = engine(&fixture, options());
    let err = engine
        .sql("SELECT * FROM generate_series(1, 1000000)")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ResultTooLarge { .. }), "{err:?}");
    assert!(
        err.to_string().contains("--query-max-result-bytes"),
        "{err}"
    );
    // Aggregated, the same rows are fine.
    let (_, batches) = engine
        .sql("SELECT count(*) FROM generate_series(1, 1000000)")
        .await
        .unwrap();
    assert_eq!(single_i64(&batches), 1_000_000);
}

/// A statement waiting for a slot past its timeout is told the server is
/// busy, over HTTP with `503` and `Retry-After`; limits are `422`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_statuses_of_the_limits() {
    let fixture = Fixture::with_hours().await;
    let engine = engine(
        &fixture,
        QueryOptions {
            timeout: Duration::from_secs(1),
            max_concurrent: 1,
            ..options()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/sql", listener.local_addr().unwrap());
    tokio::spawn(strata_query::http::serve(
        listener,
        Arc::clone(&engine),
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let post = |sql: &str| {
        client
            .post(&url)
            .json(&serde_json::json!({ "sql": sql }))
            .send()
    };

    let heavy = tokio::spawn(post(RUNAWAY));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // With its own, shorter timeout, a small query gives up waiting for
    // the slot the runaway holds.
    let busy = client
        .post(&url)
        .json(&serde_json::json!({ "sql": SMALL, "timeout": "300ms" }))
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    let body: serde_json::Value = busy.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("busy"), "{body}");
    let timed_out = heavy.await.unwrap().unwrap();
    assert_eq!(timed_out.status(), 503);
    let body: serde_json::Value = timed_out.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("--query-timeout"),
        "{body}"
    );

    let big = post("SELECT * FROM generate_series(1, 1000000)")
        .await
        .unwrap();
    assert_eq!(big.status(), 422);
    // GET with the statement in the query string, for curl.
    let got = client
        .get(&url)
        .query(&[("q", SMALL), ("format", "csv")])
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), "n\n60\n");
    let bad = client.get(&url).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("?q="), "{body}");
}

#[tokio::test]
async fn cache_hits_until_the_files_read_change() {
    let fixture = Fixture::with_hours().await;
    let engine = engine(&fixture, options());
    // Hours 0 and 1 only.
    let sql = format!(
        "SELECT sum(value) FROM metrics_raw WHERE metric_name = 'cpu.load' \
         AND ts >= to_timestamp_nanos({T0}) AND ts < to_timestamp_nanos({})",
        T0 + 2 * HOUR
    );
    let first = single_f64(&engine.sql(&sql).await.unwrap().1);
    let again = single_f64(&engine.sql(&sql).await.unwrap().1);
    assert_eq!(first, again);
    let stats = engine.cache_stats();
    assert_eq!((stats.hits, stats.misses), (1, 1), "{stats:?}");
    assert!(stats.bytes > 0);

    // A file outside the range does not change what the query reads: still
    // a hit.
    fixture
        .add_file(vec![sample("cpu.load", "web01", T0 + 5 * HOUR, 1000.0)])
        .await;
    assert_eq!(single_f64(&engine.sql(&sql).await.unwrap().1), first);
    assert_eq!(engine.cache_stats().hits, 2);

    // A late sample inside the range: the answer changes at once.
    let late = fixture
        .add_file(vec![sample(
            "cpu.load",
            "web03",
            T0 + 30 * 60_000_000_000,
            0.5,
        )])
        .await;
    let with_late = single_f64(&engine.sql(&sql).await.unwrap().1);
    assert_eq!(with_late, first + 0.5);
    assert_eq!(engine.cache_stats().misses, 2);

    // A compaction of the range (same rows, new file, old ones removed):
    // a new key, and the same answer.
    let snapshot = fixture.log.snapshot().await.unwrap();
    let old: Vec<String> = snapshot
        .files_of("raw")
        .filter(|f| f.min_ts_ns < T0 + HOUR)
        .map(|f| f.path.clone())
        .collect();
    assert_eq!(old.len(), 2, "hour 0 and the late file");
    let mut merged = hour_samples(0);
    merged.push(sample("cpu.load", "web03", late.min_ts_ns, 0.5));
    let replacement = fixture.write_file(merged).await;
    let outcome = fixture
        .log
        .commit(Commit {
            add: vec![replacement],
            remove: old,
            writer: "compaction".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    assert_eq!(single_f64(&engine.sql(&sql).await.unwrap().1), with_late);
    assert_eq!(engine.cache_stats().misses, 3);
}

#[tokio::test]
async fn volatile_and_now_relative_statements_are_not_served_stale() {
    let fixture = Fixture::empty().await;
    let engine = engine(&fixture, options());
    let value = |batches: Vec<RecordBatch>| format!("{:?}", batches[0].column(0));
    let a = value(engine.sql("SELECT random()").await.unwrap().1);
    let b = value(engine.sql("SELECT random()").await.unwrap().1);
    assert_ne!(a, b);
    let a = value(engine.sql("SELECT now()").await.unwrap().1);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let b = value(engine.sql("SELECT now()").await.unwrap().1);
    assert_ne!(a, b);
    assert_eq!(engine.cache_stats().hits, 0);
}

#[tokio::test]
async fn cache_size_zero_disables_it() {
    let fixture = Fixture::with_hours().await;
    let engine = engine(
        &fixture,
        QueryOptions {
            cache_bytes: 0,
            ..options()
        },
    );
    for _ in 0..3 {
        engine.sql(SMALL).await.unwrap();
    }
    let stats = engine.cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (0, 0, 0));
}

/// A whole series answer is cached, and a late sample in its range changes
/// the answer at once.
#[tokio::test]
async fn series_answers_are_cached_until_their_files_change() {
    let fixture = Fixture::with_hours().await;
    let engine = engine(&fixture, options());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/series", listener.local_addr().unwrap());
    tokio::spawn(strata_query::http::serve(
        listener,
        Arc::clone(&engine),
        std::future::pending(),
    ));
    let start = (T0 / 1_000_000_000).to_string();
    let end = ((T0 + HOUR) / 1_000_000_000).to_string();
    let get = || async {
        let response = reqwest::Client::new()
            .get(&url)
            .query(&[
                ("metric", "cpu.load"),
                ("start", start.as_str()),
                ("end", end.as_str()),
                ("step", "3600"),
                ("agg", "sum"),
                ("by", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        body["series"][0]["points"][0][1].as_f64().unwrap()
    };
    let first = get().await;
    let hits = engine.cache_stats().hits;
    assert_eq!(get().await, first);
    assert_eq!(engine.cache_stats().hits, hits + 1);
    fixture
        .add_file(vec![sample("cpu.load", "web03", T0 + 60_000_000_000, 0.5)])
        .await;
    assert_eq!(get().await, first + 0.5);
}
