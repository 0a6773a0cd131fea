//! Two ingest processes in one consumer group on one topic, one of them
//! leaving mid-stream: partitions move between them through rebalances,
//! and the store still holds every sample exactly once, in raw and in the
//! 1m tier.

mod common;

use std::time::Duration;

use common::*;
use strata_pipeline::produce::{ProduceOptions, produce};

const SAMPLES: u64 = 40_000;

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_share_a_group_without_duplicates() {
    let bed = Bed::new("group");
    let (brokers, topic, store) = (&bed.brokers, &bed.topic, &bed.store);
    let group = format!("{topic}-group");
    let args = [
        "ingest",
        "--brokers",
        brokers,
        "--topic",
        topic,
        "--group",
        &group,
        "--store",
        store,
        "--flush-interval",
        "100ms",
        "--flush-rows",
        "2000",
        "-X",
        "session.timeout.ms=6000",
    ];

    let kafka = bed.kafka();
    let producer = tokio::spawn(async move {
        produce(
            &kafka,
            &ProduceOptions {
                series: 100,
                rate: 5_000,
                samples: SAMPLES,
                per_message: 4,
                start_ns: Some(1_700_000_000_000_000_000),
                step: Duration::from_secs(15),
            },
        )
        .await
        .unwrap()
    });

    let a = Strata::spawn(&args);
    a.wait_for_line("partitions assigned", Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b = Strata::spawn(&args);
    // The group rebalances to share the partitions between a and b.
    b.wait_for_line("partitions assigned", Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // a leaves cleanly; its partitions move to b.
    a.terminate();

    let report = producer.await.unwrap();
    assert_eq!(report.samples, SAMPLES);
    wait_for_rows(bed.dir.path(), SAMPLES, Duration::from_secs(120), &b).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    bed.assert_exactly(SAMPLES, report.value_sum, "two processes")
        .await;
    // Stopping closes b's windows. Each process wrote the windows of the
    // partitions it held, a's closed early when it left: the 1m tier must
    // count every sample once, with one row per series and minute.
    b.terminate();
    let got = query_row(
        bed.dir.path(),
        "SELECT (SELECT sum(\"count\") FROM metrics_1m) AS n, \
         (SELECT sum(\"sum\") FROM metrics_1m) AS total, \
         (SELECT count(*) FROM metrics_1m) AS tier_rows, \
         (SELECT count(*) FROM (SELECT DISTINCT metric_name, labels, \
           date_bin(INTERVAL '1 minute', ts) FROM metrics_raw)) AS raw_windows",
    )
    .await;
    assert_eq!(got[0] as u64, SAMPLES, "samples counted by the 1m tier");
    assert!(
        (got[1] - report.value_sum).abs() < 1e-6 * report.value_sum.abs().max(1.0),
        "1m sum {} != produced {}",
        got[1],
        report.value_sum
    );
    assert_eq!(got[2], got[3], "one 1m row per series and minute");
}
