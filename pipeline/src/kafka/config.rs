//! Kafka client configuration: Strata's defaults, then the user's
//! librdkafka properties on top.

use rdkafka::ClientConfig;

/// Where and how Strata talks to Kafka.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    pub brokers: String,
    /// The topic samples are read from (and produced to).
    pub topic: String,
    /// Consumer group of the ingest processes.
    pub group: String,
    /// Topic undecodable messages are dead-lettered to.
    pub dlq_topic: String,
    /// Partitions of topics Strata creates.
    pub partitions: i32,
    /// Replication factor of topics Strata creates (`-1`: broker default).
    pub replication: i32,
    /// Extra librdkafka properties (`-X key=value`), applied last so they
    /// override every default below.
    pub properties: Vec<(String, String)>,
}

impl KafkaConfig {
    /// A configuration with Strata's defaults for `brokers`.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic: "metrics".into(),
            group: "strata-ingest".into(),
            dlq_topic: "metrics.dlq".into(),
            partitions: 4,
            replication: 1,
            properties: Vec::new(),
        }
    }

    fn base(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        c
    }

    fn finish(&self, mut c: ClientConfig) -> ClientConfig {
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    /// Configuration of the ingest consumer.
    ///
    /// Offsets are never auto-committed: the store's commit log decides
    /// where to resume, and Kafka's group offsets are only written after a
    /// commit, for lag monitoring. `fetch.wait.max.ms` is small because
    /// some brokers (tansu) hold every fetch for that long even when data
    /// waits; 10 ms costs nothing on Apache Kafka.
    pub fn consumer(&self) -> ClientConfig {
        let mut c = self.base();
        c.set("group.id", &self.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "10")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("partition.assignment.strategy", "range,roundrobin");
        self.finish(c)
    }

    /// Configuration of producers (dead letters, `strata produce`): every
    /// write acknowledged by all in-sync replicas, idempotent.
    pub fn producer(&self) -> ClientConfig {
        let mut c = self.base();
        c.set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "60000");
        self.finish(c)
    }

    /// Configuration of the admin client that creates topics.
    pub fn admin(&self) -> ClientConfig {
        let c = self.base();
        self.finish(c)
    }
}

/// Parses a `key=value` librdkafka property.
pub fn parse_property(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected key=value, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_override_defaults() {
        let mut k = KafkaConfig::new("b:1");
        k.properties
            .push(parse_property("fetch.wait.max.ms=100").unwrap());
        assert_eq!(k.consumer().get("fetch.wait.max.ms"), Some("100"));
        assert_eq!(k.consumer().get("enable.auto.commit"), Some("false"));
        assert_eq!(k.producer().get("acks"), Some("all"));
        assert!(parse_property("novalue").is_err());
    }
}
