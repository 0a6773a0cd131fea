//! Command-line flags. Every flag can also be set through the environment
//! variable named in its help (`STRATA_…`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Strata: metrics monitoring and alerting on Kafka and Parquet.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Consume samples from Kafka into the store's tiers.
    Ingest {
        #[command(flatten)]
        kafka: KafkaArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        ingest: IngestArgs,
    },
    /// Serve SQL over HTTP on the store's tiers.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        http: HttpArgs,
    },
    /// Run ingest and serve in one process; without --brokers, with an
    /// embedded development broker.
    Up {
        #[command(flatten)]
        kafka: KafkaArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        ingest: IngestArgs,
        #[command(flatten)]
        http: HttpArgs,
        /// Also produce demo samples and print a query over them.
        #[arg(long, env = "STRATA_DEMO")]
        demo: bool,
    },
    /// Write synthetic samples to Kafka (keyed by series).
    Produce {
        #[command(flatten)]
        kafka: KafkaArgs,
        #[command(flatten)]
        produce: ProduceArgs,
    },
    /// Run a SQL query against a Strata server and print the result.
    Sql {
        /// The query.
        query: String,
        /// Server to ask.
        #[arg(long, env = "STRATA_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Output: `table`, or one of the server's formats (`json`, `jsonl`,
        /// `csv`, `arrow`) printed as received.
        #[arg(long, default_value = "table")]
        format: String,
    },
}

/// Where Kafka is and what to read.
#[derive(Debug, Clone, Args)]
pub(crate) struct KafkaArgs {
    /// Kafka bootstrap servers. `strata up` starts an embedded development
    /// broker when this is not given; other commands default to
    /// 127.0.0.1:9092.
    #[arg(long, env = "STRATA_BROKERS")]
    pub(crate) brokers: Option<String>,
    /// Topic of samples.
    #[arg(long, env = "STRATA_TOPIC", default_value = "metrics")]
    pub(crate) topic: String,
    /// Consumer group of ingest.
    #[arg(long, env = "STRATA_GROUP", default_value = "strata-ingest")]
    pub(crate) group: String,
    /// Dead-letter topic [default: <topic>.dlq].
    #[arg(long, env = "STRATA_DLQ_TOPIC")]
    pub(crate) dlq_topic: Option<String>,
    /// Partitions of the topics Strata creates when they are missing.
    #[arg(long, env = "STRATA_TOPIC_PARTITIONS", default_value_t = 4)]
    pub(crate) partitions: i32,
    /// Replication factor of the topics Strata creates.
    #[arg(long, env = "STRATA_TOPIC_REPLICATION", default_value_t = 1)]
    pub(crate) replication_factor: i32,
    /// Any librdkafka property, `-X key=value`, repeatable; applied last.
    #[arg(short = 'X', long = "kafka-property", value_parser = strata_pipeline::kafka::config::parse_property)]
    pub(crate) properties: Vec<(String, String)>,
}

impl KafkaArgs {
    pub(crate) fn config(&self, brokers: &str) -> strata_pipeline::KafkaConfig {
        let mut k = strata_pipeline::KafkaConfig::new(brokers);
        k.topic = self.topic.clone();
        k.group = self.group.clone();
        k.dlq_topic = self
            .dlq_topic
            .clone()
            .unwrap_or_else(|| format!("{}.dlq", self.topic));
        k.partitions = self.partitions;
        k.replication = self.replication_factor;
        k.properties = self.properties.clone();
        k
    }

    pub(crate) fn brokers_or_default(&self) -> &str {
        self.brokers.as_deref().unwrap_or("127.0.0.1:9092")
    }
}

/// Where the tiers live.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Store URL: file://DIR or s3://BUCKET/PREFIX (S3 settings from AWS_*).
    #[arg(long, env = "STRATA_STORE", default_value = "file://./data")]
    pub(crate) store: String,
}

/// How ingest batches.
#[derive(Debug, Clone, Args)]
pub(crate) struct IngestArgs {
    /// Flush a batch at the latest this long after its first message.
    #[arg(long, env = "STRATA_FLUSH_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) flush_interval: Duration,
    /// Flush a batch once it holds this many samples.
    #[arg(long, env = "STRATA_FLUSH_ROWS", default_value_t = 500_000)]
    pub(crate) flush_rows: usize,
    /// Refuse samples more than this far ahead of the clock.
    #[arg(long, env = "STRATA_MAX_FUTURE", default_value = "1day", value_parser = humantime::parse_duration)]
    pub(crate) max_future: Duration,
}

/// Where the HTTP API listens.
#[derive(Debug, Clone, Args)]
pub(crate) struct HttpArgs {
    /// Listen address of the HTTP API.
    #[arg(long, env = "STRATA_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) http_addr: SocketAddr,
}

/// What `strata produce` writes.
#[derive(Debug, Clone, Args)]
pub(crate) struct ProduceArgs {
    /// Number of distinct series.
    #[arg(long, default_value_t = 100)]
    pub(crate) series: usize,
    /// Samples per second over all series (0: as fast as possible).
    #[arg(long, default_value_t = 1000)]
    pub(crate) rate: u64,
    /// How long to produce at --rate.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, conflicts_with = "samples")]
    pub(crate) duration: Duration,
    /// Produce exactly this many samples instead of --duration.
    #[arg(long)]
    pub(crate) samples: Option<u64>,
    /// Samples per message (consecutive points of one series).
    #[arg(long, default_value_t = 1)]
    pub(crate) per_message: usize,
    /// Event time of the first sample, RFC 3339 [default: now].
    #[arg(long)]
    pub(crate) start: Option<String>,
    /// Event-time distance between two points of a series.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub(crate) step: Duration,
}
