//! A topic recreated under the same name on the same cluster: the store
//! remembers offsets far beyond the new topic's end. Apache Kafka answers
//! such a fetch with OFFSET_OUT_OF_RANGE and the consumer resets to the
//! beginning; ingest must then read the new messages as new rather than
//! skip them as already stored.
//!
//! Runs on librdkafka's mock broker, which answers like Apache Kafka here
//! (tansu 0.6 instead holds the fetch open until the partition grows).

mod common;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::mocking::MockCluster;
use strata_pipeline::{IngestOptions, IngestStats, KafkaConfig};
use strata_storage::{Commit, OffsetRange, Store, TableLog};

#[tokio::test(flavor = "multi_thread")]
async fn offsets_of_a_previous_incarnation_do_not_hide_new_messages() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("metrics", 2, 1).unwrap();
    cluster.create_topic("metrics.dlq", 2, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
    let log = Arc::new(TableLog::open(store).await.unwrap());

    // A previous incarnation of the topic was consumed up to 1,000,000.
    let source = "same-cluster/metrics".to_string();
    log.commit(Commit {
        offsets: (0..2)
            .map(|p| OffsetRange {
                source: source.clone(),
                partition: p,
                from: None,
                to: 1_000_000,
                window: None,
            })
            .collect(),
        ..Default::default()
    })
    .await
    .unwrap();

    let messages: Vec<(String, Vec<u8>)> = (0..200)
        .map(|i| {
            let body = format!(
                r#"{{"metric_name":"m","labels":{{"i":"{i}"}},"timestamp":{},"value":1}}"#,
                1_700_000_000 + i
            );
            (format!("k{i}"), body.into_bytes())
        })
        .collect();
    common::produce_raw(&brokers, "metrics", &messages).await;

    let mut opts = IngestOptions::new(KafkaConfig::new(&brokers));
    opts.source_id = Some(source);
    opts.flush_interval = Duration::from_millis(100);
    let stats = Arc::new(IngestStats::default());
    let stop = Arc::new(tokio::sync::Notify::new());
    let ingest = tokio::spawn(strata_pipeline::run_ingest(
        opts,
        Arc::clone(&log),
        Arc::clone(&stats),
        {
            let stop = Arc::clone(&stop);
            async move { stop.notified().await }
        },
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while IngestStats::get(&stats.stored_samples) < 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "stored {} of 200",
            IngestStats::get(&stats.stored_samples)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.notify_one();
    ingest.await.unwrap().unwrap();
    let snap = log.snapshot().await.unwrap();
    let rows: u64 = snap.files_of("raw").map(|f| f.rows).sum();
    assert_eq!(rows, 200);
    let next: i64 = (0..2)
        .map(|p| snap.next_offset("same-cluster/metrics", p).unwrap())
        .sum();
    assert_eq!(next, 200, "the log now holds the new incarnation's offsets");
    drop(cluster);
}
