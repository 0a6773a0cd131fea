//! SIGKILL `strata ingest` at several points mid-stream, restart it, and
//! the store ends up with exactly what a clean run stores: same row count,
//! same sum, no duplicate.

mod common;

use std::time::Duration;

use common::*;
use strata_pipeline::produce::{ProduceOptions, produce};

const SAMPLES: u64 = 60_000;
const RATE: u64 = 5_000;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_stream_loses_and_duplicates_nothing() {
    let bed = Bed::new("crash");
    let (brokers, topic, store) = (&bed.brokers, &bed.topic, &bed.store);
    let dir = bed.dir.path();
    let kafka = bed.kafka();
    // The stream keeps flowing while ingest is killed and restarted.
    let producer = tokio::spawn(async move {
        produce(
            &kafka,
            &ProduceOptions {
                series: 200,
                rate: RATE,
                samples: SAMPLES,
                per_message: 5,
                start_ns: Some(1_700_000_000_000_000_000),
                step: Duration::from_secs(10),
            },
        )
        .await
        .unwrap()
    });

    // Small batches so that kills land between, and during, flushes.
    //
    // Each run joins under a new consumer group: tansu 0.6 never evicts a
    // SIGKILLed member from its group, so a restart under the same group
    // would wait forever for partitions (Apache Kafka evicts it after
    // `session.timeout.ms`). The group does not matter for correctness:
    // ingest resumes from the offsets in the store's commit log, never
    // from the group's.
    let args = |round: usize| -> Vec<String> {
        [
            "ingest",
            "--brokers",
            brokers,
            "--topic",
            topic,
            "--store",
            store,
            "--flush-interval",
            "50ms",
            "--flush-rows",
            "1500",
            "-X",
            "max.partition.fetch.bytes=20000",
            "-X",
            "fetch.wait.max.ms=100",
            "-X",
            "session.timeout.ms=6000",
            "--group",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("{topic}-run{round}")])
        .collect()
    };
    let mut rows_at_kill = Vec::new();
    for (round, delay_ms) in [700u64, 1100, 400, 1500, 900].into_iter().enumerate() {
        let p = Strata::spawn(&args(round));
        p.wait_for_line("ingest started", Duration::from_secs(60));
        // Wait until this run has stored something, then a bit more.
        let before = rows(dir).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while rows(dir).await == before && before < SAMPLES {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round} made no progress:\n{}",
                p.dump()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        p.kill();
        let n = rows(dir).await;
        assert!(n <= SAMPLES, "round {round}: {n} rows > {SAMPLES} produced");
        rows_at_kill.push(n);
    }
    let report = producer.await.unwrap();
    assert_eq!(report.samples, SAMPLES);
    assert!(
        rows_at_kill.iter().filter(|n| **n < SAMPLES).count() >= 3,
        "every kill came after the end of the stream ({rows_at_kill:?}): the test proved nothing"
    );

    let last = Strata::spawn(&args(99));
    wait_for_rows(dir, SAMPLES, Duration::from_secs(120), &last).await;
    // Let it run a few more flush intervals: nothing may be added.
    tokio::time::sleep(Duration::from_secs(2)).await;
    bed.assert_exactly(
        SAMPLES,
        report.value_sum,
        &format!("kills at {rows_at_kill:?}"),
    )
    .await;
    last.terminate();
    eprintln!("rows stored at each kill: {rows_at_kill:?}");
}

async fn rows(dir: &std::path::Path) -> u64 {
    query_row(dir, "SELECT count(*) FROM metrics_raw").await[0] as u64
}
