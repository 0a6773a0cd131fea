//! This machine's metrics as samples, for `strata agent`: what is collected
//! ([`Collector`]), the seed's JSON a collection travels as ([`to_json`]),
//! and its delivery to Kafka ([`KafkaPush`]).
//!
//! # Metrics
//! Names follow node-exporter's in Strata's dotted style. Every sample
//! carries the agent's labels (`host`, `--label`s) plus the ones below.
//! Counters are totals since boot (or since the interface came up): read
//! them with `rate` or `increase`. Everything else is a gauge.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `system.cpu.usage` | | percent of all cores busy since the previous collection |
//! | `system.cpu.core.usage` | `cpu` (`0`, `1`, …) | percent of one core busy |
//! | `system.memory.total_bytes`, `.used_bytes`, `.available_bytes` | | RAM |
//! | `system.swap.total_bytes`, `.used_bytes` | | swap |
//! | `system.disk.total_bytes`, `.available_bytes` | `mount`, `device`, `fstype` | file systems (not pseudo ones such as `proc` or `tmpfs`) |
//! | `system.network.received_bytes`, `.transmitted_bytes`, `.received_packets`, `.transmitted_packets` | `interface` | counters |
//! | `system.load1`, `system.load5`, `system.load15` | | load average |
//! | `system.uptime_seconds` | | seconds since boot |
//!
//! `sysinfo` has no per-mode CPU time counters (node-exporter's
//! `node_cpu_seconds_total`), so CPU is reported as usage only. A value
//! the platform does not provide (load average on Windows) is left out.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use strata_schemas::{Labels, Sample};
use sysinfo::{DiskRefreshKind, Disks, Networks, System};

use crate::decode::json;
use crate::error::Result;
use crate::kafka::{KafkaConfig, admin};

/// Label names the agent sets per metric; `--label` may not use them (nor
/// `host`, which `--host` sets).
pub const RESERVED_LABELS: [&str; 6] = ["host", "cpu", "mount", "device", "fstype", "interface"];

/// How long CPU usage needs between two readings to mean something
/// (`sysinfo` measures it as the difference between them).
pub const CPU_WARMUP: Duration = Duration::from_secs(1);

/// Reads this machine's metrics; keeps the previous readings that CPU
/// usage is measured against.
pub struct Collector {
    system: System,
    disks: Disks,
    networks: Networks,
    labels: Vec<(String, String)>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector whose samples carry `labels` (e.g. `host`). It reads
    /// the CPU counters once, so that the first [`Collector::collect`],
    /// [`CPU_WARMUP`] or more later, has a usage to report.
    pub fn new(labels: Vec<(String, String)>) -> Result<Self, sysinfo::Error> {
        let mut system = System::new()?;
        system.refresh_cpu_usage();
        Ok(Self {
            system,
            disks: Disks::new()?,
            networks: Networks::new()?,
            labels,
        })
    }

    /// This machine's hostname, the default `host` label.
    pub fn host_name() -> Result<String, sysinfo::Error> {
        System::host_name()
    }

    /// Reads every metric of the module docs, stamped `ts_ns`. Blocking
    /// (it reads `/proc`, `/sys` and `statvfs` of each mount): call it off
    /// the async runtime's threads.
    pub fn collect(&mut self, ts_ns: i64) -> Vec<Sample> {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.disks
            .refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
        self.networks.refresh(true);
        let mut out = Out {
            labels: &self.labels,
            ts_ns,
            samples: Vec::with_capacity(64),
        };
        let sys = &self.system;
        out.push("system.cpu.usage", &[], f64::from(sys.global_cpu_usage()));
        for (i, cpu) in sys.cpus().iter().enumerate() {
            let cpu_label = [("cpu", i.to_string())];
            out.push("system.cpu.core.usage", &cpu_label, f64::from(cpu.usage()));
        }
        let memory = [
            ("system.memory.total_bytes", sys.total_memory()),
            ("system.memory.used_bytes", sys.used_memory()),
            ("system.memory.available_bytes", sys.available_memory()),
            ("system.swap.total_bytes", sys.total_swap()),
            ("system.swap.used_bytes", sys.used_swap()),
        ];
        for (name, bytes) in memory {
            out.push(name, &[], bytes as f64);
        }
        for disk in &self.disks {
            let labels = [
                ("mount", disk.mount_point().to_string_lossy().into_owned()),
                ("device", disk.name().to_string_lossy().into_owned()),
                ("fstype", disk.file_system().to_string_lossy().into_owned()),
            ];
            out.push(
                "system.disk.total_bytes",
                &labels,
                disk.total_space() as f64,
            );
            let available = disk.available_space() as f64;
            out.push("system.disk.available_bytes", &labels, available);
        }
        for (interface, data) in &self.networks {
            let labels = [("interface", interface.to_string_lossy().into_owned())];
            let counters = [
                ("system.network.received_bytes", data.total_received()),
                ("system.network.transmitted_bytes", data.total_transmitted()),
                (
                    "system.network.received_packets",
                    data.total_packets_received(),
                ),
                (
                    "system.network.transmitted_packets",
                    data.total_packets_transmitted(),
                ),
            ];
            for (name, total) in counters {
                out.push(name, &labels, total as f64);
            }
        }
        if let Ok(load) = System::load_average() {
            out.push("system.load1", &[], load.one);
            out.push("system.load5", &[], load.five);
            out.push("system.load15", &[], load.fifteen);
        }
        if let Ok(uptime) = System::uptime() {
            out.push("system.uptime_seconds", &[], uptime as f64);
        }
        out.samples
    }
}

/// Samples of one collection under construction.
struct Out<'a> {
    labels: &'a [(String, String)],
    ts_ns: i64,
    samples: Vec<Sample>,
}

impl Out<'_> {
    /// Adds a sample; a value that is not finite (the JSON format has no
    /// NaN) is left out.
    fn push(&mut self, name: &str, extra: &[(&str, String)], value: f64) {
        if !value.is_finite() {
            return;
        }
        let labels = self
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .chain(extra.iter().map(|(k, v)| (*k, v.clone())));
        self.samples.push(Sample {
            metric_name: name.to_string(),
            labels: Labels::from_pairs(labels),
            ts_ns: self.ts_ns,
            value,
        });
    }
}

/// `ts_ns` truncated to whole milliseconds, the precision samples travel
/// with.
pub fn to_millis(ts_ns: i64) -> i64 {
    ts_ns - ts_ns.rem_euclid(1_000_000)
}

/// The seed's JSON sample object of `sample` (timestamp in milliseconds).
pub fn to_json_object(sample: &Sample) -> String {
    serde_json::to_string(&json::Encode::ms(sample)).expect("a sample serializes")
}

/// The seed's JSON array of `samples`, as `POST /api/v1/write` takes it.
pub fn to_json(samples: &[Sample]) -> String {
    let objects: Vec<json::Encode<'_>> = samples.iter().map(json::Encode::ms).collect();
    serde_json::to_string(&objects).expect("samples serialize")
}

/// Samples the broker did not acknowledge, and why.
#[derive(Debug)]
pub struct Undelivered {
    /// The samples to send again (all of them when the topics could not be
    /// prepared).
    pub samples: Vec<Sample>,
    /// The last error.
    pub error: crate::Error,
    /// Sending them again cannot succeed (a refused topic or message, an
    /// authorization failure): give them up.
    pub permanent: bool,
}

/// Produces samples to the samples topic, one message per sample keyed by
/// its series (as every Strata producer does, so a series stays on one
/// partition), and waits for the broker's acknowledgement.
pub struct KafkaPush {
    config: KafkaConfig,
    producer: FutureProducer,
    topics_ready: bool,
}

impl std::fmt::Debug for KafkaPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPush")
            .field("brokers", &self.config.brokers)
            .field("topic", &self.config.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaPush {
    /// A producer for `config` (acks from all in-sync replicas,
    /// idempotent). Nothing is sent yet.
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        Ok(Self {
            producer: config.producer().create()?,
            config: config.clone(),
            topics_ready: false,
        })
    }

    /// Sends `samples` and waits until the broker acknowledged each; the
    /// first call creates the samples and dead-letter topics when they are
    /// missing. On failure, the samples that were not acknowledged (the
    /// others are in Kafka: sending them again would store them twice).
    pub async fn send(&mut self, samples: Vec<Sample>) -> Result<(), Undelivered> {
        if !self.topics_ready {
            let topics = [self.config.topic.as_str(), self.config.dlq_topic.as_str()];
            if let Err(error) = admin::ensure_topics(&self.config, &topics).await {
                return Err(Undelivered {
                    samples,
                    error,
                    permanent: false,
                });
            }
            self.topics_ready = true;
        }
        let mut pending: Vec<(Sample, DeliveryFuture)> = Vec::with_capacity(samples.len());
        let mut failed: Vec<Sample> = Vec::new();
        let mut last_error: Option<KafkaError> = None;
        for sample in samples {
            if last_error.is_some() {
                failed.push(sample);
                continue;
            }
            match self.enqueue(&sample).await {
                Ok(delivery) => pending.push((sample, delivery)),
                Err(e) => {
                    last_error = Some(e);
                    failed.push(sample);
                }
            }
        }
        for (sample, delivery) in pending {
            let result = match delivery.await {
                Ok(Ok(_)) => continue,
                Ok(Err((e, _))) => e,
                Err(_) => KafkaError::Canceled,
            };
            last_error = Some(result);
            failed.push(sample);
        }
        let Some(error) = last_error else {
            return Ok(());
        };
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
            // An idempotent producer's fatal error ends that producer;
            // the next attempt gets a new one.
            match self.config.producer().create() {
                Ok(p) => self.producer = p,
                Err(e) => tracing::warn!(error = %e, "could not recreate the Kafka producer"),
            }
        }
        Err(Undelivered {
            samples: failed,
            permanent: is_permanent(&error),
            error: error.into(),
        })
    }

    /// Hands one sample to the producer's queue, waiting while it is full.
    async fn enqueue(&self, sample: &Sample) -> Result<DeliveryFuture, KafkaError> {
        let key = sample.series_key().0.to_be_bytes();
        let payload = to_json_object(sample);
        let mut record = FutureRecord::to(&self.config.topic)
            .key(&key[..])
            .payload(payload.as_bytes());
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }
}

/// Errors that another attempt cannot cure.
fn is_permanent(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        error.rdkafka_error_code(),
        Some(
            C::MessageSizeTooLarge
                | C::MessageBatchTooLarge
                | C::InvalidTopic
                | C::InvalidRecord
                | C::TopicAuthorizationFailed
                | C::ClusterAuthorizationFailed
                | C::SaslAuthenticationFailed
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{self, DecodeLimits, Format};

    fn collector() -> Collector {
        let labels = vec![("host".into(), "h1".into()), ("env".into(), "test".into())];
        Collector::new(labels).unwrap()
    }

    #[test]
    fn a_collection_round_trips_through_the_json_decoder() {
        let mut c = collector();
        let ts = to_millis(1_800_000_000_123_456_789);
        let samples = c.collect(ts);
        assert!(samples.len() >= 10, "{samples:?}");
        let decoded = decode::decode(
            Format::Json,
            to_json(&samples).as_bytes(),
            DecodeLimits::default(),
            ts,
        );
        assert!(decoded.rejected.is_empty(), "{:?}", decoded.rejected);
        assert_eq!(decoded.samples, samples);
        for s in &samples {
            let one = decode::decode(
                Format::Auto,
                to_json_object(s).as_bytes(),
                DecodeLimits::default(),
                ts,
            );
            assert_eq!(one.samples, vec![s.clone()]);
        }
    }

    #[test]
    fn every_sample_carries_the_agent_labels_and_its_own() {
        let mut c = collector();
        let samples = c.collect(1_800_000_000_000_000_000);
        for s in &samples {
            assert_eq!(s.labels.get("host"), Some("h1"), "{s:?}");
            assert_eq!(s.labels.get("env"), Some("test"), "{s:?}");
            assert!(s.value.is_finite() && s.value >= 0.0, "{s:?}");
        }
        let cores: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.metric_name == "system.cpu.core.usage")
            .collect();
        assert!(!cores.is_empty());
        for (i, s) in cores.iter().enumerate() {
            assert_eq!(s.labels.get("cpu"), Some(i.to_string().as_str()));
        }
        let value = |name: &str| {
            samples
                .iter()
                .find(|s| s.metric_name == name)
                .unwrap_or_else(|| panic!("no {name}"))
                .value
        };
        assert!(value("system.memory.used_bytes") <= value("system.memory.total_bytes"));
        assert!(value("system.cpu.usage") <= 100.0);
    }

    #[test]
    fn timestamps_travel_in_whole_milliseconds() {
        assert_eq!(
            to_millis(1_700_000_000_123_999_999),
            1_700_000_000_123_000_000
        );
        let s = Sample {
            metric_name: "m".into(),
            labels: Labels::from_pairs([("b", "2"), ("a", "1")]),
            ts_ns: 1_700_000_000_123_000_000,
            value: 0.5,
        };
        assert_eq!(
            to_json_object(&s),
            r#"{"metric_name":"m","labels":{"a":"1","b":"2"},"timestamp":1700000000123,"value":0.5}"#
        );
    }

    #[test]
    fn refused_topics_and_messages_are_permanent_timeouts_are_not() {
        let produce = |c| KafkaError::MessageProduction(c);
        assert!(is_permanent(&produce(
            RDKafkaErrorCode::TopicAuthorizationFailed
        )));
        assert!(is_permanent(&produce(
            RDKafkaErrorCode::MessageSizeTooLarge
        )));
        assert!(!is_permanent(&produce(RDKafkaErrorCode::MessageTimedOut)));
        assert!(!is_permanent(&produce(RDKafkaErrorCode::AllBrokersDown)));
    }
}
