//! Latency from producing a sample to receiving the webhook notification
//! of the alert it triggers, while the pipeline ingests 100,000 samples/s.
//!
//! ```text
//! scripts/broker.sh start
//! cargo bench --bench alert_latency
//! STRATA_BENCH_RATE=100000 STRATA_BENCH_PROBES=100 STRATA_BENCH_PER_MESSAGE=10 cargo bench --bench alert_latency
//! ```
//! In one process, like `strata up`: ingest (all tiers) and the alert
//! evaluator read a fresh topic while a producer writes background samples
//! at the wall clock's event time. Every 300 ms a probe sample of a new
//! series `latency_probe{seq="N"}` is produced; the rule `latency_probe >
//! 0` (no `for`, group interval `STRATA_BENCH_INTERVAL`, default 500ms as `--evaluation-interval`) fires for it and `--webhook`'s
//! receiver, a real HTTP server in this process, notes when the
//! notification arrives. Prints the median, p90, p99 and maximum.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::routing::post;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use strata_alerts::notify::config::Config;
use strata_alerts::service::{AlertsOptions, NotifyTarget};
use strata_pipeline::produce::{ProduceOptions, produce};
use strata_pipeline::{IngestOptions, IngestStats, KafkaConfig};
use strata_storage::{Store, TableLog};
use tokio_util::sync::CancellationToken;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run());
}

async fn receiver(arrivals: Arrivals) -> String {
    async fn hook(State(a): State<Arrivals>, body: String) -> &'static str {
        let now = Instant::now();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        for alert in v["alerts"].as_array().into_iter().flatten() {
            if let (Some(seq), "firing") = (
                alert["labels"]["seq"].as_str(),
                alert["status"].as_str().unwrap_or_default(),
            ) {
                a.lock().unwrap().entry(seq.to_string()).or_insert(now);
            }
        }
        "ok"
    }
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(arrivals);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

async fn run() {
    let brokers = env("STRATA_BENCH_BROKERS", "127.0.0.1:9092".to_string());
    let rate: u64 = env("STRATA_BENCH_RATE", 100_000);
    let probes: usize = env("STRATA_BENCH_PROBES", 100);
    let per_message: usize = env("STRATA_BENCH_PER_MESSAGE", 10);
    let interval: String = env("STRATA_BENCH_INTERVAL", "500ms".to_string());
    let topic = format!(
        "bench-alerts-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut kafka = KafkaConfig::new(&brokers);
    kafka.topic = topic.clone();
    kafka.dlq_topic = format!("{topic}.dlq");
    strata_pipeline::kafka::admin::ensure_topics(&kafka, &[&topic, &kafka.dlq_topic])
        .await
        .expect("topics");

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
    let log = Arc::new(TableLog::open(store.clone()).await.unwrap());
    let shutdown = CancellationToken::new();

    // Ingest, all tiers.
    let stats = Arc::new(IngestStats::default());
    let mut ingest_opts = IngestOptions::new(kafka.clone());
    ingest_opts.source_id = Some("bench".into());
    let ingest = tokio::spawn(strata_pipeline::run_ingest(
        ingest_opts,
        Arc::clone(&log),
        Arc::clone(&stats),
        shutdown.clone().cancelled_owned(),
    ));

    // The evaluator, notifying the receiver.
    let arrivals: Arrivals = Arc::default();
    let url = receiver(Arc::clone(&arrivals)).await;
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        format!("groups:\n  - name: probe\n    interval: {interval}\n    rules:\n      - alert: Probe\n        expr: latency_probe > 0\n"),
    )
    .unwrap();
    let mut alert_kafka = kafka.clone();
    alert_kafka.group = format!("{topic}-alerts");
    let mut opts = AlertsOptions::new(alert_kafka, rules);
    opts.notify = NotifyTarget::Receivers(Box::new(Config::single_webhook(&url).unwrap()));
    opts.from_beginning = true;
    let evaluator = tokio::spawn(strata_alerts::service::run(opts, store, shutdown.clone()));

    // Background load at the wall clock's event time.
    let series = 10_000;
    let background = {
        let kafka = kafka.clone();
        tokio::spawn(async move {
            produce(
                &kafka,
                &ProduceOptions {
                    series,
                    rate,
                    samples: u64::MAX,
                    per_message,
                    start_ns: None,
                    step: Duration::from_nanos(series as u64 * 1_000_000_000 / rate),
                },
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stored_before = stats.stored_samples.load(Ordering::Relaxed);
    let started = Instant::now();

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    let mut sent = HashMap::new();
    for seq in 0..probes {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let body = format!(
            r#"{{"metric_name":"latency_probe","labels":{{"seq":"{seq}"}},"timestamp":{now_ms},"value":1}}"#
        );
        let key = format!("probe-{seq}");
        sent.insert(seq.to_string(), Instant::now());
        producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&body),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let secs = started.elapsed().as_secs_f64();
    let stored = stats.stored_samples.load(Ordering::Relaxed) - stored_before;

    let got = arrivals.lock().unwrap().clone();
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(seq, t)| {
            got.get(seq)
                .map(|a| a.duration_since(*t).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let q = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "alert_latency: {probes} probes, background {rate} samples/s asked ({series} series, {per_message} per message), group interval {interval}"
    );
    println!(
        "  ingest stored {:.0} samples/s during the probes",
        stored as f64 / secs
    );
    println!("  notified {}/{} probes", latencies.len(), probes);
    if !latencies.is_empty() {
        println!(
            "  produce → webhook: median {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (target p99 < 1000 ms)",
            q(0.5),
            q(0.9),
            q(0.99),
            latencies[latencies.len() - 1]
        );
    }
    background.abort();
    shutdown.cancel();
    let _ = ingest.await;
    let _ = evaluator.await;
}
