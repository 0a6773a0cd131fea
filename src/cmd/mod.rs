//! One module per subcommand, plus what they share: logging and the
//! shutdown signal.

mod agent;
mod alerts;
mod collect;
mod compact;
mod ingest;
mod produce;
mod retention;
mod rules;
mod serve;
mod sql;
mod up;

use std::sync::Arc;

use strata_maintain::schedule::MaintenanceOptions;
use strata_storage::{Store, TableLog};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, MaintenanceArgs, RulesCommand};

pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Ingest {
            kafka,
            store,
            ingest,
            maintenance,
        } => ingest::run(kafka, store, ingest, maintenance).await,
        Command::Collect {
            kafka,
            listen,
            collect,
            max_future,
            name_separator,
        } => {
            let decode = collect::decode_limits(max_future, name_separator);
            collect::run(kafka, listen, collect, decode).await
        }
        Command::Serve { store, http, pg } => serve::run(store, http, pg).await,
        Command::Up {
            kafka,
            store,
            ingest,
            http,
            pg,
            alerts,
            maintenance,
            demo,
            collect_addr,
            collect,
        } => {
            up::run(
                kafka,
                store,
                ingest,
                http,
                pg,
                alerts,
                maintenance,
                up::Collect {
                    addr: collect_addr,
                    args: collect,
                },
                demo,
            )
            .await
        }
        Command::Compact {
            store,
            closed_before,
        } => compact::run(store, closed_before).await,
        Command::Retention {
            store,
            retention,
            dry_run,
        } => retention::run(store, retention, dry_run).await,
        Command::Produce { kafka, produce } => produce::run(kafka, produce).await,
        Command::Agent { kafka, agent } => agent::run(kafka, agent).await,
        Command::Sql {
            query,
            server,
            format,
        } => sql::run(&server, &query, &format).await,
        Command::Rules {
            command: RulesCommand::Check { paths },
        } => rules::check(&paths),
        Command::Rules {
            command: RulesCommand::Test { files },
        } => rules::test(&files),
        Command::Alerts {
            kafka,
            store,
            alerts,
        } => alerts::run(kafka, store, alerts).await,
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default `info` level. Colours
/// only on a terminal: a log file, journald or `docker logs` gets plain
/// `key=value` text.
pub(crate) fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,librdkafka=warn,rdkafka=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// A token cancelled on Ctrl-C or SIGTERM.
pub(crate) fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        t.cancel();
    });
    token
}

/// Opens the store and its commit log.
pub(crate) async fn open_log(url: &str) -> anyhow::Result<Arc<TableLog>> {
    let store = Store::open(url)?;
    Ok(Arc::new(TableLog::open(store).await?))
}

/// The maintenance schedule `args` ask for (`None`: disabled), checked
/// before anything starts.
pub(crate) fn maintenance_options(
    args: &MaintenanceArgs,
) -> anyhow::Result<Option<MaintenanceOptions>> {
    let policy = args.retention.policy()?;
    if args.maintenance_interval.is_zero() {
        return Ok(None);
    }
    Ok(Some(MaintenanceOptions {
        interval: args.maintenance_interval,
        retention: policy,
        gc: args.retention.gc(false),
        ..Default::default()
    }))
}

/// Runs the maintenance schedule in the background on `log` until
/// `shutdown`; `None` when disabled.
pub(crate) fn spawn_maintenance(
    log: &Arc<TableLog>,
    opts: Option<MaintenanceOptions>,
    shutdown: &CancellationToken,
) -> Option<JoinHandle<()>> {
    let opts = opts?;
    Some(tokio::spawn(strata_maintain::schedule::run_periodically(
        Arc::clone(log),
        opts,
        shutdown.clone().cancelled_owned(),
    )))
}
