//! `strata collect`: the HTTP push collector
//! ([`strata_pipeline::collect`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use strata_pipeline::KafkaConfig;
use strata_pipeline::collect::{CollectOptions, Collector};
use strata_pipeline::decode::DecodeLimits;
use tokio::net::TcpListener;

use crate::cli::{CollectArgs, KafkaArgs};

pub(crate) async fn run(
    kafka: KafkaArgs,
    listen: SocketAddr,
    args: CollectArgs,
    decode: DecodeLimits,
) -> anyhow::Result<()> {
    let config = kafka.config(kafka.brokers_or_default());
    let listener = bind(listen).await?;
    let collector = start(&config, args.options(decode)).await?;
    announce(&listener)?;
    let shutdown = super::shutdown_on_signal();
    strata_pipeline::collect::serve(listener, collector, shutdown.cancelled_owned()).await?;
    Ok(())
}

/// How line protocol is decoded, from `--max-future` and
/// `--name-separator`.
pub(crate) fn decode_limits(max_future: Duration, separator: char) -> DecodeLimits {
    DecodeLimits {
        max_future_ns: max_future.as_nanos().min(i64::MAX as u128) as i64,
        separator,
    }
}

/// Binds the collector's address.
pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (the HTTP push collector)"))
}

/// Starts the collector on `config`'s topic and logs where it listens.
pub(crate) async fn start(
    config: &KafkaConfig,
    opts: CollectOptions,
) -> anyhow::Result<Arc<Collector>> {
    let collector = Collector::start(config, opts)
        .await
        .context("starting the HTTP push collector")?;
    tracing::info!(
        topic = %config.topic,
        brokers = %config.brokers,
        "collector ready: POST /api/v1/write (line protocol, JSON), POST /api/v1/prom/write (remote write)"
    );
    Ok(collector)
}

/// Logs the collector's address once it is bound.
pub(crate) fn announce(listener: &TcpListener) -> anyhow::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "collector listening");
    Ok(addr)
}
