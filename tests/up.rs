//! `strata up` with its embedded broker, twice on the same data directory:
//! the second broker is new and empty, its offsets start again at 0, and
//! none of its samples may be mistaken for ones the first run stored.

mod common;

use std::time::Duration;

use common::*;
use strata_pipeline::KafkaConfig;
use strata_pipeline::produce::{ProduceOptions, produce};

async fn run_once(dir: &std::path::Path, samples: u64, start_ns: i64, want_total: u64) {
    let port = free_port();
    let up = Strata::spawn(&[
        "up",
        "--store",
        &format!("file://{}", dir.display()),
        "--http-addr",
        &format!("127.0.0.1:{port}"),
        "--flush-interval",
        "200ms",
    ]);
    let banner = up.wait_for_line("Embedded development broker on", Duration::from_secs(60));
    assert!(
        up.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("not durable"))
    );
    let brokers = banner.rsplit(' ').next().unwrap().trim().to_string();
    up.wait_for_line("ingest started", Duration::from_secs(60));
    let report = produce(
        &KafkaConfig::new(&brokers),
        &ProduceOptions {
            series: 10,
            rate: 0,
            samples,
            per_message: 1,
            start_ns: Some(start_ns),
            step: Duration::from_secs(1),
        },
    )
    .await
    .unwrap();
    assert_eq!(report.samples, samples);
    wait_for_rows(dir, want_total, Duration::from_secs(60), &up).await;

    // The HTTP API of `up` answers too.
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/sql"))
        .json(&serde_json::json!({"sql": "SELECT count(*) AS n FROM metrics_raw"}))
        .send()
        .await
        .unwrap();
    let rows: Vec<serde_json::Value> = resp.json().await.unwrap();
    assert_eq!(rows[0]["n"], want_total);
    up.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn up_twice_on_the_same_data_keeps_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    run_once(dir.path(), 500, 1_700_000_000_000_000_000, 500).await;
    // Fewer samples the second time: their offsets are all below what the
    // first run stored, the case where a naive resume would skip them.
    run_once(dir.path(), 300, 1_700_001_000_000_000_000, 800).await;
}
