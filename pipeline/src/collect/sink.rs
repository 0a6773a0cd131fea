//! Producing a request's samples to Kafka and waiting until every message
//! is acknowledged.
//!
//! One message per series per request, keyed by the series key (as
//! `strata produce` keys them, so a series stays on one partition and in
//! order), holding the series' samples as a JSON array of the seed's
//! sample objects with nanosecond timestamps; a series with many samples
//! is split into messages of at most [`MAX_MESSAGE_BYTES`]. The producer is
//! idempotent with `acks=all` ([`KafkaConfig::producer`]); its
//! `message.timeout.ms` bounds how long a request may wait for Kafka.
//!
//! After a request fails, the collector replaces its producer (at most
//! every [`RENEW_INTERVAL`]), as a restart would: a fatal error stops an
//! idempotent producer for good, and after a message times out librdkafka
//! bumps the producer's epoch on its own, which brokers without KIP-360
//! do not follow (tansu 0.6 refuses the next message, then fails
//! altogether). A new producer asks the broker for a new producer id once
//! Kafka is back. Nothing is lost: the old producer's messages belong to
//! requests that were answered 503, and it is dropped (purging what is
//! left) only when no request uses it any more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::future::try_join_all;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use strata_schemas::{Sample, SeriesKey};
use tokio::time::Instant;

use crate::decode::json;
use crate::error::Result;
use crate::kafka::KafkaConfig;

/// Largest payload of one message; a series with more samples in one
/// request is split. Well under Kafka's default `message.max.bytes` (1 MB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Shortest time between two replacements of the producer.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(2);

/// Kafka did not acknowledge every message of a request: why, for the
/// client.
#[derive(Debug)]
pub(crate) struct Unavailable(pub(crate) String);

/// The producer of a collector, shared by its requests.
pub(crate) struct Sink {
    topic: String,
    config: ClientConfig,
    timeout: Duration,
    producer: RwLock<Arc<FutureProducer>>,
    /// When the producer was last replaced.
    renewed: Mutex<Option<Instant>>,
}

impl Sink {
    /// A producer to `kafka.topic` whose messages time out after `timeout`
    /// (unless `-X message.timeout.ms` says otherwise).
    pub(crate) fn new(kafka: &KafkaConfig, timeout: Duration) -> Result<Self> {
        let mut config = kafka.producer();
        let user_set = |key: &str| kafka.properties.iter().any(|(k, _)| k == key);
        let ms = timeout.as_millis().clamp(1, i32::MAX as u128).to_string();
        for key in ["message.timeout.ms", "request.timeout.ms"] {
            if !user_set(key) {
                config.set(key, &ms);
            }
        }
        let timeout = match config.get("message.timeout.ms").map(str::parse::<u64>) {
            Some(Ok(ms)) => Duration::from_millis(ms),
            _ => timeout,
        };
        let producer = Arc::new(config.create()?);
        Ok(Self {
            topic: kafka.topic.clone(),
            config,
            timeout,
            producer: RwLock::new(producer),
            renewed: Mutex::new(None),
        })
    }

    /// Produces `samples` and waits until Kafka acknowledged every
    /// message; returns the number of messages.
    pub(crate) async fn send(&self, samples: &[Sample]) -> Result<usize, Unavailable> {
        let producer = Arc::clone(&self.producer.read().unwrap_or_else(|e| e.into_inner()));
        let result = self.send_with(&producer, samples).await;
        if result.is_err() {
            self.renew(&producer);
        }
        let current = self.producer.read().unwrap_or_else(|e| e.into_inner());
        if !Arc::ptr_eq(&current, &producer) {
            // The last user of a replaced producer flushes it and joins its
            // thread: not on an async worker.
            drop(current);
            tokio::task::spawn_blocking(move || drop(producer));
        }
        result
    }

    async fn send_with(
        &self,
        producer: &FutureProducer,
        samples: &[Sample],
    ) -> Result<usize, Unavailable> {
        // The deadline leaves librdkafka its own timeout to report first.
        let deadline = Instant::now() + self.timeout + Duration::from_secs(2);
        let mut deliveries = Vec::new();
        for (key, payload) in messages(samples) {
            let mut record = FutureRecord::to(&self.topic).key(&key).payload(&payload);
            loop {
                match producer.send_result(record) {
                    Ok(d) => break deliveries.push(d),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                        if Instant::now() < deadline =>
                    {
                        record = r;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => {
                        return Err(Unavailable(format!("Kafka refused a message: {e}")));
                    }
                }
            }
        }
        let messages = deliveries.len();
        let acks = try_join_all(deliveries.into_iter().map(|d| async move {
            match d.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(Unavailable(format!(
                    "Kafka did not acknowledge a message: {e}"
                ))),
                Err(_) => Err(Unavailable("the producer dropped a message".to_string())),
            }
        }));
        match tokio::time::timeout_at(deadline, acks).await {
            Ok(Ok(_)) => Ok(messages),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Unavailable(format!(
                "Kafka did not acknowledge every message within {}",
                humantime::format_duration(self.timeout)
            ))),
        }
    }

    /// Replaces `failed` (see the module's docs), unless it was replaced
    /// already or less than [`RENEW_INTERVAL`] ago.
    fn renew(&self, failed: &Arc<FutureProducer>) {
        let mut current = self.producer.write().unwrap_or_else(|e| e.into_inner());
        if !Arc::ptr_eq(&current, failed) {
            return; // Another request renewed it already.
        }
        let mut renewed = self.renewed.lock().unwrap_or_else(|e| e.into_inner());
        if renewed.is_some_and(|at| at.elapsed() < RENEW_INTERVAL) {
            return;
        }
        match self.config.create::<FutureProducer>() {
            Ok(p) => {
                match failed.client().fatal_error() {
                    Some((code, reason)) => {
                        tracing::warn!(%code, %reason, "replaced the failed Kafka producer")
                    }
                    None => tracing::info!("replaced the Kafka producer after a failed request"),
                }
                *current = Arc::new(p);
                *renewed = Some(Instant::now());
            }
            Err(e) => tracing::error!(error = %e, "could not replace the Kafka producer"),
        }
    }

    /// Waits up to `timeout` for messages still queued (at shutdown).
    pub(crate) fn flush(&self, timeout: Duration) {
        let producer = Arc::clone(&self.producer.read().unwrap_or_else(|e| e.into_inner()));
        if let Err(e) = producer.flush(timeout) {
            tracing::warn!(error = %e, "flushing the collector's producer");
        }
    }
}

/// The messages of `samples`: `(key, payload)`, one per series (more for
/// a series whose payload would exceed [`MAX_MESSAGE_BYTES`]), series in
/// order of first appearance, samples in request order.
pub(crate) fn messages(samples: &[Sample]) -> Vec<([u8; 8], Vec<u8>)> {
    let mut order: Vec<SeriesKey> = Vec::new();
    let mut by_series: HashMap<SeriesKey, Vec<&Sample>> = HashMap::new();
    for s in samples {
        let key = s.series_key();
        by_series
            .entry(key)
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(s);
    }
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        let mut payload = Vec::new();
        for s in &by_series[&key] {
            if payload.len() >= MAX_MESSAGE_BYTES {
                payload.push(b']');
                out.push((key.0.to_be_bytes(), std::mem::take(&mut payload)));
            }
            payload.push(if payload.is_empty() { b'[' } else { b',' });
            serde_json::to_writer(&mut payload, &json::Encode::ns(s)).expect("samples serialize");
        }
        payload.push(b']');
        out.push((key.0.to_be_bytes(), payload));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::DecodeLimits;
    use strata_schemas::Labels;

    #[test]
    fn messages_decode_back_to_the_samples() {
        let s = |host: &str, ts: i64, value: f64| Sample {
            metric_name: "cpu.usage \"idle\"".into(),
            labels: Labels::from_pairs([("host", host), ("dc", "é,=")]),
            ts_ns: ts,
            value,
        };
        let t = 1_700_000_000_123_456_789;
        let samples = vec![s("a", t, 0.1), s("b", t, -2e300), s("a", t + 1, 3.0)];
        let msgs = messages(&samples);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].0, samples[0].series_key().0.to_be_bytes());
        let now = t + 1_000_000_000;
        let first = json::decode(&msgs[0].1, DecodeLimits::default(), now);
        assert!(first.rejected.is_empty(), "{:?}", first.rejected);
        assert_eq!(first.samples, vec![samples[0].clone(), samples[2].clone()]);
        let second = json::decode(&msgs[1].1, DecodeLimits::default(), now);
        assert_eq!(second.samples, vec![samples[1].clone()]);
    }

    #[test]
    fn big_series_are_split() {
        let samples: Vec<Sample> = (0..20_000)
            .map(|i| Sample {
                metric_name: "m".into(),
                labels: Labels::from_pairs([("host", "a")]),
                ts_ns: 1_700_000_000_000_000_000 + i,
                value: i as f64,
            })
            .collect();
        let msgs = messages(&samples);
        assert!(msgs.len() > 1);
        let mut back = Vec::new();
        for (_, payload) in &msgs {
            assert!(payload.len() < MAX_MESSAGE_BYTES + 200);
            let d = json::decode(payload, DecodeLimits::default(), i64::MAX / 2);
            assert!(d.rejected.is_empty());
            back.extend(d.samples);
        }
        assert_eq!(back, samples);
    }
}
