//! Query latency on 100+ million samples: Strata's SQL endpoint against
//! DuckDB over the same Parquet files, the `1h` tier against raw for a
//! 30-day dashboard, and the series endpoint.
//!
//! ```text
//! cargo bench --bench query_vs_duckdb
//! STRATA_BENCH_DIR=/big/disk/query STRATA_BENCH_RUNS=9 STRATA_BENCH_EXPLAIN=1 cargo bench --bench query_vs_duckdb
//! ```
//!
//! The data set (`support/query_dataset.rs`: 50 node-exporter-like hosts,
//! 2,000 series, 30 days at 30 s, 172.8 million samples) is written once
//! through ingest's own writers and maintenance into
//! `STRATA_BENCH_DIR` (default `~/.cache/strata-bench/query-v<version>`,
//! 2.0 GB: raw 0.44, 1m 1.54, 1h 0.05; about 10 minutes on 2 cores) and
//! reused while its version matches.
//!
//! 1. Three queries, each written once and run unchanged by both engines:
//!    a point lookup of one series over an hour, an aggregate by a label
//!    over a day, the top 10 series over a week. Strata answers through
//!    `POST /api/v1/sql` (JSON) of an in-process server on 127.0.0.1;
//!    DuckDB (`benches/query_vs_duckdb.py`, Python package `duckdb`, 2
//!    threads, footers cached) reads the committed files of the store
//!    through views of the same names. Both results are compared (rows and
//!    values) before timing; each engine's time includes fetching the
//!    result. Strata runs without its result cache (DuckDB has none).
//!    Target: Strata within 1.2× of DuckDB.
//! 2. A 30-day dashboard query (hourly average per host of one metric)
//!    over `metrics_1h` against the same over `metrics_raw`, both through
//!    Strata, results compared. Target: `1h` at least 100× faster.
//! 3. `GET /api/v1/series` for 100 series over 24 hours at a 60 s step
//!    (the `1m` tier), on a server with `cache_bytes` 0 and on one with the
//!    default cache. Target: median under 20 ms uncached, under 2 ms
//!    cached.
//!
//! Medians over `STRATA_BENCH_RUNS` runs (default 7, at least 5) and
//! `STRATA_BENCH_REQUESTS` series requests (default 30, at least 20), after
//! one untimed run each; the two sides of each comparison alternate, so
//! that other load on the machine weighs on both alike (the load average
//! is printed). `STRATA_BENCH_EXPLAIN=1` also prints both engines'
//! `EXPLAIN ANALYZE` of every query and where a series request's time
//! goes; `STRATA_BENCH_PYTHON` names the interpreter (default `python3`).

#[path = "support/query_dataset.rs"]
mod dataset;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use strata_query::{QueryEngine, QueryOptions};
use strata_schemas::Tier;
use strata_storage::TableLog;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// One SQL query of the comparison, run as written by both engines.
struct Query {
    name: &'static str,
    sql: &'static str,
}

const POINT: Query = Query {
    name: "point lookup, 1 series × 1 h",
    sql: "SELECT ts, value FROM metrics_raw \
          WHERE metric_name = 'node_cpu_seconds_total' \
          AND labels['instance'] = 'host-017:9100' AND labels['cpu'] = '1' AND labels['mode'] = 'user' \
          AND ts >= '2026-01-15T12:00:00Z' AND ts < '2026-01-15T13:00:00Z' \
          ORDER BY ts",
};

const BY_LABEL: Query = Query {
    name: "aggregate by label, 1 day",
    sql: "SELECT labels['mode'] AS mode, count(*) AS samples, min(value) AS min, \
          max(value) AS max, avg(value) AS avg FROM metrics_raw \
          WHERE metric_name = 'node_cpu_seconds_total' \
          AND ts >= '2026-01-20T00:00:00Z' AND ts < '2026-01-21T00:00:00Z' \
          GROUP BY 1 ORDER BY 1",
};

const TOP_K: Query = Query {
    name: "top 10 series, 1 week",
    sql: "SELECT labels['instance'] AS instance, labels['cpu'] AS cpu, labels['mode'] AS mode, \
          max(value) - min(value) AS seconds FROM metrics_raw \
          WHERE metric_name = 'node_cpu_seconds_total' AND labels['mode'] <> 'idle' \
          AND ts >= '2026-01-08T00:00:00Z' AND ts < '2026-01-15T00:00:00Z' \
          GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3 LIMIT 10",
};

const DASH_1H: Query = Query {
    name: "30-day hourly avg per host, metrics_1h",
    sql: "SELECT labels['instance'] AS instance, bucket AS hour, sum(sum) / sum(count) AS avg \
          FROM metrics_1h WHERE metric_name = 'node_load1' \
          AND bucket >= '2026-01-01T00:00:00Z' AND bucket < '2026-01-31T00:00:00Z' \
          GROUP BY 1, 2 ORDER BY 1, 2",
};

const DASH_RAW: Query = Query {
    name: "30-day hourly avg per host, metrics_raw",
    sql: "SELECT labels['instance'] AS instance, date_trunc('hour', ts) AS hour, avg(value) AS avg \
          FROM metrics_raw WHERE metric_name = 'node_load1' \
          AND ts >= '2026-01-01T00:00:00Z' AND ts < '2026-01-31T00:00:00Z' \
          GROUP BY 1, 2 ORDER BY 1, 2",
};

/// Rows shaped like the dashboard's answer (instance, hour, average; 50
/// hosts × 720 hours), generated rather than read: what encoding and
/// sending such an answer costs.
const RESULT_FLOOR: &str = "SELECT concat('host-', lpad(CAST(value % 50 AS VARCHAR), 3, '0'), ':9100') AS instance, \
    to_timestamp_seconds(1767225600 + (value / 50) * 3600) AS hour, \
    CAST(value AS DOUBLE) / 7.0 AS avg FROM generate_series(0, 35999) ORDER BY 1, 2";

/// The series request: `node_cpu_seconds_total` of mode `user` on cpus 0
/// and 1 of the 50 hosts (100 series), 2026-01-20, 60 s step, average.
const SERIES_QUERY: &str = "metric=node_cpu_seconds_total\
    &match=mode%3D%22user%22%2Ccpu%3D~%220%7C1%22\
    &start=2026-01-20T00:00:00Z&end=2026-01-21T00:00:00Z&step=60&agg=avg";

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo test --benches` passes no `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // Two workers: the machine's cores, as DuckDB gets two threads.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

/// One line of the summary.
struct Row {
    what: String,
    strata_ms: f64,
    other_ms: Option<f64>,
    ratio: Option<f64>,
    target: String,
    met: Option<bool>,
}

async fn run() {
    let dir = std::env::var_os("STRATA_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME");
            PathBuf::from(home)
                .join(".cache/strata-bench")
                .join(format!("query-v{}", dataset::VERSION))
        });
    let runs: usize = env("STRATA_BENCH_RUNS", 7).max(5);
    let requests: usize = env("STRATA_BENCH_REQUESTS", 30).max(20);
    let explain = env("STRATA_BENCH_EXPLAIN", 0) != 0;

    let log = dataset::open_or_generate(&dir).await;
    println!("load average before measuring: {}", load());
    println!("\n## data set: {}", dir.display());
    let mut total = 0;
    for tier in Tier::ALL {
        let (files, rows, bytes) = dataset::tier_size(&log, tier).await;
        total += bytes;
        println!(
            "  {:<12} {files:>5} files {rows:>12} rows {:>8.1} MB {:>6.3} bytes/row",
            tier.table_name(),
            bytes as f64 / 1e6,
            bytes as f64 / rows as f64
        );
    }
    println!(
        "  {} samples, {:.1} MB on disk in all tiers",
        dataset::samples(),
        total as f64 / 1e6
    );

    // Every SQL measurement runs without the result cache (DuckDB has
    // none): each run plans, prunes and reads. The cached series requests
    // go to a second server with the default options.
    let uncached = QueryOptions {
        cache_bytes: 0,
        ..QueryOptions::default()
    };
    let strata = Strata::start(&log, uncached).await;
    let mut summary = Vec::new();

    // 1. Strata against DuckDB.
    let queries = [POINT, BY_LABEL, TOP_K];
    println!("\n## the same SQL, Strata (HTTP, JSON) and DuckDB, same files\n");
    for q in &queries {
        println!("{}:\n  {}\n", q.name, q.sql);
    }
    println!("(identical text for both engines: no dialect difference needed)\n");
    let mut duck = DuckDb::start(&log).await;
    println!("DuckDB {} with {}\n", duck.version, duck.settings);
    for q in &queries {
        let (rows, _) = strata.sql(q.sql).await;
        let compared = compare(q.name, &rows, &duck.result(q.sql).await);
        // Alternating, so that load from elsewhere on the machine weighs
        // on both engines alike.
        let (mut times, mut dt) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            times.push(strata.sql(q.sql).await.1);
            dt.push(duck.time(q.sql).await);
        }
        let (s, dm) = (median(&mut times), median(&mut dt));
        println!(
            "{:<30} {compared}; Strata median {s:>8.2} ms ({}), DuckDB median {dm:>8.2} ms ({}), Strata/DuckDB {:.2}×",
            q.name,
            show(&times),
            show(&dt),
            s / dm
        );
        if explain {
            println!("\nStrata EXPLAIN ANALYZE:\n{}", strata.explain(q.sql).await);
            println!("DuckDB EXPLAIN ANALYZE:\n{}\n", duck.explain(q.sql).await);
        }
        summary.push(Row {
            what: format!("{} (vs DuckDB)", q.name),
            strata_ms: s,
            other_ms: Some(dm),
            ratio: Some(s / dm),
            target: "Strata/DuckDB ≤ 1.2".into(),
            met: Some(s / dm <= 1.2),
        });
    }
    drop(duck);

    // 2. 30-day dashboard: 1h tier against raw.
    println!("\n## 30-day dashboard, both through Strata\n");
    println!("{}:\n  {}\n", DASH_1H.name, DASH_1H.sql);
    println!("{}:\n  {}\n", DASH_RAW.name, DASH_RAW.sql);
    let (hour_rows, _) = strata.sql(DASH_1H.sql).await;
    let (raw_rows, _) = strata.sql(DASH_RAW.sql).await;
    assert_eq!(
        hour_rows.len(),
        dataset::HOSTS * 30 * 24,
        "one row per host and hour"
    );
    let same = same_rows(&hour_rows, &raw_rows);
    assert!(same.is_ok(), "1h and raw differ: {}", same.unwrap_err());
    println!("results equal: {} rows", hour_rows.len());
    let (mut t1h, mut traw) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        t1h.push(strata.sql(DASH_1H.sql).await.1);
        traw.push(strata.sql(DASH_RAW.sql).await.1);
    }
    let (h, r) = (median(&mut t1h), median(&mut traw));
    println!(
        "metrics_1h median {h:.2} ms (runs {}), metrics_raw median {r:.2} ms (runs {}), raw/1h {:.1}×",
        show(&t1h),
        show(&traw),
        r / h
    );
    // The floor under any answer of this shape: the same number of rows
    // of the same columns, computed from nothing, encoded and sent.
    let mut floor = Vec::new();
    for _ in 0..runs {
        floor.push(strata.sql(RESULT_FLOOR).await.1);
    }
    let floor = median(&mut floor);
    println!(
        "returning {} rows of the same shape, computed from nothing: {floor:.2} ms \
         (a 100× ratio needs the 1h query to finish within {:.2} ms)",
        hour_rows.len(),
        r / 100.0
    );
    if explain {
        println!(
            "\n1h EXPLAIN ANALYZE:\n{}",
            strata.explain(DASH_1H.sql).await
        );
        println!(
            "raw EXPLAIN ANALYZE:\n{}",
            strata.explain(DASH_RAW.sql).await
        );
    }
    summary.push(Row {
        what: "30-day dashboard, 1h vs raw".into(),
        strata_ms: h,
        other_ms: Some(r),
        ratio: Some(r / h),
        target: "raw/1h ≥ 100".into(),
        met: Some(r / h >= 100.0),
    });

    // 3. Series endpoint.
    println!("\n## GET /api/v1/series?{SERIES_QUERY}\n");
    let body = strata.series().await.0;
    let series = body["series"].as_array().expect("series");
    assert_eq!(body["tier"], "1m", "{}", body["tier"]);
    assert_eq!(series.len(), 100, "100 series");
    assert!(
        series
            .iter()
            .all(|s| s["points"].as_array().unwrap().len() == 24 * 60),
        "a point per minute"
    );
    println!(
        "tier 1m, 100 series × 1440 points, {:.1} MB of JSON",
        body.to_string().len() as f64 / 1e6
    );
    let cached = Strata::start(&log, QueryOptions::default()).await;
    let first = cached.series().await;
    assert_eq!(first.0, body, "the cached server answers the same");
    // Alternating, as above.
    let (mut times, mut ctimes) = (Vec::new(), Vec::new());
    for _ in 0..requests {
        times.push(strata.series().await.1);
        let (b, ms) = cached.series().await;
        assert_eq!(b["series"].as_array().map(Vec::len), Some(100));
        ctimes.push(ms);
    }
    let (m, c) = (median(&mut times), median(&mut ctimes));
    println!(
        "uncached (cache_bytes 0): median {m:.2} ms over {requests} requests ({})",
        show(&times)
    );
    println!(
        "cached (default options, {} MiB; the first request, {:.2} ms, filled it): median {c:.2} ms ({})",
        QueryOptions::default().cache_bytes >> 20,
        first.1,
        show(&ctimes)
    );
    if explain {
        series_diagnostics(&strata, &cached, requests).await;
    }
    summary.push(Row {
        what: "series, 100 × 24 h at 60 s, uncached".into(),
        strata_ms: m,
        other_ms: None,
        ratio: None,
        target: "median < 20 ms".into(),
        met: Some(m < 20.0),
    });
    summary.push(Row {
        what: "series, 100 × 24 h at 60 s, cached".into(),
        strata_ms: c,
        other_ms: None,
        ratio: None,
        target: "median < 2 ms".into(),
        met: Some(c < 2.0),
    });

    println!("\nload average after measuring: {}", load());
    println!("\n## summary (medians, ms)\n");
    println!(
        "| {:<42} | {:>10} | {:>16} | {:>7} | {:<28} | {:<4} |",
        "measurement", "Strata", "DuckDB / raw", "ratio", "target", "met"
    );
    println!(
        "|{:-<44}|{:->12}|{:->18}|{:->9}|{:-<30}|{:-<6}|",
        "", "", "", "", "", ""
    );
    for r in &summary {
        let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        println!(
            "| {:<42} | {:>10} | {:>16} | {:>7} | {:<28} | {:<4} |",
            r.what,
            format!("{:.2}", r.strata_ms),
            opt(r.other_ms, 2),
            opt(r.ratio, 2),
            r.target,
            match r.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
        );
    }
}

/// Where the series request's time goes: the fixed cost of a request
/// (`SELECT 1`), and the series request narrowed to one host, or to 24
/// points per series (`1h`), each uncached and cached.
async fn series_diagnostics(uncached: &Strata, cached: &Strata, requests: usize) {
    println!("\ndiagnostics (medians over {requests} requests, uncached / cached):");
    let mut t = Vec::new();
    for _ in 0..requests {
        t.push(uncached.sql("SELECT 1").await.1);
    }
    println!("  POST /api/v1/sql SELECT 1: {:.2} ms", median(&mut t));
    println!(
        "\nEXPLAIN ANALYZE of the statement the series request runs over the stored 1m parts \
         (as query/src/series/gauge.rs writes it):\n{}\n",
        parts_explain(uncached, SERIES_PARTS_SQL).await
    );
    // The fixed steps of every series request, cached or not.
    let engine = &uncached.engine;
    let (mut snap_t, mut cov_t, mut session_t, mut plan_t) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..requests {
        let t = Instant::now();
        let snap = engine.snapshot().await.expect("snapshot");
        snap_t.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        std::hint::black_box(strata_query::series::coverage(&snap));
        cov_t.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let ctx = parts_session(engine);
        session_t.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let frame = ctx.sql(SERIES_PARTS_SQL).await.expect("plan");
        frame.create_physical_plan().await.expect("physical plan");
        plan_t.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "  fixed steps: snapshot {:.2} ms, coverage {:.2} ms, new session with parts tables {:.2} ms, \
         planning the 1m statement (logical + physical, file pruning) {:.2} ms",
        median(&mut snap_t),
        median(&mut cov_t),
        median(&mut session_t),
        median(&mut plan_t)
    );
    let one = SERIES_QUERY.replace("&match=", "&match=instance%3D%22host-017%3A9100%22%2C");
    let hourly = SERIES_QUERY.replace("step=60", "step=3600");
    for (what, q) in [
        ("one host, step 60 s", one.as_str()),
        ("all hosts, step 1 h", hourly.as_str()),
    ] {
        let (body, _) = cached.series_of(q).await;
        let (mut u, mut c) = (Vec::new(), Vec::new());
        for _ in 0..requests {
            u.push(uncached.series_of(q).await.1);
            c.push(cached.series_of(q).await.1);
        }
        println!(
            "  {what}, tier {}, {} series, {:.0} KB: {:.2} / {:.2} ms",
            body["tier"],
            body["series"].as_array().map_or(0, Vec::len),
            body.to_string().len() as f64 / 1e3,
            median(&mut u),
            median(&mut c)
        );
    }
}

/// What the series request's `1m` segment reads: the statement of
/// `query/src/series/gauge.rs` for `avg` without `by` at the tier's
/// resolution (the stored rows, no grouping), over the stored parts.
const SERIES_PARTS_SQL: &str = "SELECT labels AS g0, bucket AS t, sum, count \
    FROM metrics_1m_parts WHERE metric_name = 'node_cpu_seconds_total' \
    AND bucket >= to_timestamp_nanos(1768867200000000000) \
    AND bucket < to_timestamp_nanos(1768953600000000000) \
    AND coalesce(labels['mode'], '') = 'user' \
    AND regexp_like(coalesce(labels['cpu'], ''), '^(?:0|1)$')";

/// A session of `engine` where the aggregated tiers' stored parts are
/// tables, as `query/src/series.rs`'s `Reader` makes one per request.
fn parts_session(engine: &QueryEngine) -> datafusion::prelude::SessionContext {
    let ctx = engine.new_session().expect("session");
    for tier in Tier::AGGREGATED {
        let table = Arc::clone(engine.table(tier));
        ctx.register_table(format!("{}_parts", tier.table_name()), table)
            .expect("register");
    }
    ctx
}

/// `EXPLAIN ANALYZE` of `sql` in a session of `strata`'s engine where the
/// aggregated tiers' stored parts are tables, as the series API reads them.
async fn parts_explain(strata: &Strata, sql: &str) -> String {
    let ctx = parts_session(&strata.engine);
    let frame = ctx
        .sql(&format!("EXPLAIN ANALYZE {sql}"))
        .await
        .expect("plan");
    let batches = frame.collect().await.expect("run");
    datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .expect("format")
        .to_string()
}

/// Strata's HTTP API in this process.
struct Strata {
    engine: Arc<QueryEngine>,
    client: reqwest::Client,
    base: String,
}

impl Strata {
    /// Serves a [`QueryEngine`] over `log` with `options` on 127.0.0.1.
    async fn start(log: &Arc<TableLog>, options: QueryOptions) -> Self {
        let engine = QueryEngine::with_options(Arc::clone(log), options).expect("query engine");
        let engine = Arc::new(engine);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(strata_query::http::serve(
            listener,
            Arc::clone(&engine),
            std::future::pending(),
        ));
        Self {
            engine,
            client: reqwest::Client::new(),
            base: format!("http://{addr}"),
        }
    }

    /// Runs `sql` through `POST /api/v1/sql` in JSON: the rows and the
    /// milliseconds from sending the request to the last byte of the body.
    async fn sql(&self, sql: &str) -> (Vec<Value>, f64) {
        let t = Instant::now();
        let resp = self
            .client
            .post(format!("{}/api/v1/sql", self.base))
            .json(&json!({"sql": sql, "format": "json"}))
            .send()
            .await
            .expect("send");
        let status = resp.status();
        let body = resp.bytes().await.expect("body");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(
            status.is_success(),
            "{sql}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        let rows: Vec<Value> = serde_json::from_slice(&body).expect("JSON rows");
        (rows, ms)
    }

    /// The series request: the answer and its milliseconds.
    async fn series(&self) -> (Value, f64) {
        self.series_of(SERIES_QUERY).await
    }

    /// `GET /api/v1/series?{query}`: the answer and the milliseconds to
    /// its last byte.
    async fn series_of(&self, query: &str) -> (Value, f64) {
        let t = Instant::now();
        let resp = self
            .client
            .get(format!("{}/api/v1/series?{query}", self.base))
            .send()
            .await
            .expect("send");
        let status = resp.status();
        let body = resp.bytes().await.expect("body");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(
            status.is_success(),
            "{status} {}",
            String::from_utf8_lossy(&body)
        );
        (serde_json::from_slice(&body).expect("JSON"), ms)
    }

    /// `EXPLAIN ANALYZE` of `sql`, the physical plan with its metrics.
    async fn explain(&self, sql: &str) -> String {
        let (rows, _) = self.sql(&format!("EXPLAIN ANALYZE {sql}")).await;
        rows.iter()
            .filter_map(|r| r["plan"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// DuckDB in a Python process (`benches/query_vs_duckdb.py`) with views
/// over the store's committed files, answering one request per line.
struct DuckDb {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    version: String,
    settings: Value,
}

impl DuckDb {
    async fn start(log: &TableLog) -> Self {
        let snap = log.snapshot().await.expect("snapshot");
        let root = log.store().local_root().expect("a local store");
        let mut tiers = serde_json::Map::new();
        for tier in Tier::ALL {
            let mut paths: Vec<String> = snap
                .files_of(tier.dir())
                .map(|f| root.join(&f.path).display().to_string())
                .collect();
            paths.sort();
            tiers.insert(tier.dir().into(), json!(paths));
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/query_vs_duckdb.py");
        let python = std::env::var("STRATA_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = tokio::process::Command::new(&python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {python} {script}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut duck = Self {
            child,
            stdin,
            stdout,
            version: String::new(),
            settings: Value::Null,
        };
        let hello = duck.request(json!({"threads": 2, "tiers": tiers})).await;
        duck.version = hello["duckdb"].as_str().unwrap_or("?").to_string();
        duck.settings = hello["settings"].clone();
        duck
    }

    async fn request(&mut self, req: Value) -> Value {
        let mut line = req.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to DuckDB");
        match self.stdout.next_line().await.expect("read from DuckDB") {
            Some(answer) => serde_json::from_str(&answer).expect("DuckDB's JSON"),
            None => panic!("DuckDB script exited: {:?}", self.child.wait().await),
        }
    }

    /// Columns and rows of `sql`.
    async fn result(&mut self, sql: &str) -> Value {
        self.request(json!({"op": "result", "sql": sql})).await
    }

    /// Milliseconds to run `sql` and fetch its result.
    async fn time(&mut self, sql: &str) -> f64 {
        let answer = self.request(json!({"op": "time", "sql": sql})).await;
        answer["ms"].as_f64().expect("ms")
    }

    async fn explain(&mut self, sql: &str) -> String {
        let answer = self.request(json!({"op": "explain", "sql": sql})).await;
        answer["plan"].as_str().unwrap_or_default().to_string()
    }
}

/// Checks that Strata's rows (JSON objects) equal DuckDB's (arrays in
/// `columns` order); panics with the first difference.
fn compare(name: &str, strata: &[Value], duck: &Value) -> String {
    let columns: Vec<&str> = duck["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let rows = duck["rows"].as_array().unwrap();
    assert!(!strata.is_empty(), "{name}: no rows");
    assert_eq!(strata.len(), rows.len(), "{name}: row counts differ");
    for (i, (s, d)) in strata.iter().zip(rows).enumerate() {
        for (j, c) in columns.iter().enumerate() {
            let (a, b) = (plain(&s[*c]), &d[j]);
            assert!(
                same_value(&a, b),
                "{name}: row {i} column {c}: Strata {a}, DuckDB {b}"
            );
        }
    }
    format!("same {} rows", strata.len())
}

/// Whether two result sets of Strata (JSON objects) hold the same rows.
fn same_rows(a: &[Value], b: &[Value]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} rows against {}", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let (x, y) = (x.as_object().unwrap(), y.as_object().unwrap());
        for (k, v) in x {
            if !same_value(&plain(v), &plain(&y[k])) {
                return Err(format!("row {i} column {k}: {v} against {}", y[k]));
            }
        }
    }
    Ok(())
}

/// Strata's JSON value with RFC 3339 times as Unix microseconds, as the
/// DuckDB script writes them.
fn plain(v: &Value) -> Value {
    match v.as_str().map(chrono::DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => json!(t.timestamp_micros()),
        _ => v.clone(),
    }
}

/// Equal strings, nulls and integers (counts, times); floats equal within
/// a relative 1e-9 (sums in another order).
fn same_value(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

/// `/proc/loadavg`: other work on the machine skews every figure.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn show(v: &[f64]) -> String {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("{:.1}…{:.1}", v[0], v[v.len() - 1])
}
