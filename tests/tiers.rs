//! Write-time aggregation end to end on the real broker: the `1m` and `1h`
//! tiers equal an aggregation of `metrics_raw` computed directly with SQL,
//! row for row, for streams that arrive out of order, late, with series
//! spread over several partitions, and across repeated SIGKILLs.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use datafusion::arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_pipeline::produce::{ProduceOptions, produce};
use strata_storage::{Store, TableLog};

const SEC: i64 = 1_000_000_000;
const HOUR: i64 = 3600 * SEC;

/// A row of an aggregated tier, in the column order of `metrics_1m`.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    series: String,
    bucket: i64,
    count: i64,
    sum: f64,
    min: f64,
    max: f64,
    first_ts: i64,
    first: f64,
    last_ts: i64,
    last: f64,
    increase: f64,
}

/// The tier's rows as SQL users see them.
fn tier_sql(table: &str) -> String {
    format!(
        "SELECT metric_name, labels, CAST(bucket AS BIGINT) AS b, \"count\", \"sum\", \"min\", \
         \"max\", CAST(first_ts AS BIGINT), \"first\", CAST(last_ts AS BIGINT), \"last\", \
         increase FROM {table} ORDER BY metric_name, labels, b"
    )
}

/// The same rows computed from `metrics_raw` directly: the definition the
/// tiers must meet. `increase` is the reset-corrected counter increase over
/// the window's samples ordered by time, then value.
fn raw_sql(width: &str) -> String {
    format!(
        "WITH s AS ( \
           SELECT metric_name, labels, date_bin(INTERVAL '{width}', ts) AS bucket, ts, value, \
             lag(value) OVER (PARTITION BY metric_name, labels, date_bin(INTERVAL '{width}', ts) \
                              ORDER BY ts, value) AS prev \
           FROM metrics_raw) \
         SELECT metric_name, labels, CAST(bucket AS BIGINT) AS b, count(*), sum(value), min(value), \
           max(value), CAST(min(ts) AS BIGINT), first_value(value ORDER BY ts, value), \
           CAST(max(ts) AS BIGINT), last_value(value ORDER BY ts, value), \
           sum(CASE WHEN prev IS NULL THEN 0.0 WHEN value >= prev THEN value - prev \
                    ELSE value END) \
         FROM s GROUP BY metric_name, labels, bucket ORDER BY metric_name, labels, b"
    )
}

async fn engine(dir: &std::path::Path) -> strata_query::QueryEngine {
    let store = Store::open(&format!("file://{}", dir.display())).unwrap();
    let log = Arc::new(TableLog::open(store).await.unwrap());
    strata_query::QueryEngine::new(log).unwrap()
}

async fn rows(dir: &std::path::Path, sql: &str) -> Vec<Row> {
    let (_, batches) = engine(dir).await.sql(sql).await.unwrap();
    batches.iter().flat_map(batch_rows).collect()
}

fn batch_rows(b: &RecordBatch) -> Vec<Row> {
    let opts = FormatOptions::default();
    let name = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    let labels = ArrayFormatter::try_new(b.column(1).as_ref(), &opts).unwrap();
    let i = |c: usize| b.column(c).as_any().downcast_ref::<Int64Array>().unwrap();
    let f = |c: usize| b.column(c).as_any().downcast_ref::<Float64Array>().unwrap();
    (0..b.num_rows())
        .map(|r| Row {
            series: format!("{}{}", name.value(r), labels.value(r)),
            bucket: i(2).value(r),
            count: i(3).value(r),
            sum: f(4).value(r),
            min: f(5).value(r),
            max: f(6).value(r),
            first_ts: i(7).value(r),
            first: f(8).value(r),
            last_ts: i(9).value(r),
            last: f(10).value(r),
            increase: f(11).value(r),
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Asserts `got` equals `want` row for row. Sums are compared to float
/// rounding (they are added in a different order); everything else exactly.
/// `with_increase: false` skips `increase`, which may be an estimate until
/// compaction repairs windows whose parts interleaved.
fn assert_rows(got: &[Row], want: &[Row], with_increase: bool, context: &str) {
    assert_eq!(got.len(), want.len(), "row count; {context}");
    for (g, w) in got.iter().zip(want) {
        let same = g.series == w.series
            && (g.bucket, g.count, g.first_ts, g.last_ts)
                == (w.bucket, w.count, w.first_ts, w.last_ts)
            && (g.min, g.max, g.first, g.last) == (w.min, w.max, w.first, w.last)
            && close(g.sum, w.sum)
            && (!with_increase || close(g.increase, w.increase));
        assert!(same, "{context}:\n got {g:?}\nwant {w:?}");
    }
}

/// Compares both tiers with the recomputation from raw.
async fn assert_tiers_match_raw(dir: &std::path::Path, with_increase: bool, context: &str) {
    let m = rows(dir, &tier_sql("metrics_1m")).await;
    assert_rows(
        &m,
        &rows(dir, &raw_sql("1 minute")).await,
        with_increase,
        &format!("1m; {context}"),
    );
    let h = rows(dir, &tier_sql("metrics_1h")).await;
    assert_rows(
        &h,
        &rows(dir, &raw_sql("1 hour")).await,
        with_increase,
        &format!("1h; {context}"),
    );
}

/// Runs compaction (which repairs estimated windows from raw) and then the
/// 1h rollup, as the maintenance schedule does.
async fn maintain(dir: &std::path::Path) {
    let store = Store::open(&format!("file://{}", dir.display())).unwrap();
    let log = Arc::new(TableLog::open(store).await.unwrap());
    let c = strata_maintain::compact::compact(&log, &Default::default())
        .await
        .unwrap();
    let r = strata_maintain::rollup::rollup(&log, &Default::default())
        .await
        .unwrap();
    eprintln!("compaction: {c:?}\nrollup: {r:?}");
}

/// Polls until the 1m tier accounts for `want` samples: every window
/// closed and written.
async fn wait_for_windows(dir: &std::path::Path, want: u64, proc: &Strata) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let got = query_row(dir, "SELECT coalesce(sum(\"count\"), 0) FROM metrics_1m").await[0];
        if got as u64 == want {
            return;
        }
        assert!(
            got as u64 <= want,
            "1m tier counts {got} samples, more than {want}"
        );
        if std::time::Instant::now() >= deadline {
            panic!(
                "1m tier counts {got} of {want} samples; missing:\n{}\nlog:\n{}",
                missing_windows(dir).await,
                proc.dump()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Windows whose 1m count differs from raw, and the log's window marks.
async fn missing_windows(dir: &std::path::Path) -> String {
    let sql = "WITH r AS (SELECT metric_name, labels, date_bin(INTERVAL '1 minute', ts) AS bucket, \
               count(*) AS n, min(ts) AS lo, max(ts) AS hi FROM metrics_raw GROUP BY 1, 2, 3) \
               SELECT r.metric_name, r.labels, r.bucket, r.n, m.\"count\", r.lo, r.hi FROM r \
               LEFT JOIN metrics_1m m ON r.metric_name = m.metric_name AND r.labels = m.labels \
               AND r.bucket = m.bucket WHERE m.\"count\" IS NULL OR m.\"count\" <> r.n LIMIT 20";
    let (_, batches) = engine(dir).await.sql(sql).await.unwrap();
    let table = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap();
    let store = Store::open(&format!("file://{}", dir.display())).unwrap();
    let snap = TableLog::open(store)
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    format!(
        "{table}\noffsets {:?}\nmarks {:?}",
        snap.offsets, snap.windows
    )
}

/// Event times near now, so retention never touches them: `hours_back`
/// whole hours before the current hour.
fn recent_hour(hours_back: i64) -> i64 {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    (now / HOUR - hours_back) * HOUR
}

fn ingest_args(bed: &Bed, group: &str, extra: &[&str]) -> Vec<String> {
    [
        "ingest",
        "--brokers",
        &bed.brokers,
        "--topic",
        &bed.topic,
        "--store",
        &bed.store,
        "--group",
        group,
        "--idle-timeout",
        "2s",
        "--maintenance-interval",
        "0",
        "-X",
        "session.timeout.ms=6000",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect()
}

/// Out of order, late beyond the allowed lateness, one series spread over
/// several partitions, counters with resets: the tiers still equal the
/// direct aggregation, merged corrections before compaction and folded
/// after.
#[tokio::test(flavor = "multi_thread")]
async fn tiers_equal_raw_recomputation_for_disordered_streams() {
    let bed = Bed::new("tiers");
    let mut rng = StdRng::seed_from_u64(7);
    let start = recent_hour(3) + 40 * 60 * SEC; // 20 minutes before an hour boundary
    // (arrival time, key, sample JSON)
    let mut events: Vec<(i64, String, String)> = Vec::new();
    let mut counters = [0.0f64; 30];
    for step in 0..900i64 {
        let ts = start + step * 5 * SEC; // 75 minutes of event time
        for (series, counter) in counters.iter_mut().enumerate() {
            if rng.random_range(0..3) != 0 {
                continue;
            }
            *counter = match rng.random_range(0..40) {
                0 => f64::from(rng.random_range(0..5u8)), // reset
                _ => *counter + f64::from(rng.random_range(0..100u8)) / 4.0,
            };
            let delay = match rng.random_range(0..100) {
                0..=2 => rng.random_range(120..600) * SEC, // later than the lateness
                3..=12 => rng.random_range(1..40) * SEC,
                _ => 0,
            };
            // Series 0-4 are keyed at random: they land on every partition.
            let key = match series < 5 {
                true => format!("any{}", rng.random_range(0..100)),
                false => format!("s{series}"),
            };
            let json = format!(
                r#"{{"metric_name":"req.total","labels":{{"host":"h{series}","dc":"{}"}},"timestamp":{},"value":{counter}}}"#,
                ["a", "b"][series % 2],
                ts as f64 / 1e9,
            );
            events.push((ts + delay, key, json));
        }
    }
    events.sort_by_key(|e| e.0);
    let total = events.len() as u64;
    // Mostly one sample per message, some arrays.
    let messages: Vec<(String, Vec<u8>)> = events
        .chunks(3)
        .flat_map(|c| match c.len() == 3 && c[0].1 == c[1].1 {
            true => vec![
                (
                    c[0].1.clone(),
                    format!("[{},{}]", c[0].2, c[1].2).into_bytes(),
                ),
                (c[2].1.clone(), c[2].2.clone().into_bytes()),
            ],
            false => c
                .iter()
                .map(|e| (e.1.clone(), e.2.clone().into_bytes()))
                .collect(),
        })
        .collect();

    let p = Strata::spawn(&ingest_args(&bed, &format!("{}-g", bed.topic), &[]));
    p.wait_for_line("ingest started", Duration::from_secs(60));
    produce_raw(&bed.brokers, &bed.topic, &messages).await;
    let dir = bed.dir.path();
    wait_for_rows(dir, total, Duration::from_secs(120), &p).await;
    wait_for_windows(dir, total, &p).await;
    p.terminate();

    let files = query_row(dir, "SELECT count(*) FROM metrics_1m").await[0];
    assert!(files > 0.0);
    // Before compaction: corrections are merged by the query.
    let m = rows(dir, &tier_sql("metrics_1m")).await;
    assert_rows(
        &m,
        &rows(dir, &raw_sql("1 minute")).await,
        false,
        "1m before compaction",
    );
    // After compaction and rollup: everything, increase included.
    maintain(dir).await;
    assert_tiers_match_raw(dir, true, "after compaction").await;
    // Maintenance again changes nothing.
    maintain(dir).await;
    assert_tiers_match_raw(dir, true, "after a second maintenance").await;
}

/// SIGKILL ingest repeatedly during a stream spanning several minute and
/// hour boundaries (event time): the tiers equal what a clean run writes,
/// which is the direct aggregation of the raw tier.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_stream_leaves_tiers_exact() {
    const SAMPLES: u64 = 40_000;
    let bed = Bed::new("tiercrash");
    let kafka = bed.kafka();
    let start = recent_hour(3) + 30 * 60 * SEC;
    let producer = tokio::spawn(async move {
        produce(
            &kafka,
            &ProduceOptions {
                series: 200,
                rate: 4_000,
                samples: SAMPLES,
                per_message: 5,
                start_ns: Some(start),
                // 200 points per series, 30 s apart: 100 minutes.
                step: Duration::from_secs(30),
            },
        )
        .await
        .unwrap()
    });
    let dir = bed.dir.path();
    let small = [
        "--flush-interval",
        "50ms",
        "--flush-rows",
        "1500",
        "-X",
        "max.partition.fetch.bytes=20000",
        "-X",
        "fetch.wait.max.ms=100",
    ];
    let mut at_kill = Vec::new();
    for (round, delay_ms) in [900u64, 600, 1300, 400, 1000].into_iter().enumerate() {
        // A new group per run: tansu never evicts a SIGKILLed member.
        let p = Strata::spawn(&ingest_args(
            &bed,
            &format!("{}-run{round}", bed.topic),
            &small,
        ));
        p.wait_for_line("ingest started", Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        p.kill();
        let windows = query_row(dir, "SELECT coalesce(sum(\"count\"), 0) FROM metrics_1m").await[0];
        at_kill.push(windows as u64);
    }
    let report = producer.await.unwrap();
    assert_eq!(report.samples, SAMPLES);
    assert!(
        at_kill.iter().filter(|n| **n > 0 && **n < SAMPLES).count() >= 2,
        "kills did not land mid-stream ({at_kill:?}): the test proved nothing"
    );
    let last = Strata::spawn(&ingest_args(&bed, &format!("{}-last", bed.topic), &small));
    wait_for_rows(dir, SAMPLES, Duration::from_secs(120), &last).await;
    wait_for_windows(dir, SAMPLES, &last).await;
    last.terminate();
    bed.assert_exactly(
        SAMPLES,
        report.value_sum,
        &format!("windows at kills {at_kill:?}"),
    )
    .await;
    maintain(dir).await;
    assert_tiers_match_raw(dir, true, &format!("windows at kills {at_kill:?}")).await;
    let per_hour = rows(dir, &tier_sql("metrics_1h")).await;
    let hours: HashMap<i64, usize> = per_hour.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.bucket).or_default() += 1;
        m
    });
    assert!(
        hours.len() >= 2,
        "the stream spans hour boundaries: {hours:?}"
    );
    eprintln!("1m samples counted at each kill: {at_kill:?}");
}
