//! Synthetic samples for demos and benchmarks (`strata produce`).
//!
//! Series `i` is metric `METRICS[i % 4]` with labels `host=host-<i/4>` and
//! `region`; each tick every series gets one sample whose value follows a
//! bounded random walk. Messages are keyed by series so that a series always
//! lands on one partition.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::SmallRng};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use strata_schemas::{Labels, SeriesKey};

use crate::decode::json;
use crate::error::{Error, Result};
use crate::kafka::{KafkaConfig, admin};

/// Metric names of the synthetic series.
pub const METRICS: [&str; 4] = ["cpu.load", "mem.used_bytes", "disk.io_ops", "net.rx_bytes"];
const REGIONS: [&str; 3] = ["us-west", "us-east", "eu-central"];

/// What to produce.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    /// Number of distinct series.
    pub series: usize,
    /// Samples per second over all series; 0 means as fast as possible.
    pub rate: u64,
    /// Stop after this many samples in total (`u64::MAX`: never, and
    /// quietly).
    pub samples: u64,
    /// Samples per Kafka message (consecutive points of one series).
    pub per_message: usize,
    /// Event time of the first sample (ns); `None`: each sample is stamped
    /// with the wall clock when it is sent.
    pub start_ns: Option<i64>,
    /// Event-time distance between two points of a series (and between the
    /// points of one message).
    pub step: Duration,
}

/// What was produced.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProduceReport {
    /// Samples acknowledged by the broker.
    pub samples: u64,
    /// Messages acknowledged by the broker.
    pub messages: u64,
    /// Sum of all values produced (to check what a query returns).
    pub value_sum: f64,
}

/// Produces `opts.samples` samples to `kafka.topic`, logging progress every
/// second, and waits until the broker acknowledged all of them.
pub async fn produce(kafka: &KafkaConfig, opts: &ProduceOptions) -> Result<ProduceReport> {
    admin::ensure_topics(kafka, &[&kafka.topic, &kafka.dlq_topic]).await?;
    let producer: FutureProducer = kafka.producer().create()?;
    let series: Vec<(String, Labels, Vec<u8>)> = (0..opts.series.max(1))
        .map(|i| {
            let name = METRICS[i % METRICS.len()].to_string();
            let labels = Labels::from_pairs([
                ("host", format!("host-{}", i / METRICS.len())),
                ("region", REGIONS[i % REGIONS.len()].to_string()),
            ]);
            let key = SeriesKey::of(&name, &labels).0.to_be_bytes().to_vec();
            (name, labels, key)
        })
        .collect();
    let mut values = vec![50.0f64; series.len()];
    let mut rng = SmallRng::seed_from_u64(42);
    let per_message = opts.per_message.max(1);
    let now_ns = || chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let step_ns = opts.step.as_nanos() as i64;
    let began = Instant::now();
    let mut last_report = Instant::now();
    let mut report = ProduceReport::default();
    let mut sent = 0u64;
    let mut tick = 0i64;
    let mut payload = Vec::with_capacity(256 * per_message);
    let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
    'outer: loop {
        for (i, (name, labels, key)) in series.iter().enumerate() {
            if sent >= opts.samples {
                break 'outer;
            }
            let n = per_message.min((opts.samples - sent) as usize);
            payload.clear();
            payload.push(b'[');
            for j in 0..n {
                let v = &mut values[i];
                *v = (*v + rng.random_range(-1.0..1.0)).clamp(0.0, 100.0);
                let v = (*v * 1000.0).round() / 1000.0;
                report.value_sum += v;
                // Synthetic event time from `start_ns`, or the wall clock.
                let ts = match opts.start_ns {
                    Some(start) => start + (tick + j as i64) * step_ns,
                    None => now_ns() + j as i64 * step_ns,
                };
                if j > 0 {
                    payload.push(b',');
                }
                write_sample(&mut payload, name, labels, ts, v);
            }
            payload.push(b']');
            pending.push_back(send(&producer, &kafka.topic, key, &payload).await?);
            while pending.len() > MAX_IN_FLIGHT {
                confirm(pending.pop_front().expect("non-empty")).await?;
            }
            sent += n as u64;
            report.messages += 1;
            if opts.rate > 0 {
                let due = Duration::from_secs_f64(sent as f64 / opts.rate as f64);
                if let Some(wait) = due.checked_sub(began.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
            if opts.samples != u64::MAX && last_report.elapsed() >= Duration::from_secs(1) {
                last_report = Instant::now();
                tracing::info!(
                    sent,
                    total = opts.samples,
                    rate = (sent as f64 / began.elapsed().as_secs_f64()) as u64,
                    "producing"
                );
            }
        }
        tick += per_message as i64;
    }
    producer.flush(Duration::from_secs(60))?;
    for delivery in pending {
        confirm(delivery).await?;
    }
    report.samples = sent;
    Ok(report)
}

/// Messages sent but not yet confirmed before `produce` waits for the
/// oldest.
const MAX_IN_FLIGHT: usize = 100_000;

async fn confirm(delivery: DeliveryFuture) -> Result<()> {
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(e.into()),
        Err(_) => Err(Error::Setup("the producer dropped a message".into())),
    }
}

async fn send(
    producer: &FutureProducer,
    topic: &str,
    key: &[u8],
    payload: &[u8],
) -> Result<DeliveryFuture> {
    let mut record = FutureRecord::to(topic).key(key).payload(payload);
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

fn write_sample(out: &mut Vec<u8>, name: &str, labels: &Labels, ts_ns: i64, value: f64) {
    let sample = json::Encode {
        metric_name: name,
        labels,
        ts_ns,
        value,
        unit_ns: 1_000_000,
    };
    serde_json::to_writer(out, &sample).expect("a sample serializes");
}
