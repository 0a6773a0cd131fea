//! End-to-end ingest throughput on a real broker: `strata produce` →
//! committed Parquet with all tiers on (raw + the 1m windows; 1h is rolled
//! up by maintenance, off the ingest path), against raw only, against
//! consuming the same topic and discarding the messages, alternated in one
//! run.
//!
//! ```text
//! scripts/broker.sh start
//! cargo bench --bench ingest_throughput
//! STRATA_BENCH_SAMPLES=5000000 STRATA_BENCH_RUNS=5 cargo bench --bench ingest_throughput
//! ```
//! Reports the median samples/s of each mode and their ratios. Timing
//! starts at the first message received, so group joins do not count, and
//! ends when the last sample is committed (with the windows closed so far).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use strata_pipeline::produce::{ProduceOptions, produce};
use strata_pipeline::{IngestOptions, IngestStats, KafkaConfig};
use strata_storage::{Store, TableLog};

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
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run());
}

async fn run() {
    let brokers = env("STRATA_BENCH_BROKERS", "127.0.0.1:9092".to_string());
    let samples: u64 = env("STRATA_BENCH_SAMPLES", 1_000_000);
    let per_message: usize = env("STRATA_BENCH_PER_MESSAGE", 10);
    let runs: usize = env("STRATA_BENCH_RUNS", 3);
    let topic = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut kafka = KafkaConfig::new(&brokers);
    kafka.topic = topic.clone();
    kafka.dlq_topic = format!("{topic}.dlq");

    eprintln!("producing {samples} samples ({per_message} per message) to {topic} on {brokers}…");
    let t = Instant::now();
    let report = produce(
        &kafka,
        &ProduceOptions {
            series: 10_000,
            rate: 0,
            samples,
            per_message,
            start_ns: Some(1_700_000_000_000_000_000),
            step: Duration::from_secs(10),
        },
    )
    .await
    .expect("produce");
    eprintln!(
        "produced {} messages in {:.1}s",
        report.messages,
        t.elapsed().as_secs_f64()
    );

    let (mut discard, mut raw, mut tiers) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        let d = samples as f64 / consume_and_discard(&kafka, report.messages, run).await;
        let r = samples as f64 / ingest_to_parquet(&kafka, samples, run, false).await;
        let t = samples as f64 / ingest_to_parquet(&kafka, samples, run, true).await;
        eprintln!("run {run}: discard {d:.0}, raw only {r:.0}, all tiers {t:.0} samples/s");
        discard.push(d);
        raw.push(r);
        tiers.push(t);
    }
    let (d, r, t) = (median(&mut discard), median(&mut raw), median(&mut tiers));
    println!("ingest_throughput samples={samples} per_message={per_message} runs={runs}");
    println!("  consume+discard      median {d:>12.0} samples/s");
    println!("  ingest raw only      median {r:>12.0} samples/s");
    println!("  ingest all tiers     median {t:>12.0} samples/s");
    println!("  ratio raw/discard {:.2}", r / d);
    println!(
        "  tiers cost {:.1}% over raw only (time per sample)",
        (r / t - 1.0) * 100.0
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Seconds from the first to the last message of the topic, doing nothing
/// with them.
async fn consume_and_discard(kafka: &KafkaConfig, messages: u64, run: usize) -> f64 {
    let mut k = kafka.clone();
    k.group = format!("{}-discard-{run}", kafka.topic);
    let consumer: StreamConsumer = k.consumer().create().unwrap();
    consumer.subscribe(&[&k.topic]).unwrap();
    let mut seen = 0u64;
    let mut bytes = 0usize;
    let mut first = None;
    while seen < messages {
        let m = consumer.recv().await.unwrap();
        first.get_or_insert_with(Instant::now);
        bytes += m.payload().map_or(0, <[u8]>::len);
        seen += 1;
    }
    std::hint::black_box(bytes);
    first.unwrap().elapsed().as_secs_f64()
}

/// Seconds from the first message to the last sample committed to a fresh
/// store.
async fn ingest_to_parquet(kafka: &KafkaConfig, samples: u64, run: usize, aggregate: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
    let log = Arc::new(TableLog::open(store).await.unwrap());
    let mut k = kafka.clone();
    k.group = format!("{}-ingest-{run}-{aggregate}", kafka.topic);
    let mut opts = IngestOptions::new(k);
    opts.source_id = Some(format!("bench-{run}"));
    opts.aggregate = aggregate;
    // The last partial batch waits out the flush interval, and where the
    // batches fall differs between the modes: keep that tail short next to
    // a run of several seconds (the default 5 s would dominate it).
    opts.flush_interval = Duration::from_millis(250);
    let stats = Arc::new(IngestStats::default());
    let done = tokio::sync::Notify::new();
    let done = Arc::new(done);
    let watcher = {
        let (stats, done) = (Arc::clone(&stats), Arc::clone(&done));
        tokio::spawn(async move {
            let mut first = None;
            loop {
                if first.is_none() && stats.messages.load(Ordering::Relaxed) > 0 {
                    first = Some(Instant::now());
                }
                if stats.stored_samples.load(Ordering::Relaxed) >= samples {
                    done.notify_one();
                    return first.unwrap().elapsed().as_secs_f64();
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let d2 = Arc::clone(&done);
    strata_pipeline::run_ingest(
        opts,
        Arc::clone(&log),
        stats,
        async move { d2.notified().await },
    )
    .await
    .expect("ingest");
    let secs = watcher.await.unwrap();
    let snap = log.snapshot().await.unwrap();
    for tier in strata_schemas::Tier::ALL {
        let files: Vec<_> = snap.files_of(tier.dir()).collect();
        if files.is_empty() {
            continue;
        }
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let rows: u64 = files.iter().map(|f| f.rows).sum();
        eprintln!(
            "  {:<10} {:>5} files {:>9} rows {:>6.2} bytes/sample",
            tier.table_name(),
            files.len(),
            rows,
            bytes as f64 / samples as f64
        );
    }
    secs
}
