//! `strata alerts`: the streaming alert evaluator.

use std::path::Path;

use anyhow::Context;
use strata_alerts::engine::EngineOptions;
use strata_alerts::notify::config::Config;
use strata_alerts::service::{AlertsOptions, NotifyTarget};
use strata_alerts::template::External;
use strata_storage::Store;
use tokio_util::sync::CancellationToken;

use crate::cli::{AlertArgs, AlertSettings, KafkaArgs, StoreArgs};

pub(crate) async fn run(kafka: KafkaArgs, store: StoreArgs, args: AlertArgs) -> anyhow::Result<()> {
    let config = kafka.config(kafka.brokers_or_default());
    let opts = options(config, &args.rules, &args.settings)?;
    let store = Store::open(&store.store)?;
    let shutdown = super::shutdown_on_signal();
    strata_alerts::service::run(opts, store, shutdown).await?;
    Ok(())
}

/// Runs the evaluator in the background of `strata up`.
pub(crate) fn spawn(
    opts: AlertsOptions,
    store: Store,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        strata_alerts::service::run(opts, store, shutdown).await?;
        Ok(())
    })
}

/// The evaluator's options from the flags; rule and notification files are
/// checked here, before anything starts.
pub(crate) fn options(
    mut kafka: strata_pipeline::KafkaConfig,
    rules: &Path,
    s: &AlertSettings,
) -> anyhow::Result<AlertsOptions> {
    strata_alerts::rule::load(rules).map_err(|e| anyhow::anyhow!("--rules: {e}"))?;
    kafka.group = s.alerts_group.clone();
    let mut opts = AlertsOptions::new(kafka, rules.to_path_buf());
    opts.engine = EngineOptions {
        default_interval: s.evaluation_interval,
        resend_delay: s.resend_delay,
        external: External {
            labels: s.external_labels.iter().cloned().collect(),
            url: s.external_url.trim_end_matches('/').to_string(),
        },
    };
    opts.notify = if let Some(path) = &s.notify_config {
        let config =
            Config::load(path).with_context(|| format!("--notify-config {}", path.display()))?;
        NotifyTarget::Receivers(Box::new(config))
    } else if let Some(url) = &s.webhook {
        NotifyTarget::Receivers(Box::new(Config::single_webhook(url).context("--webhook")?))
    } else if let Some(url) = &s.alertmanager_url {
        NotifyTarget::Alertmanager(url.trim_end_matches('/').to_string())
    } else {
        NotifyTarget::None
    };
    opts.idle_timeout = s.alerts_idle_timeout;
    opts.from_beginning = s.from_beginning;
    opts.max_retry = s.notify_max_retry;
    opts.reload_interval = s.rules_check_interval;
    Ok(opts)
}
