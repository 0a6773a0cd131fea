//! `strata up`: ingest, serve and the HTTP push collector in one process,
//! with an embedded development broker when no brokers are given.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use datafusion::arrow::util::pretty::pretty_format_batches;
use rdkafka::mocking::MockCluster;
use strata_pipeline::IngestStats;
use strata_pipeline::produce::{ProduceOptions, produce};
use strata_query::QueryEngine;

use crate::cli::{
    CollectArgs, HttpArgs, IngestArgs, KafkaArgs, MaintenanceArgs, PgArgs, StoreArgs, UpAlertArgs,
};

/// Where `strata up`'s collector listens, and its limits.
pub(crate) struct Collect {
    /// `--collect-addr`.
    pub(crate) addr: std::net::SocketAddr,
    /// The collector's limits.
    pub(crate) args: CollectArgs,
}

const DEMO_QUERY: &str = "SELECT metric_name, count(*) AS samples, round(avg(value), 2) AS avg, \
    max(ts) AS newest FROM metrics_raw GROUP BY metric_name ORDER BY metric_name";

// One argument per flag group of `strata up`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    kafka: KafkaArgs,
    store: StoreArgs,
    args: IngestArgs,
    http: HttpArgs,
    pg: PgArgs,
    alerts: UpAlertArgs,
    maintenance: MaintenanceArgs,
    collect: Collect,
    demo: bool,
) -> anyhow::Result<()> {
    let maintenance = super::maintenance_options(&maintenance)?;
    // Checked before anything starts; the topic's config comes later.
    let alert_rules = alerts.rules.clone();
    // The embedded broker lives as long as this function; it is not Send,
    // so it stays on this task.
    let mut embedded = None;
    let (brokers, source_id) = match &kafka.brokers {
        Some(b) => (b.clone(), None),
        None => {
            let cluster = MockCluster::new(1).context("starting the embedded broker")?;
            for topic in [kafka.topic.clone(), kafka.config("").dlq_topic] {
                cluster.create_topic(&topic, kafka.partitions, 1)?;
            }
            let addr = cluster.bootstrap_servers();
            embedded = Some(cluster);
            // A new embedded broker is a new, empty topic: its offsets must
            // never be confused with those a previous run stored.
            (addr, Some(format!("embedded-{}", uuid::Uuid::new_v4())))
        }
    };
    let config = kafka.config(&brokers);
    let log = super::open_log(&store.store).await?;
    if embedded.is_some() {
        retire_embedded_sources(&log).await?;
    }
    let engine = Arc::new(QueryEngine::with_options(
        Arc::clone(&log),
        http.query.options(),
    )?);
    let listener = tokio::net::TcpListener::bind(http.http_addr)
        .await
        .with_context(|| format!("binding {}", http.http_addr))?;
    let http_addr = listener.local_addr()?;
    let pg_listener = tokio::net::TcpListener::bind(pg.pg_addr)
        .await
        .with_context(|| {
            format!(
                "binding {} (PostgreSQL wire protocol, --pg-addr)",
                pg.pg_addr
            )
        })?;
    let pg_addr = pg_listener.local_addr()?;
    tracing::info!(addr = %pg_addr, "serving SQL over the PostgreSQL wire protocol");
    let collect_listener = super::collect::bind(collect.addr).await?;
    let collector = super::collect::start(
        &config,
        collect.args.options(super::collect::decode_limits(
            args.max_future,
            args.name_separator,
        )),
    )
    .await?;
    let collect_addr = super::collect::announce(&collect_listener)?;
    let shutdown = super::shutdown_on_signal();

    let stats = Arc::new(IngestStats::default());
    let ingest = tokio::spawn(strata_pipeline::run_ingest(
        super::ingest::options(config.clone(), &args, source_id),
        Arc::clone(&log),
        Arc::clone(&stats),
        shutdown.clone().cancelled_owned(),
    ));
    let server = tokio::spawn(strata_query::http::serve(
        listener,
        Arc::clone(&engine),
        shutdown.clone().cancelled_owned(),
    ));
    let pg_server = tokio::spawn(strata_query::pg::serve(
        pg_listener,
        Arc::clone(&engine),
        shutdown.clone().cancelled_owned(),
    ));
    let collect_server = tokio::spawn(strata_pipeline::collect::serve(
        collect_listener,
        collector,
        shutdown.clone().cancelled_owned(),
    ));
    let reporter = tokio::spawn(super::ingest::report(Arc::clone(&stats)));
    let maintainer = super::spawn_maintenance(&log, maintenance, &shutdown);
    let evaluator = match &alert_rules {
        Some(rules) => {
            let opts = super::alerts::options(config.clone(), rules, &alerts.settings)?;
            eprintln!(
                "  Alerts: rules from {}, active alerts at GET http://{http_addr}/api/v1/alerts",
                rules.display()
            );
            Some(super::alerts::spawn(
                opts,
                log.store().clone(),
                shutdown.clone(),
            ))
        }
        None => None,
    };

    if embedded.is_some() {
        eprintln!(
            "\n  Embedded development broker on {brokers}\n  \
             It is for trying Strata only: not durable, empty at every start, gone when this process exits.\n  \
             Producers can write to topic `{}` there, e.g.\n    strata produce --brokers {brokers}\n  \
             For real use start Kafka and pass --brokers.\n",
            config.topic
        );
    }
    eprintln!(
        "  Store: {}\n  SQL:   POST http://{http_addr}/api/v1/sql\n         strata sql --server http://{http_addr} \"{DEMO_QUERY}\"\n         psql -h {} -p {} -U strata  (PostgreSQL wire protocol, read-only)\n  \
         Push:  POST http://{collect_addr}/api/v1/write (line protocol, JSON)\n         \
         POST http://{collect_addr}/api/v1/prom/write (Prometheus remote write)\n",
        store.store,
        pg_addr.ip(),
        pg_addr.port()
    );

    let mut demo_producer = None;
    if demo {
        let demo_config = config.clone();
        let demo_opts = ProduceOptions {
            series: 40,
            rate: 400,
            samples: u64::MAX,
            per_message: 1,
            start_ns: None,
            step: Duration::from_secs(1),
        };
        demo_producer = Some(tokio::spawn(async move {
            if let Err(e) = produce(&demo_config, &demo_opts).await {
                tracing::error!(error = %e, "demo producer stopped");
            }
        }));
        eprintln!(
            "  Producing demo samples (40 series, 400 samples/s); querying once the first are stored…\n"
        );
        let stored = async {
            while IngestStats::get(&stats.stored_samples) == 0 {
                if ingest.is_finished() {
                    // Ingest failed: its error is reported below.
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // One more flush, so that every series has a few points.
            tokio::time::sleep(args.flush_interval).await;
        };
        tokio::select! {
            _ = stored => {
                if !ingest.is_finished() {
                    let (_, batches) = engine.sql(DEMO_QUERY).await?;
                    println!("{DEMO_QUERY}\n{}", pretty_format_batches(&batches)?);
                    eprintln!("\n  Strata keeps running (Ctrl-C stops it). Query again from another terminal:\n    \
                        cargo run --release -- sql --server http://{http_addr} \"SELECT * FROM metrics_raw ORDER BY ts DESC LIMIT 5\"\n");
                }
            }
            _ = shutdown.cancelled() => {}
        }
    }

    let ingest_res = ingest.await?;
    shutdown.cancel();
    let server_res = server.await?;
    let pg_res = pg_server.await?;
    let collect_res = collect_server.await?;
    let evaluator_res = match evaluator {
        Some(e) => e.await?,
        None => Ok(()),
    };
    if let Some(m) = maintainer {
        m.await?;
    }
    reporter.abort();
    if let Some(p) = demo_producer {
        p.abort();
        let _ = p.await;
    }
    // Last: clients must be gone before their broker.
    drop(embedded);
    ingest_res?;
    server_res?;
    pg_res?;
    collect_res?;
    evaluator_res?;
    Ok(())
}

/// Forgets the offsets and window marks of earlier embedded brokers: they
/// are gone, and their marks would hold the 1h rollup back forever.
async fn retire_embedded_sources(log: &strata_storage::TableLog) -> anyhow::Result<()> {
    let snapshot = log.snapshot().await?;
    let retire: Vec<String> = snapshot
        .offsets
        .keys()
        .chain(snapshot.windows.keys())
        .filter(|s| s.starts_with("embedded-"))
        .cloned()
        .collect();
    if !retire.is_empty() {
        tracing::info!(
            sources = retire.len(),
            "retiring the offsets of earlier embedded brokers"
        );
        log.commit(strata_storage::Commit {
            retire,
            writer: "strata up".into(),
            ..Default::default()
        })
        .await?;
    }
    Ok(())
}
