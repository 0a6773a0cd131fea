//! Two ingest processes in one consumer group on one topic, one of them
//! leaving mid-stream: partitions move between them through rebalances,
//! and the store still holds every sample exactly once.

mod common;

use std::time::Duration;

use common::*;
use strata_pipeline::KafkaConfig;
use strata_pipeline::produce::{ProduceOptions, produce};

const SAMPLES: u64 = 40_000;

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_share_a_group_without_duplicates() {
    let brokers = broker();
    let topic = unique_topic("group");
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().display());
    let group = format!("{topic}-group");
    let args = [
        "ingest",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        "--group",
        &group,
        "--store",
        &store,
        "--flush-interval",
        "100ms",
        "--flush-rows",
        "2000",
        "-X",
        "session.timeout.ms=6000",
    ];

    let mut kafka = KafkaConfig::new(&brokers);
    kafka.topic = topic.clone();
    kafka.dlq_topic = format!("{topic}.dlq");
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
    wait_for_rows(dir.path(), SAMPLES, Duration::from_secs(120), &b).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = query_row(
        dir.path(),
        "SELECT count(*), count(DISTINCT concat(metric_name, labels['host'], \
         labels['region'], CAST(ts AS VARCHAR))), sum(value) FROM metrics_raw",
    )
    .await;
    assert_eq!(got[0] as u64, SAMPLES);
    assert_eq!(got[1] as u64, SAMPLES, "duplicates");
    assert!((got[2] - report.value_sum).abs() < 1e-6 * report.value_sum.abs().max(1.0));
    b.terminate();
}
