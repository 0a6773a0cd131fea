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
pub(crate) enum RulesCommand {
    /// Check rule files (files or directories of .yml/.yaml) like
    /// `promtool check rules`: syntax, durations, supported PromQL.
    Check {
        /// Rule files or directories.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
    /// Run rule unit tests in promtool's test-file format, like
    /// `promtool test rules`.
    Test {
        /// Test files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

// Parsed once at start; boxing clap's flattened argument groups to even out
// the variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Alerting rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Consume samples from Kafka into the store's tiers.
    Ingest {
        #[command(flatten)]
        kafka: KafkaArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        ingest: IngestArgs,
        #[command(flatten)]
        maintenance: MaintenanceArgs,
    },
    /// Receive samples over HTTP and produce them to Kafka: InfluxDB line
    /// protocol and the seed's JSON on POST /api/v1/write, Prometheus
    /// remote write 1.0 on POST /api/v1/prom/write.
    ///
    /// Answers 204 once Kafka acknowledged every sample, 400 naming what
    /// was refused (the rest is stored), 413 over a request limit, 503
    /// with Retry-After when Kafka does not acknowledge in time. Stateless:
    /// run several behind a load balancer.
    Collect {
        #[command(flatten)]
        kafka: KafkaArgs,
        /// Listen address of the collector (8086 is InfluxDB's port).
        #[arg(long, env = "STRATA_COLLECT_LISTEN", default_value = "127.0.0.1:8086")]
        listen: SocketAddr,
        #[command(flatten)]
        collect: CollectArgs,
        /// Refuse samples more than this far ahead of the clock.
        #[arg(long, env = "STRATA_MAX_FUTURE", default_value = "1day", value_parser = humantime::parse_duration)]
        max_future: Duration,
        /// Joins a line protocol measurement and field into a metric name:
        /// `cpu` + `usage_idle` → `cpu.usage_idle`.
        #[arg(long, env = "STRATA_NAME_SEPARATOR", default_value = ".")]
        name_separator: char,
    },
    /// Evaluate alerting rules on the live topic and send notifications.
    ///
    /// Reads every partition of --topic (consumer group --alerts-group),
    /// evaluates the rules on event time, records every alert state
    /// change in the store's `alerts` table and its state in the store, and
    /// notifies per --notify-config, --webhook or --alertmanager-url.
    Alerts {
        #[command(flatten)]
        kafka: KafkaArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        alerts: AlertArgs,
    },
    /// Serve SQL over HTTP and the PostgreSQL wire protocol on the
    /// store's tiers.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        http: HttpArgs,
        #[command(flatten)]
        pg: PgArgs,
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
        #[command(flatten)]
        pg: PgArgs,
        #[command(flatten)]
        alerts: UpAlertArgs,
        /// Listen address of the HTTP push collector (see `strata collect`).
        #[arg(long, env = "STRATA_COLLECT_ADDR", default_value = "127.0.0.1:8086")]
        collect_addr: SocketAddr,
        #[command(flatten)]
        collect: CollectArgs,
        /// Also produce demo samples and print a query over them.
        #[arg(long, env = "STRATA_DEMO")]
        demo: bool,
        #[command(flatten)]
        maintenance: MaintenanceArgs,
    },
    /// Compact the tiers and roll the 1h tier up, once, then exit.
    ///
    /// Merges the small files of each time partition (repairing estimated
    /// 1m counter increases from the raw tier), then derives every closed
    /// hour of the 1h tier from the 1m tier. `strata ingest` and `strata
    /// up` do this in the background every --maintenance-interval.
    Compact {
        #[command(flatten)]
        store: StoreArgs,
        /// Roll up only hours ending at or before TIME (RFC 3339, e.g.
        /// 2026-11-26T12:00:00Z) [default: the hours ingest has closed].
        #[arg(long, env = "STRATA_CLOSED_BEFORE", value_name = "TIME", value_parser = parse_time)]
        closed_before: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Drop time partitions past their tier's retention, then delete
    /// unreferenced objects (GC), once.
    ///
    /// Prints every partition past retention: expired, or held back
    /// because the coarser tier does not cover it yet (a raw hour needs
    /// its 1m files, free of estimated rows; a 1m hour needs its 1h
    /// rollup). Expired partitions are removed from the commit log; their
    /// objects are deleted by GC once --gc-grace has passed since.
    Retention {
        #[command(flatten)]
        store: StoreArgs,
        /// Only print the plan and what GC would delete; change nothing.
        #[arg(long, env = "STRATA_DRY_RUN")]
        dry_run: bool,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Write synthetic samples to Kafka (keyed by series).
    Produce {
        #[command(flatten)]
        kafka: KafkaArgs,
        #[command(flatten)]
        produce: ProduceArgs,
    },
    /// Collect this machine's metrics (CPU, memory, disks, network, load,
    /// uptime) every --interval and push them to Kafka or, with
    /// --collector-url, to a Strata collector.
    Agent {
        #[command(flatten)]
        kafka: KafkaArgs,
        #[command(flatten)]
        agent: AgentArgs,
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
    /// How far behind the newest event time a sample may arrive and still
    /// join its open 1m window; later samples are stored as corrections.
    #[arg(long, env = "STRATA_LATENESS", value_name = "DURATION", default_value = "1m", value_parser = humantime::parse_duration)]
    pub(crate) lateness: Duration,
    /// A Kafka partition without messages for this long stops holding 1m
    /// windows open; when all are idle, every window closes.
    #[arg(long, env = "STRATA_IDLE_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) idle_timeout: Duration,
    /// Message format of the topic: auto (detected per message), json,
    /// influx, telegraf-json, prometheus-kafka-adapter, otlp-json,
    /// otlp-proto.
    #[arg(long, env = "STRATA_FORMAT", default_value = "auto")]
    pub(crate) format: strata_pipeline::decode::Format,
    /// Joins a line protocol (or Telegraf JSON) measurement and field into
    /// a metric name: `cpu` + `usage_idle` → `cpu.usage_idle`.
    #[arg(long, env = "STRATA_NAME_SEPARATOR", default_value = ".")]
    pub(crate) name_separator: char,
}

/// Background maintenance of `strata ingest` and `strata up`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Maintenance")]
pub(crate) struct MaintenanceArgs {
    /// Run compaction, rollup, retention and GC in the background this
    /// often (0: never; run `strata compact` and `strata retention`
    /// instead). Run it in one process per store: others only duplicate
    /// the work.
    #[arg(long, env = "STRATA_MAINTENANCE_INTERVAL", value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub(crate) maintenance_interval: Duration,
    #[command(flatten)]
    pub(crate) retention: RetentionArgs,
}

/// How long each tier keeps its data, and when GC may delete.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Retention")]
pub(crate) struct RetentionArgs {
    /// How long the raw tier keeps samples.
    #[arg(long = "raw", env = "STRATA_RETENTION_RAW", value_name = "DURATION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub(crate) raw: Duration,
    /// How long the 1m tier keeps its aggregates (at least --raw).
    #[arg(long = "minute", env = "STRATA_RETENTION_MINUTE", value_name = "DURATION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub(crate) minute: Duration,
    /// How long the 1h tier keeps its aggregates (at least --minute).
    #[arg(long = "hour", env = "STRATA_RETENTION_HOUR", value_name = "DURATION", default_value = "365d", value_parser = humantime::parse_duration)]
    pub(crate) hour: Duration,
    /// GC deletes an unreferenced object only this long after it was
    /// written and after a commit removed it. Must exceed the longest query
    /// and the longest time a writer takes from writing a file to
    /// committing it.
    #[arg(long, env = "STRATA_GC_GRACE", value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    pub(crate) gc_grace: Duration,
}

impl RetentionArgs {
    /// The policy, refused if a finer tier would outlive a coarser one.
    pub(crate) fn policy(&self) -> anyhow::Result<strata_maintain::retention::RetentionPolicy> {
        let policy = strata_maintain::retention::RetentionPolicy {
            raw: self.raw,
            minute: self.minute,
            hour: self.hour,
        };
        policy.validate()?;
        Ok(policy)
    }

    /// GC settings.
    pub(crate) fn gc(&self, dry_run: bool) -> strata_maintain::gc::GcOptions {
        strata_maintain::gc::GcOptions {
            grace: self.gc_grace,
            dry_run,
        }
    }
}

/// Parses an RFC 3339 time, e.g. `2026-11-26T12:00:00Z`.
fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| format!("{e}; expected RFC 3339, e.g. 2026-11-26T12:00:00Z"))
}

/// Alert evaluation and notification.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Alerts")]
pub(crate) struct AlertArgs {
    /// Rule file, or directory of .yml/.yaml rule files (Prometheus's
    /// format or the seed's list of groups). Reloaded on SIGHUP and when
    /// the files change.
    #[arg(long, env = "STRATA_RULES", value_name = "PATH")]
    pub(crate) rules: std::path::PathBuf,
    #[command(flatten)]
    pub(crate) settings: AlertSettings,
}

/// `strata up`'s alert flags: evaluation runs when --rules is given.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Alerts")]
pub(crate) struct UpAlertArgs {
    /// Rule file or directory; alerts are evaluated when given.
    #[arg(long, env = "STRATA_RULES", value_name = "PATH")]
    pub(crate) rules: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub(crate) settings: AlertSettings,
}

/// Settings shared by `strata alerts` and `strata up`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AlertSettings {
    /// Routes and receivers in Alertmanager's configuration format
    /// (`route`, `receivers` with `webhook_configs` and `email_configs`).
    #[arg(
        long,
        env = "STRATA_NOTIFY_CONFIG",
        value_name = "PATH",
        group = "notify"
    )]
    pub(crate) notify_config: Option<std::path::PathBuf>,
    /// Send every alert to this webhook (Alertmanager's payload, version
    /// 4) at once: group_wait 0s, group_interval 2s.
    #[arg(long, env = "STRATA_WEBHOOK", value_name = "URL", group = "notify")]
    pub(crate) webhook: Option<String>,
    /// Hand alerts to an external Alertmanager (`POST /api/v2/alerts`),
    /// as Prometheus does.
    #[arg(
        long,
        env = "STRATA_ALERTMANAGER_URL",
        value_name = "URL",
        group = "notify"
    )]
    pub(crate) alertmanager_url: Option<String>,
    /// Evaluation interval of rule groups that set none. A page arrives
    /// about this long (plus ~50 ms) after its sample at worst.
    #[arg(long, env = "STRATA_EVALUATION_INTERVAL", value_name = "DURATION", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub(crate) evaluation_interval: Duration,
    /// How often firing alerts are re-sent to Alertmanager or the
    /// dispatcher.
    #[arg(long, env = "STRATA_RESEND_DELAY", value_name = "DURATION", default_value = "1m", value_parser = humantime::parse_duration)]
    pub(crate) resend_delay: Duration,
    /// A partition silent this long stops holding the evaluation clock
    /// back; when all are, the clock follows the wall clock.
    #[arg(long, env = "STRATA_ALERTS_IDLE_TIMEOUT", value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) alerts_idle_timeout: Duration,
    /// Consumer group of the evaluator (for offsets and lag monitoring).
    #[arg(long, env = "STRATA_ALERTS_GROUP", default_value = "strata-alerts")]
    pub(crate) alerts_group: String,
    /// Without a saved state, read the topic from its start (default: from
    /// its end).
    #[arg(long, env = "STRATA_ALERTS_FROM_BEGINNING")]
    pub(crate) from_beginning: bool,
    /// URL of this Strata, for `$externalURL` and generator links.
    #[arg(
        long,
        env = "STRATA_EXTERNAL_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub(crate) external_url: String,
    /// Label for `$externalLabels`, `-L key=value`, repeatable.
    #[arg(short = 'L', long = "external-label", value_parser = strata_pipeline::kafka::config::parse_property)]
    pub(crate) external_labels: Vec<(String, String)>,
    /// How often the rule files are checked for changes (0s: reload on
    /// SIGHUP only).
    #[arg(long, env = "STRATA_RULES_CHECK_INTERVAL", value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub(crate) rules_check_interval: Duration,
    /// How long a notification is retried before it is given up.
    #[arg(long, env = "STRATA_NOTIFY_MAX_RETRY", value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    pub(crate) notify_max_retry: Duration,
}

/// Where the HTTP API listens, and the limits its queries run under.
#[derive(Debug, Clone, Args)]
pub(crate) struct HttpArgs {
    /// Listen address of the HTTP API.
    #[arg(long, env = "STRATA_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) http_addr: SocketAddr,
    #[command(flatten)]
    pub(crate) query: QueryArgs,
}

/// Guard rails and cache of the query engine, for every front end (HTTP
/// SQL, series, PostgreSQL wire).
#[derive(Debug, Clone, Args)]
pub(crate) struct QueryArgs {
    /// Longest a query may wait for a slot and run; it is cancelled after.
    #[arg(long, env = "STRATA_QUERY_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) query_timeout: Duration,
    /// Operator memory (hash tables, sorts) one query may use before it
    /// spills or fails, e.g. `512MiB`, `2GiB`.
    #[arg(
        long,
        env = "STRATA_QUERY_MEMORY_LIMIT",
        value_name = "BYTES",
        default_value = "1GiB"
    )]
    pub(crate) query_memory_limit: bytesize::ByteSize,
    /// Largest result a query may return (Arrow in-memory size).
    #[arg(
        long,
        env = "STRATA_QUERY_MAX_RESULT_BYTES",
        value_name = "BYTES",
        default_value = "256MiB"
    )]
    pub(crate) query_max_result_bytes: bytesize::ByteSize,
    /// Queries running at once; more wait for a slot until their timeout.
    /// Default: twice the number of cores, at least 2.
    #[arg(long, env = "STRATA_QUERY_CONCURRENCY", value_name = "N")]
    pub(crate) query_concurrency: Option<usize>,
    /// Memory for cached query results; 0 disables the cache.
    #[arg(
        long,
        env = "STRATA_QUERY_CACHE_SIZE",
        value_name = "BYTES",
        default_value = "256MiB"
    )]
    pub(crate) query_cache_size: bytesize::ByteSize,
}

impl QueryArgs {
    pub(crate) fn options(&self) -> strata_query::QueryOptions {
        let defaults = strata_query::QueryOptions::default();
        let bytes = |b: bytesize::ByteSize| usize::try_from(b.as_u64()).unwrap_or(usize::MAX);
        strata_query::QueryOptions {
            timeout: self.query_timeout,
            memory_limit: bytes(self.query_memory_limit),
            max_result_bytes: bytes(self.query_max_result_bytes),
            max_concurrent: self.query_concurrency.unwrap_or(defaults.max_concurrent),
            cache_bytes: self.query_cache_size.as_u64(),
            series_index: defaults.series_index,
        }
    }
}

/// Where the PostgreSQL wire protocol listens.
#[derive(Debug, Clone, Args)]
pub(crate) struct PgArgs {
    /// Listen address of the PostgreSQL wire protocol (read-only SQL for
    /// psql, Grafana's PostgreSQL data source, …; no authentication, no
    /// TLS).
    #[arg(long, env = "STRATA_PG_ADDR", default_value = "127.0.0.1:5433")]
    pub(crate) pg_addr: SocketAddr,
}

/// Limits of the HTTP push collector (`strata collect`, `strata up`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Collector")]
pub(crate) struct CollectArgs {
    /// Largest request body, as received and again once decompressed
    /// (413).
    #[arg(
        long,
        env = "STRATA_COLLECT_MAX_BODY_SIZE",
        value_name = "BYTES",
        default_value = "25MiB"
    )]
    pub(crate) max_body_size: bytesize::ByteSize,
    /// Most samples one request may hold (413; nothing is stored).
    #[arg(
        long,
        env = "STRATA_COLLECT_MAX_SAMPLES_PER_REQUEST",
        value_name = "N",
        default_value_t = 100_000
    )]
    pub(crate) max_samples_per_request: usize,
    /// Most labels a series may have, the metric name not counted (400
    /// naming the series).
    #[arg(
        long,
        env = "STRATA_COLLECT_MAX_LABELS_PER_SERIES",
        value_name = "N",
        default_value_t = 30
    )]
    pub(crate) max_labels_per_series: usize,
    /// Longest label name in bytes (400 naming the series).
    #[arg(
        long,
        env = "STRATA_COLLECT_MAX_LABEL_NAME_LENGTH",
        value_name = "BYTES",
        default_value_t = 1024
    )]
    pub(crate) max_label_name_length: usize,
    /// Longest label value or metric name in bytes (400 naming the
    /// series).
    #[arg(
        long,
        env = "STRATA_COLLECT_MAX_LABEL_VALUE_LENGTH",
        value_name = "BYTES",
        default_value_t = 2048
    )]
    pub(crate) max_label_value_length: usize,
    /// Most distinct series per metric name this collector process
    /// accepts; samples of further new series are refused (400). Counted
    /// in memory per process and forgotten at restart (0: no limit).
    #[arg(
        long,
        env = "STRATA_COLLECT_MAX_SERIES_PER_METRIC",
        value_name = "N",
        default_value_t = 100_000
    )]
    pub(crate) max_series_per_metric: usize,
    /// How long Kafka may take to acknowledge a request's samples before
    /// the client gets a 503 (the producer's message.timeout.ms and
    /// request.timeout.ms, unless set with -X).
    #[arg(long, env = "STRATA_COLLECT_PRODUCE_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) produce_timeout: Duration,
}

impl CollectArgs {
    /// The collector's options, decoding with `decode`.
    pub(crate) fn options(
        &self,
        decode: strata_pipeline::decode::DecodeLimits,
    ) -> strata_pipeline::collect::CollectOptions {
        strata_pipeline::collect::CollectOptions {
            limits: strata_pipeline::collect::Limits {
                max_body_bytes: usize::try_from(self.max_body_size.as_u64()).unwrap_or(usize::MAX),
                max_samples: self.max_samples_per_request,
                max_labels: self.max_labels_per_series,
                max_label_name_len: self.max_label_name_length,
                max_label_value_len: self.max_label_value_length,
                max_series_per_metric: self.max_series_per_metric,
            },
            decode,
            produce_timeout: self.produce_timeout,
        }
    }
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

/// What `strata agent` collects and where it pushes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Agent")]
pub(crate) struct AgentArgs {
    /// Collect this often.
    #[arg(long, env = "STRATA_AGENT_INTERVAL", value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) interval: Duration,
    /// Collect and push once, then exit (non-zero when the push failed).
    #[arg(long)]
    pub(crate) once: bool,
    /// Value of the `host` label [default: this machine's hostname].
    #[arg(long, env = "STRATA_AGENT_HOST")]
    pub(crate) host: Option<String>,
    /// Label on every sample, `--label key=value`, repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = strata_pipeline::kafka::config::parse_property)]
    pub(crate) labels: Vec<(String, String)>,
    /// Push to this Strata collector (`POST /api/v1/write`, e.g.
    /// http://127.0.0.1:8086) instead of Kafka; the Kafka flags are then
    /// not used.
    #[arg(long, env = "STRATA_COLLECTOR_URL", value_name = "URL")]
    pub(crate) collector_url: Option<String>,
    /// How long a collection is retried before it is given up; also how
    /// much is buffered while pushes fail (at most 1000 collections).
    #[arg(long, env = "STRATA_AGENT_MAX_RETRY", value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    pub(crate) max_retry: Duration,
}
