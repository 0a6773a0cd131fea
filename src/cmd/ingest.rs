//! `strata ingest`.

use std::sync::Arc;

use strata_pipeline::decode::DecodeLimits;
use strata_pipeline::{IngestOptions, IngestStats, KafkaConfig};

use crate::cli::{IngestArgs, KafkaArgs, MaintenanceArgs, StoreArgs};

pub(crate) async fn run(
    kafka: KafkaArgs,
    store: StoreArgs,
    args: IngestArgs,
    maintenance: MaintenanceArgs,
) -> anyhow::Result<()> {
    let maintenance = super::maintenance_options(&maintenance)?;
    let log = super::open_log(&store.store).await?;
    let config = kafka.config(kafka.brokers_or_default());
    let shutdown = super::shutdown_on_signal();
    let stats = Arc::new(IngestStats::default());
    let reporter = tokio::spawn(report(Arc::clone(&stats)));
    let maintainer = super::spawn_maintenance(&log, maintenance, &shutdown);
    let res = strata_pipeline::run_ingest(
        options(config, &args, None),
        log,
        stats,
        shutdown.clone().cancelled_owned(),
    )
    .await;
    // Ingest may have stopped on an error: stop maintenance too.
    shutdown.cancel();
    if let Some(m) = maintainer {
        m.await?;
    }
    reporter.abort();
    Ok(res?)
}

pub(crate) fn options(
    kafka: KafkaConfig,
    args: &IngestArgs,
    source_id: Option<String>,
) -> IngestOptions {
    let mut o = IngestOptions::new(kafka);
    o.flush_interval = args.flush_interval;
    o.flush_rows = args.flush_rows;
    o.source_id = source_id;
    o.format = args.format;
    o.limits = DecodeLimits {
        max_future_ns: args.max_future.as_nanos().min(i64::MAX as u128) as i64,
        separator: args.name_separator,
    };
    o.allowed_lateness = args.lateness;
    o.idle_timeout = args.idle_timeout;
    o
}

/// Logs ingest progress every 10 seconds.
pub(crate) async fn report(stats: Arc<IngestStats>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    tick.tick().await;
    let mut last = 0;
    loop {
        tick.tick().await;
        let stored = IngestStats::get(&stats.stored_samples);
        tracing::info!(
            stored_samples = stored,
            per_second = (stored - last) / 10,
            messages = IngestStats::get(&stats.messages),
            dead_letters = IngestStats::get(&stats.dead_letters),
            skipped_fields = IngestStats::get(&stats.skipped_fields),
            commits = IngestStats::get(&stats.commits),
            "ingest progress"
        );
        last = stored;
    }
}
